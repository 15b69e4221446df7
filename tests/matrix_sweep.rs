//! `synlab matrix` over sweep files (issue 24): one vantage per file, a
//! `sweep --jsonl` and a `sweep --json` document, crafted here; the table
//! is vantage x target group (/24) x profile. No root, no network.

mod support;

use serde_json::Value as Json;
use support::{stderr, stdout, synlab, TempDir};

/// A sweep row as `sweep --jsonl` writes it.
fn row(target: &str, condition: &str, linux: bool, windows: bool) -> String {
    let failing = match (linux, windows) {
        (true, false) => r#"["windows-10"]"#,
        _ => "[]",
    };
    format!(
        r#"{{"target":"{target}","port":80,"condition":"{condition}","failing":{failing},"profiles":{{"linux":{{"pass":{linux},"probes":9,"outcomes":{{}}}},"windows-10":{{"pass":{windows},"probes":9,"outcomes":{{}}}}}},"culprits":[]}}"#
    )
}

/// Two vantages: from `east` the 198.19.1.0/24 drops windows-10 and one
/// target of 198.19.2.0/24 is offline; from `west` everything works.
fn files(tmp: &TempDir) -> (String, String) {
    let east = [
        row("198.19.1.1", "broken", true, false),
        row("198.19.1.2", "broken", true, false),
        row("198.19.2.1", "works", true, true),
        row("198.19.2.2", "offline", false, false),
    ]
    .join("\n");
    let west = [
        row("198.19.1.1", "works", true, true),
        row("198.19.1.2", "works", true, true),
    ]
    .join(",");
    let east_path = tmp.join("east.jsonl");
    let west_path = tmp.join("west.json");
    std::fs::write(&east_path, east + "\n").unwrap_or_else(|e| panic!("{e}"));
    let doc = format!(r#"{{"rows": [{west}], "summary": {{"targets": 2}}}}"#);
    std::fs::write(&west_path, doc).unwrap_or_else(|e| panic!("{e}"));
    let s = |p: std::path::PathBuf| p.display().to_string();
    (s(east_path), s(west_path))
}

#[test]
fn sweep_files_make_a_vantage_by_group_by_profile_table() {
    let tmp = TempDir::new("matrix-sweep");
    let (east, west) = files(&tmp);
    let out = synlab(&["matrix", &east, &west]);
    support::assert_exit_for(&out, 1, "matrix over sweep files with a broken target");
    let w = east.len().max(west.len());
    let line =
        |v: &str, group: &str, l: &str, win: &str| format!("{v:w$}  {group:18}  {l:>9}  {win:>10}");
    let want = [
        line("vantage", "group", "linux", "windows-10"),
        line(&east, "198.19.1.0/24", "2/2", "0/2") + "  (2 broken)",
        line(&east, "198.19.2.0/24", "1/2", "1/2") + "  (1 offline)",
        line(&west, "198.19.1.0/24", "2/2", "2/2"),
    ]
    .join("\n")
        + "\n";
    assert_eq!(stdout(&out), want, "stderr: {}", stderr(&out));
}

#[test]
fn sweep_files_as_json() {
    let tmp = TempDir::new("matrix-sweep-json");
    let (east, west) = files(&tmp);
    let out = synlab(&["matrix", "--json", &east, &west]);
    support::assert_exit_for(&out, 1, "matrix --json over sweep files");
    let doc: Json = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc["schema"], "synlab.matrix-sweep/1");
    assert_eq!(doc["profiles"], serde_json::json!(["linux", "windows-10"]));
    let first = &doc["groups"][0];
    assert_eq!(first["group"], "198.19.1.0/24");
    assert_eq!(first["conditions"], serde_json::json!({"broken": 2}));
    assert_eq!(
        first["profiles"]["windows-10"],
        serde_json::json!({"targets": 2, "passing": 0})
    );
    assert_eq!(doc["groups"].as_array().map(Vec::len), Some(3));
}

#[test]
fn sweep_files_and_surveys_do_not_mix() {
    let tmp = TempDir::new("matrix-sweep-mix");
    let (east, _) = files(&tmp);
    let out = synlab(&["matrix", &east, "tests/data/survey-c1.json"]);
    support::assert_exit_for(&out, 2, "matrix over a sweep file and a survey");
    assert!(
        stderr(&out).contains("either survey documents or sweep files, not both"),
        "{}",
        stderr(&out)
    );
}
