//! Where probes may go. synlab sends hand-made packets; without
//! `--i-own-this-network` it sends them only to loopback, or to the lab that
//! `scripts/lab.sh` builds: addresses in the benchmarking ranges
//! 198.18.0.0/15 (RFC 2544) and 2001:2::/48 (RFC 5180), which are never
//! routed on the Internet, probed from inside a network namespace (the lab
//! has nothing in the initial one).
//!
//! A network namespace alone is not a lab: a container or a VPN namespace
//! has a default route to the world. And a lab range alone is not either:
//! some proxies hand out 198.18.0.0/15 addresses in the initial namespace
//! ("fake IP" DNS) and forward what is sent there to the real destination.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

/// The lab's IPv4 range, 198.18.0.0/15 (RFC 2544 benchmarking).
pub const LAB_V4: (Ipv4Addr, u8) = (Ipv4Addr::new(198, 18, 0, 0), 15);
/// The lab's IPv6 range, 2001:2::/48 (RFC 5180 benchmarking).
pub const LAB_V6: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48);

/// A target the safety guard refuses, with the reason and what to do.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("refusing to probe {target}: {reason}")]
pub struct TargetRefused {
    pub target: IpAddr,
    pub reason: Refusal,
}

/// Why a target is refused; each message says what to do instead.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    #[error("not a unicast address")]
    NotUnicast,
    #[error("a broadcast address")]
    Broadcast,
    #[error(
        "it is neither loopback nor in the benchmarking ranges 198.18.0.0/15 and 2001:2::/48 \
         (RFC 2544, RFC 5180) that scripts/lab.sh builds its lab in; if you own the target and \
         every network on the way to it, say so with --i-own-this-network"
    )]
    OutsideLab,
    #[error(
        "it is in the lab's ranges, but synlab runs in the initial network namespace, where \
         scripts/lab.sh puts nothing: run it inside the lab (ip netns exec NS synlab ...), \
         or, if you own the target and the path to it, say so with --i-own-this-network"
    )]
    InitialNamespace,
    #[error(
        "it is in the lab's ranges, but synlab cannot tell whether it runs in the initial \
         network namespace (/proc/self/ns/net unreadable); if you own the target and the \
         path to it, say so with --i-own-this-network"
    )]
    NamespaceUnknown,
}

/// Whether `ip` is in the lab's benchmarking ranges.
pub fn in_lab_ranges(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => prefix_matches(
            u32::from(v4).into(),
            u32::from(LAB_V4.0).into(),
            32,
            LAB_V4.1,
        ),
        IpAddr::V6(v6) => prefix_matches(u128::from(v6), u128::from(LAB_V6.0), 128, LAB_V6.1),
    }
}

/// Whether the first `len` of the `bits` low bits of `a` and `b` agree.
fn prefix_matches(a: u128, b: u128, bits: u8, len: u8) -> bool {
    let shift = bits.saturating_sub(len);
    a >> shift == b >> shift
}

