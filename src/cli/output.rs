//! Printers: tables a person reads at a glance, and stable JSON for scripts.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{json, Value as Json};

use super::select::AttemptSpec;
use crate::diff::Difference;
use crate::handshake::{Attempt, Outcome};
use crate::io::load::Loaded;
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

/// ICMP details of an `icmp` outcome.
#[derive(Serialize)]
struct IcmpJson {
    #[serde(rename = "type")]
    icmp_type: u8,
    code: u8,
    from: Option<String>,
}

/// One attempt as JSON, the schema of `handshakes --json`. Borrows the
/// attempt's attributes rather than copying them into a `serde_json::Value`
/// tree: a large capture has hundreds of thousands of attempts.
#[derive(Serialize)]
struct AttemptJson<'a> {
    index: usize,
    client: String,
    server: String,
    outcome: &'static str,
    icmp: Option<IcmpJson>,
    established: bool,
    syn_retransmits: u32,
    rtt_ms: Option<f64>,
    syn_packet: u64,
    reply_packet: Option<u64>,
    bytes_to_server: u64,
    bytes_to_client: u64,
    retransmits_to_server: u32,
    retransmits_to_client: u32,
    longest_stall_ms: Option<f64>,
    stalled: bool,
    /// Bytes from the server when the longest stall began.
    stalled_after_bytes: Option<u64>,
    end: crate::handshake::FlowEnd,
    http_request: Option<&'a crate::http::Request>,
    http_response: Option<&'a crate::http::Response>,
    syn: &'a Attributes,
    syn_ack: Option<&'a Attributes>,
    reply: Option<&'a Attributes>,
    flow: &'a Attributes,
}

impl<'a> AttemptJson<'a> {
    fn new(index: usize, a: &'a Attempt) -> Self {
        let icmp = match a.outcome {
            Outcome::Icmp { icmp_type, code } => Some(IcmpJson {
                icmp_type,
                code,
                from: a.icmp_from.map(|ip| ip.to_string()),
            }),
            _ => None,
        };
        AttemptJson {
            index,
            client: a.client.to_string(),
            server: a.server.to_string(),
            outcome: a.outcome.name(),
            icmp,
            established: a.established,
            syn_retransmits: a.syn_retransmits,
            rtt_ms: a.rtt.map(|d| d.as_micros() as f64 / 1000.0),
            syn_packet: a.syn_packet,
            reply_packet: a.reply_packet,
            bytes_to_server: a.bytes_to_server,
            bytes_to_client: a.bytes_to_client,
            retransmits_to_server: a.retransmits_to_server,
            retransmits_to_client: a.retransmits_to_client,
            longest_stall_ms: a.longest_stall.map(|d| d.as_micros() as f64 / 1000.0),
            stalled: a.stalled(),
            stalled_after_bytes: a.stalled_after(),
            end: a.end,
            http_request: a.request.as_ref(),
            http_response: a.response.as_ref(),
            syn: &a.syn,
            syn_ack: a.syn_ack(),
            reply: a.reply.as_ref(),
            flow: &a.flow,
        }
    }
}

#[derive(Serialize)]
struct HandshakesJson<'a> {
    file: String,
    packets: u64,
    handshakes: Vec<AttemptJson<'a>>,
    error: Option<String>,
    /// Packets skipped with a warning; absent when none, so the JSON of a
    /// clean capture is unchanged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

pub fn handshakes_json(l: &Loaded, out: &mut dyn Write) -> io::Result<()> {
    let doc = HandshakesJson {
        file: l.path.display().to_string(),
        packets: l.packets,
        handshakes: l.numbered().map(|(i, a)| AttemptJson::new(i, a)).collect(),
        error: l.error.as_ref().map(|e| e.to_string()),
        warnings: l.warnings.iter().map(|w| w.to_string()).collect(),
    };
    write_json(&doc, out)
}

pub(super) fn write_json<T: Serialize>(doc: &T, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc)?;
    writeln!(out)
}

fn get(a: &Attributes, name: Field) -> String {
    a.get(name).map_or_else(|| "-".to_owned(), Value::to_string)
}

