//! How long a step waits before its next attempt: exponential backoff with jitter.
//!
//! This module owns the arithmetic of SPEC.md §2 "Retry" and nothing else. It must
//! not know about tokio, timers, events or I/O: it is a pure function of the attempt
//! number, the policy and a caller-supplied random source, so the engine can seed it
//! in tests and the function can be checked exhaustively with proptest.
//!
//! Hand-written on purpose (see STYLE.md): the `backoff` crate carries
//! RUSTSEC-2025-0012, and the whole job is a few lines.

use std::time::Duration;

use rand::Rng;

use crate::workflow::{Jitter, RetryPolicy};

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Delay before attempt `failed + 1`, after attempt number `failed` (1-based) failed.
///
/// The un-jittered delay is [`ceiling`]; jitter then picks `Full`: uniform in
/// `[0, d]`, `Equal`: `d/2` + uniform in `[0, d/2]`, `None`: `d`. Never panics and
/// never returns more than `policy.max_delay`, whatever the policy.
pub fn delay(failed: u32, policy: &RetryPolicy, rng: &mut impl Rng) -> Duration {
    let d = ceiling(failed, policy);
    match policy.jitter {
        Jitter::None => d,
        Jitter::Full => uniform_up_to(d, rng),
        Jitter::Equal => {
            let half = d / 2;
            // `half + half <= d` even when d has an odd number of nanoseconds.
            half + uniform_up_to(half, rng)
        }
    }
}

/// The un-jittered delay: `min(max_delay, delay * factor^(failed - 1))`.
///
/// `failed = 0` is treated as 1, so a caller that counts from zero still gets the
/// base delay rather than `delay / factor`.
pub fn ceiling(failed: u32, policy: &RetryPolicy) -> Duration {
    if policy.delay.is_zero() {
        // Without this, `0 * inf` below would be NaN and land on max_delay.
        return Duration::ZERO;
    }
    let exponent = f64::from(failed.saturating_sub(1));
    let scaled = policy.delay.as_secs_f64() * policy.factor.powf(exponent);
    let cap = policy.max_delay.as_secs_f64();
    // NaN (a NaN factor) and +inf (factor^n overflowing) both take the cap
    // rather than reaching `try_from_secs_f64`, which would refuse them.
    if scaled.is_nan() || scaled >= cap {
        return policy.max_delay;
    }
    // A negative factor raised to an odd power is negative: no sensible delay is
    // below zero. The final `min` absorbs f64 rounding just under the cap.
    Duration::try_from_secs_f64(scaled.max(0.0))
        .unwrap_or(policy.max_delay)
        .min(policy.max_delay)
}

