//! Cancels and a resumed run, against a real nats-server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;

use super::{Driver, ONE, Worker, of, server, server_binary, start};
use crate::distributed::setup;
use crate::distributed::wire::{self, Claim, ClaimState, Report};
use crate::engine::event::Stream;
use crate::engine::{By, Command, Run, RunOptions, RunStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_before_any_claim_fences_the_attempt() {
    let Some(bin) = server_binary() else {
        return;
    };
    let nats = server(&bin);
    let run = start(ONE, &nats.url, Duration::from_secs(5)).await;
    let worker = Worker::new(&nats.url).await;
    // Sent: the work is in the pool's queue.
    let consumer = setup::pool_consumer(&worker.h.work, "t").await.unwrap();
    for _ in 0..100 {
        let mut c = consumer.clone();
        if c.info().await.unwrap().num_pending > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run.handle.send(Command::Cancel {
        step: Some("a".into()),
        by: By::Keyboard,
    });
    let mut key = None;
    for _ in 0..100 {
        let mut keys = worker.h.claims.keys().await.unwrap();
        if let Some(Ok(k)) = keys.next().await {
            key = Some(k);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let key = key.expect("the attempt is fenced");
    let claim = worker.h.claims.get(&key).await.unwrap().unwrap();
    let claim: Claim = serde_json::from_slice(&claim).unwrap();
    assert_eq!(claim.state, ClaimState::Cancelled);
    let (outcome, events) = run.finish().await;
    // A step cancelled leaves its run failed, as for a local step.
    assert_eq!(outcome.status, RunStatus::Failed, "{events:#?}");
    assert!(of(&events, "step_started").is_empty(), "{events:#?}");
    assert_eq!(of(&events, "step_cancelled").len(), 1, "{events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_of_a_claimed_attempt_asks_its_worker() {
    let Some(bin) = server_binary() else {
        return;
    };
    let nats = server(&bin);
    let mut run = start(ONE, &nats.url, Duration::from_secs(5)).await;
    let worker = Worker::new(&nats.url).await;
    let mut control = worker
        .client
        .subscribe(wire::control_subject("w1"))
        .await
        .unwrap();
    let work = worker.claim().await;
    loop {
        let p = run.events.recv().await.unwrap();
        let v = serde_json::to_value(&p.envelope.event).unwrap();
        let started = v["type"] == "step_started";
        run.seen.push(v);
        if started {
            break;
        }
    }
    run.handle.send(Command::Cancel {
        step: Some("a".into()),
        by: By::Keyboard,
    });
    let word = tokio::time::timeout(Duration::from_secs(5), control.next())
        .await
        .unwrap()
        .unwrap();
    let word: wire::Control = serde_json::from_slice(&word.payload).unwrap();
    assert_eq!(
        word,
        wire::Control::Cancel {
            key: work.key.clone()
        }
    );
    let mut state = None;
    for _ in 0..100 {
        let claim = worker.h.claims.get(&work.key).await.unwrap().unwrap();
        let claim: Claim = serde_json::from_slice(&claim).unwrap();
        if claim.state == ClaimState::CancelRequested {
            state = Some(claim);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state.map(|c| c.worker), Some(Some("w1".to_string())));
    let exited = Report::Exited {
        v: 1,
        key: work.key,
        n: 2,
        exit: wire::Exit::Cancelled,
        outputs: BTreeMap::new(),
        dropped_lines: 0,
    };
    worker.report(&exited).await;
    let (_, events) = run.finish().await;
    assert_eq!(of(&events, "step_cancelled").len(), 1, "{events:#?}");
    assert!(of(&events, "step_failed").is_empty(), "{events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_follows_its_attempt_on_the_worker_again() {
    let Some(bin) = server_binary() else {
        return;
    };
    let nats = server(&bin);
    let mut run = start(ONE, &nats.url, Duration::from_secs(5)).await;
    let worker = Worker::new(&nats.url).await;
    let work = worker.claim().await;
    let line = |text: &str, n: u64| Report::Output {
        v: 1,
        key: work.key.clone(),
        n,
        lines: vec![(Stream::Stdout, text.to_string())],
    };
    worker.report(&line("hello", 2)).await;
    loop {
        let p = run.events.recv().await.unwrap();
        if serde_json::to_value(&p.envelope.event).unwrap()["type"] == "step_output" {
            break;
        }
    }
    // The run's process is gone; the attempt goes on on its worker.
    let id = run.handle.run_id.to_string();
    let state = run._state;
    run.task.abort();
    let _ = run.task.await;
    worker.report(&line("world", 3)).await;
    let options = RunOptions {
        state_dir: state.path().to_path_buf(),
        seed: Some(1),
        ..Default::default()
    };
    let load = |p: &Path| crate::workflow::load(p).map_err(|d| d.to_string());
    let mut resumed = Run::resume(&id, options, load).unwrap();
    let nats2 =
        super::super::start_with(&nats.url, resumed.workflow(), &id, Duration::from_secs(5))
            .await
            .unwrap();
    resumed.set_dispatch(nats2);
    let events = resumed.subscribe();
    let handle = resumed.handle();
    let task = tokio::spawn(resumed.start());
    let exited = Report::Exited {
        v: 1,
        key: work.key.clone(),
        n: 4,
        exit: wire::Exit::Code(0),
        outputs: BTreeMap::new(),
        dropped_lines: 0,
    };
    worker.report(&exited).await;
    let driver = Driver {
        handle,
        events,
        seen: Vec::new(),
        task,
        _state: tempfile::tempdir().unwrap(),
    };
    let dir = driver.handle.dir.clone();
    let (outcome, events) = driver.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{events:#?}");
    let journal = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let count = |what: &str| journal.matches(what).count();
    assert_eq!(count("\"line\":\"hello\""), 1, "{journal}");
    assert_eq!(count("\"line\":\"world\""), 1, "{journal}");
    assert_eq!(count("\"type\":\"step_started\""), 1, "{journal}");
    assert_eq!(count("\"type\":\"step_succeeded\""), 1, "{journal}");
    drop(state);
}
