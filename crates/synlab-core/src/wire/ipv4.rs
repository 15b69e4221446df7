//! IPv4 (RFC 791): the header view, and its `Repr` for the packets synlab
//! writes.

use std::fmt;
use std::net::Ipv4Addr;

use super::{checksum, need, Bits, Error};

/// The header's fields, as RFC 791 draws them.
pub mod field {
    use super::Bits;

    pub const VERSION: Bits = Bits::new(0, 4);
    /// The header length in 32-bit words.
    pub const IHL: Bits = Bits::new(4, 4);
    pub const DSCP: Bits = Bits::new(8, 6);
    pub const ECN: Bits = Bits::new(14, 2);
    pub const TOTAL_LEN: Bits = Bits::new(16, 16);
    pub const IDENT: Bits = Bits::new(32, 16);
    /// The reserved ("evil") bit.
    pub const FLAG_RB: Bits = Bits::new(48, 1);
    pub const FLAG_DF: Bits = Bits::new(49, 1);
    pub const FLAG_MF: Bits = Bits::new(50, 1);
    pub const FRAG_OFFSET: Bits = Bits::new(51, 13);
    pub const TTL: Bits = Bits::new(64, 8);
    pub const PROTOCOL: Bits = Bits::new(72, 8);
    pub const CHECKSUM: Bits = Bits::new(80, 16);
    pub const SRC_ADDR: Bits = Bits::new(96, 32);
    pub const DST_ADDR: Bits = Bits::new(128, 32);
    /// Options, up to the header length.
    pub const OPTIONS: usize = 20;
}

/// The header without options.
pub const HEADER_LEN: usize = 20;
/// The longest header (IHL 15).
pub const MAX_HEADER_LEN: usize = 60;

/// A view over an IPv4 header (and, if the buffer goes on, its payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view over a version-4 header with an IHL of at least 5 whose
    /// bytes, options included, are all there (the checks etherparse's
    /// `Ipv4HeaderSlice::from_slice` makes).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<(), Error> {
        let b = self.buffer.as_ref();
        need(b, HEADER_LEN)?;
        if self.version() != 4 {
            return Err(Error::Version(self.version()));
        }
        if self.header_len() < HEADER_LEN {
            return Err(Error::HeaderLen(self.header_len()));
        }
        need(b, self.header_len())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn get(&self, f: Bits) -> u64 {
        f.read(self.buffer.as_ref())
    }

    pub fn version(&self) -> u8 {
        self.get(field::VERSION) as u8
    }
    /// The header length in bytes (IHL times 4).
    pub fn header_len(&self) -> usize {
        self.get(field::IHL) as usize * 4
    }
    pub fn dscp(&self) -> u8 {
        self.get(field::DSCP) as u8
    }
    pub fn ecn(&self) -> u8 {
        self.get(field::ECN) as u8
    }
    pub fn total_len(&self) -> u16 {
        self.get(field::TOTAL_LEN) as u16
    }
    pub fn ident(&self) -> u16 {
        self.get(field::IDENT) as u16
    }
    pub fn rb(&self) -> bool {
        self.get(field::FLAG_RB) != 0
    }
    pub fn dont_frag(&self) -> bool {
        self.get(field::FLAG_DF) != 0
    }
    pub fn more_frags(&self) -> bool {
        self.get(field::FLAG_MF) != 0
    }
    /// In 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        self.get(field::FRAG_OFFSET) as u16
    }
    /// More fragments follow, or this is not the first.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }
    pub fn ttl(&self) -> u8 {
        self.get(field::TTL) as u8
    }
    pub fn protocol(&self) -> u8 {
        self.get(field::PROTOCOL) as u8
    }
    pub fn checksum(&self) -> u16 {
        self.get(field::CHECKSUM) as u16
    }
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.get(field::SRC_ADDR) as u32)
    }
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.get(field::DST_ADDR) as u32)
    }
    /// The options' bytes (empty when IHL is 5).
    pub fn options(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(field::OPTIONS..self.header_len()).unwrap_or_default()
    }
    /// The header's bytes.
    pub fn header(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(..self.header_len()).unwrap_or(b)
    }
    /// The checksum over the header is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::of(self.header()) == [0, 0]
    }
}

/// An IPv4 header's bytes copied out of a buffer that is only lent (the
/// lax slicer's), so a decoded segment can keep its header without an
/// allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HeaderBytes {
    len: u8,
    bytes: [u8; MAX_HEADER_LEN],
}

impl HeaderBytes {
    /// The header of a checked view.
    pub fn copy<T: AsRef<[u8]>>(packet: &Packet<T>) -> HeaderBytes {
        let header = packet.header();
        let mut bytes = [0; MAX_HEADER_LEN];
        let len = header.len().min(MAX_HEADER_LEN);
        bytes[..len].copy_from_slice(&header[..len]);
        HeaderBytes {
            len: len as u8,
            bytes,
        }
    }
}

impl AsRef<[u8]> for HeaderBytes {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for HeaderBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x?}", self.as_ref())
    }
}

