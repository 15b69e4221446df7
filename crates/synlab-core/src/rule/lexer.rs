//! The lexer: a rule's text to tokens, each with its column, and what a
//! number is (decimal, or `0x` and hex digits).

use super::ast::Cmp;
use super::error::{RuleError, RuleErrorKind};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Tok {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) column: usize,
}

pub(super) fn describe(t: &Tok) -> String {
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

pub(super) fn lex(src: &str) -> Result<Vec<Token>, RuleError> {
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

pub(super) fn is_number(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_digit())
        && (w.chars().all(|c| c.is_ascii_digit())
            || (w.len() > 2
                && w[..2].eq_ignore_ascii_case("0x")
                && w[2..].chars().all(|c| c.is_ascii_hexdigit())))
}

pub(super) fn parse_number(w: &str) -> Option<u64> {
    if w.len() > 2 && w[..2].eq_ignore_ascii_case("0x") {
        u64::from_str_radix(&w[2..], 16).ok()
    } else {
        w.parse().ok()
    }
}
