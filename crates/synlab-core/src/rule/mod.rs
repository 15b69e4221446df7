//! Rules: a small display-filter language over attribute names, in the
//! spirit of Wireshark's, used by `synlab bisect --rule` to describe a
//! simulated middlebox ("drop SYNs whose TTL is 128") and by
//! `synlab handshakes --where` to pick attempts.
//!
//! Pure, in four steps, one file each: the lexer (`lexer.rs`: text to
//! tokens with their columns), a recursive-descent parser (`parser.rs`) to
//! an [`Expr`] (the tree, `ast.rs`) whose values are checked against each
//! field's type in the vocabulary as they are read (`check.rs`), and an
//! evaluator over a [`Subject`] (`eval.rs`: a SYN's
//! [`Attributes`](crate::model::Attributes), or a captured attempt).
//! Errors (`error.rs`) carry the column. [`Rule`] is the way in: parse once,
//! evaluate many times. Beside them: `nft.rs` translates a rule to
//! nftables rules and back ([`to_nft`], [`from_nft`]), and `impact.rs` says
//! which profiles and real SYNs a rule hits ([`impact::impact`]).
//!
//! # Grammar
//!
//! ```text
//! expr       := or
//! or         := and ( ("||" | "or") and )*
//! and        := unary ( ("&&" | "and") unary )*
//! unary      := ("!" | "not") unary | primary
//! primary    := "(" expr ")"
//!             | FIELD                                  presence test
//!             | FIELD CMP value                        comparison
//!             | FIELD "in" "{" member ( [","] member )* "}"   membership
//! member     := value | NUMBER ".." NUMBER             a range, both ends included
//! CMP        := "==" | "eq" | "!=" | "ne" | "<" | "lt" | "<=" | "le"
//!             | ">" | "gt" | ">=" | "ge"
//! value      := NUMBER | "true" | "false" | STRING | WORD
//! FIELD      := an attribute name of the vocabulary (`synlab fields`),
//!               synlab.tcp.option.<KIND>, one of Wireshark's two-sided
//!               fields tcp.port, ip.addr, ipv6.addr, or (--where only) an
//!               attempt field synlab.attempt.*
//! NUMBER     := decimal digits, or 0x followed by hex digits
//! STRING     := "..." (a backslash escapes the next character)
//! WORD       := letters, digits and _ . : + - / (an unquoted string; a
//!               layout with commas needs quotes, as in Wireshark)
//! ```
//!
//! `&&` binds tighter than `||`; `!` tighter than both. Keywords (`and`,
//! `or`, `not`, `in`, `eq`…) are case-insensitive. Parentheses and `!`
//! nest at most [`MAX_DEPTH`] deep.
//!
//! # Types
//!
//! Every value is checked against its field when the rule is parsed, so a
//! typo is an error (with a caret under it), never a rule that silently
//! matches nothing: a boolean field takes `true`, `false`, `1` or `0`; a
//! number field a number within its range (`ip.ttl` 0 to 255); an address
//! field (`ip.src`, `ip.dst`, `ip.addr` and the IPv6 ones) an address or a
//! network in CIDR form (`ip.src == 10.0.0.0/8`), compared with `==` and
//! `!=` only; text fields (the layout, quirks, hex) any string.
//! `synlab.attempt.outcome` takes `syn-ack`, `reset`, `icmp` or `no-reply`.
//!
//! # Meaning
//!
//! - A field alone is true when the packet has the attribute: a TCP option
//!   is present (`tcp.options.sack_perm`, `tcp.options.timestamp.tsval`).
//!   Flags are always present on a SYN, so test their value: `ip.flags.df == 1`.
//!   An attempt's boolean field alone tests its truth:
//!   `synlab.attempt.established`.
//! - A comparison with an absent attribute is false, whatever the operator
//!   (as in Wireshark): `tcp.options.mss_val != 1460` is false when the SYN
//!   has no MSS option; write `!(tcp.options.mss_val == 1460)` to include it.
//! - Numbers compare as numbers; booleans are 0 and 1 (`== true` works too).
//!   A string value compares with the attribute's text:
//!   `synlab.options.layout == "mss,sok,ts,nop,ws"`. Ordering on strings
//!   is lexicographic.
//! - `tcp.port`, `ip.addr` and `ipv6.addr` are either side, as in Wireshark:
//!   `tcp.port == 80` matches a source or a destination port of 80;
//!   `tcp.port != 80` matches when neither side is 80 (Wireshark 3.6 on).
//! - Attempt fields (`handshakes --where` only): `synlab.attempt.outcome`,
//!   `synlab.attempt.established` (the client acknowledged the SYN-ACK),
//!   `synlab.attempt.stalled` (an established flow went without new data
//!   for a long while), `synlab.attempt.syn_retransmits`. `synlab.flow.*`
//!   fields are read from the attempt's later segments. In `bisect --rule`
//!   attempt fields are errors (a simulated middlebox sees a connection,
//!   not a capture), and `synlab.flow.*` fields describe the simulated
//!   client's later segments (a middlebox acting past the handshake).
//!
//! An error carries the column (1-based, in characters) where it was
//! found; [`RuleError::render`] prints the expression with a caret under it.

