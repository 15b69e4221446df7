//! The real SYNs under `tests/data/real-syns/` (cut from public test
//! captures; provenance and licences in its README and `signatures.tsv`),
//! and what p0f says of a SYN.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{file_name, path_str, root, TempDir};

/// `tests/data/real-syns/`.
pub fn dir() -> PathBuf {
    root().join("tests").join("data").join("real-syns")
}

/// Every real SYN capture, sorted by name.
pub fn files() -> Vec<PathBuf> {
    let dir = dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no captures under {}", dir.display());
    files
}

/// What p0f logged for one SYN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct P0fSyn {
    /// `cli=`: the client, as p0f writes it (`ADDR/PORT`).
    pub client: String,
    /// `os=`: the label (`???` when p0f has none).
    pub os: String,
    pub raw_sig: String,
}

/// The SYN records (`mod=syn`) `p0f -r` logs for `pcap`, in order. Needs p0f.
pub fn p0f_syns(pcap: &Path, tmp: &TempDir) -> Vec<P0fSyn> {
    p0f_log(pcap, tmp)
        .lines()
        .filter_map(p0f_syn_line)
        .collect()
}

/// What `p0f -r pcap -o LOG` writes to LOG (one record per line). Needs p0f.
pub fn p0f_log(pcap: &Path, tmp: &TempDir) -> String {
    let log = tmp.join(&format!("{}.p0f.log", file_name(pcap)));
    let _ = std::fs::remove_file(&log);
    let out = Command::new("p0f")
        .args(["-r", path_str(pcap), "-o", path_str(&log)])
        .output()
        .unwrap_or_else(|e| panic!("cannot run p0f: {e}"));
    super::assert_exit_for(&out, 0, &format!("p0f -r {}", pcap.display()));
    std::fs::read_to_string(&log).unwrap_or_default()
}

/// `[date] mod=syn|cli=A/P|srv=A/P|subj=cli|os=LABEL|...|raw_sig=SIG`.
fn p0f_syn_line(line: &str) -> Option<P0fSyn> {
    let (_, record) = line.split_once("] ")?;
    let field = |key: &str| {
        record
            .split('|')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_owned)
    };
    (field("mod")? == "syn").then_some(())?;
    Some(P0fSyn {
        client: field("cli")?,
        os: field("os")?,
        raw_sig: field("raw_sig")?,
    })
}
