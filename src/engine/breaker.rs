//! A named circuit breaker as a pure state machine (SPEC.md §2 "Breaker").
//!
//! This module owns the breaker's states and transitions: counting consecutive
//! failures, opening for a cooldown, admitting a bounded number of half-open probes.
//! It must not know about tokio, timers, events, steps or I/O. The clock is
//! injected: every call that depends on time takes `now` as a [`Duration`] since an
//! arbitrary origin, so tests step it by hand and the engine converts its (paused,
//! in tests) tokio clock. Nothing here wakes up by itself: an open breaker becomes
//! half-open at the first [`Breaker::admit`] after the cooldown, which is when the
//! engine journals `breaker_changed`.
//!
//! Hand-written on purpose (see STYLE.md): `failsafe` has had no release since 2024.

use std::time::Duration;

use crate::workflow::BreakerPolicy;

/// Where the breaker stands, as `breaker_changed` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    /// The name used in events and on the screen.
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

/// Whether an attempt may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Allowed,
    /// `breaker <name> is open`: the attempt fails at once without running, and is
    /// not counted as a failure, since it never reached the service.
    Rejected,
}

/// The private state carries what each public [`State`] needs, so no field can be
/// stale in a state where it means nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inner {
    /// Consecutive failures so far, across every step sharing the breaker.
    Closed { failures: u32 },
    /// Rejects until `until`; then the first admission turns it half-open.
    Open { until: Duration },
    /// Probes admitted and not yet settled; bounded by `half_open_calls`.
    HalfOpen { in_flight: u32 },
}

#[derive(Debug, Clone)]
pub struct Breaker {
    policy: BreakerPolicy,
    inner: Inner,
}

impl Breaker {
    pub fn new(policy: BreakerPolicy) -> Breaker {
        Breaker {
            policy,
            inner: Inner::Closed { failures: 0 },
        }
    }

    pub fn state(&self) -> State {
        match self.inner {
            Inner::Closed { .. } => State::Closed,
            Inner::Open { .. } => State::Open,
            Inner::HalfOpen { .. } => State::HalfOpen,
        }
    }

    /// Called before an attempt. Open within the cooldown rejects; open after it
    /// turns half-open and admits up to `half_open_calls` attempts at once.
    /// Returns the admission and `Some(new_state)` when the state changed.
    pub fn admit(&mut self, now: Duration) -> (Admit, Option<State>) {
        let mut changed = None;
        if let Inner::Open { until } = self.inner {
            if now < until {
                return (Admit::Rejected, None);
            }
            self.inner = Inner::HalfOpen { in_flight: 0 };
            changed = Some(State::HalfOpen);
        }
        let limit = self.half_open_calls();
        let admit = match &mut self.inner {
            Inner::HalfOpen { in_flight } if *in_flight < limit => {
                *in_flight += 1;
                Admit::Allowed
            }
            Inner::HalfOpen { .. } => Admit::Rejected,
            Inner::Closed { .. } | Inner::Open { .. } => Admit::Allowed,
        };
        (admit, changed)
    }

    /// Moves an open breaker whose cooldown is over to half-open without
    /// admitting anything, so the change is seen when it happens rather than
    /// at the next attempt. Returns the change, if any.
    pub fn cool_down(&mut self, now: Duration) -> Option<State> {
        match self.inner {
            Inner::Open { until } if now >= until => {
                self.inner = Inner::HalfOpen { in_flight: 0 };
                Some(State::HalfOpen)
            }
            _ => None,
        }
    }

    /// An admitted attempt succeeded: closes a half-open breaker and resets the
    /// consecutive count.
    ///
    /// A success reported while open came from an attempt admitted before the
    /// breaker opened; the failures that opened it are fresher news, so it is ignored.
    pub fn record_success(&mut self, _now: Duration) -> Option<State> {
        match self.inner {
            Inner::Closed { .. } => {
                self.inner = Inner::Closed { failures: 0 };
                None
            }
            Inner::HalfOpen { .. } => {
                self.inner = Inner::Closed { failures: 0 };
                Some(State::Closed)
            }
            Inner::Open { .. } => None,
        }
    }

