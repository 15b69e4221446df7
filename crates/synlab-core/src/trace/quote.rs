//! What an ICMP error's quote says about the packet a router received,
//! field by field, against what was sent.
//!
//! A router whose TTL expires quotes the packet as it arrived there (RFC
//! 792 asks for the IP header and 8 bytes; RFC 1812 routers and Linux quote
//! as much as fits), so a field that differs between the SYN sent and the
//! quote was rewritten on the way. The quote is read through the same
//! attribute model as every SYN; fields a cut quote does not hold are
//! named, not guessed.

use std::net::IpAddr;

use serde::Serialize;

use crate::model::{decode_frame, Attr, Attributes, Decoded, Family, Field, LinkType, Value};
use crate::wire::{icmp, ipv4, ipv6};

/// A quote read as attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct Quote {
    pub attrs: Attributes,
    /// Bytes quoted (RFC 4884's length when the error gives one).
    pub bytes: usize,
    /// The quote ends inside the TCP header: only the IP header, the ports
    /// and the sequence number were read.
    pub cut: bool,
}

/// The bytes after a cut quote's 8 TCP bytes, so that the model reads the
/// IP header: data offset 5, SYN. None of these fields is kept.
const TCP_PAD: [u8; 12] = [0, 0, 0, 0, 0x50, 0x02, 0, 0, 0, 0, 0, 0];

/// The fields of a cut quote that the quote itself holds (the IP header
/// and RFC 792's 8 TCP bytes).
fn in_first_eight(attr: Attr) -> bool {
    matches!(attr.family(), Family::V4 | Family::V6)
        || matches!(
            attr,
            Attr::Field(Field::TcpSrcport | Field::TcpDstport | Field::TcpSeqRaw)
        )
}

/// Read a quote (an IPv4 or IPv6 packet, maybe cut); `None` when it is not
/// TCP or is cut before the sequence number.
pub fn read_quote(quote: &[u8], rfc4884_len: Option<usize>) -> Option<Quote> {
    let bytes = rfc4884_len.map_or(quote.len(), |n| n.min(quote.len()));
    let quote = quote.get(..bytes)?;
    if let Decoded::Tcp(seg) = decode_frame(LinkType::Raw, quote) {
        let mut attrs = seg.attributes();
        let cut = seg.truncated;
        attrs.retain(|a, _| a != Attr::Field(Field::SynlabTruncated));
        return Some(Quote { attrs, bytes, cut });
    }
    let ip_len = match quote.first()? >> 4 {
        4 => ipv4::Packet::new_checked(quote).ok()?.header_len(),
        6 => ipv6::HEADER_LEN,
        _ => return None,
    };
    let mut padded = quote.get(..ip_len + icmp::QUOTED_TCP_LEN)?.to_vec();
    padded.extend_from_slice(&TCP_PAD);
    let Decoded::Tcp(seg) = decode_frame(LinkType::Raw, &padded) else {
        return None;
    };
    let mut attrs = seg.attributes();
    attrs.retain(|a, _| in_first_eight(a));
    Some(Quote {
        attrs,
        bytes,
        cut: true,
    })
}

/// One field that differs between the SYN sent and what a hop saw.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    pub name: String,
    /// `null` when the SYN did not have it (a box added it).
    pub sent: Option<Value>,
    /// `null` when the quote does not have it (a box removed it).
    pub seen: Option<Value>,
}

/// How the quote differs from the SYN sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuoteDiff {
    pub changed: Vec<FieldChange>,
    /// Fields of the SYN the quote did not include (it was cut).
    pub not_quoted: Vec<String>,
}

/// Fields every hop changes, or that follow from others: not a rewrite.
/// The TTL (hop limit) is decremented on the way, the checksums follow the
/// bytes, and the derived summaries (`synlab.options.layout`, quirks, p0f)
/// follow from the rest. IP options, extension headers and unknown TCP
/// options are the sender's: a box that strips them is named.
fn expected_to_differ(attr: Attr, sent: &Attributes) -> bool {
    if attr.source() == crate::model::Source::Derived {
        return true;
    }
    // A SYN sent with IP ID 0 and no DF gets its ID from the kernel.
    let kernel_id = sent.num(Field::IpId) == Some(0) && !sent.flag(Field::IpFlagsDf);
    matches!(
        attr,
        Attr::Field(Field::IpTtl | Field::Ipv6Hlim | Field::IpChecksum | Field::TcpChecksum)
    ) || (attr == Attr::Field(Field::IpId) && kernel_id)
}

