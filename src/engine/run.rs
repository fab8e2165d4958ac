//! Starting a run and talking to it: [`start`] returns a [`RunHandle`] that
//! any number of front ends clone to send commands and subscribe to events.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::bus::{Bus, Subscription};
use super::event::{Command, Refusal, RunStatus};
use super::journal::Journal;
use super::run_dir::RunDir;
use super::scheduler::{Msg, Scheduler};
use crate::workflow::Workflow;

/// How a wait is answered as soon as it opens (`--approve`, `--reject`,
/// `--answer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preset {
    Approve,
    Reject,
    Answer(String),
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub state_dir: PathBuf,
    /// `--jobs`: overrides the workflow's `concurrency`.
    pub jobs: Option<usize>,
    pub presets: HashMap<String, Preset>,
    /// Approve every approval and take every question's default.
    pub auto_approve: bool,
    /// Seeds the retry jitter, for reproducible tests.
    pub seed: Option<u64>,
    /// The folder steps run in and `cwd` is relative to; none: this
    /// process's current folder. A resumed run gets the one it started in.
    pub workdir: Option<PathBuf>,
    /// The `--var` overrides the run started with, kept for `resume`.
    pub vars: std::collections::BTreeMap<String, String>,
    /// `--allow`: who besides the run's user may reach it, resolved.
    pub allow: Vec<super::allow::Allowed>,
    /// `TRACEPARENT` as the caller found it when the run started: a valid
    /// one makes the run part of that trace (SPEC §8); an invalid one is
    /// noted in the log and ignored. Only a new run reads it.
    pub traceparent: Option<String>,
    /// Where attempts of steps with a `pool` go (SPEC §7); none: such
    /// steps run here, as any other.
    pub dispatch: Option<Arc<dyn super::remote::Dispatch>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot create the run folder under {dir}: {source}")]
    RunDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the journal {path}: {source}")]
    Journal {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The run cannot be resumed (not found, damaged, finished, or driven
    /// by another process); the message says which.
    #[error("{0}")]
    Resume(String),
    /// A secret could not be read (bad usage: exit 2); nothing ran.
    #[error("{0}")]
    Secrets(String),
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: RunStatus,
    pub run_id: String,
    pub dir: PathBuf,
    /// Set when the run stopped because its journal could not be written.
    pub journal_error: Option<String>,
}

/// A cloneable line to a running run.
#[derive(Debug, Clone)]
pub struct RunHandle {
    tx: mpsc::UnboundedSender<Msg>,
    pub run_id: Arc<str>,
    pub dir: Arc<std::path::Path>,
    /// What the engine counts that no event carries.
    stats: Arc<super::stats::EngineStats>,
    /// The state of the run's transport to its pools, when it has one.
    remote: Option<tokio::sync::watch::Receiver<super::remote::RemoteStatus>>,
}

impl RunHandle {
    /// Sends a command; ignored once the run is over, or when it does not
    /// fit the run (see [`request`](Self::request) to hear why).
    pub fn send(&self, command: Command) {
        let _ = self.tx.send(Msg::Command {
            command,
            reply: None,
            user: None,
        });
    }

    /// Sends a command and waits until the run has taken it or refused it.
    /// Taken means applied: a wait's resolution is in the hands of the wait,
    /// which it ends; the events follow.
    pub async fn request(&self, command: Command) -> Result<(), Refusal> {
        self.send_for_reply(command).await
    }

    /// [`request`](Self::request) from `user` (a socket's peer), who is
    /// journaled as having acted.
    pub async fn request_as(&self, command: Command, user: String) -> Result<(), Refusal> {
        self.send_for_reply_as(command, Some(user)).await
    }

    /// Sends a command now, in order with [`RunHandle::send`], and returns
    /// the run's reply to await later (or never): for a front end that must
    /// not wait on the engine but wants to say why a command was refused.
    pub fn send_for_reply(
        &self,
        command: Command,
    ) -> impl std::future::Future<Output = Result<(), Refusal>> + Send + 'static {
        self.send_for_reply_as(command, None)
    }

    /// [`send_for_reply`](Self::send_for_reply) from `user`, when given (a
    /// socket's peer), who is journaled as having acted.
    pub fn send_for_reply_as(
        &self,
        command: Command,
        user: Option<String>,
    ) -> impl std::future::Future<Output = Result<(), Refusal>> + Send + 'static {
        let taken = self.command_for_reply(command, user);
        async move { taken.await.map(|_| ()) }
    }

    /// Sends an edit (`ask`) from `user`, when given, and returns the
    /// run's reply to await: its plan, applied unless it was a dry run or
    /// a no-op; refused with the plan's errors ([`Refusal::Edit`]).
    pub fn edit(
        &self,
        ask: super::edit::EditAsk,
        user: Option<String>,
    ) -> impl std::future::Future<Output = Result<super::edit::Plan, Refusal>> + Send + 'static
    {
        let taken = self.command_for_reply(Command::Edit(ask), user);
        async move {
            match taken.await? {
                Some(plan) => Ok(*plan),
                None => Err(Refusal::RunOver),
            }
        }
    }

    fn command_for_reply(
        &self,
        command: Command,
        user: Option<String>,
    ) -> impl std::future::Future<Output = super::scheduler::Taken> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.tx.send(Msg::Command {
            command,
            reply: Some(tx),
            user,
        });
        async move {
            sent.map_err(|_| Refusal::RunOver)?;
            rx.await.unwrap_or(Err(Refusal::RunOver))
        }
    }

    /// Subscribers dropped and journal sync times (see
    /// [`EngineStats`](super::stats::EngineStats)), to read at any time.
    pub fn stats(&self) -> Arc<super::stats::EngineStats> {
        self.stats.clone()
    }

    /// The state of the run's transport to its pools (SPEC §7), to watch;
    /// none when no step runs on a worker.
    pub fn remote(&self) -> Option<tokio::sync::watch::Receiver<super::remote::RemoteStatus>> {
        self.remote.clone()
    }

    /// Events from now on. Subscribe before [`Run::start`] for all of them.
    pub async fn subscribe(&self) -> Option<Subscription> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::Subscribe(tx)).ok()?;
        rx.await.ok()
    }
}

