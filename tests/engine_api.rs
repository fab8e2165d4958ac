#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The engine as a library: build a [`Run`], subscribe, start it on a task
//! and drive it through its [`RunHandle`], as a front end does.
//!
//! Most tests run on a paused tokio clock, so a 300 s wait times out at
//! once in virtual time. The paused clock moves on whenever the runtime is
//! idle, including while a real child process runs, so those tests use
//! waits and only instant commands (`true`) once no wait must survive.
//! The few tests that need a real process and a timer that must not fire
//! run on the real clock.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::Value;
use signalbox::engine::{
    By, Command, Preset, Refusal, Run, RunHandle, RunOptions, RunOutcome, RunStatus, Subscription,
};
use signalbox::workflow::{Workflow, load_str};
use tempfile::TempDir;

use common::{dump, is, marked, marker};

fn load(yaml: &str) -> Workflow {
    load_str(yaml, "test.yaml").unwrap_or_else(|d| panic!("invalid test workflow:\n{d}"))
}

/// A started run and everything it said so far.
struct Driver {
    handle: RunHandle,
    events: Subscription,
    seen: Vec<Value>,
    task: tokio::task::JoinHandle<RunOutcome>,
    _state: TempDir,
}

fn start(yaml: &str) -> Driver {
    start_with(load(yaml), RunOptions::default())
}

fn start_with(wf: Workflow, options: RunOptions) -> Driver {
    let state = tempfile::tempdir().unwrap();
    let options = RunOptions {
        state_dir: state.path().to_path_buf(),
        seed: options.seed.or(Some(1)),
        ..options
    };
    let mut run = Run::new(wf, options).unwrap();
    let events = run.subscribe();
    let handle = run.handle();
    let task = tokio::spawn(run.start());
    Driver {
        handle,
        events,
        seen: Vec::new(),
        task,
        _state: state,
    }
}

impl Driver {
    async fn next(&mut self) -> Option<Value> {
        let p = self.events.recv().await?;
        let v = serde_json::to_value(&p.envelope.event).unwrap();
        self.seen.push(v.clone());
        Some(v)
    }

    /// Reads events until one matches; panics if the run ends first.
    async fn until(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            match self.next().await {
                Some(v) if pred(&v) => return v,
                Some(_) => {}
                None => panic!("the run ended before {what}:\n{}", dump(&self.seen)),
            }
        }
    }

    async fn until_step(&mut self, ty: &str, step: &str) -> Value {
        self.until(&format!("{ty} for {step}"), |e| is(e, ty, step))
            .await
    }

    fn send(&self, command: Command) {
        self.handle.send(command);
    }

    /// Reads to the end of the run; its outcome and every event.
    async fn finish(mut self) -> (RunOutcome, Vec<Value>) {
        while self.next().await.is_some() {}
        let outcome = self.task.await.expect("the run task does not panic");
        (outcome, self.seen)
    }
}

fn of<'a>(events: &'a [Value], ty: &str, step: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| is(e, ty, step)).collect()
}

fn pos(events: &[Value], ty: &str, step: &str) -> usize {
    events
        .iter()
        .position(|e| is(e, ty, step))
        .unwrap_or_else(|| panic!("no {ty} for {step}:\n{}", dump(events)))
}

fn last_status(events: &[Value]) -> &str {
    let last = events.last().expect("events");
    assert_eq!(last["type"], "run_finished", "{}", dump(events));
    last["status"].as_str().unwrap()
}

fn approve(step: &str) -> Command {
    Command::Approve {
        step: step.into(),
        by: By::Keyboard,
    }
}

