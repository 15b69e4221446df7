//! What a sweep found, counted and grouped: targets per condition, broken
//! targets per failing profile, and, for every condition but `works`, the
//! targets that share a condition and failing profiles merged into the
//! largest prefixes they fill ("256 targets in 198.19.1.0/24 broken for
//! windows-10").
//!
//! Grouping merges buddies (two halves of a prefix make the prefix) as
//! targets are added, in any order, so its memory is the number of
//! prefixes, not of targets: a fleet broken in whole blocks stays small.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::decide::Condition;

/// Targets that share a condition and failing profiles, in one prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    pub condition: Condition,
    pub failing: Vec<String>,
    /// The culprit sets that explain the failing profiles (`sweep
    /// --bisect-broken`): `ip.ttl`, `a+b`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub culprits: Vec<String>,
    /// `198.19.1.0/24`; a single target is a /32 (/128).
    pub prefix: String,
    pub targets: u64,
}

/// Prefixes of one IP version: start address -> length.
#[derive(Clone, Debug, Default)]
struct Blocks {
    v6: bool,
    set: BTreeSet<(u128, u8)>,
}

impl Blocks {
    fn bits(&self) -> u8 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    /// Add one address, merging with its buddy while there is one.
    fn add(&mut self, addr: u128) {
        let bits = self.bits();
        let (mut start, mut len) = (addr, bits);
        while len > 0 {
            let size = 1u128 << (bits - len);
            let buddy = start ^ size;
            if !self.set.remove(&(buddy, len)) {
                break;
            }
            start &= !size;
            len -= 1;
        }
        self.set.insert((start, len));
    }

    fn prefixes(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        let bits = self.bits();
        self.set.iter().map(move |&(start, len)| {
            let ip = match self.v6 {
                true => IpAddr::V6(Ipv6Addr::from(start)),
                false => IpAddr::V4(Ipv4Addr::from(start as u32)),
            };
            let n = 1u64.checked_shl(u32::from(bits - len)).unwrap_or(u64::MAX);
            (format!("{ip}/{len}"), n)
        })
    }
}

/// The sweep's totals so far.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub by_condition: BTreeMap<Condition, u64>,
    /// Broken targets per failing profile.
    pub by_failing: BTreeMap<String, u64>,
    /// Broken targets per culprit set (`sweep --bisect-broken`).
    pub by_culprit: BTreeMap<String, u64>,
    groups: BTreeMap<(Condition, Vec<String>, Vec<String>, bool), Blocks>,
}

impl Summary {
    /// Count one decided target; `failing` names its failing profiles.
    pub fn add(&mut self, target: IpAddr, condition: Condition, failing: &[String]) {
        self.add_explained(target, condition, failing, &[]);
    }

    /// Count one decided target with the culprit sets that explain its
    /// failure: targets are grouped only with those of the same culprits.
    pub fn add_explained(
        &mut self,
        target: IpAddr,
        condition: Condition,
        failing: &[String],
        culprits: &[String],
    ) {
        for c in culprits {
            *self.by_culprit.entry(c.clone()).or_default() += 1;
        }
        *self.by_condition.entry(condition).or_default() += 1;
        for name in failing {
            *self.by_failing.entry(name.clone()).or_default() += 1;
        }
        if condition == Condition::Works {
            return;
        }
        let (v6, addr) = match target.to_canonical() {
            IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
            IpAddr::V6(v6) => (true, u128::from(v6)),
        };
        self.groups
            .entry((condition, failing.to_vec(), culprits.to_vec(), v6))
            .or_insert_with(|| Blocks {
                v6,
                set: BTreeSet::new(),
            })
            .add(addr);
    }

    /// Targets decided.
    pub fn total(&self) -> u64 {
        self.by_condition.values().sum()
    }

    /// Every group, largest first within each condition and failing set.
    pub fn groups(&self) -> Vec<Group> {
        let mut out = Vec::new();
        for ((condition, failing, culprits, _), blocks) in &self.groups {
            let mut these: Vec<Group> = blocks
                .prefixes()
                .map(|(prefix, targets)| Group {
                    condition: *condition,
                    failing: failing.clone(),
                    culprits: culprits.clone(),
                    prefix,
                    targets,
                })
                .collect();
            these.sort_by_key(|g| std::cmp::Reverse(g.targets));
            out.extend(these);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_whole_block_in_any_order_is_one_prefix() {
        let mut s = Summary::default();
        let w = vec!["windows-10".to_owned()];
        for i in (0..256u32).rev() {
            s.add(ip(&format!("198.19.1.{i}")), Condition::Broken, &w);
        }
        s.add(ip("198.19.2.70"), Condition::Offline, &[]);
        s.add(ip("198.19.2.71"), Condition::Offline, &[]);
        s.add(ip("198.19.2.72"), Condition::Offline, &[]);
        s.add(ip("198.19.5.5"), Condition::Works, &[]);
        let g = s.groups();
        assert_eq!(
            g.iter()
                .map(|g| (g.prefix.as_str(), g.targets))
                .collect::<Vec<_>>(),
            vec![
                ("198.19.1.0/24", 256),
                ("198.19.2.70/31", 2),
                ("198.19.2.72/32", 1)
            ]
        );
        assert_eq!(s.by_failing.get("windows-10"), Some(&256));
        assert_eq!(s.total(), 260);
    }

    #[test]
    fn culprits_split_a_block_and_are_counted() {
        let mut s = Summary::default();
        let w = vec!["windows-10".to_owned()];
        let ttl = vec!["ip.ttl".to_owned()];
        for i in 0..4u32 {
            s.add_explained(ip(&format!("198.19.1.{i}")), Condition::Broken, &w, &ttl);
        }
        s.add(ip("198.19.1.4"), Condition::Broken, &w);
        let g = s.groups();
        let seen: Vec<_> = g
            .iter()
            .map(|g| (g.prefix.as_str(), g.culprits.clone()))
            .collect();
        assert_eq!(
            seen,
            vec![("198.19.1.4/32", vec![]), ("198.19.1.0/30", ttl.clone())]
        );
        assert_eq!(s.by_culprit.get("ip.ttl"), Some(&4));
    }
}
