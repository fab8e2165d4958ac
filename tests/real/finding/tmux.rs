//! The real binary at 80x24 in tmux: among many steps one fails; `n` finds
//! it and `Enter` shows its output with its exit code.

use crate::common::tmux::{Session, root, tmux_session, wait_journal};

#[test]
fn n_then_enter_shows_the_failed_steps_output_at_80x24() {
    let Some((session, state)) = tmux_session("finding") else {
        return;
    };
    let command = format!(
        "cd {root} && {bin} run tests/fixtures/run/finding_many.yaml --state-dir {state}; echo \"EXIT=$?\"; sleep 60",
        root = root().display(),
        bin = env!("CARGO_BIN_EXE_signalbox"),
        state = state.path().display(),
    );
    session.start_sized(&command, 80, 24);
    wait_journal(state.path(), "run_finished", 20);
    session.wait_for("failed in", 10);
    let status = last_line(&session);
    assert!(status.contains("failed: test-integration"), "{status}");
    session.keys(&["n"]);
    session.wait_for("test-integration", 5);
    session.keys(&["Enter"]);
    // The graph shows `exit 7` already: wait for the viewer's own title.
    let screen = session.wait_for("· attempt 1 ·", 5);
    assert!(
        screen.contains("test-integration · attempt 1 · ✗ exit 7"),
        "{screen}"
    );
    assert!(screen.contains("running 45 tests"), "{screen}");
    // The long compiler line is wrapped: its end is on screen too.
    assert!(screen.contains("the changelog)"), "{screen}");
    session.keys(&["Escape", "q"]);
    let screen = session.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=1"), "{screen}");
}

fn last_line(session: &Session) -> String {
    let screen = session.screen();
    screen
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_string()
}
