//! `synlab profiles`: list, show, learn, import-p0f.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

use super::args::ProfilesAction;
use super::select::AttemptSpec;
use super::Status;
use crate::io::load::load;
use crate::profile::{self, Profile};

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
            capture,
            name,
            out: file,
        }) => learn(capture, name, file.as_deref(), out),
        Some(ProfilesAction::ImportP0f {
            signature,
            name,
            out: file,
        }) => {
            let p = profile::p0f::import(signature, name)?;
            emit_toml(&p, file.as_deref(), out)
        }
    }
}

/// The p0f signature, or why there is none (a profile always crafts once
/// loaded, so this is not expected).
fn signature(p: &Profile) -> String {
    profile::p0f::signature(p).unwrap_or_else(|e| format!("(none: {e})"))
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
            [
                p.name.clone(),
                p.os_family.clone().unwrap_or_else(|| "-".into()),
                signature(p),
                p.description.clone(),
            ]
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
        writeln!(out, "{}", profile::p0f::signature(&p)?)?;
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

fn learn(
    spec: &AttemptSpec,
    name: &str,
    file: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Status> {
    let loaded = load(&spec.path)?;
    super::commands::print_warnings(&loaded);
    let (index, attempt) = spec.pick(&loaded.attempts)?;
    let origin = format!("{spec}");
    let (mut p, notes) = Profile::learn(&attempt.syn, name, &origin)?;
    for note in notes {
        eprintln!("synlab: note: {note}");
    }
    p.description = format!(
        "learnt from attempt {index} of {} ({} -> {})",
        spec.path.display(),
        attempt.client,
        attempt.server
    );
    p.source = format!(
        "captured SYN, packet {} of {}",
        attempt.syn_packet,
        spec.path.display()
    );
    emit_toml(&p, file, out)
}

fn emit_toml(p: &Profile, file: Option<&Path>, out: &mut dyn Write) -> Result<Status> {
    let text = p.to_toml()?;
    match file {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("{}: cannot write profile", path.display()))?,
        None => write!(out, "{text}")?,
    }
    Ok(Status::Ok)
}
