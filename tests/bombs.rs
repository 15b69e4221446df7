//! Parser and profile bombs (issue 10, item 2): input a few kilobytes long
//! that used to overflow the stack or allocate gigabytes. Each is refused
//! with a clear error now. The command-line cases run the binary under a
//! 1 GiB address-space limit, so that a regression aborts the test quickly
//! instead of eating the machine's memory.

mod support;

use support::Args;

use std::process::{Command, Output};

use synlab::model::craft::{build_packet, linux_example, CraftError, Volatile};
use synlab::model::Field;
use synlab::profile::Profile;
use synlab::rule::{Rule, RuleErrorKind, MAX_DEPTH, RENDER_WIDTH};

use support::{root, stderr};

/// Run synlab with `ulimit -v` at 1 GiB: an allocation sized by the input
/// fails (and aborts) instead of growing until the machine runs out.
fn synlab_small(args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_synlab"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("SYNLAB_PROFILES")
        .output()
        .expect("run synlab under sh")
}

fn too_deep(text: &str) -> usize {
    match Rule::parse(text) {
        Err(e) if e.kind == RuleErrorKind::TooDeep => e.column,
        other => panic!("expected a too-deep error, got {other:?}"),
    }
}

#[test]
fn bug_10000_nested_parentheses_overflowed_the_stack() {
    let text = format!("{}ip.ttl == 64{}", "(".repeat(10_000), ")".repeat(10_000));
    // The caret points at the first parenthesis past the limit.
    assert_eq!(too_deep(&text), MAX_DEPTH + 1);
}

#[test]
fn bug_50000_nots_overflowed_the_stack() {
    let text = format!("{}ip.ttl == 64", "!".repeat(50_000));
    assert_eq!(too_deep(&text), MAX_DEPTH + 1);
}

#[test]
fn bug_long_or_chain_built_a_tree_too_deep_to_drop() {
    // `a || a || ...` nested to the left: 100,000 terms made a tree whose
    // evaluation, printing and drop recursed 100,000 deep. A chain is one
    // flat node now: it parses, evaluates and drops at any length.
    let text = vec!["ip.ttl == 64"; 100_000].join(" || ");
    let rule = Rule::parse(&text).unwrap_or_else(|e| panic!("{}", e.render(&text)));
    assert!(rule.eval(&linux_example()));
    drop(rule);
}

