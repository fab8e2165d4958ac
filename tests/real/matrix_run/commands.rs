//! Commands naming a matrix step or one of its instances (SPEC §1 Matrix:
//! ids appear as they are in `--approve` and the other commands): from
//! another terminal while the run lives, as flags, and the socket's
//! `retry` of a whole matrix step.

use serde_json::Value;

use super::{Work, steps_of};
use crate::common::is;

const APPROVALS: &str = r#"
name: ap
steps:
  deploy:
    matrix: { region: [eu, us] }
    approval: { prompt: "Deploy to {{ matrix.region }}?" }
"#;

fn taken(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn refused(out: &std::process::Output, words: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(words), "{stderr}");
}

fn resolved<'a>(events: &'a [Value], step: &str) -> &'a Value {
    (events.iter())
        .find(|e| is(e, "approval_resolved", step))
        .unwrap_or_else(|| panic!("no approval_resolved for {step}"))
}

#[test]
fn a_matrix_of_approvals_is_answered_one_instance_at_a_time_from_another_terminal() {
    let w = Work::new();
    w.write(APPROVALS);
    let mut live = w.spawn(&["run", "wf.yaml"]);
    let id = live.run_id();
    for step in ["deploy:eu", "deploy:us"] {
        live.wait_for(step, |e| is(e, "approval_requested", step));
    }
    refused(
        &w.cli(&["approve", &id, "deploy:ue"]),
        "did you mean `deploy:eu`",
    );
    taken(&w.cli(&["approve", &id, "deploy:eu"]));
    live.wait_for("eu succeeded", |e| is(e, "step_succeeded", "deploy:eu"));
    // Only that instance: the other one is still open to be rejected.
    taken(&w.cli(&["reject", &id, "deploy:us"]));
    let done = live.finish();
    done.expect(1, "failed");
    let eu = resolved(&done.events, "deploy:eu");
    assert_eq!(
        (&eu["approved"], &eu["by"]),
        (&true.into(), &"socket".into())
    );
    let us = resolved(&done.events, "deploy:us");
    assert_eq!(
        (&us["approved"], &us["by"]),
        (&false.into(), &"socket".into())
    );
    assert_eq!(done.one("step_failed", "deploy:us")["error"], "rejected");
    w.journal_is_sound(&id);
}

#[test]
fn approving_the_matrix_step_from_another_terminal_approves_every_instance() {
    let w = Work::new();
    w.write(APPROVALS);
    let mut live = w.spawn(&["run", "wf.yaml"]);
    let id = live.run_id();
    for step in ["deploy:eu", "deploy:us"] {
        live.wait_for(step, |e| is(e, "approval_requested", step));
    }
    taken(&w.cli(&["approve", &id, "deploy"]));
    let done = live.finish();
    done.expect(0, "succeeded");
    for step in ["deploy:eu", "deploy:us"] {
        assert_eq!(resolved(&done.events, step)["approved"], true);
    }
}

#[test]
fn flags_name_the_matrix_step_for_every_instance_or_one_instance() {
    let w = Work::new();
    let all = w.run(APPROVALS, &["--approve", "deploy"]);
    all.expect(0, "succeeded");
    for step in ["deploy:eu", "deploy:us"] {
        let r = resolved(&all.events, step);
        assert_eq!((&r["approved"], &r["by"]), (&true.into(), &"flag".into()));
    }
    let each = w.run(
        APPROVALS,
        &["--approve", "deploy:eu", "--reject", "deploy:us"],
    );
    each.expect(1, "failed");
    assert_eq!(resolved(&each.events, "deploy:eu")["approved"], true);
    assert_eq!(resolved(&each.events, "deploy:us")["approved"], false);
    // An instance named over its matrix step's flag decides for itself.
    let over = w.run(APPROVALS, &["--approve", "deploy", "--reject", "deploy:us"]);
    over.expect(1, "failed");
    assert_eq!(resolved(&over.events, "deploy:eu")["approved"], true);
    assert_eq!(resolved(&over.events, "deploy:us")["approved"], false);
    w.write(APPROVALS);
    let wrong = w.cli(&["run", "wf.yaml", "--headless", "--approve", "deploy:ue"]);
    refused(&wrong, "did you mean `deploy:eu`");
}

#[test]
fn retry_of_a_matrix_step_on_a_live_run_runs_its_failed_instances_again() {
    let w = Work::new();
    w.write(
        r#"
name: lr
concurrency: 4
steps:
  build:
    matrix: { target: [a, b, c] }
    run: 'echo {{ matrix.target }} >> ledger; test {{ matrix.target }} = a || test -e fixed-{{ matrix.target }}'
  gate:
    approval: { prompt: "Done?" }
"#,
    );
    let mut live = w.spawn(&["run", "wf.yaml"]);
    let id = live.run_id();
    for step in ["build:b", "build:c"] {
        live.wait_for(step, |e| is(e, "step_failed", step));
    }
    live.wait_for("gate", |e| is(e, "approval_requested", "gate"));
    for t in ["b", "c"] {
        std::fs::write(w.dir().join(format!("fixed-{t}")), "").unwrap();
    }
    let retry = r#"{"command":"retry","step":"build","by":"socket"}"#;
    assert_eq!(w.socket(&id, retry), "ok");
    for step in ["build:b", "build:c"] {
        live.wait_for(step, |e| is(e, "step_succeeded", step));
    }
    let again = w.socket(&id, retry);
    assert!(
        again.starts_with("refused: no instance of `build`"),
        "{again}"
    );
    taken(&w.cli(&["approve", &id, "gate"]));
    let done = live.finish();
    done.expect(0, "succeeded");
    let retried: Vec<&Value> = (done.all("dag_modified").into_iter())
        .map(|e| &e["steps"])
        .collect();
    assert_eq!(
        retried,
        [
            &serde_json::json!(["build:b"]),
            &serde_json::json!(["build:c"])
        ]
    );
    let started = steps_of(&done.events, "step_started");
    assert_eq!(started.iter().filter(|s| **s == "build:a").count(), 1);
    assert_eq!(started.iter().filter(|s| **s == "build:b").count(), 2);
    w.journal_is_sound(&id);
}

#[test]
fn logs_of_a_matrix_step_are_its_instances_lines_each_named() {
    let w = Work::new();
    let done = w.run(
        "name: lg\nsteps:\n  b:\n    matrix: { x: [one, two] }\n    run: echo hi {{ matrix.x }}\n  c:\n    needs: [b]\n    run: echo other\n",
        &["--jobs", "1"],
    );
    done.expect(0, "succeeded");
    let run = done.events[0]["run"].as_str().unwrap().to_string();
    let out = w.cli(&["logs", &run, "b"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "b:one | hi one\nb:two | hi two\n"
    );
    let out = w.cli(&["logs", &run, "b:two"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi two\n");
    let out = w.cli(&["logs", &run, "bb"]);
    assert_eq!(out.status.code(), Some(2));
}
