//! The vocabulary: every attribute synlab knows, in ONE table.
//!
//! Each row gives an attribute's key ([`Field`]), its Wireshark
//! display-filter name (or `synlab.` name for derived ones), its [`Kind`]
//! (a property of the stack, or of the one connection), its [`Source`]
//! (whether a profile or a search may set it, or it follows from the
//! others), its value type, its IP family and IPv4/IPv6 twin, the TCP option
//! (p0f layout token) it belongs to, and its help text. Everything else —
//! decoding, crafting, profiles, the rule language, the search, the CLI —
//! asks this table, so each of those facts is written once.
//!
//! [`Attr`] is the key of an attribute set: a [`Field`], or a TCP option
//! kind without a name of its own (`synlab.tcp.option.<KIND>`). Its
//! `FromStr` is the one place where names are parsed; an unknown name is an
//! error with a "did you mean" suggestion.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Serialize, Serializer};
use thiserror::Error;

use super::option_kind::OptionKind;

/// Whether an attribute describes the sending stack or only this connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A property of the TCP/IP stack: TTL, window, options and their order, DF, ECN, quirks.
    Behavioural,
    /// Differs on every connection: addresses, ports, sequence numbers, checksums, ip.id, timestamps.
    Volatile,
}

/// Where an attribute's value comes from, which says who may set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// A header field the sender chooses: a profile, `--set` or a search variant may set it.
    Given,
    /// Follows from the other fields when a packet is built (lengths,
    /// versions, protocol numbers, checksums): never set, never bisected.
    Computed,
    /// Derived by synlab from the other attributes (p0f notions, truncation).
    Derived,
    /// Seen on the client's later segments, not on the SYN (`synlab.flow.*`).
    Flow,
}

/// The type of an attribute's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    Bool,
    /// A non-negative integer up to the bound.
    Int(u64),
    /// Text: an address, a layout, hex bytes, a list.
    Text,
}

/// Which IP version an attribute belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
    /// TCP and derived attributes: both versions.
    Any,
}

macro_rules! opt_field {
    (-) => {
        None
    };
    ($v:ident) => {
        Some(Field::$v)
    };
}

macro_rules! opt_token {
    (-) => {
        None
    };
    ($v:ident) => {
        Some(OptionKind::$v)
    };
}

macro_rules! vocabulary {
    ($( $var:ident $name:literal $kind:ident $source:ident $ty:expr, $fam:ident
        twin $twin:tt option $token:tt $help:literal; )*) => {
        /// A named attribute (one row of the vocabulary table).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Field { $($var),* }

        impl Field {
            /// Every field, in display order (IP, TCP, derived, flow).
            pub const ALL: &'static [Field] = &[$(Field::$var),*];

            /// The Wireshark display-filter name (or `synlab.` name).
            pub const fn name(self) -> &'static str {
                match self { $(Field::$var => $name),* }
            }
            pub const fn kind(self) -> Kind {
                match self { $(Field::$var => Kind::$kind),* }
            }
            pub const fn source(self) -> Source {
                match self { $(Field::$var => Source::$source),* }
            }
            pub const fn value_type(self) -> ValueType {
                match self { $(Field::$var => $ty),* }
            }
            pub const fn family(self) -> Family {
                match self { $(Field::$var => Family::$fam),* }
            }
            /// The same header field in the other IP version (`ip.ttl` <-> `ipv6.hlim`).
            pub const fn twin(self) -> Option<Field> {
                match self { $(Field::$var => opt_field!($twin)),* }
            }
            /// The TCP option whose value (or presence) this attribute is.
            pub const fn option(self) -> Option<OptionKind> {
                match self { $(Field::$var => opt_token!($token)),* }
            }
            /// What it means, for `synlab fields`.
            pub const fn help(self) -> &'static str {
                match self { $(Field::$var => $help),* }
            }
        }
    };
}

use ValueType::{Bool, Int, Text};

const U8: ValueType = Int(0xff);
const U16: ValueType = Int(0xffff);
const U32: ValueType = Int(0xffff_ffff);

