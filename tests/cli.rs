//! The command line itself: help lists every command, usage errors exit 2,
//! help and version exit 0.

mod support;

use support::{stderr, stdout, synlab, TempDir};

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
        "survey",
        "matrix",
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

/// A probe that must never run: its target is loopback's discard port,
/// and every case below fails before anything is sent.
fn probe_with(extra: &[&str]) -> std::process::Output {
    let mut args = vec!["probe", "--profile", "linux", "--target", "127.0.0.1:9"];
    args.extend_from_slice(extra);
    synlab(&args)
}

/// issue 8: a value of the wrong type, a field synlab computes, or one it
/// cannot send was silently ignored (`--set ip.ttl=sixty` sent TTL 64).
/// Each is now an error with the reason, exit 2, before anything is sent.
#[test]
fn set_and_unset_refuse_what_cannot_be_sent() {
    for (args, text) in [
        (
            &["--set", "ip.ttl=sixty"][..],
            "ip.ttl takes a number from 0 to 255, not \"sixty\"",
        ),
        (&["--set", "ip.ttl=256"], "from 0 to 255"),
        (&["--set", "tcp.flags.ece=yes"], "takes true, false, 1 or 0"),
        (&["--set", "ip.len=40"], "computed when the packet is built"),
        (
            &["--set", "synlab.p0f=x"],
            "derived from the other attributes",
        ),
        (
            &["--set", "ip.dst=198.18.0.1"],
            "the destination is --target",
        ),
        (&["--set", "synlab.options.layout=mss,bogus"], "bogus"),
        (&["--unset", "ip.ttl"], "--set it to a value instead"),
        (&["--unset", "tcp.checksum"], "computed"),
    ] {
        let out = probe_with(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(text), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{args:?}");
    }
    // Checked against the target's IP version too, before any socket.
    let out = synlab(&[
        "probe",
        "--profile",
        "linux",
        "--target",
        "[::1]:9",
        "--set",
        "ip.id=7",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("ip.id is an IPv4 field, but the target is IPv6"),
        "{}",
        stderr(&out)
    );
}

/// issue 8: craft gets --set/--unset too, and the file carries them: a
/// chosen IP ID and source port, an option removed from the layout.
#[test]
fn craft_applies_set_and_unset() {
    let dir = support::TempDir::new("craft-set");
    let pcap = dir.join("edited.pcap");
    let out = synlab(&[
        "craft",
        "--profile",
        "linux",
        "--src",
        "198.18.0.2",
        "--dst",
        "198.18.0.130:80",
        "--out",
        support::path_str(&pcap),
        "--count",
        "2",
        "--set",
        "ip.id=0",
        "--set",
        "tcp.srcport=1234",
        "--set",
        "ip.ttl=128",
        "--unset",
        "tcp.options.sack_perm",
        "--unset",
        "tcp.options.timestamp.tsval",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The first line lists the changes, and the layout they left.
    assert!(
        stdout(&out).contains(
            "from profile linux with -tcp.options.sack_perm, -tcp.options.timestamp.tsval, \
             ip.id=0, tcp.srcport=1234, ip.ttl=128 (layout mss,nop,ws)"
        ),
        "{}",
        stdout(&out)
    );
    let doc = support::json(&synlab(&["handshakes", support::path_str(&pcap), "--json"]));
    let attempts = doc["handshakes"].as_array().cloned().unwrap_or_default();
    assert_eq!(attempts.len(), 2, "{doc}");
    for (i, a) in attempts.iter().enumerate() {
        let syn = &a["syn"];
        assert_eq!(syn["ip.id"], 0, "{syn}");
        assert_eq!(syn["tcp.srcport"], 1234 + i, "{syn}");
        assert_eq!(syn["ip.ttl"], 128, "{syn}");
        assert!(syn.get("tcp.options.sack_perm").is_none(), "{syn}");
        assert!(syn.get("tcp.options.timestamp.tsval").is_none(), "{syn}");
        let layout = syn["synlab.options.layout"].as_str().unwrap_or_default();
        assert!(
            !layout.contains("sok") && !layout.contains("ts"),
            "{layout}"
        );
    }
}

/// issue 8: `bisect --rule 'ip.ttl == onetwentyeight'` reported "good and
/// bad both give syn-ack"; a mistyped value is an error with a caret.
#[test]
fn a_mistyped_rule_value_is_an_error_with_a_caret() {
    let out = synlab(&[
        "bisect",
        "--good",
        "linux",
        "--bad",
        "windows-10",
        "--rule",
        "ip.ttl == onetwentyeight",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("ip.ttl takes a number from 0 to 255, not \"onetwentyeight\""),
        "{err}"
    );
    assert!(
        err.contains("  ip.ttl == onetwentyeight\n            ^"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
    // Attempt fields exist only for captured attempts.
    let out = synlab(&[
        "bisect",
        "--good",
        "linux",
        "--bad",
        "windows-10",
        "--rule",
        "synlab.attempt.established",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("only `handshakes --where`"),
        "{}",
        stderr(&out)
    );
    for expr in [
        "tcp.flags.ece == yes",
        "synlab.attempt.outcome == rest",
        "ip.src == 10.0.0.0/40",
    ] {
        let out = synlab(&["handshakes", "captures/reset.pcap", "--where", expr]);
        assert_eq!(out.status.code(), Some(2), "{expr}");
        assert!(
            stderr(&out).contains("invalid --where"),
            "{expr}: {}",
            stderr(&out)
        );
    }
}

/// `--where` on the attempt's own fields and on two-sided fields.
#[test]
fn where_filters_on_attempt_fields() {
    let count = |file: &str, expr: &str| {
        let out = synlab(&["handshakes", file, "--json", "--where", expr]);
        let doc = support::json(&out);
        doc["handshakes"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(
        count("captures/reset.pcap", "synlab.attempt.outcome == reset"),
        1
    );
    assert_eq!(
        count("captures/reset.pcap", "synlab.attempt.outcome == syn-ack"),
        0
    );
    assert_eq!(
        count(
            "captures/hang.pcap",
            "synlab.attempt.stalled && synlab.attempt.established"
        ),
        1
    );
    assert_eq!(count("captures/hang.pcap", "synlab.flow.ttl == 64"), 1);
    assert_eq!(
        count("captures/many-attempts.pcap", "ip.ttl in {100..200}"),
        count("captures/many-attempts.pcap", "ip.ttl == 128")
    );
    assert_eq!(
        count(
            "captures/many-attempts.pcap",
            "ip.src == 198.18.0.3/32 && tcp.port == 8080"
        ),
        count("captures/many-attempts.pcap", "ip.ttl == 128")
    );
    assert_eq!(
        count("captures/many-attempts.pcap", "ip.addr == 198.18.0.0/15"),
        count("captures/many-attempts.pcap", "ip.ttl")
    );
}

/// bisect takes --set/--unset too, on both sides, checked the same way.
#[test]
fn bisect_set_applies_to_both_sides() {
    let base = [
        "bisect",
        "--good",
        "linux",
        "--bad",
        "windows-10",
        "--rule",
        "ip.ttl == 128",
    ];
    let run = |extra: &[&str]| synlab(&[&base[..], extra].concat());
    let out = run(&["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // With the TTL the same on both sides, the rule no longer tells them apart.
    let out = run(&["--set", "ip.ttl=64", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = support::json(&out);
    assert_eq!(doc["good"], "linux with ip.ttl=64", "{doc}");
    for (extra, text) in [
        (&["--set", "ip.tll=64"][..], "did you mean ip.ttl?"),
        (
            &["--set", "tcp.srcport=1"],
            "each probe chooses its own tcp.srcport",
        ),
        (&["--unset", "ip.ttl"], "--set it to a value instead"),
    ] {
        let out = run(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(stderr(&out).contains(text), "{extra:?}: {}", stderr(&out));
    }
}

/// The two surveys of tests/data (the lab of tests/lab_survey.rs: Windows
/// SYNs dropped from client 2 only), merged: the whole table.
#[test]
fn matrix_of_two_vantages() {
    let out = synlab(&[
        "matrix",
        "tests/data/survey-c1.json",
        "tests/data/survey-c2.json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failing cell: {}",
        stderr(&out)
    );
    let want = "\
matrix -> 198.18.190.130:80: 2 vantages x 9 profiles (passes/probes; a failing cell names its most frequent outcome)
profile         c1          c2
amazon-linux-2  3/3 (100%)  3/3 (100%)
android         3/3 (100%)  3/3 (100%)
freebsd-14      3/3 (100%)  3/3 (100%)
ios             3/3 (100%)  3/3 (100%)
linux           3/3 (100%)  3/3 (100%)
macos-14        3/3 (100%)  3/3 (100%)
ubuntu-22.04    3/3 (100%)  3/3 (100%)
windows-10      3/3 (100%)  0/3 (0%) no-reply
windows-11      3/3 (100%)  0/3 (0%) no-reply

family Windows (windows-10, windows-11) fails from c2 only (passes from c1): an attribute the family shares
next, from c2:
  synlab bisect --good android --bad windows-10 --target 198.18.190.130:80
  synlab bisect --good android --bad windows-11 --target 198.18.190.130:80
";
    support::assert_text_eq(&stdout(&out), want, "matrix table");
    // One vantage alone: every cell passes, exit 0.
    let out = synlab(&["matrix", "tests/data/survey-c1.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("every profile passes from every vantage"));
}

/// Files that cannot be merged: an error naming the file, exit 2.
#[test]
fn matrix_refuses_what_it_cannot_merge() {
    let tmp = TempDir::new("matrix");
    let text = std::fs::read_to_string(support::root().join("tests/data/survey-c2.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let other = tmp.file("other-target.json");
    std::fs::write(
        &other,
        text.replace("198.18.190.130:80", "198.18.190.130:81"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let probe = tmp.file("probe.json");
    std::fs::write(&probe, r#"{"profile": "linux", "probes": []}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let later = tmp.file("later.json");
    std::fs::write(&later, text.replace("synlab.survey/1", "synlab.survey/2"))
        .unwrap_or_else(|e| panic!("{e}"));
    let broken = tmp.file("broken.json");
    std::fs::write(&broken, "{").unwrap_or_else(|e| panic!("{e}"));
    let bare = tmp.file("bare.json");
    std::fs::write(&bare, r#"{"schema": "synlab.survey/1"}"#).unwrap_or_else(|e| panic!("{e}"));
    let c1 = "tests/data/survey-c1.json";
    for (file, says) in [
        (&broken, "broken.json: not JSON: EOF while parsing"),
        (
            &bare,
            "bare.json: not a survey document: missing field `vantage`",
        ),
        (
            &other,
            "target 198.18.190.130:81, but tests/data/survey-c1.json surveyed 198.18.190.130:80",
        ),
        (&probe, "schema \"none\", expected \"synlab.survey/1\""),
        (&later, "schema \"synlab.survey/2\""),
    ] {
        let out = synlab(&["matrix", c1, file]);
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = stderr(&out);
        assert!(
            err.contains(file.as_str()) && err.contains(says),
            "{file}: {err}"
        );
    }
}
/// Every subcommand and every argument has help text: `synlab X --help`
/// explains each one (`diff <A> <B>` had none, issue 11).
#[test]
fn every_argument_and_subcommand_has_help() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.is_hide_set() || id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            let name = format!("{path} {}", sub.get_name());
            if sub.get_about().is_none() && sub.get_long_about().is_none() {
                missing.push(name.clone());
            }
            walk(sub, &name, missing);
        }
    }
    let mut missing = Vec::new();
    walk(&synlab::cli::Cli::command(), "synlab", &mut missing);
    assert!(missing.is_empty(), "without help text: {missing:#?}");
}

/// `-` reads the capture from standard input (a pipe: no seeking), the
/// same attempts as from the file, for pcap and pcapng.
#[test]
fn a_dash_reads_the_capture_from_stdin() {
    for name in [
        "linux-default.pcap",
        "linux-default.pcapng",
        "many-attempts.pcap",
    ] {
        let path = support::capture(name);
        let bytes = std::fs::read(&path).expect("capture");
        let from_file = support::json(&synlab(&["handshakes", "--json", support::path_str(&path)]));
        let piped = support::synlab_stdin(&["handshakes", "--json", "-"], &bytes);
        assert_eq!(piped.status.code(), Some(0), "{name}: {}", stderr(&piped));
        let from_stdin = support::json(&piped);
        assert_eq!(from_stdin["file"], "-");
        assert_eq!(from_stdin["handshakes"], from_file["handshakes"], "{name}");
        assert_eq!(from_stdin["packets"], from_file["packets"], "{name}");
    }
}

/// `-` works wherever a capture is named (here `diff` and `stalls`), and
/// naming it twice is an error that says why, not an empty second file.
#[test]
fn stdin_serves_diff_and_stalls_once() {
    let reset = std::fs::read(support::capture("reset.pcap")).expect("capture");
    let out = support::synlab_stdin(&["diff", "-", "captures/reset.pcap"], &reset);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = support::synlab_stdin(&["diff", "-", "captures/linux-tuned.pcap"], &reset);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("synlab.p0f"), "{}", stdout(&out));
    let hang = std::fs::read(support::capture("hang.pcap")).expect("capture");
    let out = support::synlab_stdin(&["stalls", "-"], &hang);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = support::synlab_stdin(&["diff", "-", "-"], &reset);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("standard input was already read"),
        "{}",
        stderr(&out)
    );
    // Not a capture on stdin: an error about `-`, not a profile lookup.
    let out = support::synlab_stdin(&["handshakes", "-"], b"hello, world, not a pcap\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("synlab: -: "), "{}", stderr(&out));
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef synlab"),
        ("fish", "complete -c synlab"),
    ] {
        let text = support::synlab_ok(&["completions", shell]);
        assert!(text.contains(marker), "{shell}: {text}");
        for cmd in ["handshakes", "bisect", "completions"] {
            assert!(text.contains(cmd), "{shell} completion lacks {cmd}");
        }
    }
    assert_eq!(synlab(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn man_pages_for_synlab_and_each_subcommand() {
    let page = support::synlab_ok(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH synlab 1"),
        "{page}"
    );
    assert!(page.contains("handshakes"), "{page}");
    let page = support::synlab_ok(&["man", "diff"]);
    assert!(page.contains(".TH synlab-diff"), "{page}");
    assert!(page.contains("FILE#N"), "{page}");
    let out = synlab(&["man", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("one of: handshakes"),
        "{}",
        stderr(&out)
    );
}

/// `-v` logs are plain text when stderr is not a terminal (a file, a pipe).
#[test]
fn logs_have_no_colour_codes_off_a_terminal() {
    let dir = support::TempDir::new("cli-log");
    let linux = support::synlab_ok(&["profiles", "show", "linux"]);
    std::fs::write(dir.join("misnamed.toml"), linux).expect("write profile");
    let out = std::process::Command::new(support::bin())
        .args([
            "-v",
            "--profiles",
            support::path_str(dir.path()),
            "profiles",
            "show",
            "misnamed",
        ])
        .env_remove("NO_COLOR")
        .env_remove("SYNLAB_LOG")
        .output()
        .expect("run synlab");
    let err = stderr(&out);
    assert!(err.contains("WARN") && err.contains("misnamed"), "{err}");
    assert!(
        !err.contains('\x1b'),
        "colour codes in a piped log: {err:?}"
    );
}

/// `--fields` with a misspelt name is a usage error that names the fix.
#[test]
fn fields_typo_exits_2_with_a_suggestion() {
    let out = synlab(&[
        "handshakes",
        "captures/reset.pcap",
        "--fields",
        "ip.ttl,syn_ack.ip.tll",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean syn_ack.ip.ttl?"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
    // With --where: the attempts that match, their file indexes kept.
    let text = support::synlab_ok(&[
        "handshakes",
        "captures/many-attempts.pcap",
        "--where",
        "ip.ttl == 128",
        "--fields",
        "synlab.attempt.index,ip.ttl,synlab.attempt.outcome",
    ]);
    assert!(text.lines().count() > 1, "{text}");
    assert!(
        text.lines().all(|l| l.ends_with("\t128\tsyn-ack")),
        "{text}"
    );
    assert!(
        text.lines().all(|l| l
            .split('\t')
            .next()
            .is_some_and(|i| i.parse::<u32>().is_ok_and(|i| i % 2 == 1))),
        "{text}"
    );
}

/// Regression (issue 21): `matrix -` said "-: cannot read: No such file";
/// it reads standard input like every other command, and the same table
/// as from the file.
#[test]
fn matrix_reads_standard_input() {
    let c1 = std::fs::read("tests/data/survey-c1.json").unwrap_or_else(|e| panic!("{e}"));
    let piped = support::synlab_stdin(&["matrix", "-", "tests/data/survey-c2.json"], &c1);
    let named = synlab(&[
        "matrix",
        "tests/data/survey-c1.json",
        "tests/data/survey-c2.json",
    ]);
    assert_eq!(
        piped.status.code(),
        named.status.code(),
        "{}",
        stderr(&piped)
    );
    assert!(stderr(&piped).is_empty(), "{}", stderr(&piped));
    assert_eq!(stdout(&piped), stdout(&named));
    let twice = support::synlab_stdin(&["matrix", "-", "-"], &c1);
    assert_eq!(twice.status.code(), Some(2));
}

/// Regression (issue 21): near-miss names get a pointer: a profile
/// (`ubuntu-2204`), an attribute alias (`mss`), a target without its port.
#[test]
fn near_misses_say_what_was_meant() {
    let out = synlab(&[
        "craft",
        "--profile",
        "ubuntu-2204",
        "--src",
        "127.0.0.1",
        "--dst",
        "127.0.0.1:80",
        "--out",
        "/nonexistent/x.pcap",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean ubuntu-22.04?"),
        "{}",
        stderr(&out)
    );
    let out = synlab(&[
        "craft",
        "--profile",
        "linux",
        "--src",
        "127.0.0.1",
        "--dst",
        "127.0.0.1:80",
        "--out",
        "/nonexistent/x.pcap",
        "--set",
        "mss=1400",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean tcp.options.mss_val?"),
        "{}",
        stderr(&out)
    );
    let out = synlab(&["probe", "--profile", "linux", "--target", "1.2.3.4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("IP:PORT is expected, with the port: e.g. 1.2.3.4:80"),
        "{}",
        stderr(&out)
    );
}