// ---------------------------------------------------------------------------
// Many waits
// ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn ten_thousand_waits_open_at_once_and_all_resolve() {
    const N: usize = 10_000;
    let mut yaml = String::from("name: many\nconcurrency: 1\nsteps:\n");
    for i in 0..N {
        if i % 2 == 0 {
            yaml.push_str(&format!("  s{i}: {{ approval: {{ prompt: \"p{i}\" }} }}\n"));
        } else {
            yaml.push_str(&format!("  s{i}: {{ ask: {{ question: \"q{i}\" }} }}\n"));
        }
    }
    let mut run = start(&yaml);
    // With one slot, every wait still opens before any resolves.
    let mut open = 0;
    while open < N {
        let e = run.next().await.expect("the run goes on");
        match e["type"].as_str().unwrap() {
            "approval_requested" | "question_asked" => open += 1,
            "approval_resolved" | "question_answered" | "step_failed" | "run_finished" => {
                panic!("a wait ended before all were open: {e}")
            }
            _ => {}
        }
    }
    for i in 0..N {
        let step = format!("s{i}");
        if i % 2 == 0 {
            run.send(Command::Approve {
                step,
                by: By::Socket,
            });
        } else {
            run.send(Command::Answer {
                step,
                text: format!("answer {i}"),
                by: By::Socket,
            });
        }
    }
    let (outcome, events) = run.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(last_status(&events), "succeeded");
    let count = |ty: &str| events.iter().filter(|e| e["type"] == ty).count();
    assert_eq!(count("approval_requested"), N / 2);
    assert_eq!(count("question_asked"), N / 2);
    assert_eq!(count("step_succeeded"), N);
    for e in events.iter().filter(|e| e["type"] == "approval_resolved") {
        assert_eq!(e["approved"], true, "{e}");
        assert_eq!(e["by"], "socket", "{e}");
    }
    let answers: BTreeSet<String> = events
        .iter()
        .filter(|e| e["type"] == "question_answered")
        .map(|e| {
            assert_eq!(e["by"], "socket");
            let step = e["step"].as_str().unwrap();
            let answer = e["answer"].as_str().unwrap();
            assert_eq!(answer, format!("answer {}", &step[1..]));
            answer.to_string()
        })
        .collect();
    assert_eq!(answers.len(), N / 2);
}

