//! Matrix steps in a run, through the binary (SPEC §2 "Matrix
//! steps", §3 `step_skipped` reason `fail_fast`, §4): `fail_fast` cancels
//! and skips the siblings of the first failed instance, `max_parallel`
//! caps a group's running instances without holding up other steps, each
//! instance retries and falls back on its own, a matrix of approvals is
//! answered one instance at a time, `retry RUN build` runs only the failed
//! instances again, and `when` reads a matrix step's aggregate status.
//!
//! Steps append their id to `ledger` in the test's folder, so the file
//! tells every execution of every instance. Whatever still carries the
//! test's marker in its environment is killed when the test ends.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::{BIN, Done, Live, is, marked, marker};

mod commands;
mod engine;

const MARK: &str = "SBX_MATRIX_RUN_MARK";

pub(super) struct Work {
    tmp: tempfile::TempDir,
    mark: String,
}

impl Work {
    pub(super) fn new() -> Work {
        Work {
            tmp: tempfile::tempdir().unwrap(),
            mark: marker(),
        }
    }

    pub(super) fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub(super) fn write(&self, yaml: &str) -> PathBuf {
        let file = self.dir().join("wf.yaml");
        std::fs::write(&file, yaml).unwrap();
        file
    }

    pub(super) fn command(&self, args: &[&str]) -> Command {
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
    pub(super) fn spawn(&self, args: &[&str]) -> Live {
        let mut cmd = self.command(args);
        cmd.args(["--headless", "--json"]);
        Live::spawn(cmd)
    }

    /// `run wf.yaml ARGS --headless --json` of `yaml`, to its end.
    pub(super) fn run(&self, yaml: &str, args: &[&str]) -> Done {
        self.write(yaml);
        let mut all = vec!["run", "wf.yaml"];
        all.extend_from_slice(args);
        self.spawn(&all).finish()
    }

    pub(super) fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// The ids in `ledger`, in the order the steps wrote them.
    pub(super) fn ledger(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir().join("ledger")).unwrap_or_default();
        text.lines().map(str::to_string).collect()
    }

    /// One line to the live run's control socket; its reply.
    pub(super) fn socket(&self, run: &str, line: &str) -> String {
        let sock = self.dir().join("state/runs").join(run).join("control.sock");
        let mut stream = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        stream.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).unwrap();
        reply.trim_end().to_string()
    }

    /// The run's journal passes the checker `replay` uses.
    pub(super) fn journal_is_sound(&self, run: &str) {
        let out = self.cli(&["replay", run, "--json"]);
        assert!(
            out.status.success(),
            "replay refused the journal: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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

/// The `step` of each event of type `ty`, in order.
pub(super) fn steps_of<'a>(events: &'a [Value], ty: &str) -> Vec<&'a str> {
    (events.iter().filter(|e| e["type"] == ty))
        .map(|e| e["step"].as_str().unwrap())
        .collect()
}

#[test]
fn fail_fast_cancels_the_running_instances_and_skips_the_unstarted_ones() {
    let w = Work::new();
    // a fails at once; b runs until it is stopped; c cannot start while
    // a and b hold the group's two places.
    let done = w.run(
        r#"
name: ff
concurrency: 4
steps:
  build:
    matrix: { target: [a, b, c] }
    max_parallel: 2
    fail_fast: true
    run: 'echo {{ matrix.target }} >> ledger; if [ {{ matrix.target }} = a ]; then exit 3; fi; sleep 30'
  publish:
    needs: [build]
    run: echo publish >> ledger
"#,
        &[],
    );
    done.expect(1, "failed");
    assert_eq!(done.one("step_failed", "build:a")["exit_code"], 3);
    let cancelled = done.one("step_cancelled", "build:b");
    assert_eq!(cancelled["reason"], "fail_fast", "{}", done.dump());
    assert_eq!(cancelled["cause"], "build:a", "{}", done.dump());
    let skipped = done.one("step_skipped", "build:c");
    assert_eq!(skipped["reason"], "fail_fast", "{}", done.dump());
    assert_eq!(skipped["cause"], "build:a", "{}", done.dump());
    assert!(!done.has("step_started", "build:c"), "{}", done.dump());
    let publish = done.one("step_skipped", "publish");
    assert_eq!(publish["reason"], "upstream_failed", "{}", done.dump());
    assert!(done.pos("step_failed", "build:a") < done.pos("step_cancelled", "build:b"));
    assert!(!w.ledger().contains(&"publish".to_string()));
    w.journal_is_sound(done.run_id());
}

