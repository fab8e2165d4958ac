//! One hook's worker: runs its queued events one at a time, each as a
//! process of its own (see `engine::process`), and tells the owner how
//! each ended. At the run's end a hook that kept up finishes what it has
//! queued (the run's last events, a failure among them), within its
//! `timeout` in all; one that fell behind (it dropped events) is stopped
//! and its queue let go. Then it runs for `run_finished` if it is on it.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Semaphore, mpsc, watch};

use super::{Phase, Prepared, Setup};
use crate::engine::bus::Published;
use crate::engine::process::{self, Exit, ProcessSpec};
use crate::engine::scheduler::Msg;

/// Lines of one hook run written to `signalbox.log`; the rest are counted.
const LOG_LINES: usize = 200;
/// Bytes of one logged line.
const LOG_LINE_BYTES: usize = 1024;

pub(super) struct Worker {
    /// Whether the hook has dropped an event (see `Queue::behind`).
    pub behind: Arc<std::sync::atomic::AtomicBool>,
    pub hook: Arc<Prepared>,
    pub setup: Arc<Setup>,
    pub slots: Arc<Semaphore>,
    pub phase: watch::Receiver<Phase>,
}

/// When a hook run is stopped before its own timeout.
#[derive(Debug, Clone, Copy)]
enum Until {
    /// When the run ends, if the hook fell behind; else at the end of the
    /// grace a hook that kept up has to finish (its `timeout`).
    RunEnd,
    /// At this time: the end of the grace, while the queue drains.
    Deadline(tokio::time::Instant),
    /// Never: the run is over, this is its `run_finished`.
    Never,
}

/// How a hook run ended, as `hook_finished` says it and metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    TimedOut,
    /// Stopped because the run ended.
    Killed,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Killed => "killed",
        }
    }
}

impl Worker {
    pub(super) async fn run(mut self, mut queue: mpsc::Receiver<Arc<Published>>) {
        let mut n = 0u32;
        loop {
            let p = tokio::select! {
                biased;
                _ = self.phase.wait_for(Phase::over) => break,
                p = queue.recv() => match p {
                    Some(p) => p,
                    None => break,
                },
            };
            n += 1;
            self.once(&p, n, Until::RunEnd).await;
        }
        if !self.fell_behind() {
            let deadline = tokio::time::Instant::now() + self.hook.hook.timeout;
            while tokio::time::Instant::now() < deadline
                && let Ok(p) = queue.try_recv()
            {
                n += 1;
                self.once(&p, n, Until::Deadline(deadline)).await;
            }
        }
        let left = queue.len();
        if left > 0 {
            tracing::warn!(hook = %self.hook.hook.name, left, "the run ended with {left} events queued for hook `{}`; they are not run", self.hook.hook.name);
        }
        let finished = match &*self.phase.borrow() {
            Phase::Over(Some(p)) => Some(p.clone()),
            _ => None,
        };
        if let Some(p) = finished
            && self.hook.hook.wants("run_finished", None)
        {
            self.once(&p, n + 1, Until::Never).await;
        }
    }

