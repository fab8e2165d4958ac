#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The engine's side of steps with a `pool` (SPEC §7), through a
//! transport played by the test: what a run journals when a worker claims
//! an attempt, prints, ends, is lost, or is cancelled before any worker
//! took it. The NATS transport itself is tested in `tests/distributed`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use signalbox::engine::event::Stream;
use signalbox::engine::process::Exit;
use signalbox::engine::remote::{Adopt, Dispatch, Job, RemoteStatus, Reports};
use signalbox::engine::{Run, RunOptions, RunStatus};
use signalbox::workflow::load_str;
use tokio::sync::{mpsc, watch};

/// What the test's transport does with each attempt it is given.
#[derive(Debug, Clone, Copy)]
enum Play {
    /// Claimed by `w1`, prints two lines, exits with this code.
    Exit(i32),
    /// Claimed by `w1`, then the worker is lost.
    Lost,
    /// Never claimed: waits for a cancel.
    Queue,
    /// Claimed, then runs until cancelled.
    Hang,
    /// After 300 ms, waits for the one worker slot (first come, first
    /// served), is claimed, runs 5 ms and succeeds.
    OneSlot,
}

#[derive(Debug)]
struct Fake {
    /// Per step, what its attempts do in turn (the last repeats).
    plays: Mutex<BTreeMap<String, Vec<Play>>>,
    jobs: mpsc::UnboundedSender<Job>,
    adopts: mpsc::UnboundedSender<Adopt>,
    status: watch::Receiver<RemoteStatus>,
    slot: Arc<tokio::sync::Semaphore>,
}

impl Dispatch for Fake {
    fn dispatch(&self, job: Job, mut reports: Reports) {
        let play = {
            let mut plays = self.plays.lock().unwrap();
            let list = plays.entry(job.step.clone()).or_default();
            if list.len() > 1 {
                list.remove(0)
            } else {
                list.first().copied().unwrap_or(Play::Exit(0))
            }
        };
        let _ = self.jobs.send(job);
        let slot = self.slot.clone();
        tokio::spawn(async move {
            match play {
                Play::Exit(code) => {
                    reports.claimed("w1");
                    reports.line(Stream::Output, "hello from w1".into()).await;
                    reports.line(Stream::Output, "second line".into()).await;
                    let outputs = BTreeMap::from([("version".to_string(), "1.2".to_string())]);
                    reports.exited(Ok(Exit::Code(code)), outputs);
                }
                Play::Lost => {
                    reports.claimed("w1");
                    reports.lost("w1");
                }
                Play::Queue => {
                    reports.cancelled().await;
                    reports.exited(Ok(Exit::Cancelled), BTreeMap::new());
                }
                Play::Hang => {
                    reports.claimed("w1");
                    reports.cancelled().await;
                    reports.exited(Ok(Exit::Cancelled), BTreeMap::new());
                }
                Play::OneSlot => {
                    // The worker comes once `first` has long ended.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let _permit = slot.acquire().await;
                    reports.claimed("w1");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    reports.exited(Ok(Exit::Code(0)), BTreeMap::new());
                }
            }
        });
    }

    /// An adopted attempt says one more line and ends well.
    fn adopt(&self, adopt: Adopt, mut reports: Reports) {
        let _ = self.adopts.send(adopt);
        tokio::spawn(async move {
            reports.claimed("w1");
            reports.line(Stream::Output, "after the crash".into()).await;
            reports.exited(Ok(Exit::Code(0)), BTreeMap::new());
        });
    }

    fn status(&self) -> watch::Receiver<RemoteStatus> {
        self.status.clone()
    }
}

fn fake(
    plays: &[(&str, Vec<Play>)],
    jobs: mpsc::UnboundedSender<Job>,
) -> (Fake, mpsc::UnboundedReceiver<Adopt>) {
    let (_status_tx, status) = watch::channel(RemoteStatus::default());
    let (adopts, adopted) = mpsc::unbounded_channel();
    let fake = Fake {
        plays: Mutex::new(
            plays
                .iter()
                .map(|(s, p)| (s.to_string(), p.clone()))
                .collect(),
        ),
        jobs,
        adopts,
        status,
        slot: Arc::new(tokio::sync::Semaphore::new(1)),
    };
    (fake, adopted)
}

struct Ran {
    status: RunStatus,
    events: Vec<Value>,
    jobs: Vec<Job>,
}

