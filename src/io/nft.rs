//! `--suppress-rst`: a scoped nftables rule that drops the RSTs the kernel
//! sends when a SYN-ACK answers a SYN no socket of its own sent (every
//! probe's SYN-ACK, since probes go out on raw sockets).
//!
//! It drops RSTs without ACK only: the kernel answers a segment that carries
//! ACK (the SYN-ACK and every later server segment do) with a bare RST,
//! while the exchange client ends a connection it gives up with RST|ACK,
//! which must reach the server (issue 21).
//!
//! The rule lives in its own table, `inet synlab_probe_<token>`, matches
//! only the batch's source ports, and goes away when the guard is dropped:
//! on success, on error, and on Ctrl-C (the driver turns SIGINT/SIGTERM into
//! an error, so the guard's `Drop` runs).
//!
//! Even a SIGKILL cannot leave it behind: the table is made with nftables'
//! `owner` flag by an `nft -i` child that synlab keeps running, reading
//! commands from a pipe. The kernel removes an owned table when the netlink
//! socket that made it closes; synlab's end of the pipe closes when synlab
//! exits, however it exits, so `nft` reads end-of-file, exits, and the table
//! goes with it. Where the flag is not supported (Linux before 5.12), the
//! table is made the old way, and tables left by a process killed outright
//! are removed by the next run ([`remove_stale_tables`]).
//!
//! The token names the run more firmly than a PID: the PID, the process's
//! start time (/proc/PID/stat field 22, clock ticks since boot) and its PID
//! namespace (the inode of /proc/PID/ns/pid). A reused PID has another start
//! time, so it cannot keep a dead run's table alive; a table made in another
//! PID namespace, whose PIDs mean nothing here, is left alone rather than
//! judged by a stranger's PID.
//!
//! `nft` is run by absolute path, never looked up in PATH (synlab may run as
//! root), and only if the file and every directory above it belong to root
//! and are writable by no one else.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

const TABLE_PREFIX: &str = "synlab_probe_";

/// Where nftables installs `nft`, in the order tried.
pub const NFT_PATHS: &[&str] = &["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/bin/nft"];

#[derive(Debug, Error)]
pub enum NftError {
    #[error("cannot run {path}: {source}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("nft {action} failed: {stderr}")]
    Failed { action: String, stderr: String },
    #[error("cannot name this run's table from /proc/self/stat and /proc/self/ns/pid")]
    Token(#[source] std::io::Error),
    #[error("nft not found in {} (is nftables installed? apt-get install nftables)", NFT_PATHS.join(", "))]
    NotFound,
    #[error("refusing to run {path}: {problem} is {why}; a root process runs only an nft that only root can change")]
    Insecure {
        path: PathBuf,
        /// The file or directory at fault.
        problem: PathBuf,
        why: Insecurity,
    },
}

/// Why a file on the way to `nft` could be changed by someone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insecurity {
    NotOwnedByRoot { uid: u32 },
    WritableByOthers { mode: u32 },
}

impl std::fmt::Display for Insecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Insecurity::NotOwnedByRoot { uid } => write!(f, "owned by uid {uid}, not root"),
            Insecurity::WritableByOthers { mode } => {
                write!(f, "writable by group or others (mode {:o})", mode & 0o7777)
            }
        }
    }
}

/// Pure: whether a file or directory with this owner and mode is safe to
/// trust: owned by root, and not writable by group or others.
pub fn insecurity(uid: u32, mode: u32) -> Option<Insecurity> {
    if uid != 0 {
        Some(Insecurity::NotOwnedByRoot { uid })
    } else if mode & 0o022 != 0 {
        Some(Insecurity::WritableByOthers { mode })
    } else {
        None
    }
}

/// The `nft` to run: the first of [`NFT_PATHS`] that exists, with its
/// symlinks resolved, checked to be root's alone along its whole path.
pub fn nft_path() -> Result<PathBuf, NftError> {
    let found = NFT_PATHS
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .ok_or(NftError::NotFound)?;
    let real = found.canonicalize().map_err(|source| NftError::Spawn {
        path: found.to_owned(),
        source,
    })?;
    for part in real.ancestors() {
        let meta = std::fs::metadata(part).map_err(|source| NftError::Spawn {
            path: part.to_owned(),
            source,
        })?;
        if let Some(why) = insecurity(meta.uid(), meta.mode()) {
            return Err(NftError::Insecure {
                path: found.to_owned(),
                problem: part.to_owned(),
                why,
            });
        }
    }
    Ok(real)
}

