#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The real binary on a real terminal: tmux runs `signalbox run` on the
//! demo, the test reads the screen with `capture-pane` and types like an
//! operator (answer a question, approve with `a`, resize, quit with `q` and
//! `y`), then checks the journal and that no process of the run is left.
//!
//! Skipped, with a message, when tmux is not installed (`.ci/run` installs
//! it).

#[path = "common/mod.rs"]
mod common;

use common::tmux::*;
use std::process::Command;

#[test]
fn an_operator_runs_the_demo_from_the_screen() {
    if !have_tmux() {
        eprintln!(
            "SKIPPED: tmux is not installed; the screen test needs it (apt-get install tmux)"
        );
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let session = Session {
        socket: format!("signalbox-test-{}", std::process::id()),
    };
    let command = format!(
        "cd {root} && {bin} run workflows/demo.yaml --state-dir {state}; echo \"EXIT=$?\"; sleep 60",
        root = root().display(),
        bin = env!("CARGO_BIN_EXE_signalbox"),
        state = state.path().display(),
    );
    session.start(&command);

    // The survey question opens first: answer it by typing.
    session.wait_for("? survey", 15);
    session.keys(&["w", "Enter"]);
    session.wait_for("answer survey", 5);
    session.type_text("shipped from tmux");
    session.keys(&["Enter"]);
    wait_journal(state.path(), "question_answered", 5);

    // Mid-run, the terminal shrinks; the approval still shows. After the
    // answer nothing is selected (SPEC §5): `w` selects the top wait, the
    // approval (priority 10), and `a` takes it.
    session.tmux(&["resize-window", "-t", "sb", "-x", "80", "-y", "24"]);
    session.wait_for("◆ go-live", 20);
    session.keys(&["w", "a"]);
    let events = wait_journal(state.path(), "approval_resolved", 5);

    // Quit while the notes question is still open: it asks, `y` cancels.
    session.keys(&["q"]);
    session.wait_for("quit?", 5);
    session.keys(&["y"]);
    let screen = session.wait_for("EXIT=", 20);
    assert!(screen.contains("EXIT=130"), "{screen}");
    assert!(
        screen.contains("cancelled"),
        "the summary prints on the normal screen:\n{screen}"
    );

    let events = journal(state.path())
        .into_iter()
        .chain(events)
        .collect::<Vec<_>>();
    let find = |t: &str| {
        events
            .iter()
            .find(|e| e["type"] == t)
            .cloned()
            .unwrap_or_default()
    };
    let answered = find("question_answered");
    assert_eq!(answered["step"], "survey");
    assert_eq!(answered["answer"], "shipped from tmux");
    assert_eq!(answered["by"], "keyboard");
    let approved = find("approval_resolved");
    assert_eq!(approved["step"], "go-live");
    assert_eq!(approved["approved"], true);
    assert_eq!(approved["by"], "keyboard");
    assert_eq!(find("run_finished")["status"], "cancelled");

    let run_id = find("run_started")["run"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!run_id.is_empty());
    let left = processes_of(&run_id);
    assert!(left.is_empty(), "processes of the run are left: {left:?}");
}

#[test]
fn a_past_run_replays_on_the_screen_event_by_event() {
    if !have_tmux() {
        println!("SKIPPED: tmux is not installed; .ci/run installs it");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_signalbox");
    let flaky = root().join("workflows/flaky.yaml");
    let status = Command::new(bin)
        .args(["run", "--headless", "--state-dir"])
        .arg(state.path())
        .arg(&flaky)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let events = journal(state.path());
    let run_id = events[0]["run"].as_str().unwrap().to_string();
    let total = events.len();
    let failed_at = events
        .iter()
        .position(|e| e["type"] == "step_failed")
        .unwrap()
        + 1;
    let session = Session {
        socket: format!("sb-replay-{}", std::process::id()),
    };
    let cmd = format!(
        "{bin} replay {run_id} --state-dir {}; echo EXIT=$?; sleep 30",
        state.path().display()
    );
    session.start(&cmd);
    session.wait_for(&format!("event {total} of {total}"), 10);
    session.keys(&["g"]);
    session.wait_for(&format!("event 0 of {total}"), 5);
    session.keys(&["F"]);
    let screen = session.wait_for(&format!("event {failed_at} of {total}"), 5);
    assert!(screen.contains("failed"), "{screen}");
    session.keys(&[","]);
    session.wait_for(&format!("event {} of {total}", failed_at - 1), 5);
    session.keys(&["q"]);
    session.wait_for("EXIT=0", 5);
}

#[test]
fn headless_in_a_terminal_asks_at_a_prompt_that_progress_lines_do_not_break() {
    let Some((session, state)) = tmux_session("sb-prompt") else {
        return;
    };
    let command = format!(
        "cd {root} && {bin} run workflows/release.yaml --headless --state-dir {state}; echo \"EXIT=$?\"; sleep 60",
        root = root().display(),
        bin = env!("CARGO_BIN_EXE_signalbox"),
        state = state.path().display(),
    );
    session.start(&command);
    // The question is asked while build and test go on; their lines go
    // above the prompt, which stays whole on the last line.
    let screen = session.wait_for("◆ go-live", 15);
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    let prompts = lines
        .iter()
        .filter(|l| l.contains("answer for notes"))
        .count();
    assert_eq!(prompts, 1, "{screen}");
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("answer for notes (Bug fixes | New features")),
        "{screen}"
    );
    assert!(screen.contains("✓ test succeeded"), "{screen}");
    session.type_text("New features");
    session.keys(&["Enter"]);
    session.wait_for("approve go-live? [y/n]", 5);
    session.keys(&["y", "Enter"]);
    let screen = session.wait_for("EXIT=", 20);
    assert!(screen.contains("EXIT=0"), "{screen}");

    let events = journal(state.path());
    let by = |t: &str| {
        events
            .iter()
            .find(|e| e["type"] == t)
            .map(|e| (e["step"].clone(), e["by"].clone()))
    };
    assert_eq!(
        by("question_answered"),
        Some(("notes".into(), "prompt".into()))
    );
    assert_eq!(
        by("approval_resolved"),
        Some(("go-live".into(), "prompt".into()))
    );
    let answered = events
        .iter()
        .find(|e| e["type"] == "question_answered")
        .unwrap();
    assert_eq!(answered["answer"], "New features");
}

