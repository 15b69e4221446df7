//! Reading a capture file into handshakes: the capture reader feeding the
//! sans-I/O decoder and tracker.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::capture_file::{CaptureReader, Frame};
use super::input::Frames;
pub use super::input::{
    is_stdin, LoadError, Progress, SkipReason, Summary, Warning, MAX_WARNINGS, STDIN,
};
pub(crate) use super::input::{take_stdin, PROGRESS_EVERY};
use super::merge::{resolve, Inputs, Merge, LOCAL_BITS};
pub use super::parallel::Map;
use crate::handshake::{Attempt, Limits, PacketOrigin, Parts, Tracker};
use crate::model::{decode_frame, Decoded, LinkType, Skip};

/// What a capture held, and the error that stopped reading it, if any: the
/// attempts read before a corrupt record are kept, as tcpdump keeps them.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub attempts: Vec<Attempt>,
    pub packets: u64,
    /// Packets that were neither TCP nor an ICMP error quoting TCP.
    pub skipped: u64,
    pub error: Option<LoadError>,
    /// Each attempt's index in the whole file (differs from its position
    /// once [`Loaded::keep`] has filtered).
    pub numbers: Vec<usize>,
    /// How many attempts the file holds, filtered or not.
    pub total_attempts: usize,
    /// Packets skipped because they could not be read (at most
    /// [`MAX_WARNINGS`]; the rest are counted in `more_warnings`).
    pub warnings: Vec<Warning>,
    pub more_warnings: u64,
}

impl Loaded {
    /// Keep only the attempts `pred` accepts; their file indexes are kept.
    pub fn keep(&mut self, mut pred: impl FnMut(&Attempt) -> bool) {
        let mut numbers = Vec::new();
        let mut attempts = Vec::new();
        for (n, a) in self.numbers.iter().zip(std::mem::take(&mut self.attempts)) {
            if pred(&a) {
                numbers.push(*n);
                attempts.push(a);
            }
        }
        self.numbers = numbers;
        self.attempts = attempts;
    }

    /// Attempts with their index in the file.
    pub fn numbered(&self) -> impl Iterator<Item = (usize, &Attempt)> {
        self.numbers.iter().copied().zip(&self.attempts)
    }
}

/// Read a whole capture; `-` reads standard input (a pipe from tcpdump -w -
/// or tshark -w -), streamed like a file, never seeked. Opening errors
/// (missing file, bad magic, bad file header) are returned as `Err`; errors
/// after the header are kept in `Loaded::error` beside what was read before
/// them.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    load_inputs(std::slice::from_ref(&path.to_path_buf()))
}

/// [`load`] over the captures `args` name (files, directories, `-`):
/// several are merged by time into one stream (see [`super::merge`]).
pub fn load_inputs(args: &[PathBuf]) -> Result<Loaded, LoadError> {
    let mut attempts = Vec::new();
    let keep = |a: Box<Attempt>| Some(a);
    let summary = stream_inputs(args, Limits::default(), 1, &mut |_| {}, &keep, |i, a| {
        attempts.push((i, a));
        Ok::<(), LoadError>(())
    })?;
    // Attempts come out as they finish; the file's order is by first SYN.
    attempts.sort_unstable_by_key(|(i, _)| *i);
    let attempts: Vec<Attempt> = attempts.into_iter().map(|(_, a)| *a).collect();
    Ok(Loaded {
        path: summary.path,
        numbers: (0..attempts.len()).collect(),
        total_attempts: attempts.len(),
        attempts,
        packets: summary.packets,
        skipped: summary.skipped,
        error: summary.error,
        warnings: summary.warnings,
        more_warnings: summary.more_warnings,
    })
}

