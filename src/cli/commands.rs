//! One function per subcommand. Commands compute; `output` prints.

use std::io::{IsTerminal, Write};

use anyhow::Result;

use super::args::{Cli, ColorChoice, Command};
use super::output::{self, DiffSide, Style};
use super::select::{AttemptSpec, Which};
use super::Status;
use crate::diff::{diff_packets, has_behavioural, Packets};
use crate::io::load::{load, Loaded};
use crate::model::rule::{Rule, Scope};
use crate::model::{Attributes, Field, Kind};

pub fn dispatch(cli: &Cli, out: &mut dyn Write) -> Result<Status> {
    let style = Style::new(use_color(cli.color));
    match &cli.command {
        Command::Handshakes {
            file,
            json,
            r#where,
        } => handshakes(file, *json, r#where.as_deref(), style, out),
        Command::Diff { a, b, json, all } => {
            let dirs = crate::io::profile_store::profile_dirs(&cli.profiles);
            diff(a, b, &dirs, *json, *all, style, out)
        }
        Command::Probe(args) => {
            let dirs = crate::io::profile_store::profile_dirs(&cli.profiles);
            super::cmd_probe::run(args, &dirs, style, out)
        }
        Command::Capture(args) => super::cmd_capture::run(args, out),
        Command::Stalls { file, json } => super::cmd_stalls::run(file, *json, style, out),
        Command::Bisect(args) => {
            let dirs = crate::io::profile_store::profile_dirs(&cli.profiles);
            super::cmd_bisect::bisect(args, &dirs, style, out)
        }
        Command::Fields { json } => {
            output::fields(*json, out)?;
            Ok(Status::Ok)
        }
        Command::Profiles { action, json } => {
            let dirs = crate::io::profile_store::profile_dirs(&cli.profiles);
            super::cmd_profiles::run(action.as_ref(), *json, &dirs, out)
        }
        Command::Craft {
            profile,
            src,
            dst,
            out: path,
            count,
            set,
            unset,
        } => {
            let dirs = crate::io::profile_store::profile_dirs(&cli.profiles);
            let job = super::cmd_craft::Job {
                spec: profile,
                src,
                dst: *dst,
                path,
                count: *count,
                set,
                unset,
            };
            super::cmd_craft::run(&job, &dirs, out)
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
/// Print the packets a capture skipped with a warning, one line each
/// (`synlab: FILE: packet N: skipped: WHY`), then how many more there were.
pub(super) fn print_warnings(loaded: &Loaded) {
    for w in &loaded.warnings {
        eprintln!("synlab: {w}");
    }
    if loaded.more_warnings > 0 {
        eprintln!(
            "synlab: {}: {} more packets skipped with warnings",
            loaded.path.display(),
            loaded.more_warnings
        );
    }
}

pub(super) fn finish(loaded: &Loaded, status: Status) -> Status {
    print_warnings(loaded);
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
    filter: Option<&str>,
    style: Style,
    out: &mut dyn Write,
) -> Result<Status> {
    let rule = filter
        .map(|expr| {
            Rule::parse_in(expr, Scope::Attempt)
                .map_err(|e| anyhow::anyhow!("invalid --where: {}", e.render(expr)))
        })
        .transpose()?;
    let mut loaded = load(file)?;
    if let Some(rule) = &rule {
        // Indexes stay those of the whole file, so FILE#N still names the attempt.
        loaded.keep(|a| rule.eval(a));
    }
    if json {
        output::handshakes_json(&loaded, out)?;
    } else {
        output::handshakes_table(&loaded, style, out)?;
    }
    out.flush()?; // the data first, then the error that ended it
                  // Like grep: a filter that matches nothing exits 1.
    let status = if rule.is_some() && loaded.attempts.is_empty() {
        Status::Differ
    } else {
        Status::Ok
    };
    Ok(finish(&loaded, status))
}

/// One side of a diff: a captured attempt, or a profile's crafted SYN.
enum Side {
    Capture {
        spec: AttemptSpec,
        loaded: Loaded,
        index: usize,
    },
    Profile {
        profile: Box<crate::profile::Profile>,
        file: Option<std::path::PathBuf>,
        /// The crafted SYN, over the IP version of the other side (IPv4 when
        /// both sides are profiles).
        syn: Attributes,
    },
}

/// A profile's SYN as crafted to benchmark-range addresses of one IP version.
fn crafted_syn(profile: &crate::profile::Profile, ipv6: bool) -> Result<Attributes> {
    let (src, dst) = if ipv6 {
        ("[2001:2::2]:40000".parse()?, "[2001:2::1]:80".parse()?)
    } else {
        ("198.18.0.2:40000".parse()?, "198.18.0.1:80".parse()?)
    };
    Ok(profile.crafted_attributes(src, dst, 1, 1)?)
}

impl Side {
    /// A profile when the spec is a `.toml` file or a bare name that is no
    /// file (`linux`); otherwise a capture, with the capture's errors.
    fn resolve(spec: &AttemptSpec, dirs: &[std::path::PathBuf]) -> Result<Side> {
        let path = &spec.path;
        let text = path.to_string_lossy();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let toml = ext == "toml";
        let bare_name =
            !path.exists() && !text.contains('/') && !matches!(ext, "pcap" | "pcapng" | "cap");
        if spec.which == Which::First && (toml || bare_name) {
            let profile = crate::io::profile_store::resolve(&text, dirs).map_err(|e| {
                if bare_name {
                    anyhow::anyhow!("{text}: no such capture file or profile")
                } else {
                    e
                }
            })?;
            let syn = crafted_syn(&profile, false)?;
            return Ok(Side::Profile {
                file: toml.then(|| path.clone()),
                syn,
                profile: Box::new(profile),
            });
        }
        let loaded = load(path)?;
        let (index, _) = spec.pick(&loaded.attempts)?;
        Ok(Side::Capture {
            spec: spec.clone(),
            loaded,
            index,
        })
    }

    /// Whether a captured side's SYN is IPv6 (`None` for a profile).
    fn captured_ipv6(&self) -> Option<bool> {
        match self {
            Side::Capture { loaded, index, .. } => {
                Some(loaded.attempts[*index].syn.contains(Field::Ipv6Version))
            }
            Side::Profile { .. } => None,
        }
    }

    /// A profile's side is crafted over the other side's IP version, so an
    /// IPv6 capture is compared with the profile's IPv6 SYN (issue 14).
    fn follow_family(&mut self, other: &Side) -> Result<()> {
        if let (Side::Profile { profile, syn, .. }, Some(true)) =
            (&mut *self, other.captured_ipv6())
        {
            *syn = crafted_syn(profile, true)?;
        }
        Ok(())
    }

    fn packets(&self) -> Packets<'_> {
        match self {
            Side::Capture { loaded, index, .. } => (&loaded.attempts[*index]).into(),
            Side::Profile { syn, .. } => Packets {
                syn,
                syn_ack: None,
                flow: None,
            },
        }
    }

    fn header(&self) -> DiffSide {
        match self {
            Side::Capture {
                spec,
                loaded,
                index,
            } => DiffSide::attempt(spec, *index, &loaded.attempts[*index]),
            Side::Profile { profile, file, .. } => {
                DiffSide::profile(&profile.name, file.as_deref())
            }
        }
    }

    /// Trouble when reading the capture stopped at an error.
    fn finish(&self, status: Status) -> Status {
        match self {
            Side::Capture { loaded, .. } => finish(loaded, status),
            Side::Profile { .. } => status,
        }
    }
}

fn diff(
    a: &AttemptSpec,
    b: &AttemptSpec,
    dirs: &[std::path::PathBuf],
    json: bool,
    all: bool,
    style: Style,
    out: &mut dyn Write,
) -> Result<Status> {
    let mut sa = Side::resolve(a, dirs)?;
    let mut sb = Side::resolve(b, dirs)?;
    sa.follow_family(&sb)?;
    sb.follow_family(&sa)?;
    let mut diffs = diff_packets(sa.packets(), sb.packets());
    let differ = has_behavioural(&diffs);
    let hidden = if all {
        0
    } else {
        let before = diffs.len();
        diffs.retain(|d| d.kind == Kind::Behavioural);
        before - diffs.len()
    };
    let sides = [sa.header(), sb.header()];
    if json {
        output::diff_json(&sides, &diffs, out)?;
    } else {
        output::diff_table(&sides, &diffs, hidden, style, out)?;
    }
    out.flush()?;
    let status = if differ { Status::Differ } else { Status::Ok };
    let worst = [sa.finish(status), sb.finish(status)];
    Ok(if worst.contains(&Status::Trouble) {
        Status::Trouble
    } else {
        status
    })
}
