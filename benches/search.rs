//! The bisect search against a simulated middlebox: time per search, and
//! the probe counts it needs (printed before the timings).
//!
//! `cargo bench --bench search`

use criterion::{black_box, criterion_group, criterion_main, Criterion};

use synlab::model::{Attr, Attributes, Field, Value};
use synlab::oracle::{run, Action, PortFilter, RuleOracle};
use synlab::rule::Rule;
use synlab::search::{ProbePhase, Report, Search, SearchOptions};

/// Two SYNs that differ in sixteen attributes, one unit each.
fn sixteen() -> (Attributes, Attributes) {
    let mut g = Attributes::new();
    g.insert(Field::TcpOptionsSackPerm, true);
    let mut b = g.clone();
    let pairs: [(&str, Value, Value); 16] = [
        ("ip.ttl", 64u64.into(), 128u64.into()),
        ("ip.flags.df", true.into(), false.into()),
        ("ip.flags.rb", false.into(), true.into()),
        ("ip.dsfield.dscp", 0u64.into(), 10u64.into()),
        ("ip.dsfield.ecn", 0u64.into(), 2u64.into()),
        ("tcp.window_size_value", 64240u64.into(), 8192u64.into()),
        ("tcp.flags.ece", false.into(), true.into()),
        ("tcp.flags.cwr", false.into(), true.into()),
        ("tcp.flags.ae", false.into(), true.into()),
        ("tcp.flags.push", false.into(), true.into()),
        ("tcp.flags.urg", false.into(), true.into()),
        ("tcp.urgent_pointer", 0u64.into(), 1u64.into()),
        ("tcp.options.mss_val", 1460u64.into(), 1380u64.into()),
        ("tcp.options.wscale.shift", 7u64.into(), 2u64.into()),
        (
            "synlab.options.layout",
            "mss,sok,ts,nop,ws".into(),
            "mss,nop,ws,sok,ts".into(),
        ),
        ("tcp.len", 0u64.into(), 10u64.into()),
    ];
    for (k, gv, bv) in pairs {
        let k: Attr = k.parse().expect("a known name");
        g.insert(k, gv);
        b.insert(k, bv);
    }
    (g, b)
}

/// How the simulated middlebox fails: on every matching SYN, or on those
/// from even source ports only (50% intermittent).
#[derive(Clone, Copy)]
enum Failing {
    Always,
    EvenPorts,
}

fn one(g: &Attributes, b: &Attributes, expr: &str, loss: f64, seed: u64, single: bool) -> Report {
    one_with(g, b, expr, loss, seed, single, Failing::Always)
}

fn one_with(
    g: &Attributes,
    b: &Attributes,
    expr: &str,
    loss: f64,
    seed: u64,
    single: bool,
    failing: Failing,
) -> Report {
    let rule = match Rule::parse(expr) {
        Ok(r) => r,
        Err(e) => panic!("{}", e.render(expr)),
    };
    let ports = match failing {
        Failing::Always => PortFilter::Any,
        Failing::EvenPorts => PortFilter::Even,
    };
    let mut oracle = RuleOracle::new(rule, Action::Drop, loss, seed).with_ports(ports);
    let opts = SearchOptions {
        single,
        ..SearchOptions::default()
    };
    let mut s = match Search::new(g, b, opts) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    run(&mut s, &mut oracle).unwrap_or_else(|e| panic!("{e}"))
}

/// Average probes and rounds over every position of the culprit(s).
fn measure(label: &str, rules: &[String], loss: f64, single: bool) {
    measure_with(label, rules, loss, single, Failing::Always);
}

fn measure_with(label: &str, rules: &[String], loss: f64, single: bool, failing: Failing) {
    let (g, b) = sixteen();
    let (mut probes, mut iso, mut rounds, mut worst) = (0u64, 0u64, 0u32, 0u32);
    let runs = 20u64;
    for (i, expr) in rules.iter().enumerate() {
        for seed in 0..runs {
            let r = one_with(&g, &b, expr, loss, seed * 100 + i as u64, single, failing);
            probes += r.probes;
            iso += r
                .probes_by_phase
                .get(&ProbePhase::Isolation)
                .copied()
                .unwrap_or(0);
            let r_iso = r
                .rounds_by_phase
                .get(&ProbePhase::Isolation)
                .copied()
                .unwrap_or(0);
            rounds += r_iso;
            worst = worst.max(r_iso);
        }
    }
    let n = (rules.len() as u64 * runs) as f64;
    println!(
        "{label:<44} loss {loss:.1}  single table {:<3}  probes {:>6.1} (isolation {:>5.1})  isolation rounds {:>4.1} (worst {worst})",
        if single { "yes" } else { "no" },
        probes as f64 / n,
        iso as f64 / n,
        f64::from(rounds) / n,
    );
}

fn rules_one() -> Vec<String> {
    let (_, b) = sixteen();
    b.iter()
        .filter(|(k, _)| *k != "tcp.options.sack_perm")
        .map(|(k, v)| match v {
            Value::Str(s) => format!("{k} == \"{s}\""),
            v => format!("{k} == {v}"),
        })
        .collect()
}

fn rules_two() -> Vec<String> {
    let one = rules_one();
    (0..one.len())
        .map(|i| format!("{} && {}", one[i], one[(i + 5) % one.len()]))
        .collect()
}

fn bench(c: &mut Criterion) {
    for loss in [0.0, 0.3] {
        for single in [false, true] {
            measure("1 culprit among 16", &rules_one(), loss, single);
            measure("2 interacting among 16", &rules_two(), loss, single);
        }
    }
    for single in [false, true] {
        let (one, two) = (rules_one(), rules_two());
        measure_with(
            "1 of 16, 50% intermittent (even ports)",
            &one,
            0.0,
            single,
            Failing::EvenPorts,
        );
        measure_with(
            "2 of 16, 50% intermittent (even ports)",
            &two,
            0.0,
            single,
            Failing::EvenPorts,
        );
    }
    let (g, b) = sixteen();
    c.bench_function("bisect 1 of 16, loss 0.3", |bench| {
        bench.iter(|| one(black_box(&g), black_box(&b), "ip.ttl == 128", 0.3, 7, true))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
