//! The command line itself: help lists every command, usage errors exit 2,
//! help and version exit 0.

mod support;

use support::Args;

use support::{stderr, stdout, synlab, TempDir};

#[test]
fn help_lists_every_command() {
    let out = synlab(&["--help"]);
    support::assert_exit(&out, 0);
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
        support::assert_exit_for(&out, 2, &format!("{args:?}"));
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
    support::assert_exit(&out, 0);
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
        support::assert_exit_for(&out, 2, &format!("{args:?}"));
        assert!(stderr(&out).contains("did you mean"), "{}", stderr(&out));
    }
    let out = synlab(&[
        "handshakes",
        "captures/reset.pcap",
        "--where",
        "ip.tll == 64",
    ]);
    support::assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("did you mean ip.ttl?"),
        "{}",
        stderr(&out)
    );
}

/// A probe that must never run: its target is loopback's discard port,
/// and every case below fails before anything is sent.
fn probe_with(extra: &[&str]) -> std::process::Output {
    Args::probe("linux", "127.0.0.1:9").args(extra).run()
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
        support::assert_exit_for(&out, 2, &format!("{args:?}"));
        assert!(stderr(&out).contains(text), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{args:?}");
    }
    // Checked against the target's IP version too, before any socket.
    let out = Args::probe("linux", "[::1]:9")
        .args(&["--set", "ip.id=7"])
        .run_exit(2);
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
    support::assert_exit(&out, 0);
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
    let out = Args::bisect("linux", "windows-10")
        .rule("ip.ttl == onetwentyeight")
        .run_exit(2);
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
    let out = Args::bisect("linux", "windows-10")
        .rule("synlab.attempt.established")
        .run_exit(2);
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
        support::assert_exit_for(&out, 2, expr);
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
    let base = Args::bisect("linux", "windows-10").rule("ip.ttl == 128");
    let run = |extra: &[&str]| base.clone().args(extra).run();
    let out = run(&["--json"]);
    support::assert_exit(&out, 0);
    // With the TTL the same on both sides, the rule no longer tells them apart.
    let out = run(&["--set", "ip.ttl=64", "--json"]);
    support::assert_exit(&out, 1);
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
        support::assert_exit_for(&out, 2, &format!("{extra:?}"));
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
    support::assert_exit_for(&out, 1, "a failing cell");
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
    support::assert_exit(&out, 0);
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
        support::assert_exit_for(&out, 2, file);
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
        support::assert_exit_for(&piped, 0, name);
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
    support::assert_exit(&out, 0);
    let out = support::synlab_stdin(&["diff", "-", "captures/linux-tuned.pcap"], &reset);
    support::assert_exit(&out, 1);
    assert!(stdout(&out).contains("synlab.p0f"), "{}", stdout(&out));
    let hang = std::fs::read(support::capture("hang.pcap")).expect("capture");
    let out = support::synlab_stdin(&["stalls", "-"], &hang);
    support::assert_exit(&out, 0);
    let out = support::synlab_stdin(&["diff", "-", "-"], &reset);
    support::assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("standard input was already read"),
        "{}",
        stderr(&out)
    );
    // Not a capture on stdin: an error about `-`, not a profile lookup.
    let out = support::synlab_stdin(&["handshakes", "-"], b"hello, world, not a pcap\n");
    support::assert_exit(&out, 2);
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
    support::assert_exit(&synlab(&["completions", "tcsh"]), 2);
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
    support::assert_exit(&out, 2);
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
    support::assert_exit(&out, 2);
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

/// Issue 22, items 2-3: the writers refuse what is not a regular file at
/// the output path, and write nothing through it.
mod outputs {
    use super::support::{path_str, stderr, synlab, TempDir};
    use std::path::Path;

