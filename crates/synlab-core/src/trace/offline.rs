//! `trace --from FILE`: the same report from a capture of TTL-limited
//! SYNs someone else sent (`traceroute -T`, tracebox, an earlier `synlab
//! trace` recorded with tcpdump).
//!
//! Each SYN to the target is a probe with its own TTL; a SYN-ACK or RST
//! acknowledging it, or an ICMP error quoting its ports and sequence
//! number, is its answer. The probes then go through [`Trace`] as if it had
//! sent them, so the table and the JSON are the live command's.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::{icmp_of_ethernet, icmp_of_ip, read_quote, Answer, Reply, Trace, TraceConfig};
use super::{IcmpFrame, TraceReport};
use crate::model::{decode_frame, Attributes, Decoded, Field, LinkType, Segment, TcpFlags};

/// One frame of the capture, with its link type and time.
#[derive(Clone, Copy, Debug)]
pub struct ProbeFrame<'a> {
    pub at: Duration,
    pub link: LinkType,
    pub data: &'a [u8],
}

#[derive(Clone, Debug)]
struct Probe {
    ttl: u8,
    at: Duration,
    syn: Attributes,
    reply: Option<Reply>,
}

/// The probes read so far, and their answers.
#[derive(Clone, Debug, Default)]
pub struct OfflineTrace {
    target: Option<SocketAddr>,
    probes: Vec<Probe>,
    /// (our address and port, sequence number) -> probe.
    by_key: HashMap<(SocketAddr, u32), usize>,
}

impl OfflineTrace {
    /// `target`: only SYNs to it are probes (`None`: the first SYN's
    /// destination).
    pub fn new(target: Option<SocketAddr>) -> OfflineTrace {
        OfflineTrace {
            target,
            ..OfflineTrace::default()
        }
    }

    pub fn target(&self) -> Option<SocketAddr> {
        self.target
    }

    pub fn probes(&self) -> usize {
        self.probes.len()
    }

    /// Take one frame.
    pub fn feed(&mut self, f: ProbeFrame<'_>) {
        match decode_frame(f.link, f.data) {
            Decoded::Tcp(seg) => self.segment(f.at, &seg),
            Decoded::Icmp(err) => {
                let key = (err.quoted.src, err.quoted.seq);
                if let (Some(&i), Some(e)) = (self.by_key.get(&key), icmp_of(f.link, f.data)) {
                    let answer = match (e.v6, e.icmp_type) {
                        (false, 11) | (true, 3) => Answer::TimeExceeded,
                        _ => Answer::Unreachable,
                    };
                    let reply = Reply {
                        answer,
                        from: Some(e.from),
                        ttl: Some(e.ttl),
                        quote: read_quote(&e.quote, e.original_len),
                        ..Reply::none()
                    };
                    self.answer(i, f.at, reply);
                }
            }
            Decoded::Skipped(_) => {}
        }
    }

    fn segment(&mut self, at: Duration, seg: &Segment<'_>) {
        let f = seg.flags;
        if f.is_syn() && !f.has(TcpFlags::ACK) {
            let target = *self.target.get_or_insert(seg.dst);
            if seg.dst != target || self.by_key.contains_key(&(seg.src, seg.seq)) {
                return;
            }
            let syn = seg.attributes();
            let ttl = syn.num(Field::IpTtl).or_else(|| syn.num(Field::Ipv6Hlim));
            let Some(ttl) = ttl.and_then(|t| u8::try_from(t).ok()) else {
                return;
            };
            self.by_key.insert((seg.src, seg.seq), self.probes.len());
            self.probes.push(Probe {
                ttl,
                at,
                syn,
                reply: None,
            });
            return;
        }
        if Some(seg.src) != self.target || !f.has(TcpFlags::ACK) {
            return;
        }
        let Some(&i) = self.by_key.get(&(seg.dst, seg.ack.wrapping_sub(1))) else {
            return;
        };
        let answer = match (f.is_syn_ack(), f.has(TcpFlags::RST)) {
            (true, _) => Answer::SynAck,
            (false, true) => Answer::Rst,
            _ => return,
        };
        let a = seg.attributes();
        let num = |field: Field| a.num(field);
        let reply = Reply {
            answer,
            from: Some(seg.src.ip()),
            ttl: num(Field::IpTtl)
                .or_else(|| num(Field::Ipv6Hlim))
                .and_then(|t| u8::try_from(t).ok()),
            ip_id: num(Field::IpId).and_then(|t| u16::try_from(t).ok()),
            window: num(Field::TcpWindowSizeValue).and_then(|t| u16::try_from(t).ok()),
            ..Reply::none()
        };
        self.answer(i, at, reply);
    }

    /// The first answer to probe `i` counts.
    fn answer(&mut self, i: usize, at: Duration, mut reply: Reply) {
        let Some(p) = self.probes.get_mut(i) else {
            return;
        };
        if p.reply.is_some() {
            return;
        }
        reply.rtt = Some(at.saturating_sub(p.at));
        reply.sent = Some(p.syn.clone());
        p.reply = Some(reply);
    }

    /// The report (`None` when the capture held no probe).
    pub fn finish(&self) -> Option<TraceReport> {
        let first = self.probes.first()?;
        let max_ttl = self.probes.iter().map(|p| p.ttl).max()?;
        let mut trace = Trace::new(TraceConfig {
            max_ttl,
            ..TraceConfig::default()
        });
        for p in &self.probes {
            trace.sent(p.ttl);
            if let Some(r) = &p.reply {
                trace.record(p.ttl, r.clone());
            }
        }
        Some(trace.finish(&first.syn))
    }
}

/// The ICMP error in a frame of a link type whose IP packet starts at a
/// fixed offset.
fn icmp_of(link: LinkType, data: &[u8]) -> Option<IcmpFrame> {
    match link {
        LinkType::Ethernet => icmp_of_ethernet(data),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => icmp_of_ip(data),
        LinkType::LinuxSll => icmp_of_ip(data.get(16..)?),
        LinkType::LinuxSll2 => icmp_of_ip(data.get(20..)?),
        LinkType::Null | LinkType::Loop | LinkType::ArcnetLinux => None,
    }
}
