//! Helpers shared by the integration tests: run the built binary, find the
//! bundled captures, skip or fail when a tool is missing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under `captures/`.
pub fn capture(name: &str) -> PathBuf {
    root().join("captures").join(name)
}

/// Every good capture bundled under `captures/` (not `captures/bad/`).
pub fn all_captures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("captures"))
        .expect("captures/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no captures under captures/");
    files
}

/// Run synlab with arguments, from the repository root.
pub fn synlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synlab"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("SYNLAB_PROFILES")
        .output()
        .expect("run synlab")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parse stdout as JSON, printing the output when it is not.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e})\nstdout:\n{}\nstderr:\n{}",
            stdout(o),
            stderr(o)
        )
    })
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Skip (return false) with a printed reason when a tool is missing —
/// except under CI, where scripts/test.sh installs it, so its absence is a
/// failure, never a silent skip.
pub fn require_tool(program: &str) -> bool {
    if have(program) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{program} is not installed, and CI must run this test (scripts/test.sh installs it)"
        );
    }
    eprintln!("skipping: {program} is not installed (scripts/test.sh installs it as root)");
    false
}

/// Compare two texts, printing both when they differ.
pub fn assert_text_eq(got: &str, want: &str, what: &str) {
    if got != want {
        panic!("{what} differs\n--- got ---\n{got}\n--- want ---\n{want}\n");
    }
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Run synlab, insist on exit status 0, return stdout.
pub fn synlab_ok(args: &[&str]) -> String {
    let out = synlab(args);
    assert!(
        out.status.success(),
        "synlab {args:?} exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "synlab-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
