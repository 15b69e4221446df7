//! TCP options: parsed in wire order, because the order itself is one of the
//! attributes that tells stacks apart (p0f's `olayout`), and emitted back
//! from the same type (parse, emit and buffer_len side by side, as smoltcp's
//! `wire/tcp.rs` does).
//!
//! [`Layout`] is the option order in p0f notation (`mss,sok,ts,nop,ws`):
//! the one grammar for decode, craft, profiles, p0f import/export and the
//! search.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use std::sync::OnceLock;

use super::option_kind::kind;
pub use super::option_kind::OptionKind;
use super::vocab::{Attr, Field};

/// One TCP option as it appeared on the wire (or is to be written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of option list, and how many bytes of the header follow it.
    Eol {
        padding: u8,
    },
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Sack(Cow<'a, [u8]>),
    Timestamp {
        tsval: u32,
        tsecr: u32,
    },
    /// Any other kind, with its data (the bytes after kind and length).
    Other {
        kind: u8,
        data: Cow<'a, [u8]>,
    },
}

impl OptionKind {
    /// The attribute that says the option is present (`tcp.options.mss`…),
    /// from the vocabulary table: the boolean field of this option.
    pub fn presence(self) -> Option<Field> {
        static BY_NUMBER: OnceLock<Vec<Option<Field>>> = OnceLock::new();
        let table = BY_NUMBER.get_or_init(|| {
            (0..=u8::MAX)
                .map(|n| {
                    let k = OptionKind::from_number(n);
                    Field::ALL.iter().copied().find(|f| {
                        f.option() == Some(k) && f.value_type() == crate::model::ValueType::Bool
                    })
                })
                .collect()
        });
        table[usize::from(self.number())]
    }

    /// The attributes that hold this option's presence and values (from
    /// the vocabulary table; an unnamed kind's data is `synlab.tcp.option.K`).
    pub fn attributes(self) -> Vec<Attr> {
        let mut v: Vec<Attr> = Field::ALL
            .iter()
            .filter(|f| f.option() == Some(self))
            .map(|&f| Attr::Field(f))
            .collect();
        if !LayoutToken::p0f_names_kind(self.number()) {
            v.push(Attr::UnknownOption(self.number()));
        }
        v
    }
}

impl TcpOption<'_> {
    /// The option's token in the layout.
    pub fn token(&self) -> LayoutToken {
        match *self {
            TcpOption::Eol { padding } => LayoutToken::Eol(padding),
            TcpOption::Nop => LayoutToken::Nop,
            TcpOption::Mss(_) => LayoutToken::Mss,
            TcpOption::WindowScale(_) => LayoutToken::Ws,
            TcpOption::SackPermitted => LayoutToken::Sok,
            TcpOption::Sack(_) => LayoutToken::Sack,
            TcpOption::Timestamp { .. } => LayoutToken::Ts,
            TcpOption::Other { kind, .. } => LayoutToken::Unknown(kind),
        }
    }

    /// The option's name in p0f v3 `olayout` notation.
    pub fn p0f_name(&self) -> String {
        self.token().to_string()
    }

    /// Bytes the option takes on the wire (an EOL with its padding; an
    /// unknown option's data is cut at 253 bytes, what a length byte can say).
    pub fn buffer_len(&self) -> usize {
        match self {
            TcpOption::Eol { padding } => 1 + usize::from(*padding),
            TcpOption::Nop => 1,
            TcpOption::Mss(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::Sack(d) => 2 + d.len().min(253),
            TcpOption::Timestamp { .. } => 10,
            TcpOption::Other { data, .. } => 2 + data.len().min(253),
        }
    }

    /// Append the option's bytes, exactly `buffer_len` of them.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let with_data = |out: &mut Vec<u8>, kind: u8, data: &[u8]| {
            let data = &data[..data.len().min(253)];
            out.push(kind);
            out.push((data.len() + 2) as u8);
            out.extend_from_slice(data);
        };
        match self {
            TcpOption::Eol { padding } => {
                out.push(kind::EOL);
                out.resize(out.len() + usize::from(*padding), 0);
            }
            TcpOption::Nop => out.push(kind::NOP),
            TcpOption::Mss(m) => with_data(out, kind::MSS, &m.to_be_bytes()),
            TcpOption::WindowScale(s) => with_data(out, kind::WS, &[*s]),
            TcpOption::SackPermitted => with_data(out, kind::SOK, &[]),
            TcpOption::Sack(d) => with_data(out, kind::SACK, d),
            TcpOption::Timestamp { tsval, tsecr } => {
                let mut d = [0; 8];
                d[..4].copy_from_slice(&tsval.to_be_bytes());
                d[4..].copy_from_slice(&tsecr.to_be_bytes());
                with_data(out, kind::TS, &d);
            }
            TcpOption::Other { kind, data } => with_data(out, *kind, data),
        }
    }
}

