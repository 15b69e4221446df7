//! `huginn-bench FILE.pcap`: huginn-net's TCP analysis over every packet of a
//! pcap file, the way its README runs one offline: `analyze_pcap` in sequential
//! mode on a worker thread, results through a channel to this thread, matched
//! against the bundled p0f database.
//!
//! Prints one line per SYN and SYN+ACK signature (direction, endpoints, the
//! p0f-style signature, the matched OS or `???`) and, on stderr, how many
//! results of each kind came out. Exit codes: 0 done (also on a closed stdout,
//! as with `| head`), 2 the database or the file could not be read.
//!
//! Only for whole, well-formed pcap files (what scripts/gen-bench-pcap.py
//! writes): huginn-net 2.2.1 reads through pcap-file 3.0.0-rc1, whose reader
//! does not advance past a bad record, and `analyze_pcap` logs the error (to
//! `tracing`, silent here) and asks again, so a truncated last record or a
//! packet longer than the header's snaplen spins forever; pcapng is refused.

use huginn_net_db::{SharedTcpSignatureMatcher, TcpDatabase};
use huginn_net_tcp::{HuginnNetTcp, OSQualityMatched, SharedTcpMatcher, TcpAnalysisResult};
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread;

/// Flows huginn-net keeps state for (SYN MSS for the SYN+ACK, timestamps for
/// uptime); as large as p0f's default host table so no handshake of the bench
/// captures is forgotten between its SYN and its SYN+ACK.
const MAX_CONNECTIONS: usize = 10_000;

/// How many results of each kind came out, for the stderr summary.
#[derive(Default)]
struct Counts {
    packets: u64,
    syn: u64,
    syn_ack: u64,
    mtu: u64,
    uptime: u64,
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: huginn-bench FILE.pcap");
        return ExitCode::from(2);
    };
    match run(&path) {
        Ok(counts) => {
            eprintln!(
                "huginn-bench: {} TCP packets, {} SYN, {} SYN+ACK, {} MTU, {} uptime results",
                counts.packets, counts.syn, counts.syn_ack, counts.mtu, counts.uptime
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("huginn-bench: {path}: {message}");
            ExitCode::from(2)
        }
    }
}

/// Analyses `path` on a worker thread and writes the signatures from this one.
fn run(path: &str) -> Result<Counts, String> {
    let database = TcpDatabase::load_default().map_err(|e| format!("p0f database: {e}"))?;
    let matcher: SharedTcpMatcher = Arc::new(SharedTcpSignatureMatcher::new(Arc::new(database)));
    let (sender, receiver) = mpsc::channel::<TcpAnalysisResult>();
    let owned_path = path.to_owned();
    let worker = thread::spawn(move || {
        HuginnNetTcp::new(MAX_CONNECTIONS)
            .with_matcher(matcher)
            .analyze_pcap(&owned_path, sender, None)
            .map_err(|e| e.to_string())
    });
    let mut counts = Counts::default();
    // Returns at the first write error (stdout closed, as with `| head`); the
    // receiver is dropped then, and huginn-net stops at its next packet.
    let written = write_all(receiver, &mut counts);
    let analysed = worker
        .join()
        .map_err(|_| "the analysis thread panicked".to_owned())?;
    analysed?;
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(counts),
    }
}

/// Writes every result that comes through `receiver` to stdout.
fn write_all(receiver: Receiver<TcpAnalysisResult>, counts: &mut Counts) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    for result in receiver {
        write_one(&mut out, &result, counts)?;
    }
    out.flush()
}

/// Writes the SYN and SYN+ACK lines of one packet's result and counts it.
fn write_one(
    out: &mut impl Write,
    result: &TcpAnalysisResult,
    counts: &mut Counts,
) -> io::Result<()> {
    counts.packets += 1;
    counts.mtu += u64::from(result.mtu.is_some());
    counts.uptime +=
        u64::from(result.client_uptime.is_some()) + u64::from(result.server_uptime.is_some());
    if let Some(syn) = &result.syn {
        counts.syn += 1;
        writeln!(
            out,
            "syn {}:{} > {}:{} {} {}",
            syn.source.ip,
            syn.source.port,
            syn.destination.ip,
            syn.destination.port,
            syn.sig,
            os_label(&syn.os_matched)
        )?;
    }
    if let Some(syn_ack) = &result.syn_ack {
        counts.syn_ack += 1;
        writeln!(
            out,
            "syn+ack {}:{} > {}:{} {} {}",
            syn_ack.source.ip,
            syn_ack.source.port,
            syn_ack.destination.ip,
            syn_ack.destination.port,
            syn_ack.sig,
            os_label(&syn_ack.os_matched)
        )?;
    }
    Ok(())
}

/// `name/family/variant` of the matched OS as huginn-net prints it, `???` for none.
fn os_label(matched: &OSQualityMatched) -> String {
    matched.os.as_ref().map_or_else(
        || "???".to_owned(),
        |os| {
            format!(
                "{}/{}/{}",
                os.name,
                os.family.as_deref().unwrap_or("???"),
                os.variant.as_deref().unwrap_or("??")
            )
        },
    )
}
