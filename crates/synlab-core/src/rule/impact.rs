//! Which stacks a rule hits, before anyone deploys it (`synlab impact`):
//! every profile's SYNs (IPv4 and IPv6, the first and each `[retry.N]`, and
//! with a `synlab.flow.*` rule what its later segments carry), and every SYN
//! of a corpus of real captures, grouped by OS family with the hit SYNs'
//! p0f signatures. A signature deployed without this check is how a
//! middlebox rule takes out a whole OS family.
//!
//! Pure: the caller loads the profiles and the captures.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::Serialize;

use super::{Rule, Subject};
use crate::model::craft;
use crate::model::{Attr, Attributes, Field, Source, Value};
use crate::profile::Profile;

/// One SYN of a corpus, with what its flow's later segments carried.
#[derive(Clone, Debug)]
pub struct CorpusSyn {
    /// The capture it came from (a file name).
    pub origin: String,
    /// The OS family its provenance or p0f label gives (`unknown` if none).
    pub family: String,
    pub syn: Attributes,
    pub flow: Attributes,
}

/// A SYN and its later segments, as a rule sees a connection.
struct Connection<'a> {
    syn: &'a Attributes,
    flow: &'a Attributes,
}

impl Subject for Connection<'_> {
    fn attr(&self, a: Attr) -> Option<&Value> {
        if a.source() == Source::Flow {
            self.flow.get(a)
        } else {
            self.syn.get(a)
        }
    }
}

/// Whether the rule hits one profile, and through which of its SYNs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileHit {
    pub name: String,
    pub family: String,
    pub hit: bool,
    /// The SYNs that match: `ipv4 try 1`, `ipv6 try 3`, …
    pub via: Vec<String>,
}

/// One OS family of the corpus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FamilyHits {
    pub family: String,
    pub syns: usize,
    pub hit: usize,
    /// The p0f signatures of the SYNs hit, each once, in order.
    pub signatures: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CorpusHits {
    pub syns: usize,
    pub hit: usize,
    pub families: Vec<FamilyHits>,
}

/// The whole answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Impact {
    pub rule: String,
    pub profiles: Vec<ProfileHit>,
    pub corpus: CorpusHits,
}

impl Impact {
    /// Whether the rule hits any stack at all.
    pub fn hits_any(&self) -> bool {
        self.corpus.hit > 0 || self.profiles.iter().any(|p| p.hit)
    }
}

/// The rule over every profile, beside its hits in a corpus
/// ([`corpus_hits`], [`CorpusTally`]).
pub fn impact(rule: &Rule, profiles: &[Profile], corpus: CorpusHits) -> Impact {
    Impact {
        rule: rule.expr.to_string(),
        profiles: profiles.iter().map(|p| profile_hit(rule, p)).collect(),
        corpus,
    }
}

/// Endpoints in the benchmarking ranges, so a rule on addresses or ports
/// sees plausible values (the lab's).
fn endpoints(v6: bool) -> (SocketAddr, SocketAddr) {
    let (src, dst): (IpAddr, IpAddr) = if v6 {
        (
            IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 2)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 3, 0, 0, 0, 2)),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)),
            IpAddr::V4(Ipv4Addr::new(198, 18, 0, 130)),
        )
    };
    (SocketAddr::new(src, 40000), SocketAddr::new(dst, 80))
}

/// The tries whose SYN differs: the first, and each `[retry.N]`'s.
fn tries(p: &Profile) -> Vec<u32> {
    let mut t = vec![1];
    t.extend(p.retries.iter().map(|r| r.from_try).filter(|&n| n > 1));
    t.dedup();
    t
}

fn profile_hit(rule: &Rule, p: &Profile) -> ProfileHit {
    let later = p.with_flow_attributes();
    let flow: Attributes = later
        .iter()
        .filter(|(k, _)| k.source() == Source::Flow)
        .map(|(k, v)| (k, v.clone()))
        .collect();
    let mut via = Vec::new();
    for v6 in [false, true] {
        let (src, dst) = endpoints(v6);
        for n in tries(p) {
            let base = p.syn_attributes_at(n, v6);
            let Ok(syn) = craft::crafted_attributes(&base, &p.volatile(src, dst, 1000, 1000))
            else {
                continue;
            };
            if rule.eval(&Connection {
                syn: &syn,
                flow: &flow,
            }) {
                let ip = if v6 { "ipv6" } else { "ipv4" };
                via.push(format!("{ip} try {n}"));
            }
        }
    }
    ProfileHit {
        name: p.name.clone(),
        family: p.os_family.clone().unwrap_or_else(|| "unknown".into()),
        hit: !via.is_empty(),
        via,
    }
}

