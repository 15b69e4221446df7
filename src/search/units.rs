//! What the search varies: behavioural SYN attributes, grouped into
//! difference units that can be applied on their own.

use std::net::SocketAddr;

use serde::Serialize;

use crate::craft::{crafted_attributes, CraftError, Volatile};
use crate::diff::{diff_attributes, PacketRole};
use crate::model::{kind_of, Attributes, Kind, Value};

/// Attributes of TCP options without a name of their own (as the catalogue names them).
pub use crate::model::UNKNOWN_OPTION_PREFIX;

/// Attributes that follow from the others (derived ones, lengths and
/// checksums) or that crafting fixes (versions, protocol numbers): never a
/// difference to bisect.
pub const DERIVED: &[&str] = &[
    "synlab.quirks",
    "synlab.ittl",
    "synlab.p0f",
    "synlab.truncated",
    "ip.len",
    "ip.hdr_len",
    "tcp.hdr_len",
    "ipv6.plen",
    "ip.checksum",
    "tcp.checksum",
    "ip.version",
    "ipv6.version",
    "ip.proto",
    "ipv6.nxt",
];

/// Whether the search may vary this attribute: behavioural and not derived.
pub fn is_bisectable(name: &str) -> bool {
    kind_of(name) == Kind::Behavioural && !DERIVED.contains(&name)
}

/// Only the attributes the search varies.
pub fn bisectable(a: &Attributes) -> Attributes {
    a.iter()
        .filter(|(k, _)| is_bisectable(k))
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect()
}

/// The placeholder connection variants are crafted with (benchmarking
/// addresses, RFC 2544 / ULA): what a rule sees for volatile attributes.
pub fn placeholder(v6: bool) -> Volatile {
    let (src, dst): (SocketAddr, SocketAddr) = if v6 {
        (
            SocketAddr::new(
                std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2).into(),
                40000,
            ),
            SocketAddr::new(
                std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).into(),
                80,
            ),
        )
    } else {
        (
            SocketAddr::new(std::net::Ipv4Addr::new(198, 18, 0, 2).into(), 40000),
            SocketAddr::new(std::net::Ipv4Addr::new(198, 18, 0, 1).into(), 80),
        )
    };
    Volatile {
        src,
        dst,
        seq: 1,
        ack: 0,
        ip_id: 1,
        flow_label: 0,
        tsval: 1,
        tsecr: 0,
    }
}

/// Build and decode a SYN from behavioural attributes; the result's
/// bisectable attributes are the canonical form of a side or a variant.
pub fn normalise(a: &Attributes, v6: bool) -> Result<(Attributes, Attributes), CraftError> {
    let crafted = crafted_attributes(&bisectable(a), &placeholder(v6))?;
    Ok((bisectable(&crafted), crafted))
}

/// One attribute that differs between the two sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiffRow {
    pub attribute: String,
    pub good: Option<Value>,
    pub bad: Option<Value>,
    /// Index of the unit it belongs to.
    pub unit: usize,
}

/// Differences that move together: most units hold one attribute; the
/// option layout takes along every option value present on one side only
/// (the option comes and goes with its place in the layout).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unit {
    pub attributes: Vec<String>,
}

impl Unit {
    /// The attributes joined with ` + `.
    pub fn name(&self) -> String {
        self.attributes.join(" + ")
    }
}

/// The option attribute that needs this layout token, if any.
fn option_attribute(name: &str) -> bool {
    matches!(
        name,
        "tcp.options.mss_val" | "tcp.options.wscale.shift" | "tcp.options.sack_perm"
    ) || name.starts_with(UNKNOWN_OPTION_PREFIX)
}

/// Differences between two normalised sides, and the units they form.
pub fn units(good: &Attributes, bad: &Attributes) -> (Vec<DiffRow>, Vec<Unit>) {
    let diffs = diff_attributes(PacketRole::Syn, good, bad);
    let layout_differs = diffs.iter().any(|d| d.attribute == "synlab.options.layout");
    let coupled = |d: &crate::diff::Difference| {
        layout_differs && option_attribute(&d.attribute) && (d.a.is_none() || d.b.is_none())
    };
    let mut units: Vec<Unit> = Vec::new();
    let mut layout_unit = None;
    let mut rows = Vec::new();
    for d in &diffs {
        if coupled(d) {
            continue;
        }
        let unit = units.len();
        let mut attributes = vec![d.attribute.clone()];
        if d.attribute == "synlab.options.layout" {
            layout_unit = Some(unit);
            attributes.extend(
                diffs
                    .iter()
                    .filter(|x| coupled(x))
                    .map(|x| x.attribute.clone()),
            );
        }
        units.push(Unit { attributes });
    }
    for d in &diffs {
        let unit = if coupled(d) {
            layout_unit.unwrap_or(0)
        } else {
            units
                .iter()
                .position(|u| u.attributes[0] == d.attribute)
                .unwrap_or(0)
        };
        rows.push(DiffRow {
            attribute: d.attribute.clone(),
            good: d.a.clone(),
            bad: d.b.clone(),
            unit,
        });
    }
    rows.sort_by_key(|r| r.unit);
    (rows, units)
}

/// The good side with the given units taken from the bad side.
pub fn apply(good: &Attributes, bad: &Attributes, units: &[Unit], which: &[usize]) -> Attributes {
    let mut a = good.clone();
    for u in which.iter().filter_map(|&i| units.get(i)) {
        for name in &u.attributes {
            match bad.get(name) {
                Some(v) => a.insert(name.clone(), v.clone()),
                None => {
                    a.remove(name);
                }
            }
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::craft::linux_example as linux;

    #[test]
    fn layout_takes_options_present_on_one_side() {
        let (g, _) = normalise(&linux(), false).unwrap_or_else(|e| panic!("{e}"));
        let mut b = linux();
        b.remove("tcp.options.sack_perm");
        b.remove("tcp.options.wscale.shift");
        b.insert("synlab.options.layout", "mss,nop,nop,ts");
        b.insert("ip.ttl", 128u8);
        let (b, _) = normalise(&b, false).unwrap_or_else(|e| panic!("{e}"));
        let (rows, units) = units(&g, &b);
        let names: Vec<String> = units.iter().map(Unit::name).collect();
        assert_eq!(
            names,
            [
                "ip.ttl",
                "synlab.options.layout + tcp.options.wscale.shift + tcp.options.sack_perm"
            ]
        );
        assert_eq!(rows.len(), 4);
        let v = apply(&g, &b, &units, &[1]);
        assert!(!v.contains("tcp.options.sack_perm"));
        assert_eq!(v.get("ip.ttl"), Some(&Value::Int(64)));
        assert!(normalise(&v, false).is_ok());
    }

    #[test]
    fn derived_and_volatile_are_not_bisectable() {
        for n in [
            "synlab.p0f",
            "ip.len",
            "tcp.checksum",
            "ip.id",
            "tcp.options.timestamp.tsval",
        ] {
            assert!(!is_bisectable(n), "{n}");
        }
        assert!(is_bisectable("ip.ttl"));
        assert!(is_bisectable("synlab.options.layout"));
    }
}
