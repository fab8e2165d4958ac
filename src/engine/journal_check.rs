//! Whether a journal is one this program could have written. The reader
//! (`journal.rs`) checks each line's shape and numbering; this checks what
//! the lines say, one event at a time: each step walks the states the
//! scheduler moves it through (ready, queued, running, backing off, a wait
//! opened and resolved, ended), each wait is requested once and resolved
//! once, and the run's segments (a start, then an end or a crash, then a
//! resumed start) follow each other. An event that cannot follow the ones
//! before it is refused with its line, so `resume` never acts on a state
//! its scheduler cannot be in (a "running" approval waits for a process
//! that does not exist), and `replay` and `runs` refuse the same journals.
//!
//! One pass, constant work per event, no look-ahead: it can sit behind a
//! streaming reader. It knows the workflow (step kinds, needs, policies),
//! not the scheduler's code: where the two meet, `resume.rs` is the model
//! of what a resumed run does with each state.

use std::borrow::Cow;

use super::edit::revision::RevisionSource;
use super::event::{Envelope, Event, RunStatus, SkipReason};
use crate::workflow::{Action, Workflow};

mod approvals;
mod edit;
mod matrix;
mod operator;
mod step;

use step::{End, St, Step, Stop};

/// Why one journal line cannot have been written by this program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct Impossible {
    /// 1-based line number (the event's seq).
    pub line: usize,
    pub reason: String,
}

/// Where the run's current segment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    /// Nothing read yet.
    Before,
    Live,
    Finished,
}

/// Feeds on a journal's events in order; see the module docs.
pub struct Checker<'w> {
    /// The revision in force: the run's file, then each edit's.
    wf: Cow<'w, Workflow>,
    /// Where an edit's revision is read from; none: an edit is refused.
    revisions: Option<RevisionSource>,
    /// The last revision an edit made (0: none yet).
    revision: u32,
    /// Each edit's workflow, in order, for a resume to rebuild the run with.
    pub loaded: Vec<Workflow>,
    /// The run folder's id, when known: every event must be of this run.
    run: Option<String>,
    steps: Vec<Step>,
    segment: Segment,
    /// A run-wide stop (cancel, run timeout) began in this segment: nothing
    /// new starts until the next `run_started`.
    cancelling: bool,
    /// The highest wait number requested so far; a new wait takes the next.
    max_wait: u64,
    /// The last event was a resumed `run_started` after a `run_finished`:
    /// a `dag_modified` retry now carries a finished run on (`retry`).
    reopened: bool,
    /// The last event was a resumed `run_started`: an edit now is one of a
    /// run no process drove, where a step stopped with the run counts.
    fresh: bool,
}

/// Checks a whole journal read into memory. `run` is the run folder's id.
pub fn check_all(wf: &Workflow, run: &str, events: &[Envelope]) -> Result<(), Impossible> {
    let mut checker = Checker::new(wf, Some(run));
    events.iter().try_for_each(|e| checker.check(e))
}

/// [`check_all`], each edit's revision read from `revisions` and checked:
/// the workflows of the edits, in order.
pub fn check_with_revisions(
    wf: &Workflow,
    run: &str,
    events: &[Envelope],
    revisions: RevisionSource,
) -> Result<Vec<Workflow>, Impossible> {
    let mut checker = Checker::new(wf, Some(run)).with_revisions(revisions);
    events.iter().try_for_each(|e| checker.check(e))?;
    Ok(checker.loaded)
}

/// What `resume`, `replay` and `runs` print for a refused journal.
pub fn describe(path: &std::path::Path, err: &Impossible) -> String {
    format!(
        "{}:{}: damaged journal line ({}); refusing to go on",
        path.display(),
        err.line,
        err.reason
    )
}

impl<'w> Checker<'w> {
    pub fn new(wf: &'w Workflow, run: Option<&str>) -> Checker<'w> {
        Checker {
            wf: Cow::Borrowed(wf),
            revisions: None,
            revision: 0,
            loaded: Vec::new(),
            run: run.filter(|r| !r.is_empty()).map(str::to_string),
            steps: wf.steps.iter().map(|_| Step::default()).collect(),
            segment: Segment::Before,
            cancelling: false,
            max_wait: 0,
            reopened: false,
            fresh: false,
        }
    }

    /// Reads an edit's revision from `revisions` (else an edit is refused).
    pub fn with_revisions(mut self, revisions: RevisionSource) -> Checker<'w> {
        self.revisions = Some(revisions);
        self
    }

