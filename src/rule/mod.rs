//! Rules: a small display-filter language over attribute names, in the
//! spirit of Wireshark's, used by `synlab bisect --rule` to describe a
//! simulated middlebox ("drop SYNs whose TTL is 128") and by
//! `synlab handshakes --where` to pick attempts.
//!
//! Pure: a lexer, a recursive-descent parser to an [`Expr`] whose values are
//! checked against each field's type, and an evaluator over a [`Subject`]
//! (a SYN's [`Attributes`], or a captured attempt).
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

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use thiserror::Error;

use crate::model::{Attr, Attributes, Field, Source, UnknownAttribute, Value, ValueType};

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
    fn symbol(self) -> &'static str {
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

    fn ty(self) -> Ty {
        match self {
            AttemptField::Outcome => Ty::OneOf(OUTCOMES),
            AttemptField::Established | AttemptField::Stalled => Ty::Bool,
            AttemptField::SynRetransmits => Ty::Int(u64::from(u32::MAX)),
        }
    }
}

/// Wireshark's two-sided fields: either side matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pair {
    TcpPort,
    IpAddr,
    Ipv6Addr,
}

impl Pair {
    const ALL: [Pair; 3] = [Pair::TcpPort, Pair::IpAddr, Pair::Ipv6Addr];

