//! Inference: once a search has named the culprits, which *values* of
//! them make the box act: the predicate, written in synlab's rule language
//! so that `--rule` accepts it as is.
//!
//! A sans-I/O state machine driven like [`Search`]: [`Infer::next_batch`],
//! an oracle answers, [`Infer::record`], until `next_batch` says `None`;
//! then [`Infer::report`]. [`run`] is that loop.
//!
//! Each culprit attribute is mapped on its own, the others held at the
//! values of the culprit set's failing variant (good with the set taken
//! from bad): a *task*. A numeric attribute (flags are numbers 0 and 1)
//! is first probed at the values real stacks use (the built-in profiles',
//! [`ValuePool`]), at both sides' values and at the ends of its range; then
//! every neighbouring pair that passed on one side and failed on the other
//! is bisected down to adjacent values. The failing values form runs,
//! written as thresholds (`> 8000`), `==`, ranges or sets. That is exact
//! for any predicate whose failing values are runs with a known value in
//! each (thresholds, ranges, sets of real values); a run no known value
//! lies in is missed, which the agreement check would show.
//!
//! A TCP option present on bad only is a presence test, refined by its
//! value when the value matters; one present on good only is its absence.
//! Text attributes (the layout) keep bad's value, as the search found it.
//! Attributes both sides share are screened (bad with the lowest and the
//! highest other real value): one that changes bad's outcome is mapped
//! like a culprit and joins every culprit set's conjunction (`A && S`).
//!
//! Each probed value is a variant with its own sequential test against the
//! baselines' rates ([`verdict::classify`]). When bad's failures follow the
//! source-port parity, only answers from ports of the failing parity count
//! (the others cannot fail), and the parity is reported beside the rule.
//!
//! A value the oracle does not know (a recording without it) is *unknown*,
//! never guessed: a clause that needs one says so, and no rule is given.
//!
//! Last, the agreement: variants drawn at random (seeded, passed in) from
//! the real values and the boundaries found, probed, and compared with the
//! inferred rule's verdict on the same SYN.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::oracle::ProbeAnswer;
use super::units::{self, Change as UnitChange};
use super::verdict::{self, Decision, Rates, Tally, TestParams, Verdict};
use super::{build, Answer, Conclusion, Halted, Oracle, OracleError, ProbeRequest, Search};
use super::{Parity, PortPattern};
use crate::model::{Attr, Attributes, Value, ValueType};
use crate::rule::{Cmp, Expr, Literal, Operand, Rule, Scope};

/// The values real stacks use, by attribute: where a set or threshold is
/// looked for first, and what the agreement check draws from.
#[derive(Clone, Debug, Default)]
pub struct ValuePool(BTreeMap<Attr, BTreeSet<u64>>);

impl ValuePool {
    /// The numeric values of these SYNs (and later segments).
    pub fn from_sides<'a>(sides: impl IntoIterator<Item = &'a Attributes>) -> Self {
        let mut m: BTreeMap<Attr, BTreeSet<u64>> = BTreeMap::new();
        for a in sides {
            for (k, v) in a.iter() {
                if let Some(n) = v.as_u64() {
                    m.entry(k).or_default().insert(n);
                }
            }
        }
        ValuePool(m)
    }

    /// Every built-in profile's values.
    pub fn builtin() -> Self {
        let sides: Vec<Attributes> = crate::profile::builtin::BUILTIN
            .iter()
            .filter_map(|(name, _)| crate::profile::builtin::profile(name))
            .filter_map(Result::ok)
            .map(|(p, _)| p.with_flow_attributes())
            .collect();
        Self::from_sides(&sides)
    }

    fn values(&self, a: Attr, lo: u64, hi: u64) -> impl Iterator<Item = u64> + '_ {
        self.0
            .get(&a)
            .into_iter()
            .flat_map(move |s| s.range(lo..=hi).copied())
    }
}

/// Knobs of the inference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InferOptions {
    /// Distinct random variants probed for the agreement check (fewer
    /// when the values to draw from make fewer).
    pub check: u32,
    /// Seed of the check's draws.
    pub seed: u64,
    /// Probes of the inference (mapping and check) at most.
    pub max_total_probes: u64,
    /// Screen the attributes both sides share.
    pub shared: bool,
    /// Error allowed per probed value's sequential test. Looser than the
    /// search's: a value decides only where a boundary lies, its
    /// neighbours and the agreement check show a wrong one, and a third
    /// fewer probes per value keeps a rule within 200 probes.
    pub alpha: f64,
}

