//! Reading a capture file into handshakes: the capture reader feeding the
//! sans-I/O decoder and tracker.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use thiserror::Error;

use super::capture_file::{CaptureError, CaptureReader};
use crate::handshake::{Attempt, Tracker};
use crate::model::{decode_frame, DecodeError, Decoded, Skip};

/// Warnings kept per file; past this they are only counted, so a file of
/// millions of bad packets cannot grow memory through its warnings.
pub const MAX_WARNINGS: usize = 100;

/// A packet skipped because its headers could not be read.
#[derive(Debug, Error)]
#[error("{path}: packet {number}: skipped: {why}")]
pub struct Warning {
    pub path: PathBuf,
    pub number: u64,
    pub why: SkipReason,
}

/// Why a packet was skipped with a warning.
#[derive(Debug, Error)]
pub enum SkipReason {
    /// Its interface's link type is not one synlab reads.
    #[error(transparent)]
    Link(DecodeError),
    /// Its headers contradict themselves or the bytes captured.
    #[error("{0}")]
    Malformed(Skip),
}

/// The capture path that means standard input, as for tshark and tcpdump.
pub const STDIN: &str = "-";

/// Whether `path` names standard input (`-`).
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN
}

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// `-` named twice (`synlab diff - -#1`): standard input is a stream,
    /// read once; a second reading would see an empty file.
    #[error("-: standard input was already read; name the capture `-` once, or save it to a file")]
    StdinAgain,
    #[error("{path}: packet {number}: {source}")]
    Decode {
        path: PathBuf,
        number: u64,
        #[source]
        source: DecodeError,
    },
}

/// What a capture held, and the error that stopped reading it, if any: the
/// attempts read before a corrupt record are kept, as tcpdump keeps them.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub attempts: Vec<Attempt>,
    pub packets: u64,
    /// Packets that were neither TCP nor an ICMP error quoting TCP.
    pub skipped: u64,
    pub error: Option<LoadError>,
    /// Each attempt's index in the whole file (differs from its position
    /// once [`Loaded::keep`] has filtered).
    pub numbers: Vec<usize>,
    /// How many attempts the file holds, filtered or not.
    pub total_attempts: usize,
    /// Packets skipped because they could not be read (at most
    /// [`MAX_WARNINGS`]; the rest are counted in `more_warnings`).
    pub warnings: Vec<Warning>,
    pub more_warnings: u64,
}

impl Loaded {
    /// Keep only the attempts `pred` accepts; their file indexes are kept.
    pub fn keep(&mut self, mut pred: impl FnMut(&Attempt) -> bool) {
        let mut numbers = Vec::new();
        let mut attempts = Vec::new();
        for (n, a) in self.numbers.iter().zip(std::mem::take(&mut self.attempts)) {
            if pred(&a) {
                numbers.push(*n);
                attempts.push(a);
            }
        }
        self.numbers = numbers;
        self.attempts = attempts;
    }

    /// Attempts with their index in the file.
    pub fn numbered(&self) -> impl Iterator<Item = (usize, &Attempt)> {
        self.numbers.iter().copied().zip(&self.attempts)
    }
}

/// Read a whole capture; `-` reads standard input (a pipe from tcpdump -w -
/// or tshark -w -), streamed like a file, never seeked. Opening errors
/// (missing file, bad magic, bad file header) are returned as `Err`; errors
/// after the header are kept in `Loaded::error` beside what was read before
/// them.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    if is_stdin(path) {
        static TAKEN: AtomicBool = AtomicBool::new(false);
        if TAKEN.swap(true, Ordering::SeqCst) {
            return Err(LoadError::StdinAgain);
        }
        return load_from(CaptureReader::new(path, std::io::stdin().lock())?);
    }
    load_from(CaptureReader::open(path)?)
}

/// Track the handshakes of an opened capture, to its end or first error.
fn load_from<R: Read>(mut reader: CaptureReader<R>) -> Result<Loaded, LoadError> {
    let path = reader.path().to_owned();
    let path = path.as_path();
    let mut tracker = Tracker::new();
    let mut packets = 0;
    let mut error = None;
    let mut warnings = Vec::new();
    let mut more_warnings = 0;
    let mut warn = |number, why| {
        if warnings.len() < MAX_WARNINGS {
            warnings.push(Warning {
                path: path.to_owned(),
                number,
                why,
            });
        } else {
            more_warnings += 1;
        }
    };
    let pcapng = reader.is_pcapng();
    while let Some(frame) = reader.next_frame() {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                error = Some(e.into());
                break;
            }
        };
        // A snaplen cut explains a header cut short; only a packet captured
        // whole can lie about its own lengths.
        let whole = frame.data.len() as u64 >= u64::from(frame.orig_len);
        match decode_frame(frame.linktype, frame.data) {
            Ok(decoded) => {
                packets += 1;
                if let Decoded::Skipped(why) = &decoded {
                    if whole && why.is_malformed() {
                        warn(frame.number, SkipReason::Malformed(why.clone()));
                    }
                }
                tracker.feed(frame.number, frame.timestamp, &decoded);
            }
            // In pcapng each interface has its own link type: a packet on
            // one synlab cannot read is skipped, as tshark reads on.
            Err(source) if pcapng => {
                packets += 1;
                tracker.feed(
                    frame.number,
                    frame.timestamp,
                    &Decoded::Skipped(Skip::NotIp),
                );
                warn(frame.number, SkipReason::Link(source));
            }
            Err(source) => {
                error = Some(LoadError::Decode {
                    path: path.to_owned(),
                    number: frame.number,
                    source,
                });
                break;
            }
        }
    }
    let skipped = tracker.skipped();
    let attempts = tracker.finish();
    Ok(Loaded {
        path: path.to_owned(),
        numbers: (0..attempts.len()).collect(),
        total_attempts: attempts.len(),
        attempts,
        packets,
        skipped,
        error,
        warnings,
        more_warnings,
    })
}
