//! Resuming a run: rebuild each step's state from the journal, then go on.
//!
//! A step whose end is journaled never runs again. A step that was running
//! runs again, after any survivor of its process group is killed. A step
//! backing off retries when its delay is up. A wait that was open re-opens
//! with the time it had left: its deadline is a point in time, so one that
//! passed while nothing ran times out at once. The breakers come back as
//! the journal left them (`breaker_resume.rs`).

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::event::{DagAction, Envelope, Event};
use super::scheduler::{Msg, Scheduler};
use super::state::{Final, Phase};
use crate::workflow::{Action, OnFailure};

/// What the journal says of one step that has not ended.
#[derive(Debug, Clone, Default)]
pub(super) struct Open {
    pub readied: bool,
    pub running: Option<u32>,
    /// Attempt that failed and when the next is due.
    pub backoff: Option<(u32, SystemTime)>,
    /// Wait number, deadline, and when it first opened.
    pub wait: Option<(u64, SystemTime, SystemTime)>,
    /// Who approved that wait so far (`approval_progress`): still counted.
    pub approved: Vec<String>,
    /// A wait resolved in the journal whose step had not ended: applied, so
    /// it is never asked again.
    pub resolved: Option<super::waits::Resolution>,
    /// Its last word is a stop with the whole run (a cancel, the run's
    /// timeout): a resume picks it up, a retry starts it over.
    pub stopped: bool,
    /// The worker its running attempt started on (SPEC §7), and the output
    /// lines journaled since.
    pub worker: Option<String>,
    pub lines: u64,
    /// When the step's first attempt of this life started: an adopted
    /// step's `duration_ms` counts from there, not from the adoption.
    pub first_started: Option<SystemTime>,
}

/// Reasons a run-wide stop gives its steps: these did not end by themselves.
fn run_wide(reason: &str) -> bool {
    matches!(reason, "run_cancelled" | "run_timeout" | "journal_error")
}

/// When an event was journaled. A time after now (a clock set back since)
/// counts as now, so no deadline lies further ahead than its own length.
pub(super) fn at(e: &Envelope) -> SystemTime {
    let now = SystemTime::now();
    humantime::parse_rfc3339_weak(&e.ts).map_or(now, |t| t.min(now))
}

/// A `SystemTime` deadline as a tokio instant: what is left of it from now.
pub(super) fn instant_of(t: SystemTime) -> Instant {
    let left = t
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Instant::now() + left
}

