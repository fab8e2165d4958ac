//! Applying an engine event to the model: the one way the steps, waits,
//! breakers, log and outcome change. Pure: no clock but the event's `ts`,
//! no terminal, no engine handle; the operator's side (`ui`) is untouched
//! except where a closed wait closes its dialog (in `update`).

use std::borrow::Cow;

use crate::engine::event::{BreakerState, DagAction, Stream};
use crate::engine::{Envelope, Event, RunStatus};

use super::log::{LogLine, Tone, clean};
use super::waits::{OpenWait, WaitKind};
use super::{Model, Status, parse_ts};

impl Model {
    /// Applies one event: the steps, waits, breakers, log and outcome.
    pub fn apply(&mut self, e: &Envelope) {
        let ts = parse_ts(&e.ts).unwrap_or(self.now_ms);
        self.set_now(ts);
        self.seq = e.seq;
        let step = e.event.step().and_then(|s| self.step_index(s));
        if let Some(text) = crate::headless::envelope_line(e) {
            self.log.push(LogLine {
                seq: e.seq,
                ts_ms: ts,
                step,
                tone: tone(&e.event),
                text: match clean(&text) {
                    Cow::Borrowed(_) => text,
                    Cow::Owned(clean) => clean,
                },
            });
        }
        if let Event::RunStarted { .. } = e.event {
            self.run.id = Some(e.run.clone());
        }
        match step {
            Some(i) => self.apply_step(i, &e.event, ts, e.seq),
            None => self.apply_run(&e.event, ts),
        }
    }

    fn apply_run(&mut self, event: &Event, ts: u64) {
        match event {
            // A resumed run is one run: its clock keeps counting from the
            // first start, and the outcome of the part before is no longer it.
            Event::RunStarted { .. } => {
                self.run.started_ms.get_or_insert(ts);
                // A resumed run's breakers stay as they were: resume
                // restores them from the journal, cooldowns and all.
                self.run.outcome = None;
            }
            Event::RunFinished {
                status,
                duration_ms,
            } => {
                self.run.outcome = Some((*status, *duration_ms));
                self.waits.clear();
                self.steps
                    .iter_mut()
                    .for_each(|s| s.wait_deadline_ms = None);
            }
            Event::BreakerChanged { breaker, state, .. } => {
                match state {
                    BreakerState::Closed => self.breakers.remove(breaker),
                    s => self.breakers.insert(breaker.clone(), *s),
                };
                // The engine opens a breaker for its cooldown from now,
                // whether its failures or an operator opened it.
                match (state, self.cooldowns.get(breaker)) {
                    (BreakerState::Open, Some(&ms)) => {
                        self.breaker_until.insert(breaker.clone(), ts + ms)
                    }
                    _ => self.breaker_until.remove(breaker),
                };
            }
            Event::DagModified {
                action: DagAction::Retry,
                steps,
                ..
            } => {
                for id in steps {
                    if let Some(i) = self.step_index(id) {
                        let s = &mut self.steps[i];
                        if let Status::Backoff { .. } = s.status {
                            s.status = Status::Ready;
                        } else {
                            s.status = Status::Pending;
                            s.attempt = 0;
                            s.first_start_ms = None;
                            s.end_ms = None;
                            s.duration_ms = None;
                            s.fallback = false;
                        }
                    }
                }
            }
            Event::DagModified {
                action: DagAction::Edit,
                revision,
                diff,
                ..
            } => self.apply_edit(*revision, diff.as_deref()),
            _ => {}
        }
    }

    fn apply_step(&mut self, i: usize, event: &Event, ts: u64, seq: u64) {
        let s = &mut self.steps[i];
        match event {
            Event::StepReady { .. } => s.status = Status::Ready,
            Event::StepStarted {
                attempt, worker, ..
            } => {
                s.status = Status::Running;
                s.worker = worker.clone();
                s.edited = false;
                s.attempt = *attempt;
                s.first_start_ms.get_or_insert(ts);
            }
            Event::StepRetrying {
                attempt,
                delay_ms,
                error,
                exit_code,
                ..
            } => {
                s.exit_code = *exit_code;
                s.error = Some(error.clone());
                s.status = Status::Backoff {
                    due_ms: ts + delay_ms,
                };
                s.attempt = *attempt;
            }
            Event::StepSucceeded {
                attempt,
                duration_ms,
                fallback,
                ..
            } => {
                s.attempt = *attempt;
                s.duration_ms = Some(*duration_ms);
                s.fallback = *fallback;
                self.end(i, Status::Succeeded, ts);
            }
            Event::StepFailed {
                attempts,
                error,
                exit_code,
                ..
            } => {
                s.attempt = *attempts;
                s.exit_code = *exit_code;
                s.error = Some(error.clone());
                self.end(i, Status::Failed, ts);
            }
            Event::StepSkipped { reason, .. } => {
                s.skip = Some(*reason);
                self.end(i, Status::Skipped, ts);
            }
            Event::StepCancelled { .. } => self.end(i, Status::Cancelled, ts),
            Event::ApprovalRequested { .. }
            | Event::QuestionAsked { .. }
            | Event::ApprovalResolved { .. }
            | Event::QuestionAnswered { .. } => self.apply_wait(i, event, (ts, seq)),
            Event::ApprovalProgress { wait, user, .. } => self.waits.approved(wait, user),
            _ => {}
        }
    }

