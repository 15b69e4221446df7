//! Nothing silently ignored, live (issue 8): a typo in `--set`/`--unset`
//! is exit 2 with no packet on the wire, and what `--set`/`--unset` ask
//! for is what the SYN on the wire carries.
//!
//! Root only (skips with the reason otherwise, fails under CI). Each test
//! builds its own lab and removes it afterwards, also when it fails.
//! Probes go only to the lab's server, from inside its client namespace.

mod support;

use support::Args;

use support::lab::Lab;
use support::{path_str, TempDir};
use synlab::model::{Field, Value};

/// An nftables counter of the SYNs client 1 sends (its output hook, which
/// raw sockets pass through too), in a table of its own that goes with the
/// namespace.
fn count_syns(lab: &Lab) {
    for cmd in [
        "add table inet slva_count",
        "add chain inet slva_count out { type filter hook output priority 0; }",
        "add rule inet slva_count out tcp flags syn counter",
    ] {
        let out = lab.in_ns(lab.c1(), 10, "nft", &[cmd]);
        support::assert_exit_for(&out, 0, &format!("nft {cmd}"));
    }
}

fn syns_sent(lab: &Lab) -> u64 {
    let out = lab.in_ns(
        lab.c1(),
        10,
        "nft",
        &["list", "chain", "inet", "slva_count", "out"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("counter packets ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in:\n{text}"))
}

#[test]
fn typos_exit_2_and_send_nothing() {
    let Some(lab) = Lab::up("vtypo", 247) else {
        return;
    };
    count_syns(&lab);
    let target = lab.srv(false, 80);
    for extra in [
        &["--set", "ip.tll=128"][..],
        &["--unset", "tcp.options.sackperm"],
        &["--set", "ip.ttl=sixty"],
        &["--set", "tcp.flags.ece=yes"],
        &["--set", "ip.len=40"],
        &["--unset", "ip.ttl"],
        // Linux would replace the zero ID (seen: 39434): refused instead.
        &["--set", "ip.id=0", "--set", "ip.flags.df=false"],
    ] {
        let out = lab.synlab(&Args::probe("linux", &target).args(extra).strs());
        support::assert_exit_for(&out, 2, &format!("{extra:?}"));
        assert_eq!(syns_sent(&lab), 0, "{extra:?} sent a SYN");
    }
    let out = lab.synlab(
        &Args::bisect("linux", "windows-10")
            .rule("ip.ttl == onetwentyeight")
            .strs(),
    );
    support::assert_exit(&out, 2);
    // The counter counts: a correct probe is seen.
    let doc = lab.probe_json(&[
        "--profile",
        "linux",
        "--target",
        &target,
        "--set",
        "ip.ttl=100",
    ]);
    assert_eq!(doc["changes"][0], "ip.ttl=100", "{doc}");
    assert_eq!(syns_sent(&lab), 1);
}

// Regression (issue 8): `--set ip.id=0` and `--set tcp.srcport=…` were
// ignored; `--unset tcp.options.sack_perm` and `--unset
// tcp.options.timestamp.tsval` still sent those options.
#[test]
fn set_and_unset_reach_the_wire() {
    let Some(lab) = Lab::up("vwire", 248) else {
        return;
    };
    let tmp = TempDir::new("lab-validation");
    let pcap = tmp.join("edited.pcap");
    let target = lab.srv(false, 80);
    let doc = lab.probe_json(&[
        "--profile",
        "linux",
        "--target",
        &target,
        "--count",
        "2",
        "--pcap",
        path_str(&pcap),
        "--set",
        "ip.id=0",
        "--set",
        "tcp.srcport=45678",
        "--set",
        "ip.ttl=100",
        "--unset",
        "tcp.options.sack_perm",
        "--unset",
        "tcp.options.timestamp.tsval",
    ]);
    let outcomes: Vec<&str> = doc["probes"]
        .as_array()
        .map(|ps| ps.iter().filter_map(|p| p["outcome"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(outcomes, ["syn-ack", "syn-ack"], "{doc}");
    let loaded = synlab::io::load::load(&pcap).unwrap_or_else(|e| panic!("{e}"));
    let syns: Vec<_> = loaded.attempts.iter().map(|a| &a.syn).collect();
    assert_eq!(syns.len(), 2, "{}", pcap.display());
    for (i, syn) in syns.iter().enumerate() {
        assert_eq!(syn.get(Field::IpId), Some(&Value::Int(0)), "probe {i}");
        assert_eq!(
            syn.num(Field::TcpSrcport),
            Some(45678 + i as u64),
            "probe {i}"
        );
        assert_eq!(syn.num(Field::IpTtl), Some(100), "probe {i}");
        assert!(!syn.contains(Field::TcpOptionsSackPerm), "probe {i}");
        assert!(!syn.contains(Field::TcpOptionsTimestampTsval), "probe {i}");
        assert_eq!(
            syn.text(Field::SynlabOptionsLayout),
            Some("mss,nop,ws"),
            "probe {i}"
        );
    }
    // The table's first line lists the changes and the layout they left.
    let out = lab.synlab(
        &Args::probe("linux", &target)
            .args(&["--set", "ip.ttl=100", "--unset", "tcp.options.sack_perm"])
            .strs(),
    );
    support::assert_exit(&out, 0);
    let first = support::stdout(&out)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        first.starts_with(
            "probe linux with -tcp.options.sack_perm, ip.ttl=100 (layout mss,nop,nop,ts,nop,ws) -> "
        ),
        "{first}"
    );
}
