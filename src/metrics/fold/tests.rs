//! The fold on fixed event sequences.
use super::*;
use serde_json::json;

fn wf() -> Workflow {
    crate::workflow::load_str(
        "name: t\nbreakers:\n  b: { failures: 1 }\nsteps:\n  a:\n    breaker: b\n    retry: { attempts: 3 }\n    run: 'true'\n  g:\n    approval: { prompt: ok? }\n",
        "t.yaml",
    )
    .unwrap()
}

/// The journal line for `body` at `seq`, `ms` milliseconds into the run.
fn ev(seq: u64, ms: u64, body: serde_json::Value) -> Envelope {
    let mut v = json!({ "seq": seq, "ts": format!("2026-01-01T00:00:{:02}.{:03}Z", ms / 1000, ms % 1000), "run": "r" });
    for (k, x) in body.as_object().unwrap() {
        v[k] = x.clone();
    }
    serde_json::from_value(v).unwrap()
}

fn value(text: &str, series: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[series.len() + 1..].to_string()
}

#[test]
fn a_fixed_sequence_folds_to_known_values() {
    let (registry, m) = Metrics::register("t", None);
    let mut f = Fold::new(&wf(), m);
    let refused = "breaker b is open";
    let events = [
        json!({ "type": "run_started", "workflow": "t", "steps": 2, "resumed": false }),
        json!({ "type": "step_ready", "step": "a" }),
        json!({ "type": "step_started", "step": "a", "attempt": 1 }),
        json!({ "type": "step_retrying", "step": "a", "attempt": 1, "error": "timed out after 1s", "exit_code": null, "delay_ms": 10 }),
        json!({ "type": "breaker_changed", "breaker": "b", "state": "open" }),
        json!({ "type": "step_retrying", "step": "a", "attempt": 2, "error": refused, "exit_code": null, "delay_ms": 10 }),
        json!({ "type": "step_started", "step": "a", "attempt": 3 }),
        json!({ "type": "step_succeeded", "step": "a", "attempt": 3, "duration_ms": 2, "outputs": {}, "fallback": false }),
        json!({ "type": "approval_requested", "step": "g", "wait": "w1", "prompt": "ok?", "timeout_ms": 1000 }),
    ];
    for (i, e) in events.into_iter().enumerate() {
        f.apply(&ev(i as u64 + 1, i as u64 * 500, e));
    }
    // Folding an event again changes nothing.
    f.apply(&ev(
        3,
        0,
        json!({ "type": "step_started", "step": "a", "attempt": 1 }),
    ));
    let text = super::super::encode(&registry);
    let l = |rest: &str| format!("signalbox_{rest}");
    assert_eq!(
        value(&text, &l("steps{workflow=\"t\",status=\"succeeded\"}")),
        "1"
    );
    assert_eq!(
        value(&text, &l("steps{workflow=\"t\",status=\"waiting\"}")),
        "1"
    );
    assert_eq!(
        value(&text, &l("steps{workflow=\"t\",status=\"pending\"}")),
        "0"
    );
    assert_eq!(
        value(
            &text,
            &l("attempts_total{workflow=\"t\",outcome=\"timed_out\"}")
        ),
        "1"
    );
    assert_eq!(
        value(
            &text,
            &l("attempts_total{workflow=\"t\",outcome=\"refused\"}")
        ),
        "1"
    );
    assert_eq!(
        value(
            &text,
            &l("attempts_total{workflow=\"t\",outcome=\"succeeded\"}")
        ),
        "1"
    );
    assert_eq!(
        value(
            &text,
            &l("attempts_total{workflow=\"t\",outcome=\"failed\"}")
        ),
        "0"
    );
    assert_eq!(value(&text, &l("retries_total{workflow=\"t\"}")), "2");
    // 0.5 s each: started at 1.0 s and 3.0 s, ended at 1.5 s and 3.5 s.
    assert_eq!(
        value(&text, &l("attempt_duration_seconds_count{workflow=\"t\"}")),
        "2"
    );
    assert_eq!(
        value(&text, &l("attempt_duration_seconds_sum{workflow=\"t\"}")),
        "1.0"
    );
    assert_eq!(
        value(&text, &l("waits_open{workflow=\"t\",kind=\"approval\"}")),
        "1"
    );
    assert_eq!(
        value(
            &text,
            &l("breaker_state{workflow=\"t\",breaker=\"b\",state=\"open\"}")
        ),
        "1"
    );
    assert_eq!(
        value(
            &text,
            &l("breaker_state{workflow=\"t\",breaker=\"b\",state=\"closed\"}")
        ),
        "0"
    );
    assert_eq!(value(&text, &l("events_total{workflow=\"t\"}")), "9");

    // The run ends: the open wait closes with it.
    f.apply(&ev(
        10,
        6000,
        json!({ "type": "run_finished", "status": "cancelled", "duration_ms": 6000 }),
    ));
    let text = super::super::encode(&registry);
    assert_eq!(
        value(&text, &l("waits_open{workflow=\"t\",kind=\"approval\"}")),
        "0"
    );
}

#[test]
fn retry_and_edit_move_steps_back_and_in_and_out() {
    let (registry, m) = Metrics::register("t", None);
    let mut f = Fold::new(&wf(), m);
    let events = [
        json!({ "type": "step_skipped", "step": "a", "reason": "operator", "cause": "operator" }),
        json!({ "type": "dag_modified", "action": "retry", "steps": ["a"], "by": "socket" }),
        json!({ "type": "dag_modified", "action": "edit", "steps": [], "by": "socket", "revision": 1,
                "diff": { "added": ["n"], "removed": ["g"], "changed": {} } }),
    ];
    for (i, e) in events.into_iter().enumerate() {
        f.apply(&ev(i as u64 + 1, 0, e));
    }
    let text = super::super::encode(&registry);
    let pending = "signalbox_steps{workflow=\"t\",status=\"pending\"}";
    assert_eq!(value(&text, pending), "2", "a again, and n; g is gone");
    let skipped = "signalbox_steps_finished_total{workflow=\"t\",status=\"skipped\"}";
    assert_eq!(value(&text, skipped), "1");
}
