//! Whether an intermittent failure follows the source port: the hint that
//! tells a flow-hash or per-port middlebox (ECMP, a load balancer, a
//! parity rule) from random loss. Each probe of a search comes from its
//! own source port, so the ports of the failing and passing probes are the
//! evidence.

use serde::Serialize;

use super::stats::fisher_two_sided;

/// The p-value at most for a port pattern to be reported. A hint, so
/// looser than the verdicts' tests.
pub const HINT_ALPHA: f64 = 0.01;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Parity {
    Even,
    Odd,
}

/// How failures lie over the source ports.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "pattern", rename_all = "kebab-case")]
pub enum PortPattern {
    /// Failures are far more frequent on ports of one parity (Fisher's
    /// exact test, `p_value`): a hash or rule over the port.
    Parity {
        failing: Parity,
        /// Failures and probes on the failing parity.
        fails: u32,
        probes: u32,
        /// Failures and probes on the other parity.
        other_fails: u32,
        other_probes: u32,
        p_value: f64,
    },
    /// Every failure came from one contiguous block of ports with no
    /// passing probe inside it: a port range.
    Range {
        lo: u16,
        hi: u16,
        fails: u32,
        probes: u32,
        p_value: f64,
    },
    /// Failures and passes are mixed over the ports: random loss, or a
    /// middlebox acting per packet.
    Unrelated { fails: u32, probes: u32 },
}

/// The pattern of `(port, failed)` samples; `None` with too few of either
/// kind to tell (two failures and two passes at least).
pub fn pattern(samples: &[(u16, bool)], alpha: f64) -> Option<PortPattern> {
    let fails = samples.iter().filter(|(_, f)| *f).count() as u32;
    let probes = samples.len() as u32;
    if fails < 2 || probes - fails < 2 {
        return None;
    }
    parity(samples, alpha)
        .or_else(|| range(samples, alpha))
        .or(Some(PortPattern::Unrelated { fails, probes }))
}

fn parity(samples: &[(u16, bool)], alpha: f64) -> Option<PortPattern> {
    let count = |even: bool| {
        let on: Vec<bool> = samples
            .iter()
            .filter(|(p, _)| (p % 2 == 0) == even)
            .map(|&(_, f)| f)
            .collect();
        (on.iter().filter(|f| **f).count() as u32, on.len() as u32)
    };
    let ((ef, en), (of, on)) = (count(true), count(false));
    let p_value = fisher_two_sided(ef, en, of, on);
    if p_value > alpha {
        return None;
    }
    // Compare the failure rates without dividing: ef/en against of/on.
    let even_worse = u64::from(ef) * u64::from(on) > u64::from(of) * u64::from(en);
    let (failing, fails, probes, other_fails, other_probes) = if even_worse {
        (Parity::Even, ef, en, of, on)
    } else {
        (Parity::Odd, of, on, ef, en)
    };
    Some(PortPattern::Parity {
        failing,
        fails,
        probes,
        other_fails,
        other_probes,
        p_value,
    })
}

/// Failures contiguous in port order. Under no pattern, `k` failures among
/// `n` ordered probes are contiguous in `n - k + 1` of the `C(n, k)` ways.
fn range(samples: &[(u16, bool)], alpha: f64) -> Option<PortPattern> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let first = sorted.iter().position(|(_, f)| *f)?;
    let last = sorted.iter().rposition(|(_, f)| *f)?;
    if sorted[first..=last].iter().any(|(_, f)| !f) {
        return None;
    }
    let (n, k) = (sorted.len() as u32, (last - first + 1) as u32);
    let ways: f64 = (0..k)
        .map(|i| f64::from(n - i) / f64::from(k - i))
        .product();
    let p_value = (f64::from(n - k + 1) / ways).min(1.0);
    (p_value <= alpha).then_some(PortPattern::Range {
        lo: sorted[first].0,
        hi: sorted[last].0,
        fails: k,
        probes: n,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_ports_failing_is_a_parity_pattern() {
        let samples: Vec<(u16, bool)> = (40000..40016).map(|p| (p, p % 2 == 0)).collect();
        match pattern(&samples, HINT_ALPHA) {
            Some(PortPattern::Parity {
                failing: Parity::Even,
                fails: 8,
                probes: 8,
                other_fails: 0,
                other_probes: 8,
                p_value,
            }) => assert!(p_value < 0.001, "{p_value}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_block_of_ports_failing_is_a_range() {
        let samples: Vec<(u16, bool)> = (50000..50020)
            .map(|p| (p, (50012..=50019).contains(&p)))
            .collect();
        assert!(matches!(
            pattern(&samples, HINT_ALPHA),
            Some(PortPattern::Range {
                lo: 50012,
                hi: 50019,
                fails: 8,
                probes: 20,
                ..
            })
        ));
    }

    #[test]
    fn scattered_failures_are_unrelated_and_few_say_nothing() {
        let fails = [40001u16, 40004, 40007, 40010, 40011];
        let samples: Vec<(u16, bool)> = (40000..40016).map(|p| (p, fails.contains(&p))).collect();
        assert_eq!(
            pattern(&samples, HINT_ALPHA),
            Some(PortPattern::Unrelated {
                fails: 5,
                probes: 16
            })
        );
        assert_eq!(pattern(&[(1, true), (2, false), (3, false)], 0.01), None);
    }
}
