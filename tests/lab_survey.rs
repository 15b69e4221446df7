//! `synlab survey` and `synlab matrix` in the namespace lab (issue 12): two
//! client namespaces are two vantages; the middlebox drops one OS family's
//! SYNs (TTL 128: Windows) from client 2 only. Both surveys, then the
//! matrix: exactly the Windows cells of client 2 fail, the finding names
//! the family, and the bisect it suggests, run from client 2, names ip.ttl.
//!
//! Root only: without root these tests print why they skip; under CI they
//! fail instead. Each test builds its own lab (`sltest-s*`, indexes 217-218)
//! and removes it afterwards, also on failure. Probes go only to the lab's
//! server, from inside the lab's client namespaces.

mod support;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use support::lab::{wait_for, Lab};
use support::{bin, stderr, stdout, TempDir};

/// `synlab ARGS` inside namespace `ns`, at most 60 s.
fn synlab_in(lab: &Lab, ns: &str, args: &[&str]) -> Output {
    lab.in_ns(ns, 60, bin(), args)
}

/// Survey every profile from `ns` as vantage `name`, 3 probes each; the
/// document is written to `file`. The wall time is printed.
fn survey(lab: &Lab, ns: &str, name: &str, file: &str) -> Json {
    let target = lab.srv(false, 80);
    let args = [
        "survey",
        "--target",
        &target,
        "--vantage",
        name,
        "--count",
        "3",
        "--json",
    ];
    let t0 = Instant::now();
    let out = synlab_in(lab, ns, &args);
    let wall = t0.elapsed();
    support::assert_exit_for(&out, 0, &format!("synlab {} in {ns}", args.join(" ")));
    std::fs::write(file, &out.stdout).unwrap_or_else(|e| panic!("{file}: {e}"));
    let doc: Json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    eprintln!(
        "survey from {name}: {} profiles x 3 probes, {:.2} s wall ({:.2} s probing)",
        doc["profiles"].as_array().map_or(0, Vec::len),
        wall.as_secs_f64(),
        doc["elapsed_s"].as_f64().unwrap_or(f64::NAN)
    );
    doc
}

#[test]
fn a_family_dropped_from_one_vantage_is_found_and_bisected() {
    let Some(lab) = Lab::up("survey", 217) else {
        return;
    };
    // TTL 128 arrives at the middlebox's forward hook as 127.
    lab.rule(&format!(
        "ip saddr {} ip ttl 127 drop",
        lab.var("LAB_C2_IP")
    ));
    let tmp = TempDir::new("survey");
    let (f1, f2, page) = (tmp.file("c1.json"), tmp.file("c2.json"), tmp.file("m.html"));
    let s1 = survey(&lab, lab.c1(), "c1", &f1);
    survey(&lab, lab.c2(), "c2", &f2);
    assert_eq!(s1["schema"], "synlab.survey/1");
    assert_eq!(s1["vantage"], "c1");
    assert!(s1["profiles"][0]["p0f"].is_string(), "{s1}");

    let out = Command::new(bin())
        .args(["matrix", &f1, &f2, "--json", "--html", &page])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("synlab matrix: {e}"));
    support::assert_exit_for(&out, 1, "synlab matrix (a failing cell: exit 1)");
    let m: Json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));

    let failing: BTreeSet<(String, String)> = m["cells"]
        .as_array()
        .unwrap_or_else(|| panic!("no cells: {m}"))
        .iter()
        .filter(|c| c["pass_rate"] != 1.0)
        .map(|c| (c["vantage"].to_string(), c["profile"].to_string()))
        .collect();
    // Every Windows profile (TTL 128), from c2 only.
    let profiles = m["profiles"].as_array().unwrap_or_else(|| panic!("{m}"));
    let families = m["families"].as_array().unwrap_or_else(|| panic!("{m}"));
    let want: BTreeSet<(String, String)> = profiles
        .iter()
        .zip(families)
        .filter(|(_, f)| *f == "Windows")
        .map(|(p, _)| ("\"c2\"".to_owned(), p.to_string()))
        .collect();
    assert!(want.len() >= 2, "{m}");
    assert_eq!(failing, want, "{m}");
    assert_eq!(
        m["cells"].as_array().map(Vec::len),
        Some(2 * profiles.len()),
        "{m}"
    );
    assert_eq!(m["findings"][0]["finding"], "family-fails", "{m}");
    assert_eq!(m["findings"][0]["family"], "Windows", "{m}");
    assert_eq!(m["findings"][0]["failing"], serde_json::json!(["c2"]));
    assert_eq!(m["findings"][0]["passing"], serde_json::json!(["c1"]));
    assert_eq!(m["findings"].as_array().map(Vec::len), Some(1), "{m}");
    let page = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{e}"));
    assert!(page.contains("hsl(0, 70%, 80%)") && !page.contains("<script"));

    // The suggested bisect, run from the failing vantage, names the TTL.
    let next = &m["next"][0];
    assert_eq!(next["vantage"], "c2", "{m}");
    let command = next["command"].as_str().unwrap_or_else(|| panic!("{m}"));
    let mut args: Vec<&str> = command.split(' ').skip(1).collect();
    args.push("--json");
    let t0 = Instant::now();
    let out = synlab_in(&lab, lab.c2(), &args);
    support::assert_exit_for(&out, 0, command);
    let doc: Json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(doc["culprits"], serde_json::json!([["ip.ttl"]]), "{doc}");
    eprintln!(
        "{command}: culprit ip.ttl in {:.2} s, {} probes",
        t0.elapsed().as_secs_f64(),
        doc["probes"]
    );
}

/// Ctrl-C in the middle of a survey: exit 130, nothing printed, the RST
/// rule removed.
#[test]
fn ctrl_c_stops_a_survey_and_concludes_nothing() {
    let Some(lab) = Lab::up("survint", 218) else {
        return;
    };
    let target = lab.srv(false, 80);
    let mut child = Command::new("ip")
        .args(["netns", "exec", lab.c1(), bin(), "survey"])
        .args(["--target", &target, "--vantage", "c1"])
        .args(["--count", "20", "--rate", "10", "--suppress-rst"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let installed = wait_for(Duration::from_secs(5), || {
        lab.c1_tables().contains("synlab_probe_")
    });
    // SAFETY: kill(2) on our own child's pid (ip netns exec execs synlab).
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
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
    assert!(exited, "survey did not stop on SIGINT");
    support::assert_exit_for(&out, 130, "survey stopped by SIGINT");
    assert!(
        stdout(&out).is_empty(),
        "concluded anyway: {}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("interrupted by SIGINT"));
    assert!(
        !lab.c1_tables().contains("synlab_probe_"),
        "table left behind"
    );
}
