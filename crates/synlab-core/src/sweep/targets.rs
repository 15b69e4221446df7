//! Sweep targets: a CIDR prefix walked address by address, or lines of a
//! list (an address a line; blank lines and `#` comments skipped). Both
//! are iterators, so a sweep never holds its target list.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

/// The most addresses one prefix may hold: a /8 (16,777,216), so a typo
/// (`/4` for `/24`) is refused rather than swept for days.
pub const MAX_PREFIX_TARGETS: u128 = 1 << 24;

/// Why a target or prefix is not one.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TargetError {
    #[error("line {line}: '{text}' is not an IP address")]
    BadLine { line: u64, text: String },
    #[error("'{text}' is not a CIDR prefix (ADDRESS/LENGTH, e.g. 198.19.0.0/20)")]
    BadPrefix { text: String },
    #[error("{prefix} holds {addresses} addresses; at most {max} (a /8) per sweep")]
    TooLarge {
        prefix: String,
        addresses: u128,
        max: u128,
    },
}

/// A prefix's addresses in order, from its first (the network address)
/// to its last.
#[derive(Clone, Debug)]
pub struct Prefix {
    v6: bool,
    next: u128,
    last: u128,
    done: bool,
}

impl Prefix {
    /// `198.19.0.0/20`, `2001:2::/120`; host bits set are cleared.
    pub fn parse(text: &str) -> Result<Prefix, TargetError> {
        let bad = || TargetError::BadPrefix { text: text.into() };
        let (addr, len) = text.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let len: u32 = len.parse().map_err(|_| bad())?;
        let (v6, bits, value) = match addr {
            IpAddr::V4(a) => (false, 32, u128::from(u32::from(a))),
            IpAddr::V6(a) => (true, 128, u128::from(a)),
        };
        if len > bits {
            return Err(bad());
        }
        let host = bits - len;
        let addresses = 1u128.checked_shl(host).unwrap_or(u128::MAX);
        if addresses > MAX_PREFIX_TARGETS {
            return Err(TargetError::TooLarge {
                prefix: text.into(),
                addresses,
                max: MAX_PREFIX_TARGETS,
            });
        }
        let first = value & !(addresses - 1);
        Ok(Prefix {
            v6,
            next: first,
            last: first + (addresses - 1),
            done: false,
        })
    }

    fn ip(&self, v: u128) -> IpAddr {
        match self.v6 {
            true => IpAddr::V6(Ipv6Addr::from(v)),
            false => IpAddr::V4(Ipv4Addr::from(v as u32)),
        }
    }

    /// The first and last address (what a guard checks: a prefix is inside
    /// a range when both ends are).
    pub fn ends(&self) -> (IpAddr, IpAddr) {
        (self.ip(self.next), self.ip(self.last))
    }

    /// Addresses left.
    pub fn remaining(&self) -> u128 {
        match self.done {
            true => 0,
            false => self.last - self.next + 1,
        }
    }
}

impl Iterator for Prefix {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        if self.done {
            return None;
        }
        let ip = self.ip(self.next);
        if self.next == self.last {
            self.done = true;
        } else {
            self.next += 1;
        }
        Some(ip)
    }
}

/// One line of a target list: `Ok(None)` for a blank line or a comment.
pub fn parse_line(line_no: u64, line: &str) -> Result<Option<IpAddr>, TargetError> {
    let text = line.split('#').next().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| TargetError::BadLine {
        line: line_no,
        text: text.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_walks_every_address_once() {
        let p = Prefix::parse("198.19.1.7/30").unwrap_or_else(|e| panic!("{e}"));
        let all: Vec<String> = p.map(|a| a.to_string()).collect();
        assert_eq!(
            all,
            ["198.19.1.4", "198.19.1.5", "198.19.1.6", "198.19.1.7"]
        );
        let p = Prefix::parse("198.19.0.0/20").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.remaining(), 4096);
        assert_eq!(p.ends().1.to_string(), "198.19.15.255");
        assert_eq!(Prefix::parse("2001:2::/127").map(|p| p.count()), Ok(2));
        assert_eq!(Prefix::parse("198.19.9.9/32").map(|p| p.count()), Ok(1));
    }

    #[test]
    fn typos_are_refused_with_the_reason() {
        assert!(matches!(
            Prefix::parse("10.0.0.0/4"),
            Err(TargetError::TooLarge { .. })
        ));
        assert!(matches!(
            Prefix::parse("198.19.0.0"),
            Err(TargetError::BadPrefix { .. })
        ));
        assert!(matches!(
            Prefix::parse("198.19.0.0/33"),
            Err(TargetError::BadPrefix { .. })
        ));
        assert_eq!(parse_line(3, "  # comment"), Ok(None));
        assert_eq!(
            parse_line(4, "198.19.0.1 # edge"),
            Ok(Some(
                "198.19.0.1".parse().unwrap_or_else(|_| unreachable!())
            ))
        );
        assert_eq!(
            parse_line(5, "host.example"),
            Err(TargetError::BadLine {
                line: 5,
                text: "host.example".into()
            })
        );
    }
}
