//! Type checking: every value in a rule is checked against its field's type
//! in the vocabulary when the rule is parsed, so a typo is an error rather
//! than a rule that silently matches nothing; and every field against the
//! [`Scope`] the rule is used in.

use std::net::IpAddr;

use super::ast::{full_prefix, AttemptField, Cmp, Literal, Operand, OUTCOMES};
use super::error::{RuleError, RuleErrorKind};
use crate::model::{Attr, Field, Source, ValueType};

/// Where a rule is used, which says which fields it may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One SYN: no attempt or flow fields.
    Syn,
    /// A simulated connection (`bisect --rule`): the SYN's fields and what
    /// the client's later segments carry (`synlab.flow.*`), no attempt facts.
    Connection,
    /// A captured attempt (`handshakes --where`): every field.
    Attempt,
}

impl AttemptField {
    fn ty(self) -> Ty {
        match self {
            AttemptField::Outcome => Ty::OneOf(OUTCOMES),
            AttemptField::Established | AttemptField::Stalled => Ty::Bool,
            AttemptField::SynRetransmits => Ty::Int(u64::from(u32::MAX)),
        }
    }
}

impl Operand {
    fn ty(self) -> Ty {
        match self {
            Operand::Attr(Attr::Field(f)) => field_ty(f),
            Operand::Attr(Attr::UnknownOption(_)) => Ty::Text,
            Operand::Either(p) => field_ty(p.sides()[0]),
            Operand::Attempt(f) => f.ty(),
        }
    }

    /// Whether only a captured attempt has it (not a lone SYN).
    pub(super) fn needs_attempt(self) -> bool {
        match self {
            Operand::Attempt(_) => true,
            Operand::Attr(a) => a.source() == Source::Flow,
            Operand::Either(_) => false,
        }
    }
}

/// The type a field's values are checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Bool,
    Int(u64),
    Text,
    Addr { v6: bool },
    OneOf(&'static [&'static str]),
}

fn field_ty(f: Field) -> Ty {
    match f {
        Field::IpSrc | Field::IpDst => Ty::Addr { v6: false },
        Field::Ipv6Src | Field::Ipv6Dst => Ty::Addr { v6: true },
        _ => match f.value_type() {
            ValueType::Bool => Ty::Bool,
            ValueType::Int(max) => Ty::Int(max),
            ValueType::Text => Ty::Text,
        },
    }
}

impl Ty {
    /// What the field takes, for an error message.
    fn expected(self) -> String {
        match self {
            Ty::Bool => "a boolean (true, false, 1 or 0)".into(),
            Ty::Int(max) => format!("a number from 0 to {max}"),
            Ty::Text => "text".into(),
            Ty::Addr { v6: false } => "an IPv4 address or network (10.0.0.0/8)".into(),
            Ty::Addr { v6: true } => "an IPv6 address or network (2001:db8::/32)".into(),
            Ty::OneOf(names) => format!("one of {}", names.join(", ")),
        }
    }
}

/// A value as written, before it is checked against its field.
pub(super) struct RawValue {
    pub(super) lit: Literal,
    /// The token's text (a string's contents without quotes).
    pub(super) text: String,
    pub(super) column: usize,
}

/// `ADDR` or `ADDR/LEN` of the given family.
fn parse_net(s: &str, v6: bool) -> Option<Literal> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let full = full_prefix(ip);
    let len = len.unwrap_or(full);
    (ip.is_ipv6() == v6 && len <= full).then_some(Literal::Net(ip, len))
}

