//! Attempts of steps with a `pool`: sent to the run's [`Dispatch`] rather
//! than spawned, started when a worker claims them, and followed again by
//! a resumed run (SPEC §7).
//!
//! [`Dispatch`]: crate::engine::remote::Dispatch

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::engine::event::Event;
use crate::engine::remote::{Adopt, Job, Reports, key};
use crate::engine::scheduler::{Msg, Scheduler};
use crate::engine::state::{Phase, Placed};
use crate::workflow::{Action, OutputMode};

impl Scheduler {
    /// Sends attempt `attempt` of step `i` to its pool, once the journal is
    /// on disk up to `seq` (the events that queued it). `earlier`: the key
    /// of a dispatch of the same attempt by an earlier process of the run.
    pub(in crate::engine) fn dispatch_remote(
        &mut self,
        i: usize,
        attempt: u32,
        cancelled: oneshot::Receiver<()>,
        seq: u64,
    ) {
        let slot = self.slots[i];
        let Some(dispatch) = self.options.dispatch.clone() else {
            return;
        };
        let step = &self.wf.steps[i];
        let (Action::Run(run), Some(pool)) = (&step.action, &step.pool) else {
            return self.runs_nothing(i, attempt);
        };
        let mut env = self.attempt_env(i, (attempt, 0), std::path::Path::new(""));
        // The worker names its own outputs file; the attempt's span is not
        // known before a worker claims it, so its process joins the run's.
        env.retain(|(k, _)| k != "SIGNALBOX_OUTPUT" && k != "TRACEPARENT");
        let run_span = crate::engine::trace_ctx::run_span(self.trace, &self.dir.id);
        env.push((
            "TRACEPARENT".into(),
            crate::engine::trace_ctx::TraceParent::header(self.trace, run_span),
        ));
        let job = Job {
            key: key(&self.dir.id, &step.id, attempt, self.steps[i].queued_seq),
            run: self.dir.id.clone(),
            workflow: self.wf.name.clone(),
            step: step.id.clone(),
            attempt,
            pool: pool.to_string(),
            command: run.command().to_string(),
            shell: step.shell.to_vec(),
            env,
            cwd: step.cwd.clone(),
            timeout: step.timeout,
            kill_grace: step.kill_grace,
            merged: step.output == OutputMode::Merged,
            earlier: self.steps[i].earlier.take(),
            secrets: Vec::new(),
        };
        let mut job = job;
        job.secrets = (self.secrets.values())
            .filter(|s| !s.is_empty() && job.env.iter().any(|(_, v)| v.contains(s)))
            .map(str::to_string)
            .collect();
        let reports = Reports::new(
            self.tx.clone(),
            (slot, attempt),
            self.sink(i),
            self.bus.room().clone(),
            cancelled,
        );
        // One task hands them over, in the order they were started here
        // (priority, then file order), each once what queued it is on disk.
        let sender = self.remote_sender.get_or_insert_with(|| {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Job, Reports)>();
            let durable = self.bus.durable();
            let failed = self.tx.clone();
            tokio::spawn(async move {
                while let Some((seq, job, reports)) = rx.recv().await {
                    // As a local attempt's task does before its spawn.
                    if let Err(e) = durable.ensure(seq) {
                        let _ = failed.send(Msg::SyncFailed(e));
                        continue;
                    }
                    dispatch.dispatch(job, reports);
                }
            });
            tx
        });
        let _ = sender.send((seq, job, reports));
    }

    /// A worker claimed attempt `attempt` of step `i`: it starts now.
    pub(in crate::engine) fn claimed(&mut self, i: usize, attempt: u32, worker: String) {
        let Phase::Running {
            attempt: a,
            started,
            remote: Some(placed),
            ..
        } = &mut self.steps[i].phase
        else {
            return;
        };
        if *a != attempt || placed.worker.is_some() {
            return;
        }
        let now = Instant::now();
        *started = now;
        placed.worker = Some(worker.clone());
        let pool = placed.pool.to_string();
        self.ready_remote.left(&pool);
        self.steps[i].first_start.get_or_insert(now);
        self.emit(Event::StepStarted {
            step: self.wf.steps[i].id.clone(),
            attempt,
            pool: Some(pool),
            worker: Some(worker),
        });
    }

    /// A resumed run follows attempt `attempt` of step `i`, which its
    /// journal shows started on `worker` with `lines` output lines so far.
    pub(in crate::engine) fn adopt_remote(
        &mut self,
        i: usize,
        attempt: u32,
        worker: String,
        lines: u64,
    ) {
        let Some(dispatch) = self.options.dispatch.clone() else {
            return;
        };
        let Some(pool) = self.wf.steps[i].pool.clone() else {
            return;
        };
        let (cancel, cancelled) = oneshot::channel();
        let now = Instant::now();
        self.steps[i].attempts = attempt;
        self.steps[i].first_start.get_or_insert(now);
        self.steps[i].phase = Phase::Running {
            attempt,
            started: now,
            cancel: Some(cancel),
            stop: None,
            via_breaker: self.wf.steps[i].breaker.is_some(),
            remote: Some(Box::new(Placed {
                pool: pool.clone(),
                worker: Some(worker.clone()),
            })),
        };
        self.running += 1;
        self.remote += 1;
        self.group_started(i);
        let slot = self.slots[i];
        let step = self.wf.steps[i].id.clone();
        let adopt = Adopt {
            key: key(&self.dir.id, &step, attempt, self.steps[i].queued_seq),
            step,
            attempt,
            pool: pool.to_string(),
            worker,
            lines,
        };
        let reports = Reports::new(
            self.tx.clone(),
            (slot, attempt),
            self.sink(i),
            self.bus.room().clone(),
            cancelled,
        );
        dispatch.adopt(adopt, reports);
    }
}
