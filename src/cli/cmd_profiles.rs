//! `synlab profiles`: list, show, learn, import-p0f.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::json;

use super::messages::message;
use super::select::AttemptSpec;
use super::status::Status;
use super::threads::Threads;
use crate::handshake::{Attempt, Limits};
use crate::io::load::{stream_inputs, LoadError, Summary};
use crate::model::Field;
use crate::p0f::{self, P0fDb};
use crate::profile::{group, Profile};

/// `synlab profiles` without an action lists them; these show, learn or import one.
#[derive(Debug, Subcommand)]
pub enum ProfilesAction {
    /// Print one profile: TOML (as it loads), its p0f signature, or JSON.
    Show {
        /// A profile name or a path to a profile .toml file.
        name: String,
        /// Print the p0f v3 signature (database form: ittl as sent, ver `*`).
        #[arg(long)]
        p0f: bool,
        /// Print JSON.
        #[arg(long, conflicts_with = "p0f")]
        json: bool,
    },
    /// Make a profile from a captured SYN: FILE (first attempt), FILE#N or FILE@IP.
    ///
    /// Given several captures or a directory, every SYN they hold is learnt
    /// and SYNs of the same behaviour are grouped: one proposed profile per
    /// group, named after p0f's label when its database has one, and a
    /// summary table (or --json). --out DIR then writes NAME.toml for each.
    Learn {
        /// The captures whose SYNs to learn: FILE, FILE#N, FILE@IP, a directory,
        /// or `-` (standard input).
        #[arg(required = true, value_name = "CAPTURE")]
        captures: Vec<AttemptSpec>,
        /// The new profile's name (one SYN only; default: p0f's label, else "learnt").
        #[arg(long)]
        name: Option<String>,
        /// One SYN: write the TOML to this file. Many: write each group's
        /// profile as NAME.toml into this directory (created).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Print JSON (the profile, or the groups with their profiles).
        #[arg(long)]
        json: bool,
        /// p0f's database, for the names (a missing file: profiles are named "unknown").
        #[arg(long, value_name = "FILE", default_value = "/etc/p0f/p0f.fp")]
        p0f_db: PathBuf,
        #[command(flatten)]
        threads: Threads,
    },
    /// Make a profile from a p0f v3 signature (ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass).
    ///
    /// Wildcards take concrete values: MSS * is 1460, window * is 65535,
    /// scale * is 7; mss*N and mtu*N multiply out.
    #[command(name = "import-p0f")]
    ImportP0f {
        /// The signature, quoted, e.g. '4:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0'.
        signature: String,
        /// The new profile's name.
        #[arg(long, default_value = "p0f-import")]
        name: String,
        /// Write the TOML here instead of to stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

pub fn run(
    action: Option<&ProfilesAction>,
    json: bool,
    dirs: &[PathBuf],
    out: &mut dyn Write,
) -> Result<Status> {
    match action {
        None => list(dirs, json, out),
        Some(ProfilesAction::Show { name, p0f, json }) => show(name, *p0f, *json, dirs, out),
        Some(ProfilesAction::Learn {
            captures,
            name,
            out: file,
            json,
            p0f_db,
            threads,
        }) => {
            let db = read_p0f_db(p0f_db);
            match captures.as_slice() {
                [one] if !one.path.is_dir() => learn(
                    one,
                    *threads,
                    name.as_deref(),
                    db.as_ref(),
                    file.as_deref(),
                    *json,
                    out,
                ),
                many => {
                    if name.is_some() {
                        anyhow::bail!("--name names one profile; the groups of many SYNs are named after p0f's label");
                    }
                    learn_many(many, *threads, db.as_ref(), file.as_deref(), *json, out)
                }
            }
        }
        Some(ProfilesAction::ImportP0f {
            signature,
            name,
            out: file,
        }) => {
            let p = p0f::profile::import(signature, name)?;
            emit_toml(&p, file.as_deref(), out)
        }
    }
}

/// The p0f signature, or why there is none (a profile always crafts once
/// loaded, so this is not expected).
fn signature(p: &Profile) -> String {
    p0f::profile::signature(p).unwrap_or_else(|e| format!("(none: {e})"))
}

fn list(dirs: &[PathBuf], json: bool, out: &mut dyn Write) -> Result<Status> {
    let profiles = crate::io::profile_store::list(dirs)?;
    if json {
        let doc: Vec<_> = profiles
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "os_family": p.os_family,
                    "p0f": signature(p),
                    "description": p.description,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(Status::Ok);
    }
    let rows: Vec<[String; 4]> = profiles
        .iter()
        .map(|p| {
            // A profile directory's files are anyone's text: escaped.
            [
                p.name.clone(),
                p.os_family.clone().unwrap_or_else(|| "-".into()),
                signature(p),
                p.description.clone(),
            ]
            .map(|cell| super::output::printable(&cell).into_owned())
        })
        .collect();
    let w = |i: usize, min: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0).max(min);
    let (nw, ow, sw) = (w(0, 4), w(1, 9), w(2, 3));
    writeln!(
        out,
        "{:<nw$}  {:<ow$}  {:<sw$}  description",
        "name", "os_family", "p0f"
    )?;
    for [n, o, s, d] in &rows {
        writeln!(out, "{n:<nw$}  {o:<ow$}  {s:<sw$}  {d}")?;
    }
    Ok(Status::Ok)
}

fn show(
    name: &str,
    p0f: bool,
    json: bool,
    dirs: &[PathBuf],
    out: &mut dyn Write,
) -> Result<Status> {
    let p = crate::io::profile_store::resolve(name, dirs)?;
    if p0f {
        writeln!(out, "{}", p0f::profile::signature(&p)?)?;
    } else if json {
        let mut doc = serde_json::to_value(&p)?;
        if let Some(map) = doc.as_object_mut() {
            map.insert("p0f".into(), json!(signature(&p)));
        }
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", p.to_toml()?)?;
    }
    Ok(Status::Ok)
}

/// p0f's database, or `None` with a note when it cannot be read.
fn read_p0f_db(path: &Path) -> Option<P0fDb> {
    match crate::io::read_file::read_text(path, crate::io::read_file::MAX_TEXT_FILE) {
        Ok(text) => Some(P0fDb::parse(&text)),
        Err(e) => {
            message!("note: {e}; profiles are not named after p0f's labels");
            None
        }
    }
}

fn learn(
    spec: &AttemptSpec,
    threads: Threads,
    name: Option<&str>,
    db: Option<&P0fDb>,
    file: Option<&Path>,
    json: bool,
    out: &mut dyn Write,
) -> Result<Status> {
    let loaded = spec.load(threads)?;
    // A capture that ends in an error is said, and the SYN before it learnt.
    let read = super::messages::finish(&loaded, Status::Ok);
    let (index, attempt) = spec.chosen(&loaded)?;
    let origin = format!("{spec}");
    let label = db.and_then(|db| db.classify(&attempt.syn));
    let name = match (name, &label) {
        (Some(n), _) => n.to_owned(),
        (None, Some(m)) => group::slug(&m.label.to_string()),
        (None, None) => "learnt".to_owned(),
    };
    let (mut p, notes) = Profile::learn(&attempt.syn, &name, &origin)?;
    for note in notes {
        message!("note: {note}");
    }
    p.os_family = label.map(|m| m.label.name.clone());
    p.description = format!(
        "learnt from attempt {index} of {} ({} -> {})",
        spec.path.display(),
        attempt.client,
        attempt.server
    );
    // Captures merged from a list on `-`: the SYN's own file.
    let syn_file = attempt
        .parts
        .as_ref()
        .map_or_else(|| spec.path.display().to_string(), |p| p.syn.file.clone());
    p.source = format!("captured SYN, packet {} of {syn_file}", attempt.syn_packet);
    if json {
        serde_json::to_writer_pretty(&mut *out, &p)?;
        writeln!(out)?;
        return Ok(read);
    }
    let emitted = emit_toml(&p, file, out)?;
    Ok(match read {
        Status::Trouble => Status::Trouble,
        _ => emitted,
    })
}

/// The capture files a spec names: the file, or a directory's `.pcap`,
/// `.pcapng` and `.cap` files (not recursive), sorted.
fn capture_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("{}: cannot list directory", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e == "pcap" || e == "pcapng" || e == "cap")
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Every SYN of every capture, grouped by behaviour. A file that cannot be
/// read is reported and the rest go on; the exit status says trouble.
/// Each capture is streamed: of an attempt only its SYN is kept, and only
/// until the attempts before it are in, so memory follows the flows open at
/// once and the groups, not the captures (issue 25: reading them whole,
/// 20k attempts took 141 MB).
fn learn_many(
    specs: &[AttemptSpec],
    threads: Threads,
    db: Option<&P0fDb>,
    dir: Option<&Path>,
    json: bool,
    out: &mut dyn Write,
) -> Result<Status> {
    let mut status = Status::Ok;
    let mut grouper = group::Grouper::new(db);
    let (mut total, mut read) = (0, 0);
    for spec in specs {
        for file in capture_files(&spec.path)? {
            match learn_file(&file, threads, &mut grouper) {
                Ok(summary) => {
                    status = super::messages::summarize(&summary, status);
                    total += summary.attempts;
                    read += 1;
                }
                Err(e) => {
                    message!("{e}");
                    status = Status::Trouble;
                }
            }
        }
    }
    let (groups, failed) = grouper.finish();
    for f in &failed {
        message!("{}: not learnt: {}", f.origin, f.error);
    }
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create directory", dir.display()))?;
        for g in &groups {
            let path = dir.join(format!("{}.toml", g.profile.name));
            emit_toml(&g.profile, Some(&path), out)?;
        }
    }
    if json {
        groups_json(&groups, &failed, total, out)?;
    } else {
        groups_table(&groups, failed.len(), total, read, dir, out)?;
    }
    Ok(status)
}

