//! Operator commands that name a matrix step rather than one instance:
//! approve, reject or answer every open wait of its instances; retry the
//! failed and cancelled ones (and hurry those backing off); skip or cancel
//! those not ended. A command naming one instance (`build:KEY`) is an
//! ordinary step's command.

use crate::engine::event::{By, Command, Refusal, check_answer};
use crate::engine::scheduler::Scheduler;
use crate::engine::state::{Final, Phase};
use crate::engine::waits::Resolution;

impl Scheduler {
    /// Applies `c` when it names a matrix step; gives it back otherwise.
    pub(in crate::engine) fn group_command(
        &mut self,
        c: Command,
    ) -> Result<Result<(), Refusal>, Command> {
        let named = |s: &str| self.wf.step_index(s).is_none() && self.wf.group_index(s).is_some();
        let group = match &c {
            Command::Approve { step, .. }
            | Command::Reject { step, .. }
            | Command::Answer { step, .. }
            | Command::Retry { step, .. }
            | Command::Skip { step, .. }
            | Command::Cancel {
                step: Some(step), ..
            } if named(step) => self.wf.group_index(step),
            _ => None,
        };
        let Some(g) = group else { return Err(c) };
        Ok(match c {
            Command::Approve { step, by } => self.resolve_all(g, &step, Resolution::Approved, by),
            Command::Reject { step, by } => self.resolve_all(g, &step, Resolution::Rejected, by),
            Command::Answer { step, text, by } => match check_answer(&step, &text) {
                Ok(()) => {
                    self.resolve_all(g, &step, |by| Resolution::Answered(text.clone(), by), by)
                }
                Err(refusal) => Err(refusal),
            },
            Command::Retry { step, by } => self.retry_all(g, &step, by),
            Command::Skip { step, by } => self.stop_all(g, &step, by, false),
            Command::Cancel {
                step: Some(step),
                by,
            } => self.stop_all(g, &step, by, true),
            other => return Err(other),
        })
    }

    fn members(&self, g: usize) -> Vec<usize> {
        self.wf
            .groups
            .get(g)
            .map_or_else(Vec::new, |g| g.members.clone())
    }

    fn none_of(&self, g: usize, step: &str, wanted: &'static str) -> Refusal {
        Refusal::NoInstance {
            step: step.to_string(),
            wanted,
            status: self.group_status(g),
        }
    }

    /// Every open wait of the group, resolved alike; refused when none is
    /// open, or when every one refused (the first refusal).
    fn resolve_all(
        &mut self,
        g: usize,
        step: &str,
        how: impl Fn(By) -> Resolution,
        by: By,
    ) -> Result<(), Refusal> {
        let open: Vec<usize> = (self.members(g).into_iter())
            .filter(|&m| matches!(self.steps[m].phase, Phase::Waiting { .. }))
            .collect();
        if open.is_empty() {
            return Err(self.none_of(g, step, "waits"));
        }
        let mut first = None;
        let mut took = false;
        for m in open {
            match self.resolve(m, how(by)) {
                Ok(()) => took = true,
                Err(refusal) => {
                    first.get_or_insert(refusal);
                }
            }
        }
        match first {
            Some(refusal) if !took => Err(refusal),
            _ => Ok(()),
        }
    }

    /// Each failed or cancelled instance runs again (one `dag_modified`
    /// each), and each backing off retries now.
    fn retry_all(&mut self, g: usize, step: &str, by: By) -> Result<(), Refusal> {
        if self.cancelling.is_some() {
            return Err(Refusal::Stopping);
        }
        let mut took = false;
        for m in self.members(g) {
            // Looked at as it is now: a retry of a `fail_fast` instance
            // resets the siblings it stopped.
            let again = matches!(
                self.steps[m].phase,
                Phase::Backoff { .. } | Phase::Done(Final::Failed { .. } | Final::Cancelled)
            );
            if again {
                self.retry(m, by)?;
                took = true;
            }
        }
        if took {
            Ok(())
        } else {
            Err(self.none_of(g, step, "has failed, was cancelled or backs off"))
        }
    }

    /// Each instance not ended is skipped or cancelled, as one step is.
    fn stop_all(&mut self, g: usize, step: &str, by: By, cancel: bool) -> Result<(), Refusal> {
        let going: Vec<usize> = (self.members(g).into_iter())
            .filter(|&m| !matches!(self.steps[m].phase, Phase::Done(_)))
            .collect();
        if going.is_empty() {
            return Err(Refusal::Ended {
                step: step.to_string(),
                status: self.group_status(g),
            });
        }
        for m in going {
            if cancel {
                self.cancel_one(m, by)?;
            } else {
                self.skip(m, by)?;
            }
        }
        Ok(())
    }
}
