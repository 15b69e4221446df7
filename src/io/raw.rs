//! Raw sockets behind two small traits, so the driver runs against a fake
//! network in tests (trippy's model).
//!
//! Sending: pnet transport channels on `IPPROTO_RAW` sockets. For IPv4
//! that is `IP_HDRINCL`; for IPv6 Linux sets `IPV6_HDRINCL` itself on an
//! `AF_INET6`/`IPPROTO_RAW` socket (since 4.5). Either way the kernel sends
//! the IP header synlab built: TTL/hop limit, DF, ID, traffic class, flow
//! label, IP options. (On IPv4 the kernel still fills in the total length
//! and header checksum, which synlab sets correctly anyway, and replaces an
//! IP ID of 0, which synlab never uses.) `IPPROTO_RAW` sockets receive
//! nothing, so no unread copies of incoming traffic pile up in them.
//!
//! Receiving: a pnet datalink (`AF_PACKET`) channel on one interface, which
//! also shows our own SYNs leaving (their timestamps start the RTT) and the
//! kernel's RSTs.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use pnet::datalink::{self, Channel, DataLinkReceiver, NetworkInterface};
use pnet::packet::ip::IpNextHeaderProtocol;
use pnet::packet::ipv4::Ipv4Packet;
use pnet::packet::ipv6::Ipv6Packet;
use pnet::transport::{
    transport_channel, TransportChannelType, TransportProtocol, TransportSender,
};

/// Sends whole IP packets (header included).
pub trait PacketSender: Send {
    fn send(&mut self, packet: &[u8], dst: IpAddr) -> io::Result<()>;
}

/// A captured link-layer frame (LINKTYPE_ETHERNET).
#[derive(Clone, Debug)]
pub struct Frame {
    pub data: Vec<u8>,
    /// The kernel's receive timestamp, since the Unix epoch, when known.
    pub ts: Option<Duration>,
}

/// Yields captured frames; `Ok(None)` when the read timed out with nothing
/// to read.
pub trait FrameSource: Send {
    fn next_frame(&mut self) -> io::Result<Option<Frame>>;
}

const IPPROTO_RAW: u8 = 255;

/// Header-including raw sockets, one per IP version needed.
pub struct RawSender {
    v4: Option<TransportSender>,
    v6: Option<TransportSender>,
}

impl RawSender {
    /// Open the socket for the target's IP version. Needs CAP_NET_RAW.
    pub fn open(v6: bool) -> io::Result<Self> {
        let proto = IpNextHeaderProtocol::new(IPPROTO_RAW);
        if v6 {
            let kind = TransportChannelType::Layer4(TransportProtocol::Ipv6(proto));
            let (tx, _rx) = transport_channel(0, kind)?;
            Ok(RawSender {
                v4: None,
                v6: Some(tx),
            })
        } else {
            let (tx, _rx) = transport_channel(0, TransportChannelType::Layer3(proto))?;
            Ok(RawSender {
                v4: Some(tx),
                v6: None,
            })
        }
    }
}

fn bad_packet(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
}

impl PacketSender for RawSender {
    fn send(&mut self, packet: &[u8], dst: IpAddr) -> io::Result<()> {
        let n = match (dst, self.v4.as_mut(), self.v6.as_mut()) {
            (IpAddr::V4(_), Some(tx), _) => {
                let p = Ipv4Packet::new(packet).ok_or_else(|| bad_packet("short IPv4 packet"))?;
                tx.send_to(p, dst)?
            }
            (IpAddr::V6(_), _, Some(tx)) => {
                let p = Ipv6Packet::new(packet).ok_or_else(|| bad_packet("short IPv6 packet"))?;
                tx.send_to(p, dst)?
            }
            _ => return Err(bad_packet("no raw socket open for this IP version")),
        };
        if n != packet.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("sent {n} of {} bytes", packet.len()),
            ));
        }
        Ok(())
    }
}

/// `SIOCGSTAMPNS`: the kernel timestamp of the last packet read from a
/// socket (the 64-bit `time_t` layout, as on x86_64 and aarch64).
const SIOCGSTAMPNS: libc::c_ulong = 0x8907;

/// A pnet datalink receiver on one interface. synlab opens the packet
/// socket itself (and hands it to pnet) so it can ask the kernel for each
/// frame's receive timestamp: timestamps taken in user space after the
/// read would measure the read loop, not the network.
pub struct DatalinkSource {
    rx: Box<dyn DataLinkReceiver>,
    fd: libc::c_int,
    /// On loopback every packet is seen twice (leaving and arriving); the
    /// second, identical copy is dropped, as libpcap does.
    loopback: bool,
    last: Vec<u8>,
}

impl DatalinkSource {
    /// Open a packet socket on `iface`; reads return after at most
    /// `read_timeout`. Needs CAP_NET_RAW.
    pub fn open(iface: &NetworkInterface, read_timeout: Duration) -> io::Result<Self> {
        let proto = (libc::ETH_P_ALL as u16).to_be() as libc::c_int;
        // SAFETY: plain socket(2); the result is checked.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        grow_receive_buffer(fd);
        let config = datalink::Config {
            read_timeout: Some(read_timeout),
            read_buffer_size: 65536,
            promiscuous: false,
            socket_fd: Some(fd),
            ..Default::default()
        };
        // pnet owns the socket from here on (it binds it to the interface
        // and closes it when the receiver is dropped).
        match datalink::channel(iface, config)? {
            Channel::Ethernet(_tx, rx) => {
                let source = DatalinkSource {
                    rx,
                    fd,
                    loopback: iface.is_loopback(),
                    last: Vec::new(),
                };
                // The first SIOCGSTAMPNS switches the kernel's receive
                // timestamping on (its answer now means nothing). Not
                // SO_TIMESTAMPNS: with it, the kernel reports timestamps
                // in control messages, which pnet does not read, and the
                // ioctl no longer sees them.
                // The kernel turns it on in deferred work; give that a
                // moment, so the first probe's frames are stamped too.
                let _ = source.last_timestamp();
                std::thread::sleep(Duration::from_millis(20));
                Ok(source)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{}: not an Ethernet-like interface", iface.name),
            )),
        }
    }
}