/// Who made a synlab table, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// `synlab_probe_<pid>_<start>_<pidns>`.
    Run(RunToken),
    /// `synlab_probe_<pid>`, from synlab versions before the token.
    Legacy { pid: u32 },
}

/// A run of synlab: PID, start time and PID namespace (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunToken {
    pub pid: u32,
    /// Clock ticks after boot, /proc/PID/stat field 22.
    pub start: u64,
    /// The inode of /proc/PID/ns/pid.
    pub pid_ns: u64,
}

impl RunToken {
    /// This process's token.
    pub fn current() -> std::io::Result<RunToken> {
        let stat = std::fs::read_to_string("/proc/self/stat")?;
        let start = start_time(&stat)
            .ok_or_else(|| std::io::Error::other("/proc/self/stat has no start time"))?;
        let pid_ns = std::fs::metadata("/proc/self/ns/pid")?.ino();
        Ok(RunToken {
            pid: std::process::id(),
            start,
            pid_ns,
        })
    }

    pub fn table_name(&self) -> String {
        format!("{TABLE_PREFIX}{}_{}_{}", self.pid, self.start, self.pid_ns)
    }
}

/// Pure: field 22 (start time) of a /proc/PID/stat line. The command name
/// (field 2) is in parentheses and may hold spaces and ')', so fields are
/// counted from the last ')'.
pub fn start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ')' come fields 3, 4, ...: field 22 is the 20th.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Pure: the owner named by a table name, if it is one of synlab's.
pub fn parse_table(name: &str) -> Option<Owner> {
    let rest = name.strip_prefix(TABLE_PREFIX)?;
    let mut parts = rest.split('_');
    let pid = parts.next()?.parse().ok()?;
    let (start, pid_ns) = match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => return Some(Owner::Legacy { pid }),
        (Some(start), Some(ns), None) => (start.parse().ok()?, ns.parse().ok()?),
        _ => return None,
    };
    Some(Owner::Run(RunToken { pid, start, pid_ns }))
}

/// Pure: whether the run that made a table is gone. `start_of(pid)` is the
/// start time of the process with that PID in our PID namespace, if one runs.
pub fn is_stale(owner: Owner, our_pid_ns: u64, start_of: impl Fn(u32) -> Option<u64>) -> bool {
    match owner {
        // Another PID namespace's PIDs cannot be looked up here.
        Owner::Run(t) if t.pid_ns != our_pid_ns => false,
        Owner::Run(t) => start_of(t.pid) != Some(t.start),
        Owner::Legacy { pid } => start_of(pid).is_none(),
    }
}

