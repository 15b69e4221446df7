//! The one home of what the integration tests share: running the built
//! binary, the bundled captures, temp dirs, skipping (or failing under CI)
//! when a tool is missing, comparisons that print both sides, the golden
//! files (`golden`), fixtures from the built-in profiles (`fixtures`), the
//! real SYNs of many stacks and p0f's word on them (`real_syns`) and the
//! network-namespace lab (`lab`).
//!
//! Every test file says `mod support;`; not every file uses every helper.
#![allow(dead_code)]

pub mod fixtures;
pub mod golden;
pub mod lab;
pub mod real_syns;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built synlab binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_synlab")
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

/// A file's name, for messages and golden file names.
pub fn file_name(p: &Path) -> &str {
    p.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_else(|| panic!("no UTF-8 file name in {}", p.display()))
}

/// Run synlab with arguments, from the repository root, without colors and
/// without the user's profile directories.
pub fn synlab(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("SYNLAB_PROFILES")
        .output()
        .unwrap_or_else(|e| panic!("cannot run synlab: {e}"))
}

/// Run synlab as [`synlab`] does, with `input` on its standard input.
pub fn synlab_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("SYNLAB_PROFILES")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run synlab: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    // From a thread: synlab may stop reading (an error) while we write.
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot wait for synlab: {e}"));
    let _ = writer.join();
    out
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

/// Run synlab, insist on exit status 0, return stdout.
#[track_caller]
pub fn synlab_ok(args: &[&str]) -> String {
    let out = synlab_exit(args, 0);
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{e}"))
}

/// Run synlab as [`synlab`] does and insist on exit status `code`; the
/// output, for the test's own checks.
#[track_caller]
pub fn synlab_exit(args: &[&str], code: i32) -> Output {
    let out = synlab(args);
    assert_exit_for(&out, code, &format!("synlab {}", args.join(" ")));
    out
}

/// Insist that a run exited with `code`. When it did not, the panic shows
/// the status and both outputs in full, at the test's own line
/// (`track_caller`): the one copy of "check the exit status, show stdout
/// and stderr on failure" the tests used to write out each time.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_exit_for(out, code, "the command");
}

/// [`assert_exit`], naming what ran (a command line, a case of a loop).
#[track_caller]
pub fn assert_exit_for(out: &Output, code: i32, what: &str) {
    if out.status.code() != Some(code) {
        panic!(
            "{what}: exited {:?}, expected {code}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            stdout(out),
            stderr(out)
        );
    }
}

/// A `synlab bisect` or `synlab probe` command line, built from its
/// command and sides, then its flags: the argument vectors the bisect and
/// probe tests used to spell out word by word.
#[derive(Clone, Debug)]
pub struct Args(Vec<String>);

impl Args {
    /// `bisect --good GOOD --bad BAD`, before its oracle.
    pub fn bisect(good: &str, bad: &str) -> Args {
        Args(Vec::new()).args(&["bisect", "--good", good, "--bad", bad])
    }

    /// `probe --profile PROFILE --target TARGET`.
    pub fn probe(profile: &str, target: &str) -> Args {
        Args(Vec::new()).args(&["probe", "--profile", profile, "--target", target])
    }

    /// More arguments, as given.
    pub fn args(mut self, more: &[&str]) -> Args {
        self.0.extend(more.iter().map(|a| (*a).to_owned()));
        self
    }

    /// The simulated middlebox `--rule EXPR`.
    pub fn rule(self, expr: &str) -> Args {
        self.args(&["--rule", expr])
    }

    /// The live oracle `--target IP:PORT`.
    pub fn target(self, target: &str) -> Args {
        self.args(&["--target", target])
    }

    /// `--json`.
    pub fn json(self) -> Args {
        self.args(&["--json"])
    }

    /// The words, for [`synlab`] and the lab's runners.
    pub fn strs(&self) -> Vec<&str> {
        self.0.iter().map(String::as_str).collect()
    }

    /// Run it as [`synlab`] does.
    pub fn run(&self) -> Output {
        synlab(&self.strs())
    }

    /// Run it and insist on exit status `code` ([`synlab_exit`]).
    #[track_caller]
    pub fn run_exit(&self, code: i32) -> Output {
        synlab_exit(&self.strs(), code)
    }
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

/// Skip (return false) with a printed reason when python3 cannot import
/// `module`; under CI its absence is a failure (scripts/test.sh installs it).
pub fn require_python_module(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("python3 cannot import {module}, and CI must run this test (scripts/test.sh installs it)");
    }
    eprintln!("skipping: python3 cannot import {module} (scripts/test.sh installs it with pip)");
    false
}

/// Compare two texts; when they differ, panic with the lines where they
/// part (after the common beginning and end), both sides, numbered.
pub fn assert_text_eq(got: &str, want: &str, what: &str) {
    if got != want {
        panic!("{what} differs\n{}", text_diff(got, want));
    }
}

/// The differing middle of two texts: the common leading and trailing lines
/// are left out, the rest printed side after side (at most 60 lines each).
pub fn text_diff(got: &str, want: &str) -> String {
    const MAX: usize = 60;
    let g: Vec<&str> = got.lines().collect();
    let w: Vec<&str> = want.lines().collect();
    let head = g.iter().zip(&w).take_while(|(a, b)| a == b).count();
    let tail = g[head..]
        .iter()
        .rev()
        .zip(w[head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let side = |lines: &[&str], sign: char| {
        let middle = &lines[head..lines.len() - tail];
        let mut s: String = middle
            .iter()
            .take(MAX)
            .enumerate()
            .map(|(i, l)| format!("{sign}{:5} {l}\n", head + i + 1))
            .collect();
        if middle.len() > MAX {
            s += &format!("{sign}      ... {} more lines\n", middle.len() - MAX);
        }
        s
    };
    format!(
        "(lines 1-{head} and the last {tail} are the same)\n--- got ---\n{}--- want ---\n{}",
        side(&g, '+'),
        side(&w, '-')
    )
}

pub fn path_str(p: &Path) -> &str {
    p.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", p.display()))
}

/// A fresh directory under the system temp dir, removed on drop (also
/// when the test panics).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "synlab-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path in the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A path in the directory, as a string for command lines.
    pub fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
