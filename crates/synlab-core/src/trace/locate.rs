//! Where the failing SYN dies: its trace beside the passing one's
//! (`bisect --locate`).
//!
//! Both SYNs cross the same routers, so a TTL the passing SYN gets an
//! answer for and the failing one does not marks the stretch where the
//! failing one was dropped: past the last hop that still answers for it.
//! An answer that ends the failing trace but was injected by a router
//! ([`super::HopReport::injected`]) names that router.
//!
//! Under loss, "does not answer" is a verdict, not one observation: the
//! [`Locator`] runs both traces in lockstep, then asks the failing SYN
//! again at the hops its location rests on (past the last hop that
//! answered it, up to the first one that answered the passing SYN) until
//! the misses there are unlikely from an answering hop, at the rate the
//! answering hops as far or farther and the search's own baseline showed
//! ([`crate::search::stats::misses_chance`] below `alpha`), or until
//! `max_probes`. A hop that answers once moves the location on and the
//! next boundary is asked about the same way.

use std::net::IpAddr;

use serde::Serialize;

use super::{Answer, Attributes, HopReport, Reply, Trace, TraceConfig, TraceReport};
use crate::search::stats::misses_chance;

/// Where the failing SYN was stopped, and why synlab says so.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Location {
    /// The last hop that still answers for the failing SYN (0: none does):
    /// the drop is past it, before the next one.
    pub hop: u8,
    pub router: Option<IpAddr>,
    /// Every router answers for both SYNs: the failing one is stopped at
    /// the endpoint (or on the last link to it).
    pub at_endpoint: bool,
    pub evidence: String,
}

fn router_text(h: Option<&HopReport>) -> String {
    h.and_then(|h| h.router)
        .map_or_else(|| "?".to_owned(), |r| r.to_string())
}

fn hop_at(r: &TraceReport, ttl: u8) -> Option<&HopReport> {
    r.hops.iter().find(|h| h.ttl == ttl)
}

/// What the two traces sent: the word the evidence uses for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probed {
    /// SYNs (`bisect --locate`).
    Syn,
    /// The request's first data segment of an established connection
    /// (`bisect --exchange --locate`).
    Data,
}

impl Probed {
    /// "SYN", "data segment".
    pub fn noun(self) -> &'static str {
        match self {
            Probed::Syn => "SYN",
            Probed::Data => "data segment",
        }
    }
}

/// Where the failing trace stops short of the passing one; `None` when
/// the passing trace goes no further than the failing one.
pub fn locate(pass: &TraceReport, fail: &TraceReport) -> Option<Location> {
    locate_probed(pass, fail, Probed::Syn)
}

/// `bisect --exchange --locate`: where the failing side's data segment
/// dies, traced beside the passing side's on connections both made.
/// `Err`: why these traces cannot say where, in a sentence. A failing
/// request the endpoint acknowledges as it does the passing one is such
/// a case: what the box stops then travels from the server to the client
/// (its data, as in the incident synlab was made for), and TTL-limited
/// probes from the client cannot follow that direction hop by hop.
pub fn locate_data(pass: &TraceReport, fail: &TraceReport) -> Result<Location, String> {
    if let (true, Some(f), Some(p)) = (fail.reached, path_end(fail), path_end(pass)) {
        if f.answer == p.answer && f.injected != Some(true) {
            return Err(format!(
                "not located on the way to the endpoint: the failing side's request reaches it \
                 (TTL {}) and is answered with {} as the passing side's is, so what is lost \
                 travels from the server to the client (its data or its acknowledgements), \
                 which TTL-limited probes from the client cannot follow hop by hop",
                f.ttl,
                f.answer.name()
            ));
        }
    }
    locate_probed(pass, fail, Probed::Data).ok_or_else(|| not_located(fail, Probed::Data))
}

/// Why no location is said when the failing trace goes as far as the
/// passing one (`locate` gave `None`), in a sentence.
pub fn not_located(fail: &TraceReport, what: Probed) -> String {
    let last = fail.hops.iter().rev().find(|h| h.answer != Answer::None);
    format!(
        "not located: the failing side's {} goes as far as the passing side's (TTL {})",
        what.noun(),
        last.map_or(0, |h| h.ttl)
    )
}

/// The answer that ended a trace (the endpoint's, or one in its name).
fn path_end(r: &TraceReport) -> Option<&HopReport> {
    r.hops.iter().rev().find(|h| h.answer.ends_path())
}

