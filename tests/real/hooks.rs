//! Hooks, through the binary. A hook gets its event's journal
//! line on stdin and the run, event and step in its environment; hooks on
//! `run_finished` end before signalbox does, whatever ended the run; a hook
//! that hangs, fails or floods changes nothing in the run; and the loader
//! refuses what a hook cannot be.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::work::Work;
use crate::common::{BIN, Done, Live, marked};

fn hook_ends<'d>(done: &'d Done, hook: &str) -> Vec<&'d Value> {
    done.all("hook_finished")
        .into_iter()
        .filter(|e| e["hook"] == hook)
        .collect()
}

fn seq_of(done: &Done, ty: &str) -> u64 {
    done.all(ty)[0]["seq"].as_u64().unwrap()
}

#[test]
fn a_hook_on_approval_requested_gets_the_event_line_and_its_environment() {
    let w = Work::new();
    // `after` waits for the hook's file, so the run outlives the hook.
    let done = w.run(
        r#"
name: hooked
vars: { who: "ops; touch injected" }
hooks:
  - name: notify
    on: [approval_requested]
    run: 'cat > event.json; printf "%s|%s|%s" "$SIGNALBOX_RUN_ID" "$SIGNALBOX_EVENT" "$SIGNALBOX_STEP" > env.txt; echo {{ vars.who }} {{ run.id }} > templates.txt; touch notified'
steps:
  go:
    approval: { prompt: "Ship?" }
  after:
    needs: [go]
    run: 'i=0; while [ ! -f notified ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; test -f notified'
"#,
        &["--approve", "go"],
    );
    done.expect(0, "succeeded");
    let asked = done.all("approval_requested")[0].clone();
    let line: Value = serde_json::from_str(w.read("event.json").trim_end()).unwrap();
    assert_eq!(line, asked, "stdin holds the event's journal line");
    let run = done.run_id();
    assert_eq!(w.read("env.txt"), format!("{run}|approval_requested|go"));
    // Templates are values in the environment, never command text.
    assert_eq!(
        w.read("templates.txt"),
        format!("ops; touch injected {run}\n")
    );
    assert!(!w.dir().join("injected").exists());
    let ends = hook_ends(&done, "notify");
    assert_eq!(ends.len(), 1, "{}", done.dump());
    assert_eq!(ends[0]["on_seq"], asked["seq"]);
    assert_eq!(ends[0]["exit_code"], 0);
    assert_eq!(ends[0]["error"], Value::Null);
}

const CLEANUP: &str = r#"
name: cleanup
hooks:
  - name: cleanup
    on: [run_finished]
    run: 'sleep 0.3; cat > cleaned.json'
    timeout: 10s
steps:
  work:
    run: STEP
"#;

/// The cleanup hook ran on the run's `run_finished`, to its end, before
/// signalbox exited (its file is there once the process is gone), and its
/// `hook_finished` comes after `run_finished`.
fn cleaned_up(w: &Work, done: &Done, status: &str) {
    let line: Value = serde_json::from_str(w.read("cleaned.json").trim_end()).unwrap();
    assert_eq!(line["type"], "run_finished");
    assert_eq!(line["status"], status);
    let ends = hook_ends(done, "cleanup");
    assert_eq!(ends.len(), 1, "{}", done.dump());
    assert_eq!(
        ends[0]["on_seq"].as_u64(),
        Some(seq_of(done, "run_finished"))
    );
    assert_eq!(ends[0]["exit_code"], 0, "{}", done.dump());
    let last = done.events.last().unwrap();
    assert_eq!(last["type"], "hook_finished", "{}", done.dump());
}

#[test]
fn a_run_finished_hook_runs_to_its_end_on_success() {
    let w = Work::new();
    let done = w.run(&CLEANUP.replace("STEP", "'true'"), &[]);
    done.expect(0, "succeeded");
    cleaned_up(&w, &done, "succeeded");
}

#[test]
fn a_run_finished_hook_runs_to_its_end_on_failure() {
    let w = Work::new();
    let done = w.run(&CLEANUP.replace("STEP", "'exit 4'"), &[]);
    done.expect(1, "failed");
    cleaned_up(&w, &done, "failed");
}