/// Hand every SYN of `file` to `grouper` in the order of the attempts'
/// indexes, as they finish (out of that order): each waits only for those
/// before it.
fn learn_file(
    file: &Path,
    threads: Threads,
    grouper: &mut group::Grouper<'_>,
) -> Result<Summary, LoadError> {
    let label = file.display().to_string();
    // On the tracking thread: the SYN and where it was read, nothing else.
    let syn_of = |a: Box<Attempt>| {
        // Captures merged from a list on `-`: the SYN's own file.
        let from = a.parts.as_ref().map(|p| p.syn.file.clone());
        Some((from, a.syn_packet, a.syn))
    };
    let mut waiting = std::collections::BTreeMap::new();
    let mut next = 0;
    let threads = threads.for_files(&[file.to_owned()]);
    let mut hand_over = |index: usize, (from, packet, syn): SynOf| {
        let origin = group::Origin {
            file: from.unwrap_or_else(|| label.clone()),
            attempt: index,
            packet,
        };
        grouper.add(origin, &syn);
    };
    let summary = stream_inputs(
        &[file.to_owned()],
        Limits::default(),
        threads,
        &mut |_| {},
        &syn_of,
        |index, syn| {
            waiting.insert(index, syn);
            while let Some(syn) = waiting.remove(&next) {
                hand_over(next, syn);
                next += 1;
            }
            Ok::<(), LoadError>(())
        },
    )?;
    // Every index comes once; were one missing, the rest still go in order.
    for (index, syn) in std::mem::take(&mut waiting) {
        hand_over(index, syn);
    }
    Ok(summary)
}

