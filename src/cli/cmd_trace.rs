//! `synlab trace`: where on the path. The profile's SYN is sent with TTL
//! (hop limit) 1, 2, … until the endpoint answers; per hop the router, the
//! round trip, and what its ICMP quote shows changed (the state machine is
//! `crate::trace`; this file sends, reads the captured errors and prints).

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use super::edit_args::EditArgs;
use super::live_args::{ExchangeArgs, GuardArgs, Live, PaceArgs, RouteArgs};
use super::messages::message;
use super::status::Status;
use crate::exchange::Request;
use crate::handshake::Outcome;
use crate::io::live::{CapturedFrame, DataTraceRun, ExchangeOptions, LiveOptions, LiveSession};
use crate::model::{Attributes, Field, QuotedTcp};
use crate::probe::ProbeResult;
use crate::trace::{
    icmp_of_ethernet, locate_data, not_located, read_quote, Answer, HopReport, LocateConfig,
    Location, Locator, Probed, Reply, Side, Trace, TraceConfig, TraceReport,
};

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The profile whose SYN to send (e.g. linux, windows-10, macos-14).
    #[arg(long, required_unless_present = "from")]
    pub profile: Option<String>,
    /// Where to send: IP:PORT, [IPv6]:PORT. With --from: only SYNs to it
    /// are read as probes (default: the first SYN's destination).
    #[arg(long, value_parser = super::live_args::parse_target, required_unless_present = "from")]
    pub target: Option<SocketAddr>,
    /// Send nothing: read a capture (pcap or pcapng) of TTL-limited SYNs
    /// and their answers (traceroute -T, tracebox, tcpdump of a trace) and
    /// print the same table.
    #[arg(long, value_name = "FILE", conflicts_with = "profile")]
    pub from: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub route: RouteArgs,
    /// Trace a data segment of an established flow instead of the SYN:
    /// open a connection with the profile's SYN, then send the request's
    /// first segment (default http:/, a GET of /) with TTL 1, 2, ... until
    /// the endpoint acknowledges it, and reset the connection. Finds
    /// middleboxes that rewrite or drop only data. Turns --suppress-rst on.
    #[arg(
        long,
        value_name = "http:PATH|hex:BYTES",
        num_args = 0..=1,
        default_missing_value = "http:/",
        conflicts_with = "from"
    )]
    pub exchange: Option<Request>,
    /// The highest TTL (IPv6: hop limit) tried (1 to 64).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u8).range(1..=64))]
    pub max_ttl: u8,
    /// Probes per hop at most while it does not answer (2 to 10): a hop
    /// is said silent only when none of them was answered.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=10))]
    pub attempts: u8,
    #[command(flatten)]
    pub pace: PaceArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub edit: EditArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
}

/// The least time between rounds that ask a silent hop again: routers
/// rate-limit their ICMP errors, so a repeat sent at once would be refused
/// the same way. Linux's limit per destination is a bucket of 6 that
/// refills one a second; a router sees at most two of a round's probes
/// expire (one per trace), so three attempts half a second apart stay
/// within it.
const RETRY_GAP: Duration = Duration::from_millis(500);

