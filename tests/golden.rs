//! Whole JSON outputs pinned under `tests/golden/`: `handshakes --json` of
//! every bundled capture, `fields --json`, and one `diff --json`. Any change
//! to a name, a value or the order shows up here as a diff; a deliberate one
//! is accepted with `SYNLAB_BLESS=1 scripts/bless.sh` and reviewed in git.

mod support;

use support::{all_captures, file_name, golden, stdout};

/// stdout of `synlab ARGS`, insisting on exit status `code`.
fn output(args: &[&str], code: i32) -> String {
    stdout(&support::synlab_exit(args, code))
}

#[test]
fn handshakes_json_of_every_bundled_capture() {
    for file in all_captures() {
        let name = file_name(&file);
        let rel = format!("captures/{name}");
        let got = output(&["handshakes", &rel, "--json", "--pretty"], 0);
        golden::check(&format!("handshakes/{name}.json"), &got);
    }
}

/// The compact document (written by hand, the fast path) and JSON Lines say
/// exactly what the pretty one (written through serde) says.
#[test]
fn compact_json_and_json_lines_match_the_pretty_document() {
    for file in all_captures() {
        let rel = format!("captures/{}", file_name(&file));
        let parse = |text: &str| -> serde_json::Value {
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{rel}: {e}\n{text}"))
        };
        let pretty = parse(&output(&["handshakes", &rel, "--json", "--pretty"], 0));
        let compact_text = output(&["handshakes", &rel, "--json"], 0);
        assert_eq!(compact_text.lines().count(), 1, "{rel}: one line");
        assert_eq!(parse(&compact_text), pretty, "{rel}");
        let lines: Vec<serde_json::Value> = output(&["handshakes", &rel, "--jsonl"], 0)
            .lines()
            .map(parse)
            .collect();
        assert_eq!(
            Some(&serde_json::Value::from(lines)),
            pretty.get("handshakes"),
            "{rel}"
        );
    }
}

#[test]
fn fields_json() {
    golden::check("fields.json", &output(&["fields", "--json"], 0));
}

#[test]
fn diff_json_of_two_linux_stacks() {
    let got = output(
        &[
            "diff",
            "captures/linux-default.pcap",
            "captures/linux-tuned.pcap",
            "--json",
        ],
        1,
    );
    golden::check("diff/linux-default-vs-linux-tuned.json", &got);
}
