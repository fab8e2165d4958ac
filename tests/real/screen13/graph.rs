//! The graph at an edit: rebuilt from `<run>/revisions/N.yaml` when a
//! `dag_modified` edit arrives, each kept step's status, output and the
//! selection kept by id, `rev N` and the `~` mark; a revision that cannot
//! be read; replay stepping onto and back across the edit.

use signalbox::tui::model::Status;
use signalbox::tui::update::{Msg, update};
use signalbox::workflow::load_str;

use super::{AFTER, BEFORE, feed, live, render};

/// A run folder holding `revisions/1.yaml` (the edited file).
pub fn run_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("workflow.yaml"), BEFORE).unwrap();
    std::fs::create_dir(dir.path().join("revisions")).unwrap();
    std::fs::write(dir.path().join("revisions/1.yaml"), AFTER).unwrap();
    dir
}

pub const EDITED: &str = r#""type":"dag_modified","action":"edit","steps":["lint","notes","deploy"],"by":"keyboard","user":"ops","revision":1,"diff":{"added":["lint"],"removed":["notes"],"changed":{"deploy":["needs","run"]}}"#;

#[test]
fn an_edit_rebuilds_the_graph_and_keeps_what_each_step_did() {
    let dir = run_folder();
    let mut m = live();
    m.run.dir = Some(dir.path().to_path_buf());
    feed(
        &mut m,
        200,
        r#""type":"step_output","step":"build","stream":"stdout","line":"compiling""#,
    );
    let test = m.step_index("test").unwrap();
    m.ui.selected = test;
    let before = render(&m, 100, 30);
    assert!(
        before.contains("notes") && !before.contains("lint"),
        "{before}"
    );

    feed(&mut m, 300, EDITED);
    let ids: Vec<&str> = m.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["build", "lint", "test", "deploy"]);
    let of = |id: &str| &m.steps[m.step_index(id).unwrap()];
    assert_eq!(of("build").status, Status::Running);
    assert_eq!(of("build").attempt, 1);
    assert_eq!(of("lint").status, Status::Pending);
    assert!(of("deploy").edited && !of("test").edited);
    assert_eq!(m.steps[m.ui.selected].id, "test");
    // The output already shown is still build's.
    assert_eq!(m.log.output_count(m.step_index("build").unwrap()), 1);
    let after = render(&m, 100, 30);
    assert!(
        after.contains("lint") && !after.contains("notes │"),
        "{after}"
    );
    assert!(after.contains("~ pending"), "{after}");
    assert!(after.contains("rev 1"), "{after}");
    assert!(
        after.contains("✎ edit r1 by keyboard (ops): +lint -notes ~deploy"),
        "{after}"
    );
    // Once it starts, the mark goes.
    feed(
        &mut m,
        400,
        r#""type":"step_started","step":"deploy","attempt":1"#,
    );
    assert!(!m.steps[m.step_index("deploy").unwrap()].edited);
}

#[test]
fn a_removed_selected_step_hands_the_selection_to_the_nearest() {
    let dir = run_folder();
    let mut m = live();
    m.run.dir = Some(dir.path().to_path_buf());
    m.ui.selected = m.step_index("notes").unwrap();
    feed(&mut m, 300, EDITED);
    // The next one in the old order (`test`), before the one above it.
    assert_eq!(m.steps[m.ui.selected].id, "test");
}

#[test]
fn a_revision_that_cannot_be_read_keeps_the_old_graph_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = live();
    m.run.dir = Some(dir.path().to_path_buf());
    feed(&mut m, 300, EDITED);
    assert!(m.step_index("notes").is_some() && m.step_index("lint").is_none());
    let notice = m.ui.notice.clone().unwrap();
    assert!(notice.contains("cannot show revision 1"), "{notice}");
}

#[test]
fn replay_steps_onto_and_back_across_an_edit() {
    use signalbox::tui::replay::{Move, Replay};
    let dir = run_folder();
    let lines = [
        r#""type":"run_started","workflow":"ship","steps":4,"resumed":false"#,
        r#""type":"step_started","step":"build","attempt":1"#,
        EDITED,
        r#""type":"step_succeeded","step":"build","attempt":1,"duration_ms":5,"outputs":{},"fallback":false"#,
    ];
    let journal: String = (lines.iter().enumerate())
        .map(|(i, body)| {
            format!(
                "{{\"seq\":{},\"ts\":\"2026-01-01T00:00:0{i}.000Z\",\"run\":\"ship-1\",{body}}}\n",
                i + 1
            )
        })
        .collect();
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, journal).unwrap();
    let wf = load_str(BEFORE, "workflow.yaml").unwrap();
    let mut r = Replay::new(wf, path, lines.len(), false);
    let _ = update(&mut r.model, Msg::Resize(100, 30));
    let has = |r: &Replay, id: &str| r.model.step_index(id).is_some();
    assert!(
        has(&r, "lint") && !has(&r, "notes"),
        "the end shows the edit"
    );
    assert_eq!(r.model.steps[0].status, Status::Succeeded);
    r.step(Move::Back);
    r.step(Move::Back);
    assert!(has(&r, "notes") && !has(&r, "lint"), "before the edit");
    assert_eq!(r.model.steps[0].status, Status::Running);
    assert!(!render(&r.model, 100, 30).contains("rev 1"));
    r.step(Move::Forward);
    assert!(has(&r, "lint") && !has(&r, "notes"), "onto the edit");
    assert!(render(&r.model, 100, 30).contains("rev 1"));
}
