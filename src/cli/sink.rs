//! Where `handshakes` sends its attempts: one finished attempt at a time,
//! then a closing call with what reading came to. Nothing waits for the end
//! of the file, so the first attempt is printed as soon as it is decided
//! and `synlab handshakes BIG | head` stops at once.
//!
//! A new output format is one more [`Sink`]: the table ([`TableSink`]), one
//! JSON document ([`JsonSink`]), JSON Lines ([`JsonlSink`]), tshark-like
//! columns ([`FieldsSink`]) and a Parquet file ([`ParquetFileSink`]) are here.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::fields::FieldList;
use super::output::{self, Style};
use crate::handshake::{Attempt, FlowEnd, Outcome, PacketOrigin, Parts};
use crate::http::{Request, Response};
use crate::io::load::Summary;
use crate::io::parquet_dataset::{DatasetError, DatasetSink, PartitionBy, Vantage};
use crate::io::parquet_out::{ParquetOutError, ParquetSink};
use crate::model::{Attributes, Field, Value};

/// Takes finished attempts one at a time, then the end of the capture.
pub trait Sink {
    /// One attempt that passed the filter, with its index in the file.
    fn attempt(&mut self, index: usize, a: &Attempt) -> io::Result<()>;
    /// Reading ended: `shown` attempts were given to [`Sink::attempt`]
    /// or [`Sink::rendered`].
    fn finish(&mut self, summary: &Summary, shown: usize) -> io::Result<()>;
    /// How this sink's rows can be made away from it (on the thread that
    /// tracked the attempt, `--threads`), if they can: then
    /// [`Sink::rendered`] takes them in place of [`Sink::attempt`].
    fn renderer(&self) -> Option<Renderer> {
        None
    }
    /// One attempt's row as its [`Sink::renderer`] made it: the text that
    /// follows the index.
    fn rendered(&mut self, index: usize, tail: &[u8]) -> io::Result<()> {
        let _ = (index, tail);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this output takes attempts, not rendered rows",
        ))
    }
}

/// A row made apart from its sink (see [`Sink::renderer`]): everything but
/// the attempt's index, which is known only once every thread's attempts
/// are numbered; the sink writes the index, then the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renderer {
    /// Compact JSON, as `--json` and `--jsonl` write an attempt.
    CompactJson,
    /// The same, then a newline (`--jsonl`).
    JsonLine,
}

impl Renderer {
    /// The row of `a`, without its index, in a buffer from `pool`.
    pub fn render(self, a: &Attempt, pool: &RowPool) -> io::Result<Vec<u8>> {
        let mut out = pool.take();
        write_attempt_after_index(&mut out, a)?;
        if self == Renderer::JsonLine {
            out.push(b'\n');
        }
        Ok(out)
    }
}

/// Row buffers handed back by the thread that wrote them, for the
/// tracking threads to render into again.
///
/// Why: a row is made on a tracking thread and written (then freed) on the
/// merging one. Freeing each of a few hundred thousand buffers on a thread
/// other than its allocator's cost more CPU than rendering them (issue 25:
/// `--threads 2` spent 1.7-1.9 s of CPU where one thread spends 1.0 s);
/// reusing them keeps each buffer's memory moving between two threads
/// only. At most [`RowPool::KEEP`] are kept, so memory stays flat.
#[derive(Default)]
pub struct RowPool {
    free: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl RowPool {
    /// Buffers kept at most (about 4 KiB each).
    const KEEP: usize = 1024;
    /// A new buffer's room: one SYN-heavy attempt's row is about 2.7 KB.
    const ROOM: usize = 4096;

    /// An empty buffer: a returned one, or a new one.
    pub fn take(&self) -> Vec<u8> {
        let reused = self.free.lock().ok().and_then(|mut free| free.pop());
        reused.unwrap_or_else(|| Vec::with_capacity(Self::ROOM))
    }

    /// Buffers written out, handed back together once this many are: the
    /// lock's cache line then moves to the writing thread once a batch,
    /// not once a row (with two threads, handing each back alone was 3.5%
    /// of the main thread's CPU time, `perf record -e cpu-clock`).
    pub const BATCH: usize = 64;

    /// Buffers written out (`bufs`, left empty): kept for
    /// [`RowPool::take`] unless enough are.
    pub fn give_back(&self, bufs: &mut Vec<Vec<u8>>) {
        if let Ok(mut free) = self.free.lock() {
            let room = Self::KEEP.saturating_sub(free.len());
            free.extend(bufs.drain(..).take(room).map(|mut buf| {
                buf.clear();
                buf
            }));
        }
        bufs.clear();
    }
}

/// What [`write_attempt`] writes before the index.
const INDEX_KEY: &[u8] = b"{\"index\":";

/// The output formats of `handshakes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    /// One JSON document; indented when `pretty`.
    Json {
        pretty: bool,
    },
    /// One compact JSON object per attempt and line.
    Jsonl,
}

