//! SIGINT, SIGTERM and SIGHUP during live commands.
//!
//! A live command holds things the process must give back: an nftables
//! table, raw sockets, a half-written pcap. Once [`Signals::watch`] ran,
//! these signals no longer end the process where it stands; they are
//! delivered to the driver, which stops sending, removes the table and
//! returns [`Interrupted`]. The command then exits with the status a shell
//! gives a process killed by the signal (128 + its number: 130, 143, 129),
//! and a search that was interrupted prints no conclusion.

use std::io;

use thiserror::Error;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// A signal that stops a live command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    /// Ctrl-C.
    Interrupt,
    /// `kill`, a service manager stopping us.
    Terminate,
    /// The terminal went away.
    Hangup,
    /// The reader of our output went away (`probe ... | head -3`): not a
    /// signal we catch (Rust ignores SIGPIPE), but a write that failed with
    /// a broken pipe, which stops the live work as SIGPIPE would have.
    Pipe,
}

impl StopSignal {
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
            StopSignal::Pipe => "SIGPIPE (the output's reader is gone)",
        }
    }

    pub fn number(self) -> i32 {
        match self {
            StopSignal::Interrupt => libc::SIGINT,
            StopSignal::Terminate => libc::SIGTERM,
            StopSignal::Hangup => libc::SIGHUP,
            StopSignal::Pipe => libc::SIGPIPE,
        }
    }

    /// What a shell reports for a process this signal killed: 128 + N.
    pub fn exit_code(self) -> u8 {
        // Signal numbers of these four are 1, 2, 13 and 15.
        128u8.saturating_add(u8::try_from(self.number()).unwrap_or(0))
    }
}

/// A live command stopped because of a signal.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[error("interrupted by {}", .0.name())]
pub struct Interrupted(pub StopSignal);

/// The three stop signals, watched. Create it inside a tokio runtime
/// (`Runtime::enter`), before anything that needs cleaning up exists.
#[derive(Debug)]
pub struct Signals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Signals {
    /// From now on, for the rest of the process, these signals are
    /// delivered here instead of ending it (tokio keeps its handlers), so
    /// every live command must watch them while it runs.
    pub fn watch() -> io::Result<Self> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next stop signal (one that arrived since the last call counts).
    pub async fn recv(&mut self) -> StopSignal {
        loop {
            let got = tokio::select! {
                s = self.int.recv() => s.map(|()| StopSignal::Interrupt),
                s = self.term.recv() => s.map(|()| StopSignal::Terminate),
                s = self.hup.recv() => s.map(|()| StopSignal::Hangup),
            };
            match got {
                Some(s) => return s,
                // A stream ends only when its runtime shuts down: nothing
                // more will come.
                None => std::future::pending::<()>().await,
            }
        }
    }
}

/// The signal that stopped a command, if one did: the first [`Interrupted`]
/// in an error's chain.
pub fn interrupted_by(e: &anyhow::Error) -> Option<StopSignal> {
    e.chain()
        .find_map(|c| c.downcast_ref::<Interrupted>())
        .map(|i| i.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!(StopSignal::Interrupt.exit_code(), 130);
        assert_eq!(StopSignal::Terminate.exit_code(), 143);
        assert_eq!(StopSignal::Hangup.exit_code(), 129);
        assert_eq!(StopSignal::Pipe.exit_code(), 141);
    }

    #[test]
    fn found_anywhere_in_the_chain() {
        let e = anyhow::Error::new(Interrupted(StopSignal::Hangup)).context("bisect stopped");
        assert_eq!(interrupted_by(&e), Some(StopSignal::Hangup));
        assert_eq!(e.to_string(), "bisect stopped");
        let other = anyhow::anyhow!("something else");
        assert_eq!(interrupted_by(&other), None);
    }
}
