//! From a captured frame's bytes to a TCP segment (or an ICMP error quoting
//! one): the common frame straight through the [`wire`](crate::wire)
//! views; the link layer, VLAN tags and IP of every other frame by
//! etherparse's lax slicer, which parses a snaplen-cut packet as far as it
//! goes. The headers themselves are read through the wire views, so every
//! field's place is written once.

use std::net::{IpAddr, SocketAddr};

use etherparse::err::packet::SliceError;
use etherparse::{
    EtherType, IpAuthHeaderSlice, IpNumber, Ipv6ExtensionsSlice, Ipv6FragmentHeaderSlice,
    Ipv6RawExtHeaderSlice, LaxIpPayloadSlice, LaxNetSlice, LaxSlicedPacket,
};
use thiserror::Error;

use crate::wire::icmp;
pub use crate::wire::icmp::QuotedTcp;
use crate::wire::ipv4::{self, HeaderBytes};
use crate::wire::ipv6;
pub use crate::wire::link::LinkType;
use crate::wire::link::{LinkHeader, ETHERNET, LINUX_SLL, LINUX_SLL2};
use crate::wire::tcp;

use super::attributes::{Attributes, Value};
use super::options::{parse_options, Layout, OptionKind, OptionsParse, TcpOption};
use super::tcp_flags::TcpFlags;
use super::vocab::{Attr, Field};
use crate::p0f;

/// A frame synlab cannot use at all (the rest are `Decoded::Skipped`).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error(
        "unsupported link type {0} (synlab reads Ethernet, Linux SLL/SLL2, raw IP, BSD loopback, Linux ARCNET)"
    )]
    UnsupportedLinkType(u32),
}

impl TryFrom<u32> for LinkType {
    type Error = DecodeError;

    /// The link type of a capture's LINKTYPE_ number.
    fn try_from(n: u32) -> Result<LinkType, DecodeError> {
        LinkType::from_linktype(n).ok_or(DecodeError::UnsupportedLinkType(n))
    }
}

/// The IP layer of a segment, kept as checked header views so attributes can
/// be computed only for the packets that need them (SYNs and their answers).
#[derive(Clone, Debug)]
enum IpLayer<'a> {
    /// A copy of the header's bytes (the lax slicer lends its IPv4 view
    /// only briefly), without an allocation.
    V4(ipv4::Packet<HeaderBytes>),
    V6 {
        header: ipv6::Packet<&'a [u8]>,
        exts: Vec<&'static str>,
    },
}

/// A data segment's header values that describe its flow (see
/// [`Segment::flow_facts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowFacts {
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4's don't-fragment bit (IPv6 has none).
    pub df: Option<bool>,
    pub ecn: u8,
    pub dscp: u8,
    /// A timestamp option is there.
    pub timestamps: bool,
    /// IPv6's flow label.
    pub flow_label: Option<u32>,
}

/// A TCP segment as captured.
#[derive(Clone, Debug)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    /// Payload length from the IP length fields (not the captured bytes).
    pub payload_len: u32,
    /// The capture holds less of this packet than the packet was.
    pub truncated: bool,
    ip: IpLayer<'a>,
    tcp: tcp::Packet<&'a [u8]>,
}

/// An ICMP or ICMPv6 error that quotes a TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError {
    /// Who sent the error (a router, a firewall, the host).
    pub from: IpAddr,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    pub quoted: QuotedTcp,
}

/// What a frame holds, as far as handshakes are concerned.
#[derive(Clone, Debug)]
pub enum Decoded<'a> {
    Tcp(Segment<'a>),
    Icmp(IcmpError),
    /// Not TCP, or cut too short to be used; the reason says which.
    Skipped(Skip),
}

/// Why a frame was skipped. Some reasons are ordinary traffic (ARP, UDP,
/// an ICMP echo); the others mean the packet's own headers lie, which a
/// reader reports as a warning ([`Skip::is_malformed`]).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Skip {
    #[error("not IP")]
    NotIp,
    #[error("not TCP")]
    NotTcp,
    #[error("non-first IP fragment")]
    LaterFragment,
    #[error("ICMP, not an error")]
    IcmpNotError,
    #[error("ICMP error not quoting TCP")]
    IcmpNotQuotingTcp,
    #[error("ICMP header cut short")]
    IcmpCut,
    #[error("frame too short for its link-layer header")]
    LinkCut,
    #[error("more than {MAX_VLAN_TAGS} stacked VLAN tags")]
    TooManyVlanTags,
    #[error("TCP header cut short by the capture")]
    TcpCut,
    #[error("the IP header leaves {0} bytes for the segment, less than a TCP header")]
    TcpPastIpLength(usize),
    #[error("IPv4 total length {total} is less than the header length {header}")]
    Ipv4TotalBelowHeader { total: u16, header: usize },
    #[error("TCP data offset {0} is below 5")]
    TcpOffsetBelow5(u8),
    #[error("TCP data offset says {header} header bytes, the IP header leaves {segment} for the segment")]
    TcpOffsetPastEnd { header: usize, segment: usize },
    /// etherparse stopped on the IP layer or its extension headers.
    #[error("{0}")]
    BadIp(SliceError),
}

impl Skip {
    /// The packet's headers contradict themselves or the bytes captured
    /// (as opposed to traffic synlab has no use for).
    pub fn is_malformed(&self) -> bool {
        !matches!(
            self,
            Skip::NotIp
                | Skip::NotTcp
                | Skip::LaterFragment
                | Skip::IcmpNotError
                | Skip::IcmpNotQuotingTcp
        )
    }
}

/// Stacked 802.1Q/802.1ad tags walked before giving up on a frame; tshark
/// has no limit, but more than a handful is never seen on a real link.
pub const MAX_VLAN_TAGS: usize = 16;

/// Decode one captured frame of the given link type (a capture's
/// LINKTYPE_ number becomes one by `LinkType::try_from`).
///
/// The common frame (IPv4 carrying a whole TCP header, see
/// [`fast_ipv4_tcp`]) is read straight from its bytes; every other frame,
/// and any oddity in a common one, goes through etherparse's lax slicer
/// (issue 13: the slicer was a tenth of the time on a large capture).
pub fn decode_frame(link: LinkType, data: &[u8]) -> Decoded<'_> {
    if let Some(seg) = plain_ipv4(link, data).and_then(fast_ipv4_tcp) {
        return Decoded::Tcp(seg);
    }
    decode_lax(link, data)
}

