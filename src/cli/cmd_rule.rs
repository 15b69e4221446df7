//! `synlab rule`: a rule to nftables (`--to-nft`) and back (`--from-nft`),
//! so a predicate found with synlab can be installed in a real middlebox
//! and a middlebox's rule checked with synlab (`crate::rule::to_nft`).

use std::io::Write;

use anyhow::Result;
use clap::Args;

use super::status::Status;
use crate::rule::{from_nft, to_nft, Rule, Scope};

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RuleArgs {
    /// Print the nft rules (one a line, for `nft add rule inet TABLE CHAIN
    /// ...`) that drop what the synlab rule EXPR matches.
    #[arg(long, value_name = "EXPR")]
    pub to_nft: Option<String>,
    /// Print the synlab rule that matches what the nft rules TEXT drop (one
    /// a line or separated by `;`).
    #[arg(long, value_name = "TEXT")]
    pub from_nft: Option<String>,
}

/// Exit 0 with the translation, or an error naming the clause the other
/// language cannot express.
pub fn run(args: &RuleArgs, out: &mut dyn Write) -> Result<Status> {
    if let Some(expr) = &args.to_nft {
        let rule = parse(expr)?;
        for line in to_nft(&rule)? {
            writeln!(out, "{line}")?;
        }
    }
    if let Some(text) = &args.from_nft {
        writeln!(out, "{}", from_nft(text)?)?;
    }
    Ok(Status::Ok)
}

/// A rule over a connection (the SYN and, for `synlab.flow.*`, its later
/// segments), as `bisect --rule` takes it; the error shows the column.
pub(super) fn parse(expr: &str) -> Result<Rule> {
    Rule::parse_in(expr, Scope::Connection)
        .map_err(|e| anyhow::anyhow!("invalid rule: {}", e.render(expr)))
}