/// What [`learn_file`] keeps of an attempt: the file its SYN was read in
/// (when merged), the SYN's packet number, the SYN.
type SynOf = (Option<String>, u64, crate::model::Attributes);

fn groups_json(
    groups: &[group::Group],
    failed: &[group::NotLearnt],
    total: usize,
    out: &mut dyn Write,
) -> Result<()> {
    let doc = json!({
        "syns": total,
        "groups": groups.iter().map(|g| json!({
            "name": g.profile.name,
            "syns": g.members.len(),
            "files": g.files(),
            "p0f_label": g.p0f_label,
            "p0f_fuzzy": g.fuzzy,
            "p0f": signature(&g.profile),
            "members": g.members.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "profile": g.profile,
        })).collect::<Vec<_>>(),
        "not_learnt": failed.iter().map(|f| json!({
            "syn": f.origin.to_string(),
            "error": f.error.to_string(),
        })).collect::<Vec<_>>(),
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}

fn groups_table(
    groups: &[group::Group],
    failed: usize,
    total: usize,
    files: usize,
    dir: Option<&Path>,
    out: &mut dyn Write,
) -> Result<()> {
    let rows: Vec<[String; 5]> = groups
        .iter()
        .map(|g| {
            let label = match (&g.p0f_label, g.fuzzy) {
                (Some(l), false) => l.clone(),
                (Some(l), true) => format!("{l} (fuzzy)"),
                (None, _) => "???".into(),
            };
            let dscp = match g.profile.attributes.num(Field::IpDsfieldDscp) {
                Some(d) if d != 0 => format!(" dscp {d}"),
                _ => String::new(),
            };
            [
                g.profile.name.clone(),
                g.members.len().to_string(),
                g.files().to_string(),
                label,
                format!("{}{dscp}", signature(&g.profile)),
            ]
        })
        .collect();
    let w = |i: usize, min: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0).max(min);
    let (nw, sw, fw, lw) = (w(0, 4), w(1, 4), w(2, 5), w(3, 3));
    writeln!(
        out,
        "{:<nw$}  {:>sw$}  {:>fw$}  {:<lw$}  signature",
        "name", "syns", "files", "p0f"
    )?;
    for [n, s, f, l, sig] in &rows {
        writeln!(out, "{n:<nw$}  {s:>sw$}  {f:>fw$}  {l:<lw$}  {sig}")?;
    }
    writeln!(
        out,
        "\n{total} SYNs in {files} captures: {} profiles{}",
        groups.len(),
        if failed > 0 {
            format!(", {failed} SYNs not learnt")
        } else {
            String::new()
        }
    )?;
    match dir {
        Some(d) => writeln!(out, "written to {}/NAME.toml", d.display())?,
        None => writeln!(out, "--out DIR writes each as NAME.toml; --json shows them")?,
    }
    Ok(())
}

fn emit_toml(p: &Profile, file: Option<&Path>, out: &mut dyn Write) -> Result<Status> {
    let text = p.to_toml()?;
    match file {
        Some(path) if path.as_os_str() == "-" => write!(out, "{text}")?,
        Some(path) => crate::io::output::write_whole(path, "a profile", text.as_bytes())?,
        None => write!(out, "{text}")?,
    }
    Ok(Status::Ok)
}
