//! `sweep --exchange`: every probe a whole exchange (the core's sans-I/O
//! [`Exchange`] client, as `probe --exchange` runs it), many in flight at
//! once from the sweep's one raw socket. The sweep state machine hands out
//! the probes (target, profile, source port, the cookie as the ISN) and
//! takes each exchange's outcome back ([`Sweep::on_result`]); a probe
//! passes when its exchange completes, so a stack whose handshake works
//! but whose download stalls is `broken`.
//!
//! Bounded: at most `window` exchanges run at a time (memory is the window,
//! not the target list), each ends by its own limits (handshake, stall,
//! `--max-bytes`, a total), and a stop signal resets every open one
//! (RST|ACK) before the loop returns, so no server socket is left
//! established or in CLOSE-WAIT. The kernel's own RSTs to the server's
//! segments are the caller's to suppress (the nftables rule of `probe
//! --exchange`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::{admit_targets, Counters, Ended, Net, Pace, READ_BURST, SIGNAL_CHECK};
use crate::exchange::{Exchange, Limits, Params, Request};
use crate::handshake::Outcome;
use crate::io::interrupt::StopSignal;
use crate::model::{decode_frame, Attributes, Decoded, LinkType};
use crate::sweep::template::SynTemplate;
use crate::sweep::{Decided, ProbeReq, Sweep};

/// Exchanges whose outcome is known, lingering to close politely, at most
/// (beside the window): a linger of 100 ms would otherwise cap the rate at
/// ten windows a second.
const LINGER_ROOM: usize = 1024;

/// What every exchange of the sweep sends and how long it may take.
pub(super) struct Plan<'a> {
    /// Each profile's SYN.
    pub templates: &'a [SynTemplate],
    pub request: &'a Request,
    pub limits: Limits,
    /// Each profile's `[later]` attributes (`synlab.flow.*`).
    pub flows: &'a [Attributes],
    /// Exchanges running at a time at most.
    pub window: usize,
}

/// One exchange's end as a row shows it: its outcome and the response
/// bytes received in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ran {
    pub outcome: Outcome,
    pub bytes: u64,
    /// `--max-bytes` ended the response before its end.
    pub capped: bool,
}

/// Each profile's exchanges of one target, in the order they ended.
pub(super) type Runs = Vec<Vec<Ran>>;

struct Running {
    probe: ProbeReq,
    conn: Exchange,
    /// Its outcome went to the sweep; it only lingers (our FIN, the
    /// server's acknowledged) and no longer counts in the window.
    reported: bool,
}

/// The open exchanges, by (server address, our source port): the sweep
/// never has two probes to one address on one port.
#[derive(Default)]
struct Open {
    by_key: HashMap<(IpAddr, u16), Running>,
    /// Of them, exchanges whose outcome is not known yet.
    active: usize,
    /// Each open target's runs so far (at most the sweep's target window).
    runs: HashMap<SocketAddr, Runs>,
}

impl Open {
    /// Hand a captured frame to the exchange it belongs to.
    fn feed(&mut self, now: Duration, frame: &[u8]) -> bool {
        match decode_frame(LinkType::Ethernet, frame) {
            Decoded::Tcp(seg) => match self.by_key.get_mut(&(seg.src.ip(), seg.dst.port())) {
                Some(r) => {
                    r.conn.on_segment(now, &seg);
                    true
                }
                None => false,
            },
            Decoded::Icmp(e) => {
                let key = (e.quoted.dst.ip(), e.quoted.src.port());
                match self.by_key.get_mut(&key) {
                    Some(r) => {
                        r.conn.on_icmp(now, &e);
                        true
                    }
                    None => false,
                }
            }
            Decoded::Skipped(_) => false,
        }
    }
}

/// The loop: admit targets, start exchanges at the rate within the
/// window, feed captured frames, run the exchanges' timers, hand each
/// ended exchange's outcome to the sweep and each decided target out
/// (with its runs).
pub(super) fn drive(
    net: &mut Net<'_>,
    sweep: &mut Sweep,
    targets: &mut dyn Iterator<Item = Result<SocketAddr>>,
    plan: &Plan<'_>,
    stop: &mut dyn FnMut() -> Option<StopSignal>,
    decided: &mut dyn FnMut(Decided, Option<Runs>) -> Result<()>,
    c: &mut Counters,
) -> Result<Ended> {
    let mut open = Open::default();
    let ended = run(net, sweep, targets, plan, (stop, decided), c, &mut open);
    // However the loop ended (a stop, an error), no exchange is left open.
    abort_all(net, &mut open, c.elapsed);
    ended
}

