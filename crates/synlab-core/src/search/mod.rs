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
//! The units are the SYN's differences and, when the sides say what their
//! later segments carry (`synlab.flow.*`: a profile's `[later]` table under
//! `--exchange`, a captured flow), those differences too: an exchange
//! applies them to every client segment after the SYN, so a middlebox that
//! acts on data segments only is bisected to the later attribute, not to
//! the SYN's namesake.
//!
//! Phases:
//! 1. **Baseline**: good and bad, each probed at least `baseline_probes`
//!    times, then more until Fisher's exact test says whether bad passes
//!    less often than good ([`verdict`]). If not, there is nothing to
//!    explain. A bad side that passes sometimes fails *intermittently*.
//! 2. **One at a time**: each difference unit applied alone to good, and
//!    reverted alone on bad.
//! 3. **Isolation**: ddmin ([`ddmin`]) over the units finds a 1-minimal set
//!    that turns good's outcome into bad's, catching interactions the table
//!    misses. Then every other minimal set: any minimal set not found yet
//!    leaves out at least one unit of each set found, so for every way of
//!    leaving one unit of each found set out (a hitting set), the units
//!    that remain are tested, and ddmin runs again from each that still
//!    fails. `a || b` gives `[a]` and `[b]`; `(a || b) && c` gives `[a, c]`
//!    and `[b, c]`. Bounded by the probe budget.
//!
//! Every variant (a set of units applied to good) is crafted first
//! (`craft::crafted_attributes`): one that cannot be built, or that does not
//! decode back to what was asked, is *unresolved* and never sent. Variants
//! are cached: one verdict per set of units, whichever phase asks. Each
//! verdict is a pass rate over probes from distinct source ports, placed
//! by the sequential test in [`verdict`] (an SPRT between the baselines'
//! rates). When bad fails intermittently, the report says whether the
//! failures follow the source port ([`ports`]).
//!
//! An answer rests only on verdicts the oracle gave evidence for. A
//! variant the oracle does not know (a recording that holds no attempt of
//! it) is *unknown*, and a culprit set whose 1-minimality needs an unknown
//! variant, a set left over that might hold another culprit set, or
//! baselines the recording holds too few attempts of to tell apart
//! ([`verdict::Baselines::TooFew`]) make the search end *undecided*: the
//! report names the variants whose outcomes would decide it
//! ([`Report::deciding`]), never a conclusion.
//!
//! The final confidence is the product of the confidences of the verdicts
//! the answer rests on: both baselines, each culprit set failing, each
//! set-minus-one-unit passing (1-minimality) and, after the last culprit
//! set, the units left when one of each set is left out passing.

pub mod ddmin;
pub mod infer;
mod oracle;
pub mod ports;
pub mod stats;
pub mod units;
pub mod verdict;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::handshake::Outcome;
use crate::model::{Attr, Attributes, Field, Value};
use ddmin::{Class, Step};
pub use oracle::{
    run, run_observed, Answer, BatchAnswers, Halted, Oracle, OracleError, ProbeAnswer,
};
pub use ports::{Parity, PortPattern};
pub use units::{is_bisectable, DiffRow, Unit};
use verdict::{Baselines, Decision, Rates, Side, Tally, TestParams, Verdict};

/// Knobs of the search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchOptions {
    /// Error allowed per test: the baselines' Fisher test, each way of
    /// each variant's SPRT.
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
    /// Once culprits are found, try each attribute both sides share with
    /// one other value on bad ([`Search`]'s shared phase): a rule `A && S`
    /// with S shared is otherwise reported as `A` alone.
    pub shared: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            alpha: 0.001,
            baseline_probes: 12,
            max_probes: 40,
            single: true,
            max_total_probes: 5000,
            shared: false,
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
    /// The `synlab.flow.*` ones are what an exchange puts on the segments
    /// after the SYN.
    pub spec: Attributes,
    /// What the SYN decodes to when crafted with placeholder volatile values
    /// (derived attributes included), with the `synlab.flow.*` attributes:
    /// what a simulated middlebox looks at.
    pub crafted: Attributes,
}

#[derive(Clone, Debug)]
struct Variant {
    /// The units it applies to good (sorted): its key in `by_units`.
    units: Vec<usize>,
    built: Result<(Attributes, Attributes), String>,
    tally: Tally,
    verdict: Option<Verdict>,
}

/// Hitting sets tried at most after each culprit set: with many
/// overlapping sets their number grows as a product, and the probe budget
/// bounds the search anyway.
const MAX_CANDIDATES: usize = 256;

