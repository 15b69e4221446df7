//! `handshakes --threads N` (issue 25, item 2): flow-sharded trackers give
//! byte for byte the output of one tracker (the attempts, their indexes,
//! their order, the counts and every warning), on every bundled capture,
//! on the hostile and real ones, on a generated SYN-heavy capture, from
//! standard input, and from captures merged into one stream.

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

/// A generated SYN-heavy capture (about 3,000 attempts) in `tmp`, or
/// `None` (with the reason printed) when python3 cannot run.
fn syn_heavy(tmp: &TempDir) -> Option<PathBuf> {
    let path = tmp.join("syn-heavy.pcap");
    let made = Command::new("python3")
        .current_dir(root())
        .args(["scripts/gen-bench-pcap.py", "captures/many-attempts.pcap"])
        .arg(&path)
        .arg("36000")
        .output();
    match made {
        Ok(out) if out.status.success() => Some(path),
        Ok(out) => panic!(
            "gen-bench-pcap.py: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            eprintln!("skipped: python3 cannot run ({e})");
            None
        }
    }
}

/// Thousands of attempts finishing at many packets, spread over every
/// shard: the order of `--threads 1` is kept across batches.
#[test]
fn a_syn_heavy_capture_gives_the_same_bytes_on_any_thread_count() {
    let tmp = TempDir::new("threads-syn-heavy");
    let Some(path) = syn_heavy(&tmp) else {
        return;
    };
    let one = run(&path, 1);
    let doc: serde_json::Value = serde_json::from_slice(&one.0).unwrap_or_else(|e| panic!("{e}"));
    let attempts = doc["handshakes"].as_array().map_or(0, Vec::len);
    assert!(attempts >= 3000, "{attempts} attempts");
    assert_same_for_all_threads(&path);
    for format in [&["--jsonl"][..], &["--jsonl", "--where", "ip.ttl > 100"]] {
        assert_same_with(&path, format, &[2, 3]);
    }
}

/// A little-endian pcap file's header and its records (each with its
/// 16-byte record header), as they lie in `bytes`.
fn pcap_records(bytes: &[u8]) -> (&[u8], Vec<&[u8]>) {
    assert_eq!(
        bytes.get(..4),
        Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]),
        "a little-endian pcap"
    );
    let (header, mut rest) = bytes.split_at(24);
    let mut records = Vec::new();
    while rest.len() >= 16 {
        let caplen = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        let (record, after) = rest.split_at(16 + caplen);
        records.push(record);
        rest = after;
    }
    (header, records)
}