/// The sink for `format`, writing to `out`.
pub fn for_format<'a>(
    format: Format,
    path: &Path,
    style: Style,
    out: &'a mut dyn Write,
) -> Box<dyn Sink + 'a> {
    match format {
        Format::Table => Box::new(TableSink::new(path, style, out)),
        Format::Json { pretty } => Box::new(JsonSink::new(path, pretty, out)),
        Format::Jsonl => Box::new(JsonlSink {
            out,
            buf: Vec::new(),
        }),
    }
}

// ---------------------------------------------------------------- fields

/// `--fields`: one tab-separated line per attempt, as `tshark -T fields`.
pub struct FieldsSink<'a> {
    list: &'a FieldList,
    out: &'a mut dyn Write,
}

impl<'a> FieldsSink<'a> {
    pub fn new(list: &'a FieldList, out: &'a mut dyn Write) -> Self {
        FieldsSink { list, out }
    }
}

impl Sink for FieldsSink<'_> {
    fn attempt(&mut self, index: usize, a: &Attempt) -> io::Result<()> {
        writeln!(self.out, "{}", self.list.format_row(index, a))
    }

    fn finish(&mut self, _: &Summary, _: usize) -> io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------- parquet

/// `--parquet OUT`: rows written in row groups as attempts finish (memory
/// stays flat), then one line on `out` saying how many.
pub struct ParquetFileSink<'a> {
    sink: Option<ParquetSink>,
    path: PathBuf,
    out: &'a mut dyn Write,
}

impl<'a> ParquetFileSink<'a> {
    pub fn create(
        path: &Path,
        source: &Path,
        out: &'a mut dyn Write,
    ) -> Result<Self, ParquetOutError> {
        Ok(ParquetFileSink {
            sink: Some(ParquetSink::create(path, source)?),
            path: path.to_owned(),
            out,
        })
    }
}

impl Sink for ParquetFileSink<'_> {
    fn attempt(&mut self, index: usize, a: &Attempt) -> io::Result<()> {
        match &mut self.sink {
            Some(sink) => sink.push(index, a).map_err(io::Error::other),
            None => Err(io::Error::other("the Parquet file was already finished")),
        }
    }

    fn finish(&mut self, _: &Summary, _: usize) -> io::Result<()> {
        let Some(sink) = self.sink.take() else {
            return Ok(());
        };
        let rows = sink.finish().map_err(io::Error::other)?;
        let s = if rows == 1 { "" } else { "s" };
        writeln!(
            self.out,
            "wrote {rows} attempt{s} to {}",
            self.path.display()
        )
    }
}

/// `--parquet DIR --partition-by KEYS [--vantage NAME]`.
#[derive(Clone)]
pub struct DatasetTarget<'a> {
    pub dir: &'a Path,
    pub by: PartitionBy,
    pub vantage: Option<Vantage>,
}

/// `--parquet DIR --partition-by …`: rows added to the partitions of a
/// dataset, then one line on `out` saying how many and in how many files.
pub struct DatasetFileSink<'a> {
    sink: Option<DatasetSink>,
    dir: PathBuf,
    out: &'a mut dyn Write,
}

impl<'a> DatasetFileSink<'a> {
    pub fn create(
        target: DatasetTarget<'_>,
        source: &Path,
        out: &'a mut dyn Write,
    ) -> Result<Self, DatasetError> {
        Ok(DatasetFileSink {
            sink: Some(DatasetSink::create(
                target.dir,
                source,
                &target.by,
                target.vantage,
            )?),
            dir: target.dir.to_owned(),
            out,
        })
    }
}

