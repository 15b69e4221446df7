//! `bisect --bundle DIR`: the hand-over an operator sends the other side
//! (issue 23): the HTML report, the decisive probes' pcapng, the inferred
//! rule in synlab and nft syntax, its impact over the profiles and the
//! real-SYN corpus, the commands that reproduce it and a README.txt. Each
//! file names the target, the time, synlab's version and the command line,
//! so a file forwarded alone still says what produced it.
//!
//! DIR is made new (an existing empty directory is taken; anything else
//! refused, a symlink never followed) before the search, while a live run
//! still has its privileges; every file goes through `crate::io::output`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::output::Style;
use super::recording::{KeptPacket, Owner, Recorder};
use crate::io::output::{file_kind, write_whole};
use crate::io::pcapng_writer::PcapngOut;
use crate::report::{RunFacts, SynSide};
use crate::search::infer::Inferred;
use crate::search::Report;
use crate::survey::matrix::shell_word;

/// What the bisect found, as the bundle writes it.
pub struct Finding<'a> {
    pub sides: [SynSide<'a>; 2],
    pub report: &'a Report,
    pub rec: &'a Recorder,
    pub facts: &'a RunFacts,
    pub inferred: Option<&'a Inferred>,
}

/// A bundle directory, made and empty, waiting for the report.
pub struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    /// With `--bundle DIR`: DIR made (or found empty); refused when it is a
    /// symlink, not a directory, or holds anything.
    pub fn create(dir: Option<&Path>) -> Result<Option<Bundle>> {
        let Some(dir) = dir else {
            return Ok(None);
        };
        match std::fs::symlink_metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(dir)
                    .with_context(|| format!("--bundle {}: cannot create", dir.display()))?;
            }
            Err(e) => return Err(e).with_context(|| format!("--bundle {}", dir.display())),
            Ok(meta) if !meta.is_dir() => bail!(
                "--bundle {}: is {}, not a new directory (refused)",
                dir.display(),
                file_kind(&meta.file_type())
            ),
            Ok(_) => {
                let mut entries = std::fs::read_dir(dir)
                    .with_context(|| format!("--bundle {}: cannot read", dir.display()))?;
                if entries.next().is_some() {
                    bail!(
                        "--bundle {}: the directory is not empty (refused: give a new one)",
                        dir.display()
                    );
                }
            }
        }
        Ok(Some(Bundle {
            dir: dir.to_owned(),
        }))
    }

    /// Every file of the bundle, once the search (and the inference) ended.
    pub fn write(self, answered: Answered, dirs: &[PathBuf], found: Finding<'_>) -> Result<()> {
        let Finding {
            sides,
            report,
            rec,
            facts,
            inferred,
        } = found;
        let head = header(facts);
        let [good, bad] = sides;
        let page =
            crate::report::bisect_page_inferred(good, bad, report, rec.timeline(), facts, inferred);
        self.file("report.html", page.as_bytes())?;
        let probes = self.pcapng(rec, &head)?;
        let rule = inferred.and_then(|i| i.rule.clone());
        let nft = match &rule {
            Some(r) => nft_text(r),
            None => "no rule was inferred, so there is nothing to say in nft\n".to_owned(),
        };
        self.file("rule.nft", format!("{head}{nft}").as_bytes())?;
        if let Some(r) = &rule {
            self.file("rule.txt", format!("{r}\n").as_bytes())?;
        }
        let (impact, hits) = match &rule {
            Some(r) => impact_text(r, dirs)?,
            None => (
                "no rule was inferred: no impact to show\n".to_owned(),
                String::new(),
            ),
        };
        self.file("impact.txt", format!("{head}{impact}").as_bytes())?;
        let sides = [good.label, bad.label];
        let commands = reproduce(facts, sides, rule.as_deref(), &nft);
        self.file("reproduce.sh", commands.as_bytes())?;
        let readme = readme(&head, answered, sides, report, inferred, [&hits, &probes]);
        self.file("README.txt", readme.as_bytes())?;
        super::messages::message!("{}: the bundle (README.txt first)", self.dir.display());
        Ok(())
    }

    fn file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.dir.join(name);
        write_whole(&path, "a bundle file", bytes)
            .with_context(|| format!("--bundle: {}", path.display()))
    }

    /// `probes.pcapng`: the decisive probes only; what it holds, in words.
    fn pcapng(&self, rec: &Recorder, head: &str) -> Result<String> {
        let path = self.dir.join("probes.pcapng");
        let picked = decisive(rec);
        let mut out = PcapngOut::create(&path, &format!("synlab bisect --bundle\n{head}"))
            .with_context(|| format!("--bundle: {}", path.display()))?;
        for p in &picked {
            out.write(p.linktype, p.ts, &p.data, &p.comment)
                .with_context(|| format!("--bundle: {}", path.display()))?;
        }
        out.finish()
            .with_context(|| format!("--bundle: {}", path.display()))?;
        let what = match picked.first().map(|p| p.linktype) {
            Some(1) => "frames captured live: the SYNs sent and every answer",
            Some(_) => "SYNs crafted as they would have been sent (none was: the oracle is not a live target; each packet's comment says so)",
            None => "no packet (the search recorded none)",
        };
        let inferring = picked
            .iter()
            .filter(|p| p.owner == Owner::Inference)
            .count();
        let infer = match inferring {
            0 => String::new(),
            n => format!(", and the rule inference's {n} (its bounds and agreement check)"),
        };
        Ok(format!(
            "probes.pcapng   {} packets: the decisive probes' (good, bad and each variant whose outcome differed from good's){infer}: {what}",
            picked.len()
        ))
    }
}

