//! The bisect search: which attribute differences between a passing SYN
//! (good) and a failing one (bad) change the outcome.
//!
//! A sans-I/O state machine. The caller asks [`Search::next_batch`] for a
//! batch of probes, has an oracle answer them (concurrently, if it can: the
//! probes of a batch are independent), hands each answer to
//! [`Search::record`], and repeats until `next_batch` returns `None`; then
//! [`Search::report`] says what was found. [`run`] is that
//! loop.
//!
//! Phases:
//! 1. **Baseline**: good and bad, each probed at least `baseline_probes`
//!    times. If their outcomes are the same there is nothing to explain.
//! 2. **One at a time**: each difference unit applied alone to good, and
//!    reverted alone on bad.
//! 3. **Isolation**: ddmin ([`ddmin`]) over the units finds a 1-minimal set
//!    that turns good's outcome into bad's, catching interactions the table
//!    misses. Then, while the units not yet in a culprit set still fail on
//!    their own, ddmin runs again over them: each further set is another,
//!    disjoint explanation (`a || b` gives `[a]` and `[b]`).
//!
//! Every variant (a set of units applied to good) is crafted first
//! (`craft::crafted_attributes`): one that cannot be built, or that does not
//! decode back to what was asked, is *unresolved* and never sent. Variants
//! are cached: one verdict per set of units, whichever phase asks. Each
//! verdict comes from the sequential test in [`verdict`].
//!
//! The final confidence is the product of the confidences of the verdicts
//! the answer rests on: both baselines, each culprit set failing, each
//! set-minus-one-unit passing (1-minimality) and, after the last culprit
//! set, the remaining units passing.

pub mod ddmin;
mod oracle;
pub mod units;
pub mod verdict;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::handshake::Outcome;
use crate::model::{Attr, Attributes, Field};
use ddmin::{Class, Step};
pub use oracle::{run, BatchAnswers, Halted, Oracle, OracleError};
pub use units::{is_bisectable, DiffRow, Unit};
use verdict::{decide, Decision, Tally, TestParams, Verdict};

/// Knobs of the search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchOptions {
    /// Loss rate the sequential test allows for at worst.
    pub max_loss: f64,
    /// Error allowed per no-reply verdict.
    pub alpha: f64,
    /// Probes of each baseline at least.
    pub baseline_probes: u32,
    /// Probes of any variant at most.
    pub max_probes: u32,
    /// Fill the one-at-a-time table (phase 2).
    pub single: bool,
    /// Probes of the whole search at most: a bound on any probe loop,
    /// live or simulated, whatever the number of differences.
    pub max_total_probes: u64,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            max_loss: 0.5,
            alpha: 0.01,
            baseline_probes: 3,
            max_probes: 20,
            single: true,
            max_total_probes: 5000,
        }
    }
}

/// Why a search cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("the {side} SYN cannot be crafted: {source}")]
    Craft {
        side: &'static str,
        #[source]
        source: crate::model::craft::CraftError,
    },
    #[error("good is IPv{good} and bad is IPv{bad}: bisect compares SYNs of one IP version")]
    MixedFamilies { good: u8, bad: u8 },
    #[error("bad option: {0}")]
    Options(&'static str),
}

/// One probe to send.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeRequest {
    /// Pass back to [`Search::record`] with the answer.
    pub id: u64,
    /// The variant this probe belongs to; a batch may hold several probes of one variant.
    pub variant: usize,
    /// Behavioural attributes to craft the SYN from (`craft::build_packet`);
    /// the oracle chooses the volatile ones (addresses, ports, sequence).
    pub spec: Attributes,
    /// What the SYN decodes to when crafted with placeholder volatile values
    /// (derived attributes included): what a simulated middlebox looks at.
    pub crafted: Attributes,
}

#[derive(Clone, Debug)]
struct Variant {
    built: Result<(Attributes, Attributes), String>,
    tally: Tally,
    verdict: Option<Verdict>,
    baseline: bool,
}

/// The phase a probe was sent in, as the report counts them. Declared in
/// the alphabetical order of the names, the order of the JSON's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbePhase {
    Baseline,
    /// Minimising the culprit sets (ddmin).
    Isolation,
    /// The one-at-a-time table.
    Single,
}

/// How a variant's verdict compares with the two sides'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictClass {
    /// The good side's outcome.
    Pass,
    /// The bad side's outcome.
    Fail,
    /// Anything else (another outcome, unresolved, not yet known).
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Baseline,
    Single,
    Isolate,
    Done,
}

