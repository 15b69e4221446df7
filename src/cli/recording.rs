//! What `bisect --pcap` and `bisect --html` keep of a search as it runs:
//! every probe in order (the report's timeline) and the annotated pcapng,
//! whose per-packet comments say which variant each packet belongs to
//! (`variant 7: good + ip.ttl from bad; round 3, probe 41 …`).
//!
//! Live, the pcapng holds the frames the session captured: our SYNs, the
//! answers, the kernel's RSTs and ICMP errors, each matched to its probe by
//! source port. For `--rule` and `--recorded`, nothing is sent: it holds
//! the SYNs that would have been, crafted with the placeholder addresses
//! (and the simulated source port), their comments saying so.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::io::live::CapturedFrame;
use crate::io::pcap_writer::PcapOutError;
use crate::io::pcapng_writer::{PcapngOut, Snaplen};
use crate::model::craft::build_packet;
use crate::model::{decode_frame, Decoded, LinkType, TcpFlags};
use crate::oracle::{ProbeAnswer, ProbeRequest};
use crate::probe::ProbeResult;
use crate::report::TimelineProbe;
use crate::search::infer::Infer;
use crate::search::units::placeholder;
use crate::search::Search;

/// LINKTYPE_RAW: the crafted SYNs of a simulated search are IP packets.
const LINKTYPE_RAW: u32 = 101;
/// LINKTYPE_ETHERNET: a live session captures Ethernet frames.
const LINKTYPE_ETHERNET: u32 = 1;

/// Who asked for a batch: the search (its variants), or the inference
/// that follows it (`--infer`: its points, whose probes decide the rule's
/// clauses and check it). Both are evidence, and the pcapng holds both.
#[derive(Clone, Copy)]
pub enum Asker<'a> {
    Search(&'a Search),
    Infer(&'a Infer),
}

impl Asker<'_> {
    /// `variant 7: good + ip.ttl from bad; round 3, probe 41`, or
    /// `inference point 4: ip.ttl=65; probe 12`.
    fn probe_name(self, req: &ProbeRequest) -> String {
        match self {
            Asker::Search(search) => format!(
                "variant {}: {}; round {}, probe {}",
                req.variant,
                search.variant_label(req.variant),
                search.rounds(),
                req.id + 1
            ),
            Asker::Infer(infer) => format!(
                "inference point {}: {}; probe {}",
                req.variant,
                infer.point_label(req.variant),
                req.id + 1
            ),
        }
    }

    /// What a kept packet of this probe belongs to.
    fn owner(self, req: &ProbeRequest) -> Owner {
        match self {
            Asker::Search(_) => Owner::Variant(req.variant),
            Asker::Infer(_) => Owner::Inference,
        }
    }
}

/// Who answered the search, as the comments say it.
#[derive(Clone, Debug)]
pub enum Answerer {
    /// `--rule EXPR`: a simulated middlebox.
    Rule(String),
    /// `--recorded FILE`: outcomes looked up in a capture.
    Recorded(String),
    /// `--target IP:PORT`: live.
    Live,
}

/// The search's probes as they happen.
pub struct Recorder {
    pcap: Option<PcapngOut>,
    /// The first write error: the pcapng stops there, and bisect reports
    /// it when the search is over (the search itself goes on).
    error: Option<PcapOutError>,
    timeline: Vec<TimelineProbe>,
    answerer: Answerer,
    /// Wall-clock time of the start: simulated probes are placed 1 ms apart from it.
    start: Duration,
    v6: bool,
    /// `bisect --bundle`: every packet written, with its variant and
    /// outcome, so the decisive ones can be picked once the search is over.
    kept: Option<Vec<KeptPacket>>,
    /// Simulated probes are placed `id` ms after the start, and the
    /// inference numbers its probes from 0 again: its are placed after
    /// the search's last (this many ms on).
    after_search: Option<u64>,
    /// One past the largest simulated probe id written so far.
    ids_written: u64,
}

/// Whose probe a kept packet is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A probe of the search's variant N.
    Variant(usize),
    /// A probe of the inference (`--infer`).
    Inference,
    /// A frame no probe of its batch owns.
    None,
}

