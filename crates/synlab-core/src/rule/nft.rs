//! Rules to nftables and back: the subset of the rule language that an
//! nftables rule can say (IPv4/IPv6/TCP header fields, flags, ports, TCP
//! options by kind and value), so a rule found with synlab can be installed
//! in a real middlebox, and a middlebox's rule can be read into synlab.
//!
//! Pure: text in, text out; `nft` itself runs only in the lab test
//! (tests/lab_nft.rs), which checks that the kernel drops exactly the SYNs
//! synlab's evaluation predicts.
//!
//! An nftables rule is a conjunction, so a rule becomes one nft rule per
//! disjunct of its disjunctive normal form (a chain of rules ORs them); a
//! negation is pushed down to the fields, where both languages agree that a
//! comparison with an absent field is false: `!(ip.ttl == 64)` is "not
//! IPv4, or TTL other than 64", two nft rules. What nft cannot say (derived
//! p0f notions, text fields, later segments) is refused, naming the clause.
//!
//! Each exported rule starts with `meta l4proto tcp` (synlab's rules are
//! about TCP segments) and ends with `drop`. Note that a forwarding
//! middlebox sees `ip ttl` one less than the sender set it.

use std::fmt;
use std::net::IpAddr;

use super::ast::{full_prefix, Cmp, Expr, Literal, Operand};
use super::{Rule, RuleError};
use crate::model::{Attr, Field, LayoutToken};

/// More nft rules than this for one synlab rule is refused: the normal form
/// of a rule with many alternatives grows fast, and a middlebox operator
/// would rather rewrite it.
pub const MAX_NFT_RULES: usize = 32;

/// Why a clause cannot be translated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NftReason {
    /// The field has no nftables counterpart (derived or flow attributes).
    NoNftField,
    /// A text value (layouts, hex) nft cannot compare.
    TextValue,
    /// An address compared with an ordering operator.
    AddressOrder,
    /// Attempt facts are about captures, not packets.
    AttemptFact,
    /// The normal form needs more than [`MAX_NFT_RULES`] nft rules.
    TooManyRules(usize),
    /// The rule matches no packet at all, so there is nothing to install.
    MatchesNothing,
    /// Text nft would accept but this reader does not (from-nft).
    Unsupported,
    /// A verdict other than `drop`.
    Verdict,
    /// The synlab rule built from the nft rule did not parse.
    Rule(String),
}

/// A clause that cannot cross between the two languages.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot express `{clause}` {}", self.reason_text())]
pub struct NftError {
    pub clause: String,
    pub reason: NftReason,
}

impl NftError {
    fn new(clause: impl fmt::Display, reason: NftReason) -> NftError {
        NftError {
            clause: clause.to_string(),
            reason,
        }
    }

    fn reason_text(&self) -> String {
        match &self.reason {
            NftReason::NoNftField => "in nftables: nft has no such field".into(),
            NftReason::TextValue => "in nftables: nft compares numbers, not text".into(),
            NftReason::AddressOrder => "in nftables: addresses take == and != only".into(),
            NftReason::AttemptFact => "in nftables: it is a fact about a capture".into(),
            NftReason::TooManyRules(n) => {
                format!("in nftables: it needs {n} nft rules, more than {MAX_NFT_RULES}")
            }
            NftReason::MatchesNothing => "in nftables: it matches no packet".into(),
            NftReason::Unsupported => "in synlab: not in the subset synlab reads".into(),
            NftReason::Verdict => "in synlab: only `drop` rules describe a middlebox".into(),
            NftReason::Rule(e) => format!("in synlab: {e}"),
        }
    }
}

/// When a field is there to test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presence {
    /// Every TCP segment has it.
    Always,
    /// IPv4 (`false`) or IPv6 (`true`) packets only.
    Ip { v6: bool },
    /// Only when the TCP option of this kind is there.
    Option(u8),
}

/// How a field's value is read and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// A number, compared as is.
    Num,
    /// One bit (or bits: any set is true) under a mask, a boolean.
    Flag(u64),
    /// A boolean true when the option is present (absent otherwise).
    OptionPresent,
    /// An address, compared with a network.
    Addr,
}

/// One field both languages know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NftField {
    field: Field,
    /// The nft expression (before the mask, if any).
    expr: &'static str,
    mask: Option<u64>,
    shape: Shape,
    presence: Presence,
}

const V4: Presence = Presence::Ip { v6: false };
const V6: Presence = Presence::Ip { v6: true };

const fn f(field: Field, expr: &'static str, shape: Shape, presence: Presence) -> NftField {
    NftField {
        field,
        expr,
        mask: None,
        shape,
        presence,
    }
}

const fn masked(field: Field, expr: &'static str, mask: u64, presence: Presence) -> NftField {
    NftField {
        field,
        expr,
        mask: Some(mask),
        shape: Shape::Flag(mask),
        presence,
    }
}

const fn opt(field: Field, kind: u8) -> NftField {
    NftField {
        field,
        expr: "",
        mask: None,
        shape: Shape::OptionPresent,
        presence: Presence::Option(kind),
    }
}