/// The IPv4 packet of a frame whose link header says IPv4 with no VLAN
/// tag, or of a raw IP frame; `None` for the rest (the lax path sorts
/// them out).
fn plain_ipv4(link: LinkType, data: &[u8]) -> Option<&[u8]> {
    let after =
        |h: LinkHeader| (h.ether_type(data)? == EtherType::IPV4.0).then(|| data.get(h.len..))?;
    match link {
        LinkType::Ethernet => after(ETHERNET),
        LinkType::LinuxSll => after(LINUX_SLL),
        LinkType::LinuxSll2 => after(LINUX_SLL2),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => Some(data),
        LinkType::Null | LinkType::Loop | LinkType::ArcnetLinux => None,
    }
}

/// A TCP segment read straight from an IPv4 packet, when nothing in it
/// needs the lax slicer's care: a valid header captured whole, a total
/// length from the header's end to no more than was captured, not a
/// fragment, TCP with a whole header and a data offset from 5 to what the
/// total length leaves. For such a packet the slicer path builds exactly
/// this segment (the tests compare the two on random and real frames);
/// `None` sends the packet down that path.
fn fast_ipv4_tcp(ip: &[u8]) -> Option<Segment<'_>> {
    let (h, t) = fast_ipv4_views(ip)?;
    let hdr_len = t.header_len();
    let seg_len = t.as_bytes().len();
    Some(Segment {
        src: SocketAddr::new(h.src_addr().into(), t.src_port()),
        dst: SocketAddr::new(h.dst_addr().into(), t.dst_port()),
        seq: t.seq_number(),
        ack: t.ack_number(),
        flags: TcpFlags(t.flags()),
        payload_len: u32::try_from(seg_len - hdr_len).unwrap_or(u32::MAX),
        truncated: false,
        ip: IpLayer::V4(ipv4::Packet::new_unchecked(HeaderBytes::copy(&h))),
        tcp: t,
    })
}

/// A packet's IPv4 header and TCP segment, both checked.
type FastViews<'a> = (ipv4::Packet<&'a [u8]>, tcp::Packet<&'a [u8]>);

/// The checked IPv4 and TCP views of a packet [`fast_ipv4_tcp`] takes,
/// `None` for every other packet: the fast path's conditions, written once
/// for it and for [`fast_tcp_endpoints`].
fn fast_ipv4_views(ip: &[u8]) -> Option<FastViews<'_>> {
    let h = ipv4::Packet::new_checked(ip).ok()?;
    let header = h.header_len();
    let total = usize::from(h.total_len());
    if total < header || total > ip.len() || h.is_fragment() {
        return None;
    }
    if h.protocol() != tcp::PROTOCOL {
        return None;
    }
    let t = tcp::Packet::new_checked(ip.get(header..total)?).ok()?;
    let hdr_len = t.header_len();
    if hdr_len < tcp::HEADER_LEN || hdr_len > t.as_bytes().len() {
        return None;
    }
    Some((h, t))
}

/// The two endpoints (source, destination) of a frame [`decode_frame`]
/// reads by its fast path, without building the segment: a flow-sharded
/// reader (`--threads`) peeks at every packet's connection this way and
/// decodes only its own. `Some` means exactly that `decode_frame` gives a
/// [`Decoded::Tcp`] with these endpoints; `None` says nothing (the frame
/// may still be TCP, read by the lax path).
pub fn fast_tcp_endpoints(link: LinkType, data: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    let (h, t) = plain_ipv4(link, data).and_then(fast_ipv4_views)?;
    Some((
        SocketAddr::new(h.src_addr().into(), t.src_port()),
        SocketAddr::new(h.dst_addr().into(), t.dst_port()),
    ))
}

/// Decode a frame through etherparse's lax slicer (every frame the fast
/// path does not take).
fn decode_lax(link: LinkType, data: &[u8]) -> Decoded<'_> {
    let sliced = match link {
        LinkType::Ethernet => ethernet(data),
        LinkType::LinuxSll => ether_typed(data, LINUX_SLL).ok_or(Skip::LinkCut),
        LinkType::LinuxSll2 => ether_typed(data, LINUX_SLL2).ok_or(Skip::LinkCut),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => from_ip(data),
        LinkType::Null => loopback(data, u32::from_ne_bytes),
        LinkType::Loop => loopback(data, u32::from_be_bytes),
        LinkType::ArcnetLinux => arcnet_linux(data),
    };
    match sliced {
        Ok(sliced) => from_net(sliced),
        Err(why) => Decoded::Skipped(why),
    }
}

/// An IP packet with no link header; a header etherparse refuses (an IHL
/// below 5, a version that is neither 4 nor 6) is named.
fn from_ip(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    use etherparse::err::ip::LaxHeaderSliceError;
    LaxSlicedPacket::from_ip(data).map_err(|e| {
        Skip::BadIp(match e {
            LaxHeaderSliceError::Len(len) => SliceError::Len(len),
            LaxHeaderSliceError::Content(content) => SliceError::Ip(content),
        })
    })
}

/// Ethernet II, with any number of stacked 802.1Q / 802.1ad / QinQ tags up
/// to [`MAX_VLAN_TAGS`] (etherparse keeps at most three), walked here so
/// that a SYN behind a deep stack of tags is still found.
fn ethernet(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let mut at = ETHERNET.proto_at;
    for _ in 0..=MAX_VLAN_TAGS {
        let ether_type = data.get(at..at + 2).ok_or(Skip::LinkCut)?;
        let ether_type = EtherType(u16::from_be_bytes([ether_type[0], ether_type[1]]));
        let rest = data.get(at + 2..).ok_or(Skip::LinkCut)?;
        match ether_type {
            EtherType::VLAN_TAGGED_FRAME
            | EtherType::PROVIDER_BRIDGING
            | EtherType::VLAN_DOUBLE_TAGGED_FRAME => at += 4,
            _ => return Ok(LaxSlicedPacket::from_ether_type(ether_type, rest)),
        }
    }
    Err(Skip::TooManyVlanTags)
}

/// Linux cooked headers: a fixed header with the EtherType at `proto_at`.
fn ether_typed(data: &[u8], h: LinkHeader) -> Option<LaxSlicedPacket<'_>> {
    let proto = h.ether_type(data)?;
    let rest = data.get(h.len..)?;
    Some(LaxSlicedPacket::from_ether_type(EtherType(proto), rest))
}

