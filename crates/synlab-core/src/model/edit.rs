//! `--set NAME=VALUE` and `--unset NAME`: changes to a profile's SYN,
//! checked against the vocabulary so that nothing is silently ignored.
//!
//! A change is checked twice: when it is parsed ([`Change::parse_set`],
//! [`Change::parse_unset`]: the name is known, the value fits the field's
//! type, the field is one a sender chooses), and when it is applied
//! ([`apply`]: the field belongs to the target's IP version, an option
//! value goes with its option in the layout). Either failure is an error
//! before anything is built or sent. What a change cannot mean on the wire
//! is refused with the reason:
//!
//! - computed fields (lengths, checksums, versions, protocol numbers) and
//!   derived ones (`synlab.ittl`, `synlab.quirks`, `synlab.p0f`) follow from
//!   the others; `synlab.flow.*` describe later segments, not the SYN;
//! - the addresses and the destination port are `--src` and `--target`;
//! - IPv6 extension headers and fragments are not crafted.
//!
//! Volatile fields a sender chooses (`ip.id`, `tcp.srcport`, `tcp.seq_raw`,
//! `tcp.ack_raw`, `ipv6.flow`, the timestamps) are applied: the crafted
//! packet carries them (see `craft::build_packet`).
//!
//! `--unset` of an option's value or presence (`tcp.options.sack_perm`,
//! `tcp.options.timestamp.tsval`, `synlab.tcp.option.K`) removes the option
//! from `synlab.options.layout`, keeping the options 4-byte aligned (see
//! [`Layout::remove`]); `--unset` of a flag clears it; a number every SYN
//! carries (`ip.ttl`) cannot be unset, only set.

use std::fmt;

use thiserror::Error;

use super::{
    Attr, Attributes, BadLayoutToken, Family, Field, Layout, Source, UnknownAttribute, Value,
    ValueType,
};

/// One change to a SYN's attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Set(Attr, Value),
    Unset(Attr),
}

impl Change {
    pub fn attr(&self) -> Attr {
        match self {
            Change::Set(a, _) | Change::Unset(a) => *a,
        }
    }

    /// `NAME=VALUE`, the value typed by the field (`true`/`false`/`1`/`0`
    /// for a flag, a decimal or 0x number within range, checked text).
    pub fn parse_set(s: &str) -> Result<Change, EditError> {
        let (name, value) = s
            .split_once('=')
            .ok_or_else(|| EditError::NotNameValue(s.to_owned()))?;
        let attr: Attr = name.parse()?;
        settable(attr)?;
        Ok(Change::Set(attr, typed_value(attr, value)?))
    }

    /// `NAME`, a field that can be absent from a SYN (or a flag, cleared).
    pub fn parse_unset(s: &str) -> Result<Change, EditError> {
        let attr: Attr = s.parse()?;
        settable(attr)?;
        match attr.field().map(|f| (f, f.value_type())) {
            Some((f, ValueType::Int(_))) if f.option().is_none() => Err(EditError::Refused {
                name: attr,
                reason: "carried by every SYN: --set it to a value instead",
            }),
            _ => Ok(Change::Unset(attr)),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Set(a, v) => write!(f, "{a}={v}"),
            Change::Unset(a) => write!(f, "-{a}"),
        }
    }
}