vocabulary! {
    IpVersion "ip.version" Behavioural Computed U8, V4 twin Ipv6Version option - "IP version (4)";
    IpHdrLen "ip.hdr_len" Behavioural Computed U8, V4 twin - option - "IPv4 header length in bytes";
    IpDsfieldDscp "ip.dsfield.dscp" Behavioural Given Int(63), V4 twin Ipv6TclassDscp option - "Differentiated services code point";
    IpDsfieldEcn "ip.dsfield.ecn" Behavioural Given Int(3), V4 twin Ipv6TclassEcn option - "ECN field (0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE)";
    IpLen "ip.len" Behavioural Computed U16, V4 twin - option - "IPv4 total length";
    IpId "ip.id" Volatile Given U16, V4 twin - option - "IPv4 identification value";
    IpFlagsRb "ip.flags.rb" Behavioural Given Bool, V4 twin - option - "IPv4 reserved (evil) bit";
    IpFlagsDf "ip.flags.df" Behavioural Given Bool, V4 twin - option - "IPv4 don't fragment";
    IpFlagsMf "ip.flags.mf" Behavioural Given Bool, V4 twin - option - "IPv4 more fragments";
    IpFragOffset "ip.frag_offset" Behavioural Given Int(0x1fff), V4 twin - option - "IPv4 fragment offset";
    IpTtl "ip.ttl" Behavioural Given U8, V4 twin Ipv6Hlim option - "IPv4 time to live as seen";
    IpProto "ip.proto" Behavioural Computed U8, V4 twin Ipv6Nxt option - "IPv4 protocol number";
    IpChecksum "ip.checksum" Volatile Computed U16, V4 twin - option - "IPv4 header checksum";
    IpSrc "ip.src" Volatile Given Text, V4 twin Ipv6Src option - "IPv4 source address";
    IpDst "ip.dst" Volatile Given Text, V4 twin Ipv6Dst option - "IPv4 destination address";
    SynlabIpOptions "synlab.ip.options" Behavioural Given Text, V4 twin - option - "IPv4 options, raw hex (absent when none)";
    Ipv6Version "ipv6.version" Behavioural Computed U8, V6 twin IpVersion option - "IP version (6)";
    Ipv6TclassDscp "ipv6.tclass.dscp" Behavioural Given Int(63), V6 twin IpDsfieldDscp option - "IPv6 traffic class DSCP";
    Ipv6TclassEcn "ipv6.tclass.ecn" Behavioural Given Int(3), V6 twin IpDsfieldEcn option - "IPv6 traffic class ECN";
    Ipv6Flow "ipv6.flow" Volatile Given Int(0xfffff), V6 twin - option - "IPv6 flow label";
    Ipv6Plen "ipv6.plen" Behavioural Computed U16, V6 twin - option - "IPv6 payload length";
    Ipv6Nxt "ipv6.nxt" Behavioural Computed U8, V6 twin IpProto option - "IPv6 next header";
    Ipv6Hlim "ipv6.hlim" Behavioural Given U8, V6 twin IpTtl option - "IPv6 hop limit as seen";
    Ipv6Src "ipv6.src" Volatile Given Text, V6 twin IpSrc option - "IPv6 source address";
    Ipv6Dst "ipv6.dst" Volatile Given Text, V6 twin IpDst option - "IPv6 destination address";
    SynlabIpv6Ext "synlab.ipv6.ext" Behavioural Given Text, V6 twin - option - "IPv6 extension headers in order (absent when none)";
    TcpSrcport "tcp.srcport" Volatile Given U16, Any twin - option - "TCP source port";
    TcpDstport "tcp.dstport" Volatile Given U16, Any twin - option - "TCP destination port";
    TcpSeqRaw "tcp.seq_raw" Volatile Given U32, Any twin - option - "TCP sequence number";
    TcpAckRaw "tcp.ack_raw" Volatile Given U32, Any twin - option - "TCP acknowledgment number";
    TcpHdrLen "tcp.hdr_len" Behavioural Computed U8, Any twin - option - "TCP header length in bytes";
    TcpFlagsRes "tcp.flags.res" Behavioural Given Bool, Any twin - option - "TCP reserved bits (any set)";
    TcpFlagsAe "tcp.flags.ae" Behavioural Given Bool, Any twin - option - "TCP AE (accurate ECN, formerly NS) flag";
    TcpFlagsCwr "tcp.flags.cwr" Behavioural Given Bool, Any twin - option - "TCP CWR flag";
    TcpFlagsEce "tcp.flags.ece" Behavioural Given Bool, Any twin - option - "TCP ECE flag";
    TcpFlagsUrg "tcp.flags.urg" Behavioural Given Bool, Any twin - option - "TCP URG flag";
    TcpFlagsAck "tcp.flags.ack" Behavioural Given Bool, Any twin - option - "TCP ACK flag";
    TcpFlagsPush "tcp.flags.push" Behavioural Given Bool, Any twin - option - "TCP PSH flag";
    TcpFlagsReset "tcp.flags.reset" Behavioural Given Bool, Any twin - option - "TCP RST flag";
    TcpFlagsSyn "tcp.flags.syn" Behavioural Given Bool, Any twin - option - "TCP SYN flag";
    TcpFlagsFin "tcp.flags.fin" Behavioural Given Bool, Any twin - option - "TCP FIN flag";
    TcpWindowSizeValue "tcp.window_size_value" Behavioural Given U16, Any twin - option - "TCP window field, unscaled";
    TcpChecksum "tcp.checksum" Volatile Computed U16, Any twin - option - "TCP checksum";
    TcpUrgentPointer "tcp.urgent_pointer" Behavioural Given U16, Any twin - option - "TCP urgent pointer";
    TcpOptionKind "tcp.option_kind" Behavioural Derived Text, Any twin - option - "TCP option kinds in wire order (Wireshark's tcp.option_kind)";
    TcpOptionsMss "tcp.options.mss" Behavioural Given Bool, Any twin - option Mss "MSS option present";
    TcpOptionsMssVal "tcp.options.mss_val" Behavioural Given U16, Any twin - option Mss "MSS option value";
    TcpOptionsWscale "tcp.options.wscale" Behavioural Given Bool, Any twin - option Ws "Window scale option present";
    TcpOptionsWscaleShift "tcp.options.wscale.shift" Behavioural Given U8, Any twin - option Ws "Window scale option shift count";
    TcpOptionsSackPerm "tcp.options.sack_perm" Behavioural Given Bool, Any twin - option Sok "SACK-permitted option present";
    TcpOptionsTimestamp "tcp.options.timestamp" Behavioural Given Bool, Any twin - option Ts "Timestamps option present";
    TcpOptionsTimestampTsval "tcp.options.timestamp.tsval" Volatile Given U32, Any twin - option Ts "Timestamp option TSval";
    TcpOptionsTimestampTsecr "tcp.options.timestamp.tsecr" Volatile Given U32, Any twin - option Ts "Timestamp option TSecr";
    TcpOptionsNop "tcp.options.nop" Behavioural Given Bool, Any twin - option Nop "No-operation (padding) option present";
    TcpOptionsEol "tcp.options.eol" Behavioural Given Bool, Any twin - option Eol "End-of-options-list option present";
    TcpOptionsSack "tcp.options.sack" Behavioural Given Bool, Any twin - option Sack "SACK option present";
    TcpOptionsMd5 "tcp.options.md5" Behavioural Given Bool, Any twin - option Md5 "MD5 signature option (kind 19) present";
    TcpOptionsAo "tcp.options.ao" Behavioural Given Bool, Any twin - option Ao "TCP-AO option (kind 29) present";
    TcpOptionsMptcp "tcp.options.mptcp" Behavioural Given Bool, Any twin - option Mptcp "Multipath TCP option (kind 30) present";
    TcpOptionsTfo "tcp.options.tfo" Behavioural Given Bool, Any twin - option Tfo "TCP Fast Open option (kind 34) present";
    TcpLen "tcp.len" Behavioural Given Int(1400), Any twin - option - "TCP payload length";
    SynlabOptionsLayout "synlab.options.layout" Behavioural Given Text, Any twin - option - "TCP option order in p0f notation";
    SynlabIttl "synlab.ittl" Behavioural Derived U8, Any twin - option - "Initial TTL guess (32, 64, 128 or 255)";
    SynlabQuirks "synlab.quirks" Behavioural Derived Text, Any twin - option - "p0f v3 quirks";
    SynlabP0f "synlab.p0f" Behavioural Derived Text, Any twin - option - "p0f v3 signature of this packet";
    SynlabTruncated "synlab.truncated" Behavioural Derived Bool, Any twin - option - "The capture cut this packet short (snaplen)";
    SynlabFlowIpid "synlab.flow.ipid" Behavioural Flow Text, Any twin - option - "Client IP ID over the flow: zero, constant, incremental or random";
    SynlabFlowTtl "synlab.flow.ttl" Behavioural Flow U8, Any twin - option - "TTL (or hop limit) of the client's first data segment";
    SynlabFlowDf "synlab.flow.df" Behavioural Flow Bool, Any twin - option - "DF on the client's first data segment";
    SynlabFlowEcn "synlab.flow.ecn" Behavioural Flow Int(3), Any twin - option - "IP ECN field of the client's first data segment";
    SynlabFlowTs "synlab.flow.ts" Behavioural Flow Bool, Any twin - option - "Timestamps option on the client's first data segment";
    SynlabFlowDscp "synlab.flow.dscp" Behavioural Flow Int(63), Any twin - option - "DSCP (IPv4 dsfield or IPv6 traffic class) of the client's first data segment";
    SynlabFlowWindow "synlab.flow.window" Behavioural Flow U16, Any twin - option - "TCP window field (unscaled) of the client's first data segment";
    SynlabFlowFlowLabel "synlab.flow.flow_label" Behavioural Flow Bool, Any twin - option - "A non-zero IPv6 flow label on the client's first data segment";
}

