//! The owner of a run's state. One task runs [`Scheduler::run`]; everything
//! else (step attempts, wait timers, front ends) talks to it by [`Msg`].
//!
//! It decides what becomes ready, starts attempts under the concurrency
//! limit in priority then file order, applies the control policies when an
//! attempt ends, and publishes every change as an event.

use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::breaker::Breaker;
use super::bus::{Bus, Subscription};
use super::event::{Event, RunStatus};
use super::run::{RunOptions, RunOutcome};
use super::run_dir::RunDir;
use super::state::{Final, Phase, StepRt};
use super::waits::WaitTable;
use crate::workflow::Workflow;

mod msg;
mod pools;
pub use msg::{Msg, Taken};
pub(super) use pools::PoolQueues;

/// Messages handled in one go before the scheduler starts what they readied.
const DRAIN: usize = 1024;

/// Order of the ready queue: higher priority first, then file order.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Ready {
    pub(super) priority: i64,
    pub(super) index: std::cmp::Reverse<usize>,
    /// The seq of the last event when it was queued: its process starts
    /// once the journal is durable up to here.
    seq: u64,
}

pub struct Scheduler {
    /// The login name journaled as `user` for what an operator or a flag
    /// did here (SPEC §2 "Who acted").
    pub(super) user: Option<String>,
    /// The sender of the command being handled, when it said who it is.
    pub(super) acting: Option<String>,
    /// Who resolved each wait whose outcome has not come back yet, when it
    /// was not the run's own account.
    pub(super) resolved_by: std::collections::HashMap<usize, String>,
    pub(super) wf: Workflow,
    pub(super) options: RunOptions,
    pub(super) dir: RunDir,
    pub(super) bus: Bus,
    pub(super) tx: mpsc::UnboundedSender<Msg>,
    pub(super) rx: mpsc::UnboundedReceiver<Msg>,
    pub(super) steps: Vec<StepRt>,
    pub(super) dependents: Vec<Vec<usize>>,
    /// The `ask` steps in file order, the only ones that hold an answer:
    /// every attempt's environment carries the answers so far, and looking
    /// only at these keeps an attempt's cost apart from the workflow's size.
    pub(super) asks: Vec<usize>,
    pub(super) ready: BinaryHeap<Ready>,
    /// Queued steps with a `pool`: they take no slot here, so they start
    /// (are sent to their pool) whatever the local limit, a window at a
    /// time for each pool.
    pub(super) ready_remote: PoolQueues,
    /// Attempts running or sent to a pool; `remote` of them on workers.
    pub(super) running: usize,
    pub(super) remote: usize,
    /// Where attempts for the pools go, in order, to be handed to the
    /// run's dispatch once the journal is on disk (made at the first).
    pub(super) remote_sender: Option<
        tokio::sync::mpsc::UnboundedSender<(u64, super::remote::Job, super::remote::Reports)>,
    >,
    /// Matrix steps: instances running per group, and those parked while
    /// their group is at `max_parallel`.
    pub(super) matrix: super::matrix::Groups,
    pub(super) limit: usize,
    pub(super) breakers: HashMap<String, Breaker>,
    /// For a resumed run: its breakers as the journal left them, set once
    /// it starts (see `breaker_resume`).
    pub(super) journaled_breakers: Vec<(String, super::breaker_resume::Journaled)>,
    pub(super) waits: WaitTable,
    pub(super) rng: SmallRng,
    pub(super) started: Instant,
    /// A resumed run's first start (its journal's first event): its
    /// `duration_ms` is the whole run's, so every front end says the same.
    pub(super) began: Option<std::time::SystemTime>,
    /// Set once the run is being cancelled: nothing new starts.
    pub(super) cancelling: Option<RunStatus>,
    /// The first journal write that failed; the run stops on it.
    pub(super) journal_error: Option<String>,
    pub(super) retry_tokens: u64,
    /// For a resumed run: what each step was doing when it stopped.
    pub(super) resume: Option<Vec<super::resume::Open>>,
    /// For a retried run: what starts over once it has started.
    pub(super) retrying: Option<super::retry::Retrying>,
    /// Held while the run is driven, so no second process drives it.
    pub(super) lock: Option<super::lock::RunLock>,
    /// `<run>/pids`, opened on the first spawn and kept open.
    pub(super) pids: Option<std::sync::Arc<std::fs::File>>,
    /// Each step's slot, by index: what the tasks it spawns (attempts,
    /// wait timers, backoff timers) call it. A step keeps its slot for the
    /// whole run while an edit moves its index; an added step takes the
    /// next free one. Identity until the first edit.
    pub(super) slots: Vec<usize>,
    /// Each slot's index now; `None` for a step an edit removed.
    pub(super) at_slot: Vec<Option<usize>>,
    /// The last revision of the workflow applied (0: the file it started with).
    pub(super) revision: u32,
    /// For a finished run being edited: what applies once it has started.
    pub(super) editing: Option<Box<super::edit::apply::Pending>>,
    /// The run's hooks, when it has any: a subscriber of its events.
    pub(super) hooks: Option<super::hooks::Hooks>,
    /// The secrets' values, read when the run started or resumed.
    pub(super) secrets: super::secrets::Secrets,
    /// The run's trace id (kept in `run.json`): each attempt's process
    /// gets its span in `TRACEPARENT`.
    pub(super) trace: super::trace_ctx::TraceId,
}

