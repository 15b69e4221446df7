//! The client connection: handshake, request, response, end.
//!
//! A receiver first: it takes the server's data in order, holds segments
//! that arrive ahead of a gap (within its window), acknowledges every
//! segment (a duplicate or out-of-order one at once, with SACK blocks when
//! SACK was negotiated, so the server's fast retransmit works), and
//! recognises the end of the response (Content-Length or FIN). The sender
//! side is only as much as one request needs: it respects the server's
//! window and MSS (probing a zero window on a backed-off timer),
//! retransmits on a timer, and retransmits its FIN (a few times) until the
//! server acknowledges it. With ECN negotiated, a CE mark on the server's
//! segments is echoed with ECE on every segment until the server's CWR.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use super::request::{response_head, Request, ResponseHead};
use super::wire::{emit_segment, IpStyle, TcpHeader};
use crate::handshake::Outcome;
use crate::model::{
    decode_frame, Attributes, Decoded, Field, IcmpError, Segment, TcpFlags, TcpOption, Value,
};

/// How long an exchange may take, and when it counts as stalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// No SYN-ACK (or RST, ICMP error) this long after the SYN: no-reply.
    pub handshake: Duration,
    /// No progress (new response bytes in order, the request acknowledged)
    /// this long before the response ended: stalled.
    pub stall: Duration,
    /// The whole exchange at most (a server that trickles forever).
    pub total: Duration,
}

/// What an exchange starts from.
#[derive(Clone, Debug)]
pub struct Params {
    /// The SYN as sent (an IP packet): addresses, ISN, IP ID, options and
    /// timestamp clock come from it.
    pub syn: Vec<u8>,
    /// The request's `synlab.flow.*` attributes: what later segments carry
    /// (TTL, DF, ECN codepoint, timestamps, IP ID pattern); each one
    /// absent follows the SYN.
    pub flow: Attributes,
    pub request: Request,
    pub limits: Limits,
    /// The SYN as retransmitted: `(N, packet)` is sent from try N on (the
    /// first SYN is try 1), the latest N not above the try winning. Same
    /// addresses and ISN as `syn`; what the handshake negotiates follows
    /// the SYN sent last. Empty: every try resends `syn`.
    pub retries: Vec<(u32, Vec<u8>)>,
}

/// The SYN an exchange was asked to start from is not one.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("the packet to start an exchange from is not a TCP SYN")]
pub struct NotASyn;

/// Check that `packet` is a TCP SYN an exchange can start from.
pub fn check_syn(packet: &[u8]) -> Result<(), NotASyn> {
    SynFacts::read(packet).map(|_| ())
}

/// The numbers of one exchange.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ExchangeStats {
    pub request: String,
    /// Response bytes received in order (HTTP: head and body).
    pub bytes: u64,
    /// Payload bytes of every server segment, retransmissions included.
    pub bytes_seen: u64,
    /// From the request's first byte sent to the end of the exchange.
    pub duration_s: f64,
    /// `bytes` over `duration_s`, in MB/s (10^6), when complete.
    pub throughput_mb_s: Option<f64>,
    pub http_status: Option<u16>,
    pub content_length: Option<u64>,
    /// Stalled: the stream offset where progress stopped.
    pub stalled_at: Option<u64>,
    /// The server closed (FIN) before its Content-Length was received.
    pub truncated: bool,
    /// Segments from the server holding only bytes already received.
    pub server_retransmissions: u32,
    /// Segments from the server that arrived ahead of a gap.
    pub out_of_order: u32,
    /// Server segments marked CE (congestion experienced), ECN negotiated.
    pub ce_received: u32,
    /// Probes of the server's zero window.
    pub zero_window_probes: u32,
    /// Our FIN sent again, unacknowledged.
    pub fin_retransmissions: u32,
    pub segments_sent: u32,
    pub segments_received: u32,
    /// Negotiated in the handshake.
    pub timestamps: bool,
    pub sack: bool,
    pub ecn: bool,
    pub window_scale: Option<u8>,
    /// The window field of the client's segments after the SYN.
    pub window: u16,
}

/// How an exchange ended.
#[derive(Clone, Debug, PartialEq)]
pub struct ExchangeResult {
    pub outcome: Outcome,
    /// From the (first) SYN to the SYN-ACK.
    pub rtt: Option<Duration>,
    /// The SYN-ACK, or the RST that answered the SYN.
    pub reply: Option<Attributes>,
    /// Who sent the ICMP error that answered the SYN.
    pub icmp_from: Option<std::net::IpAddr>,
    pub stats: ExchangeStats,
}

/// The first bytes of the response kept to read an HTTP head from.
const HEAD_KEPT: usize = 64 * 1024;
/// The receive window at most, in bytes (with window scaling).
const MAX_RCV_WND: u64 = 4 << 20;
/// After the end, how long the connection is kept to acknowledge the
/// server's FIN (so its socket closes instead of retransmitting).
const LINGER: Duration = Duration::from_millis(100);
/// The request's retransmission timeout at first, and at most.
const MIN_RTO: Duration = Duration::from_millis(200);
const MAX_RTO: Duration = Duration::from_secs(5);
/// Our FIN is sent again at most this often (after the RTO, then twice
/// that): a path that lost it once may lose it again, but the outcome is
/// already known, so the wait is short.
const MAX_FIN_RETRANSMITS: u32 = 2;
/// SYN retransmissions after 1 s, 2 s, 4 s, ... within the handshake limit.
const SYN_RTO: Duration = Duration::from_secs(1);

/// The pattern of IP IDs on later segments (`synlab.flow.ipid`).
#[derive(Clone, Copy, Debug)]
enum IpIds {
    Zero,
    Constant(u16),
    Incremental(u16),
    /// A xorshift state: deterministic per connection.
    Random(u32),
}

impl IpIds {
    fn new(pattern: Option<&Value>, syn_id: u16, seed: u32) -> Self {
        let pattern = match pattern {
            Some(Value::Str(s)) => Some(s.as_str()),
            _ => None,
        };
        match pattern {
            Some("zero") => IpIds::Zero,
            Some("constant") => IpIds::Constant(syn_id),
            Some("random") => IpIds::Random(seed | 1),
            Some(_) => IpIds::Incremental(syn_id.wrapping_add(1)),
            None if syn_id == 0 => IpIds::Zero,
            None => IpIds::Incremental(syn_id.wrapping_add(1)),
        }
    }

    fn next(&mut self) -> u16 {
        match self {
            IpIds::Zero => 0,
            IpIds::Constant(id) => *id,
            IpIds::Incremental(id) => {
                let out = *id;
                *id = id.wrapping_add(1);
                out
            }
            IpIds::Random(x) => {
                *x ^= *x << 13;
                *x ^= *x >> 17;
                *x ^= *x << 5;
                (*x >> 8) as u16
            }
        }
    }
}

/// What the SYN said, read once.
#[derive(Clone, Debug)]
struct SynFacts {
    local: std::net::SocketAddr,
    remote: std::net::SocketAddr,
    iss: u32,
    window: u16,
    mss: Option<u16>,
    wscale: Option<u8>,
    sack_perm: bool,
    tsval: Option<u32>,
    ecn_setup: bool,
    ip: IpStyle,
}

