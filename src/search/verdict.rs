//! The sequential test that turns repeated probes of one variant into a
//! verdict with counts and a confidence.
//!
//! The noise model: the path may lose a probe or its answer (with a
//! probability of at most `max_loss`), which turns any answer into
//! no-reply; it never invents an answer. So:
//!
//! - an answer (syn-ack, reset, icmp) is conclusive: one is enough, and the
//!   verdict's confidence is 1;
//! - no-reply is concluded only after `n` probes all went unanswered with
//!   `max_loss^n <= alpha`; its confidence is `1 - max_loss^n`. Probes are
//!   asked for adaptively: one first, then the rest needed to reach `n` in
//!   one batch (they run concurrently);
//! - answers of different kinds for one variant (a flaky middlebox) break
//!   the model: the variant is probed up to `max_probes` times and the
//!   verdict is the answer seen in at least two thirds of the answers, with
//!   that share as its confidence; otherwise it is unresolved.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::handshake::Outcome;

/// Parameters of the sequential test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TestParams {
    /// The worst loss rate to allow for (0 ≤ max_loss < 1).
    pub max_loss: f64,
    /// The error a no-reply verdict may have at most.
    pub alpha: f64,
    /// Probes at least (the baselines take more than the other variants).
    pub min_probes: u32,
    /// Probes at most.
    pub max_probes: u32,
}

impl TestParams {
    /// Unanswered probes needed to conclude no-reply.
    pub fn no_reply_probes(&self) -> u32 {
        if self.max_loss <= 0.0 {
            return 1;
        }
        let n = (self.alpha.ln() / self.max_loss.ln()).ceil();
        if n.is_finite() && n >= 1.0 {
            (n as u32).min(self.max_probes.max(1))
        } else {
            self.max_probes.max(1)
        }
    }
}

/// What one variant's probes gave so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub outcomes: Vec<(Outcome, u32)>,
    pub unknown: u32,
    pub errors: u32,
    pub last_error: Option<String>,
}

impl Tally {
    pub fn add(&mut self, o: Outcome) {
        match self.outcomes.iter_mut().find(|(x, _)| *x == o) {
            Some((_, n)) => *n += 1,
            None => self.outcomes.push((o, 1)),
        }
    }

    /// Observations (answers and no-replies), not errors.
    pub fn observed(&self) -> u32 {
        self.outcomes.iter().map(|(_, n)| n).sum()
    }

