//! Attempts that run on workers (SPEC §7): the seam between the scheduler
//! and the transport that carries them. The engine names no transport: a
//! front end hands the run a [`Dispatch`] in
//! [`RunOptions::dispatch`](super::RunOptions), and the scheduler gives it
//! each attempt of a step with a `pool` as a [`Job`], with the [`Reports`]
//! to answer through. Everything else about the step (its retries,
//! breaker, fallback, timeout as policy, the journal) stays here: what
//! comes back through [`Reports`] is what a local attempt's process sends.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::event::Stream;
use super::process::Exit;
use super::scheduler::Msg;
use super::sink::Sink;

/// One attempt to run on a worker of `pool`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Names this dispatch of the attempt everywhere it travels; see [`key`].
    pub key: String,
    pub run: String,
    pub workflow: String,
    pub step: String,
    pub attempt: u32,
    pub pool: String,
    /// The step's `run`, its templates already standing as variables of
    /// `env` (as for a local attempt).
    pub command: String,
    pub shell: Vec<String>,
    /// The workflow's and the step's `env`, the `SIGNALBOX_*` variables and
    /// the template values, in order; the worker adds its own
    /// `SIGNALBOX_OUTPUT`.
    pub env: Vec<(String, String)>,
    /// The step's `cwd`, relative to the folder the worker runs in.
    pub cwd: Option<String>,
    /// Per attempt, counted on the worker from the process's start.
    pub timeout: Option<Duration>,
    pub kill_grace: Duration,
    /// stdout and stderr share one pipe ([`Stream::Output`] lines).
    pub merged: bool,
    /// The key of an earlier dispatch of the same attempt by an earlier
    /// process of this run (it crashed before the attempt started): if a
    /// worker claimed it, the transport follows that one instead of sending
    /// this; else it makes sure that one can never be claimed.
    pub earlier: Option<String>,
    /// The secret values `env` carries: the worker masks them in what it
    /// sends back, so they are not kept in clear on the server either.
    pub secrets: Vec<String>,
}

/// An attempt a resumed run finds started on a worker, to follow again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopt {
    pub key: String,
    pub step: String,
    pub attempt: u32,
    pub pool: String,
    /// The worker its `step_started` names.
    pub worker: String,
    /// Its output lines already journaled: the first this many that come
    /// back again are not delivered twice.
    pub lines: u64,
}

/// What a run knows of its transport, for the front ends to show (a
/// screen attached through the socket gets it as a `remote` control line).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RemoteStatus {
    /// The server, as the run was told it (`--nats`).
    pub server: String,
    /// Whether the run is connected to it now.
    pub connected: bool,
    /// The live workers of each pool the run uses, by id; every pool of
    /// the workflow is a key, with none when it has no live worker.
    pub pools: BTreeMap<String, Vec<String>>,
    /// What is wrong, in a line, while something is ("cannot reach NATS at
    /// nats://…: connection refused").
    pub problem: Option<String>,
}

/// How long a front end lets the run be connected before it tells of an
/// empty pool: the registry of workers is read once it is, and until then
/// every pool looks empty. Also how long the first connection may take
/// before the server is told unreachable.
pub const SETTLE_MS: u64 = 2_000;

impl RemoteStatus {
    /// The pools that some step waits on and that have no live worker.
    pub fn empty_pools(&self) -> impl Iterator<Item = &str> {
        self.pools
            .iter()
            .filter(|(_, w)| w.is_empty())
            .map(|(p, _)| p.as_str())
    }
}

/// Where attempts of steps with a `pool` go. Implemented by a front end
/// (the NATS transport); each call returns at once, the transport working
/// on its own tasks.
pub trait Dispatch: Send + Sync + Debug {
    /// Sends `job` to its pool. Its claim, output and end come back through
    /// `reports`; a cancel from the run arrives there too.
    fn dispatch(&self, job: Job, reports: Reports);
    /// Follows an attempt an earlier process of this run left on a worker.
    fn adopt(&self, adopt: Adopt, reports: Reports);
    /// The transport's state, for the front ends.
    fn status(&self) -> watch::Receiver<RemoteStatus>;
}

