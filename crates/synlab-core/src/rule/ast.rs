//! The rule's syntax tree: what a rule tests ([`Operand`]: an attribute, a
//! two-sided field, an attempt fact), the values it compares with
//! ([`Literal`]) and how tests combine ([`Expr`]). `Display` writes a tree
//! back as a rule that parses to the same tree.

use std::fmt;
use std::net::IpAddr;

use crate::model::{Attr, Pair, UnknownAttribute};

/// How deep parentheses and `!` may nest: deeper is an error, not a stack
/// overflow.
pub const MAX_DEPTH: usize = 256;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub(super) fn symbol(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

/// A fact about a captured attempt rather than its SYN (`handshakes --where`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttemptField {
    /// `syn-ack`, `reset`, `icmp` or `no-reply`.
    Outcome,
    /// The client acknowledged the SYN-ACK.
    Established,
    /// The established flow went without new data for a long while.
    Stalled,
    /// How many times the client sent its SYN again.
    SynRetransmits,
}

/// The values `synlab.attempt.outcome` takes (the JSON's outcome names).
pub const OUTCOMES: &[&str] = &["syn-ack", "reset", "icmp", "no-reply"];

impl AttemptField {
    pub const ALL: [AttemptField; 4] = [
        AttemptField::Outcome,
        AttemptField::Established,
        AttemptField::Stalled,
        AttemptField::SynRetransmits,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            AttemptField::Outcome => "synlab.attempt.outcome",
            AttemptField::Established => "synlab.attempt.established",
            AttemptField::Stalled => "synlab.attempt.stalled",
            AttemptField::SynRetransmits => "synlab.attempt.syn_retransmits",
        }
    }
}

/// What a rule tests: an attribute, a two-sided field, or an attempt fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    Attr(Attr),
    Either(Pair),
    Attempt(AttemptField),
}

impl Operand {
    pub fn name(self) -> &'static str {
        match self {
            Operand::Attr(a) => a.name(),
            Operand::Either(p) => p.name(),
            Operand::Attempt(f) => f.name(),
        }
    }
}

impl std::str::FromStr for Operand {
    type Err = UnknownAttribute;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(p) = Pair::ALL.into_iter().find(|p| p.name() == s) {
            return Ok(Operand::Either(p));
        }
        if let Some(f) = AttemptField::ALL.into_iter().find(|f| f.name() == s) {
            return Ok(Operand::Attempt(f));
        }
        s.parse().map(Operand::Attr)
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A literal on the right of a comparison, already checked against its field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Literal {
    Int(u64),
    Bool(bool),
    Str(String),
    /// `lo..hi`, both included (in sets only).
    Range(u64, u64),
    /// An address with a prefix length (32 or 128 for a single address).
    Net(IpAddr, u8),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Str(s) => write!(f, "{s:?}"),
            Literal::Range(lo, hi) => write!(f, "{lo}..{hi}"),
            Literal::Net(ip, len) if *len == full_prefix(*ip) => write!(f, "{ip}"),
            Literal::Net(ip, len) => write!(f, "{ip}/{len}"),
        }
    }
}

pub(super) fn full_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv6() {
        128
    } else {
        32
    }
}

/// A parsed rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Present(Operand),
    Compare(Operand, Cmp, Literal),
    In(Operand, Vec<Literal>),
    Not(Box<Expr>),
    /// All of them (a chain of `&&` is one node, so a long chain cannot
    /// make evaluation recurse deeply).
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chain = |f: &mut fmt::Formatter<'_>, es: &[Expr], op: &str| {
            f.write_str("(")?;
            for (i, e) in es.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{e}")?;
            }
            f.write_str(")")
        };
        match self {
            Expr::Present(n) => write!(f, "{n}"),
            Expr::Compare(n, op, v) => write!(f, "{n} {} {v}", op.symbol()),
            Expr::In(n, vs) => {
                write!(f, "{n} in {{")?;
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("}")
            }
            Expr::Not(e) => write!(f, "!({e})"),
            Expr::And(es) => chain(f, es, "&&"),
            Expr::Or(es) => chain(f, es, "||"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Rule;

    #[test]
    fn display_round_trips() {
        let r = Rule::parse("a_never || ip.ttl in {1 2} && !tcp.options.sack_perm");
        assert!(r.is_err());
        let r = Rule::parse("ip.ttl in {1 2} && !tcp.options.sack_perm || ip.flags.df == 1")
            .unwrap_or_else(|e| panic!("{e}"));
        let again = Rule::parse(&r.expr.to_string()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.expr, r.expr);
    }

    #[test]
    fn outcome_names_are_the_handshake_ones() {
        use crate::handshake::Outcome;
        let names = [
            Outcome::SynAck,
            Outcome::Reset,
            Outcome::Icmp {
                icmp_type: 3,
                code: 1,
            },
            Outcome::NoReply,
        ]
        .map(|o| o.name());
        assert_eq!(OUTCOMES, names);
    }
}
