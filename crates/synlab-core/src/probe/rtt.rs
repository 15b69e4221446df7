//! How long to wait for an answer, from the round-trip times measured so
//! far: RFC 6298's estimator, as nmap uses it for its probe timeouts.
//!
//! A fixed wait (a second) is what a live search spent most of its time on:
//! in a lab whose round trip takes 30 µs, every silent variant cost a
//! second. The estimator keeps a smoothed RTT and its variation; the wait
//! is `SRTT + 4 * RTTVAR`, never below a floor (scheduling noise, a slow
//! server's accept path) and never above the user's `--timeout`, which is
//! also the wait before the first measurement.
//!
//! Pure: the driver measures (with its clock) and passes samples in.

use std::time::Duration;

/// The default floor: nmap's `--min-rtt-timeout` default. Thousands of
/// times a lab's RTT, and well above a loaded machine's scheduling delays.
pub const DEFAULT_MIN_TIMEOUT: Duration = Duration::from_millis(100);

/// RFC 6298's smoothed round-trip time and variation, with the bounds the
/// timeout is clamped to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RttEstimator {
    /// `(srtt, rttvar)` once a sample was taken.
    state: Option<(Duration, Duration)>,
    floor: Duration,
    ceiling: Duration,
    samples: u64,
}

impl RttEstimator {
    /// An estimator whose timeout stays within `floor..=ceiling` (a floor
    /// above the ceiling is lowered to it) and is `ceiling` until the
    /// first sample.
    pub fn new(floor: Duration, ceiling: Duration) -> Self {
        RttEstimator {
            state: None,
            floor: floor.min(ceiling),
            ceiling,
            samples: 0,
        }
    }

    /// Take one measured round trip (RFC 6298 section 2: the first sets
    /// SRTT = R and RTTVAR = R/2; later ones move them by 1/8 and 1/4).
    pub fn sample(&mut self, rtt: Duration) {
        self.samples += 1;
        self.state = Some(match self.state {
            None => (rtt, rtt / 2),
            Some((srtt, rttvar)) => {
                let err = srtt.abs_diff(rtt);
                let rttvar = (rttvar - rttvar / 4).saturating_add(err / 4);
                let srtt = (srtt - srtt / 8).saturating_add(rtt / 8);
                (srtt, rttvar)
            }
        });
    }

    /// How long to wait for an answer now.
    pub fn timeout(&self) -> Duration {
        match self.state {
            None => self.ceiling,
            Some((srtt, rttvar)) => srtt
                .saturating_add(rttvar.saturating_mul(4))
                .clamp(self.floor, self.ceiling),
        }
    }

    /// The smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.state.map(|(srtt, _)| srtt)
    }

    /// The RTT variation, once measured.
    pub fn rttvar(&self) -> Option<Duration> {
        self.state.map(|(_, var)| var)
    }

    /// How many samples were taken.
    pub fn samples(&self) -> u64 {
        self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const US: Duration = Duration::from_micros(1);

    #[test]
    fn the_ceiling_until_measured() {
        let e = RttEstimator::new(100 * MS, 1000 * MS);
        assert_eq!(e.timeout(), 1000 * MS);
        assert_eq!(e.srtt(), None);
        assert_eq!(e.samples(), 0);
    }

    #[test]
    fn first_sample_rfc6298() {
        let mut e = RttEstimator::new(Duration::ZERO, Duration::from_secs(10));
        e.sample(200 * MS);
        assert_eq!(e.srtt(), Some(200 * MS));
        assert_eq!(e.rttvar(), Some(100 * MS));
        // SRTT + 4 * RTTVAR = 200 + 400 ms.
        assert_eq!(e.timeout(), 600 * MS);
    }

    #[test]
    fn later_samples_move_by_an_eighth_and_a_quarter() {
        let mut e = RttEstimator::new(Duration::ZERO, Duration::from_secs(10));
        e.sample(200 * MS);
        e.sample(280 * MS);
        // RTTVAR = 3/4 * 100 + 1/4 * |200 - 280| = 95; SRTT = 7/8 * 200 + 1/8 * 280 = 210.
        assert_eq!(e.rttvar(), Some(95 * MS));
        assert_eq!(e.srtt(), Some(210 * MS));
        assert_eq!(e.timeout(), 590 * MS);
        assert_eq!(e.samples(), 2);
    }

    #[test]
    fn steady_rtt_converges_and_the_variation_decays() {
        let mut e = RttEstimator::new(Duration::ZERO, Duration::from_secs(10));
        for _ in 0..100 {
            e.sample(10 * MS);
        }
        assert_eq!(e.srtt(), Some(10 * MS));
        let var = e.rttvar().unwrap_or(Duration::MAX);
        assert!(var < 10 * US, "{var:?}");
    }

    #[test]
    fn a_lab_rtt_hits_the_floor() {
        let mut e = RttEstimator::new(DEFAULT_MIN_TIMEOUT, Duration::from_secs(1));
        e.sample(30 * US);
        assert_eq!(e.timeout(), DEFAULT_MIN_TIMEOUT);
    }

    #[test]
    fn a_slow_path_hits_the_ceiling() {
        let mut e = RttEstimator::new(DEFAULT_MIN_TIMEOUT, Duration::from_secs(1));
        e.sample(Duration::from_secs(3));
        assert_eq!(e.timeout(), Duration::from_secs(1));
    }

    #[test]
    fn a_floor_above_the_ceiling_is_the_ceiling() {
        let mut e = RttEstimator::new(Duration::from_secs(5), Duration::from_secs(1));
        e.sample(MS);
        assert_eq!(e.timeout(), Duration::from_secs(1));
    }

    #[test]
    fn a_jump_widens_the_wait() {
        let mut e = RttEstimator::new(Duration::ZERO, Duration::from_secs(10));
        for _ in 0..20 {
            e.sample(10 * MS);
        }
        let calm = e.timeout();
        e.sample(100 * MS);
        // One outlier moves SRTT by 1/8 of the jump and RTTVAR by 1/4 of it.
        assert!(
            e.timeout() > calm + 90 * MS,
            "{:?} vs {calm:?}",
            e.timeout()
        );
    }

    #[test]
    fn huge_samples_do_not_overflow() {
        let mut e = RttEstimator::new(Duration::ZERO, Duration::MAX);
        e.sample(Duration::MAX);
        e.sample(Duration::ZERO);
        e.sample(Duration::MAX);
        assert!(e.timeout() >= Duration::from_secs(1));
    }
}
