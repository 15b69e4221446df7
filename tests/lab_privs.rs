//! Privileges, the lab guard and the nftables helper, in the namespace lab
//! (scripts/lab.sh): issue 10, items 6 and 7.
//!
//! Root only: without root these tests print why and pass; under CI they
//! fail instead. Each builds its own lab and removes it afterwards. Probes
//! go only to the lab's server, from inside the lab's client namespace;
//! the refusal tests also run without CAP_NET_RAW, so a regression of the
//! guard could not send anything either.

mod support;

use support::Args;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use support::lab::{wait_for, Lab};
use support::{bin, path_str, TempDir};
use synlab::io::privilege::{parse_status, CapMask, CapSets};

/// CAP_NET_ADMIN's bit in /proc/PID/status.
const NET_ADMIN: CapMask = CapMask(1 << 12);
/// The user the setcap'd binary runs as.
const NOBODY: &str = "65534";

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `synlab probe` in client 1 with CAP_NET_RAW and CAP_NET_ADMIN taken
/// away: whatever the guard decides, nothing can be sent.
fn probe_unprivileged(lab: &Lab, target: &str) -> Output {
    Command::new("timeout")
        .args(["20", "ip", "netns", "exec", lab.c1(), "setpriv"])
        .args([
            "--bounding-set",
            "-net_raw,-net_admin",
            "--inh-caps",
            "-all",
        ])
        .arg(bin())
        .args(
            Args::probe("linux", target)
                .args(&["--timeout", "0.1"])
                .strs(),
        )
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("setpriv: {e}"))
}

/// Regression (issue 10 item 7): any namespace other than the initial one
/// counted as a lab, so from a container (here: the lab's client, which has
/// a default route) `probe --target 8.8.8.8:80` was sent with no flag.
#[test]
fn a_namespace_with_a_default_route_is_not_a_lab() {
    let Some(lab) = Lab::up("guardns", 230) else {
        return;
    };
    for (target, ip) in [
        ("8.8.8.8:80", "8.8.8.8"),
        ("[2606:4700::1111]:80", "2606:4700::1111"),
        ("10.0.0.1:80", "10.0.0.1"),
    ] {
        let out = probe_unprivileged(&lab, target);
        let err = stderr(&out);
        support::assert_exit_for(&out, 2, target);
        assert!(
            err.contains(&format!(
                "refusing to probe {ip}: it is neither loopback nor in the benchmarking ranges \
                 198.18.0.0/15 and 2001:2::/48"
            )),
            "{err}"
        );
        assert!(err.contains("--i-own-this-network"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // The lab's own addresses, both families, are probed as before.
    for v6 in [false, true] {
        let doc = lab.probe_json(&["--profile", "linux", "--target", &lab.srv(v6, 80)]);
        assert_eq!(doc["probes"][0]["outcome"], "syn-ack", "{doc}");
    }
}

/// Outside any namespace, even the lab's ranges are refused: the lab has
/// nothing there, and some proxies answer 198.18.0.0/15 in the initial
/// namespace and forward to the real destination.
#[test]
fn lab_ranges_are_refused_in_the_initial_namespace() {
    if !support::lab::can_run_lab("lab_ranges_are_refused_in_the_initial_namespace") {
        return;
    }
    if synlab::io::raw::in_initial_netns() != Some(true) {
        eprintln!("skipping: not in the initial network namespace");
        return;
    }
    for (target, ip) in [
        ("198.18.250.1:80", "198.18.250.1"),
        ("[2001:2:0:2501::1]:80", "2001:2:0:2501::1"),
    ] {
        let out = Command::new("setpriv")
            .args([
                "--bounding-set",
                "-net_raw,-net_admin",
                "--inh-caps",
                "-all",
            ])
            .arg(bin())
            .args(
                Args::probe("linux", target)
                    .args(&["--timeout", "0.1"])
                    .strs(),
            )
            .output()
            .unwrap_or_else(|e| panic!("setpriv: {e}"));
        let err = stderr(&out);
        support::assert_exit(&out, 2);
        assert!(
            err.contains(&format!(
                "refusing to probe {ip}: it is in the lab's ranges, but synlab runs in the \
                 initial network namespace"
            )),
            "{err}"
        );
        assert!(err.contains("--i-own-this-network"), "{err}");
    }
}

/// The capability sets of every thread of process `pid`.
fn thread_caps(pid: u32) -> Vec<(String, CapSets)> {
    let mut all = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return all;
    };
    for entry in dir.flatten() {
        let tid = entry.file_name().to_string_lossy().into_owned();
        if let Some(sets) = std::fs::read_to_string(entry.path().join("status"))
            .ok()
            .as_deref()
            .and_then(parse_status)
        {
            all.push((tid, sets));
        }
    }
    all
}

fn spawn_in_c1(lab: &Lab, program: &str, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", lab.c1(), program])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"))
}

