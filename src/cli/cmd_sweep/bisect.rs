//! `sweep --bisect-broken`: why each broken target fails, at a bounded
//! cost. Broken targets that share their failing profiles and their /24
//! (/64) are one group; its first target is bisected (the search of
//! `synlab bisect`, live, one session), and the others only confirm the
//! culprit with a few probes each of the failing profile's SYN with the
//! culprit's attributes set to the passing profile's: it passes where the
//! culprit is the same. A group of 256 targets costs one bisect and 768
//! probes instead of 256 bisects.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result};

use super::super::messages::message;
use crate::handshake::Outcome;
use crate::io::live_oracle::LiveOracle;
use crate::model::{Attr, Attributes};
use crate::oracle::{Oracle, ProbeRequest};
use crate::search::{Conclusion, Search, SearchOptions};
use crate::sweep::Decided;

/// Probes of the fixed SYN per confirmed target.
const CONFIRM_PROBES: usize = 3;
/// Of them, passes that confirm the culprit (one loss is forgiven).
const CONFIRM_PASSES: usize = 2;

/// How a broken target's culprits were found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum How {
    /// The target was bisected.
    Bisected,
    /// The bisect of `by` (same group) gave the culprits; fixing them made
    /// this target pass.
    Confirmed { by: IpAddr },
    /// Fixing `by`'s culprits did not make this target pass: its culprits
    /// are unknown.
    Unconfirmed { by: IpAddr },
    /// No culprits: the bisect did not conclude, or could not run.
    Failed { why: String },
}

impl How {
    /// The row's `"culprits_by"` value.
    pub fn name(&self) -> &'static str {
        match self {
            How::Bisected => "bisected",
            How::Confirmed { .. } => "confirmed",
            How::Unconfirmed { .. } => "unconfirmed",
            How::Failed { .. } => "failed",
        }
    }

    /// The representative whose bisect this rests on (none for itself).
    pub fn by(&self) -> Option<IpAddr> {
        match self {
            How::Confirmed { by } | How::Unconfirmed { by } => Some(*by),
            _ => None,
        }
    }
}

/// A broken target's explanation.
#[derive(Clone, Debug)]
pub struct Explained {
    /// Each culprit set, as attribute names (empty unless bisected or
    /// confirmed).
    pub culprits: Vec<Vec<String>>,
    pub how: How,
}

impl Explained {
    /// The culprit sets for the summary: `ip.ttl`, `a+b`.
    pub fn labels(&self) -> Vec<String> {
        self.culprits.iter().map(|set| set.join("+")).collect()
    }
}

/// What the bisects need: the profiles' SYNs and one live session (over
/// the sweep's sockets), retargeted for each probe.
pub struct Bisector<'a> {
    pub attrs: &'a [Attributes],
    pub oracle: LiveOracle,
}

/// A group's key: its failing profiles and its /24 (/64).
fn group_key(d: &Decided) -> (Vec<usize>, IpAddr) {
    let net = match d.target.ip() {
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & 0xffff_ff00).into()),
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
    };
    (d.failing.clone(), net)
}

/// Broken targets grouped, in the order their groups first appeared.
pub fn groups(held: Vec<Decided>) -> Vec<Vec<Decided>> {
    let mut order: Vec<(Vec<usize>, IpAddr)> = Vec::new();
    let mut by: BTreeMap<(Vec<usize>, IpAddr), Vec<Decided>> = BTreeMap::new();
    for d in held {
        let key = group_key(&d);
        if !by.contains_key(&key) {
            order.push(key.clone());
        }
        by.entry(key).or_default().push(d);
    }
    order.into_iter().filter_map(|k| by.remove(&k)).collect()
}

