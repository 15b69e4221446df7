//! OS profiles: the behavioural attributes of one client stack's SYN, plus
//! what its later segments carry, stored as TOML with the same attribute
//! names as everywhere else.
//!
//! ```toml
//! name = "linux"
//! description = "Linux 6.x, default sysctls"
//! source = "captured from ..."
//! os_family = "Linux"
//! [syn]
//! "ip.ttl" = 64
//! "ip.flags.df" = true
//! "tcp.window_size_value" = 64240
//! "tcp.options.mss_val" = 1460
//! "tcp.options.wscale.shift" = 7
//! "synlab.options.layout" = "mss,sok,ts,nop,ws"
//! [later]              # optional; defaults follow the SYN
//! ttl = 64
//! df = true
//! ect = false          # data segments marked ECT(0) once ECN is negotiated
//! timestamps = true
//! dscp = 46            # optional: the SYN's when absent
//! window = 502         # optional: the window field, unscaled; the SYN's when absent
//! flow_label = true    # optional (IPv6): as [per_connection] flow_label when absent
//! [per_connection]     # optional; how the volatile fields are chosen
//! ip_id_zero = false   # DF with IP ID 0 (p0f: `df` without `id+`)
//! [retry.3]            # optional; the SYN from the 3rd try on
//! "synlab.options.layout" = "mss,nop,nop,sok"   # window scale dropped
//! ```
//!
//! A profile is written with IPv4 names (`ip.ttl`, `ip.dsfield.*`) and applies
//! to both IP versions: [`Profile::syn_attributes`] maps them to `ipv6.hlim`
//! and `ipv6.tclass.*` for an IPv6 SYN, where DF and IPv4 options do not exist.
//!
//! On load a profile is *normalised*: crafted with dummy volatile values and
//! decoded again, so its attribute set is exactly what its SYN carries (every
//! flag and default spelled out), and any attribute the crafter cannot honour
//! is an error naming it. Parsing is pure; reading files is in `synlab::io::profile_store`.

pub mod builtin;
pub mod group;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::craft::{self, CraftError, Volatile};
use crate::model::{Attr, Attributes, Family, Field, Kind, LayoutToken, Source, Value};

/// One client stack's behaviour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Where the values come from (a capture, p0f.fp, vendor documentation).
    pub source: String,
    /// What p0f should classify the SYN as (`Linux`, `Windows`, `Mac OS X`, …).
    pub os_family: Option<String>,
    /// The SYN's behavioural attributes, normalised (IPv4 names).
    pub attributes: Attributes,
    /// What segments after the SYN carry.
    pub later: Later,
    /// How the per-connection (volatile) fields are chosen.
    pub per_connection: PerConnection,
    /// How the SYN changes when it is retransmitted, by try (`[retry.N]`).
    pub retries: Vec<Retry>,
}

/// The SYN a stack sends from its try `from_try` on (the first SYN is try
/// 1): the profile's SYN with these attributes set. A new
/// `synlab.options.layout` drops the options it leaves out with their
/// values (a Windows 7-era stack's third SYN: `mss,nop,nop,sok`, no window
/// scale). The highest `from_try` not above N applies to try N.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Retry {
    pub from_try: u32,
    pub set: Attributes,
}

/// `base` with `set` applied, options the new layout leaves out dropped.
pub fn apply_retry(base: &Attributes, set: &Attributes) -> Attributes {
    let mut out = base.clone();
    for (k, v) in set.iter() {
        out.insert(k, v.clone());
    }
    if let Ok(layout) = craft::layout_of(&out) {
        out.retain(|k, _| {
            k.option()
                .is_none_or(|o| layout.has_kind(o) || set.contains(k))
        });
    }
    out
}

/// What the stack's segments after the SYN carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Later {
    /// TTL (hop limit) of later segments.
    pub ttl: u8,
    /// DF on later segments (IPv4).
    pub df: bool,
    /// Data segments are marked ECT(0) once ECN was negotiated.
    pub ect: bool,
    /// Later segments carry the timestamp option (when the peer agreed).
    pub timestamps: bool,
    /// DSCP of later segments; absent: the SYN's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dscp: Option<u8>,
    /// The window field (unscaled) later segments advertise; absent: the
    /// SYN's, shifted by the negotiated scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<u16>,
    /// IPv6 later segments carry a non-zero flow label; absent: as the SYN
    /// (`[per_connection] flow_label`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_label: Option<bool>,
}