/// How the search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    /// Still running.
    Running,
    /// One or more culprit sets found.
    Culprits,
    /// Good and bad have the same outcome (or no behavioural difference).
    NothingToExplain,
    /// A baseline has no usable verdict, or no set reproduces the failure.
    Unexplained,
}

/// The search.
#[derive(Debug)]
pub struct Search {
    opts: SearchOptions,
    good: Attributes,
    bad: Attributes,
    v6: bool,
    rows: Vec<DiffRow>,
    units: Vec<Unit>,
    variants: Vec<Variant>,
    by_units: HashMap<Vec<usize>, usize>,
    phase: Phase,
    outstanding: HashMap<u64, usize>,
    next_id: u64,
    probes: u64,
    rounds: u32,
    by_phase: BTreeMap<ProbePhase, u64>,
    rounds_by_phase: BTreeMap<ProbePhase, u32>,
    culprits: Vec<Vec<usize>>,
    conclusion: Conclusion,
    note: Option<String>,
}

impl Search {
    /// A search between two sets of SYN attributes (a profile's, or a
    /// captured SYN's; volatile and derived attributes are ignored).
    pub fn new(
        good: &Attributes,
        bad: &Attributes,
        opts: SearchOptions,
    ) -> Result<Search, SearchError> {
        if !(0.0..1.0).contains(&opts.max_loss) {
            return Err(SearchError::Options("max_loss must be in [0, 1)"));
        }
        if !(opts.alpha > 0.0 && opts.alpha < 1.0) {
            return Err(SearchError::Options("alpha must be in (0, 1)"));
        }
        let family = |a: &Attributes| {
            if a.contains(Field::Ipv6Version) || a.contains(Field::Ipv6Hlim) {
                6
            } else {
                4
            }
        };
        let (fg, fb) = (family(good), family(bad));
        if fg != fb {
            return Err(SearchError::MixedFamilies { good: fg, bad: fb });
        }
        let v6 = fg == 6;
        let (good, _) = units::normalise(good, v6).map_err(|source| SearchError::Craft {
            side: "good",
            source,
        })?;
        let (bad, _) = units::normalise(bad, v6).map_err(|source| SearchError::Craft {
            side: "bad",
            source,
        })?;
        let (rows, unit_list) = units::units(&good, &bad);
        let mut s = Search {
            opts,
            good,
            bad,
            v6,
            rows,
            units: unit_list,
            variants: Vec::new(),
            by_units: HashMap::new(),
            phase: Phase::Baseline,
            outstanding: HashMap::new(),
            next_id: 0,
            probes: 0,
            rounds: 0,
            by_phase: BTreeMap::new(),
            rounds_by_phase: BTreeMap::new(),
            culprits: Vec::new(),
            conclusion: Conclusion::Running,
            note: None,
        };
        if s.units.is_empty() {
            s.phase = Phase::Done;
            s.conclusion = Conclusion::NothingToExplain;
            s.note = Some("good and bad have no behavioural SYN difference".into());
        }
        Ok(s)
    }

    /// The difference units, in the order of the report.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// Probes asked for so far.
    pub fn probes(&self) -> u64 {
        self.probes
    }

    /// Batches handed out so far.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// The next batch of probes, or `None` when the search is over. Record
    /// every answer of a batch before asking for the next; while answers
    /// are outstanding this returns an empty batch.
    pub fn next_batch(&mut self) -> Option<Vec<ProbeRequest>> {
        if !self.outstanding.is_empty() {
            return Some(Vec::new());
        }
        let needed = self.advance();
        if self.phase == Phase::Done {
            return None;
        }
        let asked: u64 = needed.iter().map(|&(_, n)| u64::from(n)).sum();
        if self.probes + asked > self.opts.max_total_probes {
            let conclusion = if self.culprits.is_empty() {
                Conclusion::Unexplained
            } else {
                Conclusion::Culprits
            };
            let note = format!(
                "stopped at the probe budget ({} probes; --max-total-probes)",
                self.opts.max_total_probes
            );
            self.finish(conclusion, Some(note));
            return None;
        }
        let phase = match self.phase {
            Phase::Baseline => ProbePhase::Baseline,
            Phase::Single => ProbePhase::Single,
            Phase::Isolate | Phase::Done => ProbePhase::Isolation,
        };
        let mut batch = Vec::new();
        for (v, count) in needed {
            let Ok((spec, crafted)) = &self.variants[v].built else {
                continue;
            };
            for _ in 0..count {
                let id = self.next_id;
                self.next_id += 1;
                self.outstanding.insert(id, v);
                batch.push(ProbeRequest {
                    id,
                    variant: v,
                    spec: spec.clone(),
                    crafted: crafted.clone(),
                });
            }
        }
        self.probes += batch.len() as u64;
        *self.by_phase.entry(phase).or_default() += batch.len() as u64;
        self.rounds += 1;
        *self.rounds_by_phase.entry(phase).or_default() += 1;
        Some(batch)
    }

