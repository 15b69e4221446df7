//! Outcomes looked up in a capture that holds many attempts.

use std::collections::HashMap;

use super::{Answer, BatchAnswers, Oracle, OracleError, ProbeRequest};
use crate::handshake::Attempt;
use crate::model::{Attr, Attributes, Field, Value};
use crate::search::units::bisectable;

type Key = Vec<(Attr, Value)>;

fn key(a: &Attributes) -> Key {
    bisectable(a).iter().map(|(k, v)| (k, v.clone())).collect()
}

/// Answers a probe with the outcome of a recorded attempt whose SYN has the
/// same behavioural attributes (derived and volatile ones aside): its
/// handshake's answer, or `stalled` when its flow hung after the handshake
/// ([`Attempt::flow_outcome`]). When several attempts match, successive
/// probes get their outcomes in turn, each attempt once: a recording
/// answers only what it holds, so one attempt is one observation, never
/// twelve. A SYN the capture does not hold is [`OracleError::Unknown`]; one
/// whose attempts have all been answered is [`OracleError::Exhausted`].
#[derive(Debug, Default)]
pub struct RecordedOracle {
    outcomes: HashMap<Key, Vec<Answer>>,
    next: HashMap<Key, usize>,
}

impl RecordedOracle {
    pub fn from_attempts(attempts: &[Attempt]) -> Self {
        let mut outcomes: HashMap<Key, Vec<Answer>> = HashMap::new();
        for a in attempts {
            let port = a
                .syn
                .get(Field::TcpSrcport)
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok());
            let answer = Answer {
                outcome: a.flow_outcome(),
                src_port: port,
            };
            outcomes.entry(key(&a.syn)).or_default().push(answer);
        }
        RecordedOracle {
            outcomes,
            next: HashMap::new(),
        }
    }

    /// Distinct SYNs in the recording.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// The next unanswered attempt of this SYN.
    fn answer(&mut self, crafted: &Attributes) -> Result<Answer, OracleError> {
        let k = key(crafted);
        let list = self.outcomes.get(&k).ok_or(OracleError::Unknown)?;
        let i = self.next.entry(k).or_default();
        let answer = list.get(*i).copied().ok_or(OracleError::Exhausted)?;
        *i += 1;
        Ok(answer)
    }
}

impl Oracle for RecordedOracle {
    fn probe_batch(&mut self, batch: &[ProbeRequest]) -> BatchAnswers {
        Ok(batch.iter().map(|req| self.answer(&req.crafted)).collect())
    }
}