impl Default for InferOptions {
    fn default() -> Self {
        InferOptions {
            check: 100,
            seed: 0,
            max_total_probes: 2000,
            shared: true,
            alpha: 0.01,
        }
    }
}

/// Why there is nothing to infer.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("the search ended {conclusion:?}, with no culprits to map")]
    NoCulprits { conclusion: Conclusion },
}

/// What a probed value showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Pass,
    Fail,
    /// The oracle does not know it, or answered otherwise than either side.
    Unknown,
    /// No SYN can carry it (crafting refuses it): outside the predicate's
    /// world, never sent.
    Uncraftable,
}

#[derive(Clone, Debug)]
struct Point {
    built: Result<(Attributes, Attributes), String>,
    tally: Tally,
    /// Probes sent (those ignored for their port included).
    sent: u32,
    class: Option<Class>,
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    /// Values `min..=max`; booleans are 0 and 1.
    Numeric { min: u64, max: u64, boolean: bool },
    /// An option's presence: present on bad (else on good) only.
    Presence { on_bad: bool },
    /// Bad's text value, kept.
    Fixed(Value),
    /// A shared attribute whose other values changed nothing: no clause.
    Unconstrained,
}

#[derive(Clone, Debug)]
struct Task {
    attr: Attr,
    /// The spec every point changes one attribute of.
    base: Attributes,
    kind: Kind,
    /// A shared attribute still being screened.
    screening: bool,
    shared: bool,
    /// The culprit set it belongs to (`None`: shared, every set).
    set: Option<usize>,
    /// Value to point.
    points: BTreeMap<u64, usize>,
}

/// One clause of the inferred rule, with its evidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClauseReport {
    /// The clause in the rule language.
    pub text: String,
    pub attribute: Attr,
    /// Probes it took.
    pub probes: u32,
    pub evidence: Evidence,
    /// `inferred`, `unknown` (it needs values the oracle does not know) or
    /// `from-search` (kept as the search found it).
    pub status: &'static str,
    /// Shared by both sides (a clause of every culprit set).
    pub shared: bool,
}

/// The values a clause rests on.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Evidence {
    /// Each boundary: the value that passed and its neighbour that failed.
    pub boundaries: Vec<Boundary>,
    /// Values probed that passed and that failed.
    pub passed: u32,
    pub failed: u32,
    /// Values the oracle could not say (the clause is unknown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Boundary {
    pub pass: u64,
    pub fail: u64,
}

/// How often the inferred rule and the oracle agree on random variants
/// (distinct ones).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Agreement {
    /// Variants the oracle gave a verdict for.
    pub checked: u32,
    pub agreed: u32,
    pub probes: u64,
}

/// What the inference found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Inferred {
    /// The rule (`--rule` accepts it), or `None` when a clause is unknown.
    pub rule: Option<String>,
    pub clauses: Vec<ClauseReport>,
    pub agreement: Agreement,
    /// Probes of the mapping (the check's aside).
    pub probes: u64,
    /// The middlebox acts only on source ports of this parity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Parity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The inference state machine.
#[derive(Debug)]
pub struct Infer {
    opts: InferOptions,
    v6: bool,
    rates: Rates,
    params: TestParams,
    parity: Option<Parity>,
    pool: ValuePool,
    sets: usize,
    tasks: Vec<Task>,
    points: Vec<Point>,
    by_spec: HashMap<Vec<(Attr, Value)>, usize>,
    outstanding: HashMap<u64, usize>,
    next_id: u64,
    probes: u64,
    check_probes: u64,
    /// The check's points, once drawn.
    check: Option<Vec<usize>>,
    rng: StdRng,
    rule: Option<Rule>,
    note: Option<String>,
}

