//! The inference against simulated middleboxes (the rule oracle): the
//! inferred rule must agree with the true one on 10,000 variants drawn
//! from real values and both rules' boundaries, within 200 probes.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};

use super::*;
use crate::model::craft::{crafted_attributes, linux_example};
use crate::model::Field;
use crate::oracle::{Action, PortFilter, RuleOracle};
use crate::search::{run as run_search, SearchOptions};

/// What one inference gave, with the probes and agreement measured.
#[derive(Debug)]
struct Outcome {
    inferred: Inferred,
    /// Of 10,000 random variants, how many both rules judge alike.
    agreed: u32,
    checked: u32,
}

fn side(edits: &[(Field, Value)]) -> Attributes {
    let mut a = linux_example();
    for (f, v) in edits {
        a.insert(*f, v.clone());
    }
    a
}

/// Bisect, infer, then compare the inferred rule with the true one.
fn infer(rule: &str, bad_edits: &[(Field, Value)], ports: PortFilter, seed: u64) -> Outcome {
    let truth = parse(rule).unwrap_or_else(|e| panic!("{rule}: {e}"));
    let good = linux_example();
    let bad = side(bad_edits);
    let mut oracle = RuleOracle::new(truth.clone(), Action::Drop, 0.0, seed).with_ports(ports);
    let mut search =
        Search::new(&good, &bad, SearchOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let report = run_search(&mut search, &mut oracle).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.conclusion,
        Conclusion::Culprits,
        "{rule}: {report:?}"
    );
    let opts = InferOptions {
        seed,
        ..InferOptions::default()
    };
    let pool = ValuePool::builtin();
    let mut infer = Infer::new(&search, pool.clone(), opts).unwrap_or_else(|e| panic!("{e}"));
    let inferred = run(&mut infer, &mut oracle).unwrap_or_else(|e| panic!("{e}"));
    let Some(text) = &inferred.rule else {
        panic!("{rule}: no rule inferred: {inferred:#?}");
    };
    let got = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let (agreed, checked) = agreement(&truth, &got, &good, &bad, bad_edits, &pool, seed);
    Outcome {
        inferred,
        agreed,
        checked,
    }
}

