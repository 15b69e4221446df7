//! From a captured frame's bytes to a TCP segment (or an ICMP error quoting
//! one): the link layer, VLAN tags and IP by etherparse's lax slicer, which
//! parses a snaplen-cut packet as far as it goes; TCP by hand, because the
//! options area must be walked byte by byte to keep its order and padding.

use std::net::{IpAddr, SocketAddr};

use etherparse::{
    EtherType, IpNumber, Ipv4Header, Ipv4HeaderSlice, Ipv6ExtensionSlice, Ipv6HeaderSlice,
    LaxIpPayloadSlice, LaxNetSlice, LaxSlicedPacket,
};
use thiserror::Error;

use super::attributes::Attributes;
use super::options::{parse_options, Layout, OptionKind, OptionsParse, TcpOption};
use super::p0f;
use super::vocab::{Attr, Field};

/// Link-layer header types this crate reads (tcpdump.org LINKTYPE_ numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    Null,
    Ethernet,
    /// Raw IPv4 or IPv6, version from the first nibble.
    Raw,
    /// OpenBSD loopback: 4-byte address family, network byte order.
    Loop,
    LinuxSll,
    LinuxSll2,
    Ipv4,
    Ipv6,
}

impl LinkType {
    /// The link type for a LINKTYPE_ number, if synlab reads it.
    pub fn from_linktype(n: u32) -> Option<LinkType> {
        Some(match n {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            _ => return None,
        })
    }
}

/// A frame synlab cannot use at all (the rest are `Decoded::Skipped`).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error(
        "unsupported link type {0} (synlab reads Ethernet, Linux SLL/SLL2, raw IP, BSD loopback)"
    )]
    UnsupportedLinkType(u32),
}

/// TCP header flags, the 12 bits after the data offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const AE: u16 = 0x100;
    pub const RESERVED: u16 = 0xe00;

    /// Each flag attribute and its bits: the one map between the two, for
    /// decoding and crafting. `tcp.flags.res` is true when any reserved bit
    /// is set; crafting sets the lowest.
    pub const FIELDS: [(Field, u16); 10] = [
        (Field::TcpFlagsRes, Self::RESERVED),
        (Field::TcpFlagsAe, Self::AE),
        (Field::TcpFlagsCwr, Self::CWR),
        (Field::TcpFlagsEce, Self::ECE),
        (Field::TcpFlagsUrg, Self::URG),
        (Field::TcpFlagsAck, Self::ACK),
        (Field::TcpFlagsPush, Self::PSH),
        (Field::TcpFlagsReset, Self::RST),
        (Field::TcpFlagsSyn, Self::SYN),
        (Field::TcpFlagsFin, Self::FIN),
    ];

    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
    /// A connection-opening SYN (no ACK).
    pub fn is_syn(self) -> bool {
        self.has(Self::SYN) && !self.has(Self::ACK)
    }
    pub fn is_syn_ack(self) -> bool {
        self.has(Self::SYN) && self.has(Self::ACK)
    }
}

/// The IP layer of a segment, kept as checked header views so attributes can
/// be computed only for the packets that need them (SYNs and their answers).
#[derive(Clone, Debug)]
enum IpLayer<'a> {
    /// An owned copy (the lax slicer lends its IPv4 view only briefly); the
    /// reserved flag, which the owned header drops, is kept beside it.
    V4 { header: Box<Ipv4Header>, rb: bool },
    V6 {
        header: Ipv6HeaderSlice<'a>,
        exts: Vec<&'static str>,
    },
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
    tcp: &'a [u8],
}

/// The part of a TCP header an ICMP error quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedTcp {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
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
    Skipped(&'static str),
}