/// Where the loop looks for a stop signal, and where decided targets go.
type Hooks<'a> = (
    &'a mut dyn FnMut() -> Option<StopSignal>,
    &'a mut dyn FnMut(Decided, Option<Runs>) -> Result<()>,
);

/// [`drive`]'s loop, over `open`.
fn run(
    net: &mut Net<'_>,
    sweep: &mut Sweep,
    targets: &mut dyn Iterator<Item = Result<SocketAddr>>,
    plan: &Plan<'_>,
    (stop, decided): Hooks<'_>,
    c: &mut Counters,
    open: &mut Open,
) -> Result<Ended> {
    let start = Instant::now();
    let mut more_targets = true;
    let mut last_check = Duration::ZERO;
    let mut pace = Pace::new(net.rate);
    let mut syn = Vec::with_capacity(80);
    let window = plan.window.max(1);
    loop {
        admit_targets(sweep, targets, &mut more_targets)?;
        let now = start.elapsed();
        let allowed = pace.catch_up(now);
        // Lingering exchanges (outcome known; each stays 100 ms to
        // acknowledge the server's FIN) leave room for new ones, up to
        // LINGER_ROOM of them: memory stays bounded.
        while pace.may_send(allowed)
            && open.active < window
            && open.by_key.len() < window + LINGER_ROOM
        {
            let Some(p) = sweep.next_probe(now) else {
                break;
            };
            plan.templates[p.profile].fill(&mut syn, net.src, p.target, p.src_port, p.seq);
            let params = Params {
                syn: syn.clone(),
                flow: plan.flows.get(p.profile).cloned().unwrap_or_default(),
                request: plan.request.clone(),
                limits: plan.limits,
                retries: Vec::new(),
            };
            let conn = Exchange::new(params, now)
                .with_context(|| format!("the SYN of an exchange with {}", p.target))?;
            let running = Running {
                probe: p,
                conn,
                reported: false,
            };
            // The sweep freed the port when the outcome was known: one still
            // lingering there (20,000 probes ago) is reset, not forgotten.
            if let Some(mut old) = open.by_key.insert((p.target.ip(), p.src_port), running) {
                for packet in old.conn.abort(now) {
                    net.sender
                        .send(&packet, p.target.ip())
                        .with_context(|| format!("sending to {}", p.target))?;
                }
            }
            open.active += 1;
            c.sent += 1;
            pace.sent();
        }
        for _ in 0..READ_BURST {
            let Some(frame) = net.source.next_frame().context("reading answers")? else {
                break;
            };
            open.feed(start.elapsed(), &frame.data);
        }
        let now = start.elapsed();
        let mut ended = Vec::new();
        let mut over = Vec::new();
        for (key, r) in &mut open.by_key {
            // Due timers, and segments a frame queued (ACKs): at once.
            for packet in r.conn.poll(now) {
                net.sender
                    .send(&packet, key.0)
                    .with_context(|| format!("sending to {}", r.probe.target))?;
            }
            if !r.reported {
                if let Some(result) = r.conn.ended() {
                    r.reported = true;
                    let ran = Ran {
                        outcome: result.outcome,
                        bytes: result.stats.bytes,
                        capped: result.stats.capped,
                    };
                    ended.push((r.probe, ran));
                }
            }
            if r.conn.result().is_some() {
                over.push(*key);
            }
        }
        for key in over {
            open.by_key.remove(&key);
        }
        open.active = open.active.saturating_sub(ended.len());
        for (probe, ran) in ended {
            if ran.outcome != Outcome::NoReply {
                c.answered += 1;
            }
            if sweep.on_result(&probe, ran.outcome) {
                let runs = open.runs.entry(probe.target).or_default();
                if runs.len() <= probe.profile {
                    runs.resize(probe.profile + 1, Vec::new());
                }
                if let Some(v) = runs.get_mut(probe.profile) {
                    v.push(ran);
                }
            }
        }
        // A safety net only: every exchange ends before the sweep's own
        // timeout (its limits are shorter).
        sweep.poll(now);
        while let Some(d) = sweep.pop_decided() {
            let runs = open.runs.remove(&d.target);
            decided(d, runs)?;
        }
        c.elapsed = start.elapsed();
        if !more_targets && sweep.is_idle() && open.by_key.is_empty() {
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

/// Reset every open exchange (a stop): the server frees its socket.
/// Best effort: a send that fails cannot be helped now.
fn abort_all(net: &mut Net<'_>, open: &mut Open, now: Duration) {
    for (key, r) in &mut open.by_key {
        for packet in r.conn.abort(now) {
            let _ = net.sender.send(&packet, key.0);
        }
    }
    open.by_key.clear();
}
