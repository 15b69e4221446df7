use super::*;
use crate::model::craft::linux_example;
use crate::oracle::{run_observed, Action, Oracle, ProbeAnswer, ProbeRequest, RuleOracle};
use crate::rule::Rule;
use crate::search::{Search, SearchOptions};

/// A search of linux against linux with TTL 128 and no SACK, where a
/// middlebox drops TTL 128: the report and every probe in order.
fn searched() -> (Attributes, Attributes, Report, Vec<TimelineProbe>) {
    let good = linux_example();
    let mut bad = good.clone();
    bad.insert(Field::IpTtl, 128u8);
    bad.insert(Field::TcpWindowSizeValue, 8192u16);
    let mut search =
        Search::new(&good, &bad, SearchOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let rule = Rule::parse("ip.ttl == 128").unwrap_or_else(|e| panic!("{e:?}"));
    let mut oracle: Box<dyn Oracle> = Box::new(RuleOracle::new(rule, Action::Drop, 0.0, 1));
    let mut probes = Vec::new();
    let mut observe =
        |s: &Search, _: &mut Box<dyn Oracle>, batch: &[ProbeRequest], answers: &[ProbeAnswer]| {
            for (req, a) in batch.iter().zip(answers) {
                probes.push(TimelineProbe {
                    round: s.rounds(),
                    variant: req.variant,
                    label: s.variant_label(req.variant),
                    outcome: a
                        .as_ref()
                        .map_or_else(|e| format!("error: {e}"), |a| a.outcome.to_string()),
                });
            }
        };
    let report =
        run_observed(&mut search, &mut oracle, &mut observe).unwrap_or_else(|e| panic!("{e}"));
    (good, bad, report, probes)
}

#[test]
fn the_bisect_page_names_the_culprit_and_marks_its_box() {
    let (good, bad, report, probes) = searched();
    assert_eq!(report.culprits, vec![vec![Attr::from(Field::IpTtl)]]);
    let page = bisect_page(
        SynSide {
            label: "linux",
            syn: &good,
        },
        SynSide {
            label: "linux-ttl128",
            syn: &bad,
        },
        &report,
        &probes,
    );
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("culprit: ip.ttl"), "{page}");
    // The TTL box of the bad side: culprit, with its value.
    assert!(
        page.contains("<title>ip.ttl = 128 (culprit)</title>"),
        "{page}"
    );
    assert!(
        page.contains("<title>tcp.window_size_value = 8192 (differs)</title>"),
        "{page}"
    );
    // The baselines' rates and the timeline's probes.
    assert!(page.contains("12/12 syn-ack (100%)"), "{page}");
    assert!(page.contains("good + ip.ttl from bad"), "{page}");
    assert_eq!(page.matches("<title>probe ").count(), probes.len());
    assert!(page.ends_with("</html>"), "{page}");
}

#[test]
fn the_page_loads_nothing_and_runs_nothing() {
    let (good, bad, report, probes) = searched();
    let page = bisect_page(
        SynSide {
            label: "good",
            syn: &good,
        },
        SynSide {
            label: "bad",
            syn: &bad,
        },
        &report,
        &probes,
    );
    for forbidden in [
        "<script", "src=", "href=", "url(", "@import", "<link", "<iframe",
    ] {
        assert!(!page.contains(forbidden), "{forbidden} in the page");
    }
    // The only URL is SVG's namespace name, which is never fetched.
    let urls = page.matches("http").count();
    assert_eq!(
        urls,
        page.matches("http://www.w3.org/2000/svg").count() + 1,
        "and http-equiv"
    );
}

/// Regression guard: labels come from file names and profiles, which a
/// user (or an attacker sharing a capture) chooses.
#[test]
fn labels_and_values_are_escaped() {
    let (good, mut bad, report, probes) = searched();
    bad.insert(Field::SynlabIpOptions, "<b>");
    let page = bisect_page(
        SynSide {
            label: "<script>alert(1)</script>",
            syn: &good,
        },
        SynSide {
            label: "a\"b",
            syn: &bad,
        },
        &report,
        &probes,
    );
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("a&quot;b"));
    // A side that cannot be crafted is said, not drawn.
    assert!(page.contains("cannot draw this SYN"), "{page}");
}

#[test]
fn the_diff_page_lists_every_difference() {
    let a = linux_example();
    let mut b = a.clone();
    b.insert(Field::IpTtl, 128u8);
    let diffs = crate::diff::diff_attributes(PacketRole::Syn, &a, &b);
    let page = diff_page(
        SynSide {
            label: "A",
            syn: &a,
        },
        SynSide {
            label: "B",
            syn: &b,
        },
        &diffs,
        2,
    );
    assert!(
        page.contains("<td>ip.ttl</td><td>64</td><td>128</td>"),
        "{page}"
    );
    assert!(
        page.contains("<title>ip.ttl = 128 (differs)</title>"),
        "{page}"
    );
    assert!(page.contains("2 volatile differences not shown"), "{page}");
}

#[test]
fn each_probe_is_labelled_with_its_variant() {
    let (_, _, _, probes) = searched();
    let mut labels: Vec<&str> = probes.iter().map(|p| p.label.as_str()).collect();
    labels.dedup();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(
        labels,
        [
            "bad",
            "good",
            "good + ip.ttl from bad",
            "good + tcp.window_size_value from bad"
        ]
    );
    assert_eq!(probes[0].label, "good");
    assert_eq!(probes[0].round, 1);
    assert!(probes.iter().all(|p| p.round >= 1));
}

