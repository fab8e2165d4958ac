//! `signalbox edit` through the binary (SPEC §2 "Edit a run", §3
//! `dag_modified`, §4; issue 13): a live run's graph changed by a file,
//! what an edit refuses (with every error as `FILE:LINE:COL`), an edit that
//! changes nothing, `--rerun` of a running step, a finished run fixed and
//! carried on, and the revisions a resume relies on.
//!
//! Steps append their id to `ledger` in the test's folder, so the file
//! tells every execution of every step. Whatever still carries the test's
//! marker in its environment is killed when the test ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::{BIN, Live, marked, marker};

const MARK: &str = "SBX_EDIT_MARK";

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

    fn write(&self, name: &str, yaml: &str) -> PathBuf {
        let file = self.dir().join(name);
        std::fs::write(&file, yaml).unwrap();
        file
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

    fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ledger(&self) -> BTreeMap<String, usize> {
        let text = std::fs::read_to_string(self.dir().join("ledger")).unwrap_or_default();
        let mut count = BTreeMap::new();
        for id in text.lines() {
            *count.entry(id.to_string()).or_insert(0) += 1;
        }
        count
    }

    fn run_dir(&self, id: &str) -> PathBuf {
        self.dir().join("state/runs").join(id)
    }

    fn journal(&self, id: &str) -> Vec<Value> {
        std::fs::read_to_string(self.run_dir(id).join("events.jsonl"))
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

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

fn edits(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["type"] == "dag_modified" && e["action"] == "edit")
        .collect()
}

/// A gate, then `a` and `c` after it: nothing runs until the gate opens.
const GATED: &str = r#"
name: gated
steps:
  gate:
    approval: { prompt: go? }
  a:
    needs: [gate]
    run: echo a >> ledger
  c:
    needs: [a]
    run: echo c >> ledger
"#;

/// [`GATED`] with `b` put between `a` and `c`, comments and key order
/// changed too.
const GATED_B: &str = r#"
# b goes between a and c
name: gated
steps:
  gate:
    approval: { prompt: go? }
  a:
    run: echo a >> ledger
    needs: [gate]
  b:
    needs: [a]
    run: echo b >> ledger
  c:
    needs: [b]
    run: echo c >> ledger
"#;

#[test]
fn an_added_step_runs_between_two_pending_ones() {
    let w = Work::new();
    let wf = w.write("wf.yaml", GATED);
    let edited = w.write("edited.yaml", GATED_B);
    let mut live = w.spawn(&["run", wf.to_str().unwrap()]);
    let id = live.run_id();
    live.wait_for("the gate", |e| e["type"] == "approval_requested");
    let dry = w.cli(&["edit", &id, "--file", "edited.yaml", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    let plan = text(&dry.stdout);
    assert!(plan.contains("+ b"), "{plan}");
    assert!(plan.contains("~ c"), "{plan}");
    assert!(
        !w.run_dir(&id).join("revisions/1.yaml").exists(),
        "a dry run writes nothing"
    );
    let out = w.cli(&["edit", &id, "--file", edited.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let edit = live.wait_for("the edit", |e| e["type"] == "dag_modified");
    assert_eq!(edit["action"], "edit");
    assert_eq!(edit["revision"], 1);
    assert_eq!(edit["by"], "socket");
    assert_eq!(edit["diff"]["added"], serde_json::json!(["b"]));
    assert_eq!(edit["diff"]["changed"]["c"], serde_json::json!(["needs"]));
    assert!(
        edit["diff"]["changed"].get("a").is_none(),
        "key order is no change"
    );
    let kept = std::fs::read(w.run_dir(&id).join("revisions/1.yaml")).unwrap();
    assert_eq!(kept, GATED_B.as_bytes());
    let ok = w.cli(&["approve", &id, "gate"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let done = live.finish();
    done.expect(0, "succeeded");
    assert_eq!(done.started_order(), ["a", "b", "c"]);
    assert_eq!(
        std::fs::read_to_string(w.dir().join("ledger")).unwrap(),
        "a\nb\nc\n"
    );
}

#[test]
fn what_an_edit_refuses_it_says_where_and_changes_nothing() {
    let w = Work::new();
    let wf = w.write("wf.yaml", GATED);
    // `a` removed while `c` still needs it.
    w.write(
        "gone.yaml",
        "name: gated\nsteps:\n  gate:\n    approval: { prompt: go? }\n  c:\n    needs: [a]\n    run: echo c\n",
    );
    // A cycle.
    w.write(
        "cycle.yaml",
        "name: gated\nsteps:\n  gate:\n    approval: { prompt: go? }\n  a:\n    needs: [gate, c]\n    run: echo a\n  c:\n    needs: [a]\n    run: echo c\n",
    );
    // The name changed.
    w.write("renamed.yaml", &GATED.replace("name: gated", "name: other"));
    let mut live = w.spawn(&["run", wf.to_str().unwrap()]);
    let id = live.run_id();
    live.wait_for("the gate", |e| e["type"] == "approval_requested");

    let gone = w.cli(&["edit", &id, "--file", "gone.yaml"]);
    assert_eq!(gone.status.code(), Some(2));
    let why = text(&gone.stderr);
    assert!(why.contains("gone.yaml:6:"), "the needing line: {why}");
    assert!(why.contains("`a`"), "{why}");

    let cycle = w.cli(&["edit", &id, "--file", "cycle.yaml"]);
    assert_eq!(cycle.status.code(), Some(2));
    let why = text(&cycle.stderr);
    assert!(why.contains("cycle.yaml:"), "{why}");
    assert!(
        why.contains("a -> c -> a") || why.contains("c -> a -> c"),
        "the cycle's path: {why}"
    );

    let renamed = w.cli(&["edit", &id, "--file", "renamed.yaml"]);
    assert_eq!(renamed.status.code(), Some(2));
    assert!(
        text(&renamed.stderr).contains("renamed.yaml:"),
        "{}",
        text(&renamed.stderr)
    );

    // Whitespace and comments only: nothing to do, no event, no file.
    w.write(
        "same.yaml",
        &format!("# same\n{}\n\n", GATED.replace("  a:\n", "  a:   \n")),
    );
    let same = w.cli(&["edit", &id, "--file", "same.yaml"]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stderr));
    assert!(
        text(&same.stdout).contains("nothing changes"),
        "{}",
        text(&same.stdout)
    );

    let ok = w.cli(&["approve", &id, "gate"]);
    assert_eq!(ok.status.code(), Some(0));
    let done = live.finish();
    done.expect(0, "succeeded");
    assert!(edits(&done.events).is_empty(), "no edit applied");
    assert!(!w.run_dir(&id).join("revisions/1.yaml").exists());
    assert_eq!(w.ledger(), counts(&[("a", 1), ("c", 1)]));
}

#[test]
fn a_running_step_changes_only_with_rerun() {
    let w = Work::new();
    let wf = w.write(
        "wf.yaml",
        "name: slow\nsteps:\n  a:\n    run: echo old >> ledger; sleep 30\n  b:\n    needs: [a]\n    run: echo b >> ledger\n",
    );
    w.write(
        "fixed.yaml",
        "name: slow\nsteps:\n  a:\n    run: echo new >> ledger\n  b:\n    needs: [a]\n    run: echo b >> ledger\n",
    );
    let mut live = w.spawn(&["run", wf.to_str().unwrap()]);
    let id = live.run_id();
    live.wait_for("a running", |e| {
        e["type"] == "step_started" && e["step"] == "a"
    });
    let refused = w.cli(&["edit", &id, "--file", "fixed.yaml"]);
    assert_eq!(refused.status.code(), Some(2));
    let why = text(&refused.stderr);
    assert!(
        why.contains("fixed.yaml:4:5:"),
        "at the key that changed: {why}"
    );
    assert!(why.contains("--rerun a"), "says how: {why}");
    let out = w.cli(&["edit", &id, "--file", "fixed.yaml", "--rerun", "a"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let done = live.finish();
    done.expect(0, "succeeded");
    let edit = edits(&done.events)[0];
    assert_eq!(edit["diff"]["rerun"], serde_json::json!(["a"]));
    assert_eq!(w.ledger(), counts(&[("old", 1), ("new", 1), ("b", 1)]));
}

/// A pipeline whose last step has a typo.
const TYPO: &str = r#"
name: release
steps:
  build:
    run: echo build >> ledger
  test:
    needs: [build]
    run: echo test >> ledger
  deploy:
    needs: [test]
    run: echo deploy >> ledger; ech0 done
"#;

#[test]
fn a_finished_run_is_fixed_and_only_the_fixed_step_runs() {
    let w = Work::new();
    let wf = w.write("wf.yaml", TYPO);
    let first = w.spawn(&["run", wf.to_str().unwrap()]).finish();
    first.expect(1, "failed");
    let id = first.run_id().to_string();
    w.write("fixed.yaml", &TYPO.replace("ech0", "echo"));
    let mut edit = w.command(&["edit", &id, "--file", "fixed.yaml", "--rerun", "deploy"]);
    edit.args(["--headless", "--json"]);
    let done = Live::spawn(edit).finish();
    done.expect(0, "succeeded");
    assert_eq!(done.started_order(), ["deploy"]);
    assert_eq!(
        w.ledger(),
        counts(&[("build", 1), ("test", 1), ("deploy", 2)])
    );
    let journal = w.journal(&id);
    let edit = edits(&journal);
    assert_eq!(edit.len(), 1);
    assert_eq!(
        edit[0]["diff"]["changed"]["deploy"],
        serde_json::json!(["run"])
    );
    // The run goes on as the same run, and replays as one.
    let replay = w.cli(&["replay", &id, "--json"]);
    assert_eq!(replay.status.code(), Some(0), "{}", text(&replay.stderr));
}

#[test]
fn a_resume_uses_the_revision_and_refuses_an_altered_one() {
    let w = Work::new();
    let wf = w.write("wf.yaml", GATED);
    w.write("edited.yaml", GATED_B);
    let mut live = w.spawn(&["run", wf.to_str().unwrap()]);
    let id = live.run_id();
    live.wait_for("the gate", |e| e["type"] == "approval_requested");
    let out = w.cli(&["edit", &id, "--file", "edited.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    live.wait_for("the edit", |e| e["type"] == "dag_modified");
    live.kill9();
    // The user's files change; the run must not read them.
    std::fs::write(w.dir().join("edited.yaml"), "garbage").unwrap();
    std::fs::write(&wf, "garbage").unwrap();

    let revision = w.run_dir(&id).join("revisions/1.yaml");
    std::fs::write(&revision, GATED_B.replace("echo b", "echo B")).unwrap();
    let damaged = w.cli(&["resume", &id, "--headless"]);
    assert_eq!(damaged.status.code(), Some(2), "{}", text(&damaged.stderr));
    assert!(
        text(&damaged.stderr).contains("revisions/1.yaml"),
        "{}",
        text(&damaged.stderr)
    );

    std::fs::write(&revision, GATED_B).unwrap();
    let mut resume = w.command(&["resume", &id, "--approve", "gate"]);
    resume.args(["--headless", "--json"]);
    let done = Live::spawn(resume).finish();
    done.expect(0, "succeeded");
    assert_eq!(done.started_order(), ["a", "b", "c"]);
}