impl Infer {
    /// The inference that follows a finished search with culprits.
    pub fn new(search: &Search, pool: ValuePool, opts: InferOptions) -> Result<Infer, InferError> {
        let rates = match (search.conclusion, search.rates) {
            (Conclusion::Culprits, Some(r)) if !search.culprits.is_empty() => r,
            (conclusion, _) => return Err(InferError::NoCulprits { conclusion }),
        };
        let (rates, parity) = match search.report().port_pattern {
            Some(PortPattern::Parity {
                failing,
                fails,
                probes,
                ..
            }) => (
                Rates {
                    bad: (probes.saturating_sub(fails), probes),
                    ..rates
                },
                Some(failing),
            ),
            _ => (rates, None),
        };
        let mut tasks = Vec::new();
        for (i, set) in search.culprits.iter().enumerate() {
            let base = units::apply(&search.good, &search.bad, &search.units, set);
            for &u in set {
                if let Some(unit) = search.units.get(u) {
                    tasks.extend(unit_tasks(unit, &base, Some(i)));
                }
            }
        }
        if opts.shared {
            tasks.extend(shared_tasks(search, &pool));
        }
        Ok(Infer {
            opts,
            v6: search.v6,
            rates,
            params: TestParams {
                alpha: opts.alpha.max(search.opts.alpha),
                min_probes: 1,
                max_probes: search.opts.max_probes.max(1),
            },
            parity,
            pool,
            sets: search.culprits.len(),
            tasks,
            points: Vec::new(),
            by_spec: HashMap::new(),
            outstanding: HashMap::new(),
            next_id: 0,
            probes: 0,
            check_probes: 0,
            check: None,
            rng: StdRng::seed_from_u64(opts.seed),
            rule: None,
            note: None,
        })
    }

    /// Probes asked for so far (mapping and check).
    pub fn probes(&self) -> u64 {
        self.probes + self.check_probes
    }

    /// What point `p` (a [`ProbeRequest::variant`] of the inference) sets
    /// of the attributes the rule is inferred over, where it differs from
    /// the variant they are inferred on (e.g. `ip.ttl=65`), with
    /// `agreement check:` before it for the check's random variants.
    pub fn point_label(&self, p: usize) -> String {
        let Some(Ok((spec, _))) = self.points.get(p).map(|pt| &pt.built) else {
            return format!("point {p} (not crafted)");
        };
        // The attributes this point moves off every base they are
        // inferred on: one for a bound's probe, a few for a check's.
        let mut attrs: Vec<Attr> = Vec::new();
        for t in &self.tasks {
            let moved = self
                .tasks
                .iter()
                .filter(|o| o.attr == t.attr)
                .all(|o| o.base.get(t.attr) != spec.get(t.attr));
            if moved && !attrs.contains(&t.attr) {
                attrs.push(t.attr);
            }
        }
        let values: Vec<String> = attrs
            .iter()
            .map(|a| match spec.get(*a) {
                Some(v) => format!("{a}={v}"),
                None => format!("{a} absent"),
            })
            .collect();
        let checked = self.check.as_ref().is_some_and(|c| c.contains(&p));
        let head = if checked { "agreement check: " } else { "" };
        match values.is_empty() {
            true => format!("{head}the failing variant as it is"),
            false => format!("{head}{}", values.join(", ")),
        }
    }

    /// The next batch, or `None` when done. Record every answer of a batch
    /// before asking for the next; while answers are outstanding this
    /// returns an empty batch.
    pub fn next_batch(&mut self) -> Option<Vec<ProbeRequest>> {
        if !self.outstanding.is_empty() {
            return Some(Vec::new());
        }
        loop {
            let wanted = match &self.check {
                None => self.mapping_points(),
                Some(check) => check.clone(),
            };
            let (needed, decided) = self.pending(&wanted);
            if !needed.is_empty() {
                return self.batch(needed);
            }
            // What was just decided may open gaps to bisect.
            if decided {
                continue;
            }
            if self.check.is_some() {
                return None;
            }
            self.rule = self.rule_expr().and_then(|e| self.round_trip(&e));
            let drawn = self.draw_check();
            self.check = Some(drawn);
        }
    }

    /// An oracle's answer to probe `id`. Unknown ids are ignored.
    pub fn record(&mut self, id: u64, answer: Result<Answer, OracleError>) {
        let Some(p) = self.outstanding.remove(&id) else {
            return;
        };
        let parity = self.parity;
        let point = &mut self.points[p];
        point.sent += 1;
        match answer {
            Ok(a) if a.src_port.is_some_and(|port| !acting(parity, port)) => {}
            Ok(a) => point.tally.add(a),
            Err(OracleError::Unknown) => point.tally.unknown += 1,
            Err(OracleError::Exhausted) => point.tally.exhausted = true,
            Err(e) => {
                point.tally.errors += 1;
                point.tally.last_error = Some(e.to_string());
            }
        }
    }