/// The result of walking an options area.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptionsParse<'a> {
    pub options: Vec<TcpOption<'a>>,
    /// An option's length byte was wrong, or ran past the header (p0f's `bad`).
    pub malformed: bool,
    /// Bytes after an EOL were not all zero (p0f's `opt+`).
    pub nonzero_after_eol: bool,
    /// The capture ended inside the options area (snaplen); what came before is kept.
    pub truncated: bool,
    /// The kind of the option the capture cut, when its kind byte was
    /// captured (tshark lists it among the kinds, and as present).
    pub cut_kind: Option<u8>,
}

/// Walk a TCP options area.
///
/// `area` is the options bytes that were captured and `declared_len` the
/// options length the header's data offset claims; when the capture holds
/// fewer bytes the walk stops at the cut and sets `truncated`, as tshark
/// marks "[Packet size limited during capture]".
pub fn parse_options(area: &[u8], declared_len: usize) -> OptionsParse<'_> {
    let mut out = OptionsParse {
        truncated: area.len() < declared_len,
        ..OptionsParse::default()
    };
    let end = area.len().min(declared_len);
    let area = &area[..end];
    let mut i = 0;
    while i < area.len() {
        match area[i] {
            kind::EOL => {
                let rest = &area[i + 1..];
                out.nonzero_after_eol = rest.iter().any(|&b| b != 0);
                let padding = declared_len - i - 1;
                out.options.push(TcpOption::Eol {
                    padding: u8::try_from(padding).unwrap_or(u8::MAX),
                });
                return out;
            }
            kind::NOP => {
                out.options.push(TcpOption::Nop);
                i += 1;
            }
            _ => match option_at(area, i, declared_len) {
                Step::Option(opt, len) => {
                    out.options.push(opt);
                    i += len;
                }
                Step::Cut => {
                    out.cut_kind = Some(area[i]);
                    return out;
                }
                Step::BadLength(opt, len) => {
                    out.malformed = true;
                    out.options.push(opt);
                    i += len;
                }
                Step::Malformed(opt) => {
                    out.malformed = true;
                    out.options.extend(opt);
                    return out;
                }
            },
        }
    }
    out
}