/// The table of fields: the only place where synlab names meet nft's.
const FIELDS: &[NftField] = &[
    f(Field::IpDsfieldDscp, "ip dscp", Shape::Num, V4),
    f(Field::IpDsfieldEcn, "ip ecn", Shape::Num, V4),
    f(Field::IpLen, "ip length", Shape::Num, V4),
    f(Field::IpId, "ip id", Shape::Num, V4),
    masked(Field::IpFlagsRb, "ip frag-off", 0x8000, V4),
    masked(Field::IpFlagsDf, "ip frag-off", 0x4000, V4),
    masked(Field::IpFlagsMf, "ip frag-off", 0x2000, V4),
    NftField {
        field: Field::IpFragOffset,
        expr: "ip frag-off",
        mask: Some(0x1fff),
        shape: Shape::Num,
        presence: V4,
    },
    f(Field::IpTtl, "ip ttl", Shape::Num, V4),
    f(Field::IpSrc, "ip saddr", Shape::Addr, V4),
    f(Field::IpDst, "ip daddr", Shape::Addr, V4),
    f(Field::Ipv6TclassDscp, "ip6 dscp", Shape::Num, V6),
    f(Field::Ipv6TclassEcn, "ip6 ecn", Shape::Num, V6),
    f(Field::Ipv6Flow, "ip6 flowlabel", Shape::Num, V6),
    f(Field::Ipv6Plen, "ip6 length", Shape::Num, V6),
    f(Field::Ipv6Hlim, "ip6 hoplimit", Shape::Num, V6),
    f(Field::Ipv6Src, "ip6 saddr", Shape::Addr, V6),
    f(Field::Ipv6Dst, "ip6 daddr", Shape::Addr, V6),
    f(Field::TcpSrcport, "tcp sport", Shape::Num, Presence::Always),
    f(Field::TcpDstport, "tcp dport", Shape::Num, Presence::Always),
    f(
        Field::TcpSeqRaw,
        "tcp sequence",
        Shape::Num,
        Presence::Always,
    ),
    f(Field::TcpAckRaw, "tcp ackseq", Shape::Num, Presence::Always),
    // Byte 12 of the TCP header: data offset, 3 reserved bits, AE.
    masked(Field::TcpFlagsRes, "@th,96,8", 0x0e, Presence::Always),
    masked(Field::TcpFlagsAe, "@th,96,8", 0x01, Presence::Always),
    masked(Field::TcpFlagsCwr, "tcp flags", 0x80, Presence::Always),
    masked(Field::TcpFlagsEce, "tcp flags", 0x40, Presence::Always),
    masked(Field::TcpFlagsUrg, "tcp flags", 0x20, Presence::Always),
    masked(Field::TcpFlagsAck, "tcp flags", 0x10, Presence::Always),
    masked(Field::TcpFlagsPush, "tcp flags", 0x08, Presence::Always),
    masked(Field::TcpFlagsReset, "tcp flags", 0x04, Presence::Always),
    masked(Field::TcpFlagsSyn, "tcp flags", 0x02, Presence::Always),
    masked(Field::TcpFlagsFin, "tcp flags", 0x01, Presence::Always),
    f(
        Field::TcpWindowSizeValue,
        "tcp window",
        Shape::Num,
        Presence::Always,
    ),
    f(
        Field::TcpUrgentPointer,
        "tcp urgptr",
        Shape::Num,
        Presence::Always,
    ),
    opt(Field::TcpOptionsMss, 2),
    f(
        Field::TcpOptionsMssVal,
        "tcp option maxseg size",
        Shape::Num,
        Presence::Option(2),
    ),
    opt(Field::TcpOptionsWscale, 3),
    f(
        Field::TcpOptionsWscaleShift,
        "tcp option window count",
        Shape::Num,
        Presence::Option(3),
    ),
    opt(Field::TcpOptionsSackPerm, 4),
    opt(Field::TcpOptionsSack, 5),
    opt(Field::TcpOptionsTimestamp, 8),
    f(
        Field::TcpOptionsTimestampTsval,
        "tcp option timestamp tsval",
        Shape::Num,
        Presence::Option(8),
    ),
    f(
        Field::TcpOptionsTimestampTsecr,
        "tcp option timestamp tsecr",
        Shape::Num,
        Presence::Option(8),
    ),
    opt(Field::TcpOptionsMd5, 19),
    opt(Field::TcpOptionsAo, 29),
    opt(Field::TcpOptionsMptcp, 30),
    opt(Field::TcpOptionsTfo, 34),
];

/// nft's names for the option kinds it names (others are written by number).
const OPTION_NAMES: &[(u8, &str)] = &[
    (2, "maxseg"),
    (3, "window"),
    (4, "sack-perm"),
    (5, "sack"),
    (8, "timestamp"),
    (19, "md5sig"),
    (30, "mptcp"),
    (34, "fastopen"),
];

fn option_name(kind: u8) -> String {
    OPTION_NAMES
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or_else(|| kind.to_string(), |(_, n)| (*n).to_owned())
}

fn lookup(field: Field) -> Option<&'static NftField> {
    FIELDS.iter().find(|x| x.field == field)
}

