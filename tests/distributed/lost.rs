//! A worker that dies or freezes mid-attempt: the attempt fails with
//! `worker ID lost` once its lease lapses, the step's retry runs it on the
//! other worker, and the first attempt never runs again.

use std::time::{Duration, Instant};

use crate::common::is;
use crate::harness::{Lab, MARK, NatsServer, Worker, invariants, is_attempt, worker_of};

/// Attempt 1 sleeps long (it is the one the test takes the worker from);
/// attempt 2 ends at once.
fn slow_once() -> String {
    format!(
        r#"name: lost
steps:
  slow:
    pool: p
    retry: {{ attempts: 2, delay: 0s }}
    run: |
      {MARK}
      echo "attempt $SIGNALBOX_ATTEMPT"
      if [ "$SIGNALBOX_ATTEMPT" = 1 ]; then sleep 30; fi
"#
    )
}

/// Of `a` and `b`, the one with id `id`, and the other.
fn pick<'a>(id: &str, a: &'a mut Worker, b: &'a mut Worker) -> (&'a mut Worker, &'a mut Worker) {
    if a.id == id { (a, b) } else { (b, a) }
}

#[test]
fn a_worker_killed_mid_attempt_is_lost_and_the_retry_runs_elsewhere() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let mut w1 = lab.worker("p", "w1", 1);
    let mut w2 = lab.worker("p", "w2", 1);
    let mut live = lab.start(&slow_once());
    let first = live.wait_for("attempt 1 claimed", |e| {
        is_attempt(e, "step_started", "slow", 1)
    });
    let on = worker_of(&first);
    live.wait_for("its first line", |e| is(e, "step_output", "slow"));
    let (dead, other) = pick(&on, &mut w1, &mut w2);
    dead.kill9();
    let killed = Instant::now();
    let retrying = live.wait_for("step_retrying", |e| is(e, "step_retrying", "slow"));
    assert_eq!(retrying["attempt"], 1);
    assert_eq!(retrying["error"], format!("worker {on} lost"));
    let second = live.wait_for("attempt 2 claimed", |e| {
        is_attempt(e, "step_started", "slow", 2)
    });
    assert_eq!(
        worker_of(&second),
        other.id,
        "attempt 2 ran on the worker that is alive"
    );
    let done = live.finish();
    done.expect(0, "succeeded");
    assert_eq!(
        done.one("step_succeeded", "slow")["attempt"],
        2,
        "{}",
        done.dump()
    );
    let id = done.run_id().to_string();

    // The dead worker's attempt may outlive it; the same id started again
    // (once its registry entry is stale) kills what it left.
    let stale = Duration::from_millis(5500).saturating_sub(killed.elapsed());
    std::thread::sleep(stale);
    let _again = lab.worker("p", &on, 1);
    lab.at_most_once();
    invariants(&lab, &id);
}

#[test]
fn a_frozen_worker_is_lost_and_its_attempt_never_runs_twice() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let mut w1 = lab.worker("p", "w1", 1);
    let mut w2 = lab.worker("p", "w2", 1);
    let mut live = lab.start(&slow_once());
    let first = live.wait_for("attempt 1 claimed", |e| {
        is_attempt(e, "step_started", "slow", 1)
    });
    let on = worker_of(&first);
    live.wait_for("its first line", |e| is(e, "step_output", "slow"));
    let (frozen, other) = pick(&on, &mut w1, &mut w2);
    frozen.stop();
    let retrying = live.wait_for("step_retrying", |e| is(e, "step_retrying", "slow"));
    assert_eq!(retrying["error"], format!("worker {on} lost"));
    let second = live.wait_for("attempt 2 claimed", |e| {
        is_attempt(e, "step_started", "slow", 2)
    });
    assert_eq!(worker_of(&second), other.id);
    // Thawed: it finds it lost its lease and kills attempt 1 itself; its
    // late report changes nothing.
    frozen.cont();
    let done = live.finish();
    done.expect(0, "succeeded");
    assert_eq!(
        done.one("step_succeeded", "slow")["attempt"],
        2,
        "{}",
        done.dump()
    );
    assert_eq!(done.all("step_started").len(), 2, "{}", done.dump());
    let id = done.run_id().to_string();
    let runs = lab.executions();
    assert_eq!(runs.get(&("slow".to_string(), 1)), Some(&1), "{runs:?}");
    assert_eq!(runs.get(&("slow".to_string(), 2)), Some(&1), "{runs:?}");
    // The thawed worker is still a worker: it is listed again.
    crate::harness::wait_until("the thawed worker listed", Duration::from_secs(10), || {
        crate::harness::live_workers(&lab.url)
            .contains(&on)
            .then_some(())
    });
    invariants(&lab, &id);
}

#[test]
fn a_worker_stopped_mid_attempt_fails_it_and_the_retry_runs_elsewhere() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let mut w1 = lab.worker("p", "w1", 1);
    let mut w2 = lab.worker("p", "w2", 1);
    let mut live = lab.start(&slow_once());
    let first = live.wait_for("attempt 1 claimed", |e| {
        is_attempt(e, "step_started", "slow", 1)
    });
    let on = worker_of(&first);
    live.wait_for("its first line", |e| is(e, "step_output", "slow"));
    let (stopped, other) = pick(&on, &mut w1, &mut w2);
    // SIGTERM: the worker kills its attempt, says so, and ends cleanly.
    assert_eq!(stopped.terminate(), Some(0), "{}", stopped.stderr());
    let retrying = live.wait_for("step_retrying", |e| is(e, "step_retrying", "slow"));
    assert_eq!(retrying["attempt"], 1);
    assert_eq!(retrying["error"], format!("worker {on} stopped"));
    let second = live.wait_for("attempt 2 claimed", |e| {
        is_attempt(e, "step_started", "slow", 2)
    });
    assert_eq!(worker_of(&second), other.id);
    let done = live.finish();
    done.expect(0, "succeeded");
    assert!(
        !crate::harness::live_workers(&lab.url).contains(&on),
        "{on} is listed no more"
    );
    lab.at_most_once();
    invariants(&lab, done.run_id());
}
