//! `--suppress-rst`: a scoped nftables rule that drops the RSTs the kernel
//! sends when a SYN-ACK answers a SYN no socket of its own sent (every
//! probe's SYN-ACK, since probes go out on raw sockets).
//!
//! The rule lives in its own table, `inet synlab_probe_<pid>`, matches only
//! the batch's source ports, and goes away when the guard is dropped: on
//! success, on error, and on Ctrl-C (the driver turns SIGINT/SIGTERM into an
//! error, so the guard's `Drop` runs). Tables left by a process that was
//! killed outright are removed the next time a guard is installed.

use std::io::Write;
use std::process::{Command, Stdio};

use thiserror::Error;

const TABLE_PREFIX: &str = "synlab_probe_";

#[derive(Debug, Error)]
pub enum NftError {
    #[error("cannot run nft (is nftables installed?): {0}")]
    Spawn(#[source] std::io::Error),
    #[error("nft {action} failed: {stderr}")]
    Failed { action: String, stderr: String },
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
         \t\ttcp sport {{ {} }} tcp flags & rst == rst drop\n\
         \t}}\n\
         }}\n",
        port_elements(ports)
    )
}

/// Tables named after processes that no longer run, from `nft list tables`.
pub fn stale_tables(listing: &str, alive: impl Fn(u32) -> bool) -> Vec<String> {
    listing
        .lines()
        .filter_map(|l| l.trim().strip_prefix("table inet "))
        .filter_map(|name| {
            let pid: u32 = name.strip_prefix(TABLE_PREFIX)?.parse().ok()?;
            (!alive(pid)).then(|| name.to_owned())
        })
        .collect()
}

fn nft(args: &[&str], stdin: Option<&str>, action: &str) -> Result<String, NftError> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NftError::Spawn)?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).map_err(NftError::Spawn)?;
    }
    let out = child.wait_with_output().map_err(NftError::Spawn)?;
    if !out.status.success() {
        return Err(NftError::Failed {
            action: action.to_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The installed rule; removed on drop.
#[derive(Debug)]
pub struct RstSuppressor {
    table: String,
    installed: bool,
}

impl RstSuppressor {
    /// Add the table for these source ports (after removing stale ones).
    pub fn install(ports: &[u16]) -> Result<Self, NftError> {
        if let Ok(listing) = nft(&["list", "tables", "inet"], None, "list tables") {
            let alive = |pid: u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
            for table in stale_tables(&listing, alive) {
                let _ = nft(&["delete", "table", "inet", &table], None, "delete");
            }
        }
        let table = format!("{TABLE_PREFIX}{}", std::process::id());
        let script = rule_script(&table, ports);
        nft(
            &["-f", "-"],
            Some(&script),
            &format!("add table inet {table}"),
        )?;
        tracing::info!("nftables: table inet {table} drops our RSTs");
        Ok(RstSuppressor {
            table,
            installed: true,
        })
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Remove the table now, reporting failure.
    pub fn remove(mut self) -> Result<(), NftError> {
        self.installed = false;
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
        if self.installed {
            if let Err(e) = nft(&["delete", "table", "inet", &self.table], None, "delete") {
                tracing::warn!("could not remove nftables table {}: {e}", self.table);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(s.contains("tcp sport { 40000-40001 } tcp flags & rst == rst drop"));
        assert!(s.contains("hook output"));
    }

    #[test]
    fn only_dead_owners_are_stale() {
        let listing = "table inet synlab_lab\ntable inet synlab_probe_12\ntable inet synlab_probe_34\ntable inet synlab_probe_x\n";
        assert_eq!(
            stale_tables(listing, |pid| pid == 34),
            vec!["synlab_probe_12"]
        );
    }
}