pub fn run(args: &TraceArgs, dirs: &[std::path::PathBuf], out: &mut dyn Write) -> Result<Status> {
    if let Some(path) = &args.from {
        return from_file(args, path, out);
    }
    let (Some(name), Some(target)) = (&args.profile, args.target) else {
        anyhow::bail!("--profile and --target are needed unless --from");
    };
    let profile = crate::io::profile_store::resolve(name, dirs)?;
    let v6 = target.is_ipv6();
    let edited = args.edit.apply(&profile.attributes, v6)?;
    let exchange = ExchangeArgs {
        request: args.exchange.clone(),
        stall_timeout: 2.0,
        max_bytes: super::live_args::EXCHANGE_MAX_BYTES,
    };
    let live = Live {
        route: &args.route,
        pace: &args.pace,
        guard: &args.guard,
        exchange: &exchange,
    };
    let opts = LiveOptions {
        keep_frames: true,
        ..live.options()
    };
    let cfg = TraceConfig {
        max_ttl: args.max_ttl,
        attempts: args.attempts,
        ..TraceConfig::default()
    };
    if let Some(ex) = live.exchange_options() {
        // One connection: one source port.
        let mut session = LiveSession::open(target, &opts, 1)?;
        let run = session.run_data_trace(&edited.attributes, &ex, cfg)?;
        session.close()?;
        return print_exchange(args, target, &profile.name, &run, out);
    }
    let budget = usize::from(cfg.max_ttl) * usize::from(cfg.attempts);
    let mut session = LiveSession::open(target, &opts, budget)?;
    let report = trace_path(&mut session, &edited.attributes, cfg, v6)?;
    session.close()?;
    print(args, target, &profile.name, &report, out)
}

/// What `--exchange` adds to the output: how the handshake went and how
/// many data probes were sent.
struct ExchangeInfo {
    handshake: Outcome,
    rtt_ms: Option<f64>,
    probes: usize,
}

/// `--exchange`'s trace printed as asked: the same table and JSON, with
/// the handshake; a connection not made is said and is exit 1.
fn print_exchange(
    args: &TraceArgs,
    target: SocketAddr,
    profile: &str,
    run: &DataTraceRun,
    out: &mut dyn Write,
) -> Result<Status> {
    tracing::info!(
        "trace --exchange: {} data probe(s), {:.3} s",
        run.probes,
        run.elapsed.as_secs_f64()
    );
    let info = ExchangeInfo {
        handshake: run.handshake,
        rtt_ms: run.handshake_rtt.map(|d| d.as_secs_f64() * 1000.0),
        probes: run.probes,
    };
    let empty = TraceReport {
        reached: false,
        hops: Vec::new(),
        changes: Vec::new(),
    };
    let report = run.report.as_ref().unwrap_or(&empty);
    match args.json {
        true => print_json(target, profile, args.max_ttl, report, Some(&info), out)?,
        false => print_table(target, profile, args.max_ttl, report, Some(&info), out)?,
    }
    // Only the endpoint's ACK of the data is success: a RST (the
    // endpoint's or a box's) or an ICMP error ended the path without it.
    let acked = report.hops.last().is_some_and(|h| h.answer == Answer::Ack);
    Ok(match acked {
        true => Status::Ok,
        false => Status::Differ,
    })
}

/// The report printed as asked; the exit status says whether the
/// endpoint answered.
fn print(
    args: &TraceArgs,
    target: SocketAddr,
    profile: &str,
    report: &TraceReport,
    out: &mut dyn Write,
) -> Result<Status> {
    let max_ttl = match args.from {
        Some(_) => report.hops.last().map_or(args.max_ttl, |h| h.ttl),
        None => args.max_ttl,
    };
    if args.json {
        print_json(target, profile, max_ttl, report, None, out)?;
    } else {
        print_table(target, profile, max_ttl, report, None, out)?;
    }
    Ok(match report.reached {
        true => Status::Ok,
        false => Status::Differ,
    })
}

