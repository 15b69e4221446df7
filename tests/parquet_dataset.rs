//! `handshakes --parquet DIR --partition-by date[,vantage]` (issue 25,
//! item 4): a hive-partitioned dataset, appended to run after run, that
//! pyarrow's dataset API and DuckDB both read back whole, with the
//! partition columns, the same rows as `handshakes --json`.
//!
//! Skips with a printed reason when python3 cannot import pyarrow or
//! duckdb; under CI (scripts/test.sh installs both) that is a failure.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value as Json};
use support::{capture, path_str, require_python_module, synlab, synlab_ok, TempDir};
use synlab::io::capture_file::CaptureReader;
use synlab::io::pcap_writer::PcapOut;

/// Run a python3 script (argv[1] is `arg`); its stdout as JSON.
fn python(script: &str, arg: &str) -> Json {
    let out = Command::new("python3")
        .args(["-c", script, arg])
        .output()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    support::assert_exit_for(&out, 0, "python3");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})"))
}

/// `src` copied with every packet a day later (a second `date=`).
fn a_day_later(src: &Path, dst: &Path) {
    let mut reader = CaptureReader::open(src).unwrap_or_else(|e| panic!("{e}"));
    let mut out = None;
    while let Some(frame) = reader.next_frame() {
        let frame = frame.unwrap_or_else(|e| panic!("{e}"));
        let w = out.get_or_insert_with(|| {
            PcapOut::create(dst, frame.linktype).unwrap_or_else(|e| panic!("{e}"))
        });
        let at = frame.timestamp + Duration::from_secs(86_400);
        w.write(at, frame.data).unwrap_or_else(|e| panic!("{e}"));
    }
    out.map(|w| w.finish().unwrap_or_else(|e| panic!("{e}")));
}

/// `handshakes FILE --parquet DIR --partition-by date,vantage --vantage V`;
/// the files it says it wrote.
fn add(dir: &Path, file: &Path, vantage: &str) -> Vec<PathBuf> {
    let said = synlab_ok(&[
        "handshakes",
        path_str(file),
        "--parquet",
        path_str(dir),
        "--partition-by",
        "date,vantage",
        "--vantage",
        vantage,
    ]);
    said.lines()
        .skip(1)
        .map(|l| PathBuf::from(l.trim()))
        .collect()
}

/// The attempts of `handshakes FILE --json`.
fn attempts(file: &Path) -> Vec<Json> {
    let doc: Json = serde_json::from_str(&synlab_ok(&["handshakes", path_str(file), "--json"]))
        .unwrap_or_else(|e| panic!("{e}"));
    doc["handshakes"].as_array().cloned().unwrap_or_default()
}

#[test]
fn pyarrow_and_duckdb_read_the_partitioned_dataset_back() {
    if !require_python_module("pyarrow") || !require_python_module("duckdb") {
        return;
    }
    let tmp = TempDir::new("parquet-dataset");
    let dir = tmp.join("archive");
    let many = capture("many-attempts.pcap");
    let later = tmp.join("many-attempts-next-day.pcap");
    a_day_later(&many, &later);
    let v6 = capture("ipv6-default.pcap");

    let first = add(&dir, &many, "fra1");
    assert_eq!(
        first,
        [dir.join("date=2026-11-26/vantage=fra1/part-0000.parquet")]
    );
    let kept = std::fs::read(&first[0]).unwrap_or_else(|e| panic!("{e}"));
    // Appending: the next run's file is the next part, the first untouched.
    let second = add(&dir, &v6, "fra1");
    assert_eq!(
        second,
        [dir.join("date=2026-11-26/vantage=fra1/part-0001.parquet")]
    );
    assert_eq!(std::fs::read(&first[0]).ok(), Some(kept));
    add(&dir, &later, "fra1");
    add(&dir, &many, "ams2");
    let total = 3 * attempts(&many).len() + attempts(&v6).len();

    // pyarrow's dataset API, hive partitioning: the partition columns and
    // every row.
    let counted = python(
        "import json, sys, pyarrow.dataset as ds\n\
         t = ds.dataset(sys.argv[1], format='parquet', partitioning='hive').to_table()\n\
         g = t.group_by(['date', 'vantage']).aggregate([('index', 'count')])\n\
         rows = sorted([str(r['date']), r['vantage'], r['index_count']] for r in g.to_pylist())\n\
         print(json.dumps({'rows': t.num_rows, 'groups': rows}))\n",
        path_str(&dir),
    );
    let n = attempts(&many).len();
    assert_eq!(counted["rows"], json!(total));
    assert_eq!(
        counted["groups"],
        json!([
            ["2026-11-26", "ams2", n],
            ["2026-11-26", "fra1", n + 1],
            ["2026-11-27", "fra1", n]
        ])
    );

    // DuckDB over the same files (docs/GUIDE.md's query): the partition's
    // rows are those `handshakes --json` lists.
    let rows = python(
        "import duckdb, json, sys\n\
         q = \"SELECT index, client, outcome, \\\"syn.ip.ttl\\\" FROM read_parquet(?, hive_partitioning = true) \
              WHERE vantage = 'fra1' AND date = '2026-11-27' ORDER BY index\"\n\
         rows = duckdb.execute(q, [sys.argv[1] + '/**/*.parquet']).fetchall()\n\
         print(json.dumps([list(r) for r in rows]))\n",
        path_str(&dir),
    );
    let want: Vec<Json> = attempts(&later)
        .iter()
        .map(|a| json!([a["index"], a["client"], a["outcome"], a["syn"]["ip.ttl"]]))
        .collect();
    assert_eq!(rows, Json::from(want));
}

#[test]
fn a_vantage_partition_needs_a_valid_name() {
    let tmp = TempDir::new("parquet-dataset-vantage");
    let dir = tmp.join("archive");
    let dir = path_str(&dir);
    let base = ["handshakes", "captures/reset.pcap", "--parquet", dir];
    let run = |more: &[&str]| synlab(&[&base[..], more].concat());
    for bad in [
        &["--partition-by", "date,vantage"][..],
        &["--partition-by", "date", "--vantage", "x"],
        &["--partition-by", "date,vantage", "--vantage", "../up"],
        &["--partition-by", "date,vantage", "--vantage", "a/b"],
        &["--partition-by", "hour"],
    ] {
        let out = run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    assert!(!Path::new(dir).exists(), "nothing written on a refused run");
}
