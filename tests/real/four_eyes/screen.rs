//! A four-eyes gate on the screen (SPEC §5 the wait queue): "needs 2
//! approvals" before any, "1 of 2 approvals (alice)" after one, the log
//! pane's line for `approval_progress`, the gate choosable again after
//! this screen's own approval (to reject it), and a resumed run's
//! re-opened gate keeping who approved. The model fed journal lines,
//! drawn on `TestBackend`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use signalbox::engine::{By, Command};
use signalbox::tui::model::Model;
use signalbox::tui::update::{Msg, update};
use signalbox::tui::view::view;
use signalbox::workflow::load_str;

use crate::T0;

const GATES: &str = r#"
name: four-eyes
steps:
  gate:
    approval: { prompt: "Ship 2.3.0 to production?", approvers: 2 }
  plain:
    approval: { prompt: "Tell the team?" }
"#;

fn feed(m: &mut Model, ms: u64, body: &str) {
    crate::feed_event(m, "four-eyes-1", ms, body);
}

fn model() -> Model {
    let wf = load_str(GATES, "four-eyes.yaml").unwrap();
    let mut m = Model::new(&wf);
    m.ui.color = false;
    update(&mut m, Msg::Resize(80, 24));
    feed(
        &mut m,
        0,
        r#""type":"run_started","workflow":"four-eyes","steps":2,"resumed":false"#,
    );
    feed(
        &mut m,
        100,
        r#""type":"approval_requested","step":"gate","wait":"w1","prompt":"Ship 2.3.0 to production?","timeout_ms":300000"#,
    );
    feed(
        &mut m,
        200,
        r#""type":"approval_requested","step":"plain","wait":"w2","prompt":"Tell the team?","timeout_ms":300000"#,
    );
    update(&mut m, Msg::Clock(T0 + 1_000));
    m
}

const ALICE: &str = r#""type":"approval_progress","step":"gate","wait":"w1","by":"socket","user":"alice","approvals":1,"needed":2"#;

fn render(m: &Model) -> Vec<String> {
    let (w, h) = (80, 24);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view(m, f)).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect()
}

/// The wait queue's rows, without its borders.
fn queue(screen: &[String]) -> Vec<String> {
    let top = screen
        .iter()
        .position(|l| l.contains("╭ waits") || l.contains("┏ waits"))
        .unwrap_or_else(|| panic!("no wait queue on\n{}", screen.join("\n")));
    screen[top + 1..]
        .iter()
        .take_while(|l| !l.starts_with('╰') && !l.starts_with('┗'))
        .map(|l| {
            let cells: String = l.chars().skip(1).take(l.chars().count() - 2).collect();
            cells.trim_end().to_string()
        })
        .collect()
}

fn press(m: &mut Model, c: char) -> Option<Command> {
    update(
        m,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
    )
}

#[test]
fn the_queue_says_how_many_approvals_a_gate_needs_and_who_gave_them() {
    let mut m = model();
    let rows = queue(&render(&m));
    assert_eq!(
        rows[0], "›◆ gate   5m00s  Ship 2.3.0 to production?",
        "{rows:#?}"
    );
    assert_eq!(rows[1], "    needs 2 approvals", "{rows:#?}");
    assert_eq!(rows[2], " ◆ plain  5m00s  Tell the team?", "{rows:#?}");
    feed(&mut m, 500, ALICE);
    let rows = queue(&render(&m));
    assert_eq!(rows[1], "    1 of 2 approvals (alice)", "{rows:#?}");
    // Not selected: one line, the progress before the prompt.
    press(&mut m, 'w');
    update(
        &mut m,
        Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
    );
    let rows = queue(&render(&m));
    assert_eq!(
        rows[0], " ◆ gate   5m00s  1 of 2 approvals (alice) · Ship 2.3.0 to production?",
        "{rows:#?}"
    );
    let log = render(&m).join("\n");
    assert!(
        log.contains("◆ gate approved by alice (socket): 1 of 2 approvals"),
        "{log}"
    );
}

#[test]
fn after_this_screens_approval_the_gate_can_be_chosen_again_to_reject_it() {
    let mut m = model();
    let approve = Command::Approve {
        step: "gate".into(),
        by: By::Keyboard,
    };
    assert_eq!(press(&mut m, 'a'), Some(approve));
    assert_eq!(press(&mut m, 'a'), None, "a second a decides nothing");
    feed(
        &mut m,
        600,
        r#""type":"approval_progress","step":"gate","wait":"w1","by":"keyboard","user":"bob","approvals":1,"needed":2"#,
    );
    assert_eq!(
        m.ui.notice.as_deref(),
        Some("gate was approved by bob (keyboard): 1 of 2 approvals")
    );
    assert_eq!(press(&mut m, 'a'), None, "still nothing selected");
    // The operator moves: the gate, still open, is the top one again.
    let reject = Command::Reject {
        step: "gate".into(),
        by: By::Keyboard,
    };
    press(&mut m, 'w');
    assert_eq!(press(&mut m, 'r'), Some(reject));
}

#[test]
fn a_resumed_runs_gate_keeps_who_approved_it() {
    let mut m = model();
    feed(&mut m, 500, ALICE);
    feed(
        &mut m,
        5_000,
        r#""type":"run_started","workflow":"four-eyes","steps":2,"resumed":true"#,
    );
    feed(
        &mut m,
        5_100,
        r#""type":"approval_requested","step":"gate","wait":"w1","prompt":"Ship 2.3.0 to production?","timeout_ms":295000"#,
    );
    let rows = queue(&render(&m)).join("\n");
    assert!(rows.contains("1 of 2 approvals (alice)"), "{rows}");
}

#[test]
fn a_refused_approval_leaves_the_gate_selected_and_says_why() {
    let mut m = model();
    let approve = Command::Approve {
        step: "gate".into(),
        by: By::Keyboard,
    };
    assert_eq!(press(&mut m, 'a'), Some(approve.clone()));
    let why = "gate: bob started this run and may not approve it (self_approve: false)";
    update(&mut m, Msg::Refused(why.into()));
    assert_eq!(m.ui.notice.as_deref(), Some(why));
    let rows = queue(&render(&m));
    assert!(rows[0].starts_with("›◆ gate"), "selected again: {rows:#?}");
    assert_eq!(press(&mut m, 'a'), Some(approve), "a key acts on it again");
}