/// Options both sides have, in another order, are not marked as
/// differing: only the layout row of the table says the order differs.
#[test]
fn a_reordered_option_is_not_a_differing_one() {
    let a = linux_example();
    let mut b = a.clone();
    b.insert(Field::SynlabOptionsLayout, "mss,nop,ws,sok,ts");
    b.insert(Field::TcpOptionsWscaleShift, 8u8);
    let diffs = crate::diff::diff_attributes(PacketRole::Syn, &a, &b);
    let page = diff_page(
        SynSide {
            label: "A",
            syn: &a,
        },
        SynSide {
            label: "B",
            syn: &b,
        },
        &diffs,
        0,
    );
    assert!(!page.contains("cannot draw"), "{page}");
    assert!(
        page.contains("<title>tcp.options.mss_val = 1460</title>"),
        "{page}"
    );
    assert!(
        page.contains("<title>tcp.options.wscale.shift = 8 (differs)</title>"),
        "{page}"
    );
    assert!(page.contains("<td>synlab.options.layout</td>"), "{page}");
}

/// One trace row: `answer` from `router` (None: silent after 3 probes).
fn hop(ttl: u8, answer: crate::trace::Answer, router: Option<&str>) -> HopReport {
    let silent = answer == crate::trace::Answer::None;
    HopReport {
        ttl,
        router: router.map(|r| r.parse().unwrap_or_else(|e| panic!("{r}: {e}"))),
        rtt_ms: (!silent).then_some(0.25),
        answer,
        quoted_bytes: None,
        changed: Vec::new(),
        not_quoted: Vec::new(),
        probes: if silent { 3 } else { 1 },
        answers: u8::from(!silent),
        distance: None,
        ttl_seen: None,
        ip_id: None,
        window: None,
        injected: None,
        evidence: None,
    }
}

/// `bisect --locate`'s page: the located hop in a sentence, the two
/// traces side by side per TTL (the TTL they part at marked), and every
/// injected answer with its hop distance, initial TTL, IP ID and window.
#[test]
fn the_page_says_where_on_the_path_and_lists_injected_answers() {
    use crate::trace::{Answer, Tally};
    let (good, bad, report, probes) = searched();
    let te = Answer::TimeExceeded;
    let passing = TraceReport {
        reached: true,
        hops: vec![
            hop(1, te, Some("198.18.0.1")),
            hop(2, te, Some("198.18.0.194")),
            hop(3, Answer::SynAck, Some("198.18.0.130")),
        ],
        changes: Vec::new(),
    };
    let mut rst = hop(3, Answer::Rst, Some("198.18.0.130"));
    rst.ttl_seen = Some(63);
    rst.ip_id = Some(0);
    rst.window = Some(0);
    rst.injected = Some(true);
    rst.evidence = Some("the rst crossed 1 router(s) (TTL 63 of 64, IP ID 0, window 0)".into());
    let failing = TraceReport {
        reached: true,
        hops: vec![
            hop(1, te, Some("198.18.0.1")),
            hop(2, te, Some("198.18.0.194")),
            rst,
        ],
        changes: Vec::new(),
    };
    let mut tally = Tally::default();
    tally.syn_ack(Sender {
        ttl: Some(62),
        ip_id: Some(0),
        window: Some(64240),
    });
    for _ in 0..5 {
        tally.reset(Sender {
            ttl: Some(63),
            ip_id: Some(0),
            window: Some(0),
        });
    }
    let sentence = "the failing SYN is answered at hop 2 (198.18.0.194) with its own RST";
    let facts = RunFacts {
        location: Some(sentence.into()),
        traces: Some(LocatedTraces {
            probed: crate::trace::Probed::Syn,
            passing_label: "linux".into(),
            passing,
            failing_label: "linux-ttl128".into(),
            failing,
        }),
        injected: tally.marked(),
        ..RunFacts::default()
    };
    let page = bisect_page_of_run(
        SynSide {
            label: "linux",
            syn: &good,
        },
        SynSide {
            label: "linux-ttl128",
            syn: &bad,
        },
        &report,
        &probes,
        &facts,
    );
    assert!(page.contains("<h2>Where on the path</h2>"), "{page}");
    assert!(page.contains("Traced: each side&#39;s SYN"), "{page}");
    assert!(page.contains(sentence), "{page}");
    assert!(
        page.contains("<th>passing (linux)</th><th>failing (linux-ttl128)</th>"),
        "{page}"
    );
    assert!(
        page.contains(
            "<tr class=\"differs\"><td>3</td><td>syn-ack from 198.18.0.130 (0.2 ms)</td>\
             <td>rst from 198.18.0.130 (0.2 ms), INJECTED</td>"
        ),
        "{page}"
    );
    assert!(page.contains("<td>time-exceeded from 198.18.0.194 (0.2 ms)</td>"));
    assert!(page.contains("<h2>Injected answers</h2>"), "{page}");
    // The trace's answer, then the search's five alike RSTs in one row:
    // TTL seen, initial TTL, hop distance, the endpoint's, IP ID, window.
    assert!(
        page.contains(
            "<td>trace of linux-ttl128&#39;s SYN, TTL 3</td><td>rst</td><td>1</td>\
             <td>63</td><td>64</td><td>1</td><td>2</td><td>0</td><td>0</td>"
        ),
        "{page}"
    );
    assert!(
        page.contains(
            "<td>search</td><td>rst</td><td>5</td><td>63</td><td>64</td><td>1</td><td>2</td>\
             <td>0</td><td>0</td><td>the rst crossed 1 router(s), the endpoint&#39;s SYN-ACK 2"
        ),
        "{page}"
    );
    // Without --locate neither section is drawn.
    let plain = bisect_page_of_run(
        SynSide {
            label: "linux",
            syn: &good,
        },
        SynSide {
            label: "linux-ttl128",
            syn: &bad,
        },
        &report,
        &probes,
        &RunFacts::default(),
    );
    assert!(!plain.contains("Where on the path") && !plain.contains("Injected answers"));
}
