//! The Community ID of a flow (Corelight's specification, version 1): a
//! hash of its addresses, protocol and ports that is the same whichever
//! side is named first, so one flow gets one ID in synlab's rows, Zeek's
//! conn.log (`community_id`), Suricata's eve.json and Arkime sessions, and
//! the rows can be joined on it.
//!
//! The ID is `1:` and the base64 of the SHA-1 of: the seed (two bytes, big
//! endian), the smaller endpoint's address, the other's address, the
//! protocol number, one zero byte, the smaller endpoint's port, the other's
//! port. "Smaller" compares the address bytes first, then the port. Pure:
//! the hash is the `sha1` crate's (RustCrypto: SHA-NI where the CPU has
//! it, detected at run time; one block per ID), the text the `base64` crate's.

use std::net::{IpAddr, SocketAddr};

use base64::Engine;
use sha1::{Digest, Sha1};

/// The seed Zeek, Suricata and Arkime use unless configured otherwise.
pub const DEFAULT_SEED: u16 = 0;

/// IANA protocol number of TCP, the only protocol of an attempt.
pub const TCP: u8 = 6;

/// The version prefix of every ID this module computes.
const VERSION_PREFIX: &str = "1:";

/// The version-1 Community ID of a flow between `a` and `b` (in either
/// order) over `proto`, with `seed`. Addresses of different families
/// (impossible on one flow) are still ordered, by their bytes, so the
/// function stays total.
pub fn community_id(seed: u16, proto: u8, a: SocketAddr, b: SocketAddr) -> String {
    let (first, second) = ordered(a, b);
    let mut hasher = Sha1::new();
    hasher.update(seed.to_be_bytes());
    hasher.update(Address::of(first.ip()).as_bytes());
    hasher.update(Address::of(second.ip()).as_bytes());
    hasher.update([proto, 0]);
    hasher.update(first.port().to_be_bytes());
    hasher.update(second.port().to_be_bytes());
    let digest = hasher.finalize();
    let mut id = String::with_capacity(VERSION_PREFIX.len() + 28);
    id.push_str(VERSION_PREFIX);
    base64::engine::general_purpose::STANDARD.encode_string(digest, &mut id);
    id
}

/// A TCP flow's Community ID with the default seed: what Zeek writes.
pub fn tcp(a: SocketAddr, b: SocketAddr) -> String {
    community_id(DEFAULT_SEED, TCP, a, b)
}

/// The two endpoints, smaller first: by address bytes, then by port, as
/// the specification orders them.
fn ordered(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    let key = |s: &SocketAddr| (Address::of(s.ip()), s.port());
    if key(&a) <= key(&b) {
        (a, b)
    } else {
        (b, a)
    }
}

/// An address in network byte order (4 bytes for IPv4, 16 for IPv6),
/// without allocating: the ID is computed for every attempt written.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Address {
    bytes: [u8; 16],
    len: usize,
}

impl Address {
    fn of(ip: IpAddr) -> Address {
        let mut bytes = [0; 16];
        let len = match ip {
            IpAddr::V4(v4) => {
                bytes[..4].copy_from_slice(&v4.octets());
                4
            }
            IpAddr::V6(v6) => {
                bytes = v6.octets();
                16
            }
        };
        Address { bytes, len }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// The specification's own TCP baseline (community-id-spec's
    /// baseline/baseline_deflt.json): 128.232.110.120:34855 ->
    /// 66.35.250.204:80, seed 0.
    #[test]
    fn matches_the_specifications_ipv4_baseline() {
        let id = tcp(addr("128.232.110.120:34855"), addr("66.35.250.204:80"));
        assert_eq!(id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    }

    /// An IPv6 TCP flow, as the reference implementation (the
    /// `communityid` Python package) hashes it.
    #[test]
    fn matches_the_specifications_ipv6_baseline() {
        let id = tcp(
            addr("[fe80::200:86ff:fe05:80da]:1234"),
            addr("[fe80::260:97ff:fe07:69ea]:80"),
        );
        assert_eq!(id, "1:I+G9nMXEOtKSE4nIKjOvUnvGl24=");
    }

    #[test]
    fn is_the_same_from_either_side() {
        let (a, b) = (addr("10.0.0.2:40000"), addr("10.0.0.1:80"));
        assert_eq!(tcp(a, b), tcp(b, a));
        // Same address: the port decides the order.
        let (c, d) = (addr("10.0.0.1:5"), addr("10.0.0.1:4"));
        assert_eq!(tcp(c, d), tcp(d, c));
    }

    #[test]
    fn the_seed_changes_the_id() {
        let (a, b) = (addr("10.0.0.2:40000"), addr("10.0.0.1:80"));
        assert_ne!(community_id(1, TCP, a, b), tcp(a, b));
    }
}
