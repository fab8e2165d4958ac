//! A lying journal (issue 10, item 8): a journal this program could not
//! have written is refused by `resume` with its line number, and `replay`
//! and `runs` refuse the same; nothing hangs, and SIGTERM ends a resume.
//!
//! The journals are written by hand from events of the seed workflow
//! (`tests/fixtures/journals/seed.yaml`), planted in a state dir of their
//! own; `fuzz` mutates real ones.

mod fuzz;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::{BIN, Done, Live};

const ID: &str = "seed-20260101-000000-0001";

pub(crate) fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journals")
}

/// A state dir holding one planted run.
pub(crate) struct Planted {
    pub tmp: TempDir,
    pub id: String,
}

impl Planted {
    /// `workflow` (YAML text) and `journal` (bytes) as run `id`.
    pub fn new(workflow: &str, id: &str, journal: &[u8]) -> Planted {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("state/runs").join(id);
        std::fs::create_dir_all(run.join("logs")).unwrap();
        std::fs::create_dir_all(run.join("outputs")).unwrap();
        std::fs::write(run.join("workflow.yaml"), workflow).unwrap();
        std::fs::write(run.join("events.jsonl"), journal).unwrap();
        let params = json!({ "workdir": tmp.path(), "vars": {} });
        std::fs::write(run.join("run.json"), params.to_string()).unwrap();
        Planted {
            tmp,
            id: id.to_string(),
        }
    }