impl Scheduler {
    pub fn new(
        wf: Workflow,
        options: RunOptions,
        dir: RunDir,
        bus: Bus,
        tx: mpsc::UnboundedSender<Msg>,
        rx: mpsc::UnboundedReceiver<Msg>,
    ) -> Scheduler {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let limit = options.jobs.or(wf.concurrency).unwrap_or(cpus).max(1);
        let rng = options
            .seed
            .map_or_else(SmallRng::from_os_rng, SmallRng::seed_from_u64);
        // The run's own is set by `Run` from `run.json`.
        let trace = super::trace_ctx::TraceId::derived(&dir.id);
        Scheduler {
            user: Some(super::who::login_name(nix::unistd::Uid::effective())),
            acting: None,
            resolved_by: std::collections::HashMap::new(),
            steps: wf.steps.iter().map(|_| StepRt::default()).collect(),
            dependents: wf.dependents(),
            asks: (wf.steps.iter().enumerate())
                .filter(|(_, s)| matches!(s.action, crate::workflow::Action::Ask(_)))
                .map(|(i, _)| i)
                .collect(),
            breakers: wf
                .breakers
                .iter()
                .map(|(k, p)| (k.clone(), Breaker::new(p.clone())))
                .collect(),
            journaled_breakers: Vec::new(),
            wf,
            options,
            dir,
            bus,
            tx,
            rx,
            ready: BinaryHeap::new(),
            ready_remote: PoolQueues::default(),
            remote_sender: None,
            running: 0,
            remote: 0,
            matrix: super::matrix::Groups::default(),
            limit,
            waits: WaitTable::default(),
            rng,
            started: Instant::now(),
            began: None,
            cancelling: None,
            journal_error: None,
            retry_tokens: 0,
            resume: None,
            retrying: None,
            lock: None,
            pids: None,
            slots: Vec::new(),
            at_slot: Vec::new(),
            revision: 0,
            editing: None,
            hooks: None,
            secrets: super::secrets::Secrets::default(),
            trace,
        }
        .numbered()
    }

    /// Revision 0: each step's slot is its index.
    fn numbered(mut self) -> Scheduler {
        self.slots = (0..self.steps.len()).collect();
        self.at_slot = (0..self.steps.len()).map(Some).collect();
        self
    }

    /// The index of the step in `slot`; none once an edit removed it.
    fn index_at(&self, slot: usize) -> Option<usize> {
        self.at_slot.get(slot).copied().flatten()
    }