/// Why a change is refused; nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EditError {
    #[error(transparent)]
    Unknown(#[from] UnknownAttribute),
    #[error("{0:?} is not NAME=VALUE")]
    NotNameValue(String),
    #[error("{name} takes {expected}, not {value:?}")]
    BadValue {
        name: Attr,
        expected: String,
        value: String,
    },
    #[error("{name} cannot be changed: {reason}")]
    Refused { name: Attr, reason: &'static str },
    #[error("{name} is set and unset at once")]
    Conflict { name: Attr },
    #[error("{name} is an IPv{field} field, but the target is IPv{target}")]
    WrongFamily { name: Attr, field: u8, target: u8 },
    #[error("synlab.options.layout {value:?}")]
    BadLayout {
        value: String,
        #[source]
        source: BadLayoutToken,
    },
}

/// Fields a sender may choose, with the reason for those it may not.
fn settable(attr: Attr) -> Result<(), EditError> {
    let refuse = |reason| Err(EditError::Refused { name: attr, reason });
    let Some(field) = attr.field() else {
        return Ok(());
    };
    match field.source() {
        Source::Computed => {
            return refuse("it is computed when the packet is built (lengths, checksums, versions, protocol numbers)")
        }
        Source::Derived => return refuse("it is derived from the other attributes; change those"),
        Source::Flow => {
            return refuse("it describes the client's later segments; a probe sends only a SYN")
        }
        Source::Given => {}
    }
    match field {
        Field::IpSrc | Field::Ipv6Src => refuse("the source address is --src"),
        Field::IpDst | Field::Ipv6Dst | Field::TcpDstport => {
            refuse("the destination is --target (--dst for craft)")
        }
        Field::SynlabIpv6Ext => refuse("IPv6 extension headers are not crafted"),
        Field::IpFlagsMf | Field::IpFragOffset => {
            refuse("a SYN is crafted whole, never as a fragment")
        }
        _ => Ok(()),
    }
}

/// The text of a `--set` value as the field's type.
fn typed_value(attr: Attr, text: &str) -> Result<Value, EditError> {
    let ty = attr.field().map_or(ValueType::Text, Field::value_type);
    let bad = |expected: String| EditError::BadValue {
        name: attr,
        expected,
        value: text.to_owned(),
    };
    match ty {
        ValueType::Bool => match text {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(bad("true, false, 1 or 0".into())),
        },
        ValueType::Int(max) => number(text)
            .filter(|n| *n <= max)
            .map(Value::Int)
            .ok_or_else(|| bad(format!("a number from 0 to {max}"))),
        ValueType::Text => text_value(attr, text),
    }
}

fn number(s: &str) -> Option<u64> {
    match s.get(..2) {
        Some("0x" | "0X") => u64::from_str_radix(&s[2..], 16).ok(),
        _ => s.parse().ok(),
    }
}

/// A layout must parse; IP options and unknown options' data are hex.
fn text_value(attr: Attr, text: &str) -> Result<Value, EditError> {
    if attr == Attr::Field(Field::SynlabOptionsLayout) {
        text.parse::<Layout>()
            .map_err(|source| EditError::BadLayout {
                value: text.to_owned(),
                source,
            })?;
        return Ok(Value::from(text));
    }
    let hex = text.len() % 2 == 0 && text.chars().all(|c| c.is_ascii_hexdigit());
    if hex {
        Ok(Value::from(text.to_ascii_lowercase()))
    } else {
        Err(EditError::BadValue {
            name: attr,
            expected: "hex bytes (an even number of hex digits)".into(),
            value: text.to_owned(),
        })
    }
}

/// The attributes with the changes made (unsets first, then sets, each in
/// the order given), for a target of the given IP version.
pub fn apply(base: &Attributes, changes: &[Change], v6: bool) -> Result<Attributes, EditError> {
    check_changes(changes, v6)?;
    let mut a = base.clone();
    let unsets = changes.iter().filter(|c| matches!(c, Change::Unset(_)));
    let sets = changes.iter().filter(|c| matches!(c, Change::Set(..)));
    for change in unsets.chain(sets) {
        match change {
            Change::Unset(attr) => unset(&mut a, *attr)?,
            Change::Set(attr, Value::Bool(false)) if is_presence(*attr) => unset(&mut a, *attr)?,
            Change::Set(attr, value) => a.insert(*attr, value.clone()),
        }
    }
    let set_by_hand: Vec<Attr> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Set(attr, _) => Some(*attr),
            Change::Unset(_) => None,
        })
        .collect();
    if set_by_hand.contains(&Field::SynlabOptionsLayout.into()) {
        // The presence attributes follow a layout set by hand.
        super::craft::follow_layout(&mut a, &set_by_hand).map_err(|_| EditError::Refused {
            name: Field::SynlabOptionsLayout.into(),
            reason: "the option layout does not parse",
        })?;
    }
    Ok(a)
}

/// No field both set and unset, none of the other IP version.
fn check_changes(changes: &[Change], v6: bool) -> Result<(), EditError> {
    for c in changes {
        let name = c.attr();
        let both = |d: &Change| d.attr() == name && matches!(d, Change::Unset(_));
        if matches!(c, Change::Set(..)) && changes.iter().any(both) {
            return Err(EditError::Conflict { name });
        }
        let (field, target) = match (name.family(), v6) {
            (Family::V4, true) => (4, 6),
            (Family::V6, false) => (6, 4),
            _ => continue,
        };
        // A twin is mapped to the target's version (ip.ttl is the hop limit).
        if name.field().and_then(Field::twin).is_none() {
            return Err(EditError::WrongFamily {
                name,
                field,
                target,
            });
        }
    }
    Ok(())
}