    /// The next event; its seq is its line number (the reader checks that).
    pub fn check(&mut self, e: &Envelope) -> Result<(), Impossible> {
        let line = usize::try_from(e.seq).unwrap_or(usize::MAX);
        self.event(e).map_err(|reason| Impossible { line, reason })
    }

    fn event(&mut self, e: &Envelope) -> Result<(), String> {
        if let Some(run) = self.run.as_deref().filter(|r| *r != e.run) {
            return Err(format!(
                "an event of run `{}` in the folder of run `{run}`",
                e.run
            ));
        }
        if humantime::parse_rfc3339_weak(&e.ts).is_err() {
            return Err(format!("`{}` is not an RFC 3339 time", e.ts));
        }
        match (&e.event, self.segment) {
            (Event::RunStarted { .. }, _) => {}
            // A hook's end changes nothing, and the hooks on run_finished
            // end after it.
            (Event::HookFinished { hook, .. }, Segment::Live | Segment::Finished) => {
                return self.hook_finished(hook);
            }
            (_, Segment::Before) => {
                return Err("the journal does not begin with run_started".into());
            }
            (_, Segment::Finished) => {
                return Err(format!(
                    "{} after run_finished; only a resumed run_started may follow it",
                    kind(&e.event)
                ));
            }
            (_, Segment::Live) => {}
        }
        let reopened = std::mem::take(&mut self.reopened);
        let fresh = std::mem::take(&mut self.fresh);
        match &e.event {
            Event::RunStarted {
                workflow,
                steps,
                resumed,
            } => {
                self.reopened = self.segment == Segment::Finished;
                self.fresh = *resumed;
                self.run_started(workflow, *steps, *resumed)
            }
            Event::RunFinished { status, .. } => self.run_finished(*status),
            Event::BreakerChanged { breaker, .. } => match self.wf.breakers.contains_key(breaker) {
                true => Ok(()),
                false => Err(format!("breaker `{breaker}` is not in the run's workflow")),
            },
            Event::DagModified {
                action: super::event::DagAction::Retry,
                steps,
                ..
            } if reopened => self.finished_retry(steps),
            Event::DagModified {
                action: super::event::DagAction::Edit,
                steps,
                revision,
                sha256,
                diff,
                ..
            } => self.edit(*revision, sha256.as_deref(), diff.as_deref(), steps, fresh),
            Event::DagModified { action, steps, .. } => self.dag_modified(*action, steps),
            step_event => {
                let id = step_event.step().unwrap_or_default();
                let Some(i) = self.wf.step_index(id) else {
                    return Err(format!("step `{id}` is not in the run's workflow"));
                };
                self.step_event(i, step_event)
                    .map_err(|why| format!("{} for `{id}`: {why}", kind(step_event)))
            }
        }
    }

    fn hook_finished(&self, hook: &str) -> Result<(), String> {
        match self.wf.hooks.iter().any(|h| h.name == hook) {
            true => Ok(()),
            false => Err(format!("hook `{hook}` is not in the run's workflow")),
        }
    }

    fn run_started(&mut self, workflow: &str, steps: usize, resumed: bool) -> Result<(), String> {
        if workflow != self.wf.name || steps != self.wf.steps.len() {
            return Err(format!(
                "run_started of workflow `{workflow}` with {steps} steps; the run's workflow is `{}` with {}",
                self.wf.name,
                self.wf.steps.len()
            ));
        }
        // A run killed before its first whole event resumes with
        // `resumed: true` as its first line; any later start is a resume.
        if self.segment != Segment::Before && !resumed {
            return Err("run_started that is not a resume in the middle of the journal".into());
        }
        if self.segment != Segment::Before {
            for s in &mut self.steps {
                s.resume();
            }
        }
        self.segment = Segment::Live;
        self.cancelling = false;
        Ok(())
    }

    fn run_finished(&mut self, status: RunStatus) -> Result<(), String> {
        if let Some(i) = self.steps.iter().position(|s| !s.ended()) {
            return Err(format!(
                "run_finished while `{}` has not ended",
                self.wf.steps[i].id
            ));
        }
        let spoilt = self.cancelling
            || self.steps.iter().any(|s| {
                matches!(
                    s.st,
                    St::Done(End::Failed { tolerated: false } | End::Cancelled)
                )
            });
        if status == RunStatus::Succeeded && spoilt {
            return Err("run_finished `succeeded` after a step failed or was cancelled".into());
        }
        self.segment = Segment::Finished;
        Ok(())
    }

