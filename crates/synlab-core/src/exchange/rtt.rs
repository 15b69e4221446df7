//! The retransmission timeout from measured round trips (RFC 6298).
//!
//! As smoltcp's `RttEstimator`: one segment at a time is timed (from its
//! sending to the ACK that covers it); a retransmission drops the timing
//! (Karn's algorithm: an ACK after a retransmission cannot say which copy
//! it answers) and doubles the timeout; a new sample sets it from the
//! smoothed RTT and its variation again. The floor is Linux's 200 ms
//! rather than RFC 6298's 1 s, and the first timeout is the floor: an
//! exchange is one short request, and a lab's round trips are well under
//! a millisecond.

use std::time::Duration;

use super::seq::SeqNumber;

/// The clock granularity `G` of RFC 6298 (the timestamp clock is 1 kHz).
const GRANULARITY: Duration = Duration::from_millis(1);

/// Smoothed RTT, its variation, and the timeout they give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    min_rto: Duration,
    max_rto: Duration,
    /// `(srtt, rttvar)` once a round trip was measured.
    smoothed: Option<(Duration, Duration)>,
    /// The timed segment: when it was sent, and the ACK that covers it.
    timing: Option<(Duration, SeqNumber)>,
    /// Retransmissions since the last sample: the timeout is doubled
    /// this many times.
    backoff: u32,
}

impl RttEstimator {
    /// No sample yet: the timeout is `min_rto`, never above `max_rto`.
    pub fn new(min_rto: Duration, max_rto: Duration) -> Self {
        RttEstimator {
            min_rto,
            max_rto,
            smoothed: None,
            timing: None,
            backoff: 0,
        }
    }

    /// The smoothed round-trip time, once measured.
    #[cfg(test)]
    pub fn srtt(&self) -> Option<Duration> {
        self.smoothed.map(|(srtt, _)| srtt)
    }

    /// The retransmission timeout now (with its backoff).
    pub fn rto(&self) -> Duration {
        let base = match self.smoothed {
            Some((srtt, rttvar)) => srtt + (rttvar * 4).max(GRANULARITY),
            None => self.min_rto,
        };
        let backed_off = (0..self.backoff).try_fold(base, |d, _| d.checked_mul(2));
        backed_off
            .unwrap_or(self.max_rto)
            .clamp(self.min_rto, self.max_rto)
    }

    /// One round trip measured (RFC 6298 2.2 and 2.3).
    pub fn sample(&mut self, rtt: Duration) {
        self.smoothed = Some(match self.smoothed {
            None => (rtt, rtt / 2),
            Some((srtt, rttvar)) => {
                let err = srtt.abs_diff(rtt);
                (srtt * 7 / 8 + rtt / 8, rttvar * 3 / 4 + err / 4)
            }
        });
        self.backoff = 0;
    }

    /// A segment ending at `end` was sent at `now` (not a retransmission):
    /// time it, unless one is timed already.
    pub fn on_send(&mut self, now: Duration, end: SeqNumber) {
        self.timing.get_or_insert((now, end));
    }

    /// The server acknowledged up to `ack` at `now`: a sample when that
    /// covers the timed segment.
    pub fn on_ack(&mut self, now: Duration, ack: SeqNumber) {
        if let Some((sent, end)) = self.timing {
            if ack >= end {
                self.timing = None;
                self.sample(now.saturating_sub(sent));
            }
        }
    }

    /// The timer fired and data was sent again: no sample from it, and
    /// the timeout doubles.
    pub fn on_retransmit(&mut self) {
        self.timing = None;
        self.backoff = self.backoff.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn est() -> RttEstimator {
        RttEstimator::new(ms(200), ms(5000))
    }

    #[test]
    fn the_timeout_starts_at_the_floor_and_doubles_to_the_ceiling() {
        let mut r = est();
        assert_eq!(r.rto(), ms(200));
        let rtos: Vec<Duration> = (0..7)
            .map(|_| {
                r.on_retransmit();
                r.rto()
            })
            .collect();
        let want = [400, 800, 1600, 3200, 5000, 5000, 5000].map(ms);
        assert_eq!(rtos, want);
        for _ in 0..100 {
            r.on_retransmit();
        }
        assert_eq!(r.rto(), ms(5000), "no overflow after many doublings");
    }

    /// RFC 6298: the first sample R gives SRTT = R, RTTVAR = R/2, RTO =
    /// SRTT + 4 RTTVAR; later ones smooth with 1/8 and 1/4; a sample ends
    /// the backoff.
    #[test]
    fn samples_set_the_timeout() {
        let mut r = est();
        r.sample(ms(10));
        assert_eq!((r.srtt(), r.rto()), (Some(ms(10)), ms(200)), "floor");
        let mut r = est();
        r.sample(ms(300));
        assert_eq!(r.rto(), ms(300 + 4 * 150));
        r.on_retransmit();
        assert_eq!(r.rto(), ms(1800));
        r.sample(ms(100));
        // SRTT 300*7/8 + 100/8 = 275; RTTVAR 150*3/4 + 200/4 = 162.5.
        assert_eq!(r.srtt(), Some(ms(275)));
        assert_eq!(r.rto(), ms(275) + ms(650));
    }

    /// Karn: the ACK of a retransmitted segment is no sample; the next
    /// timed segment's ACK is, also across 2^32.
    #[test]
    fn only_segments_sent_once_are_timed() {
        let top = SeqNumber(u32::MAX - 5);
        let mut r = est();
        r.on_send(ms(0), top + 10);
        r.on_send(ms(50), top + 20);
        r.on_ack(ms(300), top + 5);
        assert_eq!(r.srtt(), None, "does not cover the timed segment");
        r.on_ack(ms(400), top + 10);
        assert_eq!(r.srtt(), Some(ms(400)), "timed from the first send");

        let mut r = est();
        r.on_send(ms(0), top + 10);
        r.on_retransmit();
        r.on_ack(ms(900), top + 10);
        assert_eq!(r.srtt(), None);
        assert_eq!(r.rto(), ms(400));
    }
}