/// Linux ARCNET: source and destination station (1 byte each) and a 2-byte
/// offset, then the protocol ID. RFC 1201 (IPv4 0xd4, IPv6 0xc4) adds a
/// split flag and a 2-byte sequence number, and an exception packet (split
/// flag 0xff) repeats the protocol ID, split flag and sequence in 4 more
/// bytes; RFC 1051 IPv4 (0xf0) has no more header (Wireshark's packet-arcnet.c).
fn arcnet_linux(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let header_len = match (data.get(4), data.get(5)) {
        (Some(0xf0), _) => 5,
        (Some(0xd4 | 0xc4), Some(0xff)) => 12,
        (Some(0xd4 | 0xc4), _) => 8,
        (None, _) => return Err(Skip::LinkCut),
        _ => return Err(Skip::NotIp),
    };
    from_ip(data.get(header_len..).ok_or(Skip::LinkCut)?)
}

/// BSD loopback: the address family in a 4-byte header (2 is IPv4; 24, 28
/// and 30 are IPv6 on the BSDs and macOS). The byte order is the capturing
/// host's, so both orders are tried.
fn loopback(data: &[u8], order: fn([u8; 4]) -> u32) -> Result<LaxSlicedPacket<'_>, Skip> {
    let (family, ip) = data.split_first_chunk::<4>().ok_or(Skip::LinkCut)?;
    let known = |f: u32| matches!(f, 2 | 24 | 28 | 30);
    let ok = known(order(*family))
        || known(u32::from_le_bytes(*family))
        || known(u32::from_be_bytes(*family));
    if !ok {
        return Err(Skip::NotIp);
    }
    from_ip(ip)
}

fn from_net(sliced: LaxSlicedPacket<'_>) -> Decoded<'_> {
    // Where the lax parse stopped, if it stopped on an error (the layers
    // before it are valid and kept).
    let stop = sliced.stop_err.map(|(e, _layer)| e);
    let (ip, payload) = match sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            // etherparse falls back to the captured length; tshark calls it
            // a bogus length. Zero is TCP segmentation offload, kept.
            let (total, header) = (h.total_len(), h.slice().len());
            if total != 0 && usize::from(total) < header {
                return Decoded::Skipped(Skip::Ipv4TotalBelowHeader { total, header });
            }
            let copy = HeaderBytes::copy(&ipv4::Packet::new_unchecked(h.slice()));
            (
                IpLayer::V4(ipv4::Packet::new_unchecked(copy)),
                v4.payload().clone(),
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let exts = ext_names(v6.extensions());
            (
                IpLayer::V6 {
                    header: ipv6::Packet::new_unchecked(v6.header().slice()),
                    exts,
                },
                v6.payload().clone(),
            )
        }
        _ => return Decoded::Skipped(stop.map_or(Skip::NotIp, Skip::BadIp)),
    };
    if payload.fragmented && !first_fragment(&ip) {
        return Decoded::Skipped(Skip::LaterFragment);
    }
    match payload.ip_number {
        IpNumber::TCP => tcp_segment(ip, &payload),
        IpNumber::ICMP | IpNumber::IPV6_ICMP => icmp_error(&ip, payload.payload),
        // An error here is in the IP layer (an IPv6 extension chain that is
        // cut, loops back to hop-by-hop, …): the payload was never reached.
        _ => Decoded::Skipped(stop.map_or(Skip::NotTcp, Skip::BadIp)),
    }
}

fn first_fragment(ip: &IpLayer<'_>) -> bool {
    match ip {
        IpLayer::V4(header) => header.frag_offset() == 0,
        IpLayer::V6 { .. } => false,
    }
}

/// The names of the IPv6 extension headers the lax parse validated, in
/// order.
///
/// etherparse 0.21's own iterator (`Ipv6ExtensionsSlice::into_iter`) stops
/// only on a next-header value that is no extension, reading each header
/// unchecked; when the lax parse stopped on an error (a second hop-by-hop
/// header, a header cut short) the last valid header still names another
/// extension, and the iterator reads past the validated slice (issue 10:
/// an out-of-bounds read from one 62-byte frame). So the walk is ours,
/// bounded by the validated bytes, with checked slices only.
fn ext_names(exts: &Ipv6ExtensionsSlice<'_>) -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut rest = exts.slice();
    let mut next = exts.first_header();
    while let (false, Some(ip_number)) = (rest.is_empty(), next) {
        let Some((name, len, after)) = ext_header(ip_number, rest) else {
            break;
        };
        names.push(name);
        rest = rest.get(len..).unwrap_or_default();
        next = Some(after);
    }
    names
}

/// One extension header at the start of `bytes`: its name, length and the
/// next header's number; `None` when it is not one or does not fit.
fn ext_header(ip_number: IpNumber, bytes: &[u8]) -> Option<(&'static str, usize, IpNumber)> {
    let raw = |name| {
        Ipv6RawExtHeaderSlice::from_slice(bytes)
            .ok()
            .map(|h| (name, h.slice().len(), h.next_header()))
    };
    match ip_number {
        IpNumber::IPV6_HEADER_HOP_BY_HOP => raw("hop"),
        IpNumber::IPV6_ROUTE_HEADER => raw("route"),
        IpNumber::IPV6_DESTINATION_OPTIONS => raw("dest"),
        IpNumber::IPV6_FRAGMENTATION_HEADER => Ipv6FragmentHeaderSlice::from_slice(bytes)
            .ok()
            .map(|h| ("frag", h.slice().len(), h.next_header())),
        IpNumber::AUTHENTICATION_HEADER => IpAuthHeaderSlice::from_slice(bytes)
            .ok()
            .map(|h| ("auth", h.slice().len(), h.next_header())),
        _ => None,
    }
}

fn addrs(ip: &IpLayer<'_>) -> (IpAddr, IpAddr) {
    match ip {
        IpLayer::V4(header) => (header.src_addr().into(), header.dst_addr().into()),
        IpLayer::V6 { header, .. } => (header.src_addr().into(), header.dst_addr().into()),
    }
}