impl SynFacts {
    fn read(packet: &[u8]) -> Result<Self, NotASyn> {
        let Ok(Decoded::Tcp(seg)) = decode_frame(101, packet) else {
            return Err(NotASyn);
        };
        if !seg.flags.is_syn() || seg.flags.has(TcpFlags::ACK) {
            return Err(NotASyn);
        }
        let a = seg.attributes();
        let int = |f: Field| a.get(f).and_then(Value::as_u64);
        let v6 = seg.src.is_ipv6();
        let (ttl, dscp, ecn) = match v6 {
            false => (Field::IpTtl, Field::IpDsfieldDscp, Field::IpDsfieldEcn),
            true => (Field::Ipv6Hlim, Field::Ipv6TclassDscp, Field::Ipv6TclassEcn),
        };
        let opts = seg.options();
        let mut facts = SynFacts {
            local: seg.src,
            remote: seg.dst,
            iss: seg.seq,
            window: seg.window(),
            mss: None,
            wscale: None,
            sack_perm: false,
            tsval: None,
            ecn_setup: seg.flags.has(TcpFlags::ECE) && seg.flags.has(TcpFlags::CWR),
            ip: IpStyle {
                ttl: int(ttl).unwrap_or(64) as u8,
                df: a.get(Field::IpFlagsDf) == Some(&Value::Bool(true)),
                dscp: int(dscp).unwrap_or(0) as u8,
                ecn: int(ecn).unwrap_or(0) as u8,
                ip_id: seg.ip_id().unwrap_or(0),
                flow_label: int(Field::Ipv6Flow).unwrap_or(0) as u32,
            },
        };
        for o in &opts.options {
            match *o {
                TcpOption::Mss(m) => facts.mss = Some(m),
                TcpOption::WindowScale(s) => facts.wscale = Some(s.min(14)),
                TcpOption::SackPermitted => facts.sack_perm = true,
                TcpOption::Timestamp { tsval, .. } => facts.tsval = Some(tsval),
                _ => {}
            }
        }
        Ok(facts)
    }
}

/// What the handshake settled.
#[derive(Clone, Copy, Debug, Default)]
struct Negotiated {
    /// The server's MSS (536 without the option).
    mss: u16,
    /// Shift for the server's window field, and for ours.
    snd_shift: u8,
    rcv_shift: u8,
    timestamps: bool,
    sack: bool,
    ecn: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    SynSent,
    Established,
    /// The outcome is known; FINs are still acknowledged until then.
    Closing {
        until: Duration,
    },
    Done,
}

/// One client connection. See the module documentation.
#[derive(Debug)]
pub struct Exchange {
    syn: SynFacts,
    syn_packet: Vec<u8>,
    limits: Limits,
    state: State,
    result: Option<ExchangeResult>,
    out: Vec<Vec<u8>>,
    started: Duration,
    next_syn_at: Duration,
    syn_backoff: Duration,
    /// SYNs sent so far, and what later tries send.
    syn_tries: u32,
    retries: Vec<(u32, Vec<u8>)>,
    neg: Negotiated,
    // How later segments look.
    later: IpStyle,
    /// ECN codepoint for data segments, once ECN was negotiated.
    ecn_data: u8,
    want_ts: bool,
    ip_ids: IpIds,
    rcv_wnd: u64,
    // Sender.
    request: Vec<u8>,
    is_http: bool,
    snd_una: u32,
    snd_nxt: u32,
    snd_wnd: u64,
    rto: Duration,
    rtx_at: Option<Duration>,
    request_at: Option<Duration>,
    /// The server's window is zero with request bytes left: when to probe
    /// it next, and the wait after that probe (doubling, up to MAX_RTO).
    persist_at: Option<Duration>,
    persist_backoff: Duration,
    /// Our FIN's sequence number, once sent; when to send it again.
    fin_seq: Option<u32>,
    fin_rtx_at: Option<Duration>,
    fin_retransmits: u32,
    /// The end of the linger after the outcome.
    linger_end: Duration,
    /// ECN: the server's segments were marked CE; ECE on ours until its CWR.
    ece: bool,
    // Receiver.
    irs: u32,
    /// Response bytes received in order.
    rcv_off: u64,
    /// Segments ahead of a gap, by stream offset.
    ooo: BTreeMap<u64, Vec<u8>>,
    ooo_bytes: u64,
    /// Stream offset of the server's FIN, once seen.
    fin_at: Option<u64>,
    fin_received: bool,
    head: Vec<u8>,
    response: Option<ResponseHead>,
    ts_recent: u32,
    last_progress: Duration,
    /// The time of the call being handled (for the timestamp clock).
    now: Duration,
    stats: ExchangeStats,
}

