//! The fold: a run's events, one at a time, into the metrics' values. It
//! starts from the run's workflow (every step pending, every breaker
//! closed) and knows of each step only what its events said: its status,
//! whether an attempt is under way and since when, and whether a wait is
//! open. It never looks at a clock, so the same events give the same
//! values, whenever and however often they are folded.

use std::collections::HashMap;
use std::time::SystemTime;

use super::exposition::{Metrics, Outcome, STATUSES, Status};
use crate::engine::By;
use crate::engine::event::{BreakerState, DagAction, Envelope, Event};
use crate::workflow::{Action, Workflow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A `run` step: its ends are attempts.
    Run,
    /// An approval or a question: no attempts.
    Wait,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitKind {
    Approval = 0,
    Question = 1,
}

#[derive(Debug)]
struct Step {
    status: Status,
    kind: Kind,
    /// When the attempt under way began (its `step_started`).
    started: Option<SystemTime>,
    /// The wait open for it, if any.
    wait: Option<WaitKind>,
}

/// How an attempt ended, as its end event says.
enum End<'a> {
    Succeeded,
    /// Its step failed, or is retried, with this error.
    Error(&'a str),
    /// The step succeeded with its fallback: the attempt did not.
    Fallback,
}

/// The metrics of one run, moved by its events.
#[derive(Debug)]
pub struct Fold {
    m: Metrics,
    /// Each step's place in `list`.
    index: HashMap<String, usize>,
    /// The steps; one an edit removed stays here, out of `index`.
    list: Vec<Step>,
    /// The last seq folded.
    seq: u64,
}

impl Fold {
    /// Starts from `wf`: every step pending, every breaker closed.
    pub fn new(wf: &Workflow, m: Metrics) -> Fold {
        let mut fold = Fold {
            m,
            index: HashMap::with_capacity(wf.steps.len()),
            list: Vec::with_capacity(wf.steps.len()),
            seq: 0,
        };
        for s in &wf.steps {
            let kind = match s.action {
                Action::Run(_) => Kind::Run,
                Action::Approval(_) | Action::Ask(_) => Kind::Wait,
            };
            fold.add(&s.id, kind);
        }
        for name in wf.breakers.keys() {
            fold.m.breaker(name, "closed");
        }
        fold
    }

    /// Folds one event. One already folded (a seq not past the last) is
    /// ignored, so the journal and a subscription may overlap.
    pub fn apply(&mut self, e: &Envelope) {
        if e.seq <= self.seq {
            return;
        }
        self.m.events.inc_by(e.seq - self.seq);
        self.seq = e.seq;
        let ts = || humantime::parse_rfc3339_weak(&e.ts).ok();
        match &e.event {
            Event::RunStarted { .. } | Event::StepOutput { .. } => {}
            Event::ApprovalProgress { .. } => {}
            Event::RunFinished { .. } => {
                for i in 0..self.list.len() {
                    self.close_wait_at(i);
                }
            }
            Event::StepReady { step } => self.set(step, Status::Ready),
            Event::StepStarted { step, .. } => {
                self.step(step).started = ts();
                self.set(step, Status::Running);
            }
            Event::StepRetrying { step, error, .. } => {
                self.end_attempt(step, End::Error(error), ts());
                self.m.retries.inc();
                self.set(step, Status::Retrying);
            }
            Event::StepSucceeded { step, fallback, .. } => {
                let end = if *fallback {
                    End::Fallback
                } else {
                    End::Succeeded
                };
                self.end_attempt(step, end, ts());
                self.finish(step, Status::Succeeded);
            }
            Event::StepFailed { step, error, .. } => {
                self.end_attempt(step, End::Error(error), ts());
                self.finish(step, Status::Failed);
            }
            Event::StepSkipped { step, .. } => self.finish(step, Status::Skipped),
            Event::StepCancelled { step, .. } => self.finish(step, Status::Cancelled),
            Event::ApprovalRequested { step, .. } => self.open_wait(step, WaitKind::Approval),
            Event::QuestionAsked { step, .. } => self.open_wait(step, WaitKind::Question),
            Event::ApprovalResolved {
                step,
                by,
                waited_ms,
                ..
            } => self.resolved(step, WaitKind::Approval, *by, *waited_ms),
            Event::QuestionAnswered {
                step,
                by,
                waited_ms,
                ..
            } => self.resolved(step, WaitKind::Question, *by, *waited_ms),
            Event::BreakerChanged { breaker, state, .. } => {
                let word = match state {
                    BreakerState::Closed => "closed",
                    BreakerState::Open => "open",
                    BreakerState::HalfOpen => "half_open",
                };
                self.m.breaker(breaker, word);
            }
            Event::DagModified {
                action,
                steps,
                diff,
                ..
            } => match action {
                DagAction::Retry => {
                    for id in steps {
                        self.again(id);
                    }
                }
                DagAction::Edit => {
                    let Some(d) = diff else { return };
                    for id in &d.removed {
                        self.remove(id);
                    }
                    for id in d.added.iter().chain(&d.rerun) {
                        self.again(id);
                    }
                }
                // Their step events say what became of the steps.
                DagAction::Skip | DagAction::Cancel => {}
            },
            Event::HookFinished { error, .. } => {
                let i = match error.as_deref() {
                    None => 0,
                    Some(e) if e.starts_with("timed out") => 1,
                    Some(_) => 2,
                };
                if let Some(c) = self.m.hooks.get(i) {
                    c.inc();
                }
            }
        }
    }

    /// The step `id`, made (pending, a `run` step) if the workflow had no
    /// such step: one an edit brought in.
    fn step(&mut self, id: &str) -> &mut Step {
        let i = match self.index.get(id) {
            Some(&i) => i,
            None => self.add(id, Kind::Run),
        };
        &mut self.list[i]
    }

    /// A new pending step; its place in `list`.
    fn add(&mut self, id: &str, kind: Kind) -> usize {
        gauge(&self.m, Status::Pending).inc();
        self.list.push(Step {
            status: Status::Pending,
            kind,
            started: None,
            wait: None,
        });
        let i = self.list.len() - 1;
        self.index.insert(id.to_string(), i);
        i
    }

    fn set(&mut self, id: &str, status: Status) {
        let old = std::mem::replace(&mut self.step(id).status, status);
        if old != status {
            gauge(&self.m, old).dec();
            gauge(&self.m, status).inc();
        }
    }

    /// The step ended as `status`: whatever was under way for it is over.
    fn finish(&mut self, id: &str, status: Status) {
        self.step(id).started = None;
        self.close_wait(id);
        self.set(id, status);
        let i = match status {
            Status::Succeeded => 0,
            Status::Failed => 1,
            Status::Skipped => 2,
            _ => 3,
        };
        if let Some(c) = self.m.finished.get(i) {
            c.inc();
        }
    }

    /// Back to pending: retried, or run again after an edit (or brought in
    /// by one).
    fn again(&mut self, id: &str) {
        self.step(id).started = None;
        self.close_wait(id);
        self.set(id, Status::Pending);
    }

    fn remove(&mut self, id: &str) {
        if let Some(i) = self.index.remove(id) {
            self.close_wait_at(i);
            gauge(&self.m, self.list[i].status).dec();
        }
    }

    fn open_wait(&mut self, id: &str, kind: WaitKind) {
        let s = self.step(id);
        s.kind = Kind::Wait;
        // A resumed run asks a wait again that it had asked: still one.
        if s.wait.replace(kind).is_none()
            && let Some(g) = self.m.waits_open.get(kind as usize)
        {
            g.inc();
        }
        self.set(id, Status::Waiting);
    }

    fn close_wait(&mut self, id: &str) {
        if let Some(&i) = self.index.get(id) {
            self.close_wait_at(i);
        }
    }

    fn close_wait_at(&mut self, i: usize) {
        if let Some(kind) = self.list.get_mut(i).and_then(|s| s.wait.take())
            && let Some(g) = self.m.waits_open.get(kind as usize)
        {
            g.dec();
        }
    }

    fn resolved(&mut self, id: &str, kind: WaitKind, by: By, waited_ms: u64) {
        self.close_wait(id);
        let by = match by {
            By::Keyboard => 0,
            By::Socket => 1,
            By::Flag => 2,
            By::Prompt => 3,
            By::Timeout => 4,
        };
        if let Some(h) = (self.m.wait_duration.get(kind as usize)).and_then(|k| k.get(by)) {
            h.observe(waited_ms as f64 / 1000.0);
        }
    }

    /// The attempt under way for `id` ended as `end` at `at`. An attempt
    /// refused by an open breaker never started; one cancelled is not
    /// counted, nor the end of a wait step.
    fn end_attempt(&mut self, id: &str, end: End<'_>, at: Option<SystemTime>) {
        let s = self.step(id);
        let started = s.started.take();
        if s.kind != Kind::Run {
            return;
        }
        let outcome = match (end, started.is_some()) {
            (End::Succeeded, true) => Outcome::Succeeded,
            (End::Fallback, true) => Outcome::Failed,
            (End::Fallback, false) => Outcome::Refused,
            (End::Error(e), _) if e.starts_with("breaker ") && e.ends_with(" is open") => {
                Outcome::Refused
            }
            (End::Error(e), true) if e.starts_with("timed out") => Outcome::TimedOut,
            (End::Error("cancelled"), _) => return,
            (End::Error(_), true) => Outcome::Failed,
            // No attempt of it was under way.
            (End::Succeeded | End::Error(_), false) => return,
        };
        let i = match outcome {
            Outcome::Succeeded => 0,
            Outcome::Failed => 1,
            Outcome::TimedOut => 2,
            Outcome::Refused => 3,
        };
        if let Some(c) = self.m.attempts.get(i) {
            c.inc();
        }
        if let (Some(t0), Some(t1)) = (started, at) {
            let took = t1.duration_since(t0).unwrap_or_default();
            self.m.attempt_duration.observe(took.as_secs_f64());
        }
    }
}

fn gauge(m: &Metrics, status: Status) -> &prometheus_client::metrics::gauge::Gauge {
    let i = STATUSES.iter().position(|(s, _)| *s == status).unwrap_or(0);
    &m.steps[i]
}

#[cfg(test)]
mod tests;
