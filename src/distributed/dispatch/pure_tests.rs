//! The run's side's decisions that need no server.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::pure::{
    Seen, exit, lapsed, lapses_at, live_pools, skip_lines, transient, worker_changes_at,
};
use crate::distributed::wire;
use crate::engine::event::Stream;
use crate::engine::process::Exit;

#[test]
fn exits_read_as_the_engine_takes_them() {
    assert_eq!(exit(wire::Exit::Code(3), "w1"), Ok(Exit::Code(3)));
    assert_eq!(exit(wire::Exit::Signal(9), "w1"), Ok(Exit::Signal(9)));
    assert_eq!(exit(wire::Exit::TimedOut, "w1"), Ok(Exit::TimedOut));
    assert_eq!(exit(wire::Exit::Cancelled, "w1"), Ok(Exit::Cancelled));
    assert_eq!(
        exit(wire::Exit::Error("no shell".into()), "w1"),
        Err("no shell".into())
    );
    assert_eq!(
        exit(wire::Exit::LostLease, "w1"),
        Err("worker w1 lost".into())
    );
}

fn lines(n: usize) -> Vec<(Stream, String)> {
    (0..n).map(|i| (Stream::Stdout, format!("l{i}"))).collect()
}

#[test]
fn a_resumed_run_skips_the_lines_it_has() {
    let mut skip = 3;
    assert!(skip_lines(lines(2), &mut skip).is_empty());
    assert_eq!(skip, 1);
    let rest = skip_lines(lines(3), &mut skip);
    assert_eq!(skip, 0);
    assert_eq!(
        rest.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
        ["l1", "l2"]
    );
    assert_eq!(skip_lines(lines(2), &mut skip).len(), 2);
}

#[test]
fn leases_lapse_only_while_the_run_is_connected() {
    let lease = Duration::from_secs(2);
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_millis(s);
    // Renewed 1 s ago: fine.
    assert!(!lapsed(at(5000), Some(t0), lease, at(4000)));
    // Nothing for more than the lease, up all along: lapsed.
    assert!(lapsed(at(5000), Some(t0), lease, at(2900)));
    // Down: nothing is judged.
    assert!(!lapsed(at(5000), None, lease, at(0)));
    // Up again for less than a lease: not yet.
    assert!(!lapsed(at(5000), Some(at(4000)), lease, at(0)));
    assert!(lapsed(at(6100), Some(at(4000)), lease, at(0)));
}

#[test]
fn live_workers_by_pool() {
    let now = Instant::now();
    let mut workers = BTreeMap::new();
    let seen = |pools: &[&str], ago: u64| Seen {
        pools: pools.iter().map(|p| p.to_string()).collect(),
        at: now.checked_sub(Duration::from_secs(ago)).unwrap_or(now),
    };
    workers.insert("w1".to_string(), seen(&["linux", "gpu"], 0));
    workers.insert("w2".to_string(), seen(&["linux"], 1));
    workers.insert("w3".to_string(), seen(&["linux"], 60));
    let pools = ["gpu", "linux", "mac"].map(String::from);
    let live = live_pools(&pools, &workers, now);
    assert_eq!(live["gpu"], ["w1"]);
    assert_eq!(live["linux"], ["w1", "w2"]);
    assert!(live["mac"].is_empty());
}

#[test]
fn which_publish_errors_are_tried_again() {
    use async_nats::jetstream::context::PublishErrorKind as K;
    assert!(transient(K::TimedOut));
    assert!(transient(K::StreamNotFound));
    assert!(!transient(K::MaxPayloadExceeded));
    assert!(!transient(K::Other));
}

#[test]
fn a_lease_lapses_at_the_time_it_is_woken_for_and_not_before() {
    let lease = Duration::from_secs(10);
    let t0 = Instant::now();
    assert_eq!(
        lapses_at(None, lease, t0),
        None,
        "not while the run is away"
    );
    for (up, last) in [(t0, t0), (t0, t0 + lease * 3), (t0 + lease * 5, t0)] {
        let at = lapses_at(Some(up), lease, last).expect("judged once connected");
        assert!(lapsed(at, Some(up), lease, last), "lapsed when woken");
        let before = at - Duration::from_millis(1);
        assert!(
            !lapsed(before, Some(up), lease, last),
            "not a moment before"
        );
    }
}

#[test]
fn a_worker_s_word_changes_when_it_goes_stale_then_when_it_is_forgotten() {
    let t0 = Instant::now();
    let w = Seen {
        pools: vec!["p".into()],
        at: t0,
    };
    let stale = worker_changes_at(&w, t0).expect("it goes stale");
    let pools = [String::from("p")];
    let one = BTreeMap::from([(String::from("w1"), w.clone())]);
    assert_eq!(
        live_pools(&pools, &one, stale - Duration::from_millis(1))["p"].len(),
        1
    );
    assert!(live_pools(&pools, &one, stale)["p"].is_empty());
    let gone = worker_changes_at(&w, stale).expect("then it is forgotten");
    assert!(gone > stale);
    assert_eq!(worker_changes_at(&w, gone), None, "nothing after that");
}
