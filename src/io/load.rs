//! Reading a capture file into handshakes: the capture reader feeding the
//! sans-I/O decoder and tracker.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::capture_file::{CaptureError, CaptureReader};
use crate::handshake::{Attempt, Tracker};
use crate::model::{decode_frame, DecodeError};

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
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

/// Read a whole capture. Opening errors (missing file, bad magic, bad file
/// header) are returned as `Err`; errors after the header are kept in
/// `Loaded::error` beside what was read before them.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let mut reader = CaptureReader::open(path)?;
    let mut tracker = Tracker::new();
    let mut packets = 0;
    let mut error = None;
    while let Some(frame) = reader.next_frame() {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                error = Some(e.into());
                break;
            }
        };
        match decode_frame(frame.linktype, frame.data) {
            Ok(decoded) => {
                packets += 1;
                tracker.feed(frame.number, frame.timestamp, &decoded);
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
    })
}