    /// An event about step `i`; the error says why it cannot follow.
    fn step_event(&mut self, i: usize, e: &Event) -> Result<(), String> {
        self.steps[i].stopped = false;
        if self.steps[i].stale {
            match e {
                Event::StepOutput { .. } => return Ok(()),
                Event::StepCancelled { reason, .. } if reason == super::edit::apply::RERUN => {
                    self.steps[i].stale = false;
                    return Ok(());
                }
                _ => {}
            }
        }
        let spec = &self.wf.steps[i];
        if self.steps[i].ended() {
            return Err(format!("it had already ended ({})", self.steps[i].word()));
        }
        let waits = !matches!(spec.action, Action::Run(_));
        let starts = matches!(
            e,
            Event::StepReady { .. }
                | Event::StepStarted { .. }
                | Event::StepRetrying { .. }
                | Event::ApprovalRequested { .. }
                | Event::QuestionAsked { .. }
        );
        if starts && self.cancelling {
            return Err("the run was stopping; nothing new starts".into());
        }
        let stopped = self.steps[i].stop.is_some();
        if stopped
            && matches!(
                e,
                Event::StepRetrying { .. } | Event::StepSucceeded { .. } | Event::StepFailed { .. }
            )
        {
            return Err("the operator had stopped it; it ends skipped or cancelled".into());
        }
        match e {
            Event::StepReady { .. } => self.ready(i),
            Event::StepStarted {
                attempt, worker, ..
            } if !waits => {
                self.steps[i].on_worker = worker.is_some();
                self.steps[i].start(*attempt, spec)
            }
            Event::StepOutput { .. } if !waits => match self.steps[i].st {
                St::Running(_) => Ok(()),
                _ => Err(format!("it was {}, not running", self.steps[i].word())),
            },
            Event::StepRetrying {
                attempt, delay_ms, ..
            } if !waits => self.steps[i].retrying(*attempt, *delay_ms, spec),
            Event::StepSucceeded {
                attempt, fallback, ..
            } => self.steps[i].succeeded(*attempt, *fallback, spec),
            Event::StepFailed { attempts, .. } => self.steps[i].failed(*attempts, spec),
            Event::StepSkipped { reason, cause, .. } => self.skipped(i, *reason, cause),
            Event::StepCancelled { reason, .. } if reason == super::matrix::FAIL_FAST => {
                self.fail_fast_cancel(i)
            }
            Event::StepCancelled { reason, .. } => {
                let run_wide = matches!(
                    reason.as_str(),
                    "run_cancelled" | "run_timeout" | "journal_error"
                );
                self.cancelling |= run_wide;
                self.steps[i].cancelled(reason, run_wide)
            }
            Event::ApprovalRequested {
                wait, timeout_ms, ..
            } => match &spec.action {
                Action::Approval(a) if *timeout_ms <= millis(a.timeout) => self.request(i, wait),
                Action::Approval(_) => Err(format!("timeout_ms {timeout_ms} beyond its timeout")),
                _ => Err(format!(
                    "{} step asks for no approval",
                    article(spec.action.kind())
                )),
            },
            Event::QuestionAsked {
                wait,
                choices,
                default,
                ..
            } => match &spec.action {
                Action::Ask(a) if a.choices == *choices && a.default == *default => {
                    self.request(i, wait)
                }
                Action::Ask(_) => Err("choices or default unlike the workflow's".into()),
                _ => Err(format!(
                    "{} step asks no question",
                    article(spec.action.kind())
                )),
            },
            Event::ApprovalResolved { wait, approved, .. } => match spec.action {
                Action::Approval(_) => self.steps[i].resolved(wait, *approved),
                _ => Err(format!(
                    "{} step asks for no approval",
                    article(spec.action.kind())
                )),
            },
            Event::ApprovalProgress {
                wait,
                user,
                approvals,
                needed,
                ..
            } => self.steps[i].progress(wait, user, (*approvals, *needed), spec),
            Event::QuestionAnswered { wait, answer, .. } => match &spec.action {
                Action::Ask(a) if !a.choices.is_empty() && !a.choices.contains(answer) => {
                    Err(format!("`{answer}` is not one of its choices"))
                }
                Action::Ask(_) if answer.contains('\0') => Err("an answer with a NUL byte".into()),
                Action::Ask(_) => self.steps[i].resolved(wait, true),
                _ => Err(format!(
                    "{} step asks no question",
                    article(spec.action.kind())
                )),
            },
            _ => Err(format!(
                "{} step never has one",
                article(spec.action.kind())
            )),
        }
    }

