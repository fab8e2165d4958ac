//! Operators take the breakers in hand (SPEC §2 "Breakers can be reset",
//! §4 `signalbox breaker RUN NAME reset|open`, §5 `B`): through the binary,
//! a reset lets a tripped breaker's step through at its next attempt, an
//! open makes the next attempt fail with the breaker's error, both
//! journaled with `by` and `user`; what would change nothing, and names
//! that are not breakers, are refused with exit 2; `B` on a screen asks,
//! then journals `by: keyboard`. The screen's side (`B`'s dialog, its
//! refusals, the status line's countdown) in `breaker/screen.rs`; the
//! refusals through the engine's API in `breaker/engine.rs`.

mod engine;
mod screen;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::tmux::{Session, tmux_session};
use crate::common::{BIN, Live, dump};

/// A folder for one test: its workflow and its state dir.
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

    fn write(&self, yaml: &str) -> PathBuf {
        let file = self.path("flow.yaml");
        std::fs::write(&file, yaml).unwrap();
        file
    }

    /// `run FILE --headless --json`, nothing on stdin: only the socket acts.
    fn start(&self, file: &Path) -> Live {
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--headless", "--json"])
            .arg(file)
            .arg("--state-dir")
            .arg(self.state())
            .stdin(Stdio::null());
        Live::spawn(cmd)
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
}

fn me() -> String {
    signalbox::engine::who::login_name(nix::unistd::Uid::effective())
}

/// Exit 0, and nothing said.
fn taken(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{stderr}");
}

/// Exit 2, one `error:` line on stderr that says `why`.
fn refused(out: &Output, why: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(why), "{why:?} not in {stderr:?}");
}

fn breaker_events(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["type"] == "breaker_changed")
        .collect()
}

/// `publish` fails its first attempt and trips `registry` (one failure, an
/// hour's cooldown); its later attempts fail fast until someone resets it,
/// and the first that runs succeeds.
fn tripping(work: &Work, delay: &str) -> PathBuf {
    let mark = work.path("failed-once");
    work.write(&format!(
        r#"
name: reg
breakers:
  registry: {{ failures: 1, cooldown: 1h }}
steps:
  publish:
    breaker: registry
    retry: {{ attempts: 1000, delay: {delay}, factor: 1, jitter: none }}
    run: test -f {mark} || {{ touch {mark}; exit 1; }}
"#,
        mark = mark.display()
    ))
}

#[test]
fn a_reset_lets_the_next_attempt_of_a_tripped_breaker_through() {
    let work = Work::new();
    let file = tripping(&work, "100ms");
    let mut run = work.start(&file);
    let id = run.run_id();
    run.wait_for("an attempt failed by the open breaker", |e| {
        e["type"] == "step_retrying" && e["error"] == "breaker registry is open"
    });
    taken(&work.cli(&["breaker", &id, "registry", "reset"]));
    let done = run.finish();
    done.expect(0, "succeeded");

    let changes = breaker_events(&done.events);
    assert_eq!(changes.len(), 2, "{}", done.dump());
    let tripped = changes[0].as_object().unwrap();
    assert_eq!(tripped["state"], "open");
    assert!(
        !tripped.contains_key("by") && !tripped.contains_key("user"),
        "the breaker's own change names nobody: {tripped:?}"
    );
    assert_eq!(changes[1]["state"], "closed");
    assert_eq!(changes[1]["by"], "socket");
    assert_eq!(changes[1]["user"], me().as_str());
    assert!(
        done.stderr
            .contains("⊗ breaker registry is closed by socket"),
        "the headless line says who: {}",
        done.stderr
    );

    // After the reset the next attempt runs (and succeeds), none fails fast.
    let reset_at = done
        .events
        .iter()
        .position(|e| e["type"] == "breaker_changed" && e["state"] == "closed")
        .unwrap();
    let after = &done.events[reset_at..];
    let started = after.iter().find(|e| e["type"] == "step_started").unwrap();
    let succeeded = after
        .iter()
        .find(|e| e["type"] == "step_succeeded")
        .unwrap();
    assert_eq!(started["attempt"], succeeded["attempt"], "{}", done.dump());
    assert!(
        !after
            .iter()
            .any(|e| e["error"] == "breaker registry is open"),
        "{}",
        dump(after)
    );
}

/// `publish` waits behind the approval `go`; `registry` starts closed.
const GATED: &str = r#"
name: gate
breakers:
  registry: { failures: 3, cooldown: 1h }
steps:
  go:
    approval: { prompt: "Go?" }
  publish:
    needs: [go]
    breaker: registry
    run: echo published
"#;

