//! Handshake tracking: from a stream of decoded packets to connection
//! attempts and their outcomes.
//!
//! Sans-I/O: the caller feeds packets (with their 1-based number in the
//! capture and their timestamp) and takes each attempt as soon as its
//! outcome is decided (see [`Tracker`]). Memory follows the flows open at
//! once (at most [`Limits::max_flows`]), not the attempts in the file.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::http::{Head, HeadReader, Request, Response};
use crate::model::Field;
use crate::model::{Attributes, Decoded, FlowFacts, IcmpError, Segment, TcpFlags};

/// How the server (or the path) answered a SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Outcome {
    SynAck,
    Reset,
    Icmp {
        icmp_type: u8,
        code: u8,
    },
    NoReply,
    /// An exchange after the handshake (`probe --exchange`) received the
    /// whole response. Its bytes, duration and throughput are the
    /// exchange's statistics: the outcome is what a search compares, and
    /// two downloads of different speed are the same outcome.
    Complete,
    /// An exchange made no progress for the stall timeout before the
    /// response ended (bytes and offset in the exchange's statistics).
    Stalled,
    /// An exchange was reset after the handshake, before the response ended.
    ResetMidTransfer,
    /// An HTTP exchange received its whole response, but the status was an
    /// error (4xx or 5xx): not a download, whatever its bytes. A search
    /// compares it with good's outcome like any other, so it fails only
    /// where the baselines differ in it (both sides' `404` is no culprit).
    HttpError {
        status: u16,
    },
}

impl Outcome {
    /// The outcome's name as in the JSON: `syn-ack`, `reset`, `icmp`, `no-reply`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::SynAck => "syn-ack",
            Outcome::Reset => "reset",
            Outcome::Icmp { .. } => "icmp",
            Outcome::NoReply => "no-reply",
            Outcome::Complete => "complete",
            Outcome::Stalled => "stalled",
            Outcome::ResetMidTransfer => "reset-mid-transfer",
            Outcome::HttpError { .. } => "http-error",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Icmp { icmp_type, code } => write!(f, "icmp {icmp_type}/{code}"),
            Outcome::HttpError { status } => write!(f, "http-error {status}"),
            other => f.write_str(other.name()),
        }
    }
}

/// How a flow ended, after its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowEnd {
    Fin,
    Rst,
    /// Still open when the capture ended.
    Open,
}

/// Where one packet of an attempt was read: a capture (as it was named)
/// and the packet's 1-based number in it, as tshark's `frame.number`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PacketOrigin {
    pub file: String,
    pub packet: u64,
}

/// Where an attempt's packets were read, when it was read from several
/// captures merged by time: an attempt that crossed a file edge names both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Parts {
    pub syn: PacketOrigin,
    pub reply: Option<PacketOrigin>,
    pub last: PacketOrigin,
}

/// One connection attempt: a client SYN (and its retransmissions), the answer.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub outcome: Outcome,
    /// The client's ACK of the SYN-ACK was seen.
    pub established: bool,
    pub syn_retransmits: u32,
    pub syn: Attributes,
    /// The server's answer packet (SYN-ACK or RST), when there was one.
    pub reply: Option<Attributes>,
    /// 1-based packet numbers in the capture, as tshark's `frame.number`.
    pub syn_packet: u64,
    pub reply_packet: Option<u64>,
    /// The number of the flow's last packet seen (of either side).
    pub last_packet: u64,
    /// Which capture and packet the SYN, the answer and the last packet
    /// came from, when several captures were read as one stream (rotated
    /// files): set by the reader, which alone knows the files; `None` for
    /// one capture, where the packet numbers say it all.
    pub parts: Option<Box<Parts>>,
    /// From the first SYN to the answer.
    pub rtt: Option<Duration>,
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    pub end: FlowEnd,
    pub icmp_from: Option<std::net::IpAddr>,
    /// What the client's later segments carry (`synlab.flow.*`): IP ID
    /// pattern and the first data segment's TTL, DF, ECN and timestamps.
    pub flow: Attributes,
    /// Finished early by the flow-table cap ([`Limits::max_flows`]): later
    /// packets of the flow, if any, were not seen, so an unanswered SYN's
    /// `no-reply` may be only "no reply yet".
    pub evicted: bool,
    /// Data segments sent again (all their bytes were seen before), each
    /// way. A segment that arrives late, after data beyond it (reordered,
    /// or sent again after the capture missed the first copy), fills a
    /// gap: it is seen once, and is no retransmission.
    pub retransmits_to_server: u32,
    pub retransmits_to_client: u32,
    /// The longest time the established flow made no progress while
    /// something was outstanding (see [`Attempt::outstanding`]), until it
    /// moved on, ended, or the capture did: a download that hangs shows as
    /// seconds here, a healthy one as milliseconds, and a connection that
    /// is merely idle (nothing owed either way) not at all.
    pub longest_stall: Option<Duration>,
    /// Bytes the server had delivered when the longest wait began.
    stall_offset: Option<u64>,
    /// The client's first HTTP/1 request head, when the flow carries one.
    pub request: Option<Request>,
    /// The server's first HTTP/1 response head.
    pub response: Option<Response>,
    /// Finished as idle because the capture's clock jumped forward (a
    /// packet stamped far later than the one before, see [`ClockJump`]),
    /// not because the flow went quiet for [`Limits::idle`] of real
    /// capture time: its outcome (a `no-reply`, a stall) may be the jump's.
    pub expired_by_jump: bool,
    /// The capture's snapshot length cut the response's first bytes, so its
    /// head (and `Content-Length`) was not read: a download that stopped
    /// short of its length cannot be told from one that finished
    /// ([`Attempt::stall_unknown`]).
    pub response_head_cut: bool,
    /// The first SYN+ACK of the flow that did not acknowledge the SYN,
    /// while no answer was seen: not the SYN's answer (RFC 9293), so the
    /// attempt stays unanswered by it, but p0f signs it, and saying nothing
    /// would hide a packet (issue 21).
    pub unmatched_syn_ack: Option<UnmatchedSynAck>,
    /// RSTs after the handshake whose sequence number lies outside the
    /// window their receiver had advertised (RFC 9293 3.10.7.4, RFC 5961
    /// 3): a receiver drops such an RST, so it does not end the flow here
    /// either. A blind injection or a stale RST from an earlier connection.
    pub rsts_out_of_window: u32,
    /// The largest window each side advertised after its SYN (client,
    /// server), unscaled: what an RST's sequence number is checked against.
    max_window: [u16; 2],
    /// The client's first IP IDs (up to [`IP_IDS_KEPT`]).
    client_ip_ids: Vec<u16>,
    /// Next expected sequence number each way (client→server, server→client).
    next_seq: [Option<u32>; 2],
    /// Ranges below `next_seq` not seen yet (data arrived beyond them), each
    /// way, `[start, end)` in sequence space; at most [`GAPS_KEPT`].
    gaps: [Vec<(u32, u32)>; 2],
    /// Highest acknowledgement of each direction's data (client→server data
    /// acknowledged by the server, server→client data by the client).
    acked: [Option<u32>; 2],
    /// New bytes delivered each way (stream offsets).
    delivered: [u64; 2],
    /// The latest new data came from the client: a request awaits its answer.
    awaiting_reply: bool,
    /// Each direction's first bytes, until their HTTP head is read.
    heads: [HeadReader; 2],
    /// When the flow last made progress (new data, an acknowledgement, the
    /// handshake, its end).
    last_progress: Option<Duration>,
    /// Since when (and at which delivered offset) progress has stopped with
    /// something outstanding.
    waiting: Option<(Duration, u64)>,
    isn: u32,
    /// Payload bytes the SYN carried (TCP Fast Open, or data on a SYN).
    syn_data: u32,
    server_isn: Option<u32>,
    first_syn_at: Duration,
    /// The flow's latest packet, for the idle timeout.
    last_seen: Duration,
    /// A FIN seen from the client, from the server.
    fin: [bool; 2],
}

/// A SYN+ACK between the attempt's addresses whose acknowledgment number
/// is not the SYN's end (a stale or spoofed answer, another connection's
/// on a reused port, a middlebox's): kept with its attributes, p0f's
/// signature among them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnmatchedSynAck {
    /// 1-based packet number in the capture.
    pub packet: u64,
    /// The acknowledgment number it carried.
    pub ack: u32,
    /// The one that would have answered the SYN (its ISN + 1).
    pub expected: u32,
    pub attributes: Attributes,
}

impl Attempt {
    /// When its first SYN was captured (since the Unix epoch, as the
    /// capture stamps it): the attempt's time, for a dataset's `date=`.
    pub fn first_syn_at(&self) -> Duration {
        self.first_syn_at
    }

