//! `synlab bisect`: which attribute differences change the outcome.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use std::net::SocketAddr;

use crate::io::live::LiveOptions;
use crate::io::live_oracle::LiveOracle;
use crate::io::output::OutputFile;
use anyhow::{bail, Context, Result};
use clap::{Arg, ArgGroup, Args, ValueEnum};
use serde::Serialize;

use super::edit_args::EditArgs;
use super::live_args::{ExchangeArgs, GuardArgs, Live, PaceArgs, RouteArgs};
use super::messages::message;
use super::output::Style;
use super::recording::{Answerer, Asker, Recorder};
use super::select::AttemptSpec;
use super::status::Status;
use super::threads::Threads;
use crate::handshake::{Attempt, Limits};
use crate::io::capture_file::CaptureError;
use crate::io::load::{is_stdin, stream_inputs, LoadError};
use crate::model::{Attr, Attributes, Field, Kind};
use crate::oracle::{
    self, Action, Observation, Oracle, PortFilter, RecordedBuilder, RecordedOracle, RuleOracle,
};
use crate::report::RunFacts;
use crate::report::SynSide;
use crate::rule::{Rule, Scope};
use crate::search::infer::{self, Inferred};
use crate::search::{
    Conclusion, Parity, PortPattern, ProbePhase, Report, Search, SearchOptions, VerdictClass,
    VerdictReport,
};

/// The most `--repeat` allows: a baseline seen 100 times is settled.
const MAX_REPEAT: i64 = 100;
/// The most `--max-probes` allows for one variant.
const MAX_PROBES: i64 = 1000;
/// The most `--max-total-probes` allows: at 10,000 probes/s (the top
/// `--rate`) ten seconds of probes; `--rule` and `--recorded` answer more in
/// well under a second.
const MAX_TOTAL_PROBES: u64 = 100_000;

/// `synlab bisect` arguments.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("oracle").required(true).args(["target", "rule", "recorded"])))]
#[command(mut_args = words)]
pub struct BisectArgs {
    /// The passing side: a profile name or file, or a captured handshake (FILE, FILE#N, FILE@IP).
    #[arg(long, value_name = "A")]
    pub good: String,
    /// The failing side, in the same forms.
    #[arg(long, value_name = "B")]
    pub bad: String,

    #[command(flatten)]
    pub edit: EditArgs,

    /// Oracle: live probes to this server (needs CAP_NET_RAW; only to
    /// loopback or the lab's ranges from inside its namespace, as `synlab probe`).
    #[arg(long, value_name = "IP:PORT", value_parser = super::live_args::parse_target)]
    pub target: Option<SocketAddr>,
    #[command(flatten)]
    pub route: RouteArgs,
    #[command(flatten)]
    pub pace: PaceArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub exchange: ExchangeArgs,

    /// Oracle: a simulated middlebox that acts on SYNs matching EXPR
    /// (e.g. 'ip.ttl == 128 && !tcp.options.sack_perm') and answers syn-ack otherwise.
    /// A rule that reads synlab.flow.* acts on the client's later segments
    /// (profiles' `[later]` tables): complete, else stalled or reset-mid-transfer.
    #[arg(long, value_name = "EXPR")]
    pub rule: Option<String>,
    /// What the simulated middlebox does to a matching SYN.
    #[arg(long, value_enum, default_value_t = ActionArg::Drop, requires = "rule")]
    pub action: ActionArg,
    /// The source ports whose SYNs the simulated middlebox acts on: `any`,
    /// `even`, `odd` or `LO-HI` (a flow-hash middlebox fails intermittently).
    #[arg(long, value_name = "PORTS", default_value = "any", requires = "rule",
          value_parser = parse_ports)]
    pub rule_ports: PortFilter,
    /// Fraction of probes the simulated path loses at random (0 ≤ P < 1).
    #[arg(long, value_name = "P", default_value_t = 0.0, requires = "rule")]
    pub loss: f64,
    /// Seed of the simulated loss.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// After the culprits, infer the predicate over them: which values
    /// trip the box, as a rule `--rule` accepts, with each clause's
    /// evidence and its agreement with the oracle on random variants.
    #[arg(long)]
    pub infer: bool,
    /// Random variants the inferred rule is checked on (0 to 10000).
    #[arg(long, value_name = "N", default_value_t = 100, requires = "infer",
          value_parser = clap::value_parser!(u32).range(0..=10000))]
    pub infer_check: u32,

    /// Oracle: outcomes looked up in a capture holding many attempts.
    #[arg(long, value_name = "FILE")]
    pub recorded: Option<PathBuf>,

    /// Threads to read the captures with (--good/--bad FILE#N, --recorded).
    #[command(flatten)]
    pub threads: Threads,

    /// Probes of each baseline (good and bad) at least (1 to 100); more
    /// follow until their pass rates are shown to differ (or not).
    // The bounds keep every batch, and so every allocation of the search,
    // small: a batch holds up to `repeat` or `max_probes` requests per variant.
    #[arg(long, value_name = "K", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(1..=MAX_REPEAT))]
    pub repeat: u32,
    /// Probes of any one variant (and of each baseline) at most (1 to 1000).
    #[arg(long, value_name = "N", default_value_t = 40,
          value_parser = clap::value_parser!(u32).range(1..=MAX_PROBES))]
    pub max_probes: u32,
    /// Probes of the whole search at most (1 to 100000); it stops there and
    /// reports what it has.
    #[arg(long, value_name = "N", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..=MAX_TOTAL_PROBES))]
    pub max_total_probes: u64,
    /// Error allowed per test (the baselines' Fisher test, each way of a
    /// variant's sequential test), 0 < P < 0.5.
    #[arg(long, value_name = "P", default_value_t = 0.001)]
    pub alpha: f64,
    /// Skip the one-at-a-time table (fewer probes).
    #[arg(long)]
    pub no_single: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// With --target, once the culprits are known: trace the bad SYN and
    /// the good one hop by hop (as `synlab trace`) and say where the bad
    /// one dies (JSON: `location`). With --exchange, their requests' data
    /// first (as `trace --exchange`), for a box that passes the handshake
    /// and drops data; JSON `not_located` says why when no hop is named.
    #[arg(long, requires = "target")]
    pub locate: bool,
    /// Write every probe to this pcapng file, each packet's comment naming
    /// its variant (`tshark -r FILE -T fields -e frame.comment`): live,
    /// the SYNs sent and every answer; for --rule and --recorded, the SYNs
    /// that would have been sent.
    #[arg(long, value_name = "FILE.pcapng")]
    pub pcap: Option<PathBuf>,
    /// Keep at most N bytes of each packet in the --pcap file (0: whole
    /// packets). Default: each packet's headers and 128 bytes of payload,
    /// HTTP heads whole, so an exchange's download is not stored while
    /// `synlab stalls` still reads its status and Content-Length.
    #[arg(long, value_name = "N", requires = "pcap")]
    pub snaplen: Option<u32>,
    /// Write a self-contained HTML report to this file: the two SYNs as
    /// header diagrams, culprits marked, the one-at-a-time table, rates and
    /// the probes over time.
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,
    /// Write the hand-over to this new directory (implies --infer): the
    /// HTML report, the decisive probes' pcapng, the inferred rule in
    /// synlab and nft syntax, its impact, the commands that reproduce it
    /// and a README.txt. An existing non-empty DIR is refused.
    #[arg(long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
}

