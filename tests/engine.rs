#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The run engine seen from outside: `signalbox run FILE --headless --json`
//! on the workflows in `tests/fixtures/run/`, checked against SPEC.md §2
//! (how a run behaves), §3 (events) and §4 (command line, exit codes).
//!
//! Every run gets its own temporary folder: `state/` is its `--state-dir`
//! and the folder itself is the current directory of the run, so files a
//! step writes land there. Steps that start long-lived processes carry a
//! unique `MARK=<marker>` in their environment (`--var marker=...`), and
//! the tests look for leftovers by scanning `/proc/*/environ` for it.

mod common;

use std::collections::BTreeSet;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tempfile::TempDir;

use common::{BIN, Done, Live, is, marked, marker};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/run")
        .join(format!("{name}.yaml"))
}

// ---------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------

/// A run of a fixture in a folder of its own, which lives as long as the
/// run and its [`Outcome`].
struct Running {
    live: Live,
    tmp: TempDir,
}

/// A run that ended, and its folder.
struct Outcome {
    done: Done,
    tmp: TempDir,
}

impl Running {
    fn spawn(name: &str, extra: &[&str]) -> Running {
        let mut running = Running::spawn_unread(name, extra);
        running.read_stdout();
        running
    }

    /// Starts a run whose stdout nobody reads until [`Live::read_stdout`].
    fn spawn_unread(name: &str, extra: &[&str]) -> Running {
        let tmp = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .arg(fixture(name))
            .args(["--headless", "--json", "--state-dir"])
            .arg(tmp.path().join("state"))
            .args(extra)
            .current_dir(tmp.path())
            .env_remove("SIGNALBOX_STATE_DIR")
            .stdin(Stdio::null());
        Running {
            live: Live::spawn_unread(cmd),
            tmp,
        }
    }

    fn finish(self) -> Outcome {
        Outcome {
            done: self.live.finish(),
            tmp: self.tmp,
        }
    }
}

// Waiting for events and sending signals are as for any process; only the
// folder is the run's own.
impl Deref for Running {
    type Target = Live;
    fn deref(&self) -> &Live {
        &self.live
    }
}

impl DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Live {
        &mut self.live
    }
}

impl Deref for Outcome {
    type Target = Done;
    fn deref(&self) -> &Done {
        &self.done
    }
}

/// Runs a fixture to the end.
fn run(name: &str, extra: &[&str]) -> Outcome {
    Running::spawn(name, extra).finish()
}

impl Outcome {
    fn work(&self) -> &Path {
        self.tmp.path()
    }

