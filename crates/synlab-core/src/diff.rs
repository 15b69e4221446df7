//! Field-by-field comparison of two handshakes' packets.

use serde::Serialize;

use crate::handshake::Attempt;
use crate::model::{Attr, Attributes, Kind, Value};

/// Which packet of the handshake a difference is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PacketRole {
    Syn,
    SynAck,
    /// What the client's later segments carry (`synlab.flow.*`).
    Flow,
}

/// One attribute that differs (or is present on one side only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub packet: PacketRole,
    pub attribute: Attr,
    pub a: Option<Value>,
    pub b: Option<Value>,
    pub kind: Kind,
}

/// Differences between two attribute sets, behavioural ones first, each
/// group in catalogue order.
pub fn diff_attributes(packet: PacketRole, a: &Attributes, b: &Attributes) -> Vec<Difference> {
    let mut keys: Vec<Attr> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out: Vec<Difference> = keys
        .into_iter()
        .filter(|&k| a.get(k) != b.get(k))
        .map(|k| Difference {
            packet,
            attribute: k,
            a: a.get(k).cloned(),
            b: b.get(k).cloned(),
            kind: k.kind(),
        })
        .collect();
    out.sort_by_key(|d| d.kind);
    out
}

/// What one side of a diff has: a SYN, and a SYN-ACK and flow attributes
/// when it is a captured handshake (a profile has only its SYN).
#[derive(Clone, Copy, Debug)]
pub struct Packets<'a> {
    pub syn: &'a Attributes,
    pub syn_ack: Option<&'a Attributes>,
    pub flow: Option<&'a Attributes>,
}

impl<'a> From<&'a Attempt> for Packets<'a> {
    fn from(a: &'a Attempt) -> Self {
        Packets {
            syn: &a.syn,
            syn_ack: a.syn_ack(),
            flow: Some(&a.flow),
        }
    }
}

/// Differences between two sides: their SYNs, and their SYN-ACKs and flow
/// attributes where both have them. Behavioural differences lead.
pub fn diff_packets(a: Packets<'_>, b: Packets<'_>) -> Vec<Difference> {
    let mut out = diff_attributes(PacketRole::Syn, a.syn, b.syn);
    if let (Some(sa), Some(sb)) = (a.syn_ack, b.syn_ack) {
        out.extend(diff_attributes(PacketRole::SynAck, sa, sb));
    }
    if let (Some(fa), Some(fb)) = (a.flow, b.flow) {
        out.extend(diff_attributes(PacketRole::Flow, fa, fb));
    }
    out.sort_by_key(|d| (d.kind, d.packet));
    out
}

/// Differences between two captured attempts.
pub fn diff_attempts(a: &Attempt, b: &Attempt) -> Vec<Difference> {
    diff_packets(a.into(), b.into())
}

/// True when any difference is behavioural (diff's exit status 1).
pub fn has_behavioural(diffs: &[Difference]) -> bool {
    diffs.iter().any(|d| d.kind == Kind::Behavioural)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(items: &[(&str, Value)]) -> Attributes {
        items
            .iter()
            .map(|(k, v)| (k.parse().unwrap_or_else(|e| panic!("{e}")), v.clone()))
            .collect()
    }

    #[test]
    fn behavioural_first_absent_is_none() {
        let a = attrs(&[
            ("ip.ttl", Value::Int(64)),
            ("ip.id", Value::Int(1)),
            ("tcp.options.sack_perm", Value::Bool(true)),
        ]);
        let b = attrs(&[("ip.ttl", Value::Int(128)), ("ip.id", Value::Int(2))]);
        let d = diff_attributes(PacketRole::Syn, &a, &b);
        let names: Vec<_> = d.iter().map(|d| d.attribute.name()).collect();
        assert_eq!(names, ["ip.ttl", "tcp.options.sack_perm", "ip.id"]);
        assert_eq!(d[1].b, None);
        assert_eq!(d[2].kind, Kind::Volatile);
        assert!(has_behavioural(&d));
    }

    #[test]
    fn equal_sets_have_no_differences() {
        let a = attrs(&[("ip.ttl", Value::Int(64))]);
        assert!(diff_attributes(PacketRole::Syn, &a, &a.clone()).is_empty());
    }
}