    /// The SYN-ACK's attributes, when the answer was one.
    pub fn syn_ack(&self) -> Option<&Attributes> {
        match self.outcome {
            Outcome::SynAck => self.reply.as_ref(),
            _ => None,
        }
    }

    /// The flow's Community ID (v1, seed 0), as Zeek, Suricata and Arkime
    /// write it for the same connection, so rows can be joined on it.
    pub fn community_id(&self) -> String {
        crate::community_id::tcp(self.client, self.server)
    }
}

/// A gap without new data this long counts as a hang (`stalled`).
pub const STALL: Duration = Duration::from_secs(1);

/// How many client IP IDs are kept to tell their pattern.
const IP_IDS_KEPT: usize = 8;

/// The pattern of a client's IP IDs: `zero`, `constant`, `incremental`
/// (steps of 1 to 64, as a global or per-flow counter gives) or `random`.
/// Two IDs at least; one tells nothing.
pub fn ip_id_pattern(ids: &[u16]) -> Option<&'static str> {
    if ids.len() < 2 {
        return None;
    }
    if ids.iter().all(|&i| i == 0) {
        return Some("zero");
    }
    if ids.windows(2).all(|w| w[0] == w[1]) {
        return Some("constant");
    }
    let small_steps = ids
        .windows(2)
        .all(|w| (1..=64).contains(&w[1].wrapping_sub(w[0])));
    Some(if small_steps { "incremental" } else { "random" })
}

/// When the tracker finishes a flow before the capture ends, so that
/// memory follows the flows open at once, not the flows in the file.
///
/// All three are in capture time (the packets' timestamps), so a capture
/// gives the same attempts however fast it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A flow with no packet for this long is finished. Longer than
    /// [`STALL`], so a flow waiting with something outstanding is judged
    /// stalled before it is finished; its wait is measured to the timeout.
    pub idle: Duration,
    /// After an RST, or a FIN each way, the flow is finished once this
    /// much capture time has passed: its last ACKs and retransmissions
    /// still count.
    pub grace: Duration,
    /// At most this many flows are tracked at once. A new SYN past the cap
    /// finishes the oldest flow (by first SYN) early, marked
    /// [`Attempt::evicted`] and counted in [`Tracker::evicted`].
    pub max_flows: usize,
}

/// The default flow-table cap: a tracked flow takes about 4 KiB (its SYN's
/// ~60 attributes, then its answer's), so 50,000 flows stay under 256 MB
/// (measured: a flood of 2M unanswered SYNs peaks at about 200 MB).
pub const DEFAULT_MAX_FLOWS: usize = 50_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            idle: Duration::from_secs(60),
            grace: Duration::from_secs(2),
            max_flows: DEFAULT_MAX_FLOWS,
        }
    }
}

/// The capture time leapt forward by more than [`Limits::idle`] at one
/// packet: every flow open then is finished as idle by it, whatever the
/// capture holds after it. Reported, and the attempts it finished are
/// marked ([`Attempt::expired_by_jump`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockJump {
    /// The packet that moved the clock (1-based, as `frame.number`).
    pub packet: u64,
    /// The capture time before it, and its own.
    pub from: Duration,
    pub to: Duration,
    /// Open attempts it finished.
    pub finished: usize,
}

impl std::fmt::Display for ClockJump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the capture time jumps {:.3} s forward (from {:.6} s to {:.6} s); {} open attempt{} finished by the jump (marked expired_by_jump)",
            self.to.saturating_sub(self.from).as_secs_f64(),
            self.from.as_secs_f64(),
            self.to.as_secs_f64(),
            self.finished,
            if self.finished == 1 { " was" } else { "s were" }
        )
    }
}

/// A flow's key: (client, server).
type FlowKey = (SocketAddr, SocketAddr);

/// A tracked flow: its attempt and where it stands in the queues.
#[derive(Debug)]
struct Live {
    /// The attempt's index: its SYN's rank among the file's attempts.
    index: usize,
    attempt: Box<Attempt>,
    /// Already queued to finish after its RST or FINs.
    closing: bool,
}

