//! The command line: arguments, dispatch, exit codes.
//!
//! Exit codes follow diff(1): 0 no (behavioural) difference or success, 1
//! differences found, 2 trouble. A broken pipe (`synlab … | head`) is not
//! trouble.

mod args;
mod bisect_infer;
mod bundle;
mod cmd_bisect;
mod cmd_capture;
mod cmd_craft;
mod cmd_impact;
mod cmd_matrix;
mod cmd_probe;
mod cmd_profiles;
mod cmd_rule;
mod cmd_stalls;
mod cmd_survey;
mod cmd_sweep;
mod cmd_trace;
mod commands;
mod edit_args;
mod fields;
mod live_args;
mod messages;
pub mod output;
mod progress;
mod recording;
mod select;
pub mod sink;
mod status;
mod threads;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;
pub use select::{AttemptSpec, SpecError};
pub use status::Status;

/// Parse the arguments, run the command, and turn the result into an exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_tracing(cli.verbose);
    // Buffered: a JSON document of a large capture is millions of small writes.
    let mut out = io::BufWriter::with_capacity(1 << 16, raw_stdout());
    let status = match commands::dispatch(&cli, &mut out) {
        Ok(status) => status,
        Err(e) if is_broken_pipe(&e) => Status::Ok,
        Err(e) => {
            let _ = out.flush();
            messages::message!("{}", error_chain(&e));
            // Stopped by a signal: the status a shell gives a process the
            // signal killed (130, 143, 129), once the cleanup is done.
            if let Some(signal) = crate::io::interrupt::interrupted_by(&e) {
                return ExitCode::from(signal.exit_code());
            }
            Status::Trouble
        }
    };
    if let Err(e) = out.flush() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            messages::message!("{e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::from(status as u8)
}

/// Standard output without std's line buffering: our own buffer is flushed
/// in 64 KiB blocks, and the line writer under `io::stdout()` scanned each
/// block for its last newline (3% of a large `handshakes --json`, issue
/// 13). Falls back to `io::stdout()` if the descriptor cannot be cloned.
fn raw_stdout() -> Box<dyn Write> {
    use std::os::fd::AsFd;
    match io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(_) => Box::new(io::stdout().lock()),
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SYNLAB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        // Colour codes only for a person at a terminal: a log file or a
        // pipe (`2>log`, `2>&1 | grep`) gets plain text, as does NO_COLOR.
        .with_ansi(io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .without_time()
        .try_init();
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// One line: the error and its causes, joined as `a: b: c`, without
/// repeating a cause a message already contains.
fn error_chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