/// Waits for `child` (at most 20 s, then kills it).
fn finish(mut child: Child) -> Output {
    let done = wait_for(Duration::from_secs(20), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !done {
        let _ = child.kill();
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"))
}

/// Runs `LAUNCHER... SYNLAB probe` of a silent port in client 1 and reads
/// every thread's capability sets once the probe waits for its answer:
/// once the nft table is in place (with --suppress-rst), or its receive
/// thread runs (without). Both happen after the sockets are open and the
/// privileges lowered, and before the first frame is read. The launcher
/// (setpriv) execs synlab, so the child's pid is synlab's.
fn caps_while_probing(
    lab: &Lab,
    launcher: &[&str],
    synlab: &str,
    suppress_rst: bool,
) -> Vec<(String, CapSets)> {
    let target = lab.srv(false, 82);
    let probe = Args::probe("linux", &target).args(&["--timeout", "3", "--json"]);
    let mut args = launcher.to_vec();
    args.push(synlab);
    args.extend(probe.strs());
    if suppress_rst {
        args.push("--suppress-rst");
    }
    let child = spawn_in_c1(lab, args[0], &args[1..]);
    let pid = child.id();
    let ready = wait_for(Duration::from_secs(5), || {
        if suppress_rst {
            lab.c1_tables().contains("synlab_probe_")
        } else {
            thread_caps(pid).len() >= 2
        }
    });
    let caps = thread_caps(pid);
    let out = finish(child);
    assert!(ready, "the probe never got going: {}", stderr(&out));
    // The dropped probe goes unanswered: probe's exit status says so.
    support::assert_exit(&out, 1);
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})"));
    assert_eq!(doc["probes"][0]["outcome"], "no-reply", "{doc}");
    assert!(
        !lab.c1_tables().contains("synlab_probe_"),
        "the table outlived the run: {}",
        lab.c1_tables()
    );
    caps
}

/// Prints what a test saw, so the log shows the sets.
fn show(who: &str, caps: &[(String, CapSets)]) {
    for (tid, s) in caps {
        eprintln!(
            "{who} thread {tid}: eff {} prm {} inh {} amb {} bnd {}",
            s.effective.names(),
            s.permitted.names(),
            s.inheritable.names(),
            s.ambient.names(),
            if s.bounding.0 == 0 { "(none)" } else { "…" }
        );
    }
}

/// Regression (issue 10 item 6): as root only CAP_NET_RAW left the
/// effective set; CAP_NET_ADMIN, CAP_SYS_ADMIN and the rest stayed while
/// frames from the wire were parsed.
#[test]
fn root_holds_only_what_the_table_needs_while_probing() {
    let Some(lab) = Lab::up("privroot", 231) else {
        return;
    };
    lab.rule("tcp dport 82 drop");
    // No table: nothing at all, in any set, on any thread.
    let caps = caps_while_probing(&lab, &[], bin(), false);
    show("root", &caps);
    assert!(caps.len() >= 2, "{caps:?}");
    for (tid, s) in &caps {
        let none = CapSets::default();
        assert_eq!(*s, none, "thread {tid} holds capabilities");
    }
    // A table: CAP_NET_ADMIN to remove it (permitted, inheritable, ambient,
    // bounding), still nothing effective.
    let caps = caps_while_probing(&lab, &[], bin(), true);
    show("root --suppress-rst", &caps);
    for (tid, s) in &caps {
        let admin_only = CapSets {
            inheritable: NET_ADMIN,
            permitted: NET_ADMIN,
            effective: CapMask::NONE,
            bounding: NET_ADMIN,
            ambient: NET_ADMIN,
        };
        assert_eq!(*s, admin_only, "thread {tid}");
    }
}