    fn batch(&mut self, needed: Vec<(usize, u32)>) -> Option<Vec<ProbeRequest>> {
        let asked: u64 = needed.iter().map(|&(_, n)| u64::from(n)).sum();
        if self.probes() + asked > self.opts.max_total_probes {
            self.note = Some(format!(
                "stopped at the inference's probe budget ({} probes)",
                self.opts.max_total_probes
            ));
            for &(p, _) in &needed {
                self.points[p].class = Some(Class::Unknown);
            }
            if self.check.is_none() {
                self.rule = None;
                self.check = Some(Vec::new());
            }
            return None;
        }
        let mut batch = Vec::new();
        for (p, n) in needed {
            let Ok((spec, crafted)) = &self.points[p].built else {
                continue;
            };
            for _ in 0..n {
                let id = self.next_id;
                self.next_id += 1;
                self.outstanding.insert(id, p);
                batch.push(ProbeRequest {
                    id,
                    variant: p,
                    spec: spec.clone(),
                    crafted: crafted.clone(),
                });
            }
        }
        match self.check {
            None => self.probes += batch.len() as u64,
            Some(_) => self.check_probes += batch.len() as u64,
        }
        Some(batch)
    }

    /// Classify what can be; the undecided points with the probes each needs.
    /// Whether any point was decided now, too.
    fn pending(&mut self, wanted: &[usize]) -> (Vec<(usize, u32)>, bool) {
        let mut out: Vec<(usize, u32)> = Vec::new();
        let mut decided = false;
        for &p in wanted {
            if self.points[p].class.is_some() || out.iter().any(|&(x, _)| x == p) {
                continue;
            }
            match self.decide(p) {
                Ok(class) => {
                    self.points[p].class = Some(class);
                    decided = true;
                }
                Err(n) => out.push((p, n)),
            }
        }
        (out, decided)
    }

    /// The point's class, or the probes it needs first.
    fn decide(&self, p: usize) -> Result<Class, u32> {
        let point = &self.points[p];
        if point.built.is_err() {
            return Ok(Class::Uncraftable);
        }
        // With a port parity, half the probes cannot fail: allow twice as many.
        let cap = self.params.max_probes * if self.parity.is_some() { 2 } else { 1 };
        match verdict::classify(&point.tally, &self.rates, &self.params) {
            Decision::Decided(Verdict::Outcome { outcome, .. })
                if outcome == self.rates.reference =>
            {
                Ok(Class::Pass)
            }
            Decision::Decided(Verdict::Outcome { outcome, .. })
                if outcome == self.rates.failure =>
            {
                Ok(Class::Fail)
            }
            Decision::Decided(_) => Ok(Class::Unknown),
            Decision::More(_) if point.tally.exhausted || point.sent >= cap => Ok(Class::Unknown),
            // Few at a time: a clear-cut value decides in two or three, and
            // the points of a round are many.
            Decision::More(n) => Err(n.min(self.step()).clamp(1, cap - point.sent)),
        }
    }

    /// Probes per point and round: with a port parity, half cannot count.
    fn step(&self) -> u32 {
        match self.parity {
            Some(_) => 2,
            None => 1,
        }
    }

    /// The point of a spec, created (and crafted) on first use.
    fn point(&mut self, spec: Attributes) -> usize {
        let key: Vec<(Attr, Value)> = spec.iter().map(|(k, v)| (k, v.clone())).collect();
        if let Some(&p) = self.by_spec.get(&key) {
            return p;
        }
        self.points.push(Point {
            built: build(spec, self.v6),
            tally: Tally::default(),
            sent: 0,
            class: None,
        });
        let p = self.points.len() - 1;
        self.by_spec.insert(key, p);
        p
    }

    fn class_of(&self, p: usize) -> Option<Class> {
        self.points[p].class
    }

    /// Every task's points to decide now: its starting values, then the
    /// middle of each gap between a pass and a fail.
    fn mapping_points(&mut self) -> Vec<usize> {
        let mut out = Vec::new();
        for t in 0..self.tasks.len() {
            out.extend(self.task_points(t));
        }
        out
    }