/// A run prepared but not started: subscribe first, then start.
pub struct Run {
    scheduler: Scheduler,
    handle: RunHandle,
}

impl Run {
    /// Creates the run folder and journal.
    pub fn new(workflow: Workflow, options: RunOptions) -> Result<Run, EngineError> {
        let workdir = match &options.workdir {
            Some(w) => w.clone(),
            None => std::env::current_dir().map_err(|source| EngineError::RunDir {
                dir: options.state_dir.join("runs"),
                source,
            })?,
        };
        // Before the run folder: a run whose secrets are missing leaves nothing.
        let secrets =
            super::secrets::Secrets::read([&workflow], &workdir).map_err(EngineError::Secrets)?;
        let dir = RunDir::create(&options.state_dir, &workflow.name, &workflow.source).map_err(
            |source| EngineError::RunDir {
                dir: options.state_dir.join("runs"),
                source,
            },
        )?;
        let lock = super::lock::RunLock::acquire(&dir).map_err(EngineError::Resume)?;
        let joined = options.traceparent.as_deref().and_then(|text| {
            let parsed = super::trace_ctx::TraceParent::parse(text.trim());
            if parsed.is_none() {
                // A traceparent is 55 characters: more is not worth a log line.
                let shown: String = text.chars().take(64).collect();
                let more = if shown.len() < text.len() { "…" } else { "" };
                tracing::warn!(
                    "TRACEPARENT {shown:?}{more} is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>): ignored, the run starts a trace of its own"
                );
            }
            parsed
        });
        let trace = joined.map_or_else(super::trace_ctx::TraceId::random, |p| p.trace);
        let params = super::run_dir::Params {
            workdir,
            vars: options.vars.clone(),
            allow: options.allow.clone(),
            trace_id: Some(trace.hex()),
            trace_parent: joined.map(|p| p.span.hex()),
            nats: None,
        };
        super::run_dir::write_params(&dir.path, &params).map_err(|source| EngineError::RunDir {
            dir: dir.path.clone(),
            source,
        })?;
        let mut run = Run::assemble(workflow, options, dir, lock, 0)?;
        run.scheduler.trace = trace;
        run.scheduler.set_secrets(secrets);
        Ok(run)
    }