impl BisectArgs {
    /// `--infer`, asked for or implied by `--bundle`.
    fn inferring(&self) -> bool {
        self.infer || self.bundle.is_some()
    }
}

/// How bisect words the flags it shares: `--set` and `--unset` edit both
/// sides; the live flags are for `--target` only (and need it).
fn words(arg: Arg) -> Arg {
    match arg.get_id().as_str() {
        "set" => arg.help(
            "Change an attribute on both sides before the search (NAME=VALUE; \
             repeatable), checked as `synlab probe --set`: what both sides share \
             is not bisected, but every probe carries it",
        ),
        "unset" => {
            arg.help("Remove an attribute from both sides (repeatable), as `synlab probe --unset`")
        }
        "iface" => live(arg, "IF")
            .help("Interface for live probes (default: the one routing to the target)"),
        "src" => {
            live(arg, "IP").help("Source address for live probes (default: the kernel's choice)")
        }
        "timeout" => live(arg, "SECS").default_value("1").help(
            "Seconds to wait for each live probe's answer at most (0.05 to 60); \
             less once answers show the round-trip time (SRTT + 4 RTTVAR, at least 0.1)",
        ),
        "rate" => live(arg, "R").help("Live probes per second (1..=10000)"),
        "suppress_rst" => arg
            .requires("target")
            .help("Drop the kernel's RSTs to SYN-ACKs of live probes (scoped nftables rule)"),
        "i_own_this_network" => arg
            .requires("target")
            .help("Allow a target that is neither loopback nor in the lab (your own network)"),
        "exchange" => arg.requires("target").help(
            "Live probes are exchanges past the handshake (as `probe --exchange`): \
             http:PATH or hex:BYTES; the outcomes compared are complete, stalled, \
             reset-mid-transfer (or the handshake's). Profiles' `[later]` tables \
             join the attributes as synlab.flow.*. Turns --suppress-rst on",
        ),
        "stall_timeout" => {
            arg.help("With --exchange: seconds without progress that make an exchange stalled")
        }
        _ => arg,
    }
}

/// A live flag as bisect shows it: with its own value name, for `--target`.
fn live(arg: Arg, value_name: &'static str) -> Arg {
    arg.value_name(value_name).requires("target")
}

