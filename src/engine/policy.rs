//! The control policies, in the order they are asked: condition -> breaker
//! -> retry -> fallback -> `on_failure`. Each is a small function that
//! answers for its own concern or passes; the scheduler applies the verdict.

use std::collections::BTreeMap;
use std::time::Duration;

use super::backoff;
use super::breaker::{Admit, Breaker};
use crate::workflow::{OnFailure, Step};

/// What happens next to a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Proceed,
    /// Skip it; the text says why (the condition).
    Skip(String),
    /// Fail this attempt at once without running it.
    FailFast(String),
    RetryAfter(Duration),
    /// End it `succeeded` with these outputs.
    Fallback(BTreeMap<String, String>),
    /// End it `failed`; `tolerated` when dependents run anyway.
    Fail {
        tolerated: bool,
    },
}

/// When the step becomes ready: its `when`, already evaluated.
pub fn condition(step: &Step, holds: bool) -> Verdict {
    match &step.when {
        Some(c) if !holds => Verdict::Skip(c.text.clone()),
        _ => Verdict::Proceed,
    }
}

/// Before an attempt: an open breaker fails it without running it.
pub fn breaker(
    name: &str,
    breaker: &mut Breaker,
    now: Duration,
) -> (Verdict, Option<super::breaker::State>) {
    match breaker.admit(now) {
        (Admit::Allowed, change) => (Verdict::Proceed, change),
        (Admit::Rejected, change) => (Verdict::FailFast(format!("breaker {name} is open")), change),
    }
}

/// After attempt `failed` failed: another attempt, after a delay.
pub fn retry(step: &Step, failed: u32, rng: &mut impl rand::Rng) -> Option<Verdict> {
    (failed < step.retry.attempts)
        .then(|| Verdict::RetryAfter(backoff::delay(failed, &step.retry, rng)))
}

/// Once the attempts are spent: succeed with the fallback outputs.
pub fn fallback(step: &Step) -> Option<Verdict> {
    step.fallback.as_deref().cloned().map(Verdict::Fallback)
}

/// Last word: fail, tolerated or not.
pub fn on_failure(step: &Step) -> Verdict {
    Verdict::Fail {
        tolerated: step.on_failure == OnFailure::Continue,
    }
}

/// The chain after a failed attempt. `may_retry` is false for waits and
/// while the run is being cancelled.
pub fn after_failure(
    step: &Step,
    failed: u32,
    may_retry: bool,
    rng: &mut impl rand::Rng,
) -> Verdict {
    may_retry
        .then(|| retry(step, failed, rng))
        .flatten()
        .or_else(|| fallback(step))
        .unwrap_or_else(|| on_failure(step))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn step(yaml_step: &str) -> Step {
        let text =
            format!("name: t\nbreakers: {{ b: {{ failures: 1 }} }}\nsteps:\n  s:\n{yaml_step}");
        crate::workflow::load_str(&text, "t.yaml")
            .unwrap()
            .steps
            .remove(0)
    }

    #[test]
    fn failure_chain_retries_then_falls_back_then_fails() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let s = step("    run: x\n    retry: { attempts: 2, delay: 1s, jitter: none }\n");
        assert_eq!(
            after_failure(&s, 1, true, &mut rng),
            Verdict::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(
            after_failure(&s, 2, true, &mut rng),
            Verdict::Fail { tolerated: false }
        );
        assert_eq!(
            after_failure(&s, 1, false, &mut rng),
            Verdict::Fail { tolerated: false }
        );
        let f = step(
            "    run: x\n    fallback: { outputs: { url: none } }\n    on_failure: continue\n",
        );
        let outputs = BTreeMap::from([("url".to_string(), "none".to_string())]);
        assert_eq!(
            after_failure(&f, 1, true, &mut rng),
            Verdict::Fallback(outputs)
        );
        let c = step("    run: x\n    on_failure: continue\n");
        assert_eq!(
            after_failure(&c, 1, true, &mut rng),
            Verdict::Fail { tolerated: true }
        );
    }

    #[test]
    fn condition_skips_only_when_false() {
        let s = step("    run: x\n    when: \"'a' == 'b'\"\n");
        assert_eq!(condition(&s, false), Verdict::Skip("'a' == 'b'".into()));
        assert_eq!(condition(&s, true), Verdict::Proceed);
    }

    #[test]
    fn open_breaker_fails_fast() {
        let policy = crate::workflow::BreakerPolicy {
            failures: 1,
            cooldown: Duration::from_secs(10),
            half_open_calls: 1,
        };
        let mut b = Breaker::new(policy);
        assert_eq!(breaker("b", &mut b, Duration::ZERO).0, Verdict::Proceed);
        b.record_failure(Duration::ZERO);
        assert_eq!(
            breaker("b", &mut b, Duration::from_secs(1)).0,
            Verdict::FailFast("breaker b is open".into())
        );
        assert_eq!(
            breaker("b", &mut b, Duration::from_secs(11)).0,
            Verdict::Proceed
        );
    }
}