/// Prefix of attributes for TCP option kinds without a name of their own:
/// `synlab.tcp.option.<kind>` holds the option's data as hex.
pub const UNKNOWN_OPTION_PREFIX: &str = "synlab.tcp.option.";

impl Field {
    /// Position in the table: the display order.
    pub fn position(self) -> usize {
        self as usize
    }

    /// Whether a search may vary it and a profile may set it: behavioural
    /// and chosen by the sender, not computed or derived.
    pub fn is_bisectable(self) -> bool {
        self.kind() == Kind::Behavioural && self.source() == Source::Given
    }

    /// The field's name in the given IP version (itself when it has no twin
    /// or already is of that version).
    pub fn for_family(self, v6: bool) -> Field {
        let foreign = if v6 { Family::V4 } else { Family::V6 };
        match self.twin() {
            Some(t) if self.family() == foreign => t,
            _ => self,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The key of an attribute: a named field, or a TCP option kind with no
/// name of its own (its data as hex, named `synlab.tcp.option.<KIND>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Attr {
    Field(Field),
    UnknownOption(u8),
}

impl From<Field> for Attr {
    fn from(f: Field) -> Self {
        Attr::Field(f)
    }
}

impl Attr {
    /// Display order: table order, with unknown options between the known
    /// options and `tcp.len`, by kind number.
    pub fn order(self) -> u32 {
        match self {
            Attr::Field(f) => (2 * f.position() as u32 + 1) << 8,
            Attr::UnknownOption(k) => (2 * Field::TcpLen.position() as u32) << 8 | u32::from(k),
        }
    }

    /// The attribute's name, as everywhere in synlab's output.
    pub fn name(self) -> &'static str {
        match self {
            Attr::Field(f) => f.name(),
            Attr::UnknownOption(k) => unknown_option_names()[usize::from(k)].as_str(),
        }
    }

    /// The name as a JSON object key with its colon (`"ip.ttl":`), built
    /// once: names are `[a-z0-9._]` and need no escaping, and writing a key
    /// in one piece is what a million-attempt JSON document is made of.
    pub fn json_key(self) -> &'static str {
        static KEYS: OnceLock<Vec<String>> = OnceLock::new();
        let keys = KEYS.get_or_init(|| {
            let fields = Field::ALL.iter().map(|f| Attr::Field(*f));
            let unknown = (0..=u8::MAX).map(Attr::UnknownOption);
            fields
                .chain(unknown)
                .map(|a| format!("\"{}\":", a.name()))
                .collect()
        });
        let at = match self {
            Attr::Field(f) => f.position(),
            Attr::UnknownOption(k) => Field::ALL.len() + usize::from(k),
        };
        &keys[at]
    }

