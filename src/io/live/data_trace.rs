//! The live driver of `trace --exchange`: one connection opened with the
//! profile's SYN (its request held), then its first data segment sent with
//! TTL (hop limit) 1, 2, … as [`DataTrace`] says, its answers read from the
//! session's capture, and the connection reset once the trace is done.

use std::time::Duration;

use super::wake_at;
use super::{io_err, CapturedFrame, ExchangeOptions, LiveError, LiveSession, Rx, SessionIo};
use crate::exchange::{Exchange, Limits, Params};
use crate::handshake::Outcome;
use crate::model::{decode_frame, Attributes, Decoded, LinkType};
use crate::probe::PlanError;
use crate::trace::{icmp_of_ethernet, DataTrace, TraceConfig, TraceReport};

/// The least time between two probes of one TTL: routers rate-limit their
/// ICMP errors (Linux: a bucket of 6 per destination, one more a second),
/// so a repeat sent at once would be refused the same way.
pub const DATA_RETRY_GAP: Duration = Duration::from_millis(500);

/// The TTLs past the endpoint's distance (read from its SYN-ACK) that are
/// still tried: a return path one hop longer than the way there.
const PAST_DISTANCE: u8 = 1;

/// What `trace --exchange` got.
#[derive(Clone, Debug)]
pub struct DataTraceRun {
    /// The handshake's outcome (`syn-ack` when the connection was made).
    pub handshake: Outcome,
    pub handshake_rtt: Option<Duration>,
    /// The SYN-ACK (or RST) that answered the SYN.
    pub reply: Option<Attributes>,
    /// The trace of the data segment; `None` when no connection was made.
    pub report: Option<TraceReport>,
    /// Data segments sent as probes.
    pub probes: usize,
    /// The session's frames of the connection (with `keep_frames`).
    pub frames: Vec<CapturedFrame>,
    /// From the SYN to the reset.
    pub elapsed: Duration,
}

impl LiveSession {
    /// Open a connection with `request`'s SYN (the request of `ex` held),
    /// then trace its first data segment, bounded by `cfg` and by the
    /// endpoint's distance. Needs the session's RST rule.
    pub fn run_data_trace(
        &mut self,
        request: &Attributes,
        ex: &ExchangeOptions,
        cfg: TraceConfig,
    ) -> Result<DataTraceRun, LiveError> {
        if let Some(s) = self.io.interrupted {
            return Err(LiveError::Interrupted(super::Interrupted(s)));
        }
        if self.rst.is_none() {
            return Err(LiveError::ExchangeNeedsRstRule);
        }
        let planned = self.plan(std::slice::from_ref(request))?;
        // One request is planned as one probe, or refused.
        let Some(p) = planned.into_iter().next() else {
            return Err(LiveError::Plan(PlanError::TooManyProbes {
                requested: 1,
                available: 0,
            }));
        };
        let timeout = self.io.rtt.timeout();
        // The connection outlives the whole trace: every TTL's attempts,
        // each a wait and a retry gap, and the handshake.
        let per_probe = timeout.max(DATA_RETRY_GAP);
        let trace_time = per_probe * u32::from(cfg.max_ttl) * u32::from(cfg.attempts);
        let handshake = timeout.max(ex.handshake);
        let limits = Limits {
            handshake,
            stall: trace_time + handshake,
            total: trace_time + handshake + ex.stall,
            max_bytes: ex.max_bytes,
        };
        let params = Params {
            syn: p.packet.clone(),
            flow: request.clone(),
            request: ex.request.clone(),
            limits,
            retries: Vec::new(),
        };
        let now = self.io.clock.now();
        let mut conn = Exchange::new(params, now)
            .map_err(|source| LiveError::Exchange { index: 0, source })?;
        conn.hold_request();
        let trace = DataTrace::new(cfg, timeout, DATA_RETRY_GAP);
        let keep = self.keep_frames;
        let run = self
            .rt
            .block_on(self.io.drive_data_trace(conn, trace, keep));
        let mut run = run?;
        if !self.keep_frames {
            run.frames.clear();
        }
        Ok(run)
    }
}

