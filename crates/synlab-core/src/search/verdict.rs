//! Turning repeated probes of one variant into a verdict: counts, a pass
//! rate with its interval, and a confidence.
//!
//! The noise model. A probe's exchange may be lost on the path (which
//! turns any answer into no-reply), and a middlebox may act on only some
//! flows: those from some source ports (a flow hash, a parity rule) or a
//! share of them at random. So an outcome is not a fact about a SYN but a
//! *rate*: the share of probes, each from its own source port, that got the
//! good side's outcome (its *pass rate*). Then:
//!
//! - **Baselines.** Good and bad are probed at least `min_probes` times
//!   each, then in growing rounds, until Fisher's exact test says bad's pass
//!   rate is lower than good's (p ≤ `alpha`), or `max_probes` each. 6/6
//!   against 3/6 is not yet a difference; 12/12 against 6/12 is. A bad side
//!   that fails only sometimes is *intermittent*; one that never failed, or
//!   never showed a difference, has nothing to explain.
//! - **Variants.** Each is tested with Wald's SPRT between good's rate and
//!   bad's (each known only as far as the baselines' counts show, so no
//!   single probe is a certainty), with error `alpha` each way: it stops as
//!   soon as it is sure, after three probes when the sides are 100% and 0%,
//!   more at 50% intermittent failure or under loss. A variant whose rate the test
//!   cannot place within `max_probes` is unresolved.
//! - A failing variant's outcome is the answer it failed with (its most
//!   frequent one other than good's, answers before no-reply, since loss
//!   only makes silence): when that is a third answer (bad resets, the
//!   variant is refused with ICMP), the variant is neither pass nor fail.
//!   Silence alone is taken as bad's failure, as loss can hide its answer.
//! - Errors of the oracle are retried; three that outnumber the answers
//!   make the variant unresolved. A variant the oracle does not know (not
//!   in a recording) is unknown, and so is one whose recorded attempts
//!   ran out before the test could place it.
//! - A recording holds what it holds: when a baseline's attempts run out
//!   before `min_probes`, the test is made on the attempts there are. If
//!   that shows no difference although bad failed, the baselines are
//!   [`Baselines::TooFew`]: a lead to follow, never a conclusion.

use std::collections::BTreeMap;

use serde::Serialize;

use super::oracle::Answer;
use super::stats::{fisher_greater, posterior, sprt, Sprt};
use crate::handshake::Outcome;

/// Parameters of the tests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TestParams {
    /// The error each test may have at most (Fisher's p-value for the
    /// baselines, each way of a variant's SPRT).
    pub alpha: f64,
    /// Probes at least (the baselines'; variants start with what the SPRT
    /// could decide on).
    pub min_probes: u32,
    /// Probes at most.
    pub max_probes: u32,
}

/// What one variant's probes gave so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub outcomes: Vec<(Outcome, u32)>,
    /// Each answered probe's source port, when the oracle said, with its
    /// outcome: the evidence for a port pattern.
    pub ports: Vec<(u16, Outcome)>,
    pub unknown: u32,
    /// The oracle has no more answers for this variant
    /// ([`super::OracleError::Exhausted`]): ask it for none.
    pub exhausted: bool,
    pub errors: u32,
    pub last_error: Option<String>,
    /// Of the observations, answers that came after their probe had been
    /// counted as no-reply ([`Tally::answer_late`]): a sweep under load.
    pub late: u32,
}

impl Tally {
    pub fn add(&mut self, a: Answer) {
        match self.outcomes.iter_mut().find(|(x, _)| *x == a.outcome) {
            Some((_, n)) => *n += 1,
            None => self.outcomes.push((a.outcome, 1)),
        }
        if let Some(port) = a.src_port {
            self.ports.push((port, a.outcome));
        }
    }

