//! Printers: tables a person reads at a glance, and stable JSON for scripts.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{json, Value as Json};

use super::select::AttemptSpec;
use crate::diff::Difference;
use crate::handshake::{Attempt, Outcome};
use crate::model::Field;
use crate::model::{Attributes, Kind, Value};

/// ANSI styling, on only when asked or when stdout is a terminal.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn new(color: bool) -> Self {
        Style { color }
    }
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

pub(super) fn write_json<T: Serialize>(doc: &T, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc)?;
    writeln!(out)
}

pub(super) fn get(a: &Attributes, name: Field) -> String {
    a.get(name).map_or_else(|| "-".to_owned(), Value::to_string)
}

/// TTL or hop limit, whichever the packet has.
pub(super) fn ttl(a: &Attributes) -> String {
    a.get(Field::IpTtl)
        .or_else(|| a.get(Field::Ipv6Hlim))
        .map_or_else(|| "-".to_owned(), Value::to_string)
}

pub(super) fn outcome_cell(a: &Attempt, style: Style) -> String {
    let text = format!("{:<9}", a.outcome.to_string());
    match a.outcome {
        Outcome::SynAck => style.green(&text),
        _ => style.red(&text),
    }
}

pub(super) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The option layout, marked when snaplen cut the SYN inside its options,
/// when the flow-table cap finished the attempt early, and when a jump of
/// the capture's clock did.
pub(super) fn options_cell(a: &crate::handshake::Attempt) -> String {
    let mut cell = get(&a.syn, Field::SynlabOptionsLayout);
    if a.syn.contains(Field::SynlabTruncated) {
        cell.push_str(" [cut by snaplen]");
    }
    if a.evicted {
        cell.push_str(" [evicted]");
    }
    if a.expired_by_jump {
        cell.push_str(" [clock jump]");
    }
    if a.rsts_out_of_window > 0 {
        // Dropped by the receiver, so not the flow's end: say it was seen.
        cell.push_str(&format!(" [{} RST out of window]", a.rsts_out_of_window));
    }
    if let Some(u) = &a.unmatched_syn_ack {
        // A SYN+ACK came, but not for this SYN: say so beside the outcome.
        cell.push_str(&format!(" [unmatched SYN+ACK #{}]", u.packet));
    }
    cell
}

/// `s` safe to print on a terminal: control characters (an escape
/// sequence's `ESC`, a bell, a carriage return, a backspace, C1 controls)
/// written as `\x1b`, `\u{9b}`, so a capture or a file cannot retitle,
/// recolour or rewrite the user's terminal (issue 22, item 5). A newline
/// and a tab stay: they move the cursor only forward, and multi-line
/// errors (a rule's caret line) need them. Every text printer puts what
/// came from a file or the wire through it.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    let harmless = |c: char| !c.is_control() || c == '\n' || c == '\t';
    if s.chars().all(harmless) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match u32::from(c) {
            _ if harmless(c) => out.push(c),
            n @ 0..=0x7f => out.push_str(&format!("\\x{n:02x}")),
            n => out.push_str(&format!("\\u{{{n:x}}}")),
        }
    }
    out.into()
}

