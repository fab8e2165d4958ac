//! `signalbox trace RUN` (SPEC §8): runs of the real binary, then their
//! trace, checked against their journal: one trace per run, across a
//! crash and resume; every span's parent there; times the journal's;
//! results and statuses the events'; the attempt spans the processes were
//! told in `TRACEPARENT`; `--otlp` against a receiver on loopback.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::work::Work;
use crate::common::{Live, dump, is};

mod join;
mod otlp;
mod resume;

/// A one-step run whose step prints the `TRACEPARENT` it got.
const ONE_STEP: &str = r#"
name: joined
steps:
  hello:
    run: echo "tp=$TRACEPARENT"
"#;

// ---------------------------------------------------------------------------
// Reading a trace
// ---------------------------------------------------------------------------

/// `run --headless --json` of `yaml` with `extra`, in progress, with no
/// `TRACEPARENT` of this process's: a run of its own trace.
fn start_run(w: &Work, yaml: &str, extra: &[&str]) -> Live {
    let file = w.write(yaml);
    let mut cmd = w.command(&["run", "--headless", "--json"]);
    cmd.arg(file).args(extra).env_remove("TRACEPARENT");
    Live::spawn(cmd)
}

/// [`start_run`], to its end.
fn run_to_end(w: &Work, yaml: &str, extra: &[&str]) -> crate::common::Done {
    start_run(w, yaml, extra).finish()
}

/// `trace ID`'s stdout, parsed and checked for shape.
fn trace(w: &Work, id: &str) -> Value {
    let out = w.cli(&["trace", id]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "trace failed: {stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one request, one line: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    check_shape(&v);
    v
}

fn spans(v: &Value) -> Vec<&Value> {
    v["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .collect()
}

/// The value of attribute `key`, as its JSON (`{"stringValue": ..}`)
/// holds it: strings and ints as strings, bools as bools.
fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    let kv = span["attributes"]
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)?;
    let value = kv["value"].as_object()?;
    value.values().next()
}

fn attr_str<'a>(span: &'a Value, key: &str) -> &'a str {
    attr(span, key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string {key} in {span:#}"))
}

fn named<'a>(all: &[&'a Value], name: &str) -> Vec<&'a Value> {
    all.iter().copied().filter(|s| s["name"] == name).collect()
}

fn one<'a>(all: &[&'a Value], name: &str) -> &'a Value {
    let found = named(all, name);
    assert_eq!(found.len(), 1, "one span {name}: {found:#?}");
    found[0]
}

fn nanos(s: &Value, field: &str) -> u128 {
    s[field].as_str().unwrap().parse().unwrap()
}

fn start(s: &Value) -> u128 {
    nanos(s, "startTimeUnixNano")
}

fn end(s: &Value) -> u128 {
    nanos(s, "endTimeUnixNano")
}

/// An event's `ts` in nanoseconds since the epoch.
fn ts(e: &Value) -> u128 {
    humantime::parse_rfc3339(e["ts"].as_str().unwrap())
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn code(s: &Value) -> i64 {
    s["status"]["code"].as_i64().unwrap()
}

fn kept_trace_id(w: &Work, id: &str) -> String {
    let params: Value =
        serde_json::from_str(&std::fs::read_to_string(w.run_dir(id).join("run.json")).unwrap())
            .unwrap();
    params["trace_id"].as_str().unwrap().to_string()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && s.bytes().any(|b| b != b'0')
}

fn is_decimal(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        !s.is_empty()
            && s.trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit())
    })
}

fn check_value(v: &Value) {
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("value not an object: {v}"));
    assert_eq!(o.len(), 1, "one kind of value: {v}");
    match o.iter().next().unwrap() {
        (k, s) if k == "stringValue" => assert!(s.is_string(), "{v}"),
        (k, s) if k == "intValue" => assert!(is_decimal(s), "intValue as a decimal string: {v}"),
        (k, s) if k == "boolValue" => assert!(s.is_boolean(), "{v}"),
        (k, s) if k == "arrayValue" => {
            for item in s["values"].as_array().unwrap() {
                check_value(item);
            }
        }
        (k, _) => panic!("unknown value kind {k}"),
    }
}

fn check_attributes(v: &Value) {
    for kv in v.as_array().unwrap_or_else(|| panic!("attributes: {v}")) {
        assert!(kv["key"].as_str().is_some_and(|k| !k.is_empty()), "{kv}");
        check_value(&kv["value"]);
    }
}

