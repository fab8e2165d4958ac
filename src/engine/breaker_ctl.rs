//! The run's breakers as the owner keeps them: journaling each change
//! (`breaker_changed`), the timer that turns an open breaker half-open when
//! its cooldown ends, and the operator's `reset` and `open` (SPEC §2
//! "Breakers can be reset..."), journaled with `by` and `user`.
//!
//! An operator's open is a trip: the breaker rejects attempts (`breaker
//! NAME is open`) for one `cooldown` from now, then lets `half_open_calls`
//! through, as after failures. A reset closes it; steps backing off go
//! through at their next attempt. Neither is taken when it would change
//! nothing: resetting a closed breaker or opening an open one is refused,
//! saying so, and nothing is journaled.

use tokio::time::Instant;

use super::breaker::State;
use super::event::{BreakerAction, BreakerState, By, Event, Refusal};
use super::scheduler::{Msg, Scheduler};
use crate::workflow::diag::did_you_mean;

fn breaker_state(s: State) -> BreakerState {
    match s {
        State::Closed => BreakerState::Closed,
        State::Open => BreakerState::Open,
        State::HalfOpen => BreakerState::HalfOpen,
    }
}

impl Scheduler {
    /// Publishes a breaker's own change; an opened breaker gets a timer
    /// that moves it to half-open when its cooldown ends.
    pub(super) fn breaker_changed(&mut self, name: &str, state: Option<State>) {
        if let Some(s) = state {
            self.breaker_moved(name, s, None);
        }
    }

    /// Journals `name` now being `s`, by an operator when `by` says so.
    fn breaker_moved(&mut self, name: &str, s: State, by: Option<By>) {
        let user = by.and_then(|by| self.who(self.acting.clone(), by));
        self.emit(Event::BreakerChanged {
            breaker: name.to_string(),
            state: breaker_state(s),
            by,
            user,
        });
        let reopens = self.breakers.get(name).and_then(|b| b.reopens_at());
        if let (State::Open, Some(at)) = (s, reopens) {
            self.cool_at(name, at);
        }
    }

    /// Wakes the breaker when its cooldown ends, `at` on the run's clock.
    pub(super) fn cool_at(&self, name: &str, at: std::time::Duration) {
        let due = self.started + at;
        let tx = self.tx.clone();
        let breaker = name.to_string();
        // A stale timer (the breaker was reset and opened again since)
        // changes nothing: `cool_down` looks at the breaker's own time.
        tokio::spawn(async move {
            tokio::time::sleep_until(due).await;
            let _ = tx.send(Msg::BreakerCooled { breaker });
        });
    }

    /// A breaker's cooldown timer fired.
    pub(super) fn breaker_cooled(&mut self, name: &str) {
        let now = Instant::now().duration_since(self.started);
        let change = self.breakers.get_mut(name).and_then(|b| b.cool_down(now));
        self.breaker_changed(name, change);
    }

    /// The operator's `reset` or `open` of breaker `name`.
    pub(super) fn breaker_command(
        &mut self,
        name: &str,
        action: BreakerAction,
        by: By,
    ) -> Result<(), Refusal> {
        if self.cancelling.is_some() {
            return Err(Refusal::Stopping);
        }
        let now = Instant::now().duration_since(self.started);
        let Some(b) = self.breakers.get_mut(name) else {
            return Err(self.unknown_breaker(name));
        };
        let change = match action {
            BreakerAction::Reset => b.reset(),
            BreakerAction::Open => b.force_open(now),
        };
        match (change, action) {
            (Some(s), _) => {
                self.breaker_moved(name, s, Some(by));
                Ok(())
            }
            (None, BreakerAction::Reset) => Err(Refusal::BreakerClosed {
                breaker: name.to_string(),
            }),
            (None, BreakerAction::Open) => {
                let left = b.reopens_at().unwrap_or(now).saturating_sub(now);
                Err(Refusal::BreakerOpen {
                    breaker: name.to_string(),
                    left: crate::workflow::duration::whole(left),
                })
            }
        }
    }

    fn unknown_breaker(&self, name: &str) -> Refusal {
        let hint = match self.wf.breakers.is_empty() {
            true => ": it has no breakers".to_string(),
            false => {
                let hint = did_you_mean(name, self.wf.breakers.keys().map(String::as_str));
                match hint.is_empty() {
                    true => {
                        let names: Vec<&str> =
                            self.wf.breakers.keys().map(String::as_str).collect();
                        format!(" (it has {})", names.join(", "))
                    }
                    false => hint,
                }
            }
        };
        Refusal::UnknownBreaker {
            breaker: name.to_string(),
            workflow: self.wf.name.clone(),
            hint,
        }
    }
}
