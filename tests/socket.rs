//! Resolving waits from another terminal through a run's control socket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_signalbox");

fn journal(state: &Path) -> Vec<serde_json::Value> {
    let runs = state.join("runs");
    let Ok(mut entries) = std::fs::read_dir(&runs) else {
        return Vec::new();
    };
    let Some(Ok(run)) = entries.next() else {
        return Vec::new();
    };
    let text = std::fs::read_to_string(run.path().join("events.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn wait_for(state: &Path, kind: &str) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = journal(state);
        if events.iter().any(|e| e["type"] == kind) {
            return events;
        }
        assert!(Instant::now() < deadline, "no {kind} in {events:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn cli(args: &[&str], state: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .unwrap()
}

#[test]
fn another_terminal_answers_and_approves_a_headless_run() {
    let state = tempfile::tempdir().unwrap();
    let workflow = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/release.yaml");
    let mut run = Command::new(BIN)
        .args(["run", "--headless", "--state-dir"])
        .arg(state.path())
        .arg(&workflow)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let events = wait_for(state.path(), "question_asked");
    let id = events[0]["run"].as_str().unwrap().to_string();

    let wrong = cli(&["answer", &id, "notes", "Not a choice"], state.path());
    assert!(
        wrong.status.success(),
        "the run takes the command and ignores it"
    );
    let ok = cli(&["answer", &id, "notes", "Performance"], state.path());
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    wait_for(state.path(), "approval_requested");
    let ok = cli(&["approve", &id, "go-live"], state.path());
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    assert_eq!(run.wait().unwrap().code(), Some(0));
    let events = journal(state.path());
    let answered: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "question_answered")
        .collect();
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["answer"], "Performance");
    assert_eq!(answered[0]["by"], "socket");
    let approved = events
        .iter()
        .find(|e| e["type"] == "approval_resolved")
        .unwrap();
    assert_eq!(
        (&approved["approved"], &approved["by"]),
        (&true.into(), &"socket".into())
    );

    let gone = cli(&["approve", &id, "go-live"], state.path());
    assert_eq!(
        gone.status.code(),
        Some(1),
        "the run is over: nothing listens"
    );
    assert!(
        !state
            .path()
            .join("runs")
            .join(&id)
            .join("control.sock")
            .exists()
    );
    let unknown = cli(&["approve", "no-such-run", "go-live"], state.path());
    assert_eq!(unknown.status.code(), Some(2));
}
