//! `synlab capture`: live capture on one interface into a pcap file.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use clap::Args;
use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};

use super::status::Status;
use crate::io::interrupt::{Interrupted, Signals};
use crate::io::pcap_writer::PcapOut;
use crate::io::privilege::{self, Needs};
use crate::io::raw::{find_interface, DatalinkSource, FrameSource};
use crate::model::{decode_frame, Decoded, LinkType};

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Interface to capture on.
    #[arg(long)]
    pub iface: String,
    /// Keep only packets to or from this TCP/UDP port (ICMP errors: quoting it).
    #[arg(long)]
    pub port: Option<u16>,
    /// Keep only packets to or from this address (ICMP errors: quoting it).
    #[arg(long)]
    pub host: Option<IpAddr>,
    /// The pcap file to write (Ethernet frames, readable by tshark/tcpdump).
    #[arg(long)]
    pub out: PathBuf,
    /// Stop after this many packets have been written.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub count: Option<u64>,
    /// Stop after this many seconds (0.1 to 3600).
    #[arg(long, default_value_t = 10.0, value_parser = parse_duration)]
    pub duration: f64,
}

fn parse_duration(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.1..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be between 0.1 and 3600 seconds".into())
    }
}

/// The addresses and ports a frame concerns: its own, and for an ICMP
/// error also the quoted packet's.
fn endpoints(data: &[u8]) -> (Vec<IpAddr>, Vec<u16>) {
    match decode_frame(LinkType::Ethernet, data) {
        Decoded::Tcp(seg) => (
            vec![seg.src.ip(), seg.dst.ip()],
            vec![seg.src.port(), seg.dst.port()],
        ),
        Decoded::Icmp(e) => (
            vec![e.from, e.quoted.src.ip(), e.quoted.dst.ip()],
            vec![e.quoted.src.port(), e.quoted.dst.port()],
        ),
        _ => {
            let Ok(p) = LaxSlicedPacket::from_ethernet(data) else {
                return (Vec::new(), Vec::new());
            };
            let ips = match &p.net {
                Some(LaxNetSlice::Ipv4(v4)) => vec![
                    v4.header().source_addr().into(),
                    v4.header().destination_addr().into(),
                ],
                Some(LaxNetSlice::Ipv6(v6)) => vec![
                    v6.header().source_addr().into(),
                    v6.header().destination_addr().into(),
                ],
                _ => Vec::new(),
            };
            let ports = match &p.transport {
                Some(TransportSlice::Udp(u)) => vec![u.source_port(), u.destination_port()],
                Some(TransportSlice::Tcp(t)) => vec![t.source_port(), t.destination_port()],
                _ => Vec::new(),
            };
            (ips, ports)
        }
    }
}

/// Whether a frame passes the --port/--host filters.
pub fn frame_matches(data: &[u8], port: Option<u16>, host: Option<IpAddr>) -> bool {
    if port.is_none() && host.is_none() {
        return true;
    }
    let (ips, ports) = endpoints(data);
    port.is_none_or_contained(&ports) && host.is_none_or_contained(&ips)
}

trait NoneOrContained<T> {
    fn is_none_or_contained(&self, list: &[T]) -> bool;
}

impl<T: PartialEq> NoneOrContained<T> for Option<T> {
    fn is_none_or_contained(&self, list: &[T]) -> bool {
        self.as_ref().is_none_or(|x| list.contains(x))
    }
}

struct Captured {
    written: u64,
    seen: u64,
}

