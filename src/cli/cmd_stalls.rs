//! `synlab stalls FILE`: the flows that hung, grouped by the client's p0f
//! signature, each with the HTTP `Range:` retries (and `206` answers) that
//! followed it — what the 2020 incident's operators watched.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::output::{printable, write_json, Style};
use super::status::Status;
use crate::handshake::{kb, Attempt, FlowEnd, Limits};
use crate::http::{Request, Response};
use crate::io::load::{stream_inputs, LoadError, Summary};
use crate::model::Field;

/// The p0f group of flows whose SYN had no signature (not IPv4/IPv6 TCP
/// p0f can read).
const NO_SIGNATURE: &str = "-";

/// One stalled flow and what followed it.
#[derive(Debug, Serialize)]
pub struct StalledFlow<'a> {
    pub index: usize,
    pub client: String,
    pub server: String,
    pub longest_stall_ms: f64,
    pub stalled_after_bytes: Option<u64>,
    pub bytes_to_client: u64,
    pub retransmits_to_client: u32,
    pub end: FlowEnd,
    pub request: Option<&'a Request>,
    pub response: Option<&'a Response>,
    /// Later flows from the same client address to the same server that
    /// asked for a `Range:` or were answered `206`.
    pub retries: Vec<Retry<'a>>,
}

/// A later flow that asked for part of a resource.
#[derive(Debug, Serialize)]
pub struct Retry<'a> {
    pub index: usize,
    pub client: String,
    pub request: Option<&'a Request>,
    pub response: Option<&'a Response>,
    pub stalled: bool,
}

/// The stalled flows of one client signature.
#[derive(Debug, Serialize)]
pub struct Group<'a> {
    pub p0f: String,
    pub flows: Vec<StalledFlow<'a>>,
}

/// Stalled flows grouped by the SYN's `synlab.p0f`, the largest group
/// first. `attempts` are (file index, attempt), in capture order.
pub fn group_stalls<'a>(attempts: &[(usize, &'a Attempt)]) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    for (pos, &(index, a)) in attempts.iter().enumerate() {
        if !a.stalled() {
            continue;
        }
        let p0f = a
            .syn
            .get(Field::SynlabP0f)
            .map_or_else(|| NO_SIGNATURE.to_owned(), |v| v.to_string());
        let flow = stalled_flow(index, a, &attempts[pos + 1..]);
        match groups.iter_mut().find(|g| g.p0f == p0f) {
            Some(g) => g.flows.push(flow),
            None => groups.push(Group {
                p0f,
                flows: vec![flow],
            }),
        }
    }
    groups.sort_by(|x, y| y.flows.len().cmp(&x.flows.len()).then(x.p0f.cmp(&y.p0f)));
    groups
}

fn stalled_flow<'a>(
    index: usize,
    a: &'a Attempt,
    later: &[(usize, &'a Attempt)],
) -> StalledFlow<'a> {
    let retries = later
        .iter()
        .filter(|(_, r)| r.client.ip() == a.client.ip() && r.server == a.server)
        .filter(|(_, r)| is_partial(r))
        .map(|&(index, r)| Retry {
            index,
            client: r.client.to_string(),
            request: r.request.as_ref(),
            response: r.response.as_ref(),
            stalled: r.stalled(),
        })
        .collect();
    StalledFlow {
        index,
        client: a.client.to_string(),
        server: a.server.to_string(),
        longest_stall_ms: a
            .longest_stall
            .map_or(0.0, |d| d.as_micros() as f64 / 1000.0),
        stalled_after_bytes: a.stalled_after(),
        bytes_to_client: a.bytes_to_client,
        retransmits_to_client: a.retransmits_to_client,
        end: a.end,
        request: a.request.as_ref(),
        response: a.response.as_ref(),
        retries,
    }
}

/// The flow asked for part of a resource, or got part of one.
fn is_partial(a: &Attempt) -> bool {
    a.request.as_ref().is_some_and(|r| r.range.is_some())
        || a.response.as_ref().is_some_and(|r| r.status == 206)
}

#[derive(Serialize)]
struct StallsJson<'a> {
    file: String,
    attempts: usize,
    stalled: usize,
    /// Established flows whose stall cannot be told (snaplen cut the
    /// response head), and their file indexes.
    #[serde(skip_serializing_if = "is_zero")]
    unknown: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unknown_flows: Vec<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unknown_reason: Option<&'static str>,
    groups: &'a [Group<'a>],
    error: Option<String>,
}

/// Why [`Attempt::stall_unknown`] flows are neither stalled nor not.
const UNKNOWN_REASON: &str = "the capture's snapshot length cut the response head, so its \
     Content-Length is unseen and a download that stopped short cannot be told from one that \
     finished; capture with a larger snaplen (tcpdump -s 0)";

/// Attempts with their index in the capture.
type Numbered = Vec<(usize, Box<Attempt>)>;

/// The attempts `stalls` reports on, kept as they finish: the stalled
/// ones, the partial ones (a stalled flow's retries are among them) and
/// those whose stall is unknown, in capture order; the others are only
/// counted. Memory follows those flows, not the capture (issue 25: a
/// capture of 200k attempts, read whole, took 1.2 GB).
fn read(files: &[PathBuf], threads: usize) -> Result<(Numbered, Summary), LoadError> {
    let keep = |a: Box<Attempt>| (a.stalled() || is_partial(&a) || a.stall_unknown()).then_some(a);
    let mut kept = Vec::new();
    let summary = stream_inputs(
        files,
        Limits::default(),
        threads,
        &mut |_| {},
        &keep,
        |i, a| {
            kept.push((i, a));
            Ok::<(), LoadError>(())
        },
    )?;
    kept.sort_unstable_by_key(|(i, _)| *i);
    Ok((kept, summary))
}

