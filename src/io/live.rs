//! The live driver: plan a batch, open the sockets (privileged, briefly),
//! send at a bounded rate and match answers until every probe is answered
//! or timed out, on a tokio runtime.
//!
//! Tasks: the receive loop runs in `spawn_blocking` (pnet's datalink read
//! blocks, up to its read timeout) and passes frames over a channel; the
//! main task sends on schedule, feeds frames to the `Matcher` and watches
//! for SIGINT/SIGTERM. Everything stops by the last probe's deadline; the
//! receive loop has its own hard stop besides.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::sync::mpsc;

use super::nft::{NftError, RstSuppressor};
use super::privilege::{self, Needs, PrivilegeError};
use super::raw::{self, DatalinkSource, Frame, FrameSource, PacketSender, RawSender};
use crate::model::{decode_frame, Attributes};
use crate::probe::{
    check_target, plan, send_offset, Matcher, PlanError, Planned, PortRange, ProbeResult,
    TargetRefused,
};

/// How a live batch runs.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Interface to capture answers on; default: the one holding the source address.
    pub iface: Option<String>,
    /// Source address; default: the one the kernel routes from towards the target.
    pub src: Option<IpAddr>,
    /// How long to wait for each probe's answer after sending it.
    pub timeout: Duration,
    /// Probes per second.
    pub rate: f64,
    pub ports: PortRange,
    /// Install the scoped nftables rule that drops the kernel's RSTs.
    pub suppress_rst: bool,
    /// Keep the batch's frames (for `--pcap`).
    pub keep_frames: bool,
    /// Allow targets other than loopback outside a lab namespace.
    pub i_own_this_network: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            iface: None,
            src: None,
            timeout: Duration::from_secs(2),
            rate: 100.0,
            ports: PortRange::default(),
            suppress_rst: false,
            keep_frames: false,
            i_own_this_network: false,
        }
    }
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
    #[error("interrupted by {0}; the probes stopped and the RST rule (if any) was removed")]
    Interrupted(&'static str),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> LiveError {
    let what = what.into();
    move |source| LiveError::Io { what, source }
}

/// How the driver runs; `run` fills it from `LiveOptions`.
#[derive(Clone, Copy, Debug)]
pub struct DriveOptions {
    pub timeout: Duration,
    pub rate: f64,
    pub keep_frames: bool,
    pub suppress_rst: bool,
}

/// Where the next batch's source ports start: random once per process,
/// then consecutive, so batches in one process do not reuse ports soon.
fn next_port_cursor(n: usize) -> usize {
    static CURSOR: OnceLock<AtomicUsize> = OnceLock::new();
    CURSOR
        .get_or_init(|| AtomicUsize::new(rand::random::<u16>() as usize))
        .fetch_add(n, Ordering::Relaxed)
}

/// Probe `target` once per request. Blocking; runs its own tokio runtime.
/// For the bisect oracle: results in request order.
pub fn run_batch(
    requests: &[Attributes],
    target: SocketAddr,
    opts: &LiveOptions,
) -> anyhow::Result<Vec<ProbeResult>> {
    Ok(run(requests, target, opts)?.results)
}

/// The checks made before anything is opened or sent: the target is one
/// synlab may probe from here, and the process has the privileges the
/// options need. Callers that probe in many batches (bisect) run it once
/// up front, so a missing privilege is one clear line, not a failed batch.
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

/// Probe `target` once per request, with the full record of the run.
pub fn run(
    requests: &[Attributes],
    target: SocketAddr,
    opts: &LiveOptions,
) -> Result<LiveRun, LiveError> {
    let needs = preflight(target, opts)?;
    let src = match opts.src {
        Some(s) => s,
        None => {
            raw::source_for(target.ip()).map_err(io_err(format!("no route to {}", target.ip())))?
        }
    };
    let iface = raw::find_interface(opts.iface.as_deref(), src)
        .map_err(io_err("choosing the capture interface"))?;
    let clock_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let planned = plan(
        requests,
        src,
        target,
        opts.ports,
        next_port_cursor(requests.len()),
        rand::random(),
        clock_ms,
    )?;
    let opened = privilege::with_net_raw("probe", needs, || -> io::Result<_> {
        let source = DatalinkSource::open(&iface, Duration::from_millis(20))?;
        let sender = RawSender::open(target.is_ipv6())?;
        Ok((sender, source))
    })?;
    let (sender, source) = opened.map_err(io_err(format!(
        "opening raw sockets (capture on {})",
        iface.name
    )))?;
    let drive_opts = DriveOptions {
        timeout: opts.timeout,
        rate: opts.rate,
        keep_frames: opts.keep_frames,
        suppress_rst: opts.suppress_rst,
    };
    let mut run = drive(planned, sender, source, drive_opts)?;
    run.src = src;
    run.iface = iface.name;
    Ok(run)
}

