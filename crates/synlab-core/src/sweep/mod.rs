//! Sweeps: A/B connectivity of several profiles across many targets, each
//! target's condition in PATHspider's terms (works, broken, transient,
//! offline), and a summary that groups targets by prefix.
//!
//! [`engine::Sweep`] is the state machine the live driver
//! (`cli::cmd_sweep`) runs; [`decide`] turns one target's tallies into a
//! condition; [`summary`] counts and groups what was decided; [`matrix`]
//! merges sweep files from many vantages into one table. No I/O here:
//! the caller sends, receives and owns the clock.

pub mod decide;
pub mod engine;
pub mod matrix;
pub mod summary;
pub mod targets;
pub mod template;

pub use decide::{Condition, SweepParams};
pub use engine::{cookie, Decided, ProbeReq, Sweep, SweepConfig};
pub use summary::{Group, Summary};