fn locate_probed(pass: &TraceReport, fail: &TraceReport, what: Probed) -> Option<Location> {
    let noun = what.noun();
    if let Some(end) = fail.hops.iter().find(|h| h.injected == Some(true)) {
        return Some(injected(fail, end, noun));
    }
    let last = fail
        .hops
        .iter()
        .filter(|h| h.answer != Answer::None)
        .map(|h| h.ttl)
        .max()
        .unwrap_or(0);
    if fail.reached {
        let end = hop_at(fail, last);
        return Some(Location {
            hop: last,
            router: end.and_then(|h| h.router),
            at_endpoint: true,
            evidence: format!(
                "both {noun}s reach the endpoint (TTL {last}); it answers the failing one with {}",
                end.map_or("?", |h| h.answer.name())
            ),
        });
    }
    let next = pass
        .hops
        .iter()
        .find(|h| h.ttl > last && h.answer != Answer::None)?;
    let before = match last {
        0 => "before hop 1".to_owned(),
        k => format!("between hop {k} ({})", router_text(hop_at(fail, k))),
    };
    let probes = hop_at(fail, next.ttl).map_or(0, |h| h.probes);
    let (at_endpoint, evidence) = if next.answer.ends_path() {
        (
            true,
            format!(
                "at the endpoint: every router answers both {noun}s; the endpoint ({}, TTL {}) \
                 answers the passing {noun} ({}) and stays silent for the failing one \
                 ({probes} probe(s), none answered; dropped {before} and it)",
                router_text(Some(next)),
                next.ttl,
                next.answer.name()
            ),
        )
    } else {
        (
            false,
            format!(
                "dropped {before} and hop {}: hop {} ({}) answers the passing {noun} and stays \
                 silent for the failing one ({probes} probe(s), none answered)",
                next.ttl,
                next.ttl,
                router_text(Some(next))
            ),
        )
    };
    Some(Location {
        hop: last,
        router: hop_at(fail, last).and_then(|h| h.router),
        at_endpoint,
        evidence,
    })
}

/// A router answered the failing probe in the endpoint's name: located
/// at the router its hop distance points to.
fn injected(fail: &TraceReport, end: &HopReport, noun: &str) -> Location {
    let at = fail
        .hops
        .iter()
        .find(|h| h.answer == Answer::TimeExceeded && h.distance == end.distance);
    let hop = at.map_or(end.ttl.saturating_sub(1), |h| h.ttl);
    Location {
        hop,
        router: at.and_then(|h| h.router),
        at_endpoint: false,
        evidence: format!(
            "hop {hop} ({}) answers the failing {noun} with its own {} in the endpoint's name: {}",
            router_text(at),
            end.answer.name(),
            end.evidence.as_deref().unwrap_or_default()
        ),
    }
}

/// Probes at most a round to one hop while its silence is not sure, once
/// the trace's own attempts (one a round, half a second apart, so that a
/// moment of loss or an empty rate-limit bucket does not take them all)
/// are spent: a hop that does answer then still answers them (Linux lets
/// a burst of 6 ICMP errors through to one destination, then one a
/// second), and a lossy path needs rounds less.
const BURST: u8 = 3;

/// Which of the two traces a probe belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// The passing SYN (good's).
    Pass,
    /// The failing SYN (bad's).
    Fail,
}

/// How sure `--locate` must be before a hop is said silent for the
/// failing SYN.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocateConfig {
    pub trace: TraceConfig,
    /// The chance at most that an answering hop left every probe of the
    /// failing SYN unanswered.
    pub alpha: f64,
    /// Probes at most of the failing SYN at one hop.
    pub max_probes: u8,
}

impl Default for LocateConfig {
    fn default() -> Self {
        LocateConfig {
            trace: TraceConfig::default(),
            alpha: 1e-4,
            max_probes: 24,
        }
    }
}

/// The two traces of `bisect --locate` as one state machine, with the
/// repeats that make the location a verdict (see the module's docs):
/// [`Locator::next_round`] gives the probes to send, [`Locator::record`]
/// takes each one's answer, [`Locator::finish`] the traces and where the
/// failing SYN dies.
#[derive(Clone, Debug)]
pub struct Locator {
    pass: Trace,
    fail: Trace,
    alpha: f64,
    max_probes: u8,
    /// Answers and probes of the passing SYN end to end, from the search's
    /// baseline: a prior for the rate an answering hop answers at.
    prior: (u32, u32),
}

/// What `--locate` found: both traces and the location.
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    pub pass: TraceReport,
    pub fail: TraceReport,
    pub location: Option<Location>,
}

impl Locator {
    /// `prior`: the search's good baseline, its answers and probes.
    pub fn new(cfg: LocateConfig, prior: (u32, u32)) -> Locator {
        let alpha = match cfg.alpha > 0.0 && cfg.alpha < 1.0 {
            true => cfg.alpha,
            false => LocateConfig::default().alpha,
        };
        Locator {
            pass: Trace::new(cfg.trace),
            fail: Trace::new(cfg.trace),
            alpha,
            max_probes: cfg.max_probes.max(cfg.trace.attempts).max(2),
            prior: (prior.0.min(prior.1), prior.1),
        }
    }

    fn trace(&self, side: Side) -> &Trace {
        match side {
            Side::Pass => &self.pass,
            Side::Fail => &self.fail,
        }
    }

