//! `synlab impact`: which stacks a rule hits (every profile and every SYN
//! of a corpus of real captures, by OS family), before it is deployed
//! (`crate::rule::impact`). The command reads the corpus; the core decides.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use super::output::{printable, write_json, Style};
use super::status::Status;
use super::threads::Threads;
use crate::handshake::{Attempt, Limits};
use crate::io::load::{stream_inputs, LoadError};
use crate::rule::impact::{impact, judge, CorpusHits, CorpusTally, Impact};
use crate::rule::{from_nft, Rule};

#[derive(Debug, Args)]
pub struct ImpactArgs {
    /// The rule, in synlab's rule language.
    #[arg(
        long,
        value_name = "EXPR",
        required_unless_present = "nft",
        conflicts_with = "nft"
    )]
    pub rule: Option<String>,
    /// The rule as nft rules (what `rule --to-nft` prints).
    #[arg(long, value_name = "TEXT")]
    pub nft: Option<String>,
    /// A directory of captures (pcap, pcapng) of real SYNs; a
    /// `signatures.tsv` there names each file's OS (its `p0f_label`).
    /// Default: the real SYNs shipped with synlab's tests.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub threads: Threads,
}

/// The real SYNs of the source tree's tests (tests/data/real-syns).
pub(super) fn default_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/real-syns")
}

/// Exit 1 when the rule hits any stack, 0 when none, 2 when a corpus
/// capture could not be read to its end.
pub fn run(
    args: &ImpactArgs,
    dirs: &[PathBuf],
    style: Style,
    out: &mut dyn Write,
) -> Result<Status> {
    let rule: Rule = match (&args.rule, &args.nft) {
        (Some(expr), _) => super::cmd_rule::parse(expr)?,
        (None, Some(text)) => from_nft(text)?,
        (None, None) => anyhow::bail!("give --rule or --nft"),
    };
    let profiles = crate::io::profile_store::list(dirs)?;
    let dir = args.corpus.clone().unwrap_or_else(default_corpus);
    let (corpus, read) = tally_corpus(&dir, &rule, args.threads)?;
    let imp = impact(&rule, &profiles, corpus);
    if args.json {
        write_json(&imp, out)?;
    } else {
        print_table(&imp, style, out)?;
    }
    Ok(match (read, imp.hits_any()) {
        (Status::Trouble, _) => Status::Trouble,
        (_, true) => Status::Differ,
        (_, false) => Status::Ok,
    })
}

/// The rule's hits over every SYN of every capture in `dir`, by the
/// family of each file. Each capture is streamed, on every core its size
/// calls for, and the rule judged on the thread that tracked the attempt:
/// a corpus may be an archive, and only counts are kept. A capture that
/// stops early is reported (what came before it counts) and makes the
/// status trouble.
pub(super) fn tally_corpus(
    dir: &Path,
    rule: &Rule,
    threads: Threads,
) -> Result<(CorpusHits, Status)> {
    let labels = read_labels(dir)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| {
            format!(
                "{}: cannot read the corpus directory (give one with --corpus DIR)",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    let mut tally = CorpusTally::default();
    let mut status = Status::Ok;
    let judged = |a: Box<Attempt>| Some(judge(rule, &a.syn, &a.flow));
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let family = labels
            .get(&name)
            .cloned()
            .unwrap_or_else(|| family_of_name(&name));
        let one = [path];
        let threads = threads.for_files(&one);
        let summary = stream_inputs(
            &one,
            Limits::default(),
            threads,
            &mut |_| {},
            &judged,
            |_, j| {
                tally.add(&family, j);
                Ok::<(), LoadError>(())
            },
        )
        .with_context(|| format!("{}: cannot read", one[0].display()))?;
        status = super::messages::summarize(&summary, status);
    }
    Ok((tally.finish(), status))
}

/// File name to OS family from `signatures.tsv` (file, direction, p0f
/// label, ...): the label of a SYN (not a SYN-ACK) names the family.
fn read_labels(dir: &Path) -> Result<HashMap<String, String>> {
    let tsv = dir.join("signatures.tsv");
    if !tsv.exists() {
        return Ok(HashMap::new());
    }
    let text = crate::io::read_file::read_text(&tsv, crate::io::read_file::MAX_TEXT_FILE)?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let (file, dir, label) = (cols.next()?, cols.next()?, cols.next()?);
            let family = if dir == "syn" {
                family_of_label(label)
            } else {
                "unknown"
            };
            Some((file.to_owned(), family.to_owned()))
        })
        .collect())
}

/// p0f's label to the OS family names the profiles use.
fn family_of_label(label: &str) -> &'static str {
    let l = label.to_ascii_lowercase();
    [
        ("windows", "Windows"),
        ("linux", "Linux"),
        ("android", "Android"),
        ("mac", "Mac OS X"),
        ("ios", "iOS"),
        ("freebsd", "FreeBSD"),
        ("openbsd", "OpenBSD"),
    ]
    .into_iter()
    .find(|(k, _)| l.starts_with(k))
    .map_or("unknown", |(_, f)| f)
}

/// Without a label: the family the file name starts with (`windows-xp-3.pcap`).
fn family_of_name(name: &str) -> String {
    family_of_label(name).to_owned()
}

pub(super) fn print_table(imp: &Impact, style: Style, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "rule: {}", printable(&imp.rule))?;
    writeln!(out, "\nprofiles")?;
    for p in &imp.profiles {
        let mark = if p.hit {
            style.red("HIT")
        } else {
            style.green("-  ")
        };
        let via = if p.hit {
            format!("  ({})", p.via.join(", "))
        } else {
            String::new()
        };
        writeln!(
            out,
            "  {mark} {:<16} {}{via}",
            printable(&p.name),
            printable(&p.family)
        )?;
    }
    let c = &imp.corpus;
    writeln!(out, "\ncorpus: {} of {} SYNs hit", c.hit, c.syns)?;
    for f in &c.families {
        writeln!(
            out,
            "  {:<10} {:>4} of {:>4}",
            printable(&f.family),
            f.hit,
            f.syns
        )?;
        for s in &f.signatures {
            writeln!(out, "      {}", printable(s))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p0f_labels_name_families() {
        for (label, family) in [
            ("Windows NT kernel 5.x", "Windows"),
            ("Mac OS X 10.x", "Mac OS X"),
            (
                "MacOS X 10.9 or newer (sometimes iPhone or iPad)",
                "Mac OS X",
            ),
            ("iOS iPhone or iPad", "iOS"),
            ("Linux 2.2.x-3.x (barebone)", "Linux"),
            ("???", "unknown"),
        ] {
            assert_eq!(family_of_label(label), family, "{label}");
        }
    }
}
