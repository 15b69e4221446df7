//! The vantage x profile matrix: surveys from many hosts merged, and what
//! their pattern points at.
//!
//! [`Matrix::merge`] checks that the surveys can be compared (same schema,
//! same target, same kind of probe, one SYN per profile name) and sums the
//! counts of a vantage/profile cell surveyed twice. [`diagnose`] reads the
//! pattern the way the 2020 investigation read its table:
//! - a vantage failing for every profile points at the path from there,
//!   not at an OS;
//! - a profile, or a whole OS family, failing from some vantages only
//!   points at an attribute of that OS meeting something on those paths;
//! - for each failing cell, the `synlab bisect` to run next from that
//!   vantage, with a profile that passes there as the good side.
//!
//! A cell fails when no probe passed, is partial when some did, and
//! passes when all did; "failing" below means fail or partial.

use std::collections::BTreeMap;

use serde::Serialize;
use thiserror::Error;

use super::{Counts, Status, SurveyDoc, SCHEMA};
use crate::model::Attributes;

/// Why surveys cannot be merged. Each names the file (as the caller
/// labelled it) that does not fit.
#[derive(Debug, Error, PartialEq)]
pub enum MergeError {
    #[error("{file}: schema {found:?}, expected {SCHEMA:?}")]
    Schema { file: String, found: String },
    #[error(
        "{file}: target {found}, but {first} surveyed {expected}: a matrix compares one target"
    )]
    Target {
        file: String,
        found: String,
        first: String,
        expected: String,
    },
    #[error("{file}: {found}, but {first} {expected}: a matrix compares one kind of probe")]
    Exchange {
        file: String,
        found: String,
        first: String,
        expected: String,
    },
    #[error("{file}: profile {profile} sends another SYN than in {first}: rename one of them")]
    Signature {
        file: String,
        profile: String,
        first: String,
    },
    #[error("{file}: profile {profile}: the probes of its cell add up past 4294967295")]
    Overflow { file: String, profile: String },
    #[error("no survey to merge")]
    Empty,
}

/// A profile as the surveys describe it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProfileInfo {
    pub name: String,
    pub os_family: Option<String>,
    pub p0f: Option<String>,
    #[serde(skip)]
    pub attributes: Attributes,
}

impl ProfileInfo {
    /// The family profiles are grouped by: the OS family the profile
    /// names, else its name up to the first `-` (`windows-10` -> `windows`).
    pub fn family(&self) -> &str {
        match &self.os_family {
            Some(f) => f,
            None => self.name.split('-').next().unwrap_or(&self.name),
        }
    }
}

/// Surveys merged: rows are vantages, columns profiles (each in the order
/// first seen).
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub target: String,
    pub exchange: Option<String>,
    pub vantages: Vec<String>,
    pub profiles: Vec<ProfileInfo>,
    /// (vantage index, profile index) -> counts; a cell never surveyed is absent.
    pub cells: BTreeMap<(usize, usize), Counts>,
}

fn describe_probe(exchange: &Option<String>) -> String {
    match exchange {
        Some(e) => format!("exchanges ({e})"),
        None => "handshakes".to_owned(),
    }
}

impl Matrix {
    /// Merge surveys, each with the name of the file it came from.
    pub fn merge(docs: &[(String, SurveyDoc)]) -> Result<Matrix, MergeError> {
        let (first_file, first) = docs.first().ok_or(MergeError::Empty)?;
        let mut m = Matrix {
            target: first.target.clone(),
            exchange: first.exchange.clone(),
            vantages: Vec::new(),
            profiles: Vec::new(),
            cells: BTreeMap::new(),
        };
        // Where each profile was first seen, for the signature check.
        let mut seen_in: Vec<&str> = Vec::new();
        for (file, doc) in docs {
            m.check(file, doc, first_file)?;
            let v = index_of(&mut m.vantages, &doc.vantage);
            for p in &doc.profiles {
                let i = match m.profiles.iter().position(|q| q.name == p.name) {
                    Some(i) if m.profiles[i].attributes != p.attributes => {
                        return Err(MergeError::Signature {
                            file: file.clone(),
                            profile: p.name.clone(),
                            first: seen_in[i].to_owned(),
                        });
                    }
                    Some(i) => i,
                    None => {
                        m.profiles.push(ProfileInfo {
                            name: p.name.clone(),
                            os_family: p.os_family.clone(),
                            p0f: p.p0f.clone(),
                            attributes: p.attributes.clone(),
                        });
                        seen_in.push(file);
                        m.profiles.len() - 1
                    }
                };
                let cell = m.cells.entry((v, i)).or_default();
                *cell = cell
                    .checked_merge(&p.outcomes)
                    .ok_or_else(|| MergeError::Overflow {
                        file: file.clone(),
                        profile: p.name.clone(),
                    })?;
            }
        }
        Ok(m)
    }