fn tcp_segment<'a>(ip: IpLayer<'a>, payload: &LaxIpPayloadSlice<'a>) -> Decoded<'a> {
    let Ok(tcp) = tcp::Packet::new_checked(payload.payload) else {
        return Decoded::Skipped(if payload.incomplete {
            Skip::TcpCut
        } else {
            Skip::TcpPastIpLength(payload.payload.len())
        });
    };
    let offset = tcp.data_offset();
    let hdr_len = tcp.header_len();
    if hdr_len < tcp::HEADER_LEN {
        return Decoded::Skipped(Skip::TcpOffsetBelow5(offset));
    }
    let declared = declared_ip_payload(&ip, payload);
    if hdr_len > declared {
        // The segment the IP header declares cannot hold the TCP header
        // (tshark: "bogus TCP header length"); a capture cut is not this,
        // since the declared length does not depend on what was captured.
        return Decoded::Skipped(Skip::TcpOffsetPastEnd {
            header: hdr_len,
            segment: declared,
        });
    }
    let (src_ip, dst_ip) = addrs(&ip);
    let seg = Segment {
        src: SocketAddr::new(src_ip, tcp.src_port()),
        dst: SocketAddr::new(dst_ip, tcp.dst_port()),
        seq: tcp.seq_number(),
        ack: tcp.ack_number(),
        flags: TcpFlags(tcp.flags()),
        payload_len: u32::try_from(declared.saturating_sub(hdr_len)).unwrap_or(u32::MAX),
        truncated: payload.incomplete || tcp.as_bytes().len() < hdr_len,
        ip,
        tcp,
    };
    Decoded::Tcp(seg)
}

/// The IP payload length the IP header declares. A header length of zero
/// (TCP segmentation offload on the capturing host) falls back to the
/// captured length, as tshark does.
fn declared_ip_payload(ip: &IpLayer<'_>, payload: &LaxIpPayloadSlice<'_>) -> usize {
    if !payload.incomplete {
        return payload.payload.len();
    }
    match ip {
        IpLayer::V4(header) => usize::from(header.total_len()).saturating_sub(header.header_len()),
        IpLayer::V6 { header, .. } => usize::from(header.payload_len()),
    }
}

/// An ICMP error (v4: unreachable, time exceeded, parameter problem; v6:
/// unreachable, too big, time exceeded, parameter problem) quoting TCP.
fn icmp_error<'a>(ip: &IpLayer<'a>, bytes: &'a [u8]) -> Decoded<'a> {
    let v6 = matches!(ip, IpLayer::V6 { .. });
    let Ok(msg) = icmp::Packet::new_checked(bytes) else {
        return Decoded::Skipped(Skip::IcmpCut);
    };
    if !icmp::is_error(v6, msg.msg_type()) {
        return Decoded::Skipped(Skip::IcmpNotError);
    }
    let Some(quoted) = msg.quote().and_then(QuotedTcp::parse) else {
        return Decoded::Skipped(Skip::IcmpNotQuotingTcp);
    };
    Decoded::Icmp(IcmpError {
        from: addrs(ip).0,
        v6,
        icmp_type: msg.msg_type(),
        code: msg.code(),
        quoted,
    })
}