/// Feeds on packets, hands out attempts as their outcome is decided.
///
/// An attempt is finished (see [`Tracker::take_finished`]) when its flow
/// ended (an RST, or a FIN each way) and [`Limits::grace`] passed, when
/// the flow was idle for [`Limits::idle`], when a new SYN reused its
/// 4-tuple, when the table reached [`Limits::max_flows`] (the oldest is
/// evicted), or when the capture ends ([`Tracker::finish`]).
#[derive(Debug)]
pub struct Tracker {
    limits: Limits,
    flows: FxHashMap<FlowKey, Live>,
    /// Tracked flows in order of first SYN, for eviction; an entry whose
    /// flow has finished is skipped when reached.
    order: VecDeque<(usize, FlowKey)>,
    /// Flows that ended, with the capture time they finish at.
    closing: VecDeque<(Duration, usize, FlowKey)>,
    /// Finished attempts not yet taken (boxed as tracked: an attempt is
    /// hundreds of bytes, and moving it out and back cost a flood of SYNs
    /// a fifth of its time, issue 13).
    finished: Vec<(usize, Box<Attempt>)>,
    next_index: usize,
    evicted: u64,
    skipped: u64,
    /// Time of the latest packet fed: the end of the capture, at the end.
    /// Only packets the tracker reads move it: a skipped (malformed or
    /// foreign) packet's timestamp is not trusted.
    last_at: Duration,
    /// Clock jumps not yet taken ([`Tracker::take_clock_jumps`]).
    jumps: Vec<ClockJump>,
    /// The next capture time at which idle flows are looked for (every
    /// quarter of [`Limits::idle`]: a look costs the table's size).
    next_sweep: Duration,
    /// A tick before this capture time only moves the clock: no jump, no
    /// flow past its grace, no look for idle flows (set after every step
    /// that changes what is due).
    quiet_before: Duration,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker::with_limits(Limits::default())
    }
}

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_limits(limits: Limits) -> Self {
        Tracker {
            limits: Limits {
                max_flows: limits.max_flows.max(1),
                ..limits
            },
            flows: FxHashMap::default(),
            order: VecDeque::new(),
            closing: VecDeque::new(),
            finished: Vec::new(),
            next_index: 0,
            evicted: 0,
            skipped: 0,
            last_at: Duration::ZERO,
            jumps: Vec::new(),
            next_sweep: Duration::ZERO,
            quiet_before: Duration::ZERO,
        }
    }

    /// Take one decoded packet. A skipped one is counted, and its
    /// timestamp ignored: a malformed packet stamped a day later must not
    /// expire every open attempt.
    pub fn feed(&mut self, number: u64, at: Duration, packet: &Decoded<'_>) {
        if let Decoded::Skipped(_) = packet {
            self.skipped = self.skipped.saturating_add(1);
            return;
        }
        self.advance(number, at, Some(packet));
    }

    /// Let capture time pass as a packet of another tracker's flows: the
    /// clock moves, flows due are finished, but no flow is touched. A
    /// shard of a flow-sharded reader (`--threads`) ticks at every packet
    /// the others track, so it finishes its attempts at the very packets
    /// one tracker over the whole capture would.
    pub fn tick(&mut self, number: u64, at: Duration) {
        // Most ticks change nothing but the clock: the others' packets of
        // a flow-sharded reader are most of what a shard reads.
        if at < self.quiet_before {
            self.last_at = self.last_at.max(at);
            return;
        }
        self.advance(number, at, None);
        self.quiet_before = self.quiet_until();
    }

    /// The first capture time at which a tick does more than move the
    /// clock: a leap past [`Limits::idle`] from now (the clock only moves
    /// on, so this stays safe as it does), the first flow's grace
    /// running out, the next look for idle flows.
    fn quiet_until(&self) -> Duration {
        let tick = Duration::from_nanos(1);
        let jump = self.last_at.saturating_add(self.limits.idle);
        let closing = self.closing.front().map_or(Duration::MAX, |c| c.0);
        jump.min(closing).saturating_add(tick).min(self.next_sweep)
    }

    /// The clock moves to `at` (packet `number`), `packet` is read, and
    /// what the new time says is over is finished.
    fn advance(&mut self, number: u64, at: Duration, packet: Option<&Decoded<'_>>) {
        let jump = self.clock_jump(number, at);
        self.last_at = self.last_at.max(at);
        match packet {
            Some(Decoded::Tcp(seg)) => self.segment(number, at, seg),
            Some(Decoded::Icmp(err)) => self.icmp(number, at, err),
            Some(Decoded::Skipped(_)) | None => {}
        }
        let marked = |t: &Self| t.finished.iter().filter(|(_, a)| a.expired_by_jump).count();
        let before = marked(self);
        self.expire(jump.map(|j| j.from));
        if let Some(mut j) = jump {
            j.finished = marked(self) - before;
            self.jumps.push(j);
        }
        // Cheaply kept safe at every packet (a tick recomputes it): a flow
        // that closed here may be due before it. Anything else that moved
        // (a jump, a look for idle flows, a flow finished) only makes the
        // bound earlier than it need be.
        if let Some(&(deadline, _, _)) = self.closing.front() {
            if deadline < self.quiet_before {
                self.quiet_before = deadline.saturating_add(Duration::from_nanos(1));
            }
        }
    }

    /// A jump of the clock at this packet: forward by more than the idle
    /// timeout, past a first packet.
    fn clock_jump(&self, packet: u64, at: Duration) -> Option<ClockJump> {
        let leap = at.checked_sub(self.last_at)?;
        (self.last_at > Duration::ZERO && leap > self.limits.idle).then_some(ClockJump {
            packet,
            from: self.last_at,
            to: at,
            finished: 0,
        })
    }

    /// The clock jumps seen since the last call, in capture order.
    pub fn take_clock_jumps(&mut self) -> Vec<ClockJump> {
        std::mem::take(&mut self.jumps)
    }

    /// Packets that were neither TCP nor an ICMP error quoting TCP.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Attempts the flow-table cap finished early.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// How many attempts (SYNs that were not retransmissions) so far.
    pub fn attempts_seen(&self) -> usize {
        self.next_index
    }

    /// A tracked (not yet finished) attempt, by index.
    pub fn live(&self, index: usize) -> Option<&Attempt> {
        self.flows
            .values()
            .find(|l| l.index == index)
            .map(|l| &*l.attempt)
    }

    /// The attempts finished since the last call, with their indexes, in
    /// order of first SYN (an attempt that finished earlier comes out of an
    /// earlier call).
    pub fn take_finished(&mut self) -> Vec<(usize, Box<Attempt>)> {
        let mut done = std::mem::take(&mut self.finished);
        done.sort_unstable_by_key(|(i, _)| *i);
        done
    }

    /// Whether [`Tracker::take_finished`] has something.
    pub fn has_finished(&self) -> bool {
        !self.finished.is_empty()
    }

    /// The capture ended: every attempt still tracked is finished. Returns
    /// them with those finished before and not taken, in order of first SYN.
    pub fn finish_all(&mut self) -> Vec<(usize, Box<Attempt>)> {
        let at = self.last_at;
        for (_, live) in std::mem::take(&mut self.flows) {
            self.done(live, at, false);
        }
        self.order.clear();
        self.closing.clear();
        self.take_finished()
    }

    /// Every attempt of the capture, in order of first SYN.
    pub fn finish(mut self) -> Vec<Attempt> {
        self.finish_all().into_iter().map(|(_, a)| *a).collect()
    }

    /// Finish one attempt: its IP ID pattern, and a wait still open ends
    /// at `at`.
    fn done(&mut self, live: Live, at: Duration, evicted: bool) {
        let mut a = live.attempt;
        if let Some(pattern) = ip_id_pattern(&a.client_ip_ids) {
            a.flow.insert(Field::SynlabFlowIpid, pattern);
        }
        if a.end == FlowEnd::Open {
            a.end_wait(at);
        }
        a.evicted = evicted;
        a.release();
        self.finished.push((live.index, a));
    }

    /// Remove and finish the flow `key` if it is still attempt `index`.
    fn finish_flow(&mut self, key: FlowKey, index: usize, at: Duration, evicted: bool) -> bool {
        match self.flows.get(&key) {
            Some(l) if l.index == index => {}
            _ => return false,
        }
        if let Some(live) = self.flows.remove(&key) {
            self.done(live, at, evicted);
        }
        true
    }

    /// Finish what the capture time says is over: flows past their grace
    /// after RST/FINs, and (now and then) flows idle too long.
    /// `jumped_from`: the clock jumped at this packet, from that time; every
    /// flow is looked at, and those idle only by the jump are marked.
    fn expire(&mut self, jumped_from: Option<Duration>) {
        let now = self.last_at;
        while let Some(&(deadline, index, key)) = self.closing.front() {
            if deadline >= now {
                break;
            }
            self.closing.pop_front();
            self.finish_flow(key, index, now, false);
        }
        // Capture time alone says when to look, never the table's size: a
        // shard of a flow-sharded reader (`--threads`) holds part of the
        // table, and must look at the same packets one tracker would.
        if jumped_from.is_some() || now >= self.next_sweep {
            self.sweep_idle(now, jumped_from);
        }
        if self.order.len() > 2 * self.flows.len() + 1024 {
            let flows = &self.flows;
            self.order
                .retain(|(i, k)| flows.get(k).is_some_and(|l| l.index == *i));
        }
    }

    /// Finish the flows idle for [`Limits::idle`]; their open wait ends at
    /// the timeout. Those that were not idle that long at `jumped_from`
    /// are finished by a clock jump, and marked so.
    fn sweep_idle(&mut self, now: Duration, jumped_from: Option<Duration>) {
        let idle = self.limits.idle;
        self.next_sweep = now.saturating_add(idle / 4);
        let expired: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, l)| l.attempt.last_seen.saturating_add(idle) < now)
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            if let Some(mut live) = self.flows.remove(&key) {
                let at = live.attempt.last_seen.saturating_add(idle);
                live.attempt.expired_by_jump = jumped_from.is_some_and(|from| at >= from);
                self.done(live, at, false);
            }
        }
    }

    /// Make room for one more flow: evict the oldest past the cap.
    fn make_room(&mut self, at: Duration) {
        while self.flows.len() >= self.limits.max_flows {
            let Some((index, key)) = self.order.pop_front() else {
                return;
            };
            if self.finish_flow(key, index, at, true) {
                self.evicted = self.evicted.saturating_add(1);
            }
        }
    }

    fn segment(&mut self, number: u64, at: Duration, seg: &Segment<'_>) {
        if seg.flags.is_syn() {
            return self.client_syn(number, at, seg);
        }
        // One table lookup per packet (two for the server's): the flow found
        // is queued to close right here, not looked up again.
        let key = (seg.src, seg.dst);
        if let Some(live) = self.flows.get_mut(&key) {
            live.attempt.last_packet = number;
            live.attempt.on_client_segment(at, seg);
            return queue_if_closed(
                &mut self.closing,
                live,
                key,
                at.saturating_add(self.limits.grace),
            );
        }
        let key = (seg.dst, seg.src);
        if let Some(live) = self.flows.get_mut(&key) {
            live.attempt.last_packet = number;
            live.attempt.on_server_segment(number, at, seg);
            let deadline = at.saturating_add(self.limits.grace);
            queue_if_closed(&mut self.closing, live, key, deadline);
        }
    }

    fn client_syn(&mut self, number: u64, at: Duration, seg: &Segment<'_>) {
        let key = (seg.src, seg.dst);
        if let Some(live) = self.flows.get_mut(&key) {
            let a = &mut live.attempt;
            if a.isn == seg.seq && a.reply.is_none() {
                a.syn_retransmits = a.syn_retransmits.saturating_add(1);
                a.last_seen = at;
                a.last_packet = number;
                return;
            }
            // A new attempt on the same 4-tuple: the old one gets no more
            // packets, so its outcome is decided.
            let index = live.index;
            self.finish_flow(key, index, at, false);
        }
        self.make_room(at);
        let index = self.next_index;
        self.next_index += 1;
        self.order.push_back((index, key));
        let attempt = Box::new(Attempt::from_syn(number, at, seg));
        self.flows.insert(
            key,
            Live {
                index,
                attempt,
                closing: false,
            },
        );
    }

    fn icmp(&mut self, number: u64, at: Duration, err: &IcmpError) {
        let q = err.quoted;
        let Some(live) = self.flows.get_mut(&(q.src, q.dst)) else {
            return;
        };
        let a = &mut live.attempt;
        if a.reply.is_none() && a.outcome == Outcome::NoReply && q.seq == a.isn {
            a.outcome = Outcome::Icmp {
                icmp_type: err.icmp_type,
                code: err.code,
            };
            a.reply_packet = Some(number);
            a.rtt = at.checked_sub(a.first_syn_at);
            a.icmp_from = Some(err.from);
            a.last_seen = at;
            a.last_packet = number;
        }
    }
}

/// Queue a flow that ended (see [`Attempt::closed`]) to finish at `deadline`.
fn queue_if_closed(
    closing: &mut VecDeque<(Duration, usize, FlowKey)>,
    live: &mut Live,
    key: FlowKey,
    deadline: Duration,
) {
    if !live.closing && live.attempt.closed() {
        live.closing = true;
        closing.push_back((deadline, live.index, key));
    }
}