pub fn run(args: &CaptureArgs, out: &mut dyn Write) -> Result<Status> {
    let needs = Needs {
        net_raw: true,
        net_admin: false,
    };
    privilege::validate_privilege("capture", privilege::current(), needs)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Before the file exists: from here a stop signal ends the capture
    // with a complete pcap, not the process with a truncated one.
    let mut signals = {
        let _in_rt = rt.enter();
        Signals::watch().context("watching SIGINT, SIGTERM and SIGHUP")?
    };
    let any = IpAddr::from([0, 0, 0, 0]);
    let iface = find_interface(Some(&args.iface), any)?;
    // Before the socket: afterwards synlab holds no capability, and root
    // without CAP_DAC_OVERRIDE cannot create a file in another user's directory.
    let pcap = PcapOut::create(&args.out, 1)?;
    crate::io::nft::sweep_stale_tables();
    let source = privilege::open_then_lower("capture", needs, || {
        DatalinkSource::open(&iface, Duration::from_millis(50))
    })?
    .with_context(|| format!("opening a packet socket on {}", iface.name))?;
    let duration = Duration::from_secs_f64(args.duration);
    let limit = args.count;
    let (port, host) = (args.port, args.host);

    let (pcap, captured, signal) = rt.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let stop = stop.clone();
            let mut source = source;
            let mut pcap = pcap;
            tokio::task::spawn_blocking(move || -> Result<(PcapOut, Captured)> {
                let end = Instant::now() + duration;
                let mut c = Captured {
                    written: 0,
                    seen: 0,
                };
                while !stop.load(Ordering::Relaxed)
                    && Instant::now() < end
                    && limit.is_none_or(|n| c.written < n)
                {
                    let Some(frame) = source.next_frame()? else {
                        continue;
                    };
                    c.seen += 1;
                    if frame_matches(&frame.data, port, host) {
                        let ts = frame.ts.unwrap_or_else(|| {
                            SystemTime::now()
                                .duration_since(UNIX_EPOCH)
                                .unwrap_or_default()
                        });
                        pcap.write(ts, &frame.data)?;
                        c.written += 1;
                    }
                }
                Ok((pcap, c))
            })
        };
        tokio::pin!(task);
        // The reader stops within one read timeout (50 ms) of the flag.
        let (joined, signal) = tokio::select! {
            r = &mut task => (r, None),
            s = signals.recv() => {
                stop.store(true, Ordering::Relaxed);
                ((&mut task).await, Some(s))
            }
        };
        let (pcap, captured) = joined.map_err(|e| anyhow!("capture task: {e}"))??;
        Ok::<_, anyhow::Error>((pcap, captured, signal))
    })?;
    let written = pcap.finish()?;
    writeln!(
        out,
        "captured {written} packets on {} to {} ({} seen)",
        args.iface,
        args.out.display(),
        captured.seen
    )?;
    match signal {
        // The pcap is complete; the exit status still says the capture
        // was cut short.
        Some(s) => Err(anyhow::Error::new(Interrupted(s)).context("capture stopped")),
        None => Ok(Status::Ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::craft::{build_packet, ethernet_frame, Volatile};
    use crate::model::Attributes;
    use crate::model::Field;

    fn tcp_frame() -> Vec<u8> {
        let mut a = Attributes::new();
        a.insert(Field::TcpWindowSizeValue, 1000u16);
        let v = Volatile {
            src: "10.0.0.1:40000".parse().unwrap_or_else(|_| unreachable!()),
            dst: "10.0.0.2:80".parse().unwrap_or_else(|_| unreachable!()),
            seq: 1,
            ack: 0,
            ip_id: 1,
            flow_label: 0,
            tsval: 0,
            tsecr: 0,
        };
        let ip = build_packet(&a, &v).unwrap_or_else(|e| panic!("{e}"));
        ethernet_frame(&ip, [1; 6], [2; 6])
    }

    #[test]
    fn filters() {
        let f = tcp_frame();
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        assert!(frame_matches(&f, None, None));
        assert!(frame_matches(&f, Some(80), None));
        assert!(frame_matches(&f, Some(40000), ip("10.0.0.2")));
        assert!(!frame_matches(&f, Some(81), None));
        assert!(!frame_matches(&f, None, ip("10.0.0.3")));
        assert!(!frame_matches(&[0u8; 3], Some(80), None));
    }
}
