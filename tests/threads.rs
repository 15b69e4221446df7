//! `handshakes --threads N` (issue 25, item 2): flow-sharded trackers give
//! byte for byte the output of one tracker (the attempts, their indexes,
//! their order, the counts and every warning), on every bundled capture,
//! on the hostile and real ones, and on a generated SYN-heavy capture.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{all_captures, root, synlab, TempDir};

/// stdout, stderr and exit status of `handshakes FILE ARGS --threads N`.
fn run_with(file: &Path, args: &[&str], threads: usize) -> (Vec<u8>, Vec<u8>, Option<i32>) {
    let file = file.display().to_string();
    let threads = threads.to_string();
    let mut all = vec!["handshakes", &file];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--threads", &threads]);
    let out: Output = synlab(&all);
    (out.stdout, out.stderr, out.status.code())
}

/// stdout, stderr and exit status of `handshakes FILE --json --threads N`.
fn run(file: &Path, threads: usize) -> (Vec<u8>, Vec<u8>, Option<i32>) {
    run_with(file, &["--json"], threads)
}

/// `threads` give what one thread gives, byte for byte, with `args`.
fn assert_same_with(file: &Path, args: &[&str], threads: &[usize]) {
    let one = run_with(file, args, 1);
    for &n in threads {
        let many = run_with(file, args, n);
        assert!(
            many == one,
            "{} {args:?}: --threads {n} differs from --threads 1\n--- 1 thread:\n{}\n{}\n--- {n} threads:\n{}\n{}",
            file.display(),
            String::from_utf8_lossy(&one.0),
            String::from_utf8_lossy(&one.1),
            String::from_utf8_lossy(&many.0),
            String::from_utf8_lossy(&many.1),
        );
    }
}

/// Every thread count gives what one thread gives, byte for byte.
fn assert_same_for_all_threads(file: &Path) {
    assert_same_with(file, &["--json"], &[2, 3, 4]);
}

/// Every output of `handshakes`: the table, the JSON document (compact
/// and indented), JSON Lines, `--fields`; the compact ones are rendered by
/// the tracking threads, the others by the sink.
const FORMATS: &[&[&str]] = &[
    &[],
    &["--json"],
    &["--json", "--pretty"],
    &["--jsonl"],
    &[
        "--fields",
        "synlab.attempt.index,ip.ttl,synlab.attempt.outcome",
    ],
];

/// Every format, with and without `--where` (one that keeps some
/// attempts, one that keeps none), on 2 and 3 threads.
fn assert_same_in_every_format(file: &Path) {
    for format in FORMATS {
        assert_same_with(file, format, &[2, 3]);
        for filter in ["ip.ttl > 100", "ip.ttl > 254"] {
            let mut args = format.to_vec();
            args.extend_from_slice(&["--where", filter]);
            assert_same_with(file, &args, &[2, 3]);
        }
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
fn every_format_and_filter_gives_the_same_bytes_on_two_and_three_threads() {
    for file in ["captures/many-attempts.pcap", "captures/reset.pcap"] {
        assert_same_in_every_format(&root().join(file));
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
    for format in [&["--jsonl"][..], &["--jsonl", "--where", "ip.ttl > 100"]] {
        assert_same_with(&path, format, &[2, 3]);
    }
}

/// The capture read from a pipe is sharded too (by the routing reader:
/// standard input cannot be walked by every thread), in every format.
#[test]
fn standard_input_gives_the_same_bytes_on_two_threads() {
    let file = root().join("captures/many-attempts.pcap");
    let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
    for format in FORMATS {
        for filter in [None, Some("ip.ttl > 100")] {
            let args = |n: &'static str| {
                let mut args = vec!["handshakes", "-"];
                args.extend_from_slice(format);
                if let Some(filter) = filter {
                    args.extend_from_slice(&["--where", filter]);
                }
                args.extend_from_slice(&["--threads", n]);
                args
            };
            let one = support::synlab_stdin(&args("1"), &bytes);
            let two = support::synlab_stdin(&args("2"), &bytes);
            assert_eq!(one.status.code(), Some(0), "{format:?} {filter:?}");
            assert!(
                one.stdout == two.stdout && one.stderr == two.stderr,
                "{format:?} {filter:?}"
            );
        }
    }
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

/// Without `--threads`: the machine's cores (at most 4) for one capture
/// file of 32 MiB or more; one thread for a smaller file, standard input
/// and several captures merged into one stream.
#[test]
fn the_default_is_every_core_on_a_large_file_and_one_thread_otherwise() {
    use synlab::io::load::{default_threads, MAX_DEFAULT_THREADS, THREADS_FROM_BYTES};
    let tmp = TempDir::new("threads-default");
    let large = tmp.join("large.pcap");
    std::fs::File::create(&large)
        .and_then(|f| f.set_len(THREADS_FROM_BYTES))
        .unwrap_or_else(|e| panic!("{e}"));
    let cores = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_DEFAULT_THREADS);
    assert_eq!(default_threads(std::slice::from_ref(&large)), cores);
    let small = root().join("captures/many-attempts.pcap");
    assert_eq!(default_threads(&[small]), 1);
    assert_eq!(default_threads(&[PathBuf::from("-")]), 1);
    assert_eq!(default_threads(&[large.clone(), large]), 1);
}
