//! `synlab sweep --exchange` in the namespace lab (issue 24): `lab.sh
//! fleet`'s 198.19.3.0/27 lets every handshake through but gives a
//! connection whose SYN had TTL 127 (windows-10's 128, one hop on) only
//! the server's first 8,000 bytes. A SYN sweep says `works` there; a sweep
//! of downloads says `broken` for windows-10, leaves no server socket
//! holding the connection (established, CLOSE-WAIT, FIN-WAIT; also when
//! stopped by SIGINT, status 130), and with `--bisect-broken` names
//! `ip.ttl`. The same stall over IPv6, at the server's own address, is
//! `broken` for windows-10 too (lab `sltest-sweepx6`, index 225).
//!
//! Root only (skips with the reason otherwise; fails under CI). The lab is
//! `sltest-sweepx` (index 250) and removed afterwards, also on failure;
//! probes go only to the lab's fleet and server, from inside its client
//! namespace.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use support::lab::{wait_for, Lab};
use support::{bin, stderr};

/// The stalling sub-prefix of `lab.sh fleet`.
const STALL: &str = "198.19.3.0/27";

/// What the stalling sub-prefix's addresses start with, as `ss` prints them.
const STALL_ADDRS: &str = "198.19.3.";

/// `lab.sh fleet` for this lab.
fn fleet(lab: &Lab) {
    let out = Command::new("timeout")
        .arg("60")
        .arg(support::root().join("scripts/lab.sh"))
        .arg("fleet")
        .env("LAB_PREFIX", &lab.prefix)
        .env("LAB_INDEX", lab.index.to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run lab.sh fleet: {e}"));
    support::assert_exit_for(&out, 0, "lab.sh fleet");
}

fn json_rows(out: &std::process::Output) -> Vec<Json> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}")))
        .collect()
}

/// The server's TCP connections on port 80 of the fleet still holding a
/// socket (`ss -tan` in its namespace): established, in CLOSE-WAIT, or
/// (a stalled download, its response written and the socket closed) in
/// FIN-WAIT-1 retransmitting into the drop. TIME-WAIT holds nothing; a
/// half-open SYN-RECV is not counted (the kernel resets it at its next
/// SYN-ACK once the RST rule is gone).
fn open_server_sockets(lab: &Lab, addr: &str) -> Vec<String> {
    const OPEN: [&str; 6] = [
        "ESTAB",
        "CLOSE-WAIT",
        "FIN-WAIT-1",
        "FIN-WAIT-2",
        "LAST-ACK",
        "CLOSING",
    ];
    let srv = lab.var("LAB_SRV_NS").to_owned();
    let out = lab.in_ns(&srv, 10, "ss", &["-tan"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(addr) && l.contains(":80 "))
        .filter(|l| OPEN.iter().any(|s| l.starts_with(s)))
        .map(str::to_owned)
        .collect()
}

/// None left, within two seconds (a last RST on its way).
fn assert_no_open_server_sockets(lab: &Lab, addr: &str, after: &str) {
    let clean = wait_for(Duration::from_secs(2), || {
        open_server_sockets(lab, addr).is_empty()
    });
    assert!(
        clean,
        "server sockets left after {after}:\n{}",
        open_server_sockets(lab, addr).join("\n")
    );
}

/// `synlab sweep` of `targets` on port 80, linux against windows-10,
/// JSON lines, and `extra`.
fn sweep_args<'a>(targets: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "sweep",
        "--targets",
        targets,
        "--port",
        "80",
        "--profile",
        "linux,windows-10",
        "--timeout",
        "0.5",
        "--jsonl",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn a_download_that_stalls_for_one_profile_is_broken_under_exchange_only() {
    let Some(lab) = Lab::up("sweepx", 250) else {
        return;
    };
    fleet(&lab);

    // SYNs only: every handshake works.
    let out = lab.in_ns(lab.c1(), 60, bin(), &sweep_args(STALL, &[]));
    support::assert_exit_for(&out, 0, "synlab sweep (SYNs)");
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 32, "one row per target");
    for r in &rows {
        assert_eq!(r["condition"], "works", "{r}");
    }

    // Downloads: windows-10's stall past 8,000 bytes. (A linux download
    // takes milliseconds; 0.5 s without progress leaves room for a loaded
    // CI machine.)
    let t0 = Instant::now();
    let exchange = [
        "--exchange",
        "http:/data.bin",
        "--stall-timeout",
        "0.5",
        "--window",
        "64",
    ];
    let out = lab.in_ns(lab.c1(), 60, bin(), &sweep_args(STALL, &exchange));
    support::assert_exit_for(&out, 1, "synlab sweep --exchange");
    let err = stderr(&out);
    eprintln!(
        "sweep --exchange of a /27: {:.2} s wall\n{err}",
        t0.elapsed().as_secs_f64()
    );
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 32, "one row per target");
    for r in &rows {
        assert_eq!(r["condition"], "broken", "{r}");
        assert_eq!(r["failing"], serde_json::json!(["windows-10"]), "{r}");
        let linux = &r["profiles"]["linux"];
        let windows = &r["profiles"]["windows-10"];
        assert_eq!(linux["pass"], true, "{r}");
        assert_eq!(windows["pass"], false, "{r}");
        assert!(linux["outcomes"]["complete"].as_u64() >= Some(7), "{r}");
        assert!(windows["outcomes"]["stalled"].as_u64() >= Some(7), "{r}");
        // The whole 16 KiB (and its head) for linux, less than 8,000 for
        // windows-10.
        let bytes = |p: &Json| -> Vec<u64> {
            p["bytes"]
                .as_array()
                .map(|a| a.iter().filter_map(Json::as_u64).collect())
                .unwrap_or_default()
        };
        assert!(bytes(linux).iter().all(|&b| b > 16384), "{r}");
        assert!(bytes(windows).iter().all(|&b| b < 8000), "{r}");
    }
    assert!(
        err.contains(&format!("32 targets in {STALL} broken for windows-10")),
        "the summary groups the /27: {err}"
    );
    assert_no_open_server_sockets(&lab, STALL_ADDRS, "a sweep --exchange");
    assert!(
        !lab.c1_tables().contains("synlab"),
        "the RST rule is removed: {}",
        lab.c1_tables()
    );

    ctrl_c_resets_open_exchanges(&lab);
    bisect_broken_names_the_ttl(&lab);
    capped_downloads_are_said(&lab);
}