#[test]
fn a_run_finished_hook_runs_to_its_end_on_ctrl_c() {
    let w = Work::new();
    let mut live = w.start(&CLEANUP.replace("STEP", "'sleep 30'"), &[]);
    live.wait_for("step_started", |e| e["type"] == "step_started");
    live.signal("INT");
    let done = live.finish();
    done.expect(130, "cancelled");
    cleaned_up(&w, &done, "cancelled");
}

#[test]
fn a_hook_that_hangs_is_killed_at_its_timeout_and_leaves_nothing() {
    let w = Work::new();
    // The hook's second process leaves its group; the marker finds it.
    let done = w.run(
        r#"
name: hang
defaults: { kill_grace: 1s }
hooks:
  - name: hang
    on: [run_started]
    run: 'setsid sleep 1000 & trap "" TERM; sleep 1000'
    timeout: 1s
steps:
  work:
    run: sleep 3
"#,
        &[],
    );
    done.expect(0, "succeeded");
    let ends = hook_ends(&done, "hang");
    assert_eq!(ends.len(), 1, "{}", done.dump());
    assert_eq!(ends[0]["error"], "timed out after 1s", "{}", done.dump());
    assert_eq!(ends[0]["exit_code"], Value::Null);
    assert_eq!(
        ends[0]["on_seq"].as_u64(),
        Some(seq_of(&done, "run_started"))
    );
    let left = marked("SIGNALBOX_RUN_ID", done.run_id());
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_failing_hook_is_journaled_and_changes_nothing() {
    let w = Work::new();
    let done = w.run(
        r#"
name: failing
hooks:
  - on: [step_succeeded]
    steps: [first]
    run: 'echo oops; exit 7'
steps:
  first:
    run: 'true'
  second:
    needs: [first]
    run: sleep 1
"#,
        &[],
    );
    done.expect(0, "succeeded");
    let ends = hook_ends(&done, "hook-1");
    assert_eq!(ends.len(), 1, "{}", done.dump());
    assert_eq!(ends[0]["exit_code"], 7);
    assert_eq!(ends[0]["error"], "exit code 7");
    let first = done.one("step_succeeded", "first")["seq"].clone();
    assert_eq!(ends[0]["on_seq"], first);
    assert!(
        w.log().contains("hook `hook-1` failed: exit code 7"),
        "{}",
        w.log()
    );
}

#[test]
fn a_flooded_hook_drops_events_and_logs_how_many() {
    let w = Work::new();
    let done = w.run(
        r#"
name: flood
hooks:
  - name: slow
    on: [step_output]
    steps: [loud]
    run: sleep 5
steps:
  loud:
    run: 'seq 100000'
"#,
        &[],
    );
    done.expect(0, "succeeded");
    assert_eq!(done.lines("loud", "output").len(), 100_000);
    // The hook run under way when the run ended was stopped.
    let ends = hook_ends(&done, "slow");
    let last = ends.last().unwrap();
    assert_eq!(last["error"], "killed: the run ended while the hook ran");
    let log = w.log();
    let said = log
        .lines()
        .find(|l| l.contains("hook `slow` dropped"))
        .unwrap_or_else(|| panic!("no count of drops in signalbox.log:\n{log}"));
    let count: u64 = said
        .split("dropped ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    // 100,000 events: a few ran, at most a queue's worth waited, the rest
    // were dropped.
    let ran = ends.len() as u64;
    assert!(count + ran + 256 >= 100_000 && count < 100_000, "{said}");
}

#[test]
fn the_loader_refuses_what_a_hook_cannot_be() {
    let w = Work::new();
    let file = w.write(
        r#"
name: bad
hooks:
  - on: [step_succeded]
    run: 'true'
  - on: [hook_finished]
    run: 'true'
  - name: hook-1
    on: [run_finished]
    steps: [biuld]
    run: 'true'
  - on: [run_finished]
    run: echo {{ answers.q }}
steps:
  build:
    run: 'true'
  q:
    ask: { question: "Why?" }
"#,
    );
    let out = Command::new(BIN)
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let wants = [
        ":4:10: error: `on` of hook `hook-1` names unknown event type `step_succeded` (did you mean `step_succeeded`?)",
        ":6:10: error: `on` of hook `hook-2` names `hook_finished`: a hook cannot run on hook_finished",
        ":8:11: error: duplicate hook name `hook-1` (first at line 4)",
        ":10:13: error: hook `hook-1` names unknown step `biuld` (did you mean `build`?)",
        ":13:15: error: hook `hook-4` cannot use the answer of step `q`",
    ];
    for want in wants {
        assert!(stderr.contains(want), "no {want:?} in:\n{stderr}");
    }
    assert_eq!(stderr.lines().count(), wants.len(), "{stderr}");
}

#[test]
fn a_resumed_run_fires_hooks_for_its_new_events_only() {
    let w = Work::new();
    let yaml = r#"
name: again
hooks:
  - name: count
    on: [run_started, step_started]
    run: 'cat >> fired.jsonl'
steps:
  slow:
    run: sleep 30
"#;
    let mut live = w.start(yaml, &[]);
    let run = live.run_id();
    live.wait_for("step_started", |e| e["type"] == "step_started");
    // Let the hook for step_started write, then stop the run hard.
    let fired = w.dir().join("fired.jsonl");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&fired).map_or(0, |t| t.lines().count()) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the hooks never wrote"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    live.kill9();
    let mut cmd = w.command(&["resume", &run, "--headless", "--json"]);
    cmd.stdin(Stdio::null());
    let mut live = Live::spawn(cmd);
    live.wait_for("step_started", |e| e["type"] == "step_started");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&fired).map_or(0, |t| t.lines().count()) < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the resumed run's hooks never wrote"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    live.signal("TERM");
    let done = live.finish();
    done.expect(130, "cancelled");
    let seqs: Vec<u64> = std::fs::read_to_string(&fired)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs.len(), 4, "{seqs:?}");
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 4, "each event fired once: {seqs:?}");
}

