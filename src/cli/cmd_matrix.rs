//! `synlab matrix`: survey documents from many hosts merged into the
//! vantage x profile table, with what the pattern points at
//! (`crate::survey::matrix`) and the bisect to run next. Printers: a text
//! table, JSON, and a self-contained HTML page.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value as Json};

use super::output::{printable, rate_cell, Style};
use super::status::Status;
use crate::survey::matrix::{diagnose, Diagnosis, Finding, Matrix, MergeError};
use crate::survey::{ReadError, Status as CellStatus, SurveyDoc};
use crate::sweep::matrix::{is_sweep, SweepMatrix};
use crate::sweep::Condition;

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Survey documents (`synlab survey --json` output), one or more; or
    /// sweep files (`synlab sweep --json` or `--jsonl`), one per vantage:
    /// then the table is vantage x target group (/24) x profile.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the matrix as a self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// Read one file whole; `-` is standard input, as for every other command
/// (`synlab survey ... --json | synlab matrix - other.json`).
fn read_text(path: &Path) -> Result<String> {
    let name = path.display();
    let text = if crate::io::load::is_stdin(path) {
        // Standard input under the same cap as a file read whole.
        let max = crate::io::read_file::MAX_TEXT_FILE;
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(std::io::stdin().lock(), max + 1),
            &mut text,
        )
        .with_context(|| format!("{name}: cannot read standard input"))?;
        if text.len() as u64 > max {
            anyhow::bail!("{name}: standard input is larger than {max} bytes");
        }
        text
    } else {
        crate::io::read_file::read_text(path, crate::io::read_file::MAX_TEXT_FILE)?
    };
    Ok(text)
}

/// One survey document ([`SurveyDoc::from_json`]), its errors named after
/// the file.
fn survey(path: &Path, text: &str) -> Result<SurveyDoc> {
    let name = path.display();
    SurveyDoc::from_json(text).map_err(|e| match e {
        ReadError::Schema { found } => MergeError::Schema {
            file: name.to_string(),
            found,
        }
        .into(),
        e => anyhow::Error::new(e).context(name.to_string()),
    })
}

pub fn run(args: &MatrixArgs, style: Style, out: &mut dyn Write) -> Result<Status> {
    if args
        .files
        .iter()
        .filter(|f| crate::io::load::is_stdin(f))
        .count()
        > 1
    {
        return Err(crate::io::load::LoadError::StdinAgain.into());
    }
    let texts = args
        .files
        .iter()
        .map(|f| Ok((f, read_text(f)?)))
        .collect::<Result<Vec<_>>>()?;
    let sweeps = texts.iter().filter(|(_, t)| is_sweep(t)).count();
    if sweeps > 0 {
        if sweeps < texts.len() {
            bail!("give matrix either survey documents or sweep files, not both");
        }
        return run_sweeps(args, &texts, out);
    }
    let docs = texts
        .iter()
        .map(|(f, t)| Ok((f.display().to_string(), survey(f, t)?)))
        .collect::<Result<Vec<_>>>()?;
    let m = Matrix::merge(&docs)?;
    let d = diagnose(&m);
    // Written before anything is printed: a failure to write is trouble
    // before a table suggests all went well.
    if let Some(path) = &args.html {
        crate::io::output::write_whole(path, "--html", html(&m, &d).as_bytes())?;
    }
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &to_json(&m, &d)).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        print_table(&m, &d, style, out)?;
    }
    Ok(if d.has_failures() {
        Status::Differ
    } else {
        Status::Ok
    })
}

/// Sweep files (`sweep --json` or `--jsonl`), one per vantage (named by
/// its file): the vantage x target group x profile table.
fn run_sweeps(
    args: &MatrixArgs,
    texts: &[(&PathBuf, String)],
    out: &mut dyn Write,
) -> Result<Status> {
    if args.html.is_some() {
        bail!("--html is for survey documents; for sweep files use the table or --json");
    }
    let mut m = SweepMatrix::default();
    for (f, text) in texts {
        let vantage = f.display().to_string();
        m.add(&vantage, text)
            .with_context(|| format!("{vantage}: not a sweep file"))?;
    }
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &sweep_json(&m)).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        print_sweep_table(&m, out)?;
    }
    Ok(if m.has_broken() {
        Status::Differ
    } else {
        Status::Ok
    })
}