/// The packet socket's receive buffer we ask for: an exchange's server
/// sends a window's worth at once (megabytes), and a frame the buffer has
/// no room for is lost to us, as if the network had dropped it.
const RECEIVE_BUFFER: libc::c_int = 8 << 20;

/// Best effort: SO_RCVBUFFORCE (past net.core.rmem_max) where the process
/// may, else SO_RCVBUF (up to rmem_max). A smaller buffer only means more
/// retransmissions in an exchange, so a refusal is not an error.
fn grow_receive_buffer(fd: libc::c_int) {
    let size = RECEIVE_BUFFER;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: setsockopt(2) on our open socket with an int option.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                &size as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

/// `PACKET_IGNORE_OUTGOING` (Linux 4.20), not in every libc release.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

impl DatalinkSource {
    /// Stop seeing the frames this host sends (our SYNs, the kernel's
    /// RSTs): `sweep` matches answers by their cookie and needs only what
    /// arrives, so the socket carries a third as many frames.
    pub fn ignore_outgoing(&self) -> io::Result<()> {
        let one: libc::c_int = 1;
        // SAFETY: setsockopt(2) on our open socket with an int option.
        let rc = unsafe {
            libc::setsockopt(
                self.fd,
                libc::SOL_PACKET,
                PACKET_IGNORE_OUTGOING,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        match rc {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// The kernel's timestamp of the frame read last.
    fn last_timestamp(&self) -> Option<Duration> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: ioctl(2) on our open packet socket (kept open by `rx`),
        // writing one timespec into `ts`.
        let rc = unsafe { libc::ioctl(self.fd, SIOCGSTAMPNS as _, &mut ts as *mut libc::timespec) };
        (rc == 0 && ts.tv_sec > 0)
            .then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32))
    }
}

impl FrameSource for DatalinkSource {
    /// `Ok(None)` only when the read timed out: the live driver takes it
    /// as "nothing was waiting", so a skipped loopback copy or an
    /// interrupted read reads on.
    fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            match self.rx.next() {
                Ok(frame) => {
                    if self.loopback && frame == self.last.as_slice() {
                        self.last.clear();
                        continue;
                    }
                    let data = frame.to_vec();
                    if self.loopback {
                        self.last.clone_from(&data);
                    }
                    let ts = self.last_timestamp();
                    return Ok(Some(Frame { data, ts }));
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// The source address the kernel would use towards `target`: a connected
/// UDP socket does the route lookup without sending anything.
pub fn source_for(target: IpAddr) -> io::Result<IpAddr> {
    let any: SocketAddr = if target.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(any)?;
    sock.connect(SocketAddr::new(target, 9))?;
    Ok(sock.local_addr()?.ip())
}

/// An interface by name, or the one that holds `src` (for a loopback
/// source, the loopback interface).
pub fn find_interface(name: Option<&str>, src: IpAddr) -> io::Result<NetworkInterface> {
    let all = datalink::interfaces();
    let found = match name {
        Some(n) => all.into_iter().find(|i| i.name == n),
        None => all.into_iter().find(|i| {
            i.ips.iter().any(|net| net.ip() == src) || (src.is_loopback() && i.is_loopback())
        }),
    };
    found.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            match name {
                Some(n) => format!("no interface named {n}"),
                None => format!("no interface holds the source address {src}; pass --iface"),
            },
        )
    })
}

/// The inode numbers Linux gives the initial network and PID namespaces
/// (`PROC_NET_INIT_INO`, `PROC_PID_INIT_INO`; other namespaces get inodes
/// from 0xF0000000 up, so they never collide with these).
const INIT_NET_INO: u64 = 0xEFFF_FFF9;
const INIT_PID_INO: u64 = 0xEFFF_FFFC;

/// Whether this process runs in the initial network namespace. In order:
/// the fixed inode of the initial namespace says yes; a namespace named by
/// `ip netns add` (a file in /run/netns) is not the initial one; in the
/// initial PID namespace, compare with PID 1's. None when none applies.
///
/// PID 1 is asked only in the initial PID namespace: in another (a
/// container, `unshare --pid`) PID 1 is that namespace's init, or synlab
/// itself, and shares its network namespace, whatever that is.
pub fn in_initial_netns() -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self/ns/net").ok()?;
    if me.ino() == INIT_NET_INO {
        return Some(true);
    }
    let named = std::fs::read_dir("/run/netns").ok().is_some_and(|dir| {
        dir.flatten().any(|e| {
            std::fs::metadata(e.path()).is_ok_and(|m| m.ino() == me.ino() && m.dev() == me.dev())
        })
    });
    if named {
        return Some(false);
    }
    let initial_pid_ns =
        std::fs::metadata("/proc/self/ns/pid").is_ok_and(|m| m.ino() == INIT_PID_INO);
    let init = std::fs::metadata("/proc/1/ns/net").ok()?;
    initial_pid_ns.then(|| me.ino() == init.ino() && me.dev() == init.dev())
}
