//! `--threads N`: one capture read by several trackers at once, with the
//! very output one tracker gives.
//!
//! A packet belongs to the shard of its connection (a hash of both
//! endpoints, the same whichever way the packet goes; an ICMP error to the
//! shard of the connection it quotes), so each shard's [`Tracker`] sees
//! whole flows. Every shard sees every packet: its own it decodes and
//! tracks, the others' only move its clock ([`Tracker::tick`]), so it
//! finishes its attempts at the same packets one tracker would.
//!
//! A regular file is mapped, and then there is no reading thread: the
//! leading shard (shard 0) frames the file itself ([`stream_mapped`]),
//! peeks at each packet's connection (the decoder's fast path for plain
//! IPv4/TCP, [`fast_tcp_endpoints`], builds nothing), decodes its own, and
//! tells the others in batches whose each packet is and where it lies in
//! the map: they read their own packets there, and nothing else of the
//! file. Framing, peeking and merging are the leading shard's alone, so it
//! takes a smaller share of the connections ([`Frames::LEADER_SHARE`]).
//! The
//! merging is done on its thread too, between its batches, so N shards
//! take N threads. Standard input, pipes and several captures merged by
//! time ([`super::merge`]) cannot be walked in one map: there the leading
//! shard reads them ([`stream_copied`]) and copies the others' packets
//! into the batch it sends them, its own not.
//!
//! What a shard finishes it also filters and renders itself (the `map`
//! the caller gives, on the shard's thread): the merge only numbers and
//! orders. Each shard answers every batch of [`BATCH_PACKETS`] packets of
//! the file with the attempts it started (their SYN's packet number) and
//! those it finished (at which packet). The merge waits for every shard's
//! answer to a batch, numbers the new attempts in SYN order (the file's
//! attempt indexes), and hands the finished ones out ordered by (packet
//! that finished them, index): the order one tracker hands them out in.
//! Batches in flight are bounded, so memory stays flat; the flow-table cap
//! ([`Limits::max_flows`]) is shared out between the shards, and is the
//! one thing that can make a capture that reaches it come out differently
//! from one thread.

use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use super::capture_file::{CaptureReader, Frame, MapSpan, MapView};
use super::input::{Frames, LoadError, Progress, SkipReason, Summary, Warning, MAX_WARNINGS};
use crate::handshake::{Attempt, ClockJump, Limits, Tracker};
use crate::model::{decode_frame, fast_tcp_endpoints, DecodeError, Decoded, LinkType};

/// Packets per batch: enough that a channel message is rare beside the
/// work it carries, few enough that every shard stays busy.
const BATCH_PACKETS: usize = 4096;

/// Bytes of packets copied into one batch, at most: past them the batch
/// goes out early, so a capture of large frames (jumbo frames, 64 KiB
/// offloaded segments) read from standard input or a merge keeps memory
/// flat. A SYN-heavy batch copies about 200 KB.
const BATCH_BYTES: usize = 1 << 20;

/// Answers the leading shard may have waiting for the merge: enough that
/// the shards do not wait on one another, few because each holds its
/// rendered rows (about half a megabyte for a batch of SYN-heavy traffic).
const WALK_AHEAD: usize = 2;

/// What a shard makes of each attempt it finishes, on its own thread
/// (the filter, the row's text); `None` drops the attempt.
pub type Map<'m, T> = &'m (dyn Fn(Box<Attempt>) -> Option<T> + Sync);

/// How connections are shared out among the shards: by a hash of both
/// endpoints, cut into ranges. The first shard may take a smaller range
/// ([`Split::led`]): on a mapped file it also frames the file and merges.
#[derive(Clone, Copy, Debug)]
struct Split {
    shards: u64,
    /// The first shard's range of the 32-bit key; the others share the
    /// rest evenly.
    first: u64,
}

impl Split {
    /// Every shard an equal share.
    fn even(shards: usize) -> Split {
        let shards = u64::try_from(shards.max(1)).unwrap_or(1);
        Split {
            shards,
            first: KEYS / shards,
        }
    }

    /// The first shard `share` percent of an equal share, for it reads
    /// the frames and merges besides: the shards then end together.
    fn led(shards: usize, share: u64) -> Split {
        let even = Split::even(shards);
        Split {
            first: even.first * share / 100,
            ..even
        }
    }