/// The phase a probe was sent in, as the report counts them. Declared in
/// the alphabetical order of the names, the order of the JSON's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbePhase {
    Baseline,
    /// Minimising the culprit sets (ddmin).
    Isolation,
    /// Shared attributes tried with another value on bad.
    Shared,
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
    /// Shared attributes, one other value each on bad.
    Shared,
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
    /// The answer rests on variants the oracle does not know (or on
    /// baselines with too few answers): [`Report::deciding`] names them.
    Undecided,
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
    outstanding: HashMap<u64, (usize, ProbePhase)>,
    next_id: u64,
    probes: u64,
    rounds: u32,
    by_phase: BTreeMap<ProbePhase, u64>,
    rounds_by_phase: BTreeMap<ProbePhase, u32>,
    culprits: Vec<Vec<usize>>,
    /// Sets that fail like bad but are not shown 1-minimal (an unknown
    /// variant) or rest on baselines too few to tell apart.
    unconfirmed: Vec<Vec<usize>>,
    /// The baselines ran out of answers before they were shown to differ
    /// ([`verdict::Baselines::TooFew`]): everything after is a lead only.
    provisional: bool,
    /// The baselines' rates, once they differ.
    rates: Option<Rates>,
    /// Attributes both sides share (never varied by the units), each with
    /// the other value the shared phase tries on bad, when it has one.
    shared: Vec<(Attr, Value, Option<Value>)>,
    /// The set ddmin is minimising now.
    start: Option<Vec<usize>>,
    /// Sets ddmin has started from.
    explored: HashSet<Vec<usize>>,
    conclusion: Conclusion,
    note: Option<String>,
}

