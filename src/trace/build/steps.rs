//! The events about one step, folded into its spans: its life, its
//! attempts and its waits.

use crate::engine::event::{Envelope, Event};
use crate::engine::trace_ctx;

use super::close::{Outcome, attempt_error};
use super::{Builder, Open, clamp, word};
use crate::trace::otlp::{self, KeyValue};

impl Builder<'_> {
    pub(super) fn step_event(&mut self, e: &Envelope, at: u128) {
        let Some(step) = e.event.step() else { return };
        let step = step.to_string();
        self.life(&step, e.seq, at);
        match &e.event {
            Event::StepStarted { attempt, .. } => {
                self.end_attempt(&step, self.prev, Outcome::Interrupted);
                let ctx = self.ctx;
                if let Some(life) = self.lives.get_mut(&step) {
                    life.attempts = *attempt;
                    life.attempt = Some(Open {
                        id: trace_ctx::attempt_span(ctx.trace, &ctx.run_id, e.seq),
                        parent: life.span.id,
                        rank: 2,
                        name: format!("ATTEMPT {step} {attempt}"),
                        kind: otlp::KIND_INTERNAL,
                        start: at,
                        attributes: vec![
                            KeyValue::str("cicd.pipeline.task.name", step.clone()),
                            KeyValue::int("signalbox.attempt", *attempt),
                        ],
                        events: Vec::new(),
                    });
                }
            }
            Event::StepRetrying {
                attempt,
                error,
                exit_code,
                delay_ms,
                ..
            } => {
                self.set_attempts(&step, *attempt);
                self.end_attempt(&step, at, attempt_error(error, *exit_code));
                if let Some(life) = self.lives.get_mut(&step) {
                    life.span.events.push(otlp::Event {
                        time_unix_nano: at.to_string(),
                        name: "retrying".into(),
                        attributes: vec![
                            KeyValue::int("signalbox.attempt", *attempt),
                            KeyValue::int("signalbox.delay_ms", clamp(*delay_ms)),
                        ],
                    });
                }
            }
            Event::StepSucceeded {
                attempt, fallback, ..
            } => {
                self.set_attempts(&step, *attempt);
                let outcome = match *fallback {
                    true => Outcome::FallbackApplied,
                    false => Outcome::Succeeded,
                };
                self.end_attempt(&step, at, outcome);
                self.end_life(&step, at, Outcome::StepSucceeded(*fallback));
            }
            Event::StepFailed {
                attempts,
                error,
                exit_code,
                ..
            } => {
                self.set_attempts(&step, *attempts);
                self.end_attempt(&step, at, attempt_error(error, *exit_code));
                self.end_life(&step, at, Outcome::StepFailed(error.clone()));
            }
            Event::StepSkipped { reason, cause, .. } => {
                self.end_life(&step, at, Outcome::Skipped(*reason, cause.clone()));
            }
            Event::StepCancelled { reason, .. } => {
                self.end_attempt(&step, at, Outcome::Cancelled(reason.clone()));
                self.end_life(&step, at, Outcome::StepCancelled(reason.clone()));
            }
            Event::ApprovalRequested { wait, .. } => {
                self.open_wait(&step, wait, "approval", (e.seq, at))
            }
            Event::QuestionAsked { wait, .. } => {
                self.open_wait(&step, wait, "question", (e.seq, at))
            }
            Event::ApprovalProgress {
                wait,
                by,
                approvals,
                needed,
                ..
            } => {
                if let Some(w) = self.waits.get_mut(wait) {
                    w.events.push(otlp::Event {
                        time_unix_nano: at.to_string(),
                        name: "approval_progress".into(),
                        attributes: vec![
                            KeyValue::str("signalbox.wait.by", word(by)),
                            KeyValue::int("signalbox.wait.approvals", *approvals),
                            KeyValue::int("signalbox.wait.needed", *needed),
                        ],
                    });
                }
            }
            Event::ApprovalResolved {
                wait,
                approved,
                by,
                user,
                ..
            } => self.end_wait(wait, at, Outcome::Approved(*approved, *by, user.clone())),
            Event::QuestionAnswered { wait, by, user, .. } => {
                self.end_wait(wait, at, Outcome::Answered(*by, user.clone()))
            }
            _ => {}
        }
    }
}