impl Sink for DatasetFileSink<'_> {
    fn attempt(&mut self, index: usize, a: &Attempt) -> io::Result<()> {
        match &mut self.sink {
            Some(sink) => sink.push(index, a).map_err(io::Error::other),
            None => Err(io::Error::other("the Parquet dataset was already finished")),
        }
    }

    fn finish(&mut self, _: &Summary, _: usize) -> io::Result<()> {
        let Some(sink) = self.sink.take() else {
            return Ok(());
        };
        let (rows, files) = sink.finish().map_err(io::Error::other)?;
        let s = if rows == 1 { "" } else { "s" };
        writeln!(
            self.out,
            "wrote {rows} attempt{s} to {} new file{} under {}",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            self.dir.display()
        )?;
        for f in files {
            writeln!(self.out, "  {}", f.display())?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- table

/// Column widths are fixed (an IPv4 `address:port` fits; a longer IPv6 one
/// pushes its row right), so each row is printed as soon as it comes.
const ADDR_WIDTH: usize = 21;

/// The table a person reads: one row per attempt, a summary line.
pub struct TableSink<'a> {
    path: String,
    style: Style,
    out: &'a mut dyn Write,
    header_done: bool,
}

impl<'a> TableSink<'a> {
    pub fn new(path: &Path, style: Style, out: &'a mut dyn Write) -> Self {
        TableSink {
            path: path.display().to_string(),
            style,
            out,
            header_done: false,
        }
    }

    fn header(&mut self) -> io::Result<()> {
        let w = ADDR_WIDTH;
        let header = format!(
            "{:>3}  {:<w$}  {:<w$}  {:<9}  {:<7}  {:>8}  {:>9}  {:>3}  {:>5}  {:>5}  {:>9}  {:>9}  {:>9}  {:>8}  {}",
            "#",
            "client",
            "server",
            "outcome",
            "est",
            "syn-retx",
            "rtt",
            "ttl",
            "win",
            "mss",
            "bytes-up",
            "bytes-dn",
            "data-retx",
            "stall",
            "options"
        );
        writeln!(self.out, "{}", self.style.bold(&header))
    }
}

impl Sink for TableSink<'_> {
    fn attempt(&mut self, i: usize, a: &Attempt) -> io::Result<()> {
        if !self.header_done {
            self.header_done = true;
            self.header()?;
        }
        let w = ADDR_WIDTH;
        let rtt = a.rtt.map_or_else(
            || "-".into(),
            |d| format!("{:.3}ms", d.as_secs_f64() * 1000.0),
        );
        writeln!(
            self.out,
            "{:>3}  {:<w$}  {:<w$}  {}  {:<7}  {:>8}  {:>9}  {:>3}  {:>5}  {:>5}  {:>9}  {:>9}  {:>9}  {:>8}  {}",
            i,
            a.client.to_string(),
            a.server.to_string(),
            output::outcome_cell(a, self.style),
            match (a.established, a.stalled()) {
                (true, true) => "stalled",
                (true, false) => "yes",
                (false, _) => "no",
            },
            a.syn_retransmits,
            rtt,
            output::ttl(&a.syn),
            output::get(&a.syn, Field::TcpWindowSizeValue),
            output::get(&a.syn, Field::TcpOptionsMssVal),
            a.bytes_to_server,
            a.bytes_to_client,
            format!("{}/{}", a.retransmits_to_server, a.retransmits_to_client),
            a.longest_stall.map_or_else(|| "-".into(), output::seconds),
            output::options_cell(a),
        )
    }

    fn finish(&mut self, s: &Summary, shown: usize) -> io::Result<()> {
        let packets = output::plural(s.packets, "packet", "packets");
        if shown == 0 {
            if s.attempts > 0 {
                let total = output::plural(s.attempts as u64, "attempt", "attempts");
                writeln!(
                    self.out,
                    "{}: none of {total} matches, in {packets}",
                    self.path
                )?;
            } else if s.error.is_none() || s.packets > 0 {
                writeln!(
                    self.out,
                    "{}: no connection attempts in {packets}",
                    self.path
                )?;
            }
            return Ok(());
        }
        let attempts = if shown == s.attempts {
            output::plural(s.attempts as u64, "attempt", "attempts")
        } else {
            format!("{shown} of {} attempts", s.attempts)
        };
        let mut summary = format!("{attempts} in {packets} ({} not TCP", s.skipped);
        if s.evicted > 0 {
            summary.push_str(&format!(
                ", {} evicted at the flow-table cap: --max-flows",
                s.evicted
            ));
        }
        summary.push(')');
        writeln!(self.out, "{}", self.style.dim(&summary))
    }
}

// ----------------------------------------------------------------- JSON

