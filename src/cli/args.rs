//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use super::cmd_bisect::BisectArgs;
use super::select::AttemptSpec;
use super::threads::Threads;

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

    /// A directory of profile .toml files (repeatable). Searched before the
    /// directories in SYNLAB_PROFILES (colon-separated) and the built-ins.
    #[arg(long = "profiles", global = true, value_name = "DIR")]
    pub profiles: Vec<PathBuf>,

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
        /// Pcap or pcapng files, or directories of them; `-` reads a capture,
        /// or a list of paths one a line, from standard input. Several are
        /// merged by packet time into one stream (rotated captures: a flow
        /// crossing a file edge is one attempt; `parts` in the JSON names
        /// each packet's file).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print one JSON document instead of a table (compact; attempts
        /// written as they finish, the counts and any error after them).
        #[arg(long, conflicts_with = "jsonl")]
        json: bool,
        /// Print JSON Lines: one compact attempt per line, as each finishes.
        #[arg(long)]
        jsonl: bool,
        /// Indent the `--json` document.
        #[arg(long, requires = "json")]
        pretty: bool,
        /// Track at most this many flows at once; past it the oldest
        /// attempt is finished early and marked `evicted` (memory stays flat
        /// on a SYN flood: about 4 KiB per tracked flow). With --threads,
        /// the cap is shared out between the threads.
        #[arg(long, value_name = "N", default_value_t = crate::handshake::DEFAULT_MAX_FLOWS as u64,
              value_parser = clap::value_parser!(u64).range(1..))]
        max_flows: u64,
        #[command(flatten)]
        threads: Threads,
        /// Only the attempts matching this rule (the `bisect --rule` language
        /// over the SYN, plus synlab.flow.* and the attempt's own
        /// synlab.attempt.outcome, .established, .stalled, .syn_retransmits),
        /// e.g. 'ip.ttl > 100 && synlab.attempt.outcome == reset'.
        #[arg(long, value_name = "EXPR")]
        r#where: Option<String>,
        /// Print one tab-separated line per attempt with these columns, as
        /// `tshark -T fields -e NAME` does: SYN attributes by name (ip.ttl,
        /// synlab.flow.ttl), the SYN-ACK's as syn_ack.NAME, the attempt's
        /// facts as synlab.attempt.NAME (index, client, server, outcome,
        /// established, stalled, rtt_ms, ...). Empty when absent.
        #[arg(long, value_name = "NAME,...", conflicts_with_all = ["json", "jsonl"])]
        fields: Option<super::fields::FieldList>,
        /// Write the attempts to a Parquet file instead, one row each:
        /// the attempt's facts (index, client, server, outcome, rtt_ms, ...),
        /// syn.NAME and syn_ack.NAME for every attribute, typed, null when
        /// absent. DuckDB reads a directory of them as one table.
        #[arg(long, value_name = "OUT.parquet", conflicts_with_all = ["json", "jsonl", "fields"])]
        parquet: Option<PathBuf>,
        /// With --parquet DIR: write a hive-partitioned dataset,
        /// DIR/date=YYYY-MM-DD[/vantage=NAME]/part-N.parquet (the UTC day of
        /// each attempt's first SYN). Appendable: each run adds new parts.
        #[arg(long, value_name = "date[,vantage]", requires = "parquet")]
        partition_by: Option<crate::io::parquet_dataset::PartitionBy>,
        /// The name of the place the capture was taken, for
        /// `--partition-by …,vantage` (letters, digits, `.`, `_`, `-`).
        #[arg(long, value_name = "NAME", requires = "partition_by")]
        vantage: Option<crate::io::parquet_dataset::Vantage>,
    },
    /// List the flows that stalled (hung with something outstanding),
    /// grouped by the client's p0f signature, each with the HTTP `Range:`
    /// retries and `206` answers that followed it from the same client.
    ///
    /// Exit status: 0 stalled flows found, 1 none, 2 trouble.
    Stalls {
        /// Pcap or pcapng files, or directories of them; `-` reads a capture,
        /// or a list of paths one a line, from standard input. Several are
        /// merged by packet time into one stream.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        threads: Threads,
    },
    /// Compare two handshakes attribute by attribute.
    ///
    /// A and B are each FILE (its first attempt), FILE#N (attempt N, from 0)
    /// or FILE@IP (the first attempt from that client), or a profile (a name
    /// or a .toml file: its crafted SYN). Exit status: 0 no behavioural
    /// difference, 1 differences, 2 trouble.
    Diff {
        /// The first side: FILE, FILE#N, FILE@IP, `-` (standard input) or a profile.
        a: AttemptSpec,
        /// The second side, in the same forms as A.
        b: AttemptSpec,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Show volatile differences too (addresses, ports, sequence numbers, ip.id, timestamps).
        #[arg(long)]
        all: bool,
        /// Also write a self-contained HTML page to this file: the two SYNs
        /// as header diagrams, differences highlighted, and the table.
        #[arg(long, value_name = "FILE.html")]
        html: Option<PathBuf>,
        #[command(flatten)]
        threads: Threads,
    },
    /// Find which attribute differences between a passing SYN (--good) and a
    /// failing one (--bad) change the outcome.
    ///
    /// The oracle answers probes: --rule EXPR (a simulated middlebox),
    /// --recorded FILE (a capture of many attempts) or --target IP:PORT (live).
    /// Exit status: 0 culprits found, 1 nothing to explain, no set explains
    /// it, or undecided (the answer would rest on variants the oracle does
    /// not know), 2 trouble.
    Bisect(Box<BisectArgs>),
    /// List every attribute name synlab knows, with its kind.
    Fields {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List OS profiles (name, OS family, p0f signature, description), or
    /// show, learn or import one.
    Profiles {
        #[command(subcommand)]
        action: Option<super::cmd_profiles::ProfilesAction>,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write SYNs crafted from a profile to a pcap file (nothing is sent).
    ///
    /// Each SYN is an Ethernet frame with locally administered MACs, correct
    /// lengths and checksums; source ports and sequence numbers increase.
    #[command(mut_args = super::cmd_craft::words)]
    Craft {
        /// A profile name or a path to a profile .toml file.
        #[arg(long)]
        profile: String,
        /// Source address, with an optional first source port (default 40000).
        #[arg(long, value_name = "IP[:PORT]")]
        src: String,
        /// Destination address and port.
        #[arg(long, value_name = "IP:PORT")]
        dst: std::net::SocketAddr,
        /// The pcap file to write.
        #[arg(long, value_name = "FILE.pcap")]
        out: PathBuf,
        /// How many SYNs.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        count: u16,
        #[command(flatten)]
        edit: super::edit_args::EditArgs,
    },
    /// Send profile-crafted SYNs to a target and report each answer.
    ///
    /// Needs CAP_NET_RAW (root, or `setcap cap_net_raw+ep`), and holds no
    /// capability once its sockets are open. Sends only to loopback, or to
    /// the lab's benchmarking ranges 198.18.0.0/15 and 2001:2::/48 from
    /// inside a network namespace (`ip netns exec NS synlab probe ...`, see
    /// scripts/lab.sh), unless --i-own-this-network. The kernel, having no socket for a probe,
    /// answers each SYN-ACK with a RST; --suppress-rst drops those with a
    /// temporary nftables rule scoped to the probes' source ports.
    ///
    /// Each row is printed as its answer arrives. Exit status: 0 every probe
    /// was answered (syn-ack, reset or icmp), 1 some were not (no-reply);
    /// with --exchange, 0 every exchange completed, 1 some did not (stalled,
    /// reset, no reply); 2 trouble.
    Probe(super::cmd_probe::ProbeArgs),
    /// Where on the path: send the profile's SYN with TTL (hop limit) 1, 2,
    /// ... until the endpoint answers; per hop the router, the round trip,
    /// and the fields its ICMP quote shows changed on the way.
    ///
    /// Needs and sends what `probe` does. A hop that does not answer is
    /// asked again (--attempts) before it is said silent ("* * *"). Exit
    /// status: 0 the endpoint answered, 1 it did not, 2 trouble.
    Trace(super::cmd_trace::TraceArgs),
    /// Capture packets on an interface into a pcap file (Ethernet frames).
    ///
    /// Needs CAP_NET_RAW. Always bounded: stops after --count packets or
    /// --duration seconds (default 10), or on Ctrl-C.
    Capture(super::cmd_capture::CaptureArgs),
    /// Probe every profile (or those named) N times from this host, one
    /// vantage, interleaved round-robin at a bounded rate; per profile the
    /// outcome counts and the pass rate with its 95% interval.
    ///
    /// Needs what `probe` needs and sends only where `probe` may. `--json`
    /// writes the survey document (schema synlab.survey/1) that `synlab
    /// matrix` merges with other vantages'. Ctrl-C stops it (exit 130,
    /// nothing concluded).
    Survey(Box<super::cmd_survey::SurveyArgs>),
    /// Merge survey documents from many vantages into the vantage x profile
    /// table, say what the pattern points at (the path from a vantage, an
    /// OS family, one profile) and the `bisect` to run next for each
    /// failing cell.
    ///
    /// Exit status: 0 every cell passes, 1 some cell fails, 2 trouble
    /// (unreadable file, another schema, another target).
    Matrix(super::cmd_matrix::MatrixArgs),
    /// Translate a rule to nftables (`--to-nft`) or an nft rule to synlab's
    /// rule language (`--from-nft`); refuses, naming the clause, what the
    /// other cannot express. Exit status: 0 translated, 2 trouble.
    Rule(super::cmd_rule::RuleArgs),
    /// Which stacks a rule hits: every profile's SYNs and every SYN of a
    /// corpus of real captures, by OS family with their p0f signatures.
    ///
    /// Exit status: 0 the rule hits no stack, 1 it hits some, 2 trouble.
    Impact(super::cmd_impact::ImpactArgs),
    /// A/B connectivity of several profiles across many targets (a prefix,
    /// a file, stdin) at a set rate from one raw socket: per target works,
    /// broken (naming the failing profile), transient or offline, and a
    /// summary grouped by prefix.
    ///
    /// Needs what `probe` needs and sends only where `probe` may. Exit
    /// status: 0 no target broken, 1 some target broken, 2 trouble; Ctrl-C
    /// prints what was decided (exit 130).
    Sweep(Box<super::cmd_sweep::SweepArgs>),
    /// Print a shell completion script to stdout.
    ///
    /// bash: `synlab completions bash > ~/.local/share/bash-completion/completions/synlab`;
    /// zsh: into a directory of $fpath as `_synlab`; fish:
    /// `synlab completions fish > ~/.config/fish/completions/synlab.fish`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout: `synlab man | man -l -`.
    Man {
        /// The subcommand whose page to print (default: synlab's own).
        command: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// One flag of one subcommand, as clap built it.
    fn flag(cmd: &str, id: &str) -> clap::Arg {
        let cli = Cli::command();
        let sub = cli
            .find_subcommand(cmd)
            .unwrap_or_else(|| panic!("no subcommand {cmd}"));
        let arg = sub
            .get_arguments()
            .find(|a| a.get_id() == id)
            .unwrap_or_else(|| panic!("{cmd} has no --{id}"))
            .clone();
        arg
    }

    fn help(cmd: &str, id: &str) -> String {
        flag(cmd, id)
            .get_help()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    #[test]
    fn the_definitions_pass_clap_checks() {
        Cli::command().debug_assert();
    }

    /// The shared flags are declared once, worded for `probe`; survey,
    /// bisect and craft reword them by id (`mut_args`). A misspelt id there
    /// would silently give them probe's text (and bisect's timeout probe's
    /// default): each rewording must show.
    #[test]
    fn each_command_keeps_its_own_words_for_the_shared_flags() {
        let live = ["timeout", "rate", "suppress_rst", "i_own_this_network"];
        for id in live.iter().chain(&["exchange", "stall_timeout"]) {
            assert_ne!(help("survey", id), help("probe", id), "survey --{id}");
        }
        for id in live
            .iter()
            .chain(&["iface", "src", "exchange", "stall_timeout"])
        {
            assert_ne!(help("bisect", id), help("probe", id), "bisect --{id}");
        }
        for id in ["set", "unset"] {
            assert_ne!(help("bisect", id), help("probe", id), "bisect --{id}");
            assert_ne!(help("craft", id), help("probe", id), "craft --{id}");
        }
        let timeout = flag("bisect", "timeout");
        assert_eq!(timeout.get_default_values(), ["1"]);
        assert_eq!(flag("probe", "timeout").get_default_values(), ["2"]);
        let names = |cmd, id| -> Vec<String> {
            let arg = flag(cmd, id);
            let names = arg.get_value_names().unwrap_or_default();
            names.iter().map(ToString::to_string).collect()
        };
        assert_eq!(names("bisect", "iface"), ["IF"]);
        assert_eq!(names("bisect", "rate"), ["R"]);
        assert_eq!(names("probe", "iface"), ["IFACE"]);
    }
}