/// The fields OTLP/JSON requires, of the types it requires: ids hex,
/// times and ints decimal strings, kinds and codes integers; nothing
/// else in a span.
fn check_shape(v: &Value) {
    let rs = v["resourceSpans"].as_array().unwrap();
    assert_eq!(rs.len(), 1);
    let resource = &rs[0]["resource"]["attributes"];
    check_attributes(resource);
    let find = |k: &str| {
        resource
            .as_array()
            .unwrap()
            .iter()
            .find(|kv| kv["key"] == k)
            .map(|kv| kv["value"]["stringValue"].clone())
    };
    assert_eq!(find("service.name"), Some("signalbox".into()));
    assert!(find("service.version").is_some_and(|v| v.is_string()));
    let scope = &rs[0]["scopeSpans"][0];
    assert_eq!(scope["scope"]["name"], "signalbox");
    let allowed: HashSet<&str> = [
        "traceId",
        "spanId",
        "parentSpanId",
        "name",
        "kind",
        "startTimeUnixNano",
        "endTimeUnixNano",
        "attributes",
        "events",
        "status",
    ]
    .into();
    for s in scope["spans"].as_array().unwrap() {
        for key in s.as_object().unwrap().keys() {
            assert!(
                allowed.contains(key.as_str()),
                "unknown field {key} in {s:#}"
            );
        }
        assert!(is_hex(s["traceId"].as_str().unwrap(), 32), "{s:#}");
        assert!(is_hex(s["spanId"].as_str().unwrap(), 16), "{s:#}");
        if let Some(p) = s.get("parentSpanId") {
            assert!(is_hex(p.as_str().unwrap(), 16), "{s:#}");
        }
        assert!(s["name"].as_str().is_some_and(|n| !n.is_empty()));
        assert!([1, 2].contains(&s["kind"].as_i64().unwrap()), "{s:#}");
        assert!(is_decimal(&s["startTimeUnixNano"]), "{s:#}");
        assert!(is_decimal(&s["endTimeUnixNano"]), "{s:#}");
        assert!(start(s) <= end(s), "ends before it starts: {s:#}");
        check_attributes(&s["attributes"]);
        for e in s
            .get("events")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            assert!(is_decimal(&e["timeUnixNano"]), "{e}");
            assert!(e["name"].is_string());
            check_attributes(&e["attributes"]);
        }
        let status = s["status"].as_object().unwrap();
        assert!((0..=2).contains(&status["code"].as_i64().unwrap()));
        if let Some(m) = status.get("message") {
            assert!(m.is_string());
        }
    }
}

/// One trace (`trace_id`), one root (the run span, kind SERVER, whose
/// parent is `root_parent`), every other span's parent among the spans and
/// the span inside its parent's time. The run span.
fn check_tree<'a>(all: &[&'a Value], trace_id: &str, root_parent: Option<&str>) -> &'a Value {
    let by_id: HashMap<&str, &Value> = all
        .iter()
        .map(|s| (s["spanId"].as_str().unwrap(), *s))
        .collect();
    assert_eq!(by_id.len(), all.len(), "span ids are unique");
    let mut root = None;
    for s in all {
        assert_eq!(s["traceId"], trace_id, "one trace: {s:#}");
        match s.get("parentSpanId").and_then(Value::as_str) {
            Some(p) if by_id.contains_key(p) => {
                let parent = by_id[p];
                assert!(
                    start(parent) <= start(s) && end(s) <= end(parent),
                    "{} outside its parent {}",
                    s["name"],
                    parent["name"]
                );
            }
            p => {
                assert!(root.is_none(), "a second root: {s:#}");
                assert_eq!(p, root_parent, "the root's parent: {s:#}");
                root = Some(*s);
            }
        }
    }
    let root = root.expect("a root span");
    assert_eq!(root["kind"], 2, "the run span is SERVER");
    assert!(root["name"].as_str().unwrap().starts_with("RUN "));
    root
}

fn parent_of<'a>(all: &[&'a Value], s: &Value) -> &'a Value {
    let p = s["parentSpanId"].as_str().unwrap();
    all.iter().find(|x| x["spanId"] == p).unwrap()
}

/// The `TRACEPARENT` values a step printed (`tp=...` lines), in order.
fn printed_traceparents(events: &[Value], step: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| is(e, "step_output", step))
        .filter_map(|e| e["line"].as_str()?.strip_prefix("tp=").map(str::to_string))
        .collect()
}

fn wait_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// A run of every kind of step
// ---------------------------------------------------------------------------

const MIXED: &str = r#"
name: mixed
vars: { target: dev }
steps:
  hello:
    run: echo "tp=$TRACEPARENT"
  flaky:
    run: 'echo "tp=$TRACEPARENT"; test -f flaky.done || { touch flaky.done; exit 3; }'
    retry: { attempts: 2, delay: 10ms }
  broken:
    run: exit 4
  after-broken:
    needs: [broken]
    run: 'true'
  prod-only:
    when: vars.target == 'prod'
    run: 'true'
  gate:
    approval: { prompt: "Ship the secret plan?" }
  notes:
    ask: { question: "Headline for the notes?" }