/// The key of one dispatch of an attempt:
/// `<run>.<step>.<attempt>.<nonce>`, each name made a token that NATS
/// subjects and KV keys both take ([`key_token`]). `nonce` is the journal
/// seq of the event that queued the attempt (its `step_ready` or
/// `step_retrying`): a resumed run finds the same key from its journal,
/// and no two dispatches in a run share one.
pub fn key(run: &str, step: &str, attempt: u32, nonce: u64) -> String {
    format!("{}.{}.{attempt}.{nonce}", key_token(run), key_token(step))
}

/// `name` with every byte other than an ASCII letter, digit, `_` or `-`
/// written `=XX` (hex): `build:linux` is `build=3Alinux`.
pub fn key_token(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// How a remote attempt answers the run. Dropped without an end, it ends
/// the attempt with an error, so a transport that gives up on an attempt
/// never leaves its step running forever.
pub struct Reports {
    tx: mpsc::UnboundedSender<Msg>,
    slot: usize,
    attempt: u32,
    sink: Sink,
    room: super::bus::OutputRoom,
    cancel: Option<oneshot::Receiver<()>>,
    ended: bool,
}

impl Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reports")
            .field("slot", &self.slot)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl Reports {
    pub(super) fn new(
        tx: mpsc::UnboundedSender<Msg>,
        (slot, attempt): (usize, u32),
        sink: Sink,
        room: super::bus::OutputRoom,
        cancel: oneshot::Receiver<()>,
    ) -> Reports {
        Reports {
            tx,
            slot,
            attempt,
            sink,
            room,
            cancel: Some(cancel),
            ended: false,
        }
    }

    /// The attempt number these reports are for.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Resolves once the run wants the attempt stopped (a cancel, a skip,
    /// an edit's rerun, the run's end): the transport then kills its
    /// process group on the worker, or makes sure no worker claims it, and
    /// reports [`Exit::Cancelled`]. Resolves at most once; pending after.
    pub async fn cancelled(&mut self) {
        match self.cancel.as_mut() {
            Some(rx) => {
                let _ = rx.await;
                self.cancel = None;
            }
            None => std::future::pending().await,
        }
    }

    /// A worker claimed the attempt and starts its process: journaled as
    /// `step_started` with the pool and `worker`. A second word (a
    /// resumed run hearing it again) changes nothing.
    pub fn claimed(&self, worker: &str) {
        let _ = self.tx.send(Msg::Claimed {
            step: self.slot,
            attempt: self.attempt,
            worker: worker.to_string(),
        });
    }

    /// One line the attempt printed, in order. Waits while the run's
    /// output room is full, as a local step's pipe would.
    pub async fn line(&mut self, stream: Stream, line: String) {
        self.room.take(line.len()).await;
        self.sink.line(stream, line);
    }

    /// The attempt's process ended: `outputs` as the worker read them from
    /// its `SIGNALBOX_OUTPUT` (masked here).
    pub fn exited(mut self, exit: Result<Exit, String>, outputs: BTreeMap<String, String>) {
        self.ended = true;
        let outputs = self.sink.outputs(outputs);
        self.end(exit, outputs, false);
    }

    /// The worker running it is gone (its lease lapsed): the attempt fails
    /// with `worker ID lost`, and the step's retry rules apply. A breaker
    /// does not count it against its service.
    pub fn lost(mut self, worker: &str) {
        self.ended = true;
        self.end(Err(format!("worker {worker} lost")), BTreeMap::new(), true);
    }

    fn end(&self, exit: Result<Exit, String>, outputs: BTreeMap<String, String>, lost: bool) {
        let _ = self.tx.send(Msg::Exited {
            step: self.slot,
            attempt: self.attempt,
            result: super::attempt::AttemptResult {
                exit,
                outputs,
                lost,
            },
        });
    }
}

impl Drop for Reports {
    fn drop(&mut self) {
        if !self.ended {
            self.end(
                Err("the run lost track of the attempt on its worker".to_string()),
                BTreeMap::new(),
                true,
            );
        }
    }
}