/// Compare the SYN as sent with a quote of it, field by field.
pub fn diff_quote(sent: &Attributes, quote: &Quote) -> QuoteDiff {
    let mut d = QuoteDiff::default();
    for (attr, value) in sent.iter() {
        let name = attr.name();
        if expected_to_differ(attr, sent) {
            continue;
        }
        match quote.attrs.get(attr) {
            Some(seen) if seen == value => {}
            Some(seen) => d.changed.push(FieldChange {
                name: name.to_owned(),
                sent: Some(value.clone()),
                seen: Some(seen.clone()),
            }),
            None if quote.cut => d.not_quoted.push(name.to_owned()),
            None => d.changed.push(FieldChange {
                name: name.to_owned(),
                sent: Some(value.clone()),
                seen: None,
            }),
        }
    }
    for (attr, value) in quote.attrs.iter() {
        let name = attr.name();
        if !sent.contains(attr) && !expected_to_differ(attr, sent) {
            d.changed.push(FieldChange {
                name: name.to_owned(),
                sent: None,
                seen: Some(value.clone()),
            });
        }
    }
    d
}

/// An ICMP or ICMPv6 error as received, with what the trace needs of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpFrame {
    pub from: IpAddr,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// The error's own TTL (hop limit) on arrival.
    pub ttl: u8,
    pub quote: Vec<u8>,
    /// RFC 4884's length of the quoted datagram, when given.
    pub original_len: Option<usize>,
}

const ETHERNET_LEN: usize = 14;

/// The ICMP error an Ethernet frame carries (`None` for anything else).
pub fn icmp_of_ethernet(frame: &[u8]) -> Option<IcmpFrame> {
    let ether_type = frame.get(12..14)?;
    let ip = frame.get(ETHERNET_LEN..)?;
    match ether_type {
        [0x08, 0x00] => icmp_of_ipv4(ip),
        [0x86, 0xdd] => icmp_of_ipv6(ip),
        _ => None,
    }
}

/// The ICMP error a raw IP packet (no link header) carries.
pub fn icmp_of_ip(ip: &[u8]) -> Option<IcmpFrame> {
    match ip.first()? >> 4 {
        4 => icmp_of_ipv4(ip),
        6 => icmp_of_ipv6(ip),
        _ => None,
    }
}

fn icmp_of_ipv4(ip: &[u8]) -> Option<IcmpFrame> {
    let h = ipv4::Packet::new_checked(ip).ok()?;
    if h.protocol() != icmp::PROTOCOL_V4 {
        return None;
    }
    let end = usize::from(h.total_len()).clamp(h.header_len(), ip.len());
    icmp_frame(
        h.src_addr().into(),
        false,
        h.ttl(),
        ip.get(h.header_len()..end)?,
    )
}

fn icmp_of_ipv6(ip: &[u8]) -> Option<IcmpFrame> {
    let h = ipv6::Packet::new_checked(ip).ok()?;
    if h.next_header() != icmp::PROTOCOL_V6 {
        return None;
    }
    let end = (ipv6::HEADER_LEN + usize::from(h.payload_len())).min(ip.len());
    icmp_frame(
        h.src_addr().into(),
        true,
        h.hop_limit(),
        ip.get(ipv6::HEADER_LEN..end)?,
    )
}

fn icmp_frame(from: IpAddr, v6: bool, ttl: u8, msg: &[u8]) -> Option<IcmpFrame> {
    let p = icmp::Packet::new_checked(msg).ok()?;
    if !icmp::is_error(v6, p.msg_type()) {
        return None;
    }
    Some(IcmpFrame {
        from,
        v6,
        icmp_type: p.msg_type(),
        code: p.code(),
        ttl,
        quote: p.quote()?.to_vec(),
        original_len: p.original_len(v6),
    })
}