/// Regression (issue 10 item 6): a setcap'd binary run by a user kept
/// CAP_NET_RAW permitted, so it could raise it again. Also: its `nft`
/// child now gets CAP_NET_ADMIN (ambient), so --suppress-rst works for it.
#[test]
fn a_setcap_binary_run_by_a_user_cannot_raise_net_raw_again() {
    let Some(lab) = Lab::up("privcap", 232) else {
        return;
    };
    lab.rule("tcp dport 82 drop");
    let tmp = TempDir::new("privcap");
    let copy = tmp.join("synlab");
    std::fs::copy(bin(), &copy).unwrap_or_else(|e| panic!("copy: {e}"));
    let setcap = Command::new("setcap")
        .args(["cap_net_raw,cap_net_admin+ep", path_str(&copy)])
        .output()
        .unwrap_or_else(|e| panic!("setcap: {e}"));
    support::assert_exit_for(&setcap, 0, "setcap");
    // The user must reach the copy: TempDir is 0755 under /tmp.
    let as_nobody = [
        "setpriv",
        "--reuid",
        NOBODY,
        "--regid",
        NOBODY,
        "--clear-groups",
    ];
    for suppress in [false, true] {
        let caps = caps_while_probing(&lab, &as_nobody, path_str(&copy), suppress);
        show("nobody", &caps);
        let want = if suppress { NET_ADMIN } else { CapMask::NONE };
        for (tid, s) in &caps {
            assert_eq!(s.effective, CapMask::NONE, "thread {tid}");
            assert_eq!(
                s.permitted, want,
                "thread {tid}: CAP_NET_RAW still permitted?"
            );
            assert_eq!(s.inheritable, want, "thread {tid}");
            assert_eq!(s.ambient, want, "thread {tid}");
        }
    }
}

/// Regression (issue 10 item 7): `nft` was looked up in PATH by a root
/// process. A fake `nft` first in PATH must never run.
#[test]
fn nft_is_never_taken_from_path() {
    let Some(lab) = Lab::up("nftpath", 233) else {
        return;
    };
    let tmp = TempDir::new("nftpath");
    let marker = tmp.join("fake-nft-ran");
    let fake = tmp.join("nft");
    let script = format!("#!/bin/sh\ntouch '{}'\nexit 1\n", path_str(&marker));
    std::fs::write(&fake, script).unwrap_or_else(|e| panic!("{e}"));
    let chmod = Command::new("chmod")
        .args(["755", path_str(&fake)])
        .status();
    assert!(chmod.is_ok_and(|s| s.success()));
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", path_str(tmp.path()));
    let target = lab.srv(false, 80);
    let out = lab.in_ns(
        lab.c1(),
        30,
        "env",
        &[
            &format!("PATH={path}"),
            bin(),
            "probe",
            "--profile",
            "linux",
            "--target",
            &target,
            "--suppress-rst",
            "--json",
        ],
    );
    support::assert_exit(&out, 0);
    assert!(!marker.exists(), "the fake nft in PATH ran");
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})"));
    assert_eq!(doc["probes"][0]["outcome"], "syn-ack", "{doc}");
    assert!(!lab.c1_tables().contains("synlab_probe_"));
}

/// The start time (field 22 of /proc/PID/stat) of a process.
fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}"));
    synlab::io::nft::start_time(&stat).unwrap_or_else(|| panic!("no start time in {stat}"))
}

fn pid_ns() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid")
        .unwrap_or_else(|e| panic!("{e}"))
        .ino()
}

fn tables(lab: &Lab) -> BTreeSet<String> {
    lab.c1_tables()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("table inet "))
        .map(str::to_owned)
        .collect()
}

fn add_table(lab: &Lab, name: &str) {
    let out = lab.in_ns(lab.c1(), 10, "nft", &["add", "table", "inet", name]);
    support::assert_exit_for(&out, 0, &format!("nft add table {name}"));
}

fn probe_once(lab: &Lab) {
    let out = lab.synlab(&Args::probe("linux", &lab.srv(false, 80)).strs());
    support::assert_exit(&out, 0);
}