/// The screen's lines that are not blank.
fn shown_lines(screen: &str) -> Vec<&str> {
    screen.lines().filter(|l| !l.trim().is_empty()).collect()
}

#[test]
fn the_headless_prompt_asks_again_when_a_question_without_default_gets_an_empty_answer() {
    let Some((session, state)) = tmux_session("sb-prompt-free") else {
        return;
    };
    session.start_headless("prompt_free", state.path());
    let screen = session.wait_for("answer for free", 15);
    assert!(
        shown_lines(&screen)
            .last()
            .is_some_and(|l| l.trim_end() == "answer for free:"),
        "no default, so no hint that empty takes it:\n{screen}"
    );
    session.keys(&["Enter"]);
    let screen = session.wait_for("an answer is needed", 5);
    let lines = shown_lines(&screen);
    assert!(
        lines
            .last()
            .is_some_and(|l| l.trim_end() == "answer for free:"),
        "the same question is asked again:\n{screen}"
    );
    session.type_text("more tests");
    session.keys(&["Enter"]);
    let screen = session.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=0"), "{screen}");

    let events = journal(state.path());
    let answered = events
        .iter()
        .find(|e| e["type"] == "question_answered")
        .unwrap();
    assert_eq!(answered["answer"], "more tests");
    assert_eq!(answered["by"], "prompt");
}

