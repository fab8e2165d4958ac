//! Signals from the moment a command that drives a run starts. Until the
//! run is driven (`resume` reading and checking its journal, killing what
//! survived), SIGTERM, SIGINT and SIGHUP end the process at once with exit
//! 130: nothing has been journaled that a cancel would need to close. From
//! the hand-over on they cancel the run like `run`'s own handler, so a
//! signal that comes between the two is never lost.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::signal::unix::{SignalKind, signal};

use super::exit;
use crate::engine::{By, Command, RunHandle};

/// Watches the stop signals; dropping it stops watching.
pub struct Early {
    run: Arc<Mutex<Option<RunHandle>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Early {
    /// Registers the handlers now (not when a task first runs), so a
    /// signal from here on is caught rather than killing the process.
    pub fn watch(runtime: &tokio::runtime::Runtime) -> Early {
        let _inside = runtime.enter();
        let run: Arc<Mutex<Option<RunHandle>>> = Arc::default();
        let streams = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        );
        let task = match streams {
            (Ok(mut term), Ok(mut int), Ok(mut hup)) => {
                let run = run.clone();
                Some(tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            _ = term.recv() => {}
                            _ = int.recv() => {}
                            _ = hup.recv() => {}
                        }
                        let handle = run.lock().unwrap_or_else(PoisonError::into_inner).clone();
                        match handle {
                            Some(h) => h.send(Command::Cancel {
                                step: None,
                                by: By::Keyboard,
                            }),
                            None => {
                                crate::safe::say!(
                                    "signalbox: stopped by a signal before the run went on"
                                );
                                std::process::exit(i32::from(exit::CANCELLED));
                            }
                        }
                    }
                }))
            }
            _ => {
                tracing::warn!("cannot watch signals: SIGTERM ends the process unannounced");
                None
            }
        };
        Early { run, task }
    }

    /// From now on a signal cancels this run.
    pub fn hand_over(&self, handle: RunHandle) {
        *self.run.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
    }
}

impl Drop for Early {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
