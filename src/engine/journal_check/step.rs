//! One step as the journal checker follows it: the states the scheduler
//! moves a step through, and which events each allows next.

use crate::engine::event::SkipReason;
use crate::workflow::{Action, Step as Spec};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Succeeded,
    Failed { tolerated: bool },
    Skipped(SkipReason),
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum St {
    /// Waiting for its needs (or reset by a retry).
    #[default]
    Pending,
    /// A `run` step in the ready queue; its next attempt has this number.
    Queued(u32),
    Running(u32),
    /// Attempt `n` failed; attempt `n + 1` is due.
    Backoff(u32),
    /// A wait step readied: its wait opens next.
    Opening,
    Waiting(u64),
    /// A resumed run re-opens wait `n` with the number it had.
    Reopen(u64),
    /// Its wait was resolved: approved (or answered), or not.
    Resolved {
        ok: bool,
    },
    Done(End),
}

/// An operator's skip or cancel, journaled before the step ends by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    Skip,
    Cancel,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Step {
    pub st: St,
    /// Stopped with the whole run (`run_cancelled`, `run_timeout`): ended
    /// for this segment; a resumed run picks it up from `st`.
    pub halted: bool,
    /// Readied at least once since it was last reset.
    pub readied: bool,
    /// The number of its last attempt.
    pub attempts: u32,
    pub stop: Option<Stop>,
    /// Its last word was a stop with the whole run (as `resume.rs` keeps
    /// `Open::stopped`): an edit's `--rerun` of a need starts it over.
    pub stopped: bool,
    /// Reset by an edit's `--rerun` while its attempt ran: that attempt's
    /// output, then its `step_cancelled` (`rerun`), may still come.
    pub stale: bool,
    /// Who has approved its open wait so far (`approval_progress`).
    pub approved: Vec<String>,
    /// Its running attempt started on a worker (SPEC §7): a resumed run
    /// adopts it, and it goes on under the same `step_started`.
    pub on_worker: bool,
}

impl Step {
    pub fn ended(&self) -> bool {
        self.halted || matches!(self.st, St::Done(_))
    }

    /// Where it stands, for messages.
    pub fn word(&self) -> String {
        if self.halted {
            return "stopped with the run".into();
        }
        match self.st {
            St::Pending => "pending".into(),
            St::Queued(a) => format!("queued for attempt {a}"),
            St::Running(a) => format!("running attempt {a}"),
            St::Backoff(a) => format!("backing off after attempt {a}"),
            St::Opening => "ready to open its wait".into(),
            St::Waiting(n) => format!("waiting on w{n}"),
            St::Reopen(n) => format!("due to re-open w{n}"),
            St::Resolved { .. } => "resolved".into(),
            St::Done(End::Succeeded) => "succeeded".into(),
            St::Done(End::Failed { .. }) => "failed".into(),
            St::Done(End::Skipped(_)) => "skipped".into(),
            St::Done(End::Cancelled) => "cancelled".into(),
        }
    }

    pub fn end(&mut self, end: End) {
        self.st = St::Done(end);
        self.stop = None;
    }

    /// An operator's retry: from the first attempt, needs looked at again.
    pub fn reset(&mut self) {
        *self = Step::default();
    }

    /// A resumed `run_started`: what `resume.rs` makes of each state.
    pub fn resume(&mut self) {
        self.halted = false;
        self.stale = false;
        self.stop = None;
        self.st = match self.st {
            // Adopted where it runs: its output and end follow.
            St::Running(a) if self.on_worker => St::Running(a),
            // The interrupted attempt runs again under its own number.
            St::Running(a) => St::Queued(a),
            St::Queued(a) if a == self.attempts && a > 0 => St::Queued(a),
            // Readied but not started: readied again.
            St::Queued(_) | St::Opening => St::Pending,
            St::Waiting(n) | St::Reopen(n) => St::Reopen(n),
            other => other,
        };
    }

    /// Whether attempt `a` is the one due now (queued, or after a backoff).
    fn due(&self, a: u32) -> bool {
        match self.st {
            St::Queued(q) => q == a,
            St::Backoff(f) => f.checked_add(1) == Some(a),
            _ => false,
        }
    }

    /// An open breaker fails the due attempt without starting it.
    fn failed_fast(&self, a: u32, spec: &Spec) -> bool {
        spec.breaker.is_some() && self.due(a)
    }

