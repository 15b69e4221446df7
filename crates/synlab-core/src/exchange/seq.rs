//! TCP sequence numbers: 32-bit counters that wrap, compared modulo 2^32.
//!
//! A bare `u32` invites `a < b`, which is wrong once a connection's numbers
//! cross 2^32 (an ISN near the top is common: ISNs are random). As smoltcp's
//! `TcpSeqNumber`, the order here is that of the wrapping difference (RFC
//! 793 3.3): `a < b` when `b - a`, taken modulo 2^32, is below 2^31. That
//! order is not transitive over the whole circle, so the type is
//! `PartialOrd` only; within one connection's window it is exact.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Sub};

/// One sequence (or acknowledgment) number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The number as on the wire.
    pub fn get(self) -> u32 {
        self.0
    }

    /// How far `self` is after `base`, modulo 2^32: the stream offset of
    /// `self` when `base` is the stream's first byte.
    pub fn since(self, base: SeqNumber) -> u32 {
        self.0.wrapping_sub(base.0)
    }

    /// The signed distance from `other` to `self` (negative: `self` is
    /// before it).
    pub fn diff(self, other: SeqNumber) -> i32 {
        self.since(other) as i32
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;

    fn add(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;

    fn sub(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n))
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: SeqNumber = SeqNumber(u32::MAX - 9);

    #[test]
    fn order_follows_the_wrapping_difference() {
        assert!(SeqNumber(1) < SeqNumber(2));
        assert!(SeqNumber(2) > SeqNumber(1));
        assert!(SeqNumber(5) <= SeqNumber(5) && SeqNumber(5) >= SeqNumber(5));
        // Across 2^32: the number after u32::MAX is 0, and it is greater.
        assert!(TOP < TOP + 20);
        assert!(SeqNumber(u32::MAX) < SeqNumber(0));
        assert!(SeqNumber(3) > SeqNumber(u32::MAX - 3));
        // Less than half the circle ahead is after; more is before.
        assert!(SeqNumber(0) > SeqNumber((1 << 31) + 1));
        assert!(SeqNumber(0) < SeqNumber((1 << 31) - 1));
    }

    #[test]
    fn arithmetic_wraps_at_2_pow_32() {
        assert_eq!(TOP + 10, SeqNumber(0));
        assert_eq!(TOP + 25, SeqNumber(15));
        assert_eq!(SeqNumber(3) - 5, SeqNumber(u32::MAX - 1));
        assert_eq!((TOP + 25).since(TOP), 25);
        assert_eq!(SeqNumber(3).diff(SeqNumber(u32::MAX)), 4);
        assert_eq!(SeqNumber(u32::MAX).diff(SeqNumber(3)), -4);
        assert_eq!((TOP + 7).get(), u32::MAX - 2);
    }
}
