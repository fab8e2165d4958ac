//! Stopping an attempt on a worker: a cancelled run and a timed-out
//! attempt kill the attempt's process group there.

use std::time::Duration;

use crate::common::{is, marked};
use crate::harness::{Lab, MARK, NatsServer, invariants, is_attempt, wait_until};

fn sleeper(extra: &str) -> String {
    format!(
        r#"name: sleeper
steps:
  nap:
    pool: p
{extra}    run: |
      {MARK}
      echo napping
      sleep 30 &
      (setsid sleep 31 &)
      wait
"#
    )
}

#[test]
fn sigterm_to_the_run_kills_its_attempt_on_the_worker() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let w1 = lab.worker("p", "w1", 1);
    let mut live = lab.start(&sleeper(""));
    let id = live.run_id();
    live.wait_for("attempt 1 claimed", |e| {
        is_attempt(e, "step_started", "nap", 1)
    });
    live.wait_for("its line", |e| is(e, "step_output", "nap"));
    // The attempt's processes run on the worker, with the run's id.
    wait_until("the attempt's processes", Duration::from_secs(5), || {
        (marked("SIGNALBOX_RUN_ID", &id).len() >= 2).then_some(())
    });
    live.signal("TERM");
    let done = live.finish();
    assert_eq!(done.code, Some(130), "{}", done.dump());
    assert_eq!(done.status(), "cancelled", "{}", done.dump());
    assert!(done.has("step_cancelled", "nap"), "{}", done.dump());
    assert!(!done.has("step_succeeded", "nap"), "{}", done.dump());
    lab.at_most_once();
    invariants(&lab, &id);
    assert!(
        w1.stderr().lines().count() > 0,
        "the worker said something of the attempt"
    );
}

#[test]
fn a_timed_out_attempt_on_a_worker_fails_and_leaves_nothing() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let _w1 = lab.worker("p", "w1", 1);
    let done = lab
        .start(&sleeper("    timeout: 1s\n    kill_grace: 1s\n"))
        .finish();
    assert_eq!(done.code, Some(1), "{}", done.dump());
    assert_eq!(done.status(), "failed", "{}", done.dump());
    let failed = done.one("step_failed", "nap");
    assert_eq!(failed["error"], "timed out after 1s", "{}", done.dump());
    assert!(done.elapsed < Duration::from_secs(10), "{}", done.dump());
    lab.at_most_once();
    invariants(&lab, done.run_id());
}

/// `{"command":"cancel","step":STEP}` on run `id`'s control socket; the
/// reply line.
fn cancel_by_socket(lab: &Lab, id: &str, step: &str) -> String {
    use std::io::{BufRead, Write};
    let path = lab.work.run_dir(id).join("control.sock");
    let mut sock = std::os::unix::net::UnixStream::connect(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    writeln!(sock, r#"{{"command":"cancel","step":"{step}"}}"#).unwrap();
    let mut reply = String::new();
    std::io::BufReader::new(sock).read_line(&mut reply).unwrap();
    reply
}

#[test]
fn a_step_cancelled_from_outside_frees_its_worker_for_the_next() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let _w1 = lab.worker("p", "w1", 1);
    let yaml = format!(
        r#"{}  here:
    run: |
      {MARK}
      sleep 1
  later:
    needs: [here]
    pool: p
    run: |
      {MARK}
      echo later ran
"#,
        sleeper("")
    );
    let mut live = lab.start(&yaml);
    let id = live.run_id();
    live.wait_for("its line", |e| is(e, "step_output", "nap"));
    let reply = cancel_by_socket(&lab, &id, "nap");
    assert_eq!(reply.trim_end(), "ok", "the run took the cancel");
    live.wait_for("step_cancelled", |e| is(e, "step_cancelled", "nap"));
    let done = live.finish();
    assert_ne!(done.code, Some(0), "{}", done.dump());
    // The worker's one slot was free again for `later`.
    assert_eq!(
        done.lines("later", "output"),
        ["later ran"],
        "{}",
        done.dump()
    );
    assert!(!done.has("step_succeeded", "nap"), "{}", done.dump());
    lab.at_most_once();
    invariants(&lab, &id);
}