/// `--from FILE`: the probes and answers of a capture.
fn from_file(args: &TraceArgs, path: &std::path::Path, out: &mut dyn Write) -> Result<Status> {
    use crate::io::capture_file::{CaptureError, CaptureReader};
    use crate::model::LinkType;
    use crate::trace::{OfflineTrace, ProbeFrame};
    let what = || format!("--from {}", path.display());
    let mut reader = CaptureReader::open(path).with_context(what)?;
    let mut trace = OfflineTrace::new(args.target);
    // An error part way ends the reading; what came before it is traced
    // and printed, then the error is said and the status is trouble.
    let (mut stopped, mut read, mut unread) = (None, 0u64, 0u64);
    while let Some(frame) = reader.next_frame() {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                stopped = Some((e, read));
                break;
            }
        };
        read += 1;
        let Ok(link) = LinkType::try_from(frame.linktype) else {
            unread += 1;
            continue;
        };
        trace.feed(ProbeFrame {
            at: frame.timestamp,
            link,
            data: frame.data,
        });
    }
    let said = |(e, read): &(CaptureError, u64)| {
        format!(
            "--from {}: {e} (the {read} packets before it were read)",
            path.display()
        )
    };
    let (Some(target), Some(report)) = (trace.target(), trace.finish()) else {
        match &stopped {
            Some(why) => anyhow::bail!("{}; no SYN probes before it", said(why)),
            None => anyhow::bail!("--from {}: no SYN probes in it", path.display()),
        }
    };
    let name = format!("capture {}", path.display());
    let status = print(args, target, &name, &report, out)?;
    if unread > 0 {
        message!(
            "--from {}: {unread} packets of link types synlab does not read were skipped",
            path.display()
        );
    }
    Ok(match &stopped {
        Some(why) => {
            message!("{}", said(why));
            Status::Trouble
        }
        None => status,
    })
}

/// `bisect --locate`: on the search's own session, trace the passing
/// and the failing SYN side by side (each round's probes of both in one
/// batch, so their repeats share the waits), then ask the failing SYN
/// again where its location is not yet sure ([`Locator`]); where the
/// failing one stops short of the passing one (`None`: it does not).
/// `distance`: routers to the endpoint, from the search's SYN-ACKs; the
/// first round then sends TTLs up to the endpoint's and no further (a
/// window of 8 TTLs overshot a 5-hop path by 3 probes per trace).
/// `baseline`: answers and probes of the SYNs the search saw pass.
pub(super) fn locate_on(
    session: &mut LiveSession,
    [pass, fail]: [&Attributes; 2],
    distance: Option<u8>,
    baseline: (u32, u32),
    v6: bool,
) -> Result<Option<Located>> {
    let default = LocateConfig::default();
    let cfg = LocateConfig {
        trace: TraceConfig {
            window: distance.map_or(default.trace.window, |d| d.saturating_add(1)),
            ..default.trace
        },
        ..default
    };
    let mut locator = Locator::new(cfg, baseline);
    let mut rounds = Rounds::default();
    loop {
        let round = locator.next_round();
        if round.is_empty() {
            break;
        }
        let repeats = round
            .iter()
            .any(|&(side, ttl)| locator.is_repeat(side, ttl));
        let probes: Vec<(&Attributes, u8)> = round
            .iter()
            .map(|&(side, ttl)| match side {
                Side::Pass => (pass, ttl),
                Side::Fail => (fail, ttl),
            })
            .collect();
        let replies = rounds.send(session, &probes, repeats, v6)?;
        for (reply, &(side, ttl)) in replies.into_iter().zip(&round) {
            locator.record(side, ttl, reply);
        }
    }
    tracing::info!(
        "locate: {} probes in {} rounds, first window {} TTLs",
        rounds.sent,
        rounds.count,
        cfg.trace.window
    );
    let found = locator.finish(pass, fail);
    let not_located = found
        .location
        .is_none()
        .then(|| not_located(&found.fail, Probed::Syn));
    Ok(Some(Located {
        probed: Probed::Syn,
        location: found.location,
        not_located,
        passing: found.pass,
        failing: found.fail,
    }))
}