    fn task_points(&mut self, t: usize) -> Vec<usize> {
        let Kind::Numeric { min, max, .. } = self.tasks[t].kind else {
            return Vec::new();
        };
        let start = self.start_values(t, min, max);
        let mut ps = Vec::new();
        for &v in &start {
            ps.push(self.task_point(t, v));
        }
        if ps.iter().any(|&p| self.class_of(p).is_none()) {
            return ps;
        }
        let task = &self.tasks[t];
        if task.screening {
            let matters = task
                .points
                .values()
                .any(|&p| self.class_of(p) == Some(Class::Pass));
            let task = &mut self.tasks[t];
            task.screening = false;
            if !matters {
                task.kind = Kind::Unconstrained;
                return Vec::new();
            }
            return self.task_points(t);
        }
        let mut mids: Vec<u64> = self
            .gaps(t, &start)
            .into_iter()
            .filter(|(_, stuck)| !stuck)
            .map(|(v, _)| v)
            .collect();
        mids.extend(self.inside(t, &start));
        mids.into_iter().map(|v| self.task_point(t, v)).collect()
    }

    /// Where a task starts: the base value; screening, the lowest and
    /// highest other real values; else every real value, both ends, and
    /// both sides' values.
    fn start_values(&self, t: usize, min: u64, max: u64) -> BTreeSet<u64> {
        let task = &self.tasks[t];
        let here = task.base.get(task.attr).and_then(Value::as_u64);
        let mut s: BTreeSet<u64> = here.into_iter().collect();
        let real: Vec<u64> = self
            .pool
            .values(task.attr, min, max)
            .filter(|v| Some(*v) != here)
            .collect();
        if task.screening {
            s.extend(real.first().copied().or(Some(min)));
            s.extend(real.last().copied().or(Some(max)));
            return s;
        }
        s.extend(real);
        s.extend([min, max]);
        s
    }

    fn task_point(&mut self, t: usize, v: u64) -> usize {
        if let Some(&p) = self.tasks[t].points.get(&v) {
            return p;
        }
        let task = &self.tasks[t];
        let mut spec = task.base.clone();
        spec.insert(task.attr, value_of(&task.kind, v));
        let p = self.point(spec);
        self.tasks[t].points.insert(v, p);
        p
    }

    /// The decided points of a task, in value order.
    fn decided(&self, t: usize) -> Vec<(u64, Class)> {
        self.tasks[t]
            .points
            .iter()
            .filter_map(|(&v, &p)| self.class_of(p).map(|c| (v, c)))
            .filter(|(_, c)| matches!(c, Class::Pass | Class::Fail))
            .collect()
    }

    /// The value to probe next in each gap between neighbouring pass and
    /// fail values: next to the failing end when that is a starting value
    /// (a set of real values then costs two probes a member, not two
    /// bisections), else the middle. With whether that value is known to
    /// be unknown (the gap is stuck).
    fn gaps(&self, t: usize, start: &BTreeSet<u64>) -> Vec<(u64, bool)> {
        let d = self.decided(t);
        let lost = |v: u64| {
            self.tasks[t]
                .points
                .get(&v)
                .and_then(|&p| self.class_of(p))
                .is_some()
        };
        d.windows(2)
            .filter(|w| w[0].1 != w[1].1 && w[1].0 - w[0].0 > 1)
            .map(|w| {
                let (a, b) = (w[0].0, w[1].0);
                let (fail, next) = match w[0].1 {
                    Class::Fail => (a, a + 1),
                    _ => (b, b - 1),
                };
                let v = match start.contains(&fail) && !lost(next) {
                    true => next,
                    false => a + (b - a) / 2,
                };
                (v, lost(v))
            })
            .collect()
    }

    /// The middle of each span between neighbouring starting values that
    /// both failed: a set of real values (`in {128 255}`) is told from a
    /// threshold (`> 127`) there. Once only: a middle that fails too is
    /// not split again.
    fn inside(&self, t: usize, start: &BTreeSet<u64>) -> Vec<u64> {
        let d = self.decided(t);
        d.windows(2)
            .filter(|w| w[0].1 == Class::Fail && w[1].1 == Class::Fail)
            .filter(|w| w[1].0 - w[0].0 > 1 && start.contains(&w[0].0) && start.contains(&w[1].0))
            .map(|w| w[0].0 + (w[1].0 - w[0].0) / 2)
            .collect()
    }

