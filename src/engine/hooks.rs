//! Hooks: commands run for the run's events, which never change the run.
//!
//! One task reads the run's events as a subscriber of the bus (so it never
//! slows the owner, and never loses an event) and hands each event a hook
//! wants to that hook's own queue, bounded at [`QUEUE`]: past it, events are
//! dropped for that hook and the drops logged with their count. Each hook
//! has a worker that runs its queue one event at a time, at most
//! [`PARALLEL`] hook processes at once per run, through the engine's
//! process code (own group, kill ladder, marker variables). What happened
//! goes back to the owner as [`Msg::HookFinished`], which it journals as
//! `hook_finished`. At the run's end (see [`Hooks::close`]) the hooks still
//! running are killed, queued events are let go, and the hooks on
//! `run_finished` run, each up to its timeout, before the task ends.
//! It must not know the scheduler's state: what a hook reads (vars,
//! secrets, the run id) is rendered by the owner when the run starts.

mod exec;
mod owner;

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::bus::{Published, Subscription};
use super::scheduler::Msg;
use crate::workflow::Hook;

/// Hook processes running at once in one run.
pub const PARALLEL: usize = 4;
/// Events one hook may have waiting; past it they are dropped for it.
pub const QUEUE: usize = 256;

/// One hook as it runs in this run: the environment its templates stand
/// for, rendered when the run started.
#[derive(Debug)]
pub(super) struct Prepared {
    pub hook: Hook,
    pub env: Vec<(String, String)>,
}

/// What every hook of the run shares.
#[derive(Debug)]
pub(super) struct Setup {
    pub run_id: String,
    /// The run folder, absolute: the hooks' marker paths name it.
    pub folder: std::path::PathBuf,
    pub workdir: Option<std::path::PathBuf>,
    /// The variables secrets are read from: no hook inherits them.
    pub unset: Vec<String>,
    pub tx: mpsc::UnboundedSender<Msg>,
}

/// Where the run is, as the workers see it.
#[derive(Debug, Clone)]
enum Phase {
    Live,
    /// Over, with its `run_finished` when that was published.
    Over(Option<Arc<Published>>),
}

impl Phase {
    fn over(&self) -> bool {
        matches!(self, Phase::Over(_))
    }
}

/// The owner's end of the hooks: dropping it kills every hook process.
pub(super) struct Hooks {
    close: Option<oneshot::Sender<bool>>,
    task: JoinHandle<()>,
}

impl Hooks {
    /// Starts the hooks on `events`, which must be subscribed before the
    /// first event they may run for.
    pub(super) fn start(events: Subscription, hooks: Vec<Prepared>, setup: Setup) -> Hooks {
        let (close, closed) = oneshot::channel();
        let task = tokio::spawn(dispatch(events, hooks, Arc::new(setup), closed));
        Hooks {
            close: Some(close),
            task,
        }
    }

    /// The run is over: `published` says whether its `run_finished` went
    /// out (a journal that failed stops the run without one).
    pub(super) fn close(&mut self, published: bool) {
        if let Some(close) = self.close.take() {
            let _ = close.send(published);
        }
    }

    /// Ends once every hook has ended.
    pub(super) fn done(&mut self) -> &mut JoinHandle<()> {
        &mut self.task
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        // The workers' tasks go with the JoinSet, and each process with
        // its future (the process code kills its group on drop).
        self.task.abort();
    }
}

/// A hook's queue and its drops.
struct Queue {
    tx: mpsc::Sender<Arc<Published>>,
    /// Set at its first drop: a hook that fell behind is stopped when the
    /// run ends; one that kept up finishes what it has queued first.
    behind: Arc<std::sync::atomic::AtomicBool>,
    /// Dropped since it last had room, to say how many once it has again.
    streak: u64,
    dropped: u64,
}

