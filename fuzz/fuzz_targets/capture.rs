//! The capture reader as `handshakes`/`diff` use it: bytes as a pcap or
//! pcapng file, every frame decoded and fed to the tracker, then the
//! attempts' attributes compared. Never a panic, a hang or a large allocation.
#![no_main]

use std::io::Cursor;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use synlab::diff::diff_attempts;
use synlab::handshake::Tracker;
use synlab::io::capture_file::CaptureReader;
use synlab::model::{decode_frame, LinkType};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(Path::new("fuzz.pcap"), Cursor::new(data)) else {
        return;
    };
    let mut tracker = Tracker::new();
    while let Some(Ok(frame)) = reader.next_frame() {
        if let Ok(link) = LinkType::try_from(frame.linktype) {
            let decoded = decode_frame(link, frame.data);
            tracker.feed(frame.number, frame.timestamp, &decoded);
        }
    }
    let attempts = tracker.finish();
    if let [a, b, ..] = attempts.as_slice() {
        let _ = diff_attempts(a, b);
    }
    for a in &attempts {
        let _ = synlab::p0f::signature(&a.syn);
    }
});
