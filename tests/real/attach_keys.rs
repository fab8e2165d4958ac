//! The screen as a client of a run (SPEC §4 `attach`, §5 `d`, `q`, `C`):
//! `d` detaches from any screen and sends nothing; `q` on the run's own
//! screen asks to cancel (offering `d`), on an attached one detaches; `C`
//! cancels the whole run after asking and the screen stays; a read-only
//! screen sends nothing and says so; an answer box closes, naming who,
//! when another screen or the socket decides its question; the status line
//! says whose screen it is and how many watch. `update` driven by keys,
//! the view rendered on `TestBackend`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use signalbox::engine::{By, Command};
use signalbox::tui::model::Model;
use signalbox::tui::model::ui::{Overlay, Role};
use signalbox::tui::update::{Msg, READ_ONLY, update};
use signalbox::tui::view::view;
use signalbox::workflow::load_str;

use crate::T0;

const FLOW: &str = r#"
name: ship
steps:
  build:
    run: make
  go-live:
    approval: { prompt: "Ship it?" }
  notes:
    ask: { question: "Headline?", choices: ["Fixes", "Features"], default: "Fixes" }
  name-it:
    ask: { question: "Code name?" }
"#;

/// One journal line (without its envelope) applied at `ms` after T0.
fn feed(m: &mut Model, ms: u64, body: &str) {
    crate::feed_event(m, "ship-1", ms, body);
}

/// A live run on a screen of `role`: `build` running, an approval and two
/// questions open (the approval on top).
fn live(role: Role) -> Model {
    let mut m = Model::new(&load_str(FLOW, "ship.yaml").unwrap());
    m.ui.color = false;
    m.ui.role = role;
    update(&mut m, Msg::Resize(80, 24));
    for (ms, body) in [
        (
            0,
            r#""type":"run_started","workflow":"ship","steps":4,"resumed":false"#,
        ),
        (100, r#""type":"step_started","step":"build","attempt":1"#),
        (
            200,
            r#""type":"approval_requested","step":"go-live","wait":"w1","prompt":"Ship it?","timeout_ms":300000"#,
        ),
        (
            300,
            r#""type":"question_asked","step":"notes","wait":"w2","question":"Headline?","choices":["Fixes","Features"],"default":"Fixes""#,
        ),
        (
            400,
            r#""type":"question_asked","step":"name-it","wait":"w3","question":"Code name?","choices":[],"default":null"#,
        ),
    ] {
        feed(&mut m, ms, body);
    }
    update(&mut m, Msg::Clock(T0 + 1_000));
    m
}

fn finish(m: &mut Model) {
    feed(
        m,
        5_000,
        r#""type":"run_finished","status":"failed","duration_ms":5000"#,
    );
}

/// Keys as a script: characters type themselves; `<Enter>`, `<Esc>`,
/// `<Tab>`, `<C-c>` are named keys.
fn press(m: &mut Model, text: &str) -> Vec<Command> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let key = if c == '<' {
            let end = rest.find('>').unwrap();
            let k = match &rest[1..end] {
                "Enter" => KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
                "Esc" => KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
                "Tab" => KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE),
                "C-c" => KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                other => panic!("unknown key <{other}>"),
            };
            rest = &rest[end + 1..];
            k
        } else {
            rest = &rest[c.len_utf8()..];
            let mods = match c.is_ascii_uppercase() {
                true => KeyModifiers::SHIFT,
                false => KeyModifiers::NONE,
            };
            KeyEvent::new(KeyCode::Char(c), mods)
        };
        out.extend(update(m, Msg::Key(key)));
    }
    out
}

fn render(m: &Model, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut m = m.clone();
    update(&mut m, Msg::Resize(w, h));
    t.draw(|f| view(&m, f)).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect()
}

fn screen(m: &Model) -> String {
    render(m, 80, 24).join("\n")
}

fn status_line(m: &Model, w: u16) -> String {
    render(m, w, 24).pop().unwrap()
}

const CANCEL_RUN: Command = Command::Cancel {
    step: None,
    by: By::Keyboard,
};

/// `d` on any screen of a live run detaches and sends nothing; the run's
/// own screen is not asked to quit, so the run goes on.
#[test]
fn d_detaches_any_screen_and_sends_nothing() {
    for role in [Role::Own, Role::Attached, Role::ReadOnly] {
        let mut m = live(role);
        assert_eq!(press(&mut m, "d"), vec![], "{role:?}");
        assert!(m.ui.detach, "{role:?}: detached");
        assert!(!m.ui.quit, "{role:?}: not quitting: the run goes on");
        assert_eq!(m.ui.overlay, None, "{role:?}: no question asked");
    }
}