/// What a rule made of one corpus SYN: whether it hit, and the SYN's p0f
/// signature when it did. Judged where the SYN is (a tracking thread), so
/// that a corpus of any size keeps only counts ([`CorpusTally`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judged {
    hit: Option<String>,
}

/// Whether `rule` hits the connection that `syn` opened and whose later
/// segments `flow` describes.
pub fn judge(rule: &Rule, syn: &Attributes, flow: &Attributes) -> Judged {
    let hit = rule.eval(&Connection { syn, flow });
    Judged {
        hit: hit.then(|| syn.text(Field::SynlabP0f).unwrap_or("?").to_owned()),
    }
}

/// The corpus's hits, one SYN at a time: counts by family and the
/// signatures hit, never the SYNs.
#[derive(Clone, Debug, Default)]
pub struct CorpusTally {
    by_family: BTreeMap<String, FamilyHits>,
    syns: usize,
    hit: usize,
}

impl CorpusTally {
    pub fn add(&mut self, family: &str, judged: Judged) {
        if !self.by_family.contains_key(family) {
            let fam = FamilyHits {
                family: family.to_owned(),
                syns: 0,
                hit: 0,
                signatures: Vec::new(),
            };
            self.by_family.insert(family.to_owned(), fam);
        }
        let Some(fam) = self.by_family.get_mut(family) else {
            return;
        };
        self.syns += 1;
        fam.syns += 1;
        if let Some(sig) = judged.hit {
            self.hit += 1;
            fam.hit += 1;
            if !fam.signatures.contains(&sig) {
                fam.signatures.push(sig);
            }
        }
    }

    pub fn finish(self) -> CorpusHits {
        CorpusHits {
            syns: self.syns,
            hit: self.hit,
            families: self.by_family.into_values().collect(),
        }
    }
}

/// [`CorpusTally`] over SYNs in hand.
pub fn corpus_hits(rule: &Rule, corpus: &[CorpusSyn]) -> CorpusHits {
    let mut tally = CorpusTally::default();
    for s in corpus {
        tally.add(&s.family, judge(rule, &s.syn, &s.flow));
    }
    tally.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Scope;

    fn builtins() -> Vec<Profile> {
        crate::profile::builtin::BUILTIN
            .iter()
            .filter_map(|(n, _)| crate::profile::builtin::profile(n))
            .map(|r| r.map(|(p, _)| p).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn families_hit(rule: &str) -> Vec<String> {
        let r = Rule::parse_in(rule, Scope::Connection).unwrap_or_else(|e| panic!("{e}"));
        let imp = impact(&r, &builtins(), corpus_hits(&r, &[]));
        let mut f: Vec<String> = imp
            .profiles
            .iter()
            .filter(|p| p.hit)
            .map(|p| p.family.clone())
            .collect();
        f.dedup();
        f
    }

    #[test]
    fn initial_ttl_128_is_windows() {
        assert_eq!(families_hit("synlab.ittl == 128"), ["Windows"]);
    }

    #[test]
    fn jumbo_mss_is_the_jumbo_mtu_profiles() {
        let r = Rule::parse("tcp.options.mss_val > 8000").unwrap_or_else(|e| panic!("{e}"));
        let imp = impact(&r, &builtins(), corpus_hits(&r, &[]));
        let hit: Vec<&str> = imp
            .profiles
            .iter()
            .filter(|p| p.hit)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(hit, ["amazon-linux-2"]);
        assert!(imp.hits_any());
    }

    #[test]
    fn flow_rules_read_the_later_segments() {
        let r = Rule::parse_in("synlab.flow.ttl == 128 && ip.ttl == 128", Scope::Connection)
            .unwrap_or_else(|e| panic!("{e}"));
        let imp = impact(&r, &builtins(), corpus_hits(&r, &[]));
        assert!(imp
            .profiles
            .iter()
            .filter(|p| p.hit)
            .all(|p| p.family == "Windows"));
        assert!(imp.hits_any());
    }
}