"#;

#[test]
fn a_run_is_one_trace_of_nested_spans_that_say_what_its_journal_says() {
    let w = Work::new();
    let done = run_to_end(
        &w,
        MIXED,
        &["--approve", "gate", "--answer", "notes=top secret words"],
    );
    assert_eq!(done.code, Some(1), "{}", done.dump());
    let id = done.run_id().to_string();
    let journal = w.journal(&id);
    let v = trace(&w, &id);
    let all = spans(&v);
    let trace_id = kept_trace_id(&w, &id);
    assert!(
        is_hex(&trace_id, 32),
        "run.json keeps the trace id: {trace_id}"
    );
    let run = check_tree(&all, &trace_id, None);

    // The run: the journal's first and last event, its result.
    assert_eq!(run["name"], "RUN mixed");
    assert_eq!(start(run), ts(&journal[0]));
    let finished = journal
        .iter()
        .rfind(|e| e["type"] == "run_finished")
        .unwrap();
    assert_eq!(end(run), ts(finished));
    assert_eq!(attr_str(run, "cicd.pipeline.name"), "mixed");
    assert_eq!(attr_str(run, "cicd.pipeline.run.id"), id);
    assert_eq!(attr_str(run, "cicd.pipeline.result"), "failure");
    assert_eq!(attr_str(run, "signalbox.resumes"), "0");
    assert_eq!(code(run), 2);

    // Every step has one span under the run, ending at its final event.
    for step in [
        "hello",
        "flaky",
        "broken",
        "after-broken",
        "prod-only",
        "gate",
        "notes",
    ] {
        let s = one(&all, &format!("STEP {step}"));
        assert_eq!(parent_of(&all, s)["spanId"], run["spanId"]);
        assert_eq!(attr_str(s, "cicd.pipeline.task.name"), step);
        let last = journal
            .iter()
            .rfind(|e| e["step"] == step)
            .unwrap_or_else(|| panic!("no event of {step}"));
        assert_eq!(end(s), ts(last), "{step} ends at its last event");
        let first = journal.iter().find(|e| e["step"] == step).unwrap();
        assert_eq!(start(s), ts(first), "{step} begins at its first event");
    }
    let result = |step: &str| {
        attr_str(
            one(&all, &format!("STEP {step}")),
            "cicd.pipeline.task.run.result",
        )
    };
    assert_eq!(result("hello"), "success");
    assert_eq!(result("flaky"), "success");
    assert_eq!(result("broken"), "failure");
    assert_eq!(result("after-broken"), "skip");
    assert_eq!(result("prod-only"), "skip");
    assert_eq!(result("gate"), "success");
    assert_eq!(result("notes"), "success");
    let broken = one(&all, "STEP broken");
    assert_eq!(code(broken), 2);
    assert_eq!(broken["status"]["message"], "exit code 4");
    let skipped = one(&all, "STEP after-broken");
    assert_eq!(
        attr_str(skipped, "signalbox.skip.reason"),
        "upstream_failed"
    );
    assert_eq!(code(skipped), 0, "a skip is neither OK nor an error");
    assert_eq!(
        attr_str(one(&all, "STEP prod-only"), "signalbox.skip.reason"),
        "condition"
    );
    assert_eq!(code(one(&all, "STEP hello")), 1);

    // Attempts: one span per step_started, from it to its end event; the
    // span id the process was given.
    let started: Vec<&Value> = journal
        .iter()
        .filter(|e| e["type"] == "step_started")
        .collect();
    let attempts: Vec<&Value> = all
        .iter()
        .copied()
        .filter(|s| s["name"].as_str().unwrap().starts_with("ATTEMPT "))
        .collect();
    assert_eq!(attempts.len(), started.len(), "{}", dump(&journal));
    for e in &started {
        let step = e["step"].as_str().unwrap();
        let n = e["attempt"].as_u64().unwrap();
        let s = one(&all, &format!("ATTEMPT {step} {n}"));
        assert_eq!(start(s), ts(e));
        assert_eq!(parent_of(&all, s)["name"], format!("STEP {step}"));
        assert_eq!(attr_str(s, "signalbox.attempt"), n.to_string());
    }
    let flaky1 = one(&all, "ATTEMPT flaky 1");
    let retrying = journal
        .iter()
        .find(|e| is(e, "step_retrying", "flaky"))
        .unwrap();
    assert_eq!(end(flaky1), ts(retrying));
    assert_eq!(code(flaky1), 2);
    assert_eq!(flaky1["status"]["message"], "exit code 3");
    assert_eq!(attr_str(flaky1, "process.exit.code"), "3");
    assert_eq!(attr_str(flaky1, "error.type"), "exit_code");
    let flaky2 = one(&all, "ATTEMPT flaky 2");
    assert_eq!(code(flaky2), 1);
    assert_eq!(
        attr_str(one(&all, "STEP flaky"), "signalbox.step.attempts"),
        "2"
    );
    assert_eq!(code(one(&all, "ATTEMPT broken 1")), 2);

    // TRACEPARENT: this trace, the attempt's own span, a new one per attempt.
    let span_of = |name: &str| one(&all, name)["spanId"].as_str().unwrap().to_string();
    assert_eq!(
        printed_traceparents(&journal, "hello"),
        [format!("00-{trace_id}-{}-01", span_of("ATTEMPT hello 1"))]
    );
    assert_eq!(
        printed_traceparents(&journal, "flaky"),
        [
            format!("00-{trace_id}-{}-01", span_of("ATTEMPT flaky 1")),
            format!("00-{trace_id}-{}-01", span_of("ATTEMPT flaky 2")),
        ]
    );

    // Waits: who decided and how, never what was asked or answered.
    let gate = one(&all, "APPROVAL gate");
    assert_eq!(parent_of(&all, gate)["name"], "STEP gate");
    let requested = journal
        .iter()
        .find(|e| is(e, "approval_requested", "gate"))
        .unwrap();
    let resolved = journal
        .iter()
        .find(|e| is(e, "approval_resolved", "gate"))
        .unwrap();
    assert_eq!((start(gate), end(gate)), (ts(requested), ts(resolved)));
    assert_eq!(
        attr(gate, "signalbox.wait.approved"),
        Some(&Value::Bool(true))
    );
    assert_eq!(attr_str(gate, "signalbox.wait.by"), "flag");
    assert_eq!(
        attr_str(gate, "signalbox.wait.id"),
        requested["wait"].as_str().unwrap()
    );
    assert_eq!(code(gate), 1);
    let notes = one(&all, "QUESTION notes");
    assert_eq!(
        attr(notes, "signalbox.wait.answered"),
        Some(&Value::Bool(true))
    );
    assert_eq!(attr_str(notes, "signalbox.wait.by"), "flag");
    let body = v.to_string();
    for secret in ["top secret words", "secret plan", "Headline for", "tp="] {
        assert!(!body.contains(secret), "{secret:?} is in the trace");
    }

    // The same journal gives the same trace.
    assert_eq!(trace(&w, &id), v);
}

