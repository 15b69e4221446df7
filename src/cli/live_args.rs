//! The flags of the commands that send (`probe`, `survey`, `bisect
//! --target`), declared once in four small groups that each command
//! flattens where its help lists them, and [`Live::options`], the one place
//! they become a live session's options.
//!
//! The groups are worded for `probe`. A command that means something more
//! (bisect's live flags are for `--target` only) rewords them with
//! `#[command(mut_args = ...)]`, which keeps the flags' order, so its help,
//! man page and completions read as they always have. The checks (ranges,
//! `--stall-timeout` needing `--exchange`) are the groups' and never
//! reworded.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Args;

use crate::exchange::Request;
use crate::io::live::{ExchangeOptions, LiveOptions};

// The groups carry no doc comment: on a flattened group clap would take it
// as the command's about. `#[group(skip)]`: they constrain nothing.

#[derive(Debug, Args)]
#[group(skip)]
pub struct RouteArgs {
    /// Interface to capture answers on (default: the one holding the source address).
    #[arg(long)]
    pub iface: Option<String>,
    /// Source address (default: the one the kernel routes from towards the target).
    #[arg(long)]
    pub src: Option<IpAddr>,
}

#[derive(Debug, Args)]
#[group(skip)]
pub struct PaceArgs {
    /// Seconds to wait for each probe's answer at most (0.05 to 60); less
    /// once answers show the round-trip time (SRTT + 4 RTTVAR, at least 0.1).
    #[arg(long, default_value_t = 2.0, value_parser = parse_timeout)]
    pub timeout: f64,
    /// Probes per second (1 to 10000).
    #[arg(long, default_value_t = 100.0, value_parser = parse_rate)]
    pub rate: f64,
}

#[derive(Debug, Args)]
#[group(skip)]
pub struct GuardArgs {
    /// Drop the kernel's RSTs to our SYN-ACKs with a temporary nftables rule
    /// (table inet synlab_probe_PID, our source ports only; needs CAP_NET_ADMIN).
    #[arg(long)]
    pub suppress_rst: bool,
    /// Allow a target that is neither loopback nor in the lab's ranges
    /// (198.18.0.0/15, 2001:2::/48, from inside a namespace). Only for
    /// networks you own.
    #[arg(long)]
    pub i_own_this_network: bool,
}

#[derive(Debug, Args)]
#[group(skip)]
pub struct ExchangeArgs {
    /// After the handshake, send a request and receive the whole response
    /// over a user-space TCP that puts the profile's attributes (and its
    /// `[later]` table, as synlab.flow.*) on every segment: http:PATH (a
    /// GET; the response ends at its Content-Length or the server's FIN),
    /// a URL http://HOST[:PORT]/PATH (a GET of PATH with Host: HOST[:PORT],
    /// still sent to --target) or hex:BYTES (ends at the FIN). Outcomes:
    /// complete, http-error (a 4xx/5xx status), stalled, reset-mid-transfer.
    /// Turns --suppress-rst on.
    #[arg(id = "exchange", long = "exchange", value_name = "http:PATH|hex:BYTES")]
    pub request: Option<Request>,
    /// With --exchange: seconds without progress, before the response
    /// ended, that make an exchange `stalled` (0.1 to 60).
    #[arg(long, value_name = "SECS", default_value_t = 2.0, value_parser = parse_stall, requires = "exchange")]
    pub stall_timeout: f64,
    /// With --exchange: the response's bytes at most. A body that streams
    /// without end stops there, reset, as `complete` (or `http-error` by its
    /// status) with "capped" in the row and `capped` in the JSON.
    #[arg(long, value_name = "BYTES", default_value_t = EXCHANGE_MAX_BYTES, value_parser = parse_max_bytes, requires = "exchange")]
    pub max_bytes: u64,
}

