//! The flow tracker on arbitrary capture times: packets at any timestamp a
//! file can declare, in any order, under any timestamp resolution and
//! offset, with arbitrary idle and grace limits. Never a panic.
//!
//! The `capture` target could not reach the overflow of issue 22 (item 1):
//! it needs a pcapng whose interface carries `if_tsresol` 0 or 0x80 (one
//! option byte in a well-framed option list) *and* a packet timestamp within
//! seconds of 2^64 (some sixty set bits across two 32-bit words of a
//! well-framed block). Neither is compared against a constant anywhere, so
//! libFuzzer's comparison tracing gives no hint, and random mutation hits
//! the conjunction about never. Here the resolution, the offset and each
//! timestamp are input bytes taken as they are.
//!
//! Input: resolution byte (as `if_tsresol`), 8 bytes of `if_tsoffset`,
//! 8 bytes idle, 8 bytes grace (in units of the resolution), then records:
//! 8 bytes timestamp, a big-endian u16 length and that many bytes of an
//! Ethernet frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synlab::handshake::{Limits, Tracker};
use synlab::io::capture_file::TsResolution;
use synlab::model::{decode_frame, LinkType};

/// The next `N` bytes of `rest`, or zeros when it is short.
fn take<const N: usize>(rest: &mut &[u8]) -> [u8; N] {
    let mut out = [0; N];
    let n = N.min(rest.len());
    out[..n].copy_from_slice(&rest[..n]);
    *rest = &rest[n..];
    out
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let [byte] = take::<1>(&mut rest);
    let resolution = if byte & 0x80 != 0 {
        TsResolution::Binary(byte & 0x7f)
    } else {
        TsResolution::Decimal(byte)
    };
    let offset = i64::from_le_bytes(take(&mut rest));
    let idle = resolution.to_duration(u64::from_le_bytes(take(&mut rest)), 0);
    let grace = resolution.to_duration(u64::from_le_bytes(take(&mut rest)), 0);
    let mut tracker = Tracker::with_limits(Limits {
        idle,
        grace,
        max_flows: 64,
    });
    let mut number = 0;
    while rest.len() >= 10 {
        let at = resolution.to_duration(u64::from_le_bytes(take(&mut rest)), offset);
        let len = usize::from(u16::from_be_bytes(take(&mut rest))).min(rest.len());
        let (frame, after) = rest.split_at(len);
        rest = after;
        number += 1;
        let decoded = decode_frame(LinkType::Ethernet, frame);
        tracker.feed(number, at, &decoded);
        for (_, a) in tracker.take_finished() {
            let _ = (a.full_outcome(), a.stalled(), a.flow_outcome());
        }
    }
    for a in tracker.finish() {
        let _ = (a.full_outcome(), a.stalled(), a.flow_outcome());
    }
});
