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
//! The search defines what it asks of an oracle (the [`Oracle`] trait, in
//! `crate::search`); oracles depend on the search, never the reverse.
//!
//! - [`RuleOracle`]: a simulated middlebox (`--rule`), with seeded loss.
//! - [`RecordedOracle`]: outcomes looked up in a capture (`--recorded`).

mod recorded;
mod rule;

pub use crate::search::{
    run, run_observed, Answer, BatchAnswers, Halted, Oracle, OracleError, ProbeAnswer, ProbeRequest,
};
pub use recorded::{Observation, RecordedBuilder, RecordedOracle};
pub use rule::{Action, PortFilter, RuleOracle};