/// One command's live flags, gathered.
#[derive(Clone, Copy)]
pub struct Live<'a> {
    pub route: &'a RouteArgs,
    pub pace: &'a PaceArgs,
    pub guard: &'a GuardArgs,
    pub exchange: &'a ExchangeArgs,
}

impl Live<'_> {
    /// The session's options as the flags give them (`--exchange` turns
    /// `--suppress-rst` on); what a command adds (`ports`, `keep_frames`) it
    /// sets over these.
    pub fn options(&self) -> LiveOptions {
        LiveOptions {
            iface: self.route.iface.clone(),
            src: self.route.src,
            timeout: Duration::from_secs_f64(self.pace.timeout),
            rate: self.pace.rate,
            suppress_rst: self.guard.suppress_rst || self.exchange.request.is_some(),
            i_own_this_network: self.guard.i_own_this_network,
            ..LiveOptions::default()
        }
    }

    /// With `--exchange`, what every exchange sends and how long it may take.
    pub fn exchange_options(&self) -> Option<ExchangeOptions> {
        let request = self.exchange.request.as_ref()?;
        Some(exchange_options(
            request,
            self.exchange.stall_timeout,
            self.pace.timeout,
            self.exchange.max_bytes,
        ))
    }
}

/// The longest exchange: a slow download still ends.
pub const EXCHANGE_TOTAL: Duration = Duration::from_secs(120);

/// The longest response by default: 64 MiB, a second or less on a lab or
/// data-centre path, so a body without end is noticed quickly, and beyond
/// the downloads a middlebox's behaviour shows in (it drops or stalls a flow
/// within its first megabytes).
pub const EXCHANGE_MAX_BYTES: u64 = 64 << 20;

/// The exchange options for a request and stall timeout.
fn exchange_options(
    request: &Request,
    stall_s: f64,
    timeout_s: f64,
    max_bytes: u64,
) -> ExchangeOptions {
    ExchangeOptions {
        request: request.clone(),
        stall: Duration::from_secs_f64(stall_s),
        total: EXCHANGE_TOTAL,
        max_bytes,
        handshake: Duration::from_secs_f64(timeout_s),
        retries: Vec::new(),
    }
}

fn parse_max_bytes(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("must be at least 1 byte".into()),
        Ok(v) => Ok(v),
        Err(e) => Err(format!("{e}")),
    }
}

fn parse_stall(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.1..=60.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be between 0.1 and 60 seconds".into())
    }
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.05..=60.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be between 0.05 and 60 seconds".into())
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (1.0..=10000.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be between 1 and 10000 probes per second".into())
    }
}

/// `--target`: IP:PORT or [IPv6]:PORT. An address without its port (as
/// people paste it) is refused with the form expected, not as a syntax error.
pub fn parse_target(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = s.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            Err(format!("IP:PORT is expected, with the port: e.g. {ip}:80"))
        }
        Ok(std::net::IpAddr::V6(ip)) => Err(format!(
            "[IPv6]:PORT is expected, with the port: e.g. [{ip}]:80"
        )),
        Err(_) => Err(
            "IP:PORT or [IPv6]:PORT is expected (an address, not a name): e.g. 198.18.0.1:80"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod target_tests {
    use super::parse_target;

    /// Issue 21: `--target 1.2.3.4` said "invalid socket address syntax";
    /// it says the port is missing, and the form.
    #[test]
    fn a_target_without_its_port_says_ip_port_is_expected() {
        assert_eq!(
            parse_target("1.2.3.4"),
            Err("IP:PORT is expected, with the port: e.g. 1.2.3.4:80".into())
        );
        assert_eq!(
            parse_target("2001:2::1"),
            Err("[IPv6]:PORT is expected, with the port: e.g. [2001:2::1]:80".into())
        );
        assert!(parse_target("example.com:80").is_err_and(|e| e.contains("IP:PORT")));
        assert!(parse_target("127.0.0.1:80").is_ok());
        assert!(parse_target("[::1]:80").is_ok());
    }
}
