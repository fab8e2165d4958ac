//! What the scheduler does when an attempt ends: the step's next move
//! (succeeded, retried, failed, its fallback), a breaker's verdict on its
//! service, and the step's duration.

use tokio::time::Instant;

use super::AttemptResult;
use crate::engine::event::{Event, SkipReason};
use crate::engine::policy::{self, Verdict};
use crate::engine::process::Exit;
use crate::engine::scheduler::{Msg, Scheduler, millis};
use crate::engine::state::{Final, Phase, Stop};
use crate::workflow::Action;

impl Scheduler {
    /// An attempt's process ended (or was stopped).
    pub(in crate::engine) fn attempt_ended(
        &mut self,
        i: usize,
        attempt: u32,
        result: AttemptResult,
    ) {
        // Only the attempt that runs now: a late word from an earlier one
        // leaves the step as it is.
        if !matches!(&self.steps[i].phase, Phase::Running { attempt: a, .. } if *a == attempt) {
            return;
        }
        let phase = std::mem::take(&mut self.steps[i].phase);
        let Phase::Running {
            stop,
            via_breaker,
            remote,
            ..
        } = phase
        else {
            self.steps[i].phase = phase;
            return;
        };
        self.running -= 1;
        if let Some(placed) = remote {
            self.remote -= 1;
            if placed.worker.is_none() {
                self.ready_remote.left(&placed.pool);
            }
        }
        self.group_stopped(i);
        let ok = matches!(result.exit, Ok(Exit::Code(0)));
        if via_breaker {
            let abandoned = stop.is_some() || result.lost;
            self.breaker_verdict(i, if abandoned { None } else { Some(ok) });
        }
        match stop {
            Some(Stop::Skip) => {
                self.finish_step(i, Final::Skipped(SkipReason::Operator), |step| {
                    Event::StepSkipped {
                        step,
                        reason: SkipReason::Operator,
                        cause: "operator".into(),
                    }
                });
            }
            Some(Stop::Cancel(reason)) => {
                let cause = self.steps[i].cancel_cause.take();
                self.finish_step(i, Final::Cancelled, |step| Event::StepCancelled {
                    step,
                    reason,
                    cause,
                })
            }
            Some(Stop::Rerun) => self.rerun_stopped(i),
            None if ok => {
                self.steps[i].outputs = result.outputs.clone();
                let duration_ms = self.elapsed_ms(i);
                self.finish_step(i, Final::Succeeded, |step| Event::StepSucceeded {
                    step,
                    attempt,
                    duration_ms,
                    outputs: result.outputs,
                    fallback: false,
                });
            }
            None => {
                let step = &self.wf.steps[i];
                let (error, code) = match result.exit {
                    Ok(Exit::Code(c)) => (format!("exit code {c}"), Some(c)),
                    Ok(Exit::Signal(s)) => (format!("killed by signal {s}"), None),
                    Ok(Exit::TimedOut) => (
                        format!(
                            "timed out after {}",
                            crate::workflow::duration::format(step.timeout.unwrap_or_default())
                        ),
                        None,
                    ),
                    Ok(Exit::Cancelled) => ("cancelled".to_string(), None),
                    Err(e) => (e, None),
                };
                self.attempt_failed(i, attempt, error, code);
            }
        }
    }

    fn breaker_verdict(&mut self, i: usize, ok: Option<bool>) {
        let Some(name) = self.wf.steps[i].breaker.clone() else {
            return;
        };
        let now = Instant::now().duration_since(self.started);
        let Some(b) = self.breakers.get_mut(&name) else {
            return;
        };
        let change = match ok {
            Some(true) => b.record_success(now),
            Some(false) => b.record_failure(now),
            None => {
                b.record_abandoned();
                None
            }
        };
        self.breaker_changed(&name, change);
    }

    pub(in crate::engine) fn elapsed_ms(&self, i: usize) -> u64 {
        self.steps[i].first_start.map_or(0, |t| millis(t.elapsed()))
    }

    /// Attempt `attempt` failed: retry, fall back or fail, as the policies say.
    pub(in crate::engine) fn attempt_failed(
        &mut self,
        i: usize,
        attempt: u32,
        error: String,
        exit_code: Option<i32>,
    ) {
        let may_retry =
            self.cancelling.is_none() && matches!(self.wf.steps[i].action, Action::Run(_));
        let verdict = policy::after_failure(&self.wf.steps[i], attempt, may_retry, &mut self.rng);
        match verdict {
            Verdict::RetryAfter(delay) => {
                self.emit(Event::StepRetrying {
                    step: self.wf.steps[i].id.clone(),
                    attempt,
                    error,
                    exit_code,
                    delay_ms: millis(delay),
                });
                self.steps[i].queued_seq = self.bus.seq();
                let token = self.next_token();
                let due = Instant::now() + delay;
                self.steps[i].phase = Phase::Backoff {
                    failed: attempt,
                    due,
                    token,
                };
                let tx = self.tx.clone();
                let slot = self.slots[i];
                tokio::spawn(async move {
                    tokio::time::sleep_until(due).await;
                    let _ = tx.send(Msg::RetryDue { step: slot, token });
                });
            }
            Verdict::Fallback(outputs) => {
                // The fallback's event has no error field: keep it here.
                tracing::info!(
                    step = %self.wf.steps[i].id,
                    attempt,
                    %error,
                    "last attempt failed; the fallback's outputs stand in"
                );
                self.steps[i].outputs = outputs.clone();
                let duration_ms = self.elapsed_ms(i);
                self.finish_step(i, Final::Succeeded, |step| Event::StepSucceeded {
                    step,
                    attempt,
                    duration_ms,
                    outputs,
                    fallback: true,
                });
            }
            Verdict::Fail { tolerated } => {
                self.finish_step(i, Final::Failed { tolerated }, |step| Event::StepFailed {
                    step,
                    attempts: attempt,
                    error,
                    exit_code,
                });
                // A failure `on_failure: continue` tolerates stops nothing.
                if !tolerated {
                    self.fail_fast(i);
                }
            }
            Verdict::Proceed | Verdict::Skip(_) | Verdict::FailFast(_) => {}
        }
    }
}
