//! The live driver: one session per command or search, many batches.
//!
//! [`LiveSession::open`] does the expensive and privileged work once: it
//! checks the target and privileges, starts a tokio runtime, starts
//! watching SIGINT/SIGTERM/SIGHUP, opens the raw sockets (raising
//! CAP_NET_RAW only for that), reserves a block of source ports and, with
//! `--suppress-rst`, installs the nftables rule for that block. Each
//! [`LiveSession::run_batch`] then plans a batch, sends it at a bounded
//! rate (every probe of a batch outstanding at once) and matches answers
//! until each probe is answered or timed out. A search of many batches
//! reuses all of it; before, each batch paid for its own sockets, runtime,
//! privilege raise and nftables table.
//!
//! How long silence is waited for comes from the round trips measured so
//! far ([`RttEstimator`]: SRTT + 4 RTTVAR, at least `min_timeout`, at most
//! the user's `--timeout`), updated as answers arrive.
//!
//! Threads: one receive thread per session reads the packet socket (pnet's
//! read blocks, up to its read timeout) and passes frames over a channel;
//! the batch driver sends on schedule, feeds frames to the `Matcher` and
//! stops at once on a stop signal. A batch ends by its deadline (plus a
//! bounded grace for a lagging receive thread); the session's drop stops
//! the thread and removes the nftables table, also when a panic unwinds.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::sync::mpsc;

use super::interrupt::{Interrupted, Signals, StopSignal};
use super::nft::{NftError, RstSuppressor};
use super::privilege::{self, Needs, PrivilegeError};
use super::raw::{self, DatalinkSource, Frame, FrameSource, PacketSender, RawSender};
use crate::exchange::{Exchange, Limits, NotASyn, Params, Request};

mod data_trace;
use crate::handshake::Outcome;
use crate::model::{decode_frame, Attributes, Decoded, LinkType};
use crate::probe::{
    check_target, plan, send_offset, Matcher, PlanError, Planned, PortRange, ProbeResult, Relation,
    RttEstimator, TargetRefused, DEFAULT_MIN_TIMEOUT,
};
pub use data_trace::{DataTraceRun, DATA_RETRY_GAP};

/// How a live session runs.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Interface to capture answers on; default: the one holding the source address.
    pub iface: Option<String>,
    /// Source address; default: the one the kernel routes from towards the target.
    pub src: Option<IpAddr>,
    /// The longest wait for a probe's answer after sending it; also the
    /// wait before any round trip was measured.
    pub timeout: Duration,
    /// The shortest wait, however fast the measured round trips.
    pub min_timeout: Duration,
    /// Probes per second.
    pub rate: f64,
    pub ports: PortRange,
    /// Install the scoped nftables rule that drops the kernel's RSTs.
    pub suppress_rst: bool,
    /// Keep the batch's frames (for `--pcap`).
    pub keep_frames: bool,
    /// Allow targets other than loopback and the lab's ranges.
    pub i_own_this_network: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            iface: None,
            src: None,
            timeout: Duration::from_secs(2),
            min_timeout: DEFAULT_MIN_TIMEOUT,
            rate: 100.0,
            ports: PortRange::default(),
            suppress_rst: false,
            keep_frames: false,
            i_own_this_network: false,
        }
    }
}

/// What every exchange of a session sends and how long it may take.
#[derive(Clone, Debug)]
pub struct ExchangeOptions {
    pub request: Request,
    /// No progress this long before the response ended: stalled.
    pub stall: Duration,
    /// The whole exchange at most.
    pub total: Duration,
    /// The response's bytes at most (a body without end stops there).
    pub max_bytes: u64,
    /// The wait for the SYN-ACK at least (the session's measured wait
    /// when that is longer).
    pub handshake: Duration,
    /// How the SYN changes when retransmitted (a profile's `[retry.N]`),
    /// applied to each request's attributes.
    pub retries: Vec<crate::profile::Retry>,
}

/// A frame of the batch as captured, with its wall-clock time.
#[derive(Clone, Debug)]
pub struct CapturedFrame {
    /// Since the Unix epoch.
    pub ts: Duration,
    /// An Ethernet frame.
    pub data: Vec<u8>,
}

/// A finished batch.
#[derive(Clone, Debug)]
pub struct LiveRun {
    pub target: SocketAddr,
    pub src: IpAddr,
    pub iface: String,
    pub results: Vec<ProbeResult>,
    /// Our SYNs, the answers, the kernel's RSTs and ICMP errors about our
    /// probes (when `keep_frames`).
    pub frames: Vec<CapturedFrame>,
    /// From the first send to the last.
    pub send_span: Duration,
    /// From the first send to the end of the run.
    pub elapsed: Duration,
    /// The wait for answers in force at the end of the batch.
    pub timeout: Duration,
    /// The nftables table that suppressed RSTs, if one did.
    pub rst_table: Option<String>,
}

impl LiveRun {
    /// Probes per second achieved (None for fewer than two probes).
    pub fn rate(&self) -> Option<f64> {
        let n = self.results.len();
        let secs = self.send_span.as_secs_f64();
        (n >= 2 && secs > 0.0).then(|| (n - 1) as f64 / secs)
    }
}

