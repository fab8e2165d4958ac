//! How a retry is started: on a terminal (the run's screen) and detached.

use super::{PIPELINE, Work};

/// `retry` on a terminal opens the run's screen, as `resume` does: the
/// retry shows there as it happens, and `q` leaves with the run's code.
#[test]
fn retry_on_a_terminal_opens_the_screen() {
    use crate::common::tmux;
    let Some((term, _tmp)) = tmux::tmux_session("retry-screen") else {
        return;
    };
    let w = Work::new();
    let file = w.write(PIPELINE);
    let first = w.run(&file);
    first.expect(1, "failed");
    let id = first.run_id().to_string();
    w.touch("ok");
    let command = format!(
        "cd {dir} && {bin} retry {id} --state-dir {dir}/state; echo EXIT=$?; sleep 60",
        dir = w.dir().display(),
        bin = crate::common::BIN,
    );
    term.start_sized(&command, 120, 40);
    let screen = term.wait_for("retry check, deploy, notify by flag", 20);
    assert!(screen.contains("graph 6 steps"), "{screen}");
    term.wait_for("pipeline ✓ succeeded", 20);
    term.keys(&["q"]);
    term.wait_for("EXIT=0", 20);
    assert_eq!(w.ledger()["check"], 2);
    assert_eq!(w.ledger()["build"], 1);
}

/// `retry --detach` prints the run's id and the retry goes on without it.
#[test]
fn a_detached_retry_prints_the_run_id_and_goes_on() {
    let w = Work::new();
    let file = w.write(PIPELINE);
    let first = w.run(&file);
    first.expect(1, "failed");
    let id = first.run_id().to_string();
    w.touch("ok");
    let out = w.cli(&["retry", &id, "--detach"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let journal = w.journal(&id);
        let last = journal.last().unwrap();
        if last["type"] == "run_finished" && journal.iter().any(|e| e["type"] == "dag_modified") {
            assert_eq!(last["status"], "succeeded");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the retry never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(w.ledger()["notify"], 1);
}
