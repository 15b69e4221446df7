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

use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use super::assembler::Assembler;
use super::request::{response_head, Request, ResponseHead};
use super::rtt::RttEstimator;
use super::seq::SeqNumber;
use super::timer::{Backoff, Timer};
use super::wire::{emit_segment, IpStyle, TcpHeader};
use crate::handshake::Outcome;
use crate::model::{
    decode_frame, Attributes, Decoded, Field, IcmpError, LinkType, Segment, TcpFlags, TcpOption,
    Value,
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
    /// The response's bytes at most. A body that streams forever (no
    /// Content-Length, no FIN) is progress all along, so neither the stall
    /// limit nor (on a fast path, for two minutes) the total would end it;
    /// at this many bytes in order the exchange stops as a client with a
    /// size cap does (curl's `--max-filesize`): the path carried that much,
    /// so the outcome is the whole response's (`complete`, or `http-error`
    /// by its status), with `capped` in the statistics.
    pub max_bytes: u64,
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
    /// The response reached [`Limits::max_bytes`] before it ended; the
    /// exchange stopped there (and reset the connection).
    pub capped: bool,
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
    /// RSTs inside the window but not at the next byte expected, answered
    /// with an ACK instead of ending the exchange (RFC 5961).
    pub challenge_acks: u32,
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
        let Decoded::Tcp(seg) = decode_frame(LinkType::Raw, packet) else {
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

/// How the client's segments after the SYN look: the profile's `[later]`
/// table (`synlab.flow.*`), each value absent following the SYN.
#[derive(Clone, Copy, Debug)]
struct Shape {
    /// The IP fields (the ECN codepoint and IP ID are set per segment).
    ip: IpStyle,
    /// ECN codepoint for data segments, once ECN was negotiated.
    ecn_data: u8,
    /// Timestamps on later segments when the handshake negotiated them.
    want_ts: bool,
    ip_ids: IpIds,
    /// The window field later segments advertise, before scaling
    /// (`synlab.flow.window`; absent: the SYN's).
    window: u16,
}

/// The send side: the request, how much of it the server acknowledged,
/// and our FIN.
#[derive(Clone, Debug)]
struct Sender {
    request: Vec<u8>,
    /// The sequence number of the request's first byte (ISN + 1).
    base: SeqNumber,
    /// The first byte not acknowledged, and the next to send.
    una: SeqNumber,
    nxt: SeqNumber,
    /// The highest `nxt` so far: sending below it is a retransmission,
    /// which is not timed.
    high: SeqNumber,
    /// The server's window, scaled.
    wnd: u64,
    rtt: RttEstimator,
    /// Our FIN's sequence number, once sent, and how often sent again.
    fin: Option<SeqNumber>,
    fin_retransmits: u32,
}

impl Sender {
    fn new(request: Vec<u8>, iss: SeqNumber) -> Self {
        Sender {
            request,
            base: iss + 1,
            una: iss,
            nxt: iss + 1,
            high: iss + 1,
            wnd: 0,
            rtt: RttEstimator::new(MIN_RTO, MAX_RTO),
            fin: None,
            fin_retransmits: 0,
        }
    }

    /// Request bytes sent and not acknowledged.
    fn in_flight(&self) -> u64 {
        u64::from(self.nxt.since(self.una))
    }

    /// Our FIN was sent and the server acknowledged it.
    fn fin_acked(&self) -> bool {
        self.fin.is_some_and(|f| self.una > f)
    }
}

/// The receive side: the server's stream, in order and held ahead of a
/// gap, its FIN, and what our ACKs echo (timestamp, ECE).
#[derive(Clone, Debug)]
struct Receiver {
    /// The server's ISN.
    irs: SeqNumber,
    /// Response bytes received in order.
    off: u64,
    /// Our receive window, in bytes.
    wnd: u64,
    /// Segments ahead of a gap.
    ahead: Assembler,
    /// Stream offset of the server's FIN, once seen; whether the stream
    /// reached it.
    fin_at: Option<u64>,
    fin_received: bool,
    /// The server's TSval to echo.
    ts_recent: u32,
    /// ECN: the server's segments were marked CE; ECE on ours until its CWR.
    ece: bool,
}

impl Receiver {
    /// The next sequence number expected from the server.
    fn nxt(&self) -> SeqNumber {
        self.irs + 1 + self.off as u32 + u32::from(self.fin_received)
    }

    /// `seq` is where the server's next byte may be.
    fn in_window(&self, seq: SeqNumber) -> bool {
        u64::from(seq.since(self.nxt())) < self.wnd.max(1)
    }

    /// Where a segment's first byte falls in the response stream (before
    /// what was received: negative, a retransmission).
    fn stream_offset(&self, seq: SeqNumber) -> i64 {
        let d = seq.diff(self.irs + 1 + self.off as u32);
        self.off as i64 + i64::from(d)
    }
}

/// The connection's deadlines, on the caller's clock.
#[derive(Clone, Copy, Debug)]
struct Timers {
    started: Duration,
    /// The next SYN; the wait after it (1 s, 2 s, 4 s, ...).
    syn: Timer,
    syn_backoff: Backoff,
    /// Send the request again from its first unacknowledged byte.
    rtx: Timer,
    /// Probe the server's zero window; the wait after the probe.
    persist: Timer,
    persist_backoff: Backoff,
    /// Send our FIN again; the wait after that.
    fin_rtx: Timer,
    fin_backoff: Backoff,
    /// The last progress (new bytes in order, the request acknowledged):
    /// the stall limit counts from it.
    last_progress: Duration,
    /// The end of the linger after the outcome.
    linger_end: Duration,
    /// When the request's first byte went out (the exchange's duration
    /// counts from it).
    request_at: Option<Duration>,
}

impl Timers {
    fn new(now: Duration) -> Self {
        let mut syn = Timer::IDLE;
        syn.set(now);
        Timers {
            started: now,
            syn,
            syn_backoff: Backoff::new(SYN_RTO, Duration::MAX),
            rtx: Timer::IDLE,
            persist: Timer::IDLE,
            persist_backoff: Backoff::new(MIN_RTO, MAX_RTO),
            fin_rtx: Timer::IDLE,
            fin_backoff: Backoff::new(MIN_RTO, MAX_RTO),
            last_progress: now,
            linger_end: now,
            request_at: None,
        }
    }

    /// When an established connection gives up: no progress for the
    /// stall limit, or the whole exchange at its limit.
    fn give_up_at(&self, limits: &Limits) -> Duration {
        (self.last_progress + limits.stall).min(self.started + limits.total)
    }
}

/// What the response said so far.
#[derive(Clone, Debug, Default)]
struct HttpProgress {
    /// The request was HTTP: read a response head.
    is_http: bool,
    /// The stream's first bytes, until the head is whole.
    head: Vec<u8>,
    response: Option<ResponseHead>,
}

impl HttpProgress {
    /// Bytes of the stream, in order.
    fn take(&mut self, bytes: &[u8]) {
        if self.is_http && self.response.is_none() && self.head.len() < HEAD_KEPT {
            let room = HEAD_KEPT - self.head.len();
            self.head
                .extend_from_slice(bytes.get(..room).unwrap_or(bytes));
            self.response = response_head(&self.head);
        }
    }

    /// The stream offset where the response ends, by its Content-Length.
    fn end(&self) -> Option<u64> {
        self.response
            .and_then(|h| Some(h.head_len.saturating_add(h.content_length?)))
    }
}

/// One client connection. See the module documentation.
#[derive(Debug)]
pub struct Exchange {
    syn: SynFacts,
    syn_packet: Vec<u8>,
    /// SYNs sent so far, and what later tries send.
    syn_tries: u32,
    retries: Vec<(u32, Vec<u8>)>,
    limits: Limits,
    state: State,
    result: Option<ExchangeResult>,
    out: Vec<Vec<u8>>,
    neg: Negotiated,
    shape: Shape,
    tx: Sender,
    rx: Receiver,
    http: HttpProgress,
    timers: Timers,
    /// The time of the call being handled (for the timestamp clock).
    now: Duration,
    stats: ExchangeStats,
    /// `trace --exchange`: the request is not sent after the handshake;
    /// its first segment goes out only as TTL-limited probes
    /// ([`Exchange::data_probe`]).
    held: bool,
    /// The highest acknowledgment the server sent (a held request's probe
    /// that reached it moves it past the request's first byte).
    acked_high: SeqNumber,
}

impl Exchange {
    /// A connection about to send `params.syn` at `now`.
    pub fn new(params: Params, now: Duration) -> Result<Self, NotASyn> {
        let syn = SynFacts::read(&params.syn)?;
        let shape = Shape::new(&params.flow, &syn);
        let host = host_header(syn.remote);
        let stats = ExchangeStats {
            request: params.request.to_string(),
            ..ExchangeStats::default()
        };
        Ok(Exchange {
            syn_packet: params.syn,
            syn_tries: 0,
            retries: params.retries,
            limits: params.limits,
            state: State::SynSent,
            result: None,
            out: Vec::new(),
            neg: Negotiated::default(),
            shape,
            tx: Sender::new(params.request.bytes(&host), SeqNumber(syn.iss)),
            rx: Receiver {
                irs: SeqNumber(0),
                off: 0,
                wnd: u64::from(shape.window),
                ahead: Assembler::default(),
                fin_at: None,
                fin_received: false,
                ts_recent: 0,
                ece: false,
            },
            http: HttpProgress {
                is_http: params.request.is_http(),
                ..HttpProgress::default()
            },
            timers: Timers::new(now),
            now,
            stats,
            held: false,
            acked_high: SeqNumber(syn.iss),
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

    /// The result as soon as the outcome is known: the connection may
    /// still linger to acknowledge the server's FIN (and its FIN
    /// retransmissions are not counted yet). [`Exchange::result`] is the
    /// final one.
    pub fn ended(&self) -> Option<&ExchangeResult> {
        self.result
            .as_ref()
            .filter(|r| r.outcome != Outcome::SynAck)
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

    /// Hold the request (`trace --exchange`): after the handshake nothing
    /// is sent but ACKs, until [`Exchange::data_probe`] asks for the
    /// request's first segment with a TTL; [`Exchange::abort`] ends it.
    pub fn hold_request(&mut self) {
        self.held = true;
    }

    /// The handshake is done and the connection not yet ended.
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// The handshake's answer (its outcome, round trip and the SYN-ACK or
    /// RST), as soon as one came; the final result once the exchange ended.
    pub fn handshake(&self) -> Option<&ExchangeResult> {
        self.result.as_ref()
    }

    /// A held request's first segment (as much as the server's MSS takes)
    /// with TTL (hop limit) `ttl`, sent again at the same sequence number
    /// each time; `None` unless established with a held request.
    pub fn data_probe(&mut self, ttl: u8) -> Option<Vec<u8>> {
        if !self.held || self.state != State::Established {
            return None;
        }
        let n = self.tx.request.len().min(usize::from(self.neg.mss.max(1)));
        let chunk = self.tx.request.get(..n)?.to_vec();
        let psh = if n == self.tx.request.len() {
            TcpFlags::PSH
        } else {
            0
        };
        let before = self.out.len();
        self.emit_with_ttl(TcpFlags::ACK | psh, self.tx.base, &chunk, ttl);
        match self.out.len() > before {
            true => self.out.pop(),
            false => None,
        }
    }

    /// When [`Exchange::poll`] has something to do next without a segment.
    pub fn poll_at(&self) -> Option<Duration> {
        let t = &self.timers;
        match self.state {
            State::SynSent => Some(
                t.syn
                    .min_with(t.started + self.limits.handshake)
                    .max(t.started),
            ),
            State::Established => {
                let give_up = t.give_up_at(&self.limits);
                Some(t.persist.min_with(t.rtx.min_with(give_up)))
            }
            State::Closing { until } => Some(match self.tx.fin_acked() {
                false => t.fin_rtx.min_with(until),
                true => until,
            }),
            State::Done => None,
        }
    }

    /// Run the timers due at `now`; the packets to send (IP packets).
    pub fn poll(&mut self, now: Duration) -> Vec<Vec<u8>> {
        self.now = now;
        match self.state {
            State::SynSent if now >= self.timers.started + self.limits.handshake => {
                self.finish(now, Outcome::NoReply, None);
                self.state = State::Done;
            }
            State::SynSent if self.timers.syn.is_due(now) => self.send_syn(now),
            State::Established => self.established_timers(now),
            State::Closing { until } => self.closing_timers(now, until),
            _ => {}
        }
        std::mem::take(&mut self.out)
    }

    /// The SYN again (or its retry for this try), then a longer wait.
    fn send_syn(&mut self, now: Duration) {
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
        let t = &mut self.timers;
        t.syn.set(now + t.syn_backoff.current());
        t.syn_backoff.grow();
    }

    fn established_timers(&mut self, now: Duration) {
        if now >= self.timers.give_up_at(&self.limits) {
            self.stats.stalled_at = Some(self.rx.off);
            self.finish(now, Outcome::Stalled, None);
            return;
        }
        if self.timers.rtx.is_due(now) {
            // Go back to the first unacknowledged byte.
            self.tx.nxt = self.tx.una;
            self.tx.rtt.on_retransmit();
            self.timers.rtx.stop();
            self.push_request(now);
        }
        if self.timers.persist.is_due(now) {
            // A zero-window probe, as Linux sends it: a segment one byte
            // before the window (nothing new), which the server answers
            // with an ACK carrying its window. No progress while the window
            // stays shut, so the stall limit bounds the probing.
            self.emit(TcpFlags::ACK, self.tx.una - 1, &[]);
            self.stats.zero_window_probes += 1;
            let t = &mut self.timers;
            t.persist_backoff.grow();
            t.persist.set(now + t.persist_backoff.current());
        }
    }

    /// After the outcome: send our FIN again while it is unacknowledged
    /// (at most [`MAX_FIN_RETRANSMITS`] times), and end once the linger is
    /// over and the FIN acknowledged or given up on.
    fn closing_timers(&mut self, now: Duration, until: Duration) {
        let unacked = !self.tx.fin_acked();
        if let Some(seq) = self
            .tx
            .fin
            .filter(|_| unacked && self.timers.fin_rtx.is_due(now))
        {
            self.emit(TcpFlags::FIN | TcpFlags::ACK, seq, &[]);
            self.tx.fin_retransmits += 1;
            // The statistics went into the result with the outcome.
            if let Some(r) = self.result.as_mut() {
                r.stats.fin_retransmissions = self.tx.fin_retransmits;
            }
            let t = &mut self.timers;
            t.fin_backoff.grow();
            match self.tx.fin_retransmits < MAX_FIN_RETRANSMITS {
                true => t.fin_rtx.set(now + t.fin_backoff.current()),
                false => t.fin_rtx.stop(),
            }
        }
        if now >= until {
            match (self.timers.fin_rtx.at(), unacked) {
                (Some(next), true) => self.state = State::Closing { until: next },
                // Given up on the FIN: the server may hold its socket open.
                (None, true) => self.reset(),
                (_, false) => self.state = State::Done,
            }
        }
    }

    /// Give the connection up with RST|ACK at our next sequence number (as
    /// Linux's active reset), so the server frees its socket and whatever
    /// it still had to send; a FIN alone left it in CLOSE-WAIT with the
    /// unsent data, retransmitting into the path that stalled (issue 21).
    /// The ACK bit is what lets it past the `--suppress-rst` rule, which
    /// drops the kernel's RSTs, sent without ACK.
    fn reset(&mut self) {
        self.emit(TcpFlags::RST | TcpFlags::ACK, self.tx.nxt, &[]);
        self.state = State::Done;
    }

    /// Stop now (the caller was interrupted, or `trace --exchange` is done
    /// with the connection): a connection past its handshake is reset with
    /// RST|ACK at the server's next expected byte (our next sequence
    /// number, or past a data probe the server acknowledged), so the server
    /// frees its socket instead of keeping it ESTABLISHED or in CLOSE-WAIT;
    /// the packets to send. The exchange is over afterwards; one without an
    /// outcome yet keeps none ([`Exchange::result`] stays `None`).
    pub fn abort(&mut self, now: Duration) -> Vec<Vec<u8>> {
        self.now = now;
        match self.state {
            State::Established | State::Closing { .. } => {
                let seq = match self.acked_high > self.tx.nxt {
                    true => self.acked_high,
                    false => self.tx.nxt,
                };
                self.emit(TcpFlags::RST | TcpFlags::ACK, seq, &[]);
                self.state = State::Done;
            }
            State::SynSent | State::Done => self.state = State::Done,
        }
        std::mem::take(&mut self.out)
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
        let first = SeqNumber(self.syn.iss) + 1;
        let acks_syn = seg.flags.has(TcpFlags::ACK) && SeqNumber(seg.ack) == first;
        let rtt = now.saturating_sub(self.timers.started);
        if seg.flags.has(TcpFlags::RST) {
            if acks_syn {
                self.finish(now, Outcome::Reset, Some(seg.attributes()));
                if let Some(r) = self.result.as_mut() {
                    r.rtt = Some(rtt);
                }
                self.state = State::Done;
            }
            return;
        }
        if !seg.flags.is_syn_ack() || !acks_syn {
            return;
        }
        self.negotiate(seg);
        self.rx.irs = SeqNumber(seg.seq);
        self.tx.base = first;
        self.tx.una = first;
        self.tx.nxt = first;
        self.tx.high = first;
        self.tx.wnd = u64::from(seg.window());
        if self.syn_tries == 1 {
            // Karn: with the SYN sent again, which one was answered is unknown.
            self.tx.rtt.sample(rtt);
        }
        self.state = State::Established;
        self.acked_high = first;
        self.timers.last_progress = now;
        self.result = Some(ExchangeResult {
            outcome: Outcome::SynAck,
            rtt: Some(rtt),
            reply: Some(seg.attributes()),
            icmp_from: None,
            stats: ExchangeStats::default(),
        });
        self.send_ack();
        self.timers.request_at = Some(now);
        if !self.held {
            self.push_request(now);
        }
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
                    n.timestamps = self.shape.want_ts;
                    self.rx.ts_recent = tsval;
                }
                _ => {}
            }
        }
        if let (Some(ours), Some(theirs)) = (self.syn.wscale, peer_ws) {
            n.snd_shift = theirs;
            n.rcv_shift = ours;
            self.rx.wnd = (u64::from(self.shape.window) << ours).min(MAX_RCV_WND);
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
        (self.rx.wnd >> self.neg.rcv_shift).min(65535) as u16
    }

    fn on_established(&mut self, now: Duration, seg: &Segment<'_>) {
        if seg.flags.has(TcpFlags::SYN) {
            // The SYN-ACK again: our ACK was lost.
            self.send_ack();
            return;
        }
        if seg.flags.has(TcpFlags::RST) {
            self.on_rst(now, SeqNumber(seg.seq));
            return;
        }
        if seg.flags.has(TcpFlags::ACK) {
            self.on_ack(now, seg);
            if let State::Closing { .. } = self.state {
                if self.tx.fin_acked() {
                    self.state = State::Closing {
                        until: self.timers.linger_end.max(now),
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
        let seq = SeqNumber(seg.seq);
        if self.neg.timestamps && seq <= self.rx.nxt() {
            if let Some(tsval) = timestamp(seg) {
                self.rx.ts_recent = tsval;
            }
        }
        self.on_data(now, seq, payload, seg.flags.has(TcpFlags::FIN));
        self.send_ack();
        if self.state == State::Established && self.response_complete() {
            self.finish(now, self.whole_response_outcome(), None);
        } else if self.state == State::Established && self.rx.off >= self.limits.max_bytes {
            self.stats.capped = true;
            self.finish(now, self.whole_response_outcome(), None);
        }
    }

    /// A RST after the handshake, as RFC 5961 3.2 (and Linux) take it: at
    /// exactly the next byte expected it ends the exchange; elsewhere in
    /// the window it is answered with a challenge ACK (a server that did
    /// lose the connection answers that with a RST at the exact number);
    /// out of the window it is ignored. Blind RSTs at random numbers land
    /// in a 4 MiB window about once in a thousand: a storm of them ended
    /// the exchange (issue 22's hostile server).
    fn on_rst(&mut self, now: Duration, seq: SeqNumber) {
        if self.state != State::Established {
            return;
        }
        if seq == self.rx.nxt() {
            // Done first: a reset connection is not closed with a FIN.
            self.state = State::Done;
            self.finish(now, Outcome::ResetMidTransfer, None);
        } else if self.rx.in_window(seq) {
            self.stats.challenge_acks += 1;
            self.send_ack();
        }
    }

    /// A response received whole is `complete`, unless its HTTP status is
    /// an error (4xx, 5xx): a `404` page is no download (issue 21).
    fn whole_response_outcome(&self) -> Outcome {
        match self.http.response.and_then(|h| h.status) {
            Some(status @ 400..=599) => Outcome::HttpError { status },
            _ => Outcome::Complete,
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
            self.rx.ece = false;
        }
        if seg.ecn() == 3 {
            self.stats.ce_received += 1;
            self.rx.ece = true;
        }
    }

    fn on_ack(&mut self, now: Duration, seg: &Segment<'_>) {
        let ack = SeqNumber(seg.ack);
        self.tx.wnd = u64::from(seg.window()) << self.neg.snd_shift;
        if ack > self.acked_high {
            self.acked_high = ack;
        }
        if ack > self.tx.una && ack <= self.tx.nxt {
            self.tx.una = ack;
            self.tx.rtt.on_ack(now, ack);
            self.timers.last_progress = now;
            match self.tx.una == self.tx.nxt {
                true => self.timers.rtx.stop(),
                false => self.timers.rtx.set(now + self.tx.rtt.rto()),
            }
        }
        if self.state == State::Established && !self.held {
            self.push_request(now);
        }
    }

    fn on_data(&mut self, now: Duration, seq: SeqNumber, payload: &[u8], fin: bool) {
        let off = self.rx.stream_offset(seq);
        let end = off + payload.len() as i64;
        if fin && end >= 0 {
            self.rx.fin_at = Some(end as u64);
        }
        let rcv = self.rx.off as i64;
        if end <= rcv && !(fin && end == rcv) {
            self.stats.server_retransmissions += 1;
        } else if off <= rcv {
            let fresh = payload.get((rcv - off) as usize..).unwrap_or_default();
            self.append(now, fresh);
            while let Some(fresh) = self.rx.ahead.pop_reached(self.rx.off) {
                self.append(now, &fresh);
            }
        } else if (end - rcv) as u64 <= self.rx.wnd && self.rx.ahead.bytes() < self.rx.wnd {
            self.stats.out_of_order += 1;
            self.rx.ahead.add(off as u64, payload);
        }
        if self.rx.fin_at == Some(self.rx.off) && !self.rx.fin_received {
            self.rx.fin_received = true;
            self.timers.last_progress = now;
        }
    }

    /// Bytes in order: progress.
    fn append(&mut self, now: Duration, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.rx.off += bytes.len() as u64;
        self.timers.last_progress = now;
        self.http.take(bytes);
    }

    fn response_complete(&self) -> bool {
        let by_length = self.http.end().is_some_and(|len| self.rx.off >= len);
        by_length || self.rx.fin_received
    }

    /// Send what the server's window allows of the request.
    fn push_request(&mut self, now: Duration) {
        loop {
            let tx = &self.tx;
            let sent = tx.nxt.since(tx.base) as usize;
            let in_flight = tx.in_flight();
            let room = tx.wnd.saturating_sub(in_flight);
            let left = tx.request.len().saturating_sub(sent);
            let n = left.min(usize::from(self.neg.mss)).min(room as usize);
            if n == 0 {
                self.persist(now, left > 0 && in_flight == 0);
                return;
            }
            let chunk = tx.request[sent..sent + n].to_vec();
            let psh = if n == left { TcpFlags::PSH } else { 0 };
            self.emit(TcpFlags::ACK | psh, self.tx.nxt, &chunk);
            let tx = &mut self.tx;
            tx.nxt = tx.nxt + n as u32;
            if tx.nxt > tx.high {
                tx.high = tx.nxt;
                tx.rtt.on_send(now, tx.nxt);
            }
            self.timers.rtx.set_if_idle(now + self.tx.rtt.rto());
        }
    }

    /// Arm the zero-window probe when the server's window is shut with
    /// request bytes left and nothing in flight (no retransmission timer
    /// would wake us); disarm it otherwise.
    fn persist(&mut self, now: Duration, waiting: bool) {
        let t = &mut self.timers;
        if waiting && self.tx.wnd == 0 {
            t.persist.set_if_idle(now + t.persist_backoff.current());
        } else {
            t.persist.stop();
            t.persist_backoff.reset();
        }
    }

    fn send_ack(&mut self) {
        self.emit(TcpFlags::ACK, self.tx.nxt, &[]);
    }

    /// The outcome is known: record it, and after a handshake end the
    /// connection: a stalled one with a RST (it is given up), any other
    /// politely with a FIN, lingering to acknowledge the server's.
    fn finish(&mut self, now: Duration, outcome: Outcome, reply: Option<Attributes>) {
        let duration = now.saturating_sub(self.timers.request_at.unwrap_or(now));
        let mut stats = std::mem::take(&mut self.stats);
        let response = self.http.response;
        stats.bytes = self.rx.off;
        stats.duration_s = duration.as_secs_f64();
        stats.http_status = response.and_then(|h| h.status);
        stats.content_length = response.and_then(|h| h.content_length);
        if matches!(outcome, Outcome::Complete | Outcome::HttpError { .. }) {
            stats.throughput_mb_s =
                (stats.duration_s > 0.0).then(|| self.rx.off as f64 / stats.duration_s / 1e6);
            stats.truncated = !stats.capped && self.http.end().is_some_and(|len| self.rx.off < len);
        }
        // A stalled exchange is given up, a capped one leaves the rest of
        // the response unread: either is reset, as a socket closed with
        // unread data is.
        let abandon = outcome == Outcome::Stalled || stats.capped;
        let previous = self.result.take();
        self.result = Some(ExchangeResult {
            outcome,
            rtt: previous.as_ref().and_then(|r| r.rtt),
            reply: reply.or_else(|| previous.and_then(|r| r.reply)),
            icmp_from: None,
            stats,
        });
        if self.state != State::Established {
            return;
        }
        self.timers.rtx.stop();
        self.timers.persist.stop();
        match abandon {
            true => self.reset(),
            false => self.close(now),
        }
    }

    /// Our FIN, sent again on a timer until acknowledged, and a linger to
    /// acknowledge the server's.
    fn close(&mut self, now: Duration) {
        let fin = self.tx.nxt;
        self.emit(TcpFlags::FIN | TcpFlags::ACK, fin, &[]);
        self.tx.fin = Some(fin);
        self.tx.nxt = fin + 1;
        let t = &mut self.timers;
        t.fin_rtx.set(now + t.fin_backoff.current());
        t.linger_end = now + LINGER;
        self.state = State::Closing {
            until: t.linger_end,
        };
    }

    /// SACK blocks for the held segments (merged), at most `max`.
    fn sack_blocks(&self, max: usize) -> Vec<u8> {
        let base = self.rx.irs + 1;
        let mut out = Vec::new();
        for (start, end) in self.rx.ahead.ranges().into_iter().take(max) {
            out.extend_from_slice(&(base + start as u32).get().to_be_bytes());
            out.extend_from_slice(&(base + end as u32).get().to_be_bytes());
        }
        out
    }

    /// Write one segment with the profile's attributes.
    fn emit(&mut self, flags: u16, seq: SeqNumber, payload: &[u8]) {
        self.emit_with_ttl(flags, seq, payload, self.shape.ip.ttl);
    }

    /// [`Exchange::emit`] with the TTL (hop limit) given.
    fn emit_with_ttl(&mut self, flags: u16, seq: SeqNumber, payload: &[u8], ttl: u8) {
        let now_ms = self.ts_clock();
        let sack = match self.neg.sack && !self.rx.ahead.is_empty() {
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
                    tsecr: self.rx.ts_recent,
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
            true => self.shape.ecn_data,
            false => 0,
        };
        let flags = match self.neg.ecn && self.rx.ece {
            true => flags | TcpFlags::ECE,
            false => flags,
        };
        let ip = IpStyle {
            ecn,
            ttl,
            ip_id: self.shape.ip_ids.next(),
            ..self.shape.ip
        };
        let tcp = TcpHeader {
            src: self.syn.local,
            dst: self.syn.remote,
            seq: seq.get(),
            ack: self.rx.nxt().get(),
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
        let ms = self.now.saturating_sub(self.timers.started).as_millis() as u32;
        self.syn.tsval.unwrap_or(0).wrapping_add(ms)
    }
}

impl Shape {
    /// From the request's `synlab.flow.*` attributes and the SYN.
    fn new(flow: &Attributes, syn: &SynFacts) -> Self {
        let flow_int = |f: Field| flow.get(f).and_then(Value::as_u64);
        let flow_bool = |f: Field| flow.get(f).map(|v| v.as_u64() == Some(1));
        Shape {
            ip: IpStyle {
                ttl: flow_int(Field::SynlabFlowTtl).map_or(syn.ip.ttl, |t| t.min(255) as u8),
                df: flow_bool(Field::SynlabFlowDf).unwrap_or(syn.ip.df),
                dscp: flow_int(Field::SynlabFlowDscp).map_or(syn.ip.dscp, |d| d.min(63) as u8),
                ecn: 0,
                flow_label: match flow_bool(Field::SynlabFlowFlowLabel) {
                    None => syn.ip.flow_label,
                    Some(false) => 0,
                    Some(true) => nonzero_label(syn.ip.flow_label, syn.iss),
                },
                ..syn.ip
            },
            window: flow_int(Field::SynlabFlowWindow).map_or(syn.window, |w| w.min(65535) as u16),
            ecn_data: flow_int(Field::SynlabFlowEcn).map_or(2, |e| (e & 3) as u8),
            want_ts: flow_bool(Field::SynlabFlowTs).unwrap_or(true),
            ip_ids: IpIds::new(
                flow.get(Field::SynlabFlowIpid),
                syn.ip.ip_id,
                syn.iss ^ 0x9e37_79b9,
            ),
        }
    }
}

/// A non-zero 20-bit flow label: the SYN's, or one drawn from the ISN
/// (the same for every segment of the connection, as RFC 6437 asks).
fn nonzero_label(syn_label: u32, iss: u32) -> u32 {
    match syn_label & 0xfffff {
        0 => ((iss ^ (iss >> 12)) & 0xfffff).max(1),
        label => label,
    }
}

/// The `Host:` header naming `server` (RFC 9110 7.2): an IPv6 address in
/// brackets (a bare one is no valid host), the port unless it is HTTP's 80.
fn host_header(server: std::net::SocketAddr) -> String {
    let ip = match server.ip() {
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    match server.port() {
        80 => ip,
        port => format!("{ip}:{port}"),
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
                max_bytes: u64::MAX,
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
        match decode_frame(LinkType::Raw, packet) {
            Decoded::Tcp(seg) => x.on_segment(at, &seg),
            other => panic!("not a segment: {other:?}"),
        }
    }

    /// What the client sent, decoded: (flags, seq, ack, payload, attributes).
    fn sent(packets: &[Vec<u8>]) -> Vec<(u16, u32, u32, Vec<u8>, Attributes)> {
        packets
            .iter()
            .map(|p| match decode_frame(LinkType::Raw, p) {
                Decoded::Tcp(s) => (
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
        let r = Request::Http {
            path: "/f".into(),
            host: None,
        };
        r.bytes(&server().ip().to_string()).len() as u32
    }

    fn response(body: usize) -> Vec<u8> {
        let mut r = format!("HTTP/1.0 200 OK\r\nContent-Length: {body}\r\n\r\n").into_bytes();
        r.extend((0..body).map(|i| (i % 251) as u8));
        r
    }

    /// `trace --exchange`: a held request is not sent after the handshake;
    /// its first segment goes out as probes with the TTL asked, at the same
    /// sequence number each time, and the abort resets past what the
    /// server acknowledged.
    #[test]
    fn a_held_request_goes_out_only_as_ttl_limited_probes_then_is_reset() {
        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        assert_eq!(x.data_probe(1), None, "no probe before the handshake");
        x.hold_request();
        let _syn = x.poll(ms(0));
        feed(&mut x, ms(10), &linux_synack());
        assert!(x.is_established());
        let after = sent(&x.poll(ms(10)));
        assert_eq!(after.len(), 1, "only the handshake's ACK");
        assert_eq!(after[0].0, TcpFlags::ACK);
        assert!(after[0].3.is_empty());
        let probes: Vec<Vec<u8>> = [1u8, 2, 2]
            .iter()
            .filter_map(|&t| x.data_probe(t))
            .collect();
        let p = sent(&probes);
        assert_eq!(p.len(), 3);
        for ((_, seq, _, payload, a), ttl) in p.iter().zip([1, 2, 2]) {
            assert_eq!(*seq, ISN + 1);
            assert!(payload.starts_with(b"GET /f HTTP/1.1\r\n"));
            assert_eq!(a.get(Field::IpTtl), Some(&Value::Int(ttl)));
        }
        // No timer sends the request on its own (before the stall limit).
        assert!(x.poll(ms(900)).is_empty());
        // The server acknowledges the probe (and answers it).
        feed(&mut x, ms(20), &data(0, b"HTTP/1.0 200 OK\r\n"));
        let reset = sent(&x.abort(ms(21)));
        let last = reset.last().map(|s| (s.0, s.1));
        assert_eq!(
            last,
            Some((TcpFlags::RST | TcpFlags::ACK, ISN + 1 + request_len()))
        );
        assert!(x.result().is_some(), "aborted: over");
        assert_eq!(x.data_probe(3), None);
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
        assert_eq!(x.ended().map(|r| r.stats.bytes), Some(r.len() as u64));
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

    /// Ctrl-C during a download: the exchange resets the connection
    /// (RST|ACK at our next sequence number), so no server socket is left;
    /// before the handshake it sends nothing.
    #[test]
    fn abort_resets_an_open_connection_and_is_over() {
        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        x.poll(ms(0));
        feed(&mut x, ms(10), &linux_synack());
        x.poll(ms(10));
        let r = response(3000);
        feed(&mut x, ms(20), &data(0, &r[..1000]));
        x.poll(ms(20));
        let segs = sent(&x.abort(Duration::ZERO));
        assert_eq!(segs.len(), 1, "one RST");
        assert_eq!(segs[0].0, TcpFlags::RST | TcpFlags::ACK);
        assert_eq!(segs[0].1, ISN + 1 + request_len());
        assert_eq!(x.poll_at(), None, "over");
        assert!(x.poll(ms(5000)).is_empty());
        let mut fresh = start(&linux_example(), Attributes::new(), "http:/f");
        fresh.poll(ms(0));
        assert!(
            fresh.abort(Duration::ZERO).is_empty(),
            "nothing to reset before the SYN-ACK"
        );
        assert_eq!(fresh.poll_at(), None);
        assert!(fresh.result().is_none());
    }

    /// Issue 21: a `404` answered whole was reported `complete`, a download
    /// that never was. A 4xx/5xx status is `http-error` with its code (the
    /// connection closed politely, the response having ended); a redirect
    /// or a 200 is `complete`.
    #[test]
    fn an_error_status_is_an_http_error_not_complete() {
        let answered = |head: &str| {
            let mut x = start(&linux_example(), Attributes::new(), "http:/f");
            x.poll(ms(0));
            feed(&mut x, ms(10), &linux_synack());
            x.poll(ms(10));
            let r = format!("{head}\r\nContent-Length: 4\r\n\r\nnope");
            feed(&mut x, ms(20), &data(0, r.as_bytes()));
            let last = sent(&x.poll(ms(20))).last().map(|s| s.0);
            assert_eq!(last, Some(TcpFlags::FIN | TcpFlags::ACK), "{head}");
            // Over once our FIN is acknowledged; the outcome is known now.
            let stats = x.result.as_ref().map(|r| r.stats.clone());
            let stats = stats.unwrap_or_else(|| panic!("no result: {head}"));
            assert_eq!(stats.bytes, r.len() as u64, "{head}");
            (x.outcome(), stats.http_status)
        };
        let (outcome, status) = answered("HTTP/1.1 404 Not Found");
        assert_eq!(outcome, Some(Outcome::HttpError { status: 404 }));
        assert_eq!(status, Some(404));
        assert_eq!(
            answered("HTTP/1.1 503 Service Unavailable").0,
            Some(Outcome::HttpError { status: 503 })
        );
        assert_eq!(
            answered("HTTP/1.1 301 Moved Permanently").0,
            Some(Outcome::Complete)
        );
        assert_eq!(answered("HTTP/1.1 200 OK").0, Some(Outcome::Complete));
    }

    /// The default `Host:` was the bare address: `2001:2::1` (no valid
    /// host; it needs brackets) and no port for a server off port 80.
    #[test]
    fn the_host_header_names_the_server_as_http_wants() {
        assert_eq!(host_header(server()), "198.18.0.130");
        assert_eq!(host_header(addr("198.18.0.130:8080")), "198.18.0.130:8080");
        assert_eq!(host_header(addr("[2001:2::1]:80")), "[2001:2::1]");
        assert_eq!(host_header(addr("[2001:2::1]:81")), "[2001:2::1]:81");
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

    /// Issue 21 item 6: every `synlab.flow.*` attribute reaches the bytes
    /// of the segments after the SYN (IPv4: TTL, DF, DSCP, the ECN
    /// codepoint of data, IP IDs, window, timestamps), while the SYN keeps
    /// its own values.
    #[test]
    fn each_flow_attribute_reaches_the_segment_bytes() {
        let mut ecn_syn = linux_example();
        ecn_syn.insert(Field::TcpFlagsEce, true);
        ecn_syn.insert(Field::TcpFlagsCwr, true);
        let mut flow = Attributes::new();
        flow.insert(Field::SynlabFlowTtl, 99u8);
        flow.insert(Field::SynlabFlowDf, false);
        flow.insert(Field::SynlabFlowDscp, 46u8);
        flow.insert(Field::SynlabFlowEcn, 1u8);
        flow.insert(Field::SynlabFlowIpid, "constant");
        flow.insert(Field::SynlabFlowWindow, 777u16);
        flow.insert(Field::SynlabFlowTs, false);
        let mut x = start(&ecn_syn, flow, "http:/f");
        let syn = sent(&x.poll(ms(0)));
        assert_eq!(syn[0].4.get(Field::IpDsfieldDscp), Some(&Value::Int(0)));
        let synack = from_server(
            TcpFlags::SYN | TcpFlags::ACK | TcpFlags::ECE,
            SERVER_ISN,
            ISN + 1,
            &[],
            vec![TcpOption::Mss(1460), TcpOption::WindowScale(7)],
        );
        feed(&mut x, ms(10), &synack);
        let segs = sent(&x.poll(ms(10)));
        assert_eq!(segs.len(), 2, "ACK and request");
        for (_, _, _, payload, a) in &segs {
            let int = |f: Field| a.get(f).and_then(Value::as_u64);
            assert_eq!(int(Field::IpTtl), Some(99));
            assert_eq!(a.get(Field::IpFlagsDf), Some(&Value::Bool(false)));
            assert_eq!(int(Field::IpDsfieldDscp), Some(46));
            assert_eq!(int(Field::IpId), Some(77), "constant: the SYN's");
            assert_eq!(int(Field::TcpWindowSizeValue), Some(777));
            assert_eq!(a.get(Field::SynlabOptionsLayout), Some(&Value::from("")));
            let ecn = if payload.is_empty() { 0 } else { 1 };
            assert_eq!(int(Field::IpDsfieldEcn), Some(ecn));
        }
    }

    /// Issue 21 item 6 over IPv6: the hop limit, the traffic class's DSCP
    /// and the flow label (asked for or not) reach the later segments.
    #[test]
    fn ipv6_flow_attributes_reach_the_segment_bytes() {
        let (c, s) = (addr("[2001:2::2]:40000"), addr("[2001:2::130]:80"));
        let packet = |src, dst, flags, seq, ack, label| {
            let ip = IpStyle {
                ttl: 64,
                df: false,
                dscp: 0,
                ecn: 0,
                ip_id: 0,
                flow_label: label,
            };
            let options = vec![TcpOption::Mss(1440)];
            let tcp = TcpHeader {
                src,
                dst,
                seq,
                ack,
                flags,
                window: 1000,
                options,
            };
            emit_segment(&ip, &tcp, &[]).unwrap_or_default()
        };
        for (asked, syn_label, expect) in [
            (Some(false), 5, Some(0)),
            (Some(true), 5, Some(5)),
            (Some(true), 0, None),
            (None, 0, Some(0)),
        ] {
            let mut flow = Attributes::new();
            flow.insert(Field::SynlabFlowTtl, 33u8);
            flow.insert(Field::SynlabFlowDscp, 10u8);
            if let Some(b) = asked {
                flow.insert(Field::SynlabFlowFlowLabel, b);
            }
            let params = Params {
                syn: packet(c, s, TcpFlags::SYN, ISN, 0, syn_label),
                flow,
                request: "http:/f".parse().unwrap_or_else(|e| panic!("{e}")),
                limits: Limits {
                    handshake: Duration::from_secs(3),
                    stall: Duration::from_secs(1),
                    total: Duration::from_secs(30),
                    max_bytes: u64::MAX,
                },
                retries: Vec::new(),
            };
            let mut x = Exchange::new(params, Duration::ZERO).unwrap_or_else(|e| panic!("{e}"));
            x.poll(ms(0));
            let synack = packet(s, c, TcpFlags::SYN | TcpFlags::ACK, SERVER_ISN, ISN + 1, 0);
            feed(&mut x, ms(10), &synack);
            let segs = sent(&x.poll(ms(10)));
            assert_eq!(segs.len(), 2);
            for (.., a) in &segs {
                let int = |f: Field| a.get(f).and_then(Value::as_u64);
                assert_eq!(int(Field::Ipv6Hlim), Some(33));
                assert_eq!(int(Field::Ipv6TclassDscp), Some(10));
                let label = int(Field::Ipv6Flow).unwrap_or(0);
                match expect {
                    Some(l) => assert_eq!(label, l, "{asked:?} {syn_label}"),
                    None => assert_ne!(label, 0, "a label drawn for the flow"),
                }
            }
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
        x.poll(ms(1020));
        assert_eq!(x.outcome(), Some(Outcome::Stalled));
        let stats = x.result().map(|r| r.stats.clone()).unwrap_or_default();
        assert_eq!(stats.stalled_at, Some(1000));
        assert_eq!(stats.throughput_mb_s, None);
    }

    /// Issue 21: a stalled exchange was given up with FIN x3 and no RST,
    /// leaving the server in CLOSE-WAIT with megabytes unsent (and a later
    /// probe from the same 4-tuple answered by that old socket). It ends
    /// with one RST|ACK at our next sequence number, acknowledging what was
    /// received, no FIN, and is over at once: later segments are ignored.
    #[test]
    fn a_stalled_exchange_is_ended_with_a_reset() {
        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        x.poll(ms(0));
        feed(&mut x, ms(10), &linux_synack());
        x.poll(ms(10));
        feed(&mut x, ms(20), &data(0, &response(5000)[..1000]));
        x.poll(ms(20));
        let end = sent(&x.poll(ms(1020)));
        assert_eq!(end.len(), 1, "{end:?}");
        let (flags, seq, ack, payload, _) = &end[0];
        assert_eq!(*flags, TcpFlags::RST | TcpFlags::ACK);
        assert_eq!(*seq, ISN + 1 + request_len(), "the server's next byte");
        assert_eq!(*ack, SERVER_ISN + 1 + 1000);
        assert!(payload.is_empty());
        let res = x.result().cloned().unwrap_or_else(|| panic!("not over"));
        assert_eq!(res.outcome, Outcome::Stalled);
        assert_eq!(res.stats.fin_retransmissions, 0);
        assert_eq!(x.poll_at(), None);
        feed(&mut x, ms(1030), &data(1000, &response(5000)[1000..2000]));
        assert!(x.poll(ms(1030)).is_empty(), "nothing after the RST");
        assert_eq!(x.poll_at(), None);
    }

    /// Segments sent, as [`sent`] reads them.
    type Sent = Vec<(u16, u32, u32, Vec<u8>, Attributes)>;

    /// An exchange whose server streams `head` and then body bytes without
    /// end, 1000 a millisecond, under a cap of 5000 bytes: what it sent
    /// after the request, and when it ended.
    fn endless(head: &str) -> (Exchange, Sent, Duration) {
        let mut x = start(&linux_example(), Attributes::new(), "http:/f");
        x.limits.max_bytes = 5000;
        x.poll(ms(0));
        feed(&mut x, ms(10), &linux_synack());
        x.poll(ms(10));
        let mut stream = head.as_bytes().to_vec();
        stream.resize(100_000, b'x');
        let mut out = Vec::new();
        for (i, chunk) in stream.chunks(1000).enumerate() {
            let at = ms(20 + i as u64);
            feed(&mut x, at, &data(1000 * i as u32, chunk));
            out.extend(x.poll(at));
            if x.outcome().is_some() {
                return (x, sent(&out), at);
            }
        }
        (x, sent(&out), Duration::MAX)
    }

    /// Issue 22: a body that streams forever (no Content-Length, no FIN)
    /// was progress all along, so the exchange ended only at the total
    /// limit (120 s on the command line), as `stalled`. At the byte cap it
    /// ends at once: the whole response's outcome, `capped`, not
    /// `truncated`, and the rest refused with a RST (no FIN).
    #[test]
    fn bug_an_endless_body_ran_until_the_total_limit() {
        let (x, out, at) = endless("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(at, ms(24), "the fifth 1000 bytes reach the cap");
        let res = x.result().cloned().unwrap_or_else(|| panic!("not over"));
        assert_eq!(res.outcome, Outcome::Complete);
        assert!(res.stats.capped);
        assert!(!res.stats.truncated);
        assert_eq!(res.stats.bytes, 5000);
        assert_eq!(res.stats.stalled_at, None);
        let last = out.last().map(|s| (s.0, s.2));
        assert_eq!(
            last,
            Some((TcpFlags::RST | TcpFlags::ACK, SERVER_ISN + 1 + 5000))
        );
        assert!(out.iter().all(|s| s.0 & TcpFlags::FIN == 0), "{out:?}");
        assert_eq!(x.poll_at(), None, "over at once");
    }

    /// A capped response keeps its status: an error page without end is an
    /// `http-error`; a Content-Length past the cap is capped too, and not
    /// `truncated` (the server did not close early).
    #[test]
    fn a_capped_response_keeps_its_status_and_is_not_truncated() {
        let (x, _, _) = endless("HTTP/1.1 404 Not Found\r\n\r\n");
        assert_eq!(x.outcome(), Some(Outcome::HttpError { status: 404 }));
        let (x, _, at) = endless("HTTP/1.1 200 OK\r\nContent-Length: 90000\r\n\r\n");
        assert_eq!(at, ms(24));
        let stats = x.result().map(|r| r.stats.clone()).unwrap_or_default();
        assert_eq!((stats.capped, stats.truncated), (true, false));
        assert_eq!(stats.content_length, Some(90000));
    }

    /// Our FIN, unacknowledged, is sent again after the RTO and then twice
    /// that; then the connection is given up with a RST (issue 21: the
    /// server may hold its socket). Acknowledged, the FIN is not sent again
    /// and the exchange ends after the linger, without a RST.
    #[test]
    fn an_unacknowledged_fin_is_sent_again_a_few_times_then_reset() {
        let completed = || {
            let mut x = start(&linux_example(), Attributes::new(), "http:/f");
            x.poll(ms(0));
            feed(&mut x, ms(10), &linux_synack());
            x.poll(ms(10));
            feed(&mut x, ms(20), &data(0, &response(100)));
            let fin = sent(&x.poll(ms(20)));
            assert_eq!(x.outcome(), Some(Outcome::Complete));
            let (flags, seq, ..) = fin.last().cloned().unwrap_or_else(|| panic!("no FIN"));
            assert_eq!(flags, TcpFlags::FIN | TcpFlags::ACK);
            (x, seq)
        };
        let (mut x, fin_seq) = completed();
        assert!(x.poll(ms(120)).is_empty(), "the linger: nothing to send");
        assert_eq!(x.poll_at(), Some(ms(220)));
        let again = sent(&x.poll(ms(220)));
        assert_eq!(again.len(), 1);
        assert_eq!(
            (again[0].0, again[0].1),
            (TcpFlags::FIN | TcpFlags::ACK, fin_seq)
        );
        assert!(x.result().is_none());
        assert_eq!(x.poll_at(), Some(ms(620)));
        let last: Vec<(u16, u32)> = sent(&x.poll(ms(620))).iter().map(|s| (s.0, s.1)).collect();
        let fin = TcpFlags::FIN | TcpFlags::ACK;
        let rst = TcpFlags::RST | TcpFlags::ACK;
        assert_eq!(last, [(fin, fin_seq), (rst, fin_seq + 1)]);
        let res = x.result().cloned().unwrap_or_else(|| panic!("not over"));
        assert_eq!(res.stats.fin_retransmissions, MAX_FIN_RETRANSMITS);
        assert_eq!(x.poll_at(), None);

        // Acknowledged after the first retransmission: over, nothing more.
        let (mut x, fin_seq) = completed();
        x.poll(ms(220));
        let ack = from_server(TcpFlags::ACK, SERVER_ISN + 1, fin_seq + 1, &[], vec![]);
        feed(&mut x, ms(225), &ack);
        assert_eq!(x.poll_at(), Some(ms(225)));
        assert!(x.poll(ms(225)).is_empty());
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

    /// A RST after the handshake at the next byte expected ends it:
    /// reset-mid-transfer, no FIN. Issue 22: any RST in the window did, so
    /// a storm of blind RSTs ended the exchange.
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
        // In the window, not at the next byte: a challenge ACK (RFC 5961).
        let near = from_server(TcpFlags::RST, SERVER_ISN + 1002, 0, &[], vec![]);
        feed(&mut x, ms(26), &near);
        let challenge = sent(&x.poll(ms(26)));
        assert_eq!(challenge.len(), 1, "{challenge:?}");
        assert_eq!(challenge[0].0, TcpFlags::ACK);
        assert_eq!(challenge[0].2, SERVER_ISN + 1 + 1000);
        assert_eq!(x.outcome(), None);
        let rst = from_server(TcpFlags::RST, SERVER_ISN + 1001, 0, &[], vec![]);
        feed(&mut x, ms(30), &rst);
        assert!(x.poll(ms(30)).is_empty());
        let res = x.result().cloned().unwrap_or_else(|| panic!("not over"));
        assert_eq!(res.outcome, Outcome::ResetMidTransfer);
        assert_eq!(res.stats.bytes, 1000);
        assert_eq!(res.stats.challenge_acks, 1);
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
                max_bytes: u64::MAX,
            },
            retries: Vec::new(),
        };
        assert!(Exchange::new(params, ms(0)).is_err());
    }
}