#[derive(Debug, Error)]
pub enum LiveError {
    #[error(transparent)]
    Refused(#[from] TargetRefused),
    #[error(transparent)]
    Privilege(#[from] PrivilegeError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Nft(#[from] NftError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The receive thread ended (its socket failed): no answer can be
    /// matched any more in this session.
    #[error("capturing answers on {iface} failed: {source}")]
    Capture {
        iface: String,
        #[source]
        source: io::Error,
    },
    #[error("{0}; the probes stopped and the RST rule (if any) was removed")]
    Interrupted(#[source] Interrupted),
    /// An exchange without the RST rule: the kernel, which has no socket
    /// for the connection, would reset it at the server's first segment.
    #[error(
        "an exchange needs the kernel's RSTs suppressed (--suppress-rst): \
         the kernel has no socket for the connection and would reset it"
    )]
    ExchangeNeedsRstRule,
    #[error("exchange {index}: {source}")]
    Exchange {
        index: usize,
        #[source]
        source: NotASyn,
    },
}

impl LiveError {
    /// Whether later batches of the session cannot succeed either.
    pub fn ends_session(&self) -> bool {
        matches!(self, LiveError::Interrupted(_) | LiveError::Capture { .. })
    }
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> LiveError {
    let what = what.into();
    move |source| LiveError::Io { what, source }
}

/// Where the next session's port block is placed: random once per
/// process, then moving on, so sessions in one process do not reuse ports soon.
fn next_port_cursor(n: usize) -> usize {
    static CURSOR: OnceLock<AtomicUsize> = OnceLock::new();
    CURSOR
        .get_or_init(|| AtomicUsize::new(rand::random::<u16>() as usize))
        .fetch_add(n, Ordering::Relaxed)
}

/// The checks made before anything is opened or sent: the target is one
/// synlab may probe from here, and the process has the privileges the
/// options need, so a missing privilege is one clear line.
pub fn preflight(target: SocketAddr, opts: &LiveOptions) -> Result<Needs, LiveError> {
    check_target(
        target.ip(),
        raw::in_initial_netns(),
        opts.i_own_this_network,
    )?;
    let needs = Needs {
        net_raw: true,
        net_admin: opts.suppress_rst,
    };
    privilege::validate_privilege("probe", privilege::current(), needs)?;
    Ok(needs)
}

/// How long a batch waits, after its deadline, for a receive thread that
/// has not yet read the frames the kernel holds (a loaded machine).
const RECEIVER_GRACE: Duration = Duration::from_millis(500);

/// The packet socket's read timeout: how often the receive thread looks at
/// its stop flag and reports the queue empty.
const READ_TIMEOUT: Duration = Duration::from_millis(10);

/// How often a batch waiting for answers looks at
/// [`LiveSession::output_gone`]: a reader that left stops the probes
/// within this, answers or not.
const OUTPUT_CHECK: Duration = Duration::from_millis(100);

/// When a live loop wakes next: its earliest deadline (not before `now`),
/// or a read timeout from now without one, and at least every
/// [`OUTPUT_CHECK`] to notice a reader gone.
fn wake_at<const N: usize>(deadlines: [Option<Duration>; N], now: Duration) -> Duration {
    let wake = deadlines
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + READ_TIMEOUT)
        .max(now);
    wake.min(now + OUTPUT_CHECK)
}

/// What the receive thread passes on.
enum Rx {
    /// A frame; `read_at` on the session clock.
    Frame { frame: Frame, read_at: Duration },
    /// The socket failed; the thread ended.
    Failed(io::Error),
}

/// The session's clock: a monotonic start, and the wall-clock time of it
/// (kernel timestamps are wall-clock).
#[derive(Clone, Copy, Debug)]
struct Clock {
    start: Instant,
    epoch: Duration,
}

impl Clock {
    fn new() -> Self {
        Clock {
            start: Instant::now(),
            epoch: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// When a frame read at `read_at` arrived: its kernel timestamp on the
    /// session clock, unless that is not plausible (after the read, or a
    /// second before it: the wall clock was stepped), then the read time.
    fn arrival(&self, ts: Option<Duration>, read_at: Duration) -> Duration {
        self.kernel_arrival(ts, read_at).unwrap_or(read_at)
    }

    /// The kernel timestamp part of [`Clock::arrival`], when plausible.
    fn kernel_arrival(&self, ts: Option<Duration>, read_at: Duration) -> Option<Duration> {
        ts.and_then(|t| t.checked_sub(self.epoch))
            .filter(|&at| at <= read_at && read_at - at < Duration::from_secs(1))
    }
}

/// The receive thread and what it shares.
struct Receiver {
    stop: Arc<AtomicBool>,
    /// On the session clock, in nanoseconds: a time by which every frame
    /// the kernel had was read (an empty read, or a frame's own kernel
    /// timestamp). Silence is only concluded behind it.
    caught_up: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    fn spawn<R: FrameSource + 'static>(
        mut source: R,
        clock: Clock,
        tx: mpsc::UnboundedSender<Rx>,
    ) -> io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let caught_up = Arc::new(AtomicU64::new(0));
        let (stop2, caught2) = (stop.clone(), caught_up.clone());
        let mark = move |at: Duration| {
            let nanos = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
            caught2.fetch_max(nanos, Ordering::Relaxed);
        };
        let thread = std::thread::Builder::new()
            .name("synlab-rx".into())
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    let msg = match source.next_frame() {
                        Ok(Some(frame)) => {
                            let read_at = clock.now();
                            // Frames are read in arrival order: all that
                            // arrived before this one were read.
                            if let Some(at) = clock.kernel_arrival(frame.ts, read_at) {
                                mark(at);
                            }
                            Rx::Frame { frame, read_at }
                        }
                        Ok(None) => {
                            mark(clock.now());
                            continue;
                        }
                        Err(e) => Rx::Failed(e),
                    };
                    let failed = matches!(msg, Rx::Failed(_));
                    if tx.send(msg).is_err() || failed {
                        break;
                    }
                }
            })?;
        Ok(Receiver {
            stop,
            caught_up,
            thread: Some(thread),
        })
    }

    /// Every frame the kernel received by `at` was read.
    fn caught_up(&self, at: Duration) -> bool {
        Duration::from_nanos(self.caught_up.load(Ordering::Relaxed)) >= at
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // Ends within one read timeout; a panic in it was reported.
            let _ = t.join();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The I/O of a session, apart from the runtime that drives it.
struct SessionIo {
    sender: Box<dyn PacketSender>,
    rx: mpsc::UnboundedReceiver<Rx>,
    receiver: Receiver,
    clock: Clock,
    signals: Signals,
    /// The first stop signal seen; every later batch fails with it.
    interrupted: Option<StopSignal>,
    /// The frames of a batch a stop signal cut short, for `--pcap` (issue
    /// 22, item 10: the interrupted first round was lost).
    unfinished_frames: Vec<CapturedFrame>,
    /// Set by the caller when its output's reader is gone (a broken pipe):
    /// the batch stops as for a signal ([`StopSignal::Pipe`]).
    output_gone: Arc<AtomicBool>,
    /// The receive thread's failure, once it happened.
    capture_failed: Option<String>,
    iface: String,
    rtt: RttEstimator,
}

/// One live session: sockets, runtime, port block, RST rule and RTT
/// estimate, shared by every batch.
pub struct LiveSession {
    target: SocketAddr,
    src: IpAddr,
    iface: String,
    rate: f64,
    keep_frames: bool,
    ports: PortRange,
    cursor: usize,
    // Field order is drop order: the I/O (receive thread) goes before the
    // RST rule, and the runtime last.
    io: SessionIo,
    rst: Option<RstSuppressor>,
    rt: tokio::runtime::Runtime,
}

/// What a session is made of, opened or faked.
struct Parts {
    target: SocketAddr,
    src: IpAddr,
    iface: String,
    opts: LiveOptions,
    budget: usize,
}

impl LiveSession {
    /// Check, then open everything the session needs, once. `budget`: the
    /// most probes the session will send (the size of its port block).
    pub fn open(target: SocketAddr, opts: &LiveOptions, budget: usize) -> Result<Self, LiveError> {
        let needs = preflight(target, opts)?;
        let src = match opts.src {
            Some(s) => s,
            None => raw::source_for(target.ip())
                .map_err(io_err(format!("no route to {}", target.ip())))?,
        };
        let iface = raw::find_interface(opts.iface.as_deref(), src)
            .map_err(io_err("choosing the capture interface"))?;
        super::nft::sweep_stale_tables();
        // The sockets are opened, then the process is lowered to what the
        // nftables table needs, before the runtime starts and the receive
        // thread parses the first frame.
        let opened = privilege::open_then_lower("probe", needs, || -> io::Result<_> {
            let source = DatalinkSource::open(&iface, READ_TIMEOUT)?;
            let sender = RawSender::open(target.is_ipv6())?;
            Ok((sender, source))
        })?;
        let (sender, source) = opened.map_err(io_err(format!(
            "opening raw sockets (capture on {})",
            iface.name
        )))?;
        let parts = Parts {
            target,
            src,
            iface: iface.name,
            opts: opts.clone(),
            budget,
        };
        LiveSession::with_io(parts, Box::new(sender), source)
    }

    /// A session over sockets a command opened itself, for `src` on
    /// `iface`: `sweep --bisect-broken` bisects after its sweep, when the
    /// process holds no capability to open others.
    pub fn over_sockets<R: FrameSource + 'static>(
        target: SocketAddr,
        opts: &LiveOptions,
        budget: usize,
        (src, iface): (IpAddr, String),
        sender: Box<dyn PacketSender>,
        source: R,
    ) -> Result<Self, LiveError> {
        let parts = Parts {
            target,
            src,
            iface,
            opts: opts.clone(),
            budget,
        };
        LiveSession::with_io(parts, sender, source)
    }

    /// Send the next batches to `target` (of the same IP version): one
    /// session serves many targets in turn, on the same sockets.
    pub fn retarget(&mut self, target: SocketAddr) {
        self.target = target;
    }

    /// A session over any sender and frame source (fakes in tests).
    fn with_io<R: FrameSource + 'static>(
        parts: Parts,
        sender: Box<dyn PacketSender>,
        source: R,
    ) -> Result<Self, LiveError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io_err("starting the tokio runtime"))?;
        // Watched before the RST rule exists, so that no stop signal can
        // end the process while it does.
        let signals = {
            let _in_rt = rt.enter();
            Signals::watch().map_err(io_err("watching SIGINT, SIGTERM and SIGHUP"))?
        };
        let opts = &parts.opts;
        let ports = opts
            .ports
            .block(next_port_cursor(parts.budget), parts.budget);
        let rst = match opts.suppress_rst {
            true => Some(RstSuppressor::install(&ports.ports().collect::<Vec<_>>())?),
            false => None,
        };
        let clock = Clock::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let receiver =
            Receiver::spawn(source, clock, tx).map_err(io_err("starting the receive thread"))?;
        Ok(LiveSession {
            target: parts.target,
            src: parts.src,
            iface: parts.iface.clone(),
            rate: opts.rate,
            keep_frames: opts.keep_frames,
            ports,
            cursor: 0,
            io: SessionIo {
                sender,
                rx,
                receiver,
                clock,
                signals,
                interrupted: None,
                unfinished_frames: Vec::new(),
                output_gone: Arc::new(AtomicBool::new(false)),
                capture_failed: None,
                iface: parts.iface,
                rtt: RttEstimator::new(opts.min_timeout, opts.timeout),
            },
            rst,
            rt,
        })
    }

    /// The round-trip estimate so far.
    pub fn rtt(&self) -> &RttEstimator {
        &self.io.rtt
    }

    /// The source address the probes are sent from.
    pub fn src(&self) -> IpAddr {
        self.src
    }

    /// The interface answers are captured on.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Probe the target once per request, all outstanding at once; the
    /// results in request order.
    pub fn run_batch(&mut self, requests: &[Attributes]) -> Result<LiveRun, LiveError> {
        self.run_batch_with(requests, &mut |_| {})
    }

    /// The frames (kept with `keep_frames`) of the batch a stop signal
    /// interrupted, taken: what was sent and heard before the signal.
    pub fn take_unfinished_frames(&mut self) -> Vec<CapturedFrame> {
        std::mem::take(&mut self.io.unfinished_frames)
    }

    /// A flag to set when the output's reader is gone (a write failed with
    /// a broken pipe): the running batch stops at its next step with
    /// [`StopSignal::Pipe`], instead of probing on for nobody.
    pub fn output_gone(&self) -> Arc<AtomicBool> {
        self.io.output_gone.clone()
    }

    /// [`Self::run_batch`], handing each probe's result to `on_answer` as
    /// soon as its answer arrives (in arrival order; the unanswered ones
    /// only in the run's results), so `probe` prints rows as they come.
    pub fn run_batch_with(
        &mut self,
        requests: &[Attributes],
        on_answer: &mut dyn FnMut(&ProbeResult),
    ) -> Result<LiveRun, LiveError> {
        if let Some(s) = self.io.interrupted {
            return Err(LiveError::Interrupted(Interrupted(s)));
        }
        let planned = self.plan(requests)?;
        let batch =
            self.rt.block_on(
                self.io
                    .drive(planned, self.rate, self.keep_frames, on_answer),
            );
        Ok(self.complete_run(batch?))
    }

    /// An exchange per request (a handshake from the request's SYN, then
    /// `ex.request` and its whole response), all at once, each from its own
    /// source port; the results in request order, with each exchange's
    /// statistics. Needs the session's RST rule.
    pub fn run_exchanges(
        &mut self,
        requests: &[Attributes],
        ex: &ExchangeOptions,
    ) -> Result<LiveRun, LiveError> {
        self.run_exchanges_with(requests, ex, &mut |_| {})
    }

    /// [`Self::run_exchanges`], handing each exchange's result to
    /// `on_done` as soon as that exchange has ended.
    pub fn run_exchanges_with(
        &mut self,
        requests: &[Attributes],
        ex: &ExchangeOptions,
        on_done: &mut dyn FnMut(&ProbeResult),
    ) -> Result<LiveRun, LiveError> {
        if let Some(s) = self.io.interrupted {
            return Err(LiveError::Interrupted(Interrupted(s)));
        }
        if self.rst.is_none() {
            return Err(LiveError::ExchangeNeedsRstRule);
        }
        let planned = self.plan(requests)?;
        let limits = Limits {
            handshake: self.io.rtt.timeout().max(ex.handshake),
            stall: ex.stall,
            total: ex.total,
            max_bytes: ex.max_bytes,
        };
        let mut conns = Vec::with_capacity(planned.len());
        for (index, (p, request)) in planned.iter().zip(requests).enumerate() {
            let retries = ex
                .retries
                .iter()
                .map(|r| {
                    let attrs = crate::profile::apply_retry(request, &r.set);
                    crate::probe::retry_packet(p, &attrs)
                        .map(|packet| (r.from_try, packet))
                        .map_err(|source| LiveError::Plan(PlanError::Craft { index, source }))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let params = Params {
                syn: p.packet.clone(),
                flow: request.clone(),
                request: ex.request.clone(),
                limits,
                retries,
            };
            // Created when due; the SYN is checked now.
            crate::exchange::check_syn(&params.syn)
                .map_err(|source| LiveError::Exchange { index, source })?;
            conns.push(params);
        }
        let batch = self.rt.block_on(self.io.drive_exchanges(
            planned,
            conns,
            self.rate,
            self.keep_frames,
            on_done,
        ));
        Ok(self.complete_run(batch?))
    }

    /// The SYNs of a batch, from new ports of the session's block.
    fn plan(&mut self, requests: &[Attributes]) -> Result<Vec<Planned>, LiveError> {
        let clock_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let planned = plan(
            requests,
            self.src,
            self.target,
            self.ports,
            self.cursor,
            rand::random(),
            clock_ms,
        )?;
        self.cursor = self.cursor.wrapping_add(requests.len());
        Ok(planned)
    }

    /// A batch's run with the session's facts filled in.
    fn complete_run(&self, mut run: LiveRun) -> LiveRun {
        if !self.keep_frames {
            run.frames.clear();
        }
        run.target = self.target;
        run.src = self.src;
        run.iface.clone_from(&self.iface);
        run.rst_table = self.rst.as_ref().map(|g| g.table().to_owned());
        run
    }

    /// End the session: stop the receive thread and remove the RST rule,
    /// reporting a failure to remove it (dropping removes it too, but can
    /// only warn).
    pub fn close(mut self) -> Result<(), LiveError> {
        self.io.receiver.stop();
        if let Some(g) = self.rst.take() {
            g.remove()?;
        }
        Ok(())
    }
}

/// One batch in flight.
struct Batch {
    matcher: Matcher,
    frames: Vec<CapturedFrame>,
    epoch: Duration,
}

impl SessionIo {
    /// Frames read between batches answer nothing of this one (its ports
    /// are new); drop them, noting a receive failure.
    fn forget_earlier_frames(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            if let Rx::Failed(e) = msg {
                self.capture_failed = Some(e.to_string());
            }
        }
    }

    /// Take one frame; a newly answered probe's round trip updates the
    /// estimate and the batch's wait. Returns the probe it answered.
    fn absorb(&mut self, batch: &mut Batch, frame: Frame, read_at: Duration) -> Option<usize> {
        let at = self.clock.arrival(frame.ts, read_at);
        let decoded = decode_frame(LinkType::Ethernet, &frame.data);
        let relation = batch.matcher.feed(at, &decoded);
        if let Relation::ToProbe {
            index,
            answer: true,
        } = relation
        {
            if let Some(rtt) = batch.matcher.rtt(index) {
                self.rtt.sample(rtt);
                batch.matcher.set_timeout(self.rtt.timeout());
            }
        }
        if relation.is_related() {
            batch.frames.push(CapturedFrame {
                ts: batch.epoch + at,
                data: frame.data,
            });
        }
        match relation {
            Relation::ToProbe {
                index,
                answer: true,
            } => Some(index),
            _ => None,
        }
    }

    /// The caller's output is gone: stop now, as for SIGPIPE (every later
    /// batch fails the same way, and the session's drop removes the table).
    fn stop_if_output_gone(&mut self) -> Result<(), LiveError> {
        if !self.output_gone.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.interrupted = Some(StopSignal::Pipe);
        Err(LiveError::Interrupted(Interrupted(StopSignal::Pipe)))
    }

    /// What every turn of a live loop checks first: the reader of our
    /// output is still there, and the capture thread has not failed.
    fn check_still_running(&mut self) -> Result<(), LiveError> {
        self.stop_if_output_gone()?;
        match &self.capture_failed {
            Some(reason) => Err(LiveError::Capture {
                iface: self.iface.clone(),
                source: io::Error::other(reason.clone()),
            }),
            None => Ok(()),
        }
    }

    async fn drive(
        &mut self,
        planned: Vec<Planned>,
        rate: f64,
        keep_frames: bool,
        on_answer: &mut dyn FnMut(&ProbeResult),
    ) -> Result<LiveRun, LiveError> {
        self.forget_earlier_frames();
        let n = planned.len();
        let start = self.clock.now();
        let mut batch = Batch {
            matcher: Matcher::new(&planned, self.rtt.timeout()),
            frames: Vec::new(),
            epoch: self.clock.epoch,
        };
        let mut next = 0;
        let (mut first_sent, mut last_sent) = (None, None);
        let mut answered_at = None;
        loop {
            self.check_still_running()?;
            let now = self.clock.now();
            if next < n && now >= start + send_offset(next, rate) {
                let p = &planned[next];
                self.sender
                    .send(&p.packet, p.dst.ip())
                    .map_err(io_err(format!("sending probe {next} to {}", p.dst)))?;
                batch.matcher.sent(next, now);
                first_sent.get_or_insert(now);
                last_sent = Some(now);
                next += 1;
                continue;
            }
            let wake = if next < n {
                start + send_offset(next, rate)
            } else {
                // Every probe sent: the batch ends at its deadline, or once
                // all are answered; for --pcap, once the frames that
                // followed the answers (the kernel's RSTs) were read too.
                let end = match batch.matcher.deadline() {
                    Some(deadline) if !batch.matcher.all_answered() => deadline,
                    _ if !keep_frames => break,
                    _ => *answered_at.get_or_insert(now),
                };
                if now < end {
                    end
                } else if self.receiver.caught_up(end) {
                    break;
                } else if now >= end + RECEIVER_GRACE {
                    tracing::warn!("the receive thread lags; ending the batch without it");
                    break;
                } else {
                    now + READ_TIMEOUT / 2
                }
            };
            // Woken at least every OUTPUT_CHECK to notice a reader gone.
            let wake = wake.min(now + OUTPUT_CHECK);
            let sleep = tokio::time::sleep_until((self.clock.start + wake).into());
            tokio::select! {
                biased;
                s = self.signals.recv() => {
                    self.interrupted = Some(s);
                    self.unfinished_frames = std::mem::take(&mut batch.frames);
                    return Err(LiveError::Interrupted(Interrupted(s)));
                }
                msg = self.rx.recv() => match msg {
                    Some(Rx::Frame { frame, read_at }) => {
                        let answered = self.absorb(&mut batch, frame, read_at);
                        if let Some(r) = answered.and_then(|i| batch.matcher.answered(i)) {
                            on_answer(&r);
                        }
                    }
                    Some(Rx::Failed(e)) => self.capture_failed = Some(e.to_string()),
                    None => self.capture_failed = Some("the receive thread ended".into()),
                },
                () = sleep => {}
            }
        }
        let first = first_sent.unwrap_or(start);
        Ok(LiveRun {
            target: planned
                .first()
                .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |p| p.dst),
            src: planned
                .first()
                .map_or(IpAddr::from([0, 0, 0, 0]), |p| p.src.ip()),
            iface: String::new(),
            timeout: batch.matcher.timeout(),
            results: batch.matcher.finish(),
            frames: batch.frames,
            send_span: last_sent.unwrap_or(first).saturating_sub(first),
            elapsed: self.clock.now().saturating_sub(first),
            rst_table: None,
        })
    }
}