/// `file` written again as `parts` files in `dir`: cut into runs of
/// packets (`tcpdump -C`, rotated), or dealt out a packet at a time (two
/// interfaces' captures, overlapping in time).
fn split(file: &Path, dir: &Path, parts: usize, dealt: bool) {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{e}"));
    let (header, records) = pcap_records(&bytes);
    let run = records.len().div_ceil(parts);
    let mut outs = vec![header.to_vec(); parts];
    for (i, record) in records.iter().enumerate() {
        let part = if dealt { i % parts } else { i / run };
        outs[part].extend_from_slice(record);
    }
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    for (i, out) in outs.iter().enumerate() {
        let name = dir.join(format!("part-{i}.pcap"));
        std::fs::write(name, out).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Rotated and interleaved captures merged into one stream are sharded
/// as one file is: the same bytes on any thread count, the parts of each
/// attempt (which file, which packet) included.
#[test]
fn captures_merged_into_one_stream_give_the_same_bytes_on_any_thread_count() {
    let tmp = TempDir::new("threads-merged");
    let Some(path) = syn_heavy(&tmp) else {
        return;
    };
    // Dealt three ways, SYNs and the packets that finish attempts lie in
    // every file, so the merged numbers (file first) do not follow the
    // stream: the shards order by place in the stream, as one thread does.
    for (name, parts, dealt) in [
        ("rotated", 5, false),
        ("interleaved", 2, true),
        ("interleaved3", 3, true),
    ] {
        let dir = tmp.join(name);
        split(&path, &dir, parts, dealt);
        assert_same_with(&dir, &["--json"], &[2, 3]);
        assert_same_with(&dir, &["--jsonl", "--where", "ip.ttl > 100"], &[2]);
        let doc: serde_json::Value =
            serde_json::from_slice(&run(&dir, 2).0).unwrap_or_else(|e| panic!("{e}"));
        let parts = &doc["handshakes"][0]["parts"];
        assert!(parts["syn"]["file"].is_string(), "{name}: {parts}");
    }
}

/// Every bundled and hostile capture in one directory: captures of many
/// times and link types, overlapping, merged into one stream; the same
/// bytes on any thread count.
#[test]
fn every_capture_merged_into_one_stream_gives_the_same_bytes_on_any_thread_count() {
    let tmp = TempDir::new("threads-merged-all");
    let dir = tmp.join("all");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let mut files = all_captures();
    files.extend(files_in("tests/hostile"));
    for file in &files {
        let name = file.file_name().unwrap_or_default();
        std::fs::copy(file, dir.join(name)).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_same_with(&dir, &["--json"], &[2, 3, 4]);
    assert_same_with(&dir, &["--jsonl"], &[2]);
}

/// A merge with a file that ends in a corrupt record, and files with
/// malformed packets, warns and reports as one thread does, each warning
/// naming its own file; a link type no decoder knows ends the merge there.
#[test]
fn a_merge_with_bad_files_gives_the_same_bytes_on_any_thread_count() {
    let tmp = TempDir::new("threads-merged-bad");
    let Some(path) = syn_heavy(&tmp) else {
        return;
    };
    let dir = tmp.join("bad");
    split(&path, &dir, 3, false);
    for bad in [
        "captures/bad/record-longer-than-file.pcap",
        "tests/hostile/ihl-below-5.pcap",
        "tests/hostile/tcp-offset-past-end.pcap",
    ] {
        let from = root().join(bad);
        let name = Path::new(bad).file_name().unwrap_or_default();
        std::fs::copy(&from, dir.join(name)).unwrap_or_else(|e| panic!("{bad}: {e}"));
    }
    let one = run(&dir, 1);
    let stderr = String::from_utf8_lossy(&one.1);
    assert!(stderr.contains("ihl-below-5.pcap: packet"), "{stderr}");
    assert!(
        stderr.contains("record-longer-than-file.pcap: packet 5"),
        "{stderr}"
    );
    assert_same_with(&dir, &["--json"], &[2, 3]);
    assert_same_with(&dir, &[], &[2]);
    let ended = tmp.join("ended");
    split(&path, &ended, 2, false);
    let from = root().join("captures/bad/unsupported-linktype.pcap");
    std::fs::copy(from, ended.join("link.pcap")).unwrap_or_else(|e| panic!("{e}"));
    let one = run(&ended, 1);
    assert_eq!(one.2, Some(2), "{}", String::from_utf8_lossy(&one.1));
    assert_same_with(&ended, &["--json"], &[2, 3]);
}

/// Frames of 60 KB (offloaded segments, as a capture on the sending host
/// holds them) from standard input and from a merge, on three threads:
/// the main thread copies the others' packets into its batches, and a
/// batch goes out once it holds 1 MiB, so 100 MB of them do not become
/// 100 MB of memory.
#[test]
fn large_frames_from_a_pipe_or_a_merge_keep_memory_flat() {
    let tmp = TempDir::new("threads-large-frames");
    let dir = tmp.join("merge");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("large.pcap");
    std::fs::write(&file, large_frames(1700, 60_000)).unwrap_or_else(|e| panic!("{e}"));
    let other = dir.join("small.pcap");
    std::fs::copy(root().join("captures/many-attempts.pcap"), &other)
        .unwrap_or_else(|e| panic!("{e}"));
    let peak = |args: &str| -> i64 {
        let script = format!(
            "/usr/bin/time -f %M -o '{rss}' '{bin}' handshakes {args} --json --threads 3 > /dev/null",
            rss = tmp.join("rss").display(),
            bin = env!("CARGO_BIN_EXE_synlab"),
        );
        let out = Command::new("sh")
            .args(["-c", &script])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = std::fs::read_to_string(tmp.join("rss")).unwrap_or_default();
        said.trim()
            .parse()
            .unwrap_or_else(|_| panic!("peak RSS: {said:?}"))
    };
    if !Path::new("/usr/bin/time").exists() {
        eprintln!("skipped: no /usr/bin/time to measure the peak");
        return;
    }
    for args in [
        format!("- < '{}'", file.display()),
        format!("'{}'", dir.display()),
    ] {
        let kib = peak(&args);
        assert!(kib < 48 * 1024, "{args}: {kib} KiB");
    }
}

/// A pcap of `frames` Ethernet/IPv4/TCP frames of `size` bytes each,
/// ACKs carrying zeros, over 64 connections.
fn large_frames(frames: usize, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + frames * (16 + size));
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, 1] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    let ip_len = u16::try_from(size - 14).unwrap_or(u16::MAX);
    for i in 0..frames {
        let secs = 1_700_000_000 + u32::try_from(i / 100).unwrap_or(0);
        let len = u32::try_from(size).unwrap_or(u32::MAX);
        for word in [secs, 0, len, len] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        let mut frame = vec![0u8; size];
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut frame[14..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[192, 0, 2, 1]);
        ip[16..20].copy_from_slice(&[198, 51, 100, 7]);
        let tcp = &mut ip[20..];
        let port = 40_000 + u16::try_from(i % 64).unwrap_or(0);
        tcp[0..2].copy_from_slice(&port.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&u32::try_from(i).unwrap_or(0).to_be_bytes());
        tcp[12] = 0x50;
        tcp[13] = 0x10;
        tcp[14..16].copy_from_slice(&65_535u16.to_be_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

/// The capture read from a pipe is sharded too (the main thread reads it
/// and copies the others their packets), in every format.
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

/// Without `--threads`: the machine's cores (at most 4) for captures of
/// 32 MiB or more in all, one file or several (a directory of them); one
/// thread for less, and for standard input.
#[test]
fn the_default_is_every_core_on_large_captures_and_one_thread_otherwise() {
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
    let half = tmp.join("half.pcap");
    std::fs::File::create(&half)
        .and_then(|f| f.set_len(THREADS_FROM_BYTES / 2))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(default_threads(std::slice::from_ref(&half)), 1);
    assert_eq!(default_threads(&[half.clone(), half.clone()]), cores);
    assert_eq!(default_threads(&[large.clone(), PathBuf::from("-")]), 1);
    // A directory counts as the files in it.
    assert_eq!(default_threads(&[tmp.path().to_path_buf()]), cores);
    let rotated = tmp.join("rotated");
    std::fs::create_dir_all(&rotated).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(&half, rotated.join("a.pcap")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(default_threads(std::slice::from_ref(&rotated)), 1);
    assert_eq!(default_threads(&[rotated, half]), cores);
}

/// `stalls` reads as `handshakes` does (streamed, on `--threads`): the
/// same flows, groups, retries and exit status on any thread count, from
/// one capture and from a merge of rotated ones.
#[test]
fn stalls_gives_the_same_bytes_on_any_thread_count() {
    let tmp = TempDir::new("threads-stalls");
    let rotated = tmp.join("rotated");
    split(
        &root().join("captures/hang-range-retry.pcap"),
        &rotated,
        3,
        false,
    );
    let mut inputs: Vec<PathBuf> = [
        "captures/hang-range-retry.pcap",
        "captures/stall-by-ttl.pcap",
        "captures/incident.pcap",
        "captures/snaplen-64.pcap",
        "captures/many-attempts.pcap",
    ]
    .iter()
    .map(|f| root().join(f))
    .collect();
    inputs.push(rotated);
    for input in &inputs {
        let path = input.display().to_string();
        for json in [&[][..], &["--json"]] {
            let run = |n: &str| {
                let mut args = vec!["stalls", path.as_str()];
                args.extend_from_slice(json);
                args.extend_from_slice(&["--threads", n]);
                let out = synlab(&args);
                (out.stdout, out.stderr, out.status.code())
            };
            let one = run("1");
            assert!(one.2 == Some(0) || one.2 == Some(1), "{path}: {one:?}");
            for n in ["2", "3"] {
                assert!(run(n) == one, "{path} {json:?}: --threads {n} differs");
            }
        }
    }
}

/// `profiles learn DIR` streams each capture: attempts finish out of
/// their index order, and every SYN is still learnt once, in index order.
#[test]
fn profiles_learn_takes_every_syn_in_index_order_while_streaming() {
    let tmp = TempDir::new("threads-learn");
    let Some(path) = syn_heavy(&tmp) else {
        return;
    };
    let dir = tmp.join("learn");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(&path, dir.join("syn-heavy.pcap")).unwrap_or_else(|e| panic!("{e}"));
    let dir_arg = dir.display().to_string();
    let out = synlab(&["profiles", "learn", &dir_arg, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let lines = synlab(&["handshakes", &dir_arg, "--jsonl"]).stdout;
    let attempts = lines.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(
        doc["syns"].as_u64(),
        Some(attempts as u64),
        "{}",
        doc["syns"]
    );
    let mut seen = Vec::new();
    for group in doc["groups"].as_array().into_iter().flatten() {
        let members: Vec<usize> = group["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str()?.rsplit_once('#')?.1.parse().ok())
            .collect();
        assert!(members.windows(2).all(|w| w[0] < w[1]), "{members:?}");
        seen.extend(members);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..attempts).collect::<Vec<_>>());
}

/// Naming one attempt (`FILE#N`, `FILE@IP`) streams the capture and keeps
/// only that attempt: the same one `handshakes` numbers N, and for an
/// address its first attempt by index, although attempts finish out of
/// that order.
#[test]
fn one_attempt_named_in_a_large_capture_is_the_one_handshakes_lists() {
    let tmp = TempDir::new("threads-named");
    let Some(path) = syn_heavy(&tmp) else {
        return;
    };
    let file = path.display().to_string();
    let rows: Vec<serde_json::Value> = synlab(&["handshakes", &file, "--jsonl"])
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let client = |i: usize| {
        rows.iter()
            .find(|r| r["index"] == i)
            .map(|r| r["client"].to_string())
    };
    let learnt = |spec: &str| -> String {
        let out = synlab(&["profiles", "learn", spec, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{spec}");
        let doc: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
        doc["description"].as_str().unwrap_or_default().to_owned()
    };
    for n in [0, 7, rows.len() / 2, rows.len() - 1] {
        let text = learnt(&format!("{file}#{n}"));
        let want = client(n).unwrap_or_default().trim_matches('"').to_owned();
        assert!(
            text.contains(&format!("attempt {n} of")) && text.contains(&want),
            "{text}"
        );
    }
    let ip = client(rows.len() / 3)
        .unwrap_or_default()
        .trim_matches('"')
        .rsplit_once(':')
        .map(|(ip, _)| ip.to_owned())
        .unwrap_or_default();
    let first = (0..rows.len())
        .find(|&i| client(i).is_some_and(|c| c.contains(&format!("{ip}:"))))
        .unwrap_or(usize::MAX);
    let text = learnt(&format!("{file}@{ip}"));
    assert!(
        text.contains(&format!("attempt {first} of")),
        "{ip} {first}: {text}"
    );
    let out = synlab(&["diff", &format!("{file}#{}", rows.len()), &file]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("the file holds {}", rows.len())),
        "{said}"
    );
}

/// The other commands that read captures take `--threads` too, with the
/// same bytes out on any count: `diff` of two attempts, `profiles learn`
/// of a capture, `impact` over a corpus holding it.
#[test]
fn diff_learn_and_impact_give_the_same_bytes_on_any_thread_count() {
    let tmp = TempDir::new("threads-other-commands");
    let Some(path) = syn_heavy(&tmp) else {
        return;
    };
    let file = path.display().to_string();
    let corpus = tmp.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(&path, corpus.join("linux-syn-heavy.pcap")).unwrap_or_else(|e| panic!("{e}"));
    let corpus = corpus.display().to_string();
    let (a, b) = (format!("{file}#7"), format!("{file}#2900"));
    let commands: [Vec<&str>; 3] = [
        vec!["diff", &a, &b, "--json", "--all"],
        vec!["profiles", "learn", &file, "--json"],
        vec![
            "impact",
            "--rule",
            "ip.ttl > 60",
            "--corpus",
            &corpus,
            "--json",
        ],
    ];
    for args in &commands {
        let run = |threads: &str| {
            let mut all = args.clone();
            all.extend(["--threads", threads]);
            let out = synlab(&all);
            (out.stdout, out.stderr, out.status.code())
        };
        let one = run("1");
        assert!(
            !one.0.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&one.1)
        );
        for threads in ["2", "3"] {
            assert!(run(threads) == one, "{args:?} --threads {threads}");
        }
    }
}

/// `--threads` where nothing is read from a capture is an error, not
/// ignored: a diff of two profiles, a bisect of two profiles by a rule.
#[test]
fn threads_with_nothing_to_read_is_refused() {
    let bisect = support::Args::bisect("linux", "windows-10")
        .rule("ip.ttl > 100")
        .args(&["--threads", "2"]);
    for args in [
        vec!["diff", "linux", "windows-10", "--threads", "2"],
        bisect.strs(),
    ] {
        let out = synlab(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("--threads: nothing is read from a capture"),
            "{said}"
        );
    }
}