impl Segment<'_> {
    /// The IPv4 identification field (IPv6 has none outside fragments).
    pub fn ip_id(&self) -> Option<u16> {
        match &self.ip {
            IpLayer::V4(header) => Some(header.ident()),
            IpLayer::V6 { .. } => None,
        }
    }

    /// The IP header's ECN codepoint (0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE).
    pub fn ecn(&self) -> u8 {
        match &self.ip {
            IpLayer::V4(header) => header.ecn(),
            IpLayer::V6 { header, .. } => header.ecn(),
        }
    }

    /// The TCP header's length in bytes, from the data offset.
    pub fn tcp_hdr_len(&self) -> usize {
        self.tcp.header_len()
    }

    /// The raw window field (unscaled).
    pub fn window(&self) -> u16 {
        self.tcp.window_len()
    }

    /// The payload as captured: after the TCP header, at most
    /// `payload_len` bytes (an Ethernet frame's padding is not payload).
    /// Shorter than `payload_len` when the capture cut the packet.
    pub fn payload(&self) -> &[u8] {
        let body = self.tcp.payload();
        body.get(..self.payload_len as usize).unwrap_or(body)
    }

    /// The options area as parsed (as far as the capture holds it).
    pub fn options(&self) -> OptionsParse<'_> {
        let declared = self.tcp_hdr_len() - tcp::HEADER_LEN;
        parse_options(self.tcp.options(), declared)
    }

    /// Every attribute of this segment, named as in the catalogue.
    pub fn attributes(&self) -> Attributes {
        self.attributes_answering(0)
    }

    /// [`Segment::attributes`] of a SYN+ACK answering a SYN that announced
    /// MSS `syn_mss` (0: none, or not an answer): p0f reads its window
    /// against that MSS too.
    pub fn attributes_answering(&self, syn_mss: u64) -> Attributes {
        let mut a = Attributes::with_capacity(64);
        self.ip_attributes(&mut a);
        let opts = self.options();
        let layout = Layout::of(&opts.options);
        // The options' attributes, sorted into table order here (they come
        // in wire order) so that each insert below appends (issue 25:
        // inserting them one by one moved the set's tail four times a
        // packet). The sort is stable: of a repeated option the last wins,
        // as `insert` has it.
        let mut options: Vec<(Attr, Value)> = Vec::with_capacity(12);
        for opt in &opts.options {
            option_attributes(opt, |k, v| options.push((k, v)));
        }
        let mut kinds = layout.kind_numbers();
        if let Some(cut) = opts.cut_kind {
            // Cut by the capture: not in the layout, but seen (as tshark says).
            if let Some(present) = OptionKind::from_number(cut).presence() {
                options.push((present.into(), true.into()));
            }
            kinds = if kinds.is_empty() {
                cut.to_string()
            } else {
                format!("{kinds},{cut}")
            };
        }
        if !kinds.is_empty() {
            options.push((Field::TcpOptionKind.into(), kinds.into()));
        }
        options.sort_by_key(|(k, _)| k.order());
        self.tcp_attributes(&mut a, options);
        let headers = self.p0f_headers(&opts);
        let layout = layout.text();
        let quirks = p0f::quirks(&headers, &opts).join(",");
        let truncated = self.truncated || opts.truncated;
        // p0f signs no packet the capture cut (it may lack options or payload).
        let signature = if truncated {
            None
        } else {
            p0f::signature_of(&headers, &layout, &quirks, syn_mss)
        };
        a.insert(Field::SynlabOptionsLayout, layout);
        if let Some(ttl) = headers.ttl {
            a.insert(Field::SynlabIttl, p0f::guess_ittl(ttl));
        }
        a.insert(Field::SynlabQuirks, quirks);
        if let Some(sig) = signature {
            a.insert(Field::SynlabP0f, sig);
        }
        if truncated {
            a.insert(Field::SynlabTruncated, true);
        }
        a
    }

    /// What p0f reads of this segment, straight from its headers.
    pub fn p0f_headers(&self, opts: &OptionsParse<'_>) -> p0f::Headers {
        let mut h = p0f::Headers {
            flags: self.flags,
            seq: Some(self.seq.into()),
            ack: self.ack.into(),
            urgent_pointer: self.tcp.urgent_at().into(),
            window: Some(self.window().into()),
            tcp_hdr_len: Some(self.tcp_hdr_len() as u64),
            tcp_len: self.payload_len.into(),
            ..p0f::Headers::default()
        };
        match &self.ip {
            IpLayer::V4(header) => {
                h.v4 = true;
                h.ttl = Some(header.ttl().into());
                h.ip_hdr_len = Some(header.header_len() as u64);
                h.df = header.dont_frag();
                h.rb = header.rb();
                h.ip_id = header.ident().into();
                h.ecn = header.ecn().into();
            }
            IpLayer::V6 { header, exts } => {
                h.ttl = Some(header.hop_limit().into());
                h.ipv6_ext = !exts.is_empty();
                h.ecn = header.ecn().into();
                h.flow_label = header.flow_label().into();
            }
        }
        for opt in &opts.options {
            match *opt {
                TcpOption::Mss(v) => h.mss = Some(v.into()),
                TcpOption::WindowScale(v) => h.wscale = Some(v.into()),
                TcpOption::Timestamp { tsval, tsecr } => {
                    h.tsval = Some(tsval.into());
                    h.tsecr = Some(tsecr.into());
                }
                _ => {}
            }
        }
        h
    }

    /// The IP layer's attributes and the TCP options' values, without the
    /// TCP header fields and the derived ones (layout, quirks, p0f
    /// signature): what the tracker read of a flow's first data segment
    /// until [`Segment::flow_facts`] read it from the headers; now the
    /// reference the tests hold those facts to.
    #[cfg(test)]
    fn ip_and_option_attributes(&self) -> Attributes {
        let mut a = Attributes::with_capacity(32);
        self.ip_attributes(&mut a);
        for opt in &self.options().options {
            option_attributes(opt, |k, v| a.insert(k, v));
        }
        a
    }

    /// What the tracker notes of a flow's first data segment (its
    /// `synlab.flow.*` values), read from the headers: the same values as
    /// the segment's attribute set holds, without building the set and its
    /// address texts (issue 25: that set was a
    /// twentieth of `handshakes --json` on SYN-heavy traffic).
    pub fn flow_facts(&self) -> FlowFacts {
        let timestamps = self
            .options()
            .options
            .iter()
            .any(|o| matches!(o, TcpOption::Timestamp { .. }));
        match &self.ip {
            IpLayer::V4(h) => FlowFacts {
                ttl: h.ttl(),
                df: Some(h.dont_frag()),
                ecn: h.ecn(),
                dscp: h.dscp(),
                timestamps,
                flow_label: None,
            },
            IpLayer::V6 { header: h, .. } => FlowFacts {
                ttl: h.hop_limit(),
                df: None,
                ecn: h.ecn(),
                dscp: h.dscp(),
                timestamps,
                flow_label: Some(h.flow_label()),
            },
        }
    }

    fn ip_attributes(&self, a: &mut Attributes) {
        match &self.ip {
            IpLayer::V4(h) => {
                a.insert(Field::IpVersion, 4u8);
                a.insert(Field::IpHdrLen, h.header_len() as u64);
                a.insert(Field::IpDsfieldDscp, h.dscp());
                a.insert(Field::IpDsfieldEcn, h.ecn());
                a.insert(Field::IpLen, h.total_len());
                a.insert(Field::IpId, h.ident());
                a.insert(Field::IpFlagsRb, h.rb());
                a.insert(Field::IpFlagsDf, h.dont_frag());
                a.insert(Field::IpFlagsMf, h.more_frags());
                a.insert(Field::IpFragOffset, h.frag_offset());
                a.insert(Field::IpTtl, h.ttl());
                a.insert(Field::IpProto, h.protocol());
                a.insert(Field::IpChecksum, h.checksum());
                a.insert(Field::IpSrc, ipv4_text(h.src_addr().octets()));
                a.insert(Field::IpDst, ipv4_text(h.dst_addr().octets()));
                if !h.options().is_empty() {
                    a.insert(Field::SynlabIpOptions, hex(h.options()));
                }
            }
            IpLayer::V6 { header: h, exts } => {
                a.insert(Field::Ipv6Version, h.version());
                a.insert(Field::Ipv6TclassDscp, h.dscp());
                a.insert(Field::Ipv6TclassEcn, h.ecn());
                a.insert(Field::Ipv6Flow, h.flow_label());
                a.insert(Field::Ipv6Plen, h.payload_len());
                a.insert(Field::Ipv6Nxt, h.next_header());
                a.insert(Field::Ipv6Hlim, h.hop_limit());
                a.insert(Field::Ipv6Src, h.src_addr().to_string());
                a.insert(Field::Ipv6Dst, h.dst_addr().to_string());
                if !exts.is_empty() {
                    a.insert(Field::SynlabIpv6Ext, exts.join(","));
                }
            }
        }
    }

    /// The TCP header's attributes, with `options` (in table order: the
    /// options' and `tcp.option_kind`) in their place.
    fn tcp_attributes(&self, a: &mut Attributes, options: Vec<(Attr, Value)>) {
        let t = &self.tcp;
        let f = self.flags;
        a.insert(Field::TcpSrcport, self.src.port());
        a.insert(Field::TcpDstport, self.dst.port());
        a.insert(Field::TcpSeqRaw, self.seq);
        a.insert(Field::TcpAckRaw, self.ack);
        a.insert(Field::TcpHdrLen, self.tcp_hdr_len() as u64);
        for (field, bits) in TcpFlags::FIELDS {
            a.insert(field, f.has(bits));
        }
        a.insert(Field::TcpWindowSizeValue, t.window_len());
        a.insert(Field::TcpChecksum, t.checksum());
        a.insert(Field::TcpUrgentPointer, t.urgent_at());
        for (k, v) in options {
            a.insert(k, v);
        }
        a.insert(Field::TcpLen, self.payload_len);
    }
}

