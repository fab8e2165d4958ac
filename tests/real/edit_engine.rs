//! An edit applied by the engine, through the library as a front end
//! drives it (SPEC §2 "Edit a run", §3 `dag_modified`; issue 13): a live
//! run's graph changed (steps re-indexed under running work), what it
//! refuses, a `--rerun` of a running step, the revision file and its event
//! in their crash-safe order, and resume and retry across revisions.
//!
//! Steps append their id to `ledger` in the test's folder, so the file
//! tells every execution of every step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use signalbox::engine::edit::EditAsk;
use signalbox::engine::{By, Command, EngineError, Refusal, Run, RunHandle, RunOptions};
use signalbox::engine::{RunOutcome, RunStatus, Subscription};
use signalbox::workflow::{Workflow, load_str};

struct Work {
    tmp: tempfile::TempDir,
}

/// A started run and what it said so far.
struct Driver {
    handle: RunHandle,
    events: Subscription,
    seen: Vec<Value>,
    task: tokio::task::JoinHandle<RunOutcome>,
}

impl Work {
    fn new() -> Work {
        Work {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn options(&self) -> RunOptions {
        RunOptions {
            state_dir: self.dir().join("state"),
            workdir: Some(self.dir().to_path_buf()),
            seed: Some(1),
            ..RunOptions::default()
        }
    }

    fn start(&self, yaml: &str) -> Driver {
        let wf = load_str(yaml, "wf.yaml").unwrap_or_else(|d| panic!("{d}"));
        drive(Run::new(wf, self.options()).unwrap())
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

    fn revision(&self, id: &str, n: u32) -> PathBuf {
        self.run_dir(id).join(format!("revisions/{n}.yaml"))
    }
}

fn drive(mut run: Run) -> Driver {
    let events = run.subscribe();
    let handle = run.handle();
    Driver {
        handle,
        events,
        seen: Vec::new(),
        task: tokio::spawn(run.start()),
    }
}

/// The kept workflow, as `resume` loads it.
fn kept(path: &Path) -> Result<Workflow, String> {
    signalbox::workflow::load(path).map_err(|d| d.to_string())
}

impl Driver {
    async fn until(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(20), self.events.recv()).await;
            match next {
                Ok(Some(p)) => {
                    let v = serde_json::to_value(&p.envelope.event).unwrap();
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                _ => panic!("no {what}; so far: {:#?}", self.seen),
            }
        }
    }

    async fn finish(mut self) -> (RunOutcome, Vec<Value>) {
        while let Ok(Some(p)) =
            tokio::time::timeout(Duration::from_secs(20), self.events.recv()).await
        {
            self.seen
                .push(serde_json::to_value(&p.envelope.event).unwrap());
        }
        let outcome = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the run ends")
            .unwrap();
        (outcome, self.seen)
    }

    /// A crash: the run's task is dropped (its processes killed), the
    /// journal left without `run_finished`.
    async fn kill(self) -> String {
        let id = self.handle.run_id.to_string();
        self.task.abort();
        let _ = self.task.await;
        id
    }

    async fn edit(
        &self,
        yaml: &str,
        rerun: &[&str],
    ) -> Result<signalbox::engine::edit::Plan, Refusal> {
        self.handle.edit(ask(yaml, rerun), None).await
    }
}

fn ask(yaml: &str, rerun: &[&str]) -> EditAsk {
    EditAsk {
        source: yaml.to_string(),
        file: "edited.yaml".into(),
        rerun: rerun.iter().map(|s| s.to_string()).collect(),
        dry_run: false,
        by: By::Socket,
        revision: None,
    }
}

fn approve(step: &str) -> Command {
    Command::Approve {
        step: step.into(),
        by: By::Socket,
    }
}

fn started(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "step_started")
        .map(|e| e["step"].as_str().unwrap().to_string())
        .collect()
}

fn edits(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["type"] == "dag_modified" && e["action"] == "edit")
        .collect()
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

fn refusal_text(r: Result<signalbox::engine::edit::Plan, Refusal>) -> String {
    match r {
        Err(Refusal::Edit(plan)) => {
            assert!(!plan.applied);
            plan.diagnostics.join("\n")
        }
        other => panic!("not refused as an edit: {other:?}"),
    }
}

const GATED: &str = "name: gated
steps:
  gate:
    approval: { prompt: go? }
  a:
    needs: [gate]
    run: echo a >> ledger
  c:
    needs: [a]
    run: echo c >> ledger
";

/// [`GATED`] with `b` between `a` and `c` (and keys of `a` reordered).
const GATED_B: &str = "name: gated
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
";

#[tokio::test]
async fn an_added_step_runs_between_two_pending_ones_and_its_revision_is_kept() {
    let w = Work::new();
    let mut d = w.start(GATED);
    d.until("the gate", |e| e["type"] == "approval_requested")
        .await;
    let plan = d.edit(GATED_B, &[]).await.unwrap();
    assert!(plan.applied);
    assert_eq!(plan.revision, 1);
    let edit = d.until("the edit", |e| e["type"] == "dag_modified").await;
    assert_eq!(edit["action"], "edit");
    assert_eq!(edit["revision"], 1);
    assert_eq!(edit["by"], "socket");
    assert_eq!(edit["steps"], serde_json::json!(["b", "c"]));
    assert_eq!(edit["diff"]["added"], serde_json::json!(["b"]));
    let id = d.handle.run_id.to_string();
    let bytes = std::fs::read(w.revision(&id, 1)).unwrap();
    assert_eq!(bytes, GATED_B.as_bytes());
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(edit["sha256"], sha);
    d.handle.request(approve("gate")).await.unwrap();
    let (outcome, events) = d.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(started(&events), ["a", "b", "c"]);
    assert_eq!(
        std::fs::read_to_string(w.dir().join("ledger")).unwrap(),
        "a\nb\nc\n"
    );
}

#[tokio::test]
async fn a_refused_edit_says_where_and_changes_nothing() {
    let w = Work::new();
    let mut d = w.start(GATED);
    d.until("the gate", |e| e["type"] == "approval_requested")
        .await;
    // `a` removed while `c` still needs it: line 5 is `c`'s needs.
    let gone = "name: gated\nsteps:\n  gate:\n    approval: { prompt: go? }\n  c:\n    needs: [a]\n    run: echo c >> ledger\n";
    let why = refusal_text(d.edit(gone, &[]).await);
    assert!(why.contains("edited.yaml:6:"), "{why}");
    assert!(why.contains("`a`"), "{why}");
    let cycle = "name: gated\nsteps:\n  gate:\n    approval: { prompt: go? }\n  a:\n    needs: [gate, c]\n    run: echo a\n  c:\n    needs: [a]\n    run: echo c\n";
    let why = refusal_text(d.edit(cycle, &[]).await);
    assert!(why.contains("edited.yaml:"), "{why}");
    assert!(
        why.contains("a -> c -> a") || why.contains("c -> a -> c"),
        "{why}"
    );
    // Whitespace and a comment only: nothing applies, and nothing is kept.
    let same = format!("# the same\n{}\n\n", GATED.replace("  a:\n", "  a:   \n"));
    let plan = d.edit(&same, &[]).await.unwrap();
    assert!(!plan.applied);
    assert!(plan.is_noop(), "{plan:?}");
    let id = d.handle.run_id.to_string();
    assert!(!w.run_dir(&id).join("revisions").exists());
    d.handle.request(approve("gate")).await.unwrap();
    let (outcome, events) = d.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert!(edits(&events).is_empty(), "{events:#?}");
    assert_eq!(w.ledger(), counts(&[("a", 1), ("c", 1)]));
}

#[tokio::test]
async fn a_running_step_changes_only_with_rerun_and_then_runs_again() {
    let w = Work::new();
    let old = "name: slow\nsteps:\n  a:\n    run: echo old >> ledger; sleep 30\n  b:\n    needs: [a]\n    run: echo b >> ledger\n";
    let new = "name: slow\nsteps:\n  a:\n    run: echo new >> ledger\n  b:\n    needs: [a]\n    run: echo b >> ledger\n";
    let mut d = w.start(old);
    d.until("a running", |e| {
        e["type"] == "step_started" && e["step"] == "a"
    })
    .await;
    let why = refusal_text(d.edit(new, &[]).await);
    assert!(why.contains("edited.yaml:4:5:"), "{why}");
    assert!(why.contains("--rerun a"), "{why}");
    let plan = d.edit(new, &["a"]).await.unwrap();
    assert!(plan.applied);
    let stopped = d
        .until("the old attempt stopped", |e| e["type"] == "step_cancelled")
        .await;
    assert_eq!(stopped["step"], "a");
    assert_eq!(stopped["reason"], "rerun");
    let again = d
        .until("a again", |e| {
            e["type"] == "step_started" && e["step"] == "a"
        })
        .await;
    assert_eq!(again["attempt"], 1);
    let (outcome, events) = d.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{events:#?}");
    assert_eq!(edits(&events)[0]["diff"]["rerun"], serde_json::json!(["a"]));
    assert_eq!(w.ledger(), counts(&[("old", 1), ("new", 1), ("b", 1)]));
}

#[tokio::test]
async fn a_revision_no_event_names_is_ignored_and_one_named_is_used() {
    let w = Work::new();
    let mut d = w.start(GATED);
    d.until("the gate", |e| e["type"] == "approval_requested")
        .await;
    let id = d.handle.run_id.to_string();
    // A crash between the revision's write and its event leaves this.
    std::fs::create_dir_all(w.run_dir(&id).join("revisions")).unwrap();
    std::fs::write(w.revision(&id, 1), "garbage").unwrap();
    d.kill().await;
    let run = Run::resume(&id, w.options(), kept).unwrap();
    let mut d = drive(run);
    d.until("the gate again", |e| e["type"] == "approval_requested")
        .await;
    // The next edit takes its number and replaces it.
    let plan = d.edit(GATED_B, &[]).await.unwrap();
    assert_eq!(plan.revision, 1);
    assert_eq!(
        std::fs::read(w.revision(&id, 1)).unwrap(),
        GATED_B.as_bytes()
    );
    d.until("the edit", |e| e["type"] == "dag_modified").await;
    // A crash after the event: the resumed run is the edited one.
    d.kill().await;
    std::fs::write(w.dir().join("ledger"), "").unwrap();
    let mut options = w.options();
    options
        .presets
        .insert("gate".into(), signalbox::engine::Preset::Approve);
    let run = Run::resume(&id, options, kept).unwrap();
    assert_eq!(run.workflow().steps.len(), 4, "resumed on revision 1");
    let (outcome, events) = drive(run).finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{events:#?}");
    assert_eq!(started(&events), ["a", "b", "c"]);
}

#[tokio::test]
async fn a_missing_or_altered_revision_is_damage() {
    let w = Work::new();
    let mut d = w.start(GATED);
    d.until("the gate", |e| e["type"] == "approval_requested")
        .await;
    d.edit(GATED_B, &[]).await.unwrap();
    d.until("the edit", |e| e["type"] == "dag_modified").await;
    let id = d.kill().await;
    let revision = w.revision(&id, 1);
    let refused = |why: Result<Run, EngineError>| match why {
        Err(EngineError::Resume(m)) => m,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("resumed on a damaged revision"),
    };
    std::fs::write(&revision, GATED_B.replace("echo b", "echo B")).unwrap();
    let why = refused(Run::resume(&id, w.options(), kept));
    assert!(why.contains("damaged journal line"), "{why}");
    assert!(why.contains("revisions/1.yaml"), "{why}");
    assert!(why.contains("SHA-256"), "{why}");
    std::fs::remove_file(&revision).unwrap();
    let why = refused(Run::resume(&id, w.options(), kept));
    assert!(why.contains("damaged journal line"), "{why}");
    assert!(why.contains("revisions/1.yaml"), "{why}");
    // Put back, it resumes.
    std::fs::write(&revision, GATED_B).unwrap();
    assert!(Run::resume(&id, w.options(), kept).is_ok());
}

/// `test` succeeds once `ok` exists; each step writes its id only when it
/// succeeds.
const PIPELINE: &str = "name: release
steps:
  build:
    run: echo build >> ledger
  test:
    needs: [build]
    run: test -f ok && echo test >> ledger
  deploy:
    needs: [test]
    run: echo deploy >> ledger
";

#[tokio::test]
async fn across_a_run_an_edit_and_a_retry_each_succeeded_step_ran_once() {
    let w = Work::new();
    let (first, _) = w.start(PIPELINE).finish().await;
    assert_eq!(first.status, RunStatus::Failed);
    let id = first.run_id.clone();
    // The finished run edited: a new step after `build`.
    let edited = PIPELINE.replace(
        "  deploy:",
        "  notes:\n    needs: [build]\n    run: echo notes >> ledger\n  deploy:",
    );
    let (run, plan) = Run::edit(&id, w.options(), kept, ask(&edited, &[])).unwrap();
    assert!(!plan.refused(), "{plan:?}");
    assert!(
        plan.steps
            .iter()
            .any(|s| s.mark == '+' && s.step == "notes")
    );
    let (second, events) = drive(run).finish().await;
    assert_eq!(second.status, RunStatus::Failed, "{events:#?}");
    assert_eq!(started(&events), ["notes"]);
    assert_eq!(edits(&events).len(), 1);
    // Then retried, on the edited graph, once `test` can pass.
    std::fs::write(w.dir().join("ok"), "").unwrap();
    let retry = signalbox::engine::retry::RetryAsk {
        steps: Vec::new(),
        downstream: false,
        by: By::Flag,
        user: None,
    };
    let run = Run::retry(&id, w.options(), kept, retry).unwrap();
    assert_eq!(run.workflow().steps.len(), 4);
    let (third, events) = drive(run).finish().await;
    assert_eq!(third.status, RunStatus::Succeeded, "{events:#?}");
    assert_eq!(started(&events), ["test", "deploy"]);
    assert_eq!(
        w.ledger(),
        counts(&[("build", 1), ("deploy", 1), ("notes", 1), ("test", 1)])
    );
    // The next edit's number goes on from the journal's last.
    let again = edited.replace("echo notes", "echo NOTES");
    let mut dry = ask(&again, &["notes"]);
    dry.dry_run = true;
    let (run, plan) = Run::edit(&id, w.options(), kept, dry).unwrap();
    assert_eq!(plan.revision, 2, "{plan:?}");
    drop(run);
    assert!(!w.revision(&id, 2).exists(), "a dry run writes nothing");
}

#[tokio::test]
async fn a_live_run_is_edited_in_it_not_beside_it() {
    let w = Work::new();
    let mut d = w.start(GATED);
    d.until("the gate", |e| e["type"] == "approval_requested")
        .await;
    let id = d.handle.run_id.to_string();
    match Run::edit(&id, w.options(), kept, ask(GATED_B, &[])) {
        Err(EngineError::Resume(why)) => assert!(why.contains("is live"), "{why}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a second process took the live run"),
    }
    d.kill().await;
}

#[tokio::test]
async fn a_revision_that_cannot_be_written_refuses_the_edit_and_changes_nothing() {
    let w = Work::new();
    let mut d = w.start(GATED);
    d.until("the gate", |e| e["type"] == "approval_requested")
        .await;
    let id = d.handle.run_id.to_string();
    // A file where the folder of revisions goes.
    std::fs::write(w.run_dir(&id).join("revisions"), "").unwrap();
    let why = refusal_text(d.edit(GATED_B, &[]).await);
    assert!(why.contains("cannot write"), "{why}");
    assert!(why.contains("revisions/1.yaml"), "{why}");
    d.handle.request(approve("gate")).await.unwrap();
    let (outcome, events) = d.finish().await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert!(edits(&events).is_empty(), "{events:#?}");
    assert_eq!(started(&events), ["a", "c"]);
}
