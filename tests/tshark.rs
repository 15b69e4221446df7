//! Cross-check against tshark: for every SYN and server answer in
//! `captures/`, each attribute synlab reports under a Wireshark field name
//! equals what `tshark -T fields -e NAME` prints for that frame.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::process::Command;

use serde_json::Value;
use support::{all_captures, json, path_str, require_tool, synlab};

/// Field names this tshark knows (`tshark -G fields`).
fn tshark_fields() -> HashSet<String> {
    let out = Command::new("tshark")
        .args(["-G", "fields"])
        .output()
        .expect("tshark -G fields");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split('\t').nth(2).map(str::to_owned))
        .collect()
}

/// tshark's values for a frame and field: text as printed, every occurrence
/// (comma-separated; [`first`] takes the first).
fn tshark_values(file: &str, names: &[String]) -> BTreeMap<u64, Vec<String>> {
    let mut args = vec![
        "-r".to_string(),
        file.to_string(),
        "-T".into(),
        "fields".into(),
        "-E".into(),
        "occurrence=a".into(),
        "-e".into(),
        "frame.number".into(),
    ];
    for n in names {
        args.push("-e".into());
        args.push(n.clone());
    }
    let out = Command::new("tshark")
        .args(&args)
        .output()
        .expect("run tshark");
    support::assert_exit_for(&out, 0, "tshark failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let frame = cols.next()?.parse().ok()?;
            Some((frame, cols.map(str::to_owned).collect()))
        })
        .collect()
}

/// Fields whose value is the whole list of occurrences (synlab's is the
/// same comma-separated list); every other field is compared on its first.
const LISTS: &[&str] = &["tcp.option_kind"];

fn first<'a>(name: &str, theirs: &'a str) -> &'a str {
    if LISTS.contains(&name) {
        theirs
    } else {
        theirs.split(',').next().unwrap_or("")
    }
}

/// Do synlab's JSON value and tshark's text mean the same thing?
fn same(ours: Option<&Value>, theirs: &str) -> bool {
    match (ours, theirs) {
        (None, "") => true,
        (None, _) | (Some(_), "") => false,
        (Some(Value::Bool(b)), t) => match t {
            "1" | "True" => *b,
            "0" | "False" => !*b,
            // Options' presence (tcp.options.sack_perm, tcp.options.nop…)
            // prints the option's bytes.
            _ => *b,
        },
        (Some(Value::Number(n)), t) => {
            let parsed = match t.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => t.parse().ok(),
            };
            parsed == n.as_u64()
        }
        (Some(Value::String(s)), t) => s == t,
        _ => false,
    }
}

#[test]
fn every_wireshark_named_attribute_matches_tshark() {
    if !require_tool("tshark") {
        return;
    }
    let known = tshark_fields();
    let mut checked = 0;
    let mut unknown_to_tshark = HashSet::new();
    for file in all_captures() {
        let file = path_str(&file);
        let doc = json(&synlab(&["handshakes", file, "--json"]));
        // (frame number, attributes) of every SYN and answer.
        let mut packets = Vec::new();
        for h in doc["handshakes"].as_array().expect("handshakes") {
            packets.push((h["syn_packet"].as_u64().expect("syn_packet"), &h["syn"]));
            if let Some(n) = h["reply_packet"].as_u64() {
                // The answer: `syn_ack` for a SYN-ACK, `reply` for an RST.
                for answer in [&h["syn_ack"], &h["reply"]] {
                    if answer.is_object() {
                        packets.push((n, answer));
                    }
                }
            }
        }
        let mut names: Vec<String> = packets
            .iter()
            .flat_map(|(_, a)| a.as_object().expect("attributes").keys().cloned())
            .filter(|n| !n.starts_with("synlab."))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        names.retain(|n| {
            let ok = known.contains(n);
            if !ok {
                unknown_to_tshark.insert(n.clone());
            }
            ok
        });
        let table = tshark_values(file, &names);
        for (frame, attrs) in &packets {
            let row = table
                .get(frame)
                .unwrap_or_else(|| panic!("{file}: tshark has no frame {frame}"));
            for (i, name) in names.iter().enumerate() {
                let theirs = first(name, row.get(i).map_or("", String::as_str));
                let ours = attrs.get(name);
                assert!(
                    same(ours, theirs),
                    "{file} frame {frame}: {name}: synlab says {ours:?}, tshark says {theirs:?}"
                );
                checked += 1;
            }
        }
    }
    eprintln!("checked {checked} attribute values against tshark");
    if !unknown_to_tshark.is_empty() {
        eprintln!("not in this tshark's field list (not compared): {unknown_to_tshark:?}");
    }
    assert!(checked > 100, "only {checked} values compared");
}