/// How the per-connection fields of a SYN are chosen. These are the volatile
/// fields p0f's quirks still look at (`id+`/`id-`, `flow`, `ts1-`, `ts2+`,
/// `seq-`, `ack+`). Missing keys take the default: non-zero IP ID, a flow
/// label on IPv6, a clock-driven TSval, zero TSecr, a random sequence number,
/// zero acknowledgment number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PerConnection {
    /// The IPv4 ID is 0 (p0f: `df` without `id+`, or `id-`).
    pub ip_id_zero: bool,
    /// IPv6 SYNs carry a non-zero flow label (p0f: `flow`).
    pub flow_label: bool,
    /// TSval is 0 (p0f: `ts1-`).
    pub tsval_zero: bool,
    /// TSecr is non-zero on the SYN (p0f: `ts2+`).
    pub tsecr_nonzero: bool,
    /// The sequence number is 0 (p0f: `seq-`).
    pub seq_zero: bool,
    /// The acknowledgment number is non-zero without the ACK flag (p0f:
    /// `ack+`); crafted with the bit p0f tests set. `ack`, when given, wins.
    pub ack_nonzero: bool,
    /// The exact acknowledgment number a stack leaves in its SYN without the
    /// ACK flag (learnt from a capture): whether p0f sees `ack+` depends on
    /// which bits are set, so crafting repeats the captured value (issue 14).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<u32>,
}

impl Default for PerConnection {
    fn default() -> Self {
        PerConnection {
            ip_id_zero: false,
            flow_label: true,
            tsval_zero: false,
            tsecr_nonzero: false,
            seq_zero: false,
            ack_nonzero: false,
            ack: None,
        }
    }
}

/// What is wrong with one attribute of a profile.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AttributeProblem {
    #[error("unknown attribute{}", did_you_mean(*.0))]
    Unknown(Option<&'static str>),
    #[error("profiles use IPv4 names and apply to both IP versions: write {0} instead")]
    Ipv6Name(&'static str),
    #[error("value {0} is not a boolean, a non-negative integer or a string")]
    BadType(String),
    #[error("given {given}, but the crafted SYN carries {crafted}")]
    NotCrafted { given: Value, crafted: String },
    #[error("must be {0}: a profile describes a SYN")]
    NotSyn(bool),
}

/// Why a profile cannot be loaded. `origin` names the file (or built-in).
#[derive(Debug, Error)]
pub enum ProfileError {
    #[error("{origin}: {source}")]
    Toml {
        origin: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("{origin}: attribute {name}: {problem}")]
    Attribute {
        origin: String,
        name: String,
        #[source]
        problem: AttributeProblem,
    },
    #[error("{origin}: the profile does not craft: {source}")]
    Craft {
        origin: String,
        #[source]
        source: CraftError,
    },
    #[error("{origin}: profile name {name:?} must be non-empty letters, digits, '-', '_' or '.'")]
    BadName { origin: String, name: String },
    #[error("{origin}: [retry.{key}]: a retry is named by its try number, 2 or more")]
    BadRetry { origin: String, key: String },
}

/// A non-fatal remark made while loading or learning (an ignored attribute).
pub type Warnings = Vec<String>;

fn did_you_mean(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean {s}?)"),
        None => " (`synlab fields` lists the names; other TCP options are synlab.tcp.option.KIND)"
            .into(),
    }
}

/// IPv4-only header fields with no IPv6 counterpart (DF, the reserved bit,
/// IPv4 options…): dropped when crafting an IPv6 SYN.
fn v4_only(a: Attr) -> bool {
    a.family() == Family::V4 && a.field().and_then(Field::twin).is_none()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    source: String,
    os_family: Option<String>,
    syn: toml::Table,
    #[serde(default)]
    later: LaterFile,
    #[serde(default)]
    per_connection: PerConnection,
    #[serde(default)]
    retry: std::collections::BTreeMap<String, toml::Table>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LaterFile {
    ttl: Option<u8>,
    df: Option<bool>,
    ect: Option<bool>,
    timestamps: Option<bool>,
    dscp: Option<u8>,
    window: Option<u16>,
    flow_label: Option<bool>,
}

#[derive(Serialize)]
struct ProfileOut<'a> {
    name: &'a str,
    description: &'a str,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    os_family: &'a Option<String>,
    syn: &'a Attributes,
    later: &'a Later,
    #[serde(skip_serializing_if = "Option::is_none")]
    per_connection: Option<&'a PerConnection>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    retry: std::collections::BTreeMap<String, &'a Attributes>,
}

