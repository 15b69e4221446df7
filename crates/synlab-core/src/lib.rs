//! synlab-core: the sans-I/O core of synlab. Pure functions and state
//! machines over bytes and structs, with the clock passed in: the attribute
//! vocabulary, decoding and crafting, handshakes, diffs, profiles, rules, the
//! outcome search and the exchange state machine.
//!
//! Reading files and captures, sockets, privileges and the tokio driver are
//! in synlab's `io`, the command line in its `cli`; this crate depends on none
//! of the I/O crates, so the compiler keeps it that way.

pub mod columns;
pub mod community_id;
pub mod diff;
pub mod exchange;
pub mod handshake;
pub mod http;
pub mod model;
pub mod oracle;
pub mod p0f;
pub mod probe;
pub mod profile;
pub mod report;
pub mod rule;
pub mod search;
pub mod survey;
pub mod sweep;
pub mod trace;
pub mod wire;
