//! Journals no run of the binary makes on demand: a wait re-opened by a
//! resume, an attempt the breaker failed before it ran, a step an edit
//! removed, events of a kind not about spans.

use super::*;

fn ctx() -> Context {
    Context {
        trace: TraceId::derived("r"),
        parent: None,
        run_id: "r".into(),
    }
}

/// Events from `(type and fields)` JSON bodies, a second apart.
fn journal(bodies: &[&str]) -> Vec<Envelope> {
    (bodies.iter().enumerate())
        .map(|(n, body)| {
            let line = format!(
                r#"{{"seq":{},"ts":"2026-01-01T00:00:{:02}Z","run":"r",{body}}}"#,
                n + 1,
                n
            );
            serde_json::from_str(&line).unwrap()
        })
        .collect()
}

fn find<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn attr<'a>(s: &'a Span, key: &str) -> Option<&'a otlp::AnyValue> {
    s.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| &kv.value)
}

fn secs(s: &str) -> u128 {
    s.parse::<u128>().unwrap() / 1_000_000_000 % 60
}

#[test]
fn a_wait_reopened_by_a_resume_is_one_span() {
    let events = journal(&[
        r#""type":"run_started","workflow":"w","steps":1,"resumed":false"#,
        r#""type":"step_ready","step":"gate""#,
        r#""type":"approval_requested","step":"gate","wait":"w1","prompt":"p","timeout_ms":1000"#,
        r#""type":"run_started","workflow":"w","steps":1,"resumed":true"#,
        r#""type":"approval_requested","step":"gate","wait":"w1","prompt":"p","timeout_ms":900"#,
        r#""type":"approval_resolved","step":"gate","wait":"w1","approved":false,"by":"socket","user":"bob","waited_ms":5"#,
        r#""type":"step_failed","step":"gate","attempts":0,"error":"rejected","exit_code":null"#,
        r#""type":"run_finished","status":"failed","duration_ms":7"#,
    ]);
    let spans = spans(&ctx(), &events);
    let waits = find(&spans, "APPROVAL gate");
    assert_eq!(waits.len(), 1);
    let w = waits[0];
    assert_eq!(
        (secs(&w.start_time_unix_nano), secs(&w.end_time_unix_nano)),
        (2, 5)
    );
    assert_eq!(w.events.len(), 1);
    assert_eq!(w.events[0].name, "reopened");
    assert!(matches!(
        attr(w, "signalbox.wait.approved"),
        Some(otlp::AnyValue::BoolValue(false))
    ));
    assert_eq!(w.status.code, otlp::STATUS_OK);
    let step = find(&spans, "STEP gate")[0];
    assert_eq!(step.status.code, otlp::STATUS_ERROR);
    assert_eq!(step.status.message, "rejected");
    assert_eq!(w.parent_span_id, step.span_id);
}

#[test]
fn an_attempt_the_breaker_failed_is_no_span_and_a_removed_step_ends() {
    let events = journal(&[
        r#""type":"run_started","workflow":"w","steps":2,"resumed":false"#,
        r#""type":"step_ready","step":"a""#,
        r#""type":"step_ready","step":"b""#,
        r#""type":"breaker_changed","breaker":"reg","state":"open""#,
        r#""type":"step_failed","step":"a","attempts":1,"error":"breaker reg is open","exit_code":null"#,
        r#""type":"dag_modified","action":"edit","steps":["b"],"by":"socket","revision":1,"sha256":"00","diff":{"added":[],"removed":["b"],"changed":{}}"#,
        r#""type":"hook_finished","hook":"h","on_seq":5,"exit_code":0,"error":null,"duration_ms":1"#,
        r#""type":"run_finished","status":"failed","duration_ms":7"#,
    ]);
    let spans = spans(&ctx(), &events);
    assert!(spans.iter().all(|s| !s.name.starts_with("ATTEMPT")));
    let b = find(&spans, "STEP b")[0];
    assert!(matches!(
        attr(b, "signalbox.step.removed"),
        Some(otlp::AnyValue::BoolValue(true))
    ));
    assert_eq!(secs(&b.end_time_unix_nano), 5);
    let run = &spans[0];
    let names: Vec<&str> = run.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["breaker_changed", "dag_modified"]);
    assert_eq!(secs(&run.end_time_unix_nano), 7);
    assert!(run.parent_span_id.is_empty());
    // Children before their parents never: the run, then by start.
    assert_eq!(spans[1].name, "STEP a");
}

#[test]
fn events_before_any_run_started_or_after_the_end_make_no_broken_span() {
    let events = journal(&[
        r#""type":"step_ready","step":"a""#,
        r#""type":"run_started","workflow":"w","steps":1,"resumed":true"#,
        r#""type":"step_started","step":"a","attempt":1"#,
    ]);
    let spans = spans(&ctx(), &events);
    assert_eq!(spans[0].name, "RUN w");
    let attempt = find(&spans, "ATTEMPT a 1")[0];
    let step = find(&spans, "STEP a")[0];
    assert_eq!(attempt.parent_span_id, step.span_id);
    assert_eq!(step.parent_span_id, spans[0].span_id);
    assert!(matches!(
        attr(attempt, "signalbox.open"),
        Some(otlp::AnyValue::BoolValue(true))
    ));
    assert!(super::spans(&ctx(), &[]).is_empty());
}

#[test]
fn a_wait_opened_again_after_its_span_ended_is_a_span_of_its_own() {
    let events = journal(&[
        r#""type":"run_started","workflow":"w","steps":1,"resumed":false"#,
        r#""type":"approval_requested","step":"gate","wait":"w1","prompt":"p","timeout_ms":1000"#,
        r#""type":"step_cancelled","step":"gate","reason":"the run was cancelled""#,
        r#""type":"run_finished","status":"cancelled","duration_ms":3"#,
        r#""type":"run_started","workflow":"w","steps":1,"resumed":true"#,
        r#""type":"approval_requested","step":"gate","wait":"w1","prompt":"p","timeout_ms":900"#,
        r#""type":"approval_resolved","step":"gate","wait":"w1","approved":true,"by":"keyboard","user":"amy","waited_ms":5"#,
        r#""type":"step_succeeded","step":"gate","attempt":0,"duration_ms":1,"outputs":{},"fallback":false"#,
        r#""type":"run_finished","status":"succeeded","duration_ms":7"#,
    ]);
    let spans = spans(&ctx(), &events);
    let waits = find(&spans, "APPROVAL gate");
    assert_eq!(waits.len(), 2);
    assert_ne!(waits[0].span_id, waits[1].span_id);
    let steps = find(&spans, "STEP gate");
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].status.code, otlp::STATUS_ERROR);
    assert_eq!(waits[0].parent_span_id, steps[0].span_id);
    assert_eq!(waits[1].parent_span_id, steps[1].span_id);
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(ids.len(), spans.len());
    assert_eq!(
        spans[0].status.code,
        otlp::STATUS_OK,
        "the last run_finished says"
    );
}
