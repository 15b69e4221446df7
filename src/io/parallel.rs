//! `--threads N`: one capture read by several trackers at once, with the
//! very output one tracker gives.
//!
//! The calling thread reads the capture, decodes each frame far enough to
//! know its flow, and sends the packets in batches to `N` shard threads.
//! A packet goes to the shard of its connection (a hash of both endpoints,
//! the same whichever way the packet goes; an ICMP error to the shard of
//! the connection it quotes), so each shard's [`Tracker`] sees whole
//! flows. Every shard reads every batch: its own packets it decodes and
//! tracks, the others' only move its clock ([`Tracker::tick`]), so it
//! finishes its attempts at the same packets one tracker would.
//!
//! Each shard answers a batch with the attempts it started (their SYN's
//! packet number) and those it finished (at which packet). The reading
//! thread waits for every shard's answer to a batch, numbers the new
//! attempts in SYN order (the file's attempt indexes), and hands the
//! finished ones out ordered by (packet that finished them, index): the
//! order one tracker hands them out in. Batches in flight are bounded, so
//! memory stays flat; the flow-table cap ([`Limits::max_flows`]) is shared
//! out between the shards, and is the one thing that can make a capture
//! that reaches it come out differently from one thread.

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use super::capture_file::CaptureReader;
use super::input::{
    LoadError, Progress, SkipReason, Summary, Warning, MAX_WARNINGS, PROGRESS_EVERY,
};
use crate::handshake::{Attempt, ClockJump, Limits, Tracker};
use crate::model::{decode_frame, Decoded, LinkType};

/// Packets per batch: enough that a channel message is rare beside the
/// work it carries, few enough that every shard stays busy.
const BATCH_PACKETS: usize = 4096;

/// Batches sent and not yet answered by every shard.
const IN_FLIGHT: usize = 4;

/// The shard of a packet's connection among `shards`: both directions of
/// a flow, and ICMP errors quoting it, land on the same one.
pub fn shard_of(decoded: &Decoded<'_>, shards: usize) -> Option<usize> {
    let (a, b) = match decoded {
        Decoded::Tcp(seg) => (seg.src, seg.dst),
        Decoded::Icmp(err) => (err.quoted.src, err.quoted.dst),
        Decoded::Skipped(_) => return None,
    };
    Some(shard_key(a, b, shards))
}

/// The shard of the connection between `a` and `b`, whichever is which:
/// adding the endpoints' hashes makes the key the same both ways.
fn shard_key(a: SocketAddr, b: SocketAddr, shards: usize) -> usize {
    let h = endpoint_hash(&a).wrapping_add(endpoint_hash(&b));
    let mixed = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let n = u64::try_from(shards.max(1)).unwrap_or(1);
    usize::try_from((mixed >> 32) % n).unwrap_or(0)
}

/// FNV-1a over an endpoint's address and port: fixed, so a capture shards
/// the same on every run and machine.
fn endpoint_hash(a: &SocketAddr) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |byte: u8| h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    match a.ip() {
        IpAddr::V4(ip) => ip.octets().into_iter().for_each(&mut eat),
        IpAddr::V6(ip) => ip.octets().into_iter().for_each(&mut eat),
    }
    a.port().to_be_bytes().into_iter().for_each(&mut eat);
    h
}

/// One packet of a batch: where its bytes are, and whose it is.
struct Packet {
    number: u64,
    at: Duration,
    link: LinkType,
    bytes: std::ops::Range<usize>,
    shard: usize,
}

/// Packets the trackers read (skipped ones stay with the reader), their
/// bytes copied side by side.
#[derive(Default)]
struct Batch {
    data: Vec<u8>,
    packets: Vec<Packet>,
}

/// A shard's answer to one batch, or to the end of the capture.
#[derive(Default)]
struct ShardOut {
    /// The SYN packet of each attempt it started, in capture order.
    starts: Vec<u64>,
    /// Attempts it finished, with the packet that finished them
    /// (`u64::MAX`: the end of the capture).
    finished: Vec<(u64, Box<Attempt>)>,
    /// Clock jumps (every shard sees the same; `finished` counts its own).
    jumps: Vec<ClockJump>,
    /// At the end: attempts started and evicted.
    totals: Option<(usize, u64)>,
}

/// A shard: track its packets, tick at the others', answer every batch.
fn shard(me: usize, limits: Limits, batches: Receiver<Arc<Batch>>, out: Sender<ShardOut>) {
    let mut tracker = Tracker::with_limits(limits);
    for batch in batches {
        let mut answer = ShardOut::default();
        for p in &batch.packets {
            if p.shard == me {
                let seen = tracker.attempts_seen();
                let data = batch.data.get(p.bytes.clone()).unwrap_or_default();
                tracker.feed(p.number, p.at, &decode_frame(p.link, data));
                if tracker.attempts_seen() > seen {
                    answer.starts.push(p.number);
                }
            } else {
                tracker.tick(p.number, p.at);
            }
            answer.jumps.extend(tracker.take_clock_jumps());
            if tracker.has_finished() {
                let done = tracker.take_finished().into_iter();
                answer.finished.extend(done.map(|(_, a)| (p.number, a)));
            }
        }
        if out.send(answer).is_err() {
            return;
        }
    }
    let finished = tracker.finish_all().into_iter();
    // The reader may be gone (an error ended it); nothing is owed then.
    let _ = out.send(ShardOut {
        finished: finished.map(|(_, a)| (u64::MAX, a)).collect(),
        totals: Some((tracker.attempts_seen(), tracker.evicted())),
        ..ShardOut::default()
    });
}