async fn dispatch(
    mut events: Subscription,
    hooks: Vec<Prepared>,
    setup: Arc<Setup>,
    mut closed: oneshot::Receiver<bool>,
) {
    let (phase, watching) = watch::channel(Phase::Live);
    let slots = Arc::new(Semaphore::new(PARALLEL));
    let mut workers = JoinSet::new();
    let mut queues = Vec::with_capacity(hooks.len());
    let hooks: Vec<Arc<Prepared>> = hooks.into_iter().map(Arc::new).collect();
    for hook in &hooks {
        let (tx, rx) = mpsc::channel(QUEUE);
        let behind = Arc::new(std::sync::atomic::AtomicBool::new(false));
        queues.push(Queue {
            tx,
            behind: behind.clone(),
            streak: 0,
            dropped: 0,
        });
        let worker = exec::Worker {
            behind,
            hook: hook.clone(),
            setup: setup.clone(),
            slots: slots.clone(),
            phase: watching.clone(),
        };
        workers.spawn(worker.run(rx));
    }
    let mut listening = true;
    let finished = loop {
        tokio::select! {
            biased;
            p = events.recv() => match p {
                None => break None,
                Some(p) if event_type(&p.line) == Some("run_finished") => break Some(p),
                Some(p) => offer(&hooks, &mut queues, &p),
            },
            // Once it went out, `run_finished` is on its way here.
            published = &mut closed, if listening => match published {
                Ok(true) => listening = false,
                _ => break None,
            },
        }
    };
    for (hook, q) in hooks.iter().zip(&queues) {
        if q.dropped > 0 {
            tracing::warn!(
                hook = %hook.hook.name,
                dropped = q.dropped,
                "hook `{}` dropped {} events in all: its queue of {QUEUE} was full",
                hook.hook.name,
                q.dropped
            );
        }
    }
    phase.send_replace(Phase::Over(finished));
    drop(queues);
    while workers.join_next().await.is_some() {}
}

/// Queues `p` for every hook that wants it, or counts it dropped.
fn offer(hooks: &[Arc<Prepared>], queues: &mut [Queue], p: &Arc<Published>) {
    let Some(kind) = event_type(&p.line) else {
        return;
    };
    let step = p.envelope.event.step();
    for (hook, q) in hooks.iter().zip(queues.iter_mut()) {
        if !hook.hook.wants(kind, step) {
            continue;
        }
        let name = &hook.hook.name;
        match q.tx.try_send(p.clone()) {
            Ok(()) if q.streak > 0 => {
                tracing::warn!(hook = %name, dropped = q.streak, "hook `{name}` has room again after dropping {} events", q.streak);
                q.streak = 0;
            }
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                if q.streak == 0 {
                    tracing::warn!(hook = %name, "hook `{name}` is behind: its queue of {QUEUE} events is full, so events are dropped for it");
                }
                q.streak += 1;
                q.dropped += 1;
                q.behind.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// The `type` of a journal line, read without parsing it: the envelope's
/// `seq`, `ts` and `run` come first, and none of them can hold a quote.
fn event_type(line: &str) -> Option<&str> {
    const KEY: &str = "\"type\":\"";
    let start = line.find(KEY)? + KEY.len();
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::{Envelope, Event};

    #[test]
    fn the_type_is_read_from_the_line_as_serde_writes_it() {
        let e = Envelope {
            seq: 7,
            ts: "2026-01-01T00:00:00.000Z".into(),
            run: "r-1".into(),
            event: Event::StepOutput {
                step: "a".into(),
                stream: crate::engine::event::Stream::Output,
                line: "\"type\":\"run_finished\"".into(),
            },
        };
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(event_type(&line), Some("step_output"));
    }

    fn envelope(seq: u64, event: Event) -> Envelope {
        Envelope {
            seq,
            ts: "2026-01-01T00:00:00Z".into(),
            run: "r".into(),
            event,
        }
    }

    fn hook_finished(hook: &str, on_seq: u64) -> Event {
        Event::HookFinished {
            hook: hook.into(),
            on_seq,
            exit_code: Some(0),
            error: None,
            duration_ms: 1,
        }
    }

    #[test]
    fn a_journal_may_hold_hook_finished_after_run_finished_but_only_of_its_hooks() {
        let wf = crate::workflow::load_str(
            "name: t\nhooks:\n  - name: tidy\n    on: [run_finished]\n    run: 'true'\nsteps:\n  a: { run: 'true' }\n",
            "t.yaml",
        )
        .unwrap();
        let a = || "a".to_string();
        let events = [
            Event::RunStarted {
                workflow: "t".into(),
                steps: 1,
                resumed: false,
            },
            hook_finished("tidy", 1),
            Event::StepReady { step: a() },
            Event::StepStarted {
                step: a(),
                attempt: 1,
                pool: None,
                worker: None,
            },
            Event::StepSucceeded {
                step: a(),
                attempt: 1,
                duration_ms: 1,
                outputs: Default::default(),
                fallback: false,
            },
            Event::RunFinished {
                status: crate::engine::event::RunStatus::Succeeded,
                duration_ms: 1,
            },
            hook_finished("tidy", 6),
        ];
        let mut events: Vec<Envelope> = (1..).zip(events).map(|(n, e)| envelope(n, e)).collect();
        let check = |events: &[Envelope]| crate::engine::journal_check::check_all(&wf, "r", events);
        assert!(check(&events).is_ok(), "{:?}", check(&events));
        events.push(envelope(8, hook_finished("other", 6)));
        let refused = check(&events).unwrap_err();
        assert_eq!(refused.line, 8);
        assert!(
            refused.reason.contains("hook `other`"),
            "{}",
            refused.reason
        );
    }
}