async fn run(yaml: &str, plays: &[(&str, Vec<Play>)], jobs: Option<usize>) -> Ran {
    run_with(yaml, plays, jobs, |_| {}).await
}

/// Runs `yaml` with the fake transport; `during` gets the handle once the
/// run has started.
async fn run_with(
    yaml: &str,
    plays: &[(&str, Vec<Play>)],
    jobs: Option<usize>,
    during: impl FnOnce(signalbox::engine::RunHandle),
) -> Ran {
    let wf = load_str(yaml, "test.yaml").unwrap();
    let state = tempfile::tempdir().unwrap();
    let (jobs_tx, mut jobs_rx) = mpsc::unbounded_channel();
    let (fake, _adopts) = fake(plays, jobs_tx);
    let options = RunOptions {
        state_dir: state.path().to_path_buf(),
        seed: Some(1),
        jobs,
        dispatch: Some(Arc::new(fake)),
        ..RunOptions::default()
    };
    let mut run = Run::new(wf, options).unwrap();
    let mut sub = run.subscribe();
    during(run.handle());
    let task = tokio::spawn(run.start());
    let mut events = Vec::new();
    while let Some(p) = sub.recv().await {
        events.push(serde_json::to_value(&p.envelope.event).unwrap());
    }
    let outcome = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .unwrap()
        .unwrap();
    let mut jobs = Vec::new();
    while let Ok(j) = jobs_rx.try_recv() {
        jobs.push(j);
    }
    Ran {
        status: outcome.status,
        events,
        jobs,
    }
}

fn of<'a>(events: &'a [Value], ty: &str, step: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == ty && e["step"] == step)
        .collect()
}

#[tokio::test]
async fn a_pool_step_starts_when_a_worker_claims_it_and_ends_as_it_reports() {
    let ran = run(
        "name: t\nsteps:\n  build:\n    pool: linux\n    run: make {{ vars.x }}\n    env: { A: b }\n  after:\n    needs: [build]\n    run: echo {{ steps.build.outputs.version }}\nvars: { x: all }\n",
        &[("build", vec![Play::Exit(0)])],
        None,
    )
    .await;
    assert_eq!(ran.status, RunStatus::Succeeded, "{:#?}", ran.events);
    let started = of(&ran.events, "step_started", "build");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["pool"], "linux");
    assert_eq!(started[0]["worker"], "w1");
    // A local step's start names neither.
    let local = of(&ran.events, "step_started", "after");
    assert!(local[0].get("pool").is_none() && local[0].get("worker").is_none());
    let lines: Vec<&str> = of(&ran.events, "step_output", "build")
        .iter()
        .map(|e| e["line"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["hello from w1", "second line"]);
    let ok = of(&ran.events, "step_succeeded", "build");
    assert_eq!(ok[0]["outputs"]["version"], "1.2");
    // The job carried the command with its templates as variables, and
    // the environment the step would get here, without a local outputs path.
    let job = &ran.jobs[0];
    assert_eq!(job.pool, "linux");
    assert_eq!(job.attempt, 1);
    assert!(job.command.contains("$SIGNALBOX_"), "{}", job.command);
    let env: BTreeMap<_, _> = job.env.iter().cloned().collect();
    assert_eq!(env.get("A").map(String::as_str), Some("b"));
    assert_eq!(env.get("SIGNALBOX_STEP").map(String::as_str), Some("build"));
    assert_eq!(env.get("SIGNALBOX_ATTEMPT").map(String::as_str), Some("1"));
    assert!(env.values().any(|v| v == "all"), "{env:?}");
    assert!(!env.contains_key("SIGNALBOX_OUTPUT"));
    assert!(
        job.key.starts_with(&format!("{}.build.1.", job.run)),
        "{}",
        job.key
    );
}