/// Exchanges of one batch running at once at most. A batch of the search
/// holds every probe of a phase (a hundred downloads with a few units):
/// all at once, they share the path and the server so thinly that some make
/// no progress for the stall timeout, and a healthy variant reads as
/// stalled. The rest start as running ones end.
const MAX_RUNNING_EXCHANGES: usize = 12;

/// The exchanges of one batch, by index, and their source ports.
struct Exchanges {
    conns: Vec<Option<Exchange>>,
    by_port: std::collections::HashMap<u16, usize>,
    frames: Vec<CapturedFrame>,
}

impl Exchanges {
    /// Started and not ended.
    fn running(&self) -> usize {
        self.conns
            .iter()
            .flatten()
            .filter(|c| c.result().is_none())
            .count()
    }

    fn all_done(&self) -> bool {
        self.conns
            .iter()
            .all(|c| c.as_ref().is_some_and(|c| c.result().is_some()))
    }

    /// The earliest timer of the started exchanges.
    fn poll_at(&self) -> Option<Duration> {
        self.conns
            .iter()
            .flatten()
            .filter_map(Exchange::poll_at)
            .min()
    }

    /// Hand a captured frame to the exchange it belongs to.
    fn feed(&mut self, at: Duration, epoch: Duration, frame: Frame, keep: bool) {
        let decoded = decode_frame(LinkType::Ethernet, &frame.data);
        let (index, ours) = match &decoded {
            Decoded::Tcp(seg) => match self.by_port.get(&seg.dst.port()) {
                Some(&i) => (i, false),
                None => match self.by_port.get(&seg.src.port()) {
                    Some(&i) => (i, true),
                    None => return,
                },
            },
            Decoded::Icmp(icmp) => match self.by_port.get(&icmp.quoted.src.port()) {
                Some(&i) => (i, false),
                None => return,
            },
            Decoded::Skipped(_) => return,
        };
        if let Some(Some(conn)) = self.conns.get_mut(index) {
            match &decoded {
                Decoded::Tcp(seg) if !ours => conn.on_segment(at, seg),
                Decoded::Icmp(icmp) => conn.on_icmp(at, icmp),
                _ => {}
            }
        }
        if keep {
            self.frames.push(CapturedFrame {
                ts: epoch + at,
                data: frame.data,
            });
        }
    }
}