    fn state(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    fn run_dir(&self) -> PathBuf {
        self.state().join("runs").join(self.run_id())
    }
}

/// SPEC §3: the envelope of every event, and stdout equal to the journal.
fn assert_envelope(o: &Outcome, workflow: &str, steps: u64) {
    assert!(!o.events.is_empty(), "{}", o.dump());
    let run = o.run_id().to_string();
    assert!(!run.is_empty());
    let mut last_ts = SystemTime::UNIX_EPOCH;
    for (i, e) in o.events.iter().enumerate() {
        assert_eq!(e["seq"], (i + 1) as u64, "seq is 1, 2, 3...\n{}", o.dump());
        assert_eq!(e["run"], run.as_str(), "same run id everywhere");
        assert!(e["type"].is_string(), "every event has a type: {e}");
        let ts = e["ts"].as_str().expect("ts is a string");
        assert!(
            ts.ends_with('Z') && ts.as_bytes().get(10) == Some(&b'T'),
            "ts is RFC 3339 UTC: {ts}"
        );
        let t = humantime::parse_rfc3339(ts).unwrap_or_else(|e| panic!("ts {ts}: {e}"));
        assert!(t >= last_ts, "ts goes forward: {ts}");
        last_ts = t;
    }
    let first = &o.events[0];
    assert_eq!(first["type"], "run_started");
    assert_eq!(first["workflow"], workflow);
    assert_eq!(first["steps"], steps);
    assert_eq!(first["resumed"], false);
    let last = o.events.last().unwrap();
    assert_eq!(last["type"], "run_finished");
    assert!(last["duration_ms"].is_u64(), "{last}");
    assert_eq!(
        o.all("run_started").len() + o.all("run_finished").len(),
        2,
        "one run_started, one run_finished"
    );
    let journal = std::fs::read(o.run_dir().join("events.jsonl")).unwrap();
    assert!(
        journal == o.stdout,
        "stdout differs from the journal\njournal:\n{}\nstdout:\n{}",
        String::from_utf8_lossy(&journal),
        String::from_utf8_lossy(&o.stdout)
    );
}

// ---------------------------------------------------------------------------
// Processes left behind
// ---------------------------------------------------------------------------

/// SPEC §2: no process outlives its step. SIGKILL is delivered
/// asynchronously, so leftovers get a short moment to vanish; whatever is
/// still there is killed (these are processes this test started) and reported.
fn assert_no_leftovers(marker: &str) {
    let deadline = Instant::now() + Duration::from_millis(300);
    loop {
        let left = marked("MARK", marker);
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            for (pid, _) in &left {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            panic!("processes outlived their step: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// Envelope, journal, run folder, outputs, templates, env
// ---------------------------------------------------------------------------

#[test]
fn envelope_journal_and_run_folder() {
    let o = run("basic", &[]);
    o.expect(0, "succeeded");
    assert_envelope(&o, "basic", 2);
    let id = o.run_id().to_string();
    // README: `<workflow>-<yyyymmdd>-<hhmmss>-<4 hex digits>`.
    let parts: Vec<&str> = id.split('-').collect();
    assert_eq!(parts.len(), 4, "{id}");
    assert_eq!(parts[0], "basic");
    assert!(parts[1].len() == 8 && parts[1].bytes().all(|b| b.is_ascii_digit()));
    assert!(parts[2].len() == 6 && parts[2].bytes().all(|b| b.is_ascii_digit()));
    assert!(parts[3].len() == 4 && parts[3].bytes().all(|b| b.is_ascii_hexdigit()));

    // Exactly one run folder, named by the run id.
    let runs: Vec<_> = std::fs::read_dir(o.state().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(runs, std::slice::from_ref(&id));
    // Diagnostics go to <state-dir>/signalbox.log (rolling), not the terminal.
    let diagnostics = std::fs::read_dir(o.state())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .any(|n| n.starts_with("signalbox") && n.contains("log"));
    assert!(diagnostics, "no signalbox.log in the state dir");
    // workflow.yaml is the file as run, byte for byte.
    assert_eq!(
        std::fs::read(o.run_dir().join("workflow.yaml")).unwrap(),
        std::fs::read(fixture("basic")).unwrap()
    );

    // Output lines, both streams (`output: separate`), as events and in logs/<step>.log.
    assert_eq!(o.lines("hello", "stdout"), ["hello world"]);
    assert_eq!(o.lines("hello", "stderr"), ["to stderr"]);
    let log = std::fs::read_to_string(o.run_dir().join("logs/hello.log")).unwrap();
    let log: Vec<&str> = log.lines().collect();
    assert!(log.contains(&"hello world"), "{log:?}");
    assert!(log.contains(&"to stderr"), "{log:?}");

    // Outputs written to $SIGNALBOX_OUTPUT; templates; the step environment.
    let ok = o.one("step_succeeded", "hello");
    assert_eq!(ok["attempt"], 1);
    assert_eq!(ok["fallback"], false);
    assert!(ok["duration_ms"].is_u64());
    assert_eq!(
        ok["outputs"],
        serde_json::json!({ "version": "1.2.3", "spaced": "a b=c" })
    );
    let show = [
        "hi world step".to_string(),
        format!("run={id} step=show attempt=1"),
        "version=1.2.3".to_string(),
        "spaced=a b=c".to_string(),
        format!("id={id}"),
    ];
    assert_eq!(o.lines("show", "output"), show);
    let log = std::fs::read_to_string(o.run_dir().join("logs/show.log")).unwrap();
    assert_eq!(log.lines().collect::<Vec<_>>(), show);

    // Each step: ready, started, succeeded, in that order.
    for step in ["hello", "show"] {
        assert!(o.pos("step_ready", step) < o.pos("step_started", step));
        assert!(o.pos("step_started", step) < o.pos("step_succeeded", step));
        assert_eq!(o.one("step_started", step)["attempt"], 1);
    }
    assert!(o.pos("step_succeeded", "hello") < o.pos("step_ready", "show"));
}

#[test]
fn commands_run_in_the_current_folder_and_cwd_is_relative_to_it() {
    let mut live = Running::spawn_unread("cwd", &[]);
    std::fs::create_dir(live.tmp.path().join("sub")).unwrap();
    live.read_stdout();
    let o = live.finish();
    o.expect(0, "succeeded");
    let here = std::fs::canonicalize(o.work()).unwrap();
    assert_eq!(o.lines("here", "output"), [here.display().to_string()]);
    let sub = here.join("sub");
    assert_eq!(o.lines("inside", "output"), [sub.display().to_string()]);
}

/// The engine's threads run with the shortest time slice so they get the
/// CPU between steps; a step's process is put back on the kernel's default.
#[test]
fn engine_threads_ask_for_short_slices_and_steps_keep_the_default() {
    let o = run("time_slices", &[]);
    o.expect(0, "succeeded");
    let lines = o.lines("look", "output");
    let Some((own, threads)) = lines.split_first().filter(|(own, _)| !own.is_empty()) else {
        eprintln!("skipped: this kernel shows no se.slice in /proc/<pid>/sched");
        return;
    };
    let own: u64 = own.trim().parse().unwrap();
    assert_ne!(own, 100_000, "a step must not inherit the engine's slice");
    let workers: Vec<u64> = threads
        .iter()
        .filter_map(|l| l.strip_prefix("tokio-rt-worker "))
        .map(|v| v.trim().parse().unwrap())
        .collect();
    assert!(!workers.is_empty(), "no engine threads in {threads:?}");
    assert!(workers.iter().all(|&s| s == 100_000), "{threads:?}");
}

#[test]
fn a_state_dir_that_cannot_be_used_is_a_usage_error_not_a_crash() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    for state in [file.clone(), file.join("below")] {
        let out = std::process::Command::new(BIN)
            .arg("run")
            .arg(fixture("basic"))
            .arg("--headless")
            .arg("--state-dir")
            .arg(&state)
            .env("RUST_BACKTRACE", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    // `runs` too: a state dir that is a file is an error, a missing one lists nothing.
    let runs = |state: &std::path::Path| {
        std::process::Command::new(BIN)
            .arg("runs")
            .arg("--state-dir")
            .arg(state)
            .output()
            .unwrap()
    };
    let out = runs(&file);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: cannot read"));
    let out = runs(&tmp.path().join("none-yet"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        1,
        "the header"
    );
}

#[test]
fn a_negative_jobs_value_is_refused_with_its_range() {
    let out = std::process::Command::new(BIN)
        .arg("run")
        .arg(fixture("basic"))
        .args(["--headless", "--jobs", "-1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("-1 is not in 1.."), "{stderr}");
}

#[test]
fn a_failing_step_fails_the_run_with_exit_1() {
    let o = run("fail", &[]);
    o.expect(1, "failed");
    assert_envelope(&o, "fail", 1);
    let failed = o.one("step_failed", "bad");
    assert_eq!(failed["attempts"], 1);
    assert_eq!(failed["exit_code"], 3);
    // README: errors read `exit code N`.
    assert_eq!(failed["error"], "exit code 3");
    assert_eq!(o.lines("bad", "output"), ["about to fail"]);
    assert!(o.all("step_retrying").is_empty(), "one attempt by default");
}

#[test]
fn needs_order_the_steps() {
    let o = run("diamond", &[]);
    o.expect(0, "succeeded");
    for (step, needs) in [("b", &["a"][..]), ("c", &["a"]), ("d", &["b", "c"])] {
        for need in needs {
            assert!(
                o.pos("step_succeeded", need) < o.pos("step_ready", step),
                "{step} ready before {need} finished\n{}",
                o.dump()
            );
            assert!(o.pos("step_succeeded", need) < o.pos("step_started", step));
        }
    }
    // A step without needs does not wait for unrelated ones.
    assert!(o.pos("step_started", "e") < o.pos("step_succeeded", "a"));
    assert_eq!(o.all("step_succeeded").len(), 5);
    // A log for each step that printed; none for the silent ones.
    let mut logs: Vec<String> = std::fs::read_dir(o.run_dir().join("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    logs.sort();
    assert_eq!(logs, ["b.log", "d.log", "e.log"]);
    let d = std::fs::read_to_string(o.run_dir().join("logs/d.log")).unwrap();
    assert_eq!(d, "d\n");
}

// ---------------------------------------------------------------------------
// Retry, breaker, fallback, on_failure
// ---------------------------------------------------------------------------

fn retry_delays(o: &Outcome, step: &str) -> Vec<u64> {
    o.of("step_retrying", step)
        .iter()
        .map(|e| e["delay_ms"].as_u64().expect("delay_ms"))
        .collect()
}

#[test]
fn retries_count_every_attempt_and_follow_the_delay_formula() {
    let o = run("retry", &[]);
    o.expect(0, "succeeded");
    // (step, attempts, exit code, ceilings of the delays)
    let cases: [(&str, u64, i64, &[u64]); 5] = [
        ("none", 3, 3, &[40, 60]),
        ("full", 4, 4, &[40, 100, 100]),
        ("equal", 4, 5, &[40, 100, 100]),
        ("inherits", 3, 6, &[30, 60]),
        ("merged", 3, 7, &[30, 90]),
    ];
    for (step, attempts, code, ceilings) in cases {
        let started: Vec<u64> = o
            .of("step_started", step)
            .iter()
            .map(|e| e["attempt"].as_u64().unwrap())
            .collect();
        assert_eq!(started, (1..=attempts).collect::<Vec<_>>(), "{step}");
        let retrying = o.of("step_retrying", step);
        assert_eq!(retrying.len() as u64, attempts - 1, "{step}\n{}", o.dump());
        for (n, r) in retrying.iter().enumerate() {
            assert_eq!(r["attempt"], n as u64 + 1, "{step}: {r}");
            assert_eq!(r["exit_code"], code, "{step}: {r}");
            assert!(r["error"].as_str().is_some_and(|e| !e.is_empty()), "{r}");
        }
        let failed = o.one("step_failed", step);
        assert_eq!(failed["attempts"], attempts, "{step}: {failed}");
        assert_eq!(failed["exit_code"], code);
        let delays = retry_delays(&o, step);
        for (d, &ceiling) in delays.iter().zip(ceilings) {
            let ok = match step {
                "full" => *d <= ceiling,
                "equal" => *d >= ceiling / 2 && *d <= ceiling,
                _ => *d == ceiling,
            };
            assert!(ok, "{step}: delay {d} for ceiling {ceiling}: {delays:?}");
        }
    }
    // The delay is waited before the next attempt starts.
    let events = &o.events;
    for r in o.of("step_retrying", "none") {
        let step = r["step"].as_str().unwrap();
        let next = r["attempt"].as_u64().unwrap() + 1;
        let start = events
            .iter()
            .find(|e| is(e, "step_started", step) && e["attempt"] == next)
            .unwrap();
        let t = |e: &Value| humantime::parse_rfc3339(e["ts"].as_str().unwrap()).unwrap();
        let waited = t(start).duration_since(t(r)).unwrap_or_default();
        let delay = Duration::from_millis(r["delay_ms"].as_u64().unwrap());
        assert!(
            waited + Duration::from_millis(2) >= delay,
            "attempt {next} of {step} started {waited:?} after a delay of {delay:?}"
        );
    }
    // Succeeds on its third attempt; SIGNALBOX_ATTEMPT counts up.
    let ok = o.one("step_succeeded", "eventually");
    assert_eq!(ok["attempt"], 3);
    assert_eq!(
        o.lines("eventually", "output"),
        ["attempt 1", "attempt 2", "attempt 3"]
    );
    assert_eq!(retry_delays(&o, "eventually"), [10, 20]);
    assert_eq!(o.lines("none", "output"), ["try 1", "try 2", "try 3"]);
    // attempts: 1 means no retry at all.
    assert!(o.of("step_retrying", "once").is_empty());
    assert_eq!(o.one("step_failed", "once")["attempts"], 1);
}

fn breaker_states(o: &Outcome) -> Vec<&str> {
    o.all("breaker_changed")
        .into_iter()
        .map(|e| {
            assert_eq!(e["breaker"], "svc", "{e}");
            e["state"].as_str().unwrap()
        })
        .collect()
}

#[test]
fn breaker_opens_fails_fast_then_half_opens_and_closes() {
    let o = run("breaker", &[]);
    o.expect(0, "succeeded");
    assert_eq!(breaker_states(&o), ["open", "half_open", "closed"]);
    let open = o
        .events
        .iter()
        .position(|e| e["type"] == "breaker_changed" && e["state"] == "open")
        .unwrap();
    // Two real failures open it (failures: 2); the third attempt fails fast.
    let trip_started = o.of("step_started", "trip");
    assert_eq!(trip_started.len(), 2, "{}", o.dump());
    assert!(o.pos("step_started", "trip") < open);
    let failed = o.one("step_failed", "trip");
    assert_eq!(failed["attempts"], 3, "attempts count the fast failure");
    assert_eq!(failed["error"], "breaker svc is open");
    assert!(failed["exit_code"].is_null(), "{failed}");
    // recover: first attempt fails fast, is retried after the cooldown.
    let r = o.one("step_retrying", "recover");
    assert_eq!(r["attempt"], 1);
    assert_eq!(r["error"], "breaker svc is open");
    assert!(r["exit_code"].is_null());
    let half = o
        .events
        .iter()
        .position(|e| e["type"] == "breaker_changed" && e["state"] == "half_open")
        .unwrap();
    let closed = o
        .events
        .iter()
        .position(|e| e["type"] == "breaker_changed" && e["state"] == "closed")
        .unwrap();
    let started = o.one("step_started", "recover");
    assert_eq!(started["attempt"], 2);
    assert!(half < o.pos("step_started", "recover"));
    assert!(o.pos("step_started", "recover") < closed);
    let ok = o.one("step_succeeded", "recover");
    assert_eq!(ok["attempt"], 2);
    assert_eq!(o.lines("recover", "output"), ["recovered"]);
    // The cooldown (300ms) really passed between open and half_open.
    let t = |i: usize| humantime::parse_rfc3339(o.events[i]["ts"].as_str().unwrap()).unwrap();
    let cooled = t(half).duration_since(t(open)).unwrap_or_default();
    assert!(cooled >= Duration::from_millis(295), "{cooled:?}");
}

#[test]
fn breaker_counts_failures_across_steps_and_reopens_when_the_probe_fails() {
    let o = run("breaker_reopen", &[]);
    // Every failure is `on_failure: continue`.
    o.expect(0, "succeeded");
    assert_eq!(breaker_states(&o), ["open", "half_open", "open"]);
    assert_eq!(o.one("step_failed", "first")["attempts"], 1);
    // The breaker opens on the second step's failure: the count is shared.
    let open = o
        .events
        .iter()
        .position(|e| e["type"] == "breaker_changed")
        .unwrap();
    assert!(o.pos("step_failed", "first") < open);
    assert!(o.pos("step_started", "second") < open);
    let blocked = o.one("step_failed", "blocked");
    assert_eq!(blocked["error"], "breaker svc is open");
    assert!(!o.has("step_started", "blocked"), "{}", o.dump());
    assert!(o.lines("blocked", "output").is_empty());
    let probe = o.one("step_failed", "probe");
    assert_eq!(probe["attempts"], 2);
    assert_eq!(probe["exit_code"], 9);
    assert_eq!(o.one("step_started", "probe")["attempt"], 2);
}

#[test]
fn fallback_succeeds_with_its_outputs() {
    let o = run("fallback", &[]);
    o.expect(0, "succeeded");
    // Attempts spent.
    let spent = o.one("step_succeeded", "spent");
    assert_eq!(spent["fallback"], true);
    assert_eq!(spent["outputs"], serde_json::json!({ "url": "none" }));
    assert_eq!(o.of("step_started", "spent").len(), 2);
    // The breaker open on the last attempt.
    let tripped = o.one("step_succeeded", "tripped");
    assert_eq!(tripped["fallback"], true);
    assert_eq!(
        tripped["outputs"],
        serde_json::json!({ "url": "mirror", "code": "0" })
    );
    assert!(!o.has("step_failed", "spent") && !o.has("step_failed", "tripped"));
    // Dependents see the fallback outputs.
    assert_eq!(o.lines("use", "output"), ["url=none mirror=mirror"]);
    assert_eq!(o.one("step_succeeded", "use")["fallback"], false);
}

#[test]
fn on_failure_continue_lets_dependents_run_and_fail_skips_them() {
    let o = run("on_failure", &[]);
    o.expect(1, "failed");
    assert_eq!(o.end("soft"), "step_failed");
    assert_eq!(o.end("after-soft"), "step_succeeded");
    assert_eq!(o.lines("after-soft", "output"), ["after soft"]);
    assert_eq!(o.one("step_failed", "hard")["exit_code"], 2);
    let child = o.one("step_skipped", "child");
    assert_eq!(child["reason"], "upstream_failed");
    assert_eq!(child["cause"], "hard");
    let grandchild = o.one("step_skipped", "grandchild");
    assert_eq!(grandchild["reason"], "upstream_failed");
    assert!(
        ["child", "hard"].contains(&grandchild["cause"].as_str().unwrap()),
        "{grandchild}"
    );
    assert!(!o.has("step_started", "child") && !o.has("step_started", "grandchild"));
}

#[test]
fn a_tolerated_failure_alone_lets_the_run_succeed() {
    let o = run("continue_only", &[]);
    o.expect(0, "succeeded");
    assert_eq!(o.end("soft"), "step_failed");
    assert_eq!(o.lines("after", "output"), ["soft was ."]);
}

// ---------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------

#[test]
fn when_reads_vars_status_and_outputs() {
    let o = run("when", &[]);
    o.expect(0, "succeeded");
    let skipped = o.one("step_skipped", "prod-only");
    assert_eq!(skipped["reason"], "condition");
    // README: step_ready, then step_skipped with the condition as its cause.
    assert_eq!(skipped["cause"], "vars.target == 'prod'");
    assert!(o.pos("step_ready", "prod-only") < o.pos("step_skipped", "prod-only"));
    assert!(!o.has("step_started", "prod-only"));
    for step in [
        "staging-only",
        "checked",
        "not-no",
        "after-prod",
        "saw-skip",
    ] {
        assert_eq!(o.end(step), "step_succeeded", "{step}\n{}", o.dump());
    }
    assert_eq!(o.one("step_skipped", "output-false")["reason"], "condition");
    assert_eq!(o.lines("saw-skip", "output"), ["saw skipped"]);
}

#[test]
fn var_flag_overrides_the_file() {
    let o = run("when", &["--var", "target=prod"]);
    o.expect(0, "succeeded");
    assert_eq!(o.lines("prod-only", "output"), ["prod"]);
    assert_eq!(o.one("step_skipped", "staging-only")["reason"], "condition");
    assert_eq!(o.one("step_skipped", "saw-skip")["reason"], "condition");
    assert_eq!(o.end("after-prod"), "step_succeeded");
}

#[test]
fn when_reads_answers() {
    let o = run("when_answer", &["--answer", "pick=right"]);
    o.expect(0, "succeeded");
    let asked = o.one("question_asked", "pick");
    assert_eq!(asked["choices"], serde_json::json!(["left", "right"]));
    let answered = o.one("question_answered", "pick");
    assert_eq!(answered["answer"], "right");
    assert_eq!(answered["by"], "flag");
    assert_eq!(answered["wait"], asked["wait"]);
    assert_eq!(o.one("step_skipped", "go-left")["reason"], "condition");
    assert_eq!(o.lines("go-right", "output"), ["went right right"]);
}

// ---------------------------------------------------------------------------
// Approvals and questions
// ---------------------------------------------------------------------------

#[test]
fn approve_flag_resolves_the_approval() {
    let o = run(
        "approvals",
        &["--approve", "gate", "--var", "target=staging"],
    );
    o.expect(0, "succeeded");
    let asked = o.one("approval_requested", "gate");
    assert_eq!(asked["prompt"], "Ship to staging?");
    assert_eq!(asked["timeout_ms"], 10_000);
    assert!(asked["wait"].as_str().is_some_and(|w| !w.is_empty()));
    let resolved = o.one("approval_resolved", "gate");
    assert_eq!(resolved["approved"], true);
    assert_eq!(resolved["by"], "flag");
    assert_eq!(resolved["wait"], asked["wait"]);
    assert!(resolved["waited_ms"].is_u64());
    assert_eq!(o.end("gate"), "step_succeeded");
    assert_eq!(o.lines("deploy", "output"), ["deployed"]);
}

#[test]
fn reject_flag_fails_the_step_with_rejected() {
    let o = run("approvals", &["--reject", "gate"]);
    o.expect(1, "failed");
    let resolved = o.one("approval_resolved", "gate");
    assert_eq!(resolved["approved"], false);
    assert_eq!(resolved["by"], "flag");
    let failed = o.one("step_failed", "gate");
    assert_eq!(failed["error"], "rejected");
    let skipped = o.one("step_skipped", "deploy");
    assert_eq!(skipped["reason"], "upstream_failed");
    assert_eq!(skipped["cause"], "gate");
}

#[test]
fn auto_approve_approves_and_takes_defaults() {
    let o = run("auto", &["--auto-approve"]);
    o.expect(0, "succeeded");
    let resolved = o.one("approval_resolved", "gate");
    assert_eq!(resolved["approved"], true);
    assert_eq!(resolved["by"], "flag");
    let asked = o.one("question_asked", "notes");
    assert_eq!(asked["default"], "Bug fixes");
    assert_eq!(asked["question"], "Headline?");
    let answered = o.one("question_answered", "notes");
    assert_eq!(answered["answer"], "Bug fixes");
    assert_eq!(o.lines("use", "output"), ["notes=Bug fixes"]);
}

const HOSTILE: &str = "$(touch PWNED) `touch PWNED2` ' \" ; && | \n $HOME {{ run.id }} * -x %s \\ é\t$((1+1)) ${IFS} k=v end";

#[test]
fn an_answer_reaches_the_command_as_one_literal_word() {
    let answer = format!("the-q={HOSTILE}");
    let o = run("hostile", &["--answer", &answer]);
    o.expect(0, "succeeded");
    let asked = o.one("question_asked", "the-q");
    assert_eq!(asked["question"], "Anything?");
    assert!(asked["default"].is_null());
    assert_eq!(asked["choices"], serde_json::json!([]));
    let answered = o.one("question_answered", "the-q");
    assert_eq!(answered["answer"], HOSTILE);
    assert_eq!(answered["by"], "flag");
    for file in ["bare.txt", "quoted.txt", "via-env.txt", "in-env.txt"] {
        let got = std::fs::read(o.work().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}\n{}", o.dump()));
        assert!(
            got == HOSTILE.as_bytes(),
            "{file}: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
    // Nothing ran: no file but the four written on purpose.
    let files: BTreeSet<String> = std::fs::read_dir(o.work())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let want: BTreeSet<String> = [
        "state",
        "bare.txt",
        "quoted.txt",
        "via-env.txt",
        "in-env.txt",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(files, want);
}

#[test]
fn waits_time_out_as_configured() {
    let o = run("wait_timeouts", &[]);
    o.expect(1, "failed");
    // Approval, on_timeout: reject (the default).
    let asked = o.one("approval_requested", "reject-on-timeout");
    assert_eq!(asked["timeout_ms"], 100);
    let r = o.one("approval_resolved", "reject-on-timeout");
    assert_eq!(
        (r["approved"].clone(), r["by"].clone()),
        (false.into(), "timeout".into())
    );
    assert!(r["waited_ms"].as_u64().unwrap() >= 95, "{r}");
    assert_eq!(
        o.one("step_failed", "reject-on-timeout")["error"],
        "rejected"
    );
    assert_eq!(
        o.one("step_skipped", "after-reject")["reason"],
        "upstream_failed"
    );
    // Approval, on_timeout: approve, with defaults.wait_timeout.
    assert_eq!(
        o.one("approval_requested", "approve-on-timeout")["timeout_ms"],
        150
    );
    let r = o.one("approval_resolved", "approve-on-timeout");
    assert_eq!(
        (r["approved"].clone(), r["by"].clone()),
        (true.into(), "timeout".into())
    );
    assert!(r["waited_ms"].as_u64().unwrap() >= 145, "{r}");
    assert_eq!(o.lines("after-approve", "output"), ["approved"]);
    // Question with a default takes it.
    let a = o.one("question_answered", "with-default");
    assert_eq!(
        (a["answer"].clone(), a["by"].clone()),
        ("anon".into(), "timeout".into())
    );
    assert_eq!(o.lines("after-default", "output"), ["name=anon"]);
    // Question without one fails.
    assert!(!o.has("question_answered", "without-default"));
    let f = o.one("step_failed", "without-default");
    assert!(f["error"].as_str().is_some_and(|e| !e.is_empty()), "{f}");
    assert!(o.elapsed < Duration::from_secs(5), "{:?}", o.elapsed);
}

// ---------------------------------------------------------------------------
// Processes: timeouts, groups, concurrency, priority
// ---------------------------------------------------------------------------

#[test]
fn step_timeout_kills_a_group_that_ignores_term() {
    let mark = marker();
    let var = format!("marker={mark}");
    let o = run("step_timeout", &["--var", &var]);
    o.expect(1, "failed");
    assert_eq!(o.lines("stubborn", "output"), ["started"]);
    let failed = o.one("step_failed", "stubborn");
    // README: `timed out after <timeout>`.
    assert_eq!(failed["error"], "timed out after 150ms");
    assert!(failed["exit_code"].is_null() || failed["exit_code"].is_i64());
    assert_eq!(o.one("step_skipped", "after")["reason"], "upstream_failed");
    // 150ms timeout + 200ms grace, not the 30s sleep.
    assert!(o.elapsed < Duration::from_secs(3), "{:?}", o.elapsed);
    assert_no_leftovers(&mark);
}

/// The most run steps running at once, from the event order.
fn max_running(o: &Outcome) -> usize {
    let (mut now, mut max) = (0usize, 0usize);
    for e in &o.events {
        match e["type"].as_str().unwrap() {
            "step_started" => {
                now += 1;
                max = max.max(now);
            }
            "step_succeeded" | "step_failed" | "step_retrying" | "step_cancelled" => {
                now = now.saturating_sub(1)
            }
            _ => {}
        }
    }
    max
}

#[test]
fn jobs_flag_limits_running_steps() {
    let o = run("concurrency", &["--jobs", "2"]);
    o.expect(0, "succeeded");
    assert_eq!(o.all("step_succeeded").len(), 6);
    assert_eq!(max_running(&o), 2, "{}", o.dump());
    let o = run("concurrency", &["--jobs", "4"]);
    o.expect(0, "succeeded");
    assert_eq!(
        max_running(&o),
        4,
        "--jobs overrides the file: {}",
        o.dump()
    );
}

#[test]
fn file_concurrency_limits_running_steps() {
    let o = run("concurrency", &[]);
    o.expect(0, "succeeded");
    assert_eq!(max_running(&o), 3, "{}", o.dump());
}

#[test]
fn concurrency_defaults_to_the_cpu_count() {
    let o = run("default_concurrency", &[]);
    o.expect(0, "succeeded");
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    assert_eq!(max_running(&o), cpus.min(8), "{}", o.dump());
}

#[test]
fn waits_never_hold_a_slot() {
    let o = run("waits_no_slot", &[]);
    o.expect(0, "succeeded");
    // One slot, two open waits, and the run steps still go one after the other.
    let first_resolution = o
        .events
        .iter()
        .position(|e| e["type"] == "approval_resolved" || e["type"] == "question_answered")
        .unwrap();
    assert!(o.pos("approval_requested", "gate") < o.pos("step_started", "work"));
    assert!(o.pos("question_asked", "notes") < o.pos("step_started", "work"));
    assert!(
        o.pos("step_succeeded", "more") < first_resolution,
        "{}",
        o.dump()
    );
    assert_eq!(max_running(&o), 1);
}

#[test]
fn ready_steps_start_in_priority_then_file_order() {
    let o = run("priority", &["--jobs", "1"]);
    o.expect(0, "succeeded");
    assert_eq!(
        o.started_order(),
        ["root", "b", "c", "y", "x", "a", "e", "z", "d"],
        "{}",
        o.dump()
    );
}

#[test]
fn a_grandchild_holding_stdout_does_not_hang_the_step() {
    let mark = marker();
    let var = format!("marker={mark}");
    let o = run("grandchild", &["--var", &var]);
    o.expect(0, "succeeded");
    assert_eq!(o.lines("leaky", "output"), ["main done"]);
    assert_eq!(o.lines("quiet", "output"), ["bye"]);
    assert_eq!(o.lines("next", "output"), ["next"]);
    assert!(o.elapsed < Duration::from_secs(3), "{:?}", o.elapsed);
    assert_no_leftovers(&mark);
}

#[test]
fn the_run_timeout_stops_everything() {
    let mark = marker();
    let var = format!("marker={mark}");
    let o = run("run_timeout", &["--var", &var]);
    assert!(o.elapsed < Duration::from_secs(3), "{:?}", o.elapsed);
    // README: the run fails (exit 1), its steps end cancelled, reason run_timeout.
    o.expect(1, "failed");
    assert_eq!(o.one("step_cancelled", "long")["reason"], "run_timeout");
    assert_no_leftovers(&mark);
}

// ---------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------

fn cancel_by_signal(signal: &str) {
    let mark = marker();
    let var = format!("marker={mark}");
    let mut live = Running::spawn("signals", &["--var", &var]);
    live.wait_for("gate opened", |e| is(e, "approval_requested", "gate"));
    live.wait_for("stubborn output", |e| is(e, "step_output", "stubborn"));
    live.wait_for("family output", |e| is(e, "step_output", "family"));
    live.wait_for("graceful output", |e| is(e, "step_output", "graceful"));
    assert!(
        marked("MARK", &mark).len() >= 3,
        "the steps' processes run: {:?}",
        marked("MARK", &mark)
    );
    let sent = Instant::now();
    live.signal(signal);
    let o = live.finish();
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(3), "{signal} took {took:?}");
    o.expect(130, "cancelled");
    assert_envelope(&o, "signals", 5);
    // Output written on the way out is still streamed.
    assert_eq!(o.lines("graceful", "output"), ["started", "got term"]);
    let log = std::fs::read_to_string(o.run_dir().join("logs/graceful.log")).unwrap();
    assert_eq!(log.lines().collect::<Vec<_>>(), ["started", "got term"]);
    for step in ["stubborn", "family", "graceful", "gate"] {
        assert_eq!(o.end(step), "step_cancelled", "{step}\n{}", o.dump());
        assert!(o.one("step_cancelled", step)["reason"].is_string());
    }
    assert!(!o.has("step_started", "after"));
    assert!(!o.has("approval_resolved", "gate"));
    assert_no_leftovers(&mark);
}

#[test]
fn sigint_cancels_the_run() {
    cancel_by_signal("INT");
}

#[test]
fn sigterm_cancels_the_run() {
    cancel_by_signal("TERM");
}

// ---------------------------------------------------------------------------
// Usage errors
// ---------------------------------------------------------------------------

fn assert_usage_error(o: &Outcome, needles: &[&str]) {
    assert_eq!(o.code, Some(2), "{}", o.dump());
    assert!(o.stdout.is_empty(), "nothing on stdout: {:?}", o.stdout);
    for needle in needles {
        assert!(
            o.stderr.contains(needle),
            "stderr lacks {needle:?}: {}",
            o.stderr
        );
    }
}

#[test]
fn an_unknown_var_is_a_usage_error() {
    let o = run("when", &["--var", "nosuchvar=1"]);
    assert_usage_error(&o, &["nosuchvar"]);
}

#[test]
fn a_wait_flag_naming_an_unknown_step_is_a_usage_error() {
    let o = run("approvals", &["--approve", "nosuch"]);
    assert_usage_error(&o, &["nosuch"]);
    let o = run("approvals", &["--reject", "nosuch"]);
    assert_usage_error(&o, &["nosuch"]);
    let o = run("auto", &["--answer", "nosuch=x"]);
    assert_usage_error(&o, &["nosuch"]);
}

#[test]
fn a_wait_flag_for_the_wrong_kind_of_step_is_a_usage_error() {
    // --approve on a run step, --answer on an approval, --answer without `=`.
    let o = run("approvals", &["--approve", "deploy"]);
    assert_usage_error(&o, &["deploy"]);
    let o = run("auto", &["--answer", "gate=yes"]);
    assert_usage_error(&o, &["gate"]);
    let o = run("auto", &["--answer", "notes"]);
    assert_usage_error(&o, &["notes"]);
}

#[test]
fn an_invalid_workflow_exits_2() {
    let o = run("invalid", &[]);
    assert_usage_error(&o, &[":7:13: error:", "nosuch"]);
    let o = run("no-such-file", &[]);
    assert_usage_error(&o, &["no-such-file"]);
}

#[test]
fn bad_jobs_is_a_usage_error() {
    let o = run("basic", &["--jobs", "0"]);
    assert_usage_error(&o, &["jobs"]);
}

// ---------------------------------------------------------------------------
// State dir, slow readers, choices
// ---------------------------------------------------------------------------

/// Runs `basic` without `--state-dir`, from `cwd`, with `env` set.
fn run_without_state_dir(cwd: &Path, env: Option<&Path>) -> (Option<i32>, Vec<u8>) {
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .arg(fixture("basic"))
        .args(["--headless", "--json"])
        .current_dir(cwd)
        .env_remove("SIGNALBOX_STATE_DIR")
        .stdin(Stdio::null());
    if let Some(dir) = env {
        cmd.env("SIGNALBOX_STATE_DIR", dir);
    }
    let out = cmd.output().unwrap();
    (out.status.code(), out.stdout)
}

fn only_run(state: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
        .unwrap_or_else(|e| panic!("no runs under {}: {e}", state.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

#[test]
fn the_state_dir_defaults_to_the_env_var_then_dot_signalbox() {
    let tmp = tempfile::tempdir().unwrap();
    let from_env = tmp.path().join("from-env");
    let (code, stdout) = run_without_state_dir(tmp.path(), Some(&from_env));
    assert_eq!(code, Some(0));
    let journal = std::fs::read(only_run(&from_env).join("events.jsonl")).unwrap();
    assert!(journal == stdout);
    assert!(!tmp.path().join(".signalbox").exists());

    let (code, stdout) = run_without_state_dir(tmp.path(), None);
    assert_eq!(code, Some(0));
    let journal = std::fs::read(only_run(&tmp.path().join(".signalbox")).join("events.jsonl"));
    assert!(journal.unwrap() == stdout);
}

/// SPEC §3: `run --json` prints the journal's lines on stdout, all of them,
/// also when whoever reads stdout is slower than the run.
#[test]
fn json_stdout_keeps_every_event_for_a_slow_reader() {
    let live = Running::spawn_unread("chatty", &[]);
    // Let the run go as far as it can while nobody reads stdout: until the
    // journal has run_finished, or stops growing (the run waits for us).
    let runs = live.tmp.path().join("state/runs");
    let deadline = Instant::now() + Duration::from_secs(15);
    let (mut last_len, mut still_since) = (0u64, Instant::now());
    loop {
        let journal = std::fs::read_dir(&runs)
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path().join("events.jsonl"));
        let len = journal
            .as_ref()
            .and_then(|j| std::fs::metadata(j).ok())
            .map_or(0, |m| m.len());
        let done = journal
            .as_ref()
            .and_then(|j| std::fs::read(j).ok())
            .is_some_and(|b| {
                b.ends_with(b"}\n") && b.len() > 200 && {
                    let tail = &b[b.len().saturating_sub(300)..];
                    String::from_utf8_lossy(tail).contains("\"run_finished\"")
                }
            });
        if done || Instant::now() > deadline {
            break;
        }
        if len != last_len {
            (last_len, still_since) = (len, Instant::now());
        } else if len > 0 && still_since.elapsed() > Duration::from_millis(500) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = live.finish();
    assert_eq!(o.code, Some(0), "stderr:\n{}", o.stderr);
    let journal = std::fs::read(o.run_dir().join("events.jsonl")).unwrap();
    let count = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count();
    // No dump: there are 80,000 events.
    assert!(
        journal == o.stdout,
        "stdout has {} lines, the journal {}; stdout ends with {:?}",
        count(&o.stdout),
        count(&journal),
        o.events.last().map(|e| e["type"].clone())
    );
    assert_eq!(o.lines("spam", "output").len(), 80_000);
    assert_eq!(o.status(), "succeeded");
}

/// An answer given with `--answer` must be one of the question's choices,
/// like any other answer: refused as bad usage, or never taken.
#[test]
fn an_answer_outside_the_choices_is_not_taken() {
    let o = run("choices", &["--answer", "pick=middle"]);
    if o.code == Some(2) {
        assert!(o.stdout.is_empty());
        assert!(o.stderr.contains("middle"), "{}", o.stderr);
        return;
    }
    let taken = o
        .of("question_answered", "pick")
        .iter()
        .any(|e| e["answer"] == "middle");
    assert!(!taken, "`middle` is not one of [left, right]\n{}", o.dump());
    assert!(!o.lines("use", "output").contains(&"picked middle"));
}
