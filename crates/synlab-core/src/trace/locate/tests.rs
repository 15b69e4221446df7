//! The [`Locator`] over a simulated lossy chain (seeded, no clock): the
//! proof that `bisect --locate` names the hop in every run, not in most.

use std::net::IpAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::model::craft::linux_example;

/// Routers on the simulated path; the endpoint is one hop past them.
const ROUTERS: u8 = 4;

/// Where the failing SYN is dropped.
#[derive(Clone, Copy, Debug, PartialEq)]
enum DropAt {
    /// In router k's forward path: router k still answers TTL k.
    Hop(u8),
    /// At the endpoint: every router answers, the endpoint does not.
    Endpoint,
}

/// A chain of [`ROUTERS`] routers: `loss[j - 1]` is the chance router j
/// loses a packet it forwards (the probe on its way out, the answer of a
/// hop past it on its way back).
struct Path {
    drop: DropAt,
    loss: [f64; ROUTERS as usize],
}

fn router(k: u8) -> IpAddr {
    IpAddr::from([198, 18, 1, k])
}

fn endpoint() -> IpAddr {
    IpAddr::from([198, 18, 0, 130])
}

impl Path {
    /// Whether a packet crossing routers 1..=`upto` (forwarded by each)
    /// gets through.
    fn crosses(&self, upto: u8, rng: &mut StdRng) -> bool {
        self.loss
            .iter()
            .take(usize::from(upto))
            .all(|&p| !rng.gen_bool(p))
    }

    /// The answer to a probe of `side` with TTL `ttl`.
    fn answer(&self, side: Side, ttl: u8, rng: &mut StdRng) -> Reply {
        // The node the probe's TTL expires at, or the endpoint.
        let at = ttl.min(ROUTERS + 1);
        let reaches = match (side, self.drop) {
            (Side::Fail, DropAt::Hop(k)) => at <= k,
            (Side::Fail, DropAt::Endpoint) => at <= ROUTERS,
            (Side::Pass, _) => true,
        };
        // Out through the routers before `at`, back through the same.
        if !reaches || !self.crosses(at - 1, rng) || !self.crosses(at - 1, rng) {
            return Reply::none();
        }
        let (answer, from, initial) = match at > ROUTERS {
            true => (Answer::SynAck, endpoint(), 64u8),
            false => (Answer::TimeExceeded, router(at), 64u8),
        };
        Reply {
            answer,
            from: Some(from),
            rtt: Some(Duration::from_millis(u64::from(at))),
            ttl: Some(initial - (at - 1)),
            ip_id: None,
            window: None,
            quote: None,
            sent: None,
        }
    }

    /// The search's good baseline: 12 SYNs end to end.
    fn baseline(&self, rng: &mut StdRng) -> (u32, u32) {
        let answered = (0..12)
            .filter(|_| self.crosses(ROUTERS, rng) && self.crosses(ROUTERS, rng))
            .count();
        (u32::try_from(answered).unwrap_or(0), 12)
    }
}

/// What one simulated `--locate` gave, and what it cost.
struct Run {
    located: Located,
    probes: usize,
    rounds: usize,
}

fn run(path: &Path, cfg: LocateConfig, seed: u64) -> Run {
    let mut rng = StdRng::seed_from_u64(seed);
    let prior = path.baseline(&mut rng);
    // As `bisect --locate` does, knowing the endpoint's distance from the
    // search's SYN-ACKs: the first round goes no further than the endpoint.
    let cfg = LocateConfig {
        trace: TraceConfig {
            window: ROUTERS + 1,
            ..cfg.trace
        },
        ..cfg
    };
    let mut loc = Locator::new(cfg, prior);
    let (mut probes, mut rounds) = (0, 0);
    loop {
        let round = loc.next_round();
        if round.is_empty() {
            break;
        }
        assert!(rounds < 200, "seed {seed}: the rounds do not end");
        rounds += 1;
        probes += round.len();
        for (side, ttl) in round {
            let reply = path.answer(side, ttl, &mut rng);
            loc.record(side, ttl, reply);
        }
    }
    let syn = linux_example();
    Run {
        located: loc.finish(&syn, &syn),
        probes,
        rounds,
    }
}

/// The drop and the one lossy router of seed `seed`.
fn case(seed: u64, loss: f64) -> Path {
    let drop = match seed % 5 {
        4 => DropAt::Endpoint,
        k => DropAt::Hop(u8::try_from(k).unwrap_or(0) + 1),
    };
    let mut p = [0.0; ROUTERS as usize];
    p[usize::try_from(seed / 5 % u64::from(ROUTERS)).unwrap_or(0)] = loss;
    Path { drop, loss: p }
}

/// Whether the run named the drop's hop (and its router), `None` if so,
/// else what it said instead.
fn wrong(path: &Path, r: &Run) -> Option<String> {
    let (hop, at_endpoint) = match path.drop {
        DropAt::Hop(k) => (k, k == ROUTERS),
        DropAt::Endpoint => (ROUTERS, true),
    };
    let ok =
        r.located.location.as_ref().is_some_and(|l| {
            (l.hop, l.router, l.at_endpoint) == (hop, Some(router(hop)), at_endpoint)
        });
    (!ok).then(|| format!("{:?}", r.located.location))
}