impl SessionIo {
    /// Run a batch of exchanges until each has ended (each is bounded by
    /// its own limits), starting them at the session's rate, at most
    /// [`MAX_RUNNING_EXCHANGES`] at once.
    async fn drive_exchanges(
        &mut self,
        planned: Vec<Planned>,
        params: Vec<Params>,
        rate: f64,
        keep_frames: bool,
        on_done: &mut dyn FnMut(&ProbeResult),
    ) -> Result<LiveRun, LiveError> {
        self.forget_earlier_frames();
        let n = planned.len();
        let start = self.clock.now();
        let mut reported = vec![false; n];
        let mut ex = Exchanges {
            conns: (0..n).map(|_| None).collect(),
            by_port: planned.iter().map(|p| (p.src.port(), p.index)).collect(),
            frames: Vec::new(),
        };
        let mut params = params.into_iter();
        let mut next = 0;
        let (mut first_sent, mut last_sent) = (None, None);
        loop {
            self.check_still_running()?;
            let now = self.clock.now();
            let mut running = ex.running();
            while next < n
                && now >= start + send_offset(next, rate)
                && running < MAX_RUNNING_EXCHANGES
            {
                let Some(p) = params.next() else { break };
                let conn = Exchange::new(p, now).map_err(|source| LiveError::Exchange {
                    index: next,
                    source,
                })?;
                ex.conns[next] = Some(conn);
                running += 1;
                first_sent.get_or_insert(now);
                last_sent = Some(now);
                next += 1;
            }
            for (i, conn) in ex.conns.iter_mut().enumerate() {
                let Some(conn) = conn else { continue };
                for packet in conn.poll(now) {
                    self.sender
                        .send(&packet, conn.remote().ip())
                        .map_err(io_err(format!("sending exchange {i}'s segment")))?;
                }
            }
            for ((p, conn), done) in planned.iter().zip(&ex.conns).zip(&mut reported) {
                if let Some(r) = conn.as_ref().and_then(Exchange::result).filter(|_| !*done) {
                    *done = true;
                    on_done(&exchange_result(p, Some(r)));
                }
            }
            if next >= n && ex.all_done() {
                break;
            }
            // A start held back by the cap waits for a running one to end
            // (a frame or a timer wakes the loop).
            let next_start = (next < n && running < MAX_RUNNING_EXCHANGES)
                .then(|| start + send_offset(next, rate));
            let wake = wake_at([next_start, ex.poll_at()], now);
            let sleep = tokio::time::sleep_until((self.clock.start + wake).into());
            tokio::select! {
                biased;
                s = self.signals.recv() => {
                    self.interrupted = Some(s);
                    self.unfinished_frames = std::mem::take(&mut ex.frames);
                    return Err(LiveError::Interrupted(Interrupted(s)));
                }
                msg = self.rx.recv() => match msg {
                    Some(Rx::Frame { frame, read_at }) => {
                        let at = self.clock.arrival(frame.ts, read_at);
                        ex.feed(at, self.clock.epoch, frame, keep_frames);
                    }
                    Some(Rx::Failed(e)) => self.capture_failed = Some(e.to_string()),
                    None => self.capture_failed = Some("the receive thread ended".into()),
                },
                () = sleep => {}
            }
        }
        let first = first_sent.unwrap_or(start);
        let results = planned
            .iter()
            .zip(&ex.conns)
            .map(|(p, conn)| exchange_result(p, conn.as_ref().and_then(Exchange::result)))
            .collect();
        Ok(LiveRun {
            target: planned
                .first()
                .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |p| p.dst),
            src: planned
                .first()
                .map_or(IpAddr::from([0, 0, 0, 0]), |p| p.src.ip()),
            iface: String::new(),
            timeout: self.rtt.timeout(),
            results,
            frames: ex.frames,
            send_span: last_sent.unwrap_or(first).saturating_sub(first),
            elapsed: self.clock.now().saturating_sub(first),
            rst_table: None,
        })
    }
}