/// The option's presence (`tcp.options.mss` …, true when present) and values.
fn option_attributes(opt: &TcpOption<'_>, mut put: impl FnMut(Attr, Value)) {
    if let Some(present) = opt.token().kind().presence() {
        put(present.into(), true.into());
    }
    match *opt {
        TcpOption::Mss(v) => put(Field::TcpOptionsMssVal.into(), v.into()),
        TcpOption::WindowScale(v) => put(Field::TcpOptionsWscaleShift.into(), v.into()),
        TcpOption::SackPermitted => put(Field::TcpOptionsSackPerm.into(), true.into()),
        TcpOption::Timestamp { tsval, tsecr } => {
            put(Field::TcpOptionsTimestampTsval.into(), tsval.into());
            put(Field::TcpOptionsTimestampTsecr.into(), tsecr.into());
        }
        TcpOption::Other { kind, ref data } => {
            put(Attr::UnknownOption(kind), hex(data).into());
        }
        TcpOption::Eol { .. } | TcpOption::Nop | TcpOption::Sack(_) => {}
    }
}

/// Dotted-quad text of an IPv4 address, as `Ipv4Addr`'s `Display` writes it.
/// Written with `itoa` into a string sized once: `Display` goes through the
/// formatter (and a padding pass) for every SYN and answer (issue 13).
pub fn ipv4_text(octets: [u8; 4]) -> String {
    let mut out = String::with_capacity(15);
    let mut digits = itoa::Buffer::new();
    for (i, octet) in octets.into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(digits.format(octet));
    }
    out
}