    /// The shard of a packet's connection: both directions of a flow, and
    /// ICMP errors quoting it, land on the same one.
    fn of(&self, decoded: &Decoded<'_>) -> Option<usize> {
        let (a, b) = match decoded {
            Decoded::Tcp(seg) => (seg.src, seg.dst),
            Decoded::Icmp(err) => (err.quoted.src, err.quoted.dst),
            Decoded::Skipped(_) => return None,
        };
        Some(self.key(a, b))
    }

    /// The shard of the connection between `a` and `b`, whichever is
    /// which: adding the endpoints' hashes makes the key the same both
    /// ways.
    fn key(&self, a: SocketAddr, b: SocketAddr) -> usize {
        let h = endpoint_hash(&a).wrapping_add(endpoint_hash(&b));
        let key = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) >> 32;
        if key < self.first || self.shards < 2 {
            return 0;
        }
        let rest = (key - self.first) * (self.shards - 1) / (KEYS - self.first);
        usize::try_from(1 + rest).unwrap_or(0)
    }

    /// Shard `shard`'s part of the flow-table cap, as its share of the
    /// connections.
    fn flows(&self, shard: usize, max_flows: usize) -> usize {
        let share = match shard {
            0 => self.first,
            _ => (KEYS - self.first) / (self.shards - 1).max(1),
        };
        let max = u64::try_from(max_flows).unwrap_or(u64::MAX);
        let part = u128::from(max) * u128::from(share);
        usize::try_from(part.div_ceil(u128::from(KEYS)))
            .unwrap_or(max_flows)
            .max(1)
    }

    /// A shard's limits: the flow-table cap shared out.
    fn limits(&self, shard: usize, limits: Limits) -> Limits {
        Limits {
            max_flows: self.flows(shard, limits.max_flows),
            ..limits
        }
    }
}

/// The range of a connection's key.
const KEYS: u64 = 1 << 32;

/// A fixed mix of an endpoint's address and port (the same on every run
/// and machine, so a capture shards alike everywhere): one multiply per
/// 8 bytes, cheap enough to run on every packet of the file.
fn endpoint_hash(a: &SocketAddr) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let step = |h: u64, word: u64| (h ^ word).wrapping_mul(K).rotate_left(29);
    let port = u64::from(a.port());
    match a.ip() {
        IpAddr::V4(ip) => step(port, u64::from(u32::from(ip))),
        IpAddr::V6(ip) => {
            let bits = u128::from(ip);
            // The halves of the address, as the u128 holds them.
            let (hi, lo) = ((bits >> 64) as u64, bits as u64);
            step(step(port ^ (1 << 32), hi), lo)
        }
    }
}

/// One attempt a shard finished: the place in the stream of the packet
/// that finished it (`u64::MAX`: the end of the capture), its SYN's
/// packet, and what the map made of it.
///
/// Places, not packet numbers, order the attempts: in a merge of
/// captures a packet's number says its file first, so numbers do not
/// follow the stream (two interfaces' captures interleave).
type Done<T> = (u64, u64, Option<T>);

/// A shard's answer to one batch, or to the end of the capture.
struct ShardOut<T> {
    /// The place in the stream and the packet of each attempt's SYN it
    /// started, in stream order.
    starts: Vec<(u64, u64)>,
    finished: Vec<Done<T>>,
    /// Clock jumps (every shard sees the same; `finished` counts its own),
    /// each after the routed packet it came at (its place among them).
    jumps: Vec<(u64, ClockJump)>,
    /// At the end: attempts started and evicted.
    totals: Option<(usize, u64)>,
    /// The leading shard: bytes of the file read so far.
    offset: u64,
    /// The leading shard, at the end: what it read.
    read: Option<Reading>,
}

impl<T> Default for ShardOut<T> {
    fn default() -> Self {
        ShardOut {
            starts: Vec::new(),
            finished: Vec::new(),
            jumps: Vec::new(),
            totals: None,
            offset: 0,
            read: None,
        }
    }
}

/// A shard's tracker and its answer in the making.
struct Shard<'m, T> {
    tracker: Tracker,
    map: Map<'m, T>,
    out: ShardOut<T>,
    /// Routed packets seen (fed or ticked): the place of the next one.
    routed: u64,
}