/// [`stream`] over the captures `args` name: one file (or a capture on
/// standard input) is read as [`stream`] reads it; several (a directory,
/// a list on standard input) are merged by time ([`stream_many`]), the
/// summary's path then the arguments as given. `threads` shards the
/// flows ([`stream_threads`], [`super::parallel`]), of one capture or of
/// the merge.
/// `map` makes each finished attempt what `each` takes (the filter and the
/// row's text: with threads, on the thread that tracked it); an attempt
/// it drops still counts in the indexes.
pub fn stream_inputs<T: Send, E: From<LoadError>>(
    args: &[PathBuf],
    limits: Limits,
    threads: usize,
    progress: Progress<'_>,
    map: Map<'_, T>,
    each: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<Summary, E> {
    let (inputs, not_captures) = resolve(args)?;
    let mut summary = match inputs {
        Inputs::One(path) => stream_threads(&path, limits, threads, progress, map, each),
        Inputs::Many(files) => {
            let label: Vec<String> = args.iter().map(|p| p.display().to_string()).collect();
            let label = PathBuf::from(label.join(" "));
            stream_many(&label, files, limits, threads, progress, map, each)
        }
    }?;
    // First, as they were found first; past MAX_WARNINGS only counted.
    let room = MAX_WARNINGS.saturating_sub(summary.warnings.len());
    let over = not_captures.len().saturating_sub(room);
    summary.more_warnings = summary.more_warnings.saturating_add(over as u64);
    summary
        .warnings
        .splice(0..0, not_captures.into_iter().take(room));
    Ok(summary)
}

/// Captures smaller than this are read on one thread when `--threads` is
/// not given: their time is mostly starting up, and every thread adds its
/// own reader and allocator pages (docs/PERFORMANCE.md).
pub const THREADS_FROM_BYTES: u64 = 32 << 20;

/// The most threads taken when `--threads` is not given: each holds its
/// own flow table and rows, and at 200k handshakes 4 peak at 44 MB.
pub const MAX_DEFAULT_THREADS: usize = 4;

/// The threads `handshakes` tracks with when `--threads` is not given: the
/// machine's cores (at most [`MAX_DEFAULT_THREADS`]) when the captures
/// named (files, directories of them) hold at least [`THREADS_FROM_BYTES`]
/// in all; one for less, or for standard input (its size is unknown).
pub fn default_threads(args: &[PathBuf]) -> usize {
    if args.is_empty() || args.iter().any(|a| is_stdin(a)) {
        return 1;
    }
    let bytes: u64 = args.iter().map(|a| named_bytes(a)).sum();
    if bytes < THREADS_FROM_BYTES {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_DEFAULT_THREADS)
}

/// The size of a file, or of a directory's regular files (not recursing,
/// as [`resolve`] reads a directory); 0 for what cannot be read, which
/// reading will name.
fn named_bytes(arg: &Path) -> u64 {
    let size = |m: std::fs::Metadata| if m.is_file() { m.len() } else { 0 };
    match std::fs::metadata(arg) {
        Ok(m) if m.is_dir() => std::fs::read_dir(arg).map_or(0, |dir| {
            dir.flatten()
                .filter_map(|e| std::fs::metadata(e.path()).ok())
                .map(size)
                .sum()
        }),
        Ok(m) => size(m),
        Err(_) => 0,
    }
}

/// [`stream`] over `threads` flow-sharded trackers (see
/// [`super::parallel`]): the same attempts, in the same order; one thread
/// is [`stream`] itself. A mapped file is framed by the leading tracker,
/// which tells the others where their packets are; from standard input it
/// copies them theirs.
pub fn stream_threads<T: Send, E: From<LoadError>>(
    path: &Path,
    limits: Limits,
    threads: usize,
    progress: Progress<'_>,
    map: Map<'_, T>,
    mut each: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<Summary, E> {
    if threads <= 1 {
        return stream(path, limits, progress, |i, a| {
            map(a).map_or(Ok(()), |t| each(i, t))
        });
    }
    if is_stdin(path) {
        take_stdin()?;
        let reader = CaptureReader::new(path, std::io::stdin().lock()).map_err(LoadError::from)?;
        return super::parallel::stream_copied(path, reader, limits, threads, progress, map, each);
    }
    let reader = CaptureReader::open(path).map_err(LoadError::from)?;
    super::parallel::stream_mapped(reader, limits, threads, progress, map, each)
}

/// Read a capture and hand each attempt to `each` as soon as its outcome is
/// decided (see [`Tracker`]), with its index in the file: memory follows the
/// flows open at once, not the file. Attempts finishing together come in
/// order of first SYN. An error from `each` (a closed pipe) stops reading
/// and is returned; so are opening errors, and errors after the header are
/// kept in [`Summary::error`] beside what was read before them.
pub fn stream<E: From<LoadError>>(
    path: &Path,
    limits: Limits,
    progress: Progress<'_>,
    each: impl FnMut(usize, Box<Attempt>) -> Result<(), E>,
) -> Result<Summary, E> {
    if is_stdin(path) {
        take_stdin()?;
        let reader = CaptureReader::new(path, std::io::stdin().lock()).map_err(LoadError::from)?;
        return stream_from(reader, limits, progress, each);
    }
    let reader = CaptureReader::open(path).map_err(LoadError::from)?;
    stream_from(reader, limits, progress, each)
}

impl<R: Read> Frames for CaptureReader<R> {
    fn next(&mut self) -> Option<Result<(Frame<'_>, u64, bool), LoadError>> {
        let pcapng = self.is_pcapng();
        let frame = self.next_frame()?;
        Some(
            frame
                .map(|f| (f, f.number, pcapng))
                .map_err(LoadError::from),
        )
    }
    fn offset(&self) -> u64 {
        CaptureReader::offset(self)
    }
    fn locate(&self, id: u64) -> (&Path, u64) {
        (self.path(), id)
    }
    fn take_error(&mut self) -> Option<LoadError> {
        None
    }
}

impl Frames for Merge {
    const LEADER_SHARE: u64 = super::input::MERGE_LEADER_SHARE;
    fn next(&mut self) -> Option<Result<(Frame<'_>, u64, bool), LoadError>> {
        let merged = self.next_frame()?;
        Some(merged.map(|m| (m.frame, m.id, m.pcapng)))
    }
    fn offset(&self) -> u64 {
        Merge::offset(self)
    }
    fn locate(&self, id: u64) -> (&Path, u64) {
        Merge::locate(self, id)
    }
    fn take_error(&mut self) -> Option<LoadError> {
        Merge::take_error(self)
    }
}

/// Read several captures as one stream, merged by time (see
/// [`super::merge`]), and hand out each attempt as [`stream_threads`]
/// does, its packet numbers those in its own file and [`Attempt::parts`]
/// naming the files. The summary's path is `label`. With threads the
/// leading shard reads the merge and copies the others their packets.
pub fn stream_many<T: Send, E: From<LoadError>>(
    label: &Path,
    files: Vec<PathBuf>,
    limits: Limits,
    threads: usize,
    progress: Progress<'_>,
    map: Map<'_, T>,
    mut each: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<Summary, E> {
    let merge = Merge::new(files)?;
    let names: Vec<String> = merge
        .files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    // On the thread that tracked the attempt, before its row is made.
    let with_parts = |mut a: Box<Attempt>| {
        name_parts(&mut a, &names);
        map(a)
    };
    if threads <= 1 {
        return track(label, merge, limits, progress, |i, a| {
            with_parts(a).map_or(Ok(()), |t| each(i, t))
        });
    }
    super::parallel::stream_copied(label, merge, limits, threads, progress, &with_parts, each)
}

/// Where an attempt of a merge came from: its packets' merged numbers
/// become their numbers in their files, and [`Attempt::parts`] names the
/// files.
fn name_parts(a: &mut Attempt, names: &[String]) {
    let origin = |id: u64| {
        let file = usize::try_from(id >> LOCAL_BITS).unwrap_or(usize::MAX);
        PacketOrigin {
            file: names.get(file).cloned().unwrap_or_default(),
            packet: id & ((1 << LOCAL_BITS) - 1),
        }
    };
    let parts = Parts {
        syn: origin(a.syn_packet),
        reply: a.reply_packet.map(origin),
        last: origin(a.last_packet),
    };
    a.syn_packet = parts.syn.packet;
    a.reply_packet = parts.reply.as_ref().map(|r| r.packet);
    a.last_packet = parts.last.packet;
    a.parts = Some(Box::new(parts));
}

/// [`stream`] over an opened capture, to its end or first error.
fn stream_from<R: Read, E: From<LoadError>>(
    reader: CaptureReader<R>,
    limits: Limits,
    progress: Progress<'_>,
    each: impl FnMut(usize, Box<Attempt>) -> Result<(), E>,
) -> Result<Summary, E> {
    let path = reader.path().to_owned();
    track(&path, reader, limits, progress, each)
}

/// Feed every frame to a tracker and hand out the attempts as they finish.
fn track<F: Frames, E: From<LoadError>>(
    path: &Path,
    mut frames: F,
    limits: Limits,
    progress: Progress<'_>,
    mut each: impl FnMut(usize, Box<Attempt>) -> Result<(), E>,
) -> Result<Summary, E> {
    let mut tracker = Tracker::with_limits(limits);
    let mut packets = 0;
    let mut error = None;
    let mut warnings = Vec::new();
    let mut more_warnings = 0;
    let mut warn = |path: &Path, number, why| {
        if warnings.len() < MAX_WARNINGS {
            warnings.push(Warning {
                path: path.to_owned(),
                number,
                why,
            });
        } else {
            more_warnings += 1;
        }
    };
    loop {
        if packets % PROGRESS_EVERY == 0 {
            progress(frames.offset());
        }
        let Some(next) = frames.next() else {
            break;
        };
        let (frame, id, pcapng) = match next {
            Ok(f) => f,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        // A snaplen cut explains a header cut short; only a packet captured
        // whole can lie about its own lengths.
        let whole = frame.data.len() as u64 >= u64::from(frame.orig_len);
        let mut skipped = None;
        match LinkType::try_from(frame.linktype).map(|link| decode_frame(link, frame.data)) {
            Ok(decoded) => {
                packets += 1;
                if let Decoded::Skipped(why) = &decoded {
                    if whole && why.is_malformed() {
                        skipped = Some(SkipReason::Malformed(why.clone()));
                    }
                }
                tracker.feed(id, frame.timestamp, &decoded);
            }
            // In pcapng each interface has its own link type: a packet on
            // one synlab cannot read is skipped, as tshark reads on.
            Err(source) if pcapng => {
                packets += 1;
                tracker.feed(id, frame.timestamp, &Decoded::Skipped(Skip::NotIp));
                skipped = Some(SkipReason::Link(source));
            }
            Err(source) => {
                let (path, number) = frames.locate(id);
                error = Some(LoadError::Decode {
                    path: path.to_owned(),
                    number,
                    source,
                });
                break;
            }
        }
        if let Some(why) = skipped {
            let (path, number) = frames.locate(id);
            warn(path, number, why);
        }
        for mut jump in tracker.take_clock_jumps() {
            let (path, number) = frames.locate(jump.packet);
            jump.packet = number;
            warn(path, number, SkipReason::ClockJump(jump));
        }
        if tracker.has_finished() {
            for (i, a) in tracker.take_finished() {
                each(i, a)?;
            }
        }
    }
    progress(frames.offset());
    for (i, a) in tracker.finish_all() {
        each(i, a)?;
    }
    Ok(Summary {
        path: path.to_owned(),
        packets,
        skipped: tracker.skipped(),
        attempts: tracker.attempts_seen(),
        evicted: tracker.evicted(),
        error: error.or_else(|| frames.take_error()),
        warnings,
        more_warnings,
    })
}

/// How the captures named are called in output: the one path, or the
/// paths as given, space-separated, when several are merged.
pub fn inputs_label(files: &[std::path::PathBuf]) -> std::path::PathBuf {
    match files {
        [one] => one.clone(),
        many => {
            let names: Vec<String> = many.iter().map(|p| p.display().to_string()).collect();
            names.join(" ").into()
        }
    }
}