/// One nft statement that matches (or not) on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Atom {
    /// `EXPR [& MASK] OP VALUE`.
    Cmp(&'static NftField, Cmp, Literal),
    /// `EXPR [!=] { MEMBERS }`.
    Set(&'static NftField, bool, Vec<Literal>),
    /// `tcp option KIND exists` (true) or `missing` (false).
    Option(u8, bool),
    /// `meta nfproto ipv4|ipv6`.
    Family { v6: bool },
}

/// A formula over atoms: what a synlab clause means in nft's words.
#[derive(Clone, Debug)]
enum Form {
    True,
    False,
    Atom(Atom),
    And(Vec<Form>),
    Or(Vec<Form>),
}

fn present(p: Presence) -> Form {
    match p {
        Presence::Always => Form::True,
        Presence::Ip { v6 } => Form::Atom(Atom::Family { v6 }),
        Presence::Option(k) => Form::Atom(Atom::Option(k, true)),
    }
}

fn absent(p: Presence) -> Form {
    match p {
        Presence::Always => Form::False,
        Presence::Ip { v6 } => Form::Atom(Atom::Family { v6: !v6 }),
        Presence::Option(k) => Form::Atom(Atom::Option(k, false)),
    }
}

fn negate(op: Cmp) -> Cmp {
    match op {
        Cmp::Eq => Cmp::Ne,
        Cmp::Ne => Cmp::Eq,
        Cmp::Lt => Cmp::Ge,
        Cmp::Ge => Cmp::Lt,
        Cmp::Le => Cmp::Gt,
        Cmp::Gt => Cmp::Le,
    }
}

fn holds(x: u64, op: Cmp, n: u64) -> bool {
    match op {
        Cmp::Eq => x == n,
        Cmp::Ne => x != n,
        Cmp::Lt => x < n,
        Cmp::Le => x <= n,
        Cmp::Gt => x > n,
        Cmp::Ge => x >= n,
    }
}

/// The translation of one rule, or the clause that stops it.
pub fn to_nft(rule: &Rule) -> Result<Vec<String>, NftError> {
    let form = clause(&rule.expr, false)?;
    let dnf = dnf(&form, &rule.expr)?;
    if dnf.is_empty() {
        return Err(NftError::new(&rule.expr, NftReason::MatchesNothing));
    }
    Ok(dnf
        .iter()
        .map(|atoms| {
            let mut line = String::from("meta l4proto tcp");
            for a in atoms.iter().filter(|a| !implied(a, atoms)) {
                line.push(' ');
                line.push_str(&atom_text(a));
            }
            line.push_str(" drop");
            line
        })
        .collect())
}

/// Whether a presence test (`meta nfproto`, `tcp option ... exists`) is
/// implied by a comparison in the same rule (nft adds that dependency
/// itself), so it need not be written.
fn implied(a: &Atom, rule: &[Atom]) -> bool {
    let compares = |b: &&Atom| matches!(b, Atom::Cmp(..) | Atom::Set(..));
    match a {
        Atom::Family { v6 } => rule
            .iter()
            .filter(compares)
            .any(|b| family_needed(b) == Some(*v6)),
        Atom::Option(k, true) => rule
            .iter()
            .filter(compares)
            .any(|b| option_needed(b) == Some((*k, true))),
        _ => false,
    }
}

/// `e` (negated when `neg`) as a formula, with negations at the atoms.
fn clause(e: &Expr, neg: bool) -> Result<Form, NftError> {
    match e {
        Expr::Not(inner) => clause(inner, !neg),
        Expr::And(es) | Expr::Or(es) => {
            let parts = es
                .iter()
                .map(|e| clause(e, neg))
                .collect::<Result<Vec<_>, _>>()?;
            // De Morgan: a negated conjunction is a disjunction.
            Ok(match (e, neg) {
                (Expr::And(_), false) | (Expr::Or(_), true) => Form::And(parts),
                _ => Form::Or(parts),
            })
        }
        Expr::Present(op) => leaf_present(e, *op, neg),
        Expr::Compare(op, cmp, lit) => leaf_compare(e, *op, *cmp, lit, neg),
        Expr::In(op, lits) => leaf_in(e, *op, lits, neg),
    }
}

/// The fields an operand stands for (both sides of a two-sided one).
fn fields_of(e: &Expr, op: Operand) -> Result<Vec<&'static NftField>, NftError> {
    let names: Vec<Field> = match op {
        Operand::Attr(Attr::Field(f)) => vec![f],
        Operand::Attr(Attr::UnknownOption(_)) => {
            return Err(NftError::new(e, NftReason::TextValue))
        }
        Operand::Either(p) => p.sides().to_vec(),
        Operand::Attempt(_) => return Err(NftError::new(e, NftReason::AttemptFact)),
    };
    names
        .into_iter()
        .map(|f| lookup(f).ok_or_else(|| NftError::new(e, NftReason::NoNftField)))
        .collect()
}

fn leaf_present(e: &Expr, op: Operand, neg: bool) -> Result<Form, NftError> {
    // An option without a name of its own: nft tests its kind by number.
    let p = match op {
        // Kinds p0f names (mss, ws, …) never have one: nothing to test.
        Operand::Attr(Attr::UnknownOption(k)) if LayoutToken::p0f_names_kind(k) => {
            return Err(NftError::new(e, NftReason::NoNftField))
        }
        Operand::Attr(Attr::UnknownOption(k)) => Presence::Option(k),
        _ => presence(&fields_of(e, op)?),
    };
    Ok(if neg { absent(p) } else { present(p) })
}

/// Where the fields of an operand are there (both sides of a two-sided
/// field share it).
fn presence(fs: &[&NftField]) -> Presence {
    fs.first().map_or(Presence::Always, |f| f.presence)
}

fn leaf_compare(
    e: &Expr,
    op: Operand,
    cmp: Cmp,
    lit: &Literal,
    neg: bool,
) -> Result<Form, NftError> {
    let fs = fields_of(e, op)?;
    let p = presence(&fs);
    let two_sided_ne = matches!(op, Operand::Either(_)) && cmp == Cmp::Ne;
    let sides = fs
        .iter()
        .map(|nf| side_compare(e, nf, cmp, lit))
        .collect::<Result<Vec<_>, _>>()?;
    // Present and the comparison holding: on any side, or (Wireshark's
    // `!=` on a two-sided field) on every side.
    let matched = if two_sided_ne {
        Form::And(sides)
    } else {
        Form::Or(sides)
    };
    Ok(if neg {
        Form::Or(vec![absent(p), complement(matched)])
    } else {
        Form::And(vec![present(p), matched])
    })
}

