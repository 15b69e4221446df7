//! `handshakes --threads N` (issue 25, item 2): flow-sharded trackers give
//! byte for byte the output of one tracker (the attempts, their indexes,
//! their order, the counts and every warning), on every bundled capture,
//! on the hostile and real ones, and on a generated SYN-heavy capture.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{all_captures, root, synlab, TempDir};

/// stdout, stderr and exit status of `handshakes FILE --json --threads N`.
fn run(file: &Path, threads: usize) -> (Vec<u8>, Vec<u8>, Option<i32>) {
    let out: Output = synlab(&[
        "handshakes",
        &file.display().to_string(),
        "--json",
        "--threads",
        &threads.to_string(),
    ]);
    (out.stdout, out.stderr, out.status.code())
}

/// Every thread count gives what one thread gives, byte for byte.
fn assert_same_for_all_threads(file: &Path) {
    let one = run(file, 1);
    for n in [2, 3, 4] {
        let many = run(file, n);
        assert!(
            many == one,
            "{}: --threads {n} differs from --threads 1\n--- 1 thread:\n{}\n{}\n--- {n} threads:\n{}\n{}",
            file.display(),
            String::from_utf8_lossy(&one.0),
            String::from_utf8_lossy(&one.1),
            String::from_utf8_lossy(&many.0),
            String::from_utf8_lossy(&many.1),
        );
    }
}

/// The files of a directory under the repository, sorted.
fn files_in(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_bundled_capture_gives_the_same_bytes_on_any_thread_count() {
    for file in all_captures() {
        assert_same_for_all_threads(&file);
    }
}

/// Warnings, errors after the header and the exit status too.
#[test]
fn bad_and_hostile_captures_give_the_same_bytes_on_any_thread_count() {
    let mut files = files_in("captures/bad");
    files.extend(files_in("tests/fuzz-regressions/capture"));
    files.push(root().join("tests/data/linux-6.18-netns.pcap"));
    for file in files {
        assert_same_for_all_threads(&file);
    }
}

#[test]
fn real_syns_give_the_same_bytes_on_any_thread_count() {
    for file in files_in("tests/data/real-syns") {
        let one = run(&file, 1);
        assert!(run(&file, 2) == one, "{}", file.display());
    }
}

/// Thousands of attempts finishing at many packets, spread over every
/// shard: the order of `--threads 1` is kept across batches.
#[test]
fn a_syn_heavy_capture_gives_the_same_bytes_on_any_thread_count() {
    let tmp = TempDir::new("threads-syn-heavy");
    let path = tmp.join("syn-heavy.pcap");
    let made = Command::new("python3")
        .current_dir(root())
        .args(["scripts/gen-bench-pcap.py", "captures/many-attempts.pcap"])
        .arg(&path)
        .arg("36000")
        .output();
    match made {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "gen-bench-pcap.py: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            eprintln!("skipped: python3 cannot run ({e})");
            return;
        }
    }
    let one = run(&path, 1);
    let doc: serde_json::Value = serde_json::from_slice(&one.0).unwrap_or_else(|e| panic!("{e}"));
    let attempts = doc["handshakes"].as_array().map_or(0, Vec::len);
    assert!(attempts >= 3000, "{attempts} attempts");
    assert_same_for_all_threads(&path);
}

/// The capture read from a pipe is sharded too.
#[test]
fn standard_input_gives_the_same_bytes_on_two_threads() {
    let file = root().join("captures/many-attempts.pcap");
    let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
    let args = |n: &'static str| ["handshakes", "-", "--json", "--threads", n];
    let one = support::synlab_stdin(&args("1"), &bytes);
    let two = support::synlab_stdin(&args("2"), &bytes);
    assert_eq!(one.status.code(), Some(0));
    assert!(one.stdout == two.stdout && one.stderr == two.stderr);
}

#[test]
fn zero_threads_is_refused() {
    let out = synlab(&["handshakes", "captures/reset.pcap", "--threads", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

/// With several threads the flow-table cap is shared out between them:
/// each holds its part, evicts past it, and every attempt is still
/// reported once, in the file's numbering.
#[test]
fn the_flow_table_cap_is_shared_out_between_the_threads() {
    let out = synlab(&[
        "handshakes",
        "captures/many-attempts.pcap",
        "--json",
        "--max-flows",
        "2",
        "--threads",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let mut indexes: Vec<u64> = doc["handshakes"]
        .as_array()
        .map(|hs| hs.iter().filter_map(|h| h["index"].as_u64()).collect())
        .unwrap_or_default();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..10).collect::<Vec<u64>>());
    assert!(doc["evicted"].as_u64().is_some_and(|n| n > 0), "{doc}");
}
