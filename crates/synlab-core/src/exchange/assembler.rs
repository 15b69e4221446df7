//! Reassembly: the server's segments that arrived ahead of a gap, held by
//! stream offset until the stream reaches them.
//!
//! smoltcp's `Assembler` tracks only ranges (its socket keeps the bytes in
//! a ring buffer); here the bytes are held with their range, since the
//! connection keeps no receive buffer: bytes in order are counted (and the
//! HTTP head kept) and then dropped. Offsets are 64-bit stream offsets
//! (not sequence numbers), so a response longer than 4 GiB still orders
//! right. The ranges, merged, are what the SACK blocks report.

use std::collections::BTreeMap;

/// Segments held ahead of a gap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assembler {
    /// By the stream offset of their first byte; of two segments at one
    /// offset the longer is kept.
    held: BTreeMap<u64, Vec<u8>>,
    /// Bytes held (overlaps between segments counted twice: a bound, not
    /// an exact count).
    bytes: u64,
}

impl Assembler {
    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Hold `payload`, which starts at stream offset `off`.
    pub fn add(&mut self, off: u64, payload: &[u8]) {
        let slot = self.held.entry(off).or_default();
        if slot.len() < payload.len() {
            self.bytes += (payload.len() - slot.len()) as u64;
            *slot = payload.to_vec();
        }
    }

    /// The first held segment the stream has reached (it starts at or
    /// before `stream_end`), removed: its bytes from `stream_end` on
    /// (empty when the stream already holds all of them).
    pub fn pop_reached(&mut self, stream_end: u64) -> Option<Vec<u8>> {
        let entry = self.held.first_entry()?;
        if *entry.key() > stream_end {
            return None;
        }
        let off = *entry.key();
        let mut data = entry.remove();
        self.bytes = self.bytes.saturating_sub(data.len() as u64);
        let skip = usize::try_from(stream_end - off).unwrap_or(usize::MAX);
        data.drain(..skip.min(data.len()));
        Some(data)
    }

    /// The held ranges `(start, end)` in stream offsets, overlapping and
    /// touching ones merged, in order.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for (&off, data) in &self.held {
            let end = off + data.len() as u64;
            match ranges.last_mut() {
                Some(last) if off <= last.1 => last.1 = last.1.max(end),
                _ => ranges.push((off, end)),
            }
        }
        ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_segments_merge_into_ranges() {
        let mut a = Assembler::default();
        assert!(a.is_empty() && a.ranges().is_empty());
        a.add(300, &[3; 100]);
        a.add(100, &[1; 100]);
        a.add(200, &[2; 50]);
        a.add(600, &[6; 10]);
        assert_eq!(a.ranges(), [(100, 250), (300, 400), (600, 610)]);
        assert_eq!(a.bytes(), 260);
        // A shorter copy at the same offset changes nothing; a longer one
        // replaces it, and closes the gap to 300.
        a.add(200, &[2; 10]);
        assert_eq!(a.bytes(), 260);
        a.add(200, &[2; 100]);
        assert_eq!(a.bytes(), 310);
        assert_eq!(a.ranges(), [(100, 400), (600, 610)]);
    }

    #[test]
    fn reached_segments_come_out_in_order_without_what_the_stream_has() {
        let mut a = Assembler::default();
        a.add(100, &[1, 2, 3, 4]);
        a.add(102, &[3, 4, 5, 6]);
        a.add(200, &[9]);
        assert_eq!(a.pop_reached(99), None, "a gap before 100");
        assert_eq!(a.pop_reached(101), Some(vec![2, 3, 4]));
        // The stream is at 104 now: the second segment's first two bytes
        // are old.
        assert_eq!(a.pop_reached(104), Some(vec![5, 6]));
        assert_eq!(a.pop_reached(106), None);
        // Wholly behind the stream: comes out empty.
        assert_eq!(a.pop_reached(500), Some(vec![]));
        assert!(a.is_empty());
        assert_eq!(a.bytes(), 0);
    }

    /// Offsets are 64-bit: a segment past 4 GiB into the stream is held
    /// and ordered after one before it, which sequence numbers would not.
    #[test]
    fn offsets_past_2_pow_32_order_right() {
        let mut a = Assembler::default();
        let far = (1u64 << 32) + 10;
        a.add(far, &[7; 5]);
        a.add(20, &[1; 5]);
        assert_eq!(a.ranges(), [(20, 25), (far, far + 5)]);
        assert_eq!(a.pop_reached(20), Some(vec![1; 5]));
        assert_eq!(a.pop_reached(far - 1), None);
        assert_eq!(a.pop_reached(far + 2), Some(vec![7; 3]));
    }
}
