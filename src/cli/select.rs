//! Choosing one attempt in a capture: `FILE`, `FILE#N` or `FILE@IP`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use thiserror::Error;

use super::threads::Threads;
use crate::handshake::{Attempt, Limits};
use crate::io::load::{stream_inputs, LoadError, Loaded};

/// Which attempt of a capture a command means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptSpec {
    pub path: PathBuf,
    pub which: Which,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Which {
    /// The first attempt.
    First,
    /// Attempt N, counting from 0.
    Index(usize),
    /// The first attempt from this client address.
    Client(IpAddr),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("{spec}: holds no connection attempt")]
    NoAttempts { spec: String },
    #[error("{spec}: attempt {index} does not exist; the file holds {count} (numbered from 0)")]
    NoSuchIndex {
        spec: String,
        index: usize,
        count: usize,
    },
    #[error("{spec}: no attempt from client {ip}")]
    NoSuchClient { spec: String, ip: IpAddr },
}

impl FromStr for AttemptSpec {
    type Err = std::convert::Infallible;

    /// A suffix that does not parse (`#x`, `@notanip`) is part of the file name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((path, n)) = s.rsplit_once('#') {
            if let Ok(n) = n.parse() {
                return Ok(AttemptSpec {
                    path: path.into(),
                    which: Which::Index(n),
                });
            }
        }
        if let Some((path, ip)) = s.rsplit_once('@') {
            if let Ok(ip) = ip.trim_start_matches('[').trim_end_matches(']').parse() {
                return Ok(AttemptSpec {
                    path: path.into(),
                    which: Which::Client(ip),
                });
            }
        }
        Ok(AttemptSpec {
            path: s.into(),
            which: Which::First,
        })
    }
}

impl std::fmt::Display for AttemptSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        match self.which {
            Which::First => Ok(()),
            Which::Index(n) => write!(f, "#{n}"),
            Which::Client(ip) => write!(f, "@{ip}"),
        }
    }
}

impl AttemptSpec {
    /// Read the capture (as `load` does: a file, a directory of them, `-`)
    /// and keep only the attempt this spec names, the others dropped as
    /// they finish: naming one attempt of a large capture does not hold
    /// them all (issue 25: `diff BIG#5 …` held every attempt of BIG, 1.2
    /// GB at 200k). The count of all is kept for [`AttemptSpec::chosen`].
    pub fn load(&self, threads: Threads) -> Result<Loaded, LoadError> {
        let files = std::slice::from_ref(&self.path);
        let threads = threads.for_files(files);
        let mut best: Option<(usize, Box<Attempt>)> = None;
        let all = |a: Box<Attempt>| Some(a);
        let summary = stream_inputs(
            files,
            Limits::default(),
            threads,
            &mut |_| {},
            &all,
            |i, a| {
                let wanted = match self.which {
                    Which::First => i == 0,
                    Which::Index(n) => i == n,
                    // The first by index: attempts finish out of that order.
                    Which::Client(ip) => a.client.ip() == ip,
                };
                if wanted && best.as_ref().is_none_or(|(b, _)| i < *b) {
                    best = Some((i, a));
                }
                Ok::<(), LoadError>(())
            },
        )?;
        let (numbers, attempts) = best.map(|(i, a)| (i, *a)).into_iter().unzip();
        Ok(Loaded {
            path: summary.path,
            attempts,
            numbers,
            total_attempts: summary.attempts,
            packets: summary.packets,
            skipped: summary.skipped,
            error: summary.error,
            warnings: summary.warnings,
            more_warnings: summary.more_warnings,
        })
    }

    /// The attempt [`AttemptSpec::load`] kept, with its index in the
    /// capture, or why there is none.
    pub fn chosen<'a>(&self, loaded: &'a Loaded) -> Result<(usize, &'a Attempt), SpecError> {
        if let Some(found) = loaded.numbered().next() {
            return Ok(found);
        }
        let spec = self.to_string();
        Err(match self.which {
            Which::First => SpecError::NoAttempts { spec },
            Which::Index(index) => SpecError::NoSuchIndex {
                spec,
                index,
                count: loaded.total_attempts,
            },
            Which::Client(ip) => SpecError::NoSuchClient { spec, ip },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> AttemptSpec {
        s.parse().unwrap_or_else(|e| match e {})
    }

    #[test]
    fn suffixes() {
        assert_eq!(spec("a.pcap").which, Which::First);
        assert_eq!(spec("a.pcap#3").which, Which::Index(3));
        assert_eq!(spec("a.pcap#3").path, PathBuf::from("a.pcap"));
        assert_eq!(
            spec("a.pcap@10.0.0.1").which,
            Which::Client("10.0.0.1".parse().unwrap_or_else(|_| unreachable!()))
        );
        assert_eq!(spec("a.pcap@fd00::2").path, PathBuf::from("a.pcap"));
        assert_eq!(spec("we#ird.pcap").which, Which::First);
        assert_eq!(spec("we#ird.pcap").path, PathBuf::from("we#ird.pcap"));
    }
}