    fn check(&self, file: &str, doc: &SurveyDoc, first_file: &str) -> Result<(), MergeError> {
        if doc.schema != SCHEMA {
            return Err(MergeError::Schema {
                file: file.to_owned(),
                found: doc.schema.clone(),
            });
        }
        if doc.target != self.target {
            return Err(MergeError::Target {
                file: file.to_owned(),
                found: doc.target.clone(),
                first: first_file.to_owned(),
                expected: self.target.clone(),
            });
        }
        if doc.exchange != self.exchange {
            return Err(MergeError::Exchange {
                file: file.to_owned(),
                found: describe_probe(&doc.exchange),
                first: first_file.to_owned(),
                expected: describe_probe(&self.exchange),
            });
        }
        Ok(())
    }

    pub fn cell(&self, vantage: usize, profile: usize) -> Option<&Counts> {
        self.cells.get(&(vantage, profile))
    }

    fn status(&self, vantage: usize, profile: usize) -> Option<Status> {
        self.cell(vantage, profile).and_then(Counts::status)
    }

    /// The attributes in which two profiles' SYNs differ.
    fn distance(&self, a: usize, b: usize) -> usize {
        let (a, b) = (&self.profiles[a].attributes, &self.profiles[b].attributes);
        let only_b = b.keys().filter(|k| a.get(*k).is_none()).count();
        a.iter().filter(|(k, v)| b.get(*k) != Some(*v)).count() + only_b
    }
}

fn index_of(list: &mut Vec<String>, name: &str) -> usize {
    match list.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            list.push(name.to_owned());
            list.len() - 1
        }
    }
}

/// What the pattern of the matrix points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "finding")]
pub enum Finding {
    /// Every surveyed cell passed.
    AllPass,
    /// Every profile fails from this vantage: the path, not the OS.
    VantageFailsAll { vantage: String },
    /// Every profile of one family (two or more) fails from these vantages
    /// and from no other: an attribute the family shares.
    FamilyFails {
        family: String,
        profiles: Vec<String>,
        failing: Vec<String>,
        passing: Vec<String>,
    },
    /// One profile fails from these vantages (`passing` empty: from every
    /// vantage where something passes, so the target itself may refuse it).
    ProfileFails {
        profile: String,
        failing: Vec<String>,
        passing: Vec<String>,
    },
}

/// The search to run next for one failing cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NextStep {
    pub vantage: String,
    pub bad: String,
    /// A profile that passes from this vantage: the same family's if one
    /// does, else the one whose SYN differs from `bad` in fewest attributes.
    pub good: String,
    /// How many attributes the two SYNs differ in.
    pub differences: usize,
    pub command: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub findings: Vec<Finding>,
    /// One per failing cell outside a vantage where everything fails.
    pub next: Vec<NextStep>,
}

impl Diagnosis {
    pub fn has_failures(&self) -> bool {
        self.findings.iter().any(|f| *f != Finding::AllPass)
    }
}

/// Read the matrix's pattern.
pub fn diagnose(m: &Matrix) -> Diagnosis {
    let broken: Vec<usize> = (0..m.vantages.len())
        .filter(|&v| vantage_fails_all(m, v))
        .collect();
    let mut findings: Vec<Finding> = broken
        .iter()
        .map(|&v| Finding::VantageFailsAll {
            vantage: m.vantages[v].clone(),
        })
        .collect();
    let healthy: Vec<usize> = (0..m.vantages.len())
        .filter(|v| !broken.contains(v))
        .collect();
    findings.extend(profile_findings(m, &healthy));
    if findings.is_empty() {
        findings.push(Finding::AllPass);
    }
    let next = healthy
        .iter()
        .flat_map(|&v| (0..m.profiles.len()).map(move |p| (v, p)))
        .filter(|&(v, p)| m.status(v, p).is_some_and(Status::failing))
        .filter_map(|(v, p)| next_step(m, v, p))
        .collect();
    Diagnosis { findings, next }
}

