//! Matching received packets to outstanding probes.
//!
//! A SYN-ACK or RST answers a probe when it comes from the target to the
//! probe's source port and acknowledges the probe's SYN (ack == seq + 1; a
//! RST without ACK also counts, RFC 9293 3.10.7.3). An ICMP error answers it
//! when it quotes the probe's 4-tuple and sequence number. The first answer
//! wins; an answer later than the timeout after the probe was sent is not
//! counted, so a result does not depend on how long the run happened to last.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

use super::plan::Planned;
use crate::handshake::Outcome;
use crate::model::{Attributes, Decoded, Segment, TcpFlags};
use crate::trace::{not_from_endpoint, Sender};

/// What happened to one probe.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbeResult {
    pub index: usize,
    pub src_port: u16,
    pub seq: u32,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// From the SYN (as seen leaving, else as handed to the kernel) to the answer.
    #[serde(serialize_with = "rtt_ms", rename = "rtt_ms")]
    pub rtt: Option<Duration>,
    /// The SYN as sent.
    pub syn: Attributes,
    /// The answering SYN-ACK or RST.
    pub reply: Option<Attributes>,
    /// Who sent the ICMP error.
    pub icmp_from: Option<IpAddr>,
    /// The exchange after the handshake (`probe --exchange`): bytes,
    /// duration, throughput, where it stalled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<crate::exchange::ExchangeStats>,
    /// The RST cannot have come from the endpoint that sent this run's
    /// SYN-ACKs ([`mark_injected`]); in JSON only when true.
    #[serde(skip_serializing_if = "is_false")]
    pub injected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Mark each RST that cannot have come from the host that sent the run's
/// first SYN-ACK (it crossed fewer routers, or another stack's initial
/// TTL): a box on the path refused the SYN in the endpoint's name. Without
/// a SYN-ACK in the run nothing is marked: there is nothing to compare with.
pub fn mark_injected(results: &mut [ProbeResult]) {
    let Some(endpoint) = results
        .iter()
        .filter(|r| r.outcome == Outcome::SynAck)
        .find_map(|r| r.reply.as_ref().map(Sender::of))
    else {
        return;
    };
    for r in results.iter_mut().filter(|r| r.outcome == Outcome::Reset) {
        let Some(reply) = &r.reply else {
            continue;
        };
        if let Some(why) = not_from_endpoint("rst", &Sender::of(reply), &endpoint) {
            r.injected = true;
            r.evidence = Some(why);
        }
    }
}

fn rtt_ms<S: serde::Serializer>(rtt: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match rtt {
        Some(d) => s.serialize_f64(d.as_secs_f64() * 1000.0),
        None => s.serialize_none(),
    }
}

/// How a received frame relates to the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// One of our SYNs, seen leaving.
    OurSyn(usize),
    /// Another packet from a probe's source port to the target (the
    /// kernel's RST to a SYN-ACK it did not ask for).
    FromProbe(usize),
    /// A packet from the target (or an ICMP error) about probe N; `answer`
    /// when it decided the probe's outcome.
    ToProbe {
        index: usize,
        answer: bool,
    },
    Unrelated,
}

impl Relation {
    pub fn is_related(self) -> bool {
        self != Relation::Unrelated
    }
}

#[derive(Clone, Debug)]
struct Slot {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    syn: Attributes,
    /// When the driver handed the SYN to the kernel.
    sent_at: Option<Duration>,
    /// When the SYN was seen leaving on the interface.
    wire_at: Option<Duration>,
    answer: Option<Answer>,
}

#[derive(Clone, Debug)]
struct Answer {
    outcome: Outcome,
    at: Duration,
    reply: Option<Attributes>,
    icmp_from: Option<IpAddr>,
}

impl Slot {
    fn rtt(&self) -> Option<Duration> {
        let answer = self.answer.as_ref()?;
        let sent = self.wire_at.or(self.sent_at)?;
        Some(answer.at.saturating_sub(sent))
    }
}

