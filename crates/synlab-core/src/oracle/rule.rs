//! A simulated middlebox: a rule picks the SYNs it acts on, or (a rule
//! that reads `synlab.flow.*`) the connections whose later segments it acts on.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Answer, BatchAnswers, Oracle, ProbeRequest};
use crate::handshake::Outcome;
use crate::rule::Rule;

/// What the middlebox does to a matching SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Silently drop: no reply.
    Drop,
    /// Answer with a TCP reset.
    Reset,
    /// Answer with ICMP destination unreachable, administratively prohibited (3/13).
    Icmp,
}

impl Action {
    pub fn outcome(self) -> Outcome {
        match self {
            Action::Drop => Outcome::NoReply,
            Action::Reset => Outcome::Reset,
            Action::Icmp => Outcome::Icmp {
                icmp_type: 3,
                code: 13,
            },
        }
    }

    /// What the action does to a connection whose later segments it acts
    /// on: dropped data stalls it (an ICMP error to a data segment too:
    /// the client retransmits, and nothing comes), a reset ends it.
    pub fn outcome_past_handshake(self) -> Outcome {
        match self {
            Action::Drop | Action::Icmp => Outcome::Stalled,
            Action::Reset => Outcome::ResetMidTransfer,
        }
    }
}

/// The source ports whose SYNs the middlebox acts on (a matching SYN from
/// another port passes): how a flow-hash or per-port middlebox fails
/// intermittently, as seen by probes from consecutive ports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PortFilter {
    /// Every port.
    #[default]
    Any,
    Even,
    Odd,
    /// Ports in `lo..=hi`.
    Range {
        lo: u16,
        hi: u16,
    },
}

impl PortFilter {
    pub fn admits(self, port: u16) -> bool {
        match self {
            PortFilter::Any => true,
            PortFilter::Even => port % 2 == 0,
            PortFilter::Odd => port % 2 == 1,
            PortFilter::Range { lo, hi } => (lo..=hi).contains(&port),
        }
    }
}

/// The first source port of a simulated run, as a live session's port
/// block starts: somewhere in the ephemeral range.
const PORT_BASE: u16 = 32768;
const PORT_SPAN: u16 = 28000;

/// Applies `action` to SYNs matching `rule` (on their crafted attributes)
/// and sent from a port the [`PortFilter`] admits, and answers syn-ack
/// otherwise. A rule that reads `synlab.flow.*` acts past the handshake,
/// on the client's later segments (which carry the request's flow
/// attributes): the connection is `complete`, or `stalled` (drop, icmp) or
/// `reset-mid-transfer` (reset) when it matches, as an exchange would end. Each probe gets the next source port, as a live session's
/// do. With probability `loss` a probe's exchange is lost (the SYN or its
/// answer), which turns any answer into no-reply. The RNG is seeded, so a
/// run is reproducible.
#[derive(Debug)]
pub struct RuleOracle {
    rule: Rule,
    action: Action,
    /// The rule reads later segments: outcomes are an exchange's.
    past_handshake: bool,
    ports: PortFilter,
    loss: f64,
    rng: StdRng,
    next_port: u16,
}

impl RuleOracle {
    pub fn new(rule: Rule, action: Action, loss: f64, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let next_port = PORT_BASE + rng.gen_range(0..PORT_SPAN);
        RuleOracle {
            past_handshake: rule.reads_flow(),
            rule,
            action,
            ports: PortFilter::Any,
            loss: loss.clamp(0.0, 1.0),
            rng,
            next_port,
        }
    }

    /// Act only on SYNs from these source ports.
    pub fn with_ports(mut self, ports: PortFilter) -> Self {
        self.ports = ports;
        self
    }

    /// The answer without loss, for a SYN from `port`.
    pub fn truth(&self, req: &ProbeRequest, port: u16) -> Outcome {
        let acts = self.ports.admits(port) && self.rule.eval(&req.crafted);
        match (self.past_handshake, acts) {
            (false, true) => self.action.outcome(),
            (false, false) => Outcome::SynAck,
            (true, true) => self.action.outcome_past_handshake(),
            (true, false) => Outcome::Complete,
        }
    }