    /// The probes to send now, each counted as sent; empty when done:
    /// both traces' own rounds, and the hops the location is not yet sure
    /// of asked again past the traces' attempts (up to [`BURST`] probes a
    /// hop in a round).
    pub fn next_round(&mut self) -> Vec<(Side, u8)> {
        // What the answers so far leave unsure, before this round's asks.
        let unsure = self.unsure();
        let mut round: Vec<(Side, u8)> = self
            .pass
            .next_round()
            .into_iter()
            .map(|t| (Side::Pass, t))
            .chain(self.fail.next_round().into_iter().map(|t| (Side::Fail, t)))
            .collect();
        for (side, ttl, needed) in unsure {
            let own = round.iter().filter(|&&p| p == (side, ttl)).count();
            let room = usize::from(BURST).saturating_sub(own);
            let trace = match side {
                Side::Pass => &mut self.pass,
                Side::Fail => &mut self.fail,
            };
            let spread = trace.cfg.attempts;
            if let Some(h) = trace.hop_mut(ttl).filter(|h| h.sent >= spread) {
                let more = needed
                    .saturating_sub(h.sent)
                    .min(u8::try_from(room).unwrap_or(0));
                h.sent = h.sent.saturating_add(more);
                round.extend(std::iter::repeat_n((side, ttl), usize::from(more)));
            }
        }
        round
    }

    /// Whether the probe with `ttl` of `side` asks its hop again (the
    /// driver spaces such rounds: routers rate-limit their errors).
    pub fn is_repeat(&self, side: Side, ttl: u8) -> bool {
        self.trace(side).is_repeat(ttl)
    }

    /// A probe got `reply` (or [`Reply::none`]). The failing SYN is traced
    /// no further than the passing one reached.
    pub fn record(&mut self, side: Side, ttl: u8, reply: Reply) {
        match side {
            Side::Pass => self.pass.record(ttl, reply),
            Side::Fail => self.fail.record(ttl, reply),
        }
        if let Some(end) = self.pass.end_ttl() {
            self.fail.limit(end);
        }
    }

    /// The rate a hop `ttl` away answers at, if it answers: answers and
    /// probes at every hop from `ttl` on that answered at least once (both
    /// traces), with the prior. Farther hops only: an answer from past a
    /// lossy link crosses it twice, so nearer hops would flatter the rate.
    fn answer_rate(&self, ttl: u8) -> (u32, u32) {
        let from = usize::from(ttl.max(1)) - 1;
        let (k, n) = [&self.pass, &self.fail]
            .iter()
            .flat_map(|t| t.hops.iter().skip(from))
            .filter(|h| h.answered > 0)
            .fold(self.prior, |(k, n), h| {
                (k + u32::from(h.answered), n + u32::from(h.sent))
            });
        (k.min(n), n)
    }

    /// The hops the location rests on that are not yet surely silent, and
    /// how many probes each needs in all:
    /// past the last hop that answered the failing SYN, up to the first
    /// hop past that which answered the passing SYN (`next`), the failing
    /// SYN's; before `next`, the passing SYN's too (a hop it lost every
    /// answer of would move the location to the endpoint).
    fn unsure(&self) -> Vec<(Side, u8, u8)> {
        if self.fail.end_ttl().is_some() {
            return Vec::new();
        }
        let answered = |t: &Trace, ttl: u8| t.hop(ttl).is_some_and(|h| h.answered > 0);
        let limit = self.fail.cfg.max_ttl;
        let last = (1..=limit)
            .rev()
            .find(|&ttl| answered(&self.fail, ttl))
            .unwrap_or(0);
        let Some(next) = (last + 1..=self.pass.cfg.max_ttl).find(|&ttl| answered(&self.pass, ttl))
        else {
            return Vec::new();
        };
        // The probes a silent hop needs in all before its silence is sure.
        let needed = |t: &Trace, ttl: u8| {
            let (k, n) = self.answer_rate(ttl);
            let h = t.hop(ttl).filter(|h| h.answered == 0)?;
            let needed = (h.sent..self.max_probes)
                .find(|&m| misses_chance(k, n, u32::from(m)) <= self.alpha)
                .unwrap_or(self.max_probes);
            (needed > h.sent).then_some(needed)
        };
        let pass =
            (last + 1..next).filter_map(|ttl| Some((Side::Pass, ttl, needed(&self.pass, ttl)?)));
        let fail = (last + 1..=next.min(limit))
            .filter_map(|ttl| Some((Side::Fail, ttl, needed(&self.fail, ttl)?)));
        pass.chain(fail).collect()
    }

    /// Both traces' reports and where the failing SYN dies.
    pub fn finish(&self, pass: &Attributes, fail: &Attributes) -> Located {
        let pass = self.pass.finish(pass);
        let fail = self.fail.finish(fail);
        let location = locate(&pass, &fail);
        Located {
            pass,
            fail,
            location,
        }
    }
}

#[cfg(test)]
mod tests;
