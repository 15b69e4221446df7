//! A simulated middlebox: a rule picks the SYNs it acts on.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{BatchAnswers, Oracle, ProbeRequest};
use crate::handshake::Outcome;
use crate::model::rule::Rule;

/// What the middlebox does to a matching SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Silently drop: no reply.
    Drop,
    /// Answer with a TCP reset.
    Reset,
    /// Answer with ICMP destination unreachable, administratively prohibited (3/13).
    Icmp,
}

impl Action {
    pub fn outcome(self) -> Outcome {
        match self {
            Action::Drop => Outcome::NoReply,
            Action::Reset => Outcome::Reset,
            Action::Icmp => Outcome::Icmp {
                icmp_type: 3,
                code: 13,
            },
        }
    }
}

/// Applies `action` to SYNs matching `rule` (on their crafted attributes)
/// and answers syn-ack otherwise. With probability `loss` a probe's
/// exchange is lost (the SYN or its answer), which turns any answer into
/// no-reply. The RNG is seeded, so a run is reproducible.
#[derive(Debug)]
pub struct RuleOracle {
    rule: Rule,
    action: Action,
    loss: f64,
    rng: StdRng,
}

impl RuleOracle {
    pub fn new(rule: Rule, action: Action, loss: f64, seed: u64) -> Self {
        RuleOracle {
            rule,
            action,
            loss: loss.clamp(0.0, 1.0),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The answer without loss.
    pub fn truth(&self, req: &ProbeRequest) -> Outcome {
        if self.rule.eval(&req.crafted) {
            self.action.outcome()
        } else {
            Outcome::SynAck
        }
    }
}

impl Oracle for RuleOracle {
    fn probe_batch(&mut self, batch: &[ProbeRequest]) -> BatchAnswers {
        Ok(batch
            .iter()
            .map(|req| {
                let lost = self.rng.gen::<f64>() < self.loss;
                Ok(if lost {
                    Outcome::NoReply
                } else {
                    self.truth(req)
                })
            })
            .collect())
    }
}