impl Attempt {
    /// A new attempt from its first SYN.
    fn from_syn(number: u64, at: Duration, seg: &Segment<'_>) -> Attempt {
        Attempt {
            client: seg.src,
            server: seg.dst,
            outcome: Outcome::NoReply,
            established: false,
            syn_retransmits: 0,
            syn: seg.attributes(),
            reply: None,
            syn_packet: number,
            reply_packet: None,
            last_packet: number,
            parts: None,
            rtt: None,
            bytes_to_server: 0,
            bytes_to_client: 0,
            end: FlowEnd::Open,
            icmp_from: None,
            flow: Attributes::new(),
            evicted: false,
            client_ip_ids: seg.ip_id().into_iter().collect(),
            retransmits_to_server: 0,
            retransmits_to_client: 0,
            longest_stall: None,
            stall_offset: None,
            request: None,
            response: None,
            response_head_cut: false,
            expired_by_jump: false,
            unmatched_syn_ack: None,
            next_seq: [Some(seg.seq.wrapping_add(1)), None],
            rsts_out_of_window: 0,
            max_window: [0, 0],
            gaps: Default::default(),
            acked: [None, None],
            delivered: [0, 0],
            awaiting_reply: false,
            heads: Default::default(),
            last_progress: None,
            waiting: None,
            isn: seg.seq,
            syn_data: seg.payload_len,
            server_isn: None,
            first_syn_at: at,
            last_seen: at,
            fin: [false, false],
        }
    }

    /// The flow ended: an RST either way, or a FIN each way.
    fn closed(&self) -> bool {
        self.end == FlowEnd::Rst || self.fin == [true, true]
    }

    /// Drop what only tracking needed (the HTTP head buffers, IP IDs).
    fn release(&mut self) {
        self.heads = Default::default();
        self.client_ip_ids = Vec::new();
    }
}

impl Attempt {
    fn answered(&self) -> bool {
        self.outcome != Outcome::NoReply
    }

    fn on_server_segment(&mut self, number: u64, at: Duration, seg: &Segment<'_>) {
        let f = seg.flags;
        self.last_seen = at;
        self.fin[1] |= f.has(TcpFlags::FIN);
        if !self.answered() {
            // Only an answer that acknowledges our SYN counts (RFC 9293 3.10.7.3):
            // the SYN alone, or with the data it carried (a TFO server
            // accepting the cookie acknowledges both, RFC 7413 4.2).
            let syn_end = self.isn.wrapping_add(1);
            let acks_syn = f.has(TcpFlags::ACK)
                && (seg.ack == syn_end || seg.ack == syn_end.wrapping_add(self.syn_data));
            if f.is_syn_ack() && acks_syn {
                self.answer(number, at, seg, Outcome::SynAck);
                self.server_isn = Some(seg.seq);
                self.next_seq[1] = Some(seg.seq.wrapping_add(1));
                self.last_progress = Some(at);
                return;
            }
            if f.has(TcpFlags::RST) && (acks_syn || !f.has(TcpFlags::ACK)) {
                self.answer(number, at, seg, Outcome::Reset);
                self.end = FlowEnd::Rst;
                return;
            }
            if f.is_syn_ack() && self.unmatched_syn_ack.is_none() {
                let syn_mss = self.syn.num(Field::TcpOptionsMssVal).unwrap_or(0);
                self.unmatched_syn_ack = Some(UnmatchedSynAck {
                    packet: number,
                    ack: seg.ack,
                    expected: syn_end,
                    attributes: seg.attributes_answering(syn_mss),
                });
                return;
            }
        }
        if f.is_syn_ack() {
            return; // a retransmitted SYN-ACK
        }
        self.bytes_to_client = self
            .bytes_to_client
            .saturating_add(u64::from(seg.payload_len));
        self.on_segment(1, at, seg);
    }

    fn answer(&mut self, number: u64, at: Duration, seg: &Segment<'_>, outcome: Outcome) {
        self.outcome = outcome;
        // p0f reads a SYN+ACK's window against the SYN's MSS too.
        let syn_mss = match outcome {
            Outcome::SynAck => self.syn.num(Field::TcpOptionsMssVal).unwrap_or(0),
            _ => 0,
        };
        self.reply = Some(seg.attributes_answering(syn_mss));
        self.reply_packet = Some(number);
        self.rtt = at.checked_sub(self.first_syn_at);
    }

    fn on_client_segment(&mut self, at: Duration, seg: &Segment<'_>) {
        let f = seg.flags;
        self.last_seen = at;
        self.fin[0] |= f.has(TcpFlags::FIN);
        if let Some(server_isn) = self.server_isn {
            if f.has(TcpFlags::ACK) && seg.ack == server_isn.wrapping_add(1) {
                self.established = true;
            }
        }
        if seg.payload_len > 0 && !self.flow.contains(Field::SynlabFlowTtl) {
            self.note_data_segment(seg.flow_facts(), seg.window());
        }
        if self.client_ip_ids.len() < IP_IDS_KEPT {
            self.client_ip_ids.extend(seg.ip_id());
        }
        self.bytes_to_server = self
            .bytes_to_server
            .saturating_add(u64::from(seg.payload_len));
        self.on_segment(0, at, seg);
    }

    /// A segment after the handshake from direction `dir` (0 client→server,
    /// 1 server→client): its data, its acknowledgement, its FIN or RST.
    fn on_segment(&mut self, dir: usize, at: Duration, seg: &Segment<'_>) {
        let data = self.note_data(dir, seg);
        let acked = self.note_ack(1 - dir, seg);
        if data == Data::Retransmitted && self.waiting.is_none() {
            // A sender trying again was owed an answer since the last progress.
            if let Some(last) = self.last_progress {
                self.waiting = Some((last, self.delivered[1]));
            }
        }
        if data == Data::New || acked {
            self.progress(at);
        }
        self.max_window[dir] = self.max_window[dir].max(seg.window());
        if seg.flags.has(TcpFlags::RST) && !self.rst_in_window(dir, seg.seq) {
            self.rsts_out_of_window = self.rsts_out_of_window.saturating_add(1);
            return;
        }
        self.note_end(at, seg.flags);
    }

    /// Whether an RST from direction `dir` with sequence number `seq` lies
    /// in the window its receiver would accept it in: from the next
    /// sequence number it expects to that plus the largest window it
    /// advertised (scaled when both SYNs negotiated scaling; at least
    /// 64 KiB, so a capture that missed an update does not drop a real
    /// RST). Without a known next sequence number, any RST counts.
    fn rst_in_window(&self, dir: usize, seq: u32) -> bool {
        let Some(next) = self.next_seq[dir] else {
            return true;
        };
        let receiver = 1 - dir;
        let shift = |attrs: Option<&Attributes>| {
            attrs
                .and_then(|a| a.num(Field::TcpOptionsWscaleShift))
                .map(|s| s.min(14) as u32)
        };
        let scale = match (shift(Some(&self.syn)), shift(self.reply.as_ref())) {
            (Some(client), Some(server)) => [client, server][receiver],
            _ => 0,
        };
        let window = (u32::from(self.max_window[receiver]) << scale).max(u32::from(u16::MAX));
        seq.wrapping_sub(next) <= window
    }

    /// New data moves the flow on; data already seen is a retransmission;
    /// data filling a gap (it arrived after data beyond it) is new.
    fn note_data(&mut self, dir: usize, seg: &Segment<'_>) -> Data {
        if seg.payload_len == 0 {
            return Data::None;
        }
        let end = seg.seq.wrapping_add(seg.payload_len);
        let Some(next) = self.next_seq[dir] else {
            return Data::None; // no SYN-ACK seen: no stream to place it in
        };
        let filled = fill(&mut self.gaps[dir], seg.seq, end);
        if after(seg.seq, next) {
            note_gap(&mut self.gaps[dir], next, seg.seq);
        }
        if !after(end, next) && filled {
            return Data::New;
        }
        if !after(end, next) {
            if dir == 0 {
                self.retransmits_to_server = self.retransmits_to_server.saturating_add(1);
            } else {
                self.retransmits_to_client = self.retransmits_to_client.saturating_add(1);
            }
            return Data::Retransmitted;
        }
        self.read_head(dir, seg, next);
        self.delivered[dir] = self.delivered[dir].saturating_add(u64::from(end.wrapping_sub(next)));
        self.next_seq[dir] = Some(end);
        self.awaiting_reply = dir == 0;
        Data::New
    }