    /// A task's clause, its evidence and whether it is known.
    fn clause(&self, t: usize) -> Option<(Option<Expr>, Evidence, bool)> {
        let task = &self.tasks[t];
        let op = Operand::Attr(task.attr);
        match &task.kind {
            Kind::Presence { on_bad: true } => {
                return Some((Some(Expr::Present(op)), Evidence::default(), true))
            }
            Kind::Presence { on_bad: false } => {
                let e = Expr::Not(Box::new(Expr::Present(op)));
                return Some((Some(e), Evidence::default(), true));
            }
            Kind::Unconstrained => return None,
            Kind::Fixed(v) => {
                let lit = Literal::Str(v.to_string());
                return Some((
                    Some(Expr::Compare(op, Cmp::Eq, lit)),
                    Evidence::default(),
                    true,
                ));
            }
            Kind::Numeric { .. } => {}
        }
        let Kind::Numeric { min, max, .. } = task.kind else {
            return None;
        };
        let d = self.decided(t);
        let mut ev = Evidence {
            passed: d.iter().filter(|(_, c)| *c == Class::Pass).count() as u32,
            failed: d.iter().filter(|(_, c)| *c == Class::Fail).count() as u32,
            ..Evidence::default()
        };
        for w in d.windows(2) {
            match (w[0].1, w[1].1) {
                (Class::Pass, Class::Fail) => ev.boundaries.push(Boundary {
                    pass: w[0].0,
                    fail: w[1].0,
                }),
                (Class::Fail, Class::Pass) => ev.boundaries.push(Boundary {
                    pass: w[1].0,
                    fail: w[0].0,
                }),
                _ => {}
            }
        }
        ev.unknown = task
            .points
            .iter()
            .filter(|(_, &p)| self.class_of(p) == Some(Class::Unknown))
            .map(|(&v, _)| v)
            .collect();
        let here_fails = task
            .base
            .get(task.attr)
            .and_then(Value::as_u64)
            .and_then(|v| d.iter().find(|(x, _)| *x == v))
            .is_some_and(|(_, c)| *c == Class::Fail);
        let start = self.start_values(t, min, max);
        let stuck = self.gaps(t, &start).iter().any(|(_, stuck)| *stuck);
        let known = !stuck && here_fails;
        let runs = runs(&d);
        Some((numeric_clause(op, &runs, min, max), ev, known))
    }

    fn task_probes(&self, t: usize) -> u32 {
        self.tasks[t]
            .points
            .values()
            .map(|&p| self.points[p].sent)
            .sum()
    }

    /// The rule from the clauses: each culprit set's clauses and the
    /// shared ones, all of them; the sets joined with `||`. `None` when a
    /// clause is unknown.
    fn rule_expr(&self) -> Option<Expr> {
        let mut sets: Vec<Vec<Expr>> = vec![Vec::new(); self.sets];
        let mut shared = Vec::new();
        for t in 0..self.tasks.len() {
            let Some((expr, _, known)) = self.clause(t) else {
                continue;
            };
            if !known {
                return None;
            }
            let Some(expr) = expr else {
                continue;
            };
            match self.tasks[t].set {
                Some(i) => sets.get_mut(i)?.push(expr),
                None => shared.push(expr),
            }
        }
        let alts: Vec<Expr> = sets
            .into_iter()
            .map(|mut s| {
                s.extend(shared.iter().cloned());
                all(s)
            })
            .collect();
        Some(match alts.len() {
            1 => alts.into_iter().next()?,
            _ => Expr::Or(alts),
        })
    }

    /// The rule of an expression, parsed back from its text as `--rule`
    /// would: what is reported is what was checked.
    fn round_trip(&mut self, e: &Expr) -> Option<Rule> {
        let text = e.to_string();
        match parse(&text) {
            Ok(rule) => Some(rule),
            Err(err) => {
                self.note = Some(format!("the inferred rule {text} does not parse: {err}"));
                None
            }
        }
    }

