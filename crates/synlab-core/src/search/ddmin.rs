//! Zeller's ddmin over difference units, replayed from a cache.
//!
//! The test of a set `c` of units applies `c` to the passing side: it
//! *fails* when the outcome is the failing side's, *passes* when it is the
//! passing side's, and is *unresolved* otherwise (cannot be built, a third
//! outcome, unknown). `ddmin` returns a set that fails and from which no
//! single unit can be removed with the result still failing (1-minimal).
//!
//! The algorithm is written as a pure function over what is known so far:
//! it runs from the start each time, and where a test result is missing it
//! stops and names every test of the current step (all subsets, or all
//! complements), which are independent and can be probed as one batch.
//! Replaying is cheap (a few hundred set operations) and keeps the search
//! a plain state machine.

/// A test result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Pass,
    Fail,
    Unresolved,
}

/// What ddmin needs next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Test these sets (sorted unit indices) and call again.
    Need(Vec<Vec<usize>>),
    /// A 1-minimal failing set.
    Done(Vec<usize>),
}

fn split(c: &[usize], n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| c[i * c.len() / n..(i + 1) * c.len() / n].to_vec())
        .filter(|s| !s.is_empty())
        .collect()
}

fn minus(c: &[usize], s: &[usize]) -> Vec<usize> {
    c.iter().copied().filter(|x| !s.contains(x)).collect()
}

/// One replay of ddmin from `start`, which must fail.
pub fn ddmin(start: &[usize], test: &dyn Fn(&[usize]) -> Option<Class>) -> Step {
    let mut c: Vec<usize> = start.to_vec();
    c.sort_unstable();
    let mut n = 2;
    loop {
        if c.len() < 2 {
            return Step::Done(c);
        }
        let subsets = split(&c, n);
        if let Some(step) = first_failing(&subsets, test) {
            match step {
                Ok(s) => {
                    c = s;
                    n = 2;
                    continue;
                }
                Err(need) => return Step::Need(need),
            }
        }
        if subsets.len() > 2 {
            let complements: Vec<Vec<usize>> = subsets.iter().map(|s| minus(&c, s)).collect();
            if let Some(step) = first_failing(&complements, test) {
                match step {
                    Ok(s) => {
                        c = s;
                        n = (n - 1).max(2);
                        continue;
                    }
                    Err(need) => return Step::Need(need),
                }
            }
        }
        if n >= c.len() {
            return Step::Done(c);
        }
        n = (2 * n).min(c.len());
    }
}

/// `Some(Ok(set))`: the first failing set; `Some(Err(missing))`: results
/// needed first; `None`: none fails.
fn first_failing(
    sets: &[Vec<usize>],
    test: &dyn Fn(&[usize]) -> Option<Class>,
) -> Option<Result<Vec<usize>, Vec<Vec<usize>>>> {
    let missing: Vec<Vec<usize>> = sets.iter().filter(|s| test(s).is_none()).cloned().collect();
    if !missing.is_empty() {
        return Some(Err(missing));
    }
    sets.iter()
        .find(|s| test(s) == Some(Class::Fail))
        .map(|s| Ok(s.clone()))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;

    /// Run ddmin to the end against a predicate; count the steps (batches)
    /// and distinct tests.
    fn run(n: usize, fails: impl Fn(&[usize]) -> bool) -> (Vec<usize>, usize, usize) {
        let cache: RefCell<HashMap<Vec<usize>, Class>> = RefCell::new(HashMap::new());
        let all: Vec<usize> = (0..n).collect();
        let mut steps = 0;
        loop {
            let step = ddmin(&all, &|s| cache.borrow().get(s).copied());
            match step {
                Step::Done(c) => return (c, steps, cache.borrow().len()),
                Step::Need(sets) => {
                    steps += 1;
                    for s in sets {
                        let class = if fails(&s) { Class::Fail } else { Class::Pass };
                        cache.borrow_mut().insert(s, class);
                    }
                }
            }
        }
    }

    #[test]
    fn one_culprit_among_sixteen() {
        for culprit in 0..16 {
            let (c, steps, tests) = run(16, |s| s.contains(&culprit));
            assert_eq!(c, [culprit]);
            assert!(steps <= 4, "{steps} steps");
            assert!(tests <= 8, "{tests} tests");
        }
    }

    #[test]
    fn interaction_of_two() {
        let (c, _, _) = run(16, |s| s.contains(&3) && s.contains(&12));
        assert_eq!(c, [3, 12]);
        let (c, _, _) = run(16, |s| s.contains(&3) && s.contains(&4) && s.contains(&9));
        assert_eq!(c, [3, 4, 9]);
    }

    #[test]
    fn disjunction_gives_one_of_them() {
        let (c, _, _) = run(8, |s| s.contains(&1) || s.contains(&6));
        assert!(c == [1] || c == [6], "{c:?}");
    }
}