/// A TOML table of attribute names and values (`[syn]`, `[retry.N]`).
fn table_attributes(table: &toml::Table, origin: &str) -> Result<Attributes, ProfileError> {
    let mut given = Attributes::new();
    for (name, value) in table {
        let attr: Attr = name.parse().map_err(|e: crate::model::UnknownAttribute| {
            attr_err(origin, name, AttributeProblem::Unknown(e.suggestion))
        })?;
        let value = match value {
            toml::Value::Boolean(b) => Value::Bool(*b),
            toml::Value::Integer(n) if *n >= 0 => Value::Int(n.unsigned_abs()),
            toml::Value::String(s) => Value::Str(s.clone()),
            other => {
                return Err(attr_err(
                    origin,
                    name,
                    AttributeProblem::BadType(other.to_string()),
                ))
            }
        };
        given.insert(attr, value);
    }
    Ok(given)
}

fn attr_err(origin: &str, name: &str, problem: AttributeProblem) -> ProfileError {
    ProfileError::Attribute {
        origin: origin.into(),
        name: name.into(),
        problem,
    }
}

/// A profile name: letters, digits, `-`, `_` and `.` (safe in a file
/// name and a shell word; survey files are held to it too).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Profile {
    /// Parse and validate a profile's TOML. `origin` (a path, or
    /// `built-in profile NAME`) prefixes every error.
    pub fn from_toml(text: &str, origin: &str) -> Result<(Profile, Warnings), ProfileError> {
        let file: ProfileFile = toml::from_str(text).map_err(|source| ProfileError::Toml {
            origin: origin.into(),
            source,
        })?;
        let given = table_attributes(&file.syn, origin)?;
        let mut p = Profile::from_attributes(&file.name, &given, file.per_connection, origin)?;
        for (key, table) in &file.retry {
            let from_try = key.parse::<u32>().ok().filter(|n| *n >= 2).ok_or_else(|| {
                ProfileError::BadRetry {
                    origin: origin.into(),
                    key: key.clone(),
                }
            })?;
            let set = table_attributes(table, &format!("{origin}: [retry.{key}]"))?;
            normalise(
                &apply_retry(&given, &set),
                file.per_connection,
                &format!("{origin}: [retry.{key}]"),
            )?;
            p.0.retries.push(Retry { from_try, set });
        }
        p.0.retries.sort_by_key(|r| r.from_try);
        p.0.description = file.description;
        p.0.source = file.source;
        p.0.os_family = file.os_family;
        let l = file.later;
        let default = p.0.later;
        p.0.later = Later {
            ttl: l.ttl.unwrap_or(default.ttl),
            df: l.df.unwrap_or(default.df),
            ect: l.ect.unwrap_or(default.ect),
            timestamps: l.timestamps.unwrap_or(default.timestamps),
            dscp: l.dscp.map(|d| d.min(63)),
            window: l.window,
            flow_label: l.flow_label,
        };
        Ok(p)
    }

    /// The SYN's attributes at try `n` (1 is the first SYN), for one IP
    /// version: the latest `[retry.N]` not above `n` applied.
    pub fn syn_attributes_at(&self, n: u32, ipv6: bool) -> Attributes {
        let base = self.syn_attributes(ipv6);
        match self.retries.iter().rev().find(|r| r.from_try <= n) {
            Some(r) => {
                let set = Profile {
                    attributes: r.set.clone(),
                    ..self.clone()
                }
                .syn_attributes(ipv6);
                apply_retry(&base, &set)
            }
            None => base,
        }
    }

    /// The bytes of this profile's SYN at try `n`, for one connection (the
    /// same per-connection values as the first SYN).
    pub fn craft_try(
        &self,
        n: u32,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        clock_ms: u32,
    ) -> Result<Vec<u8>, CraftError> {
        let a = self.syn_attributes_at(n, dst.is_ipv6());
        craft::build_packet(&a, &self.volatile(src, dst, seq, clock_ms))
    }

    /// A profile from SYN attributes as a person or an importer wrote them:
    /// names checked, ignorable ones dropped with a warning, then normalised
    /// by crafting. `later` follows the SYN.
    pub fn from_attributes(
        name: &str,
        given: &Attributes,
        per_connection: PerConnection,
        origin: &str,
    ) -> Result<(Profile, Warnings), ProfileError> {
        if !valid_name(name) {
            return Err(ProfileError::BadName {
                origin: origin.into(),
                name: name.into(),
            });
        }
        let mut warnings = Vec::new();
        let mut kept = Attributes::new();
        for (attr, value) in given.iter() {
            if attr.family() == Family::V6 {
                if let Some(v4) = attr.field().and_then(Field::twin) {
                    return Err(attr_err(
                        origin,
                        attr.name(),
                        AttributeProblem::Ipv6Name(v4.name()),
                    ));
                }
            }
            let ignored = match attr.source() {
                _ if attr.kind() == Kind::Volatile => Some("is volatile (chosen per connection) and is ignored; [per_connection] says how it is chosen"),
                Source::Derived | Source::Flow => Some("is derived from the others and is ignored"),
                Source::Computed => Some("is computed when crafting and is ignored"),
                Source::Given if attr.family() == Family::V6 => Some("is IPv6-only and not crafted; it is ignored"),
                Source::Given => None,
            };
            match ignored {
                Some(why) => warnings.push(format!("{origin}: attribute {attr} {why}")),
                None => kept.insert(attr, value.clone()),
            }
        }
        let attributes = normalise(&kept, per_connection, origin)?;
        let profile = Profile {
            name: name.into(),
            description: String::new(),
            source: String::new(),
            os_family: None,
            later: later_from_syn(&attributes),
            attributes,
            per_connection,
            retries: Vec::new(),
        };
        Ok((profile, warnings))
    }

    /// A profile learnt from a captured SYN's attributes: the behavioural
    /// ones minus derived and computed ones (IPv6 names mapped to IPv4
    /// names), and the per-connection habits its volatile values show.
    pub fn learn(
        syn: &Attributes,
        name: &str,
        origin: &str,
    ) -> Result<(Profile, Warnings), ProfileError> {
        let (attributes, per_connection, mut notes) = learn_attributes(syn);
        let (profile, warnings) =
            Profile::from_attributes(name, &attributes, per_connection, origin)?;
        notes.extend(warnings);
        Ok((profile, notes))
    }

    /// The profile as TOML, the format it is loaded from.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        let out = ProfileOut {
            name: &self.name,
            description: &self.description,
            source: &self.source,
            os_family: &self.os_family,
            syn: &self.attributes,
            later: &self.later,
            per_connection: (self.per_connection != PerConnection::default())
                .then_some(&self.per_connection),
            retry: self
                .retries
                .iter()
                .map(|r| (r.from_try.to_string(), &r.set))
                .collect(),
        };
        toml::to_string(&out)
    }

    /// The same stack behaviour (names and prose aside).
    pub fn same_behaviour(&self, other: &Profile) -> bool {
        self.attributes == other.attributes
            && self.later == other.later
            && self.per_connection == other.per_connection
            && self.retries == other.retries
    }

    /// The SYN's attributes with what its later segments carry, as
    /// `synlab.flow.*` attributes (from `[later]`, where the SYN's own do
    /// not already say): what an exchange sends and a search varies.
    pub fn with_flow_attributes(&self) -> Attributes {
        let mut a = self.attributes.clone();
        let later = self.later;
        let flow = [
            (Field::SynlabFlowTtl, Value::from(later.ttl)),
            (Field::SynlabFlowDf, Value::Bool(later.df)),
            (
                Field::SynlabFlowEcn,
                Value::from(if later.ect { 2u8 } else { 0 }),
            ),
            (Field::SynlabFlowTs, Value::Bool(later.timestamps)),
            (Field::SynlabFlowDscp, Value::from(self.later_dscp())),
        ];
        for (field, value) in flow {
            if !a.contains(field) {
                a.insert(field, value);
            }
        }
        // Only when stated. The window of later segments is scaled (a
        // captured Linux flow says 63 where its SYN said 64240), so the
        // SYN's is no default to compare with; the flow label is an IPv6
        // matter, otherwise the SYN's habit (a search over IPv4 would
        // spend probes on it for nothing).
        if let Some(window) = later.window {
            a.insert(Field::SynlabFlowWindow, window);
        }
        if let Some(label) = later.flow_label {
            a.insert(Field::SynlabFlowFlowLabel, label);
        }
        a
    }

    /// The SYN's attributes for one IP version: IPv6 takes `ipv6.hlim` and
    /// `ipv6.tclass.*` from the IPv4 names and drops IPv4-only fields.
    pub fn syn_attributes(&self, ipv6: bool) -> Attributes {
        if !ipv6 {
            return self.attributes.clone();
        }
        self.attributes
            .iter()
            .filter(|(name, _)| !v4_only(*name))
            .map(|(name, value)| (name.for_family(true), value.clone()))
            .collect()
    }

    /// Per-connection values for one SYN: the IP ID is 0 when the stack
    /// sends DF with a zero ID, else derived from `seq` (never 0); TSval
    /// follows `clock_ms`; IPv6 gets a non-zero flow label when the stack
    /// sets one; the rest follow [`PerConnection`].
    pub fn volatile(&self, src: SocketAddr, dst: SocketAddr, seq: u32, clock_ms: u32) -> Volatile {
        let pc = self.per_connection;
        let seq = if pc.seq_zero { 0 } else { seq };
        let mix = seq.rotate_left(13) ^ 0x9e37_79b9 ^ u32::from(src.port()) << 7;
        let nonzero = |x: u32| if x == 0 { 1 } else { x };
        let ip_id = if pc.ip_id_zero {
            0
        } else {
            match (seq ^ seq >> 16) as u16 {
                0 => 1,
                n => n,
            }
        };
        let flow_label = if pc.flow_label && src.is_ipv6() {
            nonzero(mix & 0xfffff)
        } else {
            0
        };
        Volatile {
            src,
            dst,
            seq,
            // Bit 24 set: the bit p0f tests for `ack+` (see `p0f::p0f_sees_nonzero_ack`).
            ack: match pc.ack {
                Some(ack) => ack,
                None if pc.ack_nonzero => mix.rotate_left(7) | 1 << 24,
                _ => 0,
            },
            ip_id,
            flow_label,
            tsval: if pc.tsval_zero { 0 } else { nonzero(clock_ms) },
            tsecr: if pc.tsecr_nonzero {
                nonzero(mix.rotate_left(19))
            } else {
                0
            },
        }
    }

    /// The bytes of this profile's SYN (an IP packet) for one connection.
    pub fn craft(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        clock_ms: u32,
    ) -> Result<Vec<u8>, CraftError> {
        let a = self.syn_attributes(dst.is_ipv6());
        craft::build_packet(&a, &self.volatile(src, dst, seq, clock_ms))
    }

    /// The attributes this profile's SYN carries, decoded from crafted bytes.
    pub fn crafted_attributes(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        clock_ms: u32,
    ) -> Result<Attributes, CraftError> {
        let a = self.syn_attributes(dst.is_ipv6());
        craft::crafted_attributes(&a, &self.volatile(src, dst, seq, clock_ms))
    }
}

