//! `synlab sweep`: A/B connectivity of several profiles across a target
//! list, at a set rate, from one raw socket; one row per target as it is
//! decided, and a summary grouped by prefix at the end (or at Ctrl-C).
//!
//! The decisions are the core's ([`crate::sweep`]); here are the flags,
//! the target stream, the network loop (send what the rate allows, read
//! what arrived, time out what is due) and the printers.

mod bisect;
mod exchange;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value as Json};

use super::live_args::{ExchangeArgs, GuardArgs, RouteArgs, EXCHANGE_TOTAL};
use super::messages::message;
use super::status::Status;
use crate::columns::{Cell, CellType};
use crate::exchange::Limits;
use crate::handshake::Outcome;
use crate::io::interrupt::{Interrupted, Signals, StopSignal};
use crate::io::live::{ExchangeOptions, LiveOptions, LiveSession};
use crate::io::live_oracle::LiveOracle;
use crate::io::nft::RstSuppressor;
use crate::io::parquet_rows::RowsSink;
use crate::io::privilege::{self, Needs};
use crate::io::raw::{self, DatalinkSource, FrameSource, PacketSender, RawSender};
use crate::model::craft::Volatile;
use crate::model::{decode_frame, Attributes, Decoded, LinkType, TcpFlags};
use crate::probe::{check_target, PortRange};
use crate::sweep::targets::{parse_line, Prefix};
use crate::sweep::template::SynTemplate;
use crate::sweep::{Condition, Decided, Summary, Sweep, SweepConfig, SweepParams};
use bisect::{Bisector, Explained};
use exchange::Runs;

#[derive(Debug, Args)]
#[command(mut_args = words)]
pub struct SweepArgs {
    /// The targets: a CIDR prefix (198.19.0.0/20, at most a /8), a file
    /// with one address a line (# comments), or - for standard input.
    #[arg(long, value_name = "FILE|CIDR|-")]
    pub targets: String,
    /// The TCP port probed on every target.
    #[arg(long)]
    pub port: u16,
    /// The profiles to compare: names or .toml files, comma-separated or
    /// repeated, at least two (as survey's --profile; `--profiles DIR` is
    /// the global option naming profile directories).
    #[arg(
        long = "profile",
        value_name = "A,B",
        value_delimiter = ',',
        required = true
    )]
    pub profile: Vec<String>,
    /// Rounds (one SYN of every profile each) before a target is decided;
    /// failures add rounds, up to four times as many (at least 12).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub count: u32,
    /// SYNs per second (1 to 2,000,000).
    #[arg(long, default_value_t = 10000.0, value_parser = parse_rate)]
    pub rate: f64,
    /// Seconds to wait for each SYN's answer (0.01 to 60).
    #[arg(long, default_value_t = 1.0, value_parser = parse_timeout)]
    pub timeout: f64,
    /// Targets probed at a time (default: what the rate sends in a
    /// timeout); with --exchange, exchanges running at a time (default 64).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub window: Option<u32>,
    #[command(flatten)]
    pub route: RouteArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    /// One JSON document at the end: every row and the summary (holds all
    /// rows; for many targets use --jsonl).
    #[arg(long, conflicts_with = "jsonl")]
    pub json: bool,
    /// One JSON row per target, written as each is decided; the summary
    /// goes to standard error.
    #[arg(long)]
    pub jsonl: bool,
    /// After the sweep, why each broken target fails: one target of each
    /// /24 (/64) and failing profiles is bisected (a passing profile
    /// against the failing one), the others confirm its culprits with a
    /// few probes each; broken rows are written then, with their culprits.
    #[arg(long)]
    pub bisect_broken: bool,
    /// Also write the rows to a Parquet file: `target`, `port`,
    /// `condition`, `failing`, `NAME.pass` and `NAME.probes` per profile,
    /// `culprits`, `culprits_by`, `bisected_at`.
    #[arg(long, value_name = "FILE")]
    pub parquet: Option<std::path::PathBuf>,
}