    /// An admitted attempt failed: at `failures` consecutive failures a closed
    /// breaker opens for `cooldown`; any failure while half-open opens it again
    /// with a fresh cooldown.
    ///
    /// A failure reported while already open is a straggler admitted earlier; it
    /// does not extend the cooldown, or slow calls could keep a breaker open forever.
    pub fn record_failure(&mut self, now: Duration) -> Option<State> {
        match self.inner {
            Inner::Closed { failures } => {
                let failures = failures.saturating_add(1);
                // A zero threshold would mean "open before any failure"; the loader
                // rejects it, and treating it as 1 keeps the machine well-defined.
                if failures >= self.policy.failures.max(1) {
                    self.open(now)
                } else {
                    self.inner = Inner::Closed { failures };
                    None
                }
            }
            Inner::HalfOpen { .. } => self.open(now),
            Inner::Open { .. } => None,
        }
    }

    /// An admitted attempt ended without a verdict (cancelled, or skipped by the
    /// operator): frees its half-open slot so another probe can go.
    pub fn record_abandoned(&mut self) {
        if let Inner::HalfOpen { in_flight } = &mut self.inner {
            *in_flight = in_flight.saturating_sub(1);
        }
    }

    /// When an open breaker will let calls through again, for the screen's
    /// countdown. `None` unless open. May lie in the past: the breaker stays open
    /// until the next [`Breaker::admit`].
    pub fn reopens_at(&self) -> Option<Duration> {
        match self.inner {
            Inner::Open { until } => Some(until),
            Inner::Closed { .. } | Inner::HalfOpen { .. } => None,
        }
    }

    fn open(&mut self, now: Duration) -> Option<State> {
        // Saturating: a cooldown of years from a late origin must not panic.
        let until = now
            .checked_add(self.policy.cooldown)
            .unwrap_or(Duration::MAX);
        self.inner = Inner::Open { until };
        Some(State::Open)
    }

    /// Zero would leave a half-open breaker rejecting forever, with nothing to
    /// close it; the loader rejects it, and one probe is the safe reading.
    fn half_open_calls(&self) -> u32 {
        self.policy.half_open_calls.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(60);

    fn breaker(failures: u32, half_open_calls: u32) -> Breaker {
        Breaker::new(BreakerPolicy {
            failures,
            cooldown: COOLDOWN,
            half_open_calls,
        })
    }

    fn at(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Fails `n` admitted attempts at time `now`, returning the last state change.
    fn fail_n(b: &mut Breaker, n: u32, now: Duration) -> Option<State> {
        let mut last = None;
        for _ in 0..n {
            assert_eq!(b.admit(now), (Admit::Allowed, None));
            last = b.record_failure(now);
        }
        last
    }

    /// An open breaker whose cooldown ends at `at(60)`.
    fn opened(half_open_calls: u32) -> Breaker {
        let mut b = breaker(3, half_open_calls);
        assert_eq!(fail_n(&mut b, 3, at(0)), Some(State::Open));
        b
    }

    #[test]
    fn opens_exactly_at_the_threshold() {
        for threshold in [1, 2, 3, 5, 10] {
            let mut b = breaker(threshold, 1);
            assert_eq!(fail_n(&mut b, threshold - 1, at(0)), None);
            assert_eq!(b.state(), State::Closed, "threshold {threshold}");
            assert_eq!(fail_n(&mut b, 1, at(0)), Some(State::Open));
            assert_eq!(b.state(), State::Open);
            assert_eq!(b.reopens_at(), Some(COOLDOWN));
        }
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut b = breaker(3, 1);
        fail_n(&mut b, 2, at(0));
        assert_eq!(b.admit(at(1)), (Admit::Allowed, None));
        assert_eq!(b.record_success(at(1)), None);
        assert_eq!(fail_n(&mut b, 2, at(2)), None);
        assert_eq!(b.state(), State::Closed);
        assert_eq!(fail_n(&mut b, 1, at(3)), Some(State::Open));
    }

    #[test]
    fn rejects_while_open_without_counting() {
        let mut b = opened(1);
        for now in [0, 1, 30, 59] {
            assert_eq!(b.admit(at(now)), (Admit::Rejected, None), "at {now}s");
        }
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.reopens_at(), Some(at(60)));
    }

    #[test]
    fn after_cooldown_admits_exactly_half_open_calls() {
        for calls in [1, 2, 4] {
            let mut b = opened(calls);
            assert_eq!(b.admit(at(60)), (Admit::Allowed, Some(State::HalfOpen)));
            assert_eq!(b.reopens_at(), None);
            for _ in 1..calls {
                assert_eq!(b.admit(at(61)), (Admit::Allowed, None));
            }
            assert_eq!(b.admit(at(62)), (Admit::Rejected, None), "calls {calls}");
            assert_eq!(b.state(), State::HalfOpen);
        }
    }

    #[test]
    fn half_open_verdicts() {
        // (success?, the state it moves to, reopens_at afterwards)
        let cases = [
            (true, State::Closed, None),
            (false, State::Open, Some(at(70 + 60))),
        ];
        for (success, want, reopens) in cases {
            let mut b = opened(2);
            b.admit(at(60));
            b.admit(at(60));
            let change = if success {
                b.record_success(at(70))
            } else {
                b.record_failure(at(70))
            };
            assert_eq!(change, Some(want));
            assert_eq!(b.state(), want);
            assert_eq!(b.reopens_at(), reopens);
            // The other probe's verdict arrives after the state moved on: no change.
            let late = if success {
                b.record_success(at(71))
            } else {
                b.record_failure(at(71))
            };
            assert_eq!(late, None);
        }
    }

    #[test]
    fn closed_after_half_open_starts_counting_from_zero() {
        let mut b = opened(1);
        b.admit(at(60));
        b.record_success(at(61));
        assert_eq!(fail_n(&mut b, 2, at(62)), None);
        assert_eq!(fail_n(&mut b, 1, at(63)), Some(State::Open));
    }

    #[test]
    fn reopened_breaker_waits_a_fresh_cooldown() {
        let mut b = opened(1);
        b.admit(at(100));
        b.record_failure(at(100));
        assert_eq!(b.admit(at(159)), (Admit::Rejected, None));
        assert_eq!(b.admit(at(160)), (Admit::Allowed, Some(State::HalfOpen)));
    }

    #[test]
    fn stragglers_while_open_change_nothing() {
        let mut b = opened(1);
        assert_eq!(b.record_success(at(10)), None);
        assert_eq!(b.record_failure(at(50)), None);
        b.record_abandoned();
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.reopens_at(), Some(at(60)));
    }