/// nft set elements for the ports: consecutive runs become ranges.
pub fn port_elements(ports: &[u16]) -> String {
    let mut sorted = ports.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

/// The nft script for one table.
pub fn rule_script(table: &str, ports: &[u16]) -> String {
    format!(
        "table inet {table} {{\n\
         \tchain output {{\n\
         \t\ttype filter hook output priority 0; policy accept;\n\
         \t\ttcp sport {{ {} }} tcp flags & (rst | ack) == rst drop\n\
         \t}}\n\
         }}\n",
        port_elements(ports)
    )
}

/// The same table as [`rule_script`] on one line (one line is one
/// transaction for `nft -i`: all of it or none), owned by the netlink socket
/// of the `nft` that runs it.
pub fn owned_rule_line(table: &str, ports: &[u16]) -> String {
    format!(
        "table inet {table} {{ flags owner; chain output {{ \
         type filter hook output priority 0; policy accept; \
         tcp sport {{ {} }} tcp flags & (rst | ack) == rst drop; }}; }}\n",
        port_elements(ports)
    )
}

/// Pure: the tables of runs that no longer exist, from `nft list tables`.
pub fn stale_tables(
    listing: &str,
    our_pid_ns: u64,
    start_of: impl Fn(u32) -> Option<u64>,
) -> Vec<String> {
    listing
        .lines()
        .filter_map(|l| l.trim().strip_prefix("table inet "))
        .filter(|name| parse_table(name).is_some_and(|o| is_stale(o, our_pid_ns, &start_of)))
        .map(str::to_owned)
        .collect()
}

/// The start time of process `pid` in our PID namespace, if it runs.
fn start_of(pid: u32) -> Option<u64> {
    start_time(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Remove the tables of synlab runs that no longer exist; the names
/// removed. Needs CAP_NET_ADMIN (root): live commands call it before they
/// lower their privileges, and [`RstSuppressor::install`] again.
pub fn remove_stale_tables() -> Result<Vec<String>, NftError> {
    let me = RunToken::current().map_err(NftError::Token)?;
    let listing = nft(&["list", "tables", "inet"], None, "list tables")?;
    let mut removed = Vec::new();
    for table in stale_tables(&listing, me.pid_ns, start_of) {
        // Another run may have removed it in the meantime: not an error.
        match nft(&["delete", "table", "inet", &table], None, "delete") {
            Ok(_) => {
                tracing::info!("nftables: removed stale table inet {table}");
                removed.push(table);
            }
            Err(e) => tracing::warn!("could not remove stale table inet {table}: {e}"),
        }
    }
    Ok(removed)
}

/// What every live run does first, while it still may: remove the tables
/// of runs that no longer exist, so a crash or SIGKILL leaves a table only
/// until the next run. Only as root with CAP_NET_ADMIN permitted (then an
/// `nft` child gets it; a later batch of a lowered bisect without a table
/// has not); otherwise, and on failure, it says so in the log. Once per
/// process: a bisect's later batches do not list the tables again.
pub fn sweep_stale_tables() {
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if SWEPT.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !super::privilege::current().net_admin {
        tracing::debug!(
            "no CAP_NET_ADMIN as root: stale synlab nftables tables are not looked for"
        );
        return;
    }
    if let Err(e) = remove_stale_tables() {
        tracing::warn!("could not look for stale synlab nftables tables: {e}");
    }
}

fn nft(args: &[&str], stdin: Option<&str>, action: &str) -> Result<String, NftError> {
    let path = nft_path()?;
    let spawn_err = |source| NftError::Spawn {
        path: path.clone(),
        source,
    };
    // Its own process group: a Ctrl-C at the terminal goes to synlab's
    // group only, so it cannot kill nft halfway through installing or
    // removing the table; synlab's handler removes the table itself.
    let mut child = Command::new(&path)
        .process_group(0)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).map_err(spawn_err)?;
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    if !out.status.success() {
        return Err(NftError::Failed {
            action: action.to_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// How long an `nft -i` child may take to make or drop its table.
const HOLDER_WAIT: Duration = Duration::from_secs(3);

/// An `nft -i` child holding an owned table: the table lives exactly as
/// long as the child's netlink socket, which lives until its stdin closes.
#[derive(Debug)]
struct Holder {
    child: Child,
    stdin: ChildStdin,
}

impl Holder {
    /// Start `nft -i`, make the owned table, and wait until it is listed.
    /// An error from nft (e.g. a kernel without the owner flag) arrives on
    /// its stderr, read without blocking while waiting.
    fn start(table: &str, ports: &[u16]) -> Result<Holder, NftError> {
        let path = nft_path()?;
        let spawn_err = |source| NftError::Spawn {
            path: path.clone(),
            source,
        };
        let mut child = Command::new(&path)
            .process_group(0)
            .arg("-i")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        let (Some(mut stdin), Some(mut stderr)) = (child.stdin.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(spawn_err(std::io::Error::other("nft -i without pipes")));
        };
        set_nonblocking(&stderr);
        let made = stdin
            .write_all(owned_rule_line(table, ports).as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(spawn_err)
            .and_then(|()| wait_listed(table, &mut child, &mut stderr));
        match made {
            Ok(()) => Ok(Holder { child, stdin }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    /// Close the pipe: nft exits and the kernel drops the table. A child
    /// that does not exit in time is killed, which drops it too.
    fn release(self) -> Result<(), NftError> {
        let Holder { mut child, stdin } = self;
        drop(stdin);
        let t0 = Instant::now();
        while t0.elapsed() < HOLDER_WAIT {
            if let Ok(Some(_)) = child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        child.wait().map(drop).map_err(|source| NftError::Spawn {
            path: PathBuf::from("nft -i"),
            source,
        })
    }
}

/// Wait until `table` is listed; fail on anything nft writes to stderr,
/// on its exit, or after [`HOLDER_WAIT`].
fn wait_listed(table: &str, child: &mut Child, stderr: &mut ChildStderr) -> Result<(), NftError> {
    let action = format!("add table inet {table} (owner)");
    let failed = |stderr: String| NftError::Failed {
        action: action.clone(),
        stderr,
    };
    let t0 = Instant::now();
    loop {
        let mut said = Vec::new();
        let _ = stderr.read_to_end(&mut said);
        if !said.is_empty() {
            return Err(failed(String::from_utf8_lossy(&said).trim().to_owned()));
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(failed(format!("nft -i exited ({status})")));
        }
        if nft(&["list", "table", "inet", table], None, "list table").is_ok() {
            return Ok(());
        }
        if t0.elapsed() > HOLDER_WAIT {
            return Err(failed(format!("not listed after {HOLDER_WAIT:?}")));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads from a pipe return at once (`WouldBlock`) when it is empty.
fn set_nonblocking(pipe: &ChildStderr) {
    let fd = pipe.as_raw_fd();
    // SAFETY: fcntl on a file descriptor we own; flags read, then set.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

/// The installed rule; removed on drop.
#[derive(Debug)]
pub struct RstSuppressor {
    table: String,
    /// The `nft -i` holding an owned table; `None` when the table was made
    /// the old way and must be deleted by name.
    holder: Option<Holder>,
    installed: bool,
}

impl RstSuppressor {
    /// Add the table for these source ports (after removing stale ones):
    /// owned by an `nft -i` child when the kernel allows, else by name.
    pub fn install(ports: &[u16]) -> Result<Self, NftError> {
        // A failure here only leaves old tables: say so and go on.
        if let Err(e) = remove_stale_tables() {
            tracing::warn!("could not look for stale synlab tables: {e}");
        }
        let token = RunToken::current().map_err(NftError::Token)?;
        let table = token.table_name();
        let holder = match Holder::start(&table, ports) {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(
                    "nftables: no owned table ({e}); a SIGKILL would leave the table until the next run"
                );
                let script = rule_script(&table, ports);
                nft(
                    &["-f", "-"],
                    Some(&script),
                    &format!("add table inet {table}"),
                )?;
                None
            }
        };
        tracing::info!(
            "nftables: table inet {table} drops our RSTs ({})",
            if holder.is_some() {
                "owned by an nft -i child"
            } else {
                "by name"
            }
        );
        Ok(RstSuppressor {
            table,
            holder,
            installed: true,
        })
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Remove the table now, reporting failure.
    pub fn remove(mut self) -> Result<(), NftError> {
        self.take_down()
    }

    fn take_down(&mut self) -> Result<(), NftError> {
        if !std::mem::replace(&mut self.installed, false) {
            return Ok(());
        }
        if let Some(holder) = self.holder.take() {
            holder.release()?;
            // Gone with nft's socket; a by-name delete only if it is not.
            if nft(&["list", "table", "inet", &self.table], None, "list table").is_err() {
                return Ok(());
            }
        }
        nft(
            &["delete", "table", "inet", &self.table],
            None,
            &format!("delete table inet {}", self.table),
        )
        .map(drop)
    }
}

impl Drop for RstSuppressor {
    fn drop(&mut self) {
        if let Err(e) = self.take_down() {
            tracing::warn!("could not remove nftables table {}: {e}", self.table);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owned_table_is_one_line_with_the_owner_flag() {
        let line = owned_rule_line("synlab_probe_1_2_3", &[40000, 40001, 40005]);
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.ends_with('\n'));
        assert!(line.starts_with("table inet synlab_probe_1_2_3 { flags owner; chain output {"));
        assert!(
            line.contains("tcp sport { 40000-40001, 40005 } tcp flags & (rst | ack) == rst drop;")
        );
    }

    #[test]
    fn ports_become_ranges() {
        assert_eq!(port_elements(&[5, 3, 4, 9, 11, 10]), "3-5, 9-11");
        assert_eq!(port_elements(&[7]), "7");
        assert_eq!(port_elements(&[65535, 1]), "1, 65535");
    }

    #[test]
    fn script_scopes_to_ports() {
        let s = rule_script("synlab_probe_1", &[40000, 40001]);
        assert!(s.contains("table inet synlab_probe_1 {"));
        assert!(s.contains("tcp sport { 40000-40001 } tcp flags & (rst | ack) == rst drop"));
        assert!(s.contains("hook output"));
    }

    #[test]
    fn only_dead_owners_are_stale() {
        let listing = "table inet synlab_lab\ntable inet synlab_probe_12\ntable inet synlab_probe_34\ntable inet synlab_probe_x\n";
        let start_of = |pid| (pid == 34).then_some(1);
        assert_eq!(stale_tables(listing, 9, start_of), vec!["synlab_probe_12"]);
    }

    /// The finding: a table was judged by whether its PID existed,
    /// so a reused PID kept a dead run's table alive.
    #[test]
    fn a_reused_pid_does_not_keep_a_table_alive() {
        let token = RunToken {
            pid: 4242,
            start: 1000,
            pid_ns: 9,
        };
        let name = token.table_name();
        assert_eq!(name, "synlab_probe_4242_1000_9");
        assert_eq!(parse_table(&name), Some(Owner::Run(token)));
        let listing = format!("table inet {name}\n");
        // The run itself is alive: kept.
        assert!(stale_tables(&listing, 9, |_| Some(1000)).is_empty());
        // PID 4242 now belongs to a process started later: stale.
        assert_eq!(
            stale_tables(&listing, 9, |_| Some(5000)),
            vec![name.clone()]
        );
        // No such PID: stale.
        assert_eq!(stale_tables(&listing, 9, |_| None), vec![name.clone()]);
        // Made in another PID namespace: its PID means nothing here, so
        // neither a live stranger nor a missing PID decides; left alone.
        assert!(stale_tables(&listing, 10, |_| None).is_empty());
        assert!(stale_tables(&listing, 10, |_| Some(5000)).is_empty());
    }

    #[test]
    fn table_names_parse_strictly() {
        assert_eq!(
            parse_table("synlab_probe_7"),
            Some(Owner::Legacy { pid: 7 })
        );
        assert_eq!(parse_table("synlab_probe_7_8"), None);
        assert_eq!(parse_table("synlab_probe_7_8_9_10"), None);
        assert_eq!(parse_table("synlab_probe_7_x_9"), None);
        assert_eq!(parse_table("synlab_lab"), None);
    }

    #[test]
    fn start_time_is_field_22_even_with_odd_names() {
        let stat = "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 98765 1000 200 18446744073709551615";
        assert_eq!(start_time(stat), Some(98765));
        assert_eq!(start_time("1 (x) S 1"), None);
        assert_eq!(start_time("no parens"), None);
        // This process: a start time, and a table name that parses back.
        let me = RunToken::current().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parse_table(&me.table_name()), Some(Owner::Run(me)));
    }

    /// The finding: `nft` was looked up in PATH by a root process.
    #[test]
    fn only_root_owned_unwritable_files_are_trusted() {
        assert_eq!(insecurity(0, 0o100755), None);
        assert_eq!(insecurity(0, 0o40755), None);
        assert_eq!(
            insecurity(1000, 0o100755),
            Some(Insecurity::NotOwnedByRoot { uid: 1000 })
        );
        assert_eq!(
            insecurity(0, 0o41777),
            Some(Insecurity::WritableByOthers { mode: 0o41777 })
        );
        assert_eq!(
            insecurity(0, 0o100775),
            Some(Insecurity::WritableByOthers { mode: 0o100775 })
        );
        // Whatever is installed here is absolute and checked.
        if let Ok(p) = nft_path() {
            assert!(p.is_absolute(), "{}", p.display());
        }
    }
}
