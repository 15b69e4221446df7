//! What reading captures reports, apart from the attempts: its errors,
//! warnings and summary, and the one claim on standard input. A leaf that
//! `load` (the reading loop), `merge` (several captures by time) and
//! `parallel` (`--threads`) all use, so none of them imports another for
//! these. `load` re-exports them under their old paths.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use thiserror::Error;

use super::capture_file::{CaptureError, Frame};
use crate::model::{DecodeError, Skip};

/// Warnings kept per file; past this they are only counted, so a file of
/// millions of bad packets cannot grow memory through its warnings.
pub const MAX_WARNINGS: usize = 100;

/// A packet skipped because its headers could not be read (or read, but
/// worth a word: a clock jump).
#[derive(Debug, Error)]
pub struct Warning {
    pub path: PathBuf,
    pub number: u64,
    pub why: SkipReason,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let skipped = match self.why {
            SkipReason::ClockJump(_) => "",
            SkipReason::NotCapture(_) => {
                return write!(f, "{}: skipped: {}", self.path.display(), self.why)
            }
            _ => "skipped: ",
        };
        write!(
            f,
            "{}: packet {}: {skipped}{}",
            self.path.display(),
            self.number,
            self.why
        )
    }
}

/// Why a packet was skipped with a warning, or what else about it is worth
/// one.
#[derive(Debug, Error)]
pub enum SkipReason {
    /// Read, but its timestamp leapt far forward: the open attempts were
    /// finished by the jump (and are marked so).
    #[error("{0}")]
    ClockJump(crate::handshake::ClockJump),
    /// Its interface's link type is not one synlab reads.
    #[error(transparent)]
    Link(DecodeError),
    /// Its headers contradict themselves or the bytes captured.
    #[error("{0}")]
    Malformed(Skip),
    /// A whole file of a directory named as input that is no capture (its
    /// first four bytes are no pcap or pcapng magic): a README or a log
    /// beside the rotated captures. Its `number` is 0.
    #[error("not a pcap or pcapng file (it starts {:02x} {:02x} {:02x} {:02x})", .0[0], .0[1], .0[2], .0[3])]
    NotCapture([u8; 4]),
}

/// The capture path that means standard input, as for tshark and tcpdump.
pub const STDIN: &str = "-";

/// Standard input was read (as a capture or a list of captures).
static STDIN_TAKEN: AtomicBool = AtomicBool::new(false);

/// Claim standard input for reading: it is a stream, read once.
pub(crate) fn take_stdin() -> Result<(), LoadError> {
    if STDIN_TAKEN.swap(true, Ordering::SeqCst) {
        return Err(LoadError::StdinAgain);
    }
    Ok(())
}

/// Fail as [`take_stdin`] would, without claiming it.
pub(crate) fn check_stdin_unread() -> Result<(), LoadError> {
    if STDIN_TAKEN.load(Ordering::SeqCst) {
        return Err(LoadError::StdinAgain);
    }
    Ok(())
}

/// Whether `path` names standard input (`-`).
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN
}

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// The captures named could not be gathered or merged.
    #[error(transparent)]
    Input(#[from] InputError),
    /// `-` named twice (`synlab diff - -#1`): standard input is a stream,
    /// read once; a second reading would see an empty file.
    #[error("-: standard input was already read; name the capture `-` once, or save it to a file")]
    StdinAgain,
    /// A `--threads` shard thread ended before the capture did.
    #[error("a tracker thread stopped before the capture ended")]
    ShardLost,
    #[error("{path}: packet {number}: {source}")]
    Decode {
        path: PathBuf,
        number: u64,
        #[source]
        source: DecodeError,
    },
}

/// Why the captures named could not be gathered or merged.
#[derive(Debug, Error)]
pub enum InputError {
    #[error("{path}: cannot list directory: {source}")]
    ListDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: directory holds no pcap or pcapng files")]
    EmptyDir { path: PathBuf },
    #[error("-: cannot read the list of captures on standard input: {source}")]
    StdinList {
        #[source]
        source: io::Error,
    },
    #[error("-: the list of captures on standard input is larger than {max} bytes")]
    StdinListTooLarge { max: u64 },
    #[error("-: standard input lists no capture files")]
    EmptyList,
    /// A line of standard input that names no file: most likely the input
    /// was neither a capture nor a list of them.
    #[error("-: standard input is neither a capture nor a list of capture files: its line {line:?} names no file: {source}")]
    ListedMissing {
        line: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("-: standard input holds a capture, which is not merged with other files; save it to a file first")]
    StdinCaptureAmongOthers,
    #[error("{files} capture files named; synlab merges at most {limit}")]
    TooManyFiles { files: usize, limit: usize },
    #[error("{path}: {open} captures overlap in time when it starts; synlab merges at most {limit} at once (merge them in groups first, e.g. with mergecap)")]
    TooManyOpen {
        path: PathBuf,
        open: usize,
        limit: usize,
    },
}

/// What reading a capture came to, besides its attempts.
#[derive(Debug)]
pub struct Summary {
    pub path: PathBuf,
    pub packets: u64,
    /// Packets that were neither TCP nor an ICMP error quoting TCP.
    pub skipped: u64,
    /// How many attempts the file holds (every one was handed out).
    pub attempts: usize,
    /// Attempts the flow-table cap finished early ([`Attempt::evicted`]).
    pub evicted: u64,
    pub error: Option<LoadError>,
    pub warnings: Vec<Warning>,
    pub more_warnings: u64,
}

/// Something to tell how far reading has come: called now and then with
/// the bytes read so far.
pub type Progress<'a> = &'a mut dyn FnMut(u64);

/// Packets between two progress reports.
pub(crate) const PROGRESS_EVERY: u64 = 1 << 14;

/// The leading shard's share of connections, in percent of an equal
/// share. It frames and peeks at every packet of the file and merges; the
/// others only read their own packets where it found them. On
/// `scripts/gen-bench-pcap.py`'s SYN-heavy capture with two threads, the
/// two run the same instructions (callgrind) at 88%, and the same CPU time
/// (`perf record -e cpu-clock`, by thread) at about 85%.
pub const LEADER_SHARE: u64 = 86;

/// The leading shard's share where it reads a merge of captures (the
/// merge itself costs it about 200 instructions a packet): on the
/// SYN-heavy capture split into five pcapng files, two threads ran 613 M
/// and 537 M instructions at 86%, 576 M and 574 M at 78% (callgrind).
/// From standard input, which it copies but does not merge, 86% holds.
pub const MERGE_LEADER_SHARE: u64 = 78;

/// Frames to track: one capture's, or several captures merged by time.
/// Both the one-thread reading loop and `--threads`' leading shard read
/// through it, so a merge of rotated files is sharded as one file is.
pub trait Frames {
    /// With `--threads`, the leading shard's share of connections when it
    /// reads these frames, in percent of an equal share: less the more
    /// reading costs it ([`LEADER_SHARE`], [`MERGE_LEADER_SHARE`]).
    const LEADER_SHARE: u64 = LEADER_SHARE;
    /// The next frame, the number the tracker is fed for it (its number
    /// in the file, for one file) and whether its file is pcapng. An
    /// error ends reading.
    fn next(&mut self) -> Option<Result<(Frame<'_>, u64, bool), LoadError>>;
    /// Bytes read so far.
    fn offset(&self) -> u64;
    /// The file, and the number in it, of the packet fed as `id`.
    fn locate(&self, id: u64) -> (&Path, u64);
    /// An error that stopped part of the input while the rest read on.
    fn take_error(&mut self) -> Option<LoadError>;
}