/// A duration for the table: `0.001s`, `2.998s`.
pub(super) fn seconds(d: std::time::Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

fn width(lens: impl Iterator<Item = usize>, min: usize) -> usize {
    lens.max().unwrap_or(0).max(min)
}

/// One side of a diff as the header shows it: what it is, and its JSON.
pub struct DiffSide {
    /// e.g. `captures/a.pcap#0 198.18.0.2:40001 -> 198.18.0.1:8080 syn-ack`, or `profile linux`.
    pub label: String,
    pub json: Json,
}

impl DiffSide {
    pub fn attempt(spec: &AttemptSpec, index: usize, a: &Attempt) -> Self {
        DiffSide {
            label: format!(
                "{}#{index} {} -> {} {}",
                spec.path.display(),
                a.client,
                a.server,
                a.full_outcome()
            ),
            json: json!({
                "file": spec.path.display().to_string(),
                "index": index,
                "client": a.client.to_string(),
                "server": a.server.to_string(),
                "outcome": a.outcome.name(),
                "stalled": a.stalled(),
                "stalled_after_bytes": a.stalled_after(),
            }),
        }
    }

    pub fn profile(name: &str, source: Option<&std::path::Path>) -> Self {
        DiffSide {
            label: format!("profile {name} (its crafted SYN)"),
            json: json!({
                "profile": name,
                "file": source.map(|p| p.display().to_string()),
            }),
        }
    }
}

pub fn diff_json(
    sides: &[DiffSide; 2],
    diffs: &[Difference],
    out: &mut dyn Write,
) -> io::Result<()> {
    let doc = json!({
        "a": sides[0].json,
        "b": sides[1].json,
        "differences": diffs,
    });
    write_json(&doc, out)
}

pub fn diff_table(
    sides: &[DiffSide; 2],
    diffs: &[Difference],
    hidden: usize,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    for (label, side) in ["A", "B"].iter().zip(sides) {
        writeln!(out, "{}: {}", style.bold(label), printable(&side.label))?;
    }
    writeln!(out)?;
    if diffs.is_empty() {
        writeln!(out, "no behavioural differences")?;
    } else {
        // A value may be a profile file's or a p0f database's text.
        let cell = |v: &Option<Value>| {
            v.as_ref().map_or_else(
                || "(absent)".into(),
                |v| printable(&v.to_string()).into_owned(),
            )
        };
        let nw = width(diffs.iter().map(|d| d.attribute.name().len()), 9);
        let aw = width(diffs.iter().map(|d| cell(&d.a).len()), 1);
        let head = format!(
            "{:<7}  {:<nw$}  {:<aw$}  {}",
            "packet", "attribute", "A", "B"
        );
        writeln!(out, "{}", style.bold(&head))?;
        for d in diffs {
            let packet = match d.packet {
                crate::diff::PacketRole::Syn => "syn",
                crate::diff::PacketRole::SynAck => "syn-ack",
                crate::diff::PacketRole::Flow => "flow",
            };
            let line = format!(
                "{packet:<7}  {:<nw$}  {:<aw$}  {}",
                d.attribute,
                cell(&d.a),
                cell(&d.b)
            );
            let line = if d.kind == Kind::Volatile {
                style.dim(&line)
            } else {
                style.red(&line)
            };
            writeln!(out, "{line}")?;
        }
    }
    let behavioural = diffs.iter().filter(|d| d.kind == Kind::Behavioural).count();
    let noun = if behavioural == 1 {
        "difference"
    } else {
        "differences"
    };
    let mut summary = format!("\n{behavioural} behavioural {noun}");
    if hidden > 0 {
        summary.push_str(&format!(", {hidden} volatile hidden (--all shows them)"));
    }
    if diffs.is_empty() && hidden == 0 {
        return Ok(()); // "no behavioural differences" said it all
    }
    writeln!(out, "{}", style.dim(&summary))
}

pub fn fields(json: bool, out: &mut dyn Write) -> io::Result<()> {
    if json {
        let doc: Vec<Json> = Field::ALL
            .iter()
            .map(|f| json!({"name": f.name(), "kind": f.kind(), "help": f.help()}))
            .collect();
        return write_json(&doc, out);
    }
    for f in Field::ALL {
        let kind = match f.kind() {
            Kind::Behavioural => "behavioural",
            Kind::Volatile => "volatile",
        };
        writeln!(out, "{:<30} {:<11} {}", f.name(), kind, f.help())?;
    }
    let other = "synlab.tcp.option.<KIND>";
    writeln!(
        out,
        "{other:<30} behavioural Any other TCP option kind: its data as hex"
    )
}

/// `12/12 (100%)`, `0/3 (0%)`.
pub fn rate_cell(passes: u32, probes: u32) -> String {
    if probes == 0 {
        return "-".to_owned();
    }
    let pct = 100.0 * f64::from(passes) / f64::from(probes);
    format!("{passes}/{probes} ({pct:.0}%)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_cells() {
        assert_eq!(rate_cell(3, 3), "3/3 (100%)");
        assert_eq!(rate_cell(1, 3), "1/3 (33%)");
        assert_eq!(rate_cell(0, 0), "-");
    }
}

#[cfg(test)]
mod printable_tests {
    use super::printable;

    /// Issue 22, item 5: an HTTP target, a `Range:` value or a vantage
    /// holding `ESC ] 0 ; … BEL` retitled the terminal.
    #[test]
    fn bug_control_characters_reached_the_terminal_raw() {
        assert_eq!(printable("/a\x1b]0;owned\x07"), "/a\\x1b]0;owned\\x07");
        assert_eq!(printable("x\u{9b}31m\r\n"), "x\\u{9b}31m\\x0d\n");
        assert_eq!(printable("a\x08\tb"), "a\\x08\tb");
        assert_eq!(printable("windows-10 · café"), "windows-10 · café");
        assert!(matches!(printable("plain"), std::borrow::Cow::Borrowed(_)));
    }
}