impl SessionIo {
    async fn drive_data_trace(
        &mut self,
        mut conn: Exchange,
        mut trace: DataTrace,
        keep_frames: bool,
    ) -> Result<DataTraceRun, LiveError> {
        self.forget_earlier_frames();
        let start = self.clock.now();
        let mut frames = Vec::new();
        let mut limited = false;
        let remote = conn.remote().ip();
        loop {
            self.check_still_running()?;
            let now = self.clock.now();
            for packet in conn.poll(now) {
                self.sender
                    .send(&packet, remote)
                    .map_err(io_err("sending the traced connection's segment"))?;
            }
            if conn.result().is_some() {
                break;
            }
            if conn.is_established() {
                if !limited {
                    limited = true;
                    if let Some(rtt) = conn.handshake().and_then(|h| h.rtt) {
                        self.rtt.sample(rtt);
                        trace.set_timeout(self.rtt.timeout());
                    }
                    let distance = conn
                        .handshake()
                        .and_then(|h| h.reply.as_ref())
                        .and_then(crate::trace::distance_of);
                    if let Some(d) = distance {
                        trace.limit(d.saturating_add(1 + PAST_DISTANCE));
                    }
                }
                if trace.is_done() {
                    for packet in conn.abort(now) {
                        self.sender
                            .send(&packet, remote)
                            .map_err(io_err("resetting the traced connection"))?;
                    }
                    break;
                }
                if let Some(ttl) = trace.next_probe(now) {
                    if let Some(packet) = conn.data_probe(ttl) {
                        trace.sent_packet(&packet);
                        self.sender
                            .send(&packet, remote)
                            .map_err(io_err(format!("sending the data probe with TTL {ttl}")))?;
                    }
                    continue;
                }
            }
            let wake = wake_at(
                [
                    conn.poll_at(),
                    trace.poll_at().filter(|_| conn.is_established()),
                ],
                now,
            );
            let sleep = tokio::time::sleep_until((self.clock.start + wake).into());
            tokio::select! {
                biased;
                s = self.signals.recv() => {
                    self.interrupted = Some(s);
                    self.unfinished_frames = std::mem::take(&mut frames);
                    return Err(LiveError::Interrupted(super::Interrupted(s)));
                }
                msg = self.rx.recv() => match msg {
                    Some(Rx::Frame { frame, read_at }) => {
                        let at = self.clock.arrival(frame.ts, read_at);
                        let ours = match decode_frame(LinkType::Ethernet, &frame.data) {
                            Decoded::Tcp(seg) => {
                                let to_us = seg.src == conn.remote() && seg.dst == conn.local();
                                let from_us = seg.src == conn.local() && seg.dst == conn.remote();
                                if to_us {
                                    conn.on_segment(at, &seg);
                                    trace.on_segment(at, &seg);
                                }
                                to_us || from_us
                            }
                            Decoded::Icmp(icmp) => {
                                let related = icmp.quoted.src == conn.local();
                                if related {
                                    conn.on_icmp(at, &icmp);
                                    if let Some(e) = icmp_of_ethernet(&frame.data) {
                                        trace.on_icmp(at, &e);
                                    }
                                }
                                related
                            }
                            Decoded::Skipped(_) => false,
                        };
                        if ours && keep_frames {
                            frames.push(CapturedFrame {
                                ts: self.clock.epoch + at,
                                data: frame.data,
                            });
                        }
                    }
                    Some(Rx::Failed(e)) => self.capture_failed = Some(e.to_string()),
                    None => self.capture_failed = Some("the receive thread ended".into()),
                },
                () = sleep => {}
            }
        }
        let (handshake, handshake_rtt, reply) = match conn.handshake() {
            Some(h) => (
                match h.outcome {
                    // The connection was made; what ended it is the trace's.
                    Outcome::Complete
                    | Outcome::Stalled
                    | Outcome::ResetMidTransfer
                    | Outcome::HttpError { .. } => Outcome::SynAck,
                    o => o,
                },
                h.rtt,
                h.reply.clone(),
            ),
            None => (Outcome::NoReply, None, None),
        };
        let report = (handshake == Outcome::SynAck).then(|| trace.finish());
        Ok(DataTraceRun {
            handshake,
            handshake_rtt,
            reply,
            report,
            probes: trace.probes_sent(),
            frames,
            elapsed: self.clock.now().saturating_sub(start),
        })
    }
}
