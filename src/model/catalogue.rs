//! The catalogue of attribute names: their order, and whether each is a
//! property of the sending stack (behavioural) or of the one connection
//! (volatile).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use serde::Serialize;

/// Whether an attribute describes the sending stack or only this connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A property of the TCP/IP stack: TTL, window, options and their order, DF, ECN, quirks.
    Behavioural,
    /// Differs on every connection: addresses, ports, sequence numbers, checksums, ip.id, timestamps.
    Volatile,
}

/// One known attribute.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    /// What it means, for `--help`-style listings.
    pub help: &'static str,
}

const fn b(name: &'static str, help: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Behavioural,
        help,
    }
}

const fn v(name: &'static str, help: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Volatile,
        help,
    }
}

/// Every named attribute, in display order. Names without a prefix of
/// `synlab.` are Wireshark display-filter field names.
pub static FIELDS: &[Field] = &[
    b("ip.version", "IP version (4)"),
    b("ip.hdr_len", "IPv4 header length in bytes"),
    b("ip.dsfield.dscp", "Differentiated services code point"),
    b(
        "ip.dsfield.ecn",
        "ECN field (0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE)",
    ),
    b("ip.len", "IPv4 total length"),
    v("ip.id", "IPv4 identification value"),
    b("ip.flags.rb", "IPv4 reserved (evil) bit"),
    b("ip.flags.df", "IPv4 don't fragment"),
    b("ip.flags.mf", "IPv4 more fragments"),
    b("ip.frag_offset", "IPv4 fragment offset"),
    b("ip.ttl", "IPv4 time to live as seen"),
    b("ip.proto", "IPv4 protocol number"),
    v("ip.checksum", "IPv4 header checksum"),
    v("ip.src", "IPv4 source address"),
    v("ip.dst", "IPv4 destination address"),
    b(
        "synlab.ip.options",
        "IPv4 options, raw hex (absent when none)",
    ),
    b("ipv6.version", "IP version (6)"),
    b("ipv6.tclass.dscp", "IPv6 traffic class DSCP"),
    b("ipv6.tclass.ecn", "IPv6 traffic class ECN"),
    v("ipv6.flow", "IPv6 flow label"),
    b("ipv6.plen", "IPv6 payload length"),
    b("ipv6.nxt", "IPv6 next header"),
    b("ipv6.hlim", "IPv6 hop limit as seen"),
    v("ipv6.src", "IPv6 source address"),
    v("ipv6.dst", "IPv6 destination address"),
    b(
        "synlab.ipv6.ext",
        "IPv6 extension headers in order (absent when none)",
    ),
    v("tcp.srcport", "TCP source port"),
    v("tcp.dstport", "TCP destination port"),
    v("tcp.seq_raw", "TCP sequence number"),
    v("tcp.ack_raw", "TCP acknowledgment number"),
    b("tcp.hdr_len", "TCP header length in bytes"),
    b("tcp.flags.res", "TCP reserved bits (any set)"),
    b("tcp.flags.ae", "TCP AE (accurate ECN, formerly NS) flag"),
    b("tcp.flags.cwr", "TCP CWR flag"),
    b("tcp.flags.ece", "TCP ECE flag"),
    b("tcp.flags.urg", "TCP URG flag"),
    b("tcp.flags.ack", "TCP ACK flag"),
    b("tcp.flags.push", "TCP PSH flag"),
    b("tcp.flags.reset", "TCP RST flag"),
    b("tcp.flags.syn", "TCP SYN flag"),
    b("tcp.flags.fin", "TCP FIN flag"),
    b("tcp.window_size_value", "TCP window field, unscaled"),
    v("tcp.checksum", "TCP checksum"),
    b("tcp.urgent_pointer", "TCP urgent pointer"),
    b("tcp.options.mss_val", "MSS option value"),
    b(
        "tcp.options.wscale.shift",
        "Window scale option shift count",
    ),
    b("tcp.options.sack_perm", "SACK-permitted option present"),
    v("tcp.options.timestamp.tsval", "Timestamp option TSval"),
    v("tcp.options.timestamp.tsecr", "Timestamp option TSecr"),
    b("tcp.len", "TCP payload length"),
    b("synlab.options.layout", "TCP option order in p0f notation"),
    b("synlab.ittl", "Initial TTL guess (32, 64, 128 or 255)"),
    b("synlab.quirks", "p0f v3 quirks"),
    b("synlab.p0f", "p0f v3 signature of this packet"),
    b(
        "synlab.truncated",
        "The capture cut this packet short (snaplen)",
    ),
    b(
        "synlab.flow.ipid",
        "Client IP ID over the flow: zero, constant, incremental or random",
    ),
    b(
        "synlab.flow.ttl",
        "TTL (or hop limit) of the client's first data segment",
    ),
    b("synlab.flow.df", "DF on the client's first data segment"),
    b(
        "synlab.flow.ecn",
        "IP ECN field of the client's first data segment",
    ),
    b(
        "synlab.flow.ts",
        "Timestamps option on the client's first data segment",
    ),
];

/// Prefix of attributes for TCP option kinds without a name of their own:
/// `synlab.tcp.option.<kind>` holds the option's data as hex.
pub const UNKNOWN_OPTION_PREFIX: &str = "synlab.tcp.option.";

/// Each catalogue name's position, built once: attribute sets are kept
/// sorted by it.
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

fn positions() -> &'static FastMap<&'static str, usize> {
    static POSITIONS: OnceLock<FastMap<&'static str, usize>> = OnceLock::new();
    POSITIONS.get_or_init(|| {
        FIELDS
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name, i))
            .collect()
    })
}

/// FNV-1a: the catalogue's keys are short, fixed and not attacker-chosen,
/// so a fast non-cryptographic hash is right (every attribute insert and
/// lookup hashes its name once).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// The catalogue entry for a name, if it has one.
pub fn field(name: &str) -> Option<&'static Field> {
    positions().get(name).map(|&i| &FIELDS[i])
}

/// Whether an attribute is behavioural or volatile. Names outside the
/// catalogue (unknown TCP options) describe the stack: behavioural.
pub fn kind_of(name: &str) -> Kind {
    field(name).map_or(Kind::Behavioural, |f| f.kind)
}

/// Sort key that puts catalogue names in catalogue order and unknown option
/// attributes between the known options and `tcp.len`, by kind number.
pub fn sort_key(name: &str) -> (usize, u32, &str) {
    let positions = positions();
    if let Some(&i) = positions.get(name) {
        return (2 * i + 1, 0, name);
    }
    let after_options = positions.get("tcp.len").copied().unwrap_or(FIELDS.len());
    let kind = name
        .strip_prefix(UNKNOWN_OPTION_PREFIX)
        .and_then(|k| k.parse().ok())
        .unwrap_or(u32::MAX);
    (2 * after_options, kind, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert!(
                FIELDS[i + 1..].iter().all(|g| g.name != f.name),
                "{} twice",
                f.name
            );
        }
    }

    #[test]
    fn unknown_options_sort_before_tcp_len_by_kind() {
        assert!(sort_key("synlab.tcp.option.30") < sort_key("synlab.tcp.option.254"));
        assert!(sort_key("tcp.options.timestamp.tsecr") < sort_key("synlab.tcp.option.30"));
        assert_eq!(kind_of("synlab.tcp.option.30"), Kind::Behavioural);
        assert_eq!(kind_of("ip.id"), Kind::Volatile);
    }
}