/// `handshakes --json`: one document, `{"file", "handshakes": [...],
/// "packets", "evicted", "error", "warnings"?}`. The attempts are written
/// as they come; what is known only at the end follows them.
pub struct JsonSink<'a> {
    pretty: bool,
    out: &'a mut dyn Write,
    path: String,
    /// Attempts written so far (a comma goes before all but the first).
    written: usize,
    /// One attempt's text, written to `out` at once.
    buf: Vec<u8>,
}

impl<'a> JsonSink<'a> {
    pub fn new(path: &Path, pretty: bool, out: &'a mut dyn Write) -> Self {
        JsonSink {
            pretty,
            out,
            path: path.display().to_string(),
            written: 0,
            buf: Vec::new(),
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if self.pretty {
            self.out.write_all(b"{\n  \"file\": ")?;
            serde_json::to_writer(&mut *self.out, &self.path)?;
            self.out.write_all(b",\n  \"handshakes\": [")
        } else {
            self.out.write_all(b"{\"file\":")?;
            serde_json::to_writer(&mut *self.out, &self.path)?;
            self.out.write_all(b",\"handshakes\":[")
        }
    }
}

impl Sink for JsonSink<'_> {
    fn attempt(&mut self, index: usize, a: &Attempt) -> io::Result<()> {
        if self.written == 0 {
            self.start()?;
        } else {
            self.out.write_all(b",")?;
        }
        self.written += 1;
        if self.pretty {
            // Indented to sit inside the document: 4 spaces deep.
            let text = serde_json::to_string_pretty(&AttemptJson::new(index, a))?;
            for line in text.lines() {
                self.out.write_all(b"\n    ")?;
                self.out.write_all(line.as_bytes())?;
            }
            Ok(())
        } else {
            self.buf.clear();
            write_attempt(&mut self.buf, index, a)?;
            self.out.write_all(&self.buf)
        }
    }

    fn renderer(&self) -> Option<Renderer> {
        (!self.pretty).then_some(Renderer::CompactJson)
    }

    fn rendered(&mut self, index: usize, tail: &[u8]) -> io::Result<()> {
        if self.written == 0 {
            self.start()?;
        } else {
            self.out.write_all(b",")?;
        }
        self.written += 1;
        write_rendered(&mut *self.out, index, tail)
    }

    fn finish(&mut self, s: &Summary, _shown: usize) -> io::Result<()> {
        let trailer = Trailer {
            packets: s.packets,
            evicted: s.evicted,
            error: s.error.as_ref().map(|e| e.to_string()),
            warnings: s.warnings.iter().map(|w| w.to_string()).collect(),
        };
        if self.written == 0 {
            self.start()?;
        }
        let tail = if self.pretty {
            let text = serde_json::to_string_pretty(&trailer)?;
            let body = text.trim_start_matches('{');
            let close = if self.written == 0 { "]," } else { "\n  ]," };
            format!("{close}{body}")
        } else {
            let text = serde_json::to_string(&trailer)?;
            format!("],{}", text.trim_start_matches('{'))
        };
        self.out.write_all(tail.as_bytes())?;
        writeln!(self.out)
    }
}

/// What follows the attempts in the document.
#[derive(Serialize)]
struct Trailer {
    packets: u64,
    /// Attempts the flow-table cap finished early (`--max-flows`).
    evicted: u64,
    error: Option<String>,
    /// Packets skipped with a warning; absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// `handshakes --jsonl`: one compact attempt per line, nothing else (the
/// counts, warnings and errors go to stderr, as with the table).
pub struct JsonlSink<'a> {
    out: &'a mut dyn Write,
    /// One line, written to `out` at once.
    buf: Vec<u8>,
}

impl Sink for JsonlSink<'_> {
    fn attempt(&mut self, index: usize, a: &Attempt) -> io::Result<()> {
        self.buf.clear();
        write_attempt(&mut self.buf, index, a)?;
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }

    fn finish(&mut self, _summary: &Summary, _shown: usize) -> io::Result<()> {
        Ok(())
    }

    fn renderer(&self) -> Option<Renderer> {
        Some(Renderer::JsonLine)
    }

    fn rendered(&mut self, index: usize, tail: &[u8]) -> io::Result<()> {
        write_rendered(&mut *self.out, index, tail)
    }
}