    /// [`Attr::json_key`] with a comma before it, at the start of a
    /// [`JSON_KEY_SLOT`]-byte slot padded with spaces, and its length.
    ///
    /// Why: a writer can copy the whole slot (a copy of constant size,
    /// done inline) and cut it back to the length, where copying the key
    /// alone calls `memcpy` once per attribute (issue 25: millions of
    /// calls in a large capture's JSON). A key too long for the slot has
    /// length 0: write [`Attr::json_key`] instead.
    pub fn json_key_slot(self) -> (&'static [u8; JSON_KEY_SLOT], usize) {
        static SLOTS: OnceLock<Vec<([u8; JSON_KEY_SLOT], usize)>> = OnceLock::new();
        let slots = SLOTS.get_or_init(|| {
            let fields = Field::ALL.iter().map(|f| Attr::Field(*f));
            let unknown = (0..=u8::MAX).map(Attr::UnknownOption);
            fields
                .chain(unknown)
                .map(|a| {
                    let key = format!(",{}", a.json_key());
                    let mut slot = [b' '; JSON_KEY_SLOT];
                    match slot.get_mut(..key.len()) {
                        Some(head) => {
                            head.copy_from_slice(key.as_bytes());
                            (slot, key.len())
                        }
                        None => (slot, 0),
                    }
                })
                .collect()
        });
        let at = match self {
            Attr::Field(f) => f.position(),
            Attr::UnknownOption(k) => Field::ALL.len() + usize::from(k),
        };
        let (slot, len) = &slots[at];
        (slot, *len)
    }