/// Each (vantage, group) with its conditions and one cell per profile.
fn sweep_json(m: &SweepMatrix) -> Json {
    let groups: Vec<Json> = m
        .rows
        .iter()
        .map(|((v, group), row)| {
            let cells: serde_json::Map<String, Json> = row
                .cells
                .iter()
                .map(|(&p, c)| (m.profiles[p].clone(), json!(c)))
                .collect();
            json!({
                "vantage": m.vantages[*v],
                "group": group,
                "conditions": row.conditions,
                "profiles": cells,
            })
        })
        .collect();
    json!({
        "schema": "synlab.matrix-sweep/1",
        "vantages": m.vantages,
        "profiles": m.profiles,
        "groups": groups,
    })
}

/// The table: one line per vantage and group, `passing/targets` per
/// profile, then the group's conditions that are not `works`.
fn print_sweep_table(m: &SweepMatrix, out: &mut dyn Write) -> Result<()> {
    let vw = m
        .vantages
        .iter()
        .map(|v| printable(v).len())
        .max()
        .unwrap_or(7)
        .max(7);
    let pw: Vec<usize> = m
        .profiles
        .iter()
        .map(|p| printable(p).len().max(9))
        .collect();
    let mut head = format!("{:vw$}  {:18}", "vantage", "group");
    for (p, w) in m.profiles.iter().zip(&pw) {
        let _ = write!(head, "  {:>w$}", printable(p));
    }
    writeln!(out, "{}", head.trim_end())?;
    for ((v, group), row) in &m.rows {
        let mut line = format!("{:vw$}  {group:18}", printable(&m.vantages[*v]));
        for (p, w) in pw.iter().enumerate() {
            let cell = row
                .cells
                .get(&p)
                .map_or("-".to_owned(), |c| format!("{}/{}", c.passing, c.targets));
            let _ = write!(line, "  {cell:>w$}");
        }
        let other: Vec<String> = row
            .conditions
            .iter()
            .filter(|(k, _)| **k != Condition::Works)
            .map(|(k, n)| format!("{n} {}", k.name()))
            .collect();
        if !other.is_empty() {
            let _ = write!(line, "  ({})", other.join(", "));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn to_json(m: &Matrix, d: &Diagnosis) -> Json {
    let cells: Vec<Json> = m
        .cells
        .iter()
        .map(|(&(v, p), c)| {
            let (lo, hi) = c.interval();
            json!({
                "vantage": m.vantages[v],
                "profile": m.profiles[p].name,
                "outcome": c.dominant(),
                "status": c.status(),
                "pass_rate": c.pass_rate(),
                "interval": [lo, hi],
                "probes": c.probes(),
                "passes": c.passes(),
                "outcomes": c,
            })
        })
        .collect();
    json!({
        "schema": "synlab.matrix/1",
        "target": m.target,
        "exchange": m.exchange,
        "vantages": m.vantages,
        "profiles": m.profiles.iter().map(|p| &p.name).collect::<Vec<_>>(),
        "families": m.profiles.iter().map(|p| p.family()).collect::<Vec<_>>(),
        "cells": cells,
        "findings": d.findings,
        "next": d.next,
    })
}

/// A finding in one sentence.
fn sentence(f: &Finding) -> String {
    match f {
        Finding::AllPass => "every profile passes from every vantage".to_owned(),
        Finding::VantageFailsAll { vantage } => {
            format!("every profile fails from {vantage}: the path from there, not an OS")
        }
        Finding::FamilyFails {
            family,
            profiles,
            failing,
            passing,
        } => format!(
            "family {family} ({}) fails from {}{}: an attribute the family shares",
            profiles.join(", "),
            failing.join(", "),
            where_else(passing)
        ),
        Finding::ProfileFails {
            profile,
            failing,
            passing,
        } => format!(
            "profile {profile} fails from {}{}",
            failing.join(", "),
            where_else(passing)
        ),
    }
}

fn where_else(passing: &[String]) -> String {
    if passing.is_empty() {
        " (and passes from no vantage: the target itself may refuse it)".to_owned()
    } else {
        format!(" only (passes from {})", passing.join(", "))
    }
}

/// The cell's text, and whether it is failing.
fn cell_text(m: &Matrix, v: usize, p: usize) -> (String, bool) {
    match m.cell(v, p) {
        None => ("-".to_owned(), false),
        Some(c) => {
            let failing = c.status().is_some_and(CellStatus::failing);
            let mut s = rate_cell(c.passes(), c.probes());
            if failing {
                s.push(' ');
                s.push_str(c.dominant().unwrap_or("-"));
            }
            (s, failing)
        }
    }
}

fn print_table(
    m: &Matrix,
    d: &Diagnosis,
    style: Style,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "matrix -> {}: {} vantages x {} profiles (passes/probes; a failing cell names its most frequent outcome)",
        printable(&m.target),
        m.vantages.len(),
        m.profiles.len()
    )?;
    let texts: Vec<Vec<(String, bool)>> = (0..m.profiles.len())
        .map(|p| (0..m.vantages.len()).map(|v| cell_text(m, v, p)).collect())
        .collect();
    let first = m
        .profiles
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(0)
        .max(7);
    let widths: Vec<usize> = (0..m.vantages.len())
        .map(|v| {
            texts
                .iter()
                .map(|row| row[v].0.len())
                .chain([m.vantages[v].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut header = format!("{:<first$}", "profile");
    for (v, w) in m.vantages.iter().zip(&widths) {
        header.push_str(&format!("  {:<w$}", printable(v)));
    }
    writeln!(out, "{}", style.bold(header.trim_end()))?;
    for (p, row) in texts.iter().enumerate() {
        let mut line = format!("{:<first$}", printable(&m.profiles[p].name));
        for ((text, failing), w) in row.iter().zip(&widths) {
            let padded = format!("{text:<w$}");
            let painted = if *failing {
                style.red(&padded)
            } else {
                style.green(&padded)
            };
            line.push_str("  ");
            line.push_str(&painted);
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(out)?;
    // Names and vantages come from survey files: escaped, though reading
    // them refused control characters already.
    for f in &d.findings {
        writeln!(out, "{}", printable(&sentence(f)))?;
    }
    // Grouped by vantage: each command is run from there.
    let mut vantage = None;
    for n in &d.next {
        if vantage != Some(&n.vantage) {
            writeln!(out, "next, from {}:", printable(&n.vantage))?;
            vantage = Some(&n.vantage);
        }
        writeln!(out, "  {}", printable(&n.command))?;
    }
    Ok(())
}

/// `&`, `<`, `>`, `"` and `'` escaped for HTML text and attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Red at 0%, yellow at 50%, green at 100%.
fn colour(rate: f64) -> String {
    format!("hsl({:.0}, 70%, 80%)", 120.0 * rate.clamp(0.0, 1.0))
}

const CSS: &str = "body{font-family:sans-serif;margin:2em}\
table{border-collapse:collapse}th,td{border:1px solid #999;padding:.3em .6em;text-align:center}\
th{background:#eee}td.name{text-align:left;font-weight:bold}\
td.none{background:#fff;color:#999}code{background:#f4f4f4;padding:.1em .3em}";

/// The matrix as one HTML page: inline CSS, no script, no external resource.
fn html(m: &Matrix, d: &Diagnosis) -> String {
    let mut h = String::new();
    let title = format!("synlab matrix: {}", escape(&m.target));
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>{CSS}</style></head><body>\n<h1>{title}</h1>\n<table>\n<tr><th>profile</th><th>family</th>"
    );
    for v in &m.vantages {
        let _ = write!(h, "<th>{}</th>", escape(v));
    }
    h.push_str("</tr>\n");
    for (p, profile) in m.profiles.iter().enumerate() {
        let _ = write!(
            h,
            "<tr><td class=\"name\" title=\"{}\">{}</td><td>{}</td>",
            escape(profile.p0f.as_deref().unwrap_or("")),
            escape(&profile.name),
            escape(profile.family())
        );
        for v in 0..m.vantages.len() {
            h.push_str(&html_cell(m, v, p));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n<h2>What the pattern points at</h2>\n<ul>\n");
    for f in &d.findings {
        let _ = writeln!(h, "<li>{}</li>", escape(&sentence(f)));
    }
    h.push_str("</ul>\n");
    if !d.next.is_empty() {
        h.push_str("<h2>Next</h2>\n<ul>\n");
        for n in &d.next {
            let _ = writeln!(
                h,
                "<li>from {}: <code>{}</code></li>",
                escape(&n.vantage),
                escape(&n.command)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</body></html>\n");
    h
}

fn html_cell(m: &Matrix, v: usize, p: usize) -> String {
    let Some(c) = m.cell(v, p) else {
        return "<td class=\"none\">-</td>".to_owned();
    };
    let outcomes: Vec<String> = c
        .slots()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    let (text, _) = cell_text(m, v, p);
    format!(
        "<td style=\"background:{}\" title=\"{}\">{}</td>",
        colour(c.pass_rate().unwrap_or(0.0)),
        escape(&outcomes.join(", ")),
        escape(&text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attributes;
    use crate::survey::{Counts, ProfileResult, SCHEMA};

    fn doc(vantage: &str, windows_pass: u32) -> SurveyDoc {
        let profile = |name: &str, family: &str, pass: u32| {
            let c = Counts {
                syn_ack: pass,
                no_reply: 3 - pass,
                ..Counts::default()
            };
            let mut a = Attributes::new();
            a.insert(
                crate::model::Field::IpTtl,
                if name.starts_with("windows") {
                    128u64
                } else {
                    64
                },
            );
            ProfileResult::new(name.into(), Some(family.into()), None, a, c)
        };
        SurveyDoc {
            schema: SCHEMA.into(),
            vantage: vantage.into(),
            target: "198.18.0.130:80".into(),
            started: "2026-11-26T13:05:00Z".into(),
            synlab_version: "0.1.0".into(),
            src: "198.18.0.2".into(),
            iface: "to-mb".into(),
            count: 3,
            rate: 100.0,
            exchange: None,
            elapsed_s: 0.5,
            profiles: vec![
                profile("linux", "Linux", 3),
                profile("windows-10", "Windows<&>", windows_pass),
            ],
        }
    }

    fn matrix() -> (Matrix, Diagnosis) {
        let docs = [
            ("a".to_owned(), doc("c1", 3)),
            ("b".to_owned(), doc("c2", 0)),
        ];
        let m = Matrix::merge(&docs).unwrap_or_else(|e| panic!("{e}"));
        let d = diagnose(&m);
        (m, d)
    }

    #[test]
    fn the_table_marks_the_failing_cell_and_says_what_next() {
        let (m, d) = matrix();
        let mut out = Vec::new();
        print_table(&m, &d, Style::new(false), &mut out).unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&out);
        let want = "\
matrix -> 198.18.0.130:80: 2 vantages x 2 profiles (passes/probes; a failing cell names its most frequent outcome)
profile     c1          c2
linux       3/3 (100%)  3/3 (100%)
windows-10  3/3 (100%)  0/3 (0%) no-reply

profile windows-10 fails from c2 only (passes from c1)
next, from c2:
  synlab bisect --good linux --bad windows-10 --target 198.18.0.130:80
";
        assert_eq!(text, want);
    }

    #[test]
    fn json_cells() {
        let (m, d) = matrix();
        let j = to_json(&m, &d);
        assert_eq!(j["vantages"], json!(["c1", "c2"]));
        assert_eq!(j["profiles"], json!(["linux", "windows-10"]));
        let failing: Vec<&Json> = j["cells"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["pass_rate"] != json!(1.0))
            .collect();
        assert_eq!(failing.len(), 1, "{j}");
        assert_eq!(failing[0]["vantage"], "c2");
        assert_eq!(failing[0]["profile"], "windows-10");
        assert_eq!(failing[0]["outcome"], "no-reply");
        assert_eq!(failing[0]["probes"], 3);
        assert_eq!(j["next"][0]["good"], "linux");
    }

    #[test]
    fn the_page_is_self_contained_and_escaped() {
        let (m, d) = matrix();
        let page = html(&m, &d);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(
            !page.contains("http://") && !page.contains("https://") && !page.contains("<script")
        );
        assert!(!page.contains("<link") && !page.contains("src="));
        assert!(page.contains("Windows&lt;&amp;&gt;"), "{page}");
        assert!(page.contains(&colour(0.0)) && page.contains(&colour(1.0)));
        assert!(page.contains("<code>synlab bisect --good linux --bad windows-10"));
    }
}
