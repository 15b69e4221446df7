//! `community_id` on every attempt equals what the reference implementation
//! (Corelight's `communityid` Python package, v1, seed 0) computes for the
//! same flow, on every bundled capture, IPv4 and IPv6 alike; and the same
//! value comes out of `--fields synlab.attempt.community_id`.
//!
//! Skips with a printed reason when python3 cannot import communityid;
//! under CI (scripts/test.sh installs it) that is a failure.

mod support;

use std::process::Command;

use serde_json::Value as Json;
use support::{all_captures, path_str, require_python_module, synlab_ok};

/// The reference's IDs for `(client, server)` pairs as synlab prints them
/// (`198.18.0.2:40001`, `[fd00::2]:40001`), one line each.
fn reference_ids(pairs: &[(String, String)]) -> Vec<String> {
    let script = "import communityid, json, sys\n\
                  cid = communityid.CommunityID(seed=0)\n\
                  def split(s):\n\
                  \x20   host, port = s.rsplit(':', 1)\n\
                  \x20   return host.strip('[]'), int(port)\n\
                  for c, s in json.load(sys.stdin):\n\
                  \x20   (ch, cp), (sh, sp) = split(c), split(s)\n\
                  \x20   print(cid.calc(communityid.FlowTuple.make_tcp(ch, sh, cp, sp)))\n";
    let input = serde_json::to_vec(pairs).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
        stdin.write_all(&input).unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    support::assert_exit_for(&out, 0, "the communityid reference");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn attempts(file: &str) -> Vec<Json> {
    let out = synlab_ok(&["handshakes", "--json", file]);
    let doc: Json = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{file}: {e}"));
    doc["handshakes"]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: no handshakes array"))
        .clone()
}

fn text(v: &Json, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key} in {v}"))
        .to_owned()
}

#[test]
fn every_bundled_attempt_has_the_reference_community_id() {
    if !require_python_module("communityid") {
        return;
    }
    let mut pairs = Vec::new();
    let mut ours = Vec::new();
    let mut labels = Vec::new();
    for capture in all_captures() {
        let file = path_str(&capture).to_owned();
        for a in attempts(&file) {
            pairs.push((text(&a, "client"), text(&a, "server")));
            ours.push(text(&a, "community_id"));
            labels.push(format!("{file}#{}", a["index"]));
        }
    }
    let v6 = pairs.iter().filter(|(c, _)| c.starts_with('[')).count();
    assert!(v6 > 0, "no IPv6 attempt among the bundled captures");
    assert!(
        pairs.len() > v6,
        "no IPv4 attempt among the bundled captures"
    );
    let want = reference_ids(&pairs);
    assert_eq!(want.len(), ours.len(), "the reference answered every flow");
    for ((label, got), want) in labels.iter().zip(&ours).zip(&want) {
        assert_eq!(got, want, "{label}: community_id");
    }
}

#[test]
fn fields_column_matches_the_json() {
    let file = path_str(&support::capture("ipv6-default.pcap")).to_owned();
    let want: Vec<String> = attempts(&file)
        .iter()
        .map(|a| text(a, "community_id"))
        .collect();
    let out = synlab_ok(&[
        "handshakes",
        "--fields",
        "synlab.attempt.community_id",
        &file,
    ]);
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got, want);
}