/// Whether probes may go to `target`. `in_initial_netns` says whether the
/// process runs in the initial network namespace (None: unknown);
/// `owned` is the user's `--i-own-this-network`.
pub fn check_target(
    target: IpAddr,
    in_initial_netns: Option<bool>,
    owned: bool,
) -> Result<(), TargetRefused> {
    let refuse = |reason| Err(TargetRefused { target, reason });
    let ip = target.to_canonical();
    if ip.is_unspecified() || ip.is_multicast() {
        return refuse(Refusal::NotUnicast);
    }
    if let IpAddr::V4(v4) = ip {
        if v4.is_broadcast() {
            return refuse(Refusal::Broadcast);
        }
    }
    if ip.is_loopback() || owned {
        return Ok(());
    }
    if !in_lab_ranges(ip) {
        return refuse(Refusal::OutsideLab);
    }
    match in_initial_netns {
        Some(false) => Ok(()),
        Some(true) => refuse(Refusal::InitialNamespace),
        None => refuse(Refusal::NamespaceUnknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| unreachable!())
    }

    fn reason(target: &str, initial: Option<bool>) -> Option<Refusal> {
        check_target(ip(target), initial, false)
            .err()
            .map(|e| e.reason)
    }

    #[test]
    fn loopback_always_allowed() {
        assert!(check_target(ip("127.0.0.1"), Some(true), false).is_ok());
        assert!(check_target(ip("::1"), None, false).is_ok());
        assert!(check_target(ip("::ffff:127.0.0.1"), Some(true), false).is_ok());
    }

    #[test]
    fn lab_ranges_are_the_benchmarking_ones() {
        for inside in [
            "198.18.0.0",
            "198.18.0.130",
            "198.19.255.255",
            "2001:2::1",
            "2001:2:0:ffff::2",
            "::ffff:198.18.3.4",
        ] {
            assert!(in_lab_ranges(ip(inside)), "{inside}");
        }
        for outside in [
            "198.17.255.255",
            "198.20.0.0",
            "10.0.0.1",
            "2001:2:1::1",
            "2001:3::1",
            "fd00:5ab:0:1::2",
            "::ffff:8.8.8.8",
        ] {
            assert!(!in_lab_ranges(ip(outside)), "{outside}");
        }
    }

    /// The finding: any namespace other than the initial one counted
    /// as a lab, so inside a container `probe --target 8.8.8.8:80` was sent.
    #[test]
    fn a_namespace_is_not_a_lab() {
        assert_eq!(reason("8.8.8.8", Some(false)), Some(Refusal::OutsideLab));
        assert_eq!(reason("10.8.0.1", Some(false)), Some(Refusal::OutsideLab));
        assert_eq!(
            reason("2606:4700::1111", Some(false)),
            Some(Refusal::OutsideLab)
        );
        assert_eq!(
            reason("::ffff:8.8.8.8", Some(false)),
            Some(Refusal::OutsideLab)
        );
        // The old lab's ULA range is not a lab range any more.
        assert_eq!(
            reason("fd00:5ab:0:3::2", Some(false)),
            Some(Refusal::OutsideLab)
        );
    }

    #[test]
    fn lab_ranges_only_from_a_namespace_or_when_owned() {
        assert_eq!(reason("198.18.0.130", Some(false)), None);
        assert_eq!(reason("2001:2:0:3::2", Some(false)), None);
        assert_eq!(
            reason("198.18.0.130", Some(true)),
            Some(Refusal::InitialNamespace)
        );
        assert_eq!(
            reason("198.18.0.130", None),
            Some(Refusal::NamespaceUnknown)
        );
        assert!(check_target(ip("198.18.0.130"), Some(true), true).is_ok());
        assert!(check_target(ip("8.8.8.8"), Some(true), true).is_ok());
    }

    #[test]
    fn every_refusal_says_how_to_declare_ones_own_network() {
        for r in [
            Refusal::OutsideLab,
            Refusal::InitialNamespace,
            Refusal::NamespaceUnknown,
        ] {
            let text = r.to_string();
            assert!(text.contains("--i-own-this-network"), "{text}");
        }
        let e = check_target(ip("8.8.8.8"), Some(false), false).err();
        let text = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.starts_with("refusing to probe 8.8.8.8: it is neither loopback"),
            "{text}"
        );
        assert!(text.contains("198.18.0.0/15 and 2001:2::/48"), "{text}");
    }

    #[test]
    fn never_broadcast_or_multicast() {
        assert_eq!(
            check_target(ip("255.255.255.255"), Some(false), true).map_err(|e| e.reason),
            Err(Refusal::Broadcast)
        );
        assert!(check_target(ip("224.0.0.1"), Some(false), true).is_err());
        assert!(check_target(ip("ff02::1"), Some(false), true).is_err());
        assert!(check_target(ip("0.0.0.0"), Some(false), true).is_err());
    }
}