/// On a finished run there is nothing to detach from: `d` leaves as `q`.
#[test]
fn d_on_a_finished_run_quits() {
    for role in [Role::Own, Role::Attached, Role::ReadOnly] {
        let mut m = live(role);
        finish(&mut m);
        assert_eq!(press(&mut m, "d"), vec![], "{role:?}");
        assert!(m.ui.quit && !m.ui.detach, "{role:?}");
    }
}

/// `d` is in the help, and the quit dialog offers it.
#[test]
fn the_help_and_the_quit_dialog_offer_d() {
    let mut m = live(Role::Own);
    press(&mut m, "?");
    let help = screen(&m);
    assert!(help.contains("d  detach: the run goes on"), "{help}");
    assert!(help.contains("C  cancel the run (asks y/n)"), "{help}");
    let mut m = live(Role::Own);
    assert_eq!(press(&mut m, "q"), vec![]);
    assert_eq!(m.ui.overlay, Some(Overlay::ConfirmQuit));
    let dialog = screen(&m);
    for words in [
        "Quitting cancels the run",
        "the run goes on",
        "y quit and cancel    d detach    n stay",
    ] {
        assert!(dialog.contains(words), "{words:?} in\n{dialog}");
    }
}

/// The own screen's quit dialog: `d` detaches, `y` cancels and quits, `n`
/// and Esc stay; Ctrl-C asks the same.
#[test]
fn the_own_screens_quit_dialog_takes_y_d_and_n() {
    for (keys, sent, quit, detach) in [
        ("qd", vec![], false, true),
        ("qD", vec![], false, true),
        ("<C-c>d", vec![], false, true),
        ("qy", vec![CANCEL_RUN], true, false),
        ("qn", vec![], false, false),
        ("q<Esc>", vec![], false, false),
    ] {
        let mut m = live(Role::Own);
        assert_eq!(press(&mut m, keys), sent, "{keys}");
        assert_eq!((m.ui.quit, m.ui.detach), (quit, detach), "{keys}");
        assert_eq!(m.ui.overlay, None, "{keys}: the dialog closed");
    }
}

/// `q` and Ctrl-C on an attached screen detach at once while the run is
/// live, from the panes, a box or a dialog; once it ended they quit.
#[test]
fn q_on_an_attached_screen_detaches_then_quits_once_the_run_ended() {
    for role in [Role::Attached, Role::ReadOnly] {
        for keys in ["q", "<C-c>", "?<C-c>", "/bu<C-c>"] {
            let mut m = live(role);
            assert_eq!(press(&mut m, keys), vec![], "{role:?} {keys}");
            assert!(m.ui.detach && !m.ui.quit, "{role:?} {keys}: detached");
            assert_eq!(m.ui.overlay, None, "{role:?} {keys}: no dialog");
        }
        let mut m = live(role);
        finish(&mut m);
        assert_eq!(press(&mut m, "q"), vec![]);
        assert!(m.ui.quit && !m.ui.detach, "{role:?}: quits a finished run");
    }
    let mut m = live(Role::Attached);
    assert_eq!(press(&mut m, "x<C-c>"), vec![]);
    assert!(
        m.ui.detach,
        "Ctrl-C in a step's dialog closes it and detaches"
    );
}

/// `C` asks, `y` cancels the whole run and the screen stays; `n` leaves
/// it; on a finished run it says so; a read-only screen refuses it.
#[test]
fn capital_c_cancels_the_whole_run_after_asking() {
    for role in [Role::Own, Role::Attached] {
        let mut m = live(role);
        assert_eq!(press(&mut m, "C"), vec![], "{role:?}: asks first");
        assert_eq!(m.ui.overlay, Some(Overlay::ConfirmCancel));
        let dialog = screen(&m);
        assert!(dialog.contains("Cancel the whole run?"), "{dialog}");
        assert!(
            dialog.contains("Running steps are stopped, open waits dropped."),
            "{dialog}"
        );
        assert_eq!(press(&mut m, "y"), vec![CANCEL_RUN], "{role:?}");
        assert!(!m.ui.quit && !m.ui.detach, "{role:?}: the screen stays");
        assert_eq!(m.ui.overlay, None);
        let mut m = live(role);
        assert_eq!(press(&mut m, "Cn"), vec![], "{role:?}: n leaves it");
        assert_eq!(m.ui.overlay, None);
        let mut m = live(role);
        finish(&mut m);
        assert_eq!(press(&mut m, "C"), vec![]);
        assert_eq!(m.ui.overlay, None);
        assert!(status_line(&m, 80).contains("the run has ended"));
    }
    let mut m = live(Role::Own);
    press(&mut m, "C");
    finish(&mut m);
    assert_eq!(m.ui.overlay, None, "the dialog goes when the run ends");
    assert_eq!(press(&mut m, "y"), vec![], "and a late y sends nothing");
}