/// `--max-bytes` below the stall's 8,000 bytes: every download ends
/// `complete` at the cap (so the /27 works), and each row says how many of
/// each profile's downloads were cut short, as the flag's help promises.
fn capped_downloads_are_said(lab: &Lab) {
    let args = sweep_args(
        STALL,
        &[
            "--exchange",
            "http:/data.bin",
            "--stall-timeout",
            "0.5",
            "--max-bytes",
            "4000",
        ],
    );
    let run = || {
        let out = lab.in_ns(lab.c1(), 60, bin(), &args);
        support::assert_exit_for(&out, 0, "sweep --exchange --max-bytes 4000");
        json_rows(&out)
    };
    let mut rows = run();
    // A SYN the lab lost (seen once in CI: one probe of 768 answered
    // nothing) makes its target `transient`, which is the sweep telling
    // the truth about that run; the caps are what this checks, so the
    // sweep runs once more, and that run must be clean.
    let lost = |rows: &[Json]| {
        rows.iter()
            .any(|r| r["condition"] == "transient" && r["failing"] == serde_json::json!([]))
    };
    if lost(&rows) {
        eprintln!("the lab lost a probe; the capped sweep runs once more");
        rows = run();
    }
    assert_eq!(rows.len(), 32, "one row per target");
    for r in &rows {
        assert_eq!(r["condition"], "works", "{r}");
        for name in ["linux", "windows-10"] {
            let p = &r["profiles"][name];
            assert_eq!(
                p["capped"], p["probes"],
                "every {name} download capped: {r}"
            );
        }
    }
    assert_no_open_server_sockets(lab, STALL_ADDRS, "a capped sweep --exchange");
}