/// Run a planned batch over any sender and frame source.
pub fn drive<S: PacketSender, R: FrameSource + 'static>(
    planned: Vec<Planned>,
    sender: S,
    source: R,
    opts: DriveOptions,
) -> Result<LiveRun, LiveError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io_err("starting the tokio runtime"))?;
    rt.block_on(drive_async(planned, sender, source, opts))
}

struct Batch {
    matcher: Matcher,
    frames: Vec<CapturedFrame>,
    keep_frames: bool,
    epoch: Duration,
}

impl Batch {
    fn absorb(&mut self, at: Duration, data: Vec<u8>) {
        let Ok(decoded) = decode_frame(1, &data) else {
            return;
        };
        let related = self.matcher.feed(at, &decoded).is_related();
        if related && self.keep_frames {
            self.frames.push(CapturedFrame {
                ts: self.epoch + at,
                data,
            });
        }
    }
}

async fn drive_async<S: PacketSender, R: FrameSource + 'static>(
    planned: Vec<Planned>,
    mut sender: S,
    source: R,
    opts: DriveOptions,
) -> Result<LiveRun, LiveError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigint = signal(SignalKind::interrupt()).map_err(io_err("watching SIGINT"))?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(io_err("watching SIGTERM"))?;
    let n = planned.len();
    let target = planned
        .first()
        .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |p| p.dst);
    let src = planned.first().map_or(target.ip(), |p| p.src.ip());
    let ports: Vec<u16> = planned.iter().map(|p| p.src.port()).collect();
    // From here on the guard removes the rule whichever way this returns.
    let guard = match opts.suppress_rst && n > 0 {
        true => Some(RstSuppressor::install(&ports)?),
        false => None,
    };

    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let start = Instant::now();
    let schedule_end = send_offset(n.saturating_sub(1), opts.rate) + opts.timeout;
    let hard_stop = start + schedule_end + Duration::from_secs(10);
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = mpsc::unbounded_channel::<(Duration, Vec<u8>)>();
    let receiver = {
        let stop = stop.clone();
        let mut source = source;
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            while !stop.load(Ordering::Relaxed) && Instant::now() < hard_stop {
                if let Some(Frame { data, ts }) = source.next_frame()? {
                    // The kernel's receive time, on the run's clock; else now.
                    let at = ts
                        .and_then(|t| t.checked_sub(epoch))
                        .unwrap_or_else(|| start.elapsed());
                    if tx.send((at, data)).is_err() {
                        break;
                    }
                }
            }
            Ok(())
        })
    };

    let mut batch = Batch {
        matcher: Matcher::new(&planned, opts.timeout),
        frames: Vec::new(),
        keep_frames: opts.keep_frames,
        epoch,
    };
    let mut next = 0;
    let (mut first_sent, mut last_sent) = (None, None);
    let outcome: Result<(), LiveError> = loop {
        let now = start.elapsed();
        if next < n && now >= send_offset(next, opts.rate) {
            let p = &planned[next];
            let at = start.elapsed();
            if let Err(e) = sender.send(&p.packet, p.dst.ip()) {
                break Err(io_err(format!("sending probe {next} to {}", p.dst))(e));
            }
            batch.matcher.sent(next, at);
            first_sent.get_or_insert(at);
            last_sent = Some(at);
            next += 1;
            continue;
        }
        if next == n {
            let expired = batch.matcher.deadline().is_none_or(|d| now >= d);
            if batch.matcher.all_answered() || expired {
                break Ok(());
            }
        }
        let wake = if next < n {
            send_offset(next, opts.rate)
        } else {
            batch.matcher.deadline().unwrap_or(now)
        };
        tokio::select! {
            frame = rx.recv() => match frame {
                Some((at, data)) => batch.absorb(at, data),
                None => break Ok(()), // the receiver stopped; its result says why
            },
            _ = tokio::time::sleep_until((start + wake).into()) => {}
            _ = sigint.recv() => break Err(LiveError::Interrupted("SIGINT")),
            _ = sigterm.recv() => break Err(LiveError::Interrupted("SIGTERM")),
        }
    };
    stop.store(true, Ordering::Relaxed);
    let received = receiver.await;
    while let Ok((at, data)) = rx.try_recv() {
        batch.absorb(at, data);
    }
    let rst_table = guard.as_ref().map(|g| g.table().to_owned());
    if let Some(g) = guard {
        g.remove()?;
    }
    outcome?;
    match received {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(io_err("capturing answers")(e)),
        Err(e) => {
            return Err(LiveError::Io {
                what: "the receive task".into(),
                source: io::Error::other(e.to_string()),
            })
        }
    }
    if next < n {
        return Err(LiveError::Io {
            what: format!("the capture stopped after {next} of {n} probes were sent"),
            source: io::Error::other("receiver ended early"),
        });
    }
    let first = first_sent.unwrap_or_default();
    Ok(LiveRun {
        target,
        src,
        iface: String::new(),
        results: batch.matcher.finish(),
        frames: batch.frames,
        send_span: last_sent.unwrap_or_default().saturating_sub(first),
        elapsed: start.elapsed().saturating_sub(first),
        rst_table,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::Outcome;
    use crate::model::craft::{build_packet, ethernet_frame, Volatile};
    use crate::model::Field;
    use crate::model::{Decoded, Segment};
    use std::sync::mpsc as std_mpsc;

    /// A fake network: every sent SYN is seen leaving, then answered by a
    /// "server" after 1 ms: port 80 SYN-ACK, port 81 RST, port 82 silence.
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
        match seg.dst.port() {
            80 => {
                a.insert(Field::TcpFlagsAck, true);
                a.insert(Field::TcpOptionsMssVal, 1460u16);
                a.insert(Field::SynlabOptionsLayout, "mss");
            }
            81 => {
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
                    if let Ok(Decoded::Tcp(seg)) = decode_frame(101, &ip) {
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

    fn linux() -> Attributes {
        let mut a = Attributes::new();
        a.insert(Field::IpTtl, 64u8);
        a.insert(Field::TcpWindowSizeValue, 64240u16);
        a.insert(Field::TcpOptionsMssVal, 1460u16);
        a.insert(Field::SynlabOptionsLayout, "mss");
        a
    }

    fn run_fake(port: u16, n: usize, timeout_ms: u64) -> LiveRun {
        let planned = plan(
            &vec![linux(); n],
            "10.0.0.1".parse().unwrap_or_else(|_| unreachable!()),
            SocketAddr::from(([10, 0, 0, 2], port)),
            PortRange::default(),
            0,
            3,
            0,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (wire, rx) = std_mpsc::channel();
        let opts = DriveOptions {
            timeout: Duration::from_millis(timeout_ms),
            rate: 1000.0,
            keep_frames: true,
            suppress_rst: false,
        };
        drive(
            planned,
            FakeSender { wire },
            FakeWire {
                rx,
                pending: Vec::new(),
            },
            opts,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn fake_server_answers_every_probe() {
        let run = run_fake(80, 5, 1000);
        assert_eq!(run.results.len(), 5);
        for r in &run.results {
            assert_eq!(r.outcome, Outcome::SynAck, "{r:?}");
            assert!(r.rtt.is_some());
        }
        // Five SYNs and five SYN-ACKs were kept for the pcap.
        assert_eq!(run.frames.len(), 10);
        // All answered: the run did not wait for the timeout.
        assert!(
            run.elapsed < Duration::from_millis(900),
            "{:?}",
            run.elapsed
        );
    }

    #[test]
    fn fake_closed_and_silent_ports() {
        let run = run_fake(81, 2, 500);
        assert!(run.results.iter().all(|r| r.outcome == Outcome::Reset));
        let t0 = Instant::now();
        let run = run_fake(82, 2, 200);
        assert!(run.results.iter().all(|r| r.outcome == Outcome::NoReply));
        // Bounded: the timeout after the last send, not more.
        assert!(t0.elapsed() < Duration::from_millis(1500));
    }
}