/// `bisect --exchange --locate`: the request's first data segment traced
/// for the passing and then the failing side, each on a connection of its
/// own made with its side's SYN, for a box that lets the handshake through
/// and stops the data. `None` when a side's connection is not made: then
/// the SYNs are what differ, and the caller traces them ([`locate_on`]).
/// Each hop is asked `TraceConfig::attempts` times, up to the endpoint's
/// distance (read from each connection's SYN-ACK).
pub(super) fn locate_data_on(
    session: &mut LiveSession,
    [pass, fail]: [&Attributes; 2],
    ex: &ExchangeOptions,
) -> Result<Option<Located>> {
    let cfg = TraceConfig::default();
    let passing = session.run_data_trace(pass, ex, cfg)?;
    let Some(passing_report) = passing.report else {
        return Ok(None);
    };
    let failing = session.run_data_trace(fail, ex, cfg)?;
    let Some(failing_report) = failing.report else {
        return Ok(None);
    };
    tracing::info!(
        "locate: {} data probes on two connections",
        passing.probes + failing.probes
    );
    let (location, not_located) = match locate_data(&passing_report, &failing_report) {
        Ok(l) => (Some(l), None),
        Err(why) => (None, Some(why)),
    };
    Ok(Some(Located {
        probed: Probed::Data,
        location,
        not_located,
        passing: passing_report,
        failing: failing_report,
    }))
}

/// `bisect --locate`'s finding: where the failing probe dies, or why that
/// is not said (`not_located`), and both traces.
pub(super) struct Located {
    pub probed: Probed,
    pub location: Option<Location>,
    pub not_located: Option<String>,
    pub passing: TraceReport,
    pub failing: TraceReport,
}

/// The most probes `bisect --locate` adds to the session: two traces,
/// and the failing SYN asked again at the hops its location rests on.
pub(super) const LOCATE_BUDGET: usize = 2 * 30 * 3 + 4 * 24;

/// Rounds of TTL-limited probes sent on a session; a round that asks a
/// hop again waits [`RETRY_GAP`] after the one before.
#[derive(Default)]
struct Rounds {
    last: Option<Instant>,
    sent: usize,
    count: usize,
}

impl Rounds {
    /// Send each SYN with its TTL in one batch; each probe's reply, in order.
    fn send(
        &mut self,
        session: &mut LiveSession,
        probes: &[(&Attributes, u8)],
        repeats: bool,
        v6: bool,
    ) -> Result<Vec<Reply>> {
        if let (Some(t), true) = (self.last, repeats) {
            std::thread::sleep(RETRY_GAP.saturating_sub(t.elapsed()));
        }
        self.last = Some(Instant::now());
        let ttl_field = Field::IpTtl.for_family(v6);
        let requests: Vec<Attributes> = probes
            .iter()
            .map(|&(syn, ttl)| {
                let mut a = syn.clone();
                a.insert(ttl_field, ttl);
                a
            })
            .collect();
        self.sent += requests.len();
        self.count += 1;
        let run = session.run_batch(&requests)?;
        Ok(run
            .results
            .iter()
            .map(|r| reply_of(r, &run.frames, run.target))
            .collect())
    }
}

/// Run the trace's rounds on the session: each round's TTLs in one batch.
fn trace_path(
    session: &mut LiveSession,
    syn: &Attributes,
    cfg: TraceConfig,
    v6: bool,
) -> Result<TraceReport> {
    let mut reports = trace_paths(session, &[syn], cfg, v6)?;
    reports
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no trace was run"))
}

