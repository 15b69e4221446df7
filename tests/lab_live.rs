//! Live sessions in the namespace lab: stop signals, a panic, and how long
//! a live search takes.
//!
//! Root only: without root these tests print why they skip; under CI they
//! fail instead. Each test builds its own lab (`sltest-l*`, indexes 220+)
//! and removes it afterwards, also on failure. Probes go only to the lab's
//! server, from inside the lab's client namespace.

mod support;

use support::Args;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use support::lab::{wait_for, Lab};
use support::{bin, path_str, TempDir};

/// The three stop signals and the exit status each must give.
const SIGNALS: [(libc::c_int, &str, i32); 3] = [
    (libc::SIGINT, "SIGINT", 130),
    (libc::SIGTERM, "SIGTERM", 143),
    (libc::SIGHUP, "SIGHUP", 129),
];

/// synlab ARGS inside client 1's namespace, running in the background.
/// `ip netns exec` execs synlab, so the child's pid is synlab's.
fn spawn(lab: &Lab, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", lab.c1(), bin()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn synlab {args:?}: {e}"))
}

/// Send `signal` to `child`; how long it took to exit, and its output. A
/// child still running after 5 s is killed and the test fails.
fn stop(mut child: Child, signal: libc::c_int) -> (Duration, Output) {
    let t0 = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(sent, 0, "kill failed");
    let exited = wait_for(Duration::from_secs(5), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let took = t0.elapsed();
    if !exited {
        let _ = child.kill();
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(exited, "synlab did not stop within 5 s of the signal");
    (took, out)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What every interrupted live command must show: the signal's exit
/// status, a prompt stop, the reason on stderr, and no nftables table left.
fn check_stopped(lab: &Lab, what: &str, name: &str, code: i32, took: Duration, out: &Output) {
    let stderr = text(&out.stderr);
    eprintln!(
        "{what}, {name}: exit {:?} {took:?} after the signal",
        out.status.code()
    );
    support::assert_exit_for(out, code, &format!("{what}, {name}"));
    assert!(
        took < Duration::from_secs(1),
        "{what}, {name}: stopped {took:?} after the signal"
    );
    assert!(
        stderr.contains(&format!("interrupted by {name}")),
        "{what}: {stderr}"
    );
    assert!(
        !lab.c1_tables().contains("synlab_probe_"),
        "{what}, {name}: nftables table left behind"
    );
}

fn table_installed(lab: &Lab) -> bool {
    wait_for(Duration::from_secs(5), || {
        lab.c1_tables().contains("synlab_probe_")
    })
}

/// Regression: SIGHUP left the RST table behind, and Ctrl-C during
/// `bisect --target` became a failed probe the search retried (the run
/// could exit 0 with a conclusion). Each stop signal, sent mid-run to
/// probe, bisect and capture: exit 128+N within a second, no table, no
/// conclusion.
#[test]
fn stop_signals_end_live_commands_cleanly() {
    let Some(lab) = Lab::up("lsig", 220) else {
        return;
    };
    let tmp = TempDir::new("lsig");
    let target = lab.srv(false, 80);
    lab.rule("tcp flags syn / syn,ack ip ttl 127 drop");
    for (signal, name, code) in SIGNALS {
        // probe: 1000 probes at 10/s would take 100 s.
        let child = spawn(
            &lab,
            &Args::probe("linux", &target)
                .args(&["--count", "1000", "--rate", "10", "--suppress-rst"])
                .strs(),
        );
        assert!(table_installed(&lab), "probe: the nft table never appeared");
        std::thread::sleep(Duration::from_millis(300));
        let (took, out) = stop(child, signal);
        check_stopped(&lab, "probe", name, code, took, &out);

        // bisect: slow on purpose (5 probes/s), so the signal lands mid-search.
        let child = spawn(
            &lab,
            &Args::bisect("linux", "windows-10")
                .target(&target)
                .args(&["--rate", "5", "--suppress-rst"])
                .strs(),
        );
        assert!(
            table_installed(&lab),
            "bisect: the nft table never appeared"
        );
        std::thread::sleep(Duration::from_millis(700));
        let (took, out) = stop(child, signal);
        check_stopped(&lab, "bisect", name, code, took, &out);
        let stdout = text(&out.stdout);
        assert!(
            !stdout.contains("culprit"),
            "bisect printed a conclusion: {stdout}"
        );
        let stderr = text(&out.stderr);
        assert!(stderr.contains("without a conclusion"), "{stderr}");

        // capture: 30 s unless stopped; the pcap is still complete.
        let pcap = tmp.join(&format!("{name}.pcap"));
        let child = spawn(
            &lab,
            &[
                "capture",
                "--iface",
                lab.var("LAB_C1_IF"),
                "--out",
                path_str(&pcap),
                "--duration",
                "30",
            ],
        );
        assert!(
            wait_for(Duration::from_secs(5), || pcap.exists()),
            "capture never created its file"
        );
        std::thread::sleep(Duration::from_millis(200));
        let (took, out) = stop(child, signal);
        check_stopped(&lab, "capture", name, code, took, &out);
        assert!(text(&out.stdout).starts_with("captured "), "{out:?}");
        let loaded = synlab::io::load::load(&pcap);
        assert!(
            loaded.as_ref().is_ok_and(|l| l.error.is_none()),
            "the pcap of an interrupted capture does not read back: {:?}",
            loaded.map(|l| l.error)
        );
    }
}

/// The example program `panic_with_session`, in target/PROFILE/examples:
/// `cargo build --release --examples` (scripts/test.sh does it) puts it
/// there by name; `cargo test` alone builds examples under hashed names, and
/// with `--all-targets` as a test harness too. The program is the one that
/// answers no arguments with its usage line.
fn panic_child_exe() -> std::path::PathBuf {
    let me = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    // target/PROFILE/deps/lab_live-HASH -> target/PROFILE/examples/
    let examples = me
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap_or_else(|| panic!("no profile directory above {}", me.display()))
        .join("examples");
    let entries = std::fs::read_dir(&examples)
        .unwrap_or_else(|e| panic!("{}: {e} (is the example built?)", examples.display()));
    let is_the_program = |path: &std::path::Path| {
        Command::new(path)
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| text(&o.stderr).contains("usage: panic_with_session"))
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let ours = name == "panic_with_session" || name.starts_with("panic_with_session-");
            ours && !name.contains('.')
        })
        .find(|p| is_the_program(p))
        .unwrap_or_else(|| {
            panic!(
                "no panic_with_session program in {}: run cargo build --release --examples \
                 (scripts/test.sh does)",
                examples.display()
            )
        })
}

/// A panic while a session holds its RST table: unwinding drops the
/// session, and the drop removes the table. The panicking program is the
/// example `panic_with_session`, run inside the lab namespace.
#[test]
fn a_panic_removes_the_table() {
    let Some(lab) = Lab::up("lpanic", 221) else {
        return;
    };
    let child = panic_child_exe();
    assert!(child.exists(), "{} is not built", child.display());
    let out = Command::new("timeout")
        .args(["30", "ip", "netns", "exec", lab.c1()])
        .arg(&child)
        .arg(lab.srv(false, 80))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", child.display()));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "the child did not panic: {stdout}");
    assert!(
        stderr.contains("deliberate panic"),
        "the child failed otherwise: {stdout}{stderr}"
    );
    assert!(
        stdout.contains("synlab_probe_"),
        "the table was never installed: {stdout}"
    );
    assert!(
        !lab.c1_tables().contains("synlab_probe_"),
        "a panic left the nftables table behind"
    );
}

/// Regression: a SIGKILL (no handler runs) left the RST table until the
/// next run. The table is owned by synlab's `nft -i` child now: when synlab
/// dies its pipe closes, nft exits, and the kernel drops the table.
#[test]
fn a_sigkill_leaves_no_table() {
    let Some(lab) = Lab::up("lkill", 223) else {
        return;
    };
    let target = lab.srv(false, 80);
    let child = spawn(
        &lab,
        &Args::probe("linux", &target)
            .args(&["--count", "1000", "--rate", "10", "--suppress-rst"])
            .strs(),
    );
    assert!(table_installed(&lab), "probe: the nft table never appeared");
    let (took, out) = stop(child, libc::SIGKILL);
    assert_eq!(out.status.code(), None, "not killed: {}", text(&out.stderr));
    let gone = wait_for(Duration::from_secs(2), || {
        !lab.c1_tables().contains("synlab_probe_")
    });
    eprintln!("SIGKILL: synlab gone {took:?} after the signal, table gone: {gone}");
    assert!(gone, "a SIGKILL left the nftables table behind");
}

/// `synlab bisect --json` from client 1; the report and the wall time.
fn timed_bisect(lab: &Lab, good: &str, bad: &str) -> (Json, Duration) {
    let target = lab.srv(false, 80);
    let args = Args::bisect(good, bad)
        .target(&target)
        .args(&["--suppress-rst"])
        .json();
    let t0 = Instant::now();
    let out = lab.synlab_exit(&args.strs(), 0);
    let wall = t0.elapsed();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})"));
    (doc, wall)
}

