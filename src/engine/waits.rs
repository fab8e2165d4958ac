//! Approvals and questions. Opening a wait registers a oneshot in the table
//! before the event announces it; resolving sends on the oneshot, which
//! wakes the wait's task at once. Nothing checks for answers in a loop.
//! An entry leaves the table the moment the wait resolves, times out, is
//! skipped or cancelled, or the run stops.

use std::collections::HashMap;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::event::{By, Event};
use super::run::Preset;
use super::scheduler::{Msg, Scheduler, millis};
use super::state::{Final, Phase};
use crate::workflow::{Action, OnTimeout};

mod approvers;
pub use approvers::{flag_notes, progress_text};

/// How the operator (or a flag) resolved a wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Approved(By),
    Rejected(By),
    Answered(String, By),
}

#[derive(Debug)]
pub enum WaitOutcome {
    Resolved(Resolution),
    TimedOut,
}

/// Open waits by id: the sending half of each wait's oneshot.
#[derive(Debug, Default)]
pub struct WaitTable {
    open: HashMap<u64, oneshot::Sender<Resolution>>,
    next: u64,
}

impl WaitTable {
    pub fn register(&mut self) -> (u64, oneshot::Receiver<Resolution>) {
        self.next += 1;
        let (tx, rx) = oneshot::channel();
        self.open.insert(self.next, tx);
        (self.next, rx)
    }

    /// Continues numbering after the waits a resumed run already had.
    pub fn skip_to(&mut self, last: u64) {
        self.next = self.next.max(last);
    }

    /// Registers a wait under a number it already had (a resumed run).
    pub fn register_as(&mut self, wait: u64) -> oneshot::Receiver<Resolution> {
        let (tx, rx) = oneshot::channel();
        self.open.insert(wait, tx);
        rx
    }

    /// Wakes the wait; false if it is no longer open.
    pub fn resolve(&mut self, wait: u64, resolution: Resolution) -> bool {
        self.open
            .remove(&wait)
            .is_some_and(|tx| tx.send(resolution).is_ok())
    }

    /// Forgets a wait; its task ends without a word.
    pub fn remove(&mut self, wait: u64) {
        self.open.remove(&wait);
    }

    #[allow(dead_code)]
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

/// The wait id as events show it.
pub fn wait_name(wait: u64) -> String {
    format!("w{wait}")
}

impl Scheduler {
    /// Opens the approval or question of step `i`.
    pub(super) fn open_wait(&mut self, i: usize) {
        self.open_wait_as(i, None);
    }

    /// Re-opens a wait of a resumed run with the deadline it had.
    pub(super) fn reopen_wait(&mut self, i: usize, wait: u64, deadline: Instant, opened: Instant) {
        self.open_wait_as(i, Some((wait, deadline, opened)));
    }

    fn open_wait_as(&mut self, i: usize, known: Option<(u64, Instant, Instant)>) {
        let step = &self.wf.steps[i];
        let (timeout, event) = match &step.action {
            Action::Approval(a) => (a.timeout, None),
            Action::Ask(a) => (a.timeout, Some(a)),
            Action::Run(_) => return,
        };
        let now = Instant::now();
        let (wait, rx, deadline, opened) = match known {
            Some((wait, deadline, opened)) => {
                (wait, self.waits.register_as(wait), deadline, opened)
            }
            None => {
                let (wait, rx) = self.waits.register();
                (wait, rx, now + timeout, now)
            }
        };
        let timeout = deadline.saturating_duration_since(now);
        if known.is_none() {
            // A new wait counts its approvals afresh; a re-opened one keeps
            // those its journal restored.
            self.steps[i].approved.clear();
        }
        self.steps[i].waits_opened += 1;
        self.steps[i].first_start.get_or_insert(opened);
        self.steps[i].phase = Phase::Waiting {
            wait,
            opened,
            deadline,
        };
        let id = step.id.clone();
        let announce = match (&step.action, event) {
            (_, Some(a)) => Event::QuestionAsked {
                step: id.clone(),
                wait: wait_name(wait),
                question: self.render(&a.question),
                choices: a.choices.clone(),
                default: a.default.clone(),
            },
            (Action::Approval(a), None) => Event::ApprovalRequested {
                step: id.clone(),
                wait: wait_name(wait),
                prompt: self.render(&a.prompt),
                timeout_ms: millis(timeout),
            },
            _ => return,
        };
        self.emit(announce);
        let tx = self.tx.clone();
        let slot = self.slots[i];
        tokio::spawn(async move {
            let outcome = tokio::select! {
                // A resolution the owner handed over before the deadline
                // (it checks) wins over the timer, as it was told it would.
                biased;
                r = rx => match r {
                    Ok(resolution) => WaitOutcome::Resolved(resolution),
                    Err(_) => return,
                },
                () = tokio::time::sleep_until(deadline) => WaitOutcome::TimedOut,
            };
            let _ = tx.send(Msg::WaitDone {
                step: slot,
                wait,
                outcome,
            });
        });
        // A flag does not answer a re-opened wait whose deadline passed while
        // nothing ran: `resolve` refuses it, and the wait times out.
        if let Some(resolution) = self.preset(i)
            && let Err(refusal) = self.resolve(i, resolution)
        {
            tracing::warn!("flag not applied: {refusal}");
        }
    }

