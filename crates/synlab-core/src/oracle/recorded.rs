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

/// One recorded attempt as [`RecordedOracle`] keeps it: its SYN's
/// behavioural attributes and what it got. Made on the thread that tracked
/// the attempt, so that a recording of any size is read as a stream and
/// only these are kept, never the attempts.
#[derive(Debug, Clone)]
pub struct Observation {
    key: Key,
    answer: Answer,
}

impl Observation {
    pub fn of(attempt: &Attempt) -> Self {
        let port = attempt
            .syn
            .get(Field::TcpSrcport)
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok());
        Observation {
            key: key(&attempt.syn),
            answer: Answer {
                outcome: attempt.flow_outcome(),
                src_port: port,
            },
        }
    }
}

/// Gathers a recording's [`Observation`]s in the order they finish (with
/// threads, not the file's) and hands them out in the file's order.
#[derive(Debug, Default)]
pub struct RecordedBuilder {
    outcomes: HashMap<Key, Vec<(usize, Answer)>>,
}

impl RecordedBuilder {
    /// The attempt whose first SYN is the `index`-th of the recording.
    pub fn add(&mut self, index: usize, seen: Observation) {
        let answers = self.outcomes.entry(seen.key).or_default();
        answers.push((index, seen.answer));
    }

    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    pub fn finish(self) -> RecordedOracle {
        let outcomes = self
            .outcomes
            .into_iter()
            .map(|(key, mut answers)| {
                answers.sort_unstable_by_key(|(index, _)| *index);
                (key, answers.into_iter().map(|(_, a)| a).collect())
            })
            .collect();
        RecordedOracle {
            outcomes,
            next: HashMap::new(),
        }
    }
}

impl RecordedOracle {
    pub fn from_attempts(attempts: &[Attempt]) -> Self {
        let mut builder = RecordedBuilder::default();
        for (index, a) in attempts.iter().enumerate() {
            builder.add(index, Observation::of(a));
        }
        builder.finish()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::Outcome;

    fn seen(ttl: u8, outcome: Outcome, port: u16) -> Observation {
        let mut syn = Attributes::new();
        syn.insert(Field::IpTtl, ttl);
        Observation {
            key: key(&syn),
            answer: Answer::new(outcome, port),
        }
    }

    #[test]
    fn observations_added_out_of_order_are_answered_in_the_files_order() {
        let mut b = RecordedBuilder::default();
        assert!(b.is_empty());
        // As threads finish them: the third attempt first.
        b.add(2, seen(64, Outcome::NoReply, 3));
        b.add(0, seen(64, Outcome::SynAck, 1));
        b.add(1, seen(128, Outcome::Reset, 2));
        let mut oracle = b.finish();
        assert_eq!(oracle.len(), 2);
        let mut syn = Attributes::new();
        syn.insert(Field::IpTtl, 64u8);
        assert_eq!(oracle.answer(&syn), Ok(Answer::new(Outcome::SynAck, 1)));
        assert_eq!(oracle.answer(&syn), Ok(Answer::new(Outcome::NoReply, 3)));
        assert_eq!(oracle.answer(&syn), Err(OracleError::Exhausted));
        syn.insert(Field::IpTtl, 32u8);
        assert_eq!(oracle.answer(&syn), Err(OracleError::Unknown));
    }
}
