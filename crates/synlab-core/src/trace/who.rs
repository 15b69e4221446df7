//! Who answered: an RST that a box on the path sends in the endpoint's
//! name carries the endpoint's address and ports, so only what the sender
//! cannot fake tells it apart: how many routers it crossed (initial TTL
//! minus the TTL on arrival) and its stack's habits (initial TTL, IP ID,
//! window). An answer is marked when it cannot have come from the host
//! that sent the endpoint's SYN-ACK: it crossed fewer routers, or its
//! initial TTL differs (one kernel sends its SYN-ACKs and RSTs with the
//! same default). IP ID and window are reported beside the verdict, not
//! decided on: an RST's window is 0 whoever sends it, and IP IDs differ
//! between a stack's own segments.

use serde::Serialize;

use crate::model::{Attributes, Field, Value};
use crate::p0f::guess_ittl;

/// What an answer says about its sender.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sender {
    /// TTL (hop limit) on arrival.
    pub ttl: Option<u8>,
    pub ip_id: Option<u16>,
    pub window: Option<u16>,
}

impl Sender {
    /// From an answering segment's attributes (`ip.ttl` or `ipv6.hlim`,
    /// `ip.id`, `tcp.window_size_value`).
    pub fn of(a: &Attributes) -> Sender {
        let num = |f: Field| a.get(f).and_then(Value::as_u64);
        Sender {
            ttl: num(Field::IpTtl)
                .or_else(|| num(Field::Ipv6Hlim))
                .and_then(|n| u8::try_from(n).ok()),
            ip_id: num(Field::IpId).and_then(|n| u16::try_from(n).ok()),
            window: num(Field::TcpWindowSizeValue).and_then(|n| u16::try_from(n).ok()),
        }
    }

    /// The usual initial TTL above the one seen (64, 128, 255).
    pub fn initial_ttl(&self) -> Option<u8> {
        let ttl = self.ttl?;
        u8::try_from(guess_ittl(ttl.into())).ok()
    }

    /// Routers between the sender and us.
    pub fn distance(&self) -> Option<u8> {
        Some(self.initial_ttl()? - self.ttl?)
    }

    /// "TTL 63 of 64, IP ID 0, window 0", for the evidence.
    fn describe(&self) -> String {
        let opt = |v: Option<u16>| v.map_or_else(|| "?".to_owned(), |n| n.to_string());
        let ttl = match (self.ttl, self.initial_ttl()) {
            (Some(t), Some(i)) => format!("TTL {t} of {i}"),
            _ => "TTL ?".to_owned(),
        };
        format!(
            "{ttl}, IP ID {}, window {}",
            opt(self.ip_id),
            opt(self.window)
        )
    }
}

/// The evidence that `answer` (an RST, named `what`) cannot have come from
/// the host that sent `endpoint` (its SYN-ACK); `None` when it may have.
pub fn not_from_endpoint(what: &str, answer: &Sender, endpoint: &Sender) -> Option<String> {
    let (d, e) = (answer.distance()?, endpoint.distance()?);
    let why = if d < e {
        format!("crossed {d} router(s), the endpoint's SYN-ACK {e}")
    } else if answer.initial_ttl() != endpoint.initial_ttl() {
        format!(
            "starts at TTL {}, the endpoint's SYN-ACK at {}",
            answer.initial_ttl()?,
            endpoint.initial_ttl()?
        )
    } else {
        return None;
    };
    Some(format!(
        "the {what} {why} ({}; the SYN-ACK's: {})",
        answer.describe(),
        endpoint.describe()
    ))
}

/// An answer marked injected, with what tells it from the endpoint's:
/// the HTML report's "Injected answers" rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Injected {
    /// Where it was seen (`search`, or the trace and its TTL).
    pub seen_in: String,
    /// The answer (`rst`, `syn-ack`).
    pub answer: String,
    /// Answers alike (same TTL, IP ID and window) seen so.
    pub count: usize,
    /// Its TTL on arrival, the usual initial TTL above it, and the
    /// routers that leaves (the hop distance).
    pub ttl: Option<u8>,
    pub initial_ttl: Option<u8>,
    pub distance: Option<u8>,
    /// Routers between us and the endpoint, from its SYN-ACK.
    pub endpoint_distance: Option<u8>,
    pub ip_id: Option<u16>,
    pub window: Option<u16>,
    pub evidence: String,
}

impl Injected {
    /// A row for `answer` from `sender`, the evidence given.
    pub fn of(
        seen_in: &str,
        answer: &str,
        sender: &Sender,
        endpoint_distance: Option<u8>,
        evidence: String,
    ) -> Injected {
        Injected {
            seen_in: seen_in.to_owned(),
            answer: answer.to_owned(),
            count: 1,
            ttl: sender.ttl,
            initial_ttl: sender.initial_ttl(),
            distance: sender.distance(),
            endpoint_distance,
            ip_id: sender.ip_id,
            window: sender.window,
            evidence,
        }
    }
}

/// A search's answers, told apart: the endpoint's first SYN-ACK and every
/// RST (`bisect`: bad's failing answers may be a box's RSTs, not the
/// endpoint's).
#[derive(Clone, Debug, Default)]
pub struct Tally {
    endpoint: Option<Sender>,
    resets: Vec<Sender>,
}

impl Tally {
    pub fn syn_ack(&mut self, s: Sender) {
        self.endpoint.get_or_insert(s);
    }

    pub fn reset(&mut self, s: Sender) {
        self.resets.push(s);
    }

