//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use super::cmd_bisect::BisectArgs;
use super::select::AttemptSpec;

/// synlab: diff two TCP/IP stacks' handshakes attribute by attribute, and
/// find which differences change the outcome.
#[derive(Debug, Parser)]
#[command(name = "synlab", version, about, long_about = None)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); SYNLAB_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// When to color the output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the connection attempts in a capture, one row each, with outcomes.
    Handshakes {
        /// A pcap or pcapng file.
        file: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Compare two handshakes attribute by attribute.
    ///
    /// A and B are each FILE (its first attempt), FILE#N (attempt N, from 0)
    /// or FILE@IP (the first attempt from that client). Exit status: 0 no
    /// behavioural difference, 1 differences, 2 trouble.
    Diff {
        a: AttemptSpec,
        b: AttemptSpec,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Show volatile differences too (addresses, ports, sequence numbers, ip.id, timestamps).
        #[arg(long)]
        all: bool,
    },
    /// Find which attribute differences between a passing SYN (--good) and a
    /// failing one (--bad) change the outcome.
    ///
    /// The oracle answers probes: --rule EXPR (a simulated middlebox),
    /// --recorded FILE (a capture of many attempts) or --target IP:PORT (live).
    /// Exit status: 0 culprits found, 1 nothing to explain or no set explains
    /// it, 2 trouble.
    Bisect(Box<BisectArgs>),
    /// List every attribute name synlab knows, with its kind.
    Fields {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}