/// An IPv4 header as meaning: what synlab sends (no fragments, the
/// checksum computed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub dscp: u8,
    pub ecn: u8,
    pub ident: u16,
    /// The reserved ("evil") bit.
    pub rb: bool,
    pub df: bool,
    pub ttl: u8,
    pub protocol: u8,
    /// Raw options: a multiple of 4 bytes, at most 40.
    pub options: &'a [u8],
    /// Bytes after the header.
    pub payload_len: usize,
}

impl<'a> Repr<'a> {
    /// The meaning of a checked header; the payload length from the total
    /// length field.
    pub fn parse<T: AsRef<[u8]>>(packet: &'a Packet<T>) -> Repr<'a> {
        Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            ident: packet.ident(),
            rb: packet.rb(),
            df: packet.dont_frag(),
            ttl: packet.ttl(),
            protocol: packet.protocol(),
            options: packet.options(),
            payload_len: usize::from(packet.total_len()).saturating_sub(packet.header_len()),
        }
    }

    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// The header's bytes (the payload is the caller's).
    pub fn buffer_len(&self) -> usize {
        self.header_len()
    }

    /// Append the header, its checksum filled in.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + self.header_len(), 0);
        let h = &mut out[start..];
        let total = self.header_len() + self.payload_len;
        for (f, v) in [
            (field::VERSION, 4),
            (field::IHL, self.header_len() as u64 / 4),
            (field::DSCP, u64::from(self.dscp)),
            (field::ECN, u64::from(self.ecn)),
            (field::TOTAL_LEN, total as u64),
            (field::IDENT, u64::from(self.ident)),
            (field::FLAG_RB, u64::from(self.rb)),
            (field::FLAG_DF, u64::from(self.df)),
            (field::TTL, u64::from(self.ttl)),
            (field::PROTOCOL, u64::from(self.protocol)),
            (field::SRC_ADDR, u64::from(u32::from(self.src))),
            (field::DST_ADDR, u64::from(u32::from(self.dst))),
        ] {
            f.write(h, v);
        }
        h[field::OPTIONS..].copy_from_slice(self.options);
        let sum = checksum::of(h);
        h[field::CHECKSUM.bytes()].copy_from_slice(&sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SYN's header as Linux sends it: DF, TTL 64, ID 0x4242, TCP.
    static HEADER_BYTES: [u8; 20] = [
        0x45, 0x00, 0x00, 0x3c, 0x42, 0x42, 0x40, 0x00, 0x40, 0x06, 0x6b, 0xd1, 0xc6, 0x12, 0x00,
        0x02, 0xc6, 0x12, 0x00, 0x82,
    ];

    fn repr() -> Repr<'static> {
        Repr {
            src: Ipv4Addr::new(198, 18, 0, 2),
            dst: Ipv4Addr::new(198, 18, 0, 130),
            dscp: 0,
            ecn: 0,
            ident: 0x4242,
            rb: false,
            df: true,
            ttl: 64,
            protocol: 6,
            options: &[],
            payload_len: 40,
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&HEADER_BYTES[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.version(), p.header_len(), p.total_len()), (4, 20, 60));
        assert_eq!(
            (p.ident(), p.rb(), p.dont_frag(), p.more_frags()),
            (0x4242, false, true, false)
        );
        assert_eq!((p.frag_offset(), p.ttl(), p.protocol()), (0, 64, 6));
        assert_eq!(p.checksum(), 0x6bd1);
        assert_eq!(p.src_addr(), Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(198, 18, 0, 130));
        assert!(p.options().is_empty());
        assert!(p.verify_checksum());
    }

    #[test]
    fn test_construct() {
        let mut out = Vec::new();
        repr().emit(&mut out);
        assert_eq!(out, HEADER_BYTES);
    }

    #[test]
    fn test_parse() {
        let p = Packet::new_checked(&HEADER_BYTES[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Repr::parse(&p), repr());
    }

    #[test]
    fn test_emit_with_options() {
        let options = [1, 1, 1, 0];
        let r = Repr {
            options: &options,
            rb: true,
            ..repr()
        };
        let mut out = vec![0xee];
        r.emit(&mut out);
        assert_eq!(out.len(), 1 + r.buffer_len());
        let p = Packet::new_checked(&out[1..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.header_len(), p.total_len(), p.rb()), (24, 64, true));
        assert!(p.verify_checksum());
        assert_eq!(Repr::parse(&p), r);
    }

    #[test]
    fn checked_views_refuse_what_etherparse_refuses() {
        for (bytes, want) in [
            (&HEADER_BYTES[..19], Error::Truncated { need: 20, len: 19 }),
            (&[0x65; 20][..], Error::Version(6)),
            (&[0x44; 20][..], Error::HeaderLen(16)),
            (&[0x46; 20][..], Error::Truncated { need: 24, len: 20 }),
        ] {
            assert_eq!(Packet::new_checked(bytes).err(), Some(want));
            assert!(etherparse::Ipv4HeaderSlice::from_slice(bytes).is_err());
        }
        let copied = HeaderBytes::copy(&Packet::new_unchecked(&HEADER_BYTES[..]));
        assert_eq!(copied.as_ref(), HEADER_BYTES);
    }
}