/// One packet as the recorder wrote it, for `bisect --bundle`'s pcapng.
#[derive(Clone, Debug)]
pub struct KeptPacket {
    pub owner: Owner,
    pub linktype: u32,
    pub ts: Duration,
    pub data: Vec<u8>,
    pub comment: String,
}

impl Recorder {
    /// A recorder; with `pcap`, the pcapng is created now (so a path that
    /// cannot be written fails before any probe).
    pub fn new(
        pcap: Option<&Path>,
        snaplen: Snaplen,
        answerer: Answerer,
        v6: bool,
        about: &str,
    ) -> Result<Self, PcapOutError> {
        let pcap = pcap
            .map(|path| PcapngOut::create(path, &format!("synlab bisect {about}")))
            .transpose()?
            .map(|p| p.with_snaplen(snaplen));
        Ok(Recorder {
            pcap,
            error: None,
            timeline: Vec::new(),
            answerer,
            start: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
            v6,
            kept: None,
            after_search: None,
            ids_written: 0,
        })
    }

    /// Keep every packet in memory too (for `bisect --bundle`).
    pub fn keeping(mut self) -> Self {
        self.kept = Some(Vec::new());
        self
    }

    /// The packets kept (empty unless [`Recorder::keeping`]).
    pub fn kept(&self) -> &[KeptPacket] {
        self.kept.as_deref().unwrap_or(&[])
    }

    /// One packet to the pcapng (when there is one) and to the kept ones.
    fn emit(&mut self, packet: KeptPacket) -> Result<(), PcapOutError> {
        if let Some(pcap) = self.pcap.as_mut() {
            pcap.write(packet.linktype, packet.ts, &packet.data, &packet.comment)?;
        }
        if let Some(kept) = self.kept.as_mut() {
            kept.push(packet);
        }
        Ok(())
    }