/// The reading side: batches out, answers in, attempts handed on in order.
struct Merge<'e, E> {
    senders: Vec<SyncSender<Arc<Batch>>>,
    answers: Vec<Receiver<ShardOut>>,
    in_flight: usize,
    /// SYN packet → attempt index, for attempts started and not finished.
    index_of: HashMap<u64, usize>,
    next_index: usize,
    jumps: Vec<ClockJump>,
    each: &'e mut dyn FnMut(usize, Box<Attempt>) -> Result<(), E>,
}

impl<E: From<LoadError>> Merge<'_, E> {
    fn send(&mut self, batch: Batch) -> Result<(), E> {
        let batch = Arc::new(batch);
        for s in &self.senders {
            s.send(Arc::clone(&batch)).map_err(|_| gone())?;
        }
        self.in_flight += 1;
        if self.in_flight >= IN_FLIGHT {
            self.collect()?;
        }
        Ok(())
    }

    /// Every shard's answer to the oldest batch in flight, merged.
    fn collect(&mut self) -> Result<Option<(usize, u64)>, E> {
        let mut answers = Vec::with_capacity(self.answers.len());
        for a in &self.answers {
            answers.push(a.recv().map_err(|_| gone())?);
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        let mut starts: Vec<u64> = answers
            .iter()
            .flat_map(|a| a.starts.iter().copied())
            .collect();
        starts.sort_unstable();
        for s in starts {
            self.index_of.insert(s, self.next_index);
            self.next_index += 1;
        }
        self.merge_jumps(&answers);
        let mut totals: Option<(usize, u64)> = None;
        let mut done = Vec::new();
        for a in answers {
            if let Some((seen, evicted)) = a.totals {
                let (s, e) = totals.unwrap_or_default();
                totals = Some((s + seen, e + evicted));
            }
            for (at, attempt) in a.finished {
                let index = self
                    .index_of
                    .remove(&attempt.syn_packet)
                    .unwrap_or(usize::MAX);
                done.push((at, index, attempt));
            }
        }
        done.sort_unstable_by_key(|(at, index, _)| (*at, *index));
        for (_, index, attempt) in done {
            (self.each)(index, attempt)?;
        }
        Ok(totals)
    }

    /// The shards report the same jumps; each counts the attempts it
    /// finished by them.
    fn merge_jumps(&mut self, answers: &[ShardOut]) {
        let Some(first) = answers.first() else {
            return;
        };
        for (i, jump) in first.jumps.iter().enumerate() {
            let mut jump = *jump;
            jump.finished = answers
                .iter()
                .filter_map(|a| a.jumps.get(i))
                .map(|j| j.finished)
                .sum();
            self.jumps.push(jump);
        }
    }
}

/// A shard thread ended before the capture did (it panicked).
fn gone() -> LoadError {
    LoadError::ShardLost
}

/// Warnings a reader keeps, as the one-thread reading loop (`load`) keeps them.
#[derive(Default)]
struct Warnings {
    kept: Vec<(u64, SkipReason)>,
    more: u64,
}

impl Warnings {
    fn warn(&mut self, number: u64, why: SkipReason) {
        if self.kept.len() < MAX_WARNINGS {
            self.kept.push((number, why));
        } else {
            self.more += 1;
        }
    }
}

/// `load`'s `stream` over `threads` shards (at least 2; see the
/// module docs): the same attempts, indexes, order and summary.
pub fn stream_sharded<R: Read, E: From<LoadError>>(
    mut reader: CaptureReader<R>,
    limits: Limits,
    threads: usize,
    progress: Progress<'_>,
    mut each: impl FnMut(usize, Box<Attempt>) -> Result<(), E>,
) -> Result<Summary, E> {
    let shards = threads.max(2);
    let shard_limits = Limits {
        max_flows: limits.max_flows.div_ceil(shards).max(1),
        ..limits
    };
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut answers = Vec::new();
        for me in 0..shards {
            let (tx, rx) = sync_channel(IN_FLIGHT + 1);
            let (answer_tx, answer_rx) = channel();
            scope.spawn(move || shard(me, shard_limits, rx, answer_tx));
            senders.push(tx);
            answers.push(answer_rx);
        }
        let mut merge = Merge {
            senders,
            answers,
            in_flight: 0,
            index_of: HashMap::new(),
            next_index: 0,
            jumps: Vec::new(),
            each: &mut each,
        };
        // On an error the senders are dropped here, so the shards end too.
        read_all(&mut reader, shards, progress, &mut merge)
    })
}