/// Trace several SYNs in lockstep: each round, every trace's TTLs in one
/// batch ([`Rounds`]).
fn trace_paths(
    session: &mut LiveSession,
    syns: &[&Attributes],
    cfg: TraceConfig,
    v6: bool,
) -> Result<Vec<TraceReport>> {
    let mut traces: Vec<Trace> = syns.iter().map(|_| Trace::new(cfg)).collect();
    let mut rounds = Rounds::default();
    loop {
        // (trace, ttl) of every probe of the round.
        let round: Vec<(usize, u8)> = traces
            .iter_mut()
            .enumerate()
            .flat_map(|(i, t)| t.next_round().into_iter().map(move |ttl| (i, ttl)))
            .collect();
        if round.is_empty() {
            break;
        }
        let repeats = round.iter().any(|&(i, ttl)| traces[i].is_repeat(ttl));
        let probes: Vec<(&Attributes, u8)> = round.iter().map(|&(i, ttl)| (syns[i], ttl)).collect();
        let replies = rounds.send(session, &probes, repeats, v6)?;
        for (reply, &(i, ttl)) in replies.into_iter().zip(&round) {
            if let Some(t) = traces.get_mut(i) {
                t.record(ttl, reply);
            }
        }
    }
    tracing::info!(
        "trace: {} probes for {} SYN(s), first window {} TTLs",
        rounds.sent,
        syns.len(),
        cfg.window
    );
    Ok(traces
        .iter()
        .zip(syns)
        .map(|(t, syn)| t.finish(syn))
        .collect())
}

/// A probe's result as the trace reads it; an ICMP error's quote is taken
/// from the captured frame that carried it.
fn reply_of(r: &ProbeResult, frames: &[CapturedFrame], target: SocketAddr) -> Reply {
    let mut reply = Reply {
        rtt: r.rtt,
        sent: Some(r.syn.clone()),
        ..Reply::none()
    };
    match r.outcome {
        Outcome::SynAck | Outcome::Reset => {
            let a = r.reply.as_ref();
            let num = |f: Field| a.and_then(|a| a.num(f));
            reply.answer = match r.outcome {
                Outcome::SynAck => Answer::SynAck,
                _ => Answer::Rst,
            };
            reply.from = Some(target.ip());
            reply.ttl = num(Field::IpTtl)
                .or_else(|| num(Field::Ipv6Hlim))
                .and_then(|t| u8::try_from(t).ok());
            reply.ip_id = num(Field::IpId).and_then(|t| u16::try_from(t).ok());
            reply.window = num(Field::TcpWindowSizeValue).and_then(|t| u16::try_from(t).ok());
        }
        Outcome::Icmp { icmp_type, .. } => {
            let v6 = target.is_ipv6();
            let time_exceeded = (!v6 && icmp_type == 11) || (v6 && icmp_type == 3);
            reply.answer = match time_exceeded {
                true => Answer::TimeExceeded,
                false => Answer::Unreachable,
            };
            reply.from = r.icmp_from;
            let frame = frames.iter().find_map(|f| {
                let e = icmp_of_ethernet(&f.data)?;
                let q = QuotedTcp::parse(&e.quote)?;
                (Some(e.from) == r.icmp_from && q.src.port() == r.src_port && q.seq == r.seq)
                    .then_some(e)
            });
            if let Some(e) = frame {
                reply.ttl = Some(e.ttl);
                reply.quote = read_quote(&e.quote, e.original_len);
            }
        }
        _ => {}
    }
    reply
}

fn print_json(
    target: SocketAddr,
    profile: &str,
    max_ttl: u8,
    report: &TraceReport,
    exchange: Option<&ExchangeInfo>,
    out: &mut dyn Write,
) -> Result<()> {
    let mut doc = json!({
        "target": target.to_string(),
        "profile": profile,
        "max_ttl": max_ttl,
        "reached": report.reached,
        "hops": report.hops,
        "changes": report.changes,
    });
    if let (Some(x), Some(obj)) = (exchange, doc.as_object_mut()) {
        obj.insert("exchange".into(), json!(true));
        obj.insert("handshake".into(), json!(x.handshake.name()));
        obj.insert("handshake_rtt_ms".into(), json!(x.rtt_ms));
        obj.insert("probes".into(), json!(x.probes));
    }
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}

