//! Planning a batch: one SYN per request, each from its own source port,
//! with its own random initial sequence number, crafted to bytes up front so
//! that a request that cannot be built fails the batch before anything is sent.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use thiserror::Error;

use crate::model::craft::{self, CraftError, Volatile};
use crate::model::{decode_frame, Attributes, Decoded, LinkType};
use crate::model::{Attr, Family, Field, Value};

/// Source ports the probes use, inclusive. The default, 40000-59999, is
/// large so that a port comes round again only after 20000 probes, long
/// after the server forgot the last connection attempt from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange {
            first: 40000,
            last: 59999,
        }
    }
}

impl PortRange {
    pub fn len(&self) -> usize {
        usize::from(self.last.saturating_sub(self.first)) + 1
    }

    pub fn is_empty(&self) -> bool {
        self.last < self.first
    }

    /// A sub-range of `n` ports (at least one, at most all) for one live
    /// session, placed by `cursor` (taken modulo the places it fits), so
    /// that a session's probes, and the nftables rule scoped to them, stay
    /// within a block of their own that does not wrap.
    pub fn block(&self, cursor: usize, n: usize) -> PortRange {
        if self.is_empty() {
            return *self;
        }
        let n = n.clamp(1, self.len());
        let start = self.first + (cursor % (self.len() - n + 1)) as u16;
        PortRange {
            first: start,
            last: start + (n - 1) as u16,
        }
    }

    /// Every port of the range, in order.
    pub fn ports(&self) -> impl Iterator<Item = u16> {
        self.first..=self.last
    }

    /// `n` distinct ports, consecutive from `cursor` (taken modulo the range),
    /// wrapping at the end of the range.
    pub fn take(&self, cursor: usize, n: usize) -> Result<Vec<u16>, PlanError> {
        if self.is_empty() || n > self.len() {
            return Err(PlanError::TooManyProbes {
                requested: n,
                available: if self.is_empty() { 0 } else { self.len() },
            });
        }
        let len = self.len();
        Ok((0..n)
            .map(|i| self.first + ((cursor + i) % len) as u16)
            .collect())
    }
}

/// Why a batch cannot be planned; nothing was sent.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PlanError {
    #[error("{requested} probes need as many distinct source ports, but only {available} are in the port range")]
    TooManyProbes { requested: usize, available: usize },
    #[error("probe {index}: ip.id 0 without DF is not sent as such: on a raw socket Linux replaces a zero IP ID with its own unless DF is set (--set ip.flags.df=true, or another ip.id)")]
    ZeroIpIdWithoutDf { index: usize },
    #[error("probe {index}: cannot build its SYN: {source}")]
    Craft {
        index: usize,
        #[source]
        source: CraftError,
    },
}

/// One probe, ready to go.
#[derive(Clone, Debug)]
pub struct Planned {
    pub index: usize,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    /// The IP packet (header included) to send.
    pub packet: Vec<u8>,
    /// The attributes of that packet, as `handshakes` would show its SYN.
    pub syn: Attributes,
}

/// The attributes for a SYN of the given IP version. Profiles are written
/// with IPv4 names; for IPv6 the TTL becomes the hop limit and the DSCP/ECN
/// bits move to the traffic class, and IPv4-only attributes (DF, the
/// reserved bit, IP options, the IP ID) are dropped. The reverse for IPv4.
pub fn for_family(a: &Attributes, v6: bool) -> Attributes {
    let foreign = if v6 { Family::V4 } else { Family::V6 };
    let mut out = a.clone();
    // A twin already spelt in the target version wins over the mapped one.
    out.retain(|k, _| k.family() != foreign || !a.contains(k.for_family(v6)));
    let mapped: Vec<(Attr, Value)> = out
        .iter()
        .filter(|(k, _)| k.family() == foreign && k.for_family(v6) != *k)
        .map(|(k, v)| (k.for_family(v6), v.clone()))
        .collect();
    out.retain(|k, _| k.family() != foreign);
    mapped.into_iter().for_each(|(k, v)| out.insert(k, v));
    out
}