/// The shared flags as sweep shows them (worded for `probe` where declared).
fn words(arg: clap::Arg) -> clap::Arg {
    match arg.get_id().as_str() {
        "exchange" => arg.help(
            "Each probe a whole exchange past the handshake (as `probe --exchange`: \
             http:PATH, a URL or hex:BYTES), many at once (--window) from one raw socket; \
             a profile passes a target when its exchange is complete (stalled, \
             reset-mid-transfer, http-error, no-reply fail), so a stack whose handshake \
             works but whose download stalls is broken. Suppresses the kernel's RSTs \
             (nftables, CAP_NET_ADMIN) for the sweep's source ports until it ends",
        ),
        "suppress_rst" => arg.help(
            "Refused without --exchange (the kernel's RSTs clear the server's half-open \
             connections); with --exchange it is on anyway",
        ),
        _ => arg,
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    match (1.0..=2_000_000.0).contains(&v) {
        true => Ok(v),
        false => Err("must be between 1 and 2000000 SYNs per second".into()),
    }
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    match (0.01..=60.0).contains(&v) {
        true => Ok(v),
        false => Err("must be between 0.01 and 60 seconds".into()),
    }
}

/// The targets, streamed.
type Targets = Box<dyn Iterator<Item = Result<IpAddr>>>;

/// A prefix, a file or standard input, as an iterator; for a prefix, its
/// size and last address (checked by the guard before anything is sent).
fn open_targets(spec: &str) -> Result<(Targets, Option<(u64, IpAddr)>)> {
    if spec.contains('/') && !std::path::Path::new(spec).exists() {
        let prefix = Prefix::parse(spec)?;
        let len = u64::try_from(prefix.remaining()).unwrap_or(u64::MAX);
        let last = prefix.ends().1;
        return Ok((Box::new(prefix.map(Ok)), Some((len, last))));
    }
    let reader: Box<dyn BufRead> = match spec {
        "-" => Box::new(std::io::stdin().lock()),
        path => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("{path}: cannot open"))?,
        )),
    };
    let lines = reader
        .lines()
        .zip(1u64..)
        .filter_map(|(line, n)| match line {
            Ok(text) => parse_line(n, &text).map_err(Into::into).transpose(),
            Err(e) => Some(Err(anyhow::Error::new(e).context(format!("line {n}")))),
        });
    Ok((Box::new(lines), None))
}

/// Each profile's SYN, crafted once (for `first`, from `src`): a profile
/// that cannot be built fails the sweep before anything is sent.
fn templates(
    names: &[String],
    attrs: &[Attributes],
    src: IpAddr,
    first: SocketAddr,
) -> Result<Vec<SynTemplate>> {
    let clock_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let v = Volatile {
        src: SocketAddr::new(src, PortRange::default().first),
        dst: first,
        seq: 1,
        ack: 0,
        ip_id: 1,
        flow_label: 1,
        tsval: clock_ms as u32,
        tsecr: 0,
    };
    names
        .iter()
        .zip(attrs)
        .map(|(n, a)| SynTemplate::new(a, &v).with_context(|| format!("profile {n}: its SYN")))
        .collect()
}

/// What a captured frame says to the sweep: an answer to one of our ports.
fn answer(frame: &[u8]) -> Option<(SocketAddr, u16, Option<u32>, Outcome)> {
    match decode_frame(LinkType::Ethernet, frame) {
        Decoded::Tcp(seg) => {
            let f = seg.flags;
            let acked = f.has(TcpFlags::ACK).then_some(seg.ack);
            if f.is_syn_ack() {
                Some((seg.src, seg.dst.port(), acked, Outcome::SynAck))
            } else if f.has(TcpFlags::RST) {
                Some((seg.src, seg.dst.port(), acked, Outcome::Reset))
            } else {
                None
            }
        }
        Decoded::Icmp(e) => Some((
            e.quoted.dst,
            e.quoted.src.port(),
            Some(e.quoted.seq.wrapping_add(1)),
            Outcome::Icmp {
                icmp_type: e.icmp_type,
                code: e.code,
            },
        )),
        Decoded::Skipped(_) => None,
    }
}

/// Counters of the run, for the summary line.
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    sent: u64,
    answered: u64,
    elapsed: Duration,
    /// Time spent crafting and sending (what one core generates at).
    sending: Duration,
    /// `--exchange`: `sent` counts exchanges started, `answered` those
    /// the server answered (anything but no-reply).
    exchanges: bool,
    /// Probes of the decided targets answered after their timeout (and
    /// counted: their target was still open).
    late: u64,
}

/// How the loop ended.
enum Ended {
    Done,
    Stopped(StopSignal),
}

/// The sweep's network side and its pacing.
struct Net<'a> {
    sender: &'a mut dyn PacketSender,
    source: &'a mut dyn FrameSource,
    src: IpAddr,
    rate: f64,
}

/// Frames read per turn at most, so sending goes on under a flood.
const READ_BURST: usize = 512;
/// The most sending may fall behind the rate (then it bursts to catch up).
const MAX_LAG: Duration = Duration::from_millis(10);
/// How often the loop looks for a stop signal.
const SIGNAL_CHECK: Duration = Duration::from_millis(20);

/// The send pace both sweep loops keep: probes allowed by `rate` since the
/// start, never further behind than [`MAX_LAG`]'s worth (then it bursts to
/// catch up, rather than flooding after a stall).
struct Pace {
    rate: f64,
    lag: u64,
    /// Probes the pace has used up.
    paced: u64,
}

impl Pace {
    fn new(rate: f64) -> Self {
        Pace {
            rate,
            lag: (rate * MAX_LAG.as_secs_f64()).max(1.0) as u64,
            paced: 0,
        }
    }