/// The packets of the decisive probes: good's, bad's, those of each
/// variant whose outcome differed from good's (the variants that changed
/// the outcome), and every probe of the inference (`--infer`: the values
/// each clause's bounds rest on, and its agreement check). Good and bad
/// are the variants labelled so.
fn decisive(rec: &Recorder) -> Vec<&KeptPacket> {
    let tl = rec.timeline();
    let of = |label: &str| -> BTreeSet<usize> {
        tl.iter()
            .filter(|p| p.label == label)
            .map(|p| p.variant)
            .collect()
    };
    let (good, bad) = (of("good"), of("bad"));
    let good_outcome = tl
        .iter()
        .find(|p| good.contains(&p.variant))
        .map(|p| p.outcome.clone());
    let mut keep: BTreeSet<usize> = good.union(&bad).copied().collect();
    keep.extend(
        tl.iter()
            .filter(|p| Some(&p.outcome) != good_outcome.as_ref())
            .map(|p| p.variant),
    );
    rec.kept()
        .iter()
        .filter(|p| match p.owner {
            Owner::Variant(v) => keep.contains(&v),
            Owner::Inference => true,
            Owner::None => false,
        })
        .collect()
}

/// The lines every text file starts with: what produced it.
fn header(facts: &RunFacts) -> String {
    let command: Vec<String> = facts
        .command
        .iter()
        .map(|w| shell_word(w).into_owned())
        .collect();
    format!(
        "# synlab {} bisect, started {}\n# target: {}\n# oracle: {}\n# command: {}\n",
        facts.synlab,
        facts.started,
        facts.target.as_deref().unwrap_or("none (not a live run)"),
        facts.oracle,
        command.join(" ")
    )
}

/// The nft rules of `rule`, or why nft cannot say it (the refusal).
fn nft_text(rule: &str) -> String {
    let parsed = match super::cmd_rule::parse(rule) {
        Ok(r) => r,
        Err(e) => return format!("# the inferred rule does not parse back: {e:#}\n"),
    };
    match crate::rule::to_nft(&parsed) {
        Ok(lines) => lines.iter().map(|l| format!("{l}\n")).collect(),
        Err(e) => format!("# cannot be expressed in nftables: {e}\n"),
    }
}

/// The impact table of `rule` over the profiles and the default corpus
/// (a corpus that cannot be read is said, and the profiles still shown),
/// and its summary in one line for the README.
fn impact_text(rule: &str, dirs: &[PathBuf]) -> Result<(String, String)> {
    let parsed = super::cmd_rule::parse(rule)?;
    let profiles = crate::io::profile_store::list(dirs)?;
    let dir = super::cmd_impact::default_corpus();
    let (corpus, note) = match super::cmd_impact::tally_corpus(&dir, &parsed, Default::default()) {
        Ok((c, _)) => (c, String::new()),
        Err(e) => (
            crate::rule::impact::CorpusTally::default().finish(),
            format!("# the corpus was not found ({e:#}): profiles only\n"),
        ),
    };
    let imp = crate::rule::impact::impact(&parsed, &profiles, corpus);
    let mut out = Vec::new();
    super::cmd_impact::print_table(&imp, Style::new(false), &mut out)?;
    let hit: Vec<&str> = imp
        .profiles
        .iter()
        .filter(|p| p.hit)
        .map(|p| p.name.as_str())
        .collect();
    let corpus = match note.is_empty() {
        true => format!("{} of {} real SYNs", imp.corpus.hit, imp.corpus.syns),
        false => "no real SYNs (the corpus was not found)".to_owned(),
    };
    let line =
        format!(
        "Beyond this box, the rule hits {} of {} known stacks ({}) and {corpus}: see impact.txt.",
        hit.len(),
        imp.profiles.len(),
        if hit.is_empty() { "none".to_owned() } else { hit.join(", ") }
    );
    Ok((format!("{note}{}", String::from_utf8_lossy(&out)), line))
}