    pub fn set_options(&mut self, options: RunOptions) {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        self.limit = options.jobs.or(self.wf.concurrency).unwrap_or(cpus).max(1);
        self.options = options;
    }

    pub fn subscribe(&mut self) -> Subscription {
        self.bus.subscribe()
    }

    /// Publishes an event; a journal failure stops the run.
    pub(super) fn emit(&mut self, event: Event) {
        if self.journal_error.is_some() {
            return;
        }
        if let Err(e) = self.bus.emit(event) {
            self.journal_failed(&e);
        }
    }

    /// The journal cannot be written: stop the run, keep what is on disk.
    pub(super) fn journal_failed(&mut self, e: &std::io::Error) {
        tracing::error!("journal write failed: {e}");
        if self.journal_error.is_none() {
            self.journal_error = Some(format!(
                "cannot write {}: {e}",
                self.dir.journal_path().display()
            ));
        }
        self.cancel_run(RunStatus::Failed, "journal_error");
    }

    pub async fn run(mut self) -> RunOutcome {
        self.started = Instant::now();
        let resume = self.resume.take();
        tracing::info!(run = %self.dir.id, resumed = resume.is_some(), "run started");
        self.start_hooks();
        self.emit(Event::RunStarted {
            workflow: self.wf.name.clone(),
            steps: self.wf.steps.len(),
            resumed: resume.is_some(),
        });
        match resume {
            Some(open) => self.carry_on(open),
            None => {
                let roots: Vec<usize> = (0..self.steps.len())
                    .filter(|&i| self.wf.steps[i].needs.is_empty())
                    .collect();
                for i in roots {
                    self.make_ready(i);
                }
            }
        }
        self.pump();
        let deadline = self.wf.timeout.map(|t| self.started + t);
        while !self.all_done() {
            let msg = tokio::select! {
                msg = self.rx.recv() => msg,
                () = sleep_until_opt(deadline), if self.cancelling.is_none() => {
                    self.cancel_run(RunStatus::Failed, "run_timeout");
                    continue;
                }
            };
            match msg {
                Some(msg) => self.handle(msg),
                None => break,
            }
            // Everything already queued is handled before one round of
            // spawns, so the steps it readies share one journal sync.
            for _ in 0..DRAIN {
                match self.rx.try_recv() {
                    Ok(msg) => self.handle(msg),
                    Err(_) => break,
                }
            }
            self.pump();
        }
        let outcome = self.finish();
        self.await_hooks().await;
        if let Err(e) = self.bus.sync() {
            tracing::error!("the journal's last events could not be synced: {e}");
        }
        // Whatever a step or a hook left in the run's cgroup ends with the run.
        super::process::end_run(&self.dir.id, &self.dir.path).await;
        outcome
    }

    fn finish(&mut self) -> RunOutcome {
        let status = self.cancelling.unwrap_or_else(|| {
            let failed = self.steps.iter().any(|s| {
                matches!(
                    s.phase,
                    Phase::Done(Final::Failed { tolerated: false } | Final::Cancelled)
                )
            });
            if failed {
                RunStatus::Failed
            } else {
                RunStatus::Succeeded
            }
        });
        let segment = self.started.elapsed();
        let whole = self
            .began
            .and_then(|t| t.elapsed().ok())
            .map_or(segment, |w| w.max(segment));
        let duration_ms = millis(whole);
        tracing::info!(run = %self.dir.id, ?status, duration_ms, "run finished");
        self.emit(Event::RunFinished {
            status,
            duration_ms,
        });
        if let Err(e) = self.bus.sync() {
            tracing::error!("the journal's last events could not be synced: {e}");
        }
        if self.bus.lagged > 0 {
            tracing::info!(
                "{} subscribers fell behind and read on from the journal",
                self.bus.lagged
            );
        }
        debug_assert!(self.waits.is_empty());
        RunOutcome {
            status,
            run_id: self.dir.id.clone(),
            dir: self.dir.path.clone(),
            journal_error: self.journal_error.take(),
        }
    }

