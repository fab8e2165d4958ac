//! What reaches a run's owner, and its reply to a command.

use tokio::sync::oneshot;

use crate::engine::bus::Subscription;
use crate::engine::event::{Command, Refusal};
use crate::engine::waits::WaitOutcome;

/// What reaches the owner. A step is named by its slot (see
/// [`super::Scheduler::slots`]): an edit may move its index while a task runs.
pub enum Msg {
    /// `reply`, when given, hears whether the command was taken.
    /// `user`, when given, is who sent it (a socket's peer); else the
    /// account running the run.
    Command {
        command: Command,
        reply: Option<oneshot::Sender<Taken>>,
        user: Option<String>,
    },
    Subscribe(oneshot::Sender<Subscription>),
    Output {
        step: usize,
        stream: crate::engine::event::Stream,
        line: String,
    },
    Exited {
        step: usize,
        attempt: u32,
        result: crate::engine::attempt::AttemptResult,
    },
    /// A worker claimed a remote attempt (see `engine::remote`).
    Claimed {
        step: usize,
        attempt: u32,
        worker: String,
    },
    WaitDone {
        step: usize,
        wait: u64,
        outcome: WaitOutcome,
    },
    RetryDue {
        step: usize,
        token: u64,
    },
    BreakerCooled {
        breaker: String,
    },
    /// A journal sync before a spawn failed: the run stops on it.
    SyncFailed(std::io::Error),
    /// A hook ran for event `on_seq` (see `engine::hooks`); journaled as
    /// `hook_finished`. `outcome` is what metrics count.
    HookFinished {
        hook: String,
        on_seq: u64,
        exit_code: Option<i32>,
        error: Option<String>,
        duration_ms: u64,
        outcome: &'static str,
    },
}

/// A command's reply: taken (an edit's with its plan) or refused.
pub type Taken = Result<Option<Box<crate::engine::edit::Plan>>, Refusal>;
