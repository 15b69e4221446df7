//! The attribute model: one vocabulary from the parser to the JSON output.
//!
//! Every TCP segment is described by a set of named attributes. Names are
//! Wireshark display-filter field names wherever Wireshark has one, so that
//! `tshark -T fields -e NAME` and synlab agree on names and values; derived
//! attributes carry the `synlab.` prefix. An attribute the packet lacks is
//! absent from the set, never zero.

mod attributes;
mod catalogue;
mod decode;
pub mod p0f;
mod tcp_options;

pub use attributes::{Attributes, Value};
pub use catalogue::{
    field, kind_of, sort_key as catalogue_sort_key, Field, Kind, FIELDS, UNKNOWN_OPTION_PREFIX,
};
pub use decode::{
    decode_frame, DecodeError, Decoded, IcmpError, LinkType, QuotedTcp, Segment, Skip, TcpFlags,
    MAX_VLAN_TAGS,
};
pub use tcp_options::{parse_options, OptionsParse, TcpOption};