/// Decode one captured frame of the given LINKTYPE_.
pub fn decode_frame(linktype: u32, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let link =
        LinkType::from_linktype(linktype).ok_or(DecodeError::UnsupportedLinkType(linktype))?;
    let sliced = match link {
        LinkType::Ethernet => LaxSlicedPacket::from_ethernet(data).ok(),
        LinkType::LinuxSll => ether_typed(data, 16, 14),
        LinkType::LinuxSll2 => ether_typed(data, 20, 0),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => LaxSlicedPacket::from_ip(data).ok(),
        LinkType::Null => loopback(data, u32::from_ne_bytes),
        LinkType::Loop => loopback(data, u32::from_be_bytes),
    };
    let Some(sliced) = sliced else {
        return Ok(Decoded::Skipped(
            "frame too short for its link-layer header",
        ));
    };
    Ok(from_net(sliced.net))
}

/// Linux cooked headers: a fixed header with the EtherType at `proto_at`.
fn ether_typed(data: &[u8], header_len: usize, proto_at: usize) -> Option<LaxSlicedPacket<'_>> {
    let proto = data.get(proto_at..proto_at + 2)?;
    let rest = data.get(header_len..)?;
    Some(LaxSlicedPacket::from_ether_type(
        EtherType(u16::from_be_bytes([proto[0], proto[1]])),
        rest,
    ))
}

/// BSD loopback: the address family in a 4-byte header (2 is IPv4; 24, 28
/// and 30 are IPv6 on the BSDs and macOS). The byte order is the capturing
/// host's, so both orders are tried.
fn loopback(data: &[u8], order: fn([u8; 4]) -> u32) -> Option<LaxSlicedPacket<'_>> {
    let family: [u8; 4] = data.get(..4)?.try_into().ok()?;
    let known = |f: u32| matches!(f, 2 | 24 | 28 | 30);
    let ok = known(order(family))
        || known(u32::from_le_bytes(family))
        || known(u32::from_be_bytes(family));
    if !ok {
        return None;
    }
    LaxSlicedPacket::from_ip(&data[4..]).ok()
}

fn from_net(net: Option<LaxNetSlice<'_>>) -> Decoded<'_> {
    let (ip, payload) = match net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let ip = IpLayer::V4 {
                header: Box::new(h.to_header()),
                rb: h.slice()[6] & 0x80 != 0,
            };
            (ip, v4.payload().clone())
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let exts = v6.extensions().clone().into_iter().map(ext_name).collect();
            (
                IpLayer::V6 {
                    header: v6.header(),
                    exts,
                },
                v6.payload().clone(),
            )
        }
        _ => return Decoded::Skipped("not IP"),
    };
    if payload.fragmented && !first_fragment(&ip) {
        return Decoded::Skipped("non-first IP fragment");
    }
    match payload.ip_number {
        IpNumber::TCP => tcp_segment(ip, &payload),
        IpNumber::ICMP | IpNumber::IPV6_ICMP => icmp_error(&ip, payload.payload),
        _ => Decoded::Skipped("not TCP"),
    }
}

fn first_fragment(ip: &IpLayer<'_>) -> bool {
    match ip {
        IpLayer::V4 { header, .. } => header.fragment_offset.value() == 0,
        IpLayer::V6 { .. } => false,
    }
}