    fn fell_behind(&self) -> bool {
        self.behind.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs the hook for `p`, stopped as `until` says.
    async fn once(&self, p: &Published, n: u32, until: Until) {
        let mut phase = self.phase.clone();
        let behind = self.behind.clone();
        let grace = self.hook.hook.timeout;
        let ended = async move {
            match until {
                Until::RunEnd => {
                    // An error means the dispatcher is gone: over, too.
                    let _ = phase.wait_for(Phase::over).await;
                    if !behind.load(std::sync::atomic::Ordering::Relaxed) {
                        tokio::time::sleep(grace).await;
                    }
                }
                Until::Deadline(at) => tokio::time::sleep_until(at).await,
                Until::Never => std::future::pending::<()>().await,
            }
        };
        tokio::pin!(ended);
        let _slot = tokio::select! {
            slot = self.slots.acquire() => slot,
            // It never started: nothing ran, nothing to journal.
            () = &mut ended => return,
        };
        let began = Instant::now();
        let spec = self.spec(p, n);
        let name = &self.hook.hook.name;
        let mut logged = 0usize;
        let exit = process::run(
            &spec,
            ended,
            |_| {},
            |_, line| {
                logged += 1;
                if logged <= LOG_LINES {
                    let cut = cut(&line, LOG_LINE_BYTES);
                    tracing::info!(hook = %name, "hook `{name}`: {cut}");
                }
            },
        )
        .await;
        if logged > LOG_LINES {
            tracing::info!(hook = %name, "hook `{name}`: {} more lines not logged", logged - LOG_LINES);
        }
        let (outcome, exit_code, error) = self.judge(exit);
        let duration_ms = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &error {
            Some(e) => {
                tracing::warn!(hook = %name, on_seq = p.envelope.seq, outcome = outcome.word(), "hook `{name}` failed: {e}")
            }
            None => {
                tracing::info!(hook = %name, on_seq = p.envelope.seq, duration_ms, "hook `{name}` succeeded")
            }
        }
        let _ = self.setup.tx.send(Msg::HookFinished {
            hook: name.clone(),
            on_seq: p.envelope.seq,
            exit_code,
            error,
            duration_ms,
            outcome: outcome.word(),
        });
    }

    fn judge(
        &self,
        exit: Result<Exit, process::SpawnError>,
    ) -> (Outcome, Option<i32>, Option<String>) {
        match exit {
            Ok(Exit::Code(0)) => (Outcome::Succeeded, Some(0), None),
            Ok(Exit::Code(c)) => (Outcome::Failed, Some(c), Some(format!("exit code {c}"))),
            Ok(Exit::Signal(s)) => (Outcome::Failed, None, Some(format!("killed by signal {s}"))),
            Ok(Exit::TimedOut) => (
                Outcome::TimedOut,
                None,
                Some(format!(
                    "timed out after {}",
                    crate::workflow::duration::format(self.hook.hook.timeout)
                )),
            ),
            Ok(Exit::Cancelled) => (
                Outcome::Killed,
                None,
                Some("killed: the run ended while the hook ran".to_string()),
            ),
            Err(e) => (Outcome::Failed, None, Some(e.to_string())),
        }
    }

    /// The process for hook run `n`, on event `p`.
    fn spec(&self, p: &Published, n: u32) -> ProcessSpec {
        let hook = &self.hook.hook;
        let setup = &self.setup;
        let step = p.envelope.event.step().map(str::to_string);
        // Never written: it names this hook run apart from every step's
        // attempt (and every other hook run) for the marker search, and
        // the run folder for `resume`'s.
        let marker = setup
            .folder
            .join("outputs")
            .join(format!(".hook-{}-{n}", hook.name.replace('/', "_")));
        let marker = marker.display().to_string();
        let mut env = self.hook.env.clone();
        env.push(("SIGNALBOX_RUN_ID".into(), setup.run_id.clone()));
        if let Some(kind) = super::event_type(&p.line) {
            env.push(("SIGNALBOX_EVENT".into(), kind.to_string()));
        }
        if let Some(step) = &step {
            env.push(("SIGNALBOX_STEP".into(), step.clone()));
        }
        env.push(("SIGNALBOX_ATTEMPT".into(), n.to_string()));
        env.push(("SIGNALBOX_OUTPUT".into(), marker.clone()));
        ProcessSpec {
            command: hook.command.clone(),
            shell: hook.shell.to_vec(),
            env,
            cwd: setup.workdir.clone(),
            unset: setup.unset.clone(),
            timeout: Some(hook.timeout),
            kill_grace: hook.kill_grace,
            mark: Some(process::Mark {
                run: setup.run_id.clone(),
                step: step.unwrap_or_default(),
                attempt: n,
                output: marker,
            }),
            output_room: None,
            merged: true,
            stdin: Some(p.line.as_str().into()),
        }
    }
}

/// `line` up to `max` bytes, at a character's boundary.
fn cut(line: &str, max: usize) -> &str {
    if line.len() <= max {
        return line;
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}
