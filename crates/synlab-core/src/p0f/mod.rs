//! p0f v3, in one place: what p0f reads of a packet and the signature it
//! prints, p0f's database of labelled signatures, and profiles to and from
//! signatures.
//!
//! - [`signature`](signature()) and friends (`signature.rs`): the initial TTL
//!   guess, the quirks and the `raw_sig` p0f prints, byte for byte, from
//!   typed [`Headers`]; the decoder stores them as the derived attributes
//!   `synlab.ittl`, `synlab.quirks` and `synlab.p0f`.
//! - [`P0fDb`] (`database.rs`): a p0f.fp's `[tcp:request]` signatures,
//!   matched as p0f matches them, to name a SYN as `p0f -r` would.
//! - [`profile`]: a profile's signature in p0f.fp's database form, and a
//!   profile imported from a signature.
//!
//! Pure: the callers read p0f.fp and the captures.

mod database;
pub mod profile;
mod signature;

pub use database::{Label, Match, P0fDb};
pub use signature::{
    database_signature, guess_ittl, initial_ttl, p0f_sees_nonzero_ack, quirks, signature,
    signature_of, Headers,
};
