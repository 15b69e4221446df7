//! `synlab probe`: live SYNs from a profile, one result line per probe.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::edit_args::{EditArgs, Edited};
use super::live_args::{ExchangeArgs, GuardArgs, Live, PaceArgs, RouteArgs};
use super::output::Style;
use super::recording::write_probe_frames;
use super::status::Status;
use crate::exchange::ExchangeStats;
use crate::handshake::Outcome;
use crate::io::live::{ExchangeOptions, LiveOptions, LiveRun, LiveSession};
use crate::io::pcapng_writer::PcapngOut;
use crate::model::{Attributes, Field, Value};
use crate::probe::{PortRange, ProbeResult};

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The profile whose SYN to send (e.g. linux, windows-10, macos-14).
    #[arg(long)]
    pub profile: String,
    /// Where to send: IP:PORT, [IPv6]:PORT.
    #[arg(long, value_parser = super::live_args::parse_target)]
    pub target: SocketAddr,
    #[command(flatten)]
    pub route: RouteArgs,
    /// Number of probes, each from its own source port.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=10000))]
    pub count: u16,
    #[command(flatten)]
    pub pace: PaceArgs,
    /// Write every packet of the probes (sent and received) to this pcapng
    /// file, each with a comment naming its probe, the profile and its changes.
    #[arg(long)]
    pub pcap: Option<PathBuf>,
    /// Keep at most N bytes of each packet in the --pcap file (0: whole
    /// packets). Default: each packet's headers and 128 bytes of payload,
    /// HTTP heads whole, so an exchange's download is not stored while
    /// `synlab stalls` still reads its status and Content-Length.
    #[arg(long, value_name = "N", requires = "pcap")]
    pub snaplen: Option<u32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub edit: EditArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

impl ProbeArgs {
    fn live(&self) -> Live<'_> {
        Live {
            route: &self.route,
            pace: &self.pace,
            guard: &self.guard,
            exchange: &self.exchange,
        }
    }
}

/// `count` consecutive source ports from `first`.
pub fn ports_from(first: u16, count: u16) -> Result<PortRange> {
    let last = first
        .checked_add(count - 1)
        .with_context(|| format!("{count} probes from source port {first} run past port 65535"))?;
    Ok(PortRange { first, last })
}

/// RTT statistics in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RttStats {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

pub fn rtt_stats(results: &[ProbeResult]) -> Option<RttStats> {
    let mut ms: Vec<f64> = results
        .iter()
        .filter_map(|r| r.rtt)
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    if ms.is_empty() {
        return None;
    }
    ms.sort_by(f64::total_cmp);
    let mid = ms.len() / 2;
    let median = if ms.len() % 2 == 1 {
        ms[mid]
    } else {
        (ms[mid - 1] + ms[mid]) / 2.0
    };
    Some(RttStats {
        min: ms[0],
        median,
        max: ms[ms.len() - 1],
    })
}

