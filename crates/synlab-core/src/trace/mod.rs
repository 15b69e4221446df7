//! Where on the path: a SYN sent with TTL (hop limit) 1, 2, … until the
//! endpoint answers, each router's ICMP time-exceeded quote diffed against
//! what was sent (tracebox's idea, through synlab's attribute model).
//!
//! Sans-I/O like the search: [`Trace::next_round`] says which TTLs to send,
//! the driver sends them and hands each probe's answer to
//! [`Trace::record`], and [`Trace::finish`] builds the report. A missing
//! answer is normal (loss, Linux's ICMP rate limit), so an unanswered hop
//! is asked again in a later round, up to [`TraceConfig::attempts`] times,
//! and only then said silent: never from one missing answer.

mod data;
mod locate;
mod offline;
mod quote;
mod who;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

pub use data::DataTrace;
pub use locate::{
    locate, locate_data, not_located, LocateConfig, Located, Location, Locator, Probed, Side,
};
pub use offline::{OfflineTrace, ProbeFrame};
pub use quote::{
    diff_quote, icmp_of_ethernet, icmp_of_ip, read_quote, FieldChange, IcmpFrame, Quote, QuoteDiff,
};
pub use who::{not_from_endpoint, Injected, Sender, Tally};

use crate::model::{Attributes, Value};
use crate::p0f::guess_ittl;

/// What came back for one TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    TimeExceeded,
    SynAck,
    Rst,
    Unreachable,
    /// `trace --exchange`: the endpoint acknowledged the data segment.
    Ack,
    None,
}

impl Answer {
    /// The path ends here: the endpoint (or a box in its name) answered,
    /// or something refused the SYN.
    pub fn ends_path(self) -> bool {
        matches!(
            self,
            Answer::SynAck | Answer::Rst | Answer::Unreachable | Answer::Ack
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Answer::TimeExceeded => "time-exceeded",
            Answer::SynAck => "syn-ack",
            Answer::Rst => "rst",
            Answer::Unreachable => "unreachable",
            Answer::Ack => "ack",
            Answer::None => "none",
        }
    }
}

/// One probe's answer, as the driver saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub answer: Answer,
    /// The router (ICMP source) or the endpoint.
    pub from: Option<IpAddr>,
    pub rtt: Option<Duration>,
    /// The answer's own TTL (hop limit) on arrival.
    pub ttl: Option<u8>,
    /// The answering segment's IP ID and window (SYN-ACK or RST).
    pub ip_id: Option<u16>,
    pub window: Option<u16>,
    /// The ICMP error's quote, read ([`read_quote`]).
    pub quote: Option<Quote>,
    /// The probe's own SYN as sent (its port and sequence number are the
    /// probe's); `None`: the SYN given to [`Trace::finish`].
    pub sent: Option<Attributes>,
}

impl Reply {
    pub fn none() -> Reply {
        Reply {
            answer: Answer::None,
            from: None,
            rtt: None,
            ttl: None,
            ip_id: None,
            window: None,
            quote: None,
            sent: None,
        }
    }

    /// Hops between the answer's sender and us, from its TTL on arrival
    /// and the usual initial TTL above it (64, 128, 255).
    pub fn distance(&self) -> Option<u8> {
        let ttl = self.ttl?;
        let initial = guess_ittl(ttl.into());
        u8::try_from(initial.saturating_sub(ttl.into())).ok()
    }
}

/// Hops between the sender of a segment (a SYN-ACK, say) and us, from
/// its TTL (hop limit) on arrival and the usual initial TTL above it.
pub fn distance_of(segment: &Attributes) -> Option<u8> {
    let ttl = segment
        .num(crate::model::Field::IpTtl)
        .or_else(|| segment.num(crate::model::Field::Ipv6Hlim))?;
    let ttl = u8::try_from(ttl).ok()?;
    Reply {
        ttl: Some(ttl),
        ..Reply::none()
    }
    .distance()
}

