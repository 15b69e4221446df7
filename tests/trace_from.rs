//! `synlab trace --from FILE` on a capture of a live trace (issue 26):
//! the same table offline, no root.
//!
//! tests/data/trace-4-routers.pcap: `synlab trace --profile linux --target
//! 198.18.0.130:80 --max-ttl 8 --set tcp.flags.ece=true --set
//! tcp.flags.cwr=true`, captured on the client's link of a lab built with
//! `scripts/lab.sh up --hops 4`, hop 2 clamping the MSS to 1300 and hop 3
//! clearing ECE and CWR (`mangle --hop 2 mss-clamp`, `mangle --hop 3
//! ecn-bleach`).

mod support;

use support::synlab_exit;

const CAPTURE: &str = "tests/data/trace-4-routers.pcap";

#[test]
fn a_captured_trace_names_each_change_at_its_hop() {
    let out = synlab_exit(&["trace", "--from", CAPTURE, "--json"], 0);
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(doc["target"], "198.18.0.130:80");
    let hops = doc["hops"].as_array().map_or(0, Vec::len);
    assert_eq!(hops, 5, "{doc:#}");
    let routers: Vec<&str> = (0..4)
        .map(|i| doc["hops"][i]["router"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        routers,
        ["198.18.0.1", "198.18.0.194", "198.18.0.198", "198.18.0.202"]
    );
    assert_eq!(doc["hops"][4]["answer"], "syn-ack");
    let changes: Vec<(String, u64)> = doc["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no changes"))
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_owned(),
                c["hop"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("tcp.options.mss_val".to_owned(), 2),
            ("tcp.flags.cwr".to_owned(), 3),
            ("tcp.flags.ece".to_owned(), 3)
        ]
    );
}

#[test]
fn the_table_names_the_hop_of_each_change() {
    let out = synlab_exit(&["trace", "--from", CAPTURE], 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("changed at hop 2 (198.18.0.194): tcp.options.mss_val 1460 -> 1300"),
        "{text}"
    );
    assert!(
        text.contains("changed at hop 3 (198.18.0.198): tcp.flags.ece true -> false"),
        "{text}"
    );
}

#[test]
fn a_capture_without_probes_is_trouble() {
    let out = synlab_exit(
        &[
            "trace",
            "--from",
            "tests/data/trace-4-routers.pcap",
            "--target",
            "198.18.0.9:80",
        ],
        2,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no SYN probes"), "{err}");
}

/// A capture of a trace cut in its last record: the hops before the cut
/// are traced and printed, then the error is said (file, packet, why) and
/// the status is 2. Reading used to stop with the error alone.
#[test]
fn a_cut_capture_prints_the_hops_before_the_cut_then_the_error() {
    let tmp = support::TempDir::new("trace-from-cut");
    let bytes = std::fs::read(support::root().join(CAPTURE)).unwrap_or_else(|e| panic!("{e}"));
    let cut = tmp.join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap_or_else(|e| panic!("{e}"));
    let cut = support::path_str(&cut).to_owned();
    let out = synlab_exit(&["trace", "--from", &cut, "--json"], 2);
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(doc["hops"][1]["router"], "198.18.0.194", "{doc:#}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("cut.pcap: packet ") && said.contains("packets before it were read"),
        "{said}"
    );
}

/// Frames of a link type synlab does not read are counted and said, not
/// passed over in silence.
#[test]
fn frames_of_unread_link_types_are_said() {
    let out = synlab_exit(
        &[
            "trace",
            "--from",
            "tests/hostile/interfaces-and-link-types.pcapng",
        ],
        0,
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("2 packets of link types synlab does not read were skipped"),
        "{said}"
    );
}