/// `handshakes --fields` prints what `tshark -T fields -e` prints for the
/// same names: each attempt's line equals tshark's line for its SYN frame
/// (and the `syn_ack.` columns tshark's line for the SYN-ACK's frame),
/// empty where a field is absent (ip.ttl of an IPv6 SYN).
#[test]
fn fields_output_matches_tshark_fields() {
    if !require_tool("tshark") {
        return;
    }
    let syn_fields = [
        "ip.ttl",
        "ipv6.hlim",
        "ip.flags.df",
        "tcp.srcport",
        "tcp.window_size_value",
        "tcp.options.mss_val",
        "tcp.options.wscale.shift",
    ];
    for name in [
        "many-attempts.pcap",
        "ipv6-default.pcap",
        "linux-default.pcapng",
    ] {
        let file = support::capture(name);
        let file = path_str(&file);
        let tshark = |fields: &[&str]| -> BTreeMap<u64, String> {
            let mut args = vec!["-r", file, "-T", "fields", "-e", "frame.number"];
            for f in fields {
                args.extend(["-e", f]);
            }
            let out = Command::new("tshark").args(&args).output().expect("tshark");
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| {
                    let (n, rest) = l.split_once('\t')?;
                    Some((n.parse().ok()?, rest.to_owned()))
                })
                .collect()
        };
        let ours = |columns: &[&str]| -> Vec<String> {
            let list = columns.join(",");
            support::synlab_ok(&["handshakes", file, "--fields", &list])
                .lines()
                .map(str::to_owned)
                .collect()
        };
        let theirs = tshark(&syn_fields);
        let mut columns = vec!["synlab.attempt.syn_frame"];
        columns.extend(syn_fields);
        let lines = ours(&columns);
        assert!(!lines.is_empty(), "{name}: no attempts");
        for line in &lines {
            let (frame, rest) = line.split_once('\t').expect("a frame column");
            let frame: u64 = frame.parse().expect("a frame number");
            assert_eq!(
                Some(rest),
                theirs.get(&frame).map(String::as_str),
                "{name} frame {frame}"
            );
        }
        let answer_fields = ["ip.ttl", "tcp.window_size_value", "tcp.options.mss_val"];
        let theirs = tshark(&answer_fields);
        let mut columns = vec!["synlab.attempt.reply_frame", "synlab.attempt.outcome"];
        let prefixed: Vec<String> = answer_fields
            .iter()
            .map(|f| format!("syn_ack.{f}"))
            .collect();
        columns.extend(prefixed.iter().map(String::as_str));
        let mut answered = 0;
        for line in ours(&columns) {
            let mut cols = line.splitn(3, '\t');
            let (frame, outcome, rest) = (cols.next(), cols.next(), cols.next().unwrap_or(""));
            if outcome != Some("syn-ack") {
                continue;
            }
            let frame: u64 = frame.and_then(|f| f.parse().ok()).expect("a reply frame");
            assert_eq!(
                Some(rest),
                theirs.get(&frame).map(String::as_str),
                "{name} frame {frame}"
            );
            answered += 1;
        }
        assert!(answered > 0, "{name}: no SYN-ACK compared");
    }
}
