//! ICMP (RFC 792) and ICMPv6 (RFC 4443) errors, with the packet they
//! quote: how a router or firewall answers a SYN it will not pass.
//!
//! Both versions share the layout (type, code, checksum, four bytes that
//! depend on the type, then the quote), so one view reads both. RFC 4884
//! lets an error carry an extension structure after the quote; its length
//! field is read ([`Packet::original_len`]), and the quote is still read
//! from its start, which is all the decoder takes of it.

use std::net::{IpAddr, SocketAddr};

use super::checksum::{self, PseudoHeader};
use super::{ipv4, ipv6, need, tcp, Bits, Error};

/// The message's fields.
pub mod field {
    use super::Bits;

    pub const TYPE: Bits = Bits::new(0, 8);
    pub const CODE: Bits = Bits::new(8, 8);
    pub const CHECKSUM: Bits = Bits::new(16, 16);
    /// RFC 4884's length of the original datagram in an ICMPv4 error
    /// (32-bit words).
    pub const LENGTH_V4: Bits = Bits::new(40, 8);
    /// The same in an ICMPv6 error (64-bit words).
    pub const LENGTH_V6: Bits = Bits::new(32, 8);
    /// The quoted packet.
    pub const QUOTE: usize = 8;
}

/// Type, code, checksum and the four bytes before the quote.
pub const HEADER_LEN: usize = 8;
/// ICMP's and ICMPv6's IP protocol numbers.
pub const PROTOCOL_V4: u8 = 1;
pub const PROTOCOL_V6: u8 = 58;

/// The types that report an error about a packet (and so quote it):
/// v4 destination unreachable, time exceeded, parameter problem; v6
/// destination unreachable, packet too big, time exceeded, parameter
/// problem.
pub fn is_error(v6: bool, icmp_type: u8) -> bool {
    if v6 {
        (1..=4).contains(&icmp_type)
    } else {
        matches!(icmp_type, 3 | 11 | 12)
    }
}

/// A view over an ICMP or ICMPv6 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view over at least type and code: what tells an error from the
    /// rest. The quote may be cut or absent.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<(), Error> {
        need(self.buffer.as_ref(), 2)
    }

    fn get(&self, f: Bits) -> u64 {
        f.read(self.buffer.as_ref())
    }

    pub fn msg_type(&self) -> u8 {
        self.get(field::TYPE) as u8
    }
    pub fn code(&self) -> u8 {
        self.get(field::CODE) as u8
    }
    /// 0 when the capture cut it.
    pub fn checksum(&self) -> u16 {
        self.get(field::CHECKSUM) as u16
    }
    /// The quoted packet (absent when the message ends before it).
    pub fn quote(&self) -> Option<&[u8]> {
        self.buffer.as_ref().get(field::QUOTE..)
    }
    /// RFC 4884: the original datagram's length in bytes when the error
    /// says an extension structure follows it (0 in the length field: it
    /// does not say, as before RFC 4884).
    pub fn original_len(&self, v6: bool) -> Option<usize> {
        let (f, unit) = if v6 {
            (field::LENGTH_V6, 8)
        } else {
            (field::LENGTH_V4, 4)
        };
        let words = self.buffer.as_ref().get(f.bytes())?.first().copied()?;
        (words != 0).then_some(usize::from(words) * unit)
    }
}

/// The part of a TCP header an ICMP error quotes: RFC 792 asks for the IP
/// header and the first 8 bytes of the datagram, which hold the ports and
/// the sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedTcp {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
}

/// Bytes of the TCP header a quote must hold.
pub const QUOTED_TCP_LEN: usize = 8;

impl QuotedTcp {
    /// The quoted IPv4 or IPv6 header and the TCP bytes after it; `None`
    /// when the quote is not TCP or is cut before the sequence number.
    pub fn parse(quote: &[u8]) -> Option<QuotedTcp> {
        let (src, dst, rest): (IpAddr, IpAddr, &[u8]) = match quote.first()? >> 4 {
            4 => {
                let h = ipv4::Packet::new_checked(quote).ok()?;
                if h.protocol() != tcp::PROTOCOL {
                    return None;
                }
                let rest = quote.get(h.header_len()..)?;
                (h.src_addr().into(), h.dst_addr().into(), rest)
            }
            6 => {
                let h = ipv6::Packet::new_checked(quote).ok()?;
                if h.next_header() != tcp::PROTOCOL {
                    return None;
                }
                (
                    h.src_addr().into(),
                    h.dst_addr().into(),
                    quote.get(ipv6::HEADER_LEN..)?,
                )
            }
            _ => return None,
        };
        let t = tcp::Packet::new_unchecked(rest.get(..QUOTED_TCP_LEN)?);
        Some(QuotedTcp {
            src: SocketAddr::new(src, t.src_port()),
            dst: SocketAddr::new(dst, t.dst_port()),
            seq: t.seq_number(),
        })
    }
}

