//! `trace --exchange`: the data segment of an established flow traced the
//! way [`Trace`](super::Trace) traces a SYN, for middleboxes that rewrite
//! or drop only data.
//!
//! The driver opens a connection with the profile's SYN and holds the
//! request ([`Exchange::hold_request`](crate::exchange::Exchange)); then
//! this state machine says when to send the request's first segment again
//! with TTL (hop limit) 1, 2, …, and reads what comes back: a router's
//! time-exceeded quoting the segment (diffed against it as sent, as the
//! SYN trace does), or the endpoint's ACK of it, which ends the path.
//!
//! Every probe is the same segment (same sequence number), so one TTL is
//! in flight at a time and an answer belongs to the TTL last sent. A probe
//! unanswered after the wait is sent again, no sooner than the retry gap
//! after the last (routers rate-limit their ICMP errors), up to
//! [`TraceConfig::attempts`] times; only then is the hop said silent.
//! As everywhere in the core the clock is passed in.

use std::net::SocketAddr;
use std::time::Duration;

use super::{
    build_report, read_quote, Answer, HopState, IcmpFrame, Reply, TraceConfig, TraceReport,
};
use crate::model::{decode_frame, Attributes, Decoded, Field, LinkType, Segment, TcpFlags};
use crate::wire::icmp::QuotedTcp;

/// The data segment probed: who sends it, where its data starts and what
/// it looks like.
#[derive(Clone, Debug)]
struct Probe {
    local: SocketAddr,
    remote: SocketAddr,
    seq: u32,
    attrs: Attributes,
}

/// A probe on its way.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    sent_at: Duration,
    deadline: Duration,
}

/// The data trace's state. See the module documentation.
#[derive(Clone, Debug)]
pub struct DataTrace {
    cfg: TraceConfig,
    /// The wait for one probe's answer.
    timeout: Duration,
    /// The least time between two probes of one TTL.
    retry_gap: Duration,
    /// Index TTL - 1.
    hops: Vec<HopState>,
    /// The TTL being probed (1 at first).
    ttl: u8,
    in_flight: Option<InFlight>,
    /// The last probe's send time (the retry gap counts from it).
    last_sent: Option<Duration>,
    /// No probe before this.
    not_before: Duration,
    end: Option<u8>,
    probe: Option<Probe>,
    probes_sent: usize,
}

impl DataTrace {
    /// A trace waiting `timeout` for each probe's answer, repeating a
    /// probe no sooner than `retry_gap` after the one before.
    pub fn new(cfg: TraceConfig, timeout: Duration, retry_gap: Duration) -> DataTrace {
        let cfg = TraceConfig {
            max_ttl: cfg.max_ttl.max(1),
            attempts: cfg.attempts.max(2),
            window: 1,
        };
        DataTrace {
            cfg,
            timeout,
            retry_gap,
            hops: vec![HopState::default(); usize::from(cfg.max_ttl)],
            ttl: 1,
            in_flight: None,
            last_sent: None,
            not_before: Duration::ZERO,
            end: None,
            probe: None,
            probes_sent: 0,
        }
    }

    /// Go no further than `max_ttl` (the endpoint's distance, read from
    /// its SYN-ACK, tells where the data should arrive).
    pub fn limit(&mut self, max_ttl: u8) {
        self.cfg.max_ttl = self.cfg.max_ttl.min(max_ttl.max(1));
    }

    /// The wait for each later probe's answer (the round trip measured
    /// in the handshake sets it).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The endpoint acknowledged the data (or something ended the path),
    /// or every TTL up to the limit was tried.
    pub fn is_done(&self) -> bool {
        self.end.is_some() || self.ttl > self.cfg.max_ttl
    }

    /// Probes sent so far.
    pub fn probes_sent(&self) -> usize {
        self.probes_sent
    }

    fn hop_mut(&mut self, ttl: u8) -> Option<&mut HopState> {
        self.hops.get_mut(usize::from(ttl).checked_sub(1)?)
    }

    /// When [`DataTrace::next_probe`] has something to do.
    pub fn poll_at(&self) -> Option<Duration> {
        if self.is_done() {
            return None;
        }
        Some(match self.in_flight {
            Some(f) => f.deadline,
            None => self.not_before,
        })
    }

