//! `e` on the screen (SPEC §5) and the graph at an edit (SPEC §2 "Edit a
//! run"): the plan dialog (`+ - ~ =` lines, diagnostics, `y` / `e` / Esc,
//! a refused plan, a no-op), who may press `e`, the graph rebuilt from
//! `<run>/revisions/N.yaml` when a `dag_modified` edit arrives (steps
//! added and removed, statuses, output and selection kept by id, `rev N`,
//! the `~` mark), and replay stepping across it. `update` driven by
//! messages and keys, the view rendered on `TestBackend`; the real binary
//! in tmux is in `screen13/tmux.rs`.

mod drive;
mod graph;
mod tmux;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use signalbox::engine::edit::{EditAsk, Plan, PlanStep};
use signalbox::engine::{By, Command};
use signalbox::tui::model::Model;
use signalbox::tui::model::ui::{EditFrom, Overlay, Role};
use signalbox::tui::update::{Msg, update};
use signalbox::tui::view::view;
use signalbox::workflow::load_str;

pub const BEFORE: &str = "name: ship
steps:
  build:
    run: echo build
  notes:
    run: echo notes
  test:
    needs: [build]
    run: echo test
  deploy:
    needs: [test]
    run: echo deploy
";

pub const AFTER: &str = "name: ship
steps:
  build:
    run: echo build
  lint:
    run: echo lint
  test:
    needs: [build]
    run: echo test
  deploy:
    needs: [test, lint]
    run: echo deploy --prod
";

fn feed(m: &mut Model, ms: u64, body: &str) {
    crate::feed_event(m, "ship-1", ms, body);
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn esc() -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE))
}

fn render(m: &Model, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view(m, f)).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| {
            let row: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
            row.trim_end().to_string() + "\n"
        })
        .collect()
}

/// The run live: `build` running.
fn live() -> Model {
    let mut m = Model::new(&load_str(BEFORE, "ship.yaml").unwrap());
    m.ui.color = false;
    update(&mut m, Msg::Resize(100, 30));
    feed(
        &mut m,
        0,
        r#""type":"run_started","workflow":"ship","steps":4,"resumed":false"#,
    );
    feed(
        &mut m,
        100,
        r#""type":"step_started","step":"build","attempt":1"#,
    );
    m
}

fn ask() -> EditAsk {
    EditAsk {
        source: AFTER.into(),
        file: "/tmp/signalbox-edit-x/ship-1.yaml".into(),
        rerun: vec![],
        dry_run: true,
        by: By::Keyboard,
        revision: None,
    }
}

fn line(mark: char, step: &str, status: &str, fields: &[&str], note: &str) -> PlanStep {
    PlanStep {
        mark,
        step: step.into(),
        status: status.into(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
        note: note.into(),
    }
}

pub fn plan() -> Plan {
    Plan {
        run: "ship-1".into(),
        revision: 1,
        steps: vec![
            line('=', "build", "running", &[], ""),
            line('+', "lint", "new", &[], "ready at once"),
            line('-', "notes", "pending", &[], ""),
            line('=', "test", "pending", &[], ""),
            line('~', "deploy", "pending", &["needs", "run"], ""),
        ],
        top: vec![],
        diagnostics: vec!["ship-1.yaml:11:5: warning: deploy now needs lint".into()],
        applied: false,
    }
}

/// The dialog as the run's answer `answer` to the dry run shows it.
fn dialog(answer: signalbox::tui::link::EditAnswer) -> Model {
    let mut m = live();
    update(&mut m, Msg::EditAsked(ask()));
    update(&mut m, Msg::EditAnswer(ask(), answer));
    m
}

#[test]
fn e_asks_for_the_editor_on_a_live_run_only() {
    let mut m = live();
    update(&mut m, key('e'));
    assert_eq!(m.ui.edit, Some(EditFrom::Revision));

    let mut ro = live();
    ro.ui.role = Role::ReadOnly;
    update(&mut ro, key('e'));
    assert_eq!(ro.ui.edit, None);
    assert_eq!(
        ro.ui.notice.as_deref(),
        Some(signalbox::tui::update::READ_ONLY)
    );

    let mut over = live();
    feed(
        &mut over,
        200,
        r#""type":"run_finished","status":"succeeded","duration_ms":200"#,
    );
    update(&mut over, key('e'));
    assert_eq!(over.ui.edit, None);
    let notice = over.ui.notice.clone().unwrap();
    assert!(notice.contains("signalbox edit RUN"), "{notice}");

    let mut replay = live();
    replay.ui.replay = Some((2, 2));
    update(&mut replay, key('e'));
    assert_eq!(replay.ui.edit, None);
    assert!(replay.ui.notice.unwrap().contains("replay"));
}

#[test]
fn the_plan_dialog_shows_every_line_and_the_diagnostics() {
    let m = dialog(Ok(Box::new(plan())));
    let screen = render(&m, 100, 30);
    for want in [
        "edit: the plan for revision 1",
        "= build  running",
        "+ lint   new        (ready at once)",
        "- notes  pending",
        "~ deploy pending   needs, run",
        "ship-1.yaml:11:5: warning: deploy now needs lint",
        "y apply · e edit again · Esc discard",
    ] {
        assert!(screen.contains(want), "no {want:?} in\n{screen}");
    }
}

#[test]
fn snapshots_of_the_plan_dialog() {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => true }, {
        insta::assert_snapshot!("plan_100x30", render(&dialog(Ok(Box::new(plan()))), 100, 30));
        let mut refused = plan();
        refused.diagnostics = vec!["ship-1.yaml:4:3: error: build has started: its definition cannot change".into()];
        let why = refused.refusal();
        let m = dialog(Err((why, Some(Box::new(refused)))));
        insta::assert_snapshot!("plan_refused_80x24", render(&m, 80, 24));
    });
}