fn ext_name(ext: Ipv6ExtensionSlice<'_>) -> &'static str {
    match ext {
        Ipv6ExtensionSlice::HopByHop(_) => "hop",
        Ipv6ExtensionSlice::Routing(_) => "route",
        Ipv6ExtensionSlice::Fragment(_) => "frag",
        Ipv6ExtensionSlice::DestinationOptions(_) => "dest",
        Ipv6ExtensionSlice::Authentication(_) => "auth",
    }
}

fn addrs(ip: &IpLayer<'_>) -> (IpAddr, IpAddr) {
    match ip {
        IpLayer::V4 { header, .. } => (header.source.into(), header.destination.into()),
        IpLayer::V6 { header, .. } => (
            header.source_addr().into(),
            header.destination_addr().into(),
        ),
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn tcp_segment<'a>(ip: IpLayer<'a>, payload: &LaxIpPayloadSlice<'a>) -> Decoded<'a> {
    let tcp = payload.payload;
    if tcp.len() < 20 {
        return Decoded::Skipped("TCP header cut short by the capture");
    }
    let hdr_len = usize::from(tcp[12] >> 4) * 4;
    if hdr_len < 20 {
        return Decoded::Skipped("TCP data offset below 5");
    }
    let declared = declared_ip_payload(&ip, payload);
    let (src_ip, dst_ip) = addrs(&ip);
    let seg = Segment {
        src: SocketAddr::new(src_ip, be16(tcp, 0)),
        dst: SocketAddr::new(dst_ip, be16(tcp, 2)),
        seq: be32(tcp, 4),
        ack: be32(tcp, 8),
        flags: TcpFlags(be16(tcp, 12) & 0x0fff),
        payload_len: u32::try_from(declared.saturating_sub(hdr_len)).unwrap_or(u32::MAX),
        truncated: payload.incomplete || tcp.len() < hdr_len,
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
        IpLayer::V4 { header, .. } => {
            usize::from(header.total_len).saturating_sub(header.header_len())
        }
        IpLayer::V6 { header, .. } => usize::from(header.payload_length()),
    }
}

/// An ICMP error (v4: unreachable, time exceeded, parameter problem; v6:
/// unreachable, too big, time exceeded, parameter problem) quoting TCP.
fn icmp_error<'a>(ip: &IpLayer<'a>, icmp: &'a [u8]) -> Decoded<'a> {
    let v6 = matches!(ip, IpLayer::V6 { .. });
    let Some(&[icmp_type, code]) = icmp.get(..2) else {
        return Decoded::Skipped("ICMP header cut short");
    };
    let is_error = if v6 {
        (1..=4).contains(&icmp_type)
    } else {
        matches!(icmp_type, 3 | 11 | 12)
    };
    if !is_error {
        return Decoded::Skipped("ICMP, not an error");
    }
    let Some(quoted) = icmp.get(8..).and_then(quoted_tcp) else {
        return Decoded::Skipped("ICMP error not quoting TCP");
    };
    Decoded::Icmp(IcmpError {
        from: addrs(ip).0,
        v6,
        icmp_type,
        code,
        quoted,
    })
}

/// The IP header and first 8 TCP bytes an ICMP error carries.
fn quoted_tcp(inner: &[u8]) -> Option<QuotedTcp> {
    let (src, dst, tcp) = match inner.first()? >> 4 {
        4 => {
            let h = Ipv4HeaderSlice::from_slice(inner).ok()?;
            if h.protocol() != IpNumber::TCP {
                return None;
            }
            let tcp = inner.get(h.slice().len()..)?;
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                tcp,
            )
        }
        6 => {
            let h = Ipv6HeaderSlice::from_slice(inner).ok()?;
            if h.next_header() != IpNumber::TCP {
                return None;
            }
            (
                h.source_addr().into(),
                h.destination_addr().into(),
                inner.get(40..)?,
            )
        }
        _ => return None,
    };
    let tcp = tcp.get(..8)?;
    Some(QuotedTcp {
        src: SocketAddr::new(src, be16(tcp, 0)),
        dst: SocketAddr::new(dst, be16(tcp, 2)),
        seq: be32(tcp, 4),
    })
}

impl Segment<'_> {
    /// The IPv4 identification field (IPv6 has none outside fragments).
    pub fn ip_id(&self) -> Option<u16> {
        match &self.ip {
            IpLayer::V4 { header, .. } => Some(header.identification),
            IpLayer::V6 { .. } => None,
        }
    }

    /// The TCP header's length in bytes, from the data offset.
    pub fn tcp_hdr_len(&self) -> usize {
        usize::from(self.tcp[12] >> 4) * 4
    }

    /// The options area as parsed (as far as the capture holds it).
    pub fn options(&self) -> OptionsParse<'_> {
        let hdr_len = self.tcp_hdr_len();
        let captured = &self.tcp[20..self.tcp.len().min(hdr_len)];
        parse_options(captured, hdr_len - 20)
    }

    /// Every attribute of this segment, named as in the catalogue.
    pub fn attributes(&self) -> Attributes {
        let mut a = Attributes::new();
        self.ip_attributes(&mut a);
        let opts = self.options();
        self.tcp_attributes(&mut a, &opts);
        let layout = Layout::of(&opts.options);
        let mut kinds = layout.kind_numbers();
        if let Some(cut) = opts.cut_kind {
            // Cut by the capture: not in the layout, but seen (as tshark says).
            if let Some(present) = OptionKind::from_number(cut).presence() {
                a.insert(present, true);
            }
            kinds = if kinds.is_empty() {
                cut.to_string()
            } else {
                format!("{kinds},{cut}")
            };
        }
        if !kinds.is_empty() {
            a.insert(Field::TcpOptionKind, kinds);
        }
        a.insert(Field::SynlabOptionsLayout, layout.to_string());
        let quirks = p0f::quirks(&a, &opts);
        a.insert(Field::SynlabQuirks, quirks.join(","));
        if let Some(ittl) = p0f::initial_ttl(&a) {
            a.insert(Field::SynlabIttl, ittl);
        }
        if let Some(sig) = p0f::signature(&a) {
            a.insert(Field::SynlabP0f, sig);
        }
        if self.truncated || opts.truncated {
            a.insert(Field::SynlabTruncated, true);
        }
        a
    }

    fn ip_attributes(&self, a: &mut Attributes) {
        match &self.ip {
            IpLayer::V4 { header: h, rb } => {
                a.insert(Field::IpVersion, 4u8);
                a.insert(Field::IpHdrLen, h.header_len() as u64);
                a.insert(Field::IpDsfieldDscp, h.dscp.value());
                a.insert(Field::IpDsfieldEcn, h.ecn.value());
                a.insert(Field::IpLen, h.total_len);
                a.insert(Field::IpId, h.identification);
                a.insert(Field::IpFlagsRb, *rb);
                a.insert(Field::IpFlagsDf, h.dont_fragment);
                a.insert(Field::IpFlagsMf, h.more_fragments);
                a.insert(Field::IpFragOffset, h.fragment_offset.value());
                a.insert(Field::IpTtl, h.time_to_live);
                a.insert(Field::IpProto, h.protocol.0);
                a.insert(Field::IpChecksum, h.header_checksum);
                a.insert(Field::IpSrc, std::net::Ipv4Addr::from(h.source).to_string());
                a.insert(
                    Field::IpDst,
                    std::net::Ipv4Addr::from(h.destination).to_string(),
                );
                if !h.options.is_empty() {
                    a.insert(Field::SynlabIpOptions, hex(h.options.as_slice()));
                }
            }
            IpLayer::V6 { header: h, exts } => {
                a.insert(Field::Ipv6Version, h.version());
                a.insert(Field::Ipv6TclassDscp, h.dscp().value());
                a.insert(Field::Ipv6TclassEcn, h.ecn().value());
                a.insert(Field::Ipv6Flow, h.flow_label().value());
                a.insert(Field::Ipv6Plen, h.payload_length());
                a.insert(Field::Ipv6Nxt, h.next_header().0);
                a.insert(Field::Ipv6Hlim, h.hop_limit());
                a.insert(Field::Ipv6Src, h.source_addr().to_string());
                a.insert(Field::Ipv6Dst, h.destination_addr().to_string());
                if !exts.is_empty() {
                    a.insert(Field::SynlabIpv6Ext, exts.join(","));
                }
            }
        }
    }

    fn tcp_attributes(&self, a: &mut Attributes, opts: &OptionsParse<'_>) {
        let t = self.tcp;
        let f = self.flags;
        a.insert(Field::TcpSrcport, self.src.port());
        a.insert(Field::TcpDstport, self.dst.port());
        a.insert(Field::TcpSeqRaw, self.seq);
        a.insert(Field::TcpAckRaw, self.ack);
        a.insert(Field::TcpHdrLen, self.tcp_hdr_len() as u64);
        for (field, bits) in TcpFlags::FIELDS {
            a.insert(field, f.has(bits));
        }
        a.insert(Field::TcpWindowSizeValue, be16(t, 14));
        a.insert(Field::TcpChecksum, be16(t, 16));
        a.insert(Field::TcpUrgentPointer, be16(t, 18));
        for opt in &opts.options {
            option_attributes(a, opt);
        }
        a.insert(Field::TcpLen, self.payload_len);
    }
}

