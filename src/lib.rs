//! synlab: diff two TCP/IP stacks' handshakes attribute by attribute, and find
//! which differences change the outcome.
//!
//! The core (`wire`, `model`, `rule`, `p0f`, `handshake`, `columns`, `http`, `diff`,
//! `profile`, `search`, `oracle`, `probe`, `report`, `survey`) is sans-I/O: pure functions over
//! bytes and structs. I/O lives in `io` and the command line in `cli`.

pub mod cli;
pub mod columns;
pub mod diff;
pub mod exchange;
pub mod handshake;
pub mod http;
pub mod io;
pub mod model;
pub mod oracle;
pub mod p0f;
pub mod probe;
pub mod profile;
pub mod report;
pub mod rule;
pub mod search;
pub mod survey;
pub mod wire;