    /// The agreement check's variants: a base (good, bad or a culprit
    /// set's), each mapped attribute it has set at random to a real value,
    /// a boundary or an end (or, a quarter of the time, any value), or left.
    fn draw_check(&mut self) -> Vec<usize> {
        let mut bases: Vec<Attributes> = Vec::new();
        let mut choices: Vec<(Attr, Kind, Vec<u64>)> = Vec::new();
        for t in 0..self.tasks.len() {
            let task = &self.tasks[t];
            if !bases.contains(&task.base) {
                bases.push(task.base.clone());
            }
            let Kind::Numeric { min, max, .. } = task.kind else {
                continue;
            };
            let mut vs: BTreeSet<u64> = self.pool.values(task.attr, min, max).collect();
            vs.extend([min, max]);
            if let Some((_, ev, _)) = self.clause(t) {
                for b in ev.boundaries {
                    vs.extend([b.pass, b.fail]);
                }
            }
            choices.push((task.attr, task.kind.clone(), vs.into_iter().collect()));
        }
        let mut out = Vec::new();
        // Distinct variants: a few attributes with a few values each may
        // hold fewer than asked, and one variant is one check.
        let attempts = self.opts.check.saturating_mul(20);
        for _ in 0..attempts {
            if out.len() >= self.opts.check as usize {
                break;
            }
            let Some(base) = pick(&mut self.rng, &bases).cloned() else {
                break;
            };
            let mut spec = base;
            for (attr, kind, vs) in &choices {
                if !spec.contains(*attr) || self.rng.gen_bool(0.5) {
                    continue;
                }
                // A quarter anywhere in the range: what lies between the
                // values probed is checked too.
                let v = match (kind, self.rng.gen_bool(0.25)) {
                    (Kind::Numeric { min, max, .. }, true) => Some(self.rng.gen_range(*min..=*max)),
                    _ => pick(&mut self.rng, vs).copied(),
                };
                if let Some(v) = v {
                    spec.insert(*attr, value_of(kind, v));
                }
            }
            let p = self.point(spec);
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    /// What was inferred.
    pub fn report(&self) -> Inferred {
        let mut clauses = Vec::new();
        for t in 0..self.tasks.len() {
            let Some((expr, evidence, known)) = self.clause(t) else {
                continue;
            };
            let task = &self.tasks[t];
            let Some(expr) = expr else {
                continue;
            };
            let status = match (&task.kind, known) {
                (_, false) => "unknown",
                (Kind::Numeric { .. }, true) => "inferred",
                _ => "from-search",
            };
            clauses.push(ClauseReport {
                text: expr.to_string(),
                attribute: task.attr,
                probes: self.task_probes(t),
                evidence,
                status,
                shared: task.shared,
            });
        }
        let rule = self.rule.as_ref().map(|r| r.source().to_owned());
        Inferred {
            agreement: self.agreement(),
            rule,
            clauses,
            probes: self.probes,
            ports: self.parity,
            note: self.note.clone(),
        }
    }

    fn agreement(&self) -> Agreement {
        let mut a = Agreement {
            probes: self.check_probes,
            ..Agreement::default()
        };
        let (Some(check), Some(rule)) = (&self.check, &self.rule) else {
            return a;
        };
        for &p in check {
            let point = &self.points[p];
            let (Some(class @ (Class::Pass | Class::Fail)), Ok((_, crafted))) =
                (point.class, &point.built)
            else {
                continue;
            };
            a.checked += 1;
            let predicted = rule.eval(crafted);
            if predicted == (class == Class::Fail) {
                a.agreed += 1;
            }
        }
        a
    }
}

/// Drive an inference to its end against an oracle.
pub fn run<O: Oracle + ?Sized>(infer: &mut Infer, oracle: &mut O) -> Result<Inferred, Halted> {
    run_observed(infer, oracle, &mut |_, _, _, _| {})
}

/// What [`run_observed`] shows each answered batch to: the inference (for
/// [`Infer::point_label`]), the oracle, the requests and their answers.
pub type Observer<'a, O> = super::oracle::Watch<'a, Infer, O>;

/// [`run`], showing each answered batch to `observe` before the inference
/// records it, as [`super::oracle::run_observed`] does for the search:
/// the probes that decide the rule are evidence as much as the search's.
pub fn run_observed<O: Oracle + ?Sized>(
    infer: &mut Infer,
    oracle: &mut O,
    observe: &mut Observer<'_, O>,
) -> Result<Inferred, Halted> {
    super::oracle::drive(infer, oracle, observe)?;
    Ok(infer.report())
}

impl super::oracle::Asks for Infer {
    fn next_batch(&mut self) -> Option<Vec<ProbeRequest>> {
        Infer::next_batch(self)
    }
    fn record(&mut self, id: u64, answer: ProbeAnswer) {
        Infer::record(self, id, answer);
    }
}

/// Parse an inferred rule as `--rule` does (its scope: later segments too).
pub fn parse(text: &str) -> Result<Rule, crate::rule::RuleError> {
    Rule::parse_in(text, Scope::Connection)
}

/// Whether a probe from `port` can show the box acting.
fn acting(parity: Option<Parity>, port: u16) -> bool {
    match parity {
        None => true,
        Some(Parity::Even) => port % 2 == 0,
        Some(Parity::Odd) => port % 2 == 1,
    }
}

fn pick<'a, T>(rng: &mut StdRng, xs: &'a [T]) -> Option<&'a T> {
    if xs.is_empty() {
        return None;
    }
    xs.get(rng.gen_range(0..xs.len()))
}

