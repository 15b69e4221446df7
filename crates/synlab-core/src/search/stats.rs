//! The statistics the search's verdicts rest on: Wilson intervals for a
//! pass rate, Fisher's exact test for two proportions, and Wald's
//! sequential probability ratio test (SPRT) for one variant against the two
//! baselines' rates. Pure functions over counts.

/// ln(n!) by summation: counts here are at most a few thousand.
fn ln_factorial(n: u32) -> f64 {
    (2..=n).map(|i| f64::from(i).ln()).sum()
}

fn ln_choose(n: u32, k: u32) -> f64 {
    if k > n {
        return f64::NEG_INFINITY;
    }
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

/// The Wilson score interval of `k` successes in `n` trials at `z`
/// standard deviations (1.96 for 95%): unlike the normal approximation it
/// stays inside [0, 1] and is honest at 0/n and n/n, the usual counts here.
pub fn wilson(k: u32, n: u32, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = f64::from(n);
    let p = f64::from(k.min(n as u32)) / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// One-sided Fisher exact test: the p-value of "group 1's success rate is
/// higher than group 2's", given `k1` of `n1` and `k2` of `n2`. Under the
/// null hypothesis the successes in group 1 follow a hypergeometric law;
/// the p-value is the chance of `k1` or more.
pub fn fisher_greater(k1: u32, n1: u32, k2: u32, n2: u32) -> f64 {
    let (k1, k2) = (k1.min(n1), k2.min(n2));
    let (n, k) = (n1 + n2, k1 + k2);
    let total = ln_choose(n, k);
    let top = k.min(n1);
    let p: f64 = (k1..=top)
        .map(|x| (ln_choose(n1, x) + ln_choose(n2, k - x) - total).exp())
        .filter(|p| p.is_finite())
        .sum();
    p.clamp(0.0, 1.0)
}

/// Two-sided Fisher exact test (twice the smaller one-sided p-value).
pub fn fisher_two_sided(k1: u32, n1: u32, k2: u32, n2: u32) -> f64 {
    let a = fisher_greater(k1, n1, k2, n2);
    let b = fisher_greater(k2, n2, k1, n1);
    (2.0 * a.min(b)).min(1.0)
}

/// ln of the chance, under a Beta(`a`, `b`) belief about a rate, that the
/// next `k + m` trials give `k` successes and `m` failures in a given order:
/// B(a + k, b + m) / B(a, b), as a product (the counts are whole numbers).
fn ln_predictive(a: f64, b: f64, k: u32, m: u32) -> f64 {
    let up: f64 = (0..k).map(|i| (a + f64::from(i)).ln()).sum::<f64>()
        + (0..m).map(|j| (b + f64::from(j)).ln()).sum::<f64>();
    let down: f64 = (0..k + m).map(|t| (a + b + f64::from(t)).ln()).sum();
    up - down
}

/// What an SPRT says after some trials.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sprt {
    /// The variant passes as often as good; the log-likelihood ratio.
    Pass(f64),
    /// The variant passes as seldom as bad.
    Fail(f64),
    /// Not sure yet.
    Continue(f64),
}

/// Wald's SPRT of "the variant's pass rate is good's" against "it is
/// bad's", after `k` passes in `n` probes, with error `alpha` each way.
///
/// The two rates are known only from the baselines' counts (`good`,
/// `bad`: passes and probes), so each hypothesis predicts with the rate's
/// whole posterior (Jeffreys' prior, Beta(1/2, 1/2)), not a point value:
/// when good passed 7/7, a variant's first failure costs a factor of 15,
/// but a second and third cost less and less, since they suggest good's
/// own rate is lower than 7/7 showed. So loss the baselines did not happen
/// to show cannot make a passing variant fail, yet a clear-cut variant
/// still decides in two or three probes. The test stops as soon as the
/// evidence crosses either bound.
pub fn sprt(k: u32, n: u32, good: (u32, u32), bad: (u32, u32), alpha: f64) -> Sprt {
    let up = ((1.0 - alpha) / alpha).ln();
    let m = n.saturating_sub(k);
    let belief = |(s, t): (u32, u32)| {
        let s = s.min(t);
        (f64::from(s) + 0.5, f64::from(t - s) + 0.5)
    };
    let (ag, bg) = belief(good);
    let (ab, bb) = belief(bad);
    let llr = ln_predictive(ag, bg, k, m) - ln_predictive(ab, bb, k, m);
    if llr >= up {
        Sprt::Pass(llr)
    } else if llr <= -up {
        Sprt::Fail(llr)
    } else {
        Sprt::Continue(llr)
    }
}

/// The chance that something which answered `k` of `n` probes (its rate
/// believed with Jeffreys' prior, as in [`sprt`]) leaves the next
/// `misses` probes in a row unanswered. Below the search's alpha, a run of
/// misses that long is evidence of silence, not of loss: `bisect
/// --locate` asks a hop again until it is (when loss is heavy or the
/// counts are few, that takes more misses).
pub fn misses_chance(k: u32, n: u32, misses: u32) -> f64 {
    let k = k.min(n);
    let (a, b) = (f64::from(k) + 0.5, f64::from(n - k) + 0.5);
    ln_predictive(a, b, 0, misses).exp()
}

/// The posterior probability of the hypothesis a log-likelihood ratio
/// favours, with even prior odds: the confidence a verdict reports.
pub fn posterior(llr: f64) -> f64 {
    1.0 / (1.0 + (-llr.abs()).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn fisher_matches_the_hypergeometric_by_hand() {
        // 5/5 against 0/5: only one table of 252 is as extreme.
        assert!(close(fisher_greater(5, 5, 0, 5), 1.0 / 252.0));
        // 10/10 against 5/10: C(10,5)/C(20,15).
        assert!(close(fisher_greater(10, 10, 5, 10), 252.0 / 15504.0));
        // No difference: p is large.
        assert!(fisher_greater(3, 6, 3, 6) > 0.5);
        // The other direction is not significant.
        assert!(close(fisher_greater(0, 5, 5, 5), 1.0));
        assert!(close(fisher_two_sided(5, 5, 0, 5), 2.0 / 252.0));
    }

    #[test]
    fn fisher_never_panics_on_degenerate_counts() {
        for (k1, n1, k2, n2) in [(0, 0, 0, 0), (3, 2, 0, 0), (0, 0, 4, 4), (9, 9, 9, 9)] {
            let p = fisher_greater(k1, n1, k2, n2);
            assert!((0.0..=1.0).contains(&p), "{k1} {n1} {k2} {n2}: {p}");
        }
    }

    #[test]
    fn wilson_is_honest_at_the_edges() {
        let (lo, hi) = wilson(3, 6, 1.96);
        assert!(close((lo * 1000.0).round(), 188.0), "{lo}");
        assert!(close((hi * 1000.0).round(), 812.0), "{hi}");
        let (lo, hi) = wilson(0, 10, 1.96);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.25 && hi < 0.35, "{hi}");
        assert_eq!(wilson(0, 0, 1.96), (0.0, 1.0));
    }

    #[test]
    fn sprt_stops_early_when_clear_and_waits_when_not() {
        let (g, b) = ((14, 14), (0, 14));
        assert!(matches!(sprt(2, 2, g, b, 0.001), Sprt::Continue(_)));
        assert!(matches!(sprt(3, 3, g, b, 0.001), Sprt::Pass(_)));
        assert!(matches!(sprt(0, 3, g, b, 0.001), Sprt::Fail(_)));
        // 50% intermittent failure: a pass needs a longer run of passes.
        let b = (7, 14);
        assert!(matches!(sprt(10, 10, g, b, 0.001), Sprt::Continue(_)));
        assert!(matches!(sprt(18, 18, g, b, 0.001), Sprt::Pass(_)));
        assert!(matches!(sprt(1, 6, g, b, 0.001), Sprt::Fail(_)));
        assert!(posterior(7.0) > 0.999);
    }

    #[test]
    fn misses_chance_shrinks_with_each_miss_and_with_loss_more_slowly() {
        // 20 of 20 answered: 1/42 for one miss, (1/42)(3/44) for two.
        assert!(close(misses_chance(20, 20, 1), 0.5 / 21.0));
        assert!(close(misses_chance(20, 20, 2), 0.5 / 21.0 * 1.5 / 22.0));
        assert!(close(misses_chance(5, 5, 0), 1.0));
        // Half answered: three misses are no evidence of silence.
        assert!(misses_chance(10, 20, 3) > 0.1);
        assert!(misses_chance(10, 20, 30) < 1e-4);
        assert!(misses_chance(0, 0, 1) > 0.4, "no counts, no belief");
    }

    /// Regression: with point estimates, good's 7/7 made three lost probes
    /// of a passing variant (20% loss) enough to call it failing.
    #[test]
    fn lucky_baselines_do_not_make_three_losses_a_failure() {
        assert!(matches!(
            sprt(0, 3, (7, 7), (0, 7), 0.001),
            Sprt::Continue(_)
        ));
        assert!(matches!(sprt(14, 17, (7, 7), (0, 7), 0.001), Sprt::Pass(_)));
    }
}
