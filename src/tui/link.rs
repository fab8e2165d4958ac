//! How the screen reaches its run: in this process (a [`Subscription`] and
//! a [`RunHandle`]) or through the run's socket (`socket::screen`). The app
//! loop sees one shape either way: events in seq order, commands with the
//! run's answer, and the run's end.

use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::engine::edit::{EditAsk, Plan};
use crate::engine::remote::RemoteStatus;
use crate::engine::{Command, Published, Refusal, RunHandle, RunOutcome, Subscription};
use crate::socket::screen;

/// Where the run's events come from.
pub enum Events {
    Local(Box<Subscription>),
    Remote(tokio::sync::mpsc::Receiver<Arc<Published>>),
}

impl Events {
    pub async fn recv(&mut self) -> Option<Arc<Published>> {
        match self {
            Events::Local(s) => s.recv().await,
            Events::Remote(r) => r.recv().await,
        }
    }

    pub fn try_recv(&mut self) -> Option<Arc<Published>> {
        match self {
            Events::Local(s) => s.try_recv().ok(),
            Events::Remote(r) => r.try_recv().ok(),
        }
    }
}

/// Where the screen's commands go.
#[derive(Clone)]
pub enum Commands {
    Local(RunHandle),
    Remote(screen::Commands),
}

impl Commands {
    /// Sends `command` without waiting for the answer.
    pub fn send(&self, command: Command) {
        match self {
            Commands::Local(h) => h.send(command),
            Commands::Remote(c) => c.send(command),
        }
    }

    /// Sends `command`; the run's refusal, if it refused (not one for a
    /// run that is over: the screen shows that already).
    pub fn send_for_reply(
        &self,
        command: Command,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), Option<String>>> + Send>> {
        match self {
            Commands::Local(h) => {
                let reply = h.send_for_reply(command);
                Box::pin(async move {
                    reply.await.map_err(|why| match why {
                        Refusal::RunOver => None,
                        why => Some(why.to_string()),
                    })
                })
            }
            Commands::Remote(c) => {
                let reply = c.send_for_reply(command);
                Box::pin(async move { reply.await.map_err(Some) })
            }
        }
    }
}

/// The run's answer to an edit: its plan (applied unless it was a dry run
/// or a no-op), or why not, with the plan of an edit refused for its errors.
pub type EditAnswer = Result<Box<Plan>, (String, Option<Box<Plan>>)>;

impl Commands {
    /// Sends an edit; resolves with the run's answer.
    pub fn edit(&self, ask: EditAsk) -> Pin<Box<dyn Future<Output = EditAnswer> + Send>> {
        match self {
            Commands::Local(h) => {
                let reply = h.edit(ask, None);
                Box::pin(async move {
                    reply.await.map(Box::new).map_err(|why| match why {
                        Refusal::Edit(plan) => (plan.refusal(), Some(plan)),
                        Refusal::RunOver => (ENDED.to_string(), None),
                        why => (why.to_string(), None),
                    })
                })
            }
            Commands::Remote(c) => c.edit(ask),
        }
    }
}

/// The run's answer to an edit of a run that is over.
const ENDED: &str = crate::tui::update::edit::ENDED;

/// The run, as the app loop sees it.
pub struct Engine {
    pub events: Events,
    pub commands: Commands,
    /// The task running `Run::start`, for a run in this process.
    pub task: Option<JoinHandle<RunOutcome>>,
    /// For a run reached through its socket: the screens attached, and why
    /// its events ended.
    pub remote: Option<Remote>,
    /// The run's transport to its pools (SPEC §7).
    pub transport: Transport,
}

/// The run's transport to its pools, as the screen hears of it: from the
/// run in this process, or from its socket's `remote` lines.
pub enum Transport {
    /// No step of the run goes to a pool, or the transport is gone.
    None,
    Local(watch::Receiver<RemoteStatus>),
    Remote(watch::Receiver<Option<RemoteStatus>>),
}

impl Transport {
    /// Its state now, when known.
    pub fn now(&mut self) -> Option<RemoteStatus> {
        match self {
            Transport::None => None,
            Transport::Local(r) => Some(r.borrow_and_update().clone()),
            Transport::Remote(r) => r.borrow_and_update().clone(),
        }
    }

    /// Its next state; never, once there is none.
    pub async fn next(&mut self) -> RemoteStatus {
        loop {
            let changed = match self {
                Transport::None => return std::future::pending().await,
                Transport::Local(r) => r.changed().await.is_ok(),
                Transport::Remote(r) => r.changed().await.is_ok(),
            };
            if !changed {
                *self = Transport::None;
                continue;
            }
            if let Some(status) = self.now() {
                return status;
            }
        }
    }
}

/// What only a run reached through its socket has.
pub struct Remote {
    pub run_id: String,
    pub dir: std::path::PathBuf,
    pub screens: watch::Receiver<usize>,
    pub end: JoinHandle<screen::End>,
}

impl Engine {
    /// A run in this process.
    pub fn local(events: Subscription, handle: RunHandle, task: JoinHandle<RunOutcome>) -> Engine {
        Engine {
            events: Events::Local(Box::new(events)),
            transport: match handle.remote() {
                Some(r) => Transport::Local(r),
                None => Transport::None,
            },
            commands: Commands::Local(handle),
            task: Some(task),
            remote: None,
        }
    }

    /// A run reached through its socket.
    pub fn remote(r: screen::Remote) -> Engine {
        Engine {
            events: Events::Remote(r.events),
            commands: Commands::Remote(r.commands),
            task: None,
            transport: Transport::Remote(r.remote),
            remote: Some(Remote {
                run_id: r.run_id,
                dir: r.dir,
                screens: r.screens,
                end: r.end,
            }),
        }
    }
}