    /// Routers between us and the endpoint, from its first SYN-ACK (a
    /// located bisect's traces start with a window that reaches it).
    pub fn endpoint_distance(&self) -> Option<u8> {
        self.endpoint.as_ref()?.distance()
    }

    /// Every RST that cannot have come from the endpoint, alike ones (same
    /// TTL, IP ID and window) counted in one row, in the order first seen.
    pub fn marked(&self) -> Vec<Injected> {
        let Some(endpoint) = self.endpoint.as_ref() else {
            return Vec::new();
        };
        let mut rows: Vec<(Sender, Injected)> = Vec::new();
        for r in &self.resets {
            if let Some((_, row)) = rows.iter_mut().find(|(s, _)| s == r) {
                row.count += 1;
                continue;
            }
            if let Some(why) = not_from_endpoint("rst", r, endpoint) {
                let row = Injected::of("search", "rst", r, endpoint.distance(), why);
                rows.push((*r, row));
            }
        }
        rows.into_iter().map(|(_, row)| row).collect()
    }

    /// "N of M RSTs cannot have come from the endpoint: …" (the first
    /// one's evidence); `None` when none is marked or no SYN-ACK came.
    pub fn evidence(&self) -> Option<String> {
        let endpoint = self.endpoint.as_ref()?;
        let mut marked = self
            .resets
            .iter()
            .filter_map(|r| not_from_endpoint("rst", r, endpoint));
        let first = marked.next()?;
        let n = 1 + marked.count();
        Some(format!(
            "{n} of {} RST(s) cannot have come from the endpoint: {first}",
            self.resets.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ttl: u8, ip_id: u16, window: u16) -> Sender {
        Sender {
            ttl: Some(ttl),
            ip_id: Some(ip_id),
            window: Some(window),
        }
    }

    #[test]
    fn an_rst_from_fewer_routers_away_than_the_syn_ack_is_not_the_endpoints() {
        let why = not_from_endpoint("rst", &s(63, 0, 0), &s(60, 0, 64240));
        assert_eq!(
            why.as_deref(),
            Some(
                "the rst crossed 1 router(s), the endpoint's SYN-ACK 4 \
                 (TTL 63 of 64, IP ID 0, window 0; the SYN-ACK's: TTL 60 of 64, IP ID 0, window 64240)"
            )
        );
    }

    #[test]
    fn the_endpoints_own_rst_crosses_as_many_routers_and_is_not_marked() {
        assert_eq!(
            not_from_endpoint("rst", &s(60, 0, 0), &s(60, 0, 64240)),
            None
        );
        // Farther is no box in front of the endpoint (a path that changed).
        assert_eq!(
            not_from_endpoint("rst", &s(59, 7, 0), &s(60, 0, 64240)),
            None
        );
    }

    #[test]
    fn another_initial_ttl_at_the_same_distance_is_another_stack() {
        let why = not_from_endpoint("rst", &s(251, 0, 0), &s(60, 0, 64240));
        assert!(
            why.as_deref().is_some_and(
                |w| w.starts_with("the rst starts at TTL 255, the endpoint's SYN-ACK at 64")
            ),
            "{why:?}"
        );
    }

    #[test]
    fn a_tally_counts_the_resets_a_box_sent_beside_the_endpoints() {
        let mut t = Tally::default();
        t.reset(s(63, 0, 0));
        assert_eq!(
            t.evidence(),
            None,
            "no SYN-ACK yet: nothing to compare with"
        );
        t.syn_ack(s(60, 0, 64240));
        assert_eq!(t.endpoint_distance(), Some(4));
        t.reset(s(60, 0, 0));
        t.reset(s(63, 0, 0));
        let why = t.evidence().unwrap_or_default();
        assert!(
            why.starts_with(
                "2 of 3 RST(s) cannot have come from the endpoint: the rst crossed 1 router(s)"
            ),
            "{why}"
        );
    }

    #[test]
    fn the_marked_resets_are_rows_with_their_evidence_alike_ones_counted() {
        let mut t = Tally::default();
        t.syn_ack(s(60, 0, 64240));
        for r in [s(63, 0, 0), s(60, 0, 0), s(63, 0, 0), s(62, 9, 0)] {
            t.reset(r);
        }
        let rows = t.marked();
        let got: Vec<String> = rows
            .iter()
            .map(|r| format!("{:?} {:?} {} {:?}", r.ttl, r.distance, r.count, r.ip_id))
            .collect();
        assert_eq!(
            got,
            ["Some(63) Some(1) 2 Some(0)", "Some(62) Some(2) 1 Some(9)"]
        );
        assert_eq!(rows[0].initial_ttl, Some(64));
        assert_eq!(rows[0].endpoint_distance, Some(4));
        assert!(rows[0].evidence.starts_with("the rst crossed 1 router(s)"));
    }

    #[test]
    fn without_a_ttl_nothing_is_said() {
        let none = Sender::default();
        assert_eq!(not_from_endpoint("rst", &none, &s(60, 0, 1)), None);
        assert_eq!(not_from_endpoint("rst", &s(63, 0, 0), &none), None);
    }

    #[test]
    fn a_segments_attributes_give_its_ttl_id_and_window() {
        let mut a = Attributes::default();
        a.insert(Field::Ipv6Hlim, 61u8);
        a.insert(Field::TcpWindowSizeValue, 0u16);
        let got = Sender::of(&a);
        assert_eq!((got.ttl, got.ip_id, got.window), (Some(61), None, Some(0)));
        assert_eq!(got.distance(), Some(3));
    }
}