    /// Move on to `now` (since the start): the probes allowed by then, for
    /// [`Pace::may_send`].
    fn catch_up(&mut self, now: Duration) -> u64 {
        let allowed = (now.as_secs_f64() * self.rate) as u64 + 1;
        self.paced = self.paced.max(allowed.saturating_sub(self.lag));
        allowed
    }

    fn may_send(&self, allowed: u64) -> bool {
        self.paced < allowed
    }

    fn sent(&mut self) {
        self.paced += 1;
    }
}

/// Targets into the sweep while it has room (its window, not the list,
/// bounds memory); `more` turns false when the list ends.
fn admit_targets(
    sweep: &mut Sweep,
    targets: &mut dyn Iterator<Item = Result<SocketAddr>>,
    more: &mut bool,
) -> Result<()> {
    while *more && sweep.wants_target() {
        match targets.next() {
            Some(t) => sweep.admit(t?),
            None => *more = false,
        }
    }
    Ok(())
}

/// The loop: admit, send at the rate, read, time out, hand out decisions.
fn drive(
    net: &mut Net<'_>,
    sweep: &mut Sweep,
    targets: &mut dyn Iterator<Item = Result<SocketAddr>>,
    templates: &[SynTemplate],
    stop: &mut dyn FnMut() -> Option<StopSignal>,
    decided: &mut dyn FnMut(Decided) -> Result<()>,
    c: &mut Counters,
) -> Result<Ended> {
    let start = Instant::now();
    let mut more_targets = true;
    let mut last_check = Duration::ZERO;
    let mut pace = Pace::new(net.rate);
    let mut caught_up = Duration::ZERO;
    let mut bytes = Vec::with_capacity(80);
    loop {
        admit_targets(sweep, targets, &mut more_targets)?;
        let now = start.elapsed();
        let allowed = pace.catch_up(now);
        let burst = Instant::now();
        while pace.may_send(allowed) {
            let Some(p) = sweep.next_probe(now) else {
                break;
            };
            templates[p.profile].fill(&mut bytes, net.src, p.target, p.src_port, p.seq);
            net.sender
                .send(&bytes, p.target.ip())
                .with_context(|| format!("sending a SYN to {}", p.target))?;
            c.sent += 1;
            pace.sent();
        }
        c.sending += burst.elapsed();
        // Silence is concluded only up to when the socket was last read
        // empty: an answer that arrived in time but is still queued (a
        // loaded machine, a burst) is read before its probe times out.
        let reading = start.elapsed();
        for _ in 0..READ_BURST {
            let Some(frame) = net.source.next_frame().context("reading answers")? else {
                caught_up = reading;
                break;
            };
            if let Some((from, port, acks, outcome)) = answer(&frame.data) {
                if sweep.on_answer(from, port, acks, outcome) {
                    c.answered += 1;
                }
            }
        }
        sweep.poll(caught_up);
        while let Some(d) = sweep.pop_decided() {
            decided(d)?;
        }
        c.elapsed = start.elapsed();
        if !more_targets && sweep.is_idle() {
            return Ok(Ended::Done);
        }
        if c.elapsed >= last_check + SIGNAL_CHECK {
            last_check = c.elapsed;
            if let Some(s) = stop() {
                return Ok(Ended::Stopped(s));
            }
        }
    }
}

/// Whether profile `i` passed at this target.
fn passed(d: &Decided, i: usize) -> bool {
    match d.condition {
        Condition::Works => true,
        Condition::Broken => !d.failing.contains(&i),
        Condition::Transient => d
            .reference
            .is_some_and(|r| d.tallies.get(i).is_some_and(|t| t.count(r) > 0)),
        Condition::Offline => false,
    }
}

/// A target's JSON row; with `--bisect-broken`, a broken target's
/// culprits and how they were found (`culprits_by`: bisected, confirmed or
/// unconfirmed with the bisected target in `bisected_at`, or failed).
fn row(d: &Decided, names: &[String], explained: Option<&Explained>, runs: Option<&Runs>) -> Json {
    let profiles: serde_json::Map<String, Json> = d
        .tallies
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut v = json!({"pass": passed(d, i), "probes": t.probes(), "outcomes": t.counts()});
            if let (true, Some(map)) = (t.late > 0, v.as_object_mut()) {
                // Answers after their probe's timeout, counted all the same.
                map.insert("late".into(), json!(t.late));
            }
            if let (Some(runs), Some(map)) = (runs, v.as_object_mut()) {
                let bytes: Vec<u64> = runs
                    .get(i)
                    .map_or_else(Vec::new, |r| r.iter().map(|r| r.bytes).collect());
                map.insert("bytes".into(), json!(bytes));
                let capped = runs
                    .get(i)
                    .map_or(0, |r| r.iter().filter(|r| r.capped).count());
                if capped > 0 {
                    // `--max-bytes` cut these downloads short: said, as probe says it.
                    map.insert("capped".into(), json!(capped));
                }
            }
            (names[i].clone(), v)
        })
        .collect();
    let mut row = json!({
        "target": d.target.ip().to_string(),
        "port": d.target.port(),
        "condition": d.condition.name(),
        "failing": failing_names(d, names),
        "profiles": profiles,
        "culprits": explained.map_or_else(Vec::new, |e| e.culprits.clone()),
    });
    if let (Some(e), Some(map)) = (explained, row.as_object_mut()) {
        map.insert("culprits_by".into(), e.how.name().into());
        if let Some(by) = e.how.by() {
            map.insert("bisected_at".into(), by.to_string().into());
        }
    }
    row
}

