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

/// A breaker as a journal tells it, for [`Breaker::restore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restored {
    Closed {
        failures: u32,
    },
    /// Opened (by failures or an operator) this long before now.
    Open {
        opened_ago: Duration,
    },
    HalfOpen,
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

    /// The operator closes the breaker (SPEC §2 "Breakers can be reset"):
    /// the count starts from zero and every attempt is admitted again.
    /// Probes still running report to a closed breaker, which counts them
    /// like any attempt. `None` when it was closed already: nothing to do.
    pub fn reset(&mut self) -> Option<State> {
        match self.inner {
            Inner::Closed { .. } => None,
            Inner::Open { .. } | Inner::HalfOpen { .. } => {
                self.inner = Inner::Closed { failures: 0 };
                Some(State::Closed)
            }
        }
    }

    /// The operator opens the breaker: as if it had tripped at `now`, it
    /// rejects attempts for one `cooldown`, then lets `half_open_calls`
    /// through. `None` when it was open already (its cooldown is kept).
    pub fn force_open(&mut self, now: Duration) -> Option<State> {
        match self.inner {
            Inner::Open { .. } => None,
            Inner::Closed { .. } | Inner::HalfOpen { .. } => self.open(now),
        }
    }

    /// Puts the breaker where a journal left it (SPEC §2 "Resume"): open
    /// with what is left of its cooldown, counted from when it opened;
    /// half-open with no probe in flight (the probes that were running run
    /// again, and are admitted again); closed with the consecutive failures
    /// since it last closed, below the threshold (at it, it would be open).
    pub fn restore(&mut self, at: Restored, now: Duration) {
        self.inner = match at {
            Restored::Closed { failures } => Inner::Closed {
                failures: failures.min(self.policy.failures.max(1) - 1),
            },
            Restored::Open { opened_ago } => Inner::Open {
                until: now
                    .checked_add(self.policy.cooldown.saturating_sub(opened_ago))
                    .unwrap_or(Duration::MAX),
            },
            Restored::HalfOpen => Inner::HalfOpen { in_flight: 0 },
        };
    }

    /// Zero would leave a half-open breaker rejecting forever, with nothing to
    /// close it; the loader rejects it, and one probe is the safe reading.
    fn half_open_calls(&self) -> u32 {
        self.policy.half_open_calls.max(1)
    }
}

#[cfg(test)]
mod tests;