    pub const fn name(self) -> &'static str {
        match self {
            Pair::TcpPort => "tcp.port",
            Pair::IpAddr => "ip.addr",
            Pair::Ipv6Addr => "ipv6.addr",
        }
    }

    /// The source and destination fields it stands for.
    pub const fn sides(self) -> [Field; 2] {
        match self {
            Pair::TcpPort => [Field::TcpSrcport, Field::TcpDstport],
            Pair::IpAddr => [Field::IpSrc, Field::IpDst],
            Pair::Ipv6Addr => [Field::Ipv6Src, Field::Ipv6Dst],
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

    fn ty(self) -> Ty {
        match self {
            Operand::Attr(Attr::Field(f)) => field_ty(f),
            Operand::Attr(Attr::UnknownOption(_)) => Ty::Text,
            Operand::Either(p) => field_ty(p.sides()[0]),
            Operand::Attempt(f) => f.ty(),
        }
    }

    /// Whether only a captured attempt has it (not a lone SYN).
    fn needs_attempt(self) -> bool {
        match self {
            Operand::Attempt(_) => true,
            Operand::Attr(a) => a.source() == Source::Flow,
            Operand::Either(_) => false,
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

fn full_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv6() {
        128
    } else {
        32
    }
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

/// Whether `ip` lies in `net/len`.
fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
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

/// What is wrong with a rule.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RuleErrorKind {
    #[error("unexpected character {0:?}")]
    BadChar(char),
    #[error("string not closed with \"")]
    UnclosedString,
    #[error("number {0:?} does not fit 64 bits")]
    BadNumber(String),
    #[error("expected {expected}, found {found}")]
    Expected {
        expected: &'static str,
        found: String,
    },
    #[error(transparent)]
    UnknownField(UnknownAttribute),
    #[error("{field} takes {expected}, not {found}")]
    Mistyped {
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("{field} is compared with == or != only, not {op}")]
    BadOperator {
        field: &'static str,
        op: &'static str,
    },
    #[error("a range belongs in a set, as in `ip.ttl in {{60..70}}`")]
    RangeOutsideSet,
    #[error("the range {lo}..{hi} is empty")]
    EmptyRange { lo: u64, hi: u64 },
    #[error(
        "{field} describes a captured attempt, not a SYN: only `handshakes --where` can test it"
    )]
    NeedsAttempt { field: &'static str },
    #[error("nested deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("empty rule")]
    Empty,
}

/// A syntax error and where it is.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("column {column}: {kind}")]
pub struct RuleError {
    pub kind: RuleErrorKind,
    /// 1-based, in characters.
    pub column: usize,
}

impl RuleError {
    /// The error over the expression with a caret line under the column:
    ///
    /// ```text
    /// column 9: expected a value, found end of rule
    ///   ip.ttl ==
    ///            ^
    /// ```
    ///
    /// A long expression (a generated one, or a 50,000-character bomb) is
    /// shown as a window of [`RENDER_WIDTH`] characters around the column,
    /// with `…` where it was cut, so an error stays one screen.
    pub fn render(&self, expr: &str) -> String {
        let chars: Vec<char> = expr.chars().collect();
        let at = self.column.saturating_sub(1).min(chars.len());
        let (start, end) = render_window(chars.len(), at);
        let lead = if start > 0 { "…" } else { "" };
        let tail = if end < chars.len() { "…" } else { "" };
        let shown: String = chars[start..end].iter().collect();
        let pad = " ".repeat(at - start + lead.chars().count());
        format!("{self}\n  {lead}{shown}{tail}\n  {pad}^")
    }
}

/// How many characters of an expression an error shows at most.
pub const RENDER_WIDTH: usize = 72;

/// The `[start, end)` character range of an expression of `len` characters
/// shown around the error at `at`: the whole of it when short, else
/// [`RENDER_WIDTH`] characters with the error about a third of the way in.
fn render_window(len: usize, at: usize) -> (usize, usize) {
    if len <= RENDER_WIDTH {
        return (0, len);
    }
    let start = at.saturating_sub(RENDER_WIDTH / 3).min(len - RENDER_WIDTH);
    (start, start + RENDER_WIDTH)
}

/// What a rule is evaluated over: a SYN's attributes, or a captured attempt
/// (which also answers attempt fields and `synlab.flow.*`).
pub trait Subject {
    fn attr(&self, a: Attr) -> Option<&Value>;
    /// An attempt fact; a lone SYN has none.
    fn attempt(&self, _f: AttemptField) -> Option<Value> {
        None
    }
}

impl Subject for Attributes {
    fn attr(&self, a: Attr) -> Option<&Value> {
        self.get(a)
    }
}

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
        let tokens = lex(source)?;
        let mut p = Parser {
            tokens,
            pos: 0,
            depth: 0,
            scope,
        };
        if p.peek().tok == Tok::End {
            return Err(RuleError {
                kind: RuleErrorKind::Empty,
                column: 1,
            });
        }
        let expr = p.or()?;
        let t = p.peek();
        if t.tok != Tok::End {
            return Err(p.expected("&&, || or the end of the rule"));
        }
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
        eval(&self.expr, s)
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

/// The operand's values in the subject: one, or two for a two-sided field.
fn values<'a, S: Subject + ?Sized>(op: Operand, s: &'a S) -> [Option<Cow<'a, Value>>; 2] {
    let get = |f: Field| s.attr(Attr::Field(f)).map(Cow::Borrowed);
    match op {
        Operand::Attr(a) => [s.attr(a).map(Cow::Borrowed), None],
        Operand::Either(p) => p.sides().map(get),
        Operand::Attempt(f) => [s.attempt(f).map(Cow::Owned), None],
    }
}

fn eval<S: Subject + ?Sized>(e: &Expr, s: &S) -> bool {
    match e {
        Expr::Present(Operand::Attempt(f)) => match s.attempt(*f) {
            Some(Value::Bool(b)) => b,
            other => other.is_some(),
        },
        Expr::Present(n) => values(*n, s).iter().any(Option::is_some),
        // Wireshark's `!=` on a two-sided field: present, and no side equal.
        Expr::Compare(n @ Operand::Either(_), Cmp::Ne, lit) => {
            let vs = values(*n, s);
            vs.iter().any(Option::is_some) && !vs.iter().flatten().any(|v| compare(v, Cmp::Eq, lit))
        }
        Expr::Compare(n, op, lit) => values(*n, s).iter().flatten().any(|v| compare(v, *op, lit)),
        Expr::In(n, lits) => values(*n, s)
            .iter()
            .flatten()
            .any(|v| lits.iter().any(|l| member(v, l))),
        Expr::Not(e) => !eval(e, s),
        Expr::And(es) => es.iter().all(|e| eval(e, s)),
        Expr::Or(es) => es.iter().any(|e| eval(e, s)),
    }
}

fn member(v: &Value, lit: &Literal) -> bool {
    match lit {
        Literal::Range(lo, hi) => v.as_u64().is_some_and(|x| (*lo..=*hi).contains(&x)),
        _ => compare(v, Cmp::Eq, lit),
    }
}

fn compare(v: &Value, op: Cmp, lit: &Literal) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match lit {
        Literal::Int(n) => v.as_u64().map(|x| x.cmp(n)),
        Literal::Bool(b) => v.as_u64().map(|x| x.cmp(&u64::from(*b))),
        Literal::Str(s) => Some(match v {
            Value::Str(x) => x.as_str().cmp(s.as_str()),
            other => other.to_string().as_str().cmp(s.as_str()),
        }),
        Literal::Net(net, len) => {
            let inside = match v {
                Value::Str(x) => x.parse().is_ok_and(|ip| in_net(ip, *net, *len)),
                _ => false,
            };
            return match op {
                Cmp::Eq => inside,
                Cmp::Ne => !inside,
                _ => false,
            };
        }
        Literal::Range(..) => return member(v, lit),
    };
    let Some(ord) = ord else {
        return false;
    };
    match op {
        Cmp::Eq => ord == Ordering::Equal,
        Cmp::Ne => ord != Ordering::Equal,
        Cmp::Lt => ord == Ordering::Less,
        Cmp::Le => ord != Ordering::Greater,
        Cmp::Gt => ord == Ordering::Greater,
        Cmp::Ge => ord != Ordering::Less,
    }
}

