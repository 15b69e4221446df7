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
    /// The probe could not be made (a send error, no free port…). The
    /// search retries a few times, then calls the variant unresolved.
    #[error("probe failed: {reason}")]
    Failed { reason: String },
}

/// Answers batches of probes.
pub trait Oracle {
    /// One result per request, in the order of `batch`: the outcome of
    /// sending that SYN once, or why there is none. A live implementation
    /// crafts each request's `spec` with its own volatile values (one
    /// source port per request) and may run the whole batch at once.
    fn probe_batch(&mut self, batch: &[ProbeRequest]) -> Vec<Result<Outcome, OracleError>>;
}

impl<O: Oracle + ?Sized> Oracle for Box<O> {
    fn probe_batch(&mut self, batch: &[ProbeRequest]) -> Vec<Result<Outcome, OracleError>> {
        (**self).probe_batch(batch)
    }
}

/// Drive a search to its end against an oracle; the report.
pub fn run(search: &mut Search, oracle: &mut dyn Oracle) -> Report {
    while let Some(batch) = search.next_batch() {
        if batch.is_empty() {
            break;
        }
        let mut answers = oracle.probe_batch(&batch).into_iter();
        for req in &batch {
            let answer = answers.next().unwrap_or(Err(OracleError::Failed {
                reason: "the oracle gave no answer".into(),
            }));
            search.record(req.id, answer);
        }
    }
    search.report()
}