#[tokio::test]
async fn a_lost_worker_fails_the_attempt_and_the_retry_rules_apply() {
    let ran = run(
        "name: t\nbreakers:\n  svc: { failures: 1, cooldown: 60s }\nsteps:\n  build:\n    pool: linux\n    breaker: svc\n    retry: { attempts: 2, delay: 10ms }\n    run: make\n",
        &[("build", vec![Play::Lost, Play::Exit(0)])],
        None,
    )
    .await;
    assert_eq!(ran.status, RunStatus::Succeeded, "{:#?}", ran.events);
    let retrying = of(&ran.events, "step_retrying", "build");
    assert_eq!(retrying.len(), 1);
    assert_eq!(retrying[0]["error"], "worker w1 lost");
    assert_eq!(retrying[0]["attempt"], 1);
    // A lost worker is no verdict on the breaker's service: it stayed closed.
    assert!(
        !ran.events.iter().any(|e| e["type"] == "breaker_changed"),
        "{:#?}",
        ran.events
    );
    let started = of(&ran.events, "step_started", "build");
    assert_eq!(started.len(), 2);
    assert_eq!(started[1]["attempt"], 2);
    // Each dispatch has its own key.
    assert_eq!(ran.jobs.len(), 2);
    assert_ne!(ran.jobs[0].key, ran.jobs[1].key);
}

#[tokio::test]
async fn a_failing_remote_attempt_fails_its_step_with_its_exit_code() {
    let ran = run(
        "name: t\nsteps:\n  build:\n    pool: linux\n    run: make\n",
        &[("build", vec![Play::Exit(3)])],
        None,
    )
    .await;
    assert_eq!(ran.status, RunStatus::Failed);
    let failed = of(&ran.events, "step_failed", "build");
    assert_eq!(failed[0]["exit_code"], 3);
    assert_eq!(failed[0]["error"], "exit code 3");
}

#[tokio::test]
async fn a_step_cancelled_while_queued_on_its_pool_never_started() {
    let ran = run_with(
        "name: t\nsteps:\n  build:\n    pool: linux\n    run: make\n  hang:\n    pool: linux\n    run: sleep 100\n",
        &[("build", vec![Play::Queue]), ("hang", vec![Play::Hang])],
        None,
        |handle| {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                handle.send(signalbox::engine::Command::Cancel {
                    step: None,
                    by: signalbox::engine::By::Socket,
                });
            });
        },
    )
    .await;
    assert_eq!(ran.status, RunStatus::Cancelled, "{:#?}", ran.events);
    assert!(of(&ran.events, "step_started", "build").is_empty());
    assert_eq!(of(&ran.events, "step_cancelled", "build").len(), 1);
    assert_eq!(of(&ran.events, "step_started", "hang").len(), 1);
    assert_eq!(of(&ran.events, "step_cancelled", "hang").len(), 1);
}

#[tokio::test]
async fn steps_queued_on_a_pool_hold_no_local_slot() {
    // One local slot, taken first by the local step: the remote step still
    // goes to its pool and ends while the local one runs.
    let ran = run(
        "name: t\nsteps:\n  local:\n    priority: 5\n    run: sleep 0.5\n  remote:\n    pool: linux\n    run: make\n",
        &[("remote", vec![Play::Exit(0)])],
        Some(1),
    )
    .await;
    assert_eq!(ran.status, RunStatus::Succeeded, "{:#?}", ran.events);
    let at = |ty: &str, step: &str| {
        ran.events
            .iter()
            .position(|e| e["type"] == ty && e["step"] == step)
            .unwrap()
    };
    assert!(at("step_started", "local") < at("step_started", "remote"));
    assert!(at("step_succeeded", "remote") < at("step_succeeded", "local"));
}

#[tokio::test]
async fn a_pool_is_sent_a_window_at_a_time_so_a_later_higher_priority_step_goes_first() {
    // Twenty low steps queue on the pool at once; `high` is readied a
    // moment later. Its pool's workers take what was sent first in, first
    // out, so it must not be sent behind all twenty.
    let mut yaml = String::from("name: t\nsteps:\n  first:\n    run: \"true\"\n");
    yaml.push_str("  high:\n    needs: [first]\n    priority: 9\n    pool: linux\n    run: make\n");
    let mut plays = vec![("high".to_string(), vec![Play::OneSlot])];
    for i in 0..20 {
        yaml.push_str(&format!("  low{i}:\n    pool: linux\n    run: make\n"));
        plays.push((format!("low{i}"), vec![Play::OneSlot]));
    }
    let plays: Vec<(&str, Vec<Play>)> =
        plays.iter().map(|(s, p)| (s.as_str(), p.clone())).collect();
    let ran = run(&yaml, &plays, None).await;
    assert_eq!(ran.status, RunStatus::Succeeded, "{:#?}", ran.events);
    let sent: Vec<&str> = ran.jobs.iter().map(|j| j.step.as_str()).collect();
    let at = |step: &str| sent.iter().position(|s| *s == step).unwrap();
    assert_eq!(
        &sent[..16],
        (0..16).map(|i| format!("low{i}")).collect::<Vec<_>>(),
        "{sent:?}"
    );
    assert!(
        at("high") < at("low16"),
        "sent in priority order past the window: {sent:?}"
    );
}

