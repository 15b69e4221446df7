//! Deadlines on the caller's clock, and the doubling waits between tries.
//!
//! The connection has several things to do later (send the SYN again,
//! retransmit the request, probe a zero window, send the FIN again); each is
//! a [`Timer`], armed or idle, so "when is the next thing due" is the minimum
//! over the armed ones instead of `Option`s combined by hand. Time is a
//! `Duration` since the session started, passed in by the driver.

use std::time::Duration;

/// One deadline, armed or idle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timer {
    at: Option<Duration>,
}

impl Timer {
    /// An idle timer.
    pub const IDLE: Timer = Timer { at: None };

    /// When it fires, if armed.
    pub fn at(self) -> Option<Duration> {
        self.at
    }

    /// Armed and its deadline reached.
    pub fn is_due(self, now: Duration) -> bool {
        self.at.is_some_and(|at| now >= at)
    }

    /// Arm (or re-arm) it for `at`.
    pub fn set(&mut self, at: Duration) {
        self.at = Some(at);
    }

    /// Arm it for `at` unless it is armed already (an earlier deadline
    /// stands).
    pub fn set_if_idle(&mut self, at: Duration) {
        self.at.get_or_insert(at);
    }

    /// Disarm it.
    pub fn stop(&mut self) {
        self.at = None;
    }

    /// The earlier of `deadline` and this timer's.
    pub fn min_with(self, deadline: Duration) -> Duration {
        self.at.map_or(deadline, |at| at.min(deadline))
    }
}

/// A wait that doubles each time it is used, up to a ceiling (RFC 6298
/// 5.5's backoff, and the SYN's 1 s, 2 s, 4 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max,
            current: first.min(max),
        }
    }

    /// The wait now.
    pub fn current(self) -> Duration {
        self.current
    }

    /// Double the wait (at most the ceiling).
    pub fn grow(&mut self) {
        self.current = self.current.saturating_mul(2).min(self.max);
    }

    /// Back to the first wait.
    pub fn reset(&mut self) {
        self.current = self.first.min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_timer_is_due_from_its_deadline_on_and_keeps_an_earlier_one() {
        let mut t = Timer::IDLE;
        assert!(t.at().is_none() && !t.is_due(Duration::MAX));
        assert_eq!(t.min_with(ms(50)), ms(50));
        t.set_if_idle(ms(100));
        t.set_if_idle(ms(300));
        assert_eq!(t.at(), Some(ms(100)), "an armed deadline stands");
        assert!(!t.is_due(ms(99)) && t.is_due(ms(100)) && t.is_due(ms(101)));
        assert_eq!(t.min_with(ms(50)), ms(50));
        assert_eq!(t.min_with(ms(500)), ms(100));
        t.set(ms(300));
        assert_eq!(t.at(), Some(ms(300)));
        t.stop();
        assert_eq!(t, Timer::IDLE);
    }

    #[test]
    fn a_backoff_doubles_to_its_ceiling_and_resets() {
        let mut b = Backoff::new(ms(200), ms(1000));
        let waits: Vec<Duration> = (0..5)
            .map(|_| {
                let w = b.current();
                b.grow();
                w
            })
            .collect();
        assert_eq!(waits, [ms(200), ms(400), ms(800), ms(1000), ms(1000)]);
        b.reset();
        assert_eq!(b.current(), ms(200));
        // No ceiling to speak of: doubling saturates instead of overflowing.
        let mut b = Backoff::new(Duration::MAX / 2 + ms(1), Duration::MAX);
        b.grow();
        assert_eq!(b.current(), Duration::MAX);
    }
}
