//! The keys of the wait queue on the real binary in an 80x24 tmux window,
//! and `approve` / `answer` through the socket: what the journal records.

use std::time::Duration;

use serde_json::Value;

use crate::common::tmux::{Session, journal, tmux_session};

// ---------------------------------------------------------------------------
// The binary in tmux: the keys reach the engine
// ---------------------------------------------------------------------------

const LIVE: &str = r#"
name: live-waits
steps:
  flaky:
    run: 'test -f "$MARK" || { touch "$MARK"; echo broken >&2; exit 1; }'
  after:
    needs: [flaky]
    run: echo after
  low:
    priority: 1
    approval: { prompt: "Restart the cache?" }
  mid:
    priority: 5
    approval: { prompt: "Rotate the staging keys?" }
  high:
    priority: 9
    approval: { prompt: "Deploy to production?", timeout: 7d }
  approval:
    ask:
      question: "Ship it? This rolls the release out to every region, and the old one is gone for good after that."
      choices: [YES, NO]
      default: NO
"#;

/// `signalbox run` of [`LIVE`] on an 80x24 screen, until `high` waits.
fn start(name: &str) -> Option<(Session, tempfile::TempDir)> {
    let (session, state) = tmux_session(name)?;
    let file = state.path().join("live.yaml");
    std::fs::write(&file, LIVE).unwrap();
    let command = format!(
        "MARK={mark} {bin} run {file} --state-dir {dir}; echo \"EXIT=$?\"; sleep 60",
        mark = state.path().join("mark").display(),
        bin = crate::common::BIN,
        file = file.display(),
        dir = state.path().join("state").display(),
    );
    session.start_sized(&command, 80, 24);
    session.wait_for("Deploy to production?", 20);
    Some((session, state))
}

fn events(state: &tempfile::TempDir) -> Vec<Value> {
    journal(&state.path().join("state"))
}

fn count(events: &[Value], ty: &str) -> usize {
    events.iter().filter(|e| e["type"] == ty).count()
}

/// Waits until the journal holds `n` events of type `ty`.
fn until(state: &tempfile::TempDir, ty: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let events = events(state);
        if count(&events, ty) >= n {
            return events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} {ty} never came:\n{}",
            crate::common::dump(&events)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Leaves the screen: `q`, `y` when it asks, then the shell's exit line.
fn quit(session: &Session) -> String {
    session.keys(&["q"]);
    // A live run asks first; the question may take a frame to show.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let screen = session.screen();
        if screen.contains("EXIT=") {
            return screen;
        }
        if screen.contains("quit?") {
            session.keys(&["y"]);
            break;
        }
        if std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    session.wait_for("EXIT=", 20)
}

#[test]
fn on_the_screen_a_twice_approves_only_the_top_wait() {
    let Some((session, state)) = start("sb-waits-twice") else {
        return;
    };
    let screen = session.wait_for("7d00h", 5);
    assert!(!screen.contains("168:"), "{screen}");
    session.keys(&["a", "a"]);
    let first = until(&state, "approval_resolved", 1);
    session.wait_for("no wait is selected", 5);
    // Time for a second approval to reach the journal, if one had been sent.
    std::thread::sleep(Duration::from_millis(500));
    let all = events(&state);
    assert_eq!(
        count(&all, "approval_resolved"),
        1,
        "{}",
        crate::common::dump(&all)
    );
    let resolved = first
        .iter()
        .find(|e| e["type"] == "approval_resolved")
        .unwrap();
    assert_eq!(resolved["step"], "high");
    assert_eq!(resolved["by"], "keyboard");
    // `w` selects the top one again: mid.
    session.keys(&["w", "a"]);
    let both = until(&state, "approval_resolved", 2);
    let second = both
        .iter()
        .filter(|e| e["type"] == "approval_resolved")
        .nth(1)
        .unwrap();
    assert_eq!(second["step"], "mid");
    let screen = quit(&session);
    assert!(screen.contains("EXIT=130"), "{screen}");
}

#[test]
fn on_the_screen_yes_answers_a_question_with_choices_yes_and_no_as_yes() {
    let Some((session, state)) = start("sb-waits-yes") else {
        return;
    };
    // Approve the three approvals, top first, each selected anew.
    for _ in 0..3 {
        session.keys(&["w", "a"]);
    }
    until(&state, "approval_resolved", 3);
    // Only the question is left: its whole text and choices show.
    session.keys(&["w"]);
    let screen = session.wait_for("gone for good after that.", 5);
    assert!(screen.contains("YES | NO"), "{screen}");
    assert!(!screen.contains("a approve"), "{screen}");
    // `a` on it answers nothing.
    session.keys(&["a"]);
    session.wait_for("press Enter to answer it", 5);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(&events(&state), "question_answered"), 0);
    // A text that is no choice is refused in the box; `yes` is YES.
    session.keys(&["Enter"]);
    session.wait_for("answer approval", 5);
    session.type_text("yep");
    session.keys(&["Enter"]);
    session.wait_for("not one of the choices", 5);
    for _ in 0..3 {
        session.keys(&["BSpace"]);
    }
    session.type_text("yes");
    session.keys(&["Enter"]);
    let all = until(&state, "question_answered", 1);
    let answered = all
        .iter()
        .find(|e| e["type"] == "question_answered")
        .unwrap();
    assert_eq!(answered["answer"], "YES");
    assert_eq!(answered["by"], "keyboard");
    quit(&session);
}

