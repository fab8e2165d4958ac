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
    wait_for_n(state, kind, 1)
}

/// The journal once it holds `n` events of type `kind`.
fn wait_for_n(state: &Path, kind: &str, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = journal(state);
        if events.iter().filter(|e| e["type"] == kind).count() >= n {
            return events;
        }
        assert!(Instant::now() < deadline, "not {n} {kind} in {events:?}");
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

/// Exit 2, nothing on stdout, one `error: ...` line on stderr that says why.
fn refused(out: &std::process::Output, why: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(why), "{why:?} not in {stderr:?}");
}

/// A headless run of `workflow` (relative to the package) with no terminal
/// on stdin: only the socket can resolve its waits.
fn headless(workflow: &str, state: &Path) -> std::process::Child {
    Command::new(BIN)
        .args(["run", "--headless", "--state-dir"])
        .arg(state)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(workflow))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Exit 0 and silent.
fn taken(out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{stderr}");
}

#[test]
fn another_terminal_answers_and_approves_a_headless_run() {
    let state = tempfile::tempdir().unwrap();
    let mut run = headless("workflows/release.yaml", state.path());
    let events = wait_for(state.path(), "question_asked");
    let id = events[0]["run"].as_str().unwrap().to_string();

    let wrong = cli(&["answer", &id, "notes", "Not a choice"], state.path());
    refused(
        &wrong,
        "`Not a choice` is not one of the choices of `notes`",
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
    let said = String::from_utf8_lossy(&gone.stderr);
    assert!(
        said.contains(&format!("run {id} is over (succeeded)")),
        "{said}"
    );
    assert!(
        !state
            .path()
            .join("runs")
            .join(&id)
            .join("control.sock")
            .exists()
    );
    // A run that is not there cannot be reached either (SPEC §4).
    let unknown = cli(&["approve", "no-such-run", "go-live"], state.path());
    assert_eq!(unknown.status.code(), Some(1));
}

/// What the run cannot apply is refused with its reason and exit 2, and
/// leaves the waits as they were; what fits is taken, silently.
#[test]
fn commands_that_do_not_fit_the_run_are_refused() {
    let state = tempfile::tempdir().unwrap();
    let mut run = headless("tests/fixtures/run/refusals.yaml", state.path());
    wait_for(state.path(), "approval_requested");
    wait_for(state.path(), "question_asked");
    let events = wait_for(state.path(), "step_succeeded");
    let id = events[0]["run"].as_str().unwrap().to_string();
    let say = |args: &[&str]| {
        let mut all = vec![args[0], id.as_str()];
        all.extend(&args[1..]);
        cli(&all, state.path())
    };

    refused(&say(&["approve", "nosuch"]), "no step `nosuch`");
    refused(&say(&["reject", "gat"]), "did you mean `gate`?");
    refused(
        &say(&["answer", "q", "green"]),
        "`green` is not one of the choices of `q`: red, blue",
    );
    refused(
        &say(&["approve", "q"]),
        "`q` is a question, not an approval: answer it with one of red, blue",
    );
    for text in ["foo", "yes"] {
        refused(
            &say(&["answer", "gate", text]),
            "`gate` is an approval, not a question: approve or reject it",
        );
    }
    refused(&say(&["approve", "build"]), "step `build` runs a command");
    refused(
        &say(&["approve", "announce"]),
        "step `announce` has no open wait (status: pending)",
    );
    let untouched = journal(state.path());
    assert!(
        !untouched.iter().any(|e| {
            [
                "approval_resolved",
                "question_answered",
                "step_failed",
                "dag_modified",
            ]
            .contains(&e["type"].as_str().unwrap_or(""))
        }),
        "a refused command changed the run: {untouched:?}"
    );

    taken(&say(&["answer", "q", "blue"]));
    let again = say(&["answer", "q", "red"]);
    refused(&again, "`q`");
    taken(&say(&["approve", "gate"]));
    wait_for_n(state.path(), "approval_requested", 2);
    taken(&say(&["approve", "announce"]));
    assert_eq!(run.wait().unwrap().code(), Some(0));

    let events = journal(state.path());
    let of = |ty: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|e| e["type"] == ty).collect()
    };
    let answered = of("question_answered");
    assert_eq!(answered.len(), 1, "{events:?}");
    assert_eq!(
        (&answered[0]["answer"], &answered[0]["by"]),
        (&"blue".into(), &"socket".into())
    );
    let resolved = of("approval_resolved");
    assert_eq!(resolved.len(), 2, "{events:?}");
    for r in resolved {
        assert_eq!((&r["approved"], &r["by"]), (&true.into(), &"socket".into()));
    }
}