    /// The TTL to send the data segment with now, if one is due (counted
    /// as sent at `now`). An unanswered probe past its wait is sent again
    /// after the retry gap, or its hop said silent after every attempt.
    pub fn next_probe(&mut self, now: Duration) -> Option<u8> {
        if let Some(f) = self.in_flight {
            if now < f.deadline {
                return None;
            }
            self.in_flight = None;
            let attempts = self.cfg.attempts;
            let sent = self.hop_mut(self.ttl).map_or(attempts, |h| h.sent);
            match sent < attempts {
                true => self.not_before = f.sent_at + self.retry_gap,
                false => self.ttl = self.ttl.saturating_add(1),
            }
        }
        if self.is_done() || now < self.not_before {
            return None;
        }
        let ttl = self.ttl;
        let h = self.hop_mut(ttl)?;
        h.sent = h.sent.saturating_add(1);
        self.in_flight = Some(InFlight {
            sent_at: now,
            deadline: now + self.timeout,
        });
        self.last_sent = Some(now);
        self.probes_sent += 1;
        Some(ttl)
    }

    /// The packet (an IP packet) just sent for the TTL
    /// [`DataTrace::next_probe`] gave: its addresses, sequence number and
    /// attributes are what answers are matched and quotes diffed against.
    pub fn sent_packet(&mut self, packet: &[u8]) {
        if let Decoded::Tcp(seg) = decode_frame(LinkType::Raw, packet) {
            self.probe = Some(Probe {
                local: seg.src,
                remote: seg.dst,
                seq: seg.seq,
                attrs: seg.attributes(),
            });
        }
    }

    /// The answer to the TTL in flight (or, late, to the TTL last sent).
    fn answer(&mut self, now: Duration, mut reply: Reply) {
        let ttl = self.ttl;
        reply.rtt = self.last_sent.map(|t| now.saturating_sub(t));
        reply.sent = self.probe.as_ref().map(|p| p.attrs.clone());
        let ends = reply.answer.ends_path();
        let Some(h) = self.hop_mut(ttl) else {
            return;
        };
        h.answered = h.answered.saturating_add(1);
        h.first.get_or_insert(reply);
        self.in_flight = None;
        match ends {
            true => self.end = Some(ttl),
            false => {
                self.ttl = ttl.saturating_add(1);
                self.not_before = now;
            }
        }
    }

    /// An ICMP error that arrived at `now`; taken when it quotes the data
    /// segment (time-exceeded: the hop's answer; anything else ends the
    /// path as unreachable).
    pub fn on_icmp(&mut self, now: Duration, e: &IcmpFrame) {
        let (Some(p), false) = (&self.probe, self.is_done()) else {
            return;
        };
        let Some(q) = QuotedTcp::parse(&e.quote) else {
            return;
        };
        if q.src != p.local || q.dst != p.remote || q.seq != p.seq {
            return;
        }
        let time_exceeded = (!e.v6 && e.icmp_type == 11) || (e.v6 && e.icmp_type == 3);
        let reply = Reply {
            answer: match time_exceeded {
                true => Answer::TimeExceeded,
                false => Answer::Unreachable,
            },
            from: Some(e.from),
            ttl: Some(e.ttl),
            quote: read_quote(&e.quote, e.original_len),
            ..Reply::none()
        };
        self.answer(now, reply);
    }

    /// A TCP segment that arrived at `now`; the endpoint's ACK past the
    /// data's first byte ends the path (`ack`), a RST too (`rst`).
    pub fn on_segment(&mut self, now: Duration, seg: &Segment<'_>) {
        let (Some(p), false) = (&self.probe, self.is_done()) else {
            return;
        };
        if seg.src != p.remote || seg.dst != p.local {
            return;
        }
        let rst = seg.flags.has(TcpFlags::RST);
        // Past the data's first byte, in the window's sense (mod 2^32).
        let acks_data = seg.flags.has(TcpFlags::ACK) && (seg.ack.wrapping_sub(p.seq) as i32) > 0;
        if !rst && !acks_data {
            return;
        }
        let a = seg.attributes();
        let num = |f: Field| a.num(f);
        let reply = Reply {
            answer: match rst {
                true => Answer::Rst,
                false => Answer::Ack,
            },
            from: Some(seg.src.ip()),
            ttl: num(Field::IpTtl)
                .or_else(|| num(Field::Ipv6Hlim))
                .and_then(|t| u8::try_from(t).ok()),
            ip_id: seg.ip_id(),
            window: Some(seg.window()),
            ..Reply::none()
        };
        self.answer(now, reply);
    }