#[test]
fn rules_up_to_the_depth_limit_still_parse_and_evaluate() {
    let parens = format!(
        "{}ip.ttl == 64{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    let nots = format!("{}ip.ttl == 64", "!".repeat(MAX_DEPTH - 1));
    let chain = vec!["ip.ttl == 1"; MAX_DEPTH].join(" || ");
    let a = linux_example();
    for (text, want) in [(parens, true), (nots, false), (chain, false)] {
        let rule = Rule::parse(&text).unwrap_or_else(|e| panic!("{}", e.render(&text)));
        assert_eq!(rule.eval(&a), want, "{text}");
    }
    let one_more = format!("{}ip.ttl == 64", "!".repeat(MAX_DEPTH));
    too_deep(&one_more);
}

#[test]
fn bug_deep_where_aborted_handshakes_now_a_usage_error_with_a_caret() {
    let text = format!("{}ip.ttl == 64{}", "(".repeat(10_000), ")".repeat(10_000));
    let out = synlab_small(&["handshakes", "captures/reset.pcap", "--where", &text]);
    let err = stderr(&out);
    support::assert_exit(&out, 2);
    assert!(err.contains("nested deeper than 256"), "{err}");
    // The caret under column 257, in the window of the rule shown around it
    // (the ellipsis, then a third of the window before the column).
    assert!(err.contains("column 257"), "{err}");
    let caret = format!("\n  {}^", " ".repeat(RENDER_WIDTH / 3 + 1));
    assert!(err.contains(&caret), "{err}");
}

#[test]
fn bug_deep_rule_aborted_bisect() {
    let text = format!("{}ip.ttl == 64", "!".repeat(50_000));
    let out = synlab_small(&[
        "bisect",
        "--good",
        "linux",
        "--bad",
        "windows-10",
        "--rule",
        &text,
    ]);
    let err = stderr(&out);
    support::assert_exit(&out, 2);
    assert!(
        err.contains("invalid --rule: column 257: nested deeper than 256"),
        "{err}"
    );
}

fn vol() -> Volatile {
    Volatile {
        src: "198.18.0.2:40000".parse().expect("address"),
        dst: "198.18.0.1:8080".parse().expect("address"),
        seq: 1,
        ack: 0,
        ip_id: 1,
        flow_label: 0,
        tsval: 1,
        tsecr: 0,
    }
}

/// The Linux example without the option values, so any layout may stand.
fn bare() -> synlab::model::Attributes {
    let mut a = linux_example();
    a.remove(Field::TcpOptionsMssVal);
    a.remove(Field::TcpOptionsSackPerm);
    a.remove(Field::TcpOptionsWscaleShift);
    a
}

#[test]
fn bug_eol_padding_was_allocated_as_given() {
    // 4 GB of zeroes, and 1 + 1 + usize::MAX wrapping to 1 (the EOL vanished
    // and the layout "fit"), before the fix; now the layout token itself is
    // refused: EOL padding is a byte count below 40.
    for layout in ["nop,eol+4000000000", "nop,eol+18446744073709551615"] {
        let mut a = bare();
        a.insert(Field::SynlabOptionsLayout, layout);
        let got = build_packet(&a, &vol());
        assert!(
            matches!(got, Err(CraftError::BadLayoutToken(_))),
            "{layout}: {got:?}"
        );
    }
    let mut a = bare();
    a.insert(Field::SynlabOptionsLayout, "eol+40");
    assert_eq!(build_packet(&a, &vol()), Err(CraftError::OptionsLength(41)));
    // What fits still builds: EOL and 39 bytes of padding.
    let mut a = bare();
    a.insert(Field::SynlabOptionsLayout, "eol+39");
    let packet = build_packet(&a, &vol()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(packet.len(), 20 + 20 + 40);
}

#[test]
fn bug_many_options_grew_the_buffer_past_40_bytes() {
    let layout = vec!["nop"; 1_000_000].join(",");
    let mut a = bare();
    a.insert(Field::SynlabOptionsLayout, layout.as_str());
    // Refused by length, before any option byte is written.
    let got = build_packet(&a, &vol());
    assert!(matches!(got, Err(CraftError::OptionsLength(_))), "{got:?}");
}

#[test]
fn bug_profile_with_huge_eol_padding_took_4_gb_to_load() {
    let toml = |layout: &str| {
        format!(
            "name = \"bomb\"\n[syn]\n\"ip.ttl\" = 64\n\"tcp.window_size_value\" = 65535\n\
             \"tcp.options.mss_val\" = 1460\n\"synlab.options.layout\" = \"{layout}\"\n"
        )
    };
    for layout in ["mss,eol+4000000000", "mss,eol+18446744073709551615"] {
        let err = Profile::from_toml(&toml(layout), "bomb.toml").err();
        let err = err.unwrap_or_else(|| panic!("{layout} loaded"));
        let token = layout.trim_start_matches("mss,");
        assert!(err.to_string().contains(token), "{layout}: {err}");
    }
    let dir = std::env::temp_dir().join(format!("synlab-bombs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bomb.toml");
    std::fs::write(&file, toml("mss,eol+4000000000")).expect("write profile");
    let out = synlab_small(&["profiles", "show", file.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_dir_all(&dir);
    let err = stderr(&out);
    support::assert_exit(&out, 2);
    assert!(err.contains("eol+4000000000"), "{err}");
}

#[test]
fn bug_bisect_budgets_were_unbounded() {
    let base = Args::bisect("linux", "windows-10").rule("ip.ttl == 128");
    for (flag, value, range) in [
        ("--repeat", "4294967295", "1..=100"),
        ("--repeat", "101", "1..=100"),
        ("--repeat", "0", "1..=100"),
        ("--max-probes", "4294967295", "1..=1000"),
        ("--max-total-probes", "18446744073709551615", "1..=100000"),
        ("--max-total-probes", "100001", "1..=100000"),
    ] {
        let out = synlab_small(&base.clone().args(&[flag, value]).strs());
        let err = stderr(&out);
        support::assert_exit_for(&out, 2, &format!("{flag} {value}"));
        assert!(
            err.contains(flag) && err.contains(range),
            "{flag} {value}: {err}"
        );
    }
    // The largest values allowed run and finish.
    let args = base.args(&[
        "--repeat",
        "100",
        "--max-probes",
        "1000",
        "--max-total-probes",
        "100000",
    ]);
    let out = synlab_small(&args.strs());
    support::assert_exit(&out, 0);
}
