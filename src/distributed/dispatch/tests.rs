//! A run with a pool step against a real nats-server, the worker's part
//! played by hand: claim, output and end come back as the run's events; a
//! worker that stops renewing its lease is lost; a cancel before any claim
//! fences the attempt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cancel;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;

use crate::distributed::setup::{self, Handles};
use crate::distributed::wire::{self, Claim, ClaimState, Report, Work};
use crate::engine::event::Stream;
use crate::engine::{Run, RunHandle, RunOptions, RunOutcome, RunStatus, Subscription};

/// The server binary, or none (the test is skipped) on a developer's
/// machine without one; in CI its absence is a failure.
pub(crate) fn server_binary() -> Option<PathBuf> {
    match std::env::var_os("SIGNALBOX_NATS_SERVER").filter(|v| !v.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) => {
            panic!("SIGNALBOX_NATS_SERVER is not set, and CI is")
        }
        None => {
            crate::safe::say!("skipped: set SIGNALBOX_NATS_SERVER to a nats-server binary");
            None
        }
    }
}

/// A nats-server on a free port, killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn server(bin: &Path) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let child = Process::new(bin)
        .args(["-a", "127.0.0.1", "-p", "-1", "-js"])
        .arg("--ports_file_dir")
        .arg(dir.path())
        .arg("-sd")
        .arg(dir.path().join("js"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ports = dir.path().join(format!("nats-server_{}.ports", child.id()));
    let mut server = Server {
        child,
        url: String::new(),
        _dir: dir,
    };
    for _ in 0..100 {
        if let Ok(text) = std::fs::read_to_string(&ports)
            && let Ok(v) = serde_json::from_str::<Value>(&text)
            && let Some(url) = v["nats"][0].as_str()
        {
            server.url = url.to_string();
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nats-server wrote no ports file");
}

/// A run of `yaml` sending its pool steps through `url`.
struct Driver {
    handle: RunHandle,
    events: Subscription,
    seen: Vec<Value>,
    task: tokio::task::JoinHandle<RunOutcome>,
    _state: tempfile::TempDir,
}

async fn start(yaml: &str, url: &str, lease: Duration) -> Driver {
    let wf = crate::workflow::load_str(yaml, "test.yaml").unwrap();
    let state = tempfile::tempdir().unwrap();
    let options = RunOptions {
        state_dir: state.path().to_path_buf(),
        seed: Some(1),
        ..Default::default()
    };
    let mut run = Run::new(wf, options).unwrap();
    let id = run.handle().run_id;
    let nats = super::start_with(url, run.workflow(), &id, lease)
        .await
        .unwrap();
    run.set_dispatch(nats);
    let events = run.subscribe();
    let handle = run.handle();
    let task = tokio::spawn(run.start());
    Driver {
        handle,
        events,
        seen: Vec::new(),
        task,
        _state: state,
    }
}

impl Driver {
    async fn finish(mut self) -> (RunOutcome, Vec<Value>) {
        let read = async {
            while let Some(p) = self.events.recv().await {
                self.seen
                    .push(serde_json::to_value(&p.envelope.event).unwrap());
            }
        };
        if tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .is_err()
        {
            panic!("the run did not end:\n{:#?}", self.seen);
        }
        (self.task.await.unwrap(), self.seen)
    }
}

fn of<'a>(events: &'a [Value], ty: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == ty).collect()
}

/// The worker's side, by hand.
struct Worker {
    client: async_nats::Client,
    h: Handles,
}

impl Worker {
    async fn new(url: &str) -> Worker {
        let client = async_nats::connect(url).await.unwrap();
        let h = setup::ensure(&client).await.unwrap();
        Worker { client, h }
    }

    /// The next work of pool `t`, claimed by `w1`, and its `claimed` said.
    async fn claim(&self) -> Work {
        let work = self.claim_quietly().await;
        self.report(&Report::Claimed {
            v: 1,
            key: work.key.clone(),
            worker: "w1".into(),
            host: "here".into(),
            pid: 1,
        })
        .await;
        work
    }

    /// The next work of pool `t`, claimed by `w1`, its `claimed` not said
    /// yet (as when the run reads it behind a flood of other reports).
    async fn claim_quietly(&self) -> Work {
        let consumer = setup::pool_consumer(&self.h.work, "t").await.unwrap();
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(10))
            .messages()
            .await
            .unwrap();
        let message = batch.next().await.unwrap().unwrap();
        let work: Work = serde_json::from_slice(&message.payload).unwrap();
        let claim = Claim {
            state: ClaimState::Claimed,
            worker: Some("w1".into()),
        };
        let claim = Bytes::from(serde_json::to_vec(&claim).unwrap());
        self.h.claims.create(&work.key, claim).await.unwrap();
        self.lease(&work.key).await;
        message.double_ack().await.unwrap();
        work
    }

    async fn lease(&self, key: &str) {
        let lease = wire::Lease {
            worker: "w1".into(),
            lease_ms: 1000,
        };
        let lease = Bytes::from(serde_json::to_vec(&lease).unwrap());
        self.h.leases.put(key, lease).await.unwrap();
    }

    async fn report(&self, report: &Report) {
        let body = Bytes::from(serde_json::to_vec(report).unwrap());
        let subject = wire::report_subject(report.key());
        let js = &self.h.js;
        js.publish(subject, body).await.unwrap().await.unwrap();
    }
}