enum Step<'a> {
    Option(TcpOption<'a>, usize),
    /// The capture ends inside this option.
    Cut,
    /// A length that cannot be right; the option is kept when its kind is known.
    Malformed(Option<TcpOption<'a>>),
    /// An option of fixed size (MSS, window scale, SACK-permitted,
    /// timestamps) whose length byte is wrong: read at its fixed size and
    /// stepped over, the walk goes on after it, as p0f does (its `bad`).
    BadLength(TcpOption<'a>, usize),
}

/// The size of the options p0f reads at a fixed size whatever their
/// length byte says.
fn fixed_len(kind: u8) -> Option<usize> {
    match kind {
        kind::MSS => Some(4),
        kind::WS => Some(3),
        kind::SOK => Some(2),
        kind::TS => Some(10),
        _ => None,
    }
}

fn option_at(area: &[u8], i: usize, declared_len: usize) -> Step<'_> {
    let kind = area[i];
    let Some(&len) = area.get(i + 1) else {
        return if i + 1 < declared_len {
            Step::Cut
        } else {
            Step::Malformed(None)
        };
    };
    let len = usize::from(len);
    if let Some(fixed) = fixed_len(kind).filter(|&f| f != len) {
        return fixed_size_option(area, i, fixed, declared_len);
    }
    if len < 2 || i + len > declared_len {
        return Step::Malformed(Some(TcpOption::Other {
            kind,
            data: Cow::Borrowed(&[]),
        }));
    }
    let Some(data) = area.get(i + 2..i + len) else {
        return Step::Cut;
    };
    let opt = match (kind, data.len()) {
        (kind::MSS, 2) => TcpOption::Mss(u16::from_be_bytes([data[0], data[1]])),
        (kind::WS, 1) => TcpOption::WindowScale(data[0]),
        (kind::SOK, 0) => TcpOption::SackPermitted,
        (kind::SACK, _) => TcpOption::Sack(Cow::Borrowed(data)),
        (kind::TS, 8) => TcpOption::Timestamp {
            tsval: u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
            tsecr: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
        },
        (kind::MSS | kind::WS | kind::SOK | kind::TS, _) => {
            return Step::Malformed(Some(TcpOption::Other {
                kind,
                data: Cow::Borrowed(data),
            }));
        }
        _ => TcpOption::Other {
            kind,
            data: Cow::Borrowed(data),
        },
    };
    Step::Option(opt, len)
}

/// A fixed-size option with a wrong length byte, read at its size (p0f
/// steps over it and reads the options after it); malformed when even that
/// passes the header.
fn fixed_size_option(area: &[u8], i: usize, fixed: usize, declared_len: usize) -> Step<'_> {
    if i + fixed > declared_len {
        return Step::Malformed(Some(TcpOption::Other {
            kind: area[i],
            data: Cow::Borrowed(&[]),
        }));
    }
    let Some(data) = area.get(i + 2..i + fixed) else {
        return Step::Cut;
    };
    let be16 = |at: usize| u16::from_be_bytes([data[at], data[at + 1]]);
    let be32 = |at: usize| u32::from(be16(at)) << 16 | u32::from(be16(at + 2));
    let opt = match area[i] {
        kind::MSS => TcpOption::Mss(be16(0)),
        kind::WS => TcpOption::WindowScale(data[0]),
        kind::TS => TcpOption::Timestamp {
            tsval: be32(0),
            tsecr: be32(4),
        },
        _ => TcpOption::SackPermitted,
    };
    Step::BadLength(opt, fixed)
}

/// One entry of an option layout, in p0f notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayoutToken {
    /// `mss`
    Mss,
    /// `ws`
    Ws,
    /// `sok`
    Sok,
    /// `sack`
    Sack,
    /// `ts`
    Ts,
    /// `nop`
    Nop,
    /// `eol+N`: end of options, then N bytes of padding.
    Eol(u8),
    /// `?K`: an option kind without a token of its own.
    Unknown(u8),
}

impl fmt::Display for OptionKind {
    /// The p0f token for the kinds p0f names, `?K` for the others.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionKind::Eol => f.write_str("eol"),
            OptionKind::Nop => f.write_str("nop"),
            OptionKind::Mss => f.write_str("mss"),
            OptionKind::Ws => f.write_str("ws"),
            OptionKind::Sok => f.write_str("sok"),
            OptionKind::Sack => f.write_str("sack"),
            OptionKind::Ts => f.write_str("ts"),
            other => write!(f, "?{}", other.number()),
        }
    }
}

impl LayoutToken {
    /// The option this token stands for.
    pub fn kind(self) -> OptionKind {
        match self {
            LayoutToken::Mss => OptionKind::Mss,
            LayoutToken::Ws => OptionKind::Ws,
            LayoutToken::Sok => OptionKind::Sok,
            LayoutToken::Sack => OptionKind::Sack,
            LayoutToken::Ts => OptionKind::Ts,
            LayoutToken::Nop => OptionKind::Nop,
            LayoutToken::Eol(_) => OptionKind::Eol,
            LayoutToken::Unknown(k) => OptionKind::from_number(k),
        }
    }

    /// Bytes the option takes in a crafted SYN (an unnamed kind's length
    /// depends on its data: `data_len` bytes).
    pub fn wire_len(self, data_len: usize) -> usize {
        match self {
            LayoutToken::Mss => 4,
            LayoutToken::Ws => 3,
            LayoutToken::Sok | LayoutToken::Sack => 2,
            LayoutToken::Ts => 10,
            LayoutToken::Nop => 1,
            LayoutToken::Eol(n) => 1 + usize::from(n),
            LayoutToken::Unknown(_) => 2 + data_len,
        }
    }

