//! The ceiling for `handshakes` (issue 25): read every packet of a capture
//! and decode it, nothing more — no tracker, no attributes, no output.
//! `handshakes` does this and then tracks flows, builds the SYNs' and
//! answers' attributes and writes each attempt; its time over this loop's
//! is what that costs.
//!
//! `cargo run --profile dist --example read_decode FILE [--attributes]`
//! (prints packets, TCP segments, ICMP errors and skipped frames).
//! `--attributes` also builds the attribute set of every SYN and SYN+ACK
//! (what `handshakes` reports of each), still with no tracking or output.

use std::path::PathBuf;
use std::time::Instant;

use synlab::io::capture_file::CaptureReader;
use synlab::model::{decode_frame, Decoded, LinkType};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: read_decode FILE [--attributes]")?;
    let attributes = std::env::args().nth(2).as_deref() == Some("--attributes");
    let started = Instant::now();
    let mut reader = CaptureReader::open(&path)?;
    let (mut packets, mut tcp, mut icmp, mut skipped) = (0u64, 0u64, 0u64, 0u64);
    // A sum of what was decoded, so the decoding cannot be optimised away.
    let mut check = 0u64;
    while let Some(frame) = reader.next_frame() {
        let frame = frame?;
        packets += 1;
        let Ok(link) = LinkType::try_from(frame.linktype) else {
            skipped += 1;
            continue;
        };
        match decode_frame(link, frame.data) {
            Decoded::Tcp(seg) => {
                tcp += 1;
                check = check.wrapping_add(u64::from(seg.seq) ^ u64::from(seg.src.port()));
                if attributes && (seg.flags.is_syn() || seg.flags.is_syn_ack()) {
                    check = check.wrapping_add(seg.attributes().len() as u64);
                }
            }
            Decoded::Icmp(_) => icmp += 1,
            Decoded::Skipped(_) => skipped += 1,
        }
    }
    println!(
        "{}: {packets} packets, {tcp} TCP, {icmp} ICMP errors, {skipped} skipped \
         (check {check:x}) in {:.3} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