/// Sequence comparison modulo 2^32.
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Exchange {
    /// A connection about to send `params.syn` at `now`.
    pub fn new(params: Params, now: Duration) -> Result<Self, NotASyn> {
        let syn = SynFacts::read(&params.syn)?;
        let flow = &params.flow;
        let flow_int = |f: Field| flow.get(f).and_then(Value::as_u64);
        let flow_bool = |f: Field| flow.get(f).map(|v| v.as_u64() == Some(1));
        let later = IpStyle {
            ttl: flow_int(Field::SynlabFlowTtl).map_or(syn.ip.ttl, |t| t.min(255) as u8),
            df: flow_bool(Field::SynlabFlowDf).unwrap_or(syn.ip.df),
            ecn: 0,
            ..syn.ip
        };
        let ecn_data = flow_int(Field::SynlabFlowEcn).map_or(2, |e| (e & 3) as u8);
        let want_ts = flow_bool(Field::SynlabFlowTs).unwrap_or(true);
        let ip_ids = IpIds::new(
            flow.get(Field::SynlabFlowIpid),
            syn.ip.ip_id,
            syn.iss ^ 0x9e37_79b9,
        );
        let host = syn.remote.ip().to_string();
        let request = params.request.bytes(&host);
        let stats = ExchangeStats {
            request: params.request.to_string(),
            ..ExchangeStats::default()
        };
        Ok(Exchange {
            snd_una: syn.iss,
            snd_nxt: syn.iss.wrapping_add(1),
            syn_packet: params.syn,
            limits: params.limits,
            state: State::SynSent,
            result: None,
            out: Vec::new(),
            started: now,
            next_syn_at: now,
            syn_backoff: SYN_RTO,
            syn_tries: 0,
            retries: params.retries,
            neg: Negotiated::default(),
            later,
            ecn_data,
            want_ts,
            ip_ids,
            rcv_wnd: u64::from(syn.window),
            is_http: params.request.is_http(),
            request,
            snd_wnd: 0,
            rto: MIN_RTO,
            rtx_at: None,
            request_at: None,
            persist_at: None,
            persist_backoff: MIN_RTO,
            fin_seq: None,
            fin_rtx_at: None,
            fin_retransmits: 0,
            linger_end: now,
            ece: false,
            irs: 0,
            rcv_off: 0,
            ooo: BTreeMap::new(),
            ooo_bytes: 0,
            fin_at: None,
            fin_received: false,
            head: Vec::new(),
            response: None,
            ts_recent: 0,
            last_progress: now,
            now,
            stats,
            syn,
        })
    }

    /// The client's address and port.
    pub fn local(&self) -> std::net::SocketAddr {
        self.syn.local
    }

    /// The server's.
    pub fn remote(&self) -> std::net::SocketAddr {
        self.syn.remote
    }

    /// How the exchange ended, once it is over (nothing more to send).
    pub fn result(&self) -> Option<&ExchangeResult> {
        match self.state {
            State::Done => self.result.as_ref(),
            _ => None,
        }
    }

    /// The outcome as soon as it is known (the connection may still linger
    /// to acknowledge the server's FIN).
    pub fn outcome(&self) -> Option<Outcome> {
        // Until then the result holds the handshake (its outcome syn-ack).
        self.result
            .as_ref()
            .map(|r| r.outcome)
            .filter(|&o| o != Outcome::SynAck)
    }

    /// When [`Exchange::poll`] has something to do next without a segment.
    pub fn poll_at(&self) -> Option<Duration> {
        match self.state {
            State::SynSent => Some(
                self.next_syn_at
                    .min(self.started + self.limits.handshake)
                    .max(self.started),
            ),
            State::Established => {
                let stall = self.last_progress + self.limits.stall;
                let total = self.started + self.limits.total;
                let timers = [self.rtx_at, self.persist_at].into_iter().flatten();
                Some(timers.fold(stall, Duration::min).min(total))
            }
            State::Closing { until } => Some(match self.fin_rtx_at {
                Some(at) if !self.fin_acked() => at.min(until),
                _ => until,
            }),
            State::Done => None,
        }
    }

    /// Run the timers due at `now`; the packets to send (IP packets).
    pub fn poll(&mut self, now: Duration) -> Vec<Vec<u8>> {
        self.now = now;
        match self.state {
            State::SynSent if now >= self.started + self.limits.handshake => {
                self.finish(now, Outcome::NoReply, None);
                self.state = State::Done;
            }
            State::SynSent if now >= self.next_syn_at => {
                self.syn_tries += 1;
                let retry = self
                    .retries
                    .iter()
                    .rev()
                    .find(|(from, _)| *from <= self.syn_tries);
                if let Some(facts) = retry.and_then(|(_, p)| SynFacts::read(p).ok()) {
                    self.syn = facts;
                }
                let packet = retry.map_or(&self.syn_packet, |(_, p)| p);
                self.out.push(packet.clone());
                self.stats.segments_sent += 1;
                self.next_syn_at = now + self.syn_backoff;
                self.syn_backoff *= 2;
            }
            State::Established => self.established_timers(now),
            State::Closing { until } => self.closing_timers(now, until),
            _ => {}
        }
        std::mem::take(&mut self.out)
    }

    fn established_timers(&mut self, now: Duration) {
        if now >= self.last_progress + self.limits.stall || now >= self.started + self.limits.total
        {
            self.stats.stalled_at = Some(self.rcv_off);
            self.finish(now, Outcome::Stalled, None);
            return;
        }
        if self.rtx_at.is_some_and(|at| now >= at) {
            // Go back to the first unacknowledged byte.
            self.snd_nxt = self.snd_una;
            self.rto = (self.rto * 2).min(MAX_RTO);
            self.rtx_at = None;
            self.push_request(now);
        }
        if self.persist_at.is_some_and(|at| now >= at) {
            // A zero-window probe, as Linux sends it: a segment one byte
            // before the window (nothing new), which the server answers
            // with an ACK carrying its window. No progress while the window
            // stays shut, so the stall limit bounds the probing.
            self.emit(TcpFlags::ACK, self.snd_una.wrapping_sub(1), &[]);
            self.stats.zero_window_probes += 1;
            self.persist_backoff = (self.persist_backoff * 2).min(MAX_RTO);
            self.persist_at = Some(now + self.persist_backoff);
        }
    }

    /// After the outcome: send our FIN again while it is unacknowledged
    /// (at most [`MAX_FIN_RETRANSMITS`] times), and end once the linger is
    /// over and the FIN acknowledged or given up on.
    fn closing_timers(&mut self, now: Duration, until: Duration) {
        let unacked = !self.fin_acked();
        if let (Some(at), Some(seq)) = (self.fin_rtx_at, self.fin_seq) {
            if now >= at && unacked {
                self.emit(TcpFlags::FIN | TcpFlags::ACK, seq, &[]);
                self.fin_retransmits += 1;
                // The statistics went into the result with the outcome.
                if let Some(r) = self.result.as_mut() {
                    r.stats.fin_retransmissions = self.fin_retransmits;
                }
                self.fin_rtx_at = (self.fin_retransmits < MAX_FIN_RETRANSMITS)
                    .then(|| now + MIN_RTO * (1 << self.fin_retransmits));
            }
        }
        if now >= until {
            self.state = match self.fin_rtx_at.filter(|_| unacked) {
                Some(next) => State::Closing { until: next },
                None => State::Done,
            };
        }
    }

    /// Our FIN was sent and the server acknowledged it.
    fn fin_acked(&self) -> bool {
        self.fin_seq
            .is_some_and(|f| !seq_lt(self.snd_una, f.wrapping_add(1)))
    }

    /// An ICMP error quoting this connection's segment.
    pub fn on_icmp(&mut self, now: Duration, icmp: &IcmpError) {
        self.now = now;
        if self.state != State::SynSent
            || icmp.quoted.src != self.syn.local
            || icmp.quoted.dst != self.syn.remote
        {
            return;
        }
        let outcome = Outcome::Icmp {
            icmp_type: icmp.icmp_type,
            code: icmp.code,
        };
        self.finish(now, outcome, None);
        if let Some(r) = self.result.as_mut() {
            r.icmp_from = Some(icmp.from);
        }
        self.state = State::Done;
    }

    /// A segment captured at `now`; ignored unless it is the server's to
    /// this connection.
    pub fn on_segment(&mut self, now: Duration, seg: &Segment<'_>) {
        if seg.src != self.syn.remote || seg.dst != self.syn.local {
            return;
        }
        self.now = now;
        self.stats.segments_received += 1;
        match self.state {
            State::SynSent => self.on_handshake_answer(now, seg),
            State::Established | State::Closing { .. } => self.on_established(now, seg),
            State::Done => {}
        }
    }

    fn on_handshake_answer(&mut self, now: Duration, seg: &Segment<'_>) {
        let acks_syn = seg.flags.has(TcpFlags::ACK) && seg.ack == self.syn.iss.wrapping_add(1);
        if seg.flags.has(TcpFlags::RST) {
            if acks_syn {
                self.finish(now, Outcome::Reset, Some(seg.attributes()));
                if let Some(r) = self.result.as_mut() {
                    r.rtt = Some(now.saturating_sub(self.started));
                }
                self.state = State::Done;
            }
            return;
        }
        if !seg.flags.is_syn_ack() || !acks_syn {
            return;
        }
        self.negotiate(seg);
        self.irs = seg.seq;
        self.snd_una = self.syn.iss.wrapping_add(1);
        self.snd_nxt = self.snd_una;
        self.snd_wnd = u64::from(seg.window());
        self.state = State::Established;
        self.last_progress = now;
        self.result = Some(ExchangeResult {
            outcome: Outcome::SynAck,
            rtt: Some(now.saturating_sub(self.started)),
            reply: Some(seg.attributes()),
            icmp_from: None,
            stats: ExchangeStats::default(),
        });
        self.send_ack(now);
        self.request_at = Some(now);
        self.push_request(now);
    }

    /// Options and window from the SYN-ACK, against the SYN's.
    fn negotiate(&mut self, seg: &Segment<'_>) {
        let mut n = Negotiated {
            mss: 536,
            ..Negotiated::default()
        };
        let mut peer_ws = None;
        for o in &seg.options().options {
            match *o {
                TcpOption::Mss(m) => n.mss = m.max(64),
                TcpOption::WindowScale(s) => peer_ws = Some(s.min(14)),
                TcpOption::SackPermitted => n.sack = self.syn.sack_perm,
                TcpOption::Timestamp { tsval, .. } if self.syn.tsval.is_some() => {
                    n.timestamps = self.want_ts;
                    self.ts_recent = tsval;
                }
                _ => {}
            }
        }
        if let (Some(ours), Some(theirs)) = (self.syn.wscale, peer_ws) {
            n.snd_shift = theirs;
            n.rcv_shift = ours;
            self.rcv_wnd = (u64::from(self.syn.window) << ours).min(MAX_RCV_WND);
        }
        if let Some(ours) = self.syn.mss {
            n.mss = n.mss.min(ours);
        }
        n.ecn = self.syn.ecn_setup && seg.flags.has(TcpFlags::ECE) && !seg.flags.has(TcpFlags::CWR);
        self.neg = n;
        self.stats.timestamps = n.timestamps;
        self.stats.sack = n.sack;
        self.stats.ecn = n.ecn;
        self.stats.window_scale =
            (self.syn.wscale.is_some() && peer_ws.is_some()).then_some(n.rcv_shift);
        self.stats.window = self.window_field();
    }

    fn window_field(&self) -> u16 {
        (self.rcv_wnd >> self.neg.rcv_shift).min(65535) as u16
    }

    fn on_established(&mut self, now: Duration, seg: &Segment<'_>) {
        if seg.flags.has(TcpFlags::SYN) {
            // The SYN-ACK again: our ACK was lost.
            self.send_ack(now);
            return;
        }
        if seg.flags.has(TcpFlags::RST) {
            if self.state == State::Established && self.in_window(seg.seq) {
                // Done first: a reset connection is not closed with a FIN.
                self.state = State::Done;
                self.finish(now, Outcome::ResetMidTransfer, None);
            }
            return;
        }
        if seg.flags.has(TcpFlags::ACK) {
            self.on_ack(now, seg);
            if let State::Closing { .. } = self.state {
                if self.fin_acked() {
                    self.state = State::Closing {
                        until: self.linger_end.max(now),
                    };
                }
            }
        }
        self.on_ecn(seg);
        let payload = seg.payload();
        if payload.is_empty() && !seg.flags.has(TcpFlags::FIN) {
            return;
        }
        self.stats.bytes_seen += payload.len() as u64;
        if self.neg.timestamps && !seq_lt(self.rcv_nxt(), seg.seq) {
            if let Some(tsval) = timestamp(seg) {
                self.ts_recent = tsval;
            }
        }
        self.on_data(now, seg.seq, payload, seg.flags.has(TcpFlags::FIN));
        self.send_ack(now);
        if self.state == State::Established && self.response_complete() {
            self.finish(now, Outcome::Complete, None);
        }
    }

    /// ECN (RFC 3168 6.1.3): a CE mark is echoed with ECE on every segment
    /// until the server's CWR says it reduced its window; a CWR segment
    /// that is itself marked CE sets it again.
    fn on_ecn(&mut self, seg: &Segment<'_>) {
        if !self.neg.ecn {
            return;
        }
        if seg.flags.has(TcpFlags::CWR) {
            self.ece = false;
        }
        if seg.ecn() == 3 {
            self.stats.ce_received += 1;
            self.ece = true;
        }
    }

    /// `seq` is where the server's next byte may be.
    fn in_window(&self, seq: u32) -> bool {
        let d = seq.wrapping_sub(self.rcv_nxt());
        u64::from(d) < self.rcv_wnd.max(1)
    }

    fn on_ack(&mut self, now: Duration, seg: &Segment<'_>) {
        self.snd_wnd = u64::from(seg.window()) << self.neg.snd_shift;
        if seq_lt(self.snd_una, seg.ack) && !seq_lt(self.snd_nxt, seg.ack) {
            self.snd_una = seg.ack;
            self.last_progress = now;
            self.rtx_at = (self.snd_una != self.snd_nxt).then(|| now + self.rto);
        }
        if self.state == State::Established {
            self.push_request(now);
        }
    }

    /// Where a segment's first byte falls in the response stream.
    fn stream_offset(&self, seq: u32) -> i64 {
        let rel = seq.wrapping_sub(self.irs.wrapping_add(1));
        let d = rel.wrapping_sub(self.rcv_off as u32) as i32;
        self.rcv_off as i64 + i64::from(d)
    }

    fn on_data(&mut self, now: Duration, seq: u32, payload: &[u8], fin: bool) {
        let off = self.stream_offset(seq);
        let end = off + payload.len() as i64;
        if fin && end >= 0 {
            self.fin_at = Some(end as u64);
        }
        let rcv = self.rcv_off as i64;
        if end <= rcv && !(fin && end == rcv) {
            self.stats.server_retransmissions += 1;
        } else if off <= rcv {
            let fresh = payload.get((rcv - off) as usize..).unwrap_or_default();
            self.append(now, fresh);
            self.drain_ooo(now);
        } else if (end - rcv) as u64 <= self.rcv_wnd && self.ooo_bytes < self.rcv_wnd {
            self.stats.out_of_order += 1;
            let slot = self.ooo.entry(off as u64).or_default();
            if slot.len() < payload.len() {
                self.ooo_bytes += (payload.len() - slot.len()) as u64;
                *slot = payload.to_vec();
            }
        }
        if self.fin_at == Some(self.rcv_off) && !self.fin_received {
            self.fin_received = true;
            self.last_progress = now;
        }
    }

    fn append(&mut self, now: Duration, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.rcv_off += bytes.len() as u64;
        self.last_progress = now;
        if self.is_http && self.response.is_none() && self.head.len() < HEAD_KEPT {
            let room = HEAD_KEPT - self.head.len();
            self.head
                .extend_from_slice(bytes.get(..room).unwrap_or(bytes));
            self.response = response_head(&self.head);
        }
    }

    /// Move held segments that the stream has reached into it.
    fn drain_ooo(&mut self, now: Duration) {
        while let Some(entry) = self.ooo.first_entry() {
            if *entry.key() > self.rcv_off {
                break;
            }
            let off = *entry.key();
            let data = entry.remove();
            self.ooo_bytes = self.ooo_bytes.saturating_sub(data.len() as u64);
            let skip = (self.rcv_off - off) as usize;
            if let Some(fresh) = data.get(skip..) {
                self.append(now, fresh);
            }
        }
    }

    fn response_complete(&self) -> bool {
        let by_length = self
            .response
            .and_then(|h| Some(h.head_len.saturating_add(h.content_length?)))
            .is_some_and(|len| self.rcv_off >= len);
        by_length || self.fin_received
    }

    /// The next sequence number expected from the server.
    fn rcv_nxt(&self) -> u32 {
        self.irs
            .wrapping_add(1)
            .wrapping_add(self.rcv_off as u32)
            .wrapping_add(u32::from(self.fin_received))
    }

    /// Send what the server's window allows of the request.
    fn push_request(&mut self, now: Duration) {
        let base = self.syn.iss.wrapping_add(1);
        loop {
            let sent = self.snd_nxt.wrapping_sub(base) as usize;
            let in_flight = u64::from(self.snd_nxt.wrapping_sub(self.snd_una));
            let room = self.snd_wnd.saturating_sub(in_flight);
            let left = self.request.len().saturating_sub(sent);
            let n = left.min(usize::from(self.neg.mss)).min(room as usize);
            if n == 0 {
                self.persist(now, left > 0 && in_flight == 0);
                return;
            }
            let chunk = self.request[sent..sent + n].to_vec();
            let psh = if n == left { TcpFlags::PSH } else { 0 };
            self.emit(TcpFlags::ACK | psh, self.snd_nxt, &chunk);
            self.snd_nxt = self.snd_nxt.wrapping_add(n as u32);
            self.rtx_at.get_or_insert(now + self.rto);
        }
    }

    /// Arm the zero-window probe when the server's window is shut with
    /// request bytes left and nothing in flight (no retransmission timer
    /// would wake us); disarm it otherwise.
    fn persist(&mut self, now: Duration, waiting: bool) {
        if waiting && self.snd_wnd == 0 {
            self.persist_at.get_or_insert(now + self.persist_backoff);
        } else {
            self.persist_at = None;
            self.persist_backoff = MIN_RTO;
        }
    }

    fn send_ack(&mut self, _now: Duration) {
        self.emit(TcpFlags::ACK, self.snd_nxt, &[]);
    }

    /// The outcome is known: record it, and (after a handshake) close
    /// politely with a FIN, lingering to acknowledge the server's.
    fn finish(&mut self, now: Duration, outcome: Outcome, reply: Option<Attributes>) {
        let duration = now.saturating_sub(self.request_at.unwrap_or(now));
        let mut stats = std::mem::take(&mut self.stats);
        stats.bytes = self.rcv_off;
        stats.duration_s = duration.as_secs_f64();
        stats.http_status = self.response.and_then(|h| h.status);
        stats.content_length = self.response.and_then(|h| h.content_length);
        if outcome == Outcome::Complete {
            stats.throughput_mb_s =
                (stats.duration_s > 0.0).then(|| self.rcv_off as f64 / stats.duration_s / 1e6);
            stats.truncated = self
                .response
                .and_then(|h| Some(h.head_len.saturating_add(h.content_length?)))
                .is_some_and(|len| self.rcv_off < len);
        }
        let previous = self.result.take();
        self.result = Some(ExchangeResult {
            outcome,
            rtt: previous.as_ref().and_then(|r| r.rtt),
            reply: reply.or_else(|| previous.and_then(|r| r.reply)),
            icmp_from: None,
            stats,
        });
        if self.state == State::Established {
            self.rtx_at = None;
            self.persist_at = None;
            self.emit(TcpFlags::FIN | TcpFlags::ACK, self.snd_nxt, &[]);
            self.fin_seq = Some(self.snd_nxt);
            self.fin_rtx_at = Some(now + MIN_RTO);
            self.snd_nxt = self.snd_nxt.wrapping_add(1);
            self.linger_end = now + LINGER;
            self.state = State::Closing {
                until: self.linger_end,
            };
        }
    }

    /// SACK blocks for the held segments (merged), at most `max`.
    fn sack_blocks(&self, max: usize) -> Vec<u8> {
        let base = self.irs.wrapping_add(1);
        let mut blocks: Vec<(u64, u64)> = Vec::new();
        for (&off, data) in &self.ooo {
            let end = off + data.len() as u64;
            match blocks.last_mut() {
                Some(last) if off <= last.1 => last.1 = last.1.max(end),
                _ => blocks.push((off, end)),
            }
        }
        let mut out = Vec::new();
        for (start, end) in blocks.into_iter().take(max) {
            out.extend_from_slice(&base.wrapping_add(start as u32).to_be_bytes());
            out.extend_from_slice(&base.wrapping_add(end as u32).to_be_bytes());
        }
        out
    }

    /// Write one segment with the profile's attributes.
    fn emit(&mut self, flags: u16, seq: u32, payload: &[u8]) {
        let now_ms = self.ts_clock();
        let sack = match self.neg.sack && !self.ooo.is_empty() {
            true => self.sack_blocks(if self.neg.timestamps { 3 } else { 4 }),
            false => Vec::new(),
        };
        let mut options = Vec::new();
        if self.neg.timestamps {
            options.extend([
                TcpOption::Nop,
                TcpOption::Nop,
                TcpOption::Timestamp {
                    tsval: now_ms,
                    tsecr: self.ts_recent,
                },
            ]);
        }
        if !sack.is_empty() {
            options.extend([
                TcpOption::Nop,
                TcpOption::Nop,
                TcpOption::Sack(sack.as_slice().into()),
            ]);
        }
        let ecn = match self.neg.ecn && !payload.is_empty() {
            true => self.ecn_data,
            false => 0,
        };
        let flags = match self.neg.ecn && self.ece {
            true => flags | TcpFlags::ECE,
            false => flags,
        };
        let ip = IpStyle {
            ecn,
            ip_id: self.ip_ids.next(),
            ..self.later
        };
        let tcp = TcpHeader {
            src: self.syn.local,
            dst: self.syn.remote,
            seq,
            ack: self.rcv_nxt(),
            flags,
            window: self.window_field(),
            options,
        };
        if let Some(packet) = emit_segment(&ip, &tcp, payload) {
            self.out.push(packet);
            self.stats.segments_sent += 1;
        }
    }

    /// TSval for the next segment: the SYN's, advanced by the milliseconds
    /// since (a 1 kHz clock, as Linux's).
    fn ts_clock(&self) -> u32 {
        let ms = self.now.saturating_sub(self.started).as_millis() as u32;
        self.syn.tsval.unwrap_or(0).wrapping_add(ms)
    }
}