    /// Whether p0f has a name of its own for the kind (`?K` is p0f's
    /// notation only for the others).
    pub fn p0f_names_kind(k: u8) -> bool {
        matches!(
            k,
            kind::EOL | kind::NOP | kind::MSS | kind::WS | kind::SOK | kind::SACK | kind::TS
        )
    }
}

impl fmt::Display for LayoutToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutToken::Mss => f.write_str("mss"),
            LayoutToken::Ws => f.write_str("ws"),
            LayoutToken::Sok => f.write_str("sok"),
            LayoutToken::Sack => f.write_str("sack"),
            LayoutToken::Ts => f.write_str("ts"),
            LayoutToken::Nop => f.write_str("nop"),
            LayoutToken::Eol(n) => write!(f, "eol+{n}"),
            LayoutToken::Unknown(k) => write!(f, "?{k}"),
        }
    }
}

/// A layout token that is not p0f notation.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("option layout token {0:?} is not p0f notation (mss, ws, sok, sack, ts, nop, eol+N, ?N)")]
pub struct BadLayoutToken(pub String);

impl FromStr for LayoutToken {
    type Err = BadLayoutToken;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadLayoutToken(s.to_owned());
        Ok(match s {
            "mss" => LayoutToken::Mss,
            "ws" => LayoutToken::Ws,
            "sok" => LayoutToken::Sok,
            "sack" => LayoutToken::Sack,
            "ts" => LayoutToken::Ts,
            "nop" => LayoutToken::Nop,
            _ => {
                if let Some(n) = s.strip_prefix("eol+") {
                    LayoutToken::Eol(n.parse().map_err(|_| bad())?)
                } else if let Some(k) = s.strip_prefix('?') {
                    LayoutToken::Unknown(k.parse().map_err(|_| bad())?)
                } else {
                    return Err(bad());
                }
            }
        })
    }
}

/// The TCP option order in p0f notation (`mss,sok,ts,nop,ws`); empty when
/// the segment has no options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Layout(pub Vec<LayoutToken>);

impl Layout {
    /// The layout of parsed options.
    pub fn of(options: &[TcpOption<'_>]) -> Layout {
        Layout(options.iter().map(TcpOption::token).collect())
    }

    pub fn contains(&self, t: LayoutToken) -> bool {
        self.0.contains(&t)
    }

    /// Whether the layout has an option of this kind.
    pub fn has_kind(&self, k: OptionKind) -> bool {
        self.0.iter().any(|t| t.kind() == k)
    }

    /// Bytes the options take on the wire; `data` gives the data length of
    /// an option kind without a name (`?K`).
    pub fn wire_len(&self, data: &dyn Fn(u8) -> usize) -> usize {
        self.0
            .iter()
            .map(|t| match t {
                LayoutToken::Unknown(k) => t.wire_len(data(*k)),
                _ => t.wire_len(0),
            })
            .sum()
    }

    /// NOPs that bring the options to a multiple of 4 bytes.
    pub fn padding(&self, data: &dyn Fn(u8) -> usize) -> Vec<LayoutToken> {
        vec![LayoutToken::Nop; (4 - self.wire_len(data) % 4) % 4]
    }

    /// Take the option of `kind` out, with the NOPs just before it (its
    /// alignment), then NOPs in its place to keep the options a multiple of
    /// 4 bytes. Linux's `mss,sok,ts,nop,ws` without `sok` becomes
    /// `mss,nop,nop,ts,nop,ws` (what Linux sends with SACK off), without
    /// `ws` becomes `mss,sok,ts`. `--unset` and the search's option units
    /// both remove options this way.
    pub fn remove(&mut self, kind: OptionKind, data: &dyn Fn(u8) -> usize) {
        let Some(i) = self.0.iter().position(|t| t.kind() == kind) else {
            return;
        };
        let start = self.0[..i]
            .iter()
            .rposition(|t| t.kind() != OptionKind::Nop)
            .map_or(0, |p| p + 1);
        self.0.drain(start..=i);
        let pad = self.padding(data);
        self.0.splice(start..start, pad);
    }

    /// Wireshark's `tcp.option_kind`: the kind numbers in wire order.
    ///
    /// Written into one string with `itoa` (no string per kind, no join):
    /// this runs for every SYN and answer a capture holds.
    pub fn kind_numbers(&self) -> String {
        let mut out = String::with_capacity(4 * self.0.len());
        let mut digits = itoa::Buffer::new();
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(digits.format(t.kind().number()));
        }
        out
    }

