//! Rules: a small display-filter language over attribute names, in the
//! spirit of Wireshark's, used by `synlab bisect --rule` to describe a
//! simulated middlebox ("drop SYNs whose TTL is 128").
//!
//! Pure: a lexer, a recursive-descent parser to an [`Expr`], and an
//! evaluator over [`Attributes`].
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
//!             | FIELD "in" "{" value ( [","] value )* "}"   membership
//! CMP        := "==" | "eq" | "!=" | "ne" | "<" | "lt" | "<=" | "le"
//!             | ">" | "gt" | ">=" | "ge"
//! value      := NUMBER | "true" | "false" | STRING | WORD
//! FIELD      := an attribute name of the vocabulary (`synlab fields`), or
//!               synlab.tcp.option.<KIND>
//! NUMBER     := decimal digits, or 0x followed by hex digits
//! STRING     := "..." (a backslash escapes the next character)
//! WORD       := letters, digits and _ . : + - (an unquoted string; a
//!               layout with commas needs quotes, as in Wireshark)
//! ```
//!
//! `&&` binds tighter than `||`; `!` tighter than both. Keywords (`and`,
//! `or`, `not`, `in`, `eq`…) are case-insensitive.
//!
//! # Meaning
//!
//! - A field alone is true when the packet has the attribute: a TCP option
//!   is present (`tcp.options.sack_perm`, `tcp.options.timestamp.tsval`).
//!   Flags are always present on a SYN, so test their value: `ip.flags.df == 1`.
//! - A comparison with an absent attribute is false, whatever the operator
//!   (as in Wireshark): `tcp.options.mss_val != 1460` is false when the SYN
//!   has no MSS option; write `!(tcp.options.mss_val == 1460)` to include it.
//! - Numbers compare as numbers; booleans are 0 and 1 (`== true` works too).
//!   A string value compares with the attribute's text:
//!   `synlab.options.layout == "mss,sok,ts,nop,ws"`. Ordering on strings
//!   is lexicographic.
//!
//! A syntax error carries the column (1-based, in characters) where it was
//! found; [`RuleError::render`] prints the expression with a caret under it.
//!
//! A rule nests at most [`MAX_DEPTH`] levels deep: parsing, evaluating,
//! printing and dropping an [`Expr`] all recurse, so a deeper one (10,000
//! parentheses, 50,000 `!`) would overflow the stack and abort the process.

use std::collections::BTreeSet;
use std::fmt;

use thiserror::Error;

use crate::model::{Attr, Attributes, UnknownAttribute, Value};

/// How deep a rule may nest. Each `(`, `!` and each further `&&`/`||` of a
/// chain (`a || b || c` is `(a || b) || c`) is one level; 256 leaves room for
/// any rule a person writes (a long list of values is `in {...}`) while
/// keeping every recursion over the tree far from the stack's end.
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

/// A literal on the right of a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Literal {
    Int(u64),
    Bool(bool),
    Str(String),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// A parsed rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Present(Attr),
    Compare(Attr, Cmp, Literal),
    In(Attr, Vec<Literal>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
            Expr::And(a, b) => write!(f, "({a} && {b})"),
            Expr::Or(a, b) => write!(f, "({a} || {b})"),
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
    #[error("empty rule")]
    Empty,
    #[error(
        "the rule nests deeper than {limit} levels (each \"(\", \"!\", \"&&\" and \"||\" is one)"
    )]
    TooDeep { limit: usize },
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
    pub fn render(&self, expr: &str) -> String {
        let pad = " ".repeat(self.column.saturating_sub(1));
        format!("{self}\n  {expr}\n  {pad}^")
    }
}

/// A rule ready to evaluate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub expr: Expr,
    source: String,
}

impl Rule {
    /// Parse a rule; the error carries the column.
    pub fn parse(source: &str) -> Result<Rule, RuleError> {
        let tokens = lex(source)?;
        let mut p = Parser {
            tokens,
            pos: 0,
            nesting: 0,
        };
        if p.peek().tok == Tok::End {
            return Err(RuleError {
                kind: RuleErrorKind::Empty,
                column: 1,
            });
        }
        let (expr, _height) = p.or()?;
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

    /// Whether a packet with these attributes matches.
    pub fn eval(&self, a: &Attributes) -> bool {
        eval(&self.expr, a)
    }

    /// The attributes the rule reads, in table order.
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
        Expr::Present(n) | Expr::Compare(n, _, _) | Expr::In(n, _) => {
            out.insert(*n);
        }
        Expr::Not(e) => collect(e, out),
        Expr::And(a, b) | Expr::Or(a, b) => {
            collect(a, out);
            collect(b, out);
        }
    }
}