/// SIGINT while downloads stall (a long stall timeout): status 130, the
/// decided rows and the summary, every open exchange reset (no server
/// socket left established or in CLOSE-WAIT) and the RST rule removed.
fn ctrl_c_resets_open_exchanges(lab: &Lab) {
    let args = sweep_args(
        STALL,
        &["--exchange", "http:/data.bin", "--stall-timeout", "20"],
    );
    let child = Command::new("ip")
        .args(["netns", "exec", lab.c1(), bin()])
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // windows-10's downloads are stalled, holding the server's sockets.
    let stalled = wait_for(Duration::from_secs(5), || {
        !open_server_sockets(lab, STALL_ADDRS).is_empty()
    });
    assert!(stalled, "no download open on the server");
    std::thread::sleep(Duration::from_millis(300));
    // `ip netns exec` execs synlab: the child is synlab itself.
    let pid = child.id().to_string();
    let kill = Command::new("kill").args(["-INT", &pid]).status();
    assert!(kill.is_ok_and(|s| s.success()), "kill -INT {pid}");
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    support::assert_exit_for(&out, 130, "sweep --exchange stopped by SIGINT");
    let err = stderr(&out);
    let rows = json_rows(&out).len();
    assert!(
        err.contains(&format!("interrupted: {rows} targets")),
        "{rows} rows: {err}"
    );
    assert_no_open_server_sockets(lab, STALL_ADDRS, "SIGINT");
    assert!(
        !lab.c1_tables().contains("synlab"),
        "the RST rule is removed: {}",
        lab.c1_tables()
    );
}

/// `--exchange --bisect-broken` on four targets: the search, with
/// downloads as its probes, names the SYN's TTL (what the middlebox
/// marks the connection by).
fn bisect_broken_names_the_ttl(lab: &Lab) {
    let args = sweep_args(
        "198.19.3.0/30",
        &[
            "--exchange",
            "http:/data.bin",
            "--stall-timeout",
            "0.5",
            "--bisect-broken",
        ],
    );
    let t0 = Instant::now();
    let out = lab.in_ns(lab.c1(), 60, bin(), &args);
    support::assert_exit_for(&out, 1, "synlab sweep --exchange --bisect-broken");
    let err = stderr(&out);
    eprintln!(
        "sweep --exchange --bisect-broken of a /30: {:.2} s wall\n{err}",
        t0.elapsed().as_secs_f64()
    );
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 4, "one row per target");
    for r in &rows {
        assert_eq!(r["condition"], "broken", "{r}");
        assert_eq!(r["culprits"], serde_json::json!([["ip.ttl"]]), "{r}");
    }
    assert_no_open_server_sockets(lab, STALL_ADDRS, "--bisect-broken");
}

/// The same download stall over IPv6, at the lab server's own address (the
/// fleet is IPv4 only): a connection whose SYN came with hop limit 127
/// (windows-10's 128, one hop on) gets only the server's first 8,000
/// bytes. The sweep of downloads says `broken` for windows-10 and leaves
/// no server socket open.
#[test]
fn a_download_that_stalls_over_ipv6_is_broken_for_that_profile() {
    let Some(lab) = Lab::up("sweepx6", 225) else {
        return;
    };
    let srv6 = lab.var("LAB_SRV_IP6").to_owned();
    lab.rule(&format!(
        "ip6 daddr {srv6} tcp flags & (syn | ack) == syn ip6 hoplimit 127 ct mark set 0x5"
    ));
    lab.rule(&format!(
        "ip6 saddr {srv6} ct mark 0x5 ct reply bytes > 8000 drop"
    ));
    let target = format!("{srv6}/128");
    let args = sweep_args(
        &target,
        &["--exchange", "http:/data.bin", "--stall-timeout", "0.5"],
    );
    let out = lab.in_ns(lab.c1(), 60, bin(), &args);
    support::assert_exit_for(&out, 1, "synlab sweep --exchange (IPv6)");
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 1, "one row for the one target");
    let r = &rows[0];
    assert_eq!(r["target"], srv6.as_str(), "{r}");
    assert_eq!(r["condition"], "broken", "{r}");
    assert_eq!(r["failing"], serde_json::json!(["windows-10"]), "{r}");
    let linux = &r["profiles"]["linux"];
    let windows = &r["profiles"]["windows-10"];
    assert!(linux["outcomes"]["complete"].as_u64() >= Some(3), "{r}");
    assert!(windows["outcomes"]["stalled"].as_u64() >= Some(3), "{r}");
    assert_no_open_server_sockets(&lab, &srv6, "an IPv6 sweep --exchange");
}