    fn fifo(path: &Path) {
        let c = std::ffi::CString::new(path_str(path)).expect("no NUL");
        // SAFETY: mkfifo reads a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    }

    /// Each output flag against a FIFO, a symlink to a file, and `-`.
    #[test]
    fn bug_special_files_symlinks_and_dash_were_written() {
        let dir = TempDir::new("outputs-special");
        let victim = dir.join("victim");
        std::fs::write(&victim, "keep").expect("write");
        let link = dir.join("link");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        let fifo_path = dir.join("fifo");
        fifo(&fifo_path);
        let (l, f) = (path_str(&link), path_str(&fifo_path));
        let craft = |out: &str| {
            let mut a = vec!["craft", "--profile", "linux", "--src", "198.18.0.2"];
            a.extend(["--dst", "198.18.0.130:80", "--out", out]);
            a.into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        let handshakes = |flag: &str, out: &str| {
            ["handshakes", "captures/linux-default.pcap", flag, out]
                .map(str::to_owned)
                .to_vec()
        };
        let diff = |out: &str| {
            ["diff", "linux", "windows-11", "--html", out]
                .map(str::to_owned)
                .to_vec()
        };
        for out in [l, f, "-"] {
            for args in [craft(out), handshakes("--parquet", out), diff(out)] {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let o = synlab(&args);
                let err = stderr(&o);
                assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
                let want = if out == "-" {
                    "cannot go to standard output"
                } else {
                    "not a regular file: refusing to replace it"
                };
                assert!(err.contains(want), "{args:?}: {err}");
            }
        }
        assert_eq!(
            std::fs::read_to_string(&victim).ok().as_deref(),
            Some("keep")
        );
        assert!(std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink());
        assert!(!Path::new("-").exists() && !super::support::root().join("-").exists());
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["fifo", "link", "victim"], "no file left behind");
    }

    /// `bisect --recorded /missing --html notes.txt` deleted notes.txt: a
    /// failed run leaves the user's file as it was.
    #[test]
    fn bug_a_failed_bisect_deleted_the_html_path() {
        let dir = TempDir::new("outputs-failed");
        let notes = dir.join("notes.txt");
        std::fs::write(&notes, "my notes").expect("write");
        let o = synlab(&[
            "bisect",
            "--good",
            "linux",
            "--bad",
            "windows-11",
            "--recorded",
            "/nonexistent/missing.pcap",
            "--html",
            path_str(&notes),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert_eq!(
            std::fs::read_to_string(&notes).ok().as_deref(),
            Some("my notes")
        );
        assert_eq!(std::fs::read_dir(dir.path()).expect("read_dir").count(), 1);
    }
}

/// Issue 22, items 4, 5 and 8: `matrix` reads survey files as untrusted.
mod matrix_files {
    use super::support::{path_str, stderr, synlab, TempDir};

    /// A change to a survey document.
    type Edit = fn(&mut serde_json::Value);

    /// survey-c2.json with `edit` applied, written to `dir`.
    fn edited(dir: &TempDir, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let text =
            std::fs::read_to_string(super::support::root().join("tests/data/survey-c2.json"))
                .expect("read");
        let mut doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        edit(&mut doc);
        let path = dir.join(name);
        std::fs::write(&path, doc.to_string()).expect("write");
        path_str(&path).to_owned()
    }

    #[test]
    fn bug_hostile_survey_values_reached_commands_and_the_terminal() {
        let dir = TempDir::new("matrix-files");
        let c1 = path_str(&super::support::root().join("tests/data/survey-c1.json")).to_owned();
        let cases: [(&str, Edit, &str); 5] = [
            ("target.json", |d| d["target"] = "$(reboot)".into(), "target: \"$(reboot)\" is not IP:PORT"),
            ("name.json", |d| d["profiles"][0]["name"] = "x$(id)".into(), "profiles[0].name: \"x$(id)\""),
            ("vantage.json", |d| d["vantage"] = "\u{1b}]0;owned\u{7}".into(), "vantage: \"\\u{1b}]0;owned\\u{7}\""),
            (
                "counts.json",
                |d| {
                    d["profiles"][0]["outcomes"]["syn-ack"] = 4294967295u32.into();
                    d["profiles"][0]["outcomes"]["no-reply"] = 1000.into();
                    d["profiles"][0]["probes"] = 4294967295u32.into();
                },
                "profiles[0] (amazon-linux-2): outcomes add up to 4294968295, but probes is 4294967295",
            ),
            (
                "probes.json",
                |d| d["profiles"][0]["probes"] = 1.into(),
                "profiles[0] (amazon-linux-2): outcomes add up to 3, but probes is 1",
            ),
        ];
        for (name, edit, want) in cases {
            let file = edited(&dir, name, edit);
            for json in [false, true] {
                let mut args = vec!["matrix", c1.as_str(), file.as_str()];
                if json {
                    args.push("--json");
                }
                let o = synlab(&args);
                let err = stderr(&o);
                assert_eq!(o.status.code(), Some(2), "{name}: {err}");
                assert!(err.contains(&format!("{file}: {want}")), "{name}: {err}");
                assert!(!err.contains('\u{1b}'), "{name}: raw escape on stderr");
                assert!(o.stdout.is_empty(), "{name}: printed a matrix");
            }
        }
    }
}

/// Issue 22, item 7: a profile directory's `z.toml -> /dev/zero` grew
/// synlab to 5.7 GB, a FIFO named `x.toml` hung it, and `--p0f-db
/// /dev/zero` did the same. Only regular files are read, with a cap.
#[test]
fn bug_profile_files_and_p0f_db_were_read_without_end() {
    use std::time::{Duration, Instant};
    let dir = support::TempDir::new("read-special");
    std::os::unix::fs::symlink("/dev/zero", dir.join("z.toml")).expect("symlink");
    let d = support::path_str(dir.path());
    let started = Instant::now();
    let o = synlab(&["--profiles", d, "profiles"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("z.toml: is a character device, not a regular file"),
        "{err}"
    );
    std::fs::remove_file(dir.join("z.toml")).expect("remove");
    let fifo = std::ffi::CString::new(format!("{d}/x.toml")).expect("no NUL");
    // SAFETY: mkfifo reads a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let o = synlab(&["--profiles", d, "profiles"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("x.toml: is a FIFO, not a regular file"),
        "{err}"
    );
    let learn = ["profiles", "learn", "captures/linux-default.pcap"];
    let o = synlab(&[&learn[..], &["--p0f-db", "/dev/zero"]].concat());
    let err = stderr(&o);
    assert!(
        err.contains("/dev/zero: is a character device, not a regular file"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(20), "a hang");
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

/// `--max-bytes` (issue 22: a body without end ran to the 120 s limit) is
/// a count of at least one byte, and only with `--exchange`.
#[test]
fn max_bytes_is_at_least_one_and_needs_exchange() {
    let base = ["probe", "--profile", "linux", "--target", "127.0.0.1:9"];
    let zero = [&base[..], &["--exchange", "http:/", "--max-bytes", "0"]].concat();
    let out = support::synlab_exit(&zero, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("must be at least 1 byte"), "{stderr}");
    let alone = [&base[..], &["--max-bytes", "1000"]].concat();
    let out = support::synlab_exit(&alone, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--exchange"), "{stderr}");
}