/// How a trace probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceConfig {
    pub max_ttl: u8,
    /// Probes per hop at most, while it does not answer (at least 2).
    pub attempts: u8,
    /// New TTLs per round while the endpoint has not answered.
    pub window: u8,
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig {
            max_ttl: 30,
            attempts: 3,
            window: 8,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct HopState {
    sent: u8,
    answered: u8,
    /// The first answer (later ones only count).
    first: Option<Reply>,
}

/// The trace's state: what was sent per TTL and what came back.
#[derive(Clone, Debug)]
pub struct Trace {
    cfg: TraceConfig,
    /// Index TTL - 1.
    hops: Vec<HopState>,
    highest_sent: u8,
}

impl Trace {
    pub fn new(cfg: TraceConfig) -> Trace {
        let cfg = TraceConfig {
            max_ttl: cfg.max_ttl.max(1),
            attempts: cfg.attempts.max(2),
            window: cfg.window.max(1),
        };
        Trace {
            cfg,
            hops: vec![HopState::default(); usize::from(cfg.max_ttl)],
            highest_sent: 0,
        }
    }

    /// The lowest TTL whose answer ends the path, if one did.
    pub fn end_ttl(&self) -> Option<u8> {
        self.hops
            .iter()
            .position(|h| h.first.as_ref().is_some_and(|r| r.answer.ends_path()))
            .and_then(|i| u8::try_from(i + 1).ok())
    }

    fn hop(&self, ttl: u8) -> Option<&HopState> {
        self.hops.get(usize::from(ttl).checked_sub(1)?)
    }

    fn hop_mut(&mut self, ttl: u8) -> Option<&mut HopState> {
        self.hops.get_mut(usize::from(ttl).checked_sub(1)?)
    }

    /// The TTLs to send now (each counted as sent); empty when the trace
    /// is done. Unanswered hops before the end are asked again; while the
    /// endpoint has not answered, the next `window` TTLs are added.
    pub fn next_round(&mut self) -> Vec<u8> {
        let end = self.end_ttl();
        let last = end.map_or(self.highest_sent, |e| e - 1);
        let attempts = self.cfg.attempts;
        let mut ttls: Vec<u8> = (1..=last)
            .filter(|&t| {
                self.hop(t)
                    .is_some_and(|h| h.first.is_none() && h.sent < attempts)
            })
            .collect();
        if end.is_none() && self.highest_sent < self.cfg.max_ttl {
            let to = self
                .highest_sent
                .saturating_add(self.cfg.window)
                .min(self.cfg.max_ttl);
            ttls.extend(self.highest_sent + 1..=to);
            self.highest_sent = to;
        }
        for &t in &ttls {
            if let Some(h) = self.hop_mut(t) {
                h.sent = h.sent.saturating_add(1);
            }
        }
        ttls
    }

    /// Go no further than `max_ttl` (`bisect --locate`: the failing SYN
    /// is traced no further than the passing one reached); TTLs past it
    /// already sent are left out of the report.
    pub fn limit(&mut self, max_ttl: u8) {
        self.cfg.max_ttl = self.cfg.max_ttl.min(max_ttl.max(1));
        self.highest_sent = self.highest_sent.min(self.cfg.max_ttl);
    }

    /// A probe with TTL `ttl` was sent (read from a capture: the rounds
    /// were someone else's).
    pub fn sent(&mut self, ttl: u8) {
        if let Some(h) = self.hop_mut(ttl) {
            h.sent = h.sent.saturating_add(1);
            self.highest_sent = self.highest_sent.max(ttl);
        }
    }

    /// Whether a probe with TTL `ttl` was sent before the last one (the
    /// driver spaces rounds that ask a hop again: routers rate-limit).
    pub fn is_repeat(&self, ttl: u8) -> bool {
        self.hop(ttl).is_some_and(|h| h.sent > 1)
    }

    /// A probe with TTL `ttl` got `reply` (or [`Reply::none`]).
    pub fn record(&mut self, ttl: u8, reply: Reply) {
        let Some(h) = self.hop_mut(ttl) else {
            return;
        };
        if reply.answer == Answer::None {
            return;
        }
        h.answered = h.answered.saturating_add(1);
        h.first.get_or_insert(reply);
    }

    /// The report: one row per TTL up to the end of the path (or the
    /// last TTL sent), the changes and who answered.
    pub fn finish(&self, sent: &Attributes) -> TraceReport {
        build_report(&self.hops, self.end_ttl(), self.highest_sent, sent, "SYN")
    }
}

/// The report of per-TTL states: one row per TTL up to `end` (or
/// `highest_sent`), the changes and who answered; `probe` names what was
/// sent (`SYN`, `data segment`) in the evidence.
fn build_report(
    states: &[HopState],
    end: Option<u8>,
    highest_sent: u8,
    sent: &Attributes,
    probe: &str,
) -> TraceReport {
    let last = end.unwrap_or(highest_sent);
    let mut hops: Vec<HopReport> = (1..=last)
        .filter_map(|t| {
            let h = states.get(usize::from(t).checked_sub(1)?)?;
            Some(hop_report(t, h, sent))
        })
        .collect();
    if let Some(e) = end {
        mark_injected(&mut hops, e, probe);
    }
    let changes = first_changes(&hops);
    TraceReport {
        reached: end.is_some(),
        hops,
        changes,
    }
}

fn hop_report(ttl: u8, h: &HopState, sent: &Attributes) -> HopReport {
    let reply = h.first.clone().unwrap_or_else(Reply::none);
    let sent = reply.sent.as_ref().unwrap_or(sent);
    let diff = reply
        .quote
        .as_ref()
        .map(|q| diff_quote(sent, q))
        .unwrap_or_default();
    HopReport {
        ttl,
        router: reply.from,
        rtt_ms: reply.rtt.map(|d| d.as_secs_f64() * 1000.0),
        answer: reply.answer,
        quoted_bytes: reply.quote.as_ref().map(|q| q.bytes),
        changed: diff.changed,
        not_quoted: diff.not_quoted,
        probes: h.sent,
        answers: h.answered,
        distance: reply.distance(),
        ttl_seen: reply.ttl,
        ip_id: reply.ip_id,
        window: reply.window,
        injected: None,
        evidence: None,
    }
}

/// Mark the answer that ends the path when it cannot have come from the
/// endpoint. A SYN that first got past every router at TTL `end` met the
/// endpoint `end - 1` routers away; an answer from fewer hops away was
/// sent by a box on the path (and when a router's time-exceeded came from
/// the same distance, that router is named).
fn mark_injected(hops: &mut [HopReport], end: u8, probe: &str) {
    let Some(last) = hops.iter().position(|h| h.ttl == end) else {
        return;
    };
    let expected = end - 1;
    let Some(d) = hops[last].distance else {
        return;
    };
    if hops[last].answer == Answer::Unreachable || d >= expected {
        hops[last].injected = Some(false);
        return;
    }
    let same = hops[..last]
        .iter()
        .find(|h| h.answer == Answer::TimeExceeded && h.distance == Some(d));
    let ttl = hops[last].ttl_seen.unwrap_or_default();
    let opt = |v: Option<u16>| v.map_or_else(|| "?".to_owned(), |n| n.to_string());
    let mut why = format!(
        "the {} crossed {d} router(s) (TTL {ttl} of {}, IP ID {}, window {}), but an answer \
         from the endpoint, which the {probe} first reached at TTL {end}, crosses {expected}",
        hops[last].answer.name(),
        guess_ittl(ttl.into()),
        opt(hops[last].ip_id),
        opt(hops[last].window)
    );
    if let Some(h) = same {
        let router = h.router.map_or_else(|| "?".to_owned(), |r| r.to_string());
        why.push_str(&format!("; hop {} ({router}) is {d} router(s) away", h.ttl));
    }
    hops[last].injected = Some(true);
    hops[last].evidence = Some(why);
}

/// Per field, the first hop whose quote shows it changed.
fn first_changes(hops: &[HopReport]) -> Vec<Change> {
    let mut first: BTreeMap<&str, Change> = BTreeMap::new();
    for h in hops {
        for c in &h.changed {
            first.entry(c.name.as_str()).or_insert_with(|| Change {
                name: c.name.clone(),
                hop: h.ttl,
                router: h.router,
                sent: c.sent.clone(),
                seen: c.seen.clone(),
            });
        }
    }
    let mut v: Vec<Change> = first.into_values().collect();
    v.sort_by(|a, b| (a.hop, &a.name).cmp(&(b.hop, &b.name)));
    v
}

/// One TTL's row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HopReport {
    pub ttl: u8,
    pub router: Option<IpAddr>,
    pub rtt_ms: Option<f64>,
    pub answer: Answer,
    /// Bytes the ICMP error quoted (`null`: no quote).
    pub quoted_bytes: Option<usize>,
    /// Fields the quote shows different from the SYN sent.
    pub changed: Vec<FieldChange>,
    /// Fields of the SYN the quote did not include (it was cut).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_quoted: Vec<String>,
    /// Probes sent with this TTL, and how many were answered.
    pub probes: u8,
    pub answers: u8,
    /// Routers between the answer's sender and us (from its TTL on
    /// arrival and the usual initial TTL above it).
    pub distance: Option<u8>,
    /// The answer's TTL (hop limit) on arrival.
    pub ttl_seen: Option<u8>,
    /// The answering segment's IP ID and window (a SYN-ACK or RST): what
    /// tells a box's RST from the endpoint's, beside the distance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<u16>,
    /// For the answer that ends the path: whether a box on the path sent
    /// it in the endpoint's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub injected: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// A field changed on the way: the first hop whose quote shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub name: String,
    pub hop: u8,
    pub router: Option<IpAddr>,
    pub sent: Option<Value>,
    pub seen: Option<Value>,
}

/// The whole trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceReport {
    /// Something answered for the endpoint (or refused the SYN).
    pub reached: bool,
    pub hops: Vec<HopReport>,
    pub changes: Vec<Change>,
}

#[cfg(test)]
mod tests;
