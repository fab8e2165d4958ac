//! A run crashed and resumed, or retried, is one trace.

use serde_json::Value;

use super::*;

// ---------------------------------------------------------------------------

const CRASHY: &str = r#"
name: crashy
steps:
  first:
    run: 'true'
  slow:
    needs: [first]
    run: 'echo "tp=$TRACEPARENT"; if test -f slow.started; then exit 0; fi; touch slow.started; exec sleep 30'
"#;

#[test]
fn a_run_killed_and_resumed_is_one_trace_with_the_cut_attempt_ended_in_error() {
    let w = Work::new();
    let mut live = start_run(&w, CRASHY, &[]);
    let id = live.run_id();
    live.wait_for("slow started", |e| is(e, "step_started", "slow"));
    wait_file(&w.dir().join("slow.started"));
    live.wait_for("slow's TRACEPARENT", |e| is(e, "step_output", "slow"));
    live.kill9();
    let cut = w.journal(&id);
    let trace_id = kept_trace_id(&w, &id);

    // Interrupted and not resumed: its spans so far, open ones marked.
    let v = trace(&w, &id);
    let all = spans(&v);
    let run = check_tree(&all, &trace_id, None);
    assert_eq!(attr(run, "signalbox.open"), Some(&Value::Bool(true)));
    assert_eq!(end(run), ts(cut.last().unwrap()));
    assert_eq!(
        attr(one(&all, "ATTEMPT slow 1"), "signalbox.open"),
        Some(&Value::Bool(true))
    );

    // Resumed with a TRACEPARENT of its own: the run keeps its trace.
    let mut cmd = w.command(&["resume", &id, "--headless", "--json"]);
    cmd.env(
        "TRACEPARENT",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    );
    let done = Live::spawn(cmd).finish();
    assert_eq!(done.code, Some(0), "{}", done.dump());
    assert_eq!(kept_trace_id(&w, &id), trace_id);
    let journal = w.journal(&id);
    let v = trace(&w, &id);
    let all = spans(&v);
    let run = check_tree(&all, &trace_id, None);
    assert_eq!(named(&all, "RUN crashy").len(), 1);
    assert_eq!(attr_str(run, "signalbox.resumes"), "1");
    assert_eq!(attr_str(run, "cicd.pipeline.result"), "success");
    assert_eq!(attr(run, "signalbox.open"), None);
    assert_eq!(start(run), ts(&journal[0]));
    assert_eq!(end(run), ts(journal.last().unwrap()));
    let resumed = &run["events"].as_array().unwrap()[0];
    assert_eq!(resumed["name"], "resumed");

    // One life of `slow` across the crash; two attempts, both number 1.
    let step = one(&all, "STEP slow");
    assert_eq!(attr_str(step, "cicd.pipeline.task.run.result"), "success");
    let attempts = named(&all, "ATTEMPT slow 1");
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    let (cut_short, again) = (attempts[0], attempts[1]);
    assert_ne!(cut_short["spanId"], again["spanId"]);
    assert_eq!(code(cut_short), 2);
    assert_eq!(cut_short["status"]["message"], "interrupted");
    assert_eq!(attr_str(cut_short, "error.type"), "interrupted");
    assert_eq!(
        end(cut_short),
        ts(cut.last().unwrap()),
        "ends where the journal was cut"
    );
    assert_eq!(code(again), 1);
    let restarted = journal
        .iter()
        .filter(|e| is(e, "step_started", "slow"))
        .nth(1)
        .unwrap();
    assert_eq!(start(again), ts(restarted));
    assert_eq!(
        printed_traceparents(&journal, "slow"),
        [
            format!("00-{trace_id}-{}-01", cut_short["spanId"].as_str().unwrap()),
            format!("00-{trace_id}-{}-01", again["spanId"].as_str().unwrap()),
        ]
    );
}

#[test]
fn a_step_run_again_by_retry_gets_a_new_step_span_in_the_same_trace() {
    let w = Work::new();
    let done = run_to_end(
        &w,
        "name: again\nsteps:\n  check:\n    run: test -f fixed\n  after:\n    needs: [check]\n    run: 'true'\n",
        &[],
    );
    assert_eq!(done.code, Some(1), "{}", done.dump());
    let id = done.run_id().to_string();
    std::fs::write(w.dir().join("fixed"), "").unwrap();
    let again = Live::spawn(w.command(&["retry", &id, "--headless", "--json"])).finish();
    assert_eq!(again.code, Some(0), "{}", again.dump());
    let journal = w.journal(&id);
    let v = trace(&w, &id);
    let all = spans(&v);
    let run = check_tree(&all, &kept_trace_id(&w, &id), None);
    assert_eq!(attr_str(run, "cicd.pipeline.result"), "success");
    assert_eq!(attr_str(run, "signalbox.resumes"), "1");
    assert_eq!(
        end(run),
        ts(journal
            .iter()
            .rfind(|e| e["type"] == "run_finished")
            .unwrap())
    );
    for (step, results) in [
        ("check", ["failure", "success"]),
        ("after", ["skip", "success"]),
    ] {
        let lives = named(&all, &format!("STEP {step}"));
        assert_eq!(lives.len(), 2, "{lives:#?}");
        assert_ne!(lives[0]["spanId"], lives[1]["spanId"]);
        assert!(end(lives[0]) <= start(lives[1]), "one life after the other");
        let got: Vec<&str> = lives
            .iter()
            .map(|s| attr_str(s, "cicd.pipeline.task.run.result"))
            .collect();
        assert_eq!(got, results, "{step}");
    }
    let attempts = named(&all, "ATTEMPT check 1");
    assert_eq!(attempts.len(), 2);
    for (a, life) in attempts.iter().zip(named(&all, "STEP check")) {
        assert_eq!(
            a["parentSpanId"], life["spanId"],
            "each attempt under its own life"
        );
    }
}