fn failing_names(d: &Decided, names: &[String]) -> Vec<String> {
    d.failing.iter().map(|&i| names[i].clone()).collect()
}

/// A target's text line (only targets that do not simply work).
/// With `--exchange` (`runs`), a profile that failed some exchanges shows
/// how they ended and the most response bytes one of them received.
fn text_line(
    d: &Decided,
    names: &[String],
    explained: Option<&Explained>,
    runs: Option<&Runs>,
) -> String {
    let counts: Vec<String> = d
        .tallies
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (t, n))| {
            let pass = d.reference.map_or(0, |r| t.count(r));
            let failed = runs
                .and_then(|r| r.get(i))
                .map(|ran| {
                    let failed: Vec<_> = ran
                        .iter()
                        .filter(|r| Some(r.outcome) != d.reference)
                        .collect();
                    let most = failed.iter().map(|r| r.bytes).max().unwrap_or(0);
                    let how: Vec<String> = t
                        .counts()
                        .into_iter()
                        .filter(|(o, _)| d.reference.is_none_or(|r| *o != r.to_string()))
                        .map(|(o, k)| format!("{o} {k}"))
                        .collect();
                    let bytes = match most {
                        0 => String::new(),
                        n => format!("; at most {n} bytes"),
                    };
                    let capped = ran.iter().filter(|r| r.capped).count();
                    let bytes = match capped {
                        0 => bytes,
                        n => format!("{bytes}; {n} capped by --max-bytes"),
                    };
                    match failed.is_empty() {
                        true => String::new(),
                        false => format!(" [{}{bytes}]", how.join(", ")),
                    }
                })
                .unwrap_or_default();
            format!("{n} {pass}/{}{failed}", t.probes())
        })
        .collect();
    let failing = match d.failing.is_empty() {
        true => String::new(),
        false => format!(" for {}", failing_names(d, names).join(", ")),
    };
    let culprits = match explained {
        Some(e) if !e.culprits.is_empty() => {
            let by = e.how.by().map_or(String::new(), |b| format!(" at {b}"));
            format!(": {} ({}{by})", e.labels().join(", "), e.how.name())
        }
        Some(e) => format!(": no culprit ({})", e.how.name()),
        None => String::new(),
    };
    format!(
        "{}  {}{failing}{culprits}  ({})",
        d.target.ip(),
        d.condition.name(),
        counts.join(", ")
    )
}

/// The summary's lines: totals, then the groups by prefix (the largest
/// eight of each condition and failing set).
fn summary_lines(s: &Summary, c: &Counters, interrupted: bool) -> Vec<String> {
    let secs = c.elapsed.as_secs_f64();
    let per = |n: u64| n as f64 / secs.max(1e-9);
    let counts: Vec<String> = Condition::ALL
        .iter()
        .map(|k| {
            format!(
                "{} {}",
                s.by_condition.get(k).copied().unwrap_or(0),
                k.name()
            )
        })
        .collect();
    let head = match interrupted {
        true => "interrupted: ",
        false => "",
    };
    let late = match c.late {
        0 => String::new(),
        n => format!(", {n} of them after their timeout"),
    };
    let mut lines = vec![match c.exchanges {
        false => format!(
            "{head}{} targets: {}; {} SYNs in {secs:.2} s ({:.0}/s; sent at {:.0}/s while sending), {} answered ({:.0}/s){late}",
            s.total(),
            counts.join(", "),
            c.sent,
            per(c.sent),
            c.sent as f64 / c.sending.as_secs_f64().max(1e-9),
            c.answered,
            per(c.answered),
        ),
        true => format!(
            "{head}{} targets: {}; {} exchanges in {secs:.2} s ({:.0}/s), {} answered{late}",
            s.total(),
            counts.join(", "),
            c.sent,
            per(c.sent),
            c.answered,
        ),
    }];
    for (name, n) in &s.by_failing {
        lines.push(format!("{n} targets broken for {name}"));
    }
    let mut shown: BTreeMap<(Condition, Vec<String>), (usize, u64, u64)> = BTreeMap::new();
    for g in s.groups() {
        let e = shown.entry((g.condition, g.failing.clone())).or_default();
        e.0 += 1;
        if e.0 <= 8 {
            let what = match g.failing.is_empty() {
                true => g.condition.name().to_owned(),
                false => format!("{} for {}", g.condition.name(), g.failing.join(", ")),
            };
            let culprits = match g.culprits.is_empty() {
                true => String::new(),
                false => format!(": {}", g.culprits.join(", ")),
            };
            lines.push(format!(
                "  {} targets in {} {what}{culprits}",
                g.targets, g.prefix
            ));
        } else {
            e.1 += 1;
            e.2 += g.targets;
        }
    }
    for ((cond, failing), (_, prefixes, targets)) in shown {
        if prefixes > 0 {
            let f = failing.join(", ");
            let what = match f.is_empty() {
                true => cond.name().to_owned(),
                false => format!("{} for {f}", cond.name()),
            };
            lines.push(format!(
                "  ... {what}: {targets} targets in {prefixes} more prefixes"
            ));
        }
    }
    lines
}

