//! `bisect --bundle DIR` (issue 23 item 4): the hand-over, from a `--rule`
//! oracle (no root): every file there, each naming what produced it, the
//! rule parsing back with `--rule`; and the refusals that keep it from
//! writing over anything (an existing non-empty directory, a symlink).

mod support;

use std::path::Path;

use support::{synlab, TempDir};

const FILES: [&str; 7] = [
    "README.txt",
    "report.html",
    "probes.pcapng",
    "rule.txt",
    "rule.nft",
    "impact.txt",
    "reproduce.sh",
];

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn bisect_bundle(dir: &str) -> std::process::Output {
    synlab(&[
        "bisect",
        "--good",
        "linux",
        "--bad",
        "windows-10",
        "--rule",
        "ip.ttl > 100",
        "--bundle",
        dir,
    ])
}

#[test]
fn a_bundle_from_a_rule_holds_every_file_and_says_what_made_it() {
    let tmp = TempDir::new("bundle-rule");
    let dir = tmp.join("out");
    let out = bisect_bundle(&tmp.file("out"));
    support::assert_exit_for(&out, 0, "bisect --bundle");
    for f in FILES {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let readme = read(&dir, "README.txt");
    for want in [
        concat!("synlab ", env!("CARGO_PKG_VERSION")),
        "started 20",
        "# target: none (not a live run)",
        "--bundle",
        "--rule 'ip.ttl > 100'",
        "ip.ttl > 100",
        "simulated",
    ] {
        assert!(
            readme.contains(want),
            "README.txt lacks {want:?}:\n{readme}"
        );
    }
    let rule = read(&dir, "rule.txt");
    assert_eq!(rule.trim(), "ip.ttl > 100");
    // The rule parses back: a bisect simulated with it names the same culprit.
    let again = synlab(&[
        "bisect",
        "--good",
        "linux",
        "--bad",
        "windows-10",
        "--rule",
        rule.trim(),
        "--json",
    ]);
    support::assert_exit_for(&again, 0, "bisect --rule \"$(cat rule.txt)\"");
    let nft = read(&dir, "rule.nft");
    assert!(nft.contains("ip ttl > 100 drop"), "{nft}");
    let impact = read(&dir, "impact.txt");
    assert!(impact.contains("HIT windows-10"), "{impact}");
    let sh = read(&dir, "reproduce.sh");
    assert!(sh.contains("synlab impact --rule 'ip.ttl > 100'"), "{sh}");
    assert!(
        sh.contains("scripts/lab.sh rule 'meta l4proto tcp ip ttl > 100 drop'"),
        "{sh}"
    );
    for f in ["rule.nft", "impact.txt", "reproduce.sh"] {
        assert!(
            read(&dir, f).contains("# command: "),
            "{f} does not name the command"
        );
    }
    let html = read(&dir, "report.html");
    assert!(html.contains("ip.ttl"), "report.html");
}

#[test]
fn an_existing_non_empty_directory_is_refused() {
    let tmp = TempDir::new("bundle-full");
    std::fs::write(tmp.join("keep.txt"), "mine").unwrap_or_else(|e| panic!("{e}"));
    let out = bisect_bundle(&tmp.file(""));
    support::assert_exit_for(&out, 2, "bisect --bundle NONEMPTY");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(read(tmp.path(), "keep.txt"), "mine");
    assert!(!tmp.join("README.txt").exists());
}

#[test]
fn a_symlink_is_refused_and_not_followed() {
    let tmp = TempDir::new("bundle-link");
    let real = tmp.join("real");
    std::fs::create_dir(&real).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&real, tmp.join("link")).unwrap_or_else(|e| panic!("{e}"));
    let out = bisect_bundle(&tmp.file("link"));
    support::assert_exit_for(&out, 2, "bisect --bundle SYMLINK");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("symbolic link") || err.contains("symlink"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&real).map(|d| d.count()).unwrap_or(99), 0);
}