/// The outstanding probes of one batch.
#[derive(Clone, Debug)]
pub struct Matcher {
    slots: Vec<Slot>,
    /// (our address, target) -> slot.
    by_flow: HashMap<(SocketAddr, SocketAddr), usize>,
    timeout: Duration,
}

impl Matcher {
    pub fn new(planned: &[Planned], timeout: Duration) -> Self {
        let slots: Vec<Slot> = planned
            .iter()
            .map(|p| Slot {
                src: p.src,
                dst: p.dst,
                seq: p.seq,
                syn: p.syn.clone(),
                sent_at: None,
                wire_at: None,
                answer: None,
            })
            .collect();
        let by_flow = slots
            .iter()
            .enumerate()
            .map(|(i, s)| ((s.src, s.dst), i))
            .collect();
        Matcher {
            slots,
            by_flow,
            timeout,
        }
    }

    /// Change the wait for answers (the driver shortens it once answers
    /// show the round-trip time). It applies to every probe from now on:
    /// an answer later than the new timeout after its probe is not counted.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Probe `index` was handed to the kernel at `at`.
    pub fn sent(&mut self, index: usize, at: Duration) {
        if let Some(s) = self.slots.get_mut(index) {
            s.sent_at.get_or_insert(at);
        }
    }

    /// Probe `index`'s round trip, once answered: from its SYN (as seen
    /// leaving, else as handed to the kernel) to the answer.
    pub fn rtt(&self, index: usize) -> Option<Duration> {
        self.slots.get(index)?.rtt()
    }

    /// Every probe was sent and has its answer.
    pub fn all_answered(&self) -> bool {
        self.slots
            .iter()
            .all(|s| s.sent_at.is_some() && s.answer.is_some())
    }

    /// When the last unanswered, sent probe times out (None when none waits).
    pub fn deadline(&self) -> Option<Duration> {
        self.slots
            .iter()
            .filter(|s| s.answer.is_none())
            .filter_map(|s| s.sent_at)
            .max()
            .map(|t| t + self.timeout)
    }

    /// Take one decoded frame received at `at`.
    pub fn feed(&mut self, at: Duration, packet: &Decoded<'_>) -> Relation {
        match packet {
            Decoded::Tcp(seg) => self.segment(at, seg),
            Decoded::Icmp(err) => {
                let q = err.quoted;
                let Some(&i) = self.by_flow.get(&(q.src, q.dst)) else {
                    return Relation::Unrelated;
                };
                if q.seq != self.slots[i].seq {
                    return Relation::Unrelated;
                }
                let outcome = Outcome::Icmp {
                    icmp_type: err.icmp_type,
                    code: err.code,
                };
                let answer = self.answer(i, at, outcome, None, Some(err.from));
                Relation::ToProbe { index: i, answer }
            }
            Decoded::Skipped(_) => Relation::Unrelated,
        }
    }

    fn segment(&mut self, at: Duration, seg: &Segment<'_>) -> Relation {
        if let Some(&i) = self.by_flow.get(&(seg.src, seg.dst)) {
            let s = &mut self.slots[i];
            if seg.flags.is_syn() && seg.seq == s.seq {
                s.wire_at.get_or_insert(at);
                return Relation::OurSyn(i);
            }
            return Relation::FromProbe(i);
        }
        let Some(&i) = self.by_flow.get(&(seg.dst, seg.src)) else {
            return Relation::Unrelated;
        };
        let f = seg.flags;
        let acks_syn = f.has(TcpFlags::ACK) && seg.ack == self.slots[i].seq.wrapping_add(1);
        let outcome = if f.is_syn_ack() && acks_syn {
            Some(Outcome::SynAck)
        } else if f.has(TcpFlags::RST) && (acks_syn || !f.has(TcpFlags::ACK)) {
            Some(Outcome::Reset)
        } else {
            None
        };
        let answer = match outcome {
            Some(o) => self.answer(i, at, o, Some(seg.attributes()), None),
            None => false,
        };
        Relation::ToProbe { index: i, answer }
    }