impl Scheduler {
    /// Replays the journal into step states; returns what each open step
    /// was doing. `revisions`: the workflow of each journaled edit, in
    /// order (as the journal check read them), switched to where it was.
    pub(super) fn restore(
        &mut self,
        events: &[Envelope],
        revisions: Vec<crate::workflow::Workflow>,
    ) -> Vec<Open> {
        self.began = events.first().map(at);
        let mut open = vec![Open::default(); self.steps.len()];
        let mut max_wait = 0;
        let mut revisions = revisions.into_iter();
        let mut fresh = false;
        for e in events {
            let was_fresh = std::mem::replace(
                &mut fresh,
                matches!(e.event, Event::RunStarted { resumed: true, .. }),
            );
            if let Event::DagModified {
                action: DagAction::Edit,
                revision: Some(n),
                diff: Some(diff),
                ..
            } = &e.event
            {
                if let Some(wf) = revisions.next() {
                    self.switch_to(wf, &mut open);
                    self.restart_edited(diff, &mut open, false, was_fresh);
                    self.revision = *n;
                }
                continue;
            }
            if let Event::DagModified {
                action: DagAction::Retry,
                steps,
                ..
            } = &e.event
            {
                let retried: Vec<usize> =
                    steps.iter().filter_map(|s| self.wf.step_index(s)).collect();
                for i in retried {
                    self.retried(i, &mut open[i]);
                }
                continue;
            }
            let Some(i) = e.event.step().and_then(|s| self.wf.step_index(s)) else {
                continue;
            };
            let o = &mut open[i];
            let rt = &mut self.steps[i];
            o.stopped = false;
            match &e.event {
                Event::StepReady { .. } => {
                    o.readied = true;
                    rt.queued_seq = e.seq;
                }
                Event::StepStarted {
                    attempt, worker, ..
                } => {
                    o.running = Some(*attempt);
                    o.backoff = None;
                    o.worker = worker.clone();
                    o.lines = 0;
                    o.first_started.get_or_insert(at(e));
                    rt.attempts = *attempt;
                }
                Event::StepOutput { .. } => o.lines += 1,
                Event::StepRetrying {
                    attempt, delay_ms, ..
                } => {
                    rt.queued_seq = e.seq;
                    o.running = None;
                    o.backoff = Some((*attempt, at(e) + Duration::from_millis(*delay_ms)));
                    rt.attempts = *attempt;
                }
                Event::ApprovalRequested {
                    wait, timeout_ms, ..
                } => {
                    let n = wait_number(wait);
                    max_wait = max_wait.max(n);
                    o.resolved = None;
                    if o.wait.is_none_or(|(m, ..)| m != n) {
                        o.approved.clear();
                    }
                    let opened = first_opened(o, n, at(e));
                    o.wait = Some((n, at(e) + Duration::from_millis(*timeout_ms), opened));
                }
                Event::QuestionAsked { wait, .. } => {
                    let n = wait_number(wait);
                    max_wait = max_wait.max(n);
                    let timeout = match &self.wf.steps[i].action {
                        Action::Ask(a) => a.timeout,
                        _ => Duration::ZERO,
                    };
                    o.resolved = None;
                    let opened = first_opened(o, n, at(e));
                    o.wait = Some((n, at(e) + timeout, opened));
                }
                Event::QuestionAnswered { answer, by, .. } => {
                    rt.answer = Some(answer.clone());
                    o.resolved = Some(super::waits::Resolution::Answered(answer.clone(), *by));
                }
                Event::ApprovalProgress { user, .. } => o.approved.push(user.clone()),
                Event::ApprovalResolved { approved, by, .. } => {
                    o.resolved = Some(if *approved {
                        super::waits::Resolution::Approved(*by)
                    } else {
                        super::waits::Resolution::Rejected(*by)
                    });
                }
                Event::StepSucceeded { outputs, .. } => {
                    rt.outputs = outputs.clone();
                    rt.phase = Phase::Done(Final::Succeeded);
                }
                Event::StepFailed { .. } => {
                    let tolerated = self.wf.steps[i].on_failure == OnFailure::Continue;
                    rt.phase = Phase::Done(Final::Failed { tolerated });
                }
                Event::StepSkipped { reason, .. } => {
                    rt.phase = Phase::Done(Final::Skipped(*reason))
                }
                Event::StepCancelled { reason, .. }
                    if !run_wide(reason) && reason != super::edit::apply::RERUN =>
                {
                    rt.phase = Phase::Done(Final::Cancelled)
                }
                // An edit's rerun stopped its old attempt: it was reset at
                // the edit.
                Event::StepCancelled { reason, .. } if reason == super::edit::apply::RERUN => {}
                // Stopped with the whole run: it picks up where it stood.
                Event::StepCancelled { .. } => o.stopped = true,
                _ => {}
            }
        }
        self.waits.skip_to(max_wait);
        self.journal_breakers(events);
        open
    }

    /// An operator's retry, as the journal tells it: a step that had ended
    /// (or stopped with a finished run) starts over from its first attempt
    /// (as `control` resets it), and one that was backing off is queued at
    /// once.
    pub(super) fn retried(&mut self, i: usize, open: &mut Open) {
        let rt = &mut self.steps[i];
        if matches!(rt.phase, Phase::Done(_)) || open.stopped {
            rt.phase = Phase::Pending;
            rt.attempts = 0;
            rt.first_start = None;
            *open = Open::default();
        } else {
            open.backoff = None;
            open.readied = true;
        }
    }