fn failures(loss: f64, cfg: LocateConfig, runs: u64) -> Vec<(u64, String)> {
    (0..runs)
        .filter_map(|seed| {
            let path = case(seed, loss);
            wrong(&path, &run(&path, cfg, seed)).map(|w| (seed, w))
        })
        .collect()
}

#[test]
fn every_run_locates_the_drop_behind_10_and_30_percent_loss() {
    for loss in [0.1, 0.3] {
        let bad = failures(loss, LocateConfig::default(), 1000);
        assert!(bad.is_empty(), "{loss} loss: {} wrong: {bad:?}", bad.len());
    }
}

/// The same path with 10% loss on every router: each answer from past
/// the drop crosses up to eight lossy forwards.
#[test]
fn every_run_locates_the_drop_behind_loss_on_every_router() {
    let cfg = LocateConfig::default();
    for seed in 0..1000 {
        let mut path = case(seed, 0.0);
        path.loss = [0.1; ROUTERS as usize];
        let r = run(&path, cfg, seed);
        assert_eq!(wrong(&path, &r), None, "seed {seed}");
    }
}

/// Regression (the lab test's failure): each hop asked three times at
/// most, as before, misplaces the drop in some runs; the test above is
/// not passing by luck of the path.
#[test]
fn three_asks_per_hop_misplace_the_drop_under_loss() {
    let three = LocateConfig {
        max_probes: 3,
        ..LocateConfig::default()
    };
    let bad = failures(0.3, three, 1000);
    assert!(bad.len() >= 10, "{} wrong of 1000", bad.len());
}

/// A clean path: the two traces together cost at most four probes per
/// hop of the path (the passing SYN one, the failing one three or four
/// before the drop's hop, five at most where its silence is the
/// location), in three rounds: as many as the traces alone took.
#[test]
fn a_clean_path_costs_at_most_four_probes_per_hop() {
    for seed in 0..5 {
        let path = case(seed, 0.0);
        let r = run(&path, LocateConfig::default(), seed);
        assert_eq!(wrong(&path, &r), None, "seed {seed}");
        let hops = usize::from(ROUTERS) + 1;
        assert!(
            r.probes <= 4 * hops,
            "{:?}: {} probes for {hops} hops",
            path.drop,
            r.probes
        );
        let most = r.located.fail.hops.iter().map(|h| h.probes).max();
        assert!(most <= Some(5), "{:?}: {most:?}", path.drop);
        assert_eq!(r.rounds, 3, "{:?}", path.drop);
    }
}

/// Scripted: the failing SYN's answers at hop 3 lost three times, then
/// one comes. Three asks would have put the drop before hop 3; the
/// locator asks again and places it past hop 3.
#[test]
fn three_missing_answers_do_not_locate_the_drop() {
    let mut loc = Locator::new(LocateConfig::default(), (12, 12));
    let mut lost_at_3 = 0;
    let mut asked = Vec::new();
    loop {
        let round = loc.next_round();
        if round.is_empty() {
            break;
        }
        assert!(asked.len() < 50, "{asked:?}");
        for (side, ttl) in round {
            asked.push((side, ttl));
            let answers = match side {
                Side::Pass => true,
                Side::Fail if ttl == 3 => {
                    lost_at_3 += 1;
                    lost_at_3 > 3
                }
                Side::Fail => ttl < 3,
            };
            let reply = match (answers, ttl > ROUTERS) {
                (false, _) => Reply::none(),
                (true, true) => Reply {
                    answer: Answer::SynAck,
                    from: Some(endpoint()),
                    ttl: Some(60),
                    ..Reply::none()
                },
                (true, false) => Reply {
                    answer: Answer::TimeExceeded,
                    from: Some(router(ttl)),
                    ttl: Some(65 - ttl),
                    ..Reply::none()
                },
            };
            loc.record(side, ttl, reply);
        }
    }
    let syn = linux_example();
    let l = loc.finish(&syn, &syn).location;
    assert_eq!(
        l.as_ref().map(|l| (l.hop, l.router, l.at_endpoint)),
        Some((3, Some(router(3)), false)),
        "{l:?}"
    );
    assert_eq!(lost_at_3, 4);
    // Hop 4 was then asked until its silence was sure.
    let at_4 = asked.iter().filter(|&&a| a == (Side::Fail, 4)).count();
    assert!((3..=8).contains(&at_4), "{at_4}");
}

/// A hop that never answers anyone behind heavy loss: the repeats stop
/// at `max_probes`.
#[test]
fn the_repeats_are_bounded() {
    let path = Path {
        drop: DropAt::Hop(1),
        loss: [0.0, 0.0, 0.0, 0.9],
    };
    let cfg = LocateConfig::default();
    let r = run(&path, cfg, 7);
    let most = r.located.fail.hops.iter().map(|h| h.probes).max();
    assert!(most <= Some(cfg.max_probes), "{most:?}");
    assert!(r.probes <= 2 * 30 * 3 + usize::from(cfg.max_probes) * 5);
}
