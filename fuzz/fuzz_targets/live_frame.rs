//! The live receive path of `probe`/`bisect --target`: frames from the wire
//! (Ethernet) straight into the decoder and the probe matcher of a planned
//! batch. The input is a sequence of frames, each a big-endian u16 length
//! and that many bytes, fed 1 ms apart.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use synlab::model::{decode_frame, LinkType};
use synlab::probe::{plan, Matcher, Planned, PortRange};

/// Two probes per family from 198.18.0.2 (ports 40000, 40001) to
/// 198.18.0.1:8080, seed 1: the same batch every run, so seeds can answer it.
fn batches() -> &'static [Vec<Planned>; 2] {
    static BATCHES: OnceLock<[Vec<Planned>; 2]> = OnceLock::new();
    BATCHES.get_or_init(|| {
        let syn = synlab::model::craft::linux_example();
        let requests = [syn.clone(), syn];
        let make = |src: &str, dst: &str| {
            let dst: SocketAddr = dst.parse().expect("a literal address");
            plan(
                &requests,
                src.parse().expect("a literal address"),
                dst,
                PortRange::default(),
                0,
                1,
                1000,
            )
            .expect("the Linux example plans")
        };
        [
            make("198.18.0.2", "198.18.0.1:8080"),
            make("2001:2::2", "[2001:2::1]:8080"),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    for planned in batches() {
        let mut matcher = Matcher::new(planned, Duration::from_secs(1));
        for i in 0..matcher.len() {
            matcher.sent(i, Duration::ZERO);
        }
        let mut rest = data;
        let mut at = Duration::ZERO;
        while let [hi, lo, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
            let (frame, after) = tail.split_at(len);
            rest = after;
            at += Duration::from_millis(1);
            let decoded = decode_frame(LinkType::Ethernet, frame);
            let _ = matcher.feed(at, &decoded);
        }
        let _ = matcher.deadline();
        let _ = matcher.all_answered();
        let _ = matcher.finish();
    }
});