impl<'m, T> Shard<'m, T> {
    fn new(limits: Limits, map: Map<'m, T>) -> Self {
        Shard {
            tracker: Tracker::with_limits(limits),
            map,
            out: ShardOut::default(),
            routed: 0,
        }
    }

    /// A packet of this shard's flows.
    fn feed(&mut self, number: u64, at: Duration, decoded: &Decoded<'_>) {
        let seen = self.tracker.attempts_seen();
        self.tracker.feed(number, at, decoded);
        if self.tracker.attempts_seen() > seen {
            self.out.starts.push((self.routed, number));
        }
        self.after();
    }

    /// A packet of another shard's flows: the clock moves.
    fn tick(&mut self, number: u64, at: Duration) {
        self.tracker.tick(number, at);
        self.after();
    }

    /// What the routed packet just fed or ticked at (the `routed`-th)
    /// finished or moved.
    fn after(&mut self) {
        let place = self.routed;
        self.routed += 1;
        let jumps = self.tracker.take_clock_jumps();
        self.out.jumps.extend(jumps.into_iter().map(|j| (place, j)));
        if self.tracker.has_finished() {
            for (_, a) in self.tracker.take_finished() {
                let syn = a.syn_packet;
                self.out.finished.push((place, syn, (self.map)(a)));
            }
        }
    }

    /// The answer to the batch that just ended.
    fn take(&mut self) -> ShardOut<T> {
        std::mem::take(&mut self.out)
    }

    /// The capture ended: what it still held, and its totals.
    fn end(mut self) -> ShardOut<T> {
        for (_, a) in self.tracker.finish_all() {
            let syn = a.syn_packet;
            self.out.finished.push((u64::MAX, syn, (self.map)(a)));
        }
        self.out.totals = Some((self.tracker.attempts_seen(), self.tracker.evicted()));
        self.out
    }
}

/// The merging side: answers in, attempts handed on in order.
struct Merge<'e, T, E> {
    /// The answers of the shard the merging thread walks itself (shard 0,
    /// the leading one), ahead of `answers`, which are shards 1 and on.
    local: VecDeque<ShardOut<T>>,
    answers: Vec<Receiver<ShardOut<T>>>,
    /// Answers taken from `answers` for a round not yet complete.
    pending: Vec<Option<ShardOut<T>>>,
    /// SYN packet → attempt index, for attempts started and not finished.
    index_of: FxHashMap<u64, usize>,
    next_index: usize,
    /// Every clock jump, after the routed packet it came at.
    jumps: Vec<(u64, ClockJump)>,
    each: &'e mut dyn FnMut(usize, T) -> Result<(), E>,
}

/// What one round of answers came to, beside the attempts handed on.
#[derive(Default)]
struct Round {
    /// At the end: attempts started and evicted, over every shard.
    totals: Option<(usize, u64)>,
    /// The first shard's offset in the file (the leading shard).
    offset: u64,
    /// The first shard's reading, at the end (the leading shard).
    read: Option<Reading>,
}

