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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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

/// Watches standard output, when it is a pipe or a socket, for its reader
/// going away, and sets `gone` then: `probe ... | head -3` against a
/// silent target writes nothing until the end, so no write would fail.
/// The watch ends when the returned value is dropped.
pub struct OutputWatch {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often the watch polls.
const WATCH_EVERY_MS: i32 = 50;

impl OutputWatch {
    pub fn stdout(gone: Arc<AtomicBool>) -> OutputWatch {
        let done = Arc::new(AtomicBool::new(false));
        let thread = stdout_is_a_pipe().then(|| {
            let done = done.clone();
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    if reader_gone(libc::STDOUT_FILENO) {
                        gone.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            })
        });
        OutputWatch { done, thread }
    }
}

impl Drop for OutputWatch {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Standard output is a FIFO or a socket (a terminal or a file has no
/// reader to lose, and poll(2) on a file is always ready).
fn stdout_is_a_pipe() -> bool {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat writes a stat into the memory given, for our own fd.
    let rc = unsafe { libc::fstat(libc::STDOUT_FILENO, st.as_mut_ptr()) };
    if rc != 0 {
        return false;
    }
    // SAFETY: filled by fstat above (rc 0).
    let mode = unsafe { st.assume_init() }.st_mode & libc::S_IFMT;
    mode == libc::S_IFIFO || mode == libc::S_IFSOCK
}

/// Whether the reader of `fd` went away: poll(2) reports an error or a
/// hang-up on the write end (waits up to [`WATCH_EVERY_MS`]).
fn reader_gone(fd: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: one pollfd of ours, its count 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, WATCH_EVERY_MS) };
    rc > 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP) != 0
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
