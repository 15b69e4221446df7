//! The attribute model: one vocabulary from the parser to the JSON output.
//!
//! Every TCP segment is described by a set of attributes keyed by the
//! vocabulary ([`vocab`]: one table of names, kinds, types, IPv4/IPv6 twins
//! and option tokens). Names are Wireshark display-filter field names
//! wherever Wireshark has one, so that `tshark -T fields -e NAME` and synlab
//! agree on names and values; derived attributes carry the `synlab.` prefix.
//! An attribute the packet lacks is absent from the set, never zero.
//!
//! Decoding (bytes to attributes) and crafting (attributes to bytes) sit
//! side by side here, as do the TCP options (parse and emit). The rule
//! language (a filter over attributes) is its own top-level module, `rule`.
//! Where each header field sits is not written here but in
//! [`crate::wire`]: decode reads its views, craft fills its `Repr`s.

mod attributes;
pub mod craft;
mod decode;
pub mod edit;
mod option_kind;
mod options;
mod tcp_flags;
mod vocab;

pub use attributes::{Attributes, Key, Value};
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub use decode::fast_agrees_with_lax;
pub use decode::ipv4_text;
pub use decode::{
    decode_frame, fast_tcp_endpoints, DecodeError, Decoded, FlowFacts, IcmpError, LinkType,
    QuotedTcp, Segment, Skip, MAX_VLAN_TAGS,
};
pub use options::{
    parse_options, BadLayoutToken, Layout, LayoutToken, OptionKind, OptionsParse, TcpOption,
};
pub use tcp_flags::TcpFlags;
pub use vocab::edit_distance;
pub use vocab::{
    suggest, suggest_among, Attr, Family, Field, Kind, Pair, Source, UnknownAttribute, ValueType,
    UNKNOWN_OPTION_PREFIX,
};
