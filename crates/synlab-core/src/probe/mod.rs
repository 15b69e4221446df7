//! Live probes, sans-I/O: planning SYNs (source ports, sequence numbers,
//! bytes), pacing them, and matching what comes back to the probe it answers.
//!
//! Nothing here sends, receives or reads a clock: the driver in
//! `io::live` passes time in (as a `Duration` since the run started) and
//! feeds decoded frames, so the whole state machine runs on virtual time in
//! unit tests, without root.

mod guard;
mod matcher;
mod plan;
mod rtt;

pub use guard::{check_target, in_lab_ranges, Refusal, TargetRefused};
pub use matcher::{mark_injected, Matcher, ProbeResult, Relation};
pub use plan::{for_family, plan, retry_packet, send_offset, PlanError, Planned, PortRange};
pub use rtt::{RttEstimator, DEFAULT_MIN_TIMEOUT};
