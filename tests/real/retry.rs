//! `signalbox retry` of a finished run (SPEC §2 "Retry a finished run", §3
//! `dag_modified`, §4; issue 13): the same run goes on with only what must
//! run again; what it refuses, with exit 2; a retry killed with SIGKILL and
//! resumed; `runs` after it.
//!
//! Every step appends its id to `ledger` in the test's folder (the current
//! directory of every process), so the file tells each execution of each
//! step across the run, its retries and resumes. Whatever still carries the
//! test's marker in its environment is killed when the test ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{BIN, Done, Live, marked, marker};

const MARK: &str = "SBX_RETRY_MARK";

struct Work {
    tmp: tempfile::TempDir,
    mark: String,
}

impl Work {
    fn new() -> Work {
        Work {
            tmp: tempfile::tempdir().unwrap(),
            mark: marker(),
        }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn write(&self, yaml: &str) -> PathBuf {
        let file = self.dir().join("wf.yaml");
        std::fs::write(&file, yaml).unwrap();
        file
    }

    fn touch(&self, name: &str) {
        std::fs::write(self.dir().join(name), "").unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--state-dir")
            .arg(self.dir().join("state"))
            .env(MARK, &self.mark)
            .current_dir(self.dir())
            .stdin(Stdio::null());
        cmd
    }

    /// `ARGS --headless --json`, started.
    fn spawn(&self, args: &[&str]) -> Live {
        let mut cmd = self.command(args);
        cmd.args(["--headless", "--json"]);
        Live::spawn(cmd)
    }

    fn run(&self, file: &Path) -> Done {
        self.spawn(&["run", file.to_str().unwrap()]).finish()
    }

    fn retry(&self, args: &[&str]) -> Done {
        let mut all = vec!["retry"];
        all.extend_from_slice(args);
        self.spawn(&all).finish()
    }

    /// A command that prints text, to its end.
    fn cli(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().unwrap()
    }

    /// How many times each step ran, from `ledger`.
    fn ledger(&self) -> BTreeMap<String, usize> {
        let text = std::fs::read_to_string(self.dir().join("ledger")).unwrap_or_default();
        let mut count = BTreeMap::new();
        for id in text.lines() {
            *count.entry(id.to_string()).or_insert(0) += 1;
        }
        count
    }

    fn journal(&self, id: &str) -> Vec<Value> {
        let path = self.dir().join("state/runs").join(id).join("events.jsonl");
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        for (pid, _) in marked(MARK, &self.mark) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// `build` and `lint` succeed; `check` fails until the file `ok` exists;
/// `deploy` needs it, `notify` needs `deploy`; `docs` needs only `build`.
const PIPELINE: &str = r#"
name: pipeline
steps:
  build:
    run: echo build >> ledger
  lint:
    run: echo lint >> ledger
  docs:
    needs: [build]
    run: echo docs >> ledger
  check:
    needs: [build, lint]
    run: echo check >> ledger; test -f ok
  deploy:
    needs: [check]
    run: echo deploy >> ledger
  notify:
    needs: [deploy]
    run: echo notify >> ledger
"#;

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

/// The events the retry added: from its `run_started` on.
fn since_retry(done: &Done) -> &[Value] {
    let at = done
        .events
        .iter()
        .position(|e| e["type"] == "run_started")
        .unwrap();
    &done.events[at..]
}

fn steps_of(e: &Value) -> Vec<&str> {
    e["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// A failed run, fixed, retried: only the failed step and the steps
/// skipped for it run, in the same run; every succeeded step ran once.
#[test]
fn retry_runs_only_the_failed_step_and_its_skipped_dependents() {
    let w = Work::new();
    let file = w.write(PIPELINE);
    let first = w.run(&file);
    first.expect(1, "failed");
    assert_eq!(first.end("deploy"), "step_skipped", "{}", first.dump());
    let id = first.run_id().to_string();
    w.touch("ok");

    let retried = w.retry(&[&id]);
    retried.expect(0, "succeeded");
    assert_eq!(retried.run_id(), id, "{}", retried.dump());
    let events = since_retry(&retried);
    assert_eq!(events[0]["resumed"], true, "{}", retried.dump());
    let modified = &events[1];
    assert_eq!(modified["type"], "dag_modified", "{}", retried.dump());
    assert_eq!(modified["action"], "retry");
    assert_eq!(modified["by"], "flag");
    assert!(modified["user"].as_str().is_some_and(|u| !u.is_empty()));
    assert_eq!(steps_of(modified), ["check", "deploy", "notify"]);
    assert_eq!(retried.started_order(), ["check", "deploy", "notify"]);
    assert!(
        retried
            .all("step_started")
            .iter()
            .all(|e| e["attempt"] == 1),
        "{}",
        retried.dump()
    );
    assert_eq!(
        w.ledger(),
        counts(&[
            ("build", 1),
            ("check", 2),
            ("deploy", 1),
            ("docs", 1),
            ("lint", 1),
            ("notify", 1)
        ])
    );
    // The same journal goes on: the first run's events, then the retry's.
    let journal = w.journal(&id);
    assert_eq!(journal.len(), first.events.len() + retried.events.len());
    assert_eq!(journal[first.events.len()], retried.events[0]);

    let runs = w.cli(&["runs", "--json"]);
    let row: Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(row["id"], id.as_str());
    assert_eq!(row["status"], "succeeded", "{row}");
    let replay = w.cli(&["replay", &id]);
    assert_eq!(replay.status.code(), Some(0), "{replay:?}");
}

/// A wide graph where a late step fails twice: across the run and two
/// retries every step that succeeded ran exactly once.
#[test]
fn a_ledger_shows_each_succeeded_step_ran_once_across_retries() {
    let mut yaml = String::from("name: wide\nsteps:\n");
    for n in 0..8 {
        yaml += &format!("  s{n}:\n    run: echo s{n} >> ledger\n");
        yaml += &format!("  t{n}:\n    needs: [s{n}]\n    run: echo t{n} >> ledger\n");
    }
    yaml += "  gate:\n    needs: [t0, t1, t2, t3, t4, t5, t6, t7]\n";
    yaml += "    run: echo gate >> ledger; test -f ok2\n";
    yaml += "  mid:\n    needs: [gate]\n    run: echo mid >> ledger; test -f ok\n";
    yaml += "  last:\n    needs: [mid]\n    run: echo last >> ledger\n";
    let w = Work::new();
    let file = w.write(&yaml);
    let first = w.run(&file);
    first.expect(1, "failed");
    let id = first.run_id().to_string();
    w.touch("ok2");
    let second = w.retry(&[&id]);
    second.expect(1, "failed");
    assert_eq!(second.started_order(), ["gate", "mid"], "{}", second.dump());
    w.touch("ok");
    w.retry(&[&id]).expect(0, "succeeded");
    let ledger = w.ledger();
    for (step, n) in &ledger {
        let want = match step.as_str() {
            "gate" => 2,
            "mid" => 2,
            _ => 1,
        };
        assert_eq!(*n, want, "{step} ran {n} times: {ledger:?}");
    }
    assert_eq!(ledger.len(), 19, "{ledger:?}");
}

/// `--downstream` runs the named step's succeeded descendants again, and
/// nothing else; a named step of a succeeded run runs alone.
#[test]
fn downstream_reruns_succeeded_descendants_and_a_named_step_runs_alone() {
    let w = Work::new();
    let file = w.write(PIPELINE);
    w.touch("ok");
    let first = w.run(&file);
    first.expect(0, "succeeded");
    let id = first.run_id().to_string();

    let down = w.retry(&[&id, "build", "--downstream"]);
    down.expect(0, "succeeded");
    let modified = &since_retry(&down)[1];
    assert_eq!(
        steps_of(modified),
        ["build", "docs", "check", "deploy", "notify"]
    );
    let mut started = down.started_order();
    started.sort_unstable();
    assert_eq!(started, ["build", "check", "deploy", "docs", "notify"]);

    // As the screen's `R` starts it: the operator's key, not a flag.
    let alone = w.retry(&[&id, "deploy", "--from-screen"]);
    alone.expect(0, "succeeded");
    assert_eq!(alone.started_order(), ["deploy"], "{}", alone.dump());
    assert_eq!(since_retry(&alone)[1]["by"], "keyboard");
    assert_eq!(
        w.ledger(),
        counts(&[
            ("build", 2),
            ("check", 2),
            ("deploy", 3),
            ("docs", 2),
            ("lint", 1),
            ("notify", 2)
        ])
    );
}

/// What `retry` refuses, with exit 2 and nothing run: a run that succeeded
/// with no step named, an unknown step, a step that never ran, a live run
/// and an interrupted one.
#[test]
fn retry_refuses_what_it_cannot_do_with_exit_2() {
    let w = Work::new();
    let file = w.write(PIPELINE);
    let failed = w.run(&file);
    failed.expect(1, "failed");
    let id = failed.run_id().to_string();
    let before = w.journal(&id).len();

    w.retry(&[&id, "chek"])
        .expect_refused("did you mean `check`?");
    w.retry(&[&id, "deploy"])
        .expect_refused("step `deploy` never ran");
    w.retry(&["no-such-run"]).expect_refused("no-such-run");
    assert_eq!(w.journal(&id).len(), before, "a refusal journals nothing");

    w.touch("ok");
    w.retry(&[&id]).expect(0, "succeeded");
    w.retry(&[&id]).expect_refused("there is nothing to retry");

    let slow =
        w.write("name: slow\nsteps:\n  wait:\n    run: echo wait >> ledger; exec sleep 600\n");
    let mut live = w.spawn(&["run", slow.to_str().unwrap()]);
    let slow_id = live.run_id();
    live.wait_for("the step's start", |e| e["type"] == "step_started");
    w.retry(&[&slow_id])
        .expect_refused("is live: retry its steps in it, with `R` on its screen");
    live.kill9();
    w.retry(&[&slow_id])
        .expect_refused(&format!("`signalbox resume {slow_id}` carries it on"));
}

/// A retry killed with SIGKILL while its step runs: `resume` finishes it,
/// the retried step from its first attempt, and `runs` says it succeeded.
#[test]
fn a_retry_killed_then_resumed_finishes() {
    let w = Work::new();
    let yaml = PIPELINE.replace(
        "echo check >> ledger; test -f ok",
        "echo check >> ledger; test -f ok || exit 1; if [ -f hang ]; then rm hang; exec sleep 600; fi",
    );
    let file = w.write(&yaml);
    let first = w.run(&file);
    first.expect(1, "failed");
    let id = first.run_id().to_string();
    w.touch("ok");
    w.touch("hang");
    let mut retry = w.spawn(&["retry", &id]);
    retry.wait_for("check's restart", |e| {
        e["type"] == "step_started" && e["step"] == "check"
    });
    // Killed once the step is in its long sleep (it took `hang` away).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while w.dir().join("hang").exists() {
        assert!(std::time::Instant::now() < deadline, "check never began");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    retry.kill9();

    let resumed = w.spawn(&["resume", &id]).finish();
    resumed.expect(0, "succeeded");
    assert_eq!(resumed.events[0]["resumed"], true);
    assert!(!resumed.has("dag_modified", "check"));
    let check = resumed.one("step_started", "check");
    assert_eq!(check["attempt"], 1, "{}", resumed.dump());
    assert_eq!(resumed.started_order(), ["check", "deploy", "notify"]);
    assert_eq!(w.ledger()["check"], 3);
    assert_eq!(w.ledger()["build"], 1);

    let runs = w.cli(&["runs"]);
    let table = String::from_utf8(runs.stdout).unwrap();
    let row = table.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(row.contains("succeeded"), "{table}");
}

/// A cancelled run: its step stopped with the run runs again from attempt
/// 1, and the run's steps that never started run too.
#[test]
fn a_cancelled_run_is_retried_from_the_first_attempt() {
    let w = Work::new();
    let file = w.write(
        r#"
name: stopped
steps:
  first:
    run: echo first >> ledger
  slow:
    needs: [first]
    retry: { attempts: 3, delay: 10ms }
    run: |
      echo slow >> ledger
      [ "$SIGNALBOX_ATTEMPT" = 1 ] && exit 1
      [ -f ok ] || exec sleep 600
  after:
    needs: [slow]
    run: echo after >> ledger
"#,
    );
    let mut live = w.spawn(&["run", file.to_str().unwrap()]);
    live.wait_for("attempt 2", |e| {
        e["type"] == "step_started" && e["attempt"] == 2
    });
    live.signal("TERM");
    let cancelled = live.finish();
    cancelled.expect(130, "cancelled");
    let id = cancelled.run_id().to_string();
    w.touch("ok");

    let retried = w.retry(&[&id]);
    retried.expect(0, "succeeded");
    let modified = &since_retry(&retried)[1];
    assert_eq!(steps_of(modified), ["slow", "after"]);
    let attempts: Vec<&Value> = retried
        .of("step_started", "slow")
        .into_iter()
        .map(|e| &e["attempt"])
        .collect();
    // Attempt 1 fails by design, attempt 2 finds `ok`: from the first again.
    assert_eq!(attempts, [1, 2], "{}", retried.dump());
    assert_eq!(w.ledger()["first"], 1);
}

mod started;