/// Regression (issue 10 items 5 and 7): a stale table was removed only by
/// a later run with --suppress-rst, and judged by whether its PID existed,
/// so PID reuse kept it. Every run now sweeps, by PID + start time + PID
/// namespace.
#[test]
fn every_run_removes_tables_of_runs_that_are_gone() {
    let Some(lab) = Lab::up("stale", 234) else {
        return;
    };
    // A live process to stand for a running synlab, and for a reused PID.
    let mut sleeper = Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap_or_else(|e| panic!("sleep: {e}"));
    let pid = sleeper.id();
    let start = start_time(pid);
    let ns = pid_ns();
    let live = format!("synlab_probe_{pid}_{start}_{ns}");
    let reused = format!("synlab_probe_{pid}_{}_{ns}", start.saturating_sub(1));
    let other_ns = format!("synlab_probe_{pid}_{}_{}", start.saturating_sub(1), ns + 1);
    let legacy_dead = "synlab_probe_4194304".to_owned(); // above pid_max's ceiling
    let legacy_live = format!("synlab_probe_{pid}");
    let lab_own = "synlab_lab".to_owned();
    for t in [
        &live,
        &reused,
        &other_ns,
        &legacy_dead,
        &legacy_live,
        &lab_own,
    ] {
        add_table(&lab, t);
    }
    probe_once(&lab);
    let left = tables(&lab);
    let kept: BTreeSet<String> = [&live, &other_ns, &legacy_live, &lab_own]
        .into_iter()
        .cloned()
        .collect();
    // The sleeper is gone next; only then may its tables go.
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert_eq!(left, kept, "after a run with the owner alive");
    probe_once(&lab);
    let left = tables(&lab);
    let kept: BTreeSet<String> = [&other_ns, &lab_own].into_iter().cloned().collect();
    assert_eq!(left, kept, "after a run with the owner gone");
}

/// A table made by a run in another PID namespace is not judged by a
/// stranger's PID: a run outside leaves it while its owner lives, and the
/// owner removes it at the end.
#[test]
fn a_run_in_another_pid_namespace_keeps_its_table() {
    let Some(lab) = Lab::up("pidns", 235) else {
        return;
    };
    lab.rule("tcp dport 82 drop");
    let target = lab.srv(false, 82);
    let inner = spawn_in_c1(
        &lab,
        "unshare",
        &[
            "--pid",
            "--fork",
            "--mount-proc",
            bin(),
            "probe",
            "--profile",
            "linux",
            "--target",
            &target,
            "--timeout",
            "3",
            "--suppress-rst",
        ],
    );
    let appeared = wait_for(Duration::from_secs(5), || {
        lab.c1_tables().contains("synlab_probe_")
    });
    // A run out here sweeps while the inner one waits for its answer.
    probe_once(&lab);
    let during = lab.c1_tables();
    let out = finish(inner);
    assert!(
        appeared,
        "the inner run's table never appeared: {}",
        stderr(&out)
    );
    assert!(
        during.contains("synlab_probe_1_"),
        "the inner run (PID 1 in its namespace) lost its table to the sweep: {during}"
    );
    // The dropped probe goes unanswered: probe's exit status says so.
    support::assert_exit(&out, 1);
    assert!(!lab.c1_tables().contains("synlab_probe_"), "table left");
}

/// `--pcap` is created before the privileges go: root without
/// CAP_DAC_OVERRIDE could not create it in another user's directory.
#[test]
fn the_pcap_is_created_before_privileges_are_dropped() {
    let Some(lab) = Lab::up("privpcap", 236) else {
        return;
    };
    let tmp = TempDir::new("privpcap");
    let dir = tmp.join("users-dir");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let chown = Command::new("chown")
        .args([&format!("{NOBODY}:{NOBODY}"), path_str(&dir)])
        .status();
    assert!(chown.is_ok_and(|s| s.success()));
    let pcap = dir.join("out.pcap");
    let doc = lab.probe_json(&[
        "--profile",
        "linux",
        "--target",
        &lab.srv(false, 80),
        "--pcap",
        path_str(&pcap),
    ]);
    assert_eq!(doc["probes"][0]["outcome"], "syn-ack", "{doc}");
    assert!(Path::new(&pcap).metadata().is_ok_and(|m| m.len() > 24));
}