#[test]
fn without_fail_fast_the_other_instances_run_to_their_end() {
    let w = Work::new();
    let done = w.run(
        r#"
name: nff
concurrency: 4
steps:
  build:
    matrix: { target: [a, b, c] }
    max_parallel: 1
    run: 'echo {{ matrix.target }} >> ledger; test {{ matrix.target }} != a'
"#,
        &[],
    );
    done.expect(1, "failed");
    assert_eq!(done.end("build:a"), "step_failed");
    assert_eq!(done.end("build:b"), "step_succeeded");
    assert_eq!(done.end("build:c"), "step_succeeded");
    assert!(done.all("step_cancelled").is_empty(), "{}", done.dump());
}

#[test]
fn max_parallel_runs_one_instance_at_a_time_and_holds_up_no_other_step() {
    let w = Work::new();
    // Every instance waits for `other`, written after them: were a parked
    // instance to hold the ready queue, `other` would never start and the
    // first instance would give up (exit 9).
    let done = w.run(
        r#"
name: mp
concurrency: 4
steps:
  build:
    matrix: { target: [a, b, c, d] }
    max_parallel: 1
    run: 'for t in $(seq 400); do [ -e other-done ] && break; sleep 0.05; done; [ -e other-done ] || exit 9; echo {{ matrix.target }} >> ledger'
  other:
    run: touch other-done
"#,
        &[],
    );
    done.expect(0, "succeeded");
    let mut running: Option<&str> = None;
    for e in &done.events {
        let step = e["step"].as_str().unwrap_or("");
        if !step.starts_with("build:") {
            continue;
        }
        match e["type"].as_str().unwrap() {
            "step_started" => {
                assert_eq!(
                    running,
                    None,
                    "{step} started while {running:?} ran\n{}",
                    done.dump()
                );
                running = Some(step);
            }
            "step_succeeded" | "step_failed" | "step_retrying" | "step_cancelled" => {
                assert_eq!(running, Some(step), "{}", done.dump());
                running = None;
            }
            _ => {}
        }
    }
    assert_eq!(
        done.started_order()
            .iter()
            .filter(|s| s.starts_with("build:"))
            .count(),
        4
    );
    assert!(done.pos("step_started", "other") < done.pos("step_started", "build:b"));
    assert_eq!(w.ledger(), ["a", "b", "c", "d"]);
}

#[test]
fn each_instance_retries_and_falls_back_on_its_own() {
    let w = Work::new();
    // b fails its first attempt; c fails every attempt and has a fallback
    // of its own, as every instance does.
    let done = w.run(
        r#"
name: per
concurrency: 4
steps:
  build:
    matrix: { target: [a, b, c] }
    retry: { attempts: 2, delay: 10ms, jitter: none }
    fallback: { outputs: { url: none } }
    run: 'echo {{ matrix.target }} >> ledger; case {{ matrix.target }}-$SIGNALBOX_ATTEMPT in b-1|c-*) exit 1;; esac'
"#,
        &[],
    );
    done.expect(0, "succeeded");
    let mut retried = steps_of(&done.events, "step_retrying");
    retried.sort_unstable();
    assert_eq!(retried, ["build:b", "build:c"]);
    assert_eq!(done.one("step_succeeded", "build:a")["attempt"], 1);
    let b = done.one("step_succeeded", "build:b");
    assert_eq!((&b["attempt"], &b["fallback"]), (&2.into(), &false.into()));
    let c = done.one("step_succeeded", "build:c");
    assert_eq!((&c["attempt"], &c["fallback"]), (&2.into(), &true.into()));
    assert_eq!(c["outputs"]["url"], "none");
    let mut ledger = w.ledger();
    ledger.sort();
    assert_eq!(ledger, ["a", "b", "b", "c", "c"]);
}

#[test]
fn a_condition_reads_the_aggregate_status_of_a_matrix_step() {
    let w = Work::new();
    let done = w.run(
        r#"
name: agg
concurrency: 4
steps:
  build:
    matrix: { target: [a, b] }
    on_failure: continue
    run: 'test {{ matrix.target }} = a'
  on-failure:
    needs: [build]
    when: "steps.build.status == 'failed'"
    run: echo on-failure >> ledger
  on-success:
    needs: [build]
    when: "steps.build.status == 'succeeded'"
    run: echo on-success >> ledger
"#,
        &[],
    );
    done.expect(0, "succeeded");
    assert_eq!(done.end("on-failure"), "step_succeeded", "{}", done.dump());
    let skipped = done.one("step_skipped", "on-success");
    assert_eq!(skipped["reason"], "condition", "{}", done.dump());
    assert_eq!(w.ledger(), ["on-failure"]);
}

