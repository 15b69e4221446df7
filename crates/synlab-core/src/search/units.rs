//! What the search varies: behavioural SYN attributes, and what the
//! client's later segments carry (`synlab.flow.*`, from a profile's
//! `[later]` table or a captured flow), grouped into difference units
//! that can be applied on their own.

use std::net::SocketAddr;

use serde::Serialize;

use crate::diff::{diff_attributes, PacketRole};
use crate::model::craft::layout_of;
use crate::model::craft::{crafted_attributes, CraftError, Volatile};
use crate::model::{Attr, Attributes, Field, Kind, Layout, OptionKind, Source, Value};

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

/// Whether the attribute says what the client's later segments carry
/// (`synlab.flow.*`): not part of the SYN, so not crafted into it, but
/// applied by an exchange to every segment after the SYN, and varied by
/// the search like a SYN attribute.
pub fn is_flow(name: Attr) -> bool {
    name.source() == Source::Flow && name.kind() == Kind::Behavioural
}

/// The later-segment attributes both sides know, each side's values. One
/// side's alone is not a difference: a side that does not say (a captured
/// handshake without data) has its later segments follow its SYN.
pub fn shared_flow(good: &Attributes, bad: &Attributes) -> (Attributes, Attributes) {
    let pick = |a: &Attributes, other: &Attributes| {
        let mut out = a.clone();
        out.retain(|k, _| is_flow(k) && other.contains(k));
        out
    };
    (pick(good, bad), pick(bad, good))
}

/// A side or variant split into its SYN attributes and its later-segment ones.
pub fn split_flow(a: &Attributes) -> (Attributes, Attributes) {
    let (mut syn, mut flow) = (a.clone(), a.clone());
    syn.retain(|k, _| !is_flow(k));
    flow.retain(|k, _| is_flow(k));
    (syn, flow)
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

/// What applying a unit (taking it from the bad side) changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The unit's attributes take the bad side's values.
    Attributes,
    /// A TCP option present on one side only comes or goes, at its natural
    /// place in the layout, with its values.
    Option {
        kind: OptionKind,
        /// Present on the bad side only (else on the good side only).
        on_bad: bool,
    },
    /// The order and padding of the options that remain.
    Order,
}

/// Differences that move together: one attribute, or one TCP option
/// present on one side only (its presence and its values), or the order
/// and padding that remain once the one-sided options are placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unit {
    pub attributes: Vec<Attr>,
    #[serde(skip)]
    pub change: Change,
}

impl Unit {
    /// The attributes joined with ` + `.
    pub fn name(&self) -> String {
        let names: Vec<&str> = self.attributes.iter().map(|a| a.name()).collect();
        names.join(" + ")
    }
}

fn layout_attr() -> Attr {
    Attr::Field(Field::SynlabOptionsLayout)
}

/// A side's layout (normalised sides always have a valid one).
fn layout(a: &Attributes) -> Layout {
    layout_of(a).unwrap_or_default()
}

/// Option kinds that are options proper (not padding).
fn is_option(k: OptionKind) -> bool {
    !matches!(k, OptionKind::Nop | OptionKind::Eol)
}

/// Option kinds present in one layout only, in the order they appear.
fn one_sided(good: &Layout, bad: &Layout) -> Vec<(OptionKind, bool)> {
    let mut out = Vec::new();
    for (from, other, on_bad) in [(good, bad, false), (bad, good, true)] {
        for t in from.tokens() {
            let k = t.kind();
            if is_option(k) && !other.has_kind(k) && !out.contains(&(k, on_bad)) {
                out.push((k, on_bad));
            }
        }
    }
    out
}