    /// A probe already counted as no-reply was answered after all (its
    /// answer arrived after its timeout): that no-reply becomes `a`'s
    /// outcome, and its port's evidence too. The probe is still counted
    /// once. Whether there was a no-reply to replace (none: nothing
    /// changes).
    pub fn answer_late(&mut self, a: Answer) -> bool {
        let Some(i) = self
            .outcomes
            .iter()
            .position(|&(o, n)| o == Outcome::NoReply && n > 0)
        else {
            return false;
        };
        if a.outcome == Outcome::NoReply {
            return true;
        }
        self.outcomes[i].1 -= 1;
        if self.outcomes[i].1 == 0 {
            self.outcomes.remove(i);
        }
        match self.outcomes.iter_mut().find(|(x, _)| *x == a.outcome) {
            Some((_, n)) => *n += 1,
            None => self.outcomes.push((a.outcome, 1)),
        }
        if let Some(port) = a.src_port {
            // The probe's own no-reply from that port (its last: a port
            // comes round again only much later).
            let own = self
                .ports
                .iter()
                .rposition(|&(p, o)| p == port && o == Outcome::NoReply);
            match own {
                Some(j) => self.ports[j].1 = a.outcome,
                None => self.ports.push((port, a.outcome)),
            }
        }
        self.late += 1;
        true
    }

    /// Probes that got `o`.
    pub fn count(&self, o: Outcome) -> u32 {
        self.outcomes
            .iter()
            .find(|(x, _)| *x == o)
            .map_or(0, |(_, n)| *n)
    }

    /// Observations (answers and no-replies), not errors.
    pub fn observed(&self) -> u32 {
        self.outcomes.iter().map(|(_, n)| n).sum()
    }

    /// Every probe asked for, errors and unknowns included.
    pub fn probes(&self) -> u32 {
        self.observed() + self.unknown + self.errors
    }

    /// The most frequent outcome other than `not`, answers before
    /// no-reply (loss makes silence, never an answer); `None` when every
    /// observation was `not`.
    pub fn dominant_except(&self, not: Option<Outcome>) -> Option<Outcome> {
        let mut others: Vec<(Outcome, u32)> = self
            .outcomes
            .iter()
            .filter(|(o, _)| Some(*o) != not)
            .copied()
            .collect();
        // Stable: the first seen wins a tie.
        others.sort_by_key(|(o, n)| (*o == Outcome::NoReply, std::cmp::Reverse(*n)));
        others.first().map(|(o, _)| *o)
    }

    /// Counts by outcome text (`syn-ack`, `icmp 3/13`, …).
    pub fn counts(&self) -> BTreeMap<String, u32> {
        let mut m = BTreeMap::new();
        for (o, n) in &self.outcomes {
            m.insert(o.to_string(), *n);
        }
        if self.unknown > 0 {
            m.insert("unknown".into(), self.unknown);
        }
        if self.errors > 0 {
            m.insert("error".into(), self.errors);
        }
        m
    }

    /// Why this tally can give no verdict, if it cannot.
    fn unusable(&self, p: &TestParams) -> Option<Verdict> {
        if self.unknown > 0 {
            return Some(Verdict::Unknown);
        }
        let n = self.observed();
        let exhausted = self.probes() >= p.max_probes.max(1);
        if self.errors >= 3 && self.errors > n || (exhausted && n == 0) {
            return Some(Verdict::Unresolved {
                reason: format!(
                    "the oracle failed {} times: {}",
                    self.errors,
                    self.last_error.as_deref().unwrap_or("no answer")
                ),
            });
        }
        None
    }
}

/// A variant's verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The variant's outcome (good's when it passes, the failure it shows
    /// when it fails), with the probability it is right.
    Outcome { outcome: Outcome, confidence: f64 },
    /// Not sent (cannot be built), or no verdict from its probes.
    Unresolved { reason: String },
    /// The oracle does not know this variant (not in the recording).
    Unknown,
}

impl Verdict {
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            Verdict::Outcome { outcome, .. } => Some(*outcome),
            _ => None,
        }
    }

    pub fn confidence(&self) -> f64 {
        match self {
            Verdict::Outcome { confidence, .. } => *confidence,
            _ => 0.0,
        }
    }
}

/// Either a verdict, or how many more probes to send.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Decided(Verdict),
    More(u32),
}

/// The two baselines' rates once they differ: what every variant is
/// tested against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    /// Good's outcome: a probe *passes* when it gets this.
    pub reference: Outcome,
    /// The outcome bad fails with (its most frequent other than good's).
    pub failure: Outcome,
    /// Good's passes and probes.
    pub good: (u32, u32),
    /// Bad's passes and probes.
    pub bad: (u32, u32),
    /// Fisher's one-sided p-value of "bad passes less often than good".
    pub p_value: f64,
}