    #[test]
    fn abandoned_frees_a_half_open_slot() {
        let mut b = opened(1);
        assert_eq!(b.admit(at(60)).0, Admit::Allowed);
        assert_eq!(b.admit(at(61)).0, Admit::Rejected);
        b.record_abandoned();
        assert_eq!(b.state(), State::HalfOpen);
        assert_eq!(b.admit(at(62)), (Admit::Allowed, None));
        // More abandons than probes must not open extra slots.
        b.record_abandoned();
        b.record_abandoned();
        assert_eq!(b.admit(at(63)).0, Admit::Allowed);
        assert_eq!(b.admit(at(63)).0, Admit::Rejected);
    }

    #[test]
    fn abandoned_while_closed_does_not_reset_the_count() {
        let mut b = breaker(2, 1);
        fail_n(&mut b, 1, at(0));
        b.admit(at(1));
        b.record_abandoned();
        assert_eq!(fail_n(&mut b, 1, at(2)), Some(State::Open));
    }

    #[test]
    fn degenerate_policies() {
        let mut b = Breaker::new(BreakerPolicy {
            failures: 0,
            cooldown: Duration::MAX,
            half_open_calls: 0,
        });
        assert_eq!(fail_n(&mut b, 1, at(5)), Some(State::Open));
        assert_eq!(b.reopens_at(), Some(Duration::MAX));
        assert_eq!(
            b.admit(Duration::MAX),
            (Admit::Allowed, Some(State::HalfOpen))
        );
        assert_eq!(b.admit(Duration::MAX).0, Admit::Rejected);
    }

    #[test]
    fn state_names_match_the_events() {
        let names = [
            (State::Closed, "closed"),
            (State::Open, "open"),
            (State::HalfOpen, "half_open"),
        ];
        for (state, name) in names {
            assert_eq!(state.name(), name);
        }
    }
}