/// A rendered row with its index in front, the row's bytes copied once,
/// by the (buffered) writer: this runs on the merging thread, which
/// reads every row from the cache of the thread that made it, so a copy
/// through a scratch buffer first cost as much as the write (issue 25).
fn write_rendered(out: &mut dyn Write, index: usize, tail: &[u8]) -> io::Result<()> {
    out.write_all(INDEX_KEY)?;
    out.write_all(itoa::Buffer::new().format(index).as_bytes())?;
    out.write_all(tail)
}

/// ICMP details of an `icmp` outcome.
#[derive(Serialize)]
struct IcmpJson {
    #[serde(rename = "type")]
    icmp_type: u8,
    code: u8,
    from: Option<String>,
}

impl IcmpJson {
    fn of(a: &Attempt) -> Option<IcmpJson> {
        match a.outcome {
            Outcome::Icmp { icmp_type, code } => Some(IcmpJson {
                icmp_type,
                code,
                from: a.icmp_from.map(|ip| ip.to_string()),
            }),
            _ => None,
        }
    }
}

/// Milliseconds with microsecond precision, as the JSON gives times.
fn ms(d: std::time::Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// The answer that was not a SYN-ACK (an RST); a SYN-ACK is `syn_ack`
/// alone, not written twice.
fn other_reply(a: &Attempt) -> Option<&Attributes> {
    match a.outcome {
        Outcome::SynAck => None,
        _ => a.reply.as_ref(),
    }
}

/// One attempt as JSON through serde, for `--pretty`. Same keys, order and
/// values as [`write_attempt`] writes by hand (a test holds them equal).
#[derive(Serialize)]
struct AttemptJson<'a> {
    index: usize,
    client: String,
    server: String,
    community_id: String,
    outcome: &'static str,
    icmp: Option<IcmpJson>,
    established: bool,
    syn_retransmits: u32,
    rtt_ms: Option<f64>,
    syn_packet: u64,
    reply_packet: Option<u64>,
    bytes_to_server: u64,
    bytes_to_client: u64,
    retransmits_to_server: u32,
    retransmits_to_client: u32,
    longest_stall_ms: Option<f64>,
    stalled: bool,
    /// Bytes from the server when the longest stall began.
    stalled_after_bytes: Option<u64>,
    end: FlowEnd,
    evicted: bool,
    /// Only when true: finished by a jump of the capture's clock.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    expired_by_jump: bool,
    /// Only when some were seen: RSTs outside their receiver's window,
    /// which did not end the flow.
    #[serde(skip_serializing_if = "is_zero")]
    rsts_out_of_window: u32,
    /// Only when one was seen: a SYN+ACK that did not acknowledge the SYN.
    #[serde(skip_serializing_if = "Option::is_none")]
    unmatched_syn_ack: Option<&'a crate::handshake::UnmatchedSynAck>,
    http_request: Option<&'a crate::http::Request>,
    http_response: Option<&'a crate::http::Response>,
    syn: &'a Attributes,
    syn_ack: Option<&'a Attributes>,
    reply: Option<&'a Attributes>,
    flow: &'a Attributes,
    /// Only when several captures were merged: each packet's file.
    #[serde(skip_serializing_if = "Option::is_none")]
    parts: Option<&'a crate::handshake::Parts>,
}

impl<'a> AttemptJson<'a> {
    fn new(index: usize, a: &'a Attempt) -> Self {
        AttemptJson {
            index,
            client: a.client.to_string(),
            server: a.server.to_string(),
            community_id: a.community_id(),
            outcome: a.outcome.name(),
            icmp: IcmpJson::of(a),
            established: a.established,
            syn_retransmits: a.syn_retransmits,
            rtt_ms: a.rtt.map(ms),
            syn_packet: a.syn_packet,
            reply_packet: a.reply_packet,
            bytes_to_server: a.bytes_to_server,
            bytes_to_client: a.bytes_to_client,
            retransmits_to_server: a.retransmits_to_server,
            retransmits_to_client: a.retransmits_to_client,
            longest_stall_ms: a.longest_stall.map(ms),
            stalled: a.stalled(),
            stalled_after_bytes: a.stalled_after(),
            end: a.end,
            evicted: a.evicted,
            expired_by_jump: a.expired_by_jump,
            rsts_out_of_window: a.rsts_out_of_window,
            unmatched_syn_ack: a.unmatched_syn_ack.as_ref(),
            http_request: a.request.as_ref(),
            http_response: a.response.as_ref(),
            syn: &a.syn,
            syn_ack: a.syn_ack(),
            reply: other_reply(a),
            flow: &a.flow,
            parts: a.parts.as_deref(),
        }
    }
}

