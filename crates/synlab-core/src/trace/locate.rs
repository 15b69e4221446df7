//! Where the failing SYN dies: its trace beside the passing one's
//! (`bisect --locate`).
//!
//! Both SYNs cross the same routers, so a TTL the passing SYN gets an
//! answer for and the failing one does not (after every attempt) marks the
//! stretch where the failing one was dropped: past the last hop that still
//! answers for it. An answer that ends the failing trace but was injected
//! by a router ([`super::HopReport::injected`]) names that router.

use std::net::IpAddr;

use serde::Serialize;

use super::{Answer, HopReport, TraceReport};

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

/// Where the failing trace stops short of the passing one; `None` when
/// the passing trace goes no further than the failing one.
pub fn locate(pass: &TraceReport, fail: &TraceReport) -> Option<Location> {
    if let Some(end) = fail.hops.iter().find(|h| h.injected == Some(true)) {
        return Some(injected(fail, end));
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
                "both SYNs reach the endpoint (TTL {last}); it answers the failing one with {}",
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
    let (at_endpoint, evidence) = if next.answer.ends_path() {
        (
            true,
            format!(
                "at the endpoint: every router answers both SYNs; the endpoint ({}, TTL {}) \
                 answers the passing SYN ({}) and stays silent for the failing one \
                 (dropped {before} and it)",
                router_text(Some(next)),
                next.ttl,
                next.answer.name()
            ),
        )
    } else {
        (
            false,
            format!(
                "dropped {before} and hop {}: hop {} ({}) answers the passing SYN and stays \
                 silent for the failing one",
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

/// A router answered the failing SYN in the endpoint's name: located at
/// the router its hop distance points to.
fn injected(fail: &TraceReport, end: &HopReport) -> Location {
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
            "hop {hop} ({}) answers the failing SYN with its own {} in the endpoint's name: {}",
            router_text(at),
            end.answer.name(),
            end.evidence.as_deref().unwrap_or_default()
        ),
    }
}