fn summary_json(s: &Summary, c: &Counters, interrupted: bool) -> Json {
    let by_condition: BTreeMap<&str, u64> = Condition::ALL
        .iter()
        .map(|k| (k.name(), s.by_condition.get(k).copied().unwrap_or(0)))
        .collect();
    json!({
        "targets": s.total(),
        "interrupted": interrupted,
        "conditions": by_condition,
        "broken_by_profile": s.by_failing,
        "broken_by_culprit": s.by_culprit,
        "groups": s.groups(),
        (if c.exchanges { "exchanges" } else { "syns_sent" }): c.sent,
        "answered": c.answered,
        "late": c.late,
        "elapsed_s": c.elapsed.as_secs_f64(),
        // What one core generates SYNs at; an exchange sweep does not time
        // its sends apart from the exchanges, so it says nothing (null)
        // rather than 0.
        "sending_s": (!c.exchanges).then_some(c.sending.as_secs_f64()),
    })
}

/// Where rows go, as they are decided.
struct Rows<'a> {
    out: &'a mut dyn Write,
    names: Vec<String>,
    summary: Summary,
    json: Option<Vec<Json>>,
    jsonl: bool,
    bar: Option<ProgressBar>,
    /// `--bisect-broken`: the broken targets, held for their bisects.
    held: Option<Vec<Decided>>,
    /// `--parquet`: the rows again, as Parquet.
    parquet: Option<RowsSink>,
    /// `--bisect-broken`: broken targets by how their culprits were found.
    explained: BTreeMap<&'static str, u64>,
    /// When rows were last flushed (stdout is buffered): a reader of the
    /// JSONL (`tail -f`, a pipe) sees each row within `FLUSH_EVERY`.
    flushed: Instant,
    /// `--exchange`: each decided target's exchanges, until its row is
    /// written.
    runs: HashMap<SocketAddr, Runs>,
    /// The decided targets' late answers (the summary's `late`).
    late: u64,
}

/// How long a decided row may wait in the output buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

impl Rows<'_> {
    /// A decided target of `--exchange`, with its exchanges.
    fn add_ran(&mut self, d: Decided, runs: Option<Runs>) -> Result<()> {
        if let Some(runs) = runs {
            self.runs.insert(d.target, runs);
        }
        self.add(d)
    }

    fn add(&mut self, d: Decided) -> Result<()> {
        self.late += d.tallies.iter().map(|t| u64::from(t.late)).sum::<u64>();
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        match &mut self.held {
            Some(held) if d.condition == Condition::Broken => {
                held.push(d);
                Ok(())
            }
            _ => self.emit(&d, None),
        }
    }

    /// Count and write one target's row.
    fn emit(&mut self, d: &Decided, explained: Option<&Explained>) -> Result<()> {
        let failing = failing_names(d, &self.names);
        let labels = explained.map_or_else(Vec::new, Explained::labels);
        if let Some(e) = explained {
            *self.explained.entry(e.how.name()).or_default() += 1;
        }
        self.summary
            .add_explained(d.target.ip(), d.condition, &failing, &labels);
        if let Some(sink) = &mut self.parquet {
            sink.push(parquet_cells(d, &self.names, explained))?;
        }
        let runs = self.runs.remove(&d.target);
        if let Some(rows) = &mut self.json {
            rows.push(row(d, &self.names, explained, runs.as_ref()));
        } else if self.jsonl {
            let row = row(d, &self.names, explained, runs.as_ref());
            serde_json::to_writer(&mut *self.out, &row)?;
            writeln!(self.out)?;
        } else if d.condition != Condition::Works {
            let line = text_line(d, &self.names, explained, runs.as_ref());
            writeln!(self.out, "{line}")?;
        }
        if self.json.is_none() && self.flushed.elapsed() >= FLUSH_EVERY {
            self.out.flush()?;
            self.flushed = Instant::now();
        }
        Ok(())
    }

    /// The summary's lines, and how the broken targets were explained.
    fn lines(&self, c: &Counters, interrupted: bool) -> Vec<String> {
        let mut lines = summary_lines(&self.summary, c, interrupted);
        if !self.explained.is_empty() {
            let how: Vec<String> = self
                .explained
                .iter()
                .map(|(how, n)| format!("{n} {how}"))
                .collect();
            lines.insert(1, format!("culprits of broken targets: {}", how.join(", ")));
        }
        lines
    }

    fn finish(mut self, c: &Counters, interrupted: bool) -> Result<Status> {
        let c = &Counters {
            late: self.late,
            ..*c
        };
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        // Broken targets never bisected (a stop, an error): written as
        // they were decided.
        for d in self.held.take().unwrap_or_default() {
            self.emit(&d, None)?;
        }
        match self.json.take() {
            Some(rows) => {
                let mut summary = summary_json(&self.summary, c, interrupted);
                if let Some(map) = summary.as_object_mut() {
                    map.insert("culprits_by".into(), json!(self.explained));
                }
                let doc = json!({"rows": rows, "summary": summary});
                serde_json::to_writer_pretty(&mut *self.out, &doc)?;
                writeln!(self.out)?;
            }
            None if self.jsonl => {
                for line in self.lines(c, interrupted) {
                    message!("{line}");
                }
            }
            None => {
                for line in self.lines(c, interrupted) {
                    writeln!(self.out, "{line}")?;
                }
            }
        }
        self.out.flush()?;
        if let Some(sink) = self.parquet.take() {
            sink.finish()?;
        }
        let broken = self.summary.by_condition.contains_key(&Condition::Broken);
        Ok(if broken { Status::Differ } else { Status::Ok })
    }
}