/// The server's TSval, when the segment carries the option.
fn timestamp(seg: &Segment<'_>) -> Option<u32> {
    seg.options().options.iter().find_map(|o| match o {
        TcpOption::Timestamp { tsval, .. } => Some(*tsval),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::craft::{build_packet, linux_example, Volatile};
    use std::net::SocketAddr;

    const ISN: u32 = 1000;
    const SERVER_ISN: u32 = 5000;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn client() -> SocketAddr {
        addr("198.18.0.2:40000")
    }

    fn server() -> SocketAddr {
        addr("198.18.0.130:80")
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn syn_packet(a: &Attributes) -> Vec<u8> {
        let v = Volatile {
            src: client(),
            dst: server(),
            seq: ISN,
            ack: 0,
            ip_id: 77,
            flow_label: 0,
            tsval: 500,
            tsecr: 0,
        };
        build_packet(a, &v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn start(syn: &Attributes, flow: Attributes, request: &str) -> Exchange {
        let params = Params {
            syn: syn_packet(syn),
            flow,
            request: request.parse().unwrap_or_else(|e| panic!("{e}")),
            limits: Limits {
                handshake: Duration::from_secs(3),
                stall: Duration::from_secs(1),
                total: Duration::from_secs(30),
            },
            retries: Vec::new(),
        };
        Exchange::new(params, Duration::ZERO).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A segment from the server (window 1000, Not-ECT).
    fn from_server(
        flags: u16,
        seq: u32,
        ack: u32,
        payload: &[u8],
        options: Vec<TcpOption>,
    ) -> Vec<u8> {
        from_server_with(0, 1000, flags, seq, ack, payload, options)
    }

    /// A segment from the server with this IP ECN codepoint and window.
    fn from_server_with(
        ecn: u8,
        window: u16,
        flags: u16,
        seq: u32,
        ack: u32,
        payload: &[u8],
        options: Vec<TcpOption>,
    ) -> Vec<u8> {
        let ip = IpStyle {
            ttl: 64,
            df: true,
            dscp: 0,
            ecn,
            ip_id: 0,
            flow_label: 0,
        };
        let tcp = TcpHeader {
            src: server(),
            dst: client(),
            seq,
            ack,
            flags,
            window,
            options,
        };
        emit_segment(&ip, &tcp, payload).unwrap_or_default()
    }

    /// Run the exchange's timers until it is over (a bounded number of
    /// times); what it sent meanwhile.
    fn run_out(x: &mut Exchange) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for _ in 0..20 {
            let Some(at) = x.poll_at() else { break };
            out.extend(x.poll(at));
        }
        assert!(x.result().is_some(), "still not over");
        out
    }

    fn feed(x: &mut Exchange, at: Duration, packet: &[u8]) {
        match decode_frame(101, packet) {
            Ok(Decoded::Tcp(seg)) => x.on_segment(at, &seg),
            other => panic!("not a segment: {other:?}"),
        }
    }

    /// What the client sent, decoded: (flags, seq, ack, payload, attributes).
    fn sent(packets: &[Vec<u8>]) -> Vec<(u16, u32, u32, Vec<u8>, Attributes)> {
        packets
            .iter()
            .map(|p| match decode_frame(101, p) {
                Ok(Decoded::Tcp(s)) => (
                    s.flags.0,
                    s.seq,
                    s.ack,
                    s.payload().to_vec(),
                    s.attributes(),
                ),
                other => panic!("not a segment: {other:?}"),
            })
            .collect()
    }

    fn linux_synack() -> Vec<u8> {
        from_server(
            TcpFlags::SYN | TcpFlags::ACK,
            SERVER_ISN,
            ISN + 1,
            &[],
            vec![
                TcpOption::Mss(1460),
                TcpOption::SackPermitted,
                TcpOption::Timestamp {
                    tsval: 9000,
                    tsecr: 500,
                },
                TcpOption::Nop,
                TcpOption::WindowScale(7),
            ],
        )
    }

    fn data(off: u32, bytes: &[u8]) -> Vec<u8> {
        let ts = TcpOption::Timestamp {
            tsval: 9001 + off,
            tsecr: 501,
        };
        from_server(
            TcpFlags::ACK,
            SERVER_ISN + 1 + off,
            ISN + 1 + request_len(),
            bytes,
            vec![TcpOption::Nop, TcpOption::Nop, ts],
        )
    }

    /// The length of `http:/f`'s request: what the server acknowledges.
    fn request_len() -> u32 {
        let r = Request::Http { path: "/f".into() };
        r.bytes(&server().ip().to_string()).len() as u32
    }

    fn response(body: usize) -> Vec<u8> {
        let mut r = format!("HTTP/1.0 200 OK\r\nContent-Length: {body}\r\n\r\n").into_bytes();
        r.extend((0..body).map(|i| (i % 251) as u8));
        r
    }

    /// Handshake, request, a response in order: complete, and every client
    /// segment carries the profile's TTL, DF and the timestamps option,
    /// with the window scaled by the SYN's shift.
    #[test]
    fn in_order_response_completes_with_the_profiles_attributes() {
        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        let first = sent(&x.poll(ms(0)));
        assert_eq!(first.len(), 1, "the SYN");
        feed(&mut x, ms(10), &linux_synack());
        let mut out = x.poll(ms(10));
        let r = response(3000);
        for (i, chunk) in r.chunks(1000).enumerate() {
            feed(&mut x, ms(20 + i as u64), &data(1000 * i as u32, chunk));
            out.extend(x.poll(ms(20 + i as u64)));
        }
        let segs = sent(&out);
        // ACK, request, an ACK per data segment, then the FIN.
        assert_eq!(segs[0].0, TcpFlags::ACK);
        assert!(segs[1].3.starts_with(b"GET /f HTTP/1.1\r\n"));
        let last = segs.last().map(|s| s.0);
        assert_eq!(last, Some(TcpFlags::FIN | TcpFlags::ACK));
        for (_, _, ack, _, a) in &segs {
            assert_eq!(a.get(Field::IpTtl), Some(&Value::Int(64)));
            assert_eq!(a.get(Field::IpFlagsDf), Some(&Value::Bool(true)));
            assert_eq!(
                a.get(Field::SynlabOptionsLayout),
                Some(&Value::from("nop,nop,ts"))
            );
            // 64240 << 7 is past the 4 MiB receive window: 4 MiB >> 7.
            assert_eq!(a.get(Field::TcpWindowSizeValue), Some(&Value::Int(32768)));
            assert!(*ack > SERVER_ISN);
        }
        let acks: Vec<u32> = segs.iter().map(|s| s.2).collect();
        assert_eq!(acks.last(), Some(&(SERVER_ISN + 1 + r.len() as u32)));
        assert_eq!(x.outcome(), Some(Outcome::Complete));
        // Lingers for the server's FIN, then is over once ours is acknowledged.
        assert!(x.result().is_none());
        let fin_acked = ISN + 1 + request_len() + 1;
        let ack = from_server(TcpFlags::ACK, SERVER_ISN + 1 + 3000, fin_acked, &[], vec![]);
        feed(&mut x, ms(30), &ack);
        assert!(x.poll(ms(200)).is_empty(), "no FIN again");
        let res = x.result().cloned().unwrap_or_else(|| panic!("not over"));
        assert_eq!(res.stats.bytes, r.len() as u64);
        assert_eq!(res.stats.http_status, Some(200));
        assert_eq!(res.stats.content_length, Some(3000));
        assert_eq!(res.rtt, Some(ms(10)));
        assert!(res.stats.timestamps && res.stats.sack);
        assert!(res.stats.throughput_mb_s.is_some_and(|t| t > 0.0));
    }

    /// Issue 14: the SYN at try N is what a profile's `[retry.N]` says (a
    /// middlebox that drops the first SYN sees the retry): here tries 1-2
    /// send the SYN with timestamps, 3 and later the one without; the
    /// handshake then negotiates from the SYN sent last.
    #[test]
    fn retransmitted_syns_are_the_retries_from_their_try_on() {
        let mut bare = linux_example();
        bare.insert(Field::SynlabOptionsLayout, "mss,nop,nop,sok,nop,ws");
        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        x.retries = vec![(3, syn_packet(&bare))];
        x.limits.handshake = Duration::from_secs(10);
        let tries: Vec<Option<Value>> = [0, 1000, 3000, 7000]
            .into_iter()
            .flat_map(|t| sent(&x.poll(ms(t))))
            .map(|(flags, seq, _, _, a)| {
                assert_eq!((flags, seq), (TcpFlags::SYN, ISN));
                a.get(Field::SynlabOptionsLayout).cloned()
            })
            .collect();
        let ts = Some(Value::from("mss,sok,ts,nop,ws"));
        let no_ts = Some(Value::from("mss,nop,nop,sok,nop,ws"));
        assert_eq!(tries, [ts.clone(), ts, no_ts.clone(), no_ts]);
        assert!(x.syn.tsval.is_none(), "negotiation follows the last SYN");
    }

    /// The `[later]` table, as synlab.flow.*, overrides the SYN's TTL and
    /// timestamps on later segments; IP IDs follow the asked pattern.
    #[test]
    fn flow_attributes_shape_later_segments() {
        let mut flow = Attributes::new();
        flow.insert(Field::SynlabFlowTtl, 128u8);
        flow.insert(Field::SynlabFlowTs, false);
        flow.insert(Field::SynlabFlowIpid, "zero");
        let mut x = start(&linux_example(), flow, "http:/f");
        x.poll(ms(0));
        feed(&mut x, ms(10), &linux_synack());
        let segs = sent(&x.poll(ms(10)));
        assert_eq!(segs.len(), 2);
        for (_, _, _, _, a) in &segs {
            assert_eq!(a.get(Field::IpTtl), Some(&Value::Int(128)));
            assert_eq!(a.get(Field::IpId), Some(&Value::Int(0)));
            assert_eq!(a.get(Field::SynlabOptionsLayout), Some(&Value::from("")));
        }
    }

    /// A segment ahead of a gap is held and SACKed; the server's
    /// retransmission of bytes already received is counted, acknowledged,
    /// and changes nothing.
    #[test]
    fn out_of_order_and_retransmitted_segments() {
        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        x.poll(ms(0));
        feed(&mut x, ms(10), &linux_synack());
        x.poll(ms(10));
        let r = response(2500);
        let parts = [&r[..1000], &r[1000..2000], &r[2000..]];
        feed(&mut x, ms(20), &data(2000, parts[2]));
        let segs = sent(&x.poll(ms(20)));
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].2, SERVER_ISN + 1, "a duplicate ACK");
        assert_eq!(
            segs[0].4.get(Field::SynlabOptionsLayout),
            Some(&Value::from("nop,nop,ts,nop,nop,sack"))
        );
        feed(&mut x, ms(21), &data(0, parts[0]));
        feed(&mut x, ms(22), &data(0, parts[0]));
        assert_eq!(x.outcome(), None, "a gap remains");
        feed(&mut x, ms(23), &data(1000, parts[1]));
        x.poll(ms(23));
        assert_eq!(x.outcome(), Some(Outcome::Complete));
        run_out(&mut x);
        let stats = x.result().map(|r| r.stats.clone()).unwrap_or_default();
        assert_eq!(stats.bytes, r.len() as u64);
        assert_eq!(stats.out_of_order, 1);
        assert_eq!(stats.server_retransmissions, 1);
    }

    /// Data stops: after the stall timeout without progress the exchange
    /// is stalled, at the offset where the data stopped.
    #[test]
    fn no_progress_for_the_stall_timeout_is_a_stall() {
        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        x.poll(ms(0));
        feed(&mut x, ms(10), &linux_synack());
        x.poll(ms(10));
        let r = response(5000);
        feed(&mut x, ms(20), &data(0, &r[..1000]));
        x.poll(ms(20));
        assert_eq!(x.poll_at(), Some(ms(1020)));
        x.poll(ms(1019));
        assert_eq!(x.outcome(), None);
        let fin = sent(&x.poll(ms(1020)));
        assert_eq!(x.outcome(), Some(Outcome::Stalled));
        assert_eq!(fin.last().map(|s| s.0), Some(TcpFlags::FIN | TcpFlags::ACK));
        run_out(&mut x);
        let stats = x.result().map(|r| r.stats.clone()).unwrap_or_default();
        assert_eq!(stats.stalled_at, Some(1000));
        assert_eq!(stats.throughput_mb_s, None);
    }

    /// Our FIN, unacknowledged, is sent again after the RTO and then twice
    /// that, and the exchange ends with the last one; acknowledged, it is
    /// not sent again and the exchange ends after the linger.
    #[test]
    fn an_unacknowledged_fin_is_sent_again_a_few_times() {
        let stalled = || {
            let mut x = start(&linux_example(), Attributes::new(), "http:/f");
            x.poll(ms(0));
            feed(&mut x, ms(10), &linux_synack());
            x.poll(ms(10));
            let fin = sent(&x.poll(ms(1010)));
            assert_eq!(x.outcome(), Some(Outcome::Stalled));
            let (flags, seq, ..) = fin.last().cloned().unwrap_or_else(|| panic!("no FIN"));
            assert_eq!(flags, TcpFlags::FIN | TcpFlags::ACK);
            (x, seq)
        };
        let (mut x, fin_seq) = stalled();
        assert!(x.poll(ms(1110)).is_empty(), "the linger: nothing to send");
        assert_eq!(x.poll_at(), Some(ms(1210)));
        let again = sent(&x.poll(ms(1210)));
        assert_eq!(again.len(), 1);
        assert_eq!(
            (again[0].0, again[0].1),
            (TcpFlags::FIN | TcpFlags::ACK, fin_seq)
        );
        assert!(x.result().is_none());
        assert_eq!(x.poll_at(), Some(ms(1610)));
        assert_eq!(sent(&x.poll(ms(1610)))[0].1, fin_seq);
        let res = x.result().cloned().unwrap_or_else(|| panic!("not over"));
        assert_eq!(res.stats.fin_retransmissions, MAX_FIN_RETRANSMITS);
        assert_eq!(x.poll_at(), None);

        // Acknowledged after the first retransmission: over, nothing more.
        let (mut x, fin_seq) = stalled();
        x.poll(ms(1210));
        let ack = from_server(TcpFlags::ACK, SERVER_ISN + 1, fin_seq + 1, &[], vec![]);
        feed(&mut x, ms(1215), &ack);
        assert_eq!(x.poll_at(), Some(ms(1215)));
        assert!(x.poll(ms(1215)).is_empty());
        let res = x.result().cloned().unwrap_or_else(|| panic!("not over"));
        assert_eq!(res.stats.fin_retransmissions, 1);
    }

    /// The server's window is shut: the request waits, and the window is
    /// probed (a segment one byte before it, no data) after the RTO, then
    /// twice as long; the window opening sends the request and stops the
    /// probes. Nothing counts as progress: the stall limit still applies.
    #[test]
    fn a_zero_window_is_probed_until_it_opens() {
        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        x.poll(ms(0));
        let synack = from_server_with(
            0,
            0,
            TcpFlags::SYN | TcpFlags::ACK,
            SERVER_ISN,
            ISN + 1,
            &[],
            vec![TcpOption::Mss(1460)],
        );
        feed(&mut x, ms(10), &synack);
        let segs = sent(&x.poll(ms(10)));
        assert_eq!(segs.len(), 1, "the ACK, no request: {segs:?}");
        assert_eq!(x.poll_at(), Some(ms(210)));
        let probe = sent(&x.poll(ms(210)));
        assert_eq!(probe.len(), 1);
        assert_eq!((probe[0].0, probe[0].1), (TcpFlags::ACK, ISN));
        assert!(probe[0].3.is_empty());
        assert_eq!(x.poll_at(), Some(ms(610)));
        // Still shut: the server's answer to the probe changes nothing.
        let shut = from_server_with(0, 0, TcpFlags::ACK, SERVER_ISN + 1, ISN + 1, &[], vec![]);
        feed(&mut x, ms(211), &shut);
        let answered = sent(&x.poll(ms(211)));
        assert!(answered.iter().all(|s| s.3.is_empty()), "{answered:?}");
        assert_eq!(sent(&x.poll(ms(610))).len(), 1, "the second probe");
        // Open: the request goes, the probing stops.
        let open = from_server(TcpFlags::ACK, SERVER_ISN + 1, ISN + 1, &[], vec![]);
        feed(&mut x, ms(700), &open);
        let segs = sent(&x.poll(ms(700)));
        assert!(segs.iter().any(|s| s.3.starts_with(b"GET /f")), "{segs:?}");
        assert_eq!(x.poll_at(), Some(ms(900)), "the request's RTO, no probe");
        let res_probes = {
            run_out(&mut x);
            x.result().map_or(0, |r| r.stats.zero_window_probes)
        };
        assert_eq!(res_probes, 2);
    }

    /// ECN negotiated: a CE-marked segment from the server is echoed with
    /// ECE on every client segment until the server's CWR; without ECN
    /// negotiated, CE marks are not echoed.
    #[test]
    fn ce_is_echoed_with_ece_until_cwr() {
        let mut ecn_syn = linux_example();
        ecn_syn.insert(Field::TcpFlagsEce, true);
        ecn_syn.insert(Field::TcpFlagsCwr, true);
        let ece_of = |packets: &[Vec<u8>]| -> Vec<bool> {
            sent(packets)
                .iter()
                .map(|s| s.0 & TcpFlags::ECE != 0)
                .collect()
        };
        let synack =
            |flags: u16| from_server(flags, SERVER_ISN, ISN + 1, &[], vec![TcpOption::Mss(1460)]);
        let seg = |ecn: u8, flags: u16, off: u32| {
            let ack = ISN + 1 + request_len();
            from_server_with(ecn, 1000, flags, SERVER_ISN + 1 + off, ack, b"x", vec![])
        };
        let mut x = start(&ecn_syn, Attributes::new(), "http:/f");
        x.poll(ms(0));
        feed(
            &mut x,
            ms(10),
            &synack(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::ECE),
        );
        assert_eq!(ece_of(&x.poll(ms(10))), [false, false], "ACK and request");
        feed(&mut x, ms(20), &seg(3, TcpFlags::ACK, 0));
        assert_eq!(ece_of(&x.poll(ms(20))), [true]);
        // Not marked, but no CWR yet: still echoed.
        feed(&mut x, ms(21), &seg(2, TcpFlags::ACK, 1));
        assert_eq!(ece_of(&x.poll(ms(21))), [true]);
        feed(&mut x, ms(22), &seg(2, TcpFlags::ACK | TcpFlags::CWR, 2));
        assert_eq!(ece_of(&x.poll(ms(22))), [false]);
        // CWR and CE on one segment: a new mark, echoed again.
        feed(&mut x, ms(23), &seg(3, TcpFlags::ACK | TcpFlags::CWR, 3));
        assert_eq!(ece_of(&x.poll(ms(23))), [true]);
        assert_eq!(x.stats.ce_received, 2);

        // Not negotiated (the SYN-ACK has no ECE): CE is not echoed.
        let mut x = start(&ecn_syn, Attributes::new(), "http:/f");
        x.poll(ms(0));
        feed(&mut x, ms(10), &synack(TcpFlags::SYN | TcpFlags::ACK));
        x.poll(ms(10));
        feed(&mut x, ms(20), &seg(3, TcpFlags::ACK, 0));
        assert_eq!(ece_of(&x.poll(ms(20))), [false]);
    }

    /// A RST after the handshake ends it: reset-mid-transfer, no FIN.
    #[test]
    fn reset_mid_transfer() {
        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        x.poll(ms(0));
        feed(&mut x, ms(10), &linux_synack());
        x.poll(ms(10));
        feed(&mut x, ms(20), &data(0, &response(5000)[..1000]));
        x.poll(ms(20));
        // Out of the window: ignored.
        let blind = from_server(TcpFlags::RST, SERVER_ISN + 900_000_000, 0, &[], vec![]);
        feed(&mut x, ms(25), &blind);
        assert_eq!(x.outcome(), None);
        let rst = from_server(TcpFlags::RST, SERVER_ISN + 1001, 0, &[], vec![]);
        feed(&mut x, ms(30), &rst);
        assert!(x.poll(ms(30)).is_empty());
        let res = x.result().cloned().unwrap_or_else(|| panic!("not over"));
        assert_eq!(res.outcome, Outcome::ResetMidTransfer);
        assert_eq!(res.stats.bytes, 1000);
    }

    /// A raw request's response ends at the FIN; a request larger than
    /// the server's window is sent a window at a time.
    #[test]
    fn raw_request_respects_the_window_and_ends_at_fin() {
        let windows_like = {
            let mut a = Attributes::new();
            a.insert(Field::IpTtl, 128u8);
            a.insert(Field::TcpWindowSizeValue, 64240u16);
            a.insert(Field::TcpOptionsMssVal, 1460u16);
            a.insert(Field::SynlabOptionsLayout, "mss");
            a
        };
        let hex = "ab".repeat(1500);
        let mut x = start(&windows_like, Attributes::new(), &format!("hex:{hex}"));
        x.poll(ms(0));
        let synack = from_server(
            TcpFlags::SYN | TcpFlags::ACK,
            SERVER_ISN,
            ISN + 1,
            &[],
            vec![TcpOption::Mss(1460)],
        );
        feed(&mut x, ms(10), &synack);
        // The server's window is 1000: the first 1000 bytes only.
        let segs = sent(&x.poll(ms(10)));
        let payload: usize = segs.iter().map(|s| s.3.len()).sum();
        assert_eq!(payload, 1000);
        for (_, _, _, _, a) in &segs {
            assert_eq!(a.get(Field::TcpWindowSizeValue), Some(&Value::Int(64240)));
            assert_eq!(a.get(Field::IpTtl), Some(&Value::Int(128)));
        }
        let ack = from_server(TcpFlags::ACK, SERVER_ISN + 1, ISN + 1001, &[], vec![]);
        feed(&mut x, ms(20), &ack);
        let segs = sent(&x.poll(ms(20)));
        assert_eq!(segs.iter().map(|s| s.3.len()).sum::<usize>(), 500);
        let fin = from_server(
            TcpFlags::FIN | TcpFlags::ACK,
            SERVER_ISN + 1,
            ISN + 1501,
            b"pong",
            vec![],
        );
        feed(&mut x, ms(30), &fin);
        let segs = sent(&x.poll(ms(30)));
        assert_eq!(x.outcome(), Some(Outcome::Complete));
        assert_eq!(segs[0].2, SERVER_ISN + 1 + 4 + 1, "the FIN acknowledged");
    }

    /// An unacknowledged request is sent again after the timeout.
    #[test]
    fn the_request_is_retransmitted() {
        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        x.poll(ms(0));
        feed(&mut x, ms(10), &linux_synack());
        let first = sent(&x.poll(ms(10)));
        assert_eq!(x.poll_at(), Some(ms(210)));
        let again = sent(&x.poll(ms(210)));
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].1, first[1].1);
        assert_eq!(again[0].3, first[1].3);
    }

    /// No answer: the SYN is sent again after 1 s, and at the handshake
    /// limit the outcome is no-reply. A RST answer is `reset`.
    #[test]
    fn handshake_outcomes() {
        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        assert_eq!(x.poll(ms(0)).len(), 1);
        assert!(x.poll(ms(999)).is_empty());
        assert_eq!(x.poll(ms(1000)).len(), 1);
        x.poll(ms(3000));
        assert_eq!(x.result().map(|r| r.outcome), Some(Outcome::NoReply));

        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        x.poll(ms(0));
        let rst = from_server(TcpFlags::RST | TcpFlags::ACK, 0, ISN + 1, &[], vec![]);
        feed(&mut x, ms(5), &rst);
        assert_eq!(x.result().map(|r| r.outcome), Some(Outcome::Reset));
        assert_eq!(x.result().and_then(|r| r.rtt), Some(ms(5)));
        assert!(x.poll(ms(6)).is_empty());
        let not_a_syn = from_server(TcpFlags::ACK, 1, 1, &[], vec![]);
        let params = Params {
            syn: not_a_syn,
            flow: Attributes::new(),
            request: Request::Raw(vec![1]),
            limits: Limits {
                handshake: ms(1),
                stall: ms(1),
                total: ms(1),
            },
            retries: Vec::new(),
        };
        assert!(Exchange::new(params, ms(0)).is_err());
    }
}
