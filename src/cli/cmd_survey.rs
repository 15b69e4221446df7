//! `synlab survey`: every profile, N times each, from this host (one
//! vantage), in one live session; per profile the outcome counts and the
//! pass rate with its interval. The plan and the tally are pure
//! (`crate::survey`); this is the edge: profiles from disk, the clock, the
//! live session, the printers.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use clap::{Arg, Args};

use super::live_args::{ExchangeArgs, GuardArgs, Live, PaceArgs, RouteArgs};
use super::output::{rate_cell, Style};
use super::status::Status;
use crate::io::live::LiveSession;
use crate::profile::Profile;
use crate::survey::{interleave, rfc3339, tally, ProfileResult, SurveyDoc, SCHEMA};

/// The most probes one survey sends (as `probe --count`).
const MAX_PROBES: usize = 10_000;

#[derive(Debug, Args)]
#[command(mut_args = words)]
pub struct SurveyArgs {
    /// Where to send: IP:PORT, [IPv6]:PORT.
    #[arg(long, value_parser = super::live_args::parse_target)]
    pub target: SocketAddr,
    /// This host's name in the matrix (a region, a site, a host name).
    #[arg(long, value_parser = parse_vantage)]
    pub vantage: String,
    /// The profiles to survey: names or .toml files, comma-separated or
    /// repeated, or `all` (every built-in and every profile in the
    /// profile directories). (`--profiles DIR` is the global option
    /// naming profile directories.)
    #[arg(
        long = "profile",
        value_name = "NAME,…|all",
        value_delimiter = ',',
        default_value = "all"
    )]
    pub profile: Vec<String>,
    /// Probes per profile, each from its own source port (1 to 1000).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub count: u16,
    #[command(flatten)]
    pub route: RouteArgs,
    #[command(flatten)]
    pub pace: PaceArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    /// Print the survey document (schema synlab.survey/1) instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl SurveyArgs {
    fn live(&self) -> Live<'_> {
        Live {
            route: &self.route,
            pace: &self.pace,
            guard: &self.guard,
            exchange: &self.exchange,
        }
    }
}

/// How survey words the live flags: its probes are many profiles' at once.
fn words(arg: Arg) -> Arg {
    match arg.get_id().as_str() {
        "timeout" => arg.help(
            "Seconds to wait for each probe's answer at most (0.05 to 60); less \
             once answers show the round-trip time",
        ),
        "rate" => arg.help("Probes per second, all profiles together (1 to 10000)"),
        "suppress_rst" => {
            arg.help("Drop the kernel's RSTs to our SYN-ACKs (as `probe --suppress-rst`)")
        }
        "i_own_this_network" => arg.help(
            "Allow a target that is neither loopback nor in the lab's ranges. \
             Only for networks you own",
        ),
        "exchange" => arg.help(
            "Probe past the handshake (as `probe --exchange`): a profile passes \
             when the whole response arrives. Turns --suppress-rst on",
        ),
        "stall_timeout" => {
            arg.help("With --exchange: seconds without progress that make an exchange stalled")
        }
        _ => arg,
    }
}

/// A vantage name: printable, no spaces (it goes into tables and commands).
fn parse_vantage(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 64 {
        return Err("must be 1 to 64 characters".into());
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not hold spaces or control characters".into());
    }
    Ok(s.to_owned())
}

/// The profiles named by `--profile` (`all`: every known one), each once.
fn profiles(specs: &[String], dirs: &[PathBuf]) -> Result<Vec<Profile>> {
    if specs.iter().any(|s| s == "all") {
        if specs.len() > 1 {
            bail!("--profile all surveys every profile: name no others with it");
        }
        return crate::io::profile_store::list(dirs);
    }
    let mut out: Vec<Profile> = Vec::new();
    for spec in specs {
        let p = crate::io::profile_store::resolve(spec.trim(), dirs)?;
        if !out.iter().any(|q| q.name == p.name) {
            out.push(p);
        }
    }
    Ok(out)
}

pub fn run(
    args: &SurveyArgs,
    dirs: &[PathBuf],
    style: Style,
    out: &mut dyn Write,
) -> Result<Status> {
    let profiles = profiles(&args.profile, dirs)?;
    let count = usize::from(args.count);
    if profiles.len() * count > MAX_PROBES {
        bail!(
            "{} profiles x {count} probes is more than {MAX_PROBES} probes: lower --count",
            profiles.len()
        );
    }
    let syns: Vec<_> = profiles
        .iter()
        .map(|p| match args.exchange.request {
            Some(_) => p.with_flow_attributes(),
            None => p.attributes.clone(),
        })
        .collect();
    let order = interleave(profiles.len(), count);
    let requests: Vec<_> = order.iter().map(|&p| syns[p].clone()).collect();
    let opts = args.live().options();
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // One session for the whole survey (sockets, privileges, RST rule),
    // one batch: every probe interleaved at the bounded rate.
    let mut session = LiveSession::open(args.target, &opts, requests.len())?;
    let run = match args.live().exchange_options() {
        Some(ex) => session.run_exchanges(&requests, &ex)?,
        None => session.run_batch(&requests)?,
    };
    session.close()?;
    let counts = tally(
        profiles.len(),
        &order,
        run.results.iter().map(|r| (r.index, r.outcome)),
    )?;
    let results = profiles
        .into_iter()
        .zip(counts)
        .map(|(p, c)| {
            let sig = crate::p0f::profile::signature(&p).ok();
            ProfileResult::new(p.name, p.os_family, sig, p.attributes, c)
        })
        .collect();
    let doc = SurveyDoc {
        schema: SCHEMA.to_owned(),
        vantage: args.vantage.clone(),
        target: run.target.to_string(),
        started: rfc3339(started),
        synlab_version: env!("CARGO_PKG_VERSION").to_owned(),
        src: run.src.to_string(),
        iface: run.iface.clone(),
        count: u32::from(args.count),
        rate: args.pace.rate,
        exchange: args.exchange.request.as_ref().map(ToString::to_string),
        elapsed_s: run.elapsed.as_secs_f64(),
        profiles: results,
    };
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        print_table(&doc, style, out)?;
    }
    Ok(Status::Ok)
}