impl<T, E: From<LoadError>> Merge<'_, T, E> {
    /// Every shard's next answer, merged; `None` when one is not in yet
    /// and `wait` is false (and also, waiting, when the merging thread's
    /// own shard has none: it has not answered).
    fn collect_ready(&mut self, wait: bool) -> Result<Option<Round>, E> {
        if self.local.is_empty() {
            return Ok(None);
        }
        self.pending.resize_with(self.answers.len(), || None);
        for (slot, a) in self.pending.iter_mut().zip(&self.answers) {
            if slot.is_some() {
                continue;
            }
            *slot = match wait {
                true => Some(a.recv().map_err(|_| gone())?),
                false => match a.try_recv() {
                    Ok(answer) => Some(answer),
                    Err(TryRecvError::Empty) => return Ok(None),
                    Err(TryRecvError::Disconnected) => return Err(gone().into()),
                },
            };
        }
        let mut answers = Vec::with_capacity(self.answers.len() + 1);
        answers.extend(self.local.pop_front());
        answers.extend(self.pending.iter_mut().filter_map(Option::take));
        self.round(answers).map(Some)
    }

    /// One answer of every shard, merged.
    fn round(&mut self, answers: Vec<ShardOut<T>>) -> Result<Round, E> {
        let mut starts: Vec<(u64, u64)> = answers
            .iter()
            .flat_map(|a| a.starts.iter().copied())
            .collect();
        // Each shard's starts are in stream order: a stable sort merges
        // those runs in linear time, where an unstable one sorts afresh.
        starts.sort_by_key(|&(place, _)| place);
        for (_, syn) in starts {
            self.index_of.insert(syn, self.next_index);
            self.next_index += 1;
        }
        self.merge_jumps(&answers);
        let mut round = Round::default();
        let mut done = Vec::new();
        for (n, a) in answers.into_iter().enumerate() {
            if let Some((seen, evicted)) = a.totals {
                let (s, e) = round.totals.unwrap_or_default();
                round.totals = Some((s + seen, e + evicted));
            }
            if n == 0 {
                round.offset = a.offset;
                round.read = a.read;
            }
            for (at, syn, item) in a.finished {
                let index = self.index_of.remove(&syn).unwrap_or(usize::MAX);
                if let Some(item) = item {
                    done.push((at, index, item));
                }
            }
        }
        // Runs again (each shard finishes in stream order); the keys are
        // unique, so stable or not gives the same order.
        done.sort_by_key(|(at, index, _)| (*at, *index));
        for (_, index, item) in done {
            (self.each)(index, item)?;
        }
        Ok(round)
    }

    /// The shards report the same jumps; each counts the attempts it
    /// finished by them.
    fn merge_jumps(&mut self, answers: &[ShardOut<T>]) {
        let Some(first) = answers.first() else {
            return;
        };
        for (i, &(place, mut jump)) in first.jumps.iter().enumerate() {
            jump.finished = answers
                .iter()
                .filter_map(|a| a.jumps.get(i))
                .map(|(_, j)| j.finished)
                .sum();
            self.jumps.push((place, jump));
        }
    }
}

/// A shard thread ended before the capture did (it panicked).
fn gone() -> LoadError {
    LoadError::ShardLost
}

/// Warnings a reader keeps, as the one-thread reading loop (`load`) keeps
/// them: each with the packets routed before it (its place among the
/// clock jumps, which come at routed packets) and the packet's number.
#[derive(Default)]
struct Warnings {
    kept: Vec<(u64, u64, SkipReason)>,
    more: u64,
}

impl Warnings {
    fn warn(&mut self, routed: u64, number: u64, why: SkipReason) {
        if self.kept.len() < MAX_WARNINGS {
            self.kept.push((routed, number, why));
        } else {
            self.more += 1;
        }
    }

    /// A frame no tracker reads: a warning when it is malformed, unless
    /// snaplen cut it (a cut frame is not a fault).
    fn skipped(&mut self, routed: u64, number: u64, whole: bool, decoded: Decoded<'_>) {
        if let (true, Decoded::Skipped(why)) = (whole, decoded) {
            if why.is_malformed() {
                self.warn(routed, number, SkipReason::Malformed(why));
            }
        }
    }
}

/// What reading the file came to (the summary's part that is not the
/// trackers'): the leading shard's.
#[derive(Default)]
struct Reading {
    packets: u64,
    skipped: u64,
    warnings: Warnings,
    error: Option<LoadError>,
}