    pub fn start(&mut self, a: u32, spec: &Spec) -> Result<(), String> {
        if a == 0 || a > spec.retry.attempts {
            return Err(format!("attempt {a} of {}", spec.retry.attempts));
        }
        if !self.due(a) {
            return Err(format!("attempt {a} while {}", self.word()));
        }
        self.st = St::Running(a);
        self.attempts = a;
        Ok(())
    }

    pub fn retrying(&mut self, a: u32, delay_ms: u64, spec: &Spec) -> Result<(), String> {
        if a == 0 || a >= spec.retry.attempts {
            return Err(format!(
                "attempt {a} of {} cannot be retried",
                spec.retry.attempts
            ));
        }
        let longest = spec.retry.max_delay.max(spec.retry.delay);
        if u128::from(delay_ms) > longest.as_millis() + 1 {
            return Err(format!("delay_ms {delay_ms} beyond its max_delay"));
        }
        if self.st != St::Running(a) && !self.failed_fast(a, spec) {
            return Err(format!("attempt {a} while {}", self.word()));
        }
        self.st = St::Backoff(a);
        self.attempts = a;
        Ok(())
    }

    /// A wait step's attempt is always 1; a `run` step's is the one running
    /// (or failed fast by its breaker).
    fn attempt_ends(&self, a: u32, spec: &Spec, fallback: bool) -> bool {
        match spec.action {
            Action::Run(_) => self.st == St::Running(a) || (fallback && self.failed_fast(a, spec)),
            _ => a == 1,
        }
    }

    pub fn succeeded(&mut self, a: u32, fallback: bool, spec: &Spec) -> Result<(), String> {
        if fallback && spec.fallback.is_none() {
            return Err("a fallback, which it does not have".into());
        }
        if !self.attempt_ends(a, spec, fallback) {
            return Err(format!("attempt {a} while {}", self.word()));
        }
        let ok = match (&spec.action, self.st) {
            (Action::Run(_), _) => true,
            (_, St::Resolved { ok }) => ok != fallback,
            (Action::Ask(_), St::Waiting(_)) => fallback,
            _ => false,
        };
        if !ok {
            return Err(format!("it was {}", self.word()));
        }
        self.end(End::Succeeded);
        Ok(())
    }

    pub fn failed(&mut self, a: u32, spec: &Spec) -> Result<(), String> {
        if spec.fallback.is_some() {
            return Err("it has a fallback, which stands in for a failure".into());
        }
        let ok = match (&spec.action, self.st) {
            (Action::Run(_), _) => {
                a >= 1 && (self.st == St::Running(a) || self.failed_fast(a, spec))
            }
            (_, St::Resolved { ok: false }) => a == 1,
            (Action::Ask(_), St::Waiting(_)) => a == 1,
            _ => false,
        };
        if !ok {
            return Err(format!("attempts {a} while {}", self.word()));
        }
        let tolerated = spec.on_failure == crate::workflow::OnFailure::Continue;
        self.end(End::Failed { tolerated });
        Ok(())
    }

    pub fn cancelled(&mut self, reason: &str, run_wide: bool) -> Result<(), String> {
        if run_wide {
            if matches!(self.st, St::Resolved { .. }) {
                return Err("its wait had been resolved".into());
            }
            // A step the operator was stopping ends as the operator said.
            if self.stop.is_some() && matches!(self.st, St::Running(_)) {
                return Err("the operator had stopped it; it ends as they said".into());
            }
            self.halted = true;
            self.stopped = true;
            self.stop = None;
            return Ok(());
        }
        if reason != "operator" {
            return Err(format!("`{reason}` is not a reason the engine gives"));
        }
        if self.stop != Some(Stop::Cancel) {
            return Err("no dag_modified cancel came before it".into());
        }
        self.end(End::Cancelled);
        Ok(())
    }

    pub fn resolved(&mut self, wait: &str, ok: bool) -> Result<(), String> {
        match self.st {
            St::Waiting(n) if wait == format!("w{n}") => {
                self.st = St::Resolved { ok };
                Ok(())
            }
            St::Waiting(n) => Err(format!("wait `{wait}` while w{n} was open")),
            _ => Err(format!("wait `{wait}` while {}", self.word())),
        }
    }
}
