//! `--set` and `--unset`, the edits `probe`, `bisect` and `craft` make to a
//! profile's attributes: declared once, checked against the vocabulary as
//! they are parsed (a typo is an error with a suggestion, exit 2, before
//! anything is sent), and applied by one function. The wording is
//! `probe`'s; a command that means something more (bisect edits both sides)
//! rewords them with `#[command(mut_args = ...)]`, which keeps their order.

use anyhow::Result;
use clap::Args;

use crate::model::edit::{self, Change};
use crate::model::{Attributes, Field};

// No doc comment: on a flattened group clap would take it as the command's about.
#[derive(Debug, Args)]
#[group(skip)]
pub struct EditArgs {
    /// Change one of the profile's attributes (NAME=VALUE; repeatable), e.g.
    /// --set ip.ttl=128 --set tcp.flags.ece=true. The name and the value's
    /// type are checked; ip.id, tcp.seq_raw and the timestamps are sent as
    /// given; tcp.srcport is the first probe's source port (the others count up).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
    pub set: Vec<Change>,
    /// Remove one of the profile's attributes (repeatable): an option's
    /// value or presence removes the option from the layout; a flag is cleared.
    #[arg(long = "unset", value_name = "NAME", value_parser = parse_unset)]
    pub unset: Vec<Change>,
}

impl EditArgs {
    /// `base` with these edits made; see [`apply`].
    pub fn apply(&self, base: &Attributes, v6: bool) -> Result<Edited> {
        apply(base, &self.set, &self.unset, v6)
    }

    /// Whether no attribute is edited.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.unset.is_empty()
    }
}

/// `--set NAME=VALUE`, checked against the vocabulary (a typo is an error
/// with a suggestion, exit 2, before anything is sent).
pub fn parse_set(s: &str) -> Result<Change, String> {
    Change::parse_set(s).map_err(|e| e.to_string())
}

/// `--unset NAME`, checked as `--set` is.
pub fn parse_unset(s: &str) -> Result<Change, String> {
    Change::parse_unset(s).map_err(|e| e.to_string())
}

/// A profile's attributes with `--unset` and `--set` made (unsets first),
/// and the source port `--set tcp.srcport` chose, taken out of the
/// attributes so that each probe still gets its own port from there.
pub struct Edited {
    pub attributes: Attributes,
    pub changes: Vec<Change>,
    pub first_port: Option<u16>,
}

pub fn apply(base: &Attributes, set: &[Change], unset: &[Change], v6: bool) -> Result<Edited> {
    let changes: Vec<Change> = unset.iter().chain(set).cloned().collect();
    let mut attributes = edit::apply(base, &changes, v6)?;
    let first_port = attributes
        .remove(Field::TcpSrcport)
        .and_then(|v| v.as_u64())
        .map(|p| p as u16);
    Ok(Edited {
        attributes,
        changes,
        first_port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    #[test]
    fn set_values_are_typed() {
        assert_eq!(
            parse_set("ip.ttl=128"),
            Ok(Change::Set(Field::IpTtl.into(), Value::Int(128)))
        );
        assert!(parse_set("nothing").is_err());
        assert!(parse_set("=1").is_err());
        let typo = parse_set("ip.tll=128").unwrap_err();
        assert!(typo.contains("did you mean ip.ttl?"), "{typo}");
        let typo = parse_unset("tcp.options.sackperm").unwrap_err();
        assert!(
            typo.contains("did you mean tcp.options.sack_perm?"),
            "{typo}"
        );
    }

    #[test]
    fn a_chosen_source_port_starts_the_probes_ports() {
        let set = [parse_set("tcp.srcport=50000").unwrap_or_else(|e| panic!("{e}"))];
        let e = apply(&crate::model::craft::linux_example(), &set, &[], false)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.first_port, Some(50000));
        assert!(!e.attributes.contains(Field::TcpSrcport));
    }
}
