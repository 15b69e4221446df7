//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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
    /// List every attribute name synlab knows, with its kind.
    Fields {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send profile-crafted SYNs to a target and report each answer.
    ///
    /// Needs CAP_NET_RAW (root, or `setcap cap_net_raw+ep`). Sends only to
    /// loopback, or from inside a network namespace other than the initial
    /// one (a lab: `ip netns exec NS synlab probe ...`), unless
    /// --i-own-this-network. The kernel, having no socket for a probe,
    /// answers each SYN-ACK with a RST; --suppress-rst drops those with a
    /// temporary nftables rule scoped to the probes' source ports.
    Probe(super::cmd_probe::ProbeArgs),
    /// Capture packets on an interface into a pcap file (Ethernet frames).
    ///
    /// Needs CAP_NET_RAW. Always bounded: stops after --count packets or
    /// --duration seconds (default 10), or on Ctrl-C.
    Capture(super::cmd_capture::CaptureArgs),
}
