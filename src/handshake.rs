//! Handshake tracking: from a stream of decoded packets to connection
//! attempts and their outcomes.
//!
//! Sans-I/O: the caller feeds packets (with their 1-based number in the
//! capture and their timestamp) and takes the attempts at the end. Memory
//! grows with the number of attempts, not packets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use crate::model::Field;
use crate::model::{p0f, Attributes, Decoded, IcmpError, Segment, TcpFlags};

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
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Icmp { icmp_type, code } => write!(f, "icmp {icmp_type}/{code}"),
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
    /// From the first SYN to the answer.
    pub rtt: Option<Duration>,
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    pub end: FlowEnd,
    pub icmp_from: Option<std::net::IpAddr>,
    /// What the client's later segments carry (`synlab.flow.*`): IP ID
    /// pattern and the first data segment's TTL, DF, ECN and timestamps.
    pub flow: Attributes,
    /// Data segments sent again (their bytes were seen before), each way.
    pub retransmits_to_server: u32,
    pub retransmits_to_client: u32,
    /// The longest time the established flow went without new data either
    /// way (until it ended, or until the capture did): a download that
    /// hangs shows as seconds here, a healthy one as milliseconds.
    pub longest_stall: Option<Duration>,
    /// The client's first IP IDs (up to [`IP_IDS_KEPT`]).
    client_ip_ids: Vec<u16>,
    /// Next expected sequence number each way (client→server, server→client).
    next_seq: [Option<u32>; 2],
    /// When the flow last made progress (new data, or the handshake).
    last_progress: Option<Duration>,
    isn: u32,
    server_isn: Option<u32>,
    first_syn_at: Duration,
}

impl Attempt {
    /// The SYN-ACK's attributes, when the answer was one.
    pub fn syn_ack(&self) -> Option<&Attributes> {
        match self.outcome {
            Outcome::SynAck => self.reply.as_ref(),
            _ => None,
        }
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

/// Feeds on packets, keeps attempts.
#[derive(Debug, Default)]
pub struct Tracker {
    attempts: Vec<Attempt>,
    /// Latest attempt for a (client, server) pair.
    by_flow: HashMap<(SocketAddr, SocketAddr), usize>,
    skipped: u64,
    /// Time of the latest packet fed: the end of the capture, at the end.
    last_at: Duration,
}

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Take one decoded packet.
    pub fn feed(&mut self, number: u64, at: Duration, packet: &Decoded<'_>) {
        self.last_at = self.last_at.max(at);
        match packet {
            Decoded::Tcp(seg) => self.segment(number, at, seg),
            Decoded::Icmp(err) => self.icmp(number, at, err),
            Decoded::Skipped(_) => self.skipped += 1,
        }
    }

    /// Packets that were neither TCP nor an ICMP error quoting TCP.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The attempts seen so far, in the order of their first SYN.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    pub fn finish(mut self) -> Vec<Attempt> {
        for a in &mut self.attempts {
            if let Some(pattern) = ip_id_pattern(&a.client_ip_ids) {
                a.flow.insert(Field::SynlabFlowIpid, pattern);
            }
            if a.end == FlowEnd::Open {
                a.note_stall(self.last_at);
            }
        }
        self.attempts
    }

    fn segment(&mut self, number: u64, at: Duration, seg: &Segment<'_>) {
        if seg.flags.is_syn() {
            return self.client_syn(number, at, seg);
        }
        if let Some(&i) = self.by_flow.get(&(seg.src, seg.dst)) {
            return self.attempts[i].on_client_segment(at, seg);
        }
        if let Some(&i) = self.by_flow.get(&(seg.dst, seg.src)) {
            self.attempts[i].on_server_segment(number, at, seg);
        }
    }

    fn client_syn(&mut self, number: u64, at: Duration, seg: &Segment<'_>) {
        let key = (seg.src, seg.dst);
        if let Some(&i) = self.by_flow.get(&key) {
            let a = &mut self.attempts[i];
            if a.isn == seg.seq && a.reply.is_none() {
                a.syn_retransmits += 1;
                return;
            }
        }
        self.by_flow.insert(key, self.attempts.len());
        self.attempts.push(Attempt {
            client: seg.src,
            server: seg.dst,
            outcome: Outcome::NoReply,
            established: false,
            syn_retransmits: 0,
            syn: seg.attributes(),
            reply: None,
            syn_packet: number,
            reply_packet: None,
            rtt: None,
            bytes_to_server: 0,
            bytes_to_client: 0,
            end: FlowEnd::Open,
            icmp_from: None,
            flow: Attributes::new(),
            client_ip_ids: seg.ip_id().into_iter().collect(),
            retransmits_to_server: 0,
            retransmits_to_client: 0,
            longest_stall: None,
            next_seq: [Some(seg.seq.wrapping_add(1)), None],
            last_progress: None,
            isn: seg.seq,
            server_isn: None,
            first_syn_at: at,
        });
    }

    fn icmp(&mut self, number: u64, at: Duration, err: &IcmpError) {
        let q = err.quoted;
        let Some(&i) = self.by_flow.get(&(q.src, q.dst)) else {
            return;
        };
        let a = &mut self.attempts[i];
        if a.reply.is_none() && a.outcome == Outcome::NoReply && q.seq == a.isn {
            a.outcome = Outcome::Icmp {
                icmp_type: err.icmp_type,
                code: err.code,
            };
            a.reply_packet = Some(number);
            a.rtt = at.checked_sub(a.first_syn_at);
            a.icmp_from = Some(err.from);
        }
    }
}

