//! An attempt as a row of typed columns, for the tabular outputs
//! (`handshakes --fields`, `handshakes --parquet`).
//!
//! A column is a fact of the attempt (`synlab.attempt.outcome`), an
//! attribute of its SYN (`ip.ttl`), of the server's SYN-ACK
//! (`syn_ack.ip.ttl`), or of the client's later segments
//! (`synlab.flow.ttl`). Names are parsed here once, with a "did you mean"
//! for a typo, and each column knows its value type, so every output
//! writes the same values under the same names.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::handshake::{Attempt, Outcome};
use crate::model::{suggest_among, Attr, Field, Source, UnknownAttribute, Value, ValueType};

/// Prefix of the SYN-ACK's attributes.
pub const SYN_ACK_PREFIX: &str = "syn_ack.";
/// Prefix of the attempt's own facts.
pub const ATTEMPT_PREFIX: &str = "synlab.attempt.";

/// The type of a column's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellType {
    Bool,
    Int,
    Float,
    Text,
}

impl CellType {
    /// The column type of a vocabulary value type.
    pub fn of(t: ValueType) -> CellType {
        match t {
            ValueType::Bool => CellType::Bool,
            ValueType::Int(_) => CellType::Int,
            ValueType::Text => CellType::Text,
        }
    }
}

/// One value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Bool(bool),
    Int(u64),
    Float(f64),
    Text(String),
}

impl From<&Value> for Cell {
    fn from(v: &Value) -> Cell {
        match v {
            Value::Bool(b) => Cell::Bool(*b),
            Value::Int(n) => Cell::Int(*n),
            Value::Str(s) => Cell::Text(s.clone()),
        }
    }
}

macro_rules! attempt_columns {
    ($( $var:ident $name:literal $ty:ident $help:literal; )*) => {
        /// A fact of the attempt rather than of one of its packets.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum AttemptColumn { $($var),* }

        impl AttemptColumn {
            pub const ALL: &'static [AttemptColumn] = &[$(AttemptColumn::$var),*];

            /// The short name (`outcome`): a Parquet column's name.
            pub const fn name(self) -> &'static str {
                match self { $(AttemptColumn::$var => $name),* }
            }
            pub const fn cell_type(self) -> CellType {
                match self { $(AttemptColumn::$var => CellType::$ty),* }
            }
            pub const fn help(self) -> &'static str {
                match self { $(AttemptColumn::$var => $help),* }
            }
        }
    };
}

attempt_columns! {
    Index "index" Int "The attempt's number in the file, from 0 (FILE#N)";
    Client "client" Text "Client address and port";
    Server "server" Text "Server address and port";
    CommunityId "community_id" Text "The flow's Community ID (v1, seed 0), as Zeek and Suricata write it";
    Outcome "outcome" Text "syn-ack, reset, icmp or no-reply";
    IcmpType "icmp_type" Int "ICMP type of an icmp outcome";
    IcmpCode "icmp_code" Int "ICMP code of an icmp outcome";
    Established "established" Bool "The client acknowledged the SYN-ACK";
    Stalled "stalled" Bool "The established flow hung with something outstanding";
    SynRetransmits "syn_retransmits" Int "Times the client sent its SYN again";
    RttMs "rtt_ms" Float "From the first SYN to the answer, in milliseconds";
    SynFrame "syn_frame" Int "The SYN's frame number (tshark's frame.number)";
    ReplyFrame "reply_frame" Int "The answer's frame number";
    BytesToServer "bytes_to_server" Int "Payload bytes from the client";
    BytesToClient "bytes_to_client" Int "Payload bytes from the server";
    RetransmitsToServer "retransmits_to_server" Int "Client data segments sent again";
    RetransmitsToClient "retransmits_to_client" Int "Server data segments sent again";
    LongestStallMs "longest_stall_ms" Float "Longest wait without progress, in milliseconds";
    StalledAfterBytes "stalled_after_bytes" Int "Bytes from the server when the longest stall began";
}

