//! Privileges in one place (trippy's model): a pure check that turns what
//! the process has and what a command needs into a hint a person can act
//! on, and the one privileged window: raise what opening the sockets needs,
//! open them, then lower the process to what the cleanup needs before the
//! first packet from the wire is parsed.
//!
//! "Lowered" means, on the calling thread (capabilities are per thread, so
//! this runs before any other thread starts, and is checked on every
//! thread afterwards):
//! - effective: nothing. synlab itself never needs a capability again: the
//!   sockets are open, and nftables changes run in an `nft` child;
//! - permitted and inheritable: CAP_NET_ADMIN when an nftables table is to
//!   be installed and removed (`--suppress-rst`), else nothing. CAP_NET_RAW
//!   leaves the permitted set too, so it can never be raised again (every
//!   live command, `bisect --target` included, opens its sockets once);
//! - ambient: CAP_NET_ADMIN when kept, so the `nft` child of a setcap'd
//!   binary run by a user gets it (without ambient it would get nothing);
//! - bounding (root only, which holds CAP_SETPCAP to change it): the same,
//!   so a child that root execs (`nft`) gets CAP_NET_ADMIN at most, not
//!   every capability uid 0 would otherwise bring.

use caps::{CapSet, Capability};
use thiserror::Error;

/// What a command needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// Raw IP and packet sockets (probe, capture).
    pub net_raw: bool,
    /// Changing nftables (probe --suppress-rst).
    pub net_admin: bool,
}

/// What the process has (in its permitted set, so it can raise them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Has {
    pub net_raw: bool,
    pub net_admin: bool,
}

/// The process lacks a privilege (the message says how to get it), or
/// could not take or give one up.
#[derive(Debug, Error)]
pub enum PrivilegeError {
    #[error("{hint}")]
    Missing { hint: String },
    #[error("{command}: cannot raise {cap}")]
    Raise {
        command: String,
        cap: Capability,
        #[source]
        source: caps::errors::CapsError,
    },
    #[error("{command}: cannot lower its capabilities")]
    Lower {
        command: String,
        #[source]
        source: caps::errors::CapsError,
    },
    #[error("{command}: cannot read its threads' capabilities")]
    Threads {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command}: its capabilities were not all dropped")]
    Kept {
        command: String,
        #[source]
        kept: ThreadKept,
    },
}

/// A thread that holds more than a lowered process may.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error(
    "thread {thread} still holds {} in its {set} set (allowed: {}); capabilities \
     belong to threads, so they must be lowered before any thread starts",
    CapMask(.held.0 & !.allowed.0).names(),
    .allowed.names()
)]
pub struct ThreadKept {
    pub thread: u32,
    pub set: &'static str,
    pub held: CapMask,
    pub allowed: CapMask,
}

/// Pure: does the process have what the command needs? If not, one line
/// saying what to do.
pub fn validate_privilege(command: &str, has: Has, needs: Needs) -> Result<(), PrivilegeError> {
    let raw = needs.net_raw && !has.net_raw;
    let admin = needs.net_admin && !has.net_admin;
    let hint = match (raw, admin) {
        (false, false) => return Ok(()),
        (true, false) => format!(
            "{command} needs CAP_NET_RAW to open raw sockets: run it as root (sudo), \
             or grant the capability once with: sudo setcap cap_net_raw+ep \"$(command -v synlab)\""
        ),
        (false, true) => format!(
            "{command} --suppress-rst needs CAP_NET_ADMIN to add its nftables rule: run it as root (sudo), \
             grant it with: sudo setcap cap_net_raw,cap_net_admin+ep \"$(command -v synlab)\", \
             or leave out --suppress-rst"
        ),
        (true, true) => format!(
            "{command} --suppress-rst needs CAP_NET_RAW and CAP_NET_ADMIN: run it as root (sudo), \
             or leave out --suppress-rst and grant raw sockets with: sudo setcap cap_net_raw+ep \"$(command -v synlab)\""
        ),
    };
    Err(PrivilegeError::Missing { hint })
}

/// What this process may raise.
pub fn current() -> Has {
    let permitted = |c| caps::has_cap(None, CapSet::Permitted, c).unwrap_or(false);
    Has {
        net_raw: permitted(Capability::CAP_NET_RAW),
        net_admin: permitted(Capability::CAP_NET_ADMIN),
    }
}

/// A set of capabilities as the kernel writes it in /proc/PID/status: one
/// bit per capability number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapMask(pub u64);

impl CapMask {
    pub const NONE: CapMask = CapMask(0);

    pub fn of(caps: &[Capability]) -> CapMask {
        CapMask(caps.iter().fold(0, |m, c| m | c.bitmask()))
    }

    /// Whether every capability in `self` is also in `allowed`.
    pub fn within(self, allowed: CapMask) -> bool {
        self.0 & !allowed.0 == 0
    }