/// One attempt as compact JSON, written straight to `out`: keys are
/// static text (none needs escaping), integers go through `itoa`, and only
/// strings that may need escaping (HTTP heads, option data) go through
/// serde. The hot path of `handshakes --json` on a large capture.
fn write_attempt(out: &mut Vec<u8>, index: usize, a: &Attempt) -> io::Result<()> {
    out.extend_from_slice(INDEX_KEY);
    Json { out }.int(index as u64)?;
    write_attempt_after_index(out, a)
}

/// [`write_attempt`] after the index: the part a [`Renderer`] makes.
fn write_attempt_after_index(out: &mut Vec<u8>, a: &Attempt) -> io::Result<()> {
    let mut w = Json { out };
    w.raw(",\"client\":\"")?;
    w.socket(a.client)?;
    w.raw("\",\"server\":\"")?;
    w.socket(a.server)?;
    w.raw("\",\"community_id\":\"")?;
    w.raw(&a.community_id())?;
    w.raw("\",\"outcome\":\"")?;
    w.raw(a.outcome.name())?;
    w.raw("\",\"icmp\":")?;
    w.serde(&IcmpJson::of(a))?;
    w.raw(",\"established\":")?;
    w.bool(a.established)?;
    w.raw(",\"syn_retransmits\":")?;
    w.int(a.syn_retransmits.into())?;
    w.raw(",\"rtt_ms\":")?;
    w.serde(&a.rtt.map(ms))?;
    w.raw(",\"syn_packet\":")?;
    w.int(a.syn_packet)?;
    w.raw(",\"reply_packet\":")?;
    w.opt_int(a.reply_packet)?;
    w.raw(",\"bytes_to_server\":")?;
    w.int(a.bytes_to_server)?;
    w.raw(",\"bytes_to_client\":")?;
    w.int(a.bytes_to_client)?;
    w.raw(",\"retransmits_to_server\":")?;
    w.int(a.retransmits_to_server.into())?;
    w.raw(",\"retransmits_to_client\":")?;
    w.int(a.retransmits_to_client.into())?;
    w.raw(",\"longest_stall_ms\":")?;
    w.serde(&a.longest_stall.map(ms))?;
    w.raw(",\"stalled\":")?;
    w.bool(a.stalled())?;
    w.raw(",\"stalled_after_bytes\":")?;
    w.opt_int(a.stalled_after())?;
    w.raw(",\"end\":")?;
    w.serde(&a.end)?;
    w.raw(",\"evicted\":")?;
    w.bool(a.evicted)?;
    if a.expired_by_jump {
        w.raw(",\"expired_by_jump\":true")?;
    }
    if a.rsts_out_of_window > 0 {
        w.raw(",\"rsts_out_of_window\":")?;
        w.int(a.rsts_out_of_window.into())?;
    }
    if let Some(u) = &a.unmatched_syn_ack {
        w.raw(",\"unmatched_syn_ack\":{\"packet\":")?;
        w.int(u.packet)?;
        w.raw(",\"ack\":")?;
        w.int(u.ack.into())?;
        w.raw(",\"expected\":")?;
        w.int(u.expected.into())?;
        w.raw(",\"attributes\":")?;
        w.attributes(Some(&u.attributes))?;
        w.raw("}")?;
    }
    w.raw(",\"http_request\":")?;
    w.request(a.request.as_ref())?;
    w.raw(",\"http_response\":")?;
    w.response(a.response.as_ref())?;
    w.raw(",\"syn\":")?;
    w.attributes(Some(&a.syn))?;
    w.raw(",\"syn_ack\":")?;
    w.attributes(a.syn_ack())?;
    w.raw(",\"reply\":")?;
    w.attributes(other_reply(a))?;
    w.raw(",\"flow\":")?;
    w.attributes(Some(&a.flow))?;
    if let Some(parts) = &a.parts {
        w.raw(",\"parts\":")?;
        w.parts(parts)?;
    }
    w.raw("}")
}

/// Compact JSON pieces onto a writer.
struct Json<'w> {
    out: &'w mut Vec<u8>,
}

