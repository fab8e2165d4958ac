use serde_json::{Value, json};

use super::*;

const WF: &str = r#"
name: t
breakers:
  reg: { failures: 1, cooldown: 1m }
steps:
  a:
    run: "true"
    retry: { attempts: 3, delay: 1s }
  gate:
    needs: [a]
    approval: { prompt: "ok?" }
  b:
    run: "true"
    breaker: reg
    retry: { attempts: 2 }
  q:
    ask: { question: "which?", choices: [x, y] }
  late:
    needs: [b]
    when: steps.b.status == 'succeeded'
    run: "true"
"#;

fn wf() -> Workflow {
    crate::workflow::load_str(WF, "t.yaml").unwrap()
}

/// Events from `(type, step, fields)`, numbered from 1.
fn journal(events: &[Value]) -> Vec<Envelope> {
    events
        .iter()
        .enumerate()
        .map(|(n, e)| {
            let mut line = json!({ "seq": n + 1, "ts": "2026-01-01T00:00:00Z", "run": "r" });
            for (k, v) in e.as_object().unwrap() {
                line[k] = v.clone();
            }
            serde_json::from_value(line).unwrap()
        })
        .collect()
}

fn ev(ty: &str, step: &str, more: Value) -> Value {
    let mut e = json!({ "type": ty, "step": step });
    for (k, v) in more.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn start(resumed: bool) -> Value {
    json!({ "type": "run_started", "workflow": "t", "steps": 5, "resumed": resumed })
}

fn check(events: &[Value]) -> Result<(), Impossible> {
    check_all(&wf(), "r", &journal(events))
}

fn refused_at(events: &[Value]) -> usize {
    check(events).unwrap_err().line
}

#[test]
fn a_crashed_attempt_runs_again_under_its_number() {
    let events = [
        start(false),
        ev("step_ready", "a", json!({})),
        ev("step_started", "a", json!({ "attempt": 1 })),
        start(true),
        ev("step_started", "a", json!({ "attempt": 1 })),
    ];
    check(&events).unwrap();
    let mut skipped = events.to_vec();
    skipped[4]["attempt"] = 2.into();
    assert_eq!(refused_at(&skipped), 5);
}

#[test]
fn an_attempt_on_a_worker_is_adopted_by_the_resumed_run() {
    let ok = json!({ "attempt": 1, "duration_ms": 5, "outputs": {}, "fallback": false });
    let events = [
        start(false),
        ev("step_ready", "a", json!({})),
        ev(
            "step_started",
            "a",
            json!({ "attempt": 1, "pool": "linux", "worker": "w1" }),
        ),
        ev(
            "step_output",
            "a",
            json!({ "stream": "output", "line": "before" }),
        ),
        start(true),
        ev(
            "step_output",
            "a",
            json!({ "stream": "output", "line": "after" }),
        ),
        ev("step_succeeded", "a", ok),
    ];
    check(&events).unwrap();
    // Run here, the interrupted attempt starts again: output before that is
    // no output of it.
    let mut here = events.to_vec();
    here[2] = ev("step_started", "a", json!({ "attempt": 1 }));
    assert_eq!(refused_at(&here), 6);
}

#[test]
fn a_step_stopped_with_the_run_picks_up_where_it_stood() {
    let events = [
        start(false),
        ev("step_ready", "a", json!({})),
        ev("step_started", "a", json!({ "attempt": 1 })),
        ev("step_cancelled", "a", json!({ "reason": "run_cancelled" })),
        ev("step_cancelled", "b", json!({ "reason": "run_cancelled" })),
        ev(
            "step_cancelled",
            "gate",
            json!({ "reason": "run_cancelled" }),
        ),
        ev("step_cancelled", "q", json!({ "reason": "run_cancelled" })),
        ev(
            "step_cancelled",
            "late",
            json!({ "reason": "run_cancelled" }),
        ),
        json!({ "type": "run_finished", "status": "cancelled", "duration_ms": 1 }),
        start(true),
        ev("step_started", "a", json!({ "attempt": 1 })),
    ];
    check(&events).unwrap();
    let mut succeeded = events[..9].to_vec();
    succeeded[8]["status"] = "succeeded".into();
    assert_eq!(refused_at(&succeeded), 9);
}

#[test]
fn an_open_breaker_fails_an_attempt_that_never_started() {
    let events = [
        start(false),
        ev("step_ready", "b", json!({})),
        ev(
            "step_retrying",
            "b",
            json!({ "attempt": 1, "error": "breaker reg is open", "exit_code": null, "delay_ms": 1000 }),
        ),
        ev("step_started", "b", json!({ "attempt": 2 })),
    ];
    check(&events).unwrap();
    // Without a breaker, an attempt fails only once it has started.
    let mut a = events.to_vec();
    for e in &mut a[1..] {
        e["step"] = "a".into();
    }
    assert_eq!(refused_at(&a), 3);
}

#[test]
fn a_retry_starts_a_failed_step_over_and_a_skip_ends_a_running_one() {
    let events = [
        start(false),
        ev("step_ready", "b", json!({})),
        ev("step_started", "b", json!({ "attempt": 1 })),
        ev(
            "step_retrying",
            "b",
            json!({ "attempt": 1, "error": "exit code 1", "exit_code": 1, "delay_ms": 10 }),
        ),
        ev("step_started", "b", json!({ "attempt": 2 })),
        ev(
            "step_failed",
            "b",
            json!({ "attempts": 2, "error": "exit code 1", "exit_code": 1 }),
        ),
        json!({ "type": "dag_modified", "action": "retry", "steps": ["b"], "by": "keyboard" }),
        ev("step_ready", "b", json!({})),
        ev("step_started", "b", json!({ "attempt": 1 })),
        json!({ "type": "dag_modified", "action": "skip", "steps": ["b"], "by": "socket" }),
        ev(
            "step_output",
            "b",
            json!({ "stream": "stdout", "line": "x" }),
        ),
        ev(
            "step_skipped",
            "b",
            json!({ "reason": "operator", "cause": "operator" }),
        ),
    ];
    check(&events).unwrap();
    let mut no_skip = events.to_vec();
    no_skip.remove(9);
    assert_eq!(refused_at(&no_skip), 11);
    let mut no_retry = events.to_vec();
    no_retry.remove(6);
    assert_eq!(refused_at(&no_retry), 7);
}

#[test]
fn waits_open_in_order_and_resolve_once() {
    let events = [
        start(false),
        ev("step_ready", "a", json!({})),
        ev("step_started", "a", json!({ "attempt": 1 })),
        ev(
            "step_succeeded",
            "a",
            json!({ "attempt": 1, "duration_ms": 1, "outputs": {}, "fallback": false }),
        ),
        ev("step_ready", "gate", json!({})),
        ev(
            "approval_requested",
            "gate",
            json!({ "wait": "w1", "prompt": "ok?", "timeout_ms": 300000 }),
        ),
        start(true),
        ev(
            "approval_requested",
            "gate",
            json!({ "wait": "w1", "prompt": "ok?", "timeout_ms": 1000 }),
        ),
        ev(
            "approval_resolved",
            "gate",
            json!({ "wait": "w1", "approved": true, "by": "flag", "waited_ms": 1 }),
        ),
        ev(
            "step_succeeded",
            "gate",
            json!({ "attempt": 1, "duration_ms": 1, "outputs": {}, "fallback": false }),
        ),
    ];
    check(&events).unwrap();
    let mut started = events[..5].to_vec();
    started.push(ev("step_started", "gate", json!({ "attempt": 1 })));
    assert_eq!(refused_at(&started), 6);
    let mut renumbered = events.to_vec();
    renumbered[7]["wait"] = "w2".into();
    assert_eq!(refused_at(&renumbered), 8);
    let mut longer = events.to_vec();
    longer[5]["timeout_ms"] = 300_001.into();
    assert_eq!(refused_at(&longer), 6);
    let mut failed = events.to_vec();
    failed[9] = ev(
        "step_failed",
        "gate",
        json!({ "attempts": 1, "error": "rejected", "exit_code": null }),
    );
    assert_eq!(refused_at(&failed), 10);
}

#[test]
fn a_journal_begins_with_run_started_of_its_own_run() {
    assert_eq!(refused_at(&[ev("step_ready", "a", json!({}))]), 1);
    let e = journal(&[start(false)]);
    assert_eq!(check_all(&wf(), "other", &e).unwrap_err().line, 1);
    // A run killed before its first event resumes with `resumed: true`.
    check(&[start(true), ev("step_ready", "a", json!({}))]).unwrap();
}

#[test]
fn wait_ids_are_w_and_a_number() {
    assert_eq!(wait_number("w1"), Some(1));
    assert_eq!(wait_number("w12"), Some(12));
    for bad in ["", "w", "1", "w0", "w01", "w-1", "x1", "w1 "] {
        assert_eq!(wait_number(bad), None, "{bad:?}");
    }
}

#[test]
fn a_question_takes_one_of_its_choices_or_fails() {
    let events = [
        start(false),
        ev("step_ready", "q", json!({})),
        ev(
            "question_asked",
            "q",
            json!({ "wait": "w1", "question": "which?", "choices": ["x", "y"], "default": null }),
        ),
        ev(
            "question_answered",
            "q",
            json!({ "wait": "w1", "answer": "y", "by": "socket", "waited_ms": 1 }),
        ),
    ];
    check(&events).unwrap();
    let mut other = events.to_vec();
    other[3]["answer"] = "z".into();
    assert_eq!(refused_at(&other), 4);
    let mut choices = events.to_vec();
    choices[2]["choices"] = json!(["x"]);
    assert_eq!(refused_at(&choices), 3);
    // Rejected, or timed out without a default: it fails unanswered.
    let mut rejected = events[..3].to_vec();
    rejected.push(ev(
        "step_failed",
        "q",
        json!({ "attempts": 1, "error": "rejected", "exit_code": null }),
    ));
    check(&rejected).unwrap();
}

#[test]
fn skips_have_the_cause_the_engine_gives() {
    let failed_b = [
        start(false),
        ev("step_ready", "b", json!({})),
        ev("step_started", "b", json!({ "attempt": 1 })),
        ev(
            "step_retrying",
            "b",
            json!({ "attempt": 1, "error": "exit code 1", "exit_code": 1, "delay_ms": 10 }),
        ),
        ev("step_started", "b", json!({ "attempt": 2 })),
        ev(
            "step_failed",
            "b",
            json!({ "attempts": 2, "error": "exit code 1", "exit_code": 1 }),
        ),
    ];
    let mut upstream = failed_b.to_vec();
    upstream.push(ev(
        "step_skipped",
        "late",
        json!({ "reason": "upstream_failed", "cause": "b" }),
    ));
    check(&upstream).unwrap();
    upstream[6]["cause"] = "a".into();
    assert_eq!(refused_at(&upstream), 7);
    let mut condition = failed_b.to_vec();
    condition.push(ev(
        "step_skipped",
        "late",
        json!({ "reason": "condition", "cause": "steps.b.status == 'succeeded'" }),
    ));
    assert_eq!(refused_at(&condition), 7);
    // A condition is checked once the step is ready, and only if it has one.
    let ready = [
        start(false),
        ev("step_ready", "a", json!({})),
        ev(
            "step_skipped",
            "a",
            json!({ "reason": "condition", "cause": "x" }),
        ),
    ];
    assert_eq!(refused_at(&ready), 3);
}

#[test]
fn a_finished_run_retried_starts_its_steps_over_from_attempt_1() {
    let mut events = vec![
        start(false),
        ev("step_ready", "a", json!({})),
        ev("step_started", "a", json!({ "attempt": 1 })),
        ev("step_cancelled", "a", json!({ "reason": "run_cancelled" })),
    ];
    for step in ["b", "gate", "q", "late"] {
        events.push(ev(
            "step_cancelled",
            step,
            json!({ "reason": "run_cancelled" }),
        ));
    }
    events.extend([
        json!({ "type": "run_finished", "status": "cancelled", "duration_ms": 1 }),
        start(true),
        json!({ "type": "dag_modified", "action": "retry", "steps": ["a", "b"], "by": "flag", "user": "me" }),
        ev("step_ready", "a", json!({})),
        ev("step_started", "a", json!({ "attempt": 1 })),
        ev(
            "step_succeeded",
            "a",
            json!({ "attempt": 1, "duration_ms": 1, "outputs": {}, "fallback": false }),
        ),
    ]);
    check(&events).unwrap();
    // The reset step starts at attempt 1, never where it stood.
    let mut on = events.clone();
    on[12]["attempt"] = 2.into();
    assert_eq!(refused_at(&on), 13);
    // Only just after a resumed start does a retry take a step that ended
    // well: in the middle of a segment a succeeded step is not retried.
    let mut again = events.clone();
    again.push(json!({ "type": "dag_modified", "action": "retry", "steps": ["a"], "by": "flag" }));
    assert_eq!(refused_at(&again), 15);
    // Nor after a crash: only a finished run is carried on so.
    let crashed = [
        start(false),
        ev("step_ready", "a", json!({})),
        ev("step_started", "a", json!({ "attempt": 1 })),
        events[13].clone(),
        start(true),
        json!({ "type": "dag_modified", "action": "retry", "steps": ["a"], "by": "flag" }),
    ];
    assert_eq!(refused_at(&crashed), 6);
}

#[test]
fn a_live_retry_starts_over_the_dependents_cancelled_with_the_failed_step() {
    let events = [
        start(false),
        json!({ "type": "dag_modified", "action": "cancel", "steps": ["late"], "by": "socket" }),
        ev("step_cancelled", "late", json!({ "reason": "operator" })),
        ev("step_ready", "b", json!({})),
        ev("step_started", "b", json!({ "attempt": 1 })),
        ev(
            "step_retrying",
            "b",
            json!({ "attempt": 1, "error": "exit code 1", "exit_code": 1, "delay_ms": 10 }),
        ),
        ev("step_started", "b", json!({ "attempt": 2 })),
        ev(
            "step_failed",
            "b",
            json!({ "attempts": 2, "error": "exit code 1", "exit_code": 1 }),
        ),
        json!({ "type": "dag_modified", "action": "retry", "steps": ["b", "late"], "by": "keyboard" }),
        ev("step_ready", "b", json!({})),
        ev("step_started", "b", json!({ "attempt": 1 })),
        ev(
            "step_succeeded",
            "b",
            json!({ "attempt": 1, "duration_ms": 5, "outputs": {}, "fallback": false }),
        ),
        ev("step_ready", "late", json!({})),
    ];
    check(&events).unwrap();
    // Only a dependent that ended skipped or cancelled is reset with it.
    let mut running = events.to_vec();
    running[8] =
        json!({ "type": "dag_modified", "action": "retry", "steps": ["b", "a"], "by": "keyboard" });
    assert_eq!(refused_at(&running), 9);
}
