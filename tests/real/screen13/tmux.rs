//! The real binary in tmux: `e` on a run's screen opens `$EDITOR` (here a
//! script that changes the file), the screen comes back with the run's
//! plan, and Esc leaves the run as it was.

use crate::common::BIN;
use crate::common::tmux::{journal, tmux_session};

const FLOW: &str = "name: gated
steps:
  gate:
    approval: { prompt: go? }
  two:
    needs: [gate]
    run: echo two
";

#[test]
fn e_opens_the_editor_and_esc_discards_the_plan() {
    let Some((s, dir)) = tmux_session("screen13-e") else {
        return;
    };
    let wf = dir.path().join("gated.yaml");
    std::fs::write(&wf, FLOW).unwrap();
    let editor = dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/echo two/echo TWO/' \"$1\"\necho \"$1\" > \"$(dirname \"$0\")/edited\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o700)).unwrap();
    let state = dir.path().join("state");
    s.start(&format!(
        "cd {} && VISUAL= EDITOR='{}' {BIN} run {} --state-dir {}; sleep 30",
        dir.path().display(),
        editor.display(),
        wf.display(),
        state.display()
    ));
    s.wait_for("go?", 20);
    s.keys(&["e"]);
    // Asked, then answered: the dialog offers to edit again.
    let screen = s.wait_for("e edit again", 20);
    // The editor ran on a private copy, gone once read.
    let edited = std::fs::read_to_string(dir.path().join("edited")).unwrap();
    assert!(!std::path::Path::new(edited.trim()).exists(), "{edited}");
    assert!(screen.contains("Esc discard"), "{screen}");
    s.keys(&["Escape"]);
    let screen = s.wait_for("discarded", 10);
    assert!(!screen.contains("Esc discard"), "{screen}");
    // Redrawn whole after the editor: the box under the dialog is back.
    assert!(screen.contains("◆ waits"), "{screen}");
    // Nothing was journaled for it: the run is as it was.
    let events = journal(&state);
    assert!(
        !events.iter().any(|e| e["type"] == "dag_modified"),
        "{events:?}"
    );
    s.keys(&["a"]);
    s.wait_for("succeeded", 20);
}

/// `y` in the plan dialog applies the edit: the new step appears, runs,
/// and the status line says the revision.
#[test]
fn y_applies_the_edit_and_the_new_step_runs() {
    let Some((s, dir)) = tmux_session("screen13-y") else {
        return;
    };
    let wf = dir.path().join("gated.yaml");
    std::fs::write(&wf, FLOW).unwrap();
    let editor = dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf '  extra:\\n    run: echo extra\\n' >> \"$1\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o700)).unwrap();
    let state = dir.path().join("state");
    s.start(&format!(
        "cd {} && VISUAL='{}' {BIN} run {} --state-dir {}; sleep 30",
        dir.path().display(),
        editor.display(),
        wf.display(),
        state.display()
    ));
    s.wait_for("go?", 20);
    s.keys(&["e"]);
    let screen = s.wait_for("y apply", 20);
    assert!(screen.contains("+ extra"), "{screen}");
    s.keys(&["y"]);
    let screen = s.wait_for("revision 1 applied: +extra", 20);
    assert!(screen.contains("rev 1"), "{screen}");
    let events = crate::common::tmux::wait_journal(&state, "step_succeeded", 20);
    let edit = events.iter().find(|e| e["type"] == "dag_modified").unwrap();
    assert_eq!(edit["action"], "edit");
    assert_eq!(edit["revision"], 1);
    assert_eq!(edit["by"], "keyboard");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "step_succeeded" && e["step"] == "extra"),
        "{events:?}"
    );
    s.wait_for("extra", 5);
    s.keys(&["a"]);
    s.wait_for("succeeded in", 20);
}