/// `any`, `even`, `odd` or `LO-HI`.
fn parse_ports(s: &str) -> Result<PortFilter, String> {
    match s {
        "any" => return Ok(PortFilter::Any),
        "even" => return Ok(PortFilter::Even),
        "odd" => return Ok(PortFilter::Odd),
        _ => {}
    }
    let bad = || format!("expected any, even, odd or LO-HI (ports), not {s:?}");
    let (lo, hi) = s.split_once('-').ok_or_else(bad)?;
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo > hi {
        return Err(format!("the range {lo}-{hi} is empty"));
    }
    Ok(PortFilter::Range { lo, hi })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ActionArg {
    Drop,
    Reset,
    Icmp,
}

impl From<ActionArg> for Action {
    fn from(a: ActionArg) -> Self {
        match a {
            ActionArg::Drop => Action::Drop,
            ActionArg::Reset => Action::Reset,
            ActionArg::Icmp => Action::Icmp,
        }
    }
}

/// One side of the comparison, resolved.
struct Side {
    label: String,
    attributes: Attributes,
    /// Read from a capture (not a profile).
    captured: bool,
    /// [`Status::Trouble`] when the capture ended in an error (said, and
    /// the attempts before it used): the exit status says so at the end.
    read: Status,
}

/// A captured handshake (when the spec names a capture file) or a profile.
/// With `flow` (an exchange, or a rule that reads later segments) the side
/// carries what its later segments carry too: the captured flow's
/// `synlab.flow.*`, or the profile's `[later]` table as them.
fn resolve_side(spec: &str, threads: Threads, dirs: &[PathBuf], flow: bool) -> Result<Side> {
    let parsed: AttemptSpec = spec.parse().unwrap_or_else(|e| match e {});
    let stdin = is_stdin(&parsed.path);
    if stdin || parsed.path.is_file() {
        match parsed.load(threads) {
            Ok(loaded) => {
                let read = super::messages::finish(&loaded, Status::Ok);
                let (index, attempt) = parsed.chosen(&loaded)?;
                let mut attributes = attempt.syn.clone();
                if flow {
                    for (k, v) in attempt.flow.iter() {
                        attributes.insert(k, v.clone());
                    }
                }
                return Ok(Side {
                    label: format!("{}#{index}", parsed.path.display()),
                    attributes,
                    captured: true,
                    read,
                });
            }
            // Not a capture: a profile file (standard input is always a capture).
            Err(LoadError::Capture(CaptureError::BadMagic { .. } | CaptureError::Empty { .. }))
                if !stdin => {}
            Err(e) => return Err(e.into()),
        }
    }
    let profile = crate::io::profile_store::resolve(spec, dirs)?;
    Ok(Side {
        attributes: match flow {
            true => profile.with_flow_attributes(),
            false => profile.attributes,
        },
        label: profile.name,
        captured: false,
        read: Status::Ok,
    })
}

/// A side with `--unset` and `--set` made. Volatile values (`tcp.srcport`,
/// `ip.id`) are not the search's: a side is a stack, so they are refused.
fn edited_side(side: Side, args: &BisectArgs) -> Result<Side> {
    if args.edit.is_empty() {
        return Ok(side);
    }
    if let Some(c) = args
        .edit
        .set
        .iter()
        .find(|c| c.attr().kind() == Kind::Volatile)
    {
        bail!(
            "--set {c}: bisect compares stacks, and each probe chooses its own {}; use `synlab probe --set`",
            c.attr()
        );
    }
    let v6 = args.target.is_some_and(|t| t.is_ipv6());
    let edited = args.edit.apply(&side.attributes, v6)?;
    let changes = crate::model::edit::describe(&edited.changes, &edited.attributes);
    Ok(Side {
        label: format!("{} with {changes}", side.label),
        attributes: edited.attributes,
        captured: side.captured,
        read: side.read,
    })
}

impl BisectArgs {
    fn live(&self) -> Live<'_> {
        Live {
            route: &self.route,
            pace: &self.pace,
            guard: &self.guard,
            exchange: &self.exchange,
        }
    }
}

/// The simulated or recorded oracle the arguments ask for (`--target` is
/// run by [`run_live`], which owns its session), and [`Status::Trouble`]
/// when the recording ended in an error (its attempts before it are used).
pub fn make_oracle(args: &BisectArgs) -> Result<(Box<dyn Oracle>, Status)> {
    if let Some(rule) = parse_rule(args)? {
        if !(0.0..1.0).contains(&args.loss) {
            bail!("--loss must be at least 0 and below 1, not {}", args.loss);
        }
        let oracle = RuleOracle::new(rule, args.action.into(), args.loss, args.seed);
        return Ok((Box::new(oracle.with_ports(args.rule_ports)), Status::Ok));
    }
    if let Some(path) = &args.recorded {
        let (oracle, read) = recorded_oracle(path, args.threads)?;
        return Ok((Box::new(oracle), read));
    }
    bail!("no oracle: give --target, --rule or --recorded")
}

/// `--recorded FILE`: the recording read as a stream on every core its size
/// calls for, keeping of each attempt only what the oracle answers with
/// ([`Observation`]): a recording of millions of attempts takes the memory
/// of its distinct SYNs, not of its attempts.
fn recorded_oracle(path: &Path, threads: Threads) -> Result<(RecordedOracle, Status)> {
    let files = [path.to_path_buf()];
    let threads = threads.for_files(&files);
    let observe = |a: Box<Attempt>| Some(Observation::of(&a));
    let mut recording = RecordedBuilder::default();
    let summary = stream_inputs(
        &files,
        Limits::default(),
        threads,
        &mut |_| {},
        &observe,
        |i, seen| {
            recording.add(i, seen);
            Ok::<(), LoadError>(())
        },
    )?;
    let read = super::messages::summarize(&summary, Status::Ok);
    if recording.is_empty() {
        bail!("{}: holds no connection attempt", path.display());
    }
    Ok((recording.finish(), read))
}