fn print_table(doc: &SurveyDoc, style: Style, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "survey from {} ({} on {}) -> {}: {} profiles x {} probes, interleaved at {}/s, started {}",
        doc.vantage,
        doc.src,
        doc.iface,
        doc.target,
        doc.profiles.len(),
        doc.count,
        doc.rate,
        doc.started
    )?;
    let width = doc
        .profiles
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(0)
        .max(7);
    let header = format!(
        "{:<width$}  {:<12}  {:<14}  {:<13}  outcomes",
        "profile", "family", "pass", "95% interval"
    );
    writeln!(out, "{}", style.bold(&header))?;
    for p in &doc.profiles {
        let pass = format!(
            "{:<14}",
            rate_cell(p.outcomes.passes(), p.outcomes.probes())
        );
        let pass = match p.outcomes.status() {
            Some(crate::survey::Status::Pass) => style.green(&pass),
            _ => style.red(&pass),
        };
        let outcomes: Vec<String> = p
            .outcomes
            .slots()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{n} {name}"))
            .collect();
        writeln!(
            out,
            "{:<width$}  {:<12}  {pass}  {:<13}  {}",
            p.name,
            p.os_family.as_deref().unwrap_or("-"),
            format!("{:.2}-{:.2}", p.interval[0], p.interval[1]),
            outcomes.join(", ")
        )?;
    }
    writeln!(
        out,
        "{}",
        style.dim(&format!(
            "{:.2} s; merge surveys from several vantages with `synlab matrix FILE…` (from --json)",
            doc.elapsed_s
        ))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vantage_names_are_checked() {
        assert_eq!(parse_vantage("eu-west-1"), Ok("eu-west-1".into()));
        assert!(parse_vantage("").is_err());
        assert!(parse_vantage("two words").is_err());
        assert!(parse_vantage("bell\x07").is_err());
    }

    #[test]
    fn all_stands_alone() {
        let e = profiles(&["all".into(), "linux".into()], &[]).err();
        assert!(e.is_some_and(|e| e.to_string().contains("no others")));
        let ps = profiles(&["linux".into(), "windows-10".into(), "linux".into()], &[])
            .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["linux", "windows-10"]);
    }

    #[test]
    fn the_table_shows_counts_intervals_and_outcomes() {
        use crate::handshake::Outcome;
        use crate::survey::Counts;
        let line = |name: &str, family: &str, outcomes: &[Outcome]| {
            let mut c = Counts::default();
            outcomes.iter().for_each(|o| c.add(o));
            ProfileResult::new(
                name.into(),
                Some(family.into()),
                None,
                crate::model::Attributes::new(),
                c,
            )
        };
        let doc = SurveyDoc {
            schema: SCHEMA.into(),
            vantage: "c2".into(),
            target: "198.18.0.130:80".into(),
            started: rfc3339(1_795_698_300),
            synlab_version: "0.1.0".into(),
            src: "198.18.0.66".into(),
            iface: "to-mb".into(),
            count: 3,
            rate: 100.0,
            exchange: None,
            elapsed_s: 0.25,
            profiles: vec![
                line("linux", "Linux", &[Outcome::SynAck; 3]),
                line(
                    "windows-10",
                    "Windows",
                    &[Outcome::SynAck, Outcome::NoReply, Outcome::Reset],
                ),
            ],
        };
        let mut out = Vec::new();
        print_table(&doc, Style::new(false), &mut out).unwrap_or_else(|e| panic!("{e}"));
        let want = "\
survey from c2 (198.18.0.66 on to-mb) -> 198.18.0.130:80: 2 profiles x 3 probes, interleaved at 100/s, started 2026-11-26T13:05:00Z
profile     family        pass            95% interval   outcomes
linux       Linux         3/3 (100%)      0.44-1.00      3 syn-ack
windows-10  Windows       1/3 (33%)       0.06-0.79      1 syn-ack, 1 reset, 1 no-reply
0.25 s; merge surveys from several vantages with `synlab matrix FILE…` (from --json)
";
        assert_eq!(String::from_utf8_lossy(&out), want);
    }
}