/// Every profile surveyed from `v` failed, and there were two or more:
/// with one profile alone the path and the OS cannot be told apart.
fn vantage_fails_all(m: &Matrix, v: usize) -> bool {
    let statuses: Vec<Status> = (0..m.profiles.len())
        .filter_map(|p| m.status(v, p))
        .collect();
    statuses.len() > 1 && statuses.iter().all(|s| s.failing())
}

/// The vantages among `among` where `p` failed, and where it passed.
fn split(m: &Matrix, p: usize, among: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let surveyed = among.iter().filter(|&&v| m.status(v, p).is_some());
    surveyed.partition(|&&v| m.status(v, p).is_some_and(Status::failing))
}

fn names(m: &Matrix, vs: &[usize]) -> Vec<String> {
    vs.iter().map(|&v| m.vantages[v].clone()).collect()
}

/// Families whose every member fails from the same vantages are one
/// finding; other failing profiles one each.
fn profile_findings(m: &Matrix, healthy: &[usize]) -> Vec<Finding> {
    let mut families: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in m.profiles.iter().enumerate() {
        families.entry(p.family()).or_default().push(i);
    }
    let mut out = Vec::new();
    for (family, members) in families {
        let splits: Vec<_> = members.iter().map(|&p| split(m, p, healthy)).collect();
        let shared = members.len() > 1
            && !splits[0].0.is_empty()
            && splits.iter().all(|s| s.0 == splits[0].0);
        if shared {
            out.push(Finding::FamilyFails {
                family: family.to_owned(),
                profiles: members
                    .iter()
                    .map(|&p| m.profiles[p].name.clone())
                    .collect(),
                failing: names(m, &splits[0].0),
                passing: names(m, &union(splits.iter().map(|s| &s.1))),
            });
            continue;
        }
        for (&p, (failing, passing)) in members.iter().zip(&splits) {
            if !failing.is_empty() {
                out.push(Finding::ProfileFails {
                    profile: m.profiles[p].name.clone(),
                    failing: names(m, failing),
                    passing: names(m, passing),
                });
            }
        }
    }
    out
}

fn union<'a>(lists: impl Iterator<Item = &'a Vec<usize>>) -> Vec<usize> {
    let mut all: Vec<usize> = lists.flatten().copied().collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// The bisect for failing cell (v, bad), if a profile passes from `v`.
fn next_step(m: &Matrix, v: usize, bad: usize) -> Option<NextStep> {
    let family = m.profiles[bad].family();
    let good = (0..m.profiles.len())
        .filter(|&p| m.status(v, p) == Some(Status::Pass))
        .min_by_key(|&p| {
            (
                m.profiles[p].family() != family,
                m.distance(p, bad),
                m.profiles[p].name.clone(),
            )
        })?;
    // Every value from a survey file is quoted for the shell (issue 22,
    // item 4), though reading the file already refused what a survey
    // could not have written.
    let mut command = format!(
        "synlab bisect --good {} --bad {} --target {}",
        shell_word(&m.profiles[good].name),
        shell_word(&m.profiles[bad].name),
        shell_word(&m.target)
    );
    if let Some(e) = &m.exchange {
        command.push_str(&format!(" --exchange {}", shell_word(e)));
    }
    // The surveys reached a target outside loopback and the lab only
    // with the declaration; the bisect needs it too.
    if !probes_without_declaration(&m.target) {
        command.push_str(" --i-own-this-network");
    }
    Some(NextStep {
        vantage: m.vantages[v].clone(),
        bad: m.profiles[bad].name.clone(),
        good: m.profiles[good].name.clone(),
        differences: m.distance(good, bad),
        command,
    })
}

/// `s` as one POSIX shell word: as it is when it holds only characters no
/// shell treats specially, else in single quotes (a `'` inside written
/// `'\''`).
pub fn shell_word(s: &str) -> std::borrow::Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        return s.into();
    }
    format!("'{}'", s.replace('\'', "'\\''")).into()
}