    /// An oracle's answer to probe `id`. Unknown ids are ignored.
    pub fn record(&mut self, id: u64, answer: Result<Outcome, OracleError>) {
        let Some(v) = self.outstanding.remove(&id) else {
            return;
        };
        let t = &mut self.variants[v].tally;
        match answer {
            Ok(o) => t.add(o),
            Err(OracleError::Unknown) => t.unknown += 1,
            Err(e) => {
                t.errors += 1;
                t.last_error = Some(e.to_string());
            }
        }
    }

    fn params(&self, baseline: bool) -> TestParams {
        TestParams {
            max_loss: self.opts.max_loss,
            alpha: self.opts.alpha,
            min_probes: if baseline {
                self.opts.baseline_probes.max(1)
            } else {
                1
            },
            max_probes: self.opts.max_probes.max(self.opts.baseline_probes),
        }
    }

    /// The variant for a set of units, created (and crafted) on first use.
    fn variant(&mut self, units: &[usize]) -> usize {
        let mut key = units.to_vec();
        key.sort_unstable();
        key.dedup();
        if let Some(&v) = self.by_units.get(&key) {
            return v;
        }
        let spec = units::apply(&self.good, &self.bad, &self.units, &key);
        let built = match units::normalise(&spec, self.v6) {
            Err(e) => Err(format!("cannot be built: {e}")),
            Ok((canon, crafted)) => {
                let wrong = canon
                    .iter()
                    .find(|(k, v)| spec.get(k) != Some(v))
                    .or_else(|| spec.iter().find(|(k, _)| !canon.contains(k)))
                    .map(|(k, _)| k.to_owned());
                match wrong {
                    Some(k) => Err(format!("crafting does not reproduce {k}")),
                    None => Ok((spec, crafted)),
                }
            }
        };
        let verdict = built.as_ref().err().map(|reason| Verdict::Unresolved {
            reason: reason.clone(),
        });
        let baseline = key.is_empty() || key.len() == self.units.len();
        self.variants.push(Variant {
            built,
            tally: Tally::default(),
            verdict,
            baseline,
        });
        let v = self.variants.len() - 1;
        self.by_units.insert(key, v);
        v
    }