/// A read-only screen: every key that would send a command sends nothing
/// and says why; moving, help, filtering and output still work.
#[test]
fn a_read_only_screen_sends_nothing_and_says_so() {
    let build = |m: &mut Model| m.ui.selected = m.step_index("build").unwrap();
    for keys in [
        "a",
        "r",
        "wa",
        "wjr",
        "wj<Enter>",
        "w<Enter>",
        "R",
        "s",
        "x",
        "C",
    ] {
        let mut m = live(Role::ReadOnly);
        build(&mut m);
        assert_eq!(press(&mut m, keys), vec![], "{keys}");
        assert_eq!(m.ui.overlay, None, "{keys}: no box, no dialog");
        assert_eq!(m.ui.notice.as_deref(), Some(READ_ONLY), "{keys}");
        let line = status_line(&m, 80);
        assert!(
            line.contains("read-only: this screen sends nothing"),
            "{line}"
        );
    }
    let mut m = live(Role::ReadOnly);
    build(&mut m);
    press(&mut m, "<Enter>");
    assert!(
        matches!(m.ui.overlay, Some(Overlay::Output { .. })),
        "output"
    );
    let mut m = live(Role::ReadOnly);
    press(&mut m, "wj");
    assert_eq!(m.selected_wait().map(|w| w.wait.as_str()), Some("w2"));
    press(&mut m, "?");
    assert_eq!(m.ui.overlay, Some(Overlay::Help));
    press(&mut m, "<Esc>/bu<Enter>");
    assert_eq!(m.log.filter, "bu");
    // The same keys on an attached screen that may act do send.
    let mut m = live(Role::Attached);
    assert_eq!(
        press(&mut m, "a"),
        vec![Command::Approve {
            step: "go-live".into(),
            by: By::Keyboard
        }]
    );
}

/// An answer box open on a question that someone else decides closes,
/// drops what was typed, and the notice names who.
#[test]
fn another_screens_answer_closes_the_box_and_names_who() {
    let decided = [
        (
            r#""type":"question_answered","step":"notes","wait":"w2","answer":"Features","by":"socket","user":"alice","waited_ms":900"#,
            "notes was answered by alice (socket)",
        ),
        (
            r#""type":"question_answered","step":"notes","wait":"w2","answer":"Fixes","by":"keyboard","user":"bob","waited_ms":900"#,
            "notes was answered by bob (keyboard)",
        ),
        (
            r#""type":"question_answered","step":"notes","wait":"w2","answer":"Fixes","by":"timeout","waited_ms":900"#,
            "notes timed out",
        ),
        (
            r#""type":"step_skipped","step":"notes","reason":"operator","cause":"operator""#,
            "notes was skipped",
        ),
        (
            r#""type":"step_cancelled","step":"notes","reason":"operator""#,
            "notes was cancelled",
        ),
        (
            r#""type":"run_finished","status":"cancelled","duration_ms":2000"#,
            "the run ended before an answer",
        ),
    ];
    for (event, notice) in decided {
        let mut m = live(Role::Attached);
        assert_eq!(press(&mut m, "wj<Enter>Feat"), vec![]);
        assert!(matches!(&m.ui.overlay, Some(Overlay::Answer(b)) if b.text == "Feat"));
        feed(&mut m, 2_000, event);
        assert_eq!(m.ui.overlay, None, "{notice}: the box closed");
        assert_eq!(m.ui.notice.as_deref(), Some(notice));
        let line = status_line(&m, 80);
        assert!(line.contains(notice), "{notice}: shown in {line:?}");
        assert_eq!(press(&mut m, "<Enter>"), vec![], "nothing typed is sent");
    }
    let mut m = live(Role::Own);
    press(&mut m, "wjj<Enter>Orca");
    feed(
        &mut m,
        2_000,
        r#""type":"step_failed","step":"name-it","attempts":1,"error":"no answer before the timeout","exit_code":null"#,
    );
    assert_eq!(
        m.ui.notice.as_deref(),
        Some("name-it failed: no answer before the timeout")
    );
    // Another question decided leaves the open box alone.
    let mut m = live(Role::Own);
    press(&mut m, "wjj<Enter>Orca");
    feed(
        &mut m,
        2_000,
        r#""type":"question_answered","step":"notes","wait":"w2","answer":"Fixes","by":"socket","user":"alice","waited_ms":900"#,
    );
    assert!(matches!(&m.ui.overlay, Some(Overlay::Answer(b)) if b.text == "Orca"));
}