    /// The capabilities of `self`, lowercase as `capsh` prints them.
    pub fn names(self) -> String {
        let names: Vec<String> = caps::all()
            .into_iter()
            .filter(|c| self.0 & c.bitmask() != 0)
            .map(|c| c.to_string().to_lowercase())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        match names.is_empty() {
            true => "(none)".to_owned(),
            false => names.join(","),
        }
    }
}

/// The five capability sets of one thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSets {
    pub inheritable: CapMask,
    pub permitted: CapMask,
    pub effective: CapMask,
    pub bounding: CapMask,
    pub ambient: CapMask,
}

/// Pure: the capability sets in the text of /proc/PID/status (None when a
/// line is missing or not hex).
pub fn parse_status(status: &str) -> Option<CapSets> {
    let field = |name: &str| -> Option<CapMask> {
        let line = status.lines().find_map(|l| l.strip_prefix(name))?;
        let hex = line.strip_prefix(':')?.trim();
        u64::from_str_radix(hex, 16).ok().map(CapMask)
    };
    Some(CapSets {
        inheritable: field("CapInh")?,
        permitted: field("CapPrm")?,
        effective: field("CapEff")?,
        bounding: field("CapBnd")?,
        ambient: field("CapAmb")?,
    })
}

/// Pure: what the process may still hold once lowered. The effective set
/// is always empty; `permitted` bounds the permitted, inheritable and
/// ambient sets.
pub fn lowered_permitted(needs: Needs) -> CapMask {
    if needs.net_admin {
        CapMask::of(&[Capability::CAP_NET_ADMIN])
    } else {
        CapMask::NONE
    }
}

/// Pure: the first thread (in the order given) whose sets exceed what a
/// lowered process may hold.
pub fn check_lowered(threads: &[(u32, CapSets)], permitted: CapMask) -> Result<(), ThreadKept> {
    for (tid, sets) in threads {
        let excess = [
            ("effective", sets.effective, CapMask::NONE),
            ("permitted", sets.permitted, permitted),
            ("inheritable", sets.inheritable, permitted),
            ("ambient", sets.ambient, permitted),
        ]
        .into_iter()
        .find(|(_, has, allowed)| !has.within(*allowed));
        if let Some((set, held, allowed)) = excess {
            return Err(ThreadKept {
                thread: *tid,
                set,
                held,
                allowed,
            });
        }
    }
    Ok(())
}

/// Check, then run `open` with what `needs` asks for in the effective set,
/// then lower the process (see the module doc) whether `open` succeeded or
/// not, and check every thread. Sockets opened inside keep working.
///
/// Call it before starting any thread (a tokio runtime included): a thread
/// started earlier keeps the capabilities it was born with, and the check
/// afterwards refuses to go on.
pub fn open_then_lower<T, E>(
    command: &str,
    needs: Needs,
    open: impl FnOnce() -> Result<T, E>,
) -> Result<Result<T, E>, PrivilegeError> {
    validate_privilege(command, current(), needs)?;
    let command = command.to_owned();
    if needs.net_raw {
        let cap = Capability::CAP_NET_RAW;
        caps::raise(None, CapSet::Effective, cap).map_err(|source| PrivilegeError::Raise {
            command: command.clone(),
            cap,
            source,
        })?;
    }
    let result = open();
    let permitted = lowered_permitted(needs);
    lower(permitted).map_err(|source| PrivilegeError::Lower {
        command: command.clone(),
        source,
    })?;
    let threads = thread_cap_sets().map_err(|source| PrivilegeError::Threads {
        command: command.clone(),
        source,
    })?;
    check_lowered(&threads, permitted).map_err(|kept| PrivilegeError::Kept { command, kept })?;
    Ok(result)
}

/// Lower the calling thread to `permitted` (see the module doc). The order
/// matters: the bounding set needs CAP_SETPCAP in the effective set, and
/// the kernel wants effective within permitted, and inheritable within
/// permitted (without CAP_SETPCAP), at every step.
fn lower(permitted: CapMask) -> Result<(), caps::errors::CapsError> {
    let keep: caps::CapsHashSet = caps::all()
        .into_iter()
        .filter(|c| permitted.0 & c.bitmask() != 0)
        .collect();
    if caps::has_cap(None, CapSet::Permitted, Capability::CAP_SETPCAP)? {
        caps::raise(None, CapSet::Effective, Capability::CAP_SETPCAP)?;
        for cap in caps::all() {
            // A capability this kernel does not know reads as an error: skip it.
            let bounded = caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false);
            if !keep.contains(&cap) && bounded {
                caps::drop(None, CapSet::Bounding, cap)?;
            }
        }
    }
    caps::clear(None, CapSet::Effective)?;
    caps::set(None, CapSet::Inheritable, &keep)?;
    caps::set(None, CapSet::Permitted, &keep)?;
    // Ambient for the kept CAP_NET_ADMIN only: CAP_NET_RAW kept for a
    // later batch must not reach the `nft` child.
    caps::clear(None, CapSet::Ambient)?;
    if keep.contains(&Capability::CAP_NET_ADMIN) {
        caps::raise(None, CapSet::Ambient, Capability::CAP_NET_ADMIN)?;
    }
    Ok(())
}