/// `--rule`, parsed over a simulated connection: the SYN's fields and
/// `synlab.flow.*`.
fn parse_rule(args: &BisectArgs) -> Result<Option<Rule>> {
    let Some(expr) = &args.rule else {
        return Ok(None);
    };
    Rule::parse_in(expr, Scope::Connection)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("invalid --rule: {}", e.render(expr)))
}

/// Answers and probes of every SYN the search classed as passing (good's
/// baseline and the single changes that passed): how often a SYN that
/// gets through is answered end to end, the prior `--locate` judges a
/// hop's silence against.
fn pass_answers(r: &Report) -> (u32, u32) {
    let singles = r
        .single
        .iter()
        .flat_map(|s| [&s.applied_to_good, &s.reverted_on_bad]);
    std::iter::once(&r.baseline.good)
        .chain(singles)
        .filter(|v| v.class == VerdictClass::Pass)
        .fold((0, 0), |(k, n), v| (k + v.passes, n + v.probes))
}

/// What a bisect found: the search's report, `--infer`'s rule and
/// `--locate`'s hop, and (live) the evidence that RSTs were a box's.
struct Found {
    report: Report,
    inferred: Option<Inferred>,
    location: Option<crate::trace::Location>,
    /// `--locate` ran and could not say where: why.
    not_located: Option<String>,
    /// Live: the marked RSTs in one line.
    injected: Option<String>,
    /// `--locate`: good's and bad's traces, for the page.
    traces: Option<crate::report::LocatedTraces>,
    /// Live: the marked RSTs, alike ones counted, for the page.
    marked: Vec<crate::trace::Injected>,
}

/// The search against a live target, in one session: opened before the
/// first batch, closed (its RST rule removed, a failure reported) after
/// the last, also when the search was halted.
fn run_live(
    args: &BisectArgs,
    target: SocketAddr,
    search: &mut Search,
    rec: &mut Recorder,
    [good, bad]: [&Side; 2],
) -> Result<Found> {
    // The inference's and --locate's probes come from the same block of ports.
    let inferring = match args.inferring() {
        true => crate::search::infer::InferOptions::default().max_total_probes,
        false => 0,
    };
    let budget = usize::try_from(args.max_total_probes + inferring).unwrap_or(usize::MAX);
    let budget = match args.locate {
        true => budget.saturating_add(super::cmd_trace::LOCATE_BUDGET),
        false => budget,
    };
    let opts = LiveOptions {
        // --locate reads the routers' ICMP errors from the frames.
        keep_frames: args.pcap.is_some() || args.locate || args.bundle.is_some(),
        ..args.live().options()
    };
    let mut live = LiveOracle::new(target, &opts, budget)?;
    if let Some(ex) = args.live().exchange_options() {
        live = live.with_exchange(ex);
    }
    let report = oracle::run_observed(search, &mut live, &mut |s, live, batch, answers| {
        let frames = live.take_frames();
        rec.batch(Asker::Search(s), batch, answers, &frames);
    })
    .map_err(|halted| stopped(search, halted))
    .and_then(|report| {
        let inferred = infer_with(args, search, &mut live, &mut |i, live, batch, answers| {
            let frames = live.take_frames();
            rec.batch(Asker::Infer(i), batch, answers, &frames);
        })?;
        Ok((report, inferred))
    });
    // A batch cut short by a signal: its frames are written all the same
    // (the README promises what was recorded is kept).
    if report.is_err() {
        rec.interrupted(search, &live.take_frames());
    }
    // --locate: once the culprits are known, the bad side traced beside
    // the good one, on this session: with --exchange, their requests' data
    // first (a box may pass the handshake and stop the data), else or when
    // a side's connection is not made, their SYNs.
    let located = match (&report, args.locate) {
        (Ok((r, _)), true) if r.conclusion == Conclusion::Culprits => {
            let sides = [&good.attributes, &bad.attributes];
            let data = match args.live().exchange_options() {
                Some(ex) => super::cmd_trace::locate_data_on(live.session_mut(), sides, &ex)?,
                None => None,
            };
            match data {
                Some(found) => Some(found),
                None => {
                    let v6 = target.is_ipv6();
                    let distance = live.endpoint_distance();
                    let baseline = pass_answers(r);
                    let session = live.session_mut();
                    super::cmd_trace::locate_on(session, sides, distance, baseline, v6)?
                }
            }
        }
        _ => None,
    };
    let rtt = live.rtt();
    tracing::info!(
        "live session: {} round trips measured, srtt {:?}, rttvar {:?}, final wait {:?}",
        rtt.samples(),
        rtt.srtt(),
        rtt.rttvar(),
        rtt.timeout()
    );
    let injected = live.injected();
    let marked = live.injected_answers();
    live.close()?;
    let (report, inferred) = report?;
    let (location, not_located, traces) = match located {
        Some(l) => (
            l.location,
            l.not_located,
            Some(crate::report::LocatedTraces {
                probed: l.probed,
                passing_label: good.label.clone(),
                passing: l.passing,
                failing_label: bad.label.clone(),
                failing: l.failing,
            }),
        ),
        None => (None, None, None),
    };
    Ok(Found {
        report,
        inferred,
        location,
        not_located,
        injected,
        traces,
        marked,
    })
}

