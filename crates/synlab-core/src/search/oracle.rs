//! What the search asks of whoever answers its probes: the [`Oracle`]
//! trait, its error, and the loop that drives a search against one.
//! Implementations (simulated, recorded, live) live outside the search and
//! depend on it.

use thiserror::Error;

use super::{ProbeRequest, Report, Search};
use crate::handshake::Outcome;

/// Why an oracle has no outcome for a probe.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OracleError {
    /// The oracle does not know this variant (not in the recording). The
    /// search reports the variant as unknown; it does not retry.
    #[error("not in the recording")]
    Unknown,
    /// The oracle has answered this variant with every outcome it holds
    /// (a recording's attempts are each answered once, never replayed):
    /// the search decides on the answers it has, or calls the variant
    /// unknown, and asks no more of it.
    #[error("no more attempts in the recording")]
    Exhausted,
    /// The probe could not be made (a send error, no free port…). The
    /// search retries a few times, then calls the variant unresolved.
    #[error("probe failed: {reason}")]
    Failed { reason: String },
}

/// The oracle cannot answer any more probes (a live one was interrupted by
/// a signal, or lost its capture): the search stops where it is, without a
/// conclusion. Unlike [`OracleError::Failed`], which the search retries,
/// this ends the search, so that no verdict rests on probes never made.
#[derive(Debug, Error)]
#[error(transparent)]
pub struct Halted {
    pub cause: Box<dyn std::error::Error + Send + Sync>,
}

/// One probe's answer: its outcome, and the source port it was sent from
/// when the oracle knows it (a live or simulated one does), so that the
/// report can tell failures that follow the port (a flow hash, a parity
/// rule) from random ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub outcome: Outcome,
    pub src_port: Option<u16>,
}

impl Answer {
    pub fn new(outcome: Outcome, src_port: u16) -> Self {
        Answer {
            outcome,
            src_port: Some(src_port),
        }
    }
}

impl From<Outcome> for Answer {
    /// An answer whose source port is not known.
    fn from(outcome: Outcome) -> Self {
        Answer {
            outcome,
            src_port: None,
        }
    }
}

/// Every probe's answer, in the order of the batch; or the oracle halted.
pub type BatchAnswers = Result<Vec<Result<Answer, OracleError>>, Halted>;

/// Answers batches of probes.
pub trait Oracle {
    /// One result per request, in the order of `batch`: the outcome of
    /// sending that SYN once (with its source port), or why there is none. A live implementation
    /// crafts each request's `spec` with its own volatile values (one
    /// source port per request) and may run the whole batch at once.
    /// `Err(Halted)`: no answer for this batch or any later one.
    fn probe_batch(&mut self, batch: &[ProbeRequest]) -> BatchAnswers;
}

impl<O: Oracle + ?Sized> Oracle for Box<O> {
    fn probe_batch(&mut self, batch: &[ProbeRequest]) -> BatchAnswers {
        (**self).probe_batch(batch)
    }
}

/// Drive a search to its end against an oracle; the report. When the oracle
/// halts, the search stops there and there is no report: a conclusion from
/// a search cut short would rest on probes that were never made.
pub fn run<O: Oracle + ?Sized>(search: &mut Search, oracle: &mut O) -> Result<Report, Halted> {
    run_observed(
        search,
        oracle,
        &mut |_: &Search, _: &mut O, _: &[ProbeRequest], _: &[ProbeAnswer]| {},
    )
}

/// One probe's result, as the oracle gave it.
pub type ProbeAnswer = Result<Answer, OracleError>;

/// What [`drive`] shows each answered batch to: the asker, the oracle,
/// the requests and their answers.
pub type Watch<'a, A, O> = dyn FnMut(&A, &mut O, &[ProbeRequest], &[ProbeAnswer]) + 'a;

/// What [`run_observed`] shows each answered batch to.
pub type Observer<'a, O> = Watch<'a, Search, O>;

/// A state machine that asks an oracle in batches: the search, and the
/// inference after it (`infer::Infer`).
pub trait Asks {
    /// The next batch; `None` or an empty batch when done.
    fn next_batch(&mut self) -> Option<Vec<ProbeRequest>>;
    /// The oracle's answer to probe `id`.
    fn record(&mut self, id: u64, answer: ProbeAnswer);
}

impl Asks for Search {
    fn next_batch(&mut self) -> Option<Vec<ProbeRequest>> {
        Search::next_batch(self)
    }
    fn record(&mut self, id: u64, answer: ProbeAnswer) {
        Search::record(self, id, answer);
    }
}

/// Ask `oracle` every batch `asker` has until it is done, showing each
/// answered batch to `observe` before it is recorded. A batch the oracle
/// answers short is filled with failures, so every probe is recorded.
pub fn drive<A: Asks, O: Oracle + ?Sized>(
    asker: &mut A,
    oracle: &mut O,
    observe: &mut Watch<'_, A, O>,
) -> Result<(), Halted> {
    while let Some(batch) = asker.next_batch() {
        if batch.is_empty() {
            break;
        }
        let mut answers = oracle.probe_batch(&batch)?;
        answers.resize_with(batch.len(), || {
            Err(OracleError::Failed {
                reason: "the oracle gave no answer".into(),
            })
        });
        observe(asker, oracle, &batch, &answers);
        for (req, answer) in batch.iter().zip(answers) {
            asker.record(req.id, answer);
        }
    }
    Ok(())
}

/// [`run`], showing each answered batch to `observe` before the search
/// records it: the search (for [`Search::rounds`] and
/// [`Search::variant_label`]), the oracle (a live one may hand over the
/// batch's frames), the requests and their answers, in order. The annotated
/// pcapng and the report's timeline are written from this.
pub fn run_observed<O: Oracle + ?Sized>(
    search: &mut Search,
    oracle: &mut O,
    observe: &mut Observer<'_, O>,
) -> Result<Report, Halted> {
    drive(search, oracle, observe)?;
    Ok(search.report())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attributes, Field};
    use crate::search::SearchOptions;

    /// Answers the first batch (TTL 128 dropped), then halts, as a live
    /// oracle does on Ctrl-C.
    struct HaltsAfterOne {
        batches: u32,
    }

    impl Oracle for HaltsAfterOne {
        fn probe_batch(&mut self, batch: &[ProbeRequest]) -> BatchAnswers {
            self.batches += 1;
            if self.batches > 1 {
                return Err(Halted {
                    cause: "interrupted by SIGINT".into(),
                });
            }
            let dropped = |r: &ProbeRequest| r.crafted.get(Field::IpTtl) == Some(&128u8.into());
            Ok(batch
                .iter()
                .map(|r| {
                    Ok(Answer::from(if dropped(r) {
                        Outcome::NoReply
                    } else {
                        Outcome::SynAck
                    }))
                })
                .collect())
        }
    }

    /// Regression: an interrupted live search went on (the interruption was
    /// a failed probe, retried) and could print a conclusion.
    #[test]
    fn a_halt_ends_the_search_without_a_report() {
        let good = crate::model::craft::linux_example();
        let mut bad: Attributes = good.clone();
        bad.insert(Field::IpTtl, 128u8);
        // A second difference, so that the search needs a second batch.
        bad.insert(Field::TcpWindowSizeValue, 8192u16);
        let mut search =
            Search::new(&good, &bad, SearchOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let mut oracle = HaltsAfterOne { batches: 0 };
        let halted = run(&mut search, &mut oracle);
        assert!(halted.is_err());
        assert_eq!(oracle.batches, 2, "no batch after the halt");
    }
}