#[test]
fn a_detached_run_waits_for_its_run_finished_hooks_too() {
    let w = Work::new();
    let file = w.write(&CLEANUP.replace("STEP", "'true'"));
    let out = w.command(&["run", "--detach"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let journal = w.dir().join("state/runs").join(&id).join("events.jsonl");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let events: Vec<Value> = loop {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        let events: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if events.iter().any(|e| e["type"] == "hook_finished") {
            break events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no hook_finished: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let types: Vec<&str> = events
        .iter()
        .rev()
        .take(2)
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["hook_finished", "run_finished"], "{events:?}");
    assert_eq!(events.last().unwrap()["exit_code"], 0, "{events:?}");
    let line: Value = serde_json::from_str(w.read("cleaned.json").trim_end()).unwrap();
    assert_eq!(line["status"], "succeeded");
}

#[test]
fn the_screen_log_shows_each_hook_end_and_why_one_failed() {
    use crate::matrix_screen::{feed, model, render};
    let wf = signalbox::workflow::load_str(
        "name: hk\nhooks:\n  - { name: notify, on: [step_succeeded], run: exit 7 }\nsteps:\n  a: { run: \"true\" }\n",
        "hk.yaml",
    )
    .unwrap();
    let mut m = model(&wf);
    feed(
        &mut m,
        0,
        r#""type":"run_started","workflow":"hk","steps":1,"resumed":false"#,
    );
    feed(
        &mut m,
        10,
        r#""type":"hook_finished","hook":"notify","on_seq":1,"exit_code":0,"error":null,"duration_ms":12"#,
    );
    feed(
        &mut m,
        20,
        r#""type":"hook_finished","hook":"notify","on_seq":2,"exit_code":7,"error":"exit code 7","duration_ms":3"#,
    );
    let screen = render(&m);
    assert!(screen.contains("hook notify ran for event #1"), "{screen}");
    assert!(
        screen.contains("hook notify failed for event #2: exit code 7"),
        "{screen}"
    );
}

#[test]
fn a_hook_that_kept_up_runs_for_the_failure_that_ends_the_run() {
    let w = Work::new();
    let done = w.run(
        r#"
name: last
hooks:
  - name: alert
    on: [step_failed]
    run: 'sleep 0.3; cat > alert.json'
steps:
  deploy:
    run: 'exit 4'
"#,
        &[],
    );
    done.expect(1, "failed");
    let ends = hook_ends(&done, "alert");
    assert_eq!(ends.len(), 1, "{}", done.dump());
    assert_eq!(ends[0]["exit_code"], 0, "{}", done.dump());
    let failed = done.one("step_failed", "deploy")["seq"].clone();
    assert_eq!(ends[0]["on_seq"], failed);
    let said = std::fs::read_to_string(w.dir().join("alert.json")).unwrap();
    assert!(said.contains(r#""type":"step_failed""#), "{said}");
}
