//! A progress bar for `handshakes` on a large capture: on stderr, only when
//! stderr is a terminal and the table goes to a file (not to the terminal,
//! where its rows show the progress, nor into a pipe, where the reader's
//! screen would be drawn over), and never with JSON.

use std::io::IsTerminal;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::sink::Format;

/// Files smaller than this are read before a bar would be seen.
const LARGE: u64 = 64 << 20;

/// A bar over the bytes of `file`, when one should be drawn.
pub fn bar(file: &Path, format: Format) -> Option<ProgressBar> {
    if format != Format::Table || !wanted(std::io::stderr().is_terminal(), stdout_kind()) {
        return None;
    }
    let len = std::fs::metadata(file).ok()?.len();
    if len < LARGE {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(4));
    let style =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// What stdout is connected to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdout {
    Terminal,
    Pipe,
    /// A file, `/dev/null`, a socket: nothing a person reads as it comes.
    Other,
}

fn stdout_kind() -> Stdout {
    let out = std::io::stdout();
    if out.is_terminal() {
        return Stdout::Terminal;
    }
    let fifo = std::fs::metadata("/dev/stdout").is_ok_and(|m| m.file_type().is_fifo());
    if fifo {
        Stdout::Pipe
    } else {
        Stdout::Other
    }
}

/// Whether to draw: stderr a terminal, stdout neither the terminal nor a pipe.
pub fn wanted(stderr_terminal: bool, stdout: Stdout) -> bool {
    stderr_terminal && stdout == Stdout::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_only_for_a_terminal_watching_output_go_elsewhere() {
        assert!(wanted(true, Stdout::Other));
        assert!(!wanted(true, Stdout::Terminal));
        assert!(!wanted(true, Stdout::Pipe));
        assert!(!wanted(false, Stdout::Other));
    }
}