    /// The journal opened for appending after `seq`, the scheduler's
    /// channel, the handle on it, and the scheduler holding `lock`.
    fn assemble(
        workflow: Workflow,
        options: RunOptions,
        dir: RunDir,
        lock: super::lock::RunLock,
        seq: u64,
    ) -> Result<Run, EngineError> {
        let journal_error = |source| EngineError::Journal {
            path: dir.journal_path(),
            source,
        };
        let journal = dir
            .open_file("events.jsonl", super::fsafe::How::Append)
            .and_then(Journal::from_file)
            .map_err(journal_error)?;
        let bus =
            Bus::new(dir.id.clone(), journal, dir.journal_path(), seq).map_err(journal_error)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = RunHandle {
            tx: tx.clone(),
            run_id: dir.id.clone().into(),
            dir: dir.path.clone().into(),
            stats: bus.stats(),
            remote: options.dispatch.as_ref().map(|d| d.status()),
        };
        let mut scheduler = Scheduler::new(workflow, options, dir, bus, tx, rx);
        scheduler.lock = Some(lock);
        Ok(Run { scheduler, handle })
    }

    /// Prepares to resume the run kept in `run` (a run folder, or a run id
    /// under the state dir) from its journal. `load` reads the workflow
    /// kept in the folder; the journal's torn last line, if any, is cut.
    pub fn resume(
        run: &str,
        options: RunOptions,
        load: impl FnOnce(&std::path::Path) -> Result<Workflow, String>,
    ) -> Result<Run, EngineError> {
        let (mut run, events, revisions) = Run::reopen(run, options, load)?;
        if let Some(status) = super::resume::finished_status(&events)
            && status != RunStatus::Cancelled
        {
            let word = if status == RunStatus::Succeeded {
                "succeeded"
            } else {
                "failed"
            };
            return Err(EngineError::Resume(format!(
                "run {} already {word}; there is nothing to resume",
                run.handle.run_id
            )));
        }
        let open = run.scheduler.restore(&events, revisions);
        run.scheduler.resume = Some(open);
        run.scheduler.read_secrets()?;
        Ok(run)
    }

    /// Prepares to carry a finished run on (see [`super::retry`]): as
    /// [`resume`](Self::resume), then the steps `ask` names (or every
    /// failed and cancelled one) are reset to run again from attempt 1.
    pub fn retry(
        run: &str,
        options: RunOptions,
        load: impl FnOnce(&std::path::Path) -> Result<Workflow, String>,
        ask: super::retry::RetryAsk,
    ) -> Result<Run, EngineError> {
        let (mut run, events, revisions) =
            Run::reopen(run, options, load).map_err(|e| match e {
                EngineError::Resume(m) if m.contains("being driven by another") => {
                    EngineError::Resume(super::retry::live_message(&m))
                }
                e => e,
            })?;
        let open = run.scheduler.restore(&events, revisions);
        let status = super::resume::finished_status(&events);
        let plan = run
            .scheduler
            .plan_retry(status, &open, &ask)
            .map_err(EngineError::Resume)?;
        run.scheduler.retrying = Some(plan);
        run.scheduler.resume = Some(open);
        run.scheduler.read_secrets()?;
        Ok(run)
    }

    /// Prepares to edit a run that no process drives (finished or
    /// interrupted): as [`resume`](Self::resume), with `ask` planned
    /// against the restored run (a step that had not ended counts as not
    /// started). The plan comes back whatever it says; the run, once
    /// started, journals its resumed `run_started`, then applies the edit
    /// before anything runs. Dropping the run instead (a dry run, a
    /// refusal, a no-op, an operator's no) leaves the run as it was.
    pub fn edit(
        run: &str,
        options: RunOptions,
        load: impl FnOnce(&std::path::Path) -> Result<Workflow, String>,
        ask: super::edit::EditAsk,
    ) -> Result<(Run, super::edit::Plan), EngineError> {
        let (mut run, events, revisions) =
            Run::reopen(run, options, load).map_err(|e| match e {
                EngineError::Resume(m) if m.contains("being driven by another") => {
                    EngineError::Resume(super::edit::live_message(&m))
                }
                e => e,
            })?;
        let open = run.scheduler.restore(&events, revisions);
        let vars = super::edit::revision::RevisionSource::of(&run.scheduler.dir)
            .map_err(EngineError::Resume)?
            .vars;
        let checked = run.scheduler.check_edit(&ask, Some(&open), &vars);
        let plan = checked.plan.clone();
        let applies =
            !plan.refused() && !ask.dry_run && !super::edit::changes_nothing(&plan, &checked.diff);
        if let Some(wf) = checked.wf.filter(|_| applies) {
            run.scheduler.editing = Some(Box::new(super::edit::apply::Pending {
                plan: checked.plan,
                wf,
                diff: checked.diff,
                source: ask.source,
                by: ask.by,
                sender: None,
            }));
        }
        run.scheduler.resume = Some(open);
        if applies {
            run.scheduler.read_secrets()?;
        }
        Ok((run, plan))
    }