/// Uniform in `[0, max]` at nanosecond resolution. Integers rather than
/// `max.mul_f64(x)`: the f64 path rounds and can panic near `Duration::MAX`.
fn uniform_up_to(max: Duration, rng: &mut impl Rng) -> Duration {
    let nanos = rng.random_range(0..=max.as_nanos());
    // `nanos <= max.as_nanos()`, so the seconds fit in u64; the fallbacks are unreachable.
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    let sub = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Duration::new(secs, sub).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn policy(delay: Duration, max_delay: Duration, factor: f64, jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            delay,
            max_delay,
            factor,
            jitter,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn no_jitter_doubles_then_caps() {
        let p = policy(secs(1), secs(30), 2.0, Jitter::None);
        let mut rng = SmallRng::seed_from_u64(0);
        let cases = [
            (0, 1),
            (1, 1),
            (2, 2),
            (3, 4),
            (4, 8),
            (5, 16),
            (6, 30),
            (7, 30),
            (64, 30),
            (2000, 30),
            (u32::MAX, 30),
        ];
        for (failed, want) in cases {
            assert_eq!(delay(failed, &p, &mut rng), secs(want), "failed = {failed}");
            assert_eq!(ceiling(failed, &p), secs(want), "failed = {failed}");
        }
    }

    #[test]
    fn fractional_delays_are_exact() {
        let p = policy(Duration::from_millis(250), secs(300), 1.5, Jitter::None);
        assert_eq!(ceiling(1, &p), Duration::from_millis(250));
        assert_eq!(ceiling(2, &p), Duration::from_millis(375));
        assert_eq!(ceiling(3, &p), Duration::from_micros(562_500));
    }

    #[test]
    fn degenerate_policies_stay_in_bounds() {
        let max = secs(10);
        let cases = [
            (secs(1), 0.0, 1, secs(1)),
            (secs(1), 0.0, 2, Duration::ZERO),
            (secs(1), 1.0, u32::MAX, secs(1)),
            (secs(1), f64::INFINITY, 2, max),
            (secs(1), f64::NAN, 2, max),
            (secs(1), -2.0, 2, Duration::ZERO),
            (secs(1), -2.0, 3, secs(4)),
            (Duration::ZERO, 1e6, u32::MAX, Duration::ZERO),
            (Duration::MAX, 2.0, 1, max),
            (secs(20), 1.0, 1, max),
        ];
        for (base, factor, failed, want) in cases {
            let p = policy(base, max, factor, Jitter::None);
            assert_eq!(
                ceiling(failed, &p),
                want,
                "{base:?} * {factor}^({failed}-1)"
            );
        }
    }

    #[test]
    fn huge_max_delay_does_not_panic() {
        let p = policy(secs(1), Duration::MAX, 1e6, Jitter::Full);
        let mut rng = SmallRng::seed_from_u64(7);
        assert_eq!(ceiling(u32::MAX, &p), Duration::MAX);
        for failed in [1, 2, 10, 100, u32::MAX] {
            assert!(delay(failed, &p, &mut rng) <= Duration::MAX);
        }
        let p = RetryPolicy {
            jitter: Jitter::Equal,
            ..p
        };
        assert!(delay(u32::MAX, &p, &mut rng) >= Duration::MAX / 2);
    }

    #[test]
    fn same_seed_same_delays() {
        for jitter in [Jitter::Full, Jitter::Equal] {
            let p = policy(secs(1), secs(60), 2.0, jitter);
            let run = |seed| {
                let mut rng = SmallRng::seed_from_u64(seed);
                (1..=8).map(|n| delay(n, &p, &mut rng)).collect::<Vec<_>>()
            };
            assert_eq!(run(42), run(42));
            assert_ne!(run(42), run(43));
        }
    }

    #[test]
    fn full_jitter_averages_half_the_ceiling() {
        let p = policy(secs(8), secs(8), 1.0, Jitter::Full);
        let mut rng = SmallRng::seed_from_u64(1);
        let n = 20_000u32;
        let total: f64 = (0..n).map(|_| delay(1, &p, &mut rng).as_secs_f64()).sum();
        let mean = total / f64::from(n);
        // Standard error is 8 / sqrt(12 n) ≈ 0.016 s; 0.2 s is a wide margin.
        assert!((mean - 4.0).abs() < 0.2, "mean {mean}");
    }

    #[test]
    fn equal_jitter_averages_three_quarters() {
        let p = policy(secs(8), secs(8), 1.0, Jitter::Equal);
        let mut rng = SmallRng::seed_from_u64(2);
        let n = 20_000u32;
        let total: f64 = (0..n).map(|_| delay(1, &p, &mut rng).as_secs_f64()).sum();
        let mean = total / f64::from(n);
        assert!((mean - 6.0).abs() < 0.2, "mean {mean}");
    }

    fn any_jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![Just(Jitter::Full), Just(Jitter::Equal), Just(Jitter::None)]
    }

    proptest! {
        #[test]
        fn jitter_stays_within_its_band(
            failed in any::<u32>(),
            factor in 0.0f64..1e6,
            base_ms in 0u64..10_000_000,
            max_ms in 0u64..100_000_000,
            jitter in any_jitter(),
            seed in any::<u64>(),
        ) {
            let p = policy(
                Duration::from_millis(base_ms),
                Duration::from_millis(max_ms),
                factor,
                jitter,
            );
            let d = ceiling(failed, &p);
            let got = delay(failed, &p, &mut SmallRng::seed_from_u64(seed));
            prop_assert!(d <= p.max_delay);
            prop_assert!(got <= d);
            match jitter {
                Jitter::Full => {}
                Jitter::Equal => prop_assert!(got >= d / 2),
                Jitter::None => prop_assert_eq!(got, d),
            }
        }

        #[test]
        fn never_panics_on_any_durations(
            failed in any::<u32>(),
            factor in any::<f64>(),
            base in any::<(u64, u32)>(),
            max in any::<(u64, u32)>(),
            jitter in any_jitter(),
        ) {
            let p = policy(
                Duration::new(base.0, base.1 % 1_000_000_000),
                Duration::new(max.0, max.1 % 1_000_000_000),
                factor,
                jitter,
            );
            let got = delay(failed, &p, &mut SmallRng::seed_from_u64(0));
            prop_assert!(got <= p.max_delay);
        }

        #[test]
        fn ceiling_never_shrinks_as_attempts_grow(
            failed in 1u32..u32::MAX,
            factor in 1.0f64..1e6,
            base_ms in 0u64..10_000_000,
            max_ms in 0u64..100_000_000,
        ) {
            let p = policy(
                Duration::from_millis(base_ms),
                Duration::from_millis(max_ms),
                factor,
                Jitter::None,
            );
            prop_assert!(ceiling(failed, &p) <= ceiling(failed + 1, &p));
        }
    }
}