/// The status line says whose screen this is and how many watch the run,
/// and the keys it shows fit the role.
#[test]
fn the_status_line_says_whose_screen_and_how_many() {
    for (role, screens, want, not) in [
        (Role::Attached, 3, "attached · 3 screens", "q quit"),
        (Role::Attached, 1, "attached", "1 screen"),
        (
            Role::ReadOnly,
            2,
            "attached · read-only · 2 screens",
            "a approve",
        ),
        (Role::Own, 2, "2 screens", "attached"),
        (Role::Own, 1, "q quit", "screen"),
        (Role::Own, 0, "q quit", "screen"),
    ] {
        let mut m = live(role);
        m.ui.screens = screens;
        let line = status_line(&m, 120);
        assert!(
            line.contains(want),
            "{role:?} {screens}: {want:?} in {line:?}"
        );
        assert!(
            !line.contains(not),
            "{role:?} {screens}: {not:?} in {line:?}"
        );
    }
    for role in [Role::Attached, Role::ReadOnly] {
        let mut m = live(role);
        m.ui.screens = 3;
        let line = status_line(&m, 80);
        assert!(
            line.contains("q detach"),
            "{role:?}: the way out fits: {line}"
        );
    }
    let mut m = live(Role::Attached);
    let wide = status_line(&live(Role::Own), 160);
    assert!(wide.contains("d detach · q quit"), "{wide}");
    finish(&mut m);
    let line = status_line(&m, 120);
    assert!(line.contains("q quit"), "a finished run: q quits: {line}");
}

/// The selected approval decided on another screen: the notice says who,
/// and `a` pressed for it decides nothing else.
#[test]
fn the_selected_wait_decided_elsewhere_is_named() {
    let mut m = live(Role::Attached);
    press(&mut m, "w");
    feed(
        &mut m,
        2_000,
        r#""type":"approval_resolved","step":"go-live","wait":"w1","approved":true,"by":"keyboard","user":"alice","waited_ms":1800"#,
    );
    assert_eq!(
        m.ui.notice.as_deref(),
        Some("go-live was approved by alice (keyboard)")
    );
    assert_eq!(press(&mut m, "a"), vec![], "no other wait is decided");
    // A wait this screen decided is not told back.
    let mut m = live(Role::Own);
    press(&mut m, "a");
    feed(
        &mut m,
        2_000,
        r#""type":"approval_resolved","step":"go-live","wait":"w1","approved":true,"by":"keyboard","user":"me","waited_ms":1800"#,
    );
    assert_eq!(m.ui.notice, None);
}

#[test]
fn a_wait_this_screen_decided_is_never_chosen_again_while_its_close_is_on_the_way() {
    let mut m = live(Role::Attached);
    // `go-live` (w1) is approved, then `notes` (w2) answered, before the
    // run's events for either have come back: `w` then picks neither.
    let sent = press(&mut m, "aw<Enter><Enter>");
    assert!(
        matches!(&sent[..], [Command::Approve { .. }, Command::Answer { .. }]),
        "{sent:?}"
    );
    press(&mut m, "w");
    let chosen = m.selected_wait().map(|w| w.wait.clone());
    assert_eq!(chosen.as_deref(), Some("w3"), "not a wait already decided");
    // Their closes come back; nothing is kept for them any more.
    feed(
        &mut m,
        600,
        r#""type":"approval_resolved","step":"go-live","wait":"w1","approved":true,"by":"keyboard","waited_ms":400"#,
    );
    feed(
        &mut m,
        700,
        r#""type":"question_answered","step":"notes","wait":"w2","answer":"Fixes","by":"keyboard","waited_ms":400"#,
    );
    assert!(m.ui.sent.is_empty(), "{:?}", m.ui.sent);
}