    /// Every probe asked for, errors and unknowns included.
    pub fn probes(&self) -> u32 {
        self.observed() + self.unknown + self.errors
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
}

/// A variant's verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The variant's outcome, with the probability it is right under the noise model.
    Outcome { outcome: Outcome, confidence: f64 },
    /// Not sent (cannot be built) or no consistent answer.
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

/// Apply the sequential test to a tally.
pub fn decide(t: &Tally, p: &TestParams) -> Decision {
    if t.unknown > 0 {
        return Decision::Decided(Verdict::Unknown);
    }
    let n = t.observed();
    let asked = t.probes();
    let cap = p.max_probes.max(1);
    let exhausted = asked >= cap;
    let replies: Vec<(Outcome, u32)> = t
        .outcomes
        .iter()
        .filter(|(o, _)| *o != Outcome::NoReply)
        .copied()
        .collect();
    if t.errors >= 3 && t.errors > n || (exhausted && n == 0) {
        return Decision::Decided(Verdict::Unresolved {
            reason: format!(
                "the oracle failed {} times: {}",
                t.errors,
                t.last_error.as_deref().unwrap_or("no answer")
            ),
        });
    }
    let left = cap.saturating_sub(asked);
    let need_min = p.min_probes.saturating_sub(n);
    match replies.len() {
        0 => {
            let miss = p.max_loss.powi(n as i32);
            if (n >= p.min_probes && miss <= p.alpha) || exhausted {
                Decision::Decided(Verdict::Outcome {
                    outcome: Outcome::NoReply,
                    confidence: 1.0 - miss,
                })
            } else if n == 0 {
                Decision::More(p.min_probes.max(1).min(left))
            } else {
                let want = p.no_reply_probes().max(p.min_probes).saturating_sub(n);
                Decision::More(want.max(1).min(left))
            }
        }
        1 if need_min == 0 => Decision::Decided(Verdict::Outcome {
            outcome: replies[0].0,
            confidence: 1.0,
        }),
        1 => Decision::More(need_min.min(left).max(1)),
        _ if !exhausted => Decision::More(left.min(asked.max(2))),
        _ => {
            let total: u32 = replies.iter().map(|(_, c)| c).sum();
            let (top, count) = replies
                .iter()
                .copied()
                .max_by_key(|(_, c)| *c)
                .unwrap_or((Outcome::NoReply, 0));
            let share = f64::from(count) / f64::from(total.max(1));
            if share >= 2.0 / 3.0 {
                Decision::Decided(Verdict::Outcome {
                    outcome: top,
                    confidence: share,
                })
            } else {
                let counts: Vec<String> =
                    t.counts().iter().map(|(k, v)| format!("{k} {v}")).collect();
                Decision::Decided(Verdict::Unresolved {
                    reason: format!("inconsistent answers ({})", counts.join(", ")),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: TestParams = TestParams {
        max_loss: 0.5,
        alpha: 0.01,
        min_probes: 1,
        max_probes: 20,
    };

    fn tally(items: &[(Outcome, u32)]) -> Tally {
        let mut t = Tally::default();
        for (o, n) in items {
            for _ in 0..*n {
                t.add(*o);
            }
        }
        t
    }

    #[test]
    fn one_answer_is_enough() {
        let d = decide(&tally(&[(Outcome::SynAck, 1)]), &P);
        assert_eq!(
            d,
            Decision::Decided(Verdict::Outcome {
                outcome: Outcome::SynAck,
                confidence: 1.0
            })
        );
        let d = decide(&tally(&[(Outcome::NoReply, 2), (Outcome::Reset, 1)]), &P);
        assert_eq!(d.clone(), d);
        assert!(matches!(
            d,
            Decision::Decided(Verdict::Outcome {
                outcome: Outcome::Reset,
                ..
            })
        ));
    }

    #[test]
    fn no_reply_needs_seven_at_half_loss() {
        assert_eq!(P.no_reply_probes(), 7);
        assert_eq!(decide(&Tally::default(), &P), Decision::More(1));
        assert_eq!(
            decide(&tally(&[(Outcome::NoReply, 1)]), &P),
            Decision::More(6)
        );
        let d = decide(&tally(&[(Outcome::NoReply, 7)]), &P);
        let Decision::Decided(v) = d else {
            panic!("undecided")
        };
        assert_eq!(v.outcome(), Some(Outcome::NoReply));
        assert!((v.confidence() - (1.0 - 0.5f64.powi(7))).abs() < 1e-12);
    }

    #[test]
    fn baselines_take_their_minimum() {
        let p = TestParams { min_probes: 3, ..P };
        assert_eq!(decide(&Tally::default(), &p), Decision::More(3));
        assert_eq!(
            decide(&tally(&[(Outcome::SynAck, 1)]), &p),
            Decision::More(2)
        );
    }

    #[test]
    fn mixed_answers_take_more_probes_then_a_majority() {
        let t = tally(&[(Outcome::SynAck, 1), (Outcome::Reset, 1)]);
        assert_eq!(decide(&t, &P), Decision::More(2));
        let t = tally(&[(Outcome::SynAck, 15), (Outcome::Reset, 5)]);
        let Decision::Decided(v) = decide(&t, &P) else {
            panic!("undecided")
        };
        assert_eq!(v.outcome(), Some(Outcome::SynAck));
        let t = tally(&[(Outcome::SynAck, 10), (Outcome::Reset, 10)]);
        assert!(matches!(
            decide(&t, &P),
            Decision::Decided(Verdict::Unresolved { .. })
        ));
    }
}
