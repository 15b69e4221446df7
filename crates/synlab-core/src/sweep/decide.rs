//! One target's condition from its profiles' tallies, in PATHspider's
//! terms, with the rate-aware test the search uses for its baselines
//! ([`crate::search::verdict::baselines`]): a lost SYN or two is noise, a
//! profile is *broken* only when its pass rate is shown lower than another
//! profile's (Fisher's exact test at `alpha`).

use serde::{Deserialize, Serialize};

use crate::handshake::Outcome;
use crate::search::verdict::{baselines, Baselines, Tally, TestParams};

/// A target's condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// Every probe of every profile passed.
    Works,
    /// Some profile passes less often than another, beyond chance.
    Broken,
    /// Failures, but none that tells the profiles apart (loss, flaps).
    Transient,
    /// No profile was ever answered.
    Offline,
}

impl Condition {
    pub const ALL: [Condition; 4] = [
        Condition::Works,
        Condition::Broken,
        Condition::Transient,
        Condition::Offline,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Condition::Works => "works",
            Condition::Broken => "broken",
            Condition::Transient => "transient",
            Condition::Offline => "offline",
        }
    }
}

/// How much to probe, and how sure to be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepParams {
    /// Rounds (one probe of every profile each) before any decision.
    pub count: u32,
    /// Rounds at most; a target still undecided then is transient.
    pub max_rounds: u32,
    /// Fisher's p-value at most for "this profile passes less often".
    /// 0.001 needs 7 rounds of 100% against 0%; under 30% random loss a
    /// working target is then called broken about once in 10,000.
    pub alpha: f64,
    /// The outcome a probe passes with (`sweep --exchange`: `complete`);
    /// `None`: the most frequent answer (a SYN sweep's SYN-ACK).
    pub pass: Option<Outcome>,
}

impl SweepParams {
    /// `count` rounds first, at most four times as many (and at least 12).
    pub fn new(count: u32) -> Self {
        let count = count.max(1);
        SweepParams {
            count,
            max_rounds: count.saturating_mul(4).max(12),
            alpha: 0.001,
            pass: None,
        }
    }

    /// Probes pass only with `outcome`: an exchange passes when it
    /// completes, whatever else (stalled, reset, an HTTP error) is more
    /// frequent.
    pub fn passing_with(self, outcome: Outcome) -> Self {
        SweepParams {
            pass: Some(outcome),
            ..self
        }
    }

    /// Rounds of silence that make a target offline: twice `count` (six
    /// probes lost in a row at 30% loss happen once in 1,400 targets;
    /// twelve once in two million), within `max_rounds`.
    fn offline_rounds(&self) -> u32 {
        self.count.saturating_mul(2).min(self.max_rounds)
    }
}

/// What a target's tallies say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Probe every profile once more.
    More,
    /// The condition, and the profiles that fail (broken only).
    Done {
        condition: Condition,
        reference: Option<Outcome>,
        failing: Vec<usize>,
    },
}

/// The answer a probe passes with: the most frequent answer over all the
/// target's probes (`None` when nothing ever answered).
pub fn reference(tallies: &[Tally]) -> Option<Outcome> {
    let mut all = Tally::default();
    for t in tallies {
        for &(o, n) in &t.outcomes {
            match all.outcomes.iter_mut().find(|(x, _)| *x == o) {
                Some((_, m)) => *m += n,
                None => all.outcomes.push((o, n)),
            }
        }
    }
    all.dominant_except(Some(Outcome::NoReply))
}

/// The condition of a target whose every profile was probed `rounds` times.
pub fn decide(tallies: &[Tally], rounds: u32, p: &SweepParams) -> Step {
    if rounds < p.count {
        return Step::More;
    }
    let reference = match p.pass {
        Some(o) => tallies.iter().any(|t| t.count(o) > 0).then_some(o),
        None => self::reference(tallies),
    };
    let Some(reference) = reference else {
        if rounds < p.offline_rounds() {
            return Step::More;
        }
        return done(Condition::Offline, None, Vec::new());
    };
    let passes = |t: &Tally| t.count(reference);
    if tallies.iter().all(|t| passes(t) == t.observed()) {
        return done(Condition::Works, Some(reference), Vec::new());
    }
    // The best profile is the baseline every other is tested against.
    let good = (0..tallies.len())
        .max_by_key(|&i| (passes(&tallies[i]), std::cmp::Reverse(i)))
        .unwrap_or(0);
    let test = TestParams {
        alpha: p.alpha,
        min_probes: p.count,
        max_probes: p.max_rounds,
    };
    let mut failing = Vec::new();
    let mut open = false;
    for (j, t) in tallies.iter().enumerate().filter(|&(j, _)| j != good) {
        match baselines(&tallies[good], t, &test) {
            Baselines::Differ(_) => failing.push(j),
            Baselines::Same { .. } => {}
            _ => open = true,
        }
    }
    if open && rounds < p.max_rounds {
        return Step::More;
    }
    match failing.is_empty() {
        true => done(Condition::Transient, Some(reference), failing),
        false => done(Condition::Broken, Some(reference), failing),
    }
}

