//! Cross-check: p0f classifies each built-in profile's crafted SYN as the
//! profile's `os_family`. Needs Debian's p0f (scripts/test.sh installs it);
//! without it the test skips with a reason, or fails when `CI` is set.

mod support;

use std::path::Path;
use std::process::Command;

use support::{require_tool, synlab_ok, TempDir};
use synlab::profile::builtin::BUILTIN;

const DB: &str = "/etc/p0f/p0f.fp";

/// Lower case without spaces: p0f says both "Mac OS X" and "MacOS X".
fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The `os = …` line of the first `(syn)` record p0f prints.
fn p0f_os(pcap: &str) -> (String, String) {
    let mut cmd = Command::new("p0f");
    if Path::new(DB).exists() {
        cmd.args(["-f", DB]);
    }
    let out = cmd
        .args(["-r", pcap])
        .output()
        .unwrap_or_else(|e| panic!("p0f: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut in_syn = false;
    let mut os = None;
    let mut raw = String::new();
    for line in text.lines() {
        if line.starts_with(".-[") {
            in_syn = line.ends_with("(syn) ]-");
        }
        let Some(rest) = line.strip_prefix("| ") else {
            continue;
        };
        let Some((key, value)) = rest.split_once('=') else {
            continue;
        };
        match key.trim() {
            "os" if in_syn && os.is_none() => os = Some(value.trim().to_owned()),
            "raw_sig" if in_syn && raw.is_empty() => raw = value.trim().to_owned(),
            _ => {}
        }
    }
    let os = os.unwrap_or_else(|| {
        panic!(
            "p0f printed no SYN record for {pcap}:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (os, raw)
}

#[test]
fn p0f_classifies_every_builtin_profile_as_its_os_family() {
    if !require_tool("p0f") {
        return;
    }
    let db = std::fs::read_to_string(DB).unwrap_or_default();
    let labels: Vec<String> = db
        .lines()
        .filter_map(|l| l.strip_prefix("label"))
        .map(norm)
        .collect();
    let dir = TempDir::new("p0f");
    let mut checked = 0;
    for (name, _) in BUILTIN {
        let show: serde_json::Value =
            serde_json::from_str(&synlab_ok(&["profiles", "show", name, "--json"])).unwrap();
        let Some(family) = show["os_family"].as_str() else {
            eprintln!("{name}: skipped: no os_family");
            continue;
        };
        if !db.is_empty() && !labels.iter().any(|l| l.contains(&norm(family))) {
            eprintln!("{name}: skipped: p0f's database has no {family} signature");
            continue;
        }
        let pcap = dir.file(&format!("{name}.pcap"));
        synlab_ok(&[
            "craft",
            "--profile",
            name,
            "--src",
            "198.18.1.1",
            "--dst",
            "198.18.1.2:443",
            "--out",
            &pcap,
        ]);
        let (os, raw) = p0f_os(&pcap);
        eprintln!("{name}: p0f says {os:?} ({raw})");
        assert!(
            norm(&os).contains(&norm(family)),
            "{name}: p0f classified the SYN as {os:?}, the profile says {family:?} (raw_sig {raw})"
        );
        checked += 1;
    }
    assert!(checked > 0);
}