#[test]
fn open_fails_the_next_attempt_and_what_changes_nothing_is_refused() {
    let work = Work::new();
    let file = work.write(GATED);
    let mut run = work.start(&file);
    let id = run.run_id();
    run.wait_for("the approval", |e| e["type"] == "approval_requested");

    refused(
        &work.cli(&["breaker", &id, "registy", "reset"]),
        "no breaker `registy` in workflow `gate` (did you mean `registry`?)",
    );
    refused(
        &work.cli(&["breaker", &id, "zzz", "open"]),
        "no breaker `zzz` in workflow `gate` (it has registry)",
    );
    refused(
        &work.cli(&["breaker", &id, "registry", "reset"]),
        "breaker `registry` is already closed: there is nothing to reset",
    );
    taken(&work.cli(&["breaker", &id, "registry", "open"]));
    refused(
        &work.cli(&["breaker", &id, "registry", "open"]),
        "breaker `registry` is already open (half-open in 59m",
    );
    taken(&work.cli(&["approve", &id, "go"]));

    let done = run.finish();
    done.expect(1, "failed");
    let failed = done.one("step_failed", "publish");
    assert_eq!(
        failed["error"],
        "breaker registry is open",
        "{}",
        done.dump()
    );
    assert!(!done.has("step_started", "publish"), "{}", done.dump());
    let changes = breaker_events(&done.events);
    assert_eq!(
        changes.len(),
        1,
        "refusals journal nothing: {}",
        done.dump()
    );
    assert_eq!(changes[0]["state"], "open");
    assert_eq!(changes[0]["by"], "socket");
    assert_eq!(changes[0]["user"], me().as_str());
}

#[test]
fn a_forced_open_breaker_turns_half_open_after_its_cooldown() {
    let work = Work::new();
    let file = work.write(
        &GATED
            .replace("cooldown: 1h", "cooldown: 300ms")
            .replace(
                "    run: echo published",
                "    retry: { attempts: 100, delay: 100ms, factor: 1, jitter: none }\n    run: echo published",
            ),
    );
    let mut run = work.start(&file);
    let id = run.run_id();
    run.wait_for("the approval", |e| e["type"] == "approval_requested");
    taken(&work.cli(&["breaker", &id, "registry", "open"]));
    taken(&work.cli(&["approve", &id, "go"]));
    let done = run.finish();
    done.expect(0, "succeeded");
    let states: Vec<(&str, bool)> = breaker_events(&done.events)
        .iter()
        .map(|e| (e["state"].as_str().unwrap(), e.get("by").is_some()))
        .collect();
    assert_eq!(
        states,
        [("open", true), ("half_open", false), ("closed", false)],
        "{}",
        done.dump()
    );
    // The attempt that ran came after the cooldown, as one probe.
    let half = done
        .events
        .iter()
        .position(|e| e["state"] == "half_open")
        .unwrap();
    assert!(
        done.pos("step_started", "publish") > half,
        "{}",
        done.dump()
    );
    assert_eq!(
        done.of("step_started", "publish").len(),
        1,
        "{}",
        done.dump()
    );
}

#[test]
fn a_run_that_cannot_be_reached_or_a_verb_that_is_none_exit_as_spec_says() {
    let work = Work::new();
    let out = work.cli(&["breaker", "no-such-run", "registry", "reset"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = work.cli(&["breaker", "no-such-run", "registry", "close"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let help = Command::new(BIN)
        .args(["breaker", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("signalbox breaker "), "{help}");
    assert!(help.contains("Exit codes: 0"), "{help}");
}

/// The journal once `pred` holds for one of its events.
fn journal_until(state: &Path, what: &str, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let events = crate::common::tmux::journal(state);
        if events.iter().any(&pred) {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} in the journal:\n{}",
            dump(&events)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn b_on_the_screen_resets_the_breaker_by_keyboard() {
    let Some((session, _state)) = tmux_session("sb-breaker") else {
        return;
    };
    let work = Work::new();
    let file = tripping(&work, "300ms");
    start_screen(&session, &file, &work.state());
    journal_until(&work.state(), "a fast failure", |e| {
        e["error"] == "breaker registry is open"
    });
    session.wait_for("⊗ registry open", 10);
    session.keys(&["B"]);
    session.wait_for("Reset breaker registry (open)?", 5);
    session.keys(&["y"]);
    let events = journal_until(&work.state(), "the reset", |e| {
        e["type"] == "breaker_changed" && e["state"] == "closed"
    });
    let reset = events
        .iter()
        .find(|e| e["type"] == "breaker_changed" && e["state"] == "closed")
        .unwrap();
    assert_eq!(reset["by"], "keyboard", "{reset}");
    assert_eq!(reset["user"], me().as_str(), "{reset}");
    journal_until(&work.state(), "run_finished", |e| {
        e["type"] == "run_finished"
    });
    session.wait_for("succeeded in", 10);
    session.keys(&["q"]);
    let screen = session.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=0"), "{screen}");
}

fn start_screen(session: &Session, file: &Path, state: &Path) {
    session.start_sized(
        &format!(
            "{bin} run {file} --state-dir {state}; echo \"EXIT=$?\"; sleep 60",
            bin = BIN,
            file = file.display(),
            state = state.display(),
        ),
        120,
        32,
    );
}
