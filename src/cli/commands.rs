//! One function per subcommand. Commands compute; `output` prints.

use std::io::{IsTerminal, Write};

use anyhow::Result;

use super::args::{Cli, ColorChoice, Command};
use super::output::{self, Style};
use super::select::AttemptSpec;
use super::Status;
use crate::diff::{diff_attempts, has_behavioural};
use crate::io::load::{load, Loaded};
use crate::model::Kind;

pub fn dispatch(cli: &Cli, out: &mut dyn Write) -> Result<Status> {
    let style = Style::new(use_color(cli.color));
    match &cli.command {
        Command::Handshakes { file, json } => handshakes(file, *json, style, out),
        Command::Diff { a, b, json, all } => diff(a, b, *json, *all, style, out),
        Command::Probe(args) => {
            let dirs = crate::profile::profile_dirs(&cli.profiles);
            super::cmd_probe::run(args, &dirs, style, out)
        }
        Command::Capture(args) => super::cmd_capture::run(args, out),
        Command::Bisect(args) => {
            let dirs = crate::profile::profile_dirs(&cli.profiles);
            super::cmd_bisect::bisect(args, &dirs, style, out)
        }
        Command::Fields { json } => {
            output::fields(*json, out)?;
            Ok(Status::Ok)
        }
        Command::Profiles { action, json } => {
            let dirs = crate::profile::profile_dirs(&cli.profiles);
            super::cmd_profiles::run(action.as_ref(), *json, &dirs, out)
        }
        Command::Craft {
            profile,
            src,
            dst,
            out: path,
            count,
        } => {
            let dirs = crate::profile::profile_dirs(&cli.profiles);
            super::cmd_craft::run(profile, src, *dst, path, *count, &dirs, out)
        }
    }
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
        }
    }
}

/// Report a load error that came after some data: the data was printed, the
/// error goes to stderr and the exit status says trouble.
fn finish(loaded: &Loaded, status: Status) -> Status {
    match &loaded.error {
        Some(e) => {
            match loaded.packets {
                0 => eprintln!("synlab: {e}"),
                1 => eprintln!("synlab: {e} (the packet before it was read)"),
                n => eprintln!("synlab: {e} (the {n} packets before it were read)"),
            }
            Status::Trouble
        }
        None => status,
    }
}

fn handshakes(
    file: &std::path::Path,
    json: bool,
    style: Style,
    out: &mut dyn Write,
) -> Result<Status> {
    let loaded = load(file)?;
    if json {
        output::handshakes_json(&loaded, out)?;
    } else {
        output::handshakes_table(&loaded, style, out)?;
    }
    out.flush()?; // the data first, then the error that ended it
    Ok(finish(&loaded, Status::Ok))
}

fn diff(
    a: &AttemptSpec,
    b: &AttemptSpec,
    json: bool,
    all: bool,
    style: Style,
    out: &mut dyn Write,
) -> Result<Status> {
    let la = load(&a.path)?;
    let lb = load(&b.path)?;
    let (ia, attempt_a) = a.pick(&la.attempts)?;
    let (ib, attempt_b) = b.pick(&lb.attempts)?;
    let mut diffs = diff_attempts(attempt_a, attempt_b);
    let differ = has_behavioural(&diffs);
    let hidden = if all {
        0
    } else {
        let before = diffs.len();
        diffs.retain(|d| d.kind == Kind::Behavioural);
        before - diffs.len()
    };
    let sides = [(a, ia, attempt_a), (b, ib, attempt_b)];
    if json {
        output::diff_json(&sides, &diffs, out)?;
    } else {
        output::diff_table(&sides, &diffs, hidden, style, out)?;
    }
    out.flush()?;
    let status = if differ { Status::Differ } else { Status::Ok };
    let worst = [finish(&la, status), finish(&lb, status)];
    Ok(if worst.contains(&Status::Trouble) {
        Status::Trouble
    } else {
        status
    })
}