/// Run `synlab stalls` on `threads` threads. Exit status: 0 stalled flows
/// found, 1 none (also when some flows' stall is unknown: the summary says
/// so), 2 trouble.
pub fn run(
    files: &[PathBuf],
    json: bool,
    threads: usize,
    style: Style,
    out: &mut dyn Write,
) -> Result<Status> {
    let label = crate::io::load::inputs_label(files);
    let file = label.as_path();
    let (kept, summary) = read(files, threads)?;
    let attempts: Vec<(usize, &Attempt)> = kept.iter().map(|(i, a)| (*i, &**a)).collect();
    let groups = group_stalls(&attempts);
    let stalled = groups.iter().map(|g| g.flows.len()).sum();
    let unknown: Vec<usize> = attempts
        .iter()
        .filter(|(_, a)| a.stall_unknown())
        .map(|&(i, _)| i)
        .collect();
    if json {
        let doc = StallsJson {
            file: file.display().to_string(),
            attempts: summary.attempts,
            stalled,
            unknown_reason: (!unknown.is_empty()).then_some(UNKNOWN_REASON),
            unknown: unknown.len(),
            unknown_flows: unknown,
            groups: &groups,
            error: summary.error.as_ref().map(|e| e.to_string()),
        };
        write_json(&doc, out)?;
    } else {
        table(&groups, style, out)?;
        let unknown_text = match unknown.len() {
            0 => String::new(),
            n => format!(", {n} unknown"),
        };
        let summary_line = format!(
            "{stalled} stalled{unknown_text} of {} in {}",
            plural(summary.attempts, "attempt"),
            file.display()
        );
        writeln!(out, "{}", style.dim(&summary_line))?;
        if !unknown.is_empty() {
            let list: Vec<String> = unknown.iter().map(|i| format!("#{i}")).collect();
            writeln!(out, "unknown ({}): {UNKNOWN_REASON}", list.join(", "))?;
        }
    }
    out.flush()?;
    let status = if stalled > 0 {
        Status::Ok
    } else {
        Status::Differ
    };
    Ok(super::messages::summarize(&summary, status))
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn table(groups: &[Group<'_>], style: Style, out: &mut dyn Write) -> std::io::Result<()> {
    for g in groups {
        let head = format!("p0f {}  ({} stalled)", g.p0f, plural(g.flows.len(), "flow"));
        writeln!(out, "{}", style.bold(&head))?;
        for f in &g.flows {
            let after = f
                .stalled_after_bytes
                .map_or_else(String::new, |b| format!(" after {}", kb(b)));
            writeln!(
                out,
                "  #{:<3} {} -> {}  {}  {}",
                f.index,
                f.client,
                f.server,
                style.red(&format!(
                    "stalled {:.3}s{after}",
                    f.longest_stall_ms / 1000.0
                )),
                http_cell(f.request, f.response),
            )?;
            for r in &f.retries {
                let state = if r.stalled { "stalled" } else { "no stall" };
                writeln!(
                    out,
                    "        retry #{:<3} {}  {}  ({state})",
                    r.index,
                    r.client,
                    http_cell(r.request, r.response)
                )?;
            }
        }
    }
    Ok(())
}

/// `GET /big.bin Range: bytes=5- -> 206 bytes 5-14/15`, as far as known.
fn http_cell(req: Option<&Request>, resp: Option<&Response>) -> String {
    // The request line and headers are the wire's: escaped for the terminal.
    let mut s = match req {
        Some(r) => format!("{} {}", printable(&r.method), printable(&r.target)),
        None => "(no HTTP request seen)".to_owned(),
    };
    if let Some(range) = req.and_then(|r| r.range.as_deref()) {
        s.push_str(&format!(" Range: {}", printable(range)));
    }
    if let Some(r) = resp {
        s.push_str(&format!(" -> {}", r.status));
        if let Some(cr) = &r.content_range {
            s.push_str(&format!(" {}", printable(cr)));
        } else if let Some(len) = r.content_length {
            s.push_str(&format!(" ({len} bytes)"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 22, item 5: the request target and `Range:`/`Content-Range:`
    /// values are the wire's, and reached the terminal raw.
    #[test]
    fn bug_http_values_reached_the_terminal_raw() {
        let req = Request {
            method: "GET".into(),
            target: "/\x1b]0;x\x07".into(),
            range: Some("bytes=\x1b[2J0-".into()),
        };
        let resp = Response {
            status: 206,
            content_length: None,
            content_range: Some("bytes \x1b[31m".into()),
            head_len: 10,
        };
        let cell = http_cell(Some(&req), Some(&resp));
        assert!(!cell.contains('\x1b') && !cell.contains('\x07'), "{cell:?}");
        assert_eq!(
            cell,
            "GET /\\x1b]0;x\\x07 Range: bytes=\\x1b[2J0- -> 206 bytes \\x1b[31m"
        );
    }
}