/// `reproduce.sh`: the commands, each word shell-quoted.
fn reproduce(facts: &RunFacts, [good, bad]: [&str; 2], rule: Option<&str>, nft: &str) -> String {
    let command: Vec<String> = facts
        .command
        .iter()
        .map(|w| shell_word(w).into_owned())
        .collect();
    let mut s = format!("#!/bin/sh\n{}", header(facts));
    s.push_str("\n# 1. the bisect as it was run\n");
    s.push_str(&format!("{}\n", command.join(" ")));
    let Some(rule) = rule else {
        s.push_str("\n# no rule was inferred: nothing more to reproduce\n");
        return s;
    };
    let (g, b, r) = (shell_word(good), shell_word(bad), shell_word(rule));
    s.push_str("\n# 2. the inferred rule, simulated: it must name the same culprits\n");
    s.push_str(&format!("synlab bisect --good {g} --bad {b} --rule {r}\n"));
    s.push_str("\n# 3. which real stacks the rule hits (exit 1: some)\n");
    s.push_str(&format!("synlab impact --rule {r}\n"));
    s.push_str(
        "\n# 4. the rule as the lab's middlebox, so the finding becomes a regression test\n",
    );
    let lines: Vec<&str> = nft.lines().filter(|l| !l.starts_with('#')).collect();
    if lines.is_empty() {
        s.push_str("#    (not possible: the rule cannot be expressed in nftables, see rule.nft)\n");
        return s;
    }
    s.push_str("sudo scripts/lab.sh up\n");
    for l in lines {
        s.push_str(&format!("sudo scripts/lab.sh rule {}\n", shell_word(l)));
    }
    // The default lab (scripts/lab.sh, prefix sllab, index 0): its first
    // client's namespace and its server's HTTP port.
    s.push_str(&format!(
        "sudo ip netns exec sllab-c1 synlab bisect --good {g} --bad {b} --target 198.18.0.130:80 --suppress-rst --infer\n"
    ));
    s
}

/// Which oracle answered the probes, as the README says it.
#[derive(Clone, Copy, Debug)]
pub enum Answered {
    /// Sent to this target (`--target`).
    Live(std::net::SocketAddr),
    /// A simulated box (`--rule`).
    Rule,
    /// Looked up in a capture (`--recorded`).
    Recorded,
}

/// `README.txt`: the finding in plain words, and what each file is.
fn readme(
    head: &str,
    answered: Answered,
    [good, bad]: [&str; 2],
    report: &Report,
    inferred: Option<&Inferred>,
    [hits, probes]: [&str; 2],
) -> String {
    let culprits: Vec<String> = report.culprit_units.iter().map(|u| u.join(" + ")).collect();
    let finding = match culprits.is_empty() {
        true => format!(
            "The search ended without culprits ({:?}).",
            report.conclusion
        ),
        false => format!(
            "The SYN of {bad} fails where the SYN of {good} passes, because of: {}.",
            culprits.join("; ")
        ),
    };
    let rule = match inferred.map(|i| (&i.rule, i.agreement)) {
        Some((Some(r), a)) => format!(
            "The box's predicate, as inferred from the probes:\n\n    {r}\n\nIt agreed with the box on {}/{} random variants.\n{hits}",
            a.agreed, a.checked
        ),
        Some((None, _)) => "No rule could be inferred: a clause rests on values the box did not answer for.".to_owned(),
        None => "No rule was inferred (the search named no culprits).".to_owned(),
    };
    let oracle = match answered {
        Answered::Live(t) => format!("Probes were sent to {t}."),
        Answered::Rule => "Nothing was sent: the box was simulated by a --rule.".to_owned(),
        Answered::Recorded => {
            "Nothing was sent: outcomes were looked up in a --recorded capture.".to_owned()
        }
    };
    format!(
        "{head}\n{finding}\n{oracle}\n\n{rule}\n\nFiles:\n  README.txt      this note\n  report.html     the whole report: the two SYNs, culprits marked, every probe\n  {probes}\n  rule.txt        the inferred rule in synlab's language (synlab bisect --rule \"$(cat rule.txt)\")\n  rule.nft        the same rule for nftables, or why nft cannot say it\n  impact.txt      which known stacks and real captured SYNs the rule would also hit\n  reproduce.sh    the commands that reproduce the finding, and install the rule in the lab\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule nft cannot say is said in rule.nft (the refusal), and
    /// reproduce.sh has no lab.sh rule line for it: never a failed bundle.
    #[test]
    fn a_rule_nft_cannot_express_is_said_not_failed() {
        let nft = nft_text("synlab.tcp.option.2");
        assert!(
            nft.starts_with("# cannot be expressed in nftables: "),
            "{nft}"
        );
        let facts = RunFacts {
            synlab: "0.1.0".into(),
            command: vec![
                "synlab".into(),
                "bisect".into(),
                "--rule".into(),
                "a b".into(),
            ],
            started: "2026-12-07T05:00:00Z".into(),
            oracle: "rule a b".into(),
            target: None,
            request: None,
            port_finding: None,
            location: None,
            traces: None,
            injected: Vec::new(),
        };
        let sh = reproduce(
            &facts,
            ["linux", "windows-10"],
            Some("synlab.tcp.option.2"),
            &nft,
        );
        assert!(sh.contains("cannot be expressed in nftables"), "{sh}");
        assert!(!sh.contains("lab.sh rule"), "{sh}");
        assert!(sh.contains("synlab bisect --rule 'a b'"), "{sh}");
    }
}