/// The complement, among packets that have the field, of a formula built
/// by [`side_compare`]/[`side_in`] (negations stay at the atoms).
fn complement(form: Form) -> Form {
    match form {
        Form::True => Form::False,
        Form::False => Form::True,
        Form::And(fs) => Form::Or(fs.into_iter().map(complement).collect()),
        Form::Or(fs) => Form::And(fs.into_iter().map(complement).collect()),
        Form::Atom(Atom::Cmp(nf, op, lit)) => Form::Atom(Atom::Cmp(nf, negate(op), lit)),
        Form::Atom(Atom::Set(nf, not, lits)) => Form::Atom(Atom::Set(nf, !not, lits)),
        Form::Atom(Atom::Option(k, there)) => Form::Atom(Atom::Option(k, !there)),
        Form::Atom(Atom::Family { v6 }) => Form::Atom(Atom::Family { v6: !v6 }),
    }
}

/// One side's comparison among packets that have the field.
fn side_compare(
    e: &Expr,
    nf: &'static NftField,
    cmp: Cmp,
    lit: &Literal,
) -> Result<Form, NftError> {
    let n = match (nf.shape, lit) {
        (Shape::Addr, Literal::Net(..)) => {
            return match cmp {
                Cmp::Eq | Cmp::Ne => Ok(Form::Atom(Atom::Cmp(nf, cmp, lit.clone()))),
                _ => Err(NftError::new(e, NftReason::AddressOrder)),
            }
        }
        (_, Literal::Int(n)) => *n,
        (_, Literal::Bool(b)) => u64::from(*b),
        _ => return Err(NftError::new(e, NftReason::TextValue)),
    };
    Ok(match nf.shape {
        Shape::Num => Form::Atom(Atom::Cmp(nf, cmp, Literal::Int(n))),
        Shape::Flag(_) => {
            let set = holds(1, cmp, n);
            let clear = holds(0, cmp, n);
            match (set, clear) {
                (true, true) => Form::True,
                (false, false) => Form::False,
                (true, false) => Form::Atom(Atom::Cmp(nf, Cmp::Ne, Literal::Int(0))),
                (false, true) => Form::Atom(Atom::Cmp(nf, Cmp::Eq, Literal::Int(0))),
            }
        }
        // The value is `true` when the option is there: the field's
        // presence already says it.
        Shape::OptionPresent if holds(1, cmp, n) => Form::True,
        Shape::OptionPresent => Form::False,
        Shape::Addr => return Err(NftError::new(e, NftReason::TextValue)),
    })
}

fn leaf_in(e: &Expr, op: Operand, lits: &[Literal], neg: bool) -> Result<Form, NftError> {
    let fs = fields_of(e, op)?;
    let p = presence(&fs);
    let sides = fs
        .iter()
        .map(|nf| side_in(e, nf, lits))
        .collect::<Result<Vec<_>, _>>()?;
    let matched = Form::Or(sides);
    Ok(if neg {
        Form::Or(vec![absent(p), complement(matched)])
    } else {
        Form::And(vec![present(p), matched])
    })
}

fn side_in(e: &Expr, nf: &'static NftField, lits: &[Literal]) -> Result<Form, NftError> {
    match nf.shape {
        Shape::Num | Shape::Addr => {
            let ok = lits.iter().all(|l| match l {
                Literal::Int(_) | Literal::Range(..) => nf.shape == Shape::Num,
                Literal::Net(..) => nf.shape == Shape::Addr,
                _ => false,
            });
            if !ok {
                return Err(NftError::new(e, NftReason::TextValue));
            }
            Ok(Form::Atom(Atom::Set(nf, false, lits.to_vec())))
        }
        // A boolean in a set: any member it equals.
        Shape::Flag(_) | Shape::OptionPresent => Ok(Form::Or(
            lits.iter()
                .map(|l| side_compare(e, nf, Cmp::Eq, l))
                .collect::<Result<Vec<_>, _>>()?,
        )),
    }
}

/// The disjunctive normal form: a list of conjunctions of atoms (an empty
/// list matches nothing; an empty conjunction matches every packet).
fn dnf(form: &Form, whole: &Expr) -> Result<Vec<Vec<Atom>>, NftError> {
    let too_many = |n| NftError::new(whole, NftReason::TooManyRules(n));
    match form {
        Form::True => Ok(vec![vec![]]),
        Form::False => Ok(vec![]),
        Form::Atom(a) => Ok(vec![vec![a.clone()]]),
        Form::Or(fs) => {
            let mut out = Vec::new();
            for f in fs {
                out.extend(dnf(f, whole)?);
                if out.len() > MAX_NFT_RULES {
                    return Err(too_many(out.len()));
                }
            }
            Ok(dedup(out))
        }
        Form::And(fs) => {
            let mut acc: Vec<Vec<Atom>> = vec![vec![]];
            for f in fs {
                let part = dnf(f, whole)?;
                let mut next = Vec::new();
                for a in &acc {
                    for b in &part {
                        if let Some(c) = join(a, b) {
                            next.push(c);
                        }
                    }
                }
                if next.len() > MAX_NFT_RULES {
                    return Err(too_many(next.len()));
                }
                acc = dedup(next);
            }
            Ok(acc)
        }
    }
}

/// The IP version an atom needs (`true`: IPv6), if any.
fn family_needed(a: &Atom) -> Option<bool> {
    match a {
        Atom::Family { v6 } => Some(*v6),
        Atom::Cmp(nf, ..) | Atom::Set(nf, ..) => match nf.presence {
            Presence::Ip { v6 } => Some(v6),
            _ => None,
        },
        Atom::Option(..) => None,
    }
}