/// Whether `target` (IP:PORT) is loopback or in the lab's ranges, where
/// synlab probes without `--i-own-this-network`. An unparsable target
/// (a hand-edited file) is not.
fn probes_without_declaration(target: &str) -> bool {
    target
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|t| t.ip().is_loopback() || crate::probe::in_lab_ranges(t.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Field, Value};
    use crate::survey::ProfileResult;

    /// A profile whose SYN is just a TTL and a window.
    fn profile(name: &str, family: &str, ttl: u64, window: u64, counts: Counts) -> ProfileResult {
        let mut a = Attributes::new();
        a.insert(Field::IpTtl, Value::Int(ttl));
        a.insert(Field::TcpWindowSizeValue, Value::Int(window));
        ProfileResult::new(name.into(), Some(family.into()), None, a, counts)
    }

    fn counts(pass: u32, fail: u32) -> Counts {
        Counts {
            syn_ack: pass,
            no_reply: fail,
            ..Counts::default()
        }
    }

    fn survey(vantage: &str, cells: &[(u32, u32)]) -> SurveyDoc {
        let shapes = [
            ("linux", "Linux", 64, 64240),
            ("ubuntu", "Linux", 64, 64240),
            ("windows-10", "Windows", 128, 64240),
            ("windows-11", "Windows", 128, 64240),
            ("macos", "Mac OS X", 64, 65535),
        ];
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
            profiles: shapes
                .iter()
                .zip(cells)
                .map(|(&(n, f, t, w), &(k, x))| profile(n, f, t, w, counts(k, x)))
                .collect(),
        }
    }

    /// Issue 22, item 4: a survey's target `$(reboot)` or profile name
    /// `x$(id)` came back raw in the suggested `synlab bisect` command.
    #[test]
    fn bug_survey_values_were_pasted_into_the_command_unquoted() {
        let mut doc = survey("a", &[(3, 0), (3, 0), (0, 3), (3, 0), (3, 0)]);
        doc.target = "$(reboot)".into();
        let text = serde_json::to_string(&doc).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            SurveyDoc::from_json(&text),
            Err(crate::survey::ReadError::Target { .. })
        ));
        let mut doc = survey("a", &[(3, 0), (3, 0), (0, 3), (3, 0), (3, 0)]);
        doc.profiles[2].name = "x$(id)".into();
        let text = serde_json::to_string(&doc).unwrap_or_else(|e| panic!("{e}"));
        match SurveyDoc::from_json(&text) {
            Err(e) => assert_eq!(
                e.to_string(),
                "profiles[2].name: \"x$(id)\" is not a profile name (letters, digits, '-', '_', '.')"
            ),
            Ok(_) => panic!("accepted"),
        }
        // Built in memory (not read), the command still quotes it.
        let m = matrix(&[doc]);
        let d = diagnose(&m);
        assert!(
            d.next[0].command.contains("--bad 'x$(id)'"),
            "{}",
            d.next[0].command
        );
    }

    #[test]
    fn shell_words_are_quoted_when_not_plain() {
        assert_eq!(shell_word("windows-10"), "windows-10");
        assert_eq!(shell_word("198.18.0.1:80"), "198.18.0.1:80");
        assert_eq!(shell_word("[2001:2::1]:80"), "'[2001:2::1]:80'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("a b;c"), "'a b;c'");
    }

    /// Issue 22, item 8: 4294967295 syn-acks and 1,000 no-replies read as
    /// 100% pass (the sum saturated); refused now, naming the field.
    #[test]
    fn bug_counts_that_overflow_or_disagree_with_probes_were_trusted() {
        let mut doc = survey("a", &[(3, 0); 5]);
        doc.profiles[0].outcomes = counts(u32::MAX, 1000);
        doc.profiles[0].probes = u32::MAX;
        let text = serde_json::to_string(&doc).unwrap_or_else(|e| panic!("{e}"));
        match SurveyDoc::from_json(&text) {
            Err(e) => assert_eq!(
                e.to_string(),
                "profiles[0] (linux): outcomes add up to 4294968295, but probes is 4294967295"
            ),
            Ok(_) => panic!("accepted"),
        }
        // Within one file each cell adds up; across files the sum overflows.
        let mut big = survey("a", &[(3, 0); 5]);
        big.profiles[0] = profile("linux", "Linux", 64, 64240, counts(u32::MAX - 1, 0));
        let docs = vec![
            ("a.json".to_owned(), big.clone()),
            ("b.json".to_owned(), big),
        ];
        match Matrix::merge(&docs) {
            Err(e) => assert_eq!(
                e.to_string(),
                "b.json: profile linux: the probes of its cell add up past 4294967295"
            ),
            Ok(_) => panic!("accepted"),
        }
    }

    fn matrix(surveys: &[SurveyDoc]) -> Matrix {
        let docs: Vec<(String, SurveyDoc)> = surveys
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("s{i}.json"), d.clone()))
            .collect();
        Matrix::merge(&docs).unwrap_or_else(|e| panic!("{e}"))
    }

    const ALL_PASS: [(u32, u32); 5] = [(3, 0); 5];

    #[test]
    fn all_passing() {
        let m = matrix(&[survey("a", &ALL_PASS), survey("b", &ALL_PASS)]);
        let d = diagnose(&m);
        assert_eq!(d.findings, [Finding::AllPass]);
        assert!(d.next.is_empty() && !d.has_failures());
    }

    #[test]
    fn a_family_failing_from_one_vantage_only() {
        let windows_dropped = [(3, 0), (3, 0), (0, 3), (0, 3), (3, 0)];
        let m = matrix(&[survey("a", &ALL_PASS), survey("b", &windows_dropped)]);
        let d = diagnose(&m);
        assert_eq!(
            d.findings,
            [Finding::FamilyFails {
                family: "Windows".into(),
                profiles: vec!["windows-10".into(), "windows-11".into()],
                failing: vec!["b".into()],
                passing: vec!["a".into()],
            }]
        );
        let cells: Vec<(&str, &str, &str)> = d
            .next
            .iter()
            .map(|n| (n.vantage.as_str(), n.bad.as_str(), n.good.as_str()))
            .collect();
        // No Windows passes from b: the closest signature (the TTL alone
        // differs) wins over macos (TTL and window), the name breaks the tie.
        assert_eq!(
            cells,
            [("b", "windows-10", "linux"), ("b", "windows-11", "linux")]
        );
        assert_eq!(d.next[0].differences, 1);
        assert_eq!(
            d.next[0].command,
            "synlab bisect --good linux --bad windows-10 --target 198.18.0.130:80"
        );
    }

    #[test]
    fn one_profile_failing_prefers_its_own_family_as_good() {
        let ubuntu_dropped = [(3, 0), (1, 2), (3, 0), (3, 0), (3, 0)];
        let m = matrix(&[survey("a", &ubuntu_dropped), survey("b", &ALL_PASS)]);
        let d = diagnose(&m);
        assert_eq!(
            d.findings,
            [Finding::ProfileFails {
                profile: "ubuntu".into(),
                failing: vec!["a".into()],
                passing: vec!["b".into()],
            }]
        );
        assert_eq!(d.next.len(), 1);
        assert_eq!(
            (d.next[0].good.as_str(), d.next[0].vantage.as_str()),
            ("linux", "a")
        );
    }

    #[test]
    fn a_vantage_failing_for_every_profile_is_the_path() {
        let m = matrix(&[
            survey("a", &ALL_PASS),
            survey("cdn-less", &[(0, 3); 5]),
            survey("c", &ALL_PASS),
        ]);
        let d = diagnose(&m);
        assert_eq!(
            d.findings,
            [Finding::VantageFailsAll {
                vantage: "cdn-less".into()
            }]
        );
        // Nothing passes there to bisect against.
        assert!(d.next.is_empty());
    }

    #[test]
    fn a_broken_vantage_does_not_hide_a_family() {
        let windows_dropped = [(3, 0), (3, 0), (0, 3), (0, 3), (3, 0)];
        let m = matrix(&[
            survey("a", &windows_dropped),
            survey("b", &[(0, 3); 5]),
            survey("c", &ALL_PASS),
        ]);
        let d = diagnose(&m);
        assert_eq!(d.findings.len(), 2, "{:?}", d.findings);
        assert!(
            matches!(&d.findings[1], Finding::FamilyFails { failing, passing, .. }
            if failing == &["a"] && passing == &["c"])
        );
        assert_eq!(d.next.len(), 2);
    }

    #[test]
    fn one_profile_alone_does_not_blame_the_path() {
        let mut a = survey("a", &ALL_PASS);
        let mut b = survey("b", &ALL_PASS);
        a.profiles.truncate(1);
        b.profiles.truncate(1);
        b.profiles[0].outcomes = counts(0, 3);
        let d = diagnose(&matrix(&[a, b]));
        assert_eq!(
            d.findings,
            [Finding::ProfileFails {
                profile: "linux".into(),
                failing: vec!["b".into()],
                passing: vec!["a".into()],
            }]
        );
        // Nothing else passes from b to bisect against.
        assert!(d.next.is_empty());
    }

    #[test]
    fn duplicate_cells_are_summed() {
        let once = [(3, 0), (3, 0), (1, 2), (3, 0), (3, 0)];
        let m = matrix(&[survey("a", &once), survey("a", &once)]);
        assert_eq!(m.vantages, ["a"]);
        assert_eq!(m.cell(0, 2), Some(&counts(2, 4)));
    }

    #[test]
    fn mismatches_name_the_file() {
        let a = survey("a", &ALL_PASS);
        let mut b = survey("b", &ALL_PASS);
        b.target = "198.18.0.130:81".into();
        let docs = [("a.json".to_owned(), a.clone()), ("b.json".to_owned(), b)];
        let e = Matrix::merge(&docs).err();
        assert!(matches!(&e, Some(MergeError::Target { file, .. }) if file == "b.json"));
        let msg = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("b.json") && msg.contains("a.json"), "{msg}");

        let mut c = survey("c", &ALL_PASS);
        c.schema = "synlab.survey/2".into();
        let docs = [("a.json".to_owned(), a.clone()), ("c.json".to_owned(), c)];
        assert!(matches!(Matrix::merge(&docs),
            Err(MergeError::Schema { file, .. }) if file == "c.json"));

        let mut d = survey("d", &ALL_PASS);
        d.profiles[0]
            .attributes
            .insert(Field::IpTtl, Value::Int(65));
        let docs = [("a.json".to_owned(), a.clone()), ("d.json".to_owned(), d)];
        assert!(matches!(Matrix::merge(&docs),
            Err(MergeError::Signature { file, profile, first }) if file == "d.json" && profile == "linux" && first == "a.json"));

        let mut e = survey("e", &ALL_PASS);
        e.exchange = Some("http:/".into());
        let docs = [("a.json".to_owned(), a), ("e.json".to_owned(), e)];
        assert!(matches!(Matrix::merge(&docs),
            Err(MergeError::Exchange { file, .. }) if file == "e.json"));
        assert_eq!(Matrix::merge(&[]), Err(MergeError::Empty));
    }

    #[test]
    fn a_target_outside_the_lab_carries_the_declaration() {
        let mut a = survey("a", &ALL_PASS);
        let mut b = survey("b", &[(3, 0), (0, 3), (3, 0), (3, 0), (3, 0)]);
        a.target = "[2001:db8::1]:443".into();
        b.target = a.target.clone();
        b.exchange = Some("http:/big.bin".into());
        a.exchange = b.exchange.clone();
        let d = diagnose(&matrix(&[a, b]));
        assert_eq!(
            d.next[0].command,
            // Quoted: `[...]` is a glob (zsh refuses it unmatched).
            "synlab bisect --good linux --bad ubuntu --target '[2001:db8::1]:443' \
             --exchange http:/big.bin --i-own-this-network"
        );
    }

    #[test]
    fn family_falls_back_to_the_name_prefix() {
        let p = ProfileInfo {
            name: "windows-10".into(),
            os_family: None,
            p0f: None,
            attributes: Attributes::new(),
        };
        assert_eq!(p.family(), "windows");
    }
}
