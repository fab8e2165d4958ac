//! Commands from the operator: resolve waits, and retry, skip or cancel
//! steps (each of the last three journaled as `dag_modified` first).

use super::event::{By, Command, DagAction, Event, RunStatus, SkipReason};
use super::scheduler::Scheduler;
use super::state::{Final, Phase, Stop};
use super::waits::Resolution;
use crate::workflow::Action;

impl Scheduler {
    pub(super) fn command(&mut self, c: Command) {
        let step_of = |s: &Scheduler, id: &str| {
            let i = s.wf.step_index(id);
            if i.is_none() {
                tracing::warn!("command for unknown step `{id}` ignored");
            }
            i
        };
        match c {
            Command::Approve { step, by } => {
                if let Some(i) = step_of(self, &step) {
                    self.resolve(i, Resolution::Approved(by));
                }
            }
            Command::Reject { step, by } => {
                if let Some(i) = step_of(self, &step) {
                    self.resolve(i, Resolution::Rejected(by));
                }
            }
            Command::Answer { step, text, by } => {
                if let Some(i) = step_of(self, &step) {
                    self.resolve(i, Resolution::Answered(text, by));
                }
            }
            Command::Retry { step, by } => {
                if let Some(i) = step_of(self, &step) {
                    self.retry(i, by);
                }
            }
            Command::Skip { step, by } => {
                if let Some(i) = step_of(self, &step) {
                    self.skip(i, by);
                }
            }
            Command::Cancel {
                step: Some(step),
                by,
            } => {
                if let Some(i) = step_of(self, &step)
                    && !matches!(self.steps[i].phase, Phase::Done(_))
                {
                    self.emit(Event::DagModified {
                        action: DagAction::Cancel,
                        steps: vec![step],
                        by,
                    });
                    self.cancel_step(i, "operator");
                }
            }
            Command::Cancel { step: None, .. } => {
                self.cancel_run(RunStatus::Cancelled, "run_cancelled")
            }
        }
    }

    /// Resolves the open wait of step `i`, if the resolution fits it: an
    /// answer must be one of the choices, and approving a question takes its
    /// default, so one without a default stays open.
    pub(super) fn resolve(&mut self, i: usize, resolution: Resolution) {
        let Phase::Waiting { wait, .. } = self.steps[i].phase else {
            tracing::warn!(
                "step `{}` has no open wait; command ignored",
                self.wf.steps[i].id
            );
            return;
        };
        if let (Action::Ask(a), Resolution::Approved(_)) = (&self.wf.steps[i].action, &resolution)
            && a.default.is_none()
        {
            tracing::warn!(
                "question `{}` has no default to take; it stays open",
                self.wf.steps[i].id
            );
            return;
        }
        if let (Action::Ask(a), Resolution::Answered(text, _)) =
            (&self.wf.steps[i].action, &resolution)
            && !a.choices.is_empty()
            && !a.choices.contains(text)
        {
            tracing::warn!(
                "answer `{text}` is not one of the choices of `{}`; ignored",
                self.wf.steps[i].id
            );
            return;
        }
        self.waits.resolve(wait, resolution);
    }

    /// A failed or cancelled step runs again (its `upstream_failed`
    /// dependents return to pending); a step backing off retries now.
    fn retry(&mut self, i: usize, by: By) {
        if self.cancelling.is_some() {
            return;
        }
        match self.steps[i].phase {
            Phase::Backoff { .. } => {
                self.emit(Event::DagModified {
                    action: DagAction::Retry,
                    steps: vec![self.wf.steps[i].id.clone()],
                    by,
                });
                self.enqueue(i);
            }
            Phase::Done(Final::Failed { .. } | Final::Cancelled) => {
                let mut reset = vec![i];
                let mut k = 0;
                while k < reset.len() {
                    for &d in &self.dependents[reset[k]] {
                        if matches!(
                            self.steps[d].phase,
                            Phase::Done(Final::Skipped(SkipReason::UpstreamFailed))
                        ) && !reset.contains(&d)
                        {
                            reset.push(d);
                        }
                    }
                    k += 1;
                }
                let steps = reset.iter().map(|&r| self.wf.steps[r].id.clone()).collect();
                self.emit(Event::DagModified {
                    action: DagAction::Retry,
                    steps,
                    by,
                });
                for &r in &reset {
                    let rt = &mut self.steps[r];
                    rt.phase = Phase::Pending;
                    rt.attempts = 0;
                    rt.first_start = None;
                }
                if self.wf.steps[i].needs.iter().all(|&n| self.satisfied(n)) {
                    self.make_ready(i);
                }
            }
            _ => tracing::warn!(
                "step `{}` is neither failed nor backing off; retry ignored",
                self.wf.steps[i].id
            ),
        }
    }

    fn skip(&mut self, i: usize, by: By) {
        if matches!(self.steps[i].phase, Phase::Done(_)) {
            return;
        }
        self.emit(Event::DagModified {
            action: DagAction::Skip,
            steps: vec![self.wf.steps[i].id.clone()],
            by,
        });
        if let Phase::Running { stop, cancel, .. } = &mut self.steps[i].phase {
            *stop = Some(Stop::Skip);
            if let Some(c) = cancel.take() {
                let _ = c.send(());
            }
            return;
        }
        if let Phase::Waiting { wait, .. } = self.steps[i].phase {
            self.waits.remove(wait);
        }
        self.finish_step(i, Final::Skipped(SkipReason::Operator), |step| {
            Event::StepSkipped {
                step,
                reason: SkipReason::Operator,
                cause: "operator".into(),
            }
        });
    }

    /// Cancels one step: a running one is stopped and ends when its process
    /// does; any other ends now.
    pub(super) fn cancel_step(&mut self, i: usize, reason: &str) {
        match &mut self.steps[i].phase {
            Phase::Done(_) => {}
            Phase::Running { stop, cancel, .. } => {
                if stop.is_none() {
                    *stop = Some(Stop::Cancel(reason.to_string()));
                }
                if let Some(c) = cancel.take() {
                    let _ = c.send(());
                }
            }
            phase => {
                if let Phase::Waiting { wait, .. } = *phase {
                    self.waits.remove(wait);
                }
                let reason = reason.to_string();
                if self.cancelling.is_some() {
                    // The whole run stops: no dependents to move on.
                    self.steps[i].phase = Phase::Done(Final::Cancelled);
                    let step = self.wf.steps[i].id.clone();
                    self.emit(Event::StepCancelled { step, reason });
                } else {
                    self.finish_step(i, Final::Cancelled, |step| Event::StepCancelled {
                        step,
                        reason,
                    });
                }
            }
        }
    }
}