/// TTL or hop limit, whichever the packet has.
fn ttl(a: &Attributes) -> String {
    a.get(Field::IpTtl)
        .or_else(|| a.get(Field::Ipv6Hlim))
        .map_or_else(|| "-".to_owned(), Value::to_string)
}

fn outcome_cell(a: &Attempt, style: Style) -> String {
    let text = format!("{:<9}", a.outcome.to_string());
    match a.outcome {
        Outcome::SynAck => style.green(&text),
        _ => style.red(&text),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The option layout, marked when snaplen cut the SYN inside its options.
fn options_cell(a: &Attributes) -> String {
    let layout = get(a, Field::SynlabOptionsLayout);
    if a.contains(Field::SynlabTruncated) {
        format!("{layout} [cut by snaplen]")
    } else {
        layout
    }
}

pub fn handshakes_table(l: &Loaded, style: Style, out: &mut dyn Write) -> io::Result<()> {
    if l.attempts.is_empty() {
        let packets = plural(l.packets, "packet", "packets");
        if l.total_attempts > 0 {
            let total = plural(l.total_attempts as u64, "attempt", "attempts");
            writeln!(
                out,
                "{}: none of {total} matches, in {packets}",
                l.path.display()
            )?;
        } else if l.error.is_none() || l.packets > 0 {
            writeln!(
                out,
                "{}: no connection attempts in {packets}",
                l.path.display()
            )?;
        }
        return Ok(());
    }
    let cw = width(l.attempts.iter().map(|a| a.client.to_string().len()), 6);
    let sw = width(l.attempts.iter().map(|a| a.server.to_string().len()), 6);
    let header = format!(
        "{:>3}  {:<cw$}  {:<sw$}  {:<9}  {:<7}  {:>8}  {:>9}  {:>3}  {:>5}  {:>5}  {:>9}  {:>9}  {:>9}  {:>8}  {}",
        "#",
        "client",
        "server",
        "outcome",
        "est",
        "syn-retx",
        "rtt",
        "ttl",
        "win",
        "mss",
        "bytes-up",
        "bytes-dn",
        "data-retx",
        "stall",
        "options"
    );
    writeln!(out, "{}", style.bold(&header))?;
    for (i, a) in l.numbered() {
        let rtt = a.rtt.map_or_else(
            || "-".into(),
            |d| format!("{:.3}ms", d.as_secs_f64() * 1000.0),
        );
        writeln!(
            out,
            "{:>3}  {:<cw$}  {:<sw$}  {}  {:<7}  {:>8}  {:>9}  {:>3}  {:>5}  {:>5}  {:>9}  {:>9}  {:>9}  {:>8}  {}",
            i,
            a.client.to_string(),
            a.server.to_string(),
            outcome_cell(a, style),
            match (a.established, a.stalled()) {
                (true, true) => "stalled",
                (true, false) => "yes",
                (false, _) => "no",
            },
            a.syn_retransmits,
            rtt,
            ttl(&a.syn),
            get(&a.syn, Field::TcpWindowSizeValue),
            get(&a.syn, Field::TcpOptionsMssVal),
            a.bytes_to_server,
            a.bytes_to_client,
            format!("{}/{}", a.retransmits_to_server, a.retransmits_to_client),
            a.longest_stall.map_or_else(|| "-".into(), seconds),
            options_cell(&a.syn),
        )?;
    }
    let attempts = if l.attempts.len() == l.total_attempts {
        plural(l.total_attempts as u64, "attempt", "attempts")
    } else {
        format!("{} of {} attempts", l.attempts.len(), l.total_attempts)
    };
    let packets = plural(l.packets, "packet", "packets");
    let summary = format!("{attempts} in {packets} ({} not TCP)", l.skipped);
    writeln!(out, "{}", style.dim(&summary))
}

/// A duration for the table: `0.001s`, `2.998s`.
fn seconds(d: std::time::Duration) -> String {
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
        writeln!(out, "{}: {}", style.bold(label), side.label)?;
    }
    writeln!(out)?;
    if diffs.is_empty() {
        writeln!(out, "no behavioural differences")?;
    } else {
        let cell = |v: &Option<Value>| {
            v.as_ref()
                .map_or_else(|| "(absent)".into(), Value::to_string)
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