    pub fn field(self) -> Option<Field> {
        match self {
            Attr::Field(f) => Some(f),
            Attr::UnknownOption(_) => None,
        }
    }

    /// Unknown options describe the stack: behavioural.
    pub fn kind(self) -> Kind {
        self.field().map_or(Kind::Behavioural, Field::kind)
    }

    /// Unknown options are sent as the sender chose them.
    pub fn source(self) -> Source {
        self.field().map_or(Source::Given, Field::source)
    }

    pub fn is_bisectable(self) -> bool {
        self.field().is_none_or(Field::is_bisectable)
    }

    /// The TCP option this attribute belongs to.
    pub fn option(self) -> Option<OptionKind> {
        match self {
            Attr::Field(f) => f.option(),
            Attr::UnknownOption(k) => Some(OptionKind::from_number(k)),
        }
    }

    pub fn family(self) -> Family {
        self.field().map_or(Family::Any, Field::family)
    }

    /// The same attribute in the given IP version.
    pub fn for_family(self, v6: bool) -> Attr {
        match self {
            Attr::Field(f) => Attr::Field(f.for_family(v6)),
            other => other,
        }
    }
}

/// `synlab.tcp.option.0` … `synlab.tcp.option.255`, built once so that
/// [`Attr::name`] can lend a `&'static str` for every key.
fn unknown_option_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        (0..=u8::MAX)
            .map(|k| format!("{UNKNOWN_OPTION_PREFIX}{k}"))
            .collect()
    })
}

/// Bytes of an [`Attr::json_key_slot`]: room for every name of the table.
pub const JSON_KEY_SLOT: usize = 48;

impl PartialOrd for Attr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Attr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order().cmp(&other.order())
    }
}

impl PartialEq<&str> for Attr {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

impl fmt::Display for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for Attr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A name that is not in the vocabulary.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub struct UnknownAttribute {
    pub name: String,
    /// The closest known name, when one is close.
    pub suggestion: Option<&'static str>,
}

impl fmt::Display for UnknownAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown attribute {:?}", self.name)?;
        match self.suggestion {
            Some(s) => write!(f, " (did you mean {s}?)"),
            None => f.write_str(
                " (`synlab fields` lists them; other TCP options are synlab.tcp.option.KIND)",
            ),
        }
    }
}

