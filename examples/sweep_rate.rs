//! How fast one core generates a sweep's SYNs, without the socket: the
//! state machine hands out probes (cookie, port, timers) and the profile's
//! template is patched into bytes; every probe is answered at once, so
//! targets are decided and new ones admitted as in a working fleet.
//!
//! `cargo run --release --example sweep_rate [TARGETS]`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use synlab::handshake::Outcome;
use synlab::model::craft::{linux_example, Volatile};
use synlab::probe::PortRange;
use synlab::sweep::template::SynTemplate;
use synlab::sweep::{Sweep, SweepConfig, SweepParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .map_or(Ok(1_000_000), |s| s.parse())?;
    let src = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
    let first = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 19, 0, 0)), 80);
    let v = Volatile {
        src: SocketAddr::new(src, 40000),
        dst: first,
        seq: 1,
        ack: 0,
        ip_id: 1,
        flow_label: 1,
        tsval: 1,
        tsecr: 0,
    };
    let t = SynTemplate::new(&linux_example(), &v)?;
    let mut sweep = Sweep::new(SweepConfig {
        params: SweepParams::new(3),
        profiles: 2,
        window: 4096,
        timeout: Duration::from_secs(1),
        ports: PortRange::default(),
        key: 7,
    });
    let base = u32::from(Ipv4Addr::new(198, 19, 0, 0));
    let (mut next, mut syns, mut decided, mut bytes) = (0u32, 0u64, 0u64, Vec::new());
    let mut checksum = 0u64;
    let start = Instant::now();
    while decided < u64::from(n) {
        while next < n && sweep.wants_target() {
            let ip = IpAddr::V4(Ipv4Addr::from(base.wrapping_add(next)));
            sweep.admit(SocketAddr::new(ip, 80));
            next += 1;
        }
        let now = start.elapsed();
        while let Some(p) = sweep.next_probe(now) {
            t.fill(&mut bytes, src, p.target, p.src_port, p.seq);
            checksum = checksum.wrapping_add(u64::from(bytes[bytes.len() - 1]));
            syns += 1;
            sweep.on_answer(
                p.target,
                p.src_port,
                Some(p.seq.wrapping_add(1)),
                Outcome::SynAck,
            );
        }
        sweep.poll(now);
        while sweep.pop_decided().is_some() {
            decided += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} targets x 2 profiles x 3 probes: {syns} SYNs generated and decided in {secs:.3} s: {:.0} SYNs/s on one core (check {checksum})",
        syns as f64 / secs
    );
    Ok(())
}