/// `--infer` after the search, against the same oracle, each answered
/// batch shown to `observe` (the recorder: the inference's probes are
/// evidence too).
fn infer_with<O: Oracle + ?Sized>(
    args: &BisectArgs,
    search: &Search,
    oracle: &mut O,
    observe: &mut infer::Observer<'_, O>,
) -> Result<Option<Inferred>> {
    let opts = super::bisect_infer::Options {
        enabled: args.inferring(),
        check: args.infer_check,
        seed: args.seed,
    };
    super::bisect_infer::run(opts, search, oracle, observe)
}

/// A halted search: what it did, and why it stopped; never a conclusion.
fn stopped(search: &Search, halted: oracle::Halted) -> anyhow::Error {
    anyhow::Error::new(halted).context(format!(
        "bisect stopped in round {} ({} probes asked), without a conclusion",
        search.rounds(),
        search.probes()
    ))
}

fn search_options(args: &BisectArgs) -> Result<SearchOptions> {
    if !(args.alpha > 0.0 && args.alpha < 0.5) {
        bail!("--alpha must be above 0 and below 0.5, not {}", args.alpha);
    }
    Ok(SearchOptions {
        alpha: args.alpha,
        baseline_probes: args.repeat.max(1),
        max_probes: args.max_probes.max(1),
        single: !args.no_single,
        max_total_probes: args.max_total_probes,
        // Live only: the one oracle that can answer a SYN nobody recorded
        // or simulated a rule for.
        shared: args.target.is_some(),
    })
}

#[derive(Serialize)]
struct Doc<'a> {
    good: &'a str,
    bad: &'a str,
    /// Which synlab, run how, when, against what.
    run: &'a RunFacts,
    #[serde(flatten)]
    report: &'a Report,
    /// `--infer`: the predicate over the culprits.
    #[serde(skip_serializing_if = "Option::is_none")]
    inferred: Option<&'a Inferred>,
    /// `--locate`: where on the path the bad SYN (with --exchange: its
    /// request's data) dies.
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a crate::trace::Location>,
    /// `--locate` could not say where: why, in a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_located: Option<&'a str>,
    /// Live: RSTs that a box on the path sent in the endpoint's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    injected: Option<&'a str>,
}

/// The run's facts for the JSON and the page (issue 21: what an operator
/// is handed must say what produced it).
fn run_facts(args: &BisectArgs, report: &Report, started: std::time::SystemTime) -> RunFacts {
    let oracle = match (&args.target, &args.rule, &args.recorded) {
        (Some(_), _, _) => "live".to_owned(),
        (_, Some(rule), _) => format!("rule {rule}"),
        (_, _, Some(file)) => format!("recorded {}", file.display()),
        _ => String::new(),
    };
    RunFacts {
        synlab: env!("CARGO_PKG_VERSION").to_owned(),
        command: std::env::args().collect(),
        started: utc_text(started),
        oracle,
        target: args.target.map(|t| t.to_string()),
        request: args.exchange.request.as_ref().map(|e| e.to_string()),
        port_finding: port_line(report),
        location: None,
        traces: None,
        injected: Vec::new(),
    }
}