    fn ready(&mut self, i: usize) -> Result<(), String> {
        let spec = &self.wf.steps[i];
        let s = &self.steps[i];
        if s.st != St::Pending {
            return Err(format!("it was {}, not pending", s.word()));
        }
        // A step readied once before a resume is readied again without
        // looking at its needs: an operator's retry of a need may have
        // reset one since.
        if !s.readied {
            if let Some(&n) = spec.needs.iter().find(|&&n| !self.steps[n].ended()) {
                return Err(format!("its need `{}` had not ended", self.wf.steps[n].id));
            }
            if let Some(&n) = spec.needs.iter().find(|&&n| !self.satisfied(n)) {
                return Err(format!(
                    "its need `{}` did not succeed",
                    self.wf.steps[n].id
                ));
            }
        }
        let s = &mut self.steps[i];
        s.readied = true;
        s.st = match spec.action {
            Action::Run(_) => St::Queued(s.attempts + 1),
            _ => St::Opening,
        };
        Ok(())
    }

    fn skipped(&mut self, i: usize, reason: SkipReason, cause: &str) -> Result<(), String> {
        let spec = &self.wf.steps[i];
        let s = &self.steps[i];
        let ok = match reason {
            SkipReason::Condition => {
                spec.when.is_some() && (s.st == St::Opening || s.st == St::Queued(s.attempts + 1))
            }
            SkipReason::Operator => s.stop == Some(Stop::Skip),
            SkipReason::UpstreamFailed => {
                s.st == St::Pending
                    && spec.needs.iter().all(|&n| self.steps[n].ended())
                    && spec
                        .needs
                        .iter()
                        .any(|&n| !self.satisfied(n) && self.wf.steps[n].id == cause)
            }
            SkipReason::FailFast => self.fail_fast_skip(i, cause),
        };
        if !ok {
            return Err(format!("it was {}", s.word()));
        }
        self.steps[i].end(End::Skipped(reason));
        Ok(())
    }

    /// A fresh wait takes the next number; a re-opened one keeps its own.
    fn request(&mut self, i: usize, wait: &str) -> Result<(), String> {
        let n = wait_number(wait).ok_or_else(|| format!("`{wait}` is not a wait id"))?;
        let s = &mut self.steps[i];
        match s.st {
            St::Opening if n == self.max_wait + 1 => s.approved.clear(),
            St::Reopen(m) if m == n => {}
            St::Opening => {
                return Err(format!(
                    "wait `{wait}` where w{} was due",
                    self.max_wait + 1
                ));
            }
            St::Reopen(m) => return Err(format!("wait `{wait}` where w{m} was to re-open")),
            _ => return Err(format!("it was {}, not ready", s.word())),
        }
        s.st = St::Waiting(n);
        self.max_wait = self.max_wait.max(n);
        Ok(())
    }

    /// Whether an ended step lets its dependents run (as the scheduler's
    /// `satisfied` says).
    fn satisfied(&self, i: usize) -> bool {
        match self.steps[i].st {
            St::Done(End::Succeeded) => true,
            St::Done(End::Skipped(reason)) => {
                !matches!(reason, SkipReason::UpstreamFailed | SkipReason::FailFast)
            }
            St::Done(End::Failed { tolerated }) => tolerated,
            _ => false,
        }
    }
}

/// `w` and a positive number, as `waits::wait_name` writes it.
fn wait_number(wait: &str) -> Option<u64> {
    let digits = wait.strip_prefix('w')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return None;
    }
    digits.parse().ok()
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `a `run``, `an `approval``: the step kind as messages say it.
fn article(kind: &str) -> String {
    match kind {
        "approval" | "ask" => format!("an `{kind}`"),
        _ => format!("a `{kind}`"),
    }
}

/// The event's `type`, for messages.
fn kind(e: &Event) -> String {
    serde_json::to_value(e)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_else(|| "event".to_string())
}

#[cfg(test)]
mod tests;