impl Search {
    /// A search between two sets of SYN attributes (a profile's, or a
    /// captured SYN's; volatile and derived attributes are ignored), with
    /// what each side's later segments carry (`synlab.flow.*`) where both
    /// sides say: each such difference is a unit of its own.
    pub fn new(
        good: &Attributes,
        bad: &Attributes,
        opts: SearchOptions,
    ) -> Result<Search, SearchError> {
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
        let (good_flow, bad_flow) = units::shared_flow(good, bad);
        let (good, _) = units::normalise(good, v6).map_err(|source| SearchError::Craft {
            side: "good",
            source,
        })?;
        let (bad, _) = units::normalise(bad, v6).map_err(|source| SearchError::Craft {
            side: "bad",
            source,
        })?;
        let good = with(good, &good_flow);
        let bad = with(bad, &bad_flow);
        let (rows, unit_list) = units::units(&good, &bad);
        let shared = shared_attributes(&good, &bad);
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
            unconfirmed: Vec::new(),
            provisional: false,
            shared: Vec::new(),
            rates: None,
            start: None,
            explored: HashSet::new(),
            conclusion: Conclusion::Running,
            note: None,
        };
        s.shared = shared;
        if s.units.is_empty() {
            s.phase = Phase::Done;
            s.conclusion = Conclusion::NothingToExplain;
            s.note =
                Some("good and bad have no behavioural difference (SYN or later segments)".into());
        }
        Ok(s)
    }

    /// The difference units, in the order of the report.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// The units a variant (a [`ProbeRequest::variant`]) applies to good,
    /// sorted; `None` for a variant the search never made.
    pub fn variant_units(&self, variant: usize) -> Option<&[usize]> {
        self.variants.get(variant).map(|v| v.units.as_slice())
    }

    /// A variant in words, for people reading probes one by one (the
    /// comments of `bisect --pcap`, the report's timeline): `good`, `bad`,
    /// `good + ip.ttl from bad`, or `bad + ip.ttl from good` when it takes
    /// fewer units from good than from bad.
    pub fn variant_label(&self, variant: usize) -> String {
        let Some(units) = self.variant_units(variant) else {
            return format!("variant {variant} (unknown)");
        };
        if let Some((attr, _, Some(alt))) = self.shared_of(units).and_then(|i| self.shared.get(i)) {
            return format!("bad with {attr}={alt}");
        }
        let all = self.units.len();
        let names = |picked: &mut dyn Iterator<Item = usize>| -> String {
            let names: Vec<String> = picked
                .filter_map(|u| self.units.get(u).map(Unit::name))
                .collect();
            names.join(", ")
        };
        match units.len() {
            0 => "good".into(),
            n if n == all => "bad".into(),
            n if 2 * n <= all => {
                format!("good + {} from bad", names(&mut units.iter().copied()))
            }
            _ => {
                let mut kept = (0..all).filter(|u| !units.contains(u));
                format!("bad + {} from good", names(&mut kept))
            }
        }
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
            Phase::Shared => ProbePhase::Shared,
        };
        let mut batch = Vec::new();
        for (v, count) in needed {
            let Ok((spec, crafted)) = &self.variants[v].built else {
                continue;
            };
            for _ in 0..count {
                let id = self.next_id;
                self.next_id += 1;
                self.outstanding.insert(id, (v, phase));
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
    pub fn record(&mut self, id: u64, answer: Result<Answer, OracleError>) {
        let Some((v, phase)) = self.outstanding.remove(&id) else {
            return;
        };
        let t = &mut self.variants[v].tally;
        let not_a_probe = match answer {
            Ok(o) => {
                t.add(o);
                false
            }
            Err(OracleError::Unknown) => {
                t.unknown += 1;
                true
            }
            Err(OracleError::Exhausted) => {
                t.exhausted = true;
                true
            }
            Err(e) => {
                t.errors += 1;
                t.last_error = Some(e.to_string());
                false
            }
        };
        // A recording that holds no attempt of a variant (or no more)
        // answers nothing: no probe is counted, none was made.
        if not_a_probe {
            self.probes = self.probes.saturating_sub(1);
            if let Some(n) = self.by_phase.get_mut(&phase) {
                *n = n.saturating_sub(1);
            }
        }
    }

    fn params(&self, baseline: bool) -> TestParams {
        TestParams {
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
        self.add_variant(key, spec)
    }

    /// A new variant of this key and spec, crafted.
    fn add_variant(&mut self, key: Vec<usize>, spec: Attributes) -> usize {
        let built = build(spec, self.v6);
        let verdict = built.as_ref().err().map(|reason| Verdict::Unresolved {
            reason: reason.clone(),
        });
        self.variants.push(Variant {
            units: key.clone(),
            built,
            tally: Tally::default(),
            verdict,
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
            let Some(rates) = self.rates else {
                continue;
            };
            let params = self.params(false);
            match verdict::classify(&self.variants[v].tally, &rates, &params) {
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
                    if let Some(need) = self.baselines() {
                        return need;
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
                    if let Some(need) = self.isolate() {
                        return need;
                    }
                }
                Phase::Shared => {
                    let keys = self.shared_keys();
                    let need = self.pending(&keys);
                    if !need.is_empty() {
                        return need;
                    }
                    self.finish(Conclusion::Culprits, None);
                }
            }
        }
    }

    /// The baseline phase: probes still needed, or `None` once it moved
    /// on (to the next phase, or to the end).
    fn baselines(&mut self) -> Option<Vec<(usize, u32)>> {
        let (vg, vb) = (self.variant(&[]), self.variant(&self.all()));
        for (v, side) in [(vg, Side::Good), (vb, Side::Bad)] {
            if let Some(verdict) = self.variants[v].verdict.clone() {
                self.baseline_unusable(side, &verdict);
                return None;
            }
        }
        let (good, bad) = (&self.variants[vg].tally, &self.variants[vb].tally);
        match verdict::baselines(good, bad, &self.params(true)) {
            Baselines::More { good, bad } => {
                let need: Vec<(usize, u32)> = [(vg, good), (vb, bad)]
                    .into_iter()
                    .filter(|&(_, n)| n > 0)
                    .collect();
                if need.is_empty() {
                    self.finish(
                        Conclusion::Unexplained,
                        Some("the baselines ran out of probes (--max-probes)".into()),
                    );
                    return None;
                }
                Some(need)
            }
            Baselines::Unusable { side, verdict } => {
                self.baseline_unusable(side, &verdict);
                None
            }
            Baselines::Same { outcome, p_value } => {
                let verdict = Verdict::Outcome {
                    outcome,
                    confidence: 1.0 - p_value,
                };
                self.variants[vg].verdict = Some(verdict.clone());
                self.variants[vb].verdict = Some(verdict);
                let rate = |t: &Tally| format!("{}/{}", t.count(outcome), t.observed());
                let note = format!(
                    "good and bad both give {outcome} (good {}, bad {}): bad does not fail more often",
                    rate(&self.variants[vg].tally),
                    rate(&self.variants[vb].tally)
                );
                self.finish(Conclusion::NothingToExplain, Some(note));
                None
            }
            Baselines::TooFew(rates) => {
                self.provisional = true;
                self.baselines_differ(vg, vb, rates);
                None
            }
            Baselines::Differ(rates) => {
                self.baselines_differ(vg, vb, rates);
                None
            }
        }
    }

    /// Good's and bad's verdicts from their rates; on to the next phase.
    fn baselines_differ(&mut self, vg: usize, vb: usize, rates: Rates) {
        let confidence = 1.0 - rates.p_value;
        self.variants[vg].verdict = Some(Verdict::Outcome {
            outcome: rates.reference,
            confidence,
        });
        self.variants[vb].verdict = Some(Verdict::Outcome {
            outcome: rates.failure,
            confidence,
        });
        self.rates = Some(rates);
        self.phase = if self.opts.single {
            Phase::Single
        } else {
            Phase::Isolate
        };
    }

    /// The shared phase's variants (bad with one shared attribute given
    /// its other value), created on first call. Their keys lie past every
    /// unit index, so they never meet a set of units.
    fn shared_keys(&mut self) -> Vec<Vec<usize>> {
        let mut keys = Vec::new();
        for i in 0..self.shared.len() {
            let (attr, _, Some(alt)) = self.shared[i].clone() else {
                continue;
            };
            let key = vec![self.units.len() + 1 + i];
            if !self.by_units.contains_key(&key) {
                let mut spec = self.bad.clone();
                spec.insert(attr, alt);
                self.add_variant(key.clone(), spec);
            }
            keys.push(key);
        }
        keys
    }

    /// The shared attribute a shared-phase key tries, by its index.
    fn shared_of(&self, units: &[usize]) -> Option<usize> {
        match units {
            [k] if *k > self.units.len() => Some(k - self.units.len() - 1),
            _ => None,
        }
    }

    /// Whether the oracle did not know this variant (no verdict from it).
    fn is_unknown(&self, units: &[usize]) -> bool {
        matches!(self.verdict_of(units), Some(Verdict::Unknown))
    }

    /// The sets one unit smaller than `set` whose outcome is unknown: while
    /// any is, `set` is not shown 1-minimal.
    fn unknown_less(&self, set: &[usize]) -> Vec<Vec<usize>> {
        set.iter()
            .map(|&u| set.iter().copied().filter(|&x| x != u).collect::<Vec<_>>())
            .filter(|less| !less.is_empty() && self.is_unknown(less))
            .collect()
    }

    /// Whether the answer would rest on something the oracle did not say.
    fn undecided(&self) -> bool {
        self.provisional
            || !self.unconfirmed.is_empty()
            || self.candidates().iter().any(|c| self.is_unknown(c))
    }

    /// Why the search is undecided, in a sentence.
    fn undecided_note(&self) -> String {
        let mut why = Vec::new();
        if let (true, Some(r)) = (self.provisional, self.rates) {
            why.push(format!(
                "the oracle holds too few attempts to show that bad fails more often than good \
                 (good {}/{} {reference}, bad {}/{}: p = {:.3}, above --alpha {})",
                r.good.0,
                r.good.1,
                r.bad.0,
                r.bad.1,
                r.p_value,
                self.opts.alpha,
                reference = r.reference
            ));
        }
        let unknown = self
            .deciding_variants()
            .iter()
            .filter(|units| self.is_unknown(units))
            .count();
        if unknown > 0 {
            why.push(format!(
                "{unknown} variant{} it rests on {} unknown to the oracle",
                if unknown == 1 { "" } else { "s" },
                if unknown == 1 { "is" } else { "are" }
            ));
        }
        format!("no conclusion: {}", why.join("; "))
    }

    /// The variants (sets of units) whose outcome would decide an
    /// undecided search: the baselines when they are too few, each found
    /// set's unknown one-smaller sets, and the unknown sets left over that
    /// could hold another culprit set. Sorted, without repeats.
    fn deciding_variants(&self) -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = Vec::new();
        if self.provisional {
            out.push(Vec::new());
            out.push(self.all());
        }
        for set in self.culprits.iter().chain(&self.unconfirmed) {
            out.extend(self.unknown_less(set));
        }
        out.extend(self.candidates().into_iter().filter(|c| self.is_unknown(c)));
        let mut seen = HashSet::new();
        out.retain(|units| seen.insert(units.clone()));
        out
    }

    /// The shared attributes as reported, with the shared phase's verdicts.
    fn shared_report(&self) -> Vec<SharedReport> {
        if self.conclusion != Conclusion::Culprits {
            return Vec::new();
        }
        self.shared
            .iter()
            .enumerate()
            .map(|(i, (attr, value, alt))| {
                let key = [self.units.len() + 1 + i];
                let tried = self.by_units.contains_key(&key[..]);
                SharedReport {
                    attribute: *attr,
                    value: value.clone(),
                    tried: alt.clone().filter(|_| tried),
                    verdict: tried.then(|| self.verdict_report(&key)),
                    matters: tried && self.class_of(&key) == Some(Class::Pass),
                }
            })
            .collect()
    }

    /// [`Search::deciding_variants`] as reported: each variant's changes
    /// from good and the attempts it would take.
    fn deciding(&self) -> Vec<Deciding> {
        if self.conclusion != Conclusion::Undecided {
            return Vec::new();
        }
        self.deciding_variants()
            .into_iter()
            .filter_map(|units| {
                let &v = self.by_units.get(&units)?;
                let variant = &self.variants[v];
                let (spec, _) = variant.built.as_ref().ok()?;
                let (from_good, from_bad) = (
                    changes_from(&self.good, spec),
                    changes_from(&self.bad, spec),
                );
                let (from, changes) = match from_bad.len() < from_good.len() {
                    true => ("bad", from_bad),
                    false => ("good", from_good),
                };
                Some(Deciding {
                    label: self.variant_label(v),
                    from,
                    changes,
                    recorded: variant.tally.observed(),
                    attempts: self.attempts_to_decide(&units),
                })
            })
            .collect()
    }

    /// Attempts of a variant that would decide it if they all gave one
    /// outcome: for the baselines, enough of each for Fisher's test at
    /// `alpha`; for any other, what the SPRT asks of a fresh variant.
    fn attempts_to_decide(&self, units: &[usize]) -> u32 {
        let cap = self.opts.max_probes.max(self.opts.baseline_probes).max(1);
        let baseline = (1..=cap)
            .find(|&n| stats::fisher_greater(n, n, 0, n) <= self.opts.alpha)
            .unwrap_or(cap)
            .max(self.opts.baseline_probes);
        if units.is_empty() || units.len() == self.units.len() {
            return baseline;
        }
        // Measured against baselines of that many attempts each when the
        // recorded ones are too few.
        let rates = self.rates.map(|r| match self.provisional {
            true => Rates {
                good: (baseline, baseline),
                bad: (0, baseline),
                ..r
            },
            false => r,
        });
        match rates {
            Some(rates) => {
                match verdict::classify(&Tally::default(), &rates, &self.params(false)) {
                    Decision::More(n) => n,
                    Decision::Decided(_) => 1,
                }
            }
            None => cap,
        }
    }

    fn baseline_unusable(&mut self, side: Side, verdict: &Verdict) {
        let why = match verdict {
            Verdict::Unresolved { reason } => reason.clone(),
            Verdict::Unknown => "unknown to the oracle".into(),
            Verdict::Outcome { .. } => "no verdict".into(),
        };
        let (name, v) = match side {
            Side::Good => ("good", self.variant(&[])),
            Side::Bad => ("bad", self.variant(&self.all())),
        };
        self.variants[v].verdict = Some(verdict.clone());
        let note = format!("the {name} baseline has no outcome: {why}");
        self.finish(Conclusion::Unexplained, Some(note));
    }

    /// The isolation phase: probes still needed, or `None` once a step was
    /// taken (a set found, a new start chosen, or the end).
    fn isolate(&mut self) -> Option<Vec<(usize, u32)>> {
        if let Some(start) = self.start.clone() {
            let step = {
                let test = |s: &[usize]| self.class_of(s);
                ddmin::ddmin(&start, &test)
            };
            match step {
                Step::Need(sets) => {
                    let need = self.pending(&sets);
                    return (!need.is_empty()).then_some(need);
                }
                Step::Done(c) => {
                    let found = match self.provisional || !self.unknown_less(&c).is_empty() {
                        true => &mut self.unconfirmed,
                        false => &mut self.culprits,
                    };
                    if !found.contains(&c) {
                        found.push(c);
                    }
                    self.start = None;
                    return None;
                }
            }
        }
        let candidates = self.candidates();
        let need = self.pending(&candidates);
        if !need.is_empty() {
            return Some(need);
        }
        match candidates
            .into_iter()
            .find(|c| self.class_of(c) == Some(Class::Fail))
        {
            Some(c) => {
                self.explored.insert(c.clone());
                self.start = Some(c);
            }
            None if self.undecided() => {
                let note = self.undecided_note();
                self.finish(Conclusion::Undecided, Some(note));
            }
            None if self.culprits.is_empty() => {
                let note = "no set of differences reproduces bad's outcome".to_owned();
                self.finish(Conclusion::Unexplained, Some(note));
            }
            None if self.opts.shared && self.shared.iter().any(|(_, _, alt)| alt.is_some()) => {
                self.phase = Phase::Shared;
            }
            None => {
                self.finish(Conclusion::Culprits, None);
            }
        }
        None
    }

    /// The sets ddmin could start from to find a minimal set not found
    /// yet: all units but one of each found set (every such choice, up to
    /// [`MAX_CANDIDATES`]), not explored already. A minimal set not found
    /// yet lies inside one of them; one that fails holds such a set.
    fn candidates(&self) -> Vec<Vec<usize>> {
        let mut hitting: Vec<Vec<usize>> = vec![Vec::new()];
        for set in self.culprits.iter().chain(&self.unconfirmed) {
            let mut next = Vec::new();
            for h in &hitting {
                for &u in set {
                    let mut h2 = h.clone();
                    if !h2.contains(&u) {
                        h2.push(u);
                        h2.sort_unstable();
                    }
                    if !next.contains(&h2) && next.len() < MAX_CANDIDATES {
                        next.push(h2);
                    }
                }
            }
            hitting = next;
        }
        let mut out: Vec<Vec<usize>> = Vec::new();
        for h in hitting {
            let rest: Vec<usize> = self.all().into_iter().filter(|u| !h.contains(u)).collect();
            if !rest.is_empty() && !self.explored.contains(&rest) && !out.contains(&rest) {
                out.push(rest);
            }
        }
        out
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
        let unconfirmed = self
            .unconfirmed
            .iter()
            .map(|c| c.iter().map(|&u| self.units[u].name()).collect())
            .collect();
        Report {
            shared: self.shared_report(),
            baseline,
            differences: self.rows.clone(),
            single,
            culprits,
            culprit_units,
            unconfirmed,
            deciding: self.deciding(),
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
            pass_outcome: self.reference().map(|o| o.to_string()),
            intermittent: self.intermittent(),
            port_pattern: self.port_pattern(),
        }
    }

    /// The outcome a probe passes with: good's, once known.
    fn reference(&self) -> Option<Outcome> {
        if let Some(r) = self.rates {
            return Some(r.reference);
        }
        let &v = self.by_units.get(&Vec::new())?;
        self.variants[v].tally.dominant_except(None)
    }

    /// Bad fails, but not always: some of its probes got good's outcome.
    fn intermittent(&self) -> bool {
        let (Some(r), Some(&v)) = (self.rates, self.by_units.get(&self.all())) else {
            return false;
        };
        self.variants[v].tally.count(r.reference) > 0
    }

    /// Whether an intermittent failure follows the source port, from the
    /// probes of bad and of every variant that failed like it.
    fn port_pattern(&self) -> Option<PortPattern> {
        let r = self.rates?;
        if !self.intermittent() {
            return None;
        }
        let failing: Vec<&Variant> = self
            .by_units
            .iter()
            .filter(|(units, _)| self.class_of(units) == Some(Class::Fail))
            .map(|(_, &v)| &self.variants[v])
            .collect();
        let samples: Vec<(u16, bool)> = failing
            .iter()
            .flat_map(|v| v.tally.ports.iter())
            .map(|&(port, o)| (port, o != r.reference))
            .collect();
        ports::pattern(&samples, ports::HINT_ALPHA)
    }

    fn confidence(&self) -> f64 {
        if self.conclusion != Conclusion::Culprits {
            return 0.0;
        }
        let conf = |units: &[usize]| self.verdict_of(units).map_or(0.0, Verdict::confidence);
        // The baselines share one test: count it once.
        let mut c = self.rates.map_or(0.0, |r| 1.0 - r.p_value);
        for set in &self.culprits {
            if set.len() < self.units.len() {
                c *= conf(set);
            }
            for &u in set {
                let less: Vec<usize> = set.iter().copied().filter(|&x| x != u).collect();
                if !less.is_empty() && self.class_of(&less) == Some(Class::Pass) {
                    c *= conf(&less);
                }
            }
        }
        for rest in self.candidates() {
            if self.class_of(&rest) == Some(Class::Pass) {
                c *= conf(&rest);
            }
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
        let observed = v.tally.observed();
        let passes = self.reference().map_or(0, |o| v.tally.count(o));
        let (rate, interval) = if observed > 0 {
            let (lo, hi) = stats::wilson(passes, observed, 1.96);
            (
                Some(f64::from(passes) / f64::from(observed)),
                Some([lo, hi]),
            )
        } else {
            (None, None)
        };
        VerdictReport {
            verdict,
            icmp,
            class,
            layout,
            counts: v.tally.counts(),
            probes: v.tally.probes(),
            passes,
            rate,
            interval,
            confidence: v.verdict.as_ref().map_or(0.0, Verdict::confidence),
            reason,
        }
    }
}

/// A variant's spec and what it crafts to (with its later-segment
/// attributes), or why it cannot be sent: it cannot be built, or does not
/// decode back to what was asked.
fn build(spec: Attributes, v6: bool) -> Result<(Attributes, Attributes), String> {
    // Only the SYN is crafted; the later-segment attributes ride along
    // for the exchange (and for a rule that reads them).
    let (syn, flow) = units::split_flow(&spec);
    let (canon, crafted) =
        units::normalise(&syn, v6).map_err(|e| format!("cannot be built: {e}"))?;
    let wrong = canon
        .iter()
        .find(|(k, v)| syn.get(k) != Some(v))
        .or_else(|| syn.iter().find(|(k, _)| !canon.contains(k)))
        .map(|(k, _)| k.to_owned());
    match wrong {
        Some(k) => Err(format!("crafting does not reproduce {k}")),
        None => Ok((spec, with(crafted, &flow))),
    }
}

/// `a` with the attributes of `extra` added.
fn with(mut a: Attributes, extra: &Attributes) -> Attributes {
    for (k, v) in extra.iter() {
        a.insert(k, v.clone());
    }
    a
}

/// An attribute both sides share, and what trying another value on bad
/// showed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SharedReport {
    pub attribute: Attr,
    /// Both sides' value.
    pub value: Value,
    /// The value tried on bad, when the shared phase ran and it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tried: Option<Value>,
    /// The tried variant's verdict, when tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<VerdictReport>,
    /// Bad passed with the other value: the attribute matters too.
    pub matters: bool,
}

/// The attributes good and bad share (behavioural, SYN or later segments),
/// each with one other value the shared phase may try on bad: a flag
/// flipped, a number halved (or 0 made 1). The SYN's own flags, option
/// presence and the synlab.* summaries have none: changing them is not
/// one attribute's change.
fn shared_attributes(good: &Attributes, bad: &Attributes) -> Vec<(Attr, Value, Option<Value>)> {
    units::bisectable(good)
        .iter()
        .filter(|(k, v)| bad.get(k) == Some(v))
        .map(|(k, v)| (k, v.clone(), other_value(k, v)))
        .collect()
}

/// One other value of a shared attribute to try, if it has a simple one.
fn other_value(attr: Attr, v: &Value) -> Option<Value> {
    // The ECN-related flags are the ones a stack chooses; the others make
    // the segment what it is (a SYN), and so are never tried.
    let ecn_flag = matches!(
        attr,
        Attr::Field(Field::TcpFlagsCwr | Field::TcpFlagsEce | Field::TcpFlagsAe)
    );
    let flag = crate::model::TcpFlags::FIELDS
        .iter()
        .any(|(f, _)| attr == Attr::Field(*f));
    // An option's presence (`tcp.options.mss` …): the option is kept or
    // dropped as a unit, never flipped alone.
    let presence = attr.option().and_then(|k| k.presence()).map(Attr::Field) == Some(attr);
    // Derived summaries (layout, quirks, p0f) follow from the rest.
    let fixed = attr.source() == crate::model::Source::Derived
        || presence && matches!(v, Value::Bool(_))
        || flag && !ecn_flag;
    if fixed {
        return None;
    }
    match v {
        Value::Bool(b) => Some(Value::Bool(!b)),
        Value::Int(0) => Some(Value::Int(1)),
        Value::Int(n) if *n > 1 => Some(Value::Int(n / 2)),
        Value::Int(_) => Some(Value::Int(0)),
        Value::Str(_) => None,
    }
}

/// What an attribute is changed to (`None`: removed).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub attribute: Attr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// A variant whose outcome would decide an undecided search.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Deciding {
    /// The variant in words ([`Search::variant_label`]).
    pub label: String,
    /// The side it is made from with the fewest changes: `good` or `bad`.
    pub from: &'static str,
    /// Its attributes' changes from that side (`probe --set`/`--unset`).
    pub changes: Vec<Change>,
    /// Answers the oracle gave for it.
    pub recorded: u32,
    /// Attempts that would decide it if they all gave one outcome.
    pub attempts: u32,
}

/// What makes `spec` out of `base`: the attributes it sets to another
/// value, then those it removes.
fn changes_from(base: &Attributes, spec: &Attributes) -> Vec<Change> {
    let set = spec
        .iter()
        .filter(|(k, v)| base.get(k) != Some(v))
        .map(|(k, v)| Change {
            attribute: k,
            value: Some(v.clone()),
        });
    let removed = base
        .iter()
        .filter(|(k, _)| !spec.contains(k))
        .map(|(k, _)| Change {
            attribute: k,
            value: None,
        });
    set.chain(removed).collect()
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
    /// Probes that got good's outcome (`pass_outcome`).
    pub passes: u32,
    /// `passes` over the probes observed (errors aside), when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// The rate's 95% Wilson interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<[f64; 2]>,
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
            passes: 0,
            rate: None,
            interval: None,
            confidence: 0.0,
            reason: None,
        }
    }

    /// `6/12 syn-ack (50%)`: how many probes got good's outcome, when
    /// any were observed.
    pub fn rate_text_of(&self, report: &Report) -> Option<String> {
        self.rate_text(report.pass_outcome.as_deref()?)
    }

    /// [`VerdictReport::rate_text_of`] with good's outcome given.
    pub fn rate_text(&self, pass_outcome: &str) -> Option<String> {
        let rate = self.rate?;
        let observed: u32 = self
            .counts
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "error" | "unknown"))
            .map(|(_, n)| n)
            .sum();
        Some(format!(
            "{}/{observed} {pass_outcome} ({:.0}%)",
            self.passes,
            rate * 100.0
        ))
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
    /// Attributes both sides share: never varied by the bisection. With the
    /// shared phase (live), each one tried with another value on bad.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shared: Vec<SharedReport>,
    /// Sets (as unit names) that failed like bad but that the evidence does
    /// not confirm as culprits: not shown 1-minimal (an unknown variant), or
    /// measured against baselines too few to tell apart.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unconfirmed: Vec<Vec<String>>,
    /// When the conclusion is `undecided`: the variants whose outcomes
    /// would decide it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deciding: Vec<Deciding>,
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
    /// Good's outcome: the one a probe passes with (every `passes` and
    /// `rate` counts it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_outcome: Option<String>,
    /// Bad fails only sometimes: some of its probes passed.
    pub intermittent: bool,
    /// For an intermittent failure: whether it follows the source port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_pattern: Option<PortPattern>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::builtin;

    fn flow_side(name: &str) -> Attributes {
        match builtin::profile(name) {
            Some(Ok((p, _))) => p.with_flow_attributes(),
            _ => panic!("no built-in profile {name}"),
        }
    }

    /// A middlebox acting on the client's data segments only: those sent
    /// with TTL 128 (the SYN's TTL does not matter) never arrive.
    struct DropsLaterTtl128;

    impl Oracle for DropsLaterTtl128 {
        fn probe_batch(&mut self, batch: &[ProbeRequest]) -> BatchAnswers {
            Ok(batch
                .iter()
                .map(|r| {
                    // What an exchange sends after the SYN comes with the spec.
                    assert_eq!(
                        r.spec.get(Field::SynlabFlowTtl),
                        r.crafted.get(Field::SynlabFlowTtl)
                    );
                    let later_ttl = r.spec.num(Field::SynlabFlowTtl);
                    Ok(Answer::from(match later_ttl {
                        Some(128) => Outcome::Stalled,
                        _ => Outcome::Complete,
                    }))
                })
                .collect())
        }
    }

    /// Linux and Windows differ in the SYN's TTL and in their later
    /// segments' TTL and timestamps: a middlebox keyed on the later TTL is
    /// bisected to that unit, not to the SYN's TTL.
    #[test]
    fn a_later_only_attribute_is_bisected_to_its_unit() {
        let (good, bad) = (flow_side("linux"), flow_side("windows-10"));
        let mut s =
            Search::new(&good, &bad, SearchOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = s.units().iter().map(Unit::name).collect();
        for n in ["ip.ttl", "synlab.flow.ttl", "synlab.flow.ts"] {
            assert!(names.iter().any(|u| u == n), "{n} not in {names:?}");
        }
        let report = run(&mut s, &mut DropsLaterTtl128).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.conclusion, Conclusion::Culprits, "{report:?}");
        assert_eq!(
            report.culprits,
            [vec![Attr::Field(Field::SynlabFlowTtl)]],
            "{report:?}"
        );
        let row = |n: &str| {
            report
                .single
                .iter()
                .find(|r| r.attribute == n)
                .unwrap_or_else(|| panic!("no row {n}"))
        };
        assert_eq!(row("ip.ttl").applied_to_good.verdict, "complete");
        assert_eq!(row("synlab.flow.ttl").applied_to_good.verdict, "stalled");
        assert_eq!(row("synlab.flow.ttl").reverted_on_bad.verdict, "complete");
    }

    /// Without later-segment attributes on both sides (a SYN-only search)
    /// there are no flow units: one side's alone is not a difference.
    #[test]
    fn one_sided_later_attributes_are_not_units() {
        let good = flow_side("linux");
        let bad = match builtin::profile("windows-10") {
            Some(Ok((p, _))) => p.attributes,
            _ => panic!("no windows-10"),
        };
        let s =
            Search::new(&good, &bad, SearchOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(s
            .units()
            .iter()
            .all(|u| u.attributes.iter().all(|&a| !units::is_flow(a))));
    }
}
