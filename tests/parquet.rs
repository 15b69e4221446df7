//! `handshakes --parquet`: the file DuckDB reads (with the `duckdb` Python
//! package) holds the same attempts and values as `handshakes --json`, and
//! a directory of them is one table.
//!
//! Skips with a printed reason when python3 cannot import duckdb; under CI
//! (scripts/test.sh installs it) that is a failure.

mod support;

use std::process::Command;

use serde_json::{json, Value as Json};
use support::{capture, path_str, require_python_module, synlab_ok, TempDir};

/// Run a DuckDB query in python3; the rows as a JSON array of arrays.
fn duckdb(sql: &str) -> Json {
    let script = "import duckdb, json, sys\n\
                  rows = duckdb.sql(sys.argv[1]).fetchall()\n\
                  print(json.dumps([list(r) for r in rows], default=str))\n";
    let out = Command::new("python3")
        .args(["-c", script, sql])
        .output()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    support::assert_exit_for(&out, 0, &format!("duckdb query {sql}"));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})"))
}

/// The attempt's fact, SYN and SYN-ACK columns compared, with where each
/// is in `handshakes --json`.
const CHECKED: &[(&str, &str)] = &[
    ("index", "/index"),
    ("client", "/client"),
    ("server", "/server"),
    ("community_id", "/community_id"),
    ("outcome", "/outcome"),
    ("established", "/established"),
    ("stalled", "/stalled"),
    ("syn_retransmits", "/syn_retransmits"),
    ("rtt_ms", "/rtt_ms"),
    ("syn_frame", "/syn_packet"),
    ("reply_frame", "/reply_packet"),
    ("bytes_to_server", "/bytes_to_server"),
    ("bytes_to_client", "/bytes_to_client"),
    ("retransmits_to_client", "/retransmits_to_client"),
    ("longest_stall_ms", "/longest_stall_ms"),
    ("syn.ip.ttl", "/syn/ip.ttl"),
    ("syn.ipv6.hlim", "/syn/ipv6.hlim"),
    ("syn.ip.flags.df", "/syn/ip.flags.df"),
    ("syn.tcp.window_size_value", "/syn/tcp.window_size_value"),
    ("syn.tcp.options.mss_val", "/syn/tcp.options.mss_val"),
    ("syn.synlab.options.layout", "/syn/synlab.options.layout"),
    ("syn.synlab.p0f", "/syn/synlab.p0f"),
    ("syn_ack.ip.ttl", "/syn_ack/ip.ttl"),
    (
        "syn_ack.tcp.window_size_value",
        "/syn_ack/tcp.window_size_value",
    ),
    (
        "syn_ack.tcp.options.sack_perm",
        "/syn_ack/tcp.options.sack_perm",
    ),
    ("synlab.flow.ttl", "/flow/synlab.flow.ttl"),
    ("synlab.flow.ipid", "/flow/synlab.flow.ipid"),
];

/// JSON numbers compare as numbers (DuckDB's BIGINT 64 and synlab's 64).
fn same(parquet: &Json, json: Option<&Json>) -> bool {
    match (parquet, json.unwrap_or(&Json::Null)) {
        (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

#[test]
fn duckdb_reads_what_json_says() {
    if !require_python_module("duckdb") {
        return;
    }
    let dir = TempDir::new("parquet");
    let names = [
        "many-attempts.pcap",
        "ipv6-default.pcap",
        "icmp.pcap",
        "hang-range-retry.pcap",
        "linux-default.pcapng",
    ];
    let mut total = 0;
    for name in names {
        let file = capture(name);
        let file = path_str(&file);
        let out = dir.join(&format!("{name}.parquet"));
        let said = synlab_ok(&["handshakes", file, "--parquet", path_str(&out)]);
        let doc: Json = serde_json::from_str(&synlab_ok(&["handshakes", file, "--json"]))
            .unwrap_or_else(|e| panic!("{e}"));
        let attempts = doc["handshakes"].as_array().expect("handshakes");
        assert_eq!(
            said.trim(),
            format!(
                "wrote {} attempt{} to {}",
                attempts.len(),
                if attempts.len() == 1 { "" } else { "s" },
                path_str(&out)
            )
        );
        total += attempts.len();
        let columns: Vec<String> = CHECKED.iter().map(|(c, _)| format!("\"{c}\"")).collect();
        let rows = duckdb(&format!(
            "SELECT {} FROM '{}' ORDER BY index",
            columns.join(", "),
            path_str(&out)
        ));
        let rows = rows.as_array().expect("rows");
        assert_eq!(rows.len(), attempts.len(), "{name}: rows");
        for (row, attempt) in rows.iter().zip(attempts) {
            for (i, (column, pointer)) in CHECKED.iter().enumerate() {
                let theirs = attempt.pointer(pointer);
                assert!(
                    same(&row[i], theirs),
                    "{name} attempt {}: {column}: parquet {} json {theirs:?}",
                    attempt["index"],
                    row[i]
                );
            }
        }
    }
    // docs/GUIDE.md's query over a directory: every attempt once, grouped.
    let glob = format!("{}/*.parquet", path_str(dir.path()));
    let groups = duckdb(&format!(
        "SELECT \"syn.synlab.p0f\", count(*) FROM '{glob}' GROUP BY 1 ORDER BY 2 DESC"
    ));
    let counted: u64 = groups
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g[1].as_u64())
        .sum();
    assert_eq!(counted, total as u64);
    // Typed columns: numbers, booleans, text; the `file` column names the capture.
    let types = duckdb(&format!(
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{glob}') \
         WHERE column_name IN ('file', 'rtt_ms', 'syn.ip.ttl', 'syn.ip.flags.df', 'syn.synlab.p0f') \
         ORDER BY column_name"
    ));
    assert_eq!(
        types,
        json!([
            ["file", "VARCHAR"],
            ["rtt_ms", "DOUBLE"],
            ["syn.ip.flags.df", "BOOLEAN"],
            ["syn.ip.ttl", "BIGINT"],
            ["syn.synlab.p0f", "VARCHAR"]
        ])
    );
}

/// Row groups bound the memory: a file of 10 attempts in groups of 3 has
/// 4 row groups, and reads back whole.
#[test]
fn attempts_are_written_in_row_groups() {
    if !require_python_module("duckdb") {
        return;
    }
    use synlab::io::parquet_out::ParquetSink;
    let dir = TempDir::new("parquet-groups");
    let out = dir.join("groups.parquet");
    let loaded =
        synlab::io::load::load(&capture("many-attempts.pcap")).unwrap_or_else(|e| panic!("{e}"));
    let mut sink =
        ParquetSink::with_row_groups(&out, &loaded.path, 3).unwrap_or_else(|e| panic!("{e}"));
    // Until finished, only a hidden temporary file exists: no reader takes
    // a file without its footer for whole.
    let temps = || {
        std::fs::read_dir(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(".groups.parquet.") && n.ends_with(".tmp"))
            .count()
    };
    assert!(!out.exists() && temps() == 1);
    for (i, a) in loaded.numbered() {
        sink.push(i, a).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(sink.finish().unwrap_or_else(|e| panic!("{e}")), 10);
    assert_eq!(temps(), 0);
    let path = path_str(&out);
    let groups = duckdb(&format!(
        "SELECT count(DISTINCT row_group_id) FROM parquet_metadata('{path}')"
    ));
    assert_eq!(groups, json!([[4]]));
    let indexes = duckdb(&format!("SELECT list(index ORDER BY index) FROM '{path}'"));
    assert_eq!(indexes, json!([[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]]));
}