fn done(condition: Condition, reference: Option<Outcome>, failing: Vec<usize>) -> Step {
    Step::Done {
        condition,
        reference,
        failing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::Answer;

    fn tally(pass: u32, lost: u32) -> Tally {
        let mut t = Tally::default();
        (0..pass).for_each(|_| t.add(Answer::new(Outcome::SynAck, 1)));
        (0..lost).for_each(|_| t.add(Answer::new(Outcome::NoReply, 1)));
        t
    }

    fn condition(s: Step) -> Option<(Condition, Vec<usize>)> {
        match s {
            Step::Done {
                condition, failing, ..
            } => Some((condition, failing)),
            Step::More => None,
        }
    }

    #[test]
    fn all_passing_works_after_count_rounds() {
        let p = SweepParams::new(3);
        assert_eq!(decide(&[tally(2, 0), tally(2, 0)], 2, &p), Step::More);
        let s = decide(&[tally(3, 0), tally(3, 0)], 3, &p);
        assert_eq!(condition(s), Some((Condition::Works, vec![])));
    }

    /// One lost SYN is not "broken": 3/3 against 2/3 probes on.
    #[test]
    fn one_lost_syn_is_not_broken() {
        let p = SweepParams::new(3);
        assert_eq!(decide(&[tally(3, 0), tally(2, 1)], 3, &p), Step::More);
        // It probes on to max_rounds (12) and, the rates never apart
        // beyond chance, ends transient.
        assert_eq!(decide(&[tally(5, 1), tally(6, 0)], 6, &p), Step::More);
        let s = decide(&[tally(11, 1), tally(12, 0)], 12, &p);
        assert_eq!(condition(s), Some((Condition::Transient, vec![])));
    }

    #[test]
    fn a_profile_that_always_fails_is_broken_once_the_test_is_sure() {
        let p = SweepParams::new(3);
        assert_eq!(decide(&[tally(6, 0), tally(0, 6)], 6, &p), Step::More);
        let s = decide(&[tally(7, 0), tally(0, 7)], 7, &p);
        assert_eq!(condition(s), Some((Condition::Broken, vec![1])));
        let s = decide(&[tally(0, 7), tally(7, 0), tally(7, 0)], 7, &p);
        assert_eq!(condition(s), Some((Condition::Broken, vec![0])));
    }

    #[test]
    fn silence_is_offline_after_twice_count_rounds() {
        let p = SweepParams::new(3);
        assert_eq!(decide(&[tally(0, 5), tally(0, 5)], 5, &p), Step::More);
        let s = decide(&[tally(0, 6), tally(0, 6)], 6, &p);
        assert_eq!(condition(s), Some((Condition::Offline, vec![])));
    }

    fn exchanges(complete: u32, stalled: u32) -> Tally {
        let mut t = Tally::default();
        (0..complete).for_each(|_| t.add(Answer::new(Outcome::Complete, 1)));
        (0..stalled).for_each(|_| t.add(Answer::new(Outcome::Stalled, 1)));
        t
    }

    /// `sweep --exchange`: a download that stalls for one profile fails,
    /// though stalled is as frequent as complete over the target; with
    /// nothing complete the target is offline (no profile ever passes).
    #[test]
    fn with_a_pass_outcome_the_other_outcomes_fail() {
        let p = SweepParams::new(3).passing_with(Outcome::Complete);
        let s = decide(&[exchanges(0, 7), exchanges(7, 0)], 7, &p);
        assert_eq!(condition(s), Some((Condition::Broken, vec![0])));
        let s = decide(&[exchanges(3, 0), exchanges(3, 0)], 3, &p);
        assert_eq!(condition(s), Some((Condition::Works, vec![])));
        assert_eq!(
            decide(&[exchanges(0, 3), exchanges(0, 3)], 3, &p),
            Step::More
        );
        let s = decide(&[exchanges(0, 6), exchanges(0, 6)], 6, &p);
        assert_eq!(condition(s), Some((Condition::Offline, vec![])));
    }

    #[test]
    fn undecided_failures_end_transient_at_max_rounds() {
        let p = SweepParams::new(3);
        let s = decide(&[tally(9, 3), tally(7, 5)], 12, &p);
        assert_eq!(condition(s), Some((Condition::Transient, vec![])));
    }
}
