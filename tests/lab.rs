//! Live probes and captures in the namespace lab (scripts/lab.sh).
//!
//! Root only: without root these tests print "skipping: needs root and
//! network namespaces" and pass; under CI (CI set) they fail instead. Every
//! test builds its own lab (own prefix and subnets, so they run in
//! parallel) and removes it afterwards, also when it fails. Probes go only
//! to the lab's server, from inside the lab's client namespace.

mod support;

use support::Args;

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value as Json;
use support::fixtures::builtin_profiles as profiles;
use support::lab::{can_run_lab, wait_for, Lab};
use support::{bin, path_str, TempDir};
use synlab::model::{Attributes, Field, Value};
use synlab::profile::Profile;

fn outcomes(doc: &Json) -> Vec<String> {
    doc["probes"]
        .as_array()
        .unwrap_or_else(|| panic!("no probes in {doc}"))
        .iter()
        .map(|p| p["outcome"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn attrs(v: &Json) -> Attributes {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("not attributes ({e}): {v}"))
}

/// Probe every profile at `target` and expect `want` from every probe.
fn every_profile_gets(lab: &Lab, target: &str, want: &str, count: &str) {
    for p in profiles() {
        let doc = lab.probe_json(&[
            "--profile",
            &p.name,
            "--target",
            target,
            "--count",
            count,
            "--timeout",
            "1",
        ]);
        let got = outcomes(&doc);
        assert!(
            got.iter().all(|o| o == want),
            "profile {} -> {target}: want {want} from every probe, got {got:?}",
            p.name
        );
    }
}

/// Open port, no rule: every profile gets a SYN-ACK, and the --pcap file
/// parses back (with synlab's own reader) to the same SYN and SYN-ACK
/// attributes the probe reported, and to the profile's attributes.
fn open_port_syn_ack_and_pcap(lab: &Lab, v6: bool, tmp: &TempDir) {
    let target = lab.srv(v6, 80);
    for p in profiles() {
        let pcap = tmp.join(&format!("{}-{}.pcap", p.name, if v6 { 6 } else { 4 }));
        let doc = lab.probe_json(&[
            "--profile",
            &p.name,
            "--target",
            &target,
            "--count",
            "3",
            "--pcap",
            path_str(&pcap),
        ]);
        assert_eq!(
            outcomes(&doc),
            vec!["syn-ack"; 3],
            "profile {} -> {target}",
            p.name
        );
        let loaded =
            synlab::io::load::load(&pcap).unwrap_or_else(|e| panic!("{}: {e}", pcap.display()));
        assert_eq!(loaded.attempts.len(), 3, "{}: attempts in the pcap", p.name);
        let want = synlab::probe::for_family(&p.attributes, v6);
        for (probe, attempt) in doc["probes"]
            .as_array()
            .unwrap_or_else(|| unreachable!())
            .iter()
            .zip(&loaded.attempts)
        {
            assert_eq!(
                attempt.outcome,
                synlab::handshake::Outcome::SynAck,
                "{}",
                p.name
            );
            let sent = attrs(&probe["syn"]);
            // The wire SYN is exactly the crafted one (header included).
            assert_eq!(attempt.syn, sent, "{}: SYN in pcap vs reported", p.name);
            assert_eq!(
                attempt.reply.as_ref(),
                Some(&attrs(&probe["reply"])),
                "{}: SYN-ACK in pcap vs reported",
                p.name
            );
            for (name, value) in want.iter() {
                assert_eq!(
                    attempt.syn.get(name),
                    Some(value),
                    "{}: {name} on the wire",
                    p.name
                );
            }
            let rtt = probe["rtt_ms"].as_f64().unwrap_or(-1.0);
            assert!(
                (0.0..1000.0).contains(&rtt),
                "{}: rtt {rtt} ms not plausible",
                p.name
            );
        }
    }
}

#[test]
fn open_port_every_profile_syn_ack_ipv4() {
    let Some(lab) = Lab::up("open4", 201) else {
        return;
    };
    let tmp = TempDir::new("open4");
    open_port_syn_ack_and_pcap(&lab, false, &tmp);
}

#[test]
fn open_port_every_profile_syn_ack_ipv6() {
    let Some(lab) = Lab::up("open6", 202) else {
        return;
    };
    let tmp = TempDir::new("open6");
    open_port_syn_ack_and_pcap(&lab, true, &tmp);
}

#[test]
fn closed_port_resets_and_reject_rule_icmp() {
    let Some(lab) = Lab::up("closed", 203) else {
        return;
    };
    for v6 in [false, true] {
        every_profile_gets(&lab, &lab.srv(v6, 81), "reset", "2");
    }
    lab.rule("tcp dport 80 reject with icmpx type admin-prohibited");
    for v6 in [false, true] {
        let target = lab.srv(v6, 80);
        every_profile_gets(&lab, &target, "icmp", "2");
        let doc = lab.probe_json(&["--profile", "linux", "--target", &target]);
        let p = &doc["probes"][0];
        // admin-prohibited: ICMP 3/13, ICMPv6 1/1, from the middlebox.
        let want = if v6 { (1, 1) } else { (3, 13) };
        assert_eq!(
            (p["icmp_type"].as_u64(), p["code"].as_u64()),
            (Some(want.0), Some(want.1)),
            "{p}"
        );
        let from = p["icmp_from"].as_str().unwrap_or("");
        let mb = if v6 {
            "2001:2:0:2031::1"
        } else {
            "198.18.203.1"
        };
        assert_eq!(from, mb);
    }
}

/// One middlebox drop rule on a SYN attribute, and which requested SYNs
/// carry that attribute.
struct DropCase {
    name: &'static str,
    rule: &'static str,
    carries: fn(&Attributes) -> bool,
    /// A variant of the first profile that carries the attribute, so each
    /// case has at least one probe that must go unanswered.
    variant: &'static [&'static str],
}

fn num(a: &Attributes, name: Field) -> Option<u64> {
    a.get(name).and_then(Value::as_u64)
}

fn layout_has(a: &Attributes, token: &str) -> bool {
    match a.get(Field::SynlabOptionsLayout) {
        Some(Value::Str(l)) => l.split(',').any(|t| t == token),
        _ => false,
    }
}

/// Only client SYNs: the rules must not catch the server's answers.
const SYN: &str = "tcp flags & (syn | ack) == syn";

fn drop_cases() -> Vec<DropCase> {
    vec![
        DropCase {
            name: "ttl 128",
            // The forward chain sees the TTL after the middlebox's decrement.
            rule: "ip ttl 127 tcp flags & (syn | ack) == syn drop",
            carries: |a| num(a, Field::IpTtl) == Some(128),
            variant: &["--set", "ip.ttl=128"],
        },
        DropCase {
            name: "no SACK-permitted",
            rule: "tcp flags & (syn | ack) == syn tcp option sack-perm missing drop",
            carries: |a| !layout_has(a, "sok"),
            variant: &[
                "--unset",
                "tcp.options.sack_perm",
                "--set",
                "synlab.options.layout=mss,nop,ws",
            ],
        },
        DropCase {
            name: "no timestamps",
            rule: "tcp flags & (syn | ack) == syn tcp option timestamp missing drop",
            carries: |a| !layout_has(a, "ts"),
            variant: &["--set", "synlab.options.layout=mss,sok,nop,nop,nop,ws"],
        },
        DropCase {
            name: "window 65535",
            rule: "tcp flags & (syn | ack) == syn tcp window 65535 drop",
            carries: |a| num(a, Field::TcpWindowSizeValue) == Some(65535),
            variant: &["--set", "tcp.window_size_value=65535"],
        },
        DropCase {
            name: "ECE+CWR",
            rule: "tcp flags & (syn | ack) == syn tcp flags & (ecn | cwr) == ecn | cwr drop",
            carries: |a| {
                num(a, Field::TcpFlagsEce) == Some(1) && num(a, Field::TcpFlagsCwr) == Some(1)
            },
            variant: &["--set", "tcp.flags.ece=true", "--set", "tcp.flags.cwr=true"],
        },
    ]
}

/// The attributes a variant asks for: the profile's with --set/--unset applied.
fn requested(p: &Profile, variant: &[&str]) -> Attributes {
    let mut a = p.attributes.clone();
    for pair in variant.chunks(2) {
        match pair {
            ["--unset", name] => {
                a.remove(name);
            }
            ["--set", kv] => {
                let (k, v) = kv.split_once('=').unwrap_or_else(|| unreachable!());
                let v = match v {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    v => v.parse().map_or_else(|_| Value::from(v), Value::Int),
                };
                let k: synlab::model::Attr = k.parse().unwrap_or_else(|e| panic!("{e}"));
                a.insert(k, v);
            }
            _ => unreachable!("bad variant {pair:?}"),
        }
    }
    // As probe does: presence attributes follow a layout set by hand.
    if variant.contains(&"--set")
        && variant
            .iter()
            .any(|v| v.starts_with("synlab.options.layout="))
    {
        synlab::model::craft::follow_layout(&mut a, &[]).unwrap_or_else(|e| panic!("{e}"));
    }
    a
}

#[test]
fn drop_rules_split_profiles_by_attribute() {
    let Some(lab) = Lab::up("drops", 204) else {
        return;
    };
    assert!(SYN.contains("syn"));
    let target = lab.srv(false, 80);
    let all = profiles();
    for case in drop_cases() {
        lab.flush();
        lab.rule(case.rule);
        let mut runs: Vec<(String, &Profile, &[&str])> =
            all.iter().map(|p| (p.name.clone(), p, &[][..])).collect();
        runs.push((format!("{}+variant", all[0].name), &all[0], case.variant));
        let mut carriers = 0;
        for (label, p, variant) in runs {
            let carries = (case.carries)(&requested(p, variant));
            carriers += usize::from(carries);
            let mut args = vec![
                "--profile",
                p.name.as_str(),
                "--target",
                &target,
                "--count",
                "2",
                "--timeout",
                "0.5",
            ];
            args.extend_from_slice(variant);
            let got = outcomes(&lab.probe_json(&args));
            let want = if carries { "no-reply" } else { "syn-ack" };
            assert!(
                got.iter().all(|o| o == want),
                "rule {:?} ({}): {label} carries it: {carries}; want {want}, got {got:?}",
                case.rule,
                case.name
            );
        }
        assert!(
            carriers >= 1,
            "{}: no probe carried the attribute",
            case.name
        );
    }
}

/// The kernel RSTs every SYN-ACK; --suppress-rst drops exactly those, with a
/// table that is gone afterwards, also after Ctrl-C.
#[test]
fn suppress_rst_is_scoped_and_removed() {
    let Some(lab) = Lab::up("rst", 205) else {
        return;
    };
    let tmp = TempDir::new("rst");
    let target = lab.srv(false, 80);
    let rsts_from_us = |pcap: &std::path::Path| {
        let loaded = synlab::io::load::load(pcap).unwrap_or_else(|e| panic!("{e}"));
        loaded
            .attempts
            .iter()
            .filter(|a| a.end == synlab::handshake::FlowEnd::Rst)
            .count()
    };
    let plain = tmp.join("plain.pcap");
    let doc = lab.probe_json(&[
        "--profile",
        "linux",
        "--target",
        &target,
        "--count",
        "3",
        "--pcap",
        path_str(&plain),
    ]);
    assert_eq!(outcomes(&doc), vec!["syn-ack"; 3]);
    assert_eq!(rsts_from_us(&plain), 3, "the kernel's RSTs are in the pcap");

    let quiet = tmp.join("quiet.pcap");
    let doc = lab.probe_json(&[
        "--profile",
        "linux",
        "--target",
        &target,
        "--count",
        "3",
        "--suppress-rst",
        "--pcap",
        path_str(&quiet),
    ]);
    assert_eq!(outcomes(&doc), vec!["syn-ack"; 3]);
    assert!(doc["rst_suppressed_by"]
        .as_str()
        .is_some_and(|t| t.starts_with("table inet synlab_probe_")));
    assert_eq!(rsts_from_us(&quiet), 0, "RSTs were suppressed");
    assert!(!lab.c1_tables().contains("synlab_probe_"));

    // Ctrl-C in the middle of a run: the rule goes away.
    let mut child = Command::new("ip")
        .args(["netns", "exec", lab.c1(), bin(), "probe"])
        .args(["--profile", "linux", "--target", &target])
        .args(["--count", "100", "--rate", "10", "--suppress-rst"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let pid = child.id();
    let installed = wait_for(Duration::from_secs(5), || {
        lab.c1_tables().contains("synlab_probe_")
    });
    // SAFETY: kill(2) on our own child's pid (ip netns exec execs synlab).
    let sent = unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
    let exited = wait_for(Duration::from_secs(5), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !exited {
        let _ = child.kill();
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(installed, "the nft table never appeared");
    assert_eq!(sent, 0);
    assert!(exited, "probe did not stop on SIGINT");
    support::assert_exit_for(&out, 130, "128 + SIGINT");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    assert!(
        !lab.c1_tables().contains("synlab_probe_"),
        "table left behind"
    );
}

#[test]
fn capture_writes_a_pcap_that_tshark_reads() {
    let Some(lab) = Lab::up("cap", 206) else {
        return;
    };
    let tmp = TempDir::new("cap");
    let pcap = tmp.join("cap.pcap");
    let child = Command::new("timeout")
        .args(["20", "ip", "netns", "exec", lab.c1(), bin(), "capture"])
        .args(["--iface", lab.var("LAB_C1_IF"), "--port", "80"])
        .args(["--out", path_str(&pcap), "--duration", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    std::thread::sleep(Duration::from_millis(500));
    let url = format!("http://{}/data.bin", lab.var("LAB_SRV_IP"));
    let curl = lab.in_ns(
        lab.c1(),
        10,
        "curl",
        &["-sf", "--max-time", "1", "-o", "/dev/null", &url],
    );
    support::assert_exit_for(&curl, 0, "curl failed");
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    support::assert_exit(&out, 0);
    assert!(stdout.starts_with("captured "), "{stdout}");
    let loaded = synlab::io::load::load(&pcap).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.attempts.len(), 1);
    assert!(loaded.attempts[0].established);
    let tshark = Command::new("tshark")
        .args(["-r", path_str(&pcap), "-T", "fields", "-e", "tcp.dstport"])
        .output();
    match tshark {
        Ok(t) if t.status.success() => {
            let lines = String::from_utf8_lossy(&t.stdout).lines().count();
            assert_eq!(lines as u64, loaded.packets, "tshark and synlab disagree");
        }
        Ok(t) => panic!("tshark failed: {}", String::from_utf8_lossy(&t.stderr)),
        Err(e) => eprintln!("tshark not available ({e}); checked with synlab's reader only"),
    }

    // --count stops early.
    let pcap2 = tmp.join("count.pcap");
    let pinger = std::thread::spawn({
        let ns = lab.c1().to_owned();
        let url = url.clone();
        move || {
            std::thread::sleep(Duration::from_millis(300));
            let _ = Command::new("timeout")
                .args([
                    "5",
                    "ip",
                    "netns",
                    "exec",
                    &ns,
                    "curl",
                    "-s",
                    "--max-time",
                    "1",
                ])
                .args(["-o", "/dev/null", &url])
                .output();
        }
    });
    let started = std::time::Instant::now();
    let out = lab.synlab(&[
        "capture",
        "--iface",
        lab.var("LAB_C1_IF"),
        "--port",
        "80",
        "--count",
        "3",
        "--out",
        path_str(&pcap2),
        "--duration",
        "10",
    ]);
    let _ = pinger.join();
    support::assert_exit(&out, 0);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "--count did not stop it"
    );
    let loaded = synlab::io::load::load(&pcap2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.packets, 3);
}

/// Without CAP_NET_RAW: one line saying what to do, exit 2. As root the
/// capability is taken away with setpriv; otherwise the user lacks it.
#[test]
fn probe_without_privileges_exits_2() {
    let args = Args::probe("linux", "127.0.0.1:9").args(&["--timeout", "0.1"]);
    let out = if support::lab::is_root() {
        Command::new("setpriv")
            .args([
                "--bounding-set",
                "-net_raw,-net_admin",
                "--inh-caps",
                "-all",
            ])
            .arg(bin())
            .args(args.strs())
            .output()
    } else {
        Command::new(bin()).args(args.strs()).output()
    };
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipping: cannot run setpriv ({e})");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    support::assert_exit(&out, 2);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("CAP_NET_RAW"), "{stderr}");
    assert!(stderr.contains("setcap cap_net_raw+ep"), "{stderr}");
}

/// Outside a lab namespace, a lab-range target is refused before
/// anything is sent. Runs only where synlab can tell it is in the initial
/// namespace (else the refusal is for another reason, also tested in unit tests).
#[test]
fn probe_refuses_a_non_lab_target_outside_a_lab() {
    if !can_run_lab("probe_refuses_a_non_lab_target_outside_a_lab") {
        return;
    }
    if synlab::io::raw::in_initial_netns() != Some(true) {
        eprintln!("skipping: not in the initial network namespace");
        return;
    }
    // 198.18.250.1 is benchmark space (no lab uses index 250 here); the
    // guard refuses before any socket is opened. Belt and braces: synlab
    // runs without CAP_NET_RAW here, so it could not send even if it tried.
    let out = Command::new("setpriv")
        .args([
            "--bounding-set",
            "-net_raw,-net_admin",
            "--inh-caps",
            "-all",
        ])
        .arg(bin())
        .args(
            Args::probe("linux", "198.18.250.1:80")
                .args(&["--timeout", "0.1"])
                .strs(),
        )
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    support::assert_exit(&out, 2);
    assert!(
        stderr.contains("refusing to probe 198.18.250.1"),
        "{stderr}"
    );
    assert!(stderr.contains("--i-own-this-network"), "{stderr}");
}

/// `probe` prints each row as its answer arrives, not all at the end
/// (issue 11): at one probe a second, probe 0's row is on stdout well
/// before the run ends; and every probe answered exits 0.
#[test]
fn probe_prints_rows_as_answers_arrive() {
    use std::io::{BufRead, BufReader};
    use std::time::Instant;
    let Some(lab) = Lab::up("stream", 249) else {
        return;
    };
    let target = lab.srv(false, 80);
    let start = Instant::now();
    let mut child = Command::new("ip")
        .args(["netns", "exec", lab.c1(), bin(), "probe"])
        .args(["--profile", "linux", "--target", &target])
        .args(["--count", "3", "--rate", "1", "--timeout", "1"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_else(|e| panic!("read: {e}"));
        lines.push((start.elapsed(), line));
    }
    let ended = start.elapsed();
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    let text: String = lines.iter().map(|(t, l)| format!("{t:?}\t{l}\n")).collect();
    support::assert_exit_for(&out, 0, &text);
    let row = |i: usize| {
        lines
            .iter()
            .find(|(_, l)| l.trim_start().starts_with(&format!("{i} ")))
            .unwrap_or_else(|| panic!("no row {i}:\n{text}"))
    };
    assert!(row(0).1.contains("syn-ack"), "{text}");
    assert!(
        row(0).0 + Duration::from_millis(1500) < ended,
        "row 0 came at the end:\n{text}"
    );
    assert!(row(0).0 < row(2).0, "{text}");
}
