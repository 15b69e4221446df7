//! `synlab trace --exchange` on a chain of four routers in the namespace
//! lab (issue 26): the data segment of an established connection traced
//! like the SYN. A router re-marking the DSCP of data segments only is
//! named at its hop (the SYN's trace sees nothing); a router dropping data
//! only stops the data's trace there while the handshake succeeds; a
//! router that never sends ICMP is `* * *`; a router's own RST for the
//! data is marked injected. IPv4 and IPv6. And `bisect --exchange --locate`
//! traces the requests' data, so a box that drops only data is located.
//!
//! Root only: without root these tests print why they skip; under CI they
//! fail instead. The lab (`sltest-xtrace`, index 193) is removed
//! afterwards, also on failure. Probes go only to the lab's server, from
//! inside the lab's client namespace, bounded by --max-ttl and --attempts.

mod support;

use serde_json::Value as Json;
use support::lab::Lab;

/// `synlab trace --exchange ... --json` in client 1, insisting on exit `code`.
fn trace(lab: &Lab, target: &str, exchange: bool, code: i32) -> Json {
    let mut args = vec![
        "trace",
        "--profile",
        "linux",
        "--target",
        target,
        "--max-ttl",
        "8",
        "--timeout",
        "0.5",
        "--json",
    ];
    if exchange {
        args.push("--exchange");
    }
    let out = lab.synlab_exit(&args, code);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "trace output is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The (name, hop) of every change the trace names.
fn changes(doc: &Json) -> Vec<(String, u64)> {
    doc["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no changes array: {doc}"))
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_owned(),
                c["hop"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Each hop's answer, in TTL order.
fn answers(doc: &Json) -> Vec<String> {
    doc["hops"]
        .as_array()
        .unwrap_or_else(|| panic!("no hops array: {doc}"))
        .iter()
        .map(|h| h["answer"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn hop_ip(lab: &Lab, k: u8, v6: bool) -> String {
    let suffix = if v6 { "IP6" } else { "IP" };
    lab.var(&format!("LAB_HOP{k}_{suffix}")).to_owned()
}

/// Data segments to the server: no SYN, FIN or RST, and longer than any
/// bare ACK (IPv4 52 bytes, IPv6 72 with timestamps).
const DATA: &str = "tcp dport 80 tcp flags & (syn | rst | fin) == 0 meta length > 120";

#[test]
fn trace_exchange_names_data_rewrites_drops_and_silence_at_their_hops() {
    let Some(lab) = Lab::up_chain("xtrace", 193, 4) else {
        return;
    };
    // (a) hop 2 re-marks data segments CS1 (DSCP 8); (c) hop 4 sends no ICMP.
    lab.on_hop("mangle", 2, &format!("{DATA} ip dscp set cs1"));
    lab.on_hop("mangle", 2, &format!("{DATA} ip6 dscp set cs1"));
    lab.on_hop("icmp", 4, "silent");
    for v6 in [false, true] {
        let target = lab.srv(v6, 80);
        let doc = trace(&lab, &target, true, 0);
        assert_eq!(doc["exchange"], true, "{doc:#}");
        assert_eq!(doc["handshake"], "syn-ack", "{doc:#}");
        let dscp = if v6 {
            "ipv6.tclass.dscp"
        } else {
            "ip.dsfield.dscp"
        };
        assert_eq!(
            changes(&doc),
            vec![(dscp.to_owned(), 2)],
            "v6 {v6}: {doc:#}"
        );
        let change = &doc["changes"][0];
        assert_eq!(
            (change["sent"].as_u64(), change["seen"].as_u64()),
            (Some(0), Some(8))
        );
        assert_eq!(
            change["router"].as_str(),
            Some(hop_ip(&lab, 2, v6).as_str())
        );
        assert_eq!(
            answers(&doc),
            [
                "time-exceeded",
                "time-exceeded",
                "time-exceeded",
                "none",
                "ack"
            ],
            "v6 {v6}: {doc:#}"
        );
        for k in 1..=3u8 {
            let h = &doc["hops"][usize::from(k) - 1];
            assert_eq!(h["router"].as_str(), Some(hop_ip(&lab, k, v6).as_str()));
            // The quote holds the data, not only the headers.
            assert!(h["quoted_bytes"].as_u64().unwrap_or(0) > 100, "{h}");
        }
        // Hop 4 never answers: said silent after every attempt, not guessed.
        let silent = &doc["hops"][3];
        assert!(silent["router"].is_null(), "{silent}");
        assert_eq!(silent["probes"], 3, "{silent}");
        let end = &doc["hops"][4];
        assert_eq!(
            end["router"].as_str(),
            Some(lab.var(if v6 { "LAB_SRV_IP6" } else { "LAB_SRV_IP" }))
        );
        assert_eq!(end["injected"], false, "{end}");
        assert_eq!(doc["probes"], 7, "3 + 3 for the silent hop + 1: {doc:#}");
        // The SYN is not re-marked: its own trace names no change.
        if !v6 {
            let syn = trace(&lab, &target, false, 0);
            assert_eq!(changes(&syn), vec![], "{syn:#}");
        }
    }

    // The table says the change at its hop and the silent hop as "* * *".
    let out = lab.synlab_exit(
        &[
            "trace",
            "--profile",
            "linux",
            "--target",
            &lab.srv(false, 80),
            "--exchange",
            "http:/data.bin",
            "--timeout",
            "0.5",
        ],
        0,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("the request's first data segment"), "{text}");
    assert!(text.contains("handshake: syn-ack"), "{text}");
    assert!(text.contains("  4  * * *"), "{text}");
    assert!(
        text.contains(&format!(
            "changed at hop 2 ({}): ip.dsfield.dscp 0 -> 8",
            hop_ip(&lab, 2, false)
        )),
        "{text}"
    );
    assert!(text.contains("ack"), "{text}");

    // (b) hop 3 drops data (its TTL check comes first: it still answers the
    // data that expires there); SYNs pass, so the connection is made.
    lab.flush_hop(2);
    lab.on_hop("icmp", 4, "normal");
    lab.on_hop("rule", 3, &format!("{DATA} drop"));
    let doc = trace(&lab, &lab.srv(true, 80), true, 1);
    assert_eq!(doc["handshake"], "syn-ack", "{doc:#}");
    assert_eq!(doc["reached"], false, "{doc:#}");
    let got = answers(&doc);
    assert_eq!(got[..3], ["time-exceeded"; 3], "{doc:#}");
    assert!(
        got[3..].iter().all(|a| a == "none") && got.len() > 3,
        "past hop 3 nothing answers for the data: {doc:#}"
    );
    // Bounded by the endpoint's distance (4 routers), not --max-ttl 8.
    assert!(got.len() <= 6, "{doc:#}");
    assert_eq!(changes(&doc), vec![], "{doc:#}");
    // The same over IPv4, as the table says it.
    let out = lab.synlab_exit(
        &[
            "trace",
            "--profile",
            "linux",
            "--target",
            &lab.srv(false, 80),
            "--exchange",
            "--max-ttl",
            "8",
            "--timeout",
            "0.5",
        ],
        1,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let said = format!("reached hop 3 ({}) and no further", hop_ip(&lab, 3, false));
    assert!(text.contains(&said), "{text}");
    assert!(text.contains("  4  * * *"), "{text}");

    // (d) hop 3 answers data with its own RST in the endpoint's name:
    // marked injected at TTL 4, hop 3 named; not acknowledged, exit 1.
    lab.flush_hop(3);
    lab.on_hop("rule", 3, &format!("{DATA} reject with tcp reset"));
    let doc = trace(&lab, &lab.srv(false, 80), true, 1);
    assert_eq!(
        answers(&doc),
        ["time-exceeded", "time-exceeded", "time-exceeded", "rst"],
        "{doc:#}"
    );
    let end = &doc["hops"][3];
    assert_eq!(end["injected"], true, "{end}");
    let why = end["evidence"].as_str().unwrap_or_default();
    assert!(
        why.contains(&format!("hop 3 ({})", hop_ip(&lab, 3, false))),
        "{why}"
    );
}

/// `bisect --exchange --locate --html` in client 1 between windows-10
/// (good) and linux (bad), insisting on the `culprits`: the JSON (the
/// location or why there is none) and the page.
fn bisect_located(lab: &Lab, culprits: &[&str]) -> (Json, String) {
    let target = lab.srv(false, 80);
    let dir = support::TempDir::new("xlocate");
    let page = dir.path().join("locate.html");
    let args = support::Args::bisect("windows-10", "linux")
        .target(&target)
        .args(&[
            "--exchange",
            "http:/big.bin",
            "--stall-timeout",
            "1",
            "--locate",
        ])
        .args(&["--html", support::path_str(&page)])
        .json();
    let out = lab.synlab_exit(&args.strs(), 0);
    let doc: Json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bisect output is not JSON ({e})"));
    assert_eq!(doc["culprits"], serde_json::json!([culprits]), "{doc:#}");
    let page = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("--html: {e}"));
    (doc, page)
}

/// A box that passes every handshake and drops data: `bisect --exchange
/// --locate` traces the two sides' requests, not their SYNs (which both
/// reach the endpoint), and names the hop. When what it drops is the
/// server's data (the incident's direction), both requests are
/// acknowledged: no hop is claimed, and the answer says why.
#[test]
fn bisect_exchange_locate_traces_the_data_and_names_the_hop() {
    let Some(lab) = Lab::up_chain("xlocate", 196, 4) else {
        return;
    };
    // Hop 3 drops the client's data segments with timestamps (Linux's).
    // Longer than any bare ACK (52 bytes with timestamps): data only.
    let ts = "tcp flags & (syn | rst | fin) == 0 tcp option timestamp exists meta length > 60";
    lab.on_hop("rule", 3, &format!("tcp dport 80 {ts} drop"));
    // What puts the option on Linux's data: the SYN's negotiation and the
    // later segments' own option (as tests/lab_exchange.rs finds it).
    let (doc, page) = bisect_located(&lab, &["tcp.options.timestamp", "synlab.flow.ts"]);
    let location = &doc["location"];
    assert_eq!(location["hop"], 3, "{doc:#}");
    assert_eq!(
        location["router"].as_str(),
        Some(hop_ip(&lab, 3, false).as_str()),
        "{location}"
    );
    assert_eq!(location["at_endpoint"], false, "{location}");
    let said = location["evidence"].as_str().unwrap_or_default();
    assert!(
        said.contains("answers the passing data segment and stays silent for the failing one"),
        "{said}"
    );
    assert!(doc["not_located"].is_null(), "{doc:#}");
    // The page says what was traced, and the sentence.
    assert!(page.contains("Traced: each side&#39;s request"), "{page}");
    assert!(page.contains("stays silent for the failing one"), "{page}");

    // Hop 2 drops the server's data to Linux (its segments carry
    // timestamps too, whenever its SYN negotiated them); the requests both
    // get through.
    lab.flush_hop(3);
    lab.on_hop("rule", 2, &format!("tcp sport 80 {ts} drop"));
    let (doc, page) = bisect_located(&lab, &["tcp.options.timestamp"]);
    assert!(doc["location"].is_null(), "{doc:#}");
    let why = doc["not_located"].as_str().unwrap_or_default();
    assert!(
        why.contains("answered with ack as the passing side's is")
            && why.contains("from the server to the client"),
        "{why}"
    );
    assert!(
        page.contains("not located on the way to the endpoint"),
        "{page}"
    );
}