/// The option's presence (`tcp.options.mss` …, true when present) and values.
fn option_attributes(a: &mut Attributes, opt: &TcpOption<'_>) {
    if let Some(present) = opt.token().kind().presence() {
        a.insert(present, true);
    }
    match *opt {
        TcpOption::Mss(v) => a.insert(Field::TcpOptionsMssVal, v),
        TcpOption::WindowScale(v) => a.insert(Field::TcpOptionsWscaleShift, v),
        TcpOption::SackPermitted => a.insert(Field::TcpOptionsSackPerm, true),
        TcpOption::Timestamp { tsval, tsecr } => {
            a.insert(Field::TcpOptionsTimestampTsval, tsval);
            a.insert(Field::TcpOptionsTimestampTsecr, tsecr);
        }
        TcpOption::Other { kind, ref data } => {
            a.insert(Attr::UnknownOption(kind), hex(data));
        }
        TcpOption::Eol { .. } | TcpOption::Nop | TcpOption::Sack(_) => {}
    }
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

    #[test]
    fn qinq_vlan_tags_are_skipped() {
        let frame = ethernet(&[[0x88, 0xa8, 0, 10], [0x81, 0x00, 0, 100]], &ipv4_syn());
        let seg = segment(decode_frame(1, &frame).unwrap_or_else(|e| panic!("{e}")));
        assert!(seg.flags.is_syn());
        assert_eq!(seg.src.to_string(), "198.18.0.2:40000");
        let a = seg.attributes();
        assert_eq!(a.get(Field::TcpOptionsMssVal), Some(&1460u16.into()));
        assert_eq!(a.get(Field::SynlabOptionsLayout), Some(&"mss".into()));
    }

    #[test]
    fn linux_cooked_and_loopback_headers() {
        let ip = ipv4_syn();
        let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(&ip);
        assert!(
            segment(decode_frame(113, &sll).unwrap_or_else(|e| panic!("{e}")))
                .flags
                .is_syn()
        );
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
        ];
        sll2.extend_from_slice(&ip);
        assert!(
            segment(decode_frame(276, &sll2).unwrap_or_else(|e| panic!("{e}")))
                .flags
                .is_syn()
        );
        for family in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
            let mut null = family.to_vec();
            null.extend_from_slice(&ip);
            assert!(
                segment(decode_frame(0, &null).unwrap_or_else(|e| panic!("{e}")))
                    .flags
                    .is_syn()
            );
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
        match decode_frame(101, &icmp) {
            Ok(Decoded::Icmp(e)) => {
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
            let d = decode_frame(101, &ip[..cut]).unwrap_or_else(|e| panic!("{e}"));
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
        let seg = segment(decode_frame(101, &p).unwrap_or_else(|e| panic!("{e}")));
        assert!(seg.flags.is_syn());
        assert_eq!(seg.src.to_string(), "[fd00::2]:40000");
        let a = seg.attributes();
        assert_eq!(a.get(Field::SynlabIpv6Ext), Some(&"hop".into()));
        assert_eq!(a.get(Field::Ipv6Nxt), Some(&0u8.into()));
        assert_eq!(a.get(Field::Ipv6Hlim), Some(&64u8.into()));
        assert_eq!(a.get(Field::TcpOptionsMssVal), Some(&1460u16.into()));
        assert!(a.get(Field::IpTtl).is_none());
    }

    #[test]
    fn unknown_link_type_is_an_error() {
        assert_eq!(
            decode_frame(147, &[]).err(),
            Some(DecodeError::UnsupportedLinkType(147))
        );
    }
}