/// What was typed (without Enter) at a prompt whose wait then closed some
/// other way is dropped: it never becomes part of the next wait's answer.
#[test]
fn text_typed_for_a_wait_that_closed_elsewhere_is_not_sent_to_the_next() {
    let Some((session, state)) = tmux_session("sb-prompt-discard") else {
        return;
    };
    session.start_headless("prompt_closed", state.path());
    session.wait_for("approve first?", 15);
    session.type_text("ye");
    // `first` times out; `second` is asked.
    session.wait_for("approve second?", 10);
    session.type_text("s");
    session.keys(&["Enter"]);
    session.wait_for("y approves, n rejects", 5);
    session.type_text("y");
    session.keys(&["Enter"]);
    let screen = session.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=0"), "{screen}");
    let events = journal(state.path());
    let resolved: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["type"] == "approval_resolved")
        .map(|e| (e["step"].as_str().unwrap(), e["by"].as_str().unwrap()))
        .collect();
    assert_eq!(resolved, [("first", "timeout"), ("second", "prompt")]);
}

/// Ctrl-D at the prompt: nothing more is asked, the operator is told where
/// else to answer, and the run goes on.
#[test]
fn the_headless_prompt_stops_asking_when_input_ends() {
    let Some((session, state)) = tmux_session("sb-prompt-eof") else {
        return;
    };
    session.start_headless("prompt_closed", state.path());
    session.wait_for("approve first?", 15);
    session.keys(&["C-d"]);
    session.wait_for("input closed", 5);
    let screen = session.wait_for("EXIT=", 15);
    assert!(
        screen.contains("EXIT=1"),
        "second is rejected on timeout:\n{screen}"
    );
    assert!(!screen.contains("approve second?"), "{screen}");
    let events = journal(state.path());
    assert!(
        events
            .iter()
            .filter(|e| e["type"] == "approval_resolved")
            .all(|e| e["by"] == "timeout")
    );
}

#[test]
fn the_headless_prompt_asks_waits_that_open_together_highest_priority_first() {
    let Some((session, state)) = tmux_session("sb-prompt-priority") else {
        return;
    };
    // Output is stopped (Ctrl-S) before the run starts, so its first line
    // holds the printer until Ctrl-Q: by then both waits are open and their
    // events queued, whichever the printer would otherwise have seen first.
    session.start(&format!(
        "read go && {}",
        headless_command("prompt_priority", state.path())
    ));
    session.keys(&["C-s"]);
    session.type_text("go");
    session.keys(&["Enter"]);
    wait_journal(state.path(), "question_asked", 15);
    session.keys(&["C-q"]);
    // High is asked first, and low not yet.
    session.wait_for("? high asks", 5);
    let screen = session.wait_for("answer for high", 5);
    assert!(!screen.contains("approve low?"), "{screen}");
    assert!(
        shown_lines(&screen)
            .last()
            .is_some_and(|l| l.starts_with("answer for high (empty takes the default)")),
        "{screen}"
    );
    session.keys(&["Enter"]);
    session.wait_for("approve low? [y/n]", 5);
    session.keys(&["y", "Enter"]);
    let screen = session.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=0"), "{screen}");

    let resolved: Vec<_> = journal(state.path())
        .into_iter()
        .filter(|e| e["type"] == "question_answered" || e["type"] == "approval_resolved")
        .map(|e| (e["step"].clone(), e["by"].clone()))
        .collect();
    assert_eq!(
        resolved,
        [
            ("high".into(), "prompt".into()),
            ("low".into(), "prompt".into())
        ]
    );
}

#[test]
fn ctrl_c_at_the_headless_prompt_leaves_no_prompt_half_a_line() {
    let Some((session, state)) = tmux_session("sb-prompt-cancel") else {
        return;
    };
    session.start_headless("approvals", state.path());
    session.wait_for("approve gate? [y/n]", 15);
    session.keys(&["C-c"]);
    let screen = session.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=130"), "{screen}");
    let lines = shown_lines(&screen);
    assert!(
        !lines.iter().any(|l| l.contains("approve gate?")),
        "the prompt is erased when the run is cancelled:\n{screen}"
    );
    for step in ["gate", "deploy"] {
        let cancelled = format!("⊘ {step} cancelled");
        assert!(
            lines.iter().any(|l| l.starts_with(&cancelled)),
            "{cancelled:?} starts a line of its own:\n{screen}"
        );
    }
}