impl AttemptColumn {
    /// The value for attempt `index` of its file; `None` when absent.
    pub fn value(self, index: usize, a: &Attempt) -> Option<Cell> {
        let ms = |d: std::time::Duration| Cell::Float(d.as_micros() as f64 / 1000.0);
        let icmp = match a.outcome {
            Outcome::Icmp { icmp_type, code } => Some((icmp_type, code)),
            _ => None,
        };
        Some(match self {
            AttemptColumn::Index => Cell::Int(index as u64),
            AttemptColumn::Client => Cell::Text(a.client.to_string()),
            AttemptColumn::Server => Cell::Text(a.server.to_string()),
            AttemptColumn::CommunityId => Cell::Text(a.community_id()),
            AttemptColumn::Outcome => Cell::Text(a.outcome.name().to_owned()),
            AttemptColumn::IcmpType => Cell::Int(icmp?.0.into()),
            AttemptColumn::IcmpCode => Cell::Int(icmp?.1.into()),
            AttemptColumn::Established => Cell::Bool(a.established),
            AttemptColumn::Stalled => Cell::Bool(a.stalled()),
            AttemptColumn::SynRetransmits => Cell::Int(a.syn_retransmits.into()),
            AttemptColumn::RttMs => ms(a.rtt?),
            AttemptColumn::SynFrame => Cell::Int(a.syn_packet),
            AttemptColumn::ReplyFrame => Cell::Int(a.reply_packet?),
            AttemptColumn::BytesToServer => Cell::Int(a.bytes_to_server),
            AttemptColumn::BytesToClient => Cell::Int(a.bytes_to_client),
            AttemptColumn::RetransmitsToServer => Cell::Int(a.retransmits_to_server.into()),
            AttemptColumn::RetransmitsToClient => Cell::Int(a.retransmits_to_client.into()),
            AttemptColumn::LongestStallMs => ms(a.longest_stall?),
            AttemptColumn::StalledAfterBytes => Cell::Int(a.stalled_after()?),
        })
    }
}

/// One column of an attempt's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    /// `synlab.attempt.NAME`.
    Attempt(AttemptColumn),
    /// An attribute of the SYN (`ip.ttl`); `synlab.flow.*` of the flow.
    Syn(Attr),
    /// An attribute of the SYN-ACK (`syn_ack.ip.ttl`); absent unless the
    /// outcome is a SYN-ACK.
    SynAck(Attr),
}

impl Column {
    /// The value for attempt `index` of its file; `None` when absent.
    pub fn value(self, index: usize, a: &Attempt) -> Option<Cell> {
        match self {
            Column::Attempt(c) => c.value(index, a),
            Column::Syn(attr) if attr.source() == Source::Flow => a.flow.get(attr).map(Cell::from),
            Column::Syn(attr) => a.syn.get(attr).map(Cell::from),
            Column::SynAck(attr) => a.syn_ack()?.get(attr).map(Cell::from),
        }
    }

    pub fn cell_type(self) -> CellType {
        match self {
            Column::Attempt(c) => c.cell_type(),
            Column::Syn(Attr::Field(f)) | Column::SynAck(Attr::Field(f)) => {
                CellType::of(f.value_type())
            }
            // Unknown options: their data as hex.
            Column::Syn(Attr::UnknownOption(_)) | Column::SynAck(Attr::UnknownOption(_)) => {
                CellType::Text
            }
        }
    }
}

impl fmt::Display for Column {
    /// The name `--fields` takes: `synlab.attempt.outcome`, `ip.ttl`,
    /// `syn_ack.ip.ttl`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Attempt(c) => write!(f, "{ATTEMPT_PREFIX}{}", c.name()),
            Column::Syn(a) => write!(f, "{a}"),
            Column::SynAck(a) => write!(f, "{SYN_ACK_PREFIX}{a}"),
        }
    }
}

