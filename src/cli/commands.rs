//! One function per subcommand. Commands compute; `output` prints.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use clap::CommandFactory;

use super::args::{Cli, ColorChoice, Command};
use super::messages::{self, message};
use super::output::{self, DiffSide, Style};
use super::select::{AttemptSpec, Which};
use super::sink::{self, Format, Sink};
use super::status::Status;
use super::threads::Threads;
use crate::diff::{diff_packets, has_behavioural, Packets};
use crate::handshake::{Attempt, Limits};
use crate::io::load::{is_stdin, stream_inputs, Loaded};
use crate::model::{Attributes, Field, Kind};
use crate::rule::{Rule, Scope};

pub fn dispatch(cli: &Cli, out: &mut dyn Write) -> Result<Status> {
    let style = Style::new(use_color(cli.color));
    match &cli.command {
        Command::Handshakes {
            files,
            json,
            jsonl,
            pretty,
            max_flows,
            threads,
            r#where,
            fields,
            parquet,
            partition_by,
            vantage,
        } => {
            let format = match (*json, *jsonl) {
                (true, _) => Format::Json { pretty: *pretty },
                (false, true) => Format::Jsonl,
                (false, false) => Format::Table,
            };
            let limits = Limits {
                max_flows: usize::try_from(*max_flows).unwrap_or(usize::MAX),
                ..Limits::default()
            };
            let print = match (fields, parquet) {
                (_, Some(dir)) if partition_by.is_some() => Print::Dataset(dataset_target(
                    dir,
                    partition_by.as_ref(),
                    vantage.as_ref(),
                )?),
                (_, Some(path)) => Print::Parquet(path),
                (Some(list), None) => Print::Fields(list),
                (None, None) => Print::Stream(format),
            };
            let threads = threads.for_files(files);
            handshakes(
                files,
                print,
                (limits, threads),
                r#where.as_deref(),
                style,
                out,
            )
        }
        Command::Diff {
            a,
            b,
            json,
            all,
            html,
            threads,
        } => {
            let dirs = crate::io::profile_store::profile_dirs(&cli.profiles);
            let shown = Shown {
                json: *json,
                all: *all,
                html: html.as_deref(),
            };
            diff([a, b], *threads, &dirs, shown, style, out)
        }
        Command::Probe(args) => {
            let dirs = crate::io::profile_store::profile_dirs(&cli.profiles);
            super::cmd_probe::run(args, &dirs, style, out)
        }
        Command::Trace(args) => {
            let dirs = crate::io::profile_store::profile_dirs(&cli.profiles);
            super::cmd_trace::run(args, &dirs, out)
        }
        Command::Capture(args) => super::cmd_capture::run(args, out),
        Command::Survey(args) => {
            let dirs = crate::io::profile_store::profile_dirs(&cli.profiles);
            super::cmd_survey::run(args, &dirs, style, out)
        }
        Command::Matrix(args) => super::cmd_matrix::run(args, style, out),
        Command::Sweep(args) => super::cmd_sweep::run(
            args,
            &crate::io::profile_store::profile_dirs(&cli.profiles),
            out,
        ),
        Command::Rule(args) => super::cmd_rule::run(args, out),
        Command::Impact(args) => {
            let dirs = crate::io::profile_store::profile_dirs(&cli.profiles);
            super::cmd_impact::run(args, &dirs, style, out)
        }
        Command::Stalls {
            files,
            json,
            threads,
        } => super::cmd_stalls::run(files, *json, threads.for_files(files), style, out),
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
            edit,
        } => {
            let dirs = crate::io::profile_store::profile_dirs(&cli.profiles);
            let job = super::cmd_craft::Job {
                spec: profile,
                src,
                dst: *dst,
                path,
                count: *count,
                edit,
            };
            super::cmd_craft::run(&job, &dirs, out)
        }
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "synlab", out);
            Ok(Status::Ok)
        }
        Command::Man { command } => man(command.as_deref(), out),
    }
}

/// The roff manual page of synlab or of one of its subcommands
/// (`synlab-diff(1)`), built from the same definitions as `--help`.
fn man(command: Option<&str>, out: &mut dyn Write) -> Result<Status> {
    let cmd = Cli::command();
    let page = match command {
        None => cmd,
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name) else {
                let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
                anyhow::bail!("no subcommand {name:?}; one of: {}", names.join(", "));
            };
            sub.clone()
                .display_name(format!("synlab-{name}"))
                .bin_name(format!("synlab {name}"))
        }
    };
    clap_mangen::Man::new(page)
        .source(format!("synlab {}", env!("CARGO_PKG_VERSION")))
        .render(out)?;
    Ok(Status::Ok)
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