#[test]
fn y_applies_the_same_edit_and_the_applied_plan_closes_the_dialog() {
    let mut m = dialog(Ok(Box::new(plan())));
    let sent = update(&mut m, key('y'));
    let applying = EditAsk {
        dry_run: false,
        ..ask()
    };
    assert_eq!(sent, Some(Command::Edit(applying.clone())));
    assert!(render(&m, 100, 30).contains("edit: applying…"));
    // A second y while the run decides sends nothing.
    assert_eq!(update(&mut m, key('y')), None);
    let done = Plan {
        applied: true,
        ..plan()
    };
    update(&mut m, Msg::EditAnswer(applying, Ok(Box::new(done))));
    assert_eq!(m.ui.overlay, None);
    assert_eq!(
        m.ui.notice.as_deref(),
        Some("revision 1 applied: +lint -notes ~deploy")
    );
}

#[test]
fn e_edits_the_edited_text_again_and_esc_discards() {
    let mut m = dialog(Ok(Box::new(plan())));
    assert_eq!(update(&mut m, key('e')), None);
    assert_eq!(m.ui.edit, Some(EditFrom::Text(AFTER.into())));
    assert_eq!(m.ui.overlay, None);

    let mut m = dialog(Ok(Box::new(plan())));
    assert_eq!(update(&mut m, esc()), None);
    assert_eq!(m.ui.overlay, None);
    assert_eq!(m.ui.edit, None);
    assert!(m.ui.notice.unwrap().contains("discarded"));
}

#[test]
fn a_refused_plan_offers_only_e_and_esc() {
    let mut refused = plan();
    refused.diagnostics = vec![
        "ship-1.yaml:8:5: error: build has started: its definition cannot change (--rerun build runs it again)".into(),
    ];
    let why = refused.refusal();
    let mut m = dialog(Err((why, Some(Box::new(refused)))));
    let screen = render(&m, 100, 30);
    assert!(screen.contains("edit refused"), "{screen}");
    assert!(screen.contains("error: build has started"), "{screen}");
    assert!(screen.contains("e edit again · Esc discard"), "{screen}");
    assert!(!screen.contains("y apply"), "{screen}");
    assert_eq!(update(&mut m, key('y')), None);
    assert!(matches!(m.ui.overlay, Some(Overlay::Plan(_))));

    // Another refusal is shown in its own words.
    let m = dialog(Err(("the run has ended".into(), None)));
    assert!(render(&m, 100, 30).contains("the run has ended"));
}

#[test]
fn an_edit_that_changes_nothing_says_so() {
    let mut same = plan();
    same.steps.retain(|s| s.mark == '=');
    same.diagnostics.clear();
    let mut m = dialog(Ok(Box::new(same)));
    let screen = render(&m, 100, 30);
    assert!(screen.contains("edit: nothing changed"), "{screen}");
    assert!(!screen.contains("y apply"), "{screen}");
    assert_eq!(update(&mut m, key('y')), None);
}

#[test]
fn a_long_plan_scrolls() {
    let mut long = plan();
    long.steps = (0..60)
        .map(|i| line('+', &format!("step-{i:02}"), "new", &[], ""))
        .collect();
    let mut m = dialog(Ok(Box::new(long)));
    assert!(render(&m, 100, 30).contains("step-00"));
    for _ in 0..10 {
        update(&mut m, key('j'));
    }
    let screen = render(&m, 100, 30);
    assert!(!screen.contains("step-00") && screen.contains("step-10"));
    assert!(screen.contains("↑↓ scroll"), "{screen}");
}

#[test]
fn an_edit_from_elsewhere_retires_the_plan_on_screen() {
    let dir = graph::run_folder();
    let mut m = dialog(Ok(Box::new(plan())));
    m.run.dir = Some(dir.path().to_path_buf());
    feed(&mut m, 300, graph::EDITED);
    let screen = render(&m, 100, 30);
    assert!(screen.contains("edited meanwhile: revision 1"), "{screen}");
    assert!(!screen.contains("y apply"), "{screen}");
    assert_eq!(update(&mut m, key('y')), None);
    update(&mut m, key('e'));
    assert_eq!(m.ui.edit, Some(EditFrom::Text(AFTER.into())));
}