    /// One answered batch; `frames` are a live session's (empty otherwise).
    /// The search's probes go to the timeline too; the inference's only to
    /// the pcapng.
    pub fn batch(
        &mut self,
        asker: Asker<'_>,
        batch: &[ProbeRequest],
        answers: &[ProbeAnswer],
        frames: &[CapturedFrame],
    ) {
        if let Asker::Search(search) = asker {
            self.timeline_batch(search, batch, answers);
        }
        if (self.pcap.is_none() && self.kept.is_none()) || self.error.is_some() {
            return;
        }
        let result = match &self.answerer {
            Answerer::Live => self.write_frames(asker, batch, answers, frames),
            Answerer::Rule(_) | Answerer::Recorded(_) => self.write_crafted(asker, batch, answers),
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    fn timeline_batch(&mut self, search: &Search, batch: &[ProbeRequest], answers: &[ProbeAnswer]) {
        let round = search.rounds();
        for (req, answer) in batch.iter().zip(answers) {
            if not_a_probe(answer) {
                continue;
            }
            self.timeline.push(TimelineProbe {
                round,
                variant: req.variant,
                label: search.variant_label(req.variant),
                outcome: outcome_text(answer),
            });
        }
    }

    /// Where a simulated probe is placed: its id, after the search's
    /// probes for the inference's.
    fn crafted_id(&mut self, asker: Asker<'_>, req: &ProbeRequest) -> u64 {
        let id = match asker {
            Asker::Search(_) => req.id,
            Asker::Infer(_) => *self.after_search.get_or_insert(self.ids_written) + req.id,
        };
        self.ids_written = self.ids_written.max(id + 1);
        id
    }

    /// The SYNs a simulated or recorded search would have sent: those the
    /// oracle answered, as the search counts its probes.
    fn write_crafted(
        &mut self,
        asker: Asker<'_>,
        batch: &[ProbeRequest],
        answers: &[ProbeAnswer],
    ) -> Result<(), PcapOutError> {
        let how = match &self.answerer {
            Answerer::Rule(expr) => format!("simulated by --rule '{expr}', not sent"),
            Answerer::Recorded(file) => format!("looked up in --recorded {file}, not sent"),
            Answerer::Live => String::new(),
        };
        for (req, answer) in batch.iter().zip(answers) {
            if not_a_probe(answer) {
                continue;
            }
            let id = self.crafted_id(asker, req);
            let mut v = placeholder(self.v6);
            // The simulated port when the oracle has one; else one per probe.
            let port = answer
                .as_ref()
                .ok()
                .and_then(|a| a.src_port)
                .unwrap_or(40000u16.wrapping_add((id % 20000) as u16));
            v.src.set_port(port);
            v.seq = 1_000_000u32.wrapping_add(id as u32);
            v.ip_id = id as u16;
            let comment = format!(
                "{}; port {port}; outcome {} ({how})",
                asker.probe_name(req),
                outcome_text(answer)
            );
            let ts = self.start + Duration::from_millis(id);
            match build_packet(&req.spec, &v) {
                Ok(data) => self.emit(KeptPacket {
                    owner: asker.owner(req),
                    linktype: LINKTYPE_RAW,
                    ts,
                    data,
                    comment,
                })?,
                // The search never sends a variant that cannot be built;
                // should one come, its comment says why it has no bytes.
                Err(e) => tracing::warn!("{comment}: cannot be crafted: {e}"),
            }
        }
        Ok(())
    }

    /// A live batch's frames, each with the probe it belongs to.
    fn write_frames(
        &mut self,
        asker: Asker<'_>,
        batch: &[ProbeRequest],
        answers: &[ProbeAnswer],
        frames: &[CapturedFrame],
    ) -> Result<(), PcapOutError> {
        let by_port: Vec<(u16, &ProbeRequest, &ProbeAnswer)> = batch
            .iter()
            .zip(answers)
            .filter_map(|(req, a)| {
                let port = a.as_ref().ok()?.src_port?;
                Some((port, req, a))
            })
            .collect();
        let find = |port: u16| by_port.iter().find(|(p, _, _)| *p == port);
        for f in frames {
            let owner = match decode_frame(LinkType::Ethernet, &f.data) {
                Decoded::Tcp(seg) => find(seg.src.port()).or_else(|| find(seg.dst.port())),
                Decoded::Icmp(e) => find(e.quoted.src.port()),
                Decoded::Skipped(_) => None,
            };
            let comment = match decode_frame(LinkType::Ethernet, &f.data) {
                Decoded::Tcp(seg) => match (find(seg.src.port()), find(seg.dst.port())) {
                    (Some((_, req, a)), _) if seg.flags.has(TcpFlags::SYN) => format!(
                        "{}; probe SYN; outcome {}",
                        asker.probe_name(req),
                        outcome_text(a)
                    ),
                    (Some((_, req, _)), _) => format!(
                        "{}; sent by this host after the SYN (the kernel's RST, or the exchange)",
                        asker.probe_name(req)
                    ),
                    (None, Some((_, req, a))) => format!(
                        "answer to {}; outcome {}{}",
                        asker.probe_name(req),
                        outcome_text(a),
                        http_note(seg.payload())
                    ),
                    (None, None) => "not a packet of this batch's probes".to_owned(),
                },
                Decoded::Icmp(e) => match find(e.quoted.src.port()) {
                    Some((_, req, a)) => format!(
                        "ICMP {}/{} from {} about {}; outcome {}",
                        e.icmp_type,
                        e.code,
                        e.from,
                        asker.probe_name(req),
                        outcome_text(a)
                    ),
                    None => "ICMP error about no probe of this batch".to_owned(),
                },
                Decoded::Skipped(why) => format!("not a probe's packet ({why})"),
            };
            self.emit(KeptPacket {
                owner: owner.map_or(Owner::None, |(_, req, _)| asker.owner(req)),
                linktype: LINKTYPE_ETHERNET,
                ts: f.ts,
                data: f.data.clone(),
                comment,
            })?;
        }
        Ok(())
    }

    /// The frames of a batch a signal interrupted, before its outcomes
    /// were known: written as they are, each saying so.
    pub fn interrupted(&mut self, search: &Search, frames: &[CapturedFrame]) {
        if self.error.is_some() {
            return;
        }
        let Some(pcap) = self.pcap.as_mut() else {
            return;
        };
        let comment = format!(
            "round {}: interrupted before the batch's outcomes were known",
            search.rounds()
        );
        for f in frames {
            if let Err(e) = pcap.write(LINKTYPE_ETHERNET, f.ts, &f.data, &comment) {
                self.error = Some(e);
                return;
            }
        }
    }

    /// The probes so far, in order.
    pub fn timeline(&self) -> &[TimelineProbe] {
        &self.timeline
    }

    /// Finish the pcapng (when there is one): how many packets it holds,
    /// or the first error writing it.
    pub fn finish(&mut self) -> Result<Option<u64>, PcapOutError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.pcap.take().map(PcapngOut::finish).transpose()
    }
}

/// `syn-ack`, `icmp 3/13`, or `error: WHY`.
fn outcome_text(answer: &ProbeAnswer) -> String {
    match answer {
        Ok(a) => a.outcome.to_string(),
        Err(e) => format!("error: {e}"),
    }
}

/// The comment of one frame of `probe --pcap`: which probe it belongs to
/// (matched by source port), the profile and its changes, the outcome.
pub fn probe_frame_comment(
    frame: &CapturedFrame,
    profile: &str,
    results: &[ProbeResult],
) -> String {
    let find = |port: u16| results.iter().find(|r| r.src_port == port);
    let name =
        |r: &ProbeResult| format!("probe {} (port {}) of {profile}", r.index + 1, r.src_port);
    match decode_frame(LinkType::Ethernet, &frame.data) {
        Decoded::Tcp(seg) => match (find(seg.src.port()), find(seg.dst.port())) {
            (Some(r), _) if seg.flags.has(TcpFlags::SYN) => {
                let seen = r.exchange.as_ref().map_or_else(String::new, |x| {
                    format!("; {} response bytes seen", x.bytes_seen)
                });
                format!("{}: SYN; outcome {}{seen}", name(r), r.outcome)
            }
            (Some(r), _) => format!(
                "{}: sent by this host after the SYN (the kernel's RST, or the exchange)",
                name(r)
            ),
            (None, Some(r)) => format!(
                "answer to {}; outcome {}{}",
                name(r),
                r.outcome,
                http_note(seg.payload())
            ),
            (None, None) => "not a packet of these probes".to_owned(),
        },
        Decoded::Icmp(e) => match find(e.quoted.src.port()) {
            Some(r) => format!(
                "ICMP {}/{} from {} about {}; outcome {}",
                e.icmp_type,
                e.code,
                e.from,
                name(r),
                r.outcome
            ),
            None => "ICMP error about none of these probes".to_owned(),
        },
        Decoded::Skipped(why) => format!("not a probe's packet ({why})"),
    }
}

/// The HTTP facts of a response head starting in `payload`
/// (`; HTTP 200, Content-Length 4194304`), or nothing: the comment says
/// them in words even where `--snaplen` cut the head from the bytes.
fn http_note(payload: &[u8]) -> String {
    match crate::http::HeadReader::default().push(payload) {
        Some(crate::http::Head::Response(r)) => match r.content_length {
            Some(len) => format!("; HTTP {}, Content-Length {len}", r.status),
            None => format!("; HTTP {}", r.status),
        },
        _ => String::new(),
    }
}

/// Write a live run's frames to a pcapng, each with its comment; the count.
pub fn write_probe_frames(
    mut pcap: PcapngOut,
    frames: &[CapturedFrame],
    profile: &str,
    results: &[ProbeResult],
) -> Result<u64, PcapOutError> {
    for f in frames {
        let comment = probe_frame_comment(f, profile, results);
        pcap.write(LINKTYPE_ETHERNET, f.ts, &f.data, &comment)?;
    }
    pcap.finish()
}

/// A lookup the oracle had nothing for (a variant not in the recording, or
/// none left of it): the search does not count it as a probe, and neither
/// the pcapng nor the timeline shows it.
fn not_a_probe(answer: &ProbeAnswer) -> bool {
    matches!(
        answer,
        Err(crate::search::OracleError::Unknown | crate::search::OracleError::Exhausted)
    )
}