pub fn run(
    args: &ProbeArgs,
    dirs: &[std::path::PathBuf],
    style: Style,
    out: &mut dyn Write,
) -> Result<Status> {
    let profile = crate::io::profile_store::resolve(&args.profile, dirs)?;
    let base = match args.exchange.request {
        Some(_) => profile.with_flow_attributes(),
        None => profile.attributes.clone(),
    };
    let edited = args.edit.apply(&base, args.target.is_ipv6())?;
    let ports = match edited.first_port {
        Some(first) => ports_from(first, args.count)?,
        None => PortRange::default(),
    };
    let opts = LiveOptions {
        ports,
        keep_frames: args.pcap.is_some(),
        ..args.live().options()
    };
    let requests = vec![edited.attributes.clone(); usize::from(args.count)];
    // Created before the run: once its sockets are open synlab holds no
    // capability, and root without CAP_DAC_OVERRIDE cannot create a file in
    // another user's directory (`sudo synlab probe --pcap out.pcap` in $HOME).
    let pcap = args
        .pcap
        .as_deref()
        .map(|path| {
            let about = match edited.changes.is_empty() {
                true => format!("synlab probe --profile {}", profile.name),
                false => format!(
                    "synlab probe --profile {} with {}",
                    profile.name,
                    crate::model::edit::describe(&edited.changes, &edited.attributes)
                ),
            };
            let snaplen = crate::io::pcapng_writer::Snaplen::from_flag(args.snaplen);
            PcapngOut::create(path, &about).map(|p| p.with_snaplen(snaplen))
        })
        .transpose()?;
    let mut session = LiveSession::open(args.target, &opts, requests.len())?;
    // The table's rows are printed as the answers arrive (a slow or silent
    // target shows progress); JSON is one document, printed at the end.
    let mut rows = Rows::new(args.count);
    if !args.json {
        table_header(args, &profile.name, &edited, &session, style, out)?;
    }
    // A reader that went away (`probe ... | head -3`) stops the probes at
    // once, as SIGPIPE would: exit 141, the table removed (issue 22, item 9).
    let output_gone = session.output_gone();
    let _watch = crate::io::interrupt::OutputWatch::stdout(output_gone.clone());
    let mut on_answer = |r: &ProbeResult| {
        if !args.json {
            rows.print(r, style, out);
            if rows.broken_pipe() {
                output_gone.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    };
    let mut run = match args.live().exchange_options() {
        Some(ex) => {
            // Retransmitted SYNs are the profile's `[retry.N]` (they come at
            // 1 s, 3 s, 7 s: within --timeout).
            let ex = ExchangeOptions {
                retries: profile.retries.clone(),
                ..ex
            };
            session.run_exchanges_with(&requests, &ex, &mut on_answer)?
        }
        None => session.run_batch_with(&requests, &mut on_answer)?,
    };
    session.close()?;
    rows.check()?;
    // Known only once the run's SYN-ACKs are in: rows printed earlier are
    // marked in the footer.
    crate::probe::mark_injected(&mut run.results);
    let mut pcap_packets = None;
    if let Some(pcap) = pcap {
        let who = match edited.changes.is_empty() {
            true => profile.name.clone(),
            false => format!(
                "{} with {}",
                profile.name,
                crate::model::edit::describe(&edited.changes, &edited.attributes)
            ),
        };
        pcap_packets = Some(write_probe_frames(pcap, &run.frames, &who, &run.results)?);
    }
    if args.json {
        print_json(args, &profile.name, &edited, &run, pcap_packets, out)?;
    } else {
        for r in &run.results {
            rows.print(r, style, out);
        }
        rows.check()?;
        table_footer(args, &run, pcap_packets, style, out)?;
    }
    Ok(exit_status(&run.results, args.exchange.request.is_some()))
}

/// 0 when every probe was answered (a SYN-ACK, a RST or an ICMP error),
/// 1 when some were not (`no-reply`): `synlab probe … && echo reachable`.
/// With `exchange`, 0 only when every exchange completed: a download that
/// stalled or was reset (or never began) is a failure of the probe, so that
/// `synlab probe --exchange … && echo ok` never passes a hang.
fn exit_status(results: &[ProbeResult], exchange: bool) -> Status {
    let ok = |o: Outcome| match exchange {
        true => o == Outcome::Complete,
        false => o != Outcome::NoReply,
    };
    if results.iter().all(|r| ok(r.outcome)) {
        Status::Ok
    } else {
        Status::Differ
    }
}

/// The table rows printed so far, each once, flushed as it is printed; the
/// first write error is kept for after the run (a probe run is not
/// interrupted by a closed pipe, only its printing stops).
struct Rows {
    printed: Vec<bool>,
    error: Option<std::io::Error>,
}

impl Rows {
    fn new(count: u16) -> Self {
        Rows {
            printed: vec![false; usize::from(count)],
            error: None,
        }
    }

    /// Print the row of `r` unless it was printed already.
    fn print(&mut self, r: &ProbeResult, style: Style, out: &mut dyn Write) {
        if self.error.is_some() || self.printed.get(r.index).copied().unwrap_or(false) {
            return;
        }
        if let Some(p) = self.printed.get_mut(r.index) {
            *p = true;
        }
        let written = writeln!(out, "{}", table_row(r, style)).and_then(|()| out.flush());
        self.error = written.err();
    }

    /// Whether printing stopped because the reader is gone.
    fn broken_pipe(&self) -> bool {
        self.error
            .as_ref()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The write error that stopped the printing, if any.
    fn check(&mut self) -> std::io::Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }
}

/// How many probes saw each outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
struct OutcomeCounts {
    syn_ack: usize,
    reset: usize,
    icmp: usize,
    no_reply: usize,
    #[serde(skip_serializing_if = "is_zero")]
    complete: usize,
    #[serde(skip_serializing_if = "is_zero")]
    stalled: usize,
    #[serde(skip_serializing_if = "is_zero")]
    reset_mid_transfer: usize,
    #[serde(skip_serializing_if = "is_zero")]
    http_error: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl OutcomeCounts {
    fn of(results: &[ProbeResult]) -> Self {
        let mut c = OutcomeCounts::default();
        for r in results {
            match r.outcome {
                Outcome::SynAck => c.syn_ack += 1,
                Outcome::Reset => c.reset += 1,
                Outcome::Icmp { .. } => c.icmp += 1,
                Outcome::NoReply => c.no_reply += 1,
                Outcome::Complete => c.complete += 1,
                Outcome::Stalled => c.stalled += 1,
                Outcome::ResetMidTransfer => c.reset_mid_transfer += 1,
                Outcome::HttpError { .. } => c.http_error += 1,
            }
        }
        c
    }
}

fn print_json(
    args: &ProbeArgs,
    profile: &str,
    edited: &Edited,
    run: &LiveRun,
    pcap_packets: Option<u64>,
    out: &mut dyn Write,
) -> Result<()> {
    let rtt =
        rtt_stats(&run.results).map(|s| json!({"min": s.min, "median": s.median, "max": s.max}));
    let doc = json!({
        "profile": profile,
        "changes": edited.changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "target": run.target.to_string(),
        "src": run.src.to_string(),
        "iface": run.iface,
        "count": run.results.len(),
        "timeout_s": args.pace.timeout,
        "final_wait_s": run.timeout.as_secs_f64(),
        "rate_requested": args.pace.rate,
        "rate_achieved": run.rate(),
        "elapsed_s": run.elapsed.as_secs_f64(),
        "exchange": args.exchange.request.as_ref().map(ToString::to_string),
        "stall_timeout_s": args.exchange.request.as_ref().map(|_| args.exchange.stall_timeout),
        "rst_suppressed_by": run.rst_table.as_ref().map(|t| format!("table inet {t}")),
        "pcap": args.pcap.as_ref().map(|p| p.display().to_string()),
        "pcap_packets": pcap_packets,
        "outcomes": OutcomeCounts::of(&run.results),
        "rtt_ms": rtt,
        "probes": run.results,
    });
    // As io::Error, so a closed pipe is recognised as one.
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

fn get(a: &Attributes, name: Field) -> String {
    a.get(name).map_or_else(|| "-".to_owned(), Value::to_string)
}

/// What an exchange did, in a few words.
fn exchange_cell(x: &ExchangeStats) -> String {
    let kb = |b: u64| b as f64 / 1000.0;
    let mut s = match x.stalled_at {
        Some(at) => format!("stalled at {:.1} KB", kb(at)),
        None => format!("{:.1} KB in {:.3} s", kb(x.bytes), x.duration_s),
    };
    if let Some(t) = x.throughput_mb_s {
        s.push_str(&format!(" ({t:.1} MB/s)"));
    }
    if let Some(status) = x.http_status {
        s.push_str(&format!(", HTTP {status}"));
    }
    if x.server_retransmissions + x.out_of_order > 0 {
        s.push_str(&format!(
            ", {} retransmitted, {} out of order",
            x.server_retransmissions, x.out_of_order
        ));
    }
    if x.truncated {
        s.push_str(", FIN before Content-Length");
    }
    if x.capped {
        s.push_str(", capped by --max-bytes");
    }
    s
}

/// A short description of the answer.
fn reply_cell(r: &ProbeResult) -> String {
    let past_handshake = matches!(
        r.outcome,
        Outcome::Complete
            | Outcome::Stalled
            | Outcome::ResetMidTransfer
            | Outcome::HttpError { .. }
    );
    if let Some(x) = r.exchange.as_ref().filter(|_| past_handshake) {
        return exchange_cell(x);
    }
    match (&r.outcome, &r.reply) {
        (Outcome::Icmp { .. }, _) => r
            .icmp_from
            .map_or_else(String::new, |ip| format!("from {ip}")),
        (_, Some(a)) => {
            let ttl = a.get(Field::IpTtl).or_else(|| a.get(Field::Ipv6Hlim));
            let mut s = format!(
                "ttl {} win {}",
                ttl.map_or_else(|| "-".into(), Value::to_string),
                get(a, Field::TcpWindowSizeValue)
            );
            if r.outcome == Outcome::SynAck {
                s.push_str(&format!(
                    " mss {} ws {} options {}",
                    get(a, Field::TcpOptionsMssVal),
                    get(a, Field::TcpOptionsWscaleShift),
                    get(a, Field::SynlabOptionsLayout)
                ));
            }
            s
        }
        _ => String::new(),
    }
}

/// The table's first lines, printed before the probes are sent.
fn table_header(
    args: &ProbeArgs,
    profile: &str,
    edited: &Edited,
    session: &LiveSession,
    style: Style,
    out: &mut dyn Write,
) -> Result<()> {
    let with = if edited.changes.is_empty() {
        String::new()
    } else {
        format!(
            " with {}",
            crate::model::edit::describe(&edited.changes, &edited.attributes)
        )
    };
    writeln!(
        out,
        "probe {profile}{with} -> {} from {} on {}: {} probes at {}/s, timeout up to {} s",
        args.target,
        session.src(),
        session.iface(),
        args.count,
        args.pace.rate,
        args.pace.timeout
    )?;
    let header = format!(
        "{:>5}  {:>5}  {:<10}  {:>8}  {}",
        "#",
        "sport",
        "outcome",
        "rtt_ms",
        if args.exchange.request.is_some() {
            "exchange"
        } else {
            "reply"
        }
    );
    writeln!(out, "{}", style.bold(&header))?;
    out.flush()?;
    Ok(())
}

/// One probe's line of the table.
fn table_row(r: &ProbeResult, style: Style) -> String {
    let outcome = format!("{:<10}", r.outcome.to_string());
    let outcome = match r.outcome {
        Outcome::SynAck | Outcome::Complete => style.green(&outcome),
        _ => style.red(&outcome),
    };
    let rtt = r.rtt.map_or_else(
        || "-".into(),
        |d| format!("{:.3}", d.as_secs_f64() * 1000.0),
    );
    let mut reply = reply_cell(r);
    if r.injected {
        reply.push_str(" INJECTED");
    }
    let line = format!(
        "{:>5}  {:>5}  {}  {:>8}  {}",
        r.index, r.src_port, outcome, rtt, reply
    );
    line.trim_end().to_owned()
}

/// The summary under the rows: counts, rate, round trips, notes.
fn table_footer(
    args: &ProbeArgs,
    run: &LiveRun,
    pcap_packets: Option<u64>,
    style: Style,
    out: &mut dyn Write,
) -> Result<()> {
    let counts = OutcomeCounts::of(&run.results);
    let mut summary = match args.exchange.request {
        Some(_) => format!(
            "{} complete, {} stalled, {} reset-mid-transfer, {} reset, {} icmp, {} no-reply",
            counts.complete,
            counts.stalled,
            counts.reset_mid_transfer,
            counts.reset,
            counts.icmp,
            counts.no_reply,
        ),
        None => format!(
            "{} syn-ack, {} reset, {} icmp, {} no-reply",
            counts.syn_ack, counts.reset, counts.icmp, counts.no_reply,
        ),
    };
    if counts.http_error > 0 {
        summary.push_str(&format!(", {} http-error", counts.http_error));
    }
    if let Some(rate) = run.rate() {
        summary.push_str(&format!("; {rate:.1} probes/s"));
    }
    if let Some(s) = rtt_stats(&run.results) {
        summary.push_str(&format!(
            "; rtt min {:.3} / median {:.3} / max {:.3} ms",
            s.min, s.median, s.max
        ));
    }
    writeln!(out, "{}", style.dim(&summary))?;
    for r in run.results.iter().filter(|r| r.injected) {
        let why = r.evidence.as_deref().unwrap_or_default();
        let line = format!("probe {}: injected: {why}", r.index);
        writeln!(out, "{}", style.red(&line))?;
    }
    if let (Some(path), Some(n)) = (&args.pcap, pcap_packets) {
        writeln!(
            out,
            "{}",
            style.dim(&format!("wrote {n} packets to {}", path.display()))
        )?;
    }
    if run.rst_table.is_none() && counts.syn_ack > 0 {
        writeln!(
            out,
            "{}",
            style.dim(
                "note: the kernel answered each SYN-ACK with a RST (no socket of its own sent the SYN); \
                 --suppress-rst drops those"
            )
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn source_ports_count_up_from_the_first() {
        let r = ports_from(50000, 3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.first, r.last), (50000, 50002));
        assert!(ports_from(65535, 2).is_err());
    }

    /// The exit status says whether every probe was answered: a RST or
    /// an ICMP error is an answer, silence is not.
    #[test]
    fn exit_status_is_one_when_a_probe_went_unanswered() {
        let with = |o| ProbeResult {
            outcome: o,
            ..result(Some(1))
        };
        let answered = [with(Outcome::SynAck), with(Outcome::Reset)];
        assert_eq!(exit_status(&answered, false), Status::Ok);
        let icmp = Outcome::Icmp {
            icmp_type: 3,
            code: 13,
        };
        assert_eq!(exit_status(&[with(icmp)], false), Status::Ok);
        let silent = [with(Outcome::SynAck), with(Outcome::NoReply)];
        assert_eq!(exit_status(&silent, false), Status::Differ);
    }

    /// Regression (issue 21, item 2): `probe --exchange` exited 0 with
    /// `2 complete, 2 stalled`, so `synlab probe … && echo ok` passed a
    /// hang. Any exchange that did not complete makes it exit 1.
    #[test]
    fn exit_status_with_exchange_is_one_unless_every_exchange_completed() {
        let with = |o| ProbeResult {
            outcome: o,
            ..result(Some(1))
        };
        let done = [with(Outcome::Complete), with(Outcome::Complete)];
        assert_eq!(exit_status(&done, true), Status::Ok);
        for failed in [
            Outcome::Stalled,
            Outcome::ResetMidTransfer,
            Outcome::Reset,
            Outcome::SynAck,
            Outcome::NoReply,
        ] {
            let some = [with(Outcome::Complete), with(failed)];
            assert_eq!(exit_status(&some, true), Status::Differ, "{failed}");
        }
    }

    /// Each row is printed once, whether it came while the batch ran or
    /// with the run's results at the end.
    #[test]
    fn rows_are_printed_once_each() {
        let mut rows = Rows::new(2);
        let mut out = Vec::new();
        let style = Style::new(false);
        let mut second = result(None);
        second.index = 1;
        rows.print(&second, style, &mut out);
        rows.print(&result(Some(3)), style, &mut out);
        rows.print(&second, style, &mut out);
        assert!(rows.check().is_ok());
        let text = String::from_utf8(out).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].trim_start().starts_with("1 "), "{text}");
        assert!(lines[1].contains("3.000"), "{text}");
    }

    fn result(rtt_ms: Option<u64>) -> ProbeResult {
        ProbeResult {
            index: 0,
            src_port: 1,
            seq: 0,
            outcome: Outcome::NoReply,
            rtt: rtt_ms.map(Duration::from_millis),
            syn: Attributes::new(),
            reply: None,
            icmp_from: None,
            exchange: None,
            injected: false,
            evidence: None,
        }
    }

    #[test]
    fn rtt_statistics() {
        let rs = [
            result(Some(3)),
            result(None),
            result(Some(1)),
            result(Some(2)),
        ];
        assert_eq!(
            rtt_stats(&rs),
            Some(RttStats {
                min: 1.0,
                median: 2.0,
                max: 3.0
            })
        );
        let even = [result(Some(1)), result(Some(2))];
        assert_eq!(rtt_stats(&even).map(|s| s.median), Some(1.5));
        assert_eq!(rtt_stats(&[result(None)]), None);
    }
}