    /// Picks up every open step where it stood.
    pub(super) fn carry_on(&mut self, mut open: Vec<Open>) {
        self.restore_breakers();
        self.apply_retry(&mut open);
        if let Some(edit) = self.editing.take()
            && let Err(why) = self.apply_edit(*edit, Some(&mut open))
        {
            // Nothing applied and nothing runs: the run stays as it was,
            // to be edited again or resumed.
            self.journal_error = Some(format!("the edit was not applied: {why}"));
            self.cancel_run(super::event::RunStatus::Failed, "journal_error");
            return;
        }
        // What left the recorded groups (setsid, a daemon) is found by the
        // run's cgroups and the run id in its environment.
        super::process::reclaim_run(&self.dir.id, &self.dir.path);
        let pgids = super::run_dir::recorded_pgids(&self.dir);
        for (i, o) in open.into_iter().enumerate() {
            if matches!(self.steps[i].phase, Phase::Done(_)) {
                continue;
            }
            let remote = self.wf.steps[i].pool.is_some() && self.options.dispatch.is_some();
            if remote && o.running.is_none() && (o.readied || o.backoff.is_some()) {
                // Its next attempt may have been sent before the crash. Not
                // so for a step a retry starts over: its first attempt is
                // queued anew, and the old one's key is not followed.
                let step = &self.wf.steps[i].id;
                let next = self.steps[i].attempts + 1;
                let seq = self.steps[i].queued_seq;
                self.steps[i].earlier = Some(super::remote::key(&self.dir.id, step, next, seq));
            }
            if let Some(resolution) = o.resolved {
                self.apply_journaled(i, resolution);
            } else if let Some(attempt) = o.running.filter(|_| self.runs_command(i))
                && remote
                && let Some(worker) = o.worker.clone()
            {
                // Still running on its worker, or ended there meanwhile:
                // followed, not run again.
                if let Some(t) = o.first_started {
                    let ago = SystemTime::now().duration_since(t).unwrap_or_default();
                    self.steps[i].first_start = tokio::time::Instant::now().checked_sub(ago);
                }
                self.adopt_remote(i, attempt, worker, o.lines);
            } else if let Some(attempt) = o.running.filter(|_| self.runs_command(i)) {
                if let Some(&pgid) = pgids.get(&self.wf.steps[i].id) {
                    self.kill_survivors(i, pgid);
                }
                self.steps[i].attempts = attempt.saturating_sub(1);
                self.enqueue(i);
            } else if let Some((failed, due)) = o.backoff {
                let token = self.next_token();
                let due = instant_of(due);
                self.steps[i].phase = Phase::Backoff { failed, due, token };
                let tx = self.tx.clone();
                let slot = self.slots[i];
                tokio::spawn(async move {
                    tokio::time::sleep_until(due).await;
                    let _ = tx.send(Msg::RetryDue { step: slot, token });
                });
            } else if let Some((wait, deadline, opened)) = o.wait {
                self.steps[i].approved = o.approved;
                self.reopen_wait(i, wait, instant_of(deadline), instant_since(opened));
            } else if o.readied {
                self.steps[i].phase = Phase::Pending;
                self.make_ready(i);
            }
        }
        self.settle();
    }

    /// Only a `run` step has attempts to run again: a wait step never has a
    /// process for its run to wait on.
    fn runs_command(&self, i: usize) -> bool {
        matches!(self.wf.steps[i].action, Action::Run(_))
    }

    /// Steps whose needs all ended while nothing ran: ready them, or skip
    /// them when a need failed.
    pub(super) fn settle(&mut self) {
        for i in 0..self.steps.len() {
            if self.move_on(i) {
                self.move_dependents_on(i);
            }
        }
    }

    /// Kills what is left of a process group that was running at the crash.
    /// What `reclaim_run` left of a recorded group carries no marker of
    /// this run: after a reboot or a long gap the number may be another
    /// program's group now, so it is left alone (and said so).
    fn kill_survivors(&mut self, i: usize, pgid: i32) {
        if pgid > 1 && super::process::group_alive(pgid) {
            tracing::warn!(
                "process group {pgid}, recorded for `{}` in the interrupted run, is alive but none of it carries the run's markers: left alone, it may not be the run's",
                self.wf.steps[i].id
            );
        }
    }
}

/// When wait `n` first opened: a wait re-opened by an earlier resume keeps
/// its first time, so `waited_ms` counts all of it.
fn first_opened(o: &Open, n: u64, now: SystemTime) -> SystemTime {
    match o.wait {
        Some((m, _, opened)) if m == n => opened,
        _ => now,
    }
}

/// A past `SystemTime` as a tokio instant: as long ago as it was.
fn instant_since(t: SystemTime) -> Instant {
    let ago = SystemTime::now()
        .duration_since(t)
        .unwrap_or(Duration::ZERO);
    Instant::now().checked_sub(ago).unwrap_or_else(Instant::now)
}

fn wait_number(wait: &str) -> u64 {
    wait.trim_start_matches('w').parse().unwrap_or(0)
}

/// How the run ended, if its last start was followed by an end.
pub fn finished_status(events: &[Envelope]) -> Option<super::event::RunStatus> {
    for e in events.iter().rev() {
        match e.event {
            Event::RunFinished { status, .. } => return Some(status),
            Event::RunStarted { .. } => return None,
            _ => {}
        }
    }
    None
}