/// A column name that is not one.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ColumnError {
    #[error("{0}")]
    Attribute(UnknownAttribute),
    #[error("unknown attribute {name:?} ({})", match .suggestion {
        Some(s) => format!("did you mean {SYN_ACK_PREFIX}{s}?"),
        None => "`synlab fields` lists them".to_owned(),
    })]
    SynAckAttribute {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("unknown attempt column {name:?} ({})", hint(.suggestion))]
    AttemptColumn {
        name: String,
        suggestion: Option<String>,
    },
    #[error("the SYN-ACK has no flow attributes ({name}: the flow is the client's)")]
    FlowOfSynAck { name: String },
    #[error("empty column name")]
    Empty,
}

fn hint(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("did you mean {s}?"),
        None => format!(
            "they are {}",
            AttemptColumn::ALL
                .iter()
                .map(|c| format!("{ATTEMPT_PREFIX}{}", c.name()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl FromStr for Column {
    type Err = ColumnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ColumnError::Empty);
        }
        if let Some(name) = s.strip_prefix(ATTEMPT_PREFIX) {
            return match AttemptColumn::ALL.iter().find(|c| c.name() == name) {
                Some(c) => Ok(Column::Attempt(*c)),
                None => Err(ColumnError::AttemptColumn {
                    name: s.to_owned(),
                    suggestion: suggest_among(name, AttemptColumn::ALL.iter().map(|c| c.name()))
                        .map(|n| format!("{ATTEMPT_PREFIX}{n}")),
                }),
            };
        }
        if let Some(name) = s.strip_prefix(SYN_ACK_PREFIX) {
            let attr = name
                .parse::<Attr>()
                .map_err(|e| ColumnError::SynAckAttribute {
                    name: s.to_owned(),
                    suggestion: e.suggestion,
                })?;
            if attr.source() == Source::Flow {
                return Err(ColumnError::FlowOfSynAck { name: s.to_owned() });
            }
            return Ok(Column::SynAck(attr));
        }
        s.parse::<Attr>()
            .map(Column::Syn)
            .map_err(ColumnError::Attribute)
    }
}

/// Every column, in order: the attempt's facts, the SYN's attributes
/// (`synlab.flow.*` among them), the SYN-ACK's (named fields only; the
/// data of TCP options without a name are not columns).
pub fn all_columns() -> Vec<Column> {
    let attempt = AttemptColumn::ALL.iter().map(|c| Column::Attempt(*c));
    let syn = Field::ALL.iter().map(|f| Column::Syn(Attr::Field(*f)));
    let syn_ack = Field::ALL
        .iter()
        .filter(|f| f.source() != Source::Flow)
        .map(|f| Column::SynAck(Attr::Field(*f)));
    attempt.chain(syn).chain(syn_ack).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(s: &str) -> Column {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn names_parse_back() {
        for c in all_columns() {
            assert_eq!(col(&c.to_string()), c);
        }
        assert_eq!(col("ip.ttl"), Column::Syn(Attr::Field(Field::IpTtl)));
        assert_eq!(
            col("syn_ack.tcp.options.mss_val"),
            Column::SynAck(Attr::Field(Field::TcpOptionsMssVal))
        );
        assert_eq!(
            col("synlab.attempt.outcome"),
            Column::Attempt(AttemptColumn::Outcome)
        );
        assert_eq!(
            col("synlab.tcp.option.30"),
            Column::Syn(Attr::UnknownOption(30))
        );
    }

    #[test]
    fn typos_are_errors_with_a_suggestion() {
        let err = |s: &str| s.parse::<Column>().err().map(|e| e.to_string());
        assert_eq!(
            err("syn_ack.ip.tll").as_deref(),
            Some("unknown attribute \"syn_ack.ip.tll\" (did you mean syn_ack.ip.ttl?)")
        );
        assert_eq!(
            err("synlab.attempt.outcom").as_deref(),
            Some("unknown attempt column \"synlab.attempt.outcom\" (did you mean synlab.attempt.outcome?)")
        );
        assert!(err("synlab.attempt.zzzzzzzz")
            .is_some_and(|e| e.contains("they are synlab.attempt.index")));
        assert!(err("syn_ack.synlab.flow.ttl").is_some_and(|e| e.contains("flow")));
        assert_eq!(err("").as_deref(), Some("empty column name"));
    }
}
