//! Privileges in one place (trippy's model): a pure check that turns what
//! the process has and what a command needs into a hint a person can act
//! on, and a helper that raises CAP_NET_RAW only while sockets are opened.

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

/// The process lacks a privilege; the message says how to get it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{hint}")]
pub struct PrivilegeError {
    pub hint: String,
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
             or leave out --suppress-rst"
        ),
        (true, true) => format!(
            "{command} --suppress-rst needs CAP_NET_RAW and CAP_NET_ADMIN: run it as root (sudo), \
             or leave out --suppress-rst and grant raw sockets with: sudo setcap cap_net_raw+ep \"$(command -v synlab)\""
        ),
    };
    Err(PrivilegeError { hint })
}

/// What this process may raise.
pub fn current() -> Has {
    let permitted = |c| caps::has_cap(None, CapSet::Permitted, c).unwrap_or(false);
    Has {
        net_raw: permitted(Capability::CAP_NET_RAW),
        net_admin: permitted(Capability::CAP_NET_ADMIN),
    }
}

/// Check, then run `open` with CAP_NET_RAW in the effective set, and drop
/// it from the effective set afterwards, whether `open` succeeded or not.
/// Sockets opened inside keep working; nothing opened later gets the
/// privilege.
pub fn with_net_raw<T, E>(
    command: &str,
    needs: Needs,
    open: impl FnOnce() -> Result<T, E>,
) -> Result<Result<T, E>, PrivilegeError> {
    validate_privilege(command, current(), needs)?;
    caps::raise(None, CapSet::Effective, Capability::CAP_NET_RAW).map_err(|e| PrivilegeError {
        hint: format!("{command}: cannot raise CAP_NET_RAW: {e}"),
    })?;
    let result = open();
    // Best effort: failing to drop leaves the process as privileged as it
    // started, which is not worse than before.
    if let Err(e) = caps::drop(None, CapSet::Effective, Capability::CAP_NET_RAW) {
        tracing::warn!("could not drop CAP_NET_RAW: {e}");
    }
    Ok(result)
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
        let hint = e.map(|e| e.hint).unwrap_or_default();
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
            .map(|e| e.hint)
            .unwrap_or_default();
        assert!(hint.contains("--suppress-rst"), "{hint}");
    }
}
