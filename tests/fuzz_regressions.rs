//! Inputs that `cargo fuzz` (fuzz/, scripts/fuzz.sh) found, replayed through
//! the same code as the fuzz target that found them. Each file under
//! tests/fuzz-regressions/TARGET/ is named after the bug it shows.
//!
//! capture/ipv6-ext-walk-past-validated-*.pcap (issue 10 item 1): an IPv6
//! extension chain the lax parse stopped on, after which etherparse 0.21's
//! extension iterator walked past the validated slice. In a debug build the
//! walk panics in etherparse; in a release build it is an out-of-bounds read
//! that only valgrind or ASan shows, so the frames are decoded from buffers
//! of their exact size here, where such a read leaves the allocation.
//! live_frame/ipv6-*-walk-past-validated.frames: the same walk reached from
//! the wire (a raw extension header, and a fragment header, read past).

mod support;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use synlab::handshake::Tracker;
use synlab::io::capture_file::CaptureReader;
use synlab::model::{decode_frame, LinkType};
use synlab::p0f;
use synlab::profile::Profile;
use synlab::rule::Rule;

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = support::root().join("tests/fuzz-regressions").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// The `capture` fuzz target's body: read, decode, track.
fn replay_capture(path: &Path) -> usize {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let Ok(mut reader) = CaptureReader::new(path, Cursor::new(bytes)) else {
        return 0;
    };
    let mut tracker = Tracker::new();
    while let Some(Ok(frame)) = reader.next_frame() {
        let exact = frame.data.to_vec();
        if let Ok(link) = LinkType::try_from(frame.linktype) {
            let decoded = decode_frame(link, &exact);
            tracker.feed(frame.number, frame.timestamp, &decoded);
        }
    }
    tracker.finish().len()
}

#[test]
fn capture_findings_decode_without_panic() {
    let files = inputs("capture");
    assert!(files.len() >= 2, "the capture findings are missing");
    for f in &files {
        replay_capture(f);
    }
}

/// The `live_frame` fuzz target's decoding: frames as a big-endian u16
/// length and that many bytes, each decoded from a buffer of its own size.
#[test]
fn live_frame_findings_decode_without_panic() {
    let files = inputs("live_frame");
    assert!(!files.is_empty(), "the live_frame findings are missing");
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let mut rest = bytes.as_slice();
        while let [hi, lo, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
            let (frame, after) = tail.split_at(len);
            rest = after;
            // Its own allocation, so a read past the frame leaves the block.
            let exact: Vec<u8> = frame.to_vec();
            let _ = decode_frame(LinkType::Ethernet, exact.as_slice());
        }
    }
}

#[test]
fn capture_findings_under_valgrind() {
    if !support::require_tool("valgrind") {
        return;
    }
    for f in inputs("capture") {
        let out = std::process::Command::new("valgrind")
            .args(["-q", "--error-exitcode=99"])
            .arg(env!("CARGO_BIN_EXE_synlab"))
            .arg("handshakes")
            .arg(&f)
            .output()
            .expect("run valgrind");
        assert_ne!(
            out.status.code(),
            Some(99),
            "{}: valgrind:\n{}",
            f.display(),
            support::stderr(&out)
        );
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "{}: {:?}\n{}",
            f.display(),
            out.status,
            support::stderr(&out)
        );
    }
}

#[test]
fn text_findings_parse_without_panic() {
    for f in inputs("rule") {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        if let Ok(rule) = Rule::parse(&text) {
            let _ = Rule::parse(&rule.expr.to_string());
        }
    }
    for f in inputs("profile_toml") {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        if let Ok((profile, _)) = Profile::from_toml(&text, "finding") {
            let _ = p0f::profile::signature(&profile);
        }
    }
    for f in inputs("p0f") {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let _ = p0f::profile::import(&text, "finding");
    }
}
