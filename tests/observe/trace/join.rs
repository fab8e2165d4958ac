//! `TRACEPARENT` when a run starts: the run joins the caller's trace.

use super::*;

// ---------------------------------------------------------------------------

#[test]
fn a_run_started_under_traceparent_joins_that_trace() {
    let w = Work::new();
    let file = w.write(ONE_STEP);
    let mut cmd = w.command(&["run", "--headless", "--json"]);
    cmd.arg(&file).env(
        "TRACEPARENT",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    let done = Live::spawn(cmd).finish();
    assert_eq!(done.code, Some(0), "{}", done.dump());
    let id = done.run_id().to_string();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    assert_eq!(kept_trace_id(&w, &id), trace_id);
    let v = trace(&w, &id);
    let all = spans(&v);
    check_tree(&all, trace_id, Some("00f067aa0ba902b7"));
    let attempt = one(&all, "ATTEMPT hello 1")["spanId"].as_str().unwrap();
    assert_eq!(
        printed_traceparents(&done.events, "hello"),
        [format!("00-{trace_id}-{attempt}-01")]
    );
}

#[test]
fn runs_started_under_one_traceparent_share_the_trace_but_no_span() {
    let w = Work::new();
    let file = w.write(ONE_STEP);
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut ids = Vec::new();
    let mut printed = Vec::new();
    for _ in 0..2 {
        let mut cmd = w.command(&["run", "--headless", "--json"]);
        cmd.arg(&file).env("TRACEPARENT", parent);
        let done = Live::spawn(cmd).finish();
        assert_eq!(done.code, Some(0), "{}", done.dump());
        printed.extend(printed_traceparents(&done.events, "hello"));
        ids.push(done.run_id().to_string());
    }
    assert_ne!(printed[0], printed[1], "each attempt its own span");
    let all: Vec<String> = ids
        .iter()
        .flat_map(|id| {
            let v = trace(&w, id);
            spans(&v)
                .iter()
                .map(|s| s["spanId"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let unique: std::collections::BTreeSet<&String> = all.iter().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "a span id repeats across the two runs: {all:?}"
    );
}

#[test]
fn an_invalid_traceparent_is_noted_and_the_run_has_a_trace_of_its_own() {
    let w = Work::new();
    let file = w.write(ONE_STEP);
    let mut cmd = w.command(&["run", "--headless", "--json"]);
    cmd.arg(&file).env(
        "TRACEPARENT",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    );
    let done = Live::spawn(cmd).finish();
    assert_eq!(done.code, Some(0), "{}", done.dump());
    let id = done.run_id().to_string();
    let trace_id = kept_trace_id(&w, &id);
    assert!(is_hex(&trace_id, 32));
    let all_zero = "0".repeat(32);
    assert_ne!(trace_id, all_zero);
    check_tree(&spans(&trace(&w, &id)), &trace_id, None);
    assert!(
        w.log().contains("TRACEPARENT"),
        "noted in the log: {}",
        w.log()
    );
}

#[test]
fn a_hook_joins_the_runs_span_not_the_traceparent_signalbox_was_given() {
    let w = Work::new();
    let file = w.write(
        r#"
name: hooked
hooks:
  - on: [run_finished]
    run: printf '%s' "$TRACEPARENT" > hook-traceparent
steps:
  hello:
    run: "true"
"#,
    );
    let mut cmd = w.command(&["run", "--headless", "--json"]);
    cmd.arg(&file).env("TRACEPARENT", "garbage");
    let done = Live::spawn(cmd).finish();
    assert_eq!(done.code, Some(0), "{}", done.dump());
    let id = done.run_id().to_string();
    let trace_id = kept_trace_id(&w, &id);
    let v = trace(&w, &id);
    let all = spans(&v);
    let run = one(&all, "RUN hooked")["spanId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        w.read("hook-traceparent"),
        format!("00-{trace_id}-{run}-01")
    );
}
