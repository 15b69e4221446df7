//! The parser: recursive descent from tokens to an [`Expr`], each value
//! checked against its field as it is read ([`typed`]), nesting bounded by
//! [`MAX_DEPTH`].

use super::ast::{Expr, Literal, Operand, MAX_DEPTH};
use super::check::{typed, RawValue, Scope};
use super::error::{RuleError, RuleErrorKind};
use super::lexer::{describe, is_number, lex, parse_number, Tok, Token};

/// The expression `source` states, with every field allowed in `scope`.
pub(super) fn parse(source: &str, scope: Scope) -> Result<Expr, RuleError> {
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
    Ok(expr)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// How deep `unary` is nested now (bounded by [`MAX_DEPTH`]).
    depth: usize,
    scope: Scope,
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

#[cfg(test)]
mod tests {
    use crate::rule::fixtures::{error_of, eval_str, linux};
    use crate::rule::{Rule, RuleErrorKind, Scope};

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
