//! Choosing one attempt in a capture: `FILE`, `FILE#N` or `FILE@IP`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use thiserror::Error;

use crate::handshake::Attempt;

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
    /// The attempt this spec names among a file's attempts, with its index.
    pub fn pick<'a>(&self, attempts: &'a [Attempt]) -> Result<(usize, &'a Attempt), SpecError> {
        let spec = self.to_string();
        match self.which {
            Which::First => attempts
                .first()
                .map(|a| (0, a))
                .ok_or(SpecError::NoAttempts { spec }),
            Which::Index(index) => {
                attempts
                    .get(index)
                    .map(|a| (index, a))
                    .ok_or(SpecError::NoSuchIndex {
                        spec,
                        index,
                        count: attempts.len(),
                    })
            }
            Which::Client(ip) => attempts
                .iter()
                .enumerate()
                .find(|(_, a)| a.client.ip() == ip)
                .ok_or(SpecError::NoSuchClient { spec, ip }),
        }
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
