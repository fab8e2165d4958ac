//! The real binary in tmux: a running matrix workflow's group box opened
//! with `Enter` into its instances.

use crate::common::BIN;
use crate::common::tmux::tmux_session;

/// Five instances (so the group starts closed) that wait on a file, and
/// a step after them all.
const FLOW: &str = "name: fan
steps:
  build:
    matrix:
      target: [a, b, c, d, e]
    run: while [ ! -e go ]; do sleep 0.1; done; echo built {{ matrix.target }}
  publish:
    needs: [build]
    run: echo publish
";

#[test]
fn enter_opens_a_running_matrix_group_into_its_instances() {
    let Some((s, dir)) = tmux_session("mscreen-enter") else {
        return;
    };
    let wf = dir.path().join("fan.yaml");
    std::fs::write(&wf, FLOW).unwrap();
    let state = dir.path().join("state");
    s.start_sized(
        &format!(
            "cd {} && {BIN} run {} --jobs 5 --state-dir {}; sleep 30",
            dir.path().display(),
            wf.display(),
            state.display()
        ),
        140,
        60,
    );
    // One box while closed, its instances running.
    let screen = s.wait_for("▶5", 20);
    assert!(screen.contains("build ×5"), "{screen}");
    assert!(!screen.contains("╭ build:a"), "{screen}");
    // The group is the first node: Enter opens it.
    s.keys(&["Enter"]);
    let screen = s.wait_for("▾ build ×5", 10);
    for t in ["a", "b", "c", "d", "e"] {
        assert!(screen.contains(&format!(" build:{t} ")), "{screen}");
    }
    std::fs::write(dir.path().join("go"), "").unwrap();
    let screen = s.wait_for("✓5", 20);
    assert!(screen.contains("▾ build ×5"), "{screen}");
    s.wait_for("succeeded", 20);
    s.keys(&["q"]);
}