    pub fn state(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    pub fn journal(&self) -> PathBuf {
        self.state()
            .join("runs")
            .join(&self.id)
            .join("events.jsonl")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--state-dir")
            .arg(self.state())
            .current_dir(self.tmp.path())
            .stdin(Stdio::null());
        cmd
    }

    /// `resume ID --headless --json`, still running.
    pub fn resume(&self, extra: &[&str]) -> Live {
        let mut cmd = self.command(&["resume", &self.id, "--headless", "--json"]);
        cmd.args(extra);
        Live::spawn(cmd)
    }

    /// A command that prints text, run to its end.
    pub fn cli(&self, args: &[&str]) -> Done {
        let started = std::time::Instant::now();
        let out = self.command(args).output().unwrap();
        Done {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            events: Vec::new(),
            elapsed: started.elapsed(),
        }
    }
}

pub(crate) fn seed_workflow() -> String {
    std::fs::read_to_string(fixtures().join("seed.yaml")).unwrap()
}

/// Journal lines from events: `seq` is the line number, `ts` and `run`
/// are filled in.
fn journal(events: &[Value]) -> Vec<u8> {
    // Now, so the waits it opens have not timed out when it resumes.
    let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let mut out = Vec::new();
    for (n, e) in events.iter().enumerate() {
        let mut line = json!({ "seq": n + 1, "ts": now, "run": ID });
        for (k, v) in e.as_object().unwrap() {
            line[k] = v.clone();
        }
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

fn ev(ty: &str, step: &str, more: Value) -> Value {
    let mut e = json!({ "type": ty, "step": step });
    for (k, v) in more.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn started(resumed: bool) -> Value {
    json!({ "type": "run_started", "workflow": "seed", "steps": 4, "resumed": resumed })
}

/// The seed run as far as its gate: build retried once and succeeded, the
/// question answered, the approval open (wait w2). Every line possible.
fn to_the_gate() -> Vec<Value> {
    vec![
        started(false),
        ev("step_ready", "build", json!({})),
        ev("step_ready", "notes", json!({})),
        ev(
            "question_asked",
            "notes",
            json!({ "wait": "w1", "question": "Headline?", "choices": ["alpha", "beta"], "default": "alpha" }),
        ),
        ev("step_started", "build", json!({ "attempt": 1 })),
        ev(
            "question_answered",
            "notes",
            json!({ "wait": "w1", "answer": "beta", "by": "flag", "waited_ms": 0 }),
        ),
        ev(
            "step_succeeded",
            "notes",
            json!({ "attempt": 1, "duration_ms": 0, "outputs": { "answer": "beta" }, "fallback": false }),
        ),
        ev(
            "step_retrying",
            "build",
            json!({ "attempt": 1, "error": "exit code 1", "exit_code": 1, "delay_ms": 5 }),
        ),
        ev("step_started", "build", json!({ "attempt": 2 })),
        ev(
            "step_succeeded",
            "build",
            json!({ "attempt": 2, "duration_ms": 27, "outputs": {}, "fallback": false }),
        ),
        ev("step_ready", "gate", json!({})),
        ev(
            "approval_requested",
            "gate",
            json!({ "wait": "w2", "prompt": "Ship?", "timeout_ms": 300000 }),
        ),
    ]
}

/// `resume` refuses the journal at `line`, at once, with exit 2; `replay`
/// refuses it at the same line and `runs` calls it damaged.
fn refused_at(what: &str, events: &[Value], line: usize) {
    let planted = Planted::new(&seed_workflow(), ID, &journal(events));
    let before = std::fs::read(planted.journal()).unwrap();
    let done = planted.resume(&[]).finish();
    let at = format!("events.jsonl:{line}: damaged journal line");
    assert_eq!(done.code, Some(2), "{what}: {}", done.dump());
    assert!(
        done.stderr.contains(&at),
        "{what}: no {at}: {}",
        done.dump()
    );
    assert!(done.events.is_empty(), "{what}: it ran: {}", done.dump());
    assert!(
        done.elapsed < Duration::from_secs(5),
        "{what}: {done:?}",
        done = done.elapsed
    );
    assert_eq!(std::fs::read(planted.journal()).unwrap(), before, "{what}");
    let replay = planted.cli(&["replay", &planted.id]);
    assert_eq!(replay.code, Some(2), "{what}: replay: {}", replay.stderr);
    assert!(
        replay.stderr.contains(&at),
        "{what}: replay: {}",
        replay.stderr
    );
    let runs = planted.cli(&["runs", "--json"]);
    let row: Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(row["status"], "damaged", "{what}: runs: {row}");
}

/// The issue's journal: a well-formed `step_started` for a question (or an
/// approval) step. `resume` printed "q started" and hung, deaf to SIGTERM.
#[test]
fn a_started_wait_step_is_refused_with_its_line_and_nothing_hangs() {
    // Readied, then "started" as if it ran a process.
    for (step, line) in [("notes", 4), ("gate", 12)] {
        let mut events = to_the_gate();
        events.truncate(line - 1);
        events.push(ev("step_started", step, json!({ "attempt": 1 })));
        refused_at(&format!("step_started for {step}"), &events, line);
    }
}

/// The seed run from its gate to its end, every line possible.
fn whole_run() -> Vec<Value> {
    let mut events = to_the_gate();
    events.extend([
        ev(
            "approval_resolved",
            "gate",
            json!({ "wait": "w2", "approved": true, "by": "socket", "waited_ms": 5 }),
        ),
        ev(
            "step_succeeded",
            "gate",
            json!({ "attempt": 1, "duration_ms": 5, "outputs": {}, "fallback": false }),
        ),
        ev("step_ready", "ship", json!({})),
        ev("step_started", "ship", json!({ "attempt": 1 })),
        ev(
            "step_output",
            "ship",
            json!({ "stream": "stdout", "line": "shipping beta" }),
        ),
        ev(
            "step_succeeded",
            "ship",
            json!({ "attempt": 1, "duration_ms": 3, "outputs": {}, "fallback": false }),
        ),
        json!({ "type": "run_finished", "status": "succeeded", "duration_ms": 40 }),
    ]);
    events
}

fn mutated(edit: impl FnOnce(&mut Vec<Value>)) -> Vec<Value> {
    let mut events = to_the_gate();
    edit(&mut events);
    events
}

/// Well-formed lines in an order, or with values, no run of this program
/// writes: each refused at the line where it stops being possible.
#[test]
fn impossible_journals_are_refused_at_the_impossible_line() {
    let cases: Vec<(&str, Vec<Value>, usize)> = vec![
        (
            "an approval requested for a command step",
            mutated(|e| e[11]["step"] = "build".into()),
            12,
        ),
        (
            "a question asked of an approval step",
            mutated(|e| e[3]["step"] = "gate".into()),
            4,
        ),
        (
            "output from a step that is not running",
            mutated(|e| {
                e.push(ev(
                    "step_output",
                    "ship",
                    json!({ "stream": "stdout", "line": "x" }),
                ))
            }),
            13,
        ),
        (
            "a start before the step was ready",
            mutated(|e| {
                e.truncate(1);
                e.push(ev("step_started", "build", json!({ "attempt": 1 })));
            }),
            2,
        ),
        (
            "a ready step whose needs have not ended",
            mutated(|e| e.push(ev("step_ready", "ship", json!({})))),
            13,
        ),
        (
            "an attempt skipped",
            mutated(|e| e[8]["attempt"] = 3.into()),
            9,
        ),
        ("attempt 0", mutated(|e| e[4]["attempt"] = 0.into()), 5),
        (
            "an event after the step ended",
            mutated(|e| e.push(ev("step_started", "build", json!({ "attempt": 2 })))),
            13,
        ),
        (
            "success without a start",
            mutated(|e| {
                e.truncate(2);
                e.push(ev(
                    "step_succeeded",
                    "build",
                    json!({ "attempt": 1, "duration_ms": 1, "outputs": {}, "fallback": false }),
                ));
            }),
            3,
        ),
        (
            "a wait resolved twice",
            mutated(|e| {
                let again = e[5].clone();
                e.insert(6, again);
            }),
            7,
        ),
        (
            "a wait resolved that was never requested",
            mutated(|e| {
                e.push(ev(
                    "approval_resolved",
                    "gate",
                    json!({ "wait": "w2", "approved": true, "by": "socket", "waited_ms": 1 }),
                ));
                e.remove(11);
            }),
            12,
        ),
        (
            "a wait id that does not match",
            mutated(|e| e[5]["wait"] = "w7".into()),
            6,
        ),
        (
            "an answer that is not a choice",
            mutated(|e| e[5]["answer"] = "gamma".into()),
            6,
        ),
        (
            "a fresh run_started in the middle",
            mutated(|e| e.push(started(false))),
            13,
        ),
        (
            "events after run_finished",
            {
                let mut e = whole_run();
                e.push(ev(
                    "step_output",
                    "ship",
                    json!({ "stream": "stdout", "line": "x" }),
                ));
                e
            },
            20,
        ),
        (
            "a run that succeeded with a failed step",
            {
                let mut e = whole_run();
                e[12] = ev(
                    "approval_resolved",
                    "gate",
                    json!({ "wait": "w2", "approved": false, "by": "socket", "waited_ms": 5 }),
                );
                e[13] = ev(
                    "step_failed",
                    "gate",
                    json!({ "attempts": 1, "error": "rejected", "exit_code": null }),
                );
                e.truncate(14);
                e.push(ev(
                    "step_skipped",
                    "ship",
                    json!({ "reason": "upstream_failed", "cause": "gate" }),
                ));
                e.push(json!({ "type": "run_finished", "status": "succeeded", "duration_ms": 40 }));
                e
            },
            16,
        ),
        (
            "run_finished while a step waits",
            mutated(|e| {
                e.push(json!({ "type": "run_finished", "status": "cancelled", "duration_ms": 1 }))
            }),
            13,
        ),
        (
            "a run_started of another workflow",
            mutated(|e| e[0]["workflow"] = "other".into()),
            1,
        ),
        (
            "a run_started with another step count",
            mutated(|e| e[0]["steps"] = 5.into()),
            1,
        ),
        (
            "a retry delay beyond max_delay",
            mutated(|e| e[7]["delay_ms"] = u64::MAX.into()),
            8,
        ),
        (
            "a cancel with a reason the engine never gives",
            mutated(|e| e.push(ev("step_cancelled", "gate", json!({ "reason": "because" })))),
            13,
        ),
    ];
    for (what, events, line) in cases {
        refused_at(what, &events, line);
    }
}

/// A resumed run waiting on a wait it re-opened ends on SIGTERM: exit 130,
/// the run journaled as cancelled.
#[test]
fn sigterm_ends_a_resume_that_waits() {
    let planted = Planted::new(&seed_workflow(), ID, &journal(&to_the_gate()));
    let mut live = planted.resume(&[]);
    live.wait_for("the gate re-opened", |e| {
        e["type"] == "approval_requested" && e["step"] == "gate"
    });
    live.signal("TERM");
    let done = live.finish();
    done.expect(130, "cancelled");
    assert!(done.elapsed < Duration::from_secs(10), "{:?}", done.elapsed);
}

/// The seed journals, made by real runs, resume (or are refused as
/// finished) and replay: the checker refuses nothing this program writes.
#[test]
fn real_journals_are_accepted() {
    let ops = std::fs::read_to_string(fixtures().join("ops.yaml")).unwrap();
    let seeds = [
        "succeeded",
        "open_wait",
        "resumed",
        "cancelled",
        "cancelled_resumed",
        "ops",
    ];
    for name in seeds {
        let bytes = std::fs::read(fixtures().join(format!("{name}.jsonl"))).unwrap();
        let id = run_id(&bytes);
        let workflow = if name == "ops" {
            ops.clone()
        } else {
            seed_workflow()
        };
        let planted = Planted::new(&workflow, &id, &bytes);
        let replay = planted.cli(&["replay", &id]);
        assert_eq!(replay.code, Some(0), "{name}: {}", replay.stderr);
        let runs = planted.cli(&["runs", "--json"]);
        let row: Value = serde_json::from_slice(&runs.stdout).unwrap();
        assert_ne!(row["status"], "damaged", "{name}: {row}");
        let done = planted.resume(&["--auto-approve"]).finish();
        // Resumed to its end (a wait the seed left open may have timed
        // out since), or refused because it had ended.
        match done.code {
            Some(0) => done.expect(0, "succeeded"),
            Some(1) => done.expect(1, "failed"),
            _ => assert!(
                done.stderr.contains("nothing to resume"),
                "{name}: {}",
                done.dump()
            ),
        }
    }
}

/// The run id a journal's first line names.
pub(crate) fn run_id(bytes: &[u8]) -> String {
    let first = bytes.split(|&b| b == b'\n').next().unwrap();
    let v: Value = serde_json::from_slice(first).unwrap();
    v["run"].as_str().unwrap().to_string()
}

/// Whether process `pid` catches SIGTERM (`SigCgt` in its status).
fn catches_sigterm(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (15 - 1)) != 0)
}

/// SIGTERM (or SIGINT) while `resume` still reads a long journal, before
/// it drives the run, ends it at once with exit 130, the journal untouched.
/// (It used to catch no signal until the run was driven.)
#[test]
fn sigterm_before_the_run_is_driven_ends_resume_with_130() {
    for signal in ["TERM", "INT"] {
        stopped_before_driving(signal);
    }
}

fn stopped_before_driving(signal: &str) {
    let mut bytes = journal(&[
        started(false),
        ev("step_ready", "build", json!({})),
        ev("step_started", "build", json!({ "attempt": 1 })),
    ]);
    for seq in 4..100_000 {
        let line = format!(
            r#"{{"seq":{seq},"ts":"2026-01-01T00:00:00Z","run":"{ID}","type":"step_output","step":"build","stream":"stdout","line":"{seq}"}}"#
        );
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
    }
    let planted = Planted::new(&seed_workflow(), ID, &bytes);
    let before = std::fs::read(planted.journal()).unwrap();
    let mut child = planted
        .command(&["resume", ID, "--headless", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started_at = std::time::Instant::now();
    while !catches_sigterm(pid) {
        assert!(
            started_at.elapsed() < Duration::from_secs(10),
            "never caught SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let sent = std::time::Instant::now();
    let kill = Command::new("kill")
        .args(["-s", "TERM", &pid.to_string()])
        .status();
    assert!(kill.unwrap().success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("resume did not end within 10 s of SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        status.code(),
        Some(130),
        "SIG{signal}: {status:?}: {stderr}"
    );
    assert!(out.stdout.is_empty(), "it drove the run: {stderr}");
    assert!(stderr.contains("stopped by a signal"), "{stderr}");
    assert_eq!(std::fs::read(planted.journal()).unwrap(), before);
}

/// A whole, newline-ended last line that is not an event is damage: each
/// event is one write of its line and newline, so no crash leaves one.
#[test]
fn a_whole_last_line_that_is_not_an_event_is_damage_not_a_torn_tail() {
    let events = to_the_gate();
    let mut bytes = journal(&events);
    let n = events.len() + 1;
    bytes.extend_from_slice(
        format!("{{\"seq\":{n},\"ts\":\"2026-01-01T00:00:00.000Z\",\"run\":\"{ID}\",\"type\":\"no_such_event\"}}\n")
            .as_bytes(),
    );
    let planted = Planted::new(&seed_workflow(), ID, &bytes);
    let before = std::fs::read(planted.journal()).unwrap();
    let done = planted.resume(&[]).finish();
    assert_eq!(done.code, Some(2), "{}", done.dump());
    assert!(
        done.stderr
            .contains(&format!("events.jsonl:{n}: damaged journal line")),
        "{}",
        done.dump()
    );
    assert_eq!(std::fs::read(planted.journal()).unwrap(), before);
}

/// A FIFO, or a symlink, planted in place of a run's kept files never
/// blocks `resume`, `replay` or `runs`, and is never read through.
#[test]
fn fifos_and_symlinks_in_a_run_folder_are_refused_at_once() {
    let planted = Planted::new(&seed_workflow(), ID, &journal(&to_the_gate()));
    let run = planted.state().join("runs").join(ID);
    let _ = std::fs::remove_file(run.join("pids"));
    let made = Command::new("mkfifo")
        .arg(run.join("pids"))
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo is needed for this test");
    let done = planted.resume(&["--approve", "gate"]).finish();
    assert!(done.code.is_some(), "{}", done.dump());
    assert!(
        done.elapsed < Duration::from_secs(10),
        "resume blocked on a FIFO"
    );
    std::fs::remove_file(run.join("pids")).unwrap();

    // A kept workflow that is a symlink (to a file the reader may read) is
    // refused by replay, and its text never shown.
    let secret = planted.tmp.path().join("secret");
    std::fs::write(&secret, "name: x\nsecret-line-xyz: 1\n").unwrap();
    let kept = run.join("workflow.yaml");
    std::fs::remove_file(&kept).unwrap();
    std::os::unix::fs::symlink(&secret, &kept).unwrap();
    let replay = planted.cli(&["replay", ID]);
    assert_eq!(replay.code, Some(2), "{}", replay.stderr);
    assert!(
        !replay.stderr.contains("secret-line-xyz"),
        "{}",
        replay.stderr
    );
    assert!(
        replay.stderr.contains("not a regular file"),
        "{}",
        replay.stderr
    );

    // A journal that is a FIFO: `runs` lists the run at once, as damaged.
    std::fs::remove_file(&kept).unwrap();
    std::fs::write(&kept, seed_workflow()).unwrap();
    std::fs::remove_file(planted.journal()).unwrap();
    Command::new("mkfifo")
        .arg(planted.journal())
        .status()
        .unwrap();
    let runs = planted.cli(&["runs", "--json"]);
    assert!(
        runs.elapsed < Duration::from_secs(10),
        "runs blocked on a FIFO"
    );
}