    pub fn tokens(&self) -> &[LayoutToken] {
        &self.0
    }
}

impl Layout {
    /// The layout as p0f writes it (`mss,sok,ts,nop,ws`), the same text as
    /// `Display` without the formatter: it is built for every SYN and
    /// answer a capture holds (issue 13).
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(4 * self.0.len());
        let mut digits = itoa::Buffer::new();
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match t {
                LayoutToken::Mss => out.push_str("mss"),
                LayoutToken::Ws => out.push_str("ws"),
                LayoutToken::Sok => out.push_str("sok"),
                LayoutToken::Sack => out.push_str("sack"),
                LayoutToken::Ts => out.push_str("ts"),
                LayoutToken::Nop => out.push_str("nop"),
                LayoutToken::Eol(n) => {
                    out.push_str("eol+");
                    out.push_str(digits.format(*n));
                }
                LayoutToken::Unknown(k) => {
                    out.push('?');
                    out.push_str(digits.format(*k));
                }
            }
        }
        out
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

impl FromStr for Layout {
    type Err = BadLayoutToken;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .filter(|t| !t.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(Layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINUX: [u8; 20] = [
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ];

    fn layout(options: &[TcpOption<'_>]) -> String {
        Layout::of(options).to_string()
    }

    #[test]
    fn linux_layout() {
        let p = parse_options(&LINUX, 20);
        assert_eq!(layout(&p.options), "mss,sok,ts,nop,ws");
        assert_eq!(p.options[0], TcpOption::Mss(1460));
        assert_eq!(p.options[4], TcpOption::WindowScale(7));
        assert!(!p.malformed && !p.truncated && !p.nonzero_after_eol);
    }

    #[test]
    fn emit_is_the_inverse_of_parse() {
        let p = parse_options(&LINUX, 20);
        let mut out = Vec::new();
        for o in &p.options {
            let before = out.len();
            o.emit(&mut out);
            assert_eq!(out.len() - before, o.buffer_len(), "{o:?}");
        }
        assert_eq!(out, LINUX);
        let odd = [30u8, 4, 0xab, 0xcd, 5, 2, 1, 0, 0, 0];
        let p = parse_options(&odd, odd.len());
        let mut out = Vec::new();
        p.options.iter().for_each(|o| o.emit(&mut out));
        assert_eq!(out, odd);
    }

    #[test]
    fn layout_text_round_trips() {
        for s in ["mss,sok,ts,nop,ws", "", "mss,?30,eol+3", "sack,nop"] {
            let l: Layout = s.parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(l.to_string(), s);
        }
        for bad in ["mss,bogus", "eol+x", "?300", "eol+256"] {
            assert!(bad.parse::<Layout>().is_err(), "{bad}");
        }
    }

    #[test]
    fn option_attributes_come_from_the_table() {
        assert_eq!(
            OptionKind::Ts.attributes(),
            [
                Attr::Field(Field::TcpOptionsTimestamp),
                Attr::Field(Field::TcpOptionsTimestampTsval),
                Attr::Field(Field::TcpOptionsTimestampTsecr)
            ]
        );
        assert_eq!(OptionKind::Ts.presence(), Some(Field::TcpOptionsTimestamp));
        assert_eq!(OptionKind::Sok.presence(), Some(Field::TcpOptionsSackPerm));
        assert_eq!(OptionKind::Mptcp.presence(), Some(Field::TcpOptionsMptcp));
        assert_eq!(OptionKind::Other(99).presence(), None);
        assert_eq!(
            OptionKind::Tfo.attributes(),
            [Attr::Field(Field::TcpOptionsTfo), Attr::UnknownOption(34)]
        );
        assert_eq!(LayoutToken::Unknown(34).kind(), OptionKind::Tfo);
        for n in 0..=u8::MAX {
            assert_eq!(OptionKind::from_number(n).number(), n);
        }
    }

    #[test]
    fn eol_padding_counts_bytes_after_eol() {
        let p = parse_options(&[2, 4, 5, 0xb4, 0, 0, 0, 0], 8);
        assert_eq!(layout(&p.options), "mss,eol+3");
        let p = parse_options(&[2, 4, 5, 0xb4, 0, 0, 9, 0], 8);
        assert!(p.nonzero_after_eol);
    }

    #[test]
    fn truncated_area_keeps_what_came_before() {
        let p = parse_options(&LINUX[..9], 20);
        assert!(p.truncated && !p.malformed);
        assert_eq!(layout(&p.options), "mss,sok");
        assert_eq!(p.cut_kind, Some(8));
    }

    #[test]
    fn bad_lengths_are_malformed_not_panics() {
        for area in [&[2u8, 0][..], &[2, 1], &[2, 9, 0, 0], &[3, 4, 0, 0], &[8]] {
            let p = parse_options(area, area.len());
            assert!(p.malformed, "{area:?}");
        }
    }

    /// Issue 21: a SACK-permitted option with a bogus length stopped the
    /// walk at `?4`; p0f reads it as `sok` (quirk `bad`), steps over its two
    /// bytes and reads the options after it. So do MSS, window scale and
    /// timestamps at their fixed sizes (p0f 3.09b, checked with `p0f -r`).
    #[test]
    fn fixed_size_options_with_a_bogus_length_are_stepped_over() {
        let cases: [(&[u8], &str); 6] = [
            (
                &[2, 4, 5, 0xb4, 4, 4, 1, 1, 1, 3, 3, 7],
                "mss,sok,nop,nop,nop,ws",
            ),
            (
                &[2, 4, 5, 0xb4, 4, 0, 1, 1, 1, 3, 3, 7],
                "mss,sok,nop,nop,nop,ws",
            ),
            (
                &[2, 4, 5, 0xb4, 4, 40, 1, 1, 1, 3, 3, 7],
                "mss,sok,nop,nop,nop,ws",
            ),
            (
                &[2, 6, 5, 0xb4, 1, 1, 1, 3, 3, 7, 1, 1],
                "mss,nop,nop,nop,ws,nop,nop",
            ),
            (
                &[2, 4, 5, 0xb4, 3, 4, 7, 1, 1, 1, 1, 1],
                "mss,ws,nop,nop,nop,nop,nop",
            ),
            (&[1, 1, 8, 9, 0, 0, 0, 5, 0, 0, 0, 6], "nop,nop,ts"),
        ];
        for (area, want) in cases {
            let p = parse_options(area, area.len());
            assert_eq!(layout(&p.options), want, "{area:?}");
            assert!(p.malformed, "p0f's bad: {area:?}");
        }
        let p = parse_options(&[2, 4, 5, 0xb4, 3, 4, 7, 1, 1, 1, 1, 1], 12);
        assert!(p.options.contains(&TcpOption::WindowScale(7)));
        let p = parse_options(&[1, 1, 8, 9, 0, 0, 0, 5, 0, 0, 0, 6], 12);
        assert!(p
            .options
            .contains(&TcpOption::Timestamp { tsval: 5, tsecr: 6 }));
        // Past the header even at its fixed size: the walk stops there.
        let p = parse_options(&[1, 1, 1, 8, 5, 0, 0, 0, 0, 0, 0, 0], 12);
        assert_eq!(layout(&p.options), "nop,nop,nop,?8");
    }

    #[test]
    fn unknown_kind_is_kept_with_data() {
        let p = parse_options(&[30, 4, 0xab, 0xcd], 4);
        assert_eq!(
            p.options,
            vec![TcpOption::Other {
                kind: 30,
                data: Cow::Borrowed(&[0xab, 0xcd])
            }]
        );
        assert_eq!(layout(&p.options), "?30");
    }
}
