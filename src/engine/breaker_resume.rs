//! A resumed (or retried) run's breakers as its journal left them (SPEC §2
//! "Resume", "Breaker"): each breaker's last `breaker_changed`, whether
//! its failures, its cooldown or an operator made it, and for a closed one
//! the failed attempts counted since. An open breaker's cooldown runs from
//! the journaled time, so one that ended while nothing ran lets a probe
//! through at once. Before this a resumed run started every breaker
//! closed, and the steps behind an open one hit the service again.
//!
//! The journal is read before the run starts (`restore`); the breakers are
//! set once it has (`carry_on`), on the run's own clock.
//!
//! A retry of a finished run is the operator asking for those steps to run
//! again now: a breaker they name that the journal left open or half-open
//! would fail them at once, and no `breaker reset` reaches a run that is
//! not live. So the retry closes those breakers, journaled as an
//! operator's reset (`by` and `user` of the retry), right after its
//! `dag_modified`. Other breakers stay as they were.

use std::collections::BTreeMap;
use std::time::SystemTime;

use tokio::time::Instant;

use super::breaker::Restored;
use super::event::{BreakerState, By, Envelope, Event};
use super::scheduler::Scheduler;
use crate::workflow::Action;

/// One breaker's story in the journal, as far as it goes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Journaled {
    Closed { failures: u32 },
    Open { since: SystemTime },
    HalfOpen,
}

impl Scheduler {
    /// Follows every breaker through the journal; kept until the run starts.
    pub(super) fn journal_breakers(&mut self, events: &[Envelope]) {
        let mut told: BTreeMap<String, Journaled> = BTreeMap::new();
        for e in events {
            if let Event::BreakerChanged { breaker, state, .. } = &e.event {
                let j = match state {
                    BreakerState::Closed => Journaled::Closed { failures: 0 },
                    BreakerState::Open => Journaled::Open {
                        since: super::resume::at(e),
                    },
                    BreakerState::HalfOpen => Journaled::HalfOpen,
                };
                told.insert(breaker.clone(), j);
                continue;
            }
            let Some((name, failed)) = self.attempt_outcome(&e.event) else {
                continue;
            };
            // Only a closed breaker counts: the failure that opens one is
            // journaled after its `breaker_changed`, and an open or
            // half-open one moves only by `breaker_changed`.
            let j = told
                .entry(name.to_string())
                .or_insert(Journaled::Closed { failures: 0 });
            if let Journaled::Closed { failures } = j {
                *failures = if failed {
                    failures.saturating_add(1)
                } else {
                    0
                };
            }
        }
        self.journaled_breakers = told.into_iter().collect();
    }

    /// The breaker an attempt's end reports to, and whether it failed: the
    /// end of an attempt of a `run` step that names one. A fallback's
    /// success follows a failed last attempt; an attempt the breaker
    /// refused never reached the service and is not counted.
    fn attempt_outcome<'a>(&'a self, event: &'a Event) -> Option<(&'a str, bool)> {
        let (step, failed) = match event {
            Event::StepRetrying { step, error, .. } | Event::StepFailed { step, error, .. }
                if !(error.starts_with("breaker ") && error.ends_with(" is open")) =>
            {
                (step, true)
            }
            Event::StepSucceeded { step, fallback, .. } => (step, *fallback),
            _ => return None,
        };
        let spec = &self.wf.steps[self.wf.step_index(step)?];
        let name = spec.breaker.as_deref()?;
        (matches!(spec.action, Action::Run(_)) && self.breakers.contains_key(name))
            .then_some((name, failed))
    }

    /// Once the resumed run has started: each breaker as the journal left
    /// it; an open one gets its cooldown timer, as when it opened.
    pub(super) fn restore_breakers(&mut self) {
        let now = Instant::now().duration_since(self.started);
        for (name, j) in std::mem::take(&mut self.journaled_breakers) {
            let Some(b) = self.breakers.get_mut(&name) else {
                continue;
            };
            b.restore(
                match j {
                    Journaled::Closed { failures } => Restored::Closed { failures },
                    Journaled::Open { since } => Restored::Open {
                        opened_ago: SystemTime::now().duration_since(since).unwrap_or_default(),
                    },
                    Journaled::HalfOpen => Restored::HalfOpen,
                },
                now,
            );
            if let Some(at) = b.reopens_at() {
                self.cool_at(&name, at);
            }
        }
    }

    /// A finished run's retry: closes each breaker a step in `steps` names
    /// that is not closed, as the operator who asked for the retry.
    pub(super) fn close_breakers_for_retry(
        &mut self,
        steps: &[usize],
        by: By,
        user: Option<String>,
    ) {
        let mut names: Vec<String> = steps
            .iter()
            .filter_map(|&i| self.wf.steps[i].breaker.clone())
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let closed = self.breakers.get_mut(&name).and_then(|b| b.reset());
            if closed.is_some() {
                self.emit(Event::BreakerChanged {
                    breaker: name,
                    state: BreakerState::Closed,
                    by: Some(by),
                    user: user.clone(),
                });
            }
        }
    }
}