    /// The stream's first bytes, in order, to its HTTP head reader.
    fn read_head(&mut self, dir: usize, seg: &Segment<'_>, next: u32) {
        if seg.seq != next {
            // A gap (lost or not captured): the head's bytes would be
            // wrong, so none are read.
            self.heads[dir].give_up();
            return;
        }
        // A payload cut by the snapshot length still holds a head that
        // ends in its captured bytes (synlab's own `--pcap` keeps heads
        // whole); one that ends past the cut is unread.
        match self.heads[dir].push(seg.payload()) {
            Some(Head::Request(r)) if dir == 0 => self.request = Some(r),
            Some(Head::Response(r)) if dir == 1 => self.response = Some(r),
            _ => {}
        }
        if seg.truncated && self.heads[dir].reading() {
            self.response_head_cut |= dir == 1;
            self.heads[dir].give_up();
        }
    }

    /// The segment's ACK for direction `dir`'s data; true when it moves on.
    fn note_ack(&mut self, dir: usize, seg: &Segment<'_>) -> bool {
        if !seg.flags.has(TcpFlags::ACK) {
            return false;
        }
        let moves = self.acked[dir].is_none_or(|a| after(seg.ack, a));
        if moves {
            self.acked[dir] = Some(seg.ack);
        }
        moves
    }

    /// What the flow still owes at this moment, if anything: data sent and
    /// not acknowledged, a request without an answer, or an HTTP response
    /// whose body (by its `Content-Length`) has not all arrived. A flow that
    /// owes nothing is idle, not stalled, however long it waits.
    pub fn outstanding(&self) -> Option<Owed> {
        for (dir, owed) in [(0, Owed::UnackedToServer), (1, Owed::UnackedToClient)] {
            let sent = self.next_seq[dir];
            let unacked = match (sent, self.acked[dir]) {
                (Some(next), Some(ack)) => after(next, ack),
                (Some(_), None) => self.delivered[dir] > 0,
                (None, _) => false,
            };
            if unacked {
                return Some(owed);
            }
        }
        if self.awaiting_reply {
            return Some(Owed::Reply);
        }
        let body_end = self
            .response
            .as_ref()
            .and_then(|r| Some(r.head_len.saturating_add(r.content_length?)));
        if body_end.is_some_and(|end| self.delivered[1] < end) {
            return Some(Owed::ResponseBody);
        }
        None
    }

    /// The flow moved on at `at`: a wait with something outstanding ends
    /// (a stall as long as the wait), and a new one starts if something
    /// is still owed.
    fn progress(&mut self, at: Duration) {
        if self.last_progress.is_none() {
            return; // not established: SYNs are not stalls
        }
        self.end_wait(at);
        self.last_progress = Some(at);
        if self.outstanding().is_some() {
            self.waiting = Some((at, self.delivered[1]));
        }
    }

    /// End the current wait at `at`, keeping it when it is the longest.
    fn end_wait(&mut self, at: Duration) {
        if let Some((since, offset)) = self.waiting.take() {
            let gap = at.saturating_sub(since);
            if self.longest_stall.is_none_or(|g| gap > g) {
                self.longest_stall = Some(gap);
                self.stall_offset = Some(offset);
            }
        }
    }

    /// Whether the established flow stalled for at least [`STALL`]: it
    /// made no progress while something was outstanding. The client saw a
    /// hang, whatever the handshake's outcome said.
    pub fn stalled(&self) -> bool {
        self.established && self.longest_stall.is_some_and(|g| g >= STALL)
    }

    /// Whether the flow stalled cannot be told: it is established, did not
    /// stall by what the capture shows, but snaplen cut its response head,
    /// so the `Content-Length` that says whether more was owed is unseen.
    pub fn stall_unknown(&self) -> bool {
        self.established && !self.stalled() && self.response_head_cut
    }

    /// The whole outcome in words: `syn-ack`, or `syn-ack, stalled after
    /// 121 KB` when the flow hung.
    pub fn full_outcome(&self) -> String {
        match (self.stalled(), self.stalled_after()) {
            (true, Some(bytes)) => format!("{}, stalled after {}", self.outcome, kb(bytes)),
            (true, None) => format!("{}, stalled", self.outcome),
            (false, _) => self.outcome.to_string(),
        }
    }

    /// The outcome a search compares for this recorded attempt: the
    /// handshake's answer, or [`Outcome::Stalled`] when the established
    /// flow hung after it (`bisect --recorded`).
    pub fn flow_outcome(&self) -> Outcome {
        if self.stalled() {
            Outcome::Stalled
        } else {
            self.outcome
        }
    }

    /// Where a stalled download stopped: the bytes the server had delivered
    /// (stream offset, HTTP head included, retransmissions not counted) when
    /// the longest stall began. `None` when the flow did not stall.
    pub fn stalled_after(&self) -> Option<u64> {
        self.stall_offset.filter(|_| self.stalled())
    }

    fn note_data_segment(&mut self, data: FlowFacts, window: u16) {
        self.flow.insert(Field::SynlabFlowTtl, data.ttl);
        if let Some(df) = data.df {
            self.flow.insert(Field::SynlabFlowDf, df);
        }
        self.flow.insert(Field::SynlabFlowEcn, data.ecn);
        self.flow.insert(Field::SynlabFlowDscp, data.dscp);
        self.flow.insert(Field::SynlabFlowTs, data.timestamps);
        self.flow.insert(Field::SynlabFlowWindow, window);
        if let Some(label) = data.flow_label {
            self.flow.insert(Field::SynlabFlowFlowLabel, label != 0);
        }
    }

    fn note_end(&mut self, at: Duration, f: TcpFlags) {
        let was_open = self.end == FlowEnd::Open;
        if f.has(TcpFlags::RST) {
            self.end = FlowEnd::Rst;
        } else if f.has(TcpFlags::FIN) && was_open {
            self.end = FlowEnd::Fin;
        }
        if was_open && self.end != FlowEnd::Open {
            // A side giving up ends a stall too (a client's timeout).
            self.end_wait(at);
        }
    }
}

/// What a segment's payload was to its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Data {
    None,
    New,
    Retransmitted,
}

/// What a flow was owed while it waited ([`Attempt::outstanding`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Owed {
    /// The client's data, sent and not acknowledged.
    UnackedToServer,
    /// The server's data, sent and not acknowledged.
    UnackedToClient,
    /// The client spoke last: its request awaits an answer.
    Reply,
    /// An HTTP response's body, short of its `Content-Length`.
    ResponseBody,
}

/// Gaps kept per direction: beyond that the oldest is forgotten (its bytes,
/// arriving later, count as a retransmission), so a hostile capture cannot
/// grow the list.
const GAPS_KEPT: usize = 64;

/// Remove what `[start, end)` covers from `gaps`; whether it covered any.
fn fill(gaps: &mut Vec<(u32, u32)>, start: u32, end: u32) -> bool {
    let mut filled = false;
    let mut out = Vec::with_capacity(gaps.len() + 1);
    for &(s, e) in gaps.iter() {
        if !(after(e, start) && after(end, s)) {
            out.push((s, e));
            continue;
        }
        filled = true;
        if after(start, s) {
            out.push((s, start));
        }
        if after(e, end) {
            out.push((end, e));
        }
    }
    out.truncate(GAPS_KEPT);
    *gaps = out;
    filled
}

/// Data arrived at `start`, beyond the expected `next`: `[next, start)` is a gap.
fn note_gap(gaps: &mut Vec<(u32, u32)>, next: u32, start: u32) {
    if gaps.len() >= GAPS_KEPT {
        gaps.remove(0);
    }
    gaps.push((next, start));
}

