//! The HTML report of `synlab bisect --html` and `synlab diff --html`: one
//! self-contained page (inline CSS and SVG, no script, nothing loaded from
//! anywhere), for people who want to *look* at a result: the two SYNs as
//! header diagrams side by side with the differences highlighted and the
//! culprits marked, the one-at-a-time table, the rates and confidence, and
//! the probes over time.
//!
//! Sans-I/O: functions from the result structs to a `String`; the CLI
//! writes the file. Every piece of data goes through the escaping writer
//! ([`html::Html`]).

pub mod diagram;
pub mod html;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use crate::diff::{Difference, PacketRole};
use crate::model::craft::{build_packet, Volatile};
use crate::model::{Attr, Attributes, Field, Value};
use crate::search::infer::Inferred;
use crate::search::units::placeholder;
use crate::search::{Conclusion, Parity, ProbePhase, Report, VerdictClass, VerdictReport};
use crate::trace::{Answer, HopReport, Injected, Probed, Sender, TraceReport};
use diagram::Mark;
use html::Html;

/// One side of a comparison: what to call it, and its SYN's attributes.
#[derive(Clone, Copy, Debug)]
pub struct SynSide<'a> {
    pub label: &'a str,
    pub syn: &'a Attributes,
}

/// One probe of a search, in the order it was asked: the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineProbe {
    /// The batch (oracle round trip) it was in, from 1.
    pub round: u32,
    /// The search's variant number, and the variant in words
    /// (`good + ip.ttl from bad`).
    pub variant: usize,
    pub label: String,
    /// `syn-ack`, `no-reply`, `icmp 3/13`…, or `error: WHY`.
    pub outcome: String,
}

