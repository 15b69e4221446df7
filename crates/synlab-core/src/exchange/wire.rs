//! The bytes of the client's segments after the SYN.
//!
//! `model::craft` builds SYNs from attributes; a later segment carries a
//! payload, SACK blocks and per-segment values (IP ID, window, timestamps)
//! that are no attribute, so it is described here by a small typed header
//! and written by the [`wire`](crate::wire) module's `Repr`s, the options
//! through the one option writer ([`TcpOption::emit`]).

use std::net::SocketAddr;

use crate::model::TcpOption;
use crate::wire::checksum::PseudoHeader;
use crate::wire::{ipv4, ipv6, tcp};

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
/// not of one IP version (the caller's mistake, never the peer's) or the
/// packet would pass 65,535 bytes.
pub fn emit_segment(ip: &IpStyle, tcp: &TcpHeader<'_>, payload: &[u8]) -> Option<Vec<u8>> {
    let mut options = Vec::with_capacity(tcp::MAX_OPTIONS_LEN);
    for o in &tcp.options {
        if options.len() + o.buffer_len() > tcp::MAX_OPTIONS_LEN {
            break;
        }
        o.emit(&mut options);
    }
    let segment = tcp::Repr {
        src_port: tcp.src.port(),
        dst_port: tcp.dst.port(),
        seq: tcp.seq,
        ack: tcp.ack,
        // The nine flags RFC 9293 names: the reserved bits are never sent.
        flags: tcp.flags & 0x1ff,
        window: tcp.window,
        urgent: 0,
        options: &options,
        payload,
    };
    let pseudo = PseudoHeader::new(tcp.src.ip(), tcp.dst.ip())?;
    let tcp_len = segment.buffer_len();
    let mut packet = Vec::with_capacity(ipv6::HEADER_LEN + tcp_len);
    match pseudo {
        PseudoHeader::V4 { src, dst } => {
            u16::try_from(ipv4::HEADER_LEN + tcp_len).ok()?;
            ipv4::Repr {
                src,
                dst,
                dscp: ip.dscp,
                ecn: ip.ecn,
                ident: ip.ip_id,
                rb: false,
                df: ip.df,
                ttl: ip.ttl,
                protocol: tcp::PROTOCOL,
                options: &[],
                payload_len: tcp_len,
            }
            .emit(&mut packet);
        }
        PseudoHeader::V6 { src, dst } => {
            u16::try_from(tcp_len).ok()?;
            ipv6::Repr {
                src,
                dst,
                dscp: ip.dscp,
                ecn: ip.ecn,
                flow_label: ip.flow_label,
                next_header: tcp::PROTOCOL,
                hop_limit: ip.ttl,
                payload_len: tcp_len,
            }
            .emit(&mut packet);
        }
    }
    segment.emit(&pseudo, &mut packet);
    Some(packet)
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
