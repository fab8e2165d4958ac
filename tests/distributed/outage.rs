//! What a run survives: the NATS server killed and back on the same port
//! and store, and the run's own process killed while its step runs on a
//! worker (a resumed run adopts the attempt).

use std::time::Duration;

use crate::common::is;
use crate::harness::{Lab, MARK, NatsServer, invariants, is_attempt};

#[test]
fn a_server_down_for_a_second_and_back_loses_nothing() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let mut lab = Lab::new(&nats);
    // Longer than the outage and the reconnect: the worker keeps its
    // attempt (it gives it up after half a lease without a renewal).
    lab.lease = "6s";
    let _w1 = lab.worker("p", "w1", 2);
    let yaml = format!(
        r#"name: outage
steps:
  through:
    pool: p
    run: |
      {MARK}
      echo before
      sleep 3
      echo after
  next:
    needs: [through]
    pool: p
    run: |
      {MARK}
      echo next ran
"#
    );
    let mut live = lab.start(&yaml);
    live.wait_for("its first line", |e| {
        is(e, "step_output", "through") && e["line"] == "before"
    });
    nats.kill9();
    std::thread::sleep(Duration::from_secs(1));
    nats.restart();
    let done = live.finish();
    done.expect(0, "succeeded");
    assert_eq!(
        done.one("step_succeeded", "through")["attempt"],
        1,
        "{}",
        done.dump()
    );
    assert_eq!(
        done.lines("through", "output"),
        ["before", "after"],
        "{}",
        done.dump()
    );
    assert_eq!(
        done.lines("next", "output"),
        ["next ran"],
        "{}",
        done.dump()
    );
    assert!(!done.has("step_retrying", "through"), "{}", done.dump());
    lab.at_most_once();
    invariants(&lab, done.run_id());
}

#[test]
fn a_resumed_run_adopts_the_attempt_its_killed_process_left_on_a_worker() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let _w1 = lab.worker("p", "w1", 1);
    let yaml = format!(
        r#"name: adopt
steps:
  long:
    pool: p
    run: |
      {MARK}
      for i in 1 2 3 4 5 6 7 8; do echo "line $i"; sleep 0.4; done
      echo k=v >> "$SIGNALBOX_OUTPUT"
  then:
    needs: [long]
    run: |
      {MARK}
      echo "then got {{{{ steps.long.outputs.k }}}}"
"#
    );
    let mut first = lab.start(&yaml);
    let id = first.run_id();
    first.wait_for("attempt 1 claimed", |e| {
        is_attempt(e, "step_started", "long", 1)
    });
    first.wait_for("line 1", |e| {
        is(e, "step_output", "long") && e["line"] == "line 1"
    });
    first.kill9();
    // Lines printed while no run listens.
    std::thread::sleep(Duration::from_millis(1200));
    let done = lab.resume(&id).finish();
    assert_eq!(done.code, Some(0), "{}", done.dump());
    let journal = lab.work.journal(&id);
    let dump = crate::common::dump(&journal);
    let lines: Vec<&str> = (journal.iter())
        .filter(|e| is(e, "step_output", "long"))
        .map(|e| e["line"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (1..=8).map(|i| format!("line {i}")).collect();
    assert_eq!(lines, want, "each line once, in order\n{dump}");
    let ends = |ty: &str| journal.iter().filter(|e| is(e, ty, "long")).count();
    assert_eq!(ends("step_succeeded"), 1, "{dump}");
    assert_eq!(
        ends("step_started"),
        1,
        "adopted, not started again\n{dump}"
    );
    let then: Vec<&str> = (journal.iter())
        .filter(|e| is(e, "step_output", "then"))
        .map(|e| e["line"].as_str().unwrap())
        .collect();
    assert_eq!(then, ["then got v"], "{dump}");
    assert_eq!(lab.executions().get(&("long".to_string(), 1)), Some(&1));
    // The journal reads back whole: `runs` finds nothing wrong with it.
    let runs = std::process::Command::new(crate::common::BIN)
        .args(["runs", "--state-dir"])
        .arg(lab.state())
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&runs.stdout);
    assert!(
        listed.contains(&id) && listed.contains("succeeded") && !listed.contains("damaged"),
        "{listed}{}",
        String::from_utf8_lossy(&runs.stderr)
    );
    lab.at_most_once();
    invariants(&lab, &id);
}

#[test]
fn a_step_that_floods_its_output_on_a_worker_waits_for_the_run_and_loses_no_line() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let mut lab = Lab::new(&nats);
    // The default lease: the worker's renewals share its connection with
    // the flood, and on a loaded machine 2 s leaves them too little room.
    lab.lease = "10s";
    let _w1 = lab.worker("p", "w1", 1);
    // 8 MiB in lines of 1 KiB, faster than the run can journal them: the
    // step waits on its writes, as it would here, and every line arrives.
    let yaml = format!(
        r#"name: flood
steps:
  flood:
    pool: p
    run: |
      {MARK}
      head -c 8388608 /dev/zero | tr '\0' x | fold -w 1023
"#
    );
    let done = lab.start(&yaml).finish();
    done.expect(0, "succeeded");
    assert_eq!(
        done.one("step_succeeded", "flood")["attempt"],
        1,
        "not lost while it flooded: {}",
        done.stderr
    );
    let lines = done.of("step_output", "flood");
    let said: Vec<&str> = (lines.iter())
        .map(|e| e["line"].as_str().unwrap())
        .filter(|l| !l.starts_with('x'))
        .collect();
    assert!(said.is_empty(), "no line left out: {said:?}");
    let bytes: usize = (lines.iter())
        .map(|e| e["line"].as_str().unwrap().len())
        .sum();
    assert_eq!(bytes, 8 << 20, "every byte journaled");
    assert_eq!(lines.len(), (8usize << 20).div_ceil(1023), "every line");
    lab.at_most_once();
    invariants(&lab, done.run_id());
}

#[test]
fn a_retry_of_a_finished_run_runs_its_pool_step_again() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let _w1 = lab.worker("p", "w1", 1);
    let flag = lab.work.dir().join("flag");
    let yaml = format!(
        r#"name: again
steps:
  flaky:
    pool: p
    run: |
      {MARK}
      echo ran
      [ -e '{}' ]
"#,
        flag.display()
    );
    let mut first = lab.start(&yaml);
    let id = first.run_id();
    let done = first.finish();
    assert_eq!(done.code, Some(1), "{}", done.dump());
    std::fs::write(&flag, "").unwrap();
    let cmd = lab.command(&["retry", &id, "--headless", "--json"]);
    let done = crate::common::Live::spawn(cmd).finish();
    assert_eq!(done.code, Some(0), "{}", done.dump());
    // Run again by a worker: not the first run's attempt followed.
    let runs = lab.executions();
    assert_eq!(runs.get(&("flaky".to_string(), 1)), Some(&2), "{runs:?}");
    let journal = lab.work.journal(&id);
    let ran = (journal.iter())
        .filter(|e| is(e, "step_output", "flaky") && e["line"] == "ran")
        .count();
    assert_eq!(ran, 2, "{}", crate::common::dump(&journal));
}
