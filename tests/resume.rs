#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Durable runs seen from outside (SPEC.md §2 "Resume", §3, §4; issue 5):
//! `signalbox run` is killed with SIGKILL at each kind of moment and
//! `signalbox resume` must carry on from the journal; torn and damaged
//! journals, a full disk, two drivers of one run, `replay` and `runs`.
//!
//! Every test has its own folder ([`Work`]): `state/` is the `--state-dir`
//! and the folder is the current directory of every process, so the files
//! steps write (`count`, one line per execution of a step) land there. Every
//! process a test starts carries `SBX_RESUME_MARK=<marker>` in its
//! environment, which steps inherit; when the test ends, whatever still
//! carries its marker is killed, so a leftover never outlives its test.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tempfile::TempDir;

use common::{BIN, Done, Live, dump, is, marked, marker, procs};

const MARK: &str = "SBX_RESUME_MARK";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/resume")
        .join(format!("{name}.yaml"))
}

// ---------------------------------------------------------------------------
// A test's folder and the processes it starts
// ---------------------------------------------------------------------------

struct Work {
    tmp: TempDir,
    state: PathBuf,
    mark: String,
}

impl Work {
    fn new() -> Work {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        Work {
            tmp,
            state,
            mark: marker(),
        }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env(MARK, &self.mark)
            .current_dir(self.dir())
            .stdin(Stdio::null());
        cmd
    }

    /// `signalbox ARGS --headless --json --state-dir STATE EXTRA`.
    fn spawn(&self, args: &[&str], extra: &[&str]) -> Live {
        let mut cmd = self.command(args);
        cmd.args(["--headless", "--json", "--state-dir"])
            .arg(&self.state)
            .args(extra);
        Live::spawn(cmd)
    }

    fn run(&self, name: &str, extra: &[&str]) -> Live {
        let file = fixture(name);
        self.spawn(&["run", file.to_str().unwrap()], extra)
    }

    fn resume(&self, run: &str, extra: &[&str]) -> Live {
        self.spawn(&["resume", run], extra)
    }

    /// A command that prints text (`replay`, `runs`), run to its end.
    fn cli(&self, args: &[&str]) -> Done {
        let mut cmd = self.command(args);
        cmd.arg("--state-dir").arg(&self.state);
        let started = Instant::now();
        let out = cmd.output().unwrap();
        Done {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            events: Vec::new(),
            elapsed: started.elapsed(),
        }
    }

    fn run_dir(&self, id: &str) -> PathBuf {
        self.state.join("runs").join(id)
    }

    fn journal_path(&self, id: &str) -> PathBuf {
        self.run_dir(id).join("events.jsonl")
    }

    fn bytes(&self, id: &str) -> Vec<u8> {
        std::fs::read(self.journal_path(id)).unwrap()
    }