/// The per-connection values of probe `seq`: the IP ID is derived from the
/// sequence number and never 0 (on a header-including raw socket the kernel
/// replaces a zero ID with its own), TSval is the clock in milliseconds.
fn volatile(src: SocketAddr, dst: SocketAddr, seq: u32, clock_ms: u64) -> Volatile {
    let id = (seq >> 16) as u16 ^ seq as u16;
    Volatile {
        src,
        dst,
        seq,
        ack: 0,
        ip_id: if id == 0 { 1 } else { id },
        flow_label: seq & 0xfffff,
        tsval: clock_ms as u32,
        tsecr: 0,
    }
}

/// Another SYN of a planned probe's connection (a retransmission that
/// differs, issue 14): the same addresses, ISN, IP ID and TSval.
pub fn retry_packet(p: &Planned, attrs: &Attributes) -> Result<Vec<u8>, CraftError> {
    let tsval = p.syn.num(Field::TcpOptionsTimestampTsval).unwrap_or(0);
    let mut v = volatile(p.src, p.dst, p.seq, tsval);
    if let Some(id) = p.syn.num(Field::IpId).and_then(|i| u16::try_from(i).ok()) {
        v.ip_id = id;
    }
    craft::build_packet(&for_family(attrs, p.dst.is_ipv6()), &v)
}

/// Whether the kernel would send another IP ID than the packet's: Linux's
/// raw IPv4 socket fills in a zero ID unless DF is set (`raw_send_hdrinc`),
/// so a chosen `ip.id=0` would silently not be sent.
fn kernel_replaces_ip_id(syn: &Attributes) -> bool {
    syn.num(Field::IpId) == Some(0) && !syn.flag(Field::IpFlagsDf)
}

/// Plan one probe per request: source ports consecutive from `port_cursor`
/// in `ports`, sequence numbers from a generator seeded with `seed`.
pub fn plan(
    requests: &[Attributes],
    src: IpAddr,
    target: SocketAddr,
    ports: PortRange,
    port_cursor: usize,
    seed: u64,
    clock_ms: u64,
) -> Result<Vec<Planned>, PlanError> {
    let src_ports = ports.take(port_cursor, requests.len())?;
    let mut rng = StdRng::seed_from_u64(seed);
    let v6 = target.is_ipv6();
    requests
        .iter()
        .zip(src_ports)
        .enumerate()
        .map(|(index, (request, port))| {
            let seq: u32 = rng.gen();
            let src = SocketAddr::new(src, port);
            let attrs = for_family(request, v6);
            let vol = volatile(src, target, seq, clock_ms);
            let packet = craft::build_packet(&attrs, &vol)
                .map_err(|source| PlanError::Craft { index, source })?;
            let syn = match decode_frame(LinkType::Raw, &packet) {
                Decoded::Tcp(seg) => seg.attributes(),
                _ => {
                    return Err(PlanError::Craft {
                        index,
                        source: CraftError::Missing("a decodable packet"),
                    })
                }
            };
            if kernel_replaces_ip_id(&syn) {
                return Err(PlanError::ZeroIpIdWithoutDf { index });
            }
            // What the packet carries (a chosen `tcp.srcport` or
            // `tcp.seq_raw` included) is what its answer must match.
            let port = syn.num(Field::TcpSrcport).map_or(port, |p| p as u16);
            let seq = syn.num(Field::TcpSeqRaw).map_or(seq, |s| s as u32);
            Ok(Planned {
                index,
                src: SocketAddr::new(src.ip(), port),
                dst: target,
                seq,
                packet,
                syn,
            })
        })
        .collect()
}