    /// The next source port: consecutive, wrapping inside the ephemeral range.
    fn port(&mut self) -> u16 {
        let p = self.next_port;
        self.next_port = if p >= PORT_BASE + PORT_SPAN - 1 {
            PORT_BASE
        } else {
            p + 1
        };
        p
    }
}

impl Oracle for RuleOracle {
    fn probe_batch(&mut self, batch: &[ProbeRequest]) -> BatchAnswers {
        Ok(batch
            .iter()
            .map(|req| {
                let port = self.port();
                let lost = self.rng.gen::<f64>() < self.loss;
                let outcome = if lost {
                    Outcome::NoReply
                } else {
                    self.truth(req, port)
                };
                Ok(Answer::new(outcome, port))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ttl: u8) -> ProbeRequest {
        let mut a = crate::model::Attributes::new();
        a.insert(crate::model::Field::IpTtl, ttl);
        ProbeRequest {
            id: 0,
            variant: 0,
            spec: a.clone(),
            crafted: a,
        }
    }

    #[test]
    fn even_ports_only_fail_on_even_ports() {
        let rule = Rule::parse("ip.ttl == 128").unwrap_or_else(|e| panic!("{e:?}"));
        let mut o = RuleOracle::new(rule, Action::Drop, 0.0, 3).with_ports(PortFilter::Even);
        let batch = vec![request(128); 6];
        let answers = o.probe_batch(&batch).unwrap_or_else(|e| panic!("{e}"));
        let mut ports = Vec::new();
        for a in answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|e| panic!("{e}")))
        {
            let port = a.src_port.unwrap_or_else(|| panic!("a port"));
            let want = if port % 2 == 0 {
                Outcome::NoReply
            } else {
                Outcome::SynAck
            };
            assert_eq!(a.outcome, want, "port {port}");
            ports.push(port);
        }
        assert!(ports.windows(2).all(|w| w[1] == w[0] + 1), "{ports:?}");
        let other = o
            .probe_batch(&[request(64)])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(other[0].clone().map(|a| a.outcome), Ok(Outcome::SynAck));
    }

    /// A rule on the later segments' TTL acts past the handshake: the
    /// SYN's own TTL does not matter, the answers are an exchange's.
    #[test]
    fn a_rule_on_later_segments_stalls_the_exchange() {
        use crate::model::Field;
        use crate::rule::Scope;
        let rule = Rule::parse_in("synlab.flow.ttl == 128", Scope::Connection)
            .unwrap_or_else(|e| panic!("{e:?}"));
        let with_later = |syn_ttl: u8, later_ttl: u8| {
            let mut r = request(syn_ttl);
            r.crafted.insert(Field::SynlabFlowTtl, later_ttl);
            r
        };
        for (action, failed) in [
            (Action::Drop, Outcome::Stalled),
            (Action::Reset, Outcome::ResetMidTransfer),
            (Action::Icmp, Outcome::Stalled),
        ] {
            let o = RuleOracle::new(rule.clone(), action, 0.0, 3);
            assert_eq!(o.truth(&with_later(64, 128), 1000), failed);
            assert_eq!(o.truth(&with_later(128, 64), 1000), Outcome::Complete);
            assert_eq!(o.truth(&request(128), 1000), Outcome::Complete);
        }
    }

    #[test]
    fn ports_wrap_inside_the_ephemeral_range() {
        let rule = Rule::parse("ip.ttl == 1").unwrap_or_else(|e| panic!("{e:?}"));
        let mut o = RuleOracle::new(rule, Action::Drop, 0.0, 0);
        o.next_port = PORT_BASE + PORT_SPAN - 1;
        assert_eq!(o.port(), PORT_BASE + PORT_SPAN - 1);
        assert_eq!(o.port(), PORT_BASE);
        assert!(PortFilter::Range { lo: 10, hi: 20 }.admits(20));
        assert!(!PortFilter::Range { lo: 10, hi: 20 }.admits(21));
    }
}