/// `load`'s `stream` over `threads` shards of a mapped file: the leading
/// shard frames the file ([`CaptureReader::leading`]) and tells the others
/// where each packet is and whose it is; they read their own from the same
/// map. The same attempts, indexes, order and summary. A file that cannot
/// be mapped again is read as standard input is ([`stream_copied`]).
pub fn stream_mapped<T: Send, E: From<LoadError>>(
    reader: CaptureReader<File>,
    limits: Limits,
    threads: usize,
    progress: Progress<'_>,
    map: Map<'_, T>,
    each: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<Summary, E> {
    let path = reader.path().to_owned();
    match reader.leading(threads.max(2) - 1) {
        Ok((own, views)) => {
            let views = views.into_iter().map(Some).collect();
            stream_led(&path, own, views, limits, progress, map, each)
        }
        Err(reader) => stream_copied(&path, *reader, limits, threads, progress, map, each),
    }
}

/// `load`'s `stream` over `threads` shards (at least 2) of what cannot be
/// mapped as one: standard input, a pipe, several captures merged by time.
/// The leading shard reads `frames` and copies each other shard's packets
/// into the batch it sends them. The summary's path is `path`.
pub fn stream_copied<F: Frames, T: Send, E: From<LoadError>>(
    path: &Path,
    frames: F,
    limits: Limits,
    threads: usize,
    progress: Progress<'_>,
    map: Map<'_, T>,
    each: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<Summary, E> {
    let views = (1..threads.max(2)).map(|_| None).collect();
    stream_led(path, frames, views, limits, progress, map, each)
}

/// `views.len() + 1` shards: the leading one on this thread reads `frames`
/// and merges; follower `i + 1` reads its packets in `views[i]` (the
/// file's map) or, without one, in the batch.
fn stream_led<F: Frames, T: Send, E: From<LoadError>>(
    path: &Path,
    mut frames: F,
    views: Vec<Option<MapView>>,
    limits: Limits,
    progress: Progress<'_>,
    map: Map<'_, T>,
    mut each: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<Summary, E> {
    let split = Split::led(views.len() + 1, F::LEADER_SHARE);
    let span = views.iter().flatten().next().map(MapView::span);
    std::thread::scope(|scope| {
        let mut followers = Vec::new();
        let mut answers = Vec::new();
        for (i, view) in views.into_iter().enumerate() {
            let me = i + 1;
            let (batch_tx, batch_rx) = sync_channel(WALK_AHEAD + 2);
            let (tx, rx) = sync_channel(WALK_AHEAD);
            let shard = Shard::new(split.limits(me, limits), map);
            scope.spawn(move || routed(me, shard, batch_rx, tx, view));
            followers.push(batch_tx);
            answers.push(rx);
        }
        let mut merge = Merge {
            local: VecDeque::new(),
            answers,
            pending: Vec::new(),
            index_of: FxHashMap::default(),
            next_index: 0,
            jumps: Vec::new(),
            each: &mut each,
        };
        // The leading shard is walked here, between merges: two threads for
        // two shards, not a third that wakes for every answer. The rounds
        // all shards have answered are merged after each of its batches; it
        // waits for the others only when it is WALK_AHEAD rounds ahead.
        let mut end = None;
        let mut failed = None;
        let lead = Lead {
            split,
            span,
            followers,
            batch: Batch::sized(),
        };
        let shard = Shard::new(split.limits(0, limits), map);
        walk(&mut frames, shard, lead, |answer| {
            merge.local.push_back(answer);
            loop {
                let ahead = merge.local.len() > WALK_AHEAD;
                match merge.collect_ready(ahead) {
                    Ok(Some(round)) => {
                        progress(round.offset);
                        if round.totals.is_some() {
                            end = Some(round);
                        }
                    }
                    Ok(None) => return true,
                    Err(e) => {
                        failed = Some(e);
                        return false;
                    }
                }
            }
        });
        if let Some(e) = failed {
            // The receivers are dropped here, so the shards end too.
            return Err(e);
        }
        // The rounds still owed: this shard has answered them all.
        while end.is_none() {
            let Some(round) = merge.collect_ready(true)? else {
                return Err(gone().into());
            };
            progress(round.offset);
            if round.totals.is_some() {
                end = Some(round);
            }
        }
        let Some(round) = end else {
            return Err(gone().into());
        };
        let (attempts, evicted) = round.totals.unwrap_or_default();
        let read = round.read.unwrap_or_default();
        let locate = |id| {
            let (path, number) = frames.locate(id);
            (path.to_owned(), number)
        };
        let (warnings, more_warnings) = merge_warnings(&locate, read.warnings, &merge.jumps);
        Ok(Summary {
            path: path.to_owned(),
            packets: read.packets,
            skipped: read.skipped,
            attempts,
            evicted,
            error: read.error.or_else(|| frames.take_error()),
            warnings,
            more_warnings,
        })
    })
}

/// What the leading shard tells the others: whose each packet is and
/// where its bytes are, a batch at a time.
struct Lead {
    split: Split,
    /// The map the followers read their packets in; without one, their
    /// packets are copied into the batch.
    span: Option<MapSpan>,
    followers: Vec<SyncSender<Arc<Batch>>>,
    batch: Batch,
}

impl Lead {
    /// The batch so far to every follower; `false` when one is gone.
    fn send(&mut self, read_past: u64, last: bool) -> bool {
        let mut batch = std::mem::replace(&mut self.batch, Batch::sized());
        batch.read_past = usize::try_from(read_past).unwrap_or(usize::MAX);
        batch.last = last;
        let batch = Arc::new(batch);
        self.followers
            .iter()
            .all(|f| f.send(Arc::clone(&batch)).is_ok())
    }

    /// `frame`, packet `number` of shard `shard`: where a follower finds
    /// its bytes, in the map or copied into the batch. The leading shard's
    /// own are not copied: the others only tick at them.
    fn route(&mut self, number: u64, frame: &Frame<'_>, link: LinkType, shard: usize) {
        let mapped = self.span.as_ref().and_then(|s| s.offset_of(frame.data));
        let (bytes, in_batch) = match mapped {
            Some(at) => (at..at + frame.data.len(), false),
            None if shard == 0 => (0..0, true),
            None => {
                let at = self.batch.data.len();
                self.batch.data.extend_from_slice(frame.data);
                (at..self.batch.data.len(), true)
            }
        };
        self.batch.packets.push(Packet {
            number,
            at: frame.timestamp,
            link,
            bytes,
            in_batch,
            shard,
        });
    }

    /// The batch is due: [`BATCH_PACKETS`] frames read, or
    /// [`BATCH_BYTES`] copied.
    fn due(&self, frames: usize) -> bool {
        frames == BATCH_PACKETS || self.batch.data.len() >= BATCH_BYTES
    }
}

/// The leading shard: read every frame, track its own, tell the others of
/// theirs, answer at every batch and at the end.
fn walk<F: Frames, T>(
    frames: &mut F,
    mut shard: Shard<'_, T>,
    mut lead: Lead,
    mut out: impl FnMut(ShardOut<T>) -> bool,
) {
    let mut read = Reading::default();
    let mut in_batch = 0;
    loop {
        let stopped = match frames.next() {
            None => break,
            Some(Ok((frame, id, pcapng))) => {
                let step = walk_frame(pcapng, id, frame, &mut shard, &mut read, &mut lead);
                step.err().map(|source| (id, source))
            }
            Some(Err(e)) => {
                read.error = Some(e);
                break;
            }
        };
        if let Some((id, source)) = stopped {
            let (path, number) = frames.locate(id);
            let path = path.to_owned();
            read.error = Some(LoadError::Decode {
                path,
                number,
                source,
            });
            break;
        }
        in_batch += 1;
        if lead.due(in_batch) {
            in_batch = 0;
            if !lead.send(frames.offset(), false) {
                return;
            }
            let mut answer = shard.take();
            answer.offset = frames.offset();
            if !out(answer) {
                return;
            }
        }
    }
    // The last batch's answer and the end in one, here and in every
    // follower: attempts finished at a packet sort before those finished
    // by the end. A follower gone is the merge's to report.
    lead.send(frames.offset(), true);
    drop(lead);
    let mut answer = shard.end();
    answer.offset = frames.offset();
    answer.read = Some(read);
    // The merge may be gone (an error ended it); nothing is owed then.
    out(answer);
}

/// One frame, packet `number` of the stream, as the one-thread reading
/// loop reads it: the leading shard tracks its own packets, ticks at the
/// others', and routes them all. A link type no decoder knows ends a pcap
/// file (its only one) and skips a pcapng packet (one interface's).
fn walk_frame<T>(
    pcapng: bool,
    number: u64,
    frame: Frame<'_>,
    shard: &mut Shard<'_, T>,
    read: &mut Reading,
    lead: &mut Lead,
) -> Result<(), DecodeError> {
    let link = match LinkType::try_from(frame.linktype) {
        Ok(link) => link,
        Err(source) if pcapng => {
            read.packets += 1;
            read.skipped += 1;
            let why = SkipReason::Link(source);
            read.warnings.warn(shard.routed, number, why);
            return Ok(());
        }
        Err(source) => return Err(source),
    };
    read.packets += 1;
    let at = frame.timestamp;
    match owner(&lead.split, link, frame.data) {
        Owner::Shard(who, decoded) => {
            lead.route(number, &frame, link, who);
            match who {
                0 => {
                    let decoded = decoded.unwrap_or_else(|| decode_frame(link, frame.data));
                    shard.feed(number, at, &decoded);
                }
                _ => shard.tick(number, at),
            }
        }
        Owner::Nobody(decoded) => {
            read.skipped += 1;
            let whole = frame.data.len() as u64 >= u64::from(frame.orig_len);
            read.warnings.skipped(shard.routed, number, whole, decoded);
        }
    }
    Ok(())
}

/// Whose a frame is: its shard, and the frame decoded if finding that
/// took decoding (the fast path only peeks); or nobody's, with the decoded
/// frame (a skipped one). Inlined: it runs on every packet of the file,
/// and as a call, moving the decoded frame out cost the leading shard 2%
/// more instructions (callgrind, syn20k).
#[inline(always)]
fn owner<'a>(split: &Split, link: LinkType, data: &'a [u8]) -> Owner<'a> {
    if let Some((a, b)) = fast_tcp_endpoints(link, data) {
        return Owner::Shard(split.key(a, b), None);
    }
    let decoded = decode_frame(link, data);
    match split.of(&decoded) {
        Some(shard) => Owner::Shard(shard, Some(decoded)),
        None => Owner::Nobody(decoded),
    }
}

/// What [`owner`] found.
enum Owner<'a> {
    Shard(usize, Option<Decoded<'a>>),
    Nobody(Decoded<'a>),
}

/// One packet of a routed batch: where its bytes are, and whose it is.
struct Packet {
    number: u64,
    at: Duration,
    link: LinkType,
    /// In the batch's `data` (`in_batch`), or in the file's map.
    bytes: std::ops::Range<usize>,
    in_batch: bool,
    shard: usize,
}

/// Packets the trackers read (skipped ones stay with the reader): their
/// bytes copied side by side (the routing reader), or where they are in
/// the file's map (the leading shard).
#[derive(Default)]
struct Batch {
    data: Vec<u8>,
    packets: Vec<Packet>,
    /// The leading shard's offset in the map: a follower needs nothing
    /// before it once the batch is read.
    read_past: usize,
    /// The leading shard's last batch: a follower answers it with its end.
    last: bool,
}

impl Batch {
    /// Room for a whole batch of packets, grown once.
    fn sized() -> Batch {
        Batch {
            packets: Vec::with_capacity(BATCH_PACKETS),
            ..Batch::default()
        }
    }
}

/// A routed shard: track its packets, tick at the others', answer every
/// batch, and at the end. A follower of the leading shard reads its
/// packets in `view`.
fn routed<T>(
    me: usize,
    mut shard: Shard<'_, T>,
    batches: Receiver<Arc<Batch>>,
    out: SyncSender<ShardOut<T>>,
    mut view: Option<MapView>,
) {
    for batch in batches {
        let mapped: &[u8] = view.as_ref().map_or(&[], MapView::bytes);
        for p in &batch.packets {
            if p.shard == me {
                let source = if p.in_batch { &batch.data[..] } else { mapped };
                let data = source.get(p.bytes.clone()).unwrap_or_default();
                shard.feed(p.number, p.at, &decode_frame(p.link, data));
            } else {
                shard.tick(p.number, p.at);
            }
        }
        if let Some(view) = view.as_mut() {
            view.read_past(batch.read_past);
        }
        if batch.last {
            break;
        }
        if out.send(shard.take()).is_err() {
            return;
        }
    }
    // The reader may be gone (an error ended it); nothing is owed then.
    let _ = out.send(shard.end());
}

/// The reader's warnings and the clock jumps, in the order of the stream
/// (a skipped frame before a jump at the next routed packet), the first
/// [`MAX_WARNINGS`] kept; each named by its file and its number there.
fn merge_warnings(
    locate: &dyn Fn(u64) -> (PathBuf, u64),
    warnings: Warnings,
    jumps: &[(u64, ClockJump)],
) -> (Vec<Warning>, u64) {
    let mut all: Vec<((u64, bool), u64, SkipReason)> = warnings
        .kept
        .into_iter()
        .map(|(routed, number, why)| ((routed, false), number, why))
        .collect();
    all.extend(
        jumps
            .iter()
            .map(|&(place, j)| ((place, true), j.packet, SkipReason::ClockJump(j))),
    );
    all.sort_by_key(|(place, _, _)| *place);
    let mut more = warnings.more;
    if all.len() > MAX_WARNINGS {
        more += (all.len() - MAX_WARNINGS) as u64;
        all.truncate(MAX_WARNINGS);
    }
    let kept = all
        .into_iter()
        .map(|(_, id, mut why)| {
            let (path, number) = locate(id);
            if let SkipReason::ClockJump(jump) = &mut why {
                jump.packet = number;
            }
            Warning { path, number, why }
        })
        .collect();
    (kept, more)
}

#[cfg(test)]
mod tests {
    use super::super::input::{LEADER_SHARE, MERGE_LEADER_SHARE};
    use super::*;
    use crate::model::Skip;

    #[test]
    fn both_directions_land_on_one_shard() {
        let a: SocketAddr = "192.0.2.1:40000".parse().unwrap();
        let b: SocketAddr = "[2001:db8::7]:443".parse().unwrap();
        for n in 1..8 {
            for split in [Split::even(n), Split::led(n, LEADER_SHARE)] {
                assert_eq!(split.key(a, b), split.key(b, a));
                assert!(split.key(a, b) < n);
            }
        }
    }

    /// Shares of 4,096 connections to one server.
    fn shares(split: Split, n: usize) -> Vec<usize> {
        let server: SocketAddr = "198.51.100.7:80".parse().unwrap();
        let mut counts = vec![0usize; n];
        for port in 1024..5120u16 {
            let client = SocketAddr::from(([192, 0, 2, 1], port));
            counts[split.key(client, server)] += 1;
        }
        counts
    }

    #[test]
    fn connections_spread_over_the_shards() {
        let counts = shares(Split::even(4), 4);
        assert!(counts.iter().all(|&c| c > 900 && c < 1150), "{counts:?}");
    }

    /// The leading shard takes LEADER_SHARE percent of an equal share; the
    /// others split the rest evenly, and so does the flow-table cap.
    #[test]
    fn the_leading_shard_takes_a_smaller_share() {
        let counts = shares(Split::led(2, LEADER_SHARE), 2);
        let first = counts[0] as f64 / 4096.0;
        let want = 0.5 * LEADER_SHARE as f64 / 100.0;
        assert!((first - want).abs() < 0.03, "{counts:?}");
        let counts = shares(Split::led(3, LEADER_SHARE), 3);
        assert!(counts[0] < counts[1] && counts[0] < counts[2], "{counts:?}");
        assert!(counts[1].abs_diff(counts[2]) < 200, "{counts:?}");
        let split = Split::led(2, MERGE_LEADER_SHARE);
        let (a, b) = (split.flows(0, 1000), split.flows(1, 1000));
        assert!(a < b && a + b >= 1000 && a + b <= 1002, "{a} {b}");
        assert_eq!(
            Split::even(1).key(
                "192.0.2.1:1".parse().unwrap(),
                "192.0.2.2:2".parse().unwrap()
            ),
            0
        );
    }

    #[test]
    fn warnings_and_jumps_merge_in_stream_order() {
        let mut w = Warnings::default();
        // Packet 5 came after three routed packets, packet 9 after four.
        w.warn(3, 5, SkipReason::Malformed(Skip::NotIp));
        w.warn(4, 9, SkipReason::Malformed(Skip::NotIp));
        let jump = |packet| ClockJump {
            packet,
            from: Duration::from_secs(1),
            to: Duration::from_secs(100),
            finished: 2,
        };
        // At the third routed packet (place 2) and the fourth (place 3).
        let jumps = [(2, jump(3)), (3, jump(6))];
        let locate = |id: u64| (PathBuf::from(format!("f{}", id % 2)), id * 10);
        let (kept, more) = merge_warnings(&locate, w, &jumps);
        let numbers: Vec<u64> = kept.iter().map(|w| w.number).collect();
        assert_eq!((numbers, more), (vec![30, 50, 60, 90], 0));
        assert_eq!(kept[0].path, PathBuf::from("f1"));
        let SkipReason::ClockJump(j) = &kept[2].why else {
            panic!("{:?}", kept[2].why);
        };
        assert_eq!(j.packet, 60, "a jump is named by its number in its file");
    }
}
