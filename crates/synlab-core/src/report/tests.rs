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