const ONE: &str = "name: t\nsteps:\n  a:\n    pool: t\n    run: echo hi\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_attempt_starts_prints_and_ends_as_its_worker_says() {
    let Some(bin) = server_binary() else {
        return;
    };
    let nats = server(&bin);
    let run = start(ONE, &nats.url, Duration::from_secs(5)).await;
    let worker = Worker::new(&nats.url).await;
    let work = worker.claim().await;
    assert_eq!((work.step.as_str(), work.attempt), ("a", 1));
    assert_eq!(work.command, "echo hi");
    let key = work.key.clone();
    let lines = vec![(Stream::Stdout, "hello".to_string())];
    let output = Report::Output {
        v: 1,
        key: key.clone(),
        n: 2,
        lines,
    };
    worker.report(&output).await;
    let outputs = BTreeMap::from([("x".to_string(), "1".to_string())]);
    let exit = wire::Exit::Code(0);
    let exited = Report::Exited {
        v: 1,
        key,
        n: 3,
        exit,
        outputs,
        dropped_lines: 0,
    };
    worker.report(&exited).await;
    let (outcome, events) = run.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{events:#?}");
    let started = of(&events, "step_started");
    assert_eq!(started.len(), 1, "{events:#?}");
    assert_eq!(started[0]["pool"], "t");
    assert_eq!(started[0]["worker"], "w1");
    let output = of(&events, "step_output");
    assert_eq!(output.len(), 1, "{events:#?}");
    assert_eq!(output[0]["line"], "hello");
    assert_eq!(of(&events, "step_succeeded").len(), 1, "{events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_stops_renewing_its_lease_is_lost() {
    let Some(bin) = server_binary() else {
        return;
    };
    let nats = server(&bin);
    let run = start(ONE, &nats.url, Duration::from_secs(1)).await;
    let worker = Worker::new(&nats.url).await;
    worker.claim().await;
    let (outcome, events) = run.finish().await;
    assert_eq!(outcome.status, RunStatus::Failed, "{events:#?}");
    let failed = of(&events, "step_failed");
    assert_eq!(failed.len(), 1, "{events:#?}");
    let error = failed[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("worker w1 lost"), "{events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_whose_lease_is_renewed_is_not_lost_before_its_claimed_is_read() {
    let Some(bin) = server_binary() else {
        return;
    };
    let nats = server(&bin);
    let run = start(ONE, &nats.url, Duration::from_secs(1)).await;
    let worker = Worker::new(&nats.url).await;
    let work = worker.claim_quietly().await;
    // Three leases' worth of renewals, and no report yet.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        worker.lease(&work.key).await;
    }
    let claimed = Report::Claimed {
        v: 1,
        key: work.key.clone(),
        worker: "w1".into(),
        host: "here".into(),
        pid: 1,
    };
    worker.report(&claimed).await;
    let exited = Report::Exited {
        v: 1,
        key: work.key.clone(),
        n: 3,
        exit: wire::Exit::Code(0),
        outputs: BTreeMap::new(),
        dropped_lines: 0,
    };
    worker.report(&exited).await;
    let (outcome, events) = run.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{events:#?}");
    assert_eq!(of(&events, "step_started").len(), 1, "{events:#?}");
}