/// Read, route and hand on every packet; then the shards' ends.
fn read_all<R: Read, E: From<LoadError>>(
    reader: &mut CaptureReader<R>,
    shards: usize,
    progress: Progress<'_>,
    merge: &mut Merge<'_, E>,
) -> Result<Summary, E> {
    let path = reader.path().to_owned();
    let pcapng = reader.is_pcapng();
    let mut warnings = Warnings::default();
    let (mut packets, mut skipped) = (0u64, 0u64);
    let mut error = None;
    let mut batch = Batch::default();
    loop {
        if packets % PROGRESS_EVERY == 0 {
            progress(reader.offset());
        }
        let frame = match reader.next_frame() {
            None => break,
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                error = Some(e.into());
                break;
            }
        };
        let whole = frame.data.len() as u64 >= u64::from(frame.orig_len);
        let link = match LinkType::try_from(frame.linktype) {
            Ok(link) => link,
            Err(source) if pcapng => {
                packets += 1;
                skipped += 1;
                warnings.warn(frame.number, SkipReason::Link(source));
                continue;
            }
            Err(source) => {
                error = Some(LoadError::Decode {
                    path: path.clone(),
                    number: frame.number,
                    source,
                });
                break;
            }
        };
        packets += 1;
        let decoded = decode_frame(link, frame.data);
        let Some(shard) = shard_of(&decoded, shards) else {
            skipped += 1;
            if let Decoded::Skipped(why) = decoded {
                if whole && why.is_malformed() {
                    warnings.warn(frame.number, SkipReason::Malformed(why));
                }
            }
            continue;
        };
        let start = batch.data.len();
        batch.data.extend_from_slice(frame.data);
        batch.packets.push(Packet {
            number: frame.number,
            at: frame.timestamp,
            link,
            bytes: start..batch.data.len(),
            shard,
        });
        if batch.packets.len() >= BATCH_PACKETS {
            merge.send(std::mem::take(&mut batch))?;
        }
    }
    progress(reader.offset());
    if !batch.packets.is_empty() {
        merge.send(batch)?;
    }
    merge.senders.clear();
    while merge.in_flight > 0 {
        merge.collect()?;
    }
    // Each shard's last answer is its end: what it still held, and totals.
    let (attempts, evicted) = merge.collect()?.unwrap_or_default();
    let (warnings, more_warnings) = merge_warnings(&path, warnings, &merge.jumps);
    Ok(Summary {
        path,
        packets,
        skipped,
        attempts,
        evicted,
        error,
        warnings,
        more_warnings,
    })
}

/// The reader's warnings and the clock jumps, in packet order, the first
/// [`MAX_WARNINGS`] kept.
fn merge_warnings(
    path: &std::path::Path,
    warnings: Warnings,
    jumps: &[ClockJump],
) -> (Vec<Warning>, u64) {
    let mut all = warnings.kept;
    all.extend(jumps.iter().map(|j| (j.packet, SkipReason::ClockJump(*j))));
    all.sort_by_key(|(number, _)| *number);
    let mut more = warnings.more;
    if all.len() > MAX_WARNINGS {
        more += (all.len() - MAX_WARNINGS) as u64;
        all.truncate(MAX_WARNINGS);
    }
    let kept = all
        .into_iter()
        .map(|(number, why)| Warning {
            path: path.to_owned(),
            number,
            why,
        })
        .collect();
    (kept, more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Skip;

    #[test]
    fn both_directions_land_on_one_shard() {
        let a: SocketAddr = "192.0.2.1:40000".parse().unwrap();
        let b: SocketAddr = "[2001:db8::7]:443".parse().unwrap();
        for n in 1..8 {
            assert_eq!(shard_key(a, b, n), shard_key(b, a, n));
            assert!(shard_key(a, b, n) < n);
        }
    }

    #[test]
    fn connections_spread_over_the_shards() {
        let server: SocketAddr = "198.51.100.7:80".parse().unwrap();
        let mut counts = [0usize; 4];
        for port in 1024..5120u16 {
            let client = SocketAddr::from(([192, 0, 2, 1], port));
            counts[shard_key(client, server, 4)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 700), "{counts:?}");
    }

    #[test]
    fn warnings_and_jumps_merge_in_packet_order() {
        let mut w = Warnings::default();
        w.warn(5, SkipReason::Malformed(Skip::NotIp));
        let jump = ClockJump {
            packet: 3,
            from: Duration::from_secs(1),
            to: Duration::from_secs(100),
            finished: 2,
        };
        let (kept, more) = merge_warnings(std::path::Path::new("x"), w, &[jump]);
        let numbers: Vec<u64> = kept.iter().map(|w| w.number).collect();
        assert_eq!((numbers, more), (vec![3, 5], 0));
    }
}
