//! Breakers across a resume, on the graph, and a live retry that resets
//! what a finished-run retry resets (issue 13). Through the binary: a
//! breaker that was open (by its failures or an operator) when the run was
//! killed is open when it resumes, its cooldown counted from the journaled
//! time, and the resumed journal passes the checker (`breakers13/resume.rs`);
//! `R` or the socket's `retry` of a failed step on a live run returns its
//! cancelled dependents to pending as well as its skipped ones
//! (`breakers13/retry.rs`); each step behind an open breaker says so in its
//! box, with the countdown (`breakers13/screen.rs`, `TestBackend` and tmux).

mod resume;
mod retry;
mod screen;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::{BIN, Live};

/// A folder for one test: its workflow, its state dir, its ledger.
struct Work {
    tmp: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        Work {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn state(&self) -> PathBuf {
        self.path("state")
    }

    /// The workflow, with `LEDGER` standing for the ledger file's path.
    fn write(&self, yaml: &str) -> PathBuf {
        let file = self.path("flow.yaml");
        let yaml = yaml.replace("LEDGER", &self.ledger_path().display().to_string());
        std::fs::write(&file, yaml).unwrap();
        file
    }

    fn ledger_path(&self) -> PathBuf {
        self.path("ledger")
    }

    /// One line per time a step's command ran (each appends its name).
    fn ledger(&self) -> Vec<String> {
        std::fs::read_to_string(self.ledger_path())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// `signalbox ARGS --headless --json --state-dir STATE`, nothing on stdin.
    fn spawn(&self, args: &[&str]) -> Live {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .args(["--headless", "--json", "--state-dir"])
            .arg(self.state())
            .stdin(Stdio::null());
        Live::spawn(cmd)
    }

    fn start(&self, file: &Path) -> Live {
        self.spawn(&["run", file.to_str().unwrap()])
    }

    fn resume(&self, id: &str) -> Live {
        self.spawn(&["resume", id])
    }

    /// `signalbox ARGS --state-dir STATE`, to its end.
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--state-dir")
            .arg(self.state())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn run_dir(&self, id: &str) -> PathBuf {
        self.state().join("runs").join(id)
    }

    /// The whole journal, every segment, as JSON.
    fn journal(&self, id: &str) -> Vec<Value> {
        std::fs::read_to_string(self.run_dir(id).join("events.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The journal checker (the one `resume` and `replay` run) on the
    /// whole journal, against the run's own copy of the workflow.
    fn check_journal(&self, id: &str) {
        let dir = self.run_dir(id);
        let replayed = signalbox::engine::journal::read_journal(&dir.join("events.jsonl")).unwrap();
        let wf = signalbox::workflow::load(&dir.join("workflow.yaml")).unwrap();
        if let Err(e) = signalbox::engine::journal_check::check_all(&wf, id, &replayed.events) {
            panic!(
                "the journal does not pass the check: {e:?}\n{}",
                crate::common::dump(&self.journal(id))
            );
        }
    }
}

/// Exit 0 and nothing said.
fn taken(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(out.stderr.is_empty(), "{stderr}");
}

/// The events after the last `run_started`: what the resumed part did.
fn last_segment(events: &[Value]) -> &[Value] {
    let at = events
        .iter()
        .rposition(|e| e["type"] == "run_started")
        .unwrap();
    &events[at..]
}

fn is(e: &Value, ty: &str, step: &str) -> bool {
    crate::common::is(e, ty, step)
}

fn me() -> String {
    signalbox::engine::who::login_name(nix::unistd::Uid::effective())
}