/// Attributes whose value is the presence of an option (`sack_perm=false`
/// means the option is not sent).
fn is_presence(attr: Attr) -> bool {
    attr.option().is_some() && attr.field().map(Field::value_type) == Some(ValueType::Bool)
}

fn unset(a: &mut Attributes, attr: Attr) -> Result<(), EditError> {
    if attr == Attr::Field(Field::SynlabOptionsLayout) {
        // No options at all.
        a.retain(|k, _| k.option().is_none());
        a.remove(attr);
        return Ok(());
    }
    let Some(token) = attr.option() else {
        match attr.field().map(Field::value_type) {
            // Absent means 0 when crafting, except SYN (set by default): say it.
            Some(ValueType::Bool) => a.insert(attr, false),
            _ => {
                a.remove(attr);
            }
        }
        return Ok(());
    };
    let layout = super::craft::layout_of(a).map_err(|_| EditError::Refused {
        name: attr,
        reason: "the profile's option layout does not parse",
    })?;
    let mut rest = layout.clone();
    rest.remove(token, &|k| unknown_data_len(a, k));
    a.retain(|k, _| k.option() != Some(token));
    if rest != layout {
        a.insert(Field::SynlabOptionsLayout, rest.to_string());
    }
    Ok(())
}

/// The data length of an option kind without a name (`?K`), from its
/// `synlab.tcp.option.K` hex.
fn unknown_data_len(a: &Attributes, kind: u8) -> usize {
    a.text(Attr::UnknownOption(kind)).map_or(0, |h| h.len() / 2)
}