/// Dummy endpoints used to validate and normalise (TEST-NET-style benchmark range).
pub(crate) fn dummy_endpoints() -> (SocketAddr, SocketAddr) {
    (
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)), 40000),
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)), 80),
    )
}

/// Craft the given attributes over IPv4, decode, learn back; every given
/// attribute must come back with its value.
fn normalise(
    given: &Attributes,
    per_connection: PerConnection,
    origin: &str,
) -> Result<Attributes, ProfileError> {
    let probe = Profile {
        name: String::new(),
        description: String::new(),
        source: String::new(),
        os_family: None,
        attributes: given.clone(),
        later: later_from_syn(given),
        per_connection,
        retries: Vec::new(),
    };
    let (src, dst) = dummy_endpoints();
    let crafted = probe
        .crafted_attributes(src, dst, 0x1000_0000, 1000)
        .map_err(|source| ProfileError::Craft {
            origin: origin.into(),
            source,
        })?;
    let (learned, _, _) = learn_attributes(&crafted);
    for (name, value) in given.iter() {
        let back = learned.get(name);
        let same = back
            .is_some_and(|b| b == value || (b.as_u64().is_some() && b.as_u64() == value.as_u64()));
        if !same {
            return Err(attr_err(
                origin,
                name.name(),
                AttributeProblem::NotCrafted {
                    given: value.clone(),
                    crafted: back.map_or_else(|| "no such attribute".into(), Value::to_string),
                },
            ));
        }
    }
    for (name, want) in [(Field::TcpFlagsSyn, true), (Field::TcpFlagsAck, false)] {
        if learned.get(name) != Some(&Value::Bool(want)) {
            return Err(attr_err(
                origin,
                name.name(),
                AttributeProblem::NotSyn(want),
            ));
        }
    }
    Ok(learned)
}