/// When probe `index` goes out, from the start of the run, at `rate`
/// probes per second (a rate of 0 or below, or not finite, sends at once).
pub fn send_offset(index: usize, rate: f64) -> Duration {
    if !(rate.is_finite() && rate > 0.0) {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(index as f64 / rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(a: &Attributes, name: Field) -> Option<u64> {
        a.get(name).and_then(Value::as_u64)
    }

    use crate::model::craft::linux_example as linux;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn ports_are_distinct_and_wrap() {
        let r = PortRange {
            first: 100,
            last: 104,
        };
        assert_eq!(r.take(3, 5), Ok(vec![103, 104, 100, 101, 102]));
        assert_eq!(
            r.take(0, 6),
            Err(PlanError::TooManyProbes {
                requested: 6,
                available: 5
            })
        );
    }

    #[test]
    fn session_blocks_fit_in_the_range() {
        let r = PortRange::default();
        let b = r.block(0, 50);
        assert_eq!((b.first, b.last), (40000, 40049));
        // Placed by the cursor, never past the end.
        let b = r.block(usize::MAX, 5000);
        assert!(
            b.first >= 40000 && b.last <= 59999 && b.len() == 5000,
            "{b:?}"
        );
        // More than the range: all of it; none: one port.
        assert_eq!(r.block(7, 1_000_000), r);
        assert_eq!(r.block(3, 0).len(), 1);
        let small = PortRange {
            first: 100,
            last: 104,
        };
        assert_eq!(
            small.block(9, 2),
            PortRange {
                first: 101,
                last: 102
            }
        );
        assert_eq!(
            small.block(9, 2).ports().collect::<Vec<_>>(),
            vec![101, 102]
        );
    }

    #[test]
    fn plan_assigns_ports_seqs_and_bytes() {
        let reqs = vec![linux(), linux(), linux()];
        let p = plan(
            &reqs,
            "198.18.0.2".parse().unwrap_or_else(|_| unreachable!()),
            addr("198.18.0.130:80"),
            PortRange::default(),
            19999,
            7,
            1000,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let ports: Vec<u16> = p.iter().map(|x| x.src.port()).collect();
        assert_eq!(ports, vec![59999, 40000, 40001]);
        assert_ne!(p[0].seq, p[1].seq);
        for x in &p {
            assert_eq!(x.syn.get(Field::TcpSeqRaw), Some(&Value::Int(x.seq.into())));
            assert_eq!(x.syn.get(Field::IpTtl), Some(&Value::Int(64)));
            assert_eq!(
                x.syn.get(Field::SynlabOptionsLayout),
                Some(&Value::from("mss,sok,ts,nop,ws"))
            );
            assert_eq!(num(&x.syn, Field::TcpDstport), Some(80));
        }
    }

    #[test]
    fn v6_plan_moves_ttl_to_hop_limit() {
        let p = plan(
            &[linux()],
            "fd00::2".parse().unwrap_or_else(|_| unreachable!()),
            addr("[fd00::1]:80"),
            PortRange::default(),
            0,
            1,
            0,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p[0].syn.get(Field::Ipv6Hlim), Some(&Value::Int(64)));
        assert!(!p[0].syn.contains(Field::IpTtl));
    }

    #[test]
    fn unbuildable_request_fails_the_plan() {
        let mut bad = linux();
        bad.insert(Field::SynlabOptionsLayout, "mss,bogus");
        let err = plan(
            &[linux(), bad],
            "198.18.0.2".parse().unwrap_or_else(|_| unreachable!()),
            addr("198.18.0.130:80"),
            PortRange::default(),
            0,
            1,
            0,
        );
        assert!(
            matches!(err, Err(PlanError::Craft { index: 1, .. })),
            "{err:?}"
        );
    }

    #[test]
    fn chosen_port_and_sequence_are_the_ones_matched() {
        let mut a = linux();
        a.insert(Field::TcpSrcport, 1234u16);
        a.insert(Field::TcpSeqRaw, 99u32);
        a.insert(Field::IpId, 0u16);
        let p = plan(
            &[a],
            "198.18.0.2".parse().unwrap_or_else(|_| unreachable!()),
            addr("198.18.0.130:80"),
            PortRange::default(),
            0,
            1,
            0,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p[0].src.port(), p[0].seq), (1234, 99));
        assert_eq!(num(&p[0].syn, Field::IpId), Some(0));
    }

    // Seen in the lab: Linux sent ID 39434 for `--set ip.id=0 --set
    // ip.flags.df=false`. Refused, not silently replaced.
    #[test]
    fn a_zero_ip_id_without_df_is_refused() {
        let mut a = linux();
        a.insert(Field::IpId, 0u16);
        a.insert(Field::IpFlagsDf, false);
        let err = plan(
            &[a],
            "198.18.0.2".parse().unwrap_or_else(|_| unreachable!()),
            addr("198.18.0.130:80"),
            PortRange::default(),
            0,
            1,
            0,
        );
        assert!(
            matches!(err, Err(PlanError::ZeroIpIdWithoutDf { index: 0 })),
            "{err:?}"
        );
    }

    #[test]
    fn pacing() {
        assert_eq!(send_offset(0, 100.0), Duration::ZERO);
        assert_eq!(send_offset(50, 100.0), Duration::from_millis(500));
        assert_eq!(send_offset(50, 0.0), Duration::ZERO);
    }
}