// ---------------------------------------------------------------------------
// Wait timeouts in virtual time
// ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn wait_timeouts_fire_in_virtual_time() {
    let real = std::time::Instant::now();
    let run = start(
        "name: virtual
steps:
  gate:
    approval: { prompt: \"ok?\" }
  later:
    approval: { prompt: \"ok?\", timeout: 1h, on_timeout: approve }
  notes:
    ask: { question: \"q?\", default: fine }
  bare:
    ask: { question: \"q?\", timeout: 10m }
",
    );
    let (outcome, events) = run.finish().await;
    assert!(
        real.elapsed() < Duration::from_secs(5),
        "{:?}",
        real.elapsed()
    );
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(last_status(&events), "failed");

    assert_eq!(
        of(&events, "approval_requested", "gate")[0]["timeout_ms"],
        300_000
    );
    let gate = of(&events, "approval_resolved", "gate")[0];
    assert_eq!(gate["approved"], false);
    assert_eq!(gate["by"], "timeout");
    let waited = gate["waited_ms"].as_u64().unwrap();
    assert!((300_000..301_000).contains(&waited), "{gate}");
    assert_eq!(of(&events, "step_failed", "gate")[0]["error"], "rejected");

    let later = of(&events, "approval_resolved", "later")[0];
    assert_eq!(later["approved"], true);
    assert_eq!(later["by"], "timeout");
    assert!(later["waited_ms"].as_u64().unwrap() >= 3_600_000, "{later}");
    assert_eq!(of(&events, "step_succeeded", "later").len(), 1);

    let notes = of(&events, "question_answered", "notes")[0];
    assert_eq!(notes["answer"], "fine");
    assert_eq!(notes["by"], "timeout");
    assert!(of(&events, "question_answered", "bare").is_empty());
    assert_eq!(of(&events, "step_failed", "bare").len(), 1);

    // In deadline order.
    assert!(pos(&events, "approval_resolved", "gate") < pos(&events, "step_failed", "bare"));
    assert!(pos(&events, "question_answered", "notes") < pos(&events, "step_failed", "bare"));
    assert!(pos(&events, "step_failed", "bare") < pos(&events, "approval_resolved", "later"));
}

#[tokio::test(start_paused = true)]
async fn presets_and_auto_approve_resolve_waits_as_they_open() {
    let yaml = "name: presets
steps:
  gate: { approval: { prompt: \"ok?\" } }
  other: { approval: { prompt: \"ok?\" } }
  notes: { ask: { question: \"q?\", default: dflt } }
  named: { ask: { question: \"q?\" } }
";
    let options = RunOptions {
        presets: HashMap::from([
            ("gate".to_string(), Preset::Reject),
            ("named".to_string(), Preset::Answer("given".into())),
        ]),
        auto_approve: true,
        ..Default::default()
    };
    let (outcome, events) = start_with(load(yaml), options).finish().await;
    assert_eq!(outcome.status, RunStatus::Failed, "gate is rejected");
    let gate = of(&events, "approval_resolved", "gate")[0];
    assert_eq!(
        (gate["approved"].clone(), gate["by"].clone()),
        (false.into(), "flag".into())
    );
    let other = of(&events, "approval_resolved", "other")[0];
    assert_eq!(
        (other["approved"].clone(), other["by"].clone()),
        (true.into(), "flag".into())
    );
    assert_eq!(
        of(&events, "question_answered", "notes")[0]["answer"],
        "dflt"
    );
    assert_eq!(
        of(&events, "question_answered", "named")[0]["answer"],
        "given"
    );
    for e in events.iter().filter(|e| e["type"] == "approval_resolved") {
        assert!(e["waited_ms"].as_u64().unwrap() < 1000, "at once: {e}");
    }
}

// ---------------------------------------------------------------------------
// Operator commands: retry, skip, cancel (SPEC §5)
// ---------------------------------------------------------------------------

fn dag_modified<'a>(events: &'a [Value], action: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == "dag_modified" && e["action"] == action)
        .collect()
}

fn steps_of(e: &Value) -> BTreeSet<String> {
    e["steps"]
        .as_array()
        .expect("steps is a list")
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn retry_reruns_a_failed_step_and_its_upstream_failed_dependents() {
    let mut run = start(
        "name: retry-failed
steps:
  hold: { approval: { prompt: \"hold\" } }
  gate: { approval: { prompt: \"gate\" } }
  b: { needs: [gate], run: \"true\" }
  c: { needs: [b], run: \"true\" }
",
    );
    run.until_step("approval_requested", "hold").await;
    let first = run.until_step("approval_requested", "gate").await;
    run.send(Command::Reject {
        step: "gate".into(),
        by: By::Keyboard,
    });
    let failed = run.until_step("step_failed", "gate").await;
    assert_eq!(failed["error"], "rejected");
    let b = run.until_step("step_skipped", "b").await;
    assert_eq!(
        (b["reason"].clone(), b["cause"].clone()),
        ("upstream_failed".into(), "gate".into())
    );
    let c = run.until_step("step_skipped", "c").await;
    assert_eq!(c["reason"], "upstream_failed");

    run.send(Command::Retry {
        step: "gate".into(),
        by: By::Keyboard,
    });
    let modified = run
        .until("dag_modified", |e| e["type"] == "dag_modified")
        .await;
    assert_eq!(modified["action"], "retry");
    assert_eq!(modified["by"], "keyboard");
    assert_eq!(
        steps_of(&modified),
        BTreeSet::from(["gate".to_string(), "b".into(), "c".into()])
    );
    let again = run.until_step("approval_requested", "gate").await;
    assert_ne!(again["wait"], first["wait"], "a new wait");
    run.send(approve("hold"));
    run.send(approve("gate"));
    let (outcome, events) = run.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", dump(&events));
    assert_eq!(of(&events, "step_succeeded", "b").len(), 1);
    assert_eq!(of(&events, "step_succeeded", "c").len(), 1);
    assert!(pos(&events, "step_succeeded", "gate") < pos(&events, "step_started", "b"));
}

#[tokio::test]
async fn retry_reruns_a_failed_run_step() {
    let flag_dir = tempfile::tempdir().unwrap();
    let flag = flag_dir.path().join("flag");
    let mut wf = load(
        "name: retry-run
vars: { flag: none }
steps:
  hold: { approval: { prompt: \"hold\", timeout: 60s } }
  flaky:
    run: test -f \"{{ vars.flag }}\"
  after: { needs: [flaky], run: echo after }
  last: { needs: [after], run: echo last }
",
    );
    wf.set_var("flag", &flag.display().to_string()).unwrap();
    let mut run = start_with(wf, RunOptions::default());
    let failed = run.until_step("step_failed", "flaky").await;
    assert_eq!(failed["exit_code"], 1);
    run.until_step("step_skipped", "last").await;
    std::fs::write(&flag, "").unwrap();
    run.send(Command::Retry {
        step: "flaky".into(),
        by: By::Socket,
    });
    let modified = run
        .until("dag_modified", |e| e["type"] == "dag_modified")
        .await;
    assert_eq!(modified["action"], "retry");
    assert_eq!(modified["by"], "socket");
    assert_eq!(
        steps_of(&modified),
        BTreeSet::from(["flaky".to_string(), "after".into(), "last".into()])
    );
    run.until_step("step_succeeded", "last").await;
    run.send(approve("hold"));
    let (outcome, events) = run.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", dump(&events));
    assert_eq!(of(&events, "step_started", "flaky").len(), 2);
    assert_eq!(of(&events, "step_succeeded", "after").len(), 1);
}

#[tokio::test]
async fn retry_starts_a_backing_off_step_now() {
    let mut run = start(
        "name: retry-now
steps:
  x:
    run: exit 1
    retry: { attempts: 2, delay: 1h }
",
    );
    let retrying = run.until_step("step_retrying", "x").await;
    assert!(retrying["delay_ms"].as_u64().unwrap() <= 3_600_000);
    run.send(Command::Retry {
        step: "x".into(),
        by: By::Keyboard,
    });
    let finished = tokio::time::timeout(Duration::from_secs(10), run.finish())
        .await
        .expect("the second attempt runs at once, not after an hour");
    let (outcome, events) = finished;
    assert_eq!(outcome.status, RunStatus::Failed);
    let modified = dag_modified(&events, "retry");
    assert_eq!(modified.len(), 1, "{}", dump(&events));
    assert_eq!(steps_of(modified[0]), BTreeSet::from(["x".to_string()]));
    let attempts: Vec<u64> = of(&events, "step_started", "x")
        .iter()
        .map(|e| e["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2]);
    assert_eq!(of(&events, "step_failed", "x")[0]["attempts"], 2);
}

#[tokio::test(start_paused = true)]
async fn retry_reopens_a_wait_that_timed_out() {
    let mut run = start(
        "name: retry-wait
steps:
  hold: { approval: { prompt: \"hold\", timeout: 1000h } }
  gate: { approval: { prompt: \"gate\", timeout: 10s } }
",
    );
    let resolved = run.until_step("approval_resolved", "gate").await;
    assert_eq!(resolved["by"], "timeout");
    run.until_step("step_failed", "gate").await;
    run.send(Command::Retry {
        step: "gate".into(),
        by: By::Keyboard,
    });
    let again = run.until_step("approval_requested", "gate").await;
    assert_eq!(again["timeout_ms"], 10_000);
    run.send(approve("gate"));
    run.until_step("step_succeeded", "gate").await;
    run.send(approve("hold"));
    let (outcome, events) = run.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", dump(&events));
    assert_eq!(dag_modified(&events, "retry").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn skip_ends_a_waiting_or_pending_step_and_dependents_run() {
    let mut run = start(
        "name: skip
steps:
  gate: { approval: { prompt: \"gate\" } }
  after: { needs: [gate], run: \"true\" }
  gate2: { approval: { prompt: \"gate2\" } }
  pending: { needs: [gate2], run: echo never }
",
    );
    run.until_step("approval_requested", "gate2").await;
    // Unknown steps are ignored, not fatal.
    run.send(approve("nosuch"));
    run.send(Command::Skip {
        step: "nosuch".into(),
        by: By::Keyboard,
    });
    run.send(Command::Skip {
        step: "pending".into(),
        by: By::Keyboard,
    });
    let skipped = run.until_step("step_skipped", "pending").await;
    assert_eq!(skipped["reason"], "operator");
    run.send(Command::Skip {
        step: "gate".into(),
        by: By::Keyboard,
    });
    let skipped = run.until_step("step_skipped", "gate").await;
    assert_eq!(skipped["reason"], "operator");
    run.send(approve("gate2"));
    let (outcome, events) = run.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", dump(&events));
    let modified = dag_modified(&events, "skip");
    assert_eq!(modified.len(), 2, "{}", dump(&events));
    assert_eq!(
        steps_of(modified[0]),
        BTreeSet::from(["pending".to_string()])
    );
    assert_eq!(steps_of(modified[1]), BTreeSet::from(["gate".to_string()]));
    assert_eq!(modified[1]["by"], "keyboard");
    assert!(of(&events, "approval_resolved", "gate").is_empty());
    // A step skipped by the operator satisfies its dependents.
    assert_eq!(of(&events, "step_succeeded", "after").len(), 1);
    assert!(of(&events, "step_started", "pending").is_empty());
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_a_running_step() {
    let mut run = start(
        "name: cancel-step
steps:
  long: { run: echo started; sleep 30 }
  after: { needs: [long], run: echo never }
",
    );
    run.until_step("step_output", "long").await;
    run.send(Command::Cancel {
        step: Some("long".into()),
        by: By::Keyboard,
    });
    let (outcome, events) = run.finish().await;
    let modified = dag_modified(&events, "cancel");
    assert_eq!(modified.len(), 1, "{}", dump(&events));
    assert_eq!(steps_of(modified[0]), BTreeSet::from(["long".to_string()]));
    assert_eq!(modified[0]["by"], "keyboard");
    assert_eq!(of(&events, "step_cancelled", "long").len(), 1);
    assert!(of(&events, "step_failed", "long").is_empty());
    let after = of(&events, "step_skipped", "after");
    assert_eq!(after.len(), 1, "{}", dump(&events));
    assert_eq!(after[0]["reason"], "upstream_failed");
    assert_ne!(
        outcome.status,
        RunStatus::Succeeded,
        "a cancelled step fails the run"
    );
}

#[tokio::test(start_paused = true)]
async fn cancel_without_a_step_cancels_the_run() {
    let mut run = start(
        "name: cancel-run
steps:
  gate: { approval: { prompt: \"gate\" } }
  notes: { ask: { question: \"q?\" } }
  after: { needs: [gate, notes], run: echo never }
",
    );
    run.until_step("approval_requested", "gate").await;
    run.until_step("question_asked", "notes").await;
    run.send(Command::Cancel {
        step: None,
        by: By::Keyboard,
    });
    let (outcome, events) = run.finish().await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(last_status(&events), "cancelled");
    assert_eq!(of(&events, "step_cancelled", "gate").len(), 1);
    assert_eq!(of(&events, "step_cancelled", "notes").len(), 1);
    assert!(of(&events, "step_started", "after").is_empty());
    assert!(of(&events, "approval_resolved", "gate").is_empty());
}

// ---------------------------------------------------------------------------
// Asking: a command is taken, or refused with the reason
// ---------------------------------------------------------------------------

fn answer(step: &str, text: &str) -> Command {
    Command::Answer {
        step: step.into(),
        text: text.into(),
        by: By::Socket,
    }
}

#[tokio::test(start_paused = true)]
async fn request_refuses_what_does_not_fit_and_changes_nothing() {
    let mut run = start(
        "name: refusals
steps:
  gate: { approval: { prompt: \"go?\" } }
  q: { ask: { question: \"colour?\", choices: [red, blue] } }
  later: { needs: [gate], approval: { prompt: \"later\" } }
",
    );
    run.until_step("approval_requested", "gate").await;
    run.until_step("question_asked", "q").await;
    let h = run.handle.clone();

    let unknown = h.request(approve("gatee")).await.unwrap_err();
    assert!(
        matches!(&unknown, Refusal::UnknownStep { step, .. } if step == "gatee"),
        "{unknown:?}"
    );
    assert_eq!(
        unknown.to_string(),
        "no step `gatee` in workflow `refusals` (did you mean `gate`?)"
    );
    assert_eq!(
        h.request(approve("later")).await,
        Err(Refusal::NotOpen {
            step: "later".into(),
            status: "pending"
        })
    );
    for text in ["yes", "no"] {
        assert_eq!(
            h.request(answer("gate", text)).await,
            Err(Refusal::AnswerToApproval {
                step: "gate".into()
            })
        );
    }
    let choices = vec!["red".to_string(), "blue".into()];
    assert_eq!(
        h.request(answer("q", "green")).await,
        Err(Refusal::NotAChoice {
            step: "q".into(),
            answer: "green".into(),
            choices: choices.clone()
        })
    );
    let approved = h.request(approve("q")).await.unwrap_err();
    assert_eq!(
        approved,
        Refusal::ApproveQuestion {
            step: "q".into(),
            choices
        }
    );
    assert_eq!(
        approved.to_string(),
        "`q` is a question, not an approval: answer it with one of red, blue"
    );
    assert_eq!(
        h.request(Command::Retry {
            step: "gate".into(),
            by: By::Socket
        })
        .await,
        Err(Refusal::NotRetryable {
            step: "gate".into(),
            status: "waiting"
        })
    );

    assert_eq!(h.request(answer("q", "blue")).await, Ok(()));
    let again = h.request(answer("q", "red")).await;
    assert!(
        matches!(
            again,
            Err(Refusal::AlreadyResolved { .. } | Refusal::NotOpen { .. })
        ),
        "{again:?}"
    );
    // A front end that does not ask (the screen) still just sends.
    run.send(approve("gate"));
    run.until_step("approval_requested", "later").await;
    assert_eq!(h.request(approve("later")).await, Ok(()));
    let (outcome, events) = run.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", dump(&events));
    let answered = of(&events, "question_answered", "q");
    assert_eq!(answered.len(), 1, "{}", dump(&events));
    assert_eq!(answered[0]["answer"], "blue");
    let resolved = of(&events, "approval_resolved", "gate");
    assert_eq!(resolved.len(), 1, "{}", dump(&events));
    assert_eq!(resolved[0]["approved"], true);
    assert_eq!(h.request(approve("gate")).await, Err(Refusal::RunOver));
}

// ---------------------------------------------------------------------------
// Retry delays with a seed
// ---------------------------------------------------------------------------

async fn delays(seed: u64) -> Vec<u64> {
    let wf = load(
        "name: seeded
steps:
  x:
    run: exit 1
    retry: { attempts: 5, delay: 10s, factor: 2, max_delay: 50s, jitter: full }
",
    );
    let options = RunOptions {
        seed: Some(seed),
        ..Default::default()
    };
    let (outcome, events) = start_with(wf, options).finish().await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let out: Vec<u64> = of(&events, "step_retrying", "x")
        .iter()
        .map(|e| e["delay_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(out.len(), 4);
    for (d, ceiling) in out.iter().zip([10_000, 20_000, 40_000, 50_000]) {
        assert!(*d <= ceiling, "{out:?}");
    }
    out
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_jitter() {
    let a = delays(7).await;
    let b = delays(7).await;
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------
// Dropping a run
// ---------------------------------------------------------------------------

/// `Run::start`: "Drop the returned future and every process of the run is killed."
#[tokio::test]
async fn dropping_a_run_kills_its_processes() {
    let marker = marker();
    let mut wf = load(
        "name: dropped
vars: { marker: none }
concurrency: 2
steps:
  a:
    env: { MARK: \"{{ vars.marker }}\" }
    run: sleep 30 & echo started; sleep 30
  b:
    env: { MARK: \"{{ vars.marker }}\" }
    run: echo started; sleep 30
",
    );
    wf.set_var("marker", &marker).unwrap();
    let mut run = start_with(wf, RunOptions::default());
    let both = async {
        while !["a", "b"]
            .iter()
            .all(|step| run.seen.iter().any(|e| is(e, "step_output", step)))
        {
            run.next().await.expect("the run goes on");
        }
    };
    tokio::time::timeout(Duration::from_secs(10), both)
        .await
        .expect("both steps print");
    assert!(
        marked("MARK", &marker).len() >= 3,
        "{:?}",
        marked("MARK", &marker)
    );
    run.task.abort();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let left = marked("MARK", &marker);
        if left.is_empty() {
            break;
        }
        if std::time::Instant::now() > deadline {
            for (pid, _) in &left {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
            panic!("processes outlived the dropped run: {left:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn skip_stops_a_running_step_and_its_dependents_run() {
    let mut run = start(
        "name: skip-running
steps:
  long: { run: echo started; sleep 30, kill_grace: 200ms }
  after: { needs: [long], run: echo after }
",
    );
    run.until_step("step_output", "long").await;
    run.send(Command::Skip {
        step: "long".into(),
        by: By::Keyboard,
    });
    let (outcome, events) = tokio::time::timeout(Duration::from_secs(10), run.finish())
        .await
        .expect("the skipped step stops");
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", dump(&events));
    assert_eq!(dag_modified(&events, "skip").len(), 1);
    let skipped = of(&events, "step_skipped", "long");
    assert_eq!(skipped.len(), 1, "{}", dump(&events));
    assert_eq!(skipped[0]["reason"], "operator");
    assert!(of(&events, "step_succeeded", "long").is_empty());
    assert!(of(&events, "step_failed", "long").is_empty());
    assert_eq!(of(&events, "step_succeeded", "after").len(), 1);
}

#[tokio::test]
async fn cancel_ends_a_backing_off_step() {
    let mut run = start(
        "name: cancel-backoff
steps:
  x:
    run: exit 1
    retry: { attempts: 3, delay: 1h }
  after: { needs: [x], run: echo never }
",
    );
    run.until_step("step_retrying", "x").await;
    run.send(Command::Cancel {
        step: Some("x".into()),
        by: By::Keyboard,
    });
    let (outcome, events) = tokio::time::timeout(Duration::from_secs(10), run.finish())
        .await
        .expect("no waiting out the backoff");
    assert_ne!(outcome.status, RunStatus::Succeeded);
    assert_eq!(dag_modified(&events, "cancel").len(), 1);
    assert_eq!(of(&events, "step_cancelled", "x").len(), 1);
    assert_eq!(of(&events, "step_started", "x").len(), 1);
    assert_eq!(
        of(&events, "step_skipped", "after")[0]["reason"],
        "upstream_failed"
    );
}

#[tokio::test(start_paused = true)]
async fn rejecting_a_question_fails_its_step_with_rejected() {
    let mut run = start(
        "name: reject_question
steps:
  q: { ask: { question: \"which?\", default: a } }
",
    );
    run.until_step("question_asked", "q").await;
    run.send(Command::Reject {
        step: "q".into(),
        by: By::Keyboard,
    });
    let failed = run.until_step("step_failed", "q").await;
    assert_eq!(failed["error"], "rejected");
    let (outcome, events) = run.finish().await;
    assert_eq!(outcome.status, RunStatus::Failed, "{}", dump(&events));
    assert!(of(&events, "question_answered", "q").is_empty());
}