    /// The report: one row per TTL tried (up to the end), the changes the
    /// quotes show and whether the endpoint's answer can be its own.
    pub fn finish(&self) -> TraceReport {
        let sent = self
            .probe
            .as_ref()
            .map(|p| p.attrs.clone())
            .unwrap_or_default();
        let tried = self.ttl.min(self.cfg.max_ttl);
        let highest = match self.hops.get(usize::from(tried).saturating_sub(1)) {
            Some(h) if h.sent > 0 => tried,
            _ => tried.saturating_sub(1),
        };
        build_report(&self.hops, self.end, highest, &sent, "data segment")
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr};
    use std::time::Duration;

    use super::*;
    use crate::exchange::{emit_segment, IpStyle, TcpHeader};

    fn sock(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn client() -> SocketAddr {
        sock("198.18.0.2:40000")
    }

    fn server() -> SocketAddr {
        sock("198.18.0.130:80")
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    const SEQ: u32 = 5001;

    /// A segment `from` -> `to` with TTL `ttl`, DSCP `dscp`.
    fn segment(
        from: SocketAddr,
        to: SocketAddr,
        ttl: u8,
        dscp: u8,
        ack: u32,
        body: &[u8],
    ) -> Vec<u8> {
        let ip = IpStyle {
            ttl,
            df: true,
            dscp,
            ecn: 0,
            ip_id: 7,
            flow_label: 0,
        };
        let tcp = TcpHeader {
            src: from,
            dst: to,
            seq: if from == client() { SEQ } else { 900 },
            ack,
            flags: TcpFlags::ACK | TcpFlags::PSH,
            window: 502,
            options: Vec::new(),
        };
        emit_segment(&ip, &tcp, body).unwrap_or_else(|| panic!("not emitted"))
    }

    /// The data segment with TTL `ttl`.
    fn data(ttl: u8) -> Vec<u8> {
        segment(client(), server(), ttl, 0, 901, b"GET / HTTP/1.1\r\n\r\n")
    }

    /// Router `k`'s time-exceeded, quoting the data segment with DSCP `dscp`.
    fn time_exceeded(k: u8, dscp: u8) -> IcmpFrame {
        IcmpFrame {
            from: IpAddr::from([198, 18, 1, k]),
            v6: false,
            icmp_type: 11,
            code: 0,
            ttl: 65 - k,
            quote: segment(client(), server(), 1, dscp, 901, b"GET / HTTP/1.1\r\n\r\n"),
            original_len: None,
        }
    }

    /// The endpoint's ACK of the data, `hops` routers away.
    fn ack(hops: u8) -> Vec<u8> {
        segment(server(), client(), 64 - hops, 0, SEQ + 18, &[])
    }

    fn seg_of(packet: &[u8], f: impl FnOnce(&Segment<'_>)) {
        match decode_frame(LinkType::Raw, packet) {
            Decoded::Tcp(seg) => f(&seg),
            _ => panic!("not a TCP segment"),
        }
    }

    fn send(t: &mut DataTrace, now: Duration) -> Option<u8> {
        let ttl = t.next_probe(now)?;
        t.sent_packet(&data(ttl));
        Some(ttl)
    }

    fn trace() -> DataTrace {
        let cfg = TraceConfig {
            max_ttl: 10,
            attempts: 3,
            window: 8,
        };
        DataTrace::new(cfg, ms(100), ms(500))
    }

    #[test]
    fn a_remarked_data_segment_is_named_at_its_hop_and_the_ack_ends_the_path() {
        let mut t = trace();
        assert_eq!(send(&mut t, ms(0)), Some(1));
        assert_eq!(t.next_probe(ms(1)), None, "one TTL in flight at a time");
        t.on_icmp(ms(2), &time_exceeded(1, 0));
        assert_eq!(send(&mut t, ms(2)), Some(2));
        t.on_icmp(ms(3), &time_exceeded(2, 10));
        assert_eq!(send(&mut t, ms(3)), Some(3));
        // An ACK of nothing new is not the data's.
        seg_of(&segment(server(), client(), 62, 0, SEQ, &[]), |s| {
            t.on_segment(ms(4), s)
        });
        assert!(!t.is_done());
        seg_of(&ack(2), |s| t.on_segment(ms(5), s));
        assert!(t.is_done());
        assert_eq!(t.next_probe(ms(6)), None);
        assert_eq!(t.probes_sent(), 3);
        let r = t.finish();
        assert!(r.reached);
        let answers: Vec<Answer> = r.hops.iter().map(|h| h.answer).collect();
        assert_eq!(
            answers,
            [Answer::TimeExceeded, Answer::TimeExceeded, Answer::Ack]
        );
        let changes: Vec<(&str, u8)> = r.changes.iter().map(|c| (c.name.as_str(), c.hop)).collect();
        assert_eq!(changes, [("ip.dsfield.dscp", 2)]);
        assert_eq!(r.hops[2].injected, Some(false));
        assert_eq!(r.hops[2].rtt_ms, Some(2.0));
    }

    #[test]
    fn a_silent_hop_is_asked_again_after_the_gap_then_said_silent() {
        let mut t = trace();
        assert_eq!(send(&mut t, ms(0)), Some(1));
        t.on_icmp(ms(1), &time_exceeded(1, 0));
        assert_eq!(send(&mut t, ms(1)), Some(2));
        // Unanswered: no repeat before the wait, nor before the gap.
        assert_eq!(t.next_probe(ms(50)), None);
        assert_eq!(t.poll_at(), Some(ms(101)));
        assert_eq!(t.next_probe(ms(101)), None);
        assert_eq!(t.poll_at(), Some(ms(501)));
        assert_eq!(send(&mut t, ms(501)), Some(2));
        assert_eq!(send(&mut t, ms(1001)), Some(2));
        // The third went unanswered too: on to TTL 3.
        assert_eq!(send(&mut t, ms(1101)), Some(3));
        seg_of(&ack(3), |s| t.on_segment(ms(1102), s));
        let r = t.finish();
        assert_eq!(r.hops[1].answer, Answer::None);
        assert_eq!(r.hops[1].probes, 3);
        assert_eq!(r.hops[2].answer, Answer::Ack);
        assert_eq!(t.probes_sent(), 5);
    }

    #[test]
    fn data_dropped_on_the_way_is_traced_to_the_limit_and_not_reached() {
        let mut t = trace();
        t.limit(3);
        assert_eq!(send(&mut t, ms(0)), Some(1));
        t.on_icmp(ms(1), &time_exceeded(1, 0));
        let mut now = ms(1);
        let mut sent = Vec::new();
        while !t.is_done() {
            if let Some(ttl) = send(&mut t, now) {
                sent.push(ttl);
            }
            now = t.poll_at().unwrap_or(now).max(now);
            assert!(now < ms(10_000), "the trace does not end");
        }
        assert_eq!(sent, [2, 2, 2, 3, 3, 3]);
        let r = t.finish();
        assert!(!r.reached);
        assert_eq!(r.hops.len(), 3);
        assert!(r.hops[1..].iter().all(|h| h.answer == Answer::None));
    }

    #[test]
    fn an_icmp_error_about_another_segment_is_not_the_datas() {
        let mut t = trace();
        assert_eq!(send(&mut t, ms(0)), Some(1));
        let mut other = time_exceeded(1, 0);
        other.quote = segment(sock("198.18.0.2:40001"), server(), 1, 0, 901, b"x");
        t.on_icmp(ms(1), &other);
        assert_eq!(t.next_probe(ms(2)), None);
        assert_eq!(t.finish().hops[0].answer, Answer::None);
    }
}