    /// Decide what can be decided; return the undecided variants of the
    /// current phase with the probes each needs.
    fn pending(&mut self, wanted: &[Vec<usize>]) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        for units in wanted {
            let v = self.variant(units);
            if self.variants[v].verdict.is_some() || out.iter().any(|(x, _)| *x == v) {
                continue;
            }
            let params = self.params(self.variants[v].baseline);
            match decide(&self.variants[v].tally, &params) {
                Decision::Decided(verdict) => self.variants[v].verdict = Some(verdict),
                Decision::More(n) => out.push((v, n.max(1))),
            }
        }
        out
    }

    fn all(&self) -> Vec<usize> {
        (0..self.units.len()).collect()
    }

    fn verdict_of(&self, units: &[usize]) -> Option<&Verdict> {
        let mut key = units.to_vec();
        key.sort_unstable();
        self.by_units
            .get(&key)
            .and_then(|&v| self.variants[v].verdict.as_ref())
    }

    fn baseline_outcomes(&self) -> Option<(Outcome, Outcome)> {
        let g = self.verdict_of(&[])?.outcome()?;
        let b = self.verdict_of(&self.all())?.outcome()?;
        Some((g, b))
    }

    fn class_of(&self, units: &[usize]) -> Option<Class> {
        let v = self.verdict_of(units)?;
        let (g, b) = self.baseline_outcomes()?;
        Some(match v.outcome() {
            Some(o) if o == b => Class::Fail,
            Some(o) if o == g => Class::Pass,
            _ => Class::Unresolved,
        })
    }

    /// Move through the phases as far as known verdicts allow; return what
    /// the current phase still needs.
    fn advance(&mut self) -> Vec<(usize, u32)> {
        loop {
            match self.phase {
                Phase::Done => return Vec::new(),
                Phase::Baseline => {
                    let need = self.pending(&[Vec::new(), self.all()]);
                    if !need.is_empty() {
                        return need;
                    }
                    match self.baseline_outcomes() {
                        None => {
                            let why = |v: Option<&Verdict>| match v {
                                Some(Verdict::Unresolved { reason }) => reason.clone(),
                                Some(Verdict::Unknown) => "unknown to the oracle".into(),
                                _ => "no verdict".into(),
                            };
                            let (g, b) = (self.verdict_of(&[]), self.verdict_of(&self.all()));
                            let note = if g.and_then(Verdict::outcome).is_none() {
                                format!("the good baseline has no outcome: {}", why(g))
                            } else {
                                format!("the bad baseline has no outcome: {}", why(b))
                            };
                            return self.finish(Conclusion::Unexplained, Some(note));
                        }
                        Some((g, b)) if g == b => {
                            let note = format!("good and bad both give {g}");
                            return self.finish(Conclusion::NothingToExplain, Some(note));
                        }
                        Some(_) => {
                            self.phase = if self.opts.single {
                                Phase::Single
                            } else {
                                Phase::Isolate
                            };
                        }
                    }
                }
                Phase::Single => {
                    let all = self.all();
                    let mut wanted = Vec::new();
                    for i in 0..self.units.len() {
                        wanted.push(vec![i]);
                        wanted.push(all.iter().copied().filter(|&j| j != i).collect());
                    }
                    let need = self.pending(&wanted);
                    if !need.is_empty() {
                        return need;
                    }
                    self.phase = Phase::Isolate;
                }
                Phase::Isolate => {
                    let remaining: Vec<usize> = self
                        .all()
                        .into_iter()
                        .filter(|u| !self.culprits.iter().any(|c| c.contains(u)))
                        .collect();
                    if remaining.is_empty() {
                        return self.finish(Conclusion::Culprits, None);
                    }
                    if !self.culprits.is_empty() {
                        let need = self.pending(std::slice::from_ref(&remaining));
                        if !need.is_empty() {
                            return need;
                        }
                        if self.class_of(&remaining) != Some(Class::Fail) {
                            return self.finish(Conclusion::Culprits, None);
                        }
                    }
                    let step = {
                        let test = |s: &[usize]| self.class_of(s);
                        ddmin::ddmin(&remaining, &test)
                    };
                    match step {
                        Step::Need(sets) => {
                            let need = self.pending(&sets);
                            if !need.is_empty() {
                                return need;
                            }
                        }
                        Step::Done(c) => self.culprits.push(c),
                    }
                }
            }
        }
    }

    fn finish(&mut self, c: Conclusion, note: Option<String>) -> Vec<(usize, u32)> {
        self.phase = Phase::Done;
        self.conclusion = c;
        self.note = note;
        Vec::new()
    }

    /// What the search found (so far).
    pub fn report(&self) -> Report {
        let vr = |units: &[usize]| self.verdict_report(units);
        let baseline = BaselineReport {
            good: vr(&[]),
            bad: vr(&self.all()),
        };
        let all = self.all();
        let single = if self.opts.single && self.baseline_outcomes().is_some() {
            self.units
                .iter()
                .enumerate()
                .map(|(i, u)| SingleRow {
                    attribute: u.name(),
                    attributes: u.attributes.clone(),
                    applied_to_good: vr(&[i]),
                    reverted_on_bad: vr(&all
                        .iter()
                        .copied()
                        .filter(|&j| j != i)
                        .collect::<Vec<_>>()),
                })
                .collect()
        } else {
            Vec::new()
        };
        let culprits = self
            .culprits
            .iter()
            .map(|c| {
                c.iter()
                    .flat_map(|&u| self.units[u].attributes.clone())
                    .collect()
            })
            .collect();
        let culprit_units = self
            .culprits
            .iter()
            .map(|c| c.iter().map(|&u| self.units[u].name()).collect())
            .collect();
        Report {
            baseline,
            differences: self.rows.clone(),
            single,
            culprits,
            culprit_units,
            probes: self.probes,
            rounds: self.rounds,
            probes_by_phase: self.by_phase.clone(),
            rounds_by_phase: self.rounds_by_phase.clone(),
            unresolved: self
                .variants
                .iter()
                .filter(|v| matches!(v.verdict, Some(Verdict::Unresolved { .. })))
                .count(),
            confidence: self.confidence(),
            conclusion: self.conclusion,
            note: self.note.clone(),
        }
    }

    fn confidence(&self) -> f64 {
        if self.conclusion != Conclusion::Culprits {
            return 0.0;
        }
        let conf = |units: &[usize]| self.verdict_of(units).map_or(0.0, Verdict::confidence);
        let all = self.all();
        let mut c = conf(&[]) * conf(&all);
        let mut used: Vec<usize> = Vec::new();
        for set in &self.culprits {
            c *= conf(set);
            for &u in set {
                let less: Vec<usize> = set.iter().copied().filter(|&x| x != u).collect();
                if self.class_of(&less) == Some(Class::Pass) {
                    c *= conf(&less);
                }
            }
            used.extend(set);
        }
        let rest: Vec<usize> = all.into_iter().filter(|u| !used.contains(u)).collect();
        if !rest.is_empty() && self.class_of(&rest) == Some(Class::Pass) {
            c *= conf(&rest);
        }
        c
    }

    fn verdict_report(&self, units: &[usize]) -> VerdictReport {
        let mut key = units.to_vec();
        key.sort_unstable();
        let Some(v) = self.by_units.get(&key).map(|&v| &self.variants[v]) else {
            return VerdictReport::pending();
        };
        let class = match self.class_of(&key) {
            Some(Class::Pass) => VerdictClass::Pass,
            Some(Class::Fail) => VerdictClass::Fail,
            Some(Class::Unresolved) | None => VerdictClass::Other,
        };
        let (verdict, icmp, reason) = match &v.verdict {
            None => ("pending".to_owned(), None, None),
            Some(Verdict::Outcome { outcome, .. }) => {
                let icmp = match outcome {
                    Outcome::Icmp { icmp_type, code } => Some(IcmpReport {
                        icmp_type: *icmp_type,
                        code: *code,
                    }),
                    _ => None,
                };
                (outcome.name().to_owned(), icmp, None)
            }
            Some(Verdict::Unresolved { reason }) => {
                ("unresolved".to_owned(), None, Some(reason.clone()))
            }
            Some(Verdict::Unknown) => ("unknown".to_owned(), None, None),
        };
        let layout = v
            .built
            .as_ref()
            .ok()
            .and_then(|(spec, _)| spec.text(Field::SynlabOptionsLayout))
            .map(str::to_owned);
        VerdictReport {
            verdict,
            icmp,
            class,
            layout,
            counts: v.tally.counts(),
            probes: v.tally.probes(),
            confidence: v.verdict.as_ref().map_or(0.0, Verdict::confidence),
            reason,
        }
    }
}