fn culprit_names(doc: &Json) -> Vec<String> {
    doc["culprits"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|set| set.as_array().into_iter().flatten())
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect()
}

/// How many differences the search varied (attributes that move together,
/// such as an option and the layout listing it, are one).
fn units(doc: &Json) -> usize {
    let mut units: Vec<u64> = doc["differences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["unit"].as_u64())
        .collect();
    units.sort_unstable();
    units.dedup();
    units.len()
}

fn capture_file(name: &str) -> String {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Issue 8's case: the two captured Linux stacks (four differences: TTL,
/// ECE, CWR and the options), a middlebox dropping SYNs without
/// SACK-permitted. One live session, waits from the measured RTT: at most
/// 3 s wall (it took 6.7 s with a session per batch and a one-second wait
/// for silence). Also the same pair with a TTL rule, and linux vs macos-14
/// (five differences) with a window rule.
#[test]
fn a_four_difference_search_takes_at_most_3_s() {
    let Some(lab) = Lab::up("lwall", 222) else {
        return;
    };
    let cases = [
        (
            "tcp flags syn / syn,ack tcp option sack-perm missing drop",
            capture_file("linux-default.pcap"),
            capture_file("linux-tuned.pcap"),
            "tcp.options.sack_perm",
        ),
        (
            "tcp flags syn / syn,ack ip ttl 127 drop",
            capture_file("linux-default.pcap"),
            capture_file("linux-tuned.pcap"),
            "ip.ttl",
        ),
        (
            "tcp flags syn / syn,ack tcp window 65535 drop",
            "linux".to_owned(),
            "macos-14".to_owned(),
            "tcp.window_size_value",
        ),
    ];
    for (rule, good, bad, culprit) in cases {
        lab.flush();
        lab.rule(rule);
        let (doc, wall) = timed_bisect(&lab, &good, &bad);
        let names = culprit_names(&doc);
        eprintln!(
            "rule {rule:?}: {} differences, {} probes in {} rounds, {:.2} s wall, culprits {names:?}",
            units(&doc),
            doc["probes"],
            doc["rounds"],
            wall.as_secs_f64()
        );
        assert!(names.iter().any(|n| n == culprit), "{doc}");
        assert!(
            wall <= Duration::from_secs(3),
            "rule {rule:?}: {:.2} s wall",
            wall.as_secs_f64()
        );
    }
}

/// Issue 22, item 9: `probe ... | head -3` went on sending for seconds
/// after the reader was gone. A broken pipe now stops the probes at once:
/// exit 141 (as for SIGPIPE), the nftables table removed.
#[test]
fn bug_a_broken_pipe_did_not_stop_the_probes() {
    use std::io::{BufRead, BufReader};
    let Some(lab) = Lab::up("lpipe", 226) else {
        return;
    };
    let target = lab.srv(false, 80);
    // 200 probes at 20/s: 10 s if nothing stops them.
    let mut child = spawn(
        &lab,
        &[
            "probe",
            "--profile",
            "linux",
            "--target",
            &target,
            "--count",
            "200",
            "--rate",
            "20",
            "--suppress-rst",
        ],
    );
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut rows = 0;
    while rows < 6 {
        match lines.next() {
            Some(Ok(_)) => rows += 1,
            other => panic!("probe output ended early: {other:?}"),
        }
    }
    assert!(table_installed(&lab), "the nft table never appeared");
    drop(lines); // the reader goes, as `head` does
    let t0 = Instant::now();
    let exited = wait_for(Duration::from_secs(5), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let took = t0.elapsed();
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("wait");
    let stderr = text(&out.stderr);
    assert!(exited, "probe still running 5 s after its reader left");
    eprintln!("probe stopped {took:?} after its reader left: {stderr}");
    assert!(took < Duration::from_secs(1), "stopped after {took:?}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(
        !lab.c1_tables().contains("synlab_probe_"),
        "table left behind"
    );
}

/// Issue 22, item 10: SIGINT during the first round of `bisect --target
/// --pcap F` left F with 0 packets, though what was recorded is kept: the
/// interrupted batch's frames are written now.
#[test]
fn bug_an_interrupted_first_round_left_the_pcap_empty() {
    let Some(lab) = Lab::up("lbpcap", 227) else {
        return;
    };
    let tmp = TempDir::new("lbpcap");
    let pcap = tmp.join("bisect.pcapng");
    let target = lab.srv(false, 80);
    // 2 probes/s: the first round (baselines) takes seconds.
    let child = spawn(
        &lab,
        &[
            "bisect",
            "--good",
            "linux",
            "--bad",
            "windows-10",
            "--target",
            &target,
            "--rate",
            "2",
            "--suppress-rst",
            "--pcap",
            path_str(&pcap),
        ],
    );
    assert!(
        table_installed(&lab),
        "bisect: the nft table never appeared"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let (took, out) = stop(child, libc::SIGINT);
    check_stopped(&lab, "bisect --pcap", "SIGINT", 130, took, &out);
    let loaded = synlab::io::load::load(&pcap).expect("the pcapng reads back");
    assert!(loaded.error.is_none(), "{:?}", loaded.error);
    assert!(
        loaded.packets >= 2,
        "{} packets: the interrupted round was not written",
        loaded.packets
    );
}

/// Issue 22, item 9, the silent case: against a target that never answers
/// no row is written until the end, so no write fails; the reader going
/// away is seen all the same (poll on standard output) and stops the probes.
#[test]
fn bug_a_reader_gone_during_a_silent_probe_did_not_stop_it() {
    use std::io::{BufRead, BufReader};
    let Some(lab) = Lab::up("lpipe2", 229) else {
        return;
    };
    lab.rule("tcp flags syn / syn,ack drop");
    let target = lab.srv(false, 80);
    let mut child = spawn(
        &lab,
        &[
            "probe",
            "--profile",
            "linux",
            "--target",
            &target,
            "--count",
            "200",
            "--rate",
            "20",
            "--suppress-rst",
        ],
    );
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    assert!(matches!(lines.next(), Some(Ok(_))), "no table header");
    assert!(table_installed(&lab), "the nft table never appeared");
    drop(lines);
    let t0 = Instant::now();
    let exited = wait_for(Duration::from_secs(5), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let took = t0.elapsed();
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("wait");
    let stderr = text(&out.stderr);
    assert!(exited, "probe still running 5 s after its reader left");
    eprintln!("silent probe stopped {took:?} after its reader left");
    assert!(took < Duration::from_secs(1), "stopped after {took:?}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(
        !lab.c1_tables().contains("synlab_probe_"),
        "table left behind"
    );
}
