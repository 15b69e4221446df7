//! The command line itself: help lists every command, usage errors exit 2,
//! help and version exit 0.

mod support;

use support::{stderr, stdout, synlab};

#[test]
fn help_lists_every_command() {
    let out = synlab(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for cmd in [
        "handshakes",
        "diff",
        "fields",
        "profiles",
        "craft",
        "probe",
        "capture",
        "bisect",
    ] {
        assert!(
            text.contains(&format!("  {cmd} ")),
            "--help lacks {cmd}:\n{text}"
        );
    }
}

#[test]
fn usage_errors_exit_2_with_usage_on_stderr() {
    for args in [
        &["diff", "captures/reset.pcap"][..],
        &["frobnicate"],
        &["handshakes"],
    ] {
        let out = synlab(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("Usage:"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn version_exits_0() {
    let out = synlab(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("synlab "));
}

#[test]
fn fields_json_lists_the_catalogue() {
    let out = synlab(&["fields", "--json"]);
    let doc = support::json(&out);
    let names: Vec<&str> = doc
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    for name in [
        "ip.ttl",
        "tcp.options.mss_val",
        "synlab.options.layout",
        "synlab.flow.ipid",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    assert!(doc
        .as_array()
        .expect("array")
        .iter()
        .all(|f| f["kind"] == "behavioural" || f["kind"] == "volatile"));
}

/// Differences are highlighted with color when asked (or on a terminal),
/// and never when NO_COLOR is set or output is piped (the default here).
#[test]
fn color_only_when_asked() {
    let args = [
        "diff",
        "captures/linux-default.pcap",
        "captures/linux-tuned.pcap",
    ];
    let plain = stdout(&synlab(&args));
    assert!(!plain.contains('\x1b'), "piped output has no escapes");
    let mut colored_args = vec!["--color", "always"];
    colored_args.extend(args);
    let colored = stdout(&synlab(&colored_args));
    assert!(
        colored.contains("\x1b[31m"),
        "differences in red:\n{colored}"
    );
}

/// issue 8: `probe --set ip.tll=128` (a typo) sent TTL 64 and exited 0. The
/// name is now checked by the vocabulary before anything is sent.
#[test]
fn a_misspelt_attribute_name_is_a_usage_error_with_a_suggestion() {
    for args in [
        &[
            "probe",
            "--profile",
            "linux",
            "--target",
            "127.0.0.1:9",
            "--set",
            "ip.tll=128",
        ][..],
        &[
            "probe",
            "--profile",
            "linux",
            "--target",
            "127.0.0.1:9",
            "--unset",
            "tcp.options.sackperm",
        ],
    ] {
        let out = synlab(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("did you mean"), "{}", stderr(&out));
    }
    let out = synlab(&[
        "handshakes",
        "captures/reset.pcap",
        "--where",
        "ip.tll == 64",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean ip.ttl?"),
        "{}",
        stderr(&out)
    );
}
