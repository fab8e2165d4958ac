//! A pool shared by two runs at once, and a pool nobody serves until a
//! worker joins it.

use std::time::Duration;

use serde_json::Value;

use crate::common::is;
use crate::harness::{Lab, MARK, NatsServer, invariants};

/// Four steps on pool `p`, named `<prefix>1`..`<prefix>4`, two of them at
/// a time.
fn four(name: &str, prefix: &str) -> String {
    let mut yaml = format!("name: {name}\nsteps:\n");
    for i in 1..=4 {
        let needs = if i > 2 {
            format!("    needs: [{prefix}{}]\n", i - 2)
        } else {
            String::new()
        };
        yaml.push_str(&format!(
            "  {prefix}{i}:\n{needs}    pool: p\n    run: |\n      {MARK}\n      echo {prefix}{i} ran\n      sleep 0.3\n"
        ));
    }
    yaml
}

#[test]
fn two_runs_share_one_pool_and_no_step_runs_twice() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let _w1 = lab.worker("p", "w1", 2);
    let _w2 = lab.worker("p", "w2", 1);
    let one = lab.start_as("one", &four("one", "a"));
    let two = lab.start_as("two", &four("two", "b"));
    let (one, two) = (one.finish(), two.finish());
    one.expect(0, "succeeded");
    two.expect(0, "succeeded");
    for (done, prefix) in [(&one, "a"), (&two, "b")] {
        for i in 1..=4 {
            let step = format!("{prefix}{i}");
            assert_eq!(
                done.lines(&step, "output"),
                [format!("{step} ran")],
                "{}",
                done.dump()
            );
            let w = &done.one("step_started", &step)["worker"];
            assert!(w == "w1" || w == "w2", "{}", done.dump());
        }
    }
    let runs = lab.executions();
    assert_eq!(runs.len(), 8, "{runs:?}");
    lab.at_most_once();
    invariants(&lab, one.run_id());
    invariants(&lab, two.run_id());
}

#[test]
fn a_pool_with_no_live_worker_waits_for_one() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    // A worker of another pool is no worker of this one.
    let _other = lab.worker("other", "w0", 1);
    let yaml = format!(
        r#"name: lonely
steps:
  alone:
    pool: lonely
    run: |
      {MARK}
      echo at last
"#
    );
    let mut live = lab.start(&yaml);
    live.wait_for("step_ready", |e| is(e, "step_ready", "alone"));
    // A screen attached through the socket hears of the pool's workers.
    let mut screen = attach(&lab, &live.run_id());
    let empty = remote_line(&mut screen, |r| r["connected"] == true);
    assert_eq!(empty["pools"]["lonely"], serde_json::json!([]), "{empty}");
    // The run says so once it has been connected for 2 s (until then it
    // may not have read the registry of workers yet).
    std::thread::sleep(Duration::from_millis(3000));
    assert!(lab.executions().is_empty(), "nothing ran without a worker");
    let _w1 = lab.worker("lonely", "w1", 1);
    remote_line(&mut screen, |r| {
        r["pools"]["lonely"] == serde_json::json!(["w1"])
    });
    let done = live.finish();
    done.expect(0, "succeeded");
    assert!(
        done.stderr.contains("no live worker"),
        "stderr says the pool has no live worker:\n{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("◦ pool lonely has no live worker; alone waits for one")
            && done.stderr.contains("◦ pool lonely: worker w1 is live"),
        "{}",
        done.stderr
    );
    assert_eq!(
        done.one("step_started", "alone")["worker"],
        "w1",
        "{}",
        done.dump()
    );
    assert_eq!(
        done.lines("alone", "output"),
        ["at last"],
        "{}",
        done.dump()
    );
    lab.at_most_once();
    invariants(&lab, done.run_id());
}

/// A read-only attach to run `id`'s socket, read up to its `live` line.
fn attach(lab: &Lab, id: &str) -> std::io::BufReader<std::os::unix::net::UnixStream> {
    use std::io::Write;
    let path = lab.work.run_dir(id).join("control.sock");
    let mut sock = std::os::unix::net::UnixStream::connect(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    writeln!(
        sock,
        r#"{{"command":"attach","protocol":1,"read_only":true,"screen":true}}"#
    )
    .unwrap();
    std::io::BufReader::new(sock)
}

/// The `remote` of the first `{"ctl":"remote"}` line on `screen` that
/// `want` takes (within its read timeout).
fn remote_line(
    screen: &mut std::io::BufReader<std::os::unix::net::UnixStream>,
    want: impl Fn(&Value) -> bool,
) -> Value {
    use std::io::BufRead;
    let mut seen = Vec::new();
    loop {
        let mut line = String::new();
        match screen.read_line(&mut line) {
            Ok(n) if n > 0 => {}
            got => panic!(
                "no such remote line ({got:?}); the run said:\n{}",
                seen.join("")
            ),
        }
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["ctl"] == "remote" && want(&v["remote"]) {
            return v["remote"].clone();
        }
        seen.push(line);
    }
}

#[test]
fn a_pool_takes_its_steps_in_priority_then_file_order() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let mut yaml = String::from("name: order\nsteps:\n");
    for (step, priority) in [("a", 0), ("b", 0), ("c", 10), ("d", 20), ("e", 0)] {
        yaml.push_str(&format!(
            "  {step}:\n    pool: p\n    priority: {priority}\n    run: |\n      {MARK}\n      sleep 0.1\n"
        ));
    }
    // Every step is sent before the one worker comes.
    let live = lab.start(&yaml);
    std::thread::sleep(Duration::from_millis(1500));
    let _w1 = lab.worker("p", "w1", 1);
    let done = live.finish();
    done.expect(0, "succeeded");
    let started: Vec<&str> = (done.events.iter())
        .filter(|e| e["type"] == "step_started")
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(started, ["d", "c", "a", "b", "e"], "{}", done.dump());
    lab.at_most_once();
    invariants(&lab, done.run_id());
}

#[test]
fn a_worker_of_two_pools_with_one_slot_serves_both_in_turn() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let _w1 = lab.worker("r1,r2", "w1", 1);
    let yaml = format!(
        r#"name: turns
steps:
  a:
    pool: r1
    run: |
      {MARK}
  b:
    needs: [a]
    pool: r1
    run: |
      {MARK}
  c:
    needs: [b]
    pool: r2
    run: |
      {MARK}
  d:
    needs: [c]
    pool: r1
    run: |
      {MARK}
"#
    );
    let done = lab.start(&yaml).finish();
    done.expect(0, "succeeded");
    lab.at_most_once();
    invariants(&lab, done.run_id());
}
