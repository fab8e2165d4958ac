//! Commands from the operator: resolve waits, and retry, skip or cancel
//! steps (each of the last three journaled as `dag_modified` first); a
//! breaker's reset or open goes on to `breaker_ctl`.

use tokio::time::Instant;

use super::edit::Plan;
use super::event::{
    By, Command, DagAction, Event, Refusal, RunStatus, SkipReason, check_answer, match_choice,
};
use super::scheduler::Scheduler;
use super::state::{Final, Phase, Stop};
use super::waits::Resolution;
use crate::workflow::Action;
use crate::workflow::diag::did_you_mean;

impl Scheduler {
    /// Applies an operator's command, or says why it cannot.
    /// An edit's reply carries its plan.
    pub(super) fn command(&mut self, c: Command) -> Result<Option<Box<Plan>>, Refusal> {
        // A matrix step's own id stands for its instances.
        let c = match self.group_command(c) {
            Ok(done) => return done.map(|()| None),
            Err(c) => c,
        };
        let done = match c {
            Command::Edit(ask) => return self.edit(ask).map(Some),
            Command::Approve { step, by } => {
                let i = self.step_named(&step)?;
                self.resolve(i, Resolution::Approved(by))
            }
            Command::Reject { step, by } => {
                let i = self.step_named(&step)?;
                self.resolve(i, Resolution::Rejected(by))
            }
            Command::Answer { step, text, by } => {
                let i = self.step_named(&step)?;
                check_answer(&step, &text)?;
                self.resolve(i, Resolution::Answered(text, by))
            }
            Command::Retry { step, by } => {
                let i = self.step_named(&step)?;
                self.retry(i, by)
            }
            Command::Skip { step, by } => {
                let i = self.step_named(&step)?;
                self.skip(i, by)
            }
            Command::Cancel {
                step: Some(step),
                by,
            } => {
                let i = self.step_named(&step)?;
                self.cancel_one(i, by)
            }
            Command::Cancel { step: None, .. } => {
                self.cancel_run(RunStatus::Cancelled, "run_cancelled");
                Ok(())
            }
            Command::Breaker {
                breaker,
                action,
                by,
            } => self.breaker_command(&breaker, action, by),
        };
        done.map(|()| None)
    }

    fn step_named(&self, id: &str) -> Result<usize, Refusal> {
        self.wf.step_index(id).ok_or_else(|| Refusal::UnknownStep {
            step: id.to_string(),
            workflow: self.wf.name.clone(),
            // Over instance ids too: `build:x86` for `build:x68`.
            hint: did_you_mean(
                id,
                (self.wf.steps.iter().map(|s| s.id.as_str()))
                    .chain(self.wf.groups.iter().map(|g| g.id.as_str())),
            ),
        })
    }

    /// The operator's `dag_modified` for `steps`, with who acted.
    fn journal_operator(&mut self, action: DagAction, steps: Vec<String>, by: By) {
        let user = self.who(self.acting.clone(), by);
        self.emit(Event::DagModified {
            action,
            steps,
            by,
            user,
            revision: None,
            sha256: None,
            diff: None,
        });
    }

    /// An operator's cancel of one step, journaled first.
    pub(super) fn cancel_one(&mut self, i: usize, by: By) -> Result<(), Refusal> {
        self.not_ended(i)?;
        self.journal_operator(DagAction::Cancel, vec![self.wf.steps[i].id.clone()], by);
        self.cancel_step(i, "operator");
        Ok(())
    }

    fn not_ended(&self, i: usize) -> Result<(), Refusal> {
        match &self.steps[i].phase {
            phase @ Phase::Done(_) => Err(Refusal::Ended {
                step: self.wf.steps[i].id.clone(),
                status: phase.status_name(),
            }),
            _ => Ok(()),
        }
    }

