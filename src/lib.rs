//! synlab: diff two TCP/IP stacks' handshakes attribute by attribute, and find
//! which differences change the outcome.
//!
//! The sans-I/O core (`columns`, `diff`, `exchange`, `handshake`, `http`,
//! `model`, `oracle`, `p0f`, `probe`, `profile`, `report`, `rule`, `search`,
//! `survey`, `wire`) is the crate synlab-core, re-exported here under the same
//! paths, so `synlab::model::...` means what it did: pure functions over bytes
//! and structs. I/O lives in `io` and the command line in `cli`.

pub mod cli;
pub mod io;

pub use synlab_core::{
    columns, diff, exchange, handshake, http, model, oracle, p0f, probe, profile, report, rule,
    search, survey, sweep, trace, wire,
};