    pub(super) fn all_done(&self) -> bool {
        self.running == 0 && self.steps.iter().all(|s| matches!(s.phase, Phase::Done(_)))
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Command {
                command,
                reply,
                user,
            } => {
                self.acting = user;
                let taken = self.command(command);
                self.acting = None;
                if let Err(refusal) = &taken {
                    tracing::warn!("command refused: {refusal}");
                }
                if let Some(reply) = reply {
                    let _ = reply.send(taken);
                }
            }
            Msg::Subscribe(reply) => {
                let _ = reply.send(self.bus.subscribe());
            }
            Msg::Output { step, stream, line } => {
                self.bus.room().give(line.len());
                // Only unstarted steps are removed, so none should come.
                let Some(i) = self.index_at(step) else { return };
                let step = self.wf.steps[i].id.clone();
                self.emit(Event::StepOutput { step, stream, line });
            }
            Msg::Exited {
                step,
                attempt,
                result,
            } => {
                if let Some(i) = self.index_at(step) {
                    self.attempt_ended(i, attempt, result);
                }
            }
            Msg::Claimed {
                step,
                attempt,
                worker,
            } => {
                if let Some(i) = self.index_at(step) {
                    self.claimed(i, attempt, worker);
                }
            }
            Msg::WaitDone {
                step,
                wait,
                outcome,
            } => match self.index_at(step) {
                Some(i) => self.wait_done(i, wait, outcome),
                None => self.waits.remove(wait),
            },
            Msg::BreakerCooled { breaker } => self.breaker_cooled(&breaker),
            Msg::SyncFailed(e) => self.journal_failed(&e),
            msg @ Msg::HookFinished { .. } => self.hook_finished(msg),
            Msg::RetryDue { step, token } => {
                let Some(i) = self.index_at(step) else { return };
                if let Phase::Backoff { token: t, .. } = self.steps[i].phase
                    && t == token
                    && self.cancelling.is_none()
                {
                    self.enqueue(i);
                }
            }
        }
    }

    /// Starts queued steps while slots are free. Each attempt makes the
    /// journal durable up to the events that queued it before its process
    /// starts (see [`super::journal::Durable`]).
    pub(super) fn pump(&mut self) {
        while self.cancelling.is_none() {
            // A remote attempt holds no local slot: the pools' queues are
            // fed in priority order whatever runs here.
            let ready = match self.ready_remote.pop() {
                Some(r) => r,
                None if self.running - self.remote < self.limit => match self.ready.pop() {
                    Some(r) => r,
                    None => break,
                },
                None => break,
            };
            if !matches!(self.steps[ready.index.0].phase, Phase::Queued) {
                self.dropped_from_queue(ready.index.0);
                continue;
            }
            // An instance whose group is at `max_parallel` waits aside.
            if let Some(Ready { index, seq, .. }) = self.park_if_full(ready) {
                self.start_attempt(index.0, seq);
            }
        }
    }

    pub(super) fn enqueue(&mut self, i: usize) {
        self.steps[i].phase = Phase::Queued;
        let ready = Ready {
            priority: self.wf.steps[i].priority,
            index: std::cmp::Reverse(i),
            seq: self.bus.seq(),
        };
        self.push_ready(ready);
    }

    /// Into the ready queue of its kind: here, or a pool.
    pub(super) fn push_ready(&mut self, ready: Ready) {
        if let Some(pool) = &self.wf.steps[ready.index.0].pool {
            self.ready_remote.push(pool, ready);
        } else {
            self.ready.push(ready);
        }
    }
    /// Cancels everything still going; the loop ends when every step is done.
    pub(super) fn cancel_run(&mut self, status: RunStatus, reason: &str) {
        if self.cancelling.is_some() {
            return;
        }
        self.cancelling = Some(status);
        for i in 0..self.steps.len() {
            self.cancel_step(i, reason);
        }
    }

    pub(super) fn next_token(&mut self) -> u64 {
        self.retry_tokens += 1;
        self.retry_tokens
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
