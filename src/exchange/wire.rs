//! The bytes of the client's segments after the SYN.
//!
//! `model::craft` builds SYNs from attributes; a later segment carries a
//! payload, SACK blocks and per-segment values (IP ID, window, timestamps)
//! that are no attribute, so it is written here from a small typed header,
//! with the options through the one option writer ([`TcpOption::emit`]).

use std::net::{IpAddr, SocketAddr};

use etherparse::checksum::Sum16BitWords;

use crate::model::TcpOption;

/// The IP header fields of one segment, as the profile says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpStyle {
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// Don't fragment (IPv4 only).
    pub df: bool,
    pub dscp: u8,
    /// The ECN codepoint (0 not ECT, 2 ECT(0), 1 ECT(1)).
    pub ecn: u8,
    /// IPv4 identification.
    pub ip_id: u16,
    /// IPv6 flow label.
    pub flow_label: u32,
}

/// The TCP header fields of one segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpHeader<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    /// Flag bits (`TcpFlags::ACK | TcpFlags::PSH`, …).
    pub flags: u16,
    /// The window field as sent (already scaled down).
    pub window: u16,
    /// In order; padded with NOPs to a multiple of 4 bytes, cut at 40.
    pub options: Vec<TcpOption<'a>>,
}

/// The IP packet carrying one TCP segment; None when the addresses are
/// not of one IP version (the caller's mistake, never the peer's).
pub fn emit_segment(ip: &IpStyle, tcp: &TcpHeader<'_>, payload: &[u8]) -> Option<Vec<u8>> {
    let mut options = Vec::with_capacity(40);
    for o in &tcp.options {
        if options.len() + o.buffer_len() > 40 {
            break;
        }
        o.emit(&mut options);
    }
    while options.len() % 4 != 0 {
        options.push(1);
    }
    let tcp_len = 20 + options.len() + payload.len();
    let mut seg = Vec::with_capacity(tcp_len);
    seg.extend_from_slice(&tcp.src.port().to_be_bytes());
    seg.extend_from_slice(&tcp.dst.port().to_be_bytes());
    seg.extend_from_slice(&tcp.seq.to_be_bytes());
    seg.extend_from_slice(&tcp.ack.to_be_bytes());
    let offset_flags = (((20 + options.len()) / 4) as u16) << 12 | (tcp.flags & 0x1ff);
    seg.extend_from_slice(&offset_flags.to_be_bytes());
    seg.extend_from_slice(&tcp.window.to_be_bytes());
    seg.extend_from_slice(&[0, 0, 0, 0]); // checksum (below), urgent pointer
    seg.extend_from_slice(&options);
    seg.extend_from_slice(payload);
    let len = u16::try_from(tcp_len).ok()?;
    let (mut packet, pseudo) = match (tcp.src.ip(), tcp.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => (
            ipv4_header(ip, s.octets(), d.octets(), len)?,
            Sum16BitWords::new()
                .add_slice(&s.octets())
                .add_slice(&d.octets())
                .add_2bytes([0, 6])
                .add_2bytes(len.to_be_bytes()),
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => (
            ipv6_header(ip, s.octets(), d.octets(), len),
            Sum16BitWords::new()
                .add_slice(&s.octets())
                .add_slice(&d.octets())
                .add_slice(&u32::from(len).to_be_bytes())
                .add_slice(&[0, 0, 0, 6]),
        ),
        _ => return None,
    };
    let sum = pseudo.add_slice(&seg).ones_complement().to_ne_bytes();
    seg[16..18].copy_from_slice(&sum);
    packet.extend_from_slice(&seg);
    Some(packet)
}

fn ipv4_header(ip: &IpStyle, src: [u8; 4], dst: [u8; 4], tcp_len: u16) -> Option<Vec<u8>> {
    let total = tcp_len.checked_add(20)?;
    let mut h = Vec::with_capacity(20 + usize::from(tcp_len));
    h.push(0x45);
    h.push((ip.dscp & 0x3f) << 2 | (ip.ecn & 3));
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&ip.ip_id.to_be_bytes());
    h.extend_from_slice(&[if ip.df { 0x40 } else { 0 }, 0, ip.ttl, 6, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let sum = Sum16BitWords::new()
        .add_slice(&h)
        .ones_complement()
        .to_ne_bytes();
    h[10..12].copy_from_slice(&sum);
    Some(h)
}

fn ipv6_header(ip: &IpStyle, src: [u8; 16], dst: [u8; 16], tcp_len: u16) -> Vec<u8> {
    let tclass = u32::from((ip.dscp & 0x3f) << 2 | (ip.ecn & 3));
    let word = 6 << 28 | tclass << 20 | (ip.flow_label & 0xfffff);
    let mut h = Vec::with_capacity(40 + usize::from(tcp_len));
    h.extend_from_slice(&word.to_be_bytes());
    h.extend_from_slice(&tcp_len.to_be_bytes());
    h.extend_from_slice(&[6, ip.ttl]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{decode_frame, Decoded, Field, LinkType, TcpFlags, Value};

    fn style() -> IpStyle {
        IpStyle {
            ttl: 128,
            df: true,
            dscp: 0,
            ecn: 2,
            ip_id: 0x1234,
            flow_label: 7,
        }
    }

    fn header(src: &str, dst: &str) -> TcpHeader<'static> {
        TcpHeader {
            src: src.parse().unwrap_or_else(|e| panic!("{e}")),
            dst: dst.parse().unwrap_or_else(|e| panic!("{e}")),
            seq: 1000,
            ack: 2000,
            flags: TcpFlags::ACK | TcpFlags::PSH,
            window: 502,
            options: vec![
                TcpOption::Nop,
                TcpOption::Nop,
                TcpOption::Timestamp { tsval: 5, tsecr: 6 },
            ],
        }
    }

    /// What is written decodes to the same values, checksums included
    /// (the decoder's attributes say so), for both IP versions.
    #[test]
    fn emitted_segments_decode_to_what_was_asked() {
        for (src, dst) in [
            ("198.18.0.2:40000", "198.18.0.130:80"),
            ("[2001:2:0:1::2]:40000", "[2001:2:0:3::2]:80"),
        ] {
            let h = header(src, dst);
            let packet = emit_segment(&style(), &h, b"GET /").unwrap_or_default();
            let Decoded::Tcp(seg) = decode_frame(LinkType::Raw, &packet) else {
                panic!("not decoded: {packet:?}");
            };
            assert_eq!((seg.seq, seg.ack), (1000, 2000));
            assert_eq!(seg.payload(), b"GET /");
            assert_eq!(seg.window(), 502);
            assert_eq!(seg.flags.0, TcpFlags::ACK | TcpFlags::PSH);
            let a = seg.attributes();
            assert_eq!(
                a.get(Field::SynlabOptionsLayout),
                Some(&Value::from("nop,nop,ts"))
            );
            if h.src.is_ipv4() {
                assert_eq!(a.get(Field::IpTtl), Some(&Value::Int(128)));
                assert_eq!(a.get(Field::IpFlagsDf), Some(&Value::Bool(true)));
                assert_eq!(a.get(Field::IpDsfieldEcn), Some(&Value::Int(2)));
                assert_eq!(a.get(Field::IpId), Some(&Value::Int(0x1234)));
            } else {
                assert_eq!(a.get(Field::Ipv6Hlim), Some(&Value::Int(128)));
            }
        }
        let mixed = header("198.18.0.2:1", "[2001:2::1]:80");
        assert_eq!(emit_segment(&style(), &mixed, &[]), None);
    }

    /// Options that would pass 40 bytes are left out, whole.
    #[test]
    fn options_stop_at_forty_bytes() {
        let mut h = header("198.18.0.2:40000", "198.18.0.130:80");
        let blocks = [0u8; 32];
        h.options.push(TcpOption::Nop);
        h.options.push(TcpOption::Nop);
        h.options.push(TcpOption::Sack(blocks.as_slice().into()));
        let packet = emit_segment(&style(), &h, &[]).unwrap_or_default();
        assert_eq!(packet.len(), 20 + 20 + 12 + 4);
    }
}