/// `a` is after `b` in sequence space (which wraps: a positive signed distance).
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Bytes for people: `962 KB`, `3.1 MB`, `512 B` (powers of 1000).
pub fn kb(bytes: u64) -> String {
    match bytes {
        0..1000 => format!("{bytes} B"),
        1000..1_000_000 => format!("{} KB", bytes / 1000),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

/// `impl Subject for Attempt`, here beside [`Attempt`] since synlab-core is its
/// own crate: the orphan rule keeps synlab's edge (src/cli/select.rs, where it
/// was) from implementing a core trait for a core type.
mod subject_for_attempt {
    use super::Attempt;
    use crate::model::{Attr, Source, Value};
    use crate::rule::{AttemptField, Subject};

    /// `handshakes --where` over a captured attempt: its SYN's attributes,
    /// `synlab.flow.*` from its later segments, and the attempt's own facts.
    impl Subject for Attempt {
        fn attr(&self, a: Attr) -> Option<&Value> {
            if a.source() == Source::Flow {
                self.flow.get(a)
            } else {
                self.syn.get(a)
            }
        }

        fn attempt(&self, f: AttemptField) -> Option<Value> {
            Some(match f {
                AttemptField::Outcome => Value::from(self.outcome.name()),
                AttemptField::Established => Value::Bool(self.established),
                AttemptField::Stalled => Value::Bool(self.stalled()),
                AttemptField::SynRetransmits => Value::from(self.syn_retransmits),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::craft::{build_packet, Volatile};
    use crate::model::Field;
    use crate::model::{decode_frame, LinkType};

    /// Feed one crafted segment: `flags` by name, `len` zero payload bytes.
    fn feed(
        t: &mut Tracker,
        n: u64,
        ms: u64,
        from_client: bool,
        seq_ack: (u32, u32),
        flags: &[&str],
        len: u32,
    ) {
        let payload = vec![0; len as usize];
        feed_bytes(t, n, ms, from_client, seq_ack, flags, &payload);
    }

    /// Feed one crafted segment carrying `payload`.
    fn feed_bytes(
        t: &mut Tracker,
        n: u64,
        ms: u64,
        from_client: bool,
        seq_ack: (u32, u32),
        flags: &[&str],
        payload: &[u8],
    ) {
        let at = Duration::from_millis(ms);
        feed_bytes_at(t, n, at, from_client, seq_ack, flags, payload);
    }

    /// Feed one crafted segment carrying `payload` at capture time `at`.
    fn feed_bytes_at(
        t: &mut Tracker,
        n: u64,
        at: Duration,
        from_client: bool,
        (seq, ack): (u32, u32),
        flags: &[&str],
        payload: &[u8],
    ) {
        let len = payload.len() as u32;
        let (c, s) = ("198.18.0.2:40000", "198.18.0.1:80");
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        let mut a = Attributes::new();
        a.insert(Field::TcpWindowSizeValue, 1000u16);
        a.insert(Field::TcpLen, len);
        for f in ["syn", "ack", "fin", "reset"] {
            let name: crate::model::Attr = format!("tcp.flags.{f}")
                .parse()
                .unwrap_or_else(|e| panic!("{e}"));
            a.insert(name, flags.contains(&f));
        }
        let v = Volatile {
            src: src.parse().unwrap_or_else(|_| unreachable!()),
            dst: dst.parse().unwrap_or_else(|_| unreachable!()),
            seq,
            ack,
            ip_id: n as u16,
            flow_label: 0,
            tsval: 0,
            tsecr: 0,
        };
        let mut bytes = build_packet(&a, &v).unwrap_or_else(|e| panic!("{e}"));
        let start = bytes.len() - payload.len();
        bytes[start..].copy_from_slice(payload);
        let d = decode_frame(LinkType::Raw, &bytes);
        t.feed(n, at, &d);
    }

    /// Issue 22, item 1: a pcapng timestamp of 2^64-1 in seconds
    /// (`if_tsresol` 0) reads as nearly `Duration::MAX`, and adding the
    /// grace and idle durations to it overflowed (exit 101). The deadlines
    /// saturate now: the attempt is tracked and finished as any other.
    #[test]
    fn bug_timestamps_near_duration_max_overflowed_the_deadlines() {
        for at in [Duration::MAX, Duration::new(u64::MAX, 0)] {
            let mut t = Tracker::new();
            feed_bytes_at(&mut t, 1, at, true, (100, 0), &["syn"], &[]);
            feed_bytes_at(&mut t, 2, at, false, (500, 101), &["syn", "ack"], &[]);
            feed_bytes_at(
                &mut t,
                3,
                at,
                true,
                (101, 501),
                &["ack"],
                b"GET / HTTP/1.1\r\n\r\n",
            );
            feed_bytes_at(&mut t, 4, at, false, (501, 121), &["reset"], &[]);
            let attempts = t.finish();
            assert_eq!(attempts.len(), 1);
            assert_eq!(attempts[0].outcome, Outcome::SynAck);
            assert_eq!(attempts[0].end, FlowEnd::Rst);
        }
    }

    /// An RST far outside the window its receiver advertised (a blind
    /// injection, a stale RST) is dropped by the receiver (RFC 5961), so
    /// it does not end the flow: the download goes on, and the attempt
    /// counts the RST. One in the window ends it, as before.
    #[test]
    fn an_rst_outside_the_window_does_not_end_the_flow() {
        let mut t = Tracker::new();
        handshake(&mut t);
        feed_bytes(&mut t, 4, 3, false, (501 + (1 << 31), 101), &["reset"], &[]);
        feed_bytes(
            &mut t,
            5,
            4,
            false,
            (501, 101),
            &["ack"],
            b"HTTP/1.1 200 OK\r\n\r\n",
        );
        feed_bytes(&mut t, 6, 5, true, (101, 520), &["ack", "fin"], &[]);
        feed_bytes(&mut t, 7, 6, false, (520, 102), &["ack", "fin"], &[]);
        let a = &t.finish()[0];
        assert_eq!(a.rsts_out_of_window, 1);
        assert_eq!(a.end, FlowEnd::Fin);

        let mut t = Tracker::new();
        handshake(&mut t);
        feed_bytes(&mut t, 4, 3, false, (501 + 1000, 101), &["reset"], &[]);
        let a = &t.finish()[0];
        assert_eq!((a.rsts_out_of_window, a.end), (0, FlowEnd::Rst));
    }

    /// A `Content-Length` of 2^64-1 overflowed the body's end (issue 22,
    /// item 1's class: a wire value in a sum).
    #[test]
    fn bug_a_huge_content_length_overflowed_the_body_end() {
        let mut t = Tracker::new();
        handshake(&mut t);
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n";
        feed_bytes(&mut t, 4, 3, false, (501, 101), &["ack"], head);
        feed_bytes(
            &mut t,
            5,
            4,
            true,
            (101, 501 + head.len() as u32),
            &["ack"],
            &[],
        );
        let a = &t.finish()[0];
        assert_eq!(
            a.response.as_ref().and_then(|r| r.content_length),
            Some(u64::MAX)
        );
    }

    #[test]
    fn stalls_and_retransmissions_are_measured() {
        let mut t = Tracker::new();
        feed(&mut t, 1, 0, true, (100, 0), &["syn"], 0);
        feed(&mut t, 2, 1, false, (500, 101), &["syn", "ack"], 0);
        feed(&mut t, 3, 2, true, (101, 501), &["ack"], 0);
        feed(&mut t, 4, 2, true, (101, 501), &["ack"], 50);
        feed(&mut t, 5, 3, false, (501, 151), &["ack"], 1000);
        feed(&mut t, 6, 2500, false, (501, 151), &["ack"], 1000);
        feed(&mut t, 7, 3000, false, (1501, 151), &["ack"], 1000);
        let a = &t.finish()[0];
        assert!(a.established);
        assert_eq!(a.retransmits_to_client, 1);
        assert_eq!(a.retransmits_to_server, 0);
        assert_eq!(a.longest_stall, Some(Duration::from_millis(2997)));
        assert!(a.stalled());
        assert_eq!(a.bytes_to_client, 3000);
    }

    /// Reordering is not retransmission: a segment that arrives after the
    /// one beyond it fills a gap and is counted once; the same bytes seen
    /// twice are a retransmission, also inside a filled gap.
    #[test]
    fn a_reordered_segment_is_not_a_retransmission() {
        let mut t = Tracker::new();
        handshake(&mut t);
        feed(&mut t, 4, 3, false, (1501, 101), &["ack"], 1000);
        feed(&mut t, 5, 4, false, (501, 101), &["ack"], 1000);
        feed(&mut t, 6, 5, false, (2501, 101), &["ack"], 1000);
        assert_eq!(t.finish()[0].retransmits_to_client, 0);

        let mut t = Tracker::new();
        handshake(&mut t);
        // Two segments missing, then each arrives; then one of them again.
        feed(&mut t, 4, 3, false, (2501, 101), &["ack"], 1000);
        feed(&mut t, 5, 4, false, (1501, 101), &["ack"], 1000);
        feed(&mut t, 6, 5, false, (501, 101), &["ack"], 500);
        feed(&mut t, 7, 6, false, (1001, 101), &["ack"], 500);
        feed(&mut t, 8, 7, false, (1001, 101), &["ack"], 500);
        feed(&mut t, 9, 8, false, (2501, 101), &["ack"], 1000);
        let a = &t.finish()[0];
        assert_eq!(a.retransmits_to_client, 2, "1001 and 2501 seen twice");
        assert_eq!(a.bytes_to_client, 4500);
    }

    #[test]
    fn gaps_stay_bounded() {
        let mut gaps = Vec::new();
        for i in 0..(GAPS_KEPT as u32 + 10) {
            note_gap(&mut gaps, i * 10, i * 10 + 5);
        }
        assert_eq!(gaps.len(), GAPS_KEPT);
        assert_eq!(gaps[0], (100, 105), "the oldest forgotten");
        // Across the sequence-number wrap.
        let mut gaps = vec![(u32::MAX - 9, 10)];
        assert!(fill(&mut gaps, u32::MAX - 4, 5));
        assert_eq!(gaps, [(u32::MAX - 9, u32::MAX - 4), (5, 10)]);
        assert!(!fill(&mut gaps, 20, 30));
    }

    #[test]
    fn an_open_flow_stalls_until_the_capture_ends() {
        let mut t = Tracker::new();
        feed(&mut t, 1, 0, true, (100, 0), &["syn"], 0);
        feed(&mut t, 2, 1, false, (500, 101), &["syn", "ack"], 0);
        feed(&mut t, 3, 2, true, (101, 501), &["ack"], 10);
        // Another flow's packet marks the end of the capture.
        feed(&mut t, 4, 1500, true, (9, 0), &["syn"], 0);
        let a = &t.finish()[0];
        assert_eq!(a.end, FlowEnd::Open);
        assert_eq!(a.longest_stall, Some(Duration::from_millis(1498)));
        assert!(a.stalled());
    }

    /// Regression (issue 14): a TCP Fast Open SYN carries data, and the
    /// SYN-ACK of a server that took the cookie acknowledges it too.
    #[test]
    fn a_syn_ack_acknowledging_the_syn_data_answers_the_syn() {
        for (ack, outcome) in [
            (104, Outcome::SynAck),
            (101, Outcome::SynAck),
            (105, Outcome::NoReply),
        ] {
            let mut t = Tracker::new();
            feed(&mut t, 1, 0, true, (100, 0), &["syn"], 3);
            feed(&mut t, 2, 1, false, (500, ack), &["syn", "ack"], 0);
            assert_eq!(t.finish()[0].outcome, outcome, "ack {ack}");
        }
    }

    /// Issue 21: a SYN+ACK whose ack is not the SYN's end was dropped
    /// without a word (p0f signs it). It answers nothing still, and is the
    /// attempt's `unmatched_syn_ack`, with its p0f signature; a matching
    /// SYN+ACK after it answers the SYN as before.
    #[test]
    fn a_syn_ack_not_acknowledging_the_syn_is_reported_as_unmatched() {
        let mut t = Tracker::new();
        feed(&mut t, 1, 0, true, (100, 0), &["syn"], 0);
        feed(&mut t, 2, 1, false, (500, 777), &["syn", "ack"], 0);
        feed(&mut t, 3, 2, false, (600, 778), &["syn", "ack"], 0);
        let a = &t.finish()[0];
        assert_eq!(a.outcome, Outcome::NoReply);
        let u = a.unmatched_syn_ack.as_ref();
        assert_eq!(
            u.map(|u| (u.packet, u.ack, u.expected)),
            Some((2, 777, 101))
        );
        assert!(u.is_some_and(|u| u.attributes.contains(Field::SynlabP0f)));

        let mut t = Tracker::new();
        feed(&mut t, 1, 0, true, (100, 0), &["syn"], 0);
        feed(&mut t, 2, 1, false, (500, 777), &["syn", "ack"], 0);
        feed(&mut t, 3, 2, false, (500, 101), &["syn", "ack"], 0);
        let a = &t.finish()[0];
        assert_eq!(a.outcome, Outcome::SynAck);
        assert_eq!(a.reply_packet, Some(3));
        assert_eq!(a.unmatched_syn_ack.as_ref().map(|u| u.packet), Some(2));
    }

    /// The handshake of the flow every scenario below uses: client ISN 100,
    /// server ISN 500, established at 2 ms.
    fn handshake(t: &mut Tracker) {
        feed(t, 1, 0, true, (100, 0), &["syn"], 0);
        feed(t, 2, 1, false, (500, 101), &["syn", "ack"], 0);
        feed(t, 3, 2, true, (101, 501), &["ack"], 0);
    }

    const REQUEST: &[u8] = b"GET /big.bin HTTP/1.1\r\nHost: s\r\n\r\n";

    /// A response head announcing a body of `len` bytes.
    fn response_head(len: u32) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").into_bytes()
    }

    /// The server sends `head` then `segments` of 1000 bytes from `ms`,
    /// each acknowledged by the client at once; returns the next packet
    /// number and the server's next sequence number.
    fn download(t: &mut Tracker, n: u64, ms: u64, head: &[u8], segments: u32) -> (u64, u32) {
        let req_end = 101 + REQUEST.len() as u32;
        let mut seq = 501;
        feed_bytes(t, n, ms, false, (seq, req_end), &["ack"], head);
        seq += head.len() as u32;
        feed(t, n + 1, ms, true, (req_end, seq), &["ack"], 0);
        let mut n = n + 2;
        for _ in 0..segments {
            feed(t, n, ms + 1, false, (seq, req_end), &["ack"], 1000);
            seq += 1000;
            feed(t, n + 1, ms + 1, true, (req_end, seq), &["ack"], 0);
            n += 2;
        }
        (n, seq)
    }

    /// Regression (issue 9): idle 2.5 s before the request, then the whole
    /// download, was called a hang.
    #[test]
    fn idle_then_complete_is_not_a_stall() {
        let mut t = Tracker::new();
        handshake(&mut t);
        feed_bytes(&mut t, 4, 2502, true, (101, 501), &["ack"], REQUEST);
        let (n, seq) = download(&mut t, 5, 2503, &response_head(3000), 3);
        let req_end = 101 + REQUEST.len() as u32;
        feed(&mut t, n, 2600, false, (seq, req_end), &["fin", "ack"], 0);
        feed(
            &mut t,
            n + 1,
            2601,
            true,
            (req_end, seq + 1),
            &["fin", "ack"],
            0,
        );
        let a = &t.finish()[0];
        assert!(a.established);
        assert!(!a.stalled(), "{:?}", a.longest_stall);
        assert_eq!(a.longest_stall, Some(Duration::from_millis(1)));
        assert_eq!(
            a.request.as_ref().map(|r| r.target.as_str()),
            Some("/big.bin")
        );
        assert_eq!(
            a.response.as_ref().and_then(|r| r.content_length),
            Some(3000)
        );
        assert_eq!(a.full_outcome(), "syn-ack");
    }

    /// A keep-alive connection idle after a complete response owes nothing.
    #[test]
    fn keep_alive_idle_after_a_complete_response_is_not_a_stall() {
        let mut t = Tracker::new();
        handshake(&mut t);
        feed_bytes(&mut t, 4, 3, true, (101, 501), &["ack"], REQUEST);
        let (n, seq) = download(&mut t, 5, 4, &response_head(2000), 2);
        let req_end = 101 + REQUEST.len() as u32;
        feed(&mut t, n, 9000, true, (req_end, seq), &["fin", "ack"], 0);
        let a = &t.finish()[0];
        assert!(!a.stalled(), "{:?}", a.longest_stall);
        assert_eq!(a.end, FlowEnd::Fin);
        assert_eq!(a.outstanding(), None);
    }

    /// What the client sees of captures/hang.pcap: the response head, then
    /// nothing (the middlebox drops the body), every byte acknowledged; the
    /// client gives up after 3 s. Only the head's Content-Length says a
    /// body is owed.
    #[test]
    fn a_response_short_of_its_content_length_is_a_stall() {
        let mut t = Tracker::new();
        handshake(&mut t);
        feed_bytes(&mut t, 4, 3, true, (101, 501), &["ack"], REQUEST);
        let (n, seq) = download(&mut t, 5, 4, &response_head(16384), 2);
        let req_end = 101 + REQUEST.len() as u32;
        assert_eq!(
            t.live(0).and_then(Attempt::outstanding),
            Some(Owed::ResponseBody)
        );
        feed(&mut t, n, 3005, true, (req_end, seq), &["fin", "ack"], 0);
        let a = &t.finish()[0];
        assert!(a.stalled());
        assert_eq!(a.longest_stall, Some(Duration::from_millis(3000)));
        let delivered = response_head(16384).len() as u64 + 2000;
        assert_eq!(a.stalled_after(), Some(delivered));
        assert_eq!(
            a.full_outcome(),
            format!("syn-ack, stalled after {} KB", delivered / 1000)
        );
    }

    /// A request the server acknowledges but never answers, until the
    /// capture ends.
    #[test]
    fn a_request_without_its_response_is_a_stall() {
        let mut t = Tracker::new();
        handshake(&mut t);
        feed_bytes(&mut t, 4, 3, true, (101, 501), &["ack"], REQUEST);
        let req_end = 101 + REQUEST.len() as u32;
        feed(&mut t, 5, 4, false, (501, req_end), &["ack"], 0);
        assert_eq!(t.live(0).and_then(Attempt::outstanding), Some(Owed::Reply));
        feed(&mut t, 6, 2004, true, (7, 0), &["syn"], 0); // the capture goes on
        let a = &t.finish()[0];
        assert_eq!(a.end, FlowEnd::Open);
        assert_eq!(a.longest_stall, Some(Duration::from_millis(2000)));
        assert!(a.stalled());
    }

    /// Seen from the server: its data is never acknowledged and it sends it
    /// again and again, with no HTTP to tell anything.
    #[test]
    fn a_hang_with_retransmissions_is_a_stall() {
        let mut t = Tracker::new();
        handshake(&mut t);
        feed(&mut t, 4, 3, true, (101, 501), &["ack"], 20);
        feed(&mut t, 5, 4, false, (501, 121), &["ack"], 1000);
        feed(&mut t, 6, 5, true, (121, 1501), &["ack"], 0);
        feed(&mut t, 7, 6, false, (1501, 121), &["ack"], 1000);
        for (i, ms) in [206u64, 606, 1406].into_iter().enumerate() {
            feed(&mut t, 8 + i as u64, ms, false, (1501, 121), &["ack"], 1000);
        }
        feed(&mut t, 11, 1500, false, (1501, 121), &["reset"], 0);
        let a = &t.finish()[0];
        assert_eq!(a.retransmits_to_client, 3);
        assert_eq!(a.outstanding(), Some(Owed::UnackedToClient));
        assert_eq!(a.longest_stall, Some(Duration::from_millis(1494)));
        assert_eq!(a.stalled_after(), Some(2000));
        assert!(a.stalled());
    }

    /// Retransmissions reveal a wait even when the capture saw the ACK
    /// (the sender did not): the wait counts from the last progress.
    #[test]
    fn a_retransmission_of_acknowledged_data_starts_a_wait() {
        let mut t = Tracker::new();
        handshake(&mut t);
        feed(&mut t, 4, 3, false, (501, 101), &["ack"], 100);
        feed(&mut t, 5, 4, true, (101, 601), &["ack"], 0);
        feed(&mut t, 6, 1504, false, (501, 101), &["ack"], 100);
        feed(&mut t, 7, 1600, false, (601, 101), &["ack"], 100);
        let a = &t.finish()[0];
        assert_eq!(a.longest_stall, Some(Duration::from_millis(1596)));
        assert!(a.stalled());
    }

    /// Feed a lone SYN from `client` (to the scenarios' server).
    /// A tick that returns at once (nothing due) still moves the clock, and
    /// ticks finish flows at the packets feeds would: after the grace of
    /// an RST, and at the look for idle flows, with no jump seen where the
    /// clock moved by ticks in steps shorter than the idle timeout.
    #[test]
    fn ticks_finish_at_the_same_packets_and_keep_the_clock() {
        let mut t = Tracker::new();
        feed(&mut t, 1, 0, true, (7, 0), &["syn"], 0);
        feed(&mut t, 2, 10, false, (0, 8), &["reset", "ack"], 0);
        t.tick(3, Duration::from_millis(1000));
        t.tick(4, Duration::from_millis(2010));
        assert!(!t.has_finished(), "within the grace");
        t.tick(5, Duration::from_millis(2011));
        assert_eq!(t.take_finished().len(), 1, "past the grace");

        let mut t = Tracker::new();
        feed_syn(&mut t, 1, 1_000, "198.18.0.2:40000");
        t.tick(2, Duration::from_secs(50));
        // Before the next look for idle flows: only the clock moves.
        t.tick(3, Duration::from_secs(60));
        assert!(!t.has_finished());
        // 55 s after the last tick (65 s after the last full step): idle,
        // not a jump.
        t.tick(4, Duration::from_secs(115));
        assert_eq!(t.take_clock_jumps(), vec![]);
        let done = t.take_finished();
        assert_eq!(done.len(), 1);
        assert!(done.iter().all(|(_, a)| !a.expired_by_jump));
    }

    fn feed_syn(t: &mut Tracker, n: u64, ms: u64, client: &str) {
        let mut a = Attributes::new();
        a.insert(Field::TcpWindowSizeValue, 1000u16);
        a.insert(Field::TcpFlagsSyn, true);
        let v = Volatile {
            src: client.parse().unwrap_or_else(|_| unreachable!()),
            dst: "198.18.0.1:80".parse().unwrap_or_else(|_| unreachable!()),
            seq: 7,
            ack: 0,
            ip_id: n as u16,
            flow_label: 0,
            tsval: 0,
            tsecr: 0,
        };
        let bytes = build_packet(&a, &v).unwrap_or_else(|e| panic!("{e}"));
        let d = decode_frame(LinkType::Raw, &bytes);
        t.feed(n, Duration::from_millis(ms), &d);
    }

    /// Indexes of what `take_finished` hands out now.
    fn taken(t: &mut Tracker) -> Vec<usize> {
        t.take_finished().into_iter().map(|(i, _)| i).collect()
    }

    #[test]
    fn a_flow_closed_both_ways_is_handed_out_after_the_grace() {
        let mut t = Tracker::new();
        handshake(&mut t);
        feed(&mut t, 4, 10, true, (101, 501), &["fin", "ack"], 0);
        feed(&mut t, 5, 11, false, (501, 102), &["fin", "ack"], 0);
        feed(&mut t, 6, 12, true, (102, 502), &["ack"], 0);
        feed_syn(&mut t, 7, 1000, "198.18.0.9:1");
        assert!(taken(&mut t).is_empty(), "within the grace");
        feed_syn(&mut t, 8, 2013, "198.18.0.9:2");
        let done = t.take_finished();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].0, 0);
        assert_eq!(done[0].1.end, FlowEnd::Fin);
        assert!(!done[0].1.evicted);
        let rest: Vec<usize> = t.finish_all().into_iter().map(|(i, _)| i).collect();
        assert_eq!(rest, [1, 2]);
    }

    #[test]
    fn one_fin_alone_keeps_the_flow_until_it_is_idle() {
        let mut t = Tracker::new();
        handshake(&mut t);
        feed(&mut t, 4, 10, true, (101, 501), &["fin", "ack"], 0);
        feed_syn(&mut t, 5, 30_000, "198.18.0.9:1");
        assert!(taken(&mut t).is_empty(), "half-closed, not idle yet");
        feed_syn(&mut t, 6, 70_011, "198.18.0.9:2");
        assert_eq!(taken(&mut t), [0]);
    }

    /// An idle flow waiting with a request unanswered is finished at the
    /// idle timeout, stalled, its wait measured to the timeout.
    #[test]
    fn an_idle_flow_is_finished_at_the_timeout_and_judged_stalled() {
        let mut t = Tracker::new();
        handshake(&mut t);
        feed_bytes(&mut t, 4, 3, true, (101, 501), &["ack"], REQUEST);
        feed_syn(&mut t, 5, 100_000, "198.18.0.9:1");
        let done = t.take_finished();
        assert_eq!(done.len(), 1);
        let a = &done[0].1;
        assert!(a.stalled());
        assert_eq!(a.longest_stall, Some(Duration::from_millis(60_000)));
    }

    #[test]
    fn the_flow_table_cap_evicts_the_oldest_and_counts_it() {
        let mut t = Tracker::with_limits(Limits {
            max_flows: 2,
            ..Limits::default()
        });
        for port in 1..=5u64 {
            feed_syn(&mut t, port, port, &format!("198.18.0.9:{port}"));
        }
        let done = t.take_finished();
        let evicted: Vec<(usize, bool)> = done.iter().map(|(i, a)| (*i, a.evicted)).collect();
        assert_eq!(evicted, [(0, true), (1, true), (2, true)]);
        assert_eq!(t.evicted(), 3);
        let rest: Vec<(usize, bool)> = t
            .finish_all()
            .into_iter()
            .map(|(i, a)| (i, a.evicted))
            .collect();
        assert_eq!(rest, [(3, false), (4, false)]);
        assert_eq!(t.attempts_seen(), 5);
    }

    /// A retransmitted SYN is no new attempt and keeps its flow alive.
    #[test]
    fn a_new_syn_on_the_same_tuple_finishes_the_old_attempt() {
        let mut t = Tracker::new();
        handshake(&mut t);
        feed(&mut t, 4, 5, true, (9000, 0), &["syn"], 0);
        assert_eq!(taken(&mut t), [0]);
        assert_eq!(t.attempts_seen(), 2);
    }

    #[test]
    fn kb_is_for_people() {
        assert_eq!(kb(512), "512 B");
        assert_eq!(kb(123_952), "123 KB");
        assert_eq!(kb(962_000), "962 KB");
        assert_eq!(kb(3_100_000), "3.1 MB");
    }

    #[test]
    fn ip_id_patterns() {
        assert_eq!(ip_id_pattern(&[7]), None);
        assert_eq!(ip_id_pattern(&[0, 0, 0]), Some("zero"));
        assert_eq!(ip_id_pattern(&[5, 5]), Some("constant"));
        assert_eq!(ip_id_pattern(&[65535, 0, 1, 3]), Some("incremental"));
        assert_eq!(ip_id_pattern(&[100, 9000, 7]), Some("random"));
    }
}