/// Every thread of this process with its capability sets, from
/// /proc/self/task.
pub fn thread_cap_sets() -> std::io::Result<Vec<(u32, CapSets)>> {
    let mut threads = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task")? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let status = match std::fs::read_to_string(entry.path().join("status")) {
            Ok(s) => s,
            // The thread ended between the listing and the read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let sets = parse_status(&status).ok_or_else(|| {
            std::io::Error::other(format!("/proc/self/task/{tid}/status has no Cap* lines"))
        })?;
        threads.push((tid, sets));
    }
    threads.sort_by_key(|(tid, _)| *tid);
    Ok(threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Has = Has {
        net_raw: true,
        net_admin: true,
    };
    const NONE: Has = Has {
        net_raw: false,
        net_admin: false,
    };

    #[test]
    fn enough_is_ok() {
        let needs = Needs {
            net_raw: true,
            net_admin: true,
        };
        assert!(validate_privilege("probe", ALL, needs).is_ok());
        let only_raw = Needs {
            net_raw: true,
            net_admin: false,
        };
        let has = Has {
            net_raw: true,
            net_admin: false,
        };
        assert!(validate_privilege("probe", has, only_raw).is_ok());
    }

    #[test]
    fn hints_name_the_fix() {
        let needs = Needs {
            net_raw: true,
            net_admin: false,
        };
        let e = validate_privilege("probe", NONE, needs).err();
        let hint = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(hint.contains("CAP_NET_RAW"), "{hint}");
        assert!(hint.contains("setcap cap_net_raw+ep"), "{hint}");
        assert!(!hint.contains('\n'));
        let needs = Needs {
            net_raw: true,
            net_admin: true,
        };
        let has = Has {
            net_raw: true,
            net_admin: false,
        };
        let hint = validate_privilege("probe", has, needs)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(hint.contains("--suppress-rst"), "{hint}");
    }

    const STATUS: &str = "Name:\tsynlab\nCapInh:\t0000000000001000\nCapPrm:\t0000000000001000\n\
                          CapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000001000\n";

    #[test]
    fn status_lines_become_sets() {
        let sets = parse_status(STATUS);
        let admin = CapMask::of(&[Capability::CAP_NET_ADMIN]);
        assert_eq!(
            sets,
            Some(CapSets {
                inheritable: admin,
                permitted: admin,
                effective: CapMask::NONE,
                bounding: CapMask(0x1ff_ffff_ffff),
                ambient: admin,
            })
        );
        assert_eq!(admin.names(), "cap_net_admin");
        assert_eq!(CapMask::NONE.names(), "(none)");
        assert_eq!(parse_status("CapInh:\tzz\n"), None);
        assert_eq!(parse_status(""), None);
    }

    #[test]
    fn lowered_keeps_net_admin_only_for_the_table() {
        let raw_only = Needs {
            net_raw: true,
            net_admin: false,
        };
        let both = Needs {
            net_raw: true,
            net_admin: true,
        };
        let admin = CapMask::of(&[Capability::CAP_NET_ADMIN]);
        assert_eq!(lowered_permitted(raw_only), CapMask::NONE);
        assert_eq!(lowered_permitted(both), admin);
    }

    /// The finding: as root only CAP_NET_RAW left the effective set.
    #[test]
    fn a_thread_that_kept_more_is_named() {
        let admin = CapMask::of(&[Capability::CAP_NET_ADMIN]);
        let lowered = parse_status(STATUS).unwrap_or_default();
        assert_eq!(check_lowered(&[(7, lowered)], admin), Ok(()));
        let root_minus_raw = CapSets {
            effective: CapMask(0x1ff_ffff_ffff & !CapMask::of(&[Capability::CAP_NET_RAW]).0),
            ..lowered
        };
        let kept = check_lowered(&[(7, lowered), (8, root_minus_raw)], admin).err();
        assert_eq!(kept.map(|k| (k.thread, k.set)), Some((8, "effective")));
        let e = kept.map(|k| k.to_string()).unwrap_or_default();
        assert!(e.starts_with("thread 8 still holds "), "{e}");
        assert!(
            e.contains("cap_sys_admin") && !e.contains("cap_net_raw"),
            "{e}"
        );
        // CAP_NET_RAW still permitted after a final drop is refused too.
        let raw_kept = CapSets {
            permitted: CapMask(admin.0 | CapMask::of(&[Capability::CAP_NET_RAW]).0),
            ..lowered
        };
        let e = check_lowered(&[(9, raw_kept)], admin)
            .err()
            .map(|k| k.to_string())
            .unwrap_or_default();
        assert!(e.contains("cap_net_raw in its permitted set"), "{e}");
    }
}