/// Differences between two normalised sides, and the units they form.
pub fn units(good: &Attributes, bad: &Attributes) -> (Vec<DiffRow>, Vec<Unit>) {
    let diffs = diff_attributes(PacketRole::Syn, good, bad);
    let (gl, bl) = (layout(good), layout(bad));
    let sided = one_sided(&gl, &bl);
    let differs = |a: Attr| diffs.iter().any(|d| d.attribute == a);
    let mut units: Vec<Unit> = Vec::new();
    // One unit per attribute that is not about a one-sided option or the layout.
    let in_option_unit = |a: Attr| {
        a.option()
            .is_some_and(|k| sided.iter().any(|&(s, _)| s == k))
    };
    let in_order_unit = |a: Attr| {
        a == layout_attr() || matches!(a.option(), Some(OptionKind::Nop | OptionKind::Eol))
    };
    let syn_only = |a: Attr| !in_option_unit(a) && !in_order_unit(a) && !is_flow(a);
    for d in &diffs {
        if syn_only(d.attribute) {
            units.push(Unit {
                attributes: vec![d.attribute],
                change: Change::Attributes,
            });
        }
    }
    for &(kind, on_bad) in &sided {
        let attributes: Vec<Attr> = kind
            .attributes()
            .into_iter()
            .filter(|&a| differs(a))
            .collect();
        units.push(Unit {
            attributes,
            change: Change::Option { kind, on_bad },
        });
    }
    // The order and padding: a unit when placing the one-sided options
    // does not already give the bad side's layout.
    let placed = place(good, bad, &sided, &sided, false);
    if differs(layout_attr()) && placed != bl {
        let attributes = diffs
            .iter()
            .map(|d| d.attribute)
            .filter(|&a| in_order_unit(a))
            .collect();
        units.push(Unit {
            attributes,
            change: Change::Order,
        });
    }
    // What the later segments carry, after the SYN's units: one unit each.
    for d in diffs.iter().filter(|d| is_flow(d.attribute)) {
        units.push(Unit {
            attributes: vec![d.attribute],
            change: Change::Attributes,
        });
    }
    let rows = rows(&diffs, &units);
    (rows, units)
}

/// The rows of the differences table, grouped by unit (a layout or padding
/// row that no unit carries is shown with the first option unit).
fn rows(diffs: &[crate::diff::Difference], units: &[Unit]) -> Vec<DiffRow> {
    let first_option = units
        .iter()
        .position(|u| matches!(u.change, Change::Option { .. }))
        .unwrap_or(0);
    let mut rows: Vec<DiffRow> = diffs
        .iter()
        .map(|d| DiffRow {
            attribute: d.attribute,
            good: d.a.clone(),
            bad: d.b.clone(),
            unit: units
                .iter()
                .position(|u| u.attributes.contains(&d.attribute))
                .unwrap_or(first_option),
        })
        .collect();
    rows.sort_by_key(|r| r.unit);
    rows
}

/// The layout of a variant: the good side's with the applied one-sided
/// options added or removed, or (when the order unit is applied) the bad
/// side's with the options not applied put back or taken out.
fn place(
    good: &Attributes,
    bad: &Attributes,
    sided: &[(OptionKind, bool)],
    applied: &[(OptionKind, bool)],
    order: bool,
) -> Layout {
    let (gl, bl) = (layout(good), layout(bad));
    let data = |k: u8| {
        [good, bad]
            .iter()
            .find_map(|a| a.text(Attr::UnknownOption(k)).map(|h| h.len() / 2))
            .unwrap_or(0)
    };
    let mut out = if order { bl.clone() } else { gl.clone() };
    for s in sided {
        let wanted_from_bad = applied.contains(s);
        let (kind, on_bad) = *s;
        // Present in the variant when it comes from the side that has it.
        let present = on_bad == wanted_from_bad;
        let source = if on_bad { &bl } else { &gl };
        match (present, out.has_kind(kind)) {
            (true, false) => insert(&mut out, source, kind, &data),
            (false, true) => out.remove(kind, &data),
            _ => {}
        }
    }
    out
}

/// Add the option of `kind` to `l` where `source` has it: with the NOPs
/// just before it there, after the nearest option before it that `l` also
/// has (or first), then NOPs before it to keep the options aligned.
fn insert(l: &mut Layout, source: &Layout, kind: OptionKind, data: &dyn Fn(u8) -> usize) {
    let src = source.tokens();
    let Some(i) = src.iter().position(|t| t.kind() == kind) else {
        return;
    };
    let start = src[..i]
        .iter()
        .rposition(|t| t.kind() != OptionKind::Nop)
        .map_or(0, |p| p + 1);
    let group = &src[start..=i];
    let anchor = src[..start]
        .iter()
        .rev()
        .filter(|t| is_option(t.kind()))
        .find_map(|t| l.0.iter().position(|u| u.kind() == t.kind()));
    let end_of_options = l.0.iter().position(|t| t.kind() == OptionKind::Eol);
    let at = anchor
        .map_or(0, |p| p + 1)
        .min(end_of_options.unwrap_or(usize::MAX));
    l.0.splice(at..at, group.iter().copied());
    let pad = l.padding(data);
    l.0.splice(at..at, pad);
}