const STYLE: &str = "<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.sub{color:#555}.verdict{font-size:18px;margin:12px 0}.culpritname{color:#b00020;font-weight:600}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr.culprit td{background:#fde7ea}td.pass{color:#0a6b2c}td.fail{color:#b00020}td.other{color:#666}
.sides{display:flex;gap:28px;flex-wrap:wrap}.side h3{font-size:15px;margin:6px 0}
svg.header{display:block;margin:0 0 10px}
svg .box rect{fill:#f7f7f7;stroke:#555;stroke-width:1}
svg .differs rect{fill:#ffe8a3;stroke:#a66b00;stroke-width:1.5}
svg .culprit rect{fill:#ffc4cc;stroke:#b00020;stroke-width:3}
svg text{font:11px system-ui,sans-serif;text-anchor:middle}svg text.name{fill:#444}
svg text.cont{fill:#999;font-style:italic}
svg text.tiny{font-size:7.5px;letter-spacing:-0.3px}
svg text.value{font:12px ui-monospace,monospace;font-weight:600}svg text.ruler{fill:#888;font-size:10px}
.legend span{display:inline-block;padding:1px 8px;margin-right:8px;border:1px solid #999}
.l-differs{background:#ffe8a3}.l-culprit{background:#ffc4cc;border:2px solid #b00020!important}
svg.timeline text{text-anchor:end;font-size:11px}svg.timeline text.axis{text-anchor:middle;fill:#666}
.note{background:#f3f6ff;padding:6px 10px;border-left:3px solid #4a6fd6}
table.path tr.differs td{background:#ffe8a3}table.injected td{font-size:13px}
</style>";

/// The page around `body`.
fn page(title: &str, body: impl FnOnce(&mut Html)) -> String {
    let mut h = Html::new();
    h.markup("<!DOCTYPE html>\n");
    h.open("html", &[("lang", "en")]).open("head", &[]);
    h.empty("meta", &[("charset", "utf-8")]);
    // No script runs, nothing is fetched: the page says so to the browser too.
    h.empty(
        "meta",
        &[
            ("http-equiv", "Content-Security-Policy"),
            (
                "content",
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            ),
        ],
    );
    h.elem("title", &[], title);
    h.markup(STYLE);
    h.close().open("body", &[]);
    body(&mut h);
    h.finish()
}

/// The volatile values a side's own attributes give (a captured SYN's
/// addresses and ports), the placeholder ones otherwise.
fn volatile_of(syn: &Attributes, v6: bool) -> Volatile {
    let mut v = placeholder(v6);
    let (src, dst) = if v6 {
        (Field::Ipv6Src, Field::Ipv6Dst)
    } else {
        (Field::IpSrc, Field::IpDst)
    };
    let addr = |f: Field| syn.text(f).and_then(|t| t.parse::<IpAddr>().ok());
    let port = |f: Field| {
        syn.get(f)
            .and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok())
    };
    if let (Some(s), Some(d)) = (addr(src), addr(dst)) {
        if s.is_ipv6() == v6 && d.is_ipv6() == v6 {
            v.src = SocketAddr::new(s, v.src.port());
            v.dst = SocketAddr::new(d, v.dst.port());
        }
    }
    if let Some(p) = port(Field::TcpDstport) {
        v.dst.set_port(p);
    }
    let ts = |f: Field| {
        syn.get(f)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    v.tsval = ts(Field::TcpOptionsTimestampTsval).unwrap_or(v.tsval);
    v.tsecr = ts(Field::TcpOptionsTimestampTsecr).unwrap_or(v.tsecr);
    v
}

/// The SYN's header diagrams, or why there are none.
fn headers_of(syn: &Attributes) -> Result<Vec<diagram::Header>, String> {
    let v6 = syn.contains(Field::Ipv6Version) || syn.contains(Field::Ipv6Hlim);
    let bytes = build_packet(syn, &volatile_of(syn, v6)).map_err(|e| e.to_string())?;
    diagram::headers(&bytes)
}

/// The two SYNs side by side, boxes marked.
fn sides(h: &mut Html, a: SynSide<'_>, b: SynSide<'_>, differs: &[Attr], culprits: &[Attr]) {
    h.open("p", &[("class", "legend")]);
    h.elem("span", &[], "same");
    h.elem("span", &[("class", "l-differs")], "differs");
    h.elem("span", &[("class", "l-culprit")], "★ culprit");
    h.text(
        "Hover a box for its Wireshark field name and value. A profile's SYN is drawn \
         with placeholder addresses, ports and sequence numbers.",
    );
    h.close();
    // Every option box lists the layout among its attributes: a culprit
    // layout (the order matters) marks them all, but a layout that merely
    // differs does not make an option the sides share look different.
    let layout = Attr::from(Field::SynlabOptionsLayout);
    let mark = |attrs: &[Attr]| {
        if attrs.iter().any(|a| culprits.contains(a)) {
            Mark::Culprit
        } else if attrs.iter().any(|a| *a != layout && differs.contains(a)) {
            Mark::Differs
        } else {
            Mark::Same
        }
    };
    h.open("div", &[("class", "sides")]);
    for side in [a, b] {
        h.open("div", &[("class", "side")]);
        h.elem("h3", &[], side.label);
        match headers_of(side.syn) {
            Ok(headers) => {
                for header in &headers {
                    h.elem("div", &[("class", "sub")], &header.title);
                    diagram::svg(h, header, &mark);
                }
            }
            Err(why) => {
                h.elem(
                    "p",
                    &[("class", "note")],
                    &format!("cannot draw this SYN: {why}"),
                );
            }
        }
        h.close();
    }
    h.close();
}

fn value_text(v: &Option<Value>) -> String {
    v.as_ref()
        .map_or_else(|| "(absent)".into(), ToString::to_string)
}

fn class_name(c: VerdictClass) -> &'static str {
    match c {
        VerdictClass::Pass => "pass",
        VerdictClass::Fail => "fail",
        VerdictClass::Other => "other",
    }
}

/// `no-reply 7/7`, `pending`, `unresolved`.
fn verdict_cell(v: &VerdictReport) -> String {
    match v.verdict.as_str() {
        "pending" => "-".into(),
        "unresolved" | "unknown" => v.verdict.clone(),
        _ => {
            let seen = v.counts.get(&v.text()).copied().unwrap_or(0);
            format!("{} {seen}/{}", v.text(), v.probes)
        }
    }
}

/// The culprits in words, as the terminal table says them.
fn culprit_sentence(r: &Report) -> String {
    let joined = |set: &[Attr]| {
        let names: Vec<&str> = set.iter().map(|a| a.name()).collect();
        names.join(" + ")
    };
    match r.culprits.as_slice() {
        [] => match r.conclusion {
            Conclusion::NothingToExplain => "nothing to explain".into(),
            Conclusion::Undecided => {
                "no conclusion: it rests on variants the oracle does not know".into()
            }
            _ => "no culprit found".into(),
        },
        [one] if one.len() == 1 => format!("culprit: {}", joined(one)),
        [one] => format!("culprits, together: {}", joined(one)),
        many => {
            let sets: Vec<String> = many.iter().map(|s| joined(s)).collect();
            format!(
                "culprits, {} minimal sets (each one alone flips the outcome): {}",
                many.len(),
                sets.join("; ")
            )
        }
    }
}

/// The baselines: pass rates, intervals, confidence.
fn baselines(h: &mut Html, good: &str, bad: &str, r: &Report) {
    h.elem("h2", &[], "Baselines: pass rates and confidence");
    h.open("table", &[]).open("tr", &[]);
    for c in [
        "side",
        "",
        "verdict",
        "pass rate",
        "95% CI",
        "outcomes",
        "confidence",
    ] {
        h.elem("th", &[], c);
    }
    h.close();
    for (side, label, v) in [
        ("good", good, &r.baseline.good),
        ("bad", bad, &r.baseline.bad),
    ] {
        h.open("tr", &[]);
        h.elem("td", &[], side).elem("td", &[], label);
        h.elem("td", &[("class", class_name(v.class))], &verdict_cell(v));
        h.elem("td", &[], &v.rate_text_of(r).unwrap_or_else(|| "-".into()));
        let ci = v.interval.map_or_else(
            || "-".into(),
            |[lo, hi]| format!("{:.0}–{:.0}%", lo * 100.0, hi * 100.0),
        );
        h.elem("td", &[], &ci);
        let counts: Vec<String> = v.counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
        h.elem("td", &[], &counts.join(", "));
        h.elem("td", &[], &format!("{:.3}", v.confidence));
        h.close();
    }
    h.close();
    if r.intermittent {
        h.elem(
            "p",
            &[],
            "bad fails intermittently: some of its probes passed.",
        );
    }
}

/// The differences, with the one-at-a-time verdicts of their units.
fn single_table(h: &mut Html, r: &Report, culprits: &[Attr]) {
    h.elem("h2", &[], "Differences, one at a time");
    h.elem(
        "p",
        &[("class", "sub")],
        "Each difference unit applied alone to good, and reverted alone on bad. \
         Rows marked ★ are in a culprit set; + joins attributes of one unit.",
    );
    h.open("table", &[]).open("tr", &[]);
    for c in [
        "",
        "attribute",
        "good",
        "bad",
        "applied to good",
        "reverted on bad",
    ] {
        h.elem("th", &[], c);
    }
    h.close();
    let mut last_unit = usize::MAX;
    for d in &r.differences {
        let first = d.unit != last_unit;
        last_unit = d.unit;
        let culprit = culprits.contains(&d.attribute);
        h.open("tr", &[("class", if culprit { "culprit" } else { "" })]);
        h.elem("td", &[], if culprit { "★" } else { "" });
        let name = if first {
            d.attribute.to_string()
        } else {
            format!("+ {}", d.attribute)
        };
        h.elem("td", &[], &name);
        h.elem("td", &[], &value_text(&d.good));
        h.elem("td", &[], &value_text(&d.bad));
        match (first, r.single.get(d.unit)) {
            (true, Some(row)) => {
                for v in [&row.applied_to_good, &row.reverted_on_bad] {
                    h.elem("td", &[("class", class_name(v.class))], &verdict_cell(v));
                }
            }
            _ => {
                h.elem("td", &[], "").elem("td", &[], "");
            }
        }
        h.close();
    }
    h.close();
}

/// How a probe's mark is drawn: the outcome's shape and colour.
fn mark_of(outcome: &str, pass: Option<&str>, fail: &str) -> (&'static str, &'static str) {
    let colour = if Some(outcome) == pass {
        "#0a8a3a"
    } else if outcome == fail {
        "#c4122f"
    } else {
        "#6b4bb8"
    };
    let shape = match outcome.split(' ').next().unwrap_or("") {
        "syn-ack" => "circle",
        "reset" => "square",
        "icmp" => "triangle",
        "no-reply" => "cross",
        _ => "diamond",
    };
    (shape, colour)
}

/// One probe's mark at (x, y).
fn probe_mark(h: &mut Html, shape: &str, colour: &str, x: f64, y: f64, tip: &str) {
    let n = |v: f64| format!("{v:.1}");
    h.open("g", &[]);
    h.elem("title", &[], tip);
    match shape {
        "circle" => {
            h.empty(
                "circle",
                &[("cx", &n(x)), ("cy", &n(y)), ("r", "4"), ("fill", colour)],
            );
        }
        "square" => {
            h.empty(
                "rect",
                &[
                    ("x", &n(x - 4.0)),
                    ("y", &n(y - 4.0)),
                    ("width", "8"),
                    ("height", "8"),
                    ("fill", colour),
                ],
            );
        }
        "cross" => {
            let d = format!(
                "M{} {}L{} {}M{} {}L{} {}",
                n(x - 4.0),
                n(y - 4.0),
                n(x + 4.0),
                n(y + 4.0),
                n(x - 4.0),
                n(y + 4.0),
                n(x + 4.0),
                n(y - 4.0)
            );
            h.empty(
                "path",
                &[("d", &d), ("stroke", colour), ("stroke-width", "2")],
            );
        }
        "triangle" => {
            let d = format!(
                "M{} {}L{} {}L{} {}Z",
                n(x),
                n(y - 5.0),
                n(x + 5.0),
                n(y + 4.0),
                n(x - 5.0),
                n(y + 4.0)
            );
            h.empty("path", &[("d", &d), ("fill", colour)]);
        }
        _ => {
            let d = format!(
                "M{} {}L{} {}L{} {}L{} {}Z",
                n(x),
                n(y - 5.0),
                n(x + 5.0),
                n(y),
                n(x),
                n(y + 5.0),
                n(x - 5.0),
                n(y)
            );
            h.empty("path", &[("d", &d), ("fill", colour)]);
        }
    }
    h.close();
}

/// The probes over time: x the probe's number (rounds as bands), y its
/// variant, the mark its outcome.
fn timeline(h: &mut Html, r: &Report, probes: &[TimelineProbe]) {
    h.elem("h2", &[], "Probes over time");
    if probes.is_empty() {
        h.elem("p", &[], "No probe was sent.");
        return;
    }
    let mut rows: Vec<(usize, &str)> = Vec::new();
    for p in probes {
        if !rows.iter().any(|(v, _)| *v == p.variant) {
            rows.push((p.variant, &p.label));
        }
    }
    let fail = r.baseline.bad.text();
    let (left, top, row_h, plot_w) = (330.0, 24.0, 20.0, 820.0);
    let height = top + row_h * rows.len() as f64 + 30.0;
    let width = left + plot_w + 40.0;
    let step = plot_w / probes.len().max(1) as f64;
    let n = |v: f64| format!("{v:.1}");
    h.elem(
        "p",
        &[("class", "sub")],
        &format!(
            "{} probes in {} rounds, left to right; one row per variant. ● syn-ack, ■ reset, \
             ▲ icmp, ✕ no-reply; green passes (good's outcome), red fails as bad does, violet is another outcome.",
            probes.len(),
            r.rounds
        ),
    );
    h.open(
        "svg",
        &[
            ("xmlns", "http://www.w3.org/2000/svg"),
            ("class", "timeline"),
            ("width", &n(width)),
            ("height", &n(height)),
            ("viewBox", &format!("0 0 {} {}", n(width), n(height))),
            ("role", "img"),
            ("aria-label", "probes over time"),
        ],
    );
    // Rounds as alternating bands.
    let mut start = 0usize;
    while start < probes.len() {
        let round = probes[start].round;
        let end = probes[start..]
            .iter()
            .position(|p| p.round != round)
            .map_or(probes.len(), |k| start + k);
        if round % 2 == 0 {
            h.empty(
                "rect",
                &[
                    ("x", &n(left + start as f64 * step)),
                    ("y", &n(top - 6.0)),
                    ("width", &n((end - start) as f64 * step)),
                    ("height", &n(row_h * rows.len() as f64 + 6.0)),
                    ("fill", "#f0f3fa"),
                ],
            );
        }
        start = end;
    }
    for (i, (_, label)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64 + 8.0;
        h.empty(
            "line",
            &[
                ("x1", &n(left)),
                ("x2", &n(left + plot_w)),
                ("y1", &n(y)),
                ("y2", &n(y)),
                ("stroke", "#e2e2e2"),
            ],
        );
        h.open("text", &[("x", &n(left - 8.0)), ("y", &n(y + 4.0))]);
        h.elem("title", &[], label);
        let short: String = if label.chars().count() > 48 {
            label.chars().take(47).chain(['…']).collect()
        } else {
            (*label).to_owned()
        };
        h.text(&short).close();
    }
    for (i, p) in probes.iter().enumerate() {
        let row = rows.iter().position(|(v, _)| *v == p.variant).unwrap_or(0);
        let (shape, colour) = mark_of(&p.outcome, r.pass_outcome.as_deref(), &fail);
        let x = left + (i as f64 + 0.5) * step;
        let y = top + row_h * row as f64 + 8.0;
        let tip = format!(
            "probe {} (round {}): {}: {}",
            i + 1,
            p.round,
            p.label,
            p.outcome
        );
        probe_mark(h, shape, colour, x, y, &tip);
    }
    let axis_y = top + row_h * rows.len() as f64 + 18.0;
    for k in [0usize, probes.len() / 2, probes.len()] {
        h.elem(
            "text",
            &[
                ("x", &n(left + k as f64 * step)),
                ("y", &n(axis_y)),
                ("class", "axis"),
            ],
            &format!("probe {k}"),
        );
    }
    h.close();
}

/// The probes' count and what they were for.
fn summary(h: &mut Html, r: &Report) {
    let phases: Vec<String> = [
        (ProbePhase::Baseline, "baseline"),
        (ProbePhase::Single, "one-at-a-time"),
        (ProbePhase::Isolation, "isolation"),
        (ProbePhase::Shared, "shared"),
    ]
    .iter()
    .filter_map(|(k, label)| r.probes_by_phase.get(k).map(|n| format!("{label} {n}")))
    .collect();
    let mut s = format!(
        "probes: {} in {} rounds ({})",
        r.probes,
        r.rounds,
        phases.join(", ")
    );
    if r.unresolved > 0 {
        s.push_str(&format!("; {} variants unresolved", r.unresolved));
    }
    h.elem("p", &[("class", "sub")], &s);
}

/// The page of a bisect: `good` passed, `bad` failed, the search's report
/// and its probes in order.
pub fn bisect_page(
    good: SynSide<'_>,
    bad: SynSide<'_>,
    r: &Report,
    probes: &[TimelineProbe],
) -> String {
    bisect_page_of_run(good, bad, r, probes, &RunFacts::default())
}

/// What an operator handed the page (or the JSON) needs to know of the
/// run besides its findings: which synlab, run how, when, against what.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct RunFacts {
    /// synlab's version.
    pub synlab: String,
    /// The full command line, one argument each.
    pub command: Vec<String>,
    /// When the run started, UTC (`2026-12-07T04:31:02Z`).
    pub started: String,
    /// Who answered: `live`, `rule EXPR` or `recorded FILE`.
    pub oracle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The exchange request (`--exchange`), when probes went past the handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// Whether the failures follow the source port, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_finding: Option<String>,
    /// `bisect --locate`: where on the path bad's SYN dies, in one line
    /// (the JSON has it as its own `location` object, not here).
    #[serde(skip)]
    pub location: Option<String>,
    /// `bisect --locate`: the passing and the failing SYN's traces, for
    /// the page's per-hop table.
    #[serde(skip)]
    pub traces: Option<LocatedTraces>,
    /// Answers marked injected by a box on the path (the search's RSTs,
    /// alike ones counted together), with their evidence.
    #[serde(skip)]
    pub injected: Vec<Injected>,
}

/// The two traces `bisect --locate` ran, side by side.
#[derive(Clone, Debug, PartialEq)]
pub struct LocatedTraces {
    /// What both traces sent: SYNs, or (`--exchange`) the request's data.
    pub probed: Probed,
    /// The passing variant's label (good's) and trace.
    pub passing_label: String,
    pub passing: TraceReport,
    /// The failing variant's label (bad's) and trace.
    pub failing_label: String,
    pub failing: TraceReport,
}

impl LocatedTraces {
    /// The answers the traces marked injected, as rows.
    fn injected(&self) -> Vec<Injected> {
        let mut rows = Vec::new();
        for (label, t) in [
            (&self.failing_label, &self.failing),
            (&self.passing_label, &self.passing),
        ] {
            for h in t.hops.iter().filter(|h| h.injected == Some(true)) {
                let sender = Sender {
                    ttl: h.ttl_seen,
                    ip_id: h.ip_id,
                    window: h.window,
                };
                let seen_in = format!("trace of {label}'s {}, TTL {}", self.probed.noun(), h.ttl);
                let endpoint = h.ttl.checked_sub(1);
                let why = h.evidence.clone().unwrap_or_default();
                rows.push(Injected::of(
                    &seen_in,
                    h.answer.name(),
                    &sender,
                    endpoint,
                    why,
                ));
            }
        }
        rows
    }
}

/// [`bisect_page`] with the run's facts in a table under the title.
pub fn bisect_page_of_run(
    good: SynSide<'_>,
    bad: SynSide<'_>,
    r: &Report,
    probes: &[TimelineProbe],
    facts: &RunFacts,
) -> String {
    bisect_page_inferred(good, bad, r, probes, facts, None)
}

/// [`bisect_page_of_run`], with the predicate `--infer` found (its rule,
/// each clause's evidence, the agreement) after the verdict.
pub fn bisect_page_inferred(
    good: SynSide<'_>,
    bad: SynSide<'_>,
    r: &Report,
    probes: &[TimelineProbe],
    facts: &RunFacts,
    inferred: Option<&Inferred>,
) -> String {
    let culprits: Vec<Attr> = r.culprits.iter().flatten().copied().collect();
    let differs: Vec<Attr> = r.differences.iter().map(|d| d.attribute).collect();
    page(
        &format!("synlab bisect: {} vs {}", good.label, bad.label),
        |h| {
            h.elem("h1", &[], "synlab bisect");
            h.elem(
                "div",
                &[("class", "sub")],
                &format!("good: {} — bad: {}", good.label, bad.label),
            );
            run_facts(h, facts);
            h.open("p", &[("class", "verdict")]);
            h.elem("span", &[("class", "culpritname")], &culprit_sentence(r));
            if r.conclusion == Conclusion::Culprits {
                h.text(&format!(" (confidence {:.3})", r.confidence));
            }
            h.close();
            if let Some(note) = &r.note {
                h.elem("p", &[("class", "note")], note);
            }
            if r.differences.is_empty() {
                h.elem(
                    "p",
                    &[],
                    "No behavioural SYN difference: nothing to bisect.",
                );
            }
            if let Some(inf) = inferred {
                inferred_section(h, inf);
            }
            path_section(h, facts);
            injected_section(h, facts);
            h.elem("h2", &[], "The two SYNs");
            sides(h, good, bad, &differs, &culprits);
            baselines(h, good.label, bad.label, r);
            if !r.differences.is_empty() {
                single_table(h, r, &culprits);
            }
            timeline(h, r, probes);
            summary(h, r);
        },
    )
}

/// `bisect --locate`: the located hop in one sentence, what was traced,
/// then per TTL what answered the passing and the failing probe.
fn path_section(h: &mut Html, f: &RunFacts) {
    if f.location.is_none() && f.traces.is_none() {
        return;
    }
    h.elem("h2", &[], "Where on the path");
    let said = match (&f.location, &f.traces) {
        (Some(said), _) => said.clone(),
        (None, Some(t)) => crate::trace::not_located(&t.failing, t.probed),
        (None, None) => String::new(),
    };
    h.elem("p", &[("class", "verdict location")], &said);
    let Some(t) = &f.traces else {
        return;
    };
    let traced = match t.probed {
        Probed::Syn => "Traced: each side's SYN, sent with TTL 1, 2, … on the search's session.",
        Probed::Data => {
            "Traced: each side's request, its first data segment sent with TTL 1, 2, … on a \
             connection made with that side's SYN (a box may pass the handshake and stop data)."
        }
    };
    h.elem("p", &[], traced);
    let last = [&t.passing, &t.failing]
        .iter()
        .filter_map(|r| r.hops.last().map(|h| h.ttl))
        .max()
        .unwrap_or(0);
    h.open("table", &[("class", "path")]).open("tr", &[]);
    h.elem("th", &[], "TTL");
    for label in [
        format!("passing ({})", t.passing_label),
        format!("failing ({})", t.failing_label),
    ] {
        h.elem("th", &[], &label);
    }
    h.elem("th", &[], "changed on the way (failing)");
    h.close();
    let at = |r: &'_ TraceReport, ttl: u8| r.hops.iter().find(|h| h.ttl == ttl).cloned();
    for ttl in 1..=last {
        let (pass, fail) = (at(&t.passing, ttl), at(&t.failing, ttl));
        let differ = pass.as_ref().map(|h| h.answer) != fail.as_ref().map(|h| h.answer);
        let row = match differ {
            true => [("class", "differs")].as_slice(),
            false => [].as_slice(),
        };
        h.open("tr", row);
        h.elem("td", &[], &ttl.to_string());
        h.elem("td", &[], &hop_cell(pass.as_ref()));
        h.elem("td", &[], &hop_cell(fail.as_ref()));
        let changed: Vec<String> = fail
            .iter()
            .flat_map(|h| &h.changed)
            .map(|c| {
                let v =
                    |x: Option<&Value>| x.map_or_else(|| "(absent)".to_owned(), Value::to_string);
                format!(
                    "{} {} -> {}",
                    c.name,
                    v(c.sent.as_ref()),
                    v(c.seen.as_ref())
                )
            })
            .collect();
        h.elem("td", &[], &changed.join(", "));
        h.close();
    }
    h.close();
}

/// One trace's answer at one TTL: "time-exceeded from 198.18.0.1 (0.1 ms)",
/// "* * * (3 probes)", or not sent.
fn hop_cell(h: Option<&HopReport>) -> String {
    let Some(h) = h else {
        return "not sent".to_owned();
    };
    if h.answer == Answer::None {
        return format!("* * * ({} probe(s))", h.probes);
    }
    let from = h.router.map_or_else(|| "?".to_owned(), |r| r.to_string());
    let rtt = h
        .rtt_ms
        .map_or_else(String::new, |ms| format!(" ({ms:.1} ms)"));
    let injected = match h.injected {
        Some(true) => ", INJECTED",
        _ => "",
    };
    format!("{} from {from}{rtt}{injected}", h.answer.name())
}

/// Answers a box on the path sent in the endpoint's name, and why synlab
/// says so: hop distance, initial TTL, IP ID and window beside the
/// endpoint's distance.
fn injected_section(h: &mut Html, f: &RunFacts) {
    let mut rows = f
        .traces
        .as_ref()
        .map(LocatedTraces::injected)
        .unwrap_or_default();
    rows.extend(f.injected.iter().cloned());
    if rows.is_empty() {
        return;
    }
    h.elem("h2", &[], "Injected answers");
    h.elem(
        "p",
        &[],
        "Answers that carry the endpoint's address but cannot have come from it: they crossed \
         fewer routers than its SYN-ACK (or start at another initial TTL).",
    );
    h.open("table", &[("class", "injected")]).open("tr", &[]);
    for c in [
        "seen in",
        "answer",
        "count",
        "TTL seen",
        "initial TTL",
        "hop distance",
        "endpoint's distance",
        "IP ID",
        "window",
        "evidence",
    ] {
        h.elem("th", &[], c);
    }
    h.close();
    let opt = |v: Option<u16>| v.map_or_else(|| "?".to_owned(), |n| n.to_string());
    for r in &rows {
        h.open("tr", &[]);
        h.elem("td", &[], &r.seen_in);
        h.elem("td", &[], &r.answer);
        h.elem("td", &[], &r.count.to_string());
        for v in [r.ttl, r.initial_ttl, r.distance, r.endpoint_distance] {
            h.elem("td", &[], &opt(v.map(u16::from)));
        }
        h.elem("td", &[], &opt(r.ip_id));
        h.elem("td", &[], &opt(r.window));
        h.elem("td", &[], &r.evidence);
        h.close();
    }
    h.close();
}

/// The inferred rule, a row per clause with its evidence, and the agreement.
fn inferred_section(h: &mut Html, inf: &Inferred) {
    h.elem("h2", &[], "The inferred rule");
    let rule = inf
        .rule
        .as_deref()
        .unwrap_or("none: a clause rests on values the oracle could not say");
    h.elem("p", &[("class", "verdict")], rule);
    if let Some(parity) = inf.ports {
        let p = match parity {
            Parity::Even => "even",
            Parity::Odd => "odd",
        };
        h.elem("p", &[], &format!("on {p} source ports only"));
    }
    h.open("table", &[]).open("tr", &[]);
    for c in [
        "clause",
        "status",
        "probes",
        "boundaries (passes / fails)",
        "unknown at",
    ] {
        h.elem("th", &[], c);
    }
    h.close();
    for c in &inf.clauses {
        let bounds: Vec<String> = c
            .evidence
            .boundaries
            .iter()
            .map(|b| format!("{} / {}", b.pass, b.fail))
            .collect();
        let unknown: Vec<String> = c.evidence.unknown.iter().map(u64::to_string).collect();
        h.open("tr", &[]);
        h.elem("td", &[], &c.text);
        h.elem("td", &[], c.status);
        h.elem("td", &[], &c.probes.to_string());
        h.elem("td", &[], &bounds.join(", "));
        h.elem("td", &[], &unknown.join(", "));
        h.close();
    }
    h.close();
    let a = inf.agreement;
    h.elem(
        "p",
        &[],
        &format!(
            "{} probes; agreement with the oracle on {} random variants: {} ({} probes)",
            inf.probes, a.checked, a.agreed, a.probes
        ),
    );
}

/// The run's facts, those known, as a two-column table.
fn run_facts(h: &mut Html, f: &RunFacts) {
    let command = f.command.join(" ");
    let rows = [
        ("synlab", Some(f.synlab.as_str())),
        ("command", Some(command.as_str())),
        ("started", Some(f.started.as_str())),
        ("oracle", Some(f.oracle.as_str())),
        ("target", f.target.as_deref()),
        ("request", f.request.as_deref()),
        ("source ports", f.port_finding.as_deref()),
        ("location", f.location.as_deref()),
    ];
    let known: Vec<(&str, &str)> = rows
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
    if known.is_empty() {
        return;
    }
    h.open("table", &[("class", "run")]);
    for (k, v) in known {
        h.open("tr", &[]);
        h.elem("th", &[], k);
        h.elem("td", &[], v);
        h.close();
    }
    h.close();
}

/// The page of a diff: both SYNs drawn, every difference listed (SYN,
/// SYN-ACK and flow attributes).
pub fn diff_page(a: SynSide<'_>, b: SynSide<'_>, diffs: &[Difference], hidden: usize) -> String {
    let differs: Vec<Attr> = diffs
        .iter()
        .filter(|d| d.packet == PacketRole::Syn)
        .map(|d| d.attribute)
        .collect();
    page(&format!("synlab diff: {} vs {}", a.label, b.label), |h| {
        h.elem("h1", &[], "synlab diff");
        h.elem(
            "div",
            &[("class", "sub")],
            &format!("A: {} — B: {}", a.label, b.label),
        );
        let verdict = match diffs.len() {
            0 => "no differences".to_owned(),
            1 => "1 difference".to_owned(),
            n => format!("{n} differences"),
        };
        h.elem("p", &[("class", "verdict")], &verdict);
        h.elem("h2", &[], "The two SYNs");
        sides(h, a, b, &differs, &[]);
        h.elem("h2", &[], "Differences");
        if !diffs.is_empty() {
            h.open("table", &[]).open("tr", &[]);
            for c in ["packet", "attribute", "A", "B", "kind"] {
                h.elem("th", &[], c);
            }
            h.close();
            let mut by_packet: BTreeMap<PacketRole, Vec<&Difference>> = BTreeMap::new();
            for d in diffs {
                by_packet.entry(d.packet).or_default().push(d);
            }
            for (packet, ds) in by_packet {
                for d in ds {
                    h.open("tr", &[]);
                    let packet = match packet {
                        PacketRole::Syn => "syn",
                        PacketRole::SynAck => "syn-ack",
                        PacketRole::Flow => "flow",
                    };
                    h.elem("td", &[], packet)
                        .elem("td", &[], d.attribute.name());
                    h.elem("td", &[], &value_text(&d.a))
                        .elem("td", &[], &value_text(&d.b));
                    let kind = match d.kind {
                        crate::model::Kind::Behavioural => "behavioural",
                        crate::model::Kind::Volatile => "volatile",
                    };
                    h.elem("td", &[], kind);
                    h.close();
                }
            }
            h.close();
        }
        if hidden > 0 {
            h.elem(
                "p",
                &[("class", "sub")],
                &format!("{hidden} volatile differences not shown (--all shows them)."),
            );
        }
    })
}

#[cfg(test)]
mod tests;