/// Which baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Good,
    Bad,
}

/// What the baselines say so far.
#[derive(Clone, Debug, PartialEq)]
pub enum Baselines {
    /// Probe each side this many more times.
    More { good: u32, bad: u32 },
    /// Bad passes less often than good.
    Differ(Rates),
    /// No difference shown: bad never failed, or not significantly more
    /// often than good within `max_probes` (the p-value).
    Same { outcome: Outcome, p_value: f64 },
    /// One side has no verdict at all.
    Unusable { side: Side, verdict: Verdict },
    /// Bad failed, but the oracle ran out of answers before the test could
    /// show that it fails more often than good (a recording with few
    /// attempts): the rates as far as they go, `p_value` above `alpha`.
    TooFew(Rates),
}

/// Good's outcome: its most frequent answer (no-reply only when nothing
/// answered).
fn reference(good: &Tally) -> Outcome {
    good.dominant_except(None).unwrap_or(Outcome::NoReply)
}

/// Compare the baselines' pass rates with Fisher's exact test.
pub fn baselines(good: &Tally, bad: &Tally, p: &TestParams) -> Baselines {
    for (side, t) in [(Side::Good, good), (Side::Bad, bad)] {
        if let Some(verdict) = t.unusable(p) {
            return Baselines::Unusable { side, verdict };
        }
    }
    let min = p.min_probes.max(1);
    let cap = p.max_probes.max(min);
    let (ng, nb) = (good.observed(), bad.observed());
    // What the oracle can still give each side.
    let left = |t: &Tally| match t.exhausted {
        true => 0,
        false => cap.saturating_sub(t.probes()),
    };
    let (more_g, more_b) = (
        min.saturating_sub(ng).min(left(good)),
        min.saturating_sub(nb).min(left(bad)),
    );
    if more_g > 0 || more_b > 0 {
        return Baselines::More {
            good: more_g,
            bad: more_b,
        };
    }
    let reference = reference(good);
    let (kg, kb) = (good.count(reference), bad.count(reference));
    let p_value = fisher_greater(kg, ng, kb, nb);
    let failure = bad
        .dominant_except(Some(reference))
        .unwrap_or(Outcome::NoReply);
    if p_value <= p.alpha {
        return Baselines::Differ(Rates {
            reference,
            failure,
            good: (kg, ng),
            bad: (kb, nb),
            p_value,
        });
    }
    let (left_g, left_b) = (left(good), left(bad));
    let bad_lower = u64::from(kb) * u64::from(ng) < u64::from(kg) * u64::from(nb);
    if bad_lower && left_g == 0 && left_b == 0 && (good.exhausted || bad.exhausted) {
        return Baselines::TooFew(Rates {
            reference,
            failure,
            good: (kg, ng),
            bad: (kb, nb),
            p_value,
        });
    }
    if kb == nb || (left_g == 0 && left_b == 0) {
        return Baselines::Same {
            outcome: reference,
            p_value,
        };
    }
    // Grow both sides by half again: a few rounds reach any size.
    let step = |n: u32, left: u32| (n / 2).max(2).min(left);
    Baselines::More {
        good: step(ng, left_g),
        bad: step(nb, left_b),
    }
}