/// The value checked against the operand's type (`cmp` is `None` in a set),
/// so that `ip.ttl == sixty` is an error rather than a rule that never matches.
pub(super) fn typed(
    operand: Operand,
    cmp: Option<Cmp>,
    raw: RawValue,
) -> Result<Literal, RuleError> {
    let ty = operand.ty();
    let column = raw.column;
    let err = |kind| RuleError { kind, column };
    let mistyped = || {
        err(RuleErrorKind::Mistyped {
            field: operand.name(),
            expected: ty.expected(),
            found: format!("{:?}", raw.text),
        })
    };
    if let Literal::Range(lo, hi) = raw.lit {
        return match (cmp, ty) {
            (Some(_), _) => Err(err(RuleErrorKind::RangeOutsideSet)),
            (None, Ty::Int(max)) if hi <= max && lo <= hi => Ok(raw.lit),
            (None, Ty::Int(max)) if hi <= max => Err(err(RuleErrorKind::EmptyRange { lo, hi })),
            _ => Err(mistyped()),
        };
    }
    match ty {
        Ty::Bool => match raw.lit {
            Literal::Bool(b) => Ok(Literal::Bool(b)),
            Literal::Int(n @ (0 | 1)) => Ok(Literal::Bool(n == 1)),
            _ => Err(mistyped()),
        },
        Ty::Int(max) => match raw.lit {
            Literal::Int(n) if n <= max => Ok(Literal::Int(n)),
            _ => Err(mistyped()),
        },
        Ty::Text => Ok(Literal::Str(raw.text)),
        Ty::OneOf(names) if names.contains(&raw.text.as_str()) => Ok(Literal::Str(raw.text)),
        Ty::OneOf(_) => Err(mistyped()),
        Ty::Addr { v6 } => {
            let op = cmp.unwrap_or(Cmp::Eq);
            if !matches!(op, Cmp::Eq | Cmp::Ne) {
                return Err(err(RuleErrorKind::BadOperator {
                    field: operand.name(),
                    op: op.symbol(),
                }));
            }
            parse_net(&raw.text, v6).ok_or_else(mistyped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attributes;
    use crate::rule::fixtures::{error_of, eval_str};
    use crate::rule::RENDER_WIDTH;

    // Regression (issue 8): `ip.ttl == sixty`, `tcp.flags.ece == yes` and
    // `ip.ttl in {100..200}` parsed and matched nothing.
    #[test]
    fn values_are_checked_against_the_field() {
        let cases = [
            (
                "ip.ttl == sixty",
                11,
                "ip.ttl takes a number from 0 to 255, not \"sixty\"",
            ),
            ("ip.ttl == onetwentyeight", 11, "not \"onetwentyeight\""),
            (
                "ip.ttl == 300",
                11,
                "ip.ttl takes a number from 0 to 255, not \"300\"",
            ),
            ("ip.ttl == true", 11, "takes a number"),
            (
                "tcp.flags.ece == yes",
                18,
                "tcp.flags.ece takes a boolean (true, false, 1 or 0), not \"yes\"",
            ),
            ("tcp.flags.ece == 2", 18, "takes a boolean"),
            ("ip.ttl in {64 sixty}", 15, "not \"sixty\""),
            ("ip.ttl in {60..300}", 12, "from 0 to 255, not \"60..300\""),
            ("ip.ttl in {70..60}", 12, "the range 70..60 is empty"),
            ("ip.ttl == 60..70", 11, "a range belongs in a set"),
            (
                "synlab.options.layout in {1..2}",
                27,
                "synlab.options.layout takes text",
            ),
            ("ip.src == 10.0.0.300", 11, "an IPv4 address or network"),
            ("ip.src == fd00::1", 11, "an IPv4 address"),
            ("ip.src == 10.0.0.0/33", 11, "an IPv4 address"),
            ("ipv6.dst == 10.0.0.1", 13, "an IPv6 address"),
            (
                "ip.src < 10.0.0.1",
                10,
                "ip.src is compared with == or != only, not <",
            ),
            (
                "tcp.port == 70000",
                13,
                "tcp.port takes a number from 0 to 65535",
            ),
        ];
        for (rule, column, text) in cases {
            let e = error_of(rule, Scope::Syn);
            assert_eq!(e.column, column, "{rule}: {e}");
            assert!(e.to_string().contains(text), "{rule}: {e}");
        }
        let shown = error_of("ip.ttl == sixty", Scope::Syn).render("ip.ttl == sixty");
        assert_eq!(
            shown,
            "column 11: ip.ttl takes a number from 0 to 255, not \"sixty\"\n  ip.ttl == sixty\n            ^"
        );
        // A long expression is shown as a window around the column.
        let bomb = format!("{}ip.ttl == sixty", "ip.ttl == 64 && ".repeat(3000));
        let shown = error_of(&bomb, Scope::Syn).render(&bomb);
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines[1].chars().count() <= RENDER_WIDTH + 4, "{shown}");
        assert!(
            lines[1].starts_with("  …") && lines[1].ends_with("sixty"),
            "{shown}"
        );
        let caret = lines[2].chars().count() - 1;
        assert_eq!(lines[1].chars().nth(caret), Some('s'), "{shown}");
        // Text fields take any word, numbers included, as text.
        let mut a = Attributes::new();
        a.insert(Attr::UnknownOption(30), "0102");
        assert!(eval_str("synlab.tcp.option.30 == 0102", &a));
    }
}