/// How `handshakes` prints the attempts.
#[derive(Clone)]
enum Print<'a> {
    /// The table, one JSON document, or JSON Lines.
    Stream(Format),
    /// `--fields`: tab-separated columns, as tshark's `-T fields`.
    Fields(&'a super::fields::FieldList),
    /// `--parquet OUT`: a Parquet file, and one line saying so.
    Parquet(&'a std::path::Path),
    /// `--parquet DIR --partition-by …`: parts added to a dataset.
    Dataset(sink::DatasetTarget<'a>),
}

/// `--parquet DIR --partition-by KEYS [--vantage NAME]`, checked: a
/// vantage partition needs the vantage's name, and a name needs its
/// partition.
fn dataset_target<'a>(
    dir: &'a std::path::Path,
    by: Option<&crate::io::parquet_dataset::PartitionBy>,
    vantage: Option<&crate::io::parquet_dataset::Vantage>,
) -> Result<sink::DatasetTarget<'a>> {
    use crate::io::parquet_dataset::{PartitionBy, PartitionKey};
    let by = by.cloned().unwrap_or(PartitionBy(vec![PartitionKey::Date]));
    let by_vantage = by.0.contains(&PartitionKey::Vantage);
    match (by_vantage, vantage) {
        (true, None) => anyhow::bail!("--partition-by vantage needs --vantage NAME"),
        (false, Some(v)) => anyhow::bail!(
            "--vantage {}: add vantage to --partition-by (e.g. --partition-by date,vantage)",
            v.as_str()
        ),
        _ => {}
    }
    Ok(sink::DatasetTarget {
        dir,
        by,
        vantage: vantage.cloned(),
    })
}

fn handshakes(
    files: &[std::path::PathBuf],
    print: Print<'_>,
    (limits, threads): (Limits, usize),
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
    let format = match print {
        Print::Stream(format) => format,
        // Columns and Parquet are data too: no bar drawn into them.
        Print::Fields(_) | Print::Parquet(_) | Print::Dataset(_) => Format::Jsonl,
    };
    let label = crate::io::load::inputs_label(files);
    let file = label.as_path();
    let bar = super::progress::bar(file, format);
    let mut tick = |bytes| {
        if let Some(bar) = &bar {
            bar.set_position(bytes);
        }
    };
    let jsonl = matches!(print, Print::Stream(Format::Jsonl));
    let mut sink: Box<dyn Sink + '_> = match print {
        Print::Stream(format) => sink::for_format(format, file, style, out),
        Print::Fields(list) => Box::new(sink::FieldsSink::new(list, out)),
        Print::Parquet(path) => Box::new(sink::ParquetFileSink::create(path, file, out)?),
        Print::Dataset(target) => Box::new(sink::DatasetFileSink::create(target, file, out)?),
    };
    let mut shown = 0;
    // With threads, each filters and renders the attempts it tracked; the
    // sink writes their rows in the one-thread order.
    let renderer = if threads > 1 { sink.renderer() } else { None };
    let pool = sink::RowPool::default();
    let mut written = Vec::with_capacity(sink::RowPool::BATCH);
    let map = |attempt: Box<Attempt>| {
        if !rule.as_ref().is_none_or(|r| r.eval(&*attempt)) {
            return None;
        }
        Some(match renderer {
            Some(r) => Row::Rendered(r.render(&attempt, &pool)),
            None => Row::Attempt(attempt),
        })
    };
    // Indexes stay those of the whole file, so FILE#N still names the attempt.
    let summary = stream_inputs(files, limits, threads, &mut tick, &map, |index, row| {
        shown += 1;
        match row {
            Row::Attempt(attempt) => sink.attempt(index, &attempt)?,
            Row::Rendered(text) => {
                let text = text?;
                sink.rendered(index, &text)?;
                written.push(text);
                if written.len() >= sink::RowPool::BATCH {
                    pool.give_back(&mut written);
                }
            }
        }
        Ok::<(), anyhow::Error>(())
    })?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    sink.finish(&summary, shown)?;
    drop(sink);
    out.flush()?; // the data first, then the error that ended it
    if summary.evicted > 0 && jsonl {
        message!(
            "{}: {} attempts evicted at the flow-table cap (--max-flows)",
            summary.path.display(),
            summary.evicted
        );
    }
    // Like grep: a filter that matches nothing exits 1.
    let status = if rule.is_some() && shown == 0 {
        Status::Differ
    } else {
        Status::Ok
    };
    Ok(messages::summarize(&summary, status))
}