/// A variant's verdict as reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerdictReport {
    /// `syn-ack`, `reset`, `icmp`, `no-reply`, `unresolved`, `unknown` or `pending`.
    pub verdict: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp: Option<IcmpReport>,
    /// `pass` (good's outcome), `fail` (bad's) or `other`.
    pub class: VerdictClass,
    /// The TCP option layout the variant was sent with (option units add
    /// and remove options; this says where they went).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// Probes by outcome.
    pub counts: BTreeMap<String, u32>,
    pub probes: u32,
    pub confidence: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl VerdictReport {
    fn pending() -> Self {
        VerdictReport {
            verdict: "pending".into(),
            icmp: None,
            class: VerdictClass::Other,
            layout: None,
            counts: BTreeMap::new(),
            probes: 0,
            confidence: 0.0,
            reason: None,
        }
    }

    /// `syn-ack`, `icmp 3/13`, `unresolved`…
    pub fn text(&self) -> String {
        match &self.icmp {
            Some(i) => format!("icmp {}/{}", i.icmp_type, i.code),
            None => self.verdict.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct IcmpReport {
    #[serde(rename = "type")]
    pub icmp_type: u8,
    pub code: u8,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BaselineReport {
    pub good: VerdictReport,
    pub bad: VerdictReport,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SingleRow {
    /// The unit's name: its attributes joined with ` + `.
    pub attribute: String,
    pub attributes: Vec<Attr>,
    pub applied_to_good: VerdictReport,
    pub reverted_on_bad: VerdictReport,
}

/// What a search found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub baseline: BaselineReport,
    pub differences: Vec<DiffRow>,
    pub single: Vec<SingleRow>,
    /// Each culprit set as attribute names.
    pub culprits: Vec<Vec<Attr>>,
    /// Each culprit set as unit names.
    pub culprit_units: Vec<Vec<String>>,
    pub probes: u64,
    /// Batches (oracle round trips).
    pub rounds: u32,
    /// Probes by phase: `baseline`, `single`, `isolation`.
    pub probes_by_phase: BTreeMap<ProbePhase, u64>,
    /// Rounds by phase.
    pub rounds_by_phase: BTreeMap<ProbePhase, u32>,
    /// Variants that could not be built or gave no consistent answer.
    pub unresolved: usize,
    pub confidence: f64,
    pub conclusion: Conclusion,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