fn eval(e: &Expr, a: &Attributes) -> bool {
    match e {
        Expr::Present(n) => a.contains(*n),
        Expr::Compare(n, op, lit) => a.get(*n).is_some_and(|v| compare(v, *op, lit)),
        Expr::In(n, lits) => a
            .get(*n)
            .is_some_and(|v| lits.iter().any(|l| compare(v, Cmp::Eq, l))),
        Expr::Not(e) => !eval(e, a),
        Expr::And(x, y) => eval(x, a) && eval(y, a),
        Expr::Or(x, y) => eval(x, a) || eval(y, a),
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
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '+' | '-')
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
    /// Open `(` and `!` around the token being parsed: the parser's own
    /// recursion depth, bounded by [`MAX_DEPTH`].
    nesting: usize,
}

/// A parsed subexpression and the height of its tree (a leaf is 1).
type Parsed = Result<(Expr, usize), RuleError>;

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

    /// The height of a node over children this high, refused past
    /// [`MAX_DEPTH`] at the operator's column.
    fn node(height: usize, column: usize) -> Result<usize, RuleError> {
        let height = height + 1;
        if height > MAX_DEPTH {
            return Err(RuleError {
                kind: RuleErrorKind::TooDeep { limit: MAX_DEPTH },
                column,
            });
        }
        Ok(height)
    }

    /// Enter a `(` or `!` at the current token, refused past [`MAX_DEPTH`]
    /// before recursing; [`Parser::leave`] undoes it.
    fn enter(&mut self) -> Result<(), RuleError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(RuleError {
                kind: RuleErrorKind::TooDeep { limit: MAX_DEPTH },
                column: self.peek().column,
            });
        }
        self.bump();
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    fn or(&mut self) -> Parsed {
        let (mut e, mut height) = self.and()?;
        while self.peek().tok == Tok::Or {
            let column = self.bump().column;
            let (right, right_height) = self.and()?;
            height = Self::node(height.max(right_height), column)?;
            e = Expr::Or(Box::new(e), Box::new(right));
        }
        Ok((e, height))
    }

    fn and(&mut self) -> Parsed {
        let (mut e, mut height) = self.unary()?;
        while self.peek().tok == Tok::And {
            let column = self.bump().column;
            let (right, right_height) = self.unary()?;
            height = Self::node(height.max(right_height), column)?;
            e = Expr::And(Box::new(e), Box::new(right));
        }
        Ok((e, height))
    }

    fn unary(&mut self) -> Parsed {
        if self.peek().tok == Tok::Not {
            let column = self.peek().column;
            self.enter()?;
            let (e, height) = self.unary()?;
            self.leave();
            return Ok((Expr::Not(Box::new(e)), Self::node(height, column)?));
        }
        self.primary()
    }

    fn primary(&mut self) -> Parsed {
        if self.peek().tok == Tok::LParen {
            self.enter()?;
            let parsed = self.or()?;
            if self.peek().tok != Tok::RParen {
                return Err(self.expected("\")\""));
            }
            self.bump();
            self.leave();
            return Ok(parsed);
        }
        self.leaf().map(|e| (e, 1))
    }

    /// A field alone, compared, or tested for membership.
    fn leaf(&mut self) -> Result<Expr, RuleError> {
        let name = match &self.peek().tok {
            Tok::Word(w) if !is_number(w) => w.clone(),
            _ => return Err(self.expected("an attribute name, \"!\" or \"(\"")),
        };
        let column = self.peek().column;
        let name: Attr = name.parse().map_err(|e| RuleError {
            kind: RuleErrorKind::UnknownField(e),
            column,
        })?;
        self.bump();
        match self.peek().tok.clone() {
            Tok::Cmp(op) => {
                self.bump();
                let v = self.value()?;
                Ok(Expr::Compare(name, op, v))
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("in") => {
                self.bump();
                if self.peek().tok != Tok::LBrace {
                    return Err(self.expected("\"{\""));
                }
                self.bump();
                let mut values = vec![self.value()?];
                loop {
                    match self.peek().tok {
                        Tok::RBrace => {
                            self.bump();
                            break;
                        }
                        Tok::Comma => {
                            self.bump();
                        }
                        _ => {}
                    }
                    if matches!(self.peek().tok, Tok::Word(_) | Tok::Str(_)) {
                        values.push(self.value()?);
                    } else if self.peek().tok != Tok::RBrace {
                        return Err(self.expected("a value or \"}\""));
                    }
                }
                Ok(Expr::In(name, values))
            }
            _ => Ok(Expr::Present(name)),
        }
    }

    fn value(&mut self) -> Result<Literal, RuleError> {
        let t = self.peek().clone();
        let lit = match &t.tok {
            Tok::Str(s) => Literal::Str(s.clone()),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Tok::Word(w) if is_number(w) => Literal::Int(parse_number(w).ok_or(RuleError {
                kind: RuleErrorKind::BadNumber(w.clone()),
                column: t.column,
            })?),
            Tok::Word(w) => Literal::Str(w.clone()),
            _ => return Err(self.expected("a value")),
        };
        self.bump();
        Ok(lit)
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
}