fn all(mut es: Vec<Expr>) -> Expr {
    match es.len() {
        1 => es.remove(0),
        _ => Expr::And(es),
    }
}

fn value_of(kind: &Kind, v: u64) -> Value {
    match kind {
        Kind::Numeric { boolean: true, .. } => Value::Bool(v != 0),
        _ => Value::Int(v),
    }
}

/// The tasks of one culprit unit, on its set's failing variant.
fn unit_tasks(unit: &units::Unit, base: &Attributes, set: Option<usize>) -> Vec<Task> {
    let task = |attr: Attr, kind: Kind| Task {
        attr,
        base: base.clone(),
        kind,
        screening: false,
        shared: false,
        set,
        points: BTreeMap::new(),
    };
    match unit.change {
        UnitChange::Option { on_bad: false, .. } => unit
            .attributes
            .first()
            .map(|&a| task(a, Kind::Presence { on_bad: false }))
            .into_iter()
            .collect(),
        UnitChange::Option { on_bad: true, .. } => {
            let valued: Vec<Task> = unit
                .attributes
                .iter()
                .filter_map(|&a| match numeric(a) {
                    Some(Kind::Numeric { boolean: false, .. }) => numeric(a).map(|k| task(a, k)),
                    _ => None,
                })
                .collect();
            match (valued.is_empty(), unit.attributes.first()) {
                (true, Some(&a)) => vec![task(a, Kind::Presence { on_bad: true })],
                _ => valued,
            }
        }
        UnitChange::Attributes | UnitChange::Order => unit
            .attributes
            .iter()
            .filter_map(|&a| {
                let kind = numeric(a).or_else(|| base.get(a).cloned().map(Kind::Fixed))?;
                Some(task(a, kind))
            })
            .collect(),
    }
}

/// The numeric kind of an attribute, if it is a number or a flag.
fn numeric(a: Attr) -> Option<Kind> {
    match a.field()?.value_type() {
        ValueType::Bool => Some(Kind::Numeric {
            min: 0,
            max: 1,
            boolean: true,
        }),
        ValueType::Int(max) => Some(Kind::Numeric {
            min: 0,
            max,
            boolean: false,
        }),
        ValueType::Text => None,
    }
}

/// A screening task per shared number attribute that has another value to try.
fn shared_tasks(search: &Search, pool: &ValuePool) -> Vec<Task> {
    search
        .shared
        .iter()
        .filter(|(_, _, other)| other.is_some())
        .filter_map(|(attr, value, _)| {
            let kind @ Kind::Numeric { min, max, .. } = numeric(*attr)? else {
                return None;
            };
            let here = value.as_u64()?;
            // A value no stack uses otherwise is not worth a probe.
            pool.values(*attr, min, max).find(|v| *v != here)?;
            Some(Task {
                attr: *attr,
                base: search.bad.clone(),
                kind,
                screening: true,
                shared: true,
                set: None,
                points: BTreeMap::new(),
            })
        })
        .collect()
}

/// The runs of failing values, each from its first to its last.
fn runs(d: &[(u64, Class)]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut open = false;
    for &(v, c) in d {
        match (c == Class::Fail, open, out.last_mut()) {
            (true, true, Some(last)) => last.1 = v,
            (true, _, _) => {
                out.push((v, v));
                open = true;
            }
            (false, _, _) => open = false,
        }
    }
    out
}

/// The clause of failing runs over `min..=max`: `None` when every value fails.
fn numeric_clause(op: Operand, runs: &[(u64, u64)], min: u64, max: u64) -> Option<Expr> {
    match runs {
        [] => Some(Expr::In(op, Vec::new())),
        [(lo, hi)] if *lo == min && *hi == max => None,
        [(lo, hi)] if lo == hi => Some(Expr::Compare(op, Cmp::Eq, Literal::Int(*lo))),
        [(lo, hi)] if *lo == min => Some(Expr::Compare(op, Cmp::Lt, Literal::Int(hi + 1))),
        [(lo, hi)] if *hi == max => Some(Expr::Compare(op, Cmp::Gt, Literal::Int(lo - 1))),
        _ => Some(Expr::In(
            op,
            runs.iter()
                .map(|&(lo, hi)| match lo == hi {
                    true => Literal::Int(lo),
                    false => Literal::Range(lo, hi),
                })
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests;
