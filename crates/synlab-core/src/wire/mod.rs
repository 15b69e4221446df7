//! Byte formats: where every header field sits, written once.
//!
//! As smoltcp's `wire`, each protocol has two levels:
//!
//! * a **view** (`Packet<T: AsRef<[u8]>>`) over the bytes as they are.
//!   `new_unchecked` wraps any buffer; `new_checked` (or `check_len` on an
//!   unchecked one) makes sure the fixed header is there, after which no
//!   accessor can panic: a field the capture cut short reads as empty,
//!   never out of bounds. The view does not judge the values (a data
//!   offset below 5, a length that lies): the decoder does, and names them.
//! * a **`Repr`**, the header's meaning, with `parse` (from a view),
//!   `emit` (to bytes, checksums filled in) and `buffer_len` side by side,
//!   so that what is read and what is written cannot drift apart.
//!
//! The field positions are [`Bits`] in a `field` module per protocol, in
//! the RFCs' own drawing (bit 0 is the first byte's high bit): the views
//! read through them and the report draws its header diagrams from them.
//!
//! [`ipv4`] (RFC 791), [`ipv6`] (RFC 8200), [`tcp`] (RFC 9293; the
//! options area is bytes here, its parse and emit are
//! `model::TcpOption`'s, since their order is an attribute), [`icmp`]
//! (ICMP and ICMPv6 errors with the packet they quote), [`link`] (the
//! link-layer types and fixed link headers a capture can carry) and
//! [`checksum`] (the Internet checksum, by etherparse).
//!
//! Nothing here knows attributes: `model` turns views into attributes and
//! attributes into `Repr`s.

pub mod checksum;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod link;
pub mod tcp;

use thiserror::Error;

/// Where a header field sits: `len` bits from bit `start`, counted from
/// the header's first byte's high bit, as RFC header drawings count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bits {
    pub start: usize,
    pub len: usize,
}

impl Bits {
    pub const fn new(start: usize, len: usize) -> Bits {
        Bits { start, len }
    }

    /// The widest field read or written as a number: with up to 7 bits
    /// before it in its first byte, it still fits a `u64`.
    pub const MAX_NUMBER: usize = 57;

    const fn is_number(self) -> bool {
        self.len > 0 && self.len <= Self::MAX_NUMBER
    }

    /// The bit after the field.
    pub const fn end(self) -> usize {
        self.start + self.len
    }

    /// The bytes the field touches.
    pub const fn bytes(self) -> std::ops::Range<usize> {
        self.start / 8..self.end().div_ceil(8)
    }

    /// The field's value; 0 when `b` is too short, which a checked view
    /// rules out, and for a field wider than [`Bits::MAX_NUMBER`] (an
    /// IPv6 address: read its [`Bits::bytes`]).
    #[inline(always)]
    pub fn read(self, b: &[u8]) -> u64 {
        if !self.is_number() {
            return 0;
        }
        let Some(bytes) = b.get(self.bytes()) else {
            return 0;
        };
        let acc = bytes.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x));
        let tail = self.bytes().end * 8 - self.end();
        (acc >> tail) & (u64::MAX >> (64 - self.len))
    }

    /// Write `value`'s low `len` bits into the field, keeping the bits
    /// around it; nothing when `b` is too short or the field is wider than
    /// [`Bits::MAX_NUMBER`].
    pub fn write(self, b: &mut [u8], value: u64) {
        if !self.is_number() {
            return;
        }
        let tail = self.bytes().end * 8 - self.end();
        let mask = (u64::MAX >> (64 - self.len)) << tail;
        let Some(bytes) = b.get_mut(self.bytes()) else {
            return;
        };
        let n = bytes.len();
        let old = bytes.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x));
        let new = (old & !mask) | ((value << tail) & mask);
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = (new >> (8 * (n - 1 - i))) as u8;
        }
    }
}

/// Why a view cannot be made over some bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum Error {
    /// Fewer bytes than the header needs.
    #[error("{need} bytes needed, {len} there")]
    Truncated { need: usize, len: usize },
    /// The version nibble is not the protocol's.
    #[error("IP version {0}")]
    Version(u8),
    /// A header length field below the fixed header.
    #[error("a header length of {0} bytes")]
    HeaderLen(usize),
}

/// Fail with [`Error::Truncated`] unless `b` holds `need` bytes.
pub(crate) fn need(b: &[u8], need: usize) -> Result<(), Error> {
    if b.len() < need {
        return Err(Error::Truncated { need, len: b.len() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_read_and_write_across_bytes() {
        let mut b = [0b1010_1100, 0b0011_0101, 0xff];
        assert_eq!(Bits::new(0, 4).read(&b), 0b1010);
        assert_eq!(Bits::new(4, 6).read(&b), 0b11_0000);
        assert_eq!(Bits::new(8, 16).read(&b), 0x35ff);
        assert_eq!(Bits::new(8, 32).read(&b), 0, "past the end");
        Bits::new(4, 6).write(&mut b, 0b01_0111);
        assert_eq!(b, [0b1010_0101, 0b1111_0101, 0xff]);
        Bits::new(16, 8).write(&mut b, 0x12);
        assert_eq!(b[2], 0x12);
        assert_eq!(Bits::new(12, 20).bytes(), 1..4);
        let addr = [0xffu8; 16];
        assert_eq!(Bits::new(0, 128).read(&addr), 0, "too wide: no panic");
        assert_eq!(Bits::new(0, 0).read(&addr), 0);
        assert_eq!(Bits::new(7, 57).read(&addr), (1 << 57) - 1);
    }
}