    /// Resolves the open wait of step `i`, if the resolution fits it: an
    /// approval takes approve or reject, not an answer; an answer must be
    /// one of the choices; a question is answered, never approved (SPEC
    /// §4: its default may be a "no").
    pub(super) fn resolve(&mut self, i: usize, resolution: Resolution) -> Result<(), Refusal> {
        let spec = &self.wf.steps[i];
        let step = || spec.id.clone();
        let phase = &self.steps[i].phase;
        let Phase::Waiting { wait, deadline, .. } = *phase else {
            return Err(match spec.action {
                Action::Run(_) => Refusal::NotAWait { step: step() },
                _ => Refusal::NotOpen {
                    step: step(),
                    status: phase.status_name(),
                },
            });
        };
        match (&spec.action, &resolution) {
            (Action::Approval(_), Resolution::Answered(..)) => {
                return Err(Refusal::AnswerToApproval { step: step() });
            }
            (Action::Ask(a), Resolution::Approved(_)) => {
                return Err(Refusal::ApproveQuestion {
                    step: step(),
                    choices: a.choices.clone(),
                });
            }
            _ => {}
        }
        // An answer to a question with choices is journaled as the choice
        // is spelled, whatever its case and surrounding spaces.
        let resolution = match (&spec.action, resolution) {
            (Action::Ask(a), Resolution::Answered(text, by)) if !a.choices.is_empty() => {
                match match_choice(&a.choices, &text) {
                    Some(choice) => Resolution::Answered(choice.to_string(), by),
                    None => {
                        return Err(Refusal::NotAChoice {
                            step: step(),
                            answer: text,
                            choices: a.choices.clone(),
                        });
                    }
                }
            }
            (_, resolution) => resolution,
        };
        // Its timer has fired, or is about to: the timeout decides.
        if Instant::now() >= deadline {
            return Err(Refusal::TimedOut { step: step() });
        }
        // Four eyes: an approval short of `approvers` is progress, and the
        // wait stays open for the next.
        if let Resolution::Approved(by) = resolution
            && self.count_approval(i, wait, by)?
        {
            return Ok(());
        }
        if self.waits.resolve(wait, resolution) {
            if let Some(user) = self.acting.clone() {
                self.resolved_by.insert(i, user);
            }
            Ok(())
        } else {
            Err(Refusal::AlreadyResolved {
                step: self.wf.steps[i].id.clone(),
            })
        }
    }

    /// A failed or cancelled step runs again, and its `upstream_failed` and
    /// cancelled dependents return to pending (as a finished run's retry
    /// does: journaled first, then the others in file order); a step
    /// backing off retries now.
    pub(super) fn retry(&mut self, i: usize, by: By) -> Result<(), Refusal> {
        if self.cancelling.is_some() {
            return Err(Refusal::Stopping);
        }
        match self.steps[i].phase {
            Phase::Backoff { .. } => {
                self.journal_operator(DagAction::Retry, vec![self.wf.steps[i].id.clone()], by);
                self.enqueue(i);
                Ok(())
            }
            Phase::Done(Final::Failed { .. } | Final::Cancelled) => {
                // What `signalbox retry` of a finished run resets: the
                // dependents skipped for it or cancelled, through the graph.
                // With it, the siblings its `fail_fast` stopped.
                let named: Vec<usize> =
                    std::iter::once(i).chain(self.stopped_siblings(i)).collect();
                let mut marked = vec![false; self.steps.len()];
                self.reset_with_dependents(&named, &[], false, &mut marked);
                let reset: Vec<usize> = std::iter::once(i)
                    .chain((0..marked.len()).filter(|&r| marked[r] && r != i))
                    .collect();
                let steps = reset.iter().map(|&r| self.wf.steps[r].id.clone()).collect();
                self.journal_operator(DagAction::Retry, steps, by);
                for &r in &reset {
                    let rt = &mut self.steps[r];
                    rt.phase = Phase::Pending;
                    rt.attempts = 0;
                    rt.first_start = None;
                }
                if self.wf.steps[i].needs.iter().all(|&n| self.satisfied(n)) {
                    self.make_ready(i);
                }
                // The siblings reset with it need nothing of it.
                for &r in &named[1..] {
                    if self.move_on(r) {
                        self.move_dependents_on(r);
                    }
                }
                Ok(())
            }
            ref phase => Err(Refusal::NotRetryable {
                step: self.wf.steps[i].id.clone(),
                status: phase.status_name(),
            }),
        }
    }

    pub(super) fn skip(&mut self, i: usize, by: By) -> Result<(), Refusal> {
        self.not_ended(i)?;
        self.journal_operator(DagAction::Skip, vec![self.wf.steps[i].id.clone()], by);
        if let Phase::Running { stop, cancel, .. } = &mut self.steps[i].phase {
            *stop = Some(Stop::Skip);
            if let Some(c) = cancel.take() {
                let _ = c.send(());
            }
            return Ok(());
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
        Ok(())
    }

    /// Cancels one step: a running one is stopped and ends when its process
    /// does; any other ends now.
    pub(super) fn cancel_step(&mut self, i: usize, reason: &str) {
        match &mut self.steps[i].phase {
            Phase::Done(_) => {}
            Phase::Running { stop, cancel, .. } => {
                if stop.is_none() || *stop == Some(Stop::Rerun) {
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
                let cause = self.steps[i].cancel_cause.take();
                if self.cancelling.is_some() {
                    // The whole run stops: no dependents to move on.
                    self.steps[i].phase = Phase::Done(Final::Cancelled);
                    let step = self.wf.steps[i].id.clone();
                    self.emit(Event::StepCancelled {
                        step,
                        reason,
                        cause,
                    });
                } else {
                    self.finish_step(i, Final::Cancelled, |step| Event::StepCancelled {
                        step,
                        reason,
                        cause,
                    });
                }
            }
        }
    }
}