/// An attempt that passed `--where`, as the sink takes it.
enum Row {
    Attempt(Box<Attempt>),
    /// Made by the sink's [`sink::Renderer`] on a tracking thread.
    Rendered(std::io::Result<Vec<u8>>),
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
        /// The `[later]` table as `synlab.flow.*`.
        flow: Attributes,
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
    fn resolve(spec: &AttemptSpec, threads: Threads, dirs: &[std::path::PathBuf]) -> Result<Side> {
        let path = &spec.path;
        let text = path.to_string_lossy();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let toml = ext == "toml";
        let bare_name = !path.exists()
            && !is_stdin(path)
            && !text.contains('/')
            && !matches!(ext, "pcap" | "pcapng" | "cap");
        if spec.which == Which::First && (toml || bare_name) {
            let profile = crate::io::profile_store::resolve(&text, dirs).map_err(|e| {
                if bare_name {
                    anyhow::anyhow!("{text}: no such capture file or profile")
                } else {
                    e
                }
            })?;
            let syn = crafted_syn(&profile, false)?;
            let (_, flow) = crate::search::units::split_flow(&profile.with_flow_attributes());
            return Ok(Side::Profile {
                file: toml.then(|| path.clone()),
                syn,
                flow,
                profile: Box::new(profile),
            });
        }
        let loaded = spec.load(threads)?;
        let index = match spec.chosen(&loaded) {
            Ok((index, _)) => index,
            Err(none) => {
                // Why the capture holds none: the error that ended it.
                messages::finish(&loaded, Status::Ok);
                return Err(none.into());
            }
        };
        Ok(Side::Capture {
            spec: spec.clone(),
            loaded,
            index,
        })
    }

    /// Whether a captured side's SYN is IPv6 (`None` for a profile).
    fn captured_ipv6(&self) -> Option<bool> {
        match self {
            Side::Capture { loaded, .. } => {
                Some(loaded.attempts[0].syn.contains(Field::Ipv6Version))
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
            Side::Capture { loaded, .. } => (&loaded.attempts[0]).into(),
            Side::Profile { syn, flow, .. } => Packets {
                syn,
                syn_ack: None,
                flow: Some(flow),
            },
        }
    }

    fn is_profile(&self) -> bool {
        matches!(self, Side::Profile { .. })
    }

    fn header(&self) -> DiffSide {
        match self {
            Side::Capture {
                spec,
                loaded,
                index,
            } => DiffSide::attempt(spec, *index, &loaded.attempts[0]),
            Side::Profile { profile, file, .. } => {
                DiffSide::profile(&profile.name, file.as_deref())
            }
        }
    }

    /// Trouble when reading the capture stopped at an error.
    fn finish(&self, status: Status) -> Status {
        match self {
            Side::Capture { loaded, .. } => messages::finish(loaded, status),
            Side::Profile { .. } => status,
        }
    }
}

/// How `diff` shows its result.
struct Shown<'a> {
    json: bool,
    all: bool,
    /// Also write the HTML page here.
    html: Option<&'a std::path::Path>,
}

fn diff(
    [a, b]: [&AttemptSpec; 2],
    threads: Threads,
    dirs: &[std::path::PathBuf],
    shown: Shown<'_>,
    style: Style,
    out: &mut dyn Write,
) -> Result<Status> {
    let Shown { json, all, html } = shown;
    let mut sa = Side::resolve(a, threads, dirs)?;
    let mut sb = Side::resolve(b, threads, dirs)?;
    if sa.is_profile() && sb.is_profile() {
        threads.refuse_unused("both sides are profiles")?;
    }
    sa.follow_family(&sb)?;
    sb.follow_family(&sa)?;
    let (mut pa, mut pb) = (sa.packets(), sb.packets());
    // A profile states what its later segments carry in four attributes; a
    // capture says what it saw (nothing, without data). Against a profile,
    // only what both sides state is compared, as `bisect` does.
    let shared = match (pa.flow, pb.flow) {
        (Some(fa), Some(fb)) if sa.is_profile() || sb.is_profile() => {
            Some(crate::search::units::shared_flow(fa, fb))
        }
        _ => None,
    };
    if let Some((fa, fb)) = &shared {
        pa.flow = Some(fa);
        pb.flow = Some(fb);
    }
    let mut diffs = diff_packets(pa, pb);
    let differ = has_behavioural(&diffs);
    let hidden = if all {
        0
    } else {
        let before = diffs.len();
        diffs.retain(|d| d.kind == Kind::Behavioural);
        before - diffs.len()
    };
    let sides = [sa.header(), sb.header()];
    if let Some(path) = html {
        let page = crate::report::diff_page(
            crate::report::SynSide {
                label: &sides[0].label,
                syn: sa.packets().syn,
            },
            crate::report::SynSide {
                label: &sides[1].label,
                syn: sb.packets().syn,
            },
            &diffs,
            hidden,
        );
        crate::io::output::write_whole(path, "--html", page.as_bytes())?;
    }
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