impl FromStr for Field {
    type Err = UnknownAttribute;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<Attr>()? {
            Attr::Field(f) => Ok(f),
            Attr::UnknownOption(_) => Err(UnknownAttribute {
                name: s.to_owned(),
                suggestion: None,
            }),
        }
    }
}

impl FromStr for Attr {
    type Err = UnknownAttribute;
    /// The one place where attribute names are parsed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(f) = Field::ALL.iter().find(|f| f.name() == s) {
            return Ok(Attr::Field(*f));
        }
        if let Some(k) = s
            .strip_prefix(UNKNOWN_OPTION_PREFIX)
            .and_then(|k| k.parse::<u8>().ok())
        {
            return Ok(Attr::UnknownOption(k));
        }
        Err(UnknownAttribute {
            name: s.to_owned(),
            suggestion: suggest(s),
        })
    }
}

/// The known name closest to `s`: the vocabulary name of a common alias
/// (`mss`, `tcp.window.scale`, p0f's and other tools' words), else the
/// closest by edit distance, if it is within a third of the name's length
/// (a typo, not a different word). Aliases are only suggested, never
/// accepted: one name per attribute.
pub fn suggest(s: &str) -> Option<&'static str> {
    let lower = s.to_ascii_lowercase();
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == lower)
        .map(|&(_, name)| name)
        .or_else(|| suggest_among(s, Field::ALL.iter().map(|f| f.name())))
}

/// Names people reach for, and the vocabulary's name for each.
const ALIASES: &[(&str, &str)] = &[
    ("mss", "tcp.options.mss_val"),
    ("tcp.mss", "tcp.options.mss_val"),
    ("tcp.options.mss.value", "tcp.options.mss_val"),
    ("ttl", "ip.ttl"),
    ("hlim", "ipv6.hlim"),
    ("hop_limit", "ipv6.hlim"),
    ("df", "ip.flags.df"),
    ("dscp", "ip.dsfield.dscp"),
    ("ecn", "ip.dsfield.ecn"),
    ("tos", "ip.dsfield.dscp"),
    ("window", "tcp.window_size_value"),
    ("win", "tcp.window_size_value"),
    ("tcp.window", "tcp.window_size_value"),
    ("tcp.window_size", "tcp.window_size_value"),
    ("wscale", "tcp.options.wscale.shift"),
    ("window_scale", "tcp.options.wscale.shift"),
    ("tcp.window.scale", "tcp.options.wscale.shift"),
    ("tcp.wscale", "tcp.options.wscale.shift"),
    ("tcp.options.wscale_val", "tcp.options.wscale.shift"),
    ("sack", "tcp.options.sack_perm"),
    ("sackok", "tcp.options.sack_perm"),
    ("sok", "tcp.options.sack_perm"),
    ("ts", "tcp.options.timestamp"),
    ("timestamps", "tcp.options.timestamp"),
    ("tcp.options.timestamps", "tcp.options.timestamp"),
    ("tcp.options.ts", "tcp.options.timestamp"),
    ("flow_label", "ipv6.flow"),
    ("id", "ip.id"),
    ("ipid", "ip.id"),
];

/// The name among `names` closest to `s`, by the same measure as [`suggest`]
/// (for vocabularies beside the attributes', e.g. output columns).
pub fn suggest_among(s: &str, names: impl Iterator<Item = &'static str>) -> Option<&'static str> {
    let (best, distance) = names
        .map(|n| (n, edit_distance(s, n)))
        .min_by_key(|&(_, d)| d)?;
    (distance > 0 && distance <= (s.len() / 3).max(1)).then_some(best)
}

/// Levenshtein distance in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let next = (diag + cost).min(row[j] + 1).min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod alias_tests {
    use super::*;

    /// Issue 21: `mss` and `tcp.window.scale` were "unknown attribute"
    /// with no pointer to the name synlab uses.
    #[test]
    fn common_aliases_point_to_the_vocabulary_name() {
        for (alias, name) in [
            ("mss", "tcp.options.mss_val"),
            ("tcp.window.scale", "tcp.options.wscale.shift"),
            ("TTL", "ip.ttl"),
        ] {
            let e = alias.parse::<Attr>().err();
            assert_eq!(e.and_then(|e| e.suggestion), Some(name), "{alias}");
        }
        // Every alias points to a real name.
        for (alias, name) in ALIASES {
            assert!(name.parse::<Attr>().is_ok(), "{alias} -> {name}");
            assert!(alias.parse::<Attr>().is_err(), "{alias} is a real name");
        }
    }
}