#[test]
fn on_the_screen_retry_asks_and_n_leaves_the_step_alone() {
    let Some((session, state)) = start("sb-waits-retry") else {
        return;
    };
    until(&state, "step_skipped", 1);
    // The screen has drawn the failure too (on a busy machine it may lag
    // the journal): `R` retries only a step it shows failed.
    session.wait_for("✗1", 10);
    // The graph's selection starts on the first step: flaky.
    session.keys(&["R"]);
    session.wait_for("Retry flaky?", 5);
    let screen = session.wait_for("retry? y/n", 1);
    assert!(
        screen.contains("dependent returns to pending"),
        "what the retry moves:\n{screen}"
    );
    session.keys(&["n"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        count(&events(&state), "dag_modified"),
        0,
        "n retries nothing"
    );
    session.keys(&["R"]);
    session.wait_for("Retry flaky?", 5);
    session.keys(&["y"]);
    let all = until(&state, "step_succeeded", 2);
    let retry = all.iter().find(|e| e["type"] == "dag_modified").unwrap();
    assert_eq!(retry["action"], "retry");
    assert_eq!(retry["steps"], serde_json::json!(["flaky", "after"]));
    quit(&session);
}

// ---------------------------------------------------------------------------
// `approve` never answers a question, from any front end (SPEC §4)
// ---------------------------------------------------------------------------

const ARGO: &str = r#"
name: argo-approval
steps:
  approval:
    ask: { question: "Promote to production?", choices: [YES, NO], default: NO }
  promote:
    needs: [approval]
    when: answers.approval == "YES"
    run: echo promoted
"#;

fn signalbox(args: &[&str], state: &std::path::Path) -> std::process::Output {
    std::process::Command::new(crate::common::BIN)
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .unwrap()
}

#[test]
fn approve_of_a_question_is_refused_and_yes_is_taken_as_its_choice() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("argo.yaml");
    std::fs::write(&file, ARGO).unwrap();
    let state = dir.path().join("state");
    let mut cmd = std::process::Command::new(crate::common::BIN);
    cmd.args(["run", "--headless", "--json", "--state-dir"])
        .arg(&state)
        .arg(&file)
        .stdin(std::process::Stdio::null());
    let mut live = crate::common::Live::spawn(cmd);
    let id = live.run_id();
    live.wait_for("question_asked", |e| e["type"] == "question_asked");
    let approved = signalbox(&["approve", &id, "approval"], &state);
    assert_eq!(approved.status.code(), Some(2), "approve of a question");
    let said = String::from_utf8_lossy(&approved.stderr);
    assert!(
        said.contains("`approval` is a question, not an approval: answer it with one of YES, NO"),
        "{said}"
    );
    let refused = signalbox(&["answer", &id, "approval", "yep"], &state);
    assert_eq!(refused.status.code(), Some(2));
    let answered = signalbox(&["answer", &id, "approval", " yes "], &state);
    assert_eq!(
        answered.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&answered.stderr)
    );
    let done = live.finish();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let answers = done.all("question_answered");
    assert_eq!(answers.len(), 1, "the refused ones left it open");
    assert_eq!(
        answers[0]["answer"], "YES",
        "journaled as the choice is spelled"
    );
    assert_eq!(answers[0]["by"], "socket");
    assert!(done.has("step_succeeded", "promote"));
}