/// One exchange's result as a probe's.
fn exchange_result(p: &Planned, r: Option<&crate::exchange::ExchangeResult>) -> ProbeResult {
    ProbeResult {
        index: p.index,
        src_port: p.src.port(),
        seq: p.seq,
        outcome: r.map_or(Outcome::NoReply, |r| r.outcome),
        rtt: r.and_then(|r| r.rtt),
        syn: p.syn.clone(),
        reply: r.and_then(|r| r.reply.clone()),
        icmp_from: r.and_then(|r| r.icmp_from),
        exchange: r.map(|r| r.stats.clone()),
        injected: false,
        evidence: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::craft::{build_packet, ethernet_frame, Volatile};
    use crate::model::Field;
    use crate::model::{Decoded, Segment, Value};
    use std::sync::mpsc as std_mpsc;

    /// A fake network: every sent SYN is seen leaving, then answered by a
    /// "server" after 1 ms, by the SYN's TTL: 64 SYN-ACK, 65 RST, anything
    /// else silence (a middlebox dropping it).
    struct FakeSender {
        wire: std_mpsc::Sender<Vec<u8>>,
    }

    struct FakeWire {
        rx: std_mpsc::Receiver<Vec<u8>>,
        pending: Vec<Vec<u8>>,
    }

    impl PacketSender for FakeSender {
        fn send(&mut self, packet: &[u8], _dst: IpAddr) -> io::Result<()> {
            self.wire
                .send(packet.to_vec())
                .map_err(|_| io::Error::other("wire closed"))
        }
    }

    fn reply_to(seg: &Segment<'_>) -> Option<Vec<u8>> {
        let mut a = Attributes::new();
        a.insert(Field::IpTtl, 64u8);
        a.insert(Field::TcpWindowSizeValue, 65160u16);
        match seg.attributes().get(Field::IpTtl) {
            Some(Value::Int(64)) => {
                a.insert(Field::TcpFlagsAck, true);
                a.insert(Field::TcpOptionsMssVal, 1460u16);
                a.insert(Field::SynlabOptionsLayout, "mss");
            }
            Some(Value::Int(65)) => {
                a.insert(Field::TcpFlagsSyn, false);
                a.insert(Field::TcpFlagsReset, true);
                a.insert(Field::TcpFlagsAck, true);
            }
            _ => return None,
        }
        let v = Volatile {
            src: seg.dst,
            dst: seg.src,
            seq: 5,
            ack: seg.seq.wrapping_add(1),
            ip_id: 1,
            flow_label: 0,
            tsval: 0,
            tsecr: 0,
        };
        build_packet(&a, &v).ok()
    }

    impl FrameSource for FakeWire {
        fn next_frame(&mut self) -> io::Result<Option<Frame>> {
            if let Some(data) = self.pending.pop() {
                std::thread::sleep(Duration::from_millis(1));
                return Ok(Some(Frame { data, ts: None }));
            }
            match self.rx.recv_timeout(Duration::from_millis(10)) {
                Ok(ip) => {
                    if let Decoded::Tcp(seg) = decode_frame(LinkType::Raw, &ip) {
                        if let Some(r) = reply_to(&seg) {
                            self.pending.push(ethernet_frame(&r, [2; 6], [1; 6]));
                        }
                    }
                    Ok(Some(Frame {
                        data: ethernet_frame(&ip, [1; 6], [2; 6]),
                        ts: None,
                    }))
                }
                Err(_) => Ok(None),
            }
        }
    }

    fn syn(ttl: u8) -> Attributes {
        let mut a = Attributes::new();
        a.insert(Field::IpTtl, ttl);
        a.insert(Field::TcpWindowSizeValue, 64240u16);
        a.insert(Field::TcpOptionsMssVal, 1460u16);
        a.insert(Field::SynlabOptionsLayout, "mss");
        a
    }

    fn session(timeout_ms: u64, min_timeout_ms: u64) -> LiveSession {
        let (wire, rx) = std_mpsc::channel();
        let parts = Parts {
            target: SocketAddr::from(([10, 0, 0, 2], 80)),
            src: IpAddr::from([10, 0, 0, 1]),
            iface: "fake0".into(),
            opts: LiveOptions {
                timeout: Duration::from_millis(timeout_ms),
                min_timeout: Duration::from_millis(min_timeout_ms),
                rate: 1000.0,
                keep_frames: true,
                ..LiveOptions::default()
            },
            budget: 100,
        };
        let source = FakeWire {
            rx,
            pending: Vec::new(),
        };
        LiveSession::with_io(parts, Box::new(FakeSender { wire }), source)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn batch(s: &mut LiveSession, ttls: &[u8]) -> LiveRun {
        let requests: Vec<Attributes> = ttls.iter().map(|&t| syn(t)).collect();
        s.run_batch(&requests).unwrap_or_else(|e| panic!("{e}"))
    }

    fn outcomes(run: &LiveRun) -> Vec<Outcome> {
        run.results.iter().map(|r| r.outcome).collect()
    }

    #[test]
    fn fake_server_answers_every_probe() {
        let mut s = session(1000, 50);
        let run = batch(&mut s, &[64; 5]);
        assert_eq!(outcomes(&run), vec![Outcome::SynAck; 5]);
        assert!(run.results.iter().all(|r| r.rtt.is_some()));
        // Five SYNs and five SYN-ACKs were kept for the pcap.
        assert_eq!(run.frames.len(), 10);
        // All answered: the run did not wait for the timeout.
        assert!(
            run.elapsed < Duration::from_millis(900),
            "{:?}",
            run.elapsed
        );
        assert_eq!(s.rtt().samples(), 5);
        assert_eq!(run.iface, "fake0");
    }

    /// `probe` prints each row as its answer arrives: the answered probes
    /// are handed over during the batch, each once, before the batch ends;
    /// the silent one only in the run's results.
    #[test]
    fn answers_are_handed_over_as_they_arrive() {
        let mut s = session(300, 50);
        let requests: Vec<Attributes> = [64, 128, 65].iter().map(|&t| syn(t)).collect();
        let t0 = Instant::now();
        let mut seen = Vec::new();
        let run = s
            .run_batch_with(&requests, &mut |r| {
                seen.push((r.index, r.outcome, t0.elapsed()))
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let mut got: Vec<_> = seen.iter().map(|&(i, o, _)| (i, o)).collect();
        got.sort_by_key(|&(i, _)| i);
        assert_eq!(got, vec![(0, Outcome::SynAck), (2, Outcome::Reset)]);
        // Before the wait for probe 1's silence ended the batch.
        assert!(seen
            .iter()
            .all(|&(_, _, at)| at + Duration::from_millis(20) < run.elapsed));
        assert_eq!(
            outcomes(&run),
            [Outcome::SynAck, Outcome::NoReply, Outcome::Reset]
        );
    }

    #[test]
    fn resets_and_bounded_silence() {
        let mut s = session(200, 50);
        assert_eq!(outcomes(&batch(&mut s, &[65, 65])), vec![Outcome::Reset; 2]);
        let t0 = Instant::now();
        let run = batch(&mut s, &[128, 128]);
        assert_eq!(outcomes(&run), vec![Outcome::NoReply; 2]);
        // Bounded: the timeout after the last send, not more.
        assert!(
            t0.elapsed() < Duration::from_millis(1000),
            "{:?}",
            t0.elapsed()
        );
    }

    /// Silence is waited for as long as the measured round trips say (here
    /// the floor), not the ceiling: the answered probes of a batch shorten
    /// the wait for its silent ones.
    #[test]
    fn measured_rtt_shortens_the_wait_for_silence() {
        let mut s = session(3000, 100);
        let t0 = Instant::now();
        let run = batch(&mut s, &[64, 64, 64, 128]);
        let first = t0.elapsed();
        assert_eq!(
            outcomes(&run),
            vec![
                Outcome::SynAck,
                Outcome::SynAck,
                Outcome::SynAck,
                Outcome::NoReply
            ]
        );
        assert_eq!(run.timeout, Duration::from_millis(100), "the floor");
        assert!(
            first < Duration::from_millis(1500),
            "waited {first:?} of a 3 s ceiling"
        );
        let t1 = Instant::now();
        let run = batch(&mut s, &[128, 128]);
        assert_eq!(outcomes(&run), vec![Outcome::NoReply; 2]);
        assert!(
            t1.elapsed() < Duration::from_millis(1000),
            "{:?}",
            t1.elapsed()
        );
    }

    /// An exchange without the RST rule is refused before anything is
    /// sent: the kernel would reset the connection at the first data.
    #[test]
    fn an_exchange_needs_the_rst_rule() {
        let mut s = session(200, 50);
        let ex = ExchangeOptions {
            request: Request::Http {
                path: "/".into(),
                host: None,
            },
            stall: Duration::from_secs(1),
            total: Duration::from_secs(2),
            max_bytes: u64::MAX,
            handshake: Duration::from_secs(1),
            retries: Vec::new(),
        };
        let err = s.run_exchanges(&[syn(64)], &ex).err();
        assert!(
            matches!(err, Some(LiveError::ExchangeNeedsRstRule)),
            "{err:?}"
        );
        // Nothing was planned: the next batch's ports start where they did.
        let run = batch(&mut s, &[64]);
        assert_eq!(outcomes(&run), vec![Outcome::SynAck]);
    }

    /// A capture socket that fails.
    struct BrokenWire;

    impl FrameSource for BrokenWire {
        fn next_frame(&mut self) -> io::Result<Option<Frame>> {
            Err(io::Error::other("interface went away"))
        }
    }

    /// A failed capture ends the session: the batch fails with an error
    /// that says so (the oracle halts the search on it instead of retrying),
    /// and so does every later batch.
    #[test]
    fn a_failed_capture_ends_the_session() {
        let (wire, _rx) = std_mpsc::channel();
        let parts = Parts {
            target: SocketAddr::from(([10, 0, 0, 2], 80)),
            src: IpAddr::from([10, 0, 0, 1]),
            iface: "fake0".into(),
            opts: LiveOptions {
                timeout: Duration::from_millis(200),
                rate: 1000.0,
                ..LiveOptions::default()
            },
            budget: 10,
        };
        let mut s = LiveSession::with_io(parts, Box::new(FakeSender { wire }), BrokenWire)
            .unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..2 {
            let err = s.run_batch(&[syn(64)]).err();
            assert!(
                matches!(&err, Some(e @ LiveError::Capture { .. }) if e.ends_session()),
                "{err:?}"
            );
            let text = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains("fake0"), "{text}");
        }
    }

    /// Kernel timestamps place frames on the session clock, unless the
    /// wall clock was stepped (a timestamp after the read, or long before).
    #[test]
    fn arrival_times_trust_plausible_kernel_stamps() {
        let clock = Clock {
            start: Instant::now(),
            epoch: Duration::from_secs(1000),
        };
        let ms = Duration::from_millis;
        let read_at = ms(500);
        let ts = |at: Duration| Some(Duration::from_secs(1000) + at);
        assert_eq!(clock.arrival(ts(ms(499)), read_at), ms(499));
        assert_eq!(clock.arrival(None, read_at), read_at);
        assert_eq!(
            clock.arrival(ts(ms(600)), read_at),
            read_at,
            "after the read"
        );
        assert_eq!(
            clock.arrival(Some(ms(5)), read_at),
            read_at,
            "before the session"
        );
        assert_eq!(clock.kernel_arrival(ts(ms(600)), read_at), None);
        let late = Duration::from_secs(5);
        assert_eq!(
            clock.arrival(ts(ms(100)), late),
            late,
            "4.9 s before the read"
        );
    }

    /// One session, many batches: each batch's probes get new source ports
    /// from the session's block, so no answer is matched to a stale probe.
    #[test]
    fn batches_share_the_session_with_fresh_ports() {
        let mut s = session(500, 50);
        let mut ports = Vec::new();
        for _ in 0..4 {
            let run = batch(&mut s, &[64, 64]);
            assert_eq!(outcomes(&run), vec![Outcome::SynAck; 2]);
            ports.extend(run.results.iter().map(|r| r.src_port));
        }
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 8, "{ports:?}");
        assert!(ports.windows(2).all(|w| w[1] == w[0] + 1), "{ports:?}");
        assert!(s.close().is_ok());
    }
}