// ---------------------------------------------------------------------------
// A live run
// ---------------------------------------------------------------------------

#[test]
fn a_live_run_gives_its_spans_so_far_with_the_open_ones_marked() {
    let w = Work::new();
    let mut live = start_run(
        &w,
        "name: waiting\nsteps:\n  gate:\n    approval: { prompt: \"Go?\" }\n",
        &[],
    );
    let id = live.run_id();
    live.wait_for("the approval", |e| is(e, "approval_requested", "gate"));
    let journal = w.journal(&id);
    let v = trace(&w, &id);
    let all = spans(&v);
    let run = check_tree(&all, &kept_trace_id(&w, &id), None);
    let last = ts(journal.last().unwrap());
    for s in [run, one(&all, "STEP gate"), one(&all, "APPROVAL gate")] {
        assert_eq!(attr(s, "signalbox.open"), Some(&Value::Bool(true)), "{s:#}");
        assert_eq!(end(s), last);
        assert_eq!(code(s), 0);
    }
    assert_eq!(attr(run, "cicd.pipeline.result"), None);
    live.signal("TERM");
    let done = live.finish();
    assert_eq!(done.code, Some(130), "{}", done.dump());
    let all_after = trace(&w, &id);
    let all = spans(&all_after);
    let run = check_tree(&all, &kept_trace_id(&w, &id), None);
    assert_eq!(attr_str(run, "cicd.pipeline.result"), "cancellation");
    assert_eq!(attr(one(&all, "APPROVAL gate"), "signalbox.open"), None);
}

#[test]
fn a_trace_that_cannot_be_written_out_is_an_error() {
    let w = Work::new();
    let done = run_to_end(&w, ONE_STEP, &[]);
    let id = done.run_id().to_string();
    let full = std::fs::File::create("/dev/full").unwrap();
    let out = w.command(&["trace", &id]).stdout(full).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot write the trace"), "{stderr}");
}

#[test]
fn a_journal_that_is_not_a_file_or_no_run_named_is_said_so() {
    let w = Work::new();
    let done = run_to_end(&w, ONE_STEP, &[]);
    let id = done.run_id().to_string();
    let journal = w.run_dir(&id).join("events.jsonl");
    std::fs::remove_file(&journal).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&journal)
        .status()
        .unwrap();
    assert!(made.success());
    let out = w.cli(&["trace", &id]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a regular file"), "{stderr}");
    let out = w.cli(&["trace", ""]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no run named"), "{stderr}");
}
