//! What is wrong with a rule, where, and how it is shown (the expression
//! with a caret under the column).

use thiserror::Error;

use super::ast::MAX_DEPTH;
use crate::model::UnknownAttribute;

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
