use super::*;

const URL: &str = "nats://127.0.0.1:4222";

fn pools() -> Pools {
    let of_step = [("build", "linux"), ("test", "linux"), ("gpu-job", "gpu")]
        .map(|(s, p)| (s.to_string(), p.to_string()));
    Pools::new(of_step.into(), 0)
}

fn status(connected: bool, linux: &[&str]) -> RemoteStatus {
    RemoteStatus {
        server: URL.into(),
        connected,
        pools: [
            (
                "linux".to_string(),
                linux.iter().map(|w| w.to_string()).collect(),
            ),
            ("gpu".to_string(), Vec::new()),
        ]
        .into(),
        problem: None,
    }
}

fn ready(step: &str) -> Event {
    Event::StepReady { step: step.into() }
}

fn started(step: &str, worker: &str) -> Event {
    Event::StepStarted {
        step: step.into(),
        attempt: 1,
        pool: Some("linux".into()),
        worker: Some(worker.into()),
    }
}

#[test]
fn an_empty_pool_a_step_waits_on_is_told_once_then_its_first_worker() {
    let mut p = pools();
    p.status(status(true, &[]), 100);
    p.event(&ready("build"));
    // The registry may not have been read yet.
    assert!(p.lines(100).is_empty());
    assert_eq!(p.due_in(100), Some(SETTLE_MS));
    assert_eq!(
        p.lines(100 + SETTLE_MS),
        ["◦ pool linux has no live worker; build waits for one"]
    );
    // Said once; a second step waiting changes nothing said.
    p.event(&ready("test"));
    assert!(p.lines(5_000).is_empty());
    assert_eq!(p.due_in(5_000), None);
    p.status(status(true, &["w1"]), 6_000);
    assert_eq!(p.lines(6_000), ["◦ pool linux: worker w1 is live"]);
    p.event(&started("build", "w1"));
    p.status(status(true, &["w1", "w2"]), 7_000);
    assert!(p.lines(7_000).is_empty());
}

#[test]
fn a_pool_nobody_waits_on_or_one_with_workers_is_not_told() {
    let mut p = pools();
    p.status(status(true, &["w1"]), 0);
    p.event(&ready("build"));
    assert!(p.lines(10_000).is_empty());
    // gpu has no worker, but no step of it waits.
    assert_eq!(p.due_in(10_000), None);
    p.status(status(true, &[]), 11_000);
    p.event(&started("build", "w1"));
    assert!(p.lines(20_000).is_empty());
}

#[test]
fn a_worker_seen_within_the_settling_time_says_nothing() {
    let mut p = pools();
    p.status(status(true, &[]), 0);
    p.event(&ready("build"));
    p.status(status(true, &["w1"]), 300);
    assert!(p.lines(300).is_empty());
    assert!(p.lines(SETTLE_MS * 2).is_empty());
}

#[test]
fn several_waiting_steps_are_counted() {
    let mut p = pools();
    p.status(status(true, &[]), 0);
    p.event(&ready("build"));
    p.event(&ready("test"));
    assert_eq!(
        p.lines(SETTLE_MS),
        ["◦ pool linux has no live worker; build and test wait for one"]
    );
    assert_eq!(
        empty_line("linux", &["a".into(), "b".into(), "c".into()]),
        "◦ pool linux has no live worker; a and 2 more steps wait for one"
    );
    assert_eq!(
        live_line("linux", &["w1".into(), "w2".into()]),
        "◦ pool linux: workers w1, w2 are live"
    );
}

#[test]
fn the_server_lost_and_back_is_told_at_once() {
    let mut p = pools();
    p.status(status(true, &["w1"]), 0);
    assert!(p.lines(0).is_empty());
    p.status(status(false, &["w1"]), 1_000);
    assert_eq!(
        p.lines(1_000),
        ["◦ lost NATS at nats://127.0.0.1:4222; pool steps wait"]
    );
    assert!(p.lines(1_500).is_empty());
    assert_eq!(p.due_in(1_500), None);
    p.status(status(true, &["w1"]), 2_000);
    assert_eq!(p.lines(2_000), ["◦ NATS at nats://127.0.0.1:4222 is back"]);
    assert!(p.lines(9_000).is_empty());
}

#[test]
fn a_server_never_reached_is_told_after_the_settling_time() {
    let mut p = pools();
    p.status(status(false, &[]), 0);
    p.event(&ready("build"));
    assert!(p.lines(500).is_empty());
    assert_eq!(p.due_in(500), Some(SETTLE_MS - 500));
    assert_eq!(
        p.lines(SETTLE_MS),
        ["◦ cannot reach NATS at nats://127.0.0.1:4222; pool steps wait"]
    );
    // While it is down, the pools are not told: their workers are not known.
    assert!(p.lines(10_000).is_empty());
    p.status(status(true, &[]), 10_000);
    assert_eq!(p.lines(10_000), ["◦ NATS at nats://127.0.0.1:4222 is back"]);
    assert_eq!(
        p.lines(10_000 + SETTLE_MS),
        ["◦ pool linux has no live worker; build waits for one"]
    );
}

#[test]
fn a_connection_within_the_settling_time_says_nothing() {
    let mut p = pools();
    p.status(status(false, &[]), 0);
    p.status(status(true, &["w1"]), 200);
    assert!(p.lines(200).is_empty());
    assert!(p.lines(SETTLE_MS * 3).is_empty());
}

#[test]
fn a_step_that_ends_or_is_cancelled_no_longer_waits() {
    let mut p = pools();
    p.status(status(true, &[]), 0);
    p.event(&ready("build"));
    p.event(&Event::StepCancelled {
        step: "build".into(),
        reason: "operator".into(),
        cause: None,
    });
    assert!(p.lines(SETTLE_MS).is_empty());
    // A retry queues it again.
    p.event(&Event::StepRetrying {
        step: "build".into(),
        attempt: 1,
        error: "worker w1 lost".into(),
        exit_code: None,
        delay_ms: 1_000,
    });
    assert_eq!(
        p.lines(SETTLE_MS),
        ["◦ pool linux has no live worker; build waits for one"]
    );
}

#[test]
fn a_server_that_cannot_serve_the_pools_is_told_once_and_when_it_can() {
    let mut p = pools();
    p.event(&ready("build"));
    let mut s = status(true, &[]);
    s.problem = Some("cannot make stream SB_WORK: jetstream not enabled".into());
    p.status(s.clone(), 0);
    let said = p.lines(0);
    assert_eq!(
        said,
        [format!(
            "◦ NATS at {URL}: cannot make stream SB_WORK: jetstream not enabled; pool steps wait"
        )]
    );
    assert!(
        p.lines(SETTLE_MS * 3).is_empty(),
        "once, and no empty pool told meanwhile"
    );
    s.problem = None;
    p.status(s, SETTLE_MS * 3);
    let said = p.lines(SETTLE_MS * 3);
    assert_eq!(said[0], format!("◦ NATS at {URL} is usable again"));
    assert_eq!(
        said[1],
        "◦ pool linux has no live worker; build waits for one"
    );
}