fn num(a: &Attributes, name: Field) -> Option<u64> {
    a.num(name)
}

impl Profile {
    /// DSCP of later segments: `[later] dscp`, else the SYN's.
    fn later_dscp(&self) -> u64 {
        let syn = || {
            num(&self.attributes, Field::IpDsfieldDscp)
                .or_else(|| num(&self.attributes, Field::Ipv6TclassDscp))
        };
        self.later.dscp.map(u64::from).or_else(syn).unwrap_or(0)
    }
}

fn flag(a: &Attributes, name: Field) -> bool {
    num(a, name) == Some(1)
}

/// Later segments, by default: as the SYN.
fn later_from_syn(a: &Attributes) -> Later {
    let timestamps = craft::layout_of(a).is_ok_and(|l| l.contains(LayoutToken::Ts));
    Later {
        ttl: num(a, Field::IpTtl)
            .and_then(|t| u8::try_from(t).ok())
            .unwrap_or(64),
        df: flag(a, Field::IpFlagsDf),
        ect: flag(a, Field::TcpFlagsEce) && flag(a, Field::TcpFlagsCwr),
        timestamps,
        dscp: None,
        window: None,
        flow_label: None,
    }
}

/// A captured SYN's attributes as a profile keeps them, the per-connection
/// habits its volatile values show, and notes on what was dropped.
pub fn learn_attributes(syn: &Attributes) -> (Attributes, PerConnection, Warnings) {
    let mut out = Attributes::new();
    let mut notes = Vec::new();
    let v6 = syn.contains(Field::Ipv6Version);
    for (name, value) in syn.iter() {
        match name.source() {
            _ if name.kind() == Kind::Volatile => continue,
            Source::Computed | Source::Flow => continue,
            Source::Derived => {
                if name == Attr::Field(Field::SynlabTruncated) {
                    notes.push(
                        "the SYN was cut short by the capture: options may be missing".into(),
                    );
                }
                continue;
            }
            Source::Given => {}
        }
        if name == Attr::Field(Field::SynlabIpv6Ext) {
            notes.push(format!(
                "IPv6 extension headers ({value}) are not crafted and are left out"
            ));
            continue;
        }
        out.insert(name.for_family(false), value.clone());
    }
    // An option the capture cut is seen (present) but not in the layout:
    // it cannot be crafted, so it is left out with the truncation note.
    if let Ok(layout) = craft::layout_of(&out) {
        out.retain(|k, _| match k.option() {
            Some(o) => o.presence().map(Attr::Field) != Some(k) || layout.has_kind(o),
            None => true,
        });
    }
    let stale_ack = num(syn, Field::TcpAckRaw)
        .filter(|&ack| ack != 0 && !flag(syn, Field::TcpFlagsAck))
        .and_then(|ack| u32::try_from(ack).ok());
    let pc = PerConnection {
        ip_id_zero: !v6 && num(syn, Field::IpId) == Some(0),
        flow_label: if v6 {
            num(syn, Field::Ipv6Flow).unwrap_or(0) != 0
        } else {
            true
        },
        tsval_zero: num(syn, Field::TcpOptionsTimestampTsval) == Some(0),
        tsecr_nonzero: num(syn, Field::TcpOptionsTimestampTsecr).unwrap_or(0) != 0,
        seq_zero: num(syn, Field::TcpSeqRaw) == Some(0),
        ack_nonzero: stale_ack.is_some(),
        ack: stale_ack,
    };
    (out, pc, notes)
}

#[cfg(test)]
mod tests;