/// The good side with the given units taken from the bad side. The layout
/// follows the option and order units applied; the padding options'
/// presence follows the layout.
pub fn apply(good: &Attributes, bad: &Attributes, units: &[Unit], which: &[usize]) -> Attributes {
    let mut a = good.clone();
    let mut sided = Vec::new();
    let mut applied = Vec::new();
    let mut order = false;
    for (i, u) in units.iter().enumerate() {
        let chosen = which.contains(&i);
        match u.change {
            Change::Option { kind, on_bad } => {
                sided.push((kind, on_bad));
                if chosen {
                    applied.push((kind, on_bad));
                }
            }
            Change::Order => order = chosen,
            Change::Attributes => {}
        }
        if chosen && u.change != Change::Order {
            for name in &u.attributes {
                match bad.get(name) {
                    Some(v) => a.insert(*name, v.clone()),
                    None => {
                        a.remove(name);
                    }
                }
            }
        }
    }
    if sided.is_empty() && !order {
        return a;
    }
    let l = place(good, bad, &sided, &applied, order);
    for kind in [OptionKind::Nop, OptionKind::Eol] {
        if let Some(f) = kind.presence() {
            if l.has_kind(kind) {
                a.insert(f, true);
            } else {
                a.remove(f);
            }
        }
    }
    a.insert(Field::SynlabOptionsLayout, l.to_string());
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::craft::linux_example as linux;

    fn side(layout: &str, edit: impl FnOnce(&mut Attributes)) -> Attributes {
        let mut a = linux();
        a.retain(|k, _| k.option().is_none());
        a.insert(Field::SynlabOptionsLayout, layout);
        for t in layout.split(',') {
            match t {
                "mss" => a.insert(Field::TcpOptionsMssVal, 1460u16),
                "ws" => a.insert(Field::TcpOptionsWscaleShift, 7u8),
                _ => {}
            }
        }
        edit(&mut a);
        normalise(&a, false)
            .unwrap_or_else(|e| panic!("{layout}: {e}"))
            .0
    }

    fn names(units: &[Unit]) -> Vec<String> {
        units.iter().map(Unit::name).collect()
    }

    fn variant_layout(g: &Attributes, b: &Attributes, units: &[Unit], which: &[usize]) -> String {
        let v = apply(g, b, units, which);
        let (n, _) = normalise(&v, false).unwrap_or_else(|e| panic!("{which:?}: {e}"));
        n.text(Field::SynlabOptionsLayout).unwrap_or("").to_owned()
    }

    #[test]
    fn one_unit_per_option_present_on_one_side() {
        let g = side("mss,sok,ts,nop,ws", |_| {});
        let b = side("mss,nop,nop,ts", |a| a.insert(Field::IpTtl, 128u8));
        let (rows, units) = units(&g, &b);
        assert_eq!(
            names(&units),
            [
                "ip.ttl",
                "tcp.options.sack_perm",
                "tcp.options.wscale + tcp.options.wscale.shift"
            ]
        );
        assert_eq!(rows.len(), 5, "{rows:?}");
        // Removing SACK-permitted alone gives Linux's own layout without it.
        assert_eq!(
            variant_layout(&g, &b, &units, &[1]),
            "mss,nop,nop,ts,nop,ws"
        );
        assert_eq!(variant_layout(&g, &b, &units, &[2]), "mss,sok,ts");
        assert_eq!(variant_layout(&g, &b, &units, &[1, 2]), "mss,nop,nop,ts");
        let v = apply(&g, &b, &units, &[1]);
        assert_eq!(v.get(Field::IpTtl), Some(&Value::Int(64)));
        assert!(!v.contains(Field::TcpOptionsSackPerm));
    }

    #[test]
    fn removing_timestamps_or_adding_an_option_keeps_the_layout_buildable() {
        let g = side("mss,sok,ts,nop,ws", |_| {});
        let b = side("mss,sok,nop,nop,nop,ws", |_| {});
        let (_, units) = units(&g, &b);
        assert_eq!(names(&units), ["tcp.options.timestamp"]);
        assert_eq!(
            variant_layout(&g, &b, &units, &[0]),
            "mss,sok,nop,nop,nop,ws"
        );
        // The other way round: the option comes back after SACK-permitted,
        // as on the bad side, NOP-aligned; the padding left is the order unit.
        let (_, units) = super::units(&b, &g);
        assert_eq!(
            names(&units),
            ["tcp.options.timestamp", "synlab.options.layout"]
        );
        assert_eq!(
            variant_layout(&b, &g, &units, &[0]),
            "mss,sok,nop,nop,ts,nop,nop,nop,ws"
        );
        assert_eq!(variant_layout(&b, &g, &units, &[0, 1]), "mss,sok,ts,nop,ws");
    }

    #[test]
    fn order_alone_is_the_layout_unit() {
        let g = side("mss,sok,ts,nop,ws", |_| {});
        let b = side("mss,nop,ws,sok,ts", |_| {});
        let (rows, units) = units(&g, &b);
        assert_eq!(names(&units), ["synlab.options.layout"]);
        assert_eq!(rows.len(), 1);
        assert_eq!(variant_layout(&g, &b, &units, &[0]), "mss,nop,ws,sok,ts");
    }

    #[test]
    fn order_unit_with_options_puts_back_what_is_not_applied() {
        let g = side("mss,sok,ts,nop,ws", |_| {});
        let b = side("mss,nop,ws,nop,nop,ts", |_| {});
        let (_, units) = units(&g, &b);
        assert_eq!(
            names(&units),
            ["tcp.options.sack_perm", "synlab.options.layout"]
        );
        // Order from bad, SACK-permitted kept from good: it goes back where good has it.
        let l = variant_layout(&g, &b, &units, &[1]);
        assert!(l.contains("sok") && l.starts_with("mss,"), "{l}");
        assert_eq!(
            variant_layout(&g, &b, &units, &[0, 1]),
            "mss,nop,ws,nop,nop,ts"
        );
    }

    /// Later-segment attributes both sides state are units of their own,
    /// apart from the SYN's namesakes; one side's alone is no difference.
    #[test]
    fn later_segment_differences_are_units() {
        let mut g = side("mss,sok,ts,nop,ws", |_| {});
        let mut b = side("mss,sok,ts,nop,ws", |a| a.insert(Field::IpTtl, 128u8));
        g.insert(Field::SynlabFlowTtl, 64u8);
        b.insert(Field::SynlabFlowTtl, 128u8);
        g.insert(Field::SynlabFlowDf, true);
        b.insert(Field::SynlabFlowDf, true);
        b.insert(Field::SynlabFlowIpid, "random");
        let (gf, bf) = shared_flow(&g, &b);
        assert_eq!(
            gf.names().collect::<Vec<_>>(),
            ["synlab.flow.ttl", "synlab.flow.df"]
        );
        assert_eq!(bf.get(Field::SynlabFlowTtl), Some(&Value::Int(128)));
        b.remove(Field::SynlabFlowIpid);
        let (rows, units) = units(&g, &b);
        assert_eq!(names(&units), ["ip.ttl", "synlab.flow.ttl"]);
        assert_eq!(rows.len(), 2);
        // The later TTL alone: the SYN keeps good's, later segments take bad's.
        let v = apply(&g, &b, &units, &[1]);
        assert_eq!(v.get(Field::IpTtl), Some(&Value::Int(64)));
        assert_eq!(v.get(Field::SynlabFlowTtl), Some(&Value::Int(128)));
        let (syn, flow) = split_flow(&v);
        assert!(!syn.contains(Field::SynlabFlowTtl) && syn.contains(Field::IpTtl));
        assert_eq!(flow.len(), 2);
        assert!(normalise(&syn, false).is_ok());
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