/// The option an atom needs there (`true`) or missing (`false`), if any.
fn option_needed(a: &Atom) -> Option<(u8, bool)> {
    match a {
        Atom::Option(k, there) => Some((*k, *there)),
        Atom::Cmp(nf, ..) | Atom::Set(nf, ..) => match nf.presence {
            Presence::Option(k) => Some((k, true)),
            _ => None,
        },
        Atom::Family { .. } => None,
    }
}

/// Two conjunctions joined, or None when they contradict on the IP
/// version or an option's presence (nft refuses `ip ... ip6 ...` in one
/// rule, and a rule that can never match is left out).
fn join(a: &[Atom], b: &[Atom]) -> Option<Vec<Atom>> {
    let mut out = a.to_vec();
    for x in b {
        let clash = out.iter().any(|y| {
            let family = matches!((family_needed(x), family_needed(y)), (Some(v), Some(w)) if v != w);
            let option = matches!((option_needed(x), option_needed(y)), (Some((k, t)), Some((l, u))) if k == l && t != u);
            family || option
        });
        if clash {
            return None;
        }
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    Some(out)
}

fn dedup(rules: Vec<Vec<Atom>>) -> Vec<Vec<Atom>> {
    let mut out: Vec<Vec<Atom>> = Vec::new();
    for r in rules {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

fn nft_op(op: Cmp) -> &'static str {
    match op {
        Cmp::Eq => "==",
        Cmp::Ne => "!=",
        Cmp::Lt => "<",
        Cmp::Le => "<=",
        Cmp::Gt => ">",
        Cmp::Ge => ">=",
    }
}

fn lhs(nf: &NftField) -> String {
    match nf.mask {
        Some(m) => format!("{} & {m:#06x}", nf.expr),
        None => nf.expr.to_owned(),
    }
}

fn member_text(l: &Literal) -> String {
    match l {
        Literal::Range(lo, hi) => format!("{lo}-{hi}"),
        Literal::Net(ip, len) if *len == full_prefix(*ip) => ip.to_string(),
        Literal::Net(ip, len) => format!("{ip}/{len}"),
        other => other.to_string(),
    }
}

fn atom_text(a: &Atom) -> String {
    match a {
        Atom::Cmp(nf, op, lit) => format!("{} {} {}", lhs(nf), nft_op(*op), member_text(lit)),
        Atom::Set(nf, not, lits) => {
            let members: Vec<String> = lits.iter().map(member_text).collect();
            let op = if *not { "!= " } else { "" };
            format!("{} {op}{{ {} }}", lhs(nf), members.join(", "))
        }
        Atom::Option(k, there) => {
            let word = if *there { "exists" } else { "missing" };
            format!("tcp option {} {word}", option_name(*k))
        }
        Atom::Family { v6 } => format!("meta nfproto {}", if *v6 { "ipv6" } else { "ipv4" }),
    }
}

/// Read nft rules (one a line, or separated by `;`), each a conjunction of
/// the statements [`to_nft`] writes ending in `drop`, as one synlab rule
/// (the rules ORed).
pub fn from_nft(text: &str) -> Result<Rule, NftError> {
    let mut alternatives = Vec::new();
    for line in text.split(['\n', ';']) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        alternatives.push(read_rule(line)?);
    }
    let expr = match alternatives.len() {
        0 => return Err(NftError::new(text.trim(), NftReason::Unsupported)),
        1 => alternatives.remove(0),
        _ => Expr::Or(alternatives),
    };
    let source = expr.to_string();
    Rule::parse(&source)
        .map_err(|e: RuleError| NftError::new(&source, NftReason::Rule(e.to_string())))
}

/// Split on spaces, keeping `{ ... }` together as one word.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in line.chars() {
        match c {
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn read_rule(line: &str) -> Result<Expr, NftError> {
    let mut w = words(line);
    match w.last().map(String::as_str) {
        Some("drop") => {
            w.pop();
        }
        _ => return Err(NftError::new(line, NftReason::Verdict)),
    }
    let mut clauses = Vec::new();
    let mut i = 0;
    while i < w.len() {
        let (e, used) = read_statement(&w[i..])?;
        clauses.extend(e);
        i += used;
    }
    let mut clauses = without_implied(clauses);
    Ok(match clauses.len() {
        // `meta l4proto tcp drop`: every TCP segment.
        0 => Expr::Present(Operand::Attr(Attr::Field(Field::TcpSrcport))),
        1 => clauses.remove(0),
        _ => Expr::And(clauses),
    })
}

/// The presence a clause tests (`meta nfproto`, `tcp option ... exists`),
/// or that a comparison implies (a comparison with an absent field is false).
fn presence_of(e: &Expr) -> Option<(Presence, bool)> {
    let field = |op: &Operand| match op {
        Operand::Attr(Attr::Field(Field::IpVersion)) => Some(V4),
        Operand::Attr(Attr::Field(Field::Ipv6Version)) => Some(V6),
        Operand::Attr(Attr::Field(f)) => lookup(*f).map(|nf| nf.presence),
        _ => None,
    };
    match e {
        Expr::Present(op) => field(op).map(|p| (p, true)),
        Expr::Compare(op, _, _) | Expr::In(op, _) => field(op).map(|p| (p, false)),
        Expr::And(es) => es.iter().find_map(presence_of).map(|(p, _)| (p, false)),
        _ => None,
    }
}

/// The clauses without the presence tests that another clause implies
/// (`to_nft` writes them so each nft rule says what it needs).
fn without_implied(clauses: Vec<Expr>) -> Vec<Expr> {
    let implied: Vec<Presence> = clauses
        .iter()
        .filter_map(presence_of)
        .filter(|(_, test)| !test)
        .map(|(p, _)| p)
        .collect();
    clauses
        .into_iter()
        .filter(|e| match (e, presence_of(e)) {
            (Expr::Present(_), Some((p, true))) => !implied.contains(&p),
            _ => true,
        })
        .collect()
}

/// One statement at the start of `w`: its meaning (nothing for
/// `meta l4proto tcp`) and how many words it took.
fn read_statement(w: &[String]) -> Result<(Option<Expr>, usize), NftError> {
    let at = |n: usize| w.get(n).map_or("", String::as_str);
    let refuse = |n: usize| {
        let end = n.min(w.len());
        Err(NftError::new(w[..end].join(" "), NftReason::Unsupported))
    };
    match (at(0), at(1), at(2)) {
        ("meta", "l4proto", "tcp") => Ok((None, 3)),
        ("meta", "nfproto", fam @ ("ipv4" | "ipv6")) => {
            let f = if fam == "ipv4" {
                Field::IpVersion
            } else {
                Field::Ipv6Version
            };
            Ok((Some(Expr::Present(Operand::Attr(Attr::Field(f)))), 3))
        }
        ("tcp", "option", kind) if matches!(at(3), "exists" | "missing") => {
            let attr = match (option_presence(kind), kind.parse::<u8>()) {
                (Some(nf), _) => Attr::Field(nf.field),
                // nop and eol are left out: nft walks options its own way.
                (None, Ok(k)) if !LayoutToken::p0f_names_kind(k) => Attr::UnknownOption(k),
                _ => return refuse(4),
            };
            let e = Expr::Present(Operand::Attr(attr));
            Ok((
                Some(if at(3) == "exists" {
                    e
                } else {
                    Expr::Not(Box::new(e))
                }),
                4,
            ))
        }
        _ => read_comparison(w),
    }
}

fn option_presence(word: &str) -> Option<&'static NftField> {
    let kind = OPTION_NAMES
        .iter()
        .find(|(_, n)| *n == word)
        .map(|(k, _)| *k)
        .or_else(|| word.parse().ok())?;
    FIELDS
        .iter()
        .find(|x| x.shape == Shape::OptionPresent && x.presence == Presence::Option(kind))
}

/// `EXPR [& MASK] [OP] VALUE`: the longest field expression of the table
/// that starts the words.
fn read_comparison(w: &[String]) -> Result<(Option<Expr>, usize), NftError> {
    let mut best: Option<(&'static str, usize)> = None;
    for nf in FIELDS.iter().filter(|x| !x.expr.is_empty()) {
        let n = nf.expr.split(' ').count();
        let head = w
            .iter()
            .take(n)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        if head == nf.expr && best.is_none_or(|(_, m)| n > m) {
            best = Some((nf.expr, n));
        }
    }
    let Some((expr, n)) = best else {
        let end = w.len().min(2);
        return Err(NftError::new(w[..end].join(" "), NftReason::Unsupported));
    };
    let mut i = n;
    let mut mask = None;
    if w.get(i).map(String::as_str) == Some("&") {
        mask = w.get(i + 1).and_then(|m| number(m));
        if mask.is_none() {
            return Err(NftError::new(
                w[..(i + 2).min(w.len())].join(" "),
                NftReason::Unsupported,
            ));
        }
        i += 2;
    }
    let op = match w.get(i).map(String::as_str) {
        Some("==" | "eq") => Some(Cmp::Eq),
        Some("!=" | "ne") => Some(Cmp::Ne),
        Some("<" | "lt") => Some(Cmp::Lt),
        Some("<=" | "le") => Some(Cmp::Le),
        Some(">" | "gt") => Some(Cmp::Gt),
        Some(">=" | "ge") => Some(Cmp::Ge),
        _ => None,
    };
    if op.is_some() {
        i += 1;
    }
    let clause = w[..(i + 1).min(w.len())].join(" ");
    let refuse = || NftError::new(&clause, NftReason::Unsupported);
    let Some(value) = w.get(i) else {
        return Err(refuse());
    };
    let nf = FIELDS
        .iter()
        .find(|x| x.expr == expr && x.mask == mask)
        .ok_or_else(refuse)?;
    let e = statement_expr(nf, op, value).ok_or_else(refuse)?;
    Ok((Some(e), i + 1))
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The synlab clause for one nft comparison, or None when it is outside
/// the subset.
fn statement_expr(nf: &NftField, op: Option<Cmp>, value: &str) -> Option<Expr> {
    let operand = Operand::Attr(Attr::Field(nf.field));
    if let Some(inner) = value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
        let lits = inner
            .split(',')
            .map(|m| member(nf, m.trim()))
            .collect::<Option<Vec<_>>>()?;
        let set = Expr::In(operand, lits);
        return match op {
            None | Some(Cmp::Eq) => Some(set),
            // nft's `!=` on a set: the field is there and in none.
            Some(Cmp::Ne) => Some(Expr::And(vec![
                Expr::Present(operand),
                Expr::Not(Box::new(set)),
            ])),
            _ => None,
        };
    }
    let op = op.unwrap_or(Cmp::Eq);
    match nf.shape {
        Shape::Flag(_) => {
            // `& MASK != 0` is set, `& MASK == 0` is clear.
            let set = match (op, number(value)?) {
                (Cmp::Ne, 0) => true,
                (Cmp::Eq, 0) => false,
                (Cmp::Eq, v) if Some(v) == nf.mask => true,
                _ => return None,
            };
            Some(Expr::Compare(operand, Cmp::Eq, Literal::Bool(set)))
        }
        Shape::Num => Some(Expr::Compare(operand, op, Literal::Int(number(value)?))),
        Shape::Addr if matches!(op, Cmp::Eq | Cmp::Ne) => {
            Some(Expr::Compare(operand, op, net(value)?))
        }
        _ => None,
    }
}

fn member(nf: &NftField, m: &str) -> Option<Literal> {
    match nf.shape {
        Shape::Num => match m.split_once('-') {
            Some((lo, hi)) => Some(Literal::Range(number(lo)?, number(hi)?)),
            None => Some(Literal::Int(number(m)?)),
        },
        Shape::Addr => net(m),
        _ => None,
    }
}

fn net(s: &str) -> Option<Literal> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip.parse::<IpAddr>().ok()?, len.parse::<u8>().ok()?),
        None => {
            let ip = s.parse::<IpAddr>().ok()?;
            (ip, full_prefix(ip))
        }
    };
    (len <= full_prefix(ip)).then_some(Literal::Net(ip, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attributes;
    use proptest::prelude::*;

    fn rule(s: &str) -> Rule {
        Rule::parse(s).unwrap_or_else(|e| panic!("{}", e.render(s)))
    }

    fn nft(s: &str) -> Vec<String> {
        to_nft(&rule(s)).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn simple_clauses() {
        assert_eq!(
            nft("ip.ttl == 128"),
            ["meta l4proto tcp ip ttl == 128 drop"]
        );
        assert_eq!(
            nft("tcp.options.mss_val > 8000 && tcp.options.wscale.shift == 7"),
            ["meta l4proto tcp tcp option maxseg size > 8000 tcp option window count == 7 drop"]
        );
        assert_eq!(
            nft("ip.flags.df == 0 && tcp.flags.ece"),
            ["meta l4proto tcp ip frag-off & 0x4000 == 0 drop"]
        );
        assert_eq!(
            nft("tcp.port in {80 8000..8080}"),
            [
                "meta l4proto tcp tcp sport { 80, 8000-8080 } drop",
                "meta l4proto tcp tcp dport { 80, 8000-8080 } drop"
            ]
        );
        assert_eq!(
            nft("ip.src == 10.0.0.0/8"),
            ["meta l4proto tcp ip saddr == 10.0.0.0/8 drop"]
        );
    }

    #[test]
    fn negation_includes_the_packets_without_the_field() {
        assert_eq!(
            nft("!(tcp.options.mss_val == 1460)"),
            [
                "meta l4proto tcp tcp option maxseg missing drop",
                "meta l4proto tcp tcp option maxseg size != 1460 drop"
            ]
        );
        assert_eq!(
            nft("!tcp.options.sack_perm"),
            ["meta l4proto tcp tcp option sack-perm missing drop"]
        );
    }

    /// Regression (found by tests/lab_nft.rs): `ip.flags.df == 0 &&
    /// ipv6.tclass.ecn != 3` became one nft rule naming `ip` and `ip6`,
    /// which nft refuses; such an alternative can never match and is left out.
    #[test]
    fn alternatives_needing_both_ip_versions_are_left_out() {
        assert_eq!(
            nft("!(ip.flags.df == 1 || ipv6.tclass.ecn == 3)"),
            [
                "meta l4proto tcp ip6 ecn != 3 drop",
                "meta l4proto tcp ip frag-off & 0x4000 == 0 drop"
            ]
        );
        let e = to_nft(&rule("ip.ttl == 1 && ipv6.hlim == 1")).err();
        assert_eq!(e.map(|e| e.reason), Some(NftReason::MatchesNothing));
    }

    #[test]
    fn refusals_name_the_clause() {
        for (text, clause) in [
            ("ip.ttl == 64 && synlab.ittl == 128", "synlab.ittl == 128"),
            (
                "synlab.options.layout == \"mss\"",
                "synlab.options.layout == \"mss\"",
            ),
            (
                "synlab.tcp.option.30 == \"01\"",
                "synlab.tcp.option.30 == \"01\"",
            ),
        ] {
            let e = to_nft(&rule(text))
                .err()
                .unwrap_or_else(|| panic!("{text} translated"));
            assert_eq!(e.clause, clause, "{text}");
            assert!(e.to_string().contains(clause), "{e}");
        }
        let e = to_nft(&rule("tcp.options.mss_val == 5 && !tcp.options.mss")).err();
        assert_eq!(e.map(|e| e.reason), Some(NftReason::MatchesNothing));
        for (text, clause) in [
            ("ip ttl 64 accept", "ip ttl 64 accept"),
            ("ct state new drop", "ct state"),
            ("ip ttl 64 tcp flags syn drop", "tcp flags syn"),
        ] {
            let e = from_nft(text)
                .err()
                .unwrap_or_else(|| panic!("{text} read"));
            assert_eq!(e.clause, clause, "{text}");
        }
    }

    #[test]
    fn options_without_a_name_by_kind() {
        assert_eq!(
            nft("synlab.tcp.option.254 && !synlab.tcp.option.30"),
            ["meta l4proto tcp tcp option 254 exists tcp option mptcp missing drop"]
        );
        let r = from_nft("tcp option 254 exists tcp option 42 missing drop")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.expr.to_string(),
            "(synlab.tcp.option.254 && !(synlab.tcp.option.42))"
        );
        // The kinds p0f names have fields of their own, never this one.
        let e = to_nft(&rule("synlab.tcp.option.2")).err();
        assert_eq!(e.map(|e| e.reason), Some(NftReason::NoNftField));
        assert!(from_nft("tcp option 1 exists drop").is_err());
    }

    #[test]
    fn reads_what_nft_lists() {
        let r = from_nft("ip ttl 127 drop").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.expr.to_string(), "ip.ttl == 127");
        let r = from_nft(
            "tcp option maxseg size > 8000 tcp dport != { 80, 443 } drop\nip6 hoplimit < 64 drop",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.expr.to_string(),
            "((tcp.options.mss_val > 8000 && (tcp.dstport && !(tcp.dstport in {80 443}))) || ipv6.hlim < 64)"
        );
    }

    /// A SYN with the attributes the generated rules test.
    fn syn() -> impl Strategy<Value = Attributes> {
        (
            any::<bool>(),
            (
                0u8..=255,
                0u16..=65535,
                proptest::option::of(0u16..=9000),
                proptest::option::of(0u8..=14),
            ),
            (
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
            ),
            (
                prop::sample::select(vec![80u16, 443, 8080]),
                1024u16..=65535,
                0u8..=63,
            ),
        )
            .prop_map(
                |(v6, (ttl, win, mss, ws), (df, ts, sok, ece, ack), (dport, sport, dscp))| {
                    let mut a = Attributes::new();
                    if v6 {
                        a.insert(Field::Ipv6Version, 6u8);
                        a.insert(Field::Ipv6Hlim, ttl);
                        a.insert(Field::Ipv6TclassDscp, dscp);
                        a.insert(Field::Ipv6Src, "2001:2:0:1::2");
                    } else {
                        a.insert(Field::IpVersion, 4u8);
                        a.insert(Field::IpTtl, ttl);
                        a.insert(Field::IpFlagsDf, df);
                        a.insert(Field::IpDsfieldDscp, dscp);
                        a.insert(Field::IpSrc, "198.18.0.2");
                    }
                    a.insert(Field::TcpWindowSizeValue, win);
                    a.insert(Field::TcpSrcport, sport);
                    a.insert(Field::TcpDstport, dport);
                    a.insert(Field::TcpFlagsSyn, true);
                    a.insert(Field::TcpFlagsEce, ece);
                    a.insert(Field::TcpFlagsAck, ack);
                    if let Some(m) = mss {
                        a.insert(Field::TcpOptionsMss, true);
                        a.insert(Field::TcpOptionsMssVal, m);
                    }
                    if let Some(s) = ws {
                        a.insert(Field::TcpOptionsWscale, true);
                        a.insert(Field::TcpOptionsWscaleShift, s);
                    }
                    if ts {
                        a.insert(Field::TcpOptionsTimestamp, true);
                    }
                    if sok {
                        a.insert(Field::TcpOptionsSackPerm, true);
                    }
                    a
                },
            )
    }

    fn leaf() -> impl Strategy<Value = String> {
        let op = prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]);
        prop_oneof![
            (op.clone(), 0u16..=255).prop_map(|(o, n)| format!("ip.ttl {o} {n}")),
            (op.clone(), 0u16..=255).prop_map(|(o, n)| format!("ipv6.hlim {o} {n}")),
            (op.clone(), 0u16..=9000).prop_map(|(o, n)| format!("tcp.options.mss_val {o} {n}")),
            (op.clone(), 0u16..=14).prop_map(|(o, n)| format!("tcp.options.wscale.shift {o} {n}")),
            (op.clone(), 0u32..=65535).prop_map(|(o, n)| format!("tcp.window_size_value {o} {n}")),
            (op.clone(), 0u8..=1).prop_map(|(o, n)| format!("ip.flags.df {o} {n}")),
            (op.clone(), 0u8..=1).prop_map(|(o, n)| format!("tcp.flags.ece {o} {n}")),
            (op, 0u8..=1).prop_map(|(o, n)| format!("tcp.options.timestamp {o} {n}")),
            Just("tcp.options.sack_perm".to_owned()),
            Just("tcp.flags.ack".to_owned()),
            Just("ip.src == 198.18.0.0/24".to_owned()),
            Just("ipv6.src != 2001:2::/48".to_owned()),
            Just("tcp.port in {80 8000..8080}".to_owned()),
            Just("tcp.port != 443".to_owned()),
            (0u8..=63, 0u8..=63).prop_map(|(a, b)| format!("ip.dsfield.dscp in {{{a} {b}}}")),
        ]
    }

    fn expr() -> impl Strategy<Value = String> {
        leaf().prop_recursive(3, 8, 3, |inner| {
            prop_oneof![
                inner.clone().prop_map(|e| format!("!({e})")),
                prop::collection::vec(inner.clone(), 2..=3)
                    .prop_map(|es| format!("({})", es.join(" && "))),
                prop::collection::vec(inner, 2..=3).prop_map(|es| format!("({})", es.join(" || "))),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// to-nft then from-nft gives back a rule that decides every SYN
        /// as the first did.
        #[test]
        fn round_trip_keeps_the_meaning(text in expr(), syns in prop::collection::vec(syn(), 40)) {
            let r = rule(&text);
            let lines = match to_nft(&r) {
                Ok(l) => l,
                Err(NftError { reason: NftReason::TooManyRules(_) | NftReason::MatchesNothing, .. }) => {
                    return Ok(());
                }
                Err(e) => panic!("{text}: {e}"),
            };
            let back = from_nft(&lines.join("\n")).unwrap_or_else(|e| panic!("{text} -> {lines:?}: {e}"));
            for s in &syns {
                prop_assert_eq!(r.eval(s), back.eval(s), "{} -> {:?} -> {} on {:?}", text, lines, back, s);
            }
        }
    }
}
