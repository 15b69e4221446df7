//! An exchange past the handshake, sans-I/O: a small user-space TCP client
//! that completes the handshake a profile's SYN opened, sends one request
//! and receives the whole response, with the profile's attributes on every
//! segment it sends.
//!
//! The kernel's own TCP cannot be used for this: it would send its own
//! SYN (its TTL, its options), not the profile's. smoltcp was considered
//! (its `socket/tcp.rs` is the model for this module's shape) but it
//! builds its own headers; it cannot carry a profile's TTL, DF, IP ID
//! pattern, option layout or window exactly.
//!
//! As smoltcp's socket, the connection's state is kept in small types, each
//! in its own file and tested alone: sequence numbers compared modulo 2^32
//! (`seq`), deadlines and doubling waits (`timer`), segments held ahead of a
//! gap (`assembler`) and the retransmission timeout from measured round
//! trips (`rtt`).
//!
//! Like the rest of the core, nothing here reads a clock or a socket: the
//! driver (`io::live`) passes time in as a `Duration` since the session
//! started, feeds the segments it captured ([`Exchange::on_segment`]) and
//! sends what [`Exchange::poll`] returns, until [`Exchange::result`] is
//! set. Every connection ends by its own limits (handshake timeout, stall
//! timeout, a ceiling on duration and bytes), so a driver loop over it is
//! bounded.

mod assembler;
pub mod conn;
mod request;
mod rtt;
mod seq;
mod timer;
mod wire;

pub use conn::{check_syn, Exchange, ExchangeResult, ExchangeStats, Limits, NotASyn, Params};
pub use request::{BadRequest, Request};
pub use wire::{emit_segment, IpStyle, TcpHeader};
