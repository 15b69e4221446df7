//! Where synlab speaks on standard error, apart from the data on standard
//! output (as ripgrep's `messages`): every line starts `synlab: `, so a
//! person or a script tells ours from a library's. A capture's skipped
//! packets and the error that stopped reading it are reported here, after
//! the data they concern.

use std::path::Path;

use super::status::Status;
use crate::io::load::{LoadError, Loaded, Summary, Warning};

/// One line on standard error, `synlab: ` and the formatted message, its
/// control characters escaped: a message may quote a file or the wire (a
/// profile's line, an HTTP target), and must not drive the terminal.
macro_rules! message {
    ($($arg:tt)*) => {
        eprintln!(
            "synlab: {}",
            $crate::cli::output::printable(&format!($($arg)*))
        )
    };
}
pub(crate) use message;

/// Print the packets a capture skipped with a warning, one line each
/// (`synlab: FILE: packet N: skipped: WHY`), then how many more there were.
fn print_warning_lines(path: &Path, warnings: &[Warning], more: u64) {
    for w in warnings {
        message!("{w}");
    }
    if more > 0 {
        message!(
            "{}: {more} more packets skipped with warnings",
            path.display(),
        );
    }
}

/// The status once a capture's data was printed: its warnings and the
/// error that stopped reading it reported; an error makes it trouble.
pub fn finish(loaded: &Loaded, status: Status) -> Status {
    report(
        &loaded.path,
        &loaded.warnings,
        loaded.more_warnings,
        loaded.error.as_ref(),
        loaded.packets,
        status,
    )
}

/// [`report`] for a streamed read: its summary's warnings and error.
pub fn summarize(summary: &Summary, status: Status) -> Status {
    report(
        &summary.path,
        &summary.warnings,
        summary.more_warnings,
        summary.error.as_ref(),
        summary.packets,
        status,
    )
}

/// Print the warnings and the error that stopped reading (after the data);
/// an error makes the status trouble.
pub fn report(
    path: &Path,
    warnings: &[Warning],
    more_warnings: u64,
    error: Option<&LoadError>,
    packets: u64,
    status: Status,
) -> Status {
    print_warning_lines(path, warnings, more_warnings);
    match error {
        Some(e) => {
            match packets {
                0 => message!("{e}"),
                1 => message!("{e} (the packet before it was read)"),
                n => message!("{e} (the {n} packets before it were read)"),
            }
            Status::Trouble
        }
        None => status,
    }
}