/// `2026-12-07T04:31:02Z`: a time as UTC, to the second.
fn utc_text(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

pub fn bisect(
    args: &BisectArgs,
    dirs: &[PathBuf],
    style: Style,
    out: &mut dyn Write,
) -> Result<Status> {
    let flow = args.exchange.request.is_some() || parse_rule(args)?.is_some_and(|r| r.reads_flow());
    let good = resolve_side(&args.good, args.threads, dirs, flow).context("--good")?;
    let bad = resolve_side(&args.bad, args.threads, dirs, flow).context("--bad")?;
    if !good.captured && !bad.captured && args.recorded.is_none() {
        args.threads
            .refuse_unused("--good and --bad are profiles, and there is no --recorded")?;
    }
    let good = edited_side(good, args)?;
    let bad = edited_side(bad, args)?;
    let started = std::time::SystemTime::now();
    let mut search = Search::new(&good.attributes, &bad.attributes, search_options(args)?)?;
    let mut rec = recorder(args, &good, &bad)?;
    // Created before the search: a live one drops every capability once
    // its sockets are open, and root without CAP_DAC_OVERRIDE cannot create
    // a file in another user's directory.
    let html = args
        .html
        .as_deref()
        .map(|path| {
            OutputFile::create_held(path, "--html")
                .with_context(|| format!("--html {}", path.display()))
                .map(|file| (path, file))
        })
        .transpose()?;
    let bundle = super::bundle::Bundle::create(args.bundle.as_deref())?;
    let mut read = match (good.read, bad.read) {
        (Status::Trouble, _) | (_, Status::Trouble) => Status::Trouble,
        _ => Status::Ok,
    };
    let report = match args.target {
        Some(target) => run_live(args, target, &mut search, &mut rec, [&good, &bad]),
        None => make_oracle(args).and_then(|(mut oracle, recorded)| {
            if recorded == Status::Trouble {
                read = Status::Trouble;
            }
            let report =
                oracle::run_observed(&mut search, &mut oracle, &mut |s, _, batch, answers| {
                    rec.batch(Asker::Search(s), batch, answers, &[]);
                })
                .map_err(|h| stopped(&search, h))?;
            let inferred = infer_with(args, &search, &mut oracle, &mut |i, _, batch, answers| {
                rec.batch(Asker::Infer(i), batch, answers, &[]);
            })?;
            Ok(Found {
                report,
                inferred,
                location: None,
                not_located: None,
                injected: None,
                traces: None,
                marked: Vec::new(),
            })
        }),
    };
    // What was recorded is kept, also when the search stopped early.
    let written = rec.finish().context("--pcap");
    let Found {
        report,
        inferred,
        location,
        not_located,
        injected,
        traces,
        marked,
    } = match report {
        Ok(done) => done,
        Err(e) => {
            if let Err(w) = written {
                message!("{w:#}");
            }
            // No report: no page, and whatever was at the path stays
            // (the unfinished output is dropped, its temporary file removed).
            drop(html);
            return Err(e);
        }
    };
    if let (Some(path), Some(n)) = (&args.pcap, written?) {
        message!("{}: {n} packets, annotated (pcapng)", path.display());
    }
    let mut facts = run_facts(args, &report, started);
    facts.location = location
        .as_ref()
        .map(|l| l.evidence.clone())
        .or_else(|| not_located.clone());
    facts.traces = traces;
    facts.injected = marked;
    if let Some((path, mut file)) = html {
        let page = crate::report::bisect_page_inferred(
            SynSide {
                label: &good.label,
                syn: &good.attributes,
            },
            SynSide {
                label: &bad.label,
                syn: &bad.attributes,
            },
            &report,
            rec.timeline(),
            &facts,
            inferred.as_ref(),
        );
        file.write_all(page.as_bytes())
            .with_context(|| format!("--html {}: cannot write", path.display()))?;
        file.commit()?;
    }
    if let Some(bundle) = bundle {
        let sides = [&good, &bad].map(|s| SynSide {
            label: &s.label,
            syn: &s.attributes,
        });
        let found = super::bundle::Finding {
            sides,
            report: &report,
            rec: &rec,
            facts: &facts,
            inferred: inferred.as_ref(),
        };
        let answered = match (args.target, &args.rule) {
            (Some(t), _) => super::bundle::Answered::Live(t),
            (None, Some(_)) => super::bundle::Answered::Rule,
            (None, None) => super::bundle::Answered::Recorded,
        };
        bundle.write(answered, dirs, found)?;
    }
    if args.json {
        let doc = Doc {
            good: &good.label,
            bad: &bad.label,
            run: &facts,
            report: &report,
            inferred: inferred.as_ref(),
            location: location.as_ref(),
            not_located: not_located.as_deref(),
            injected: injected.as_deref(),
        };
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        table(&good.label, &bad.label, &report, style, out)?;
        if let Some(inferred) = &inferred {
            super::bisect_infer::text(inferred, style, out)?;
        }
        if let Some(said) = &facts.location {
            writeln!(out, "location: {said}")?;
        }
        if let Some(why) = &injected {
            writeln!(out, "injected: {why}")?;
        }
    }
    // A capture that ended in an error was said when it was read; the
    // answer stands on what came before it, and the status says trouble.
    Ok(match (read, report.conclusion) {
        (Status::Trouble, _) => Status::Trouble,
        (_, Conclusion::Culprits) => Status::Ok,
        _ => Status::Differ,
    })
}

/// The recorder of the probes (for --pcap and --html), its pcapng created.
fn recorder(args: &BisectArgs, good: &Side, bad: &Side) -> Result<Recorder> {
    let answerer = match (&args.target, &args.rule, &args.recorded) {
        (Some(_), _, _) => Answerer::Live,
        (None, Some(expr), _) => Answerer::Rule(expr.clone()),
        (None, None, Some(path)) => Answerer::Recorded(path.display().to_string()),
        (None, None, None) => bail!("no oracle: give --target, --rule or --recorded"),
    };
    let v6 = [&good.attributes, &bad.attributes]
        .iter()
        .any(|a| a.contains(Field::Ipv6Version) || a.contains(Field::Ipv6Hlim));
    let about = format!("--good {} --bad {}", good.label, bad.label);
    let snaplen = crate::io::pcapng_writer::Snaplen::from_flag(args.snaplen);
    let rec =
        Recorder::new(args.pcap.as_deref(), snaplen, answerer, v6, &about).context("--pcap")?;
    Ok(match args.bundle {
        Some(_) => rec.keeping(),
        None => rec,
    })
}

/// `no-reply 7/7`: the verdict, and how many of the probes saw it.
fn cell(v: &VerdictReport) -> String {
    match v.verdict.as_str() {
        "pending" => "-".into(),
        "unresolved" | "unknown" => v.verdict.clone(),
        _ => {
            let seen = v.counts.get(&v.text()).copied().unwrap_or(0);
            format!("{} {seen}/{}", v.text(), v.probes)
        }
    }
}

/// `6/12 syn-ack (50%, 95% CI 25-75%), else no-reply: intermittent`: a
/// baseline's pass rate, and what it fails with.
fn baseline_cell(v: &VerdictReport, r: &Report) -> String {
    let (Some(pass), Some(rate), Some([lo, hi])) = (&r.pass_outcome, v.rate_text_of(r), v.interval)
    else {
        return format!("{:<14}", cell(v));
    };
    let mut c = format!("{rate:<22} 95% CI {:.0}-{:.0}%", lo * 100.0, hi * 100.0);
    let failed: Vec<String> = v
        .counts
        .iter()
        .filter(|(k, _)| *k != pass)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if !failed.is_empty() {
        c.push_str(&format!(", else {}", failed.join(", ")));
    }
    if r.intermittent && std::ptr::eq(v, &r.baseline.bad) {
        c.push_str(": fails intermittently");
    }
    c
}

/// Whether an intermittent failure follows the source port, in words.
fn port_line(r: &Report) -> Option<String> {
    Some(match r.port_pattern? {
        PortPattern::Parity {
            failing,
            fails,
            probes,
            other_fails,
            other_probes,
            p_value,
        } => {
            let (this, other) = match failing {
                Parity::Even => ("even", "odd"),
                Parity::Odd => ("odd", "even"),
            };
            format!(
                "failures follow the source port: {this} ports failed {fails}/{probes}, {other} ports \
                 {other_fails}/{other_probes} (p {p_value:.1e}): a flow hash or a per-port rule"
            )
        }
        PortPattern::Range {
            lo,
            hi,
            fails,
            probes,
            p_value,
        } => format!(
            "failures follow the source port: all {fails} came from ports {lo}-{hi}, no pass among \
             them ({probes} probes, p {p_value:.1e}): a port range"
        ),
        PortPattern::Unrelated { fails, probes } => format!(
            "failures ({fails} of {probes} probes) do not follow the source port (parity or range): \
             random loss, or a middlebox acting per packet"
        ),
    })
}

fn paint(v: &VerdictReport, text: &str, style: Style) -> String {
    match v.class {
        VerdictClass::Pass => style.green(text),
        VerdictClass::Fail => style.red(text),
        VerdictClass::Other => style.dim(text),
    }
}

fn value(v: &Option<crate::model::Value>) -> String {
    v.as_ref()
        .map_or_else(|| "(absent)".into(), ToString::to_string)
}

fn table(good: &str, bad: &str, r: &Report, style: Style, out: &mut dyn Write) -> io::Result<()> {
    if r.differences.is_empty() {
        return writeln!(
            out,
            "{good} and {bad}: no behavioural SYN difference, nothing to bisect"
        );
    }
    let lw = good.len().max(bad.len());
    for (label, name, v) in [
        ("good", good, &r.baseline.good),
        ("bad ", bad, &r.baseline.bad),
    ] {
        let c = baseline_cell(v, r);
        writeln!(
            out,
            "{}  {name:<lw$}  {}  confidence {:.3}",
            style.bold(label),
            paint(v, &c, style),
            v.confidence
        )?;
    }
    if let Some(line) = port_line(r) {
        writeln!(out, "{line}")?;
    }
    writeln!(out)?;
    {
        let culprit_units: Vec<&Attr> = r.culprits.iter().flatten().collect();
        let nw = r
            .differences
            .iter()
            .map(|d| d.attribute.name().len() + 2)
            .max()
            .unwrap_or(0)
            .max(9);
        let gw = r
            .differences
            .iter()
            .map(|d| value(&d.good).len())
            .max()
            .unwrap_or(0)
            .max(4);
        let bw = r
            .differences
            .iter()
            .map(|d| value(&d.bad).len())
            .max()
            .unwrap_or(0)
            .max(3);
        let head = format!(
            "   {:<nw$}  {:<gw$}  {:<bw$}  {:<16}  {}",
            "attribute", "good", "bad", "applied to good", "reverted on bad"
        );
        writeln!(out, "{}", style.bold(&head))?;
        let mut last_unit = usize::MAX;
        for d in &r.differences {
            let first = d.unit != last_unit;
            last_unit = d.unit;
            let mark = if culprit_units.contains(&&d.attribute) {
                "*"
            } else {
                " "
            };
            let name = if first {
                d.attribute.to_string()
            } else {
                format!("+ {}", d.attribute)
            };
            let mut line = format!(
                " {mark} {name:<nw$}  {:<gw$}  {:<bw$}",
                value(&d.good),
                value(&d.bad)
            );
            let line_text = if mark == "*" {
                style.bold(&line)
            } else {
                line.clone()
            };
            line = line_text;
            if let (true, Some(row)) = (first, r.single.get(d.unit)) {
                let a = format!("{:<16}", cell(&row.applied_to_good));
                let b = cell(&row.reverted_on_bad);
                line = format!(
                    "{line}  {}  {}",
                    paint(&row.applied_to_good, &a, style),
                    paint(&row.reverted_on_bad, &b, style)
                );
            }
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    writeln!(out)?;
    match r.culprits.len() {
        0 => {}
        1 if r.culprits[0].len() == 1 => writeln!(
            out,
            "{} {}",
            style.bold("culprit:"),
            style.red(r.culprits[0][0].name())
        )?,
        1 => writeln!(
            out,
            "{} {}",
            style.bold("culprits, together:"),
            style.red(&joined(&r.culprits[0]))
        )?,
        n => {
            writeln!(
                out,
                "{}",
                style.bold(&format!(
                    "culprits, {n} minimal sets (each one alone flips the outcome):"
                ))
            )?;
            for c in &r.culprits {
                writeln!(out, "  {}", style.red(&joined(c)))?;
            }
        }
    }
    shared(r, style, out)?;
    if let Some(note) = &r.note {
        writeln!(out, "{note}")?;
    }
    deciding(good, bad, r, style, out)?;
    let phases: Vec<String> = [
        (ProbePhase::Baseline, "baseline"),
        (ProbePhase::Single, "one-at-a-time"),
        (ProbePhase::Isolation, "isolation"),
        (ProbePhase::Shared, "shared"),
    ]
    .iter()
    .filter_map(|(k, label)| r.probes_by_phase.get(k).map(|n| format!("{label} {n}")))
    .collect();
    let rounds = if r.rounds == 1 { "round" } else { "rounds" };
    let mut summary = format!(
        "probes: {} in {} {rounds} ({})",
        r.probes,
        r.rounds,
        phases.join(", ")
    );
    if r.unresolved > 0 {
        summary.push_str(&format!("; {} variants unresolved", r.unresolved));
    }
    if r.conclusion == Conclusion::Culprits {
        summary.push_str(&format!("; confidence {:.3}", r.confidence));
    }
    writeln!(out, "{}", style.dim(&summary))
}
/// After the culprits: the attributes both sides share were not varied by
/// the bisection, so a rule `A && S` (S shared) shows as `A` alone. Live,
/// each was tried with one other value on bad; those that made bad pass
/// matter too.
fn shared(r: &Report, style: Style, out: &mut dyn Write) -> io::Result<()> {
    if r.shared.is_empty() {
        return Ok(());
    }
    let (tried, untried): (Vec<_>, Vec<_>) = r.shared.iter().partition(|s| s.tried.is_some());
    for s in tried.iter().filter(|s| s.matters) {
        let (Some(alt), Some(v)) = (&s.tried, &s.verdict) else {
            continue;
        };
        writeln!(
            out,
            "{} {} (both sides {}; bad with {alt}: {})",
            style.bold("also matters, shared by both sides:"),
            style.red(s.attribute.name()),
            s.value,
            cell(v)
        )?;
    }
    if !tried.is_empty() && !tried.iter().any(|s| s.matters) {
        writeln!(
            out,
            "shared by both sides, each tried on bad with one other value: none of {} changes bad's outcome",
            tried.len()
        )?;
    }
    if !untried.is_empty() {
        let names: Vec<&str> = untried.iter().map(|s| s.attribute.name()).collect();
        let what = match tried.is_empty() {
            true => "not varied (both sides share them, so the culprits may need them too)",
            false => "not varied (shared, no simple other value)",
        };
        writeln!(out, "{what}: {}", names.join(", "))?;
    }
    Ok(())
}

/// An undecided search's way forward: the sets that failed like bad but
/// are not confirmed, and each variant that would decide it with the
/// `synlab probe` that records it (then bisect the new capture).
fn deciding(
    good: &str,
    bad: &str,
    r: &Report,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    if r.deciding.is_empty() {
        return Ok(());
    }
    for set in &r.unconfirmed {
        writeln!(out, "not confirmed (fails like bad): {}", set.join(" + "))?;
    }
    writeln!(
        out,
        "{}",
        style.bold("would decide it (record each at the target, then bisect with --recorded on the captures):")
    )?;
    // A stall is seen only past the handshake: record exchanges then.
    let exchange = [&r.baseline.good, &r.baseline.bad].iter().any(|v| {
        matches!(
            v.verdict.as_str(),
            "complete" | "stalled" | "reset-mid-transfer"
        )
    });
    for (i, d) in r.deciding.iter().enumerate() {
        writeln!(
            out,
            "  {}: {} recorded, {} attempts would decide it",
            d.label, d.recorded, d.attempts
        )?;
        let mut cmd = probe_command(d, i);
        if exchange {
            cmd.push_str(" --exchange http:PATH");
        }
        writeln!(out, "    {cmd}")?;
    }
    writeln!(
        out,
        "  (GOOD, BAD: the sides' profiles; of a captured SYN, `synlab profiles learn {good} --out good.toml` makes one, and of {bad} likewise)"
    )?;
    Ok(())
}

/// `synlab probe` that records one deciding variant: good's SYN with the
/// variant's changes, as many attempts as would decide it.
fn probe_command(d: &crate::search::Deciding, i: usize) -> String {
    let mut cmd = format!(
        "synlab probe --profile {} --target IP:PORT --count {} --pcap variant-{}.pcapng",
        d.from.to_uppercase(),
        d.attempts,
        i + 1
    );
    for c in &d.changes {
        match &c.value {
            Some(v) => cmd.push_str(&format!(" --set {}={v}", c.attribute)),
            None => cmd.push_str(&format!(" --unset {}", c.attribute)),
        }
    }
    cmd
}

/// A culprit set's names joined with ` + `.
fn joined(set: &[Attr]) -> String {
    let names: Vec<&str> = set.iter().map(|a| a.name()).collect();
    names.join(" + ")
}

#[cfg(test)]
mod run_facts_tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::utc_text;

    #[test]
    fn times_are_written_as_utc() {
        assert_eq!(utc_text(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_827_696); // a leap day
        assert_eq!(utc_text(t), "2000-02-29T12:34:56Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_796_618_000);
        assert_eq!(utc_text(t), "2026-12-07T04:33:20Z");
    }
}