impl Bisector<'_> {
    /// One group: its first target bisected, the others confirmed; each
    /// target with its explanation, in the group's order.
    pub fn group(&mut self, members: Vec<Decided>) -> Vec<(Decided, Explained)> {
        let Some(first) = members.first() else {
            return Vec::new();
        };
        let rep = first.target;
        let Some((good, bad)) = pair(first) else {
            return explain_all(members, "no passing profile to bisect against".into());
        };
        let found = self
            .bisect(rep, good, bad)
            .with_context(|| format!("bisecting at {rep}"));
        let culprits = match found {
            Ok(Some(c)) => c,
            Ok(None) => return explain_all(members, "the bisect found no culprit".into()),
            Err(e) => {
                message!("sweep --bisect-broken: {e:#}");
                return explain_all(members, format!("{e:#}"));
            }
        };
        let fixed = fixed_syn(&self.attrs[bad], &self.attrs[good], &culprits);
        members
            .into_iter()
            .map(|d| {
                let how = match d.target == rep {
                    true => How::Bisected,
                    false => self.confirm(&d, &fixed, rep.ip()),
                };
                let culprits = match how {
                    How::Bisected | How::Confirmed { .. } => names(&culprits),
                    _ => Vec::new(),
                };
                (d, Explained { culprits, how })
            })
            .collect()
    }

    /// The search between `good` and `bad` at `target`, in one session;
    /// its culprit sets, if it found some.
    fn bisect(
        &mut self,
        target: SocketAddr,
        good: usize,
        bad: usize,
    ) -> Result<Option<Vec<Vec<Attr>>>> {
        let opts = SearchOptions::default();
        let mut search = Search::new(&self.attrs[good], &self.attrs[bad], opts)?;
        self.oracle.session_mut().retarget(target);
        let report = crate::search::run(&mut search, &mut self.oracle)?;
        Ok((report.conclusion == Conclusion::Culprits).then_some(report.culprits))
    }

    /// A few probes of the fixed SYN at `d`'s target: confirmed when most
    /// pass as the target's passing profile did.
    fn confirm(&mut self, d: &Decided, fixed: &Attributes, by: IpAddr) -> How {
        let Some(reference) = d.reference else {
            return How::Unconfirmed { by };
        };
        match self.passes(d.target, fixed, reference) {
            Ok(n) if n >= CONFIRM_PASSES => How::Confirmed { by },
            Ok(_) => How::Unconfirmed { by },
            Err(e) => {
                message!("sweep --bisect-broken: confirming at {}: {e:#}", d.target);
                How::Failed {
                    why: format!("{e:#}"),
                }
            }
        }
    }

    /// How many of `CONFIRM_PROBES` SYNs of `spec` pass with `reference`.
    fn passes(
        &mut self,
        target: SocketAddr,
        spec: &Attributes,
        reference: Outcome,
    ) -> Result<usize> {
        let batch: Vec<ProbeRequest> = (0..CONFIRM_PROBES as u64)
            .map(|id| ProbeRequest {
                id,
                variant: 0,
                spec: spec.clone(),
                crafted: spec.clone(),
            })
            .collect();
        self.oracle.session_mut().retarget(target);
        let passed = self
            .oracle
            .probe_batch(&batch)?
            .iter()
            .filter(|a| a.as_ref().is_ok_and(|a| a.outcome == reference))
            .count();
        Ok(passed)
    }
}

/// A passing profile and the first failing one.
fn pair(d: &Decided) -> Option<(usize, usize)> {
    let bad = *d.failing.first()?;
    let good = (0..d.tallies.len()).find(|i| !d.failing.contains(i))?;
    Some((good, bad))
}

/// Every member without culprits, for the same reason.
fn explain_all(members: Vec<Decided>, why: String) -> Vec<(Decided, Explained)> {
    members
        .into_iter()
        .map(|d| {
            let how = How::Failed { why: why.clone() };
            (
                d,
                Explained {
                    culprits: Vec::new(),
                    how,
                },
            )
        })
        .collect()
}

fn names(culprits: &[Vec<Attr>]) -> Vec<Vec<String>> {
    culprits
        .iter()
        .map(|set| set.iter().map(ToString::to_string).collect())
        .collect()
}

/// `bad`'s SYN with every culprit attribute as `good` has it (removed
/// where good has none): the SYN that passes where the culprit is the same.
fn fixed_syn(bad: &Attributes, good: &Attributes, culprits: &[Vec<Attr>]) -> Attributes {
    let mut fixed = bad.clone();
    for &attr in culprits.iter().flatten() {
        match good.get(attr) {
            Some(v) => fixed.insert(attr, v.clone()),
            None => {
                fixed.remove(attr);
            }
        }
    }
    fixed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    fn broken(ip: &str, failing: Vec<usize>) -> Decided {
        Decided {
            target: SocketAddr::new(ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}")), 80),
            condition: crate::sweep::Condition::Broken,
            reference: Some(Outcome::SynAck),
            failing,
            tallies: Vec::new(),
        }
    }

    #[test]
    fn groups_are_per_24_and_failing_profiles_in_first_seen_order() {
        let held = vec![
            broken("198.19.1.7", vec![1]),
            broken("198.19.2.1", vec![1]),
            broken("198.19.1.200", vec![1]),
            broken("198.19.1.9", vec![0]),
        ];
        let got: Vec<Vec<String>> = groups(held)
            .iter()
            .map(|g| g.iter().map(|d| d.target.ip().to_string()).collect())
            .collect();
        assert_eq!(
            got,
            vec![
                vec!["198.19.1.7".to_owned(), "198.19.1.200".to_owned()],
                vec!["198.19.2.1".to_owned()],
                vec!["198.19.1.9".to_owned()],
            ]
        );
    }

    #[test]
    fn the_fixed_syn_takes_the_culprits_from_good_and_keeps_the_rest() {
        let mut good = Attributes::new();
        good.insert(Field::IpTtl, 64u8);
        good.insert(Field::TcpWindowSizeValue, 100u16);
        let mut bad = Attributes::new();
        bad.insert(Field::IpTtl, 128u8);
        bad.insert(Field::TcpWindowSizeValue, 200u16);
        let fixed = fixed_syn(&bad, &good, &[vec![Attr::from(Field::IpTtl)]]);
        assert_eq!(fixed.get(Field::IpTtl), Some(&64u8.into()));
        assert_eq!(fixed.get(Field::TcpWindowSizeValue), Some(&200u16.into()));
    }
}
