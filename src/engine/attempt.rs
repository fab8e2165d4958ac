//! One attempt of a `run` step: admission, the task that syncs the journal
//! and runs its process, and what the scheduler does when it ends.

use std::collections::BTreeMap;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::event::{Event, Stream};
use super::policy::{self, Verdict};
use super::process::{self, Exit, ProcessSpec};
use super::scheduler::{Msg, Scheduler};
use super::state::Phase;
use crate::workflow::{Action, OutputMode};

mod ended;
mod remote;

/// How an attempt's process ended, and the outputs it wrote.
#[derive(Debug)]
pub struct AttemptResult {
    pub exit: Result<Exit, String>,
    pub outputs: BTreeMap<String, String>,
    /// The worker it ran on was lost: no verdict on a breaker's service.
    pub lost: bool,
}

impl Scheduler {
    /// Starts the next attempt of a queued step, or fails it at once when its
    /// breaker is open.
    pub(super) fn start_attempt(&mut self, i: usize, seq: u64) {
        let attempt = self.steps[i].attempts + 1;
        self.steps[i].attempts = attempt;
        let now = Instant::now();
        let mut via_breaker = false;
        if let Some(name) = self.wf.steps[i].breaker.clone() {
            let since = now.duration_since(self.started);
            if let Some(b) = self.breakers.get_mut(&name) {
                let (verdict, change) = policy::breaker(&name, b, since);
                self.breaker_changed(&name, change);
                if let Verdict::FailFast(error) = verdict {
                    self.steps[i].phase = Phase::Pending;
                    self.attempt_failed(i, attempt, error, None);
                    return;
                }
                via_breaker = true;
            }
        }
        if let Some(pool) = self.wf.steps[i].pool.clone() {
            if self.options.dispatch.is_none() {
                // Never run here what was meant for another machine.
                self.steps[i].phase = Phase::Pending;
                let error = format!("no connection to workers: cannot send it to pool {pool}");
                self.attempt_failed(i, attempt, error, None);
                return;
            }
            // Started once a worker claims it (`claimed`).
            let (cancel, cancelled) = oneshot::channel();
            self.steps[i].phase = Phase::Running {
                attempt,
                started: now,
                cancel: Some(cancel),
                stop: None,
                via_breaker,
                remote: Some(Box::new(super::state::Placed {
                    pool: pool.clone(),
                    worker: None,
                })),
            };
            self.running += 1;
            self.remote += 1;
            self.ready_remote.sent(&pool);
            self.group_started(i);
            self.dispatch_remote(i, attempt, cancelled, seq);
            return;
        }
        self.steps[i].first_start.get_or_insert(now);
        self.emit(Event::StepStarted {
            step: self.wf.steps[i].id.clone(),
            attempt,
            pool: None,
            worker: None,
        });
        // The seq of that `step_started` names the attempt's span.
        let started_seq = self.bus.seq();
        let (cancel, cancelled) = oneshot::channel();
        self.steps[i].phase = Phase::Running {
            attempt,
            started: now,
            cancel: Some(cancel),
            stop: None,
            via_breaker,
            remote: None,
        };
        self.running += 1;
        self.group_started(i);
        self.spawn_process(i, (attempt, started_seq), cancelled, seq);
    }

