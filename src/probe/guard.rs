//! Where probes may go. synlab sends hand-made packets; by default it only
//! sends them to loopback, or from inside a network namespace other than
//! the initial one (a lab the user built, such as `scripts/lab.sh`'s). Any
//! other target needs an explicit `--i-own-this-network`.

use std::net::IpAddr;

use thiserror::Error;

/// A target the safety guard refuses, with the reason and what to do.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("refusing to probe {target}: {reason}")]
pub struct TargetRefused {
    pub target: IpAddr,
    pub reason: String,
}

/// Whether probes may go to `target`. `in_initial_netns` says whether the
/// process runs in the initial network namespace (None: unknown, treated
/// as yes); `owned` is the user's `--i-own-this-network`.
pub fn check_target(
    target: IpAddr,
    in_initial_netns: Option<bool>,
    owned: bool,
) -> Result<(), TargetRefused> {
    let refuse = |reason: &str| {
        Err(TargetRefused {
            target,
            reason: reason.to_owned(),
        })
    };
    if target.is_unspecified() || target.is_multicast() {
        return refuse("not a unicast address");
    }
    if let IpAddr::V4(v4) = target {
        if v4.is_broadcast() {
            return refuse("a broadcast address");
        }
    }
    if target.is_loopback() || owned {
        return Ok(());
    }
    match in_initial_netns {
        Some(false) => Ok(()),
        Some(true) => refuse(
            "it is not loopback and synlab runs in the initial network namespace; \
             run it inside a lab namespace (ip netns exec NS synlab probe ..., see scripts/lab.sh), \
             or pass --i-own-this-network if you own the target and the path to it",
        ),
        None => refuse(
            "it is not loopback and synlab cannot tell whether it runs in a lab network namespace \
             (/proc/self/ns/net unreadable); pass --i-own-this-network if you own the target",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn loopback_always_allowed() {
        assert!(check_target(ip("127.0.0.1"), Some(true), false).is_ok());
        assert!(check_target(ip("::1"), None, false).is_ok());
    }

    #[test]
    fn others_only_in_a_namespace_or_when_owned() {
        assert!(check_target(ip("198.18.0.130"), Some(false), false).is_ok());
        assert!(check_target(ip("198.18.0.130"), Some(true), true).is_ok());
        let e = check_target(ip("198.18.0.130"), Some(true), false);
        assert!(
            e.as_ref()
                .is_err_and(|e| e.reason.contains("--i-own-this-network")),
            "{e:?}"
        );
        assert!(check_target(ip("198.18.0.130"), None, false).is_err());
    }

    #[test]
    fn never_broadcast_or_multicast() {
        assert!(check_target(ip("255.255.255.255"), Some(false), true).is_err());
        assert!(check_target(ip("224.0.0.1"), Some(false), true).is_err());
        assert!(check_target(ip("0.0.0.0"), Some(false), true).is_err());
    }
}