impl Json<'_> {
    fn raw(&mut self, s: &str) -> io::Result<()> {
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    fn int(&mut self, n: u64) -> io::Result<()> {
        let mut buf = itoa::Buffer::new();
        self.raw(buf.format(n))
    }

    /// An address and port as `SocketAddr`'s `Display` writes them; IPv4
    /// through itoa, not the formatter (issue 13).
    fn socket(&mut self, addr: std::net::SocketAddr) -> io::Result<()> {
        match addr {
            std::net::SocketAddr::V4(v4) => {
                self.raw(&crate::model::ipv4_text(v4.ip().octets()))?;
                self.out.push(b':');
                self.int(v4.port().into())
            }
            v6 => write!(self.out, "{v6}"),
        }
    }

    /// An optional string: quoted and escaped as serde writes it, or `null`.
    fn opt_string(&mut self, s: Option<&str>) -> io::Result<()> {
        match s {
            Some(s) => self.string(s),
            None => self.raw("null"),
        }
    }

    /// The request head as serde writes [`Request`] (fields in order), by
    /// hand: one per attempt, and serde's map machinery cost more than
    /// the text (issue 25).
    fn request(&mut self, r: Option<&Request>) -> io::Result<()> {
        let Some(r) = r else {
            return self.raw("null");
        };
        self.raw("{\"method\":")?;
        self.string(&r.method)?;
        self.raw(",\"target\":")?;
        self.string(&r.target)?;
        self.raw(",\"range\":")?;
        self.opt_string(r.range.as_deref())?;
        self.raw("}")
    }

    /// The response head as serde writes [`Response`], by hand (see
    /// [`Json::request`]).
    fn response(&mut self, r: Option<&Response>) -> io::Result<()> {
        let Some(r) = r else {
            return self.raw("null");
        };
        self.raw("{\"status\":")?;
        self.int(r.status.into())?;
        self.raw(",\"content_length\":")?;
        self.opt_int(r.content_length)?;
        self.raw(",\"content_range\":")?;
        self.opt_string(r.content_range.as_deref())?;
        self.raw(",\"head_len\":")?;
        self.int(r.head_len)?;
        self.raw("}")
    }

    /// Where a merged attempt's packets were read, as serde writes
    /// [`Parts`], by hand (see [`Json::request`]): on every attempt of a
    /// merge, through serde it was a twentieth of the run.
    fn parts(&mut self, p: &Parts) -> io::Result<()> {
        self.raw("{\"syn\":")?;
        self.origin(&p.syn)?;
        self.raw(",\"reply\":")?;
        match &p.reply {
            Some(reply) => self.origin(reply)?,
            None => self.raw("null")?,
        }
        self.raw(",\"last\":")?;
        self.origin(&p.last)?;
        self.raw("}")
    }

    fn origin(&mut self, o: &PacketOrigin) -> io::Result<()> {
        self.raw("{\"file\":")?;
        self.string(&o.file)?;
        self.raw(",\"packet\":")?;
        self.int(o.packet)?;
        self.raw("}")
    }

    fn opt_int(&mut self, n: Option<u64>) -> io::Result<()> {
        match n {
            Some(n) => self.int(n),
            None => self.raw("null"),
        }
    }

    fn bool(&mut self, b: bool) -> io::Result<()> {
        self.raw(if b { "true" } else { "false" })
    }

    fn serde<T: Serialize + ?Sized>(&mut self, v: &T) -> io::Result<()> {
        serde_json::to_writer(&mut *self.out, v).map_err(io::Error::from)
    }

    /// A string: as it is when nothing in it needs escaping (addresses,
    /// layouts, signatures), through serde otherwise.
    fn string(&mut self, s: &str) -> io::Result<()> {
        if !needs_escape(s.as_bytes()) {
            self.out.push(b'"');
            self.out.extend_from_slice(s.as_bytes());
            self.out.push(b'"');
            Ok(())
        } else {
            self.serde(s)
        }
    }

    /// An attribute set as an object; attribute names are `[a-z0-9._]`
    /// and are written as they are.
    fn attributes(&mut self, attrs: Option<&Attributes>) -> io::Result<()> {
        let Some(attrs) = attrs else {
            return self.raw("null");
        };
        // About 40 bytes an attribute: one growth for the set, if any.
        self.out.reserve(attrs.len() * 48 + 2);
        // The first key's comma becomes the brace.
        let open = self.out.len();
        for (key, value) in attrs.iter() {
            match key.json_key_slot() {
                (slot, len) if len > 0 => {
                    let at = self.out.len();
                    self.out.extend_from_slice(slot);
                    self.out.truncate(at + len);
                }
                _ => {
                    self.out.push(b',');
                    self.raw(key.json_key())?;
                }
            }
            match value {
                Value::Bool(b) => self.bool(*b)?,
                Value::Int(i) => self.int(*i)?,
                Value::Str(s) => self.string(s)?,
            }
        }
        match self.out.get_mut(open) {
            Some(comma) => *comma = b'{',
            None => self.out.push(b'{'),
        }
        self.raw("}")
    }
}