    /// The journal's events; every line must be whole and parse.
    fn journal(&self, id: &str) -> Vec<Value> {
        parse_lines(&self.bytes(id)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// One entry per execution of a step, in order (`count`).
    fn count(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir().join("count"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir().join(file)).unwrap_or_default()
    }

    fn wait_file(&self, file: &str) {
        let path = self.dir().join(file);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !path.exists() {
            assert!(Instant::now() < deadline, "{file} never appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Places a copy of `from`'s run folder under this test's state dir,
    /// with `journal` as its events, as if it had started in this test's
    /// folder.
    fn plant(&self, from: &Work, id: &str, journal: &[u8]) {
        let to = self.run_dir(id);
        copy_dir(&from.run_dir(id), &to);
        let _ = std::fs::remove_file(to.join("lock"));
        std::fs::write(to.join("events.jsonl"), journal).unwrap();
        let params = to.join("run.json");
        let mut kept: Value = serde_json::from_slice(&std::fs::read(&params).unwrap()).unwrap();
        kept["workdir"] = self.dir().to_str().unwrap().into();
        std::fs::write(&params, kept.to_string()).unwrap();
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        for (pid, _) in marked(MARK, &self.mark) {
            let _ = Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A run of fixture `name` to its end, with `code` and `status`: the work
/// folder it ran in and its id.
fn ran(name: &str, code: i32, status: &str) -> (Work, String) {
    let base = Work::new();
    let mut live = base.run(name, &[]);
    let id = live.run_id();
    live.finish().expect(code, status);
    (base, id)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
// ---------------------------------------------------------------------------
// Journals, processes
// ---------------------------------------------------------------------------

/// Splits a journal into lines, each with its `\n` (the last may lack it).
fn split_lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

/// Every line whole and an event.
fn parse_lines(bytes: &[u8]) -> Result<Vec<Value>, String> {
    split_lines(bytes)
        .into_iter()
        .enumerate()
        .map(|(n, line)| {
            let Some(body) = line.strip_suffix(b"\n") else {
                return Err(format!("line {} has no line end", n + 1));
            };
            serde_json::from_slice::<Value>(body)
                .map_err(|e| format!("line {}: {e}: {}", n + 1, String::from_utf8_lossy(line)))
        })
        .collect()
}

/// SPEC §3 on a journal that spans several processes: seq 1, 2, 3… across
/// them all, one run id, time going forward, the first `run_started` fresh
/// and every later one `resumed: true`.
fn check_journal(events: &[Value], id: &str) {
    let mut last_ts = SystemTime::UNIX_EPOCH;
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i as u64 + 1, "seq goes on\n{}", dump(events));
        assert_eq!(e["run"], id, "{e}");
        let t = ts(e);
        assert!(t >= last_ts, "ts goes forward: {e}");
        last_ts = t;
    }
    let starts: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "run_started")
        .collect();
    assert_eq!(events[0]["type"], "run_started");
    assert_eq!(starts[0]["resumed"], false);
    for s in &starts[1..] {
        assert_eq!(s["resumed"], true, "{s}");
    }
}

fn ts(e: &Value) -> SystemTime {
    let text = e["ts"].as_str().unwrap_or_else(|| panic!("no ts: {e}"));
    humantime::parse_rfc3339(text).unwrap_or_else(|err| panic!("ts {text}: {err}"))
}

fn since(a: &Value, b: &Value) -> i128 {
    let (a, b) = (ts(a), ts(b));
    match b.duration_since(a) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128),
    }
}

/// Steps with a journaled `step_succeeded`.
fn succeeded(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["type"] == "step_succeeded")
        .map(|e| e["step"].as_str().unwrap().to_string())
        .collect()
}

fn tally(names: &[String]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for n in names {
        *out.entry(n.clone()).or_insert(0) += 1;
    }
    out
}

/// No `step_started` of a step after its `step_succeeded`.
fn assert_none_ran_after_success(events: &[Value]) {
    let mut done = BTreeSet::new();
    for e in events {
        let step = e["step"].as_str().unwrap_or_default();
        if e["type"] == "step_started" {
            assert!(
                !done.contains(step),
                "{step} started again after it succeeded\n{}",
                dump(events)
            );
        }
        if e["type"] == "step_succeeded" {
            done.insert(step.to_string());
        }
    }
}

/// Live members of a process group.
fn group(pgid: i64) -> Vec<u32> {
    procs()
        .into_iter()
        .filter(|p| p.pgrp == pgid)
        .map(|p| p.pid)
        .collect()
}

/// Waits up to `limit` for a group to be empty; true if it is.
fn group_gone(pgid: i64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if group(pgid).is_empty() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// kill -9 at each kind of moment
// ---------------------------------------------------------------------------

/// Starts `running.yaml` and kills signalbox while attempt 2 of `b` sleeps.
/// Returns the run id and the process group of that attempt.
fn killed_while_b_runs(w: &Work) -> (String, i64, Option<String>) {
    let mut live = w.run("running", &[]);
    let id = live.run_id();
    live.wait_for("b attempt 2", |e| {
        is(e, "step_started", "b") && e["attempt"] == 2
    });
    w.wait_file("b.slept");
    let pgid: i64 = w.read("b.pgids").trim().parse().unwrap();
    let pid_file = std::fs::read_to_string(w.run_dir(&id).join("pids/b")).ok();
    live.kill9();
    (id, pgid, pid_file)
}

#[test]
fn kill_while_a_step_runs_then_resume_runs_it_again() {
    let w = Work::new();
    let (id, _, _) = killed_while_b_runs(&w);
    let before = w.bytes(&id);
    let journal = w.journal(&id);
    assert!(
        !journal.iter().any(|e| e["type"] == "run_finished"),
        "{}",
        dump(&journal)
    );

    let done = w.resume(&id, &[]).finish();
    done.expect(0, "succeeded");
    let first = &done.events[0];
    assert_eq!(first["resumed"], true, "{}", done.dump());
    assert_eq!(first["seq"], journal.len() as u64 + 1, "seq goes on");
    assert_eq!(first["workflow"], "running");
    assert_eq!(first["steps"], 3);

    // `a` ended before the kill: never again. `b` was in attempt 2: that
    // attempt runs again (a crash is not a failed attempt) and says so.
    assert!(done.of("step_started", "a").is_empty(), "{}", done.dump());
    assert_eq!(done.one("step_started", "b")["attempt"], 2);
    assert_eq!(done.one("step_succeeded", "b")["attempt"], 2);
    let said: Vec<&Value> = done
        .of("step_output", "b")
        .into_iter()
        .filter(|e| e["line"] == "attempt 2")
        .collect();
    assert_eq!(said.len(), 1, "{}", done.dump());
    assert!(
        done.stderr.contains("▸ b started (attempt 2)"),
        "{}",
        done.dump()
    );
    assert!(
        done.stderr.contains(&format!("run {id} resumed")),
        "{}",
        done.stderr
    );
    assert_eq!(w.count(), ["a", "b", "b", "b", "c"]);

    // stdout is what was appended to the journal, and the whole journal is
    // one run.
    let after = w.bytes(&id);
    assert_eq!(&after[..before.len()], &before[..]);
    assert_eq!(&after[before.len()..], &done.stdout[..]);
    let all = w.journal(&id);
    check_journal(&all, &id);
    assert_none_ran_after_success(&all);
}

#[test]
fn resume_kills_what_survives_of_the_interrupted_step_before_running_it_again() {
    let w = Work::new();
    let (id, pgid, pid_file) = killed_while_b_runs(&w);
    // kill -9 of signalbox does not reach the step's process group.
    assert!(
        !group(pgid).is_empty(),
        "precondition: b's processes outlive signalbox"
    );

    let mut live = w.resume(&id, &[]);
    live.wait_for("b running again", |e| is(e, "step_started", "b"));
    let gone = group_gone(pgid, Duration::from_millis(500));
    let left = group(pgid);
    let done = live.finish();
    done.expect(0, "succeeded");
    assert!(
        gone,
        "SPEC §2: the process group of a step that was running ({pgid}: {left:?}, \
         `sleep 30` twice) must be killed when the run resumes, before the step \
         runs again; it is still alive after b started again (the run folder's \
         pids/b while b ran: {pid_file:?})"
    );
}

#[test]
fn resume_goes_on_in_the_folder_and_with_the_vars_the_run_started_with() {
    let w = Work::new();
    let mut live = w.run("started_with", &["--var", "target=prod"]);
    let id = live.run_id();
    live.wait_for("slow running", |e| is(e, "step_started", "slow"));
    w.wait_file("slow.slept");
    live.kill9();

    // From another folder, and without the --var.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = w.command(&["resume", &id, "--headless", "--json", "--state-dir"]);
    cmd.arg(&w.state).current_dir(elsewhere.path());
    let done = Live::spawn(cmd).finish();
    done.expect(0, "succeeded");
    let here = std::fs::canonicalize(w.dir()).unwrap();
    let here = here.display();
    assert_eq!(
        w.count(),
        [format!("first prod {here}"), format!("last prod {here}")]
    );
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none()
    );

    // The run's length is the whole run's, from its first start to its end,
    // in `run_finished` and so in `runs`: not the resumed part's.
    let all = w.journal(&id);
    let ts = |e: &Value| humantime::parse_rfc3339_weak(e["ts"].as_str().unwrap()).unwrap();
    let whole = ts(all.last().unwrap()).duration_since(ts(&all[0])).unwrap();
    let resumed = all
        .iter()
        .rposition(|e| e["type"] == "run_started")
        .unwrap();
    let part = ts(all.last().unwrap())
        .duration_since(ts(&all[resumed]))
        .unwrap();
    let row: Value = serde_json::from_slice(&w.cli(&["runs", "--json"]).stdout).unwrap();
    let finished_ms = all.last().unwrap()["duration_ms"].as_u64().unwrap();
    assert_eq!(row["duration_ms"], finished_ms, "{row}");
    let (whole, part) = (whole.as_millis() as u64, part.as_millis() as u64);
    assert!(
        finished_ms + 5 >= whole && finished_ms <= whole + 5,
        "{finished_ms} vs {whole}"
    );
    assert!(
        finished_ms > part,
        "{finished_ms} counts only the resumed part ({part})"
    );
}

#[test]
fn a_run_resumed_by_its_folder_keeps_its_own_state_dir() {
    let w = Work::new();
    let mut live = w.run("started_with", &[]);
    let id = live.run_id();
    live.wait_for("slow running", |e| is(e, "step_started", "slow"));
    w.wait_file("slow.slept");
    live.kill9();

    // By folder, from another folder, with no --state-dir.
    let elsewhere = tempfile::tempdir().unwrap();
    let folder = w.run_dir(&id);
    let mut cmd = w.command(&["resume", folder.to_str().unwrap(), "--headless", "--json"]);
    cmd.current_dir(elsewhere.path())
        .env_remove("SIGNALBOX_STATE_DIR");
    Live::spawn(cmd).finish().expect(0, "succeeded");
    assert!(
        !elsewhere.path().join(".signalbox").exists(),
        "a state dir was made where resume was typed"
    );
    let log = std::fs::read_to_string(w.state.join("signalbox.log")).unwrap();
    assert_eq!(log.matches("run started").count(), 2, "{log}");
}

#[test]
fn kill_while_backing_off_then_the_retry_comes_at_its_original_time() {
    let w = Work::new();
    let mut live = w.run("backoff", &[]);
    let id = live.run_id();
    let retrying = live.wait_for("r backing off", |e| is(e, "step_retrying", "r"));
    assert_eq!(retrying["delay_ms"], 3000);
    assert_eq!(retrying["attempt"], 1);
    std::thread::sleep(Duration::from_millis(1500));
    live.kill9();

    let done = w.resume(&id, &[]).finish();
    done.expect(0, "succeeded");
    let resumed = &done.events[0];
    let started = done.one("step_started", "r");
    assert_eq!(started["attempt"], 2, "{}", done.dump());
    // Due 3 s after the failure: not at once, and not 3 s after the resume
    // (which would be at least 1.5 s late).
    let late = since(&retrying, started) - 3000;
    assert!(
        (-5..1000).contains(&late),
        "attempt 2 started {late} ms after it was due (resumed {} ms after the failure)\n{}",
        since(&retrying, resumed),
        done.dump()
    );
    assert!(done.of("step_started", "a").is_empty());
    assert_eq!(w.count(), ["a", "r", "r", "c"]);
    check_journal(&w.journal(&id), &id);
}

#[test]
fn a_retry_that_fell_due_while_nothing_ran_starts_at_once() {
    let w = Work::new();
    let mut live = w.run("backoff_short", &[]);
    let id = live.run_id();
    let retrying = live.wait_for("r backing off", |e| is(e, "step_retrying", "r"));
    live.kill9();
    std::thread::sleep(Duration::from_millis(1400));

    let done = w.resume(&id, &[]).finish();
    done.expect(0, "succeeded");
    let started = done.one("step_started", "r");
    assert_eq!(started["attempt"], 2);
    let after = since(&done.events[0], started);
    assert!(after < 800, "attempt 2 started {after} ms after the resume");
    assert!(since(&retrying, started) >= 1000);
    assert_eq!(w.count(), ["r", "r", "c"]);
}

#[test]
fn kill_while_waits_are_open_then_they_reopen_with_the_time_left() {
    let w = Work::new();
    let mut live = w.run("waits", &[]);
    let id = live.run_id();
    let asked = live.wait_for("approval", |e| is(e, "approval_requested", "gate"));
    let question = live.wait_for("question", |e| is(e, "question_asked", "notes"));
    assert_eq!(asked["timeout_ms"], 20_000);
    std::thread::sleep(Duration::from_millis(1000));
    live.kill9();

    // Resumed without answers: both waits open again, same ids, and the
    // approval's deadline is the same point in time.
    let mut again = w.resume(&id, &[]);
    let reasked = again.wait_for("approval again", |e| is(e, "approval_requested", "gate"));
    let requestion = again.wait_for("question again", |e| is(e, "question_asked", "notes"));
    assert_eq!(reasked["wait"], asked["wait"]);
    assert_eq!(requestion["wait"], question["wait"]);
    assert_eq!(requestion["question"], "Headline?");
    let left = reasked["timeout_ms"].as_i64().unwrap();
    assert!(
        (15_000..=19_000).contains(&left),
        "time left {left} ms of 20 s, a second after it opened"
    );
    let drift = since(&asked, &reasked) + i128::from(left) - 20_000;
    assert!(drift.abs() <= 50, "the deadline moved by {drift} ms");
    again.kill9();

    // Resumed with the answers on the command line: they resolve the waits.
    let done = w
        .resume(&id, &["--approve", "gate", "--answer", "notes=hello world"])
        .finish();
    done.expect(0, "succeeded");
    let resolved = done.one("approval_resolved", "gate");
    assert_eq!(resolved["approved"], true);
    assert_eq!(resolved["by"], "flag");
    assert_eq!(resolved["wait"], asked["wait"]);
    let answered = done.one("question_answered", "notes");
    assert_eq!(answered["answer"], "hello world");
    assert_eq!(answered["by"], "flag");
    assert!(done.of("step_started", "a").is_empty());
    assert_eq!(w.count(), ["a", "c hello world"]);
    let all = w.journal(&id);
    check_journal(&all, &id);
    let starts = all.iter().filter(|e| e["type"] == "run_started").count();
    assert_eq!(starts, 3);
}

#[test]
fn a_wait_whose_deadline_passed_while_nothing_ran_times_out_at_once() {
    let w = Work::new();
    let mut live = w.run("waits_short", &[]);
    let id = live.run_id();
    live.wait_for("approval", |e| is(e, "approval_requested", "gate"));
    live.wait_for("question", |e| is(e, "question_asked", "notes"));
    live.kill9();
    std::thread::sleep(Duration::from_millis(1300));

    // Flags given to the resume do not answer a wait after its deadline.
    let done = w
        .resume(&id, &["--reject", "gate", "--answer", "notes=Other"])
        .finish();
    done.expect(0, "succeeded");
    let resumed = &done.events[0];
    let resolved = done.one("approval_resolved", "gate");
    assert_eq!(resolved["by"], "timeout");
    // Waited from when it first opened, not from the resume.
    assert!(
        resolved["waited_ms"].as_u64().unwrap() >= 1300,
        "{resolved}"
    );
    assert_eq!(resolved["approved"], true, "on_timeout: approve");
    let answered = done.one("question_answered", "notes");
    assert_eq!(answered["by"], "timeout");
    assert_eq!(answered["answer"], "Bug fixes");
    for e in [resolved, answered] {
        let after = since(resumed, e);
        assert!(after < 800, "timed out {after} ms after the resume: {e}");
    }
    assert_eq!(w.count(), ["c Bug fixes"]);
}

#[test]
fn a_crash_between_any_two_events_resumes_without_running_an_ended_step_again() {
    // The journal of a whole run, cut after each of its lines: every state a
    // crash can leave between two events (between steps, after a step is
    // ready, between an answer or an approval and the step's end...). The
    // resume is given other answers than the first run: an answer or an
    // approval already journaled must stand.
    let base = Work::new();
    let mut live = base.run("chain", &["--answer", "q=Ada", "--approve", "gate"]);
    let id = live.run_id();
    live.finish().expect(0, "succeeded");
    let bytes = base.bytes(&id);
    let lines = split_lines(&bytes);
    let events = base.journal(&id);
    let mut failures = Vec::new();
    for k in 1..lines.len() {
        let w = Work::new();
        w.plant(&base, &id, &lines[..k].concat());
        let kept = &events[..k];
        let done = w
            .resume(&id, &["--answer", "q=Bob", "--reject", "gate"])
            .finish();
        let ended = succeeded(kept);
        let answered = kept.iter().any(|e| is(e, "question_answered", "q"));
        let approved = kept.iter().any(|e| is(e, "approval_resolved", "gate"));
        let want_answer = if answered { "Ada" } else { "Bob" };
        let mut want: Vec<String> = ["a", "b", "c", "d"]
            .iter()
            .filter(|s| !ended.contains(**s))
            .filter(|s| approved || **s != "d")
            .map(|s| s.to_string())
            .collect();
        want.sort();
        let mut ran = w.count();
        ran.sort();
        let mut problems = Vec::new();
        let want_code = if approved { 0 } else { 1 };
        if done.code != Some(want_code) {
            problems.push(format!("exit {:?}, expected {want_code}", done.code));
        }
        if ran != want {
            problems.push(format!("ran {ran:?}, expected {want:?}"));
        }
        if done.events.first().map(|e| &e["seq"]) != Some(&Value::from(k as u64 + 1)) {
            problems.push("the resumed run_started does not follow the last seq".into());
        }
        if want.contains(&"d".to_string()) && w.read("got") != format!("42 {want_answer}\n") {
            problems.push(format!(
                "d got {:?}, expected 42 {want_answer}",
                w.read("got")
            ));
        }
        for (step, ty, journaled) in [
            ("q", "question_asked", answered),
            ("gate", "approval_requested", approved),
        ] {
            if journaled && !done.of(ty, step).is_empty() {
                problems.push(format!(
                    "{step} was asked again after its answer was journaled"
                ));
            }
        }
        match parse_lines(&w.bytes(&id)) {
            Ok(all) => {
                check_journal(&all, &id);
                assert_none_ran_after_success(&all);
            }
            Err(e) => problems.push(e),
        }
        if !problems.is_empty() {
            let last = events[k - 1]["type"].as_str().unwrap_or_default();
            failures.push(format!(
                "cut after line {k} ({last} {}): {}\n{}",
                events[k - 1]["step"],
                problems.join("; "),
                done.dump()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cuts failed:\n{}",
        failures.len(),
        lines.len() - 1,
        failures.join("\n\n")
    );
}

#[test]
fn an_operator_retry_in_the_journal_is_carried_on_by_resume() {
    // The run failed; the operator retried `bad` (and with it the skipped
    // `dep`) and the process died, before or after the retry started.
    let (base, id) = ran("retried", 1, "failed");
    let events = base.journal(&id);
    let kept = &events[..events.len() - 1];
    let started = kept
        .iter()
        .find(|e| is(e, "step_started", "bad"))
        .unwrap()
        .clone();
    let line = |seq: usize, mut e: Value| {
        e["seq"] = seq.into();
        format!("{e}\n")
    };
    let retry = serde_json::json!({
        "seq": 0, "ts": started["ts"], "run": id, "type": "dag_modified",
        "action": "retry", "steps": ["bad", "dep"], "by": "keyboard",
    });
    for with_start in [false, true] {
        let w = Work::new();
        let mut journal: String = kept.iter().map(|e| format!("{e}\n")).collect();
        journal += &line(kept.len() + 1, retry.clone());
        if with_start {
            // As the engine writes it: the retried step is readied, then starts.
            let ready = serde_json::json!({
                "seq": 0, "ts": started["ts"], "run": id, "type": "step_ready", "step": "bad",
            });
            journal += &line(kept.len() + 2, ready);
            journal += &line(kept.len() + 3, started.clone());
        }
        w.plant(&base, &id, journal.as_bytes());
        std::fs::write(w.dir().join("again"), "").unwrap();
        let done = w.resume(&id, &[]).finish();
        done.expect(0, "succeeded");
        assert_eq!(w.count(), ["bad", "dep"], "with_start {with_start}");
        let all = w.journal(&id);
        assert!(all.iter().any(|e| is(e, "step_succeeded", "bad")));
        assert!(all.iter().any(|e| is(e, "step_succeeded", "dep")));
    }
}

// ---------------------------------------------------------------------------
// Torn and damaged journals
// ---------------------------------------------------------------------------

#[test]
fn a_torn_last_line_is_dropped_at_every_byte_offset_and_the_run_resumes() {
    let (base, id) = ran("torn", 0, "succeeded");
    let bytes = base.bytes(&id);
    let lines = split_lines(&bytes);
    let events = base.journal(&id);
    let at = events
        .iter()
        .position(|e| is(e, "step_succeeded", "b"))
        .unwrap();
    let kept = lines[..at].concat();
    let last = lines[at];
    assert!(
        String::from_utf8_lossy(last).contains("héllo ✓ wörld"),
        "the line cut holds multi-byte characters"
    );
    let line_no = at + 1;
    let offsets: Vec<usize> = (0..=last.len()).collect();
    let failures = std::sync::Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&cut) = offsets.get(n) else { break };
                    let w = Work::new();
                    let mut journal = kept.clone();
                    journal.extend_from_slice(&last[..cut]);
                    w.plant(&base, &id, &journal);
                    let done = w.resume(&id, &[]).finish();
                    let whole = cut == last.len();
                    let partial = cut > 0 && !whole;
                    let warning = format!("events.jsonl:{line_no}:");
                    let after = w.bytes(&id);
                    let good = if whole { &journal } else { &kept };
                    let want_ran: &[&str] = if whole { &["c"] } else { &["b", "c"] };
                    let problem = if done.code != Some(0) {
                        Some(format!("exit {:?}", done.code))
                    } else if partial
                        && !(done.stderr.contains("warning") && done.stderr.contains(&warning))
                    {
                        Some(format!("no warning naming {warning}"))
                    } else if !partial && done.stderr.contains("warning") {
                        Some("a warning for a journal that is not torn".to_string())
                    } else if w.count() != want_ran {
                        Some(format!("ran {:?}, expected {want_ran:?}", w.count()))
                    } else if w.read("got") != "héllo ✓ wörld\n" {
                        Some(format!("c got {:?}", w.read("got")))
                    } else if !after.starts_with(good) || after[good.len()..] != done.stdout[..] {
                        Some("the journal is not the whole lines kept plus the new events".into())
                    } else {
                        parse_lines(&after).err()
                    };
                    if let Some(p) = problem {
                        failures.lock().unwrap().push(format!(
                            "cut at byte {cut} of {}: {p}\n{}",
                            last.len(),
                            done.dump()
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} offsets failed:\n{}",
        failures.len(),
        offsets.len(),
        failures.join("\n\n")
    );
}

#[test]
fn replay_leaves_a_torn_last_line_out_with_a_warning() {
    let (base, id) = ran("torn", 0, "succeeded");
    let bytes = base.bytes(&id);
    let lines = split_lines(&bytes);
    let mut journal = lines[..lines.len() - 1].concat();
    let last = lines[lines.len() - 1];
    journal.extend_from_slice(&last[..last.len() / 2]);
    let w = Work::new();
    w.plant(&base, &id, &journal);
    let human = w.cli(&["replay", &id]);
    assert_eq!(human.code, Some(0), "{}", human.stderr);
    let at = format!("events.jsonl:{}:", lines.len());
    assert!(
        human.stderr.starts_with("warning: ") && human.stderr.contains(&at),
        "{}",
        human.stderr
    );
    assert_eq!(w.bytes(&id), journal, "replay changes nothing");
}

#[test]
fn a_journal_naming_a_step_the_workflow_lacks_is_refused() {
    let (base, id) = ran("torn", 0, "succeeded");
    let events = base.journal(&id);
    let unfinished = &events[..events.len() - 1];
    let at = unfinished
        .iter()
        .position(|e| e["step"].is_string())
        .unwrap();
    let mut journal = String::new();
    for (n, e) in unfinished.iter().enumerate() {
        let mut e = e.clone();
        if n == at {
            e["step"] = "zzz".into();
        }
        journal += &format!("{e}\n");
    }
    let w = Work::new();
    w.plant(&base, &id, journal.as_bytes());
    let done = w.resume(&id, &[]).finish();
    done.expect_refused("step `zzz` is not in the run's workflow");
    assert!(
        done.stderr.contains(&format!("events.jsonl:{}:", at + 1)),
        "{}",
        done.stderr
    );
    assert_eq!(w.bytes(&id), journal.as_bytes(), "the journal was changed");
    assert!(w.count().is_empty(), "steps ran");
}

#[test]
fn a_damaged_line_before_the_last_is_refused_with_its_number() {
    let (base, id) = ran("torn", 0, "succeeded");
    let bytes = base.bytes(&id);
    let lines = split_lines(&bytes);
    // Without its run_finished, the run would be resumable.
    let unfinished = &lines[..lines.len() - 1];
    let third = unfinished[2];
    let cases: Vec<(&str, usize, Vec<u8>)> = vec![
        ("not JSON", 3, b"this is not json\n".to_vec()),
        ("cut short", 3, [&third[..third.len() / 2], b"\n"].concat()),
        (
            "invalid UTF-8",
            3,
            b"{\"seq\":3,\"x\":\"\xff\xfe\"}\n".to_vec(),
        ),
        ("not an event", 3, b"{\"seq\":3}\n".to_vec()),
        ("empty", 3, b"\n".to_vec()),
        ("NUL bytes", 3, b"\0\0\0\0\0\0\n".to_vec()),
        ("first line", 1, b"{\"seq\":1,\n".to_vec()),
        // Whole events, but no crash writes them: a line left out, a line
        // repeated, another run's line.
        ("a seq gap", 3, unfinished[3].to_vec()),
        ("a repeated line", 3, unfinished[1].to_vec()),
        (
            "another run's event",
            3,
            String::from_utf8_lossy(third)
                .replace(&format!("\"run\":\"{id}\""), "\"run\":\"other\"")
                .into_bytes(),
        ),
    ];
    for (what, line, bad) in cases {
        let w = Work::new();
        let mut journal = Vec::new();
        for (n, l) in unfinished.iter().enumerate() {
            journal.extend_from_slice(if n + 1 == line { &bad } else { l });
        }
        w.plant(&base, &id, &journal);
        let done = w.resume(&id, &[]).finish();
        assert_eq!(done.code, Some(2), "{what}: {}", done.dump());
        assert!(done.stdout.is_empty(), "{what}: {}", done.dump());
        let at = format!("events.jsonl:{line}:");
        assert!(
            done.stderr.contains(&at),
            "{what}: no {at}\n{}",
            done.stderr
        );
        assert!(!done.stderr.contains("panicked"), "{what}: {}", done.stderr);
        assert_eq!(w.bytes(&id), journal, "{what}: the journal was changed");
        assert!(w.count().is_empty(), "{what}: steps ran");

        // replay refuses it too, and --json shows the bytes as they are.
        let human = w.cli(&["replay", &id]);
        assert_eq!(human.code, Some(2), "{what}: replay: {}", human.stderr);
        assert!(
            human.stderr.contains(&at),
            "{what}: replay: {}",
            human.stderr
        );
        let json = w.cli(&["replay", &id, "--json"]);
        assert_eq!(json.code, Some(0));
        assert_eq!(json.stdout, journal);

        // runs does not offer it for resuming.
        let runs = w.cli(&["runs", "--json"]);
        let row: Value = serde_json::from_slice(&runs.stdout)
            .unwrap_or_else(|e| panic!("{what}: {e}: {:?} {}", runs.code, runs.stderr));
        assert_eq!(row["status"], "damaged", "{what}: {row}");
    }
}

#[test]
fn a_run_killed_before_its_first_event_resumes_from_the_start() {
    // The run folder exists and the journal is empty (or holds a cut first
    // line): nothing is known to have happened, so every step runs.
    let base = Work::new();
    let mut live = base.run("chain", &["--answer", "q=Ada", "--approve", "gate"]);
    let id = live.run_id();
    live.finish().expect(0, "succeeded");
    for journal in [&b""[..], &b"{\"seq\":1,\"ts\":\"20"[..]] {
        let w = Work::new();
        w.plant(&base, &id, journal);
        let done = w
            .resume(&id, &["--answer", "q=Bob", "--approve", "gate"])
            .finish();
        done.expect(0, "succeeded");
        assert_eq!(done.events[0]["seq"], 1);
        let mut ran = w.count();
        ran.sort();
        assert_eq!(ran, ["a", "b", "c", "d"]);
        assert_eq!(w.read("got"), "42 Bob\n");
        assert_eq!(done.stderr.contains("warning"), !journal.is_empty());
    }
}

// ---------------------------------------------------------------------------
// A disk that fills up
// ---------------------------------------------------------------------------

/// A tmpfs mounted for one test, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    /// `options` as for `mount -o`: `size=256k`, `ro`...
    fn tmpfs(at: &Path, options: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(at.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// What is left of a journal after a write failed: whole events, and at most
/// a cut last line.
fn readable_prefix(bytes: &[u8]) -> Vec<Value> {
    let mut lines = split_lines(bytes);
    if lines.last().is_some_and(|l| !l.ends_with(b"\n")) {
        lines.pop();
    }
    parse_lines(&lines.concat()).unwrap_or_else(|e| panic!("{e}"))
}

/// A run stopped by a journal that cannot be written.
fn assert_stopped_on_journal_error(done: &Done, errno_text: &str) {
    assert!(
        matches!(done.code, Some(c) if c != 0 && c != 2),
        "exit {:?}: {}",
        done.code,
        done.stderr
    );
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    let error = done
        .stderr
        .lines()
        .find(|l| l.starts_with("error:") && l.contains("events.jsonl"))
        .unwrap_or_else(|| panic!("no error naming the journal on stderr:\n{}", done.stderr));
    assert!(error.contains(errno_text), "{error}");
}

#[test]
fn a_read_only_state_dir_is_refused_with_a_clear_error() {
    let w = Work::new();
    let at = w.dir().join("ro");
    let Some(_ro) = Mount::tmpfs(&at, "size=64k,ro") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let out = Command::new(BIN)
        .arg("run")
        .arg(fixture("crash"))
        .args(["--headless", "--state-dir"])
        .arg(&at)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
}

#[test]
fn a_full_disk_stops_the_run_with_a_clear_error_and_it_resumes_once_there_is_room() {
    let mut w = Work::new();
    let Some(_disk) = Mount::tmpfs(&w.dir().join("disk"), "size=256k") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    w.state = w.dir().join("disk/state");
    // Half the disk is taken; the flood of output fills the rest.
    let filler = w.dir().join("disk/filler");
    std::fs::write(&filler, vec![b'x'; 96 * 1024]).unwrap();

    let mut live = w.run("flood", &[]);
    let id = live.run_id();
    let done = live.finish();
    assert_stopped_on_journal_error(&done, "No space left on device");
    let left = readable_prefix(&w.bytes(&id));
    assert!(left.len() > 10, "{}", dump(&left));
    assert!(left.iter().any(|e| is(e, "step_started", "a")));
    assert!(!left.iter().any(|e| e["type"] == "run_finished"));
    // What was printed on stdout was journaled first.
    assert!(done.events.len() <= left.len() + 1);

    // A write the full disk cut short was cut back: the journal ends with a
    // whole line.
    assert!(w.bytes(&id).ends_with(b"\n"), "{}", dump(&left));
    // Room again: the run resumes to its end, with nothing to drop.
    std::fs::remove_file(&filler).unwrap();
    let again = w.resume(&id, &[]).finish();
    again.expect(0, "succeeded");
    assert!(!again.stderr.contains("warning"), "{}", again.stderr);
    assert_eq!(w.count(), ["a", "a", "b"]);
    let all = w.journal(&id);
    check_journal(&all, &id);
}

#[test]
fn a_journal_write_error_stops_the_run_and_it_resumes_afterwards() {
    // Files above 128 KiB cannot be written (EFBIG, SIGXFSZ ignored): an
    // error from the journal's writer that needs no privileges.
    let w = Work::new();
    let file = fixture("flood");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "trap '' XFSZ; ulimit -f 256; exec \"$@\"", "sh", BIN])
        .args(["run", file.to_str().unwrap(), "--headless", "--json"])
        .arg("--state-dir")
        .arg(&w.state)
        .env(MARK, &w.mark)
        .current_dir(w.dir())
        .stdin(Stdio::null());
    let mut live = Live::spawn(cmd);
    let id = live.run_id();
    let done = live.finish();
    assert_stopped_on_journal_error(&done, "File too large");
    let left = readable_prefix(&w.bytes(&id));
    assert!(left.iter().any(|e| is(e, "step_started", "a")));
    assert!(w.bytes(&id).ends_with(b"\n"), "a partial line was left");

    let again = w.resume(&id, &[]).finish();
    again.expect(0, "succeeded");
    assert_eq!(w.count(), ["a", "a", "b"]);
    check_journal(&w.journal(&id), &id);
}

// ---------------------------------------------------------------------------
// One driver per run
// ---------------------------------------------------------------------------

#[test]
fn a_second_resume_of_a_live_run_is_refused() {
    let w = Work::new();
    let mut live = w.run("slow", &[]);
    let id = live.run_id();
    live.wait_for("b", |e| is(e, "step_started", "b"));
    w.wait_file("b.pgids");
    live.kill9();

    let mut first = w.resume(&id, &[]);
    first.wait_for("b again", |e| is(e, "step_started", "b"));
    let second = w.resume(&id, &[]).finish();
    second.expect_refused("another signalbox process");
    let path = w.run_dir(&id);
    let by_path = w.resume(path.to_str().unwrap(), &[]).finish();
    by_path.expect_refused("another signalbox process");
    let runs = w.cli(&["runs", "--json"]);
    assert!(
        runs.text().contains("\"status\":\"running\""),
        "{}",
        runs.text()
    );

    let done = first.finish();
    done.expect(0, "succeeded");
    let all = w.journal(&id);
    check_journal(&all, &id);
    let starts = all.iter().filter(|e| e["type"] == "run_started").count();
    assert_eq!(starts, 2, "only the first resume drove the run");
    assert_eq!(w.count(), ["a", "b", "b", "c"]);
}

#[test]
fn resuming_a_run_that_its_first_process_still_drives_is_refused() {
    let w = Work::new();
    let mut live = w.run("slow", &[]);
    let id = live.run_id();
    live.wait_for("b", |e| is(e, "step_started", "b"));
    w.wait_file("b.pgids");
    let second = w.resume(&id, &[]).finish();
    second.expect_refused("another signalbox process");
    let done = live.finish();
    assert_eq!(done.code, Some(0), "{}", done.dump());
    let all = w.journal(&id);
    check_journal(&all, &id);
    assert_eq!(all.iter().filter(|e| e["type"] == "run_started").count(), 1);
}

// ---------------------------------------------------------------------------
// Finished, cancelled and unknown runs
// ---------------------------------------------------------------------------

#[test]
fn resuming_a_finished_run_exits_2_and_changes_nothing() {
    let w = Work::new();
    let mut ok = w.run("quick", &[]);
    let ok_id = ok.run_id();
    assert_eq!(ok.finish().code, Some(0));
    let mut bad = w.run("fail", &[]);
    let bad_id = bad.run_id();
    assert_eq!(bad.finish().code, Some(1));
    for (id, word) in [(&ok_id, "succeeded"), (&bad_id, "failed")] {
        let before = w.bytes(id);
        let done = w.resume(id, &[]).finish();
        done.expect_refused("nothing to resume");
        assert!(done.stderr.contains(word), "{}", done.stderr);
        assert_eq!(w.bytes(id), before);
    }
    assert_eq!(w.count(), ["a"]);

    let nowhere = w.resume("no-such-run", &[]).finish();
    nowhere.expect_refused("no-such-run");
}

#[test]
fn a_cancelled_run_can_be_resumed_to_the_end() {
    let w = Work::new();
    let mut live = w.run("slow", &[]);
    let id = live.run_id();
    live.wait_for("b", |e| is(e, "step_started", "b"));
    w.wait_file("b.pgids");
    live.signal("INT");
    let cancelled = live.finish();
    assert_eq!(cancelled.code, Some(130), "{}", cancelled.dump());
    assert_eq!(cancelled.events.last().unwrap()["status"], "cancelled");

    // By its folder this time.
    let path = w.run_dir(&id);
    let done = w.resume(path.to_str().unwrap(), &[]).finish();
    done.expect(0, "succeeded");
    assert!(done.of("step_started", "a").is_empty(), "{}", done.dump());
    // The cancelled attempt runs again as the same attempt, as it does after
    // a crash: `b` has `attempts: 1` (SPEC §2: attempts counts every
    // attempt), so an "attempt 2" would be one more than it may have.
    assert_eq!(
        done.one("step_started", "b")["attempt"],
        1,
        "b (attempts: 1) re-runs as attempt 2 after cancel + resume\n{}",
        done.dump()
    );
    assert_eq!(w.count(), ["a", "b", "b", "c"]);
    let all = w.journal(&id);
    check_journal(&all, &id);
    let finishes: Vec<&Value> = all
        .iter()
        .filter(|e| e["type"] == "run_finished")
        .map(|e| &e["status"])
        .collect();
    assert_eq!(finishes, ["cancelled", "succeeded"]);
}

// ---------------------------------------------------------------------------
// Random kills (one quick case of benches/crash.sh)
// ---------------------------------------------------------------------------

/// Kills a 20-step run, and some of its resumes, at the given moments
/// (milliseconds after each process started), then resumes it to the end.
fn crash_trial(kills: &[u64]) {
    let w = Work::new();
    let mut first = w.run("crash", &[]);
    let id = first.run_id();
    let mut first = Some(first);
    let mut snapshots = Vec::new();
    for &ms in kills {
        let live = first.take().unwrap_or_else(|| w.resume(&id, &[]));
        std::thread::sleep(Duration::from_millis(ms));
        live.kill9();
        // The steps whose success was journaled before the kill, and how
        // many times each had run by then.
        let journal = readable_prefix(&w.bytes(&id));
        if journal.iter().any(|e| e["type"] == "run_finished") {
            break;
        }
        snapshots.push((succeeded(&journal), tally(&w.count())));
    }
    let mut resumes = 0;
    loop {
        let journal = w.journal(&id);
        if journal.last().is_some_and(|e| e["type"] == "run_finished") {
            break;
        }
        resumes += 1;
        assert!(resumes <= 3, "the run does not finish:\n{}", dump(&journal));
        let done = w.resume(&id, &[]).finish();
        assert_eq!(done.code, Some(0), "{}", done.dump());
    }
    let all = w.journal(&id);
    check_journal(&all, &id);
    assert_eq!(all.last().unwrap()["status"], "succeeded", "{}", dump(&all));
    assert_eq!(succeeded(&all).len(), 20);
    assert_none_ran_after_success(&all);
    let runs = tally(&w.count());
    for (ended, counts) in &snapshots {
        for step in ended {
            assert_eq!(
                runs.get(step),
                counts.get(step),
                "{step} succeeded before a kill and ran again after it (kills at {kills:?})"
            );
        }
    }
}

#[test]
fn kill_9_at_random_moments_then_resume_to_the_end() {
    std::thread::scope(|s| {
        s.spawn(|| crash_trial(&[250]));
        s.spawn(|| crash_trial(&[700, 300]));
        s.spawn(|| crash_trial(&[1000, 120, 80]));
    });
}

// ---------------------------------------------------------------------------
// replay and runs
// ---------------------------------------------------------------------------

#[test]
fn replay_json_prints_the_journal_byte_for_byte() {
    let w = Work::new();
    let mut live = w.run("waits", &[]);
    let id = live.run_id();
    live.wait_for("approval", |e| is(e, "approval_requested", "gate"));
    live.kill9();
    let done = w
        .resume(&id, &["--approve", "gate", "--answer", "notes=x"])
        .finish();
    done.expect(0, "succeeded");
    let journal = w.bytes(&id);

    let by_id = w.cli(&["replay", &id, "--json"]);
    assert_eq!(by_id.code, Some(0), "{}", by_id.stderr);
    assert!(
        by_id.stdout == journal,
        "replay --json differs from the journal"
    );
    let path = w.run_dir(&id);
    let by_path = w.cli(&["replay", path.to_str().unwrap(), "--json"]);
    assert!(by_path.stdout == journal);

    // Without --json: one readable line per step change, not JSON.
    let human = w.cli(&["replay", &id]);
    assert_eq!(human.code, Some(0), "{}", human.stderr);
    let text = human.text();
    for want in [
        format!("run {id} started: waits, 4 steps"),
        format!("run {id} resumed: waits, 4 steps"),
        "✓ a succeeded".to_string(),
        format!("run {id} succeeded"),
    ] {
        assert!(text.contains(&want), "no {want:?} in\n{text}");
    }
    assert!(!text.lines().any(|l| l.starts_with('{')), "{text}");
    assert!(
        w.cli(&["replay", "no-such-run"]).code == Some(2),
        "an unknown run"
    );
}

#[test]
fn runs_lists_the_runs_newest_first_with_their_status() {
    let w = Work::new();
    let empty = w.cli(&["runs", "--json"]);
    assert_eq!(empty.code, Some(0));
    assert!(empty.stdout.is_empty());

    let mut ids = Vec::new();
    let mut live = w.run("quick", &[]);
    ids.push(live.run_id());
    live.finish();
    let mut live = w.run("fail", &[]);
    ids.push(live.run_id());
    live.finish();
    let mut live = w.run("slow", &[]);
    ids.push(live.run_id());
    live.wait_for("b", |e| is(e, "step_started", "b"));
    live.signal("INT");
    assert_eq!(live.finish().code, Some(130));
    let mut live = w.run("slow", &[]);
    ids.push(live.run_id());
    live.wait_for("b", |e| is(e, "step_started", "b"));
    live.kill9();
    let mut running = w.run("slow", &[]);
    ids.push(running.run_id());
    running.wait_for("b", |e| is(e, "step_started", "b"));

    let out = w.cli(&["runs", "--json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let rows: Vec<Value> = out
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let listed: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
    let status: Vec<&str> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(
        status,
        ["running", "interrupted", "cancelled", "failed", "succeeded"]
    );
    let workflows: Vec<&str> = rows
        .iter()
        .map(|r| r["workflow"].as_str().unwrap())
        .collect();
    assert_eq!(workflows, ["slow", "slow", "slow", "fail", "quick"]);
    for (row, id) in rows.iter().zip(&newest_first) {
        let first = &w.journal(id)[0];
        assert_eq!(row["started"], first["ts"], "{row}");
        let finished = !matches!(row["status"].as_str(), Some("running" | "interrupted"));
        assert_eq!(row["duration_ms"].is_u64(), finished, "{row}");
    }

    // The table: a header, then the same order.
    let table = w.cli(&["runs"]);
    let text = table.text();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    for col in ["ID", "WORKFLOW", "STATUS", "STARTED", "DURATION"] {
        assert!(header.contains(col), "{header}");
    }
    let order: Vec<&str> = lines
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(order, newest_first);
    running.signal("TERM");
    assert_eq!(running.finish().code, Some(130));
}