#[tokio::test]
async fn a_pool_step_never_runs_here_when_the_run_has_no_transport() {
    let wf = load_str(
        "name: t\nsteps:\n  build:\n    pool: linux\n    run: touch ran-here\n",
        "test.yaml",
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let options = RunOptions {
        state_dir: state.path().to_path_buf(),
        workdir: Some(state.path().to_path_buf()),
        ..RunOptions::default()
    };
    let mut run = Run::new(wf, options).unwrap();
    let mut sub = run.subscribe();
    let outcome = run.start().await;
    let mut events = Vec::new();
    while let Some(p) = sub.recv().await {
        events.push(serde_json::to_value(&p.envelope.event).unwrap());
    }
    assert_eq!(outcome.status, RunStatus::Failed);
    let failed = of(&events, "step_failed", "build");
    assert_eq!(
        failed[0]["error"],
        "no connection to workers: cannot send it to pool linux"
    );
    assert!(!state.path().join("ran-here").exists());
}

#[tokio::test]
async fn a_resumed_run_adopts_the_attempt_its_journal_shows_on_a_worker() {
    let yaml = "name: t\nsteps:\n  build:\n    pool: linux\n    run: make\n  after:\n    needs: [build]\n    run: 'true'\n";
    let state = tempfile::tempdir().unwrap();
    let options = |dispatch: Fake| RunOptions {
        state_dir: state.path().to_path_buf(),
        seed: Some(1),
        dispatch: Some(Arc::new(dispatch)),
        ..RunOptions::default()
    };
    // First life: claimed, one line, then the run's process is gone.
    let (jobs, mut sent) = mpsc::unbounded_channel();
    let (first, _) = fake(&[("build", vec![Play::Hang])], jobs);
    let mut run = Run::new(load_str(yaml, "test.yaml").unwrap(), options(first)).unwrap();
    let mut sub = run.subscribe();
    let id = run.handle().run_id.to_string();
    let task = tokio::spawn(run.start());
    while let Some(p) = sub.recv().await {
        let e = serde_json::to_value(&p.envelope.event).unwrap();
        if e["type"] == "step_started" && e["step"] == "build" {
            break;
        }
    }
    task.abort();
    let _ = task.await;
    let first_key = sent.recv().await.unwrap().key;
    // The run stays away a while; its step ran on meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Second life: the attempt is adopted, not sent again.
    let (jobs, mut sent) = mpsc::unbounded_channel();
    let (second, mut adopted) = fake(&[], jobs);
    let kept = |p: &std::path::Path| signalbox::workflow::load(p).map_err(|d| d.to_string());
    let mut run = Run::resume(&id, options(second), kept).unwrap();
    let mut sub = run.subscribe();
    let outcome = run.start().await;
    let mut events = Vec::new();
    while let Some(p) = sub.recv().await {
        events.push(serde_json::to_value(&p.envelope.event).unwrap());
    }
    assert_eq!(outcome.status, RunStatus::Succeeded, "{events:#?}");
    let adopt = adopted.recv().await.unwrap();
    assert_eq!(adopt.key, first_key);
    assert_eq!(
        (adopt.attempt, adopt.worker.as_str(), adopt.lines),
        (1, "w1", 0)
    );
    // Nothing was sent again, and `build` did not start again.
    assert_eq!(sent.try_recv().ok().map(|j| j.step), None);
    assert!(
        of(&events, "step_started", "build").is_empty(),
        "{events:#?}"
    );
    let succeeded = of(&events, "step_succeeded", "build");
    assert_eq!(succeeded.len(), 1);
    let ms = succeeded[0]["duration_ms"].as_u64().unwrap();
    assert!(
        ms >= 300,
        "counted from its step_started, not the adoption: {ms} ms"
    );
    let lines: Vec<_> = of(&events, "step_output", "build")
        .iter()
        .map(|e| e["line"].clone())
        .collect();
    assert_eq!(lines, ["after the crash"]);
}
