//! A workflow whose steps run on two workers and here, as it would run all
//! here.

use serde_json::Value;

use crate::harness::{Lab, MARK, NatsServer, invariants, live_workers, worker_of};

/// A diamond of six steps on pool `p` between two local steps; outputs
/// flow from worker to worker and back here through templates, and each
/// pool step prints on stdout and stderr.
fn diamond(pool: bool) -> String {
    let on = if pool { "    pool: p\n" } else { "" };
    format!(
        r#"name: diamond
steps:
  prep:
    run: |
      {MARK}
      echo prep here
  a:
    needs: [prep]
{on}    run: |
      {MARK}
      echo a-out
      echo a-err >&2
      echo v=alpha >> "$SIGNALBOX_OUTPUT"
  b:
    needs: [a]
{on}    run: |
      {MARK}
      echo "b got {{{{ steps.a.outputs.v }}}}"
      echo b-err >&2
      echo w=beta-$SIGNALBOX_STEP >> "$SIGNALBOX_OUTPUT"
  c:
    needs: [a]
{on}    run: |
      {MARK}
      echo c-out
      echo c-err >&2
      echo x=gamma >> "$SIGNALBOX_OUTPUT"
  d:
    needs: [b, c]
{on}    run: |
      {MARK}
      echo "d got {{{{ steps.b.outputs.w }}}} and {{{{ steps.c.outputs.x }}}}"
      echo y=delta >> "$SIGNALBOX_OUTPUT"
  e:
    needs: [d]
{on}    run: |
      {MARK}
      echo "e got {{{{ steps.d.outputs.y }}}}"
      echo e-err >&2
  f:
    needs: [d]
{on}    run: |
      {MARK}
      echo f-out
      cd / && echo z=zeta >> "$SIGNALBOX_OUTPUT"
  last:
    needs: [e, f]
    run: |
      {MARK}
      echo "last got {{{{ steps.f.outputs.z }}}}"
"#
    )
}

const POOL_STEPS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

/// What a run's journal says of a step that a local run says the same of:
/// its outputs and its output lines.
fn seen(journal: &[Value], step: &str) -> (Value, Vec<(String, String)>) {
    let outputs = journal
        .iter()
        .find(|e| e["type"] == "step_succeeded" && e["step"] == step)
        .map(|e| e["outputs"].clone())
        .unwrap_or_else(|| panic!("{step} did not succeed"));
    let lines = journal
        .iter()
        .filter(|e| e["type"] == "step_output" && e["step"] == step)
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            (s("stream"), s("line"))
        })
        .collect();
    (outputs, lines)
}

#[test]
fn a_diamond_on_two_workers_runs_as_it_would_here() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let mut w1 = lab.worker("p", "w1", 2);
    let _w2 = lab.worker("p", "w2", 2);
    let done = lab.start(&diamond(true)).finish();
    done.expect(0, "succeeded");
    let id = done.run_id().to_string();
    for step in POOL_STEPS {
        let started = done.one("step_started", step);
        assert_eq!(started["pool"], "p", "{}", done.dump());
        let w = worker_of(started);
        assert!(w == "w1" || w == "w2", "{step} on {w}\n{}", done.dump());
    }
    for step in ["prep", "last"] {
        let started = done.one("step_started", step);
        assert!(
            started.get("pool").is_none_or(Value::is_null),
            "{}",
            done.dump()
        );
        assert!(
            started.get("worker").is_none_or(Value::is_null),
            "{}",
            done.dump()
        );
    }
    assert_eq!(
        done.lines("d", "output"),
        ["d got beta-b and gamma"],
        "{}",
        done.dump()
    );
    assert_eq!(
        done.lines("last", "output"),
        ["last got zeta"],
        "{}",
        done.dump()
    );
    assert_eq!(
        done.lines("a", "output"),
        ["a-out", "a-err"],
        "{}",
        done.dump()
    );

    // The same file with no pools, all here: the same outputs and lines.
    let here = Lab::new(&nats);
    let local = here.work.run(&here.workflow(&diamond(false)), &[]);
    local.expect(0, "succeeded");
    let journal = lab.work.journal(&id);
    let local_journal = here.work.journal(local.run_id());
    for step in POOL_STEPS.iter().chain(&["prep", "last"]) {
        assert_eq!(
            seen(&journal, step),
            seen(&local_journal, step),
            "{step}: on workers vs here"
        );
    }

    // The lines are in the step's log file on this machine.
    let logs = lab.work.cli(&["logs", &id, "a"]);
    assert!(logs.status.success(), "{logs:?}");
    let text = String::from_utf8_lossy(&logs.stdout);
    assert!(text.contains("a-out") && text.contains("a-err"), "{text}");
    let all = lab.work.cli(&["logs", &id]);
    let all = String::from_utf8_lossy(&all.stdout);
    for line in ["b got alpha", "c-err", "e got delta", "f-out"] {
        assert!(all.contains(line), "{line} missing from logs:\n{all}");
    }

    lab.at_most_once();
    assert_eq!(lab.executions().len(), 8);
    invariants(&lab, &id);

    // A worker told to stop ends cleanly and is listed no more.
    assert_eq!(w1.terminate(), Some(0), "{}", w1.stderr());
    assert!(!live_workers(&lab.url).contains(&"w1".to_string()));
}