    /// Record an answer unless the probe has one, was not sent, or timed out.
    fn answer(
        &mut self,
        i: usize,
        at: Duration,
        outcome: Outcome,
        reply: Option<Attributes>,
        icmp_from: Option<IpAddr>,
    ) -> bool {
        let timeout = self.timeout;
        let s = &mut self.slots[i];
        let Some(sent) = s.sent_at else {
            return false;
        };
        if s.answer.is_some() || at > sent + timeout {
            return false;
        }
        s.answer = Some(Answer {
            outcome,
            at,
            reply,
            icmp_from,
        });
        true
    }

    /// Probe `index`'s result once it is answered (`None` before): what
    /// `probe` prints as each answer arrives, before the batch ends.
    pub fn answered(&self, index: usize) -> Option<ProbeResult> {
        let s = self.slots.get(index)?;
        s.answer.as_ref()?;
        Some(slot_result(index, s.clone()))
    }

    /// The results, in probe order; unanswered probes are `no-reply`.
    pub fn finish(self) -> Vec<ProbeResult> {
        self.slots
            .into_iter()
            .enumerate()
            .map(|(index, s)| slot_result(index, s))
            .collect()
    }
}

/// One probe's result from its slot; unanswered is `no-reply`.
fn slot_result(index: usize, s: Slot) -> ProbeResult {
    let rtt = s.rtt();
    let (outcome, reply, icmp_from) = match s.answer {
        Some(a) => (a.outcome, a.reply, a.icmp_from),
        None => (Outcome::NoReply, None, None),
    };
    ProbeResult {
        index,
        src_port: s.src.port(),
        seq: s.seq,
        outcome,
        rtt,
        syn: s.syn,
        reply,
        icmp_from,
        exchange: None,
        injected: false,
        evidence: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;
    use crate::model::{decode_frame, LinkType};
    use crate::probe::plan::{plan, PortRange};

    fn linux() -> Attributes {
        let mut a = Attributes::new();
        a.insert(Field::IpTtl, 64u8);
        a.insert(Field::IpFlagsDf, true);
        a.insert(Field::TcpWindowSizeValue, 64240u16);
        a.insert(Field::TcpOptionsMssVal, 1460u16);
        a.insert(Field::SynlabOptionsLayout, "mss");
        a
    }

    fn batch(n: usize) -> Vec<Planned> {
        plan(
            &vec![linux(); n],
            "198.18.0.2".parse().unwrap_or_else(|_| unreachable!()),
            "198.18.0.130:80".parse().unwrap_or_else(|_| unreachable!()),
            PortRange::default(),
            0,
            42,
            0,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A TCP segment from the server to probe `p`, built with the crafter.
    fn answer(p: &Planned, flags: &[&str], ack: u32) -> Vec<u8> {
        let mut a = Attributes::new();
        a.insert(Field::IpTtl, 63u8);
        a.insert(Field::TcpWindowSizeValue, 65160u16);
        a.insert(Field::TcpFlagsSyn, flags.contains(&"syn"));
        for f in flags {
            let name: crate::model::Attr = format!("tcp.flags.{f}")
                .parse()
                .unwrap_or_else(|e| panic!("{e}"));
            a.insert(name, true);
        }
        let v = crate::model::craft::Volatile {
            src: p.dst,
            dst: p.src,
            seq: 999,
            ack,
            ip_id: 1,
            flow_label: 0,
            tsval: 0,
            tsecr: 0,
        };
        crate::model::craft::build_packet(&a, &v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn feed(m: &mut Matcher, at_ms: u64, bytes: &[u8]) -> Relation {
        let d = decode_frame(LinkType::Raw, bytes);
        m.feed(Duration::from_millis(at_ms), &d)
    }

    /// An ICMPv4 admin-prohibited error quoting probe `p`'s SYN.
    fn icmp_for(p: &Planned) -> Vec<u8> {
        let quoted = &p.packet[..28];
        let mut icmp = vec![3u8, 13, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(quoted);
        let total = 20 + icmp.len();
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0,
            0,
            64,
            1,
            0,
            0,
        ];
        ip.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
        ip.extend_from_slice(&icmp);
        ip
    }

    #[test]
    fn syn_ack_reset_icmp_and_silence() {
        let p = batch(4);
        let mut m = Matcher::new(&p, Duration::from_secs(1));
        for i in 0..4 {
            m.sent(i, Duration::from_millis(10 * i as u64));
        }
        // Our own SYN seen on the wire sets the RTT's start.
        assert_eq!(feed(&mut m, 1, &p[0].packet), Relation::OurSyn(0));
        let r = feed(&mut m, 5, &answer(&p[0], &["syn", "ack"], p[0].seq + 1));
        assert_eq!(
            r,
            Relation::ToProbe {
                index: 0,
                answer: true
            }
        );
        // The kernel's RST from our port is ours, but not an answer.
        let rst = {
            let mut a = linux();
            a.insert(Field::TcpFlagsSyn, false);
            a.insert(Field::TcpFlagsReset, true);
            a.insert(Field::SynlabOptionsLayout, "");
            a.remove(Field::TcpOptionsMssVal);
            let v = crate::model::craft::Volatile {
                src: p[0].src,
                dst: p[0].dst,
                seq: p[0].seq + 1,
                ack: 0,
                ip_id: 1,
                flow_label: 0,
                tsval: 0,
                tsecr: 0,
            };
            crate::model::craft::build_packet(&a, &v).unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(feed(&mut m, 6, &rst), Relation::FromProbe(0));
        // A RST that does not acknowledge the SYN does not count.
        let bad = answer(&p[1], &["reset", "ack"], p[1].seq + 7);
        assert_eq!(
            feed(&mut m, 12, &bad),
            Relation::ToProbe {
                index: 1,
                answer: false
            }
        );
        feed(&mut m, 13, &answer(&p[1], &["reset", "ack"], p[1].seq + 1));
        assert!(feed(&mut m, 30, &icmp_for(&p[2])).is_related());
        assert!(!m.all_answered());
        assert_eq!(m.deadline(), Some(Duration::from_millis(1030)));
        let r = m.finish();
        assert_eq!(r[0].outcome, Outcome::SynAck);
        assert_eq!(r[0].rtt, Some(Duration::from_millis(4)));
        assert_eq!(
            r[0].reply
                .as_ref()
                .and_then(|a| a.get(Field::TcpWindowSizeValue)),
            Some(&crate::model::Value::Int(65160))
        );
        assert_eq!(r[1].outcome, Outcome::Reset);
        assert_eq!(r[1].rtt, Some(Duration::from_millis(3)));
        assert_eq!(
            r[2].outcome,
            Outcome::Icmp {
                icmp_type: 3,
                code: 13
            }
        );
        assert_eq!(
            r[2].icmp_from,
            Some("198.18.0.1".parse().unwrap_or_else(|_| unreachable!()))
        );
        assert_eq!(r[3].outcome, Outcome::NoReply);
        assert_eq!(r[3].rtt, None);
    }

    #[test]
    fn late_and_unsent_answers_do_not_count() {
        let p = batch(2);
        let mut m = Matcher::new(&p, Duration::from_millis(100));
        m.sent(0, Duration::ZERO);
        feed(&mut m, 101, &answer(&p[0], &["syn", "ack"], p[0].seq + 1));
        feed(&mut m, 5, &answer(&p[1], &["syn", "ack"], p[1].seq + 1));
        let r = m.finish();
        assert_eq!(r[0].outcome, Outcome::NoReply);
        assert_eq!(r[1].outcome, Outcome::NoReply);
    }

    #[test]
    fn unrelated_traffic_is_ignored() {
        let p = batch(1);
        let other = batch(2);
        let mut m = Matcher::new(&p, Duration::from_secs(1));
        m.sent(0, Duration::ZERO);
        let stranger = answer(&other[1], &["syn", "ack"], other[1].seq + 1);
        assert_eq!(feed(&mut m, 1, &stranger), Relation::Unrelated);
        assert!(!m.all_answered());
    }
}