/// The verdict of a variant against the baselines' rates: the SPRT, or
/// how many more probes could let it decide.
pub fn classify(t: &Tally, rates: &Rates, p: &TestParams) -> Decision {
    if let Some(verdict) = t.unusable(p) {
        return Decision::Decided(verdict);
    }
    let (n, k) = (t.observed(), t.count(rates.reference));
    let test = |k: u32, n: u32| sprt(k, n, rates.good, rates.bad, p.alpha);
    match test(k, n) {
        Sprt::Pass(llr) => Decision::Decided(Verdict::Outcome {
            outcome: rates.reference,
            confidence: posterior(llr),
        }),
        Sprt::Fail(llr) => {
            let shown = t
                .dominant_except(Some(rates.reference))
                .unwrap_or(Outcome::NoReply);
            let outcome = if shown == Outcome::NoReply {
                rates.failure
            } else {
                shown
            };
            Decision::Decided(Verdict::Outcome {
                outcome,
                confidence: posterior(llr),
            })
        }
        // The recording holds no more of it: too few to place it.
        Sprt::Continue(_) if t.exhausted => Decision::Decided(Verdict::Unknown),
        Sprt::Continue(_) => {
            let left = p.max_probes.max(1).saturating_sub(t.probes());
            if left == 0 {
                return Decision::Decided(Verdict::Unresolved {
                    reason: format!(
                        "its pass rate ({k}/{n} {}) is placed near neither good's nor bad's",
                        rates.reference
                    ),
                });
            }
            // Enough further probes for the test to decide if they pass at
            // good's rate, and also if they pass at bad's: under loss or
            // intermittence one round then decides most variants (a probe
            // round costs a round trip and a timeout, live).
            let mean = |(s, t): (u32, u32)| (f64::from(s) + 0.5) / (f64::from(t) + 1.0);
            // Rounded against the decision: a little slack for chance.
            let passes = |rate: f64, m: u32| (f64::from(m) * rate).floor() as u32;
            let fails = |rate: f64, m: u32| (f64::from(m) * rate).ceil() as u32;
            let decides = |m: u32| {
                let pass = passes(mean(rates.good), m);
                let fail = fails(mean(rates.bad), m).min(m);
                matches!(test(k + pass, n + m), Sprt::Pass(_))
                    && matches!(test(k + fail, n + m), Sprt::Fail(_))
            };
            let m = (1..=left).find(|&m| decides(m)).unwrap_or(left);
            Decision::More(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(outcomes: &[(Outcome, u32)]) -> Tally {
        let mut t = Tally::default();
        for &(outcome, n) in outcomes {
            for _ in 0..n {
                t.add(Answer {
                    outcome,
                    src_port: None,
                });
            }
        }
        t
    }

    /// A late answer turns one no-reply into its outcome (counts and port
    /// evidence), the probe counted once; with no no-reply it changes
    /// nothing.
    #[test]
    fn a_late_answer_replaces_one_no_reply() {
        let mut t = Tally::default();
        t.add(Answer::new(Outcome::SynAck, 40000));
        t.add(Answer::new(Outcome::NoReply, 40001));
        t.add(Answer::new(Outcome::NoReply, 40002));
        assert!(t.answer_late(Answer::new(Outcome::SynAck, 40001)));
        assert_eq!(t.count(Outcome::SynAck), 2);
        assert_eq!(t.count(Outcome::NoReply), 1);
        assert_eq!((t.observed(), t.late), (3, 1));
        assert_eq!(
            t.ports,
            vec![
                (40000, Outcome::SynAck),
                (40001, Outcome::SynAck),
                (40002, Outcome::NoReply)
            ]
        );
        assert!(t.answer_late(Answer::new(Outcome::SynAck, 40002)));
        // No no-reply left: no zero count shown either.
        assert_eq!(t.outcomes, vec![(Outcome::SynAck, 3)]);
        assert!(!t.answer_late(Answer::new(Outcome::SynAck, 40003)));
        assert_eq!((t.observed(), t.late), (3, 2));
    }

    /// Issue 21: an exchange answered `404` is `http-error`, no longer
    /// `complete`; like any outcome it is a failure only where the
    /// baselines differ in it: both sides' 404 (a wrong path) is the same
    /// answer, good's download against bad's 403 is a difference.
    #[test]
    fn an_http_error_fails_only_where_the_baselines_differ_in_it() {
        let p = TestParams {
            alpha: 0.01,
            min_probes: 12,
            max_probes: 40,
        };
        let not_found = Outcome::HttpError { status: 404 };
        let both = baselines(&tally(&[(not_found, 12)]), &tally(&[(not_found, 12)]), &p);
        assert!(
            matches!(both, Baselines::Same { outcome, .. } if outcome == not_found),
            "{both:?}"
        );
        let forbidden = Outcome::HttpError { status: 403 };
        let good = tally(&[(Outcome::Complete, 12)]);
        match baselines(&good, &tally(&[(forbidden, 12)]), &p) {
            Baselines::Differ(r) => {
                assert_eq!((r.reference, r.failure), (Outcome::Complete, forbidden))
            }
            other => panic!("{other:?}"),
        }
    }
}