fn print_table(
    target: SocketAddr,
    profile: &str,
    max_ttl: u8,
    report: &TraceReport,
    exchange: Option<&ExchangeInfo>,
    out: &mut dyn Write,
) -> Result<()> {
    let Some(x) = exchange else {
        writeln!(out, "trace {profile} -> {target} (max TTL {max_ttl})")?;
        return print_rows(max_ttl, report, out);
    };
    writeln!(
        out,
        "trace {profile} -> {target} (max TTL {max_ttl}, the request's first data segment)"
    )?;
    let rtt = x
        .rtt_ms
        .map_or_else(String::new, |ms| format!(" in {ms:.1} ms"));
    writeln!(out, "handshake: {}{rtt}", x.handshake.name())?;
    if x.handshake != Outcome::SynAck {
        writeln!(out, "no connection: no data segment was sent")?;
        return Ok(());
    }
    // The data trace stops near the endpoint's distance (its SYN-ACK's
    // TTL says it), before --max-ttl: say where it stopped.
    let tried = report.hops.last().map_or(max_ttl, |h| h.ttl);
    print_rows(tried, report, out)?;
    if !report.reached {
        let last = report.hops.iter().rev().find(|h| h.answer != Answer::None);
        match last {
            Some(h) => writeln!(
                out,
                "the data segment reached hop {} ({}) and no further: nothing answered for it past there",
                h.ttl,
                h.router.map_or_else(|| "?".to_owned(), |r| r.to_string())
            )?,
            None => writeln!(out, "no hop answered for the data segment")?,
        }
    }
    writeln!(out, "{} data probe(s) sent", x.probes)?;
    Ok(())
}

/// The hop rows, the changes and whether the endpoint answered.
fn print_rows(max_ttl: u8, report: &TraceReport, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "{:>3}  {:<28} {:>9}  {:<13}  {:>5}  CHANGED",
        "TTL", "ROUTER", "RTT", "ANSWER", "QUOTE"
    )?;
    for h in &report.hops {
        writeln!(out, "{}", hop_row(h))?;
    }
    if report.changes.is_empty() {
        writeln!(
            out,
            "no field changed on the way (as far as the quotes show)"
        )?;
    }
    for c in &report.changes {
        let router = c.router.map_or_else(|| "?".to_owned(), |r| r.to_string());
        writeln!(
            out,
            "changed at hop {} ({router}): {} {} -> {}",
            c.hop,
            c.name,
            value_text(c.sent.as_ref()),
            value_text(c.seen.as_ref())
        )?;
    }
    if !report.reached {
        writeln!(out, "the endpoint did not answer up to TTL {max_ttl}")?;
    }
    Ok(())
}

fn value_text(v: Option<&crate::model::Value>) -> String {
    v.map_or_else(|| "(absent)".to_owned(), ToString::to_string)
}

/// One row; a hop that never answered is `* * *` with the probes it got.
fn hop_row(h: &HopReport) -> String {
    if h.answer == Answer::None {
        return format!("{:>3}  * * *  (no answer to {} probe(s))", h.ttl, h.probes);
    }
    let router = h.router.map_or_else(|| "?".to_owned(), |r| r.to_string());
    let rtt = h
        .rtt_ms
        .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms"));
    let quote = h
        .quoted_bytes
        .map_or_else(|| "-".to_owned(), |b| format!("{b} B"));
    let mut changed: Vec<String> = h
        .changed
        .iter()
        .map(|c| {
            format!(
                "{} {}->{}",
                c.name,
                value_text(c.sent.as_ref()),
                value_text(c.seen.as_ref())
            )
        })
        .collect();
    if !h.not_quoted.is_empty() {
        changed.push(format!("({} field(s) not quoted)", h.not_quoted.len()));
    }
    if h.injected == Some(true) {
        let why = h.evidence.as_deref().unwrap_or_default();
        changed.push(format!("INJECTED: {why}"));
    }
    let changed = match changed.is_empty() {
        true => "-".to_owned(),
        false => changed.join(", "),
    };
    format!(
        "{:>3}  {router:<28} {rtt:>9}  {:<13}  {quote:>5}  {changed}",
        h.ttl,
        h.answer.name()
    )
}