// ---------------------------------------------------------------- lexer

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Cmp(Cmp),
    Not,
    And,
    Or,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    End,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    column: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("{w:?}"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Cmp(c) => format!("{:?}", c.symbol()),
        Tok::Not => "\"!\"".into(),
        Tok::And => "\"&&\"".into(),
        Tok::Or => "\"||\"".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::LBrace => "\"{\"".into(),
        Tok::RBrace => "\"}\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::End => "end of rule".into(),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '+' | '-' | '/')
}

fn lex(src: &str) -> Result<Vec<Token>, RuleError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |kind, i: usize| RuleError {
        kind,
        column: i + 1,
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let start = i;
        let two = |a: char, b: char| c == a && next == Some(b);
        let tok = if c.is_whitespace() {
            i += 1;
            continue;
        } else if two('=', '=') {
            i += 2;
            Tok::Cmp(Cmp::Eq)
        } else if two('!', '=') {
            i += 2;
            Tok::Cmp(Cmp::Ne)
        } else if two('<', '=') {
            i += 2;
            Tok::Cmp(Cmp::Le)
        } else if two('>', '=') {
            i += 2;
            Tok::Cmp(Cmp::Ge)
        } else if two('&', '&') {
            i += 2;
            Tok::And
        } else if two('|', '|') {
            i += 2;
            Tok::Or
        } else {
            i += 1;
            match c {
                '<' => Tok::Cmp(Cmp::Lt),
                '>' => Tok::Cmp(Cmp::Gt),
                '!' => Tok::Not,
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                '{' => Tok::LBrace,
                '}' => Tok::RBrace,
                ',' => Tok::Comma,
                '"' => {
                    let mut s = String::new();
                    loop {
                        match chars.get(i) {
                            None => return Err(err(RuleErrorKind::UnclosedString, start)),
                            Some('"') => {
                                i += 1;
                                break;
                            }
                            Some('\\') => {
                                if let Some(&e) = chars.get(i + 1) {
                                    s.push(e);
                                }
                                i += 2;
                            }
                            Some(&ch) => {
                                s.push(ch);
                                i += 1;
                            }
                        }
                    }
                    Tok::Str(s)
                }
                c if is_word_char(c) => {
                    while chars.get(i).copied().is_some_and(is_word_char) {
                        i += 1;
                    }
                    let word: String = chars[start..i].iter().collect();
                    keyword(&word).unwrap_or(Tok::Word(word))
                }
                c => return Err(err(RuleErrorKind::BadChar(c), start)),
            }
        };
        out.push(Token {
            tok,
            column: start + 1,
        });
    }
    out.push(Token {
        tok: Tok::End,
        column: chars.len() + 1,
    });
    Ok(out)
}