fn progress(len: Option<u64>) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || std::io::stdout().is_terminal() {
        return None;
    }
    let target = ProgressDrawTarget::stderr_with_hz(4);
    let (bar, template) = match len {
        Some(n) => (
            ProgressBar::with_draw_target(Some(n), target),
            "{bar:40} {pos}/{len} targets {per_sec} eta {eta}",
        ),
        None => (
            ProgressBar::with_draw_target(None, target),
            "{spinner} {pos} targets {per_sec}",
        ),
    };
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

pub fn run(args: &SweepArgs, dirs: &[std::path::PathBuf], out: &mut dyn Write) -> Result<Status> {
    let names = args.profile.clone();
    let exchange = exchange_options(args);
    if args.guard.suppress_rst && exchange.is_none() {
        // Source ports come round every 20,000 SYNs; a half-open
        // connection left on the server would swallow the next SYN from
        // the same port.
        bail!("--suppress-rst is not for sweeps: the kernel's RSTs to the SYN-ACKs clear the server's half-open connections before a source port comes round again");
    }
    if names.len() < 2 {
        bail!("--profile needs at least two profiles to compare (A,B)");
    }
    let (mut ips, prefix) = open_targets(&args.targets)?;
    let Some(first) = ips.next().transpose()? else {
        message!("no targets in {}", args.targets);
        return Ok(Status::Ok);
    };
    let v6 = first.is_ipv6();
    let mut attrs = Vec::new();
    // `--exchange`: each profile's SYN with what its later segments carry
    // (`synlab.flow.*`, from `[later]`), for the exchanges and the bisects.
    let mut flows = Vec::new();
    for name in &names {
        let profile = crate::io::profile_store::resolve(name, dirs)?;
        let syn = profile.syn_attributes(v6);
        if exchange.is_some() {
            // Only what `[later]` adds (the SYN's own are `syn`'s, in this
            // IP version's names).
            let mut flow = syn.clone();
            for (field, value) in profile.with_flow_attributes().iter() {
                if !profile.attributes.contains(field) {
                    flow.insert(field, value.clone());
                }
            }
            flows.push(flow);
        }
        attrs.push(syn);
    }
    // The guard probe uses, for every target before it is admitted.
    let netns = raw::in_initial_netns();
    let owned = args.guard.i_own_this_network;
    let port = args.port;
    let mut targets = std::iter::once(Ok(first)).chain(ips).map(move |ip| {
        let ip = ip?;
        if ip.is_ipv6() != v6 {
            bail!("{ip}: a sweep probes one IP version (its first target's)");
        }
        check_target(ip, netns, owned)?;
        Ok(SocketAddr::new(ip, port))
    });
    // A prefix is inside a range when both its ends are.
    if let Some((_, last)) = prefix {
        check_target(last, netns, owned)?;
    }
    check_target(first, netns, owned)?;
    let src = match args.route.src {
        Some(s) => s,
        None => raw::source_for(first).with_context(|| format!("no route to {first}"))?,
    };
    let templates = templates(&names, &attrs, src, SocketAddr::new(first, port))?;
    let iface = raw::find_interface(args.route.iface.as_deref(), src)
        .context("choosing the capture interface")?;
    // `--exchange`: the RST rule is installed (nft) with CAP_NET_ADMIN.
    let needs = Needs {
        net_raw: true,
        net_admin: exchange.is_some(),
    };
    let opened = privilege::open_then_lower("sweep", needs, || -> std::io::Result<_> {
        let source = DatalinkSource::open(&iface, Duration::from_millis(1))?;
        // Best effort: an older kernel shows our own frames, which match nothing.
        let _ = source.ignore_outgoing();
        let sender = RawSender::open(v6)?;
        Ok((sender, source))
    })?;
    let (mut sender, mut source) =
        opened.with_context(|| format!("opening raw sockets (capture on {})", iface.name))?;
    let ports = PortRange::default();
    // `--exchange`: the kernel has no socket for our connections and would
    // reset each at the server's first segment; its RSTs (without ACK)
    // from our source ports are dropped until the sweep ends. The table
    // goes when `rst` is dropped, after every exchange ended or was reset.
    let rst = match exchange {
        Some(_) => Some(
            RstSuppressor::install(&ports.ports().collect::<Vec<_>>())
                .context("suppressing the kernel's RSTs for the exchanges")?,
        ),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let mut signals = {
        let _in_rt = rt.enter();
        Signals::watch().context("watching SIGINT, SIGTERM and SIGHUP")?
    };
    let mut stop = || {
        rt.block_on(async {
            tokio::time::timeout(Duration::ZERO, signals.recv())
                .await
                .ok()
        })
    };
    let window = match (args.window, &exchange) {
        (Some(w), _) => w as usize,
        (None, Some(_)) => EXCHANGE_WINDOW,
        (None, None) => {
            (args.rate * args.timeout / names.len() as f64).clamp(64.0, 1_000_000.0) as usize
        }
    };
    let params = SweepParams::new(args.count);
    let (params, target_window, timeout) = match &exchange {
        None => (params, window, Duration::from_secs_f64(args.timeout)),
        // Each open target keeps at least one exchange per profile busy;
        // the sweep's own timeout is only a net under the exchanges' limits.
        Some((_, limits)) => (
            params.passing_with(Outcome::Complete),
            window.div_ceil(names.len()),
            limits.handshake + limits.total + Duration::from_secs(1),
        ),
    };
    let mut sweep = Sweep::new(SweepConfig {
        params,
        profiles: names.len(),
        window: target_window,
        timeout,
        ports,
        key: rand::random(),
    });
    let mut rows = Rows {
        out,
        names,
        summary: Summary::default(),
        json: args.json.then(Vec::new),
        jsonl: args.jsonl,
        bar: progress(prefix.map(|p| p.0)),
        held: args.bisect_broken.then(Vec::new),
        explained: BTreeMap::new(),
        parquet: parquet_sink(args)?,
        flushed: Instant::now(),
        runs: HashMap::new(),
        late: 0,
    };
    let mut net = Net {
        sender: &mut sender,
        source: &mut source,
        src,
        rate: args.rate,
    };
    let mut counters = Counters {
        exchanges: exchange.is_some(),
        ..Counters::default()
    };
    let ended = match &exchange {
        None => drive(
            &mut net,
            &mut sweep,
            &mut targets,
            &templates,
            &mut stop,
            &mut |d| rows.add(d),
            &mut counters,
        ),
        Some((ex, limits)) => {
            let plan = exchange::Plan {
                templates: &templates,
                request: &ex.request,
                limits: *limits,
                flows: &flows,
                window,
            };
            exchange::drive(
                &mut net,
                &mut sweep,
                &mut targets,
                &plan,
                &mut stop,
                &mut |d, runs| rows.add_ran(d, runs),
                &mut counters,
            )
        }
    };
    // What was decided is printed however the loop ended.
    match ended {
        Ok(Ended::Done) => {
            // Every exchange has ended: the sweep's RST rule goes before a
            // bisect installs its own (the same process's table name).
            let removed = remove_rst(rst);
            let held = rows.held.take().unwrap_or_default();
            if !held.is_empty() {
                let sockets = (Box::new(sender), source);
                let session = (src, iface.name.clone());
                let mut opts = bisect_options(args, ports);
                // The bisect's probes are exchanges too, on its own RST rule.
                opts.suppress_rst = exchange.is_some();
                let ex = exchange.as_ref().map(|(ex, _)| ex.clone());
                let held = (held, sockets);
                let searched = if flows.is_empty() { &attrs } else { &flows };
                if let Err(e) = explain(&mut rows, searched, held, session, (opts, ex)) {
                    rows.finish(&counters, true)?;
                    return Err(e);
                }
            }
            let status = rows.finish(&counters, false);
            removed?;
            status
        }
        Ok(Ended::Stopped(signal)) => {
            rows.finish(&counters, true)?;
            remove_rst(rst)?;
            Err(Interrupted(signal).into())
        }
        // The reader is gone: nothing more to tell it (exit 0, as ripgrep).
        Err(e) if broken_pipe(&e) => Err(e),
        Err(e) => {
            rows.finish(&counters, true)?;
            Err(e)
        }
    }
}

/// The Parquet file's columns, for these profiles.
fn parquet_columns(names: &[String]) -> Vec<(String, CellType)> {
    let text = |n: &str| (n.to_owned(), CellType::Text);
    let mut cols = vec![
        text("target"),
        ("port".to_owned(), CellType::Int),
        text("condition"),
        text("failing"),
    ];
    for n in names {
        cols.push((format!("{n}.pass"), CellType::Bool));
        cols.push((format!("{n}.probes"), CellType::Int));
    }
    cols.extend([text("culprits"), text("culprits_by"), text("bisected_at")]);
    cols
}

fn parquet_sink(args: &SweepArgs) -> Result<Option<RowsSink>> {
    let Some(path) = &args.parquet else {
        return Ok(None);
    };
    let cols = parquet_columns(&args.profile);
    Ok(Some(RowsSink::create(path, "synlab_sweep_row", &cols)?))
}

/// A target's Parquet row, in [`parquet_columns`]' order: `failing` and
/// `culprits` joined with ", " (null when none).
fn parquet_cells(
    d: &Decided,
    names: &[String],
    explained: Option<&Explained>,
) -> Vec<Option<Cell>> {
    let text = |s: String| Some(Cell::Text(s));
    let joined = |v: Vec<String>| (!v.is_empty()).then(|| Cell::Text(v.join(", ")));
    let mut cells = vec![
        text(d.target.ip().to_string()),
        Some(Cell::Int(u64::from(d.target.port()))),
        text(d.condition.name().to_owned()),
        joined(failing_names(d, names)),
    ];
    for (i, t) in d.tallies.iter().enumerate() {
        cells.push(Some(Cell::Bool(passed(d, i))));
        cells.push(Some(Cell::Int(u64::from(t.probes()))));
    }
    cells.push(joined(explained.map_or_else(Vec::new, Explained::labels)));
    cells.push(explained.map(|e| Cell::Text(e.how.name().to_owned())));
    cells.push(
        explained
            .and_then(|e| e.how.by())
            .map(|b| Cell::Text(b.to_string())),
    );
    cells
}

/// The live options of the bisects: the sweep's route, guard and timeout,
/// at most 1,000 probes a second.
fn bisect_options(args: &SweepArgs, ports: PortRange) -> LiveOptions {
    LiveOptions {
        iface: args.route.iface.clone(),
        src: args.route.src,
        timeout: Duration::from_secs_f64(args.timeout),
        rate: args.rate.min(1000.0),
        ports,
        i_own_this_network: args.guard.i_own_this_network,
        ..LiveOptions::default()
    }
}

/// `--bisect-broken`: the held broken targets, grouped, bisected and
/// confirmed on one session over the sweep's sockets, each row written
/// with its culprits.
fn explain(
    rows: &mut Rows<'_>,
    attrs: &[Attributes],
    (held, (sender, source)): (Vec<Decided>, (Box<RawSender>, DatalinkSource)),
    (src, iface): (IpAddr, String),
    (opts, exchange): (LiveOptions, Option<ExchangeOptions>),
) -> Result<()> {
    let Some(first) = held.first().map(|d| d.target) else {
        return Ok(());
    };
    let budget = opts.ports.len();
    let session =
        match LiveSession::over_sockets(first, &opts, budget, (src, iface), sender, source) {
            Ok(s) => s,
            Err(e) => {
                // The rows are written all the same, without culprits.
                for d in &held {
                    rows.emit(d, None)?;
                }
                return Err(e.into());
            }
        };
    let oracle = LiveOracle::from_session(session);
    let oracle = match exchange {
        Some(ex) => oracle.with_exchange(ex),
        None => oracle,
    };
    let mut bisector = Bisector { attrs, oracle };
    for group in bisect::groups(held) {
        for (d, e) in bisector.group(group) {
            rows.emit(&d, Some(&e))?;
        }
    }
    bisector.oracle.close()?;
    Ok(())
}

/// `--exchange`'s exchanges running at a time by default.
const EXCHANGE_WINDOW: usize = 64;

/// With `--exchange`: what every exchange sends, and its limits (the
/// handshake's is `--timeout`).
fn exchange_options(args: &SweepArgs) -> Option<(ExchangeOptions, Limits)> {
    let request = args.exchange.request.clone()?;
    let ex = ExchangeOptions {
        request,
        stall: Duration::from_secs_f64(args.exchange.stall_timeout),
        total: EXCHANGE_TOTAL,
        max_bytes: args.exchange.max_bytes,
        handshake: Duration::from_secs_f64(args.timeout),
        retries: Vec::new(),
    };
    let limits = Limits {
        handshake: ex.handshake,
        stall: ex.stall,
        total: ex.total,
        max_bytes: ex.max_bytes,
    };
    Some((ex, limits))
}

/// Remove the RST rule, reporting a failure (dropping it would only log).
fn remove_rst(rst: Option<RstSuppressor>) -> Result<()> {
    match rst {
        Some(r) => r
            .remove()
            .context("removing the nftables table that suppressed RSTs"),
        None => Ok(()),
    }
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