    /// The run's folder locked, its journal checked (its torn last line
    /// cut) and opened for appending: a run ready to be restored.
    fn reopen(
        run: &str,
        options: RunOptions,
        load: impl FnOnce(&std::path::Path) -> Result<Workflow, String>,
    ) -> Result<(Run, Vec<super::event::Envelope>, Vec<Workflow>), EngineError> {
        let dir = RunDir::open(&options.state_dir, run)
            .map_err(|e| EngineError::Resume(e.to_string()))?;
        let lock = super::lock::RunLock::acquire(&dir).map_err(EngineError::Resume)?;
        let kept = dir.path.join("workflow.yaml");
        if let Err(e) = super::fsafe::check_regular(&kept) {
            return Err(EngineError::Resume(e.to_string()));
        }
        let workflow = load(&kept).map_err(EngineError::Resume)?;
        let path = dir.journal_path();
        let replayed =
            super::journal::read_journal(&path).map_err(|e| EngineError::Resume(e.to_string()))?;
        // Only a journal this program could have written is acted on, and
        // only with the revisions its edits name, as they were.
        let source =
            super::edit::revision::RevisionSource::of(&dir).map_err(EngineError::Resume)?;
        let revisions = super::journal_check::check_with_revisions(
            &workflow,
            &dir.id,
            &replayed.events,
            source,
        )
        .map_err(|e| EngineError::Resume(super::journal_check::describe(&path, &e)))?;
        if let Some(line) = replayed.torn_line {
            tracing::warn!("dropping the torn last line {line} of {}", path.display());
            crate::safe::say!(
                "warning: {}:{line}: the last line was cut short by a crash; it is dropped",
                path.display()
            );
            super::journal::truncate(&path, replayed.good_len).map_err(|source| {
                EngineError::Journal {
                    path: path.clone(),
                    source,
                }
            })?;
        }
        let last_seq = replayed.events.last().map_or(0, |e| e.seq);
        let params = super::run_dir::read_params(&dir.path).map_err(EngineError::Resume)?;
        let (trace, _) = super::run_dir::Params::trace(params.as_ref(), &dir.id);
        let mut run = Run::assemble(workflow, options, dir, lock, last_seq)?;
        run.scheduler.trace = trace;
        Ok((run, replayed.events, revisions))
    }

    /// Replaces the options (a resumed run takes the command line's).
    pub fn set_options(&mut self, options: RunOptions) {
        self.handle.remote = options.dispatch.as_ref().map(|d| d.status());
        self.scheduler.set_options(options);
    }

    /// Sends the attempts of steps with a `pool` to `dispatch` (SPEC §7),
    /// and lets the handle show its state. Before [`handle`](Self::handle)
    /// and subscribing, so every front end sees it.
    pub fn set_dispatch(&mut self, dispatch: Arc<dyn super::remote::Dispatch>) {
        self.handle.remote = Some(dispatch.status());
        self.scheduler.options.dispatch = Some(dispatch);
    }

    pub fn handle(&self) -> RunHandle {
        self.handle.clone()
    }

    /// The workflow being run.
    pub fn workflow(&self) -> &Workflow {
        &self.scheduler.wf
    }

    /// Every event of the run, `run_started` included, however slowly they
    /// are read: one that falls behind reads on from the journal (see
    /// [`bus`](super::bus)).
    pub fn subscribe(&mut self) -> Subscription {
        self.scheduler.subscribe()
    }

    /// Runs to the end. Drop the returned future and every process of the
    /// run is killed.
    pub async fn start(self) -> RunOutcome {
        self.scheduler.run().await
    }
}
