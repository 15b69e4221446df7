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
//! side by side here, as do the TCP options (parse and emit) and the rule
//! language (a filter over attributes).

mod attributes;
pub mod craft;
mod decode;
pub mod edit;
mod options;
pub mod p0f;
pub mod p0f_db;
pub mod rule;
mod vocab;

pub use attributes::{Attributes, Key, Value};
pub(crate) use decode::ipv4_text;
pub use decode::{
    decode_frame, DecodeError, Decoded, IcmpError, LinkType, QuotedTcp, Segment, Skip, TcpFlags,
    MAX_VLAN_TAGS,
};
pub use options::{
    parse_options, BadLayoutToken, Layout, LayoutToken, OptionKind, OptionsParse, TcpOption,
};
pub(crate) use vocab::edit_distance;
pub use vocab::{
    suggest, suggest_among, Attr, Family, Field, Kind, Source, UnknownAttribute, ValueType,
    UNKNOWN_OPTION_PREFIX,
};