/// An ICMP or ICMPv6 message as meaning (the version is the pseudo
/// header's when emitting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    pub msg_type: u8,
    pub code: u8,
    /// The four bytes after the checksum (unused, a pointer, an MTU, RFC
    /// 4884's length).
    pub rest: [u8; 4],
    pub quote: &'a [u8],
}

impl<'a> Repr<'a> {
    /// A message whose header is whole (`None` when cut inside it).
    pub fn parse<T: AsRef<[u8]>>(packet: &'a Packet<T>) -> Option<Repr<'a>> {
        let b = packet.buffer.as_ref();
        let rest = b.get(4..HEADER_LEN)?;
        Some(Repr {
            msg_type: packet.msg_type(),
            code: packet.code(),
            rest: [rest[0], rest[1], rest[2], rest[3]],
            quote: packet.quote().unwrap_or_default(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.quote.len()
    }

    /// Append the message; ICMPv4's checksum covers the message alone,
    /// ICMPv6's the IPv6 pseudo-header too.
    pub fn emit(&self, pseudo: &PseudoHeader, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[self.msg_type, self.code, 0, 0]);
        out.extend_from_slice(&self.rest);
        out.extend_from_slice(self.quote);
        let msg = &out[start..];
        let sum = match pseudo {
            PseudoHeader::V4 { .. } => checksum::of(msg),
            PseudoHeader::V6 { .. } => pseudo.checksum(PROTOCOL_V6, msg),
        };
        out[start..][field::CHECKSUM.bytes()].copy_from_slice(&sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Destination unreachable, administratively prohibited (3/13), from
    /// 198.18.0.1, quoting a SYN's IPv4 header and first 8 TCP bytes.
    static MESSAGE_BYTES: [u8; 36] = [
        0x03, 0x0d, 0xfc, 0xd1, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x12, 0x34, 0x40,
        0x00, 0x40, 0x06, 0x00, 0x00, 0xc6, 0x12, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x01, 0x9c, 0x40,
        0x00, 0x50, 0x00, 0x00, 0x00, 0x01,
    ];

    fn pseudo() -> PseudoHeader {
        PseudoHeader::V4 {
            src: [198, 18, 0, 1].into(),
            dst: [198, 18, 0, 2].into(),
        }
    }

    fn repr() -> Repr<'static> {
        Repr {
            msg_type: 3,
            code: 13,
            rest: [0; 4],
            quote: &MESSAGE_BYTES[8..],
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&MESSAGE_BYTES[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.msg_type(), p.code(), p.checksum()), (3, 13, 0xfcd1));
        assert!(is_error(false, p.msg_type()));
        assert_eq!(p.original_len(false), None);
        let quoted = p.quote().and_then(QuotedTcp::parse);
        let quoted = quoted.unwrap_or_else(|| panic!("no quote"));
        assert_eq!(quoted.src.to_string(), "198.18.0.2:40000");
        assert_eq!(quoted.dst.to_string(), "198.18.0.1:80");
        assert_eq!(quoted.seq, 1);
    }

    #[test]
    fn test_construct() {
        let mut out = Vec::new();
        repr().emit(&pseudo(), &mut out);
        assert_eq!(out, MESSAGE_BYTES);
        assert_eq!(out.len(), repr().buffer_len());
    }

    #[test]
    fn test_parse() {
        let p = Packet::new_checked(&MESSAGE_BYTES[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Repr::parse(&p), Some(repr()));
    }

    #[test]
    fn test_emit_v6_and_rfc4884_length() {
        let quote = [0u8; 48];
        let r = Repr {
            msg_type: 1,
            code: 1,
            rest: [6, 0, 0, 0],
            quote: &quote,
        };
        let v6 = PseudoHeader::V6 {
            src: [0xfd00, 0, 0, 0, 0, 0, 0, 1].into(),
            dst: [0xfd00, 0, 0, 0, 0, 0, 0, 2].into(),
        };
        let mut out = Vec::new();
        r.emit(&v6, &mut out);
        assert_eq!(v6.checksum(PROTOCOL_V6, &out), [0, 0]);
        let p = Packet::new_checked(&out[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.original_len(true), Some(48));
        assert_eq!(p.quote().and_then(QuotedTcp::parse), None, "not IPv6");
    }

    #[test]
    fn cut_quotes_are_none_never_a_panic() {
        for cut in 0..MESSAGE_BYTES.len() {
            let p = Packet::new_unchecked(&MESSAGE_BYTES[..cut]);
            let q = p.quote().and_then(QuotedTcp::parse);
            assert_eq!(q.is_some(), cut == MESSAGE_BYTES.len(), "cut {cut}");
            assert_eq!(Packet::new_checked(&MESSAGE_BYTES[..cut]).is_ok(), cut >= 2);
        }
    }
}