/// Whether JSON must escape a byte of `s`: a control byte (below 0x20),
/// a quote or a backslash. Eight bytes at a time (SWAR: a byte's high bit
/// is set where it is zero after the xor, or below 0x20), since every
/// string of every attribute set goes through it (issue 25).
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        let mut b = [0; 8];
        b.copy_from_slice(w);
        let x = u64::from_le_bytes(b);
        if below(x, 0x20) | below(x ^ (ONES * 0x22), 1) | below(x ^ (ONES * 0x5c), 1) != 0 {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// For serde's `skip_serializing_if`: a count of nothing is left out.
fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every attribute name is written without escaping: it must need none.
    #[test]
    fn strings_are_escaped_only_when_they_need_it() {
        for text in [
            "198.18.0.1",
            "mss,sok",
            "",
            "a\"b",
            "back\\slash",
            "tab\t",
            "\u{7f}é",
        ] {
            let mut buf = Vec::new();
            Json { out: &mut buf }
                .string(text)
                .unwrap_or_else(|e| panic!("{e}"));
            let want = serde_json::to_string(text).unwrap_or_default();
            assert_eq!(String::from_utf8_lossy(&buf), want, "{text:?}");
        }
    }

    /// The word-at-a-time test answers as the byte test, for every byte
    /// at every place of a word and in the tail.
    #[test]
    fn needs_escape_is_the_byte_test() {
        let slow = |s: &[u8]| s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        for len in [1, 7, 8, 9, 16, 23] {
            for at in 0..len {
                for b in 0..=u8::MAX {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    assert_eq!(needs_escape(&s), slow(&s), "{s:?}");
                    // Next to a byte that borrows in the subtraction.
                    s[(at + 1) % len] = 0x80;
                    assert_eq!(needs_escape(&s), slow(&s), "{s:?}");
                }
            }
        }
    }

    /// The hand-written heads and parts are serde's bytes, strange text
    /// included.
    #[test]
    fn heads_are_written_as_serde_writes_them() {
        let texts = ["GET", "/a b?c=\"d\"", "back\\slash\t\u{1}", "é\u{7f}", ""];
        for (i, t) in texts.iter().enumerate() {
            let request = Request {
                method: (*t).to_owned(),
                target: texts[(i + 1) % texts.len()].to_owned(),
                range: (i % 2 == 0).then(|| (*t).to_owned()),
            };
            let response = Response {
                status: 206,
                content_length: (i % 2 == 1).then_some(u64::MAX),
                content_range: (i % 2 == 0).then(|| (*t).to_owned()),
                head_len: i as u64,
            };
            let mut buf = Vec::new();
            let mut w = Json { out: &mut buf };
            w.request(Some(&request)).unwrap_or_else(|e| panic!("{e}"));
            w.response(Some(&response))
                .unwrap_or_else(|e| panic!("{e}"));
            w.request(None).unwrap_or_else(|e| panic!("{e}"));
            w.response(None).unwrap_or_else(|e| panic!("{e}"));
            let origin = |n: usize| PacketOrigin {
                file: texts[n % texts.len()].to_owned(),
                packet: if n % 2 == 0 { u64::MAX } else { n as u64 },
            };
            let parts = Parts {
                syn: origin(i),
                reply: (i % 2 == 0).then(|| origin(i + 1)),
                last: origin(i + 2),
            };
            w.parts(&parts).unwrap_or_else(|e| panic!("{e}"));
            let want = [
                serde_json::to_string(&request).unwrap_or_default(),
                serde_json::to_string(&response).unwrap_or_default(),
                "nullnull".to_owned(),
                serde_json::to_string(&parts).unwrap_or_default(),
            ]
            .concat();
            assert_eq!(String::from_utf8_lossy(&buf), want);
        }
    }

    #[test]
    fn attribute_names_need_no_json_escaping() {
        for f in Field::ALL {
            let name = f.name();
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'),
                "{name}"
            );
        }
    }
}