    /// Runs the attempt's process on its own task, once the journal is on
    /// disk up to `seq`, the events that led to it.
    fn spawn_process(
        &mut self,
        i: usize,
        (attempt, started_seq): (u32, u64),
        cancelled: oneshot::Receiver<()>,
        seq: u64,
    ) {
        // What the attempt's task sends back names the step by its slot,
        // which an edit never moves (see `Scheduler::slots`).
        let slot = self.slots[i];
        let step = &self.wf.steps[i];
        let Action::Run(run) = &step.action else {
            return self.runs_nothing(i, attempt);
        };
        let id = step.id.clone();
        // Absolute: a step that changes directory still finds it, and it
        // names this run folder among copies of the run (process::Mark).
        let output_path = self.dir.output_path(&id);
        let output_path = std::path::absolute(&output_path).unwrap_or(output_path);
        let spec = ProcessSpec {
            command: run.command().to_string(),
            shell: step.shell.to_vec(),
            env: self.attempt_env(i, (attempt, started_seq), &output_path),
            unset: self.secrets.env_vars(&self.wf),
            cwd: match (&self.options.workdir, &step.cwd) {
                (Some(base), Some(cwd)) => Some(base.join(cwd)),
                (Some(base), None) => Some(base.clone()),
                (None, cwd) => cwd.as_ref().map(std::path::PathBuf::from),
            },
            timeout: step.timeout,
            kill_grace: step.kill_grace,
            mark: Some(process::Mark {
                run: self.dir.id.clone(),
                step: id.clone(),
                attempt,
                output: output_path.display().to_string(),
            }),
            output_room: Some(self.bus.room().clone()),
            merged: step.output == OutputMode::Merged,
            stdin: None,
        };
        // signalbox's own remarks on the step's outputs go with its stderr.
        let problem_stream = if spec.merged {
            Stream::Output
        } else {
            Stream::Stderr
        };
        let pids = self.pids_file();
        let pid_step = id.clone();
        let out_step = id.clone();
        let tx = self.tx.clone();
        let durable = self.bus.durable();
        let room = self.bus.room().clone();
        let mut sink = self.sink(i);
        tokio::spawn(async move {
            // On this worker rather than the scheduler's: steps that end
            // together share one sync, and the scheduler goes on meanwhile.
            if let Err(e) = durable.ensure(seq) {
                let _ = tx.send(Msg::SyncFailed(e));
                let _ = tx.send(Msg::Exited {
                    step: slot,
                    attempt,
                    result: AttemptResult {
                        exit: Ok(Exit::Cancelled),
                        outputs: BTreeMap::new(),
                        lost: false,
                    },
                });
                return;
            }
            // A fresh output file per attempt. Not made here: creating a
            // file per attempt costs more than the rest of a `true` step on
            // ext4; the step makes it in `outputs/` (0700), and reading it
            // makes it 0600.
            let _ = std::fs::remove_file(&output_path);
            let exit = process::run(
                &spec,
                async {
                    let _ = cancelled.await;
                },
                |s| {
                    // Kept until the attempt ends, so a resumed run can kill
                    // what survives a crash of this process.
                    match &pids {
                        Ok(f) => {
                            if let Err(e) = super::run_dir::record_pgid(f, &pid_step, s.pgid) {
                                tracing::warn!(
                                    "cannot record the process group of {pid_step}: {e}"
                                );
                            }
                        }
                        Err(e) => tracing::warn!("cannot record process groups: {e}"),
                    }
                },
                |stream, line| sink.line(super::sink::event_stream(stream), line),
            )
            .await
            .map_err(|e| e.to_string());
            let outputs = match exit {
                Ok(Exit::Code(0)) => {
                    let read = super::run_dir::read_outputs(&output_path);
                    // Said where the step's own lines are: its log and events.
                    for problem in read.problems {
                        sink.remark(problem_stream, &room, &problem);
                    }
                    sink.outputs(read.values)
                }
                _ => BTreeMap::new(),
            };
            // The step wrote the file and may have put a secret in it.
            if let Err(e) = super::mask::mask_file(&output_path, sink.mask()) {
                tracing::warn!("cannot mask the outputs of {out_step}: {e}");
            }
            let _ = tx.send(Msg::Exited {
                step: slot,
                attempt,
                result: AttemptResult {
                    exit,
                    outputs,
                    lost: false,
                },
            });
        });
    }

    /// Ends attempt `attempt` of step `i`, which has no command: else the
    /// run would wait for it forever (and so would a cancel).
    pub(super) fn runs_nothing(&self, i: usize, attempt: u32) {
        let _ = self.tx.send(Msg::Exited {
            step: self.slots[i],
            attempt,
            result: AttemptResult {
                exit: Err(format!("`{}` runs no command", self.wf.steps[i].id)),
                outputs: BTreeMap::new(),
                lost: false,
            },
        });
    }

    /// Where step `i`'s lines go (see `sink`).
    pub(super) fn sink(&self, i: usize) -> super::sink::Sink {
        super::sink::Sink::new(
            self.tx.clone(),
            self.slots[i],
            self.secrets.masker().clone(),
            self.dir.clone(),
            self.wf.steps[i].id.clone(),
        )
    }

    /// `<run>/pids`, opened once for the run.
    fn pids_file(&mut self) -> Result<std::sync::Arc<std::fs::File>, String> {
        if let Some(f) = &self.pids {
            return Ok(f.clone());
        }
        let path = super::run_dir::pids_path(&self.dir);
        let f = self
            .dir
            .open_file("pids", super::fsafe::How::Append)
            .map(std::sync::Arc::new)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.pids = Some(f.clone());
        Ok(f)
    }
}