/// 10,000 variants: good, bad, or good with one of bad's edits, each
/// attribute either rule reads set (half the time) to a real value, an
/// end, or a value next to either rule's constants.
fn agreement(
    truth: &Rule,
    got: &Rule,
    good: &Attributes,
    bad: &Attributes,
    edits: &[(Field, Value)],
    pool: &ValuePool,
    seed: u64,
) -> (u32, u32) {
    let mut bases = vec![good.clone(), bad.clone()];
    bases.extend(edits.iter().map(|e| side(std::slice::from_ref(e))));
    let mut attrs: Vec<(Attr, Kind, Vec<u64>)> = Vec::new();
    for a in truth
        .attributes_used()
        .into_iter()
        .chain(got.attributes_used())
    {
        let Some(kind @ Kind::Numeric { min, max, .. }) = numeric(a) else {
            continue;
        };
        if attrs.iter().any(|(x, _, _)| *x == a) {
            continue;
        }
        let mut vs: BTreeSet<u64> = pool.values(a, min, max).collect();
        vs.extend([min, max]);
        for c in constants(truth).into_iter().chain(constants(got)) {
            vs.extend([c.saturating_sub(1), c, c.saturating_add(1)].map(|v| v.min(max)));
        }
        attrs.push((a, kind, vs.into_iter().collect()));
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let (mut agreed, mut checked) = (0, 0);
    for _ in 0..10_000 {
        let Some(base) = pick(&mut rng, &bases) else {
            break;
        };
        let mut spec = base.clone();
        for (a, kind, vs) in &attrs {
            if spec.contains(*a) && rng.gen_bool(0.5) {
                if let Some(&v) = pick(&mut rng, vs) {
                    spec.insert(*a, value_of(kind, v));
                }
            }
        }
        let Ok(crafted) = crafted_attributes(&spec, &units::placeholder(false)) else {
            continue;
        };
        checked += 1;
        agreed += u32::from(truth.eval(&crafted) == got.eval(&crafted));
    }
    (agreed, checked)
}

/// The numbers a rule compares with.
fn constants(r: &Rule) -> Vec<u64> {
    fn walk(e: &Expr, out: &mut Vec<u64>) {
        match e {
            Expr::Compare(_, _, Literal::Int(n)) => out.push(*n),
            Expr::In(_, lits) => {
                for l in lits {
                    match l {
                        Literal::Int(n) => out.push(*n),
                        Literal::Range(a, b) => out.extend([*a, *b]),
                        _ => {}
                    }
                }
            }
            Expr::Not(e) => walk(e, out),
            Expr::And(es) | Expr::Or(es) => es.iter().for_each(|e| walk(e, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&r.expr, &mut out);
    out
}

fn check(rule: &str, o: &Outcome) {
    let share = f64::from(o.agreed) / f64::from(o.checked.max(1));
    eprintln!(
        "{rule:60} -> {:?}: {} probes, agreement {}/{} (own check {}/{})",
        o.inferred.rule,
        o.inferred.probes,
        o.agreed,
        o.checked,
        o.inferred.agreement.agreed,
        o.inferred.agreement.checked
    );
    assert!(o.checked >= 9_000, "{rule}: {o:#?}");
    assert!(share >= 0.99, "{rule}: agreement {share}: {o:#?}");
    assert!(
        o.inferred.probes <= 200,
        "{rule}: {} probes",
        o.inferred.probes
    );
}

fn real_windows() -> Vec<u64> {
    let a = Attr::Field(Field::TcpWindowSizeValue);
    let real: Vec<u64> = ValuePool::builtin().values(a, 0, 65535).collect();
    real.into_iter().filter(|&v| v != 64240).collect()
}

fn mss(v: u64) -> (Field, Value) {
    (Field::TcpOptionsMssVal, Value::Int(v))
}

fn ttl(v: u64) -> (Field, Value) {
    (Field::IpTtl, Value::Int(v))
}

fn window(v: u64) -> (Field, Value) {
    (Field::TcpWindowSizeValue, Value::Int(v))
}

#[test]
fn a_threshold_is_found_exactly() {
    let rule = "tcp.options.mss_val > 8000";
    let o = infer(rule, &[mss(9000)], PortFilter::Any, 1);
    check(rule, &o);
    assert_eq!(o.inferred.rule.as_deref(), Some(rule));
    let c = &o.inferred.clauses[0];
    assert_eq!(
        c.evidence.boundaries,
        [Boundary {
            pass: 8000,
            fail: 8001
        }]
    );
}

#[test]
fn a_set_of_real_values_is_found() {
    let rule = "ip.ttl in {128 255}";
    let o = infer(rule, &[ttl(128)], PortFilter::Any, 2);
    check(rule, &o);
    assert_eq!(o.inferred.rule.as_deref(), Some(rule));
}

#[test]
fn a_shared_attribute_joins_the_conjunction() {
    let rule = "tcp.options.mss_val > 8000 && ip.ttl < 100";
    let o = infer(rule, &[mss(9000)], PortFilter::Any, 3);
    check(rule, &o);
    assert!(o.inferred.clauses.iter().any(|c| c.shared), "{o:#?}");
}

#[test]
fn the_port_parity_is_reported_beside_the_rule() {
    let rule = "tcp.options.mss_val > 8000";
    let o = infer(rule, &[mss(9000)], PortFilter::Even, 4);
    check(rule, &o);
    assert_eq!(o.inferred.ports, Some(Parity::Even));
}

/// Regression guard for the no-guessing promise: a recording that lacks
/// the values a boundary needs gives unknown clauses and no rule.
#[test]
fn a_recording_without_the_boundary_says_unknown() {
    struct Partial(RuleOracle);
    impl Oracle for Partial {
        fn probe_batch(&mut self, batch: &[ProbeRequest]) -> crate::search::BatchAnswers {
            let known = |r: &ProbeRequest| {
                r.crafted
                    .get(Field::TcpOptionsMssVal)
                    .and_then(Value::as_u64)
                    .is_some_and(|m| m == 1460 || m == 9000)
            };
            let answers = self.0.probe_batch(batch)?;
            Ok(batch
                .iter()
                .zip(answers)
                .map(|(r, a)| {
                    if known(r) {
                        a
                    } else {
                        Err(OracleError::Unknown)
                    }
                })
                .collect())
        }
    }
    let truth = parse("tcp.options.mss_val > 8000").unwrap_or_else(|e| panic!("{e}"));
    let good = linux_example();
    let bad = side(&[mss(9000)]);
    let mut oracle = Partial(RuleOracle::new(truth, Action::Drop, 0.0, 5));
    let mut search =
        Search::new(&good, &bad, SearchOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    run_search(&mut search, &mut oracle).unwrap_or_else(|e| panic!("{e}"));
    let mut infer = Infer::new(&search, ValuePool::builtin(), InferOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let inferred = run(&mut infer, &mut oracle).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inferred.rule, None, "{inferred:#?}");
    assert!(
        inferred.clauses.iter().any(|c| c.status == "unknown"),
        "{inferred:#?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn thresholds(t in 1461u64..30000, above in 1u64..5000, seed in 0u64..1000) {
        let rule = format!("tcp.options.mss_val > {t}");
        let o = infer(&rule, &[mss((t + above).min(65535))], PortFilter::Any, seed);
        check(&rule, &o);
    }

    #[test]
    fn ranges(lo in 1000u64..30000, len in 0u64..20000, off in 0u64..1000, seed in 0u64..1000) {
        let hi = lo + len;
        let rule = format!("tcp.window_size_value in {{{lo}..{hi}}}");
        let o = infer(&rule, &[window(lo + off.min(len))], PortFilter::Any, seed);
        check(&rule, &o);
    }

    /// Sets of the windows real stacks use (good's 64240 aside).
    #[test]
    fn sets(pick in proptest::sample::subsequence(real_windows(), 1..5), seed in 0u64..1000) {
        let members: Vec<String> = pick.iter().map(u64::to_string).collect();
        let rule = format!("tcp.window_size_value in {{{}}}", members.join(" "));
        let o = infer(&rule, &[window(pick[0])], PortFilter::Any, seed);
        check(&rule, &o);
    }

    #[test]
    fn conjunctions_with_a_shared_attribute(t in 1461u64..30000, above in 1u64..5000, k in 65u64..255, seed in 0u64..1000) {
        let rule = format!("tcp.options.mss_val > {t} && ip.ttl < {k}");
        let o = infer(&rule, &[mss((t + above).min(65535))], PortFilter::Any, seed);
        check(&rule, &o);
    }

    #[test]
    fn disjunctions(t in 1461u64..30000, above in 1u64..5000, seed in 0u64..1000) {
        let rule = format!("tcp.options.mss_val > {t} || ip.ttl == 128");
        let o = infer(&rule, &[mss((t + above).min(65535)), ttl(128)], PortFilter::Any, seed);
        check(&rule, &o);
    }

    #[test]
    fn port_parity(t in 1461u64..30000, above in 1u64..5000, odd in any::<bool>(), seed in 0u64..1000) {
        let rule = format!("tcp.options.mss_val > {t}");
        let ports = if odd { PortFilter::Odd } else { PortFilter::Even };
        let o = infer(&rule, &[mss((t + above).min(65535))], ports, seed);
        check(&rule, &o);
    }
}