/// The changes as the probe's first line shows them:
/// `ip.ttl=128, -tcp.options.sack_perm (layout mss,nop,nop,ts,nop,ws)`.
pub fn describe(changes: &[Change], result: &Attributes) -> String {
    let parts: Vec<String> = changes.iter().map(ToString::to_string).collect();
    let mut text = parts.join(", ");
    if changes.iter().any(|c| c.attr().option().is_some()) {
        let layout = result
            .text(Field::SynlabOptionsLayout)
            .filter(|l| !l.is_empty())
            .unwrap_or("none");
        text.push_str(&format!(" (layout {layout})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::craft::linux_example as linux;
    use crate::model::OptionKind;

    fn set(s: &str) -> Change {
        Change::parse_set(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn unset_(s: &str) -> Change {
        Change::parse_unset(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn applied(changes: &[Change]) -> Attributes {
        apply(&linux(), changes, false).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn values_are_typed_by_the_field() {
        assert_eq!(
            set("ip.ttl=128"),
            Change::Set(Field::IpTtl.into(), Value::Int(128))
        );
        assert_eq!(
            set("ip.id=0x10"),
            Change::Set(Field::IpId.into(), Value::Int(16))
        );
        assert_eq!(
            set("tcp.flags.ece=1"),
            Change::Set(Field::TcpFlagsEce.into(), Value::Bool(true))
        );
        assert_eq!(
            set("synlab.options.layout=mss,nop,ws"),
            Change::Set(Field::SynlabOptionsLayout.into(), Value::from("mss,nop,ws"))
        );
        for (bad, text) in [
            (
                "ip.ttl=sixty",
                "ip.ttl takes a number from 0 to 255, not \"sixty\"",
            ),
            ("ip.ttl=256", "from 0 to 255"),
            ("ip.ttl=", "from 0 to 255"),
            (
                "tcp.flags.ece=yes",
                "tcp.flags.ece takes true, false, 1 or 0, not \"yes\"",
            ),
            ("ip.dsfield.ecn=4", "from 0 to 3"),
            ("synlab.ip.options=xyz", "hex bytes"),
            (
                "synlab.options.layout=mss,bogus",
                "synlab.options.layout \"mss,bogus\"",
            ),
            ("ip.tll=128", "did you mean ip.ttl?"),
            ("ip.ttl", "is not NAME=VALUE"),
        ] {
            let e = Change::parse_set(bad).err().map(|e| e.to_string());
            let e = e.unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.contains(text), "{bad}: {e}");
        }
    }

    #[test]
    fn what_cannot_be_sent_is_refused_with_the_reason() {
        for (bad, text) in [
            ("ip.len=40", "computed when the packet is built"),
            ("tcp.checksum=1", "computed"),
            ("synlab.p0f=x", "derived"),
            ("synlab.flow.ttl=64", "later segments"),
            ("ip.dst=1.2.3.4", "--target"),
            ("tcp.dstport=80", "--target"),
            ("ip.src=1.2.3.4", "--src"),
            ("ip.flags.mf=true", "never as a fragment"),
        ] {
            let e = Change::parse_set(bad).err().map(|e| e.to_string());
            let e = e.unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.contains(text), "{bad}: {e}");
        }
        for (bad, text) in [
            ("ip.ttl", "--set it to a value instead"),
            ("ip.id", "--set it"),
            ("tcp.hdr_len", "computed"),
            ("ip.tll", "did you mean ip.ttl?"),
        ] {
            let e = Change::parse_unset(bad).err().map(|e| e.to_string());
            let e = e.unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.contains(text), "{bad}: {e}");
        }
    }

    fn layout(a: &Attributes) -> &str {
        a.text(Field::SynlabOptionsLayout).unwrap_or("(absent)")
    }

    // Regression (issue 8): `--unset tcp.options.sack_perm` and `--unset
    // tcp.options.timestamp.tsval` still sent those options.
    #[test]
    fn unsetting_an_option_removes_it_from_the_layout() {
        let a = applied(&[unset_("tcp.options.sack_perm")]);
        assert_eq!(layout(&a), "mss,nop,nop,ts,nop,ws");
        assert!(!a.contains(Field::TcpOptionsSackPerm));
        let a = applied(&[unset_("tcp.options.timestamp.tsval")]);
        assert_eq!(layout(&a), "mss,sok,nop,nop,nop,ws");
        let a = applied(&[unset_("tcp.options.wscale.shift")]);
        assert_eq!(layout(&a), "mss,sok,ts");
        assert!(!a.contains(Field::TcpOptionsWscaleShift));
        let a = applied(&[unset_("tcp.options.mss_val")]);
        assert_eq!(layout(&a), "sok,ts,nop,ws");
        let a = applied(&[set("tcp.options.sack_perm=false")]);
        assert_eq!(layout(&a), "mss,nop,nop,ts,nop,ws");
        let a = applied(&[unset_("synlab.options.layout")]);
        assert_eq!(layout(&a), "(absent)");
        assert!(!a.contains(Field::TcpOptionsMssVal));
        let a = applied(&[unset_("tcp.flags.syn")]);
        assert_eq!(a.get(Field::TcpFlagsSyn), Some(&Value::Bool(false)));
    }

    #[test]
    fn every_removal_from_the_builtin_layouts_is_aligned() {
        let tokens = [
            OptionKind::Mss,
            OptionKind::Ws,
            OptionKind::Sok,
            OptionKind::Ts,
        ];
        for l in [
            "mss,sok,ts,nop,ws",
            "mss,nop,ws,nop,nop,sok",
            "mss,nop,nop,ts,nop,ws,sok,eol+1",
            "mss,nop,nop,ts",
        ] {
            let l: Layout = l.parse().unwrap_or_else(|e| panic!("{e}"));
            let a = Attributes::new();
            for t in tokens {
                let mut out = l.clone();
                out.remove(t, &|k| unknown_data_len(&a, k));
                assert_eq!(out.wire_len(&|_| 0) % 4, 0, "{l} without {t:?}: {out}");
                assert!(!out.has_kind(t), "{l} without {t:?}: {out}");
            }
        }
    }

    #[test]
    fn the_other_families_fields_are_refused() {
        let e = apply(&linux(), &[set("ip.id=7")], true);
        assert_eq!(
            e.err().map(|e| e.to_string()).as_deref(),
            Some("ip.id is an IPv4 field, but the target is IPv6")
        );
        // A twin is mapped: ip.ttl is the hop limit.
        assert!(apply(&linux(), &[set("ip.ttl=9")], true).is_ok());
        let e = apply(
            &linux(),
            &[set("tcp.options.mss_val=1"), unset_("tcp.options.mss_val")],
            false,
        );
        assert!(matches!(e, Err(EditError::Conflict { .. })), "{e:?}");
    }

    #[test]
    fn described_for_the_first_line() {
        let changes = [set("ip.ttl=128"), unset_("tcp.options.sack_perm")];
        let a = applied(&changes);
        assert_eq!(
            describe(&changes, &a),
            "ip.ttl=128, -tcp.options.sack_perm (layout mss,nop,nop,ts,nop,ws)"
        );
    }
}