    /// Waits opening and closing; `at` is the event's (ts, seq).
    fn apply_wait(&mut self, i: usize, event: &Event, at: (u64, u64)) {
        match event {
            Event::ApprovalRequested {
                wait,
                prompt,
                timeout_ms,
                ..
            } => {
                let mut w = self.new_wait(i, at, wait, prompt, at.0 + timeout_ms);
                // A resumed run opens the same wait again: who approved it
                // before still counts.
                if let Some(before) = self.waits.get(wait) {
                    w.approved = before.approved.clone();
                }
                self.open_wait(w);
            }
            Event::QuestionAsked {
                wait,
                question,
                choices,
                default,
                ..
            } => {
                let deadline = at.0 + self.steps[i].ask_timeout_ms;
                let w = OpenWait {
                    kind: WaitKind::Question,
                    needed: 1,
                    choices: choices.clone(),
                    default: default.clone(),
                    ..self.new_wait(i, at, wait, question, deadline)
                };
                self.open_wait(w);
            }
            _ => {
                self.waits.close(i);
                self.steps[i].wait_deadline_ms = None;
            }
        }
    }

    /// An approval of step `i` opened at `at` (ts, seq).
    fn new_wait(
        &self,
        i: usize,
        at: (u64, u64),
        wait: &str,
        prompt: &str,
        deadline_ms: u64,
    ) -> OpenWait {
        let s = &self.steps[i];
        OpenWait {
            step: i,
            step_id: s.id.clone(),
            wait: wait.to_string(),
            kind: WaitKind::Approval,
            prompt: clean(prompt).into_owned(),
            choices: Vec::new(),
            default: None,
            priority: s.priority,
            opened_ms: at.0,
            deadline_ms,
            seq: at.1,
            needed: s.approvers,
            approved: Vec::new(),
        }
    }

    fn open_wait(&mut self, w: OpenWait) {
        let s = &mut self.steps[w.step];
        s.status = Status::Waiting;
        s.edited = false;
        s.wait_deadline_ms = Some(w.deadline_ms);
        s.first_start_ms.get_or_insert(w.opened_ms);
        self.waits.open(w);
    }

    fn end(&mut self, i: usize, status: Status, ts: u64) {
        let s = &mut self.steps[i];
        s.status = status;
        s.end_ms = Some(ts);
        s.wait_deadline_ms = None;
        self.waits.close(i);
    }
}

fn tone(event: &Event) -> Tone {
    match event {
        // Only a stream kept apart is marked: merged output is all one.
        Event::StepOutput {
            stream: Stream::Stderr,
            ..
        } => Tone::Stderr,
        Event::StepOutput { .. } => Tone::Output,
        Event::StepSucceeded { .. } => Tone::Good,
        Event::StepFailed { .. } | Event::StepCancelled { .. } => Tone::Bad,
        Event::StepRetrying { .. } => Tone::Warn,
        Event::StepSkipped { .. } | Event::StepReady { .. } => Tone::Dim,
        Event::ApprovalRequested { .. }
        | Event::ApprovalResolved { .. }
        | Event::ApprovalProgress { .. }
        | Event::QuestionAsked { .. }
        | Event::QuestionAnswered { .. } => Tone::Ask,
        Event::BreakerChanged {
            state: BreakerState::Closed,
            ..
        } => Tone::Good,
        Event::BreakerChanged { .. } => Tone::Warn,
        Event::RunFinished {
            status: RunStatus::Succeeded,
            ..
        } => Tone::Good,
        Event::RunFinished { .. } => Tone::Bad,
        Event::RunStarted { .. } | Event::StepStarted { .. } | Event::DagModified { .. } => {
            Tone::Info
        }
        Event::HookFinished { error: Some(_), .. } => Tone::Warn,
        Event::HookFinished { .. } => Tone::Dim,
    }
}
