//! IPv6 (RFC 8200): the fixed header's view, and its `Repr` for the
//! packets synlab writes. Extension headers are walked by the decoder
//! (through etherparse's checked slices) and drawn by the report.

use std::net::Ipv6Addr;

use super::{need, Bits, Error};

/// The fixed header's fields, as RFC 8200 draws them.
pub mod field {
    use super::Bits;

    pub const VERSION: Bits = Bits::new(0, 4);
    /// The traffic class's upper six bits.
    pub const DSCP: Bits = Bits::new(4, 6);
    /// The traffic class's lower two bits.
    pub const ECN: Bits = Bits::new(10, 2);
    pub const FLOW_LABEL: Bits = Bits::new(12, 20);
    pub const PAYLOAD_LEN: Bits = Bits::new(32, 16);
    pub const NEXT_HEADER: Bits = Bits::new(48, 8);
    pub const HOP_LIMIT: Bits = Bits::new(56, 8);
    pub const SRC_ADDR: Bits = Bits::new(64, 128);
    pub const DST_ADDR: Bits = Bits::new(192, 128);
}

/// The fixed header.
pub const HEADER_LEN: usize = 40;

/// A view over an IPv6 fixed header (and whatever follows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view over 40 bytes or more whose version is 6.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<(), Error> {
        need(self.buffer.as_ref(), HEADER_LEN)?;
        match self.version() {
            6 => Ok(()),
            v => Err(Error::Version(v)),
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn get(&self, f: Bits) -> u64 {
        f.read(self.buffer.as_ref())
    }

    fn addr(&self, f: Bits) -> Ipv6Addr {
        let mut octets = [0; 16];
        if let Some(b) = self.buffer.as_ref().get(f.bytes()) {
            octets.copy_from_slice(b);
        }
        Ipv6Addr::from(octets)
    }

    pub fn version(&self) -> u8 {
        self.get(field::VERSION) as u8
    }
    pub fn dscp(&self) -> u8 {
        self.get(field::DSCP) as u8
    }
    pub fn ecn(&self) -> u8 {
        self.get(field::ECN) as u8
    }
    pub fn flow_label(&self) -> u32 {
        self.get(field::FLOW_LABEL) as u32
    }
    pub fn payload_len(&self) -> u16 {
        self.get(field::PAYLOAD_LEN) as u16
    }
    pub fn next_header(&self) -> u8 {
        self.get(field::NEXT_HEADER) as u8
    }
    pub fn hop_limit(&self) -> u8 {
        self.get(field::HOP_LIMIT) as u8
    }
    pub fn src_addr(&self) -> Ipv6Addr {
        self.addr(field::SRC_ADDR)
    }
    pub fn dst_addr(&self) -> Ipv6Addr {
        self.addr(field::DST_ADDR)
    }
    /// What follows the fixed header, as far as the buffer goes.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or_default()
    }
}

/// An IPv6 fixed header as meaning (no extension headers: synlab sends
/// none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub dscp: u8,
    pub ecn: u8,
    pub flow_label: u32,
    pub next_header: u8,
    pub hop_limit: u8,
    pub payload_len: usize,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Repr {
        Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            flow_label: packet.flow_label(),
            next_header: packet.next_header(),
            hop_limit: packet.hop_limit(),
            payload_len: usize::from(packet.payload_len()),
        }
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Append the fixed header (the payload is the caller's).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + HEADER_LEN, 0);
        let h = &mut out[start..];
        for (f, v) in [
            (field::VERSION, 6),
            (field::DSCP, u64::from(self.dscp)),
            (field::ECN, u64::from(self.ecn)),
            (field::FLOW_LABEL, u64::from(self.flow_label)),
            (field::PAYLOAD_LEN, self.payload_len as u64),
            (field::NEXT_HEADER, u64::from(self.next_header)),
            (field::HOP_LIMIT, u64::from(self.hop_limit)),
        ] {
            f.write(h, v);
        }
        h[field::SRC_ADDR.bytes()].copy_from_slice(&self.src.octets());
        h[field::DST_ADDR.bytes()].copy_from_slice(&self.dst.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ECT(0), flow label 0x12345, 40 bytes of TCP, hop limit 64.
    static HEADER_BYTES: [u8; 40] = [
        0x60, 0x21, 0x23, 0x45, 0x00, 0x28, 0x06, 0x40, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0x02, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
    ];

    fn repr() -> Repr {
        Repr {
            src: "fd00::2".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
            dst: "fd00::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
            dscp: 0,
            ecn: 2,
            flow_label: 0x12345,
            next_header: 6,
            hop_limit: 64,
            payload_len: 40,
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&HEADER_BYTES[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.version(), p.dscp(), p.ecn()), (6, 0, 2));
        assert_eq!((p.flow_label(), p.payload_len()), (0x12345, 40));
        assert_eq!((p.next_header(), p.hop_limit()), (6, 64));
        assert_eq!(p.src_addr().to_string(), "fd00::2");
        assert_eq!(p.dst_addr().to_string(), "fd00::1");
        assert!(p.payload().is_empty());
    }

    #[test]
    fn test_construct() {
        let mut out = Vec::new();
        repr().emit(&mut out);
        assert_eq!(out, HEADER_BYTES);
        assert_eq!(out.len(), repr().buffer_len());
    }

    #[test]
    fn test_parse() {
        let p = Packet::new_checked(&HEADER_BYTES[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Repr::parse(&p), repr());
    }

    #[test]
    fn short_or_other_versions_are_refused() {
        let mut v4 = HEADER_BYTES;
        v4[0] = 0x45;
        assert_eq!(Packet::new_checked(&v4[..]).err(), Some(Error::Version(4)));
        assert_eq!(
            Packet::new_checked(&HEADER_BYTES[..39]).err(),
            Some(Error::Truncated { need: 40, len: 39 })
        );
    }
}