fn keyword(w: &str) -> Option<Tok> {
    Some(match w.to_ascii_lowercase().as_str() {
        "and" => Tok::And,
        "or" => Tok::Or,
        "not" => Tok::Not,
        "eq" => Tok::Cmp(Cmp::Eq),
        "ne" => Tok::Cmp(Cmp::Ne),
        "lt" => Tok::Cmp(Cmp::Lt),
        "le" => Tok::Cmp(Cmp::Le),
        "gt" => Tok::Cmp(Cmp::Gt),
        "ge" => Tok::Cmp(Cmp::Ge),
        _ => return None,
    })
}

// ---------------------------------------------------------------- parser

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// How deep `unary` is nested now (bounded by [`MAX_DEPTH`]).
    depth: usize,
    scope: Scope,
}

/// A value as written, before it is checked against its field.
struct RawValue {
    lit: Literal,
    /// The token's text (a string's contents without quotes).
    text: String,
    column: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // The lexer always ends the list with `End`, and `bump` never passes it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn expected(&self, expected: &'static str) -> RuleError {
        let t = self.peek();
        RuleError {
            kind: RuleErrorKind::Expected {
                expected,
                found: describe(&t.tok),
            },
            column: t.column,
        }
    }

    fn or(&mut self) -> Result<Expr, RuleError> {
        let mut es = vec![self.and()?];
        while self.peek().tok == Tok::Or {
            self.bump();
            es.push(self.and()?);
        }
        Ok(if es.len() == 1 {
            es.remove(0)
        } else {
            Expr::Or(es)
        })
    }

    fn and(&mut self) -> Result<Expr, RuleError> {
        let mut es = vec![self.unary()?];
        while self.peek().tok == Tok::And {
            self.bump();
            es.push(self.unary()?);
        }
        Ok(if es.len() == 1 {
            es.remove(0)
        } else {
            Expr::And(es)
        })
    }

    /// Every `!` and every parenthesis passes here: the one place the
    /// nesting is counted.
    fn unary(&mut self) -> Result<Expr, RuleError> {
        if self.depth >= MAX_DEPTH {
            return Err(RuleError {
                kind: RuleErrorKind::TooDeep,
                column: self.peek().column,
            });
        }
        self.depth += 1;
        let e = if self.peek().tok == Tok::Not {
            self.bump();
            self.unary().map(|e| Expr::Not(Box::new(e)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        e
    }

    fn primary(&mut self) -> Result<Expr, RuleError> {
        if self.peek().tok == Tok::LParen {
            self.bump();
            let e = self.or()?;
            if self.peek().tok != Tok::RParen {
                return Err(self.expected("\")\""));
            }
            self.bump();
            return Ok(e);
        }
        let operand = self.operand()?;
        match self.peek().tok.clone() {
            Tok::Cmp(op) => {
                self.bump();
                let raw = self.value()?;
                Ok(Expr::Compare(operand, op, typed(operand, Some(op), raw)?))
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("in") => {
                self.bump();
                self.set(operand)
            }
            _ => Ok(Expr::Present(operand)),
        }
    }

    /// A field name, known to the vocabulary and allowed in this scope.
    fn operand(&mut self) -> Result<Operand, RuleError> {
        let name = match &self.peek().tok {
            Tok::Word(w) if !is_number(w) => w.clone(),
            _ => return Err(self.expected("an attribute name, \"!\" or \"(\"")),
        };
        let column = self.peek().column;
        let err = |kind| RuleError { kind, column };
        let operand: Operand = name
            .parse()
            .map_err(|e| err(RuleErrorKind::UnknownField(e)))?;
        let refused = match self.scope {
            Scope::Syn => operand.needs_attempt(),
            Scope::Connection => matches!(operand, Operand::Attempt(_)),
            Scope::Attempt => false,
        };
        if refused {
            return Err(err(RuleErrorKind::NeedsAttempt {
                field: operand.name(),
            }));
        }
        self.bump();
        Ok(operand)
    }

    /// `{ member ( [","] member )* }`, after `in`.
    fn set(&mut self, operand: Operand) -> Result<Expr, RuleError> {
        if self.peek().tok != Tok::LBrace {
            return Err(self.expected("\"{\""));
        }
        self.bump();
        let mut values = Vec::new();
        loop {
            let raw = self.value()?;
            values.push(typed(operand, None, raw)?);
            if self.peek().tok == Tok::Comma {
                self.bump();
            }
            match self.peek().tok {
                Tok::RBrace => {
                    self.bump();
                    return Ok(Expr::In(operand, values));
                }
                Tok::Word(_) | Tok::Str(_) => {}
                _ => return Err(self.expected("a value or \"}\"")),
            }
        }
    }

    fn value(&mut self) -> Result<RawValue, RuleError> {
        let t = self.peek().clone();
        let bad_number = |w: &str| RuleError {
            kind: RuleErrorKind::BadNumber(w.to_owned()),
            column: t.column,
        };
        let (lit, text) = match &t.tok {
            Tok::Str(s) => (Literal::Str(s.clone()), s.clone()),
            Tok::Word(w) => {
                let lit = if w.eq_ignore_ascii_case("true") {
                    Literal::Bool(true)
                } else if w.eq_ignore_ascii_case("false") {
                    Literal::Bool(false)
                } else if is_number(w) {
                    Literal::Int(parse_number(w).ok_or_else(|| bad_number(w))?)
                } else if let Some((lo, hi)) = range(w) {
                    Literal::Range(
                        parse_number(lo).ok_or_else(|| bad_number(lo))?,
                        parse_number(hi).ok_or_else(|| bad_number(hi))?,
                    )
                } else {
                    Literal::Str(w.clone())
                };
                (lit, w.clone())
            }
            _ => return Err(self.expected("a value")),
        };
        self.bump();
        Ok(RawValue {
            lit,
            text,
            column: t.column,
        })
    }
}

/// `LO..HI` with two numbers.
fn range(w: &str) -> Option<(&str, &str)> {
    w.split_once("..")
        .filter(|(lo, hi)| is_number(lo) && is_number(hi))
}

/// The value checked against the operand's type (`cmp` is `None` in a set),
/// so that `ip.ttl == sixty` is an error rather than a rule that never matches.
fn typed(operand: Operand, cmp: Option<Cmp>, raw: RawValue) -> Result<Literal, RuleError> {
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

fn is_number(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_digit())
        && (w.chars().all(|c| c.is_ascii_digit())
            || (w.len() > 2
                && w[..2].eq_ignore_ascii_case("0x")
                && w[2..].chars().all(|c| c.is_ascii_hexdigit())))
}

fn parse_number(w: &str) -> Option<u64> {
    if w.len() > 2 && w[..2].eq_ignore_ascii_case("0x") {
        u64::from_str_radix(&w[2..], 16).ok()
    } else {
        w.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    fn linux() -> Attributes {
        let mut a = crate::model::craft::linux_example();
        a.insert(Field::TcpOptionsTimestampTsval, 77u32);
        a
    }

    fn eval_str(rule: &str, a: &Attributes) -> bool {
        Rule::parse(rule)
            .unwrap_or_else(|e| panic!("{}", e.render(rule)))
            .eval(a)
    }

    #[test]
    fn comparisons() {
        let a = linux();
        for (rule, want) in [
            ("ip.ttl == 64", true),
            ("ip.ttl eq 64", true),
            ("ip.ttl != 64", false),
            ("ip.ttl < 65", true),
            ("ip.ttl <= 63", false),
            ("ip.ttl > 63 && ip.ttl >= 64", true),
            ("ip.ttl gt 64", false),
            ("ip.ttl == 0x40", true),
            ("ip.flags.df == 1", true),
            ("ip.flags.df == true", true),
            ("ip.flags.df == false", false),
            ("synlab.options.layout == \"mss,sok,ts,nop,ws\"", true),
            ("synlab.options.layout == mss", false),
            ("synlab.options.layout != \"mss\"", true),
            ("tcp.window_size_value in {8192 64240}", true),
            ("tcp.window_size_value in {8192, 65535}", false),
        ] {
            assert_eq!(eval_str(rule, &a), want, "{rule}");
        }
    }

    #[test]
    fn presence_and_absence() {
        let mut a = linux();
        assert!(eval_str("tcp.options.timestamp.tsval", &a));
        assert!(eval_str("tcp.options.sack_perm", &a));
        a.remove(Field::TcpOptionsTimestampTsval);
        a.remove(Field::TcpOptionsMssVal);
        assert!(!eval_str("tcp.options.timestamp.tsval", &a));
        assert!(eval_str("!tcp.options.timestamp.tsval", &a));
        assert!(eval_str("not tcp.options.timestamp.tsval", &a));
        // A comparison with an absent attribute is false, even !=.
        assert!(!eval_str("tcp.options.mss_val != 1460", &a));
        assert!(eval_str("!(tcp.options.mss_val == 1460)", &a));
        assert!(!eval_str("tcp.options.mss_val in {1460}", &a));
    }

    #[test]
    fn precedence_and_parentheses() {
        let a = linux();
        // && binds tighter than ||.
        assert!(eval_str("ip.ttl == 1 && ip.ttl == 2 || ip.ttl == 64", &a));
        assert!(!eval_str(
            "ip.ttl == 1 && (ip.ttl == 2 || ip.ttl == 64)",
            &a
        ));
        assert!(eval_str("ip.ttl == 64 and not ip.ttl == 1", &a));
        assert!(eval_str("!ip.ttl == 1", &a));
        assert!(eval_str("ip.ttl == 64 AND tcp.options.sack_perm", &a));
    }

    #[test]
    fn attributes_used_in_catalogue_order() {
        let r = Rule::parse("tcp.options.sack_perm || (ip.ttl == 128 && !ip.flags.df == 1)")
            .unwrap_or_else(|e| panic!("{e}"));
        let used: Vec<&str> = r.attributes_used().into_iter().map(Attr::name).collect();
        assert_eq!(used, ["ip.flags.df", "ip.ttl", "tcp.options.sack_perm"]);
    }

    #[test]
    fn errors_point_at_the_column() {
        let cases = [
            ("ip.ttl ==", 10, "expected a value, found end of rule"),
            ("ip.ttl == 64 &&", 16, "expected an attribute name"),
            ("ip.tll == 64", 1, "unknown attribute \"ip.tll\""),
            ("(ip.ttl == 64", 14, "expected \")\""),
            ("ip.ttl == 64 ip.ttl", 14, "expected &&, || or the end"),
            ("ip.ttl = 64", 8, "unexpected character '='"),
            ("synlab.options.layout == \"mss", 26, "string not closed"),
            ("ip.ttl in 64", 11, "expected \"{\""),
            ("ip.ttl == 99999999999999999999", 11, "does not fit 64 bits"),
            ("", 1, "empty rule"),
        ];
        for (rule, column, text) in cases {
            let e = Rule::parse(rule).err();
            let e = e.unwrap_or_else(|| panic!("{rule} parsed"));
            assert_eq!(e.column, column, "{rule}: {e}");
            assert!(e.to_string().contains(text), "{rule}: {e}");
        }
        let e = Rule::parse("ip.ttl ==").err();
        let shown = e.map(|e| e.render("ip.ttl ==")).unwrap_or_default();
        assert_eq!(
            shown,
            "column 10: expected a value, found end of rule\n  ip.ttl ==\n           ^"
        );
    }

    #[test]
    fn empty_string_is_the_empty_layout() {
        let mut a = Attributes::new();
        a.insert(Field::SynlabOptionsLayout, "");
        assert!(eval_str("synlab.options.layout == \"\"", &a));
    }

    #[test]
    fn unknown_option_names_are_fields() {
        let mut a = Attributes::new();
        a.insert(Attr::UnknownOption(30), "0102");
        assert!(eval_str("synlab.tcp.option.30 == \"0102\"", &a));
        assert!(!eval_str("synlab.tcp.option.31", &a));
    }

    #[test]
    fn display_round_trips() {
        let r = Rule::parse("a_never || ip.ttl in {1 2} && !tcp.options.sack_perm");
        assert!(r.is_err());
        let r = Rule::parse("ip.ttl in {1 2} && !tcp.options.sack_perm || ip.flags.df == 1")
            .unwrap_or_else(|e| panic!("{e}"));
        let again = Rule::parse(&r.expr.to_string()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.expr, r.expr);
    }
    fn error_of(rule: &str, scope: Scope) -> RuleError {
        Rule::parse_in(rule, scope)
            .err()
            .unwrap_or_else(|| panic!("{rule} parsed"))
    }

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

    #[test]
    fn ranges_in_sets() {
        let a = linux();
        for (rule, want) in [
            ("ip.ttl in {60..70}", true),
            ("ip.ttl in {64..64}", true),
            ("ip.ttl in {65..70}", false),
            ("ip.ttl in {1, 2, 60..70}", true),
            ("ip.ttl in {100..200 255}", false),
            ("tcp.options.mss_val in {0x500..0x5b4}", true),
        ] {
            assert_eq!(eval_str(rule, &a), want, "{rule}");
        }
        let r = Rule::parse("ip.ttl in {1 60..70}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.expr.to_string(), "ip.ttl in {1 60..70}");
    }

    fn addressed() -> Attributes {
        let mut a = linux();
        a.insert(Field::IpSrc, "10.1.2.3");
        a.insert(Field::IpDst, "198.18.0.130");
        a.insert(Field::TcpSrcport, 40000u16);
        a.insert(Field::TcpDstport, 80u16);
        a
    }

    #[test]
    fn two_sided_fields_match_either_side() {
        let a = addressed();
        for (rule, want) in [
            ("tcp.port == 80", true),
            ("tcp.port == 40000", true),
            ("tcp.port == 443", false),
            ("tcp.port != 443", true),
            ("tcp.port != 80", false),
            ("tcp.port in {443 8000..8080}", false),
            ("tcp.port in {39000..41000}", true),
            ("ip.addr == 198.18.0.130", true),
            ("ip.addr == 10.1.2.3", true),
            ("ip.addr == 10.9.9.9", false),
            ("ip.addr", true),
            ("ipv6.addr", false),
            ("ipv6.addr == fd00::1", false),
        ] {
            assert_eq!(eval_str(rule, &a), want, "{rule}");
        }
        let r = Rule::parse("tcp.port == 80").unwrap_or_else(|e| panic!("{e}"));
        let used: Vec<&str> = r.attributes_used().into_iter().map(Attr::name).collect();
        assert_eq!(used, ["tcp.srcport", "tcp.dstport"]);
    }

    #[test]
    fn cidr_networks() {
        let a = addressed();
        for (rule, want) in [
            ("ip.src == 10.0.0.0/8", true),
            ("ip.src == 10.1.2.3/32", true),
            ("ip.src == 10.1.2.3", true),
            ("ip.src == 11.0.0.0/8", false),
            ("ip.src != 11.0.0.0/8", true),
            ("ip.src == 0.0.0.0/0", true),
            ("ip.dst == 198.18.0.0/15", true),
            ("ip.addr == 198.18.0.0/15", true),
            ("ip.src in {192.168.0.0/16 10.0.0.0/8}", true),
        ] {
            assert_eq!(eval_str(rule, &a), want, "{rule}");
        }
        let mut b = Attributes::new();
        b.insert(Field::Ipv6Src, "fd00::2");
        assert!(eval_str("ipv6.src == fd00::/8", &b));
        assert!(eval_str("ipv6.addr == fd00::2", &b));
        assert!(!eval_str("ipv6.src == fe80::/10", &b));
        let r = Rule::parse("ip.src == 10.0.0.0/8").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.expr.to_string(), "ip.src == 10.0.0.0/8");
    }

    /// A captured attempt, as `handshakes --where` sees it.
    struct FakeAttempt {
        syn: Attributes,
        flow: Attributes,
        outcome: &'static str,
        established: bool,
    }

    impl Subject for FakeAttempt {
        fn attr(&self, a: Attr) -> Option<&Value> {
            if a.source() == Source::Flow {
                self.flow.get(a)
            } else {
                self.syn.get(a)
            }
        }
        fn attempt(&self, f: AttemptField) -> Option<Value> {
            Some(match f {
                AttemptField::Outcome => Value::from(self.outcome),
                AttemptField::Established => Value::Bool(self.established),
                AttemptField::Stalled => Value::Bool(false),
                AttemptField::SynRetransmits => Value::Int(2),
            })
        }
    }

    #[test]
    fn attempt_fields_in_where() {
        let mut flow = Attributes::new();
        flow.insert(Field::SynlabFlowTtl, 64u8);
        let at = FakeAttempt {
            syn: linux(),
            flow,
            outcome: "reset",
            established: false,
        };
        let m = |rule: &str| {
            Rule::parse_in(rule, Scope::Attempt)
                .unwrap_or_else(|e| panic!("{}", e.render(rule)))
                .eval(&at)
        };
        assert!(m("synlab.attempt.outcome == \"reset\""));
        assert!(m("synlab.attempt.outcome == reset"));
        assert!(!m("synlab.attempt.outcome == syn-ack"));
        assert!(m("synlab.attempt.outcome in {reset no-reply}"));
        assert!(!m("synlab.attempt.established"));
        assert!(m("!synlab.attempt.established && ip.ttl == 64"));
        assert!(!m("synlab.attempt.stalled"));
        assert!(m("synlab.attempt.syn_retransmits >= 2"));
        assert!(m("synlab.flow.ttl == 64"));
        assert!(!m("synlab.flow.df"));
        let e = error_of("synlab.attempt.outcome == resett", Scope::Attempt);
        assert_eq!(e.column, 27);
        assert!(
            e.to_string()
                .contains("takes one of syn-ack, reset, icmp, no-reply"),
            "{e}"
        );
        // A SYN alone has neither.
        for rule in ["synlab.attempt.established", "synlab.flow.ttl == 64"] {
            let e = error_of(rule, Scope::Syn);
            assert!(e.to_string().contains("only `handshakes --where`"), "{e}");
        }
        // A simulated connection (`bisect --rule`) has later segments but
        // no captured facts.
        let e = error_of("synlab.attempt.established", Scope::Connection);
        assert!(e.to_string().contains("only `handshakes --where`"), "{e}");
        let r = Rule::parse_in("synlab.flow.ttl == 128", Scope::Connection)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.reads_flow());
        let syn_only = Rule::parse_in("ip.ttl == 128", Scope::Connection);
        assert!(!syn_only.unwrap_or_else(|e| panic!("{e}")).reads_flow());
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

    #[test]
    fn absurd_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}ip.ttl == 64{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(error_of(&deep, Scope::Syn).kind, RuleErrorKind::TooDeep);
        let nots = format!("{}ip.ttl == 64", "!".repeat(100_000));
        assert_eq!(error_of(&nots, Scope::Syn).kind, RuleErrorKind::TooDeep);
        let ok = format!("{}ip.ttl == 64{}", "(".repeat(200), ")".repeat(200));
        assert!(eval_str(&ok, &linux()));
        // A long flat chain is one node: no deep recursion to evaluate or drop.
        let chain = vec!["ip.ttl == 64"; 100_000].join(" && ");
        assert!(eval_str(&chain, &linux()));
    }
}