#[test]
fn retry_of_a_finished_run_runs_only_the_failed_instances_of_the_named_step() {
    let w = Work::new();
    // b fails until `fixed` exists; lint always fails and is not named.
    let yaml = r#"
name: rf
concurrency: 4
steps:
  build:
    matrix: { target: [a, b, c] }
    run: 'echo {{ matrix.target }} >> ledger; test {{ matrix.target }} != b || test -e fixed'
  lint:
    run: 'echo lint >> ledger; exit 1'
  publish:
    needs: [build]
    run: echo publish >> ledger
"#;
    let first = w.run(yaml, &[]);
    first.expect(1, "failed");
    assert_eq!(first.end("build:b"), "step_failed");
    assert_eq!(first.one("step_skipped", "publish")["cause"], "build:b");
    std::fs::write(w.dir().join("fixed"), "").unwrap();
    let id = first.run_id().to_string();
    let again = w.spawn(&["retry", &id, "build"]).finish();
    again.expect(1, "failed");
    let resumed = (again.events.iter())
        .position(|e| e["type"] == "run_started")
        .unwrap();
    let after = &again.events[resumed..];
    assert_eq!(steps_of(after, "step_started"), ["build:b", "publish"]);
    let retried = after.iter().find(|e| e["type"] == "dag_modified").unwrap();
    assert_eq!(retried["steps"], serde_json::json!(["build:b", "publish"]));
    assert!(after.iter().any(|e| is(e, "step_succeeded", "build:b")));
    let mut ledger = w.ledger();
    ledger.sort();
    assert_eq!(
        ledger,
        ["a", "b", "b", "c", "lint", "publish"],
        "lint and the succeeded instances did not run again"
    );
    w.journal_is_sound(&id);
}

#[test]
fn retry_of_a_fail_fast_matrix_step_runs_the_instances_it_stopped_again() {
    let w = Work::new();
    let yaml = r#"
name: rff
concurrency: 4
steps:
  build:
    matrix: { target: [a, b, c] }
    max_parallel: 2
    fail_fast: true
    run: 'echo {{ matrix.target }} >> ledger; if [ {{ matrix.target }} = a ] && [ ! -e fixed ]; then exit 1; fi; test {{ matrix.target }} = a || sleep 0.2'
"#;
    let first = w.run(yaml, &[]);
    first.expect(1, "failed");
    assert_eq!(first.one("step_skipped", "build:c")["reason"], "fail_fast");
    std::fs::write(w.dir().join("fixed"), "").unwrap();
    let id = first.run_id().to_string();
    let again = w.spawn(&["retry", &id, "build"]).finish();
    again.expect(0, "succeeded");
    let resumed = (again.events.iter())
        .position(|e| e["type"] == "run_started")
        .unwrap();
    let mut started = steps_of(&again.events[resumed..], "step_started");
    started.sort_unstable();
    assert_eq!(started, ["build:a", "build:b", "build:c"]);
    w.journal_is_sound(&id);
}

#[test]
fn the_last_headless_line_of_a_failed_run_names_the_failed_instances() {
    let w = Work::new();
    w.write(
        r#"
name: last
steps:
  build:
    matrix: { target: [x86_64-linux, aarch64-linux] }
    run: 'echo building {{ matrix.target }}; test {{ matrix.target }} = x86_64-linux'
"#,
    );
    let out = w.cli(&["run", "wf.yaml", "--headless"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("build:aarch64-linux"), "{stderr}");
    assert!(!last.contains("build:x86_64-linux"), "{stderr}");
    assert!(last.contains("logs/build:aarch64-linux.log"), "{stderr}");
    assert!(
        (stderr.lines()).any(|l| l.contains("build:aarch64-linux failed")),
        "{stderr}"
    );
}

#[test]
fn a_failure_on_failure_tolerates_stops_no_sibling() {
    let w = Work::new();
    let done = w.run(
        r#"
name: tol
concurrency: 4
steps:
  build:
    matrix: { target: [a, b, c] }
    max_parallel: 1
    fail_fast: true
    on_failure: continue
    run: 'echo {{ matrix.target }} >> ledger; test {{ matrix.target }} != a'
"#,
        &[],
    );
    done.expect(0, "succeeded");
    assert_eq!(done.end("build:a"), "step_failed");
    assert_eq!(done.end("build:b"), "step_succeeded");
    assert_eq!(done.end("build:c"), "step_succeeded");
    assert_eq!(w.ledger(), ["a", "b", "c"]);
}
