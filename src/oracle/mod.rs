//! Oracles: who answers the search's probes.
//!
//! The interface is one call per batch: the search hands over a batch of
//! independent probes ([`ProbeRequest`]), the oracle answers each, in
//! order. A live oracle sends a batch concurrently (distinct source ports,
//! rate-bounded) and blocks until every probe has an answer or timed out;
//! the simulated and recorded oracles here answer at once. Repeats and
//! noise handling are the search's business, not the oracle's: an oracle
//! answers each probe once, as it happened.
//!
//! - [`RuleOracle`]: a simulated middlebox (`--rule`), with seeded loss.
//! - [`RecordedOracle`]: outcomes looked up in a capture (`--recorded`).

mod recorded;
mod rule;

use thiserror::Error;

pub use crate::search::ProbeRequest;
use crate::search::{Report, Search};
pub use recorded::RecordedOracle;
pub use rule::{Action, RuleOracle};

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
