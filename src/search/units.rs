//! What the search varies: behavioural SYN attributes, grouped into
//! difference units that can be applied on their own.

use std::net::SocketAddr;

use serde::Serialize;

use crate::diff::{diff_attributes, PacketRole};
use crate::model::craft::{crafted_attributes, CraftError, Volatile};
use crate::model::{Attr, Attributes, Field, Value};

/// Whether the search may vary this attribute: behavioural and chosen by
/// the sender (not derived, computed or volatile), as the vocabulary says.
pub fn is_bisectable(name: Attr) -> bool {
    name.is_bisectable()
}

/// Only the attributes the search varies.
pub fn bisectable(a: &Attributes) -> Attributes {
    let mut out = a.clone();
    out.retain(|k, _| k.is_bisectable());
    out
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
    pub attribute: Attr,
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
    pub attributes: Vec<Attr>,
}

impl Unit {
    /// The attributes joined with ` + `.
    pub fn name(&self) -> String {
        let names: Vec<&str> = self.attributes.iter().map(|a| a.name()).collect();
        names.join(" + ")
    }
}

/// Whether the attribute belongs to a TCP option that needs its layout
/// token (the timestamps' values are volatile, never bisected).
fn option_attribute(name: Attr) -> bool {
    name.option().is_some()
}

/// Differences between two normalised sides, and the units they form.
pub fn units(good: &Attributes, bad: &Attributes) -> (Vec<DiffRow>, Vec<Unit>) {
    let layout = Attr::Field(Field::SynlabOptionsLayout);
    let diffs = diff_attributes(PacketRole::Syn, good, bad);
    let layout_differs = diffs.iter().any(|d| d.attribute == layout);
    let coupled = |d: &crate::diff::Difference| {
        layout_differs && option_attribute(d.attribute) && (d.a.is_none() || d.b.is_none())
    };
    let mut units: Vec<Unit> = Vec::new();
    let mut layout_unit = None;
    let mut rows = Vec::new();
    for d in &diffs {
        if coupled(d) {
            continue;
        }
        let unit = units.len();
        let mut attributes = vec![d.attribute];
        if d.attribute == layout {
            layout_unit = Some(unit);
            attributes.extend(diffs.iter().filter(|x| coupled(x)).map(|x| x.attribute));
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
            attribute: d.attribute,
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
                Some(v) => a.insert(*name, v.clone()),
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

    use crate::model::craft::linux_example as linux;

    #[test]
    fn layout_takes_options_present_on_one_side() {
        let (g, _) = normalise(&linux(), false).unwrap_or_else(|e| panic!("{e}"));
        let mut b = linux();
        b.remove(Field::TcpOptionsSackPerm);
        b.remove(Field::TcpOptionsWscaleShift);
        b.insert(Field::SynlabOptionsLayout, "mss,nop,nop,ts");
        b.insert(Field::IpTtl, 128u8);
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
        assert!(!v.contains(Field::TcpOptionsSackPerm));
        assert_eq!(v.get(Field::IpTtl), Some(&Value::Int(64)));
        assert!(normalise(&v, false).is_ok());
    }

    #[test]
    fn derived_and_volatile_are_not_bisectable() {
        for n in [
            Field::SynlabP0f,
            Field::IpLen,
            Field::TcpChecksum,
            Field::IpId,
            Field::TcpOptionsTimestampTsval,
            Field::IpVersion,
            Field::Ipv6Nxt,
        ] {
            assert!(!is_bisectable(n.into()), "{n}");
        }
        assert!(is_bisectable(Field::IpTtl.into()));
        assert!(is_bisectable(Field::SynlabOptionsLayout.into()));
        assert!(is_bisectable(Attr::UnknownOption(30)));
    }
}
