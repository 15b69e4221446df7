//! The network lab for integration tests: `scripts/lab.sh` under a guard.
//!
//! Every test builds its own lab with its own prefix (`sltest-NAME`; set
//! `SYNLAB_TEST_LAB_PREFIX` to replace `sltest` when two checkouts run their
//! lab tests on one machine at once) and
//! index (subnets 198.18.INDEX.0/24 and 2001:2:0:INDEX{1,2,3}::/64), so tests run in
//! parallel. `up` first removes leftovers of the same prefix (a run that was
//! killed); `Drop` runs `down`, also when the test panics.

use std::collections::HashMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{bin, root};

pub const SKIP: &str = "skipping: needs root and network namespaces";

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Whether root-only tests can run here. Not root: print why and skip,
/// except under CI, where a skipped lab test would hide a failure.
pub fn can_run_lab(test: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set but not running as root; the lab tests must run as root in CI");
    }
    eprintln!("{test}: {SKIP}");
    false
}

pub struct Lab {
    pub prefix: String,
    pub index: u8,
    pub vars: HashMap<String, String>,
}

fn lab_sh(prefix: &str, index: u8, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("60")
        .arg(root().join("scripts/lab.sh"))
        .args(args)
        .env("LAB_PREFIX", prefix)
        .env("LAB_INDEX", index.to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/lab.sh: {e}"))
}

impl Lab {
    /// Build lab `sltest-NAME` with index `index`, or None (skip) when not root.
    pub fn up(name: &str, index: u8) -> Option<Lab> {
        Lab::up_with(name, index, &[])
    }

    /// [`Lab::up`] with `hops` routers between the clients and the server
    /// (`lab.sh up --hops N`; the middlebox is hop 1).
    pub fn up_chain(name: &str, index: u8, hops: u8) -> Option<Lab> {
        Lab::up_with(name, index, &["--hops", &hops.to_string()])
    }

    fn up_with(name: &str, index: u8, up_args: &[&str]) -> Option<Lab> {
        if !can_run_lab(name) {
            return None;
        }
        let base = std::env::var("SYNLAB_TEST_LAB_PREFIX").unwrap_or_else(|_| "sltest".into());
        let prefix = format!("{base}-{name}");
        // Leftovers of an earlier, killed run of this test.
        let _ = lab_sh(&prefix, index, &["down"]);
        let mut lab = Lab {
            prefix,
            index,
            vars: HashMap::new(),
        };
        let mut args = vec!["up"];
        args.extend_from_slice(up_args);
        let out = lab_sh(&lab.prefix, index, &args);
        super::assert_exit_for(&out, 0, "lab.sh up");
        let env = lab_sh(&lab.prefix, index, &["env"]);
        super::assert_exit_for(&env, 0, "lab.sh env");
        for line in String::from_utf8_lossy(&env.stdout).lines() {
            if let Some((k, v)) = line.split_once('=') {
                lab.vars.insert(k.to_owned(), v.to_owned());
            }
        }
        Some(lab)
    }

    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("lab.sh env has no {key}"))
    }

    pub fn c1(&self) -> &str {
        self.var("LAB_C1_NS")
    }

    /// Client 2's namespace: a second vantage on its own link to the middlebox.
    pub fn c2(&self) -> &str {
        self.var("LAB_C2_NS")
    }

    /// The server's address for `port`, IPv4 or IPv6.
    pub fn srv(&self, v6: bool, port: u16) -> String {
        if v6 {
            format!("[{}]:{port}", self.var("LAB_SRV_IP6"))
        } else {
            format!("{}:{port}", self.var("LAB_SRV_IP"))
        }
    }

    pub fn rule(&self, expr: &str) {
        let out = lab_sh(&self.prefix, self.index, &["rule", expr]);
        super::assert_exit_for(&out, 0, &format!("lab.sh rule '{expr}'"));
    }

    /// `lab.sh CMD --hop K ARG`: a rule, a rewrite (`mangle`) or an ICMP
    /// behaviour (`icmp`) on hop `hop` of a chain.
    pub fn on_hop(&self, cmd: &str, hop: u8, arg: &str) {
        let hop = hop.to_string();
        let out = lab_sh(&self.prefix, self.index, &[cmd, "--hop", &hop, arg]);
        super::assert_exit_for(&out, 0, &format!("lab.sh {cmd} --hop {hop} '{arg}'"));
    }

    /// `lab.sh flush --hop K`: hop K's forward and rewrite chains emptied.
    pub fn flush_hop(&self, hop: u8) {
        let hop = hop.to_string();
        let out = lab_sh(&self.prefix, self.index, &["flush", "--hop", &hop]);
        super::assert_exit_for(&out, 0, &format!("lab.sh flush --hop {hop}"));
    }

    pub fn flush(&self) {
        let out = lab_sh(&self.prefix, self.index, &["flush"]);
        super::assert_exit_for(&out, 0, "lab.sh flush");
    }

    /// A command inside namespace `ns`, bounded by `timeout` (seconds).
    pub fn in_ns(&self, ns: &str, timeout_s: u32, program: &str, args: &[&str]) -> Output {
        Command::new("timeout")
            .arg(timeout_s.to_string())
            .args(["ip", "netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} in {ns}: {e}"))
    }

    /// synlab inside client 1's namespace, bounded to 60 s.
    pub fn synlab(&self, args: &[&str]) -> Output {
        self.in_ns(self.c1(), 60, bin(), args)
    }

    /// synlab inside client 1's namespace ([`Lab::synlab`]), insisting on
    /// exit status `code` ([`super::assert_exit_for`], the command named).
    #[track_caller]
    pub fn synlab_exit(&self, args: &[&str], code: i32) -> Output {
        let out = self.synlab(args);
        super::assert_exit_for(
            &out,
            code,
            &format!("synlab {} in {}", args.join(" "), self.c1()),
        );
        out
    }

    /// `synlab probe ... --json` in client 1; the parsed document. The
    /// exit status must say whether every probe was answered: 0 when so,
    /// 1 when some probe's outcome is `no-reply`.
    pub fn probe_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["probe", "--json"];
        all.extend_from_slice(args);
        let out = self.synlab(&all);
        let what = format!("synlab {}", all.join(" "));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{what}: output is not JSON ({e}):\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        // Exit 1 when a probe went unanswered; with --exchange, when an
        // exchange did not complete (issue 21).
        let exchange = args.contains(&"--exchange");
        let failed = doc["probes"].as_array().is_some_and(|p| {
            p.iter().any(|p| match exchange {
                true => p["outcome"] != "complete",
                false => p["outcome"] == "no-reply",
            })
        });
        assert_eq!(
            out.status.code(),
            Some(i32::from(failed)),
            "{what}: exit status vs. failed probes\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        doc
    }

    /// The nftables tables in client 1's namespace.
    pub fn c1_tables(&self) -> String {
        let out = self.in_ns(self.c1(), 10, "nft", &["list", "tables"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let out = lab_sh(&self.prefix, self.index, &["down"]);
        if !out.status.success() {
            eprintln!(
                "lab.sh down for {} failed: {}",
                self.prefix,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Wait until `cond` holds, polling, at most `limit`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}