mod ast;
mod check;
mod error;
mod eval;
pub mod impact;
mod lexer;
mod nft;
mod parser;

use std::collections::BTreeSet;
use std::fmt;

pub use crate::model::Pair;
pub use ast::{AttemptField, Cmp, Expr, Literal, Operand, MAX_DEPTH, OUTCOMES};
pub use check::Scope;
pub use error::{RuleError, RuleErrorKind, RENDER_WIDTH};
pub use eval::Subject;
pub use nft::{from_nft, to_nft, NftError, NftReason, MAX_NFT_RULES};

use crate::model::{Attr, Source};

/// A rule ready to evaluate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub expr: Expr,
    source: String,
}

impl Rule {
    /// Parse a rule over one SYN; the error carries the column.
    pub fn parse(source: &str) -> Result<Rule, RuleError> {
        Rule::parse_in(source, Scope::Syn)
    }

    /// Parse a rule for the given scope.
    pub fn parse_in(source: &str, scope: Scope) -> Result<Rule, RuleError> {
        let expr = parser::parse(source, scope)?;
        Ok(Rule {
            expr,
            source: source.to_owned(),
        })
    }

    /// The text the rule was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether a packet (or attempt) matches.
    pub fn eval<S: Subject + ?Sized>(&self, s: &S) -> bool {
        eval::eval(&self.expr, s)
    }

    /// Whether the rule reads what the client's later segments carry
    /// (`synlab.flow.*`): a middlebox that acts past the handshake.
    pub fn reads_flow(&self) -> bool {
        self.attributes_used()
            .iter()
            .any(|a| a.source() == Source::Flow)
    }

    /// The attributes the rule reads, in table order (both sides of a
    /// two-sided field; attempt fields are not attributes).
    pub fn attributes_used(&self) -> Vec<Attr> {
        let mut set = BTreeSet::new();
        collect(&self.expr, &mut set);
        set.into_iter().collect()
    }
}

impl std::str::FromStr for Rule {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::parse(s)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn collect(e: &Expr, out: &mut BTreeSet<Attr>) {
    match e {
        Expr::Present(n) | Expr::Compare(n, _, _) | Expr::In(n, _) => match n {
            Operand::Attr(a) => {
                out.insert(*a);
            }
            Operand::Either(p) => out.extend(p.sides().map(Attr::Field)),
            Operand::Attempt(_) => {}
        },
        Expr::Not(e) => collect(e, out),
        Expr::And(es) | Expr::Or(es) => es.iter().for_each(|e| collect(e, out)),
    }
}

/// What the tests of every part share: a Linux SYN, and rules parsed and
/// evaluated or refused in one call.
#[cfg(test)]
mod fixtures {
    use super::{Rule, RuleError, Scope};
    use crate::model::{Attributes, Field};

    pub(super) fn linux() -> Attributes {
        let mut a = crate::model::craft::linux_example();
        a.insert(Field::TcpOptionsTimestampTsval, 77u32);
        a
    }

    pub(super) fn eval_str(rule: &str, a: &Attributes) -> bool {
        Rule::parse(rule)
            .unwrap_or_else(|e| panic!("{}", e.render(rule)))
            .eval(a)
    }

    pub(super) fn error_of(rule: &str, scope: Scope) -> RuleError {
        Rule::parse_in(rule, scope)
            .err()
            .unwrap_or_else(|| panic!("{rule} parsed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_used_in_catalogue_order() {
        let r = Rule::parse("tcp.options.sack_perm || (ip.ttl == 128 && !ip.flags.df == 1)")
            .unwrap_or_else(|e| panic!("{e}"));
        let used: Vec<&str> = r.attributes_used().into_iter().map(Attr::name).collect();
        assert_eq!(used, ["ip.flags.df", "ip.ttl", "tcp.options.sack_perm"]);
    }
}