    /// What `--approve/--reject/--answer/--auto-approve` say of this wait.
    fn preset(&self, i: usize) -> Option<Resolution> {
        let step = &self.wf.steps[i];
        // A flag naming a matrix step answers each of its instances; one
        // naming the instance comes first.
        let group = (step.instance.as_ref()).and_then(|inst| self.wf.groups.get(inst.group));
        let preset = (self.options.presets.get(&step.id))
            .or_else(|| group.and_then(|g| self.options.presets.get(&g.id)));
        match (preset, &step.action) {
            (Some(Preset::Approve), _) => Some(Resolution::Approved(By::Flag)),
            (Some(Preset::Reject), _) => Some(Resolution::Rejected(By::Flag)),
            (Some(Preset::Answer(text)), _) => Some(Resolution::Answered(text.clone(), By::Flag)),
            (None, Action::Approval(_)) if self.options.auto_approve => {
                Some(Resolution::Approved(By::Flag))
            }
            (None, Action::Ask(a)) if self.options.auto_approve => {
                a.default.clone().map(|d| Resolution::Answered(d, By::Flag))
            }
            _ => None,
        }
    }

    /// A wait's task woke: resolved or timed out.
    pub(super) fn wait_done(&mut self, i: usize, wait: u64, outcome: WaitOutcome) {
        self.waits.remove(wait);
        // Taken whatever comes next: it belongs to this outcome or to none.
        let sender = self.resolved_by.remove(&i);
        self.steps[i].approved = Vec::new();
        let Phase::Waiting {
            wait: w, opened, ..
        } = self.steps[i].phase
        else {
            return;
        };
        if w != wait {
            return;
        }
        let waited_ms = millis(opened.elapsed());
        let step = self.wf.steps[i].id.clone();
        let name = wait_name(wait);
        match (&self.wf.steps[i].action, outcome) {
            (Action::Approval(a), outcome) => {
                let (approved, by) = match outcome {
                    WaitOutcome::Resolved(Resolution::Approved(by)) => (true, by),
                    // `resolve` lets no answer through to an approval.
                    WaitOutcome::Resolved(
                        Resolution::Rejected(by) | Resolution::Answered(_, by),
                    ) => (false, by),
                    WaitOutcome::TimedOut => (a.on_timeout == OnTimeout::Approve, By::Timeout),
                };
                let user = self.who(sender, by);
                self.emit(Event::ApprovalResolved {
                    step,
                    wait: name,
                    approved,
                    by,
                    user,
                    waited_ms,
                });
                if approved {
                    self.wait_succeeded(i, None);
                } else {
                    self.attempt_failed(i, 1, "rejected".into(), None);
                }
            }
            (Action::Ask(a), outcome) => {
                let rejected = matches!(outcome, WaitOutcome::Resolved(Resolution::Rejected(_)));
                let answer = match outcome {
                    WaitOutcome::Resolved(Resolution::Answered(text, by)) => Some((text, by)),
                    WaitOutcome::Resolved(Resolution::Approved(by)) => {
                        a.default.clone().map(|d| (d, by))
                    }
                    WaitOutcome::Resolved(Resolution::Rejected(_)) => None,
                    WaitOutcome::TimedOut => a.default.clone().map(|d| (d, By::Timeout)),
                };
                match answer {
                    Some((answer, by)) => {
                        let user = self.who(sender, by);
                        self.emit(Event::QuestionAnswered {
                            step,
                            wait: name,
                            answer: answer.clone(),
                            by,
                            user,
                            waited_ms,
                        });
                        self.wait_succeeded(i, Some(answer));
                    }
                    None if rejected => self.attempt_failed(i, 1, "rejected".into(), None),
                    None => self.attempt_failed(i, 1, "no answer before the timeout".into(), None),
                }
            }
            (Action::Run(_), _) => {}
        }
    }

    /// Ends a step whose wait was resolved in the journal before a crash
    /// stopped the run: the resolution stands, nothing is asked again.
    pub(super) fn apply_journaled(&mut self, i: usize, resolution: Resolution) {
        match resolution {
            Resolution::Approved(_) if matches!(self.wf.steps[i].action, Action::Approval(_)) => {
                self.wait_succeeded(i, None)
            }
            Resolution::Answered(answer, _) => self.wait_succeeded(i, Some(answer)),
            _ => self.attempt_failed(i, 1, "rejected".into(), None),
        }
    }

    fn wait_succeeded(&mut self, i: usize, answer: Option<String>) {
        let mut outputs = std::collections::BTreeMap::new();
        if let Some(a) = &answer {
            outputs.insert("answer".to_string(), a.clone());
        }
        self.steps[i].answer = answer;
        self.steps[i].outputs = outputs.clone();
        let duration_ms = self.elapsed_ms(i);
        self.finish_step(i, Final::Succeeded, |step| {
            super::event::Event::StepSucceeded {
                step,
                attempt: 1,
                duration_ms,
                outputs,
                fallback: false,
            }
        });
    }
}
