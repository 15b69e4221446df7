//! `--threads N`, its own leaf so that the argument structs and the code
//! that reads captures both import it.

use std::path::PathBuf;

/// `--threads N`, defined once for every command that reads captures as a
/// stream.
#[derive(Clone, Copy, Debug, Default, clap::Args)]
pub struct Threads {
    /// Track with N threads (default: the machine's cores, at most 4, for
    /// captures of 32 MiB or more in all, one file or several merged; 1 for
    /// less, or standard input). Packets are shared out by connection, so
    /// each thread sees whole flows; the output is byte for byte the one of
    /// `--threads 1`.
    #[arg(long = "threads", value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    asked: Option<u64>,
}

impl Threads {
    /// The threads to track `files` with: `--threads` when given; unless
    /// asked, every core on large captures, one on small ones
    /// (docs/PERFORMANCE.md).
    pub fn for_files(self, files: &[PathBuf]) -> usize {
        self.asked.map_or_else(
            || crate::io::load::default_threads(files),
            |n| usize::try_from(n).unwrap_or(1),
        )
    }

    /// Whether `--threads` was given: a command that then reads no capture
    /// says so instead of ignoring it.
    pub fn given(self) -> bool {
        self.asked.is_some()
    }

    /// The error when `--threads` was given and nothing is read from a
    /// capture.
    pub fn refuse_unused(self, why: &str) -> anyhow::Result<()> {
        match self.given() {
            true => anyhow::bail!("--threads: nothing is read from a capture here ({why})"),
            false => Ok(()),
        }
    }
}