impl Attempt {
    fn answered(&self) -> bool {
        self.outcome != Outcome::NoReply
    }

    fn on_server_segment(&mut self, number: u64, at: Duration, seg: &Segment<'_>) {
        let f = seg.flags;
        if !self.answered() {
            // Only an answer that acknowledges our SYN counts (RFC 9293 3.10.7.3).
            let acks_syn = f.has(TcpFlags::ACK) && seg.ack == self.isn.wrapping_add(1);
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
        }
        if f.is_syn_ack() {
            return; // a retransmitted SYN-ACK
        }
        self.bytes_to_client += u64::from(seg.payload_len);
        self.note_data(1, at, seg);
        self.note_end(at, f);
    }

    fn answer(&mut self, number: u64, at: Duration, seg: &Segment<'_>, outcome: Outcome) {
        self.outcome = outcome;
        let mut reply = seg.attributes();
        if outcome == Outcome::SynAck && reply.contains(Field::SynlabP0f) {
            // p0f reads a SYN+ACK's window against the SYN's MSS too.
            if let Some(sig) = p0f::syn_ack_signature(&reply, &self.syn) {
                reply.insert(Field::SynlabP0f, sig);
            }
        }
        self.reply = Some(reply);
        self.reply_packet = Some(number);
        self.rtt = at.checked_sub(self.first_syn_at);
    }

    fn on_client_segment(&mut self, at: Duration, seg: &Segment<'_>) {
        let f = seg.flags;
        if let Some(server_isn) = self.server_isn {
            if f.has(TcpFlags::ACK) && seg.ack == server_isn.wrapping_add(1) {
                self.established = true;
            }
        }
        if seg.payload_len > 0 && !self.flow.contains(Field::SynlabFlowTtl) {
            self.note_data_segment(&seg.attributes());
        }
        if self.client_ip_ids.len() < IP_IDS_KEPT {
            self.client_ip_ids.extend(seg.ip_id());
        }
        self.bytes_to_server += u64::from(seg.payload_len);
        self.note_data(0, at, seg);
        self.note_end(at, f);
    }

    /// New data moves the flow on; data already seen is a retransmission.
    /// `dir` 0 is client→server, 1 server→client.
    fn note_data(&mut self, dir: usize, at: Duration, seg: &Segment<'_>) {
        if seg.payload_len == 0 {
            return;
        }
        let end = seg.seq.wrapping_add(seg.payload_len);
        let advances = match self.next_seq[dir] {
            // Sequence space wraps: "after" is a positive signed distance.
            Some(next) => (end.wrapping_sub(next) as i32) > 0,
            None => true,
        };
        if advances {
            self.note_stall(at);
            self.next_seq[dir] = Some(end);
        } else if dir == 0 {
            self.retransmits_to_server += 1;
        } else {
            self.retransmits_to_client += 1;
        }
    }

    /// Progress (or the end) at `at`: the gap since the last progress is a stall.
    fn note_stall(&mut self, at: Duration) {
        if let Some(last) = self.last_progress {
            let gap = at.saturating_sub(last);
            if self.longest_stall.is_none_or(|g| gap > g) {
                self.longest_stall = Some(gap);
            }
            self.last_progress = Some(at);
        }
    }

    /// Whether the established flow stalled for at least [`STALL`]: the
    /// client saw a hang, whatever the handshake's outcome said.
    pub fn stalled(&self) -> bool {
        self.established && self.longest_stall.is_some_and(|g| g >= STALL)
    }

    fn note_data_segment(&mut self, data: &Attributes) {
        let pairs = [
            (
                Field::SynlabFlowTtl,
                data.get(Field::IpTtl).or_else(|| data.get(Field::Ipv6Hlim)),
            ),
            (Field::SynlabFlowDf, data.get(Field::IpFlagsDf)),
            (
                Field::SynlabFlowEcn,
                data.get(Field::IpDsfieldEcn)
                    .or_else(|| data.get(Field::Ipv6TclassEcn)),
            ),
        ];
        for (name, value) in pairs {
            if let Some(v) = value {
                self.flow.insert(name, v.clone());
            }
        }
        self.flow.insert(
            Field::SynlabFlowTs,
            data.contains(Field::TcpOptionsTimestampTsval),
        );
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
            self.note_stall(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::craft::{build_packet, Volatile};
    use crate::model::decode_frame;
    use crate::model::Field;

    /// Feed one crafted segment: `flags` by name, `len` payload bytes.
    fn feed(
        t: &mut Tracker,
        n: u64,
        ms: u64,
        from_client: bool,
        (seq, ack): (u32, u32),
        flags: &[&str],
        len: u32,
    ) {
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
        let bytes = build_packet(&a, &v).unwrap_or_else(|e| panic!("{e}"));
        let d = decode_frame(101, &bytes).unwrap_or_else(|e| panic!("{e}"));
        t.feed(n, Duration::from_millis(ms), &d);
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

    #[test]
    fn ip_id_patterns() {
        assert_eq!(ip_id_pattern(&[7]), None);
        assert_eq!(ip_id_pattern(&[0, 0, 0]), Some("zero"));
        assert_eq!(ip_id_pattern(&[5, 5]), Some("constant"));
        assert_eq!(ip_id_pattern(&[65535, 0, 1, 3]), Some("incremental"));
        assert_eq!(ip_id_pattern(&[100, 9000, 7]), Some("random"));
    }
}