/// Lower-case hex without separators.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The fast path's answer for a frame, if it takes it, beside the lax
/// slicer's; they must be the same `Decoded` (compared by `Debug`,
/// which shows every field, the IPv4 header's included).
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn fast_agrees_with_lax(linktype: u32, frame: &[u8]) -> bool {
    let Some(link) = LinkType::from_linktype(linktype) else {
        return false;
    };
    let Some(fast) = plain_ipv4(link, frame).and_then(fast_ipv4_tcp) else {
        return false;
    };
    let lax = decode_lax(link, frame);
    assert_eq!(
        format!("{:?}", Decoded::Tcp(fast)),
        format!("{lax:?}"),
        "link {linktype}, frame {frame:02x?}"
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal IPv4 SYN: 20-byte IP header, 24-byte TCP header with an MSS option.
    fn ipv4_syn() -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 44, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1,
        ];
        p.extend_from_slice(&[
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xfa, 0xf0, 0, 0, 0, 0, 2, 4,
            0x05, 0xb4,
        ]);
        p
    }

    fn segment(d: Decoded<'_>) -> Segment<'_> {
        match d {
            Decoded::Tcp(s) => s,
            other => panic!("not TCP: {other:?}"),
        }
    }

    fn ethernet(tags: &[[u8; 4]], ip: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        for t in tags {
            f.extend_from_slice(t);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(ip);
        f
    }

    /// The shards' peek: the fast path's endpoints, without the segment;
    /// nothing for a frame only the lax path reads (a VLAN tag, a
    /// fragment), which the shards then decode whole.
    #[test]
    fn the_endpoint_peek_answers_where_the_fast_path_does() {
        let frame = ethernet(&[], &ipv4_syn());
        let (src, dst) = fast_tcp_endpoints(LinkType::Ethernet, &frame).expect("plain IPv4/TCP");
        let seg = segment(decode_frame(LinkType::Ethernet, &frame));
        assert_eq!((src, dst), (seg.src, seg.dst));
        assert_eq!(src.to_string(), "198.18.0.2:40000");
        let tagged = ethernet(&[[0x81, 0x00, 0, 100]], &ipv4_syn());
        assert_eq!(fast_tcp_endpoints(LinkType::Ethernet, &tagged), None);
        let mut fragment = ipv4_syn();
        fragment[6] = 0x20; // more fragments
        assert_eq!(fast_tcp_endpoints(LinkType::Raw, &fragment), None);
        assert_eq!(
            fast_tcp_endpoints(LinkType::Raw, &ipv4_syn()),
            Some((src, dst))
        );
    }

    #[test]
    fn qinq_vlan_tags_are_skipped() {
        let frame = ethernet(&[[0x88, 0xa8, 0, 10], [0x81, 0x00, 0, 100]], &ipv4_syn());
        let seg = segment(decode_frame(LinkType::Ethernet, &frame));
        assert!(seg.flags.is_syn());
        assert_eq!(seg.src.to_string(), "198.18.0.2:40000");
        let a = seg.attributes();
        assert_eq!(a.get(Field::TcpOptionsMssVal), Some(&1460u16.into()));
        assert_eq!(a.get(Field::SynlabOptionsLayout), Some(&"mss".into()));
    }

    #[test]
    fn ipv4_text_is_what_display_writes() {
        // Every octet value in every place.
        let all = (0..=u8::MAX).map(|o| [o, u8::MAX - o, o / 3, o.wrapping_mul(7)]);
        for octets in all.chain([[0, 0, 0, 0], [255, 255, 255, 255], [10, 9, 100, 1]]) {
            assert_eq!(
                ipv4_text(octets),
                std::net::Ipv4Addr::from(octets).to_string()
            );
        }
    }

    /// The flow facts are the values the data segment's attribute set
    /// holds, over IPv4 (with and without timestamps) and IPv6.
    #[test]
    fn flow_facts_agree_with_the_attribute_set() {
        let v4 = ethernet(&[], &ipv4_syn());
        let mut v4_no_ts = ipv4_syn();
        // The timestamp option (kind 8 at byte 44) becomes two NOPs and
        // padding: same length, no timestamps.
        if let Some(at) = v4_no_ts.iter().skip(40).position(|&b| b == 8) {
            let at = 40 + at;
            v4_no_ts[at..at + 10].fill(1);
        }
        let v4_no_ts = ethernet(&[], &v4_no_ts);
        for frame in [v4, v4_no_ts] {
            let seg = segment(decode_frame(LinkType::Ethernet, &frame));
            let a = seg.ip_and_option_attributes();
            let f = seg.flow_facts();
            assert_eq!(a.get(Field::IpTtl), Some(&f.ttl.into()));
            assert_eq!(a.get(Field::IpFlagsDf).cloned(), f.df.map(Into::into));
            assert_eq!(a.get(Field::IpDsfieldEcn), Some(&f.ecn.into()));
            assert_eq!(a.get(Field::IpDsfieldDscp), Some(&f.dscp.into()));
            assert_eq!(a.contains(Field::TcpOptionsTimestampTsval), f.timestamps);
            assert_eq!(f.flow_label, None);
        }
    }

    #[test]
    fn data_segment_attributes_agree_with_the_full_set() {
        let frame = ethernet(&[], &ipv4_syn());
        let seg = segment(decode_frame(LinkType::Ethernet, &frame));
        let full = seg.attributes();
        let part = seg.ip_and_option_attributes();
        assert_eq!(part.get(Field::IpTtl), Some(&64u8.into()));
        assert_eq!(part.get(Field::IpSrc), Some(&"198.18.0.2".into()));
        assert_eq!(part.get(Field::TcpOptionsMssVal), Some(&1460u16.into()));
        assert!(!part.contains(Field::SynlabP0f), "no derived attributes");
        for (key, value) in part.iter() {
            assert_eq!(full.get(key), Some(value), "{key:?}");
        }
    }

    #[test]
    fn linux_cooked_and_loopback_headers() {
        let ip = ipv4_syn();
        let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(&ip);
        assert!(segment(decode_frame(LinkType::LinuxSll, &sll))
            .flags
            .is_syn());
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
        ];
        sll2.extend_from_slice(&ip);
        assert!(segment(decode_frame(LinkType::LinuxSll2, &sll2))
            .flags
            .is_syn());
        for family in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
            let mut null = family.to_vec();
            null.extend_from_slice(&ip);
            assert!(segment(decode_frame(LinkType::Null, &null)).flags.is_syn());
        }
    }

    #[test]
    fn icmp_error_quoting_a_syn_is_matched_to_it() {
        let syn = ipv4_syn();
        let mut icmp = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2, 3, 13, 0, 0, 0,
            0, 0, 0,
        ];
        icmp.extend_from_slice(&syn[..28]);
        let total = icmp.len() as u16;
        icmp[2..4].copy_from_slice(&total.to_be_bytes());
        match decode_frame(LinkType::Raw, &icmp) {
            Decoded::Icmp(e) => {
                assert_eq!((e.icmp_type, e.code), (3, 13));
                assert_eq!(e.quoted.src.to_string(), "198.18.0.2:40000");
                assert_eq!(e.quoted.seq, 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cut_inside_the_tcp_header_is_skipped_not_a_panic() {
        let ip = ipv4_syn();
        for cut in 0..ip.len() {
            let d = decode_frame(LinkType::Raw, &ip[..cut]);
            if cut >= 40 {
                let seg = segment(d);
                assert!(seg.truncated);
                assert_eq!(
                    seg.attributes().get(Field::SynlabTruncated),
                    Some(&true.into())
                );
            }
        }
    }

    #[test]
    fn ipv6_extension_headers_are_named_and_skipped() {
        let tcp = &ipv4_syn()[20..];
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((8 + tcp.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 64]); // next header: hop-by-hop; hop limit 64
        p.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop: next TCP, PadN
        p.extend_from_slice(tcp);
        let seg = segment(decode_frame(LinkType::Raw, &p));
        assert!(seg.flags.is_syn());
        assert_eq!(seg.src.to_string(), "[fd00::2]:40000");
        let a = seg.attributes();
        assert_eq!(a.get(Field::SynlabIpv6Ext), Some(&"hop".into()));
        assert_eq!(a.get(Field::Ipv6Nxt), Some(&0u8.into()));
        assert_eq!(a.get(Field::Ipv6Hlim), Some(&64u8.into()));
        assert_eq!(a.get(Field::TcpOptionsMssVal), Some(&1460u16.into()));
        assert!(a.get(Field::IpTtl).is_none());
    }

    /// An IPv6 SYN (raw IP) behind 8-byte extension headers of the given
    /// kinds (IP numbers), in order, the last one naming TCP.
    fn ipv6_with_exts(kinds: &[u8]) -> Vec<u8> {
        let tcp = &ipv4_syn()[20..];
        let nexts: Vec<u8> = kinds.iter().copied().skip(1).chain([6]).collect();
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((8 * kinds.len() + tcp.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[kinds.first().copied().unwrap_or(6), 64]);
        p.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        for next in nexts {
            p.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
        }
        p.extend_from_slice(tcp);
        p
    }

    /// Issue 10, item 1: a hop-by-hop header followed by a second one made
    /// etherparse's extension iterator read past the validated slice (an
    /// out-of-bounds read valgrind saw from one 62-byte frame).
    #[test]
    fn second_hop_by_hop_is_skipped_without_reading_past_the_checked_slice() {
        let p = ipv6_with_exts(&[0, 0]);
        let (exts, _, _, err) = Ipv6ExtensionsSlice::from_slice_lax(IpNumber(0), &p[40..]);
        assert!(err.is_some(), "etherparse stops at the second hop-by-hop");
        assert_eq!(exts.slice().len(), 8);
        assert_eq!(ext_names(&exts), ["hop"]);
        match decode_frame(LinkType::Raw, &p) {
            Decoded::Skipped(why @ Skip::BadIp(_)) => assert!(why.is_malformed()),
            other => panic!("{other:?}"),
        }
        // The 62-byte frame of the report: the packet ends after the first
        // hop-by-hop header, which names another one.
        let cut = &p[..48];
        assert!(matches!(
            decode_frame(LinkType::Raw, cut),
            Decoded::Skipped(_)
        ));
    }

    #[test]
    fn extension_chains_are_walked_to_tcp_and_cuts_are_named() {
        let p = ipv6_with_exts(&[0, 60, 43, 60]);
        let seg = segment(decode_frame(LinkType::Raw, &p));
        assert_eq!(
            seg.attributes().get("synlab.ipv6.ext"),
            Some(&"hop,dest,route,dest".into())
        );
        // Cut inside the third header: a malformed skip at every length.
        for cut in 40..p.len() {
            let d = decode_frame(LinkType::Raw, &p[..cut]);
            if cut < 72 {
                assert!(matches!(d, Decoded::Skipped(_)), "cut {cut}: {d:?}");
            }
        }
    }

    #[test]
    fn syn_behind_eight_vlan_tags_is_found_and_too_many_are_named() {
        let tags = [[0x81, 0x00, 0, 7]; 8];
        let frame = ethernet(&tags, &ipv4_syn());
        let seg = segment(decode_frame(LinkType::Ethernet, &frame));
        assert!(seg.flags.is_syn());
        let tags = vec![[0x88, 0xa8, 0, 7]; MAX_VLAN_TAGS + 1];
        let frame = ethernet(&tags, &ipv4_syn());
        match decode_frame(LinkType::Ethernet, &frame) {
            Decoded::Skipped(Skip::TooManyVlanTags) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn header_lies_are_malformed_skips() {
        let mut ihl_4 = ipv4_syn();
        ihl_4[0] = 0x44;
        let mut offset_past_end = ipv4_syn();
        offset_past_end[32] = 0xf0; // 60 header bytes in a 24-byte segment
        let mut offset_4 = ipv4_syn();
        offset_4[32] = 0x40;
        for (name, p) in [
            ("ihl 4", ihl_4),
            ("offset past end", offset_past_end),
            ("offset 4", offset_4),
        ] {
            match decode_frame(LinkType::Raw, &p) {
                Decoded::Skipped(why) => assert!(why.is_malformed(), "{name}: {why}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        let mut udp = ipv4_syn();
        udp[9] = 17;
        match decode_frame(LinkType::Raw, &udp) {
            Decoded::Skipped(why) => assert!(!why.is_malformed(), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn linux_arcnet_frames_carry_ip_after_their_header() {
        // RFC 1201 (8 bytes, as in tcpdump's tests/arcnet-linux.pcap), an
        // RFC 1201 exception packet (12) and RFC 1051 (5).
        let headers: [&[u8]; 3] = [
            &[0xbe, 0x50, 0xc0, 0x00, 0xd4, 0x00, 0x01, 0x6b],
            &[
                0xbe, 0x50, 0xc0, 0x00, 0xd4, 0xff, 0xff, 0xff, 0xd4, 0x00, 0x01, 0x6b,
            ],
            &[0xbe, 0x50, 0xc0, 0x00, 0xf0],
        ];
        for header in headers {
            let frame = [header, &ipv4_syn()[..]].concat();
            let seg = segment(decode_frame(LinkType::ArcnetLinux, &frame));
            assert!(seg.flags.is_syn(), "{header:02x?}");
        }
        for (frame, want) in [
            (&[0xbe, 0x50, 0xc0][..], Skip::LinkCut),
            (&[0, 0, 0, 0, 0xf1][..], Skip::NotIp),
        ] {
            match decode_frame(LinkType::ArcnetLinux, frame) {
                Decoded::Skipped(why) => assert_eq!(why, want),
                other => panic!("{frame:02x?}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_link_type_is_an_error() {
        assert_eq!(
            LinkType::try_from(147),
            Err(DecodeError::UnsupportedLinkType(147))
        );
    }

    /// A frame near the common case, shaped by the parameters: IHL and
    /// options, total length (exact, short of the header, zero, past the
    /// capture), fragment bits, protocol, data offset, payload, padding
    /// after the packet and a capture cut.
    #[allow(clippy::too_many_arguments)]
    fn near_common_frame(
        link: u8,
        ihl: u8,
        total: (u8, u16),
        frag: u16,
        protocol: u8,
        offset: u8,
        payload: usize,
        pad_cut: (usize, usize),
        noise: &[u8],
    ) -> (u32, Vec<u8>) {
        let ip_hdr = usize::from(ihl) * 4;
        let tcp_hdr = usize::from(offset.max(5)) * 4;
        let exact = ip_hdr + tcp_hdr + payload;
        let total = match total.0 {
            0..=2 => exact as u16,
            3 => 0,
            4 => (ip_hdr as u16).saturating_sub(total.1 % 8),
            _ => total.1,
        };
        let mut ip = vec![0x40 | (ihl & 0x0f), noise.first().copied().unwrap_or(0)];
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&[0x12, 0x34]);
        ip.extend_from_slice(&frag.to_be_bytes());
        ip.extend_from_slice(&[64, protocol, 0xab, 0xcd, 10, 0, 0, 1, 10, 0, 0, 2]);
        ip.resize(ip_hdr.max(20), 1);
        let mut tcp = vec![0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 7, offset << 4, 0x12];
        tcp.extend_from_slice(&[0xfa, 0xf0, 0x11, 0x22, 0, 0]);
        tcp.resize(tcp_hdr, 1);
        tcp.extend((0..payload).map(|i| i as u8));
        ip.extend(tcp);
        ip.extend(std::iter::repeat_n(0, pad_cut.0));
        for (i, b) in noise.iter().enumerate().skip(1) {
            let at = usize::from(*b) * 7 % ip.len();
            ip[at] ^= (i as u8) | 1;
        }
        ip.truncate(ip.len().saturating_sub(pad_cut.1));
        match link % 4 {
            0 => (1, ethernet(&[], &ip)),
            1 => (101, ip),
            2 => (113, [[0; 14].as_slice(), &[0x08, 0], &ip].concat()),
            _ => (276, [[0x08, 0].as_slice(), &[0; 18], &ip].concat()),
        }
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn fast_path_builds_what_the_lax_slicer_builds(
            link in 0u8..4,
            ihl in prop_oneof![Just(5u8), 0u8..16],
            total in (0u8..6, any::<u16>()),
            frag in prop_oneof![Just(0x4000u16), Just(0), any::<u16>()],
            protocol in prop_oneof![3 => Just(6u8), 1 => any::<u8>()],
            offset in prop_oneof![Just(5u8), 0u8..16],
            payload in 0usize..64,
            pad_cut in (0usize..8, prop_oneof![2 => Just(0usize), 1 => 0usize..80]),
            noise in prop_oneof![2 => Just(vec![]), 1 => proptest::collection::vec(any::<u8>(), 0..4)],
        ) {
            let (linktype, frame) =
                near_common_frame(link, ihl, total, frag, protocol, offset, payload, pad_cut, &noise);
            fast_agrees_with_lax(linktype, &frame);
        }
    }

    /// The common frame does take the fast path.
    #[test]
    fn a_plain_syn_takes_the_fast_path() {
        assert!(fast_agrees_with_lax(1, &ethernet(&[], &ipv4_syn())));
        assert!(fast_agrees_with_lax(101, &ipv4_syn()));
        let mut cut = ipv4_syn();
        cut.pop();
        assert!(!fast_agrees_with_lax(101, &cut), "cut by the capture");
        let mut tagged = ethernet(&[[0x81, 0x00, 0, 100]], &ipv4_syn());
        assert!(!fast_agrees_with_lax(1, &tagged), "VLAN");
        tagged[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert!(!fast_agrees_with_lax(1, &tagged), "not IPv4");
    }
}