/// Wireshark's two-sided fields (`tcp.port`, `ip.addr`, `ipv6.addr`): a
/// filter on one matches either side. Not attributes of a packet, but
/// names of the same vocabulary, so they are defined beside the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pair {
    TcpPort,
    IpAddr,
    Ipv6Addr,
}

impl Pair {
    pub const ALL: [Pair; 3] = [Pair::TcpPort, Pair::IpAddr, Pair::Ipv6Addr];

    pub const fn name(self) -> &'static str {
        match self {
            Pair::TcpPort => "tcp.port",
            Pair::IpAddr => "ip.addr",
            Pair::Ipv6Addr => "ipv6.addr",
        }
    }

    /// The source and destination fields it stands for.
    pub const fn sides(self) -> [Field; 2] {
        match self {
            Pair::TcpPort => [Field::TcpSrcport, Field::TcpDstport],
            Pair::IpAddr => [Field::IpSrc, Field::IpDst],
            Pair::Ipv6Addr => [Field::Ipv6Src, Field::Ipv6Dst],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_json_key_fits_its_slot() {
        let all = Field::ALL.iter().map(|f| Attr::Field(*f));
        for a in all.chain((0..=u8::MAX).map(Attr::UnknownOption)) {
            let (slot, len) = a.json_key_slot();
            assert_eq!(
                slot[..len],
                *format!(",{}", a.json_key()).as_bytes(),
                "{a:?}"
            );
        }
    }

    #[test]
    fn names_are_unique_and_parse_back() {
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(f.position(), i);
            assert!(
                Field::ALL[i + 1..].iter().all(|g| g.name() != f.name()),
                "{f} twice"
            );
            assert_eq!(f.name().parse::<Field>(), Ok(*f));
        }
    }

    #[test]
    fn twins_are_symmetric_and_cross_families() {
        for f in Field::ALL {
            if let Some(t) = f.twin() {
                assert_eq!(t.twin(), Some(*f), "{f}");
                assert_ne!(t.family(), f.family(), "{f}");
            }
        }
        assert_eq!(Field::IpTtl.for_family(true), Field::Ipv6Hlim);
        assert_eq!(Field::Ipv6Hlim.for_family(false), Field::IpTtl);
        assert_eq!(Field::IpTtl.for_family(false), Field::IpTtl);
    }

    #[test]
    fn unknown_options_sort_before_tcp_len_by_kind() {
        let opt = |k| Attr::UnknownOption(k);
        assert!(opt(30) < opt(254));
        assert!(Attr::Field(Field::TcpOptionsTimestampTsecr) < opt(30));
        assert!(opt(255) < Attr::Field(Field::TcpLen));
        assert_eq!(opt(30).kind(), Kind::Behavioural);
        assert_eq!(opt(30).name(), "synlab.tcp.option.30");
        assert_eq!("synlab.tcp.option.30".parse(), Ok(opt(30)));
        assert_eq!(Field::IpId.kind(), Kind::Volatile);
    }

    #[test]
    fn a_typo_gets_a_suggestion() {
        let e = "ip.tll".parse::<Attr>().unwrap_err();
        assert_eq!(e.suggestion, Some("ip.ttl"));
        assert_eq!(
            e.to_string(),
            "unknown attribute \"ip.tll\" (did you mean ip.ttl?)"
        );
        let e = "tcp.options.sackperm".parse::<Attr>().unwrap_err();
        assert_eq!(e.suggestion, Some("tcp.options.sack_perm"));
        assert_eq!("frobnicate".parse::<Attr>().unwrap_err().suggestion, None);
        assert!("synlab.tcp.option.256".parse::<Attr>().is_err());
    }
}
