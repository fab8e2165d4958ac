//! Tests of waits (SPEC §2 choices, §5 the wait queue): one key decides one
//! wait, the selected one; `a` / `r` decide approvals only; `R`, `s`, `x`
//! ask first; the box matches choices as the engine does; the queue reads
//! whole at 80 columns with human durations. The screen's model and view on
//! `TestBackend`, then the binary in tmux where the keys reach the engine.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use signalbox::engine::{By, Command};
use signalbox::tui::model::Model;
use signalbox::tui::model::ui::{Overlay, StepAction};
use signalbox::tui::update::{Msg, update};
use signalbox::tui::view::view;
use signalbox::workflow::load_str;

/// The same keys on the real binary, in tmux, and through the socket.
mod binary;

use crate::T0;

const LONG_QUESTION: &str = "Which release train should this build ride: the \
    one leaving tonight with the database migration, or the next one after \
    the freeze lifts on Monday morning?";

const WAITS: &str = r#"
name: waits
steps:
  low:
    priority: 1
    approval: { prompt: "Restart the cache?" }
  mid:
    priority: 5
    approval: { prompt: "Rotate the staging keys?" }
  high:
    priority: 9
    approval: { prompt: "Deploy to production?", timeout: 7d }
  urgent:
    priority: 20
    approval: { prompt: "Page the on-call?" }
  train:
    ask:
      question: "Which release train should this build ride: the one leaving tonight with the database migration, or the next one after the freeze lifts on Monday morning?"
      choices: ["tonight-with-migration", "monday-after-freeze", "hold-until-further-notice", "cancel-the-release"]
      default: monday-after-freeze
  approval:
    ask: { question: "approval", choices: ["YES", "NO"], default: "NO" }
  build:
    run: "false"
  test:
    needs: [build]
    run: "true"
  deploy:
    needs: [test]
    run: "true"
  lint:
    run: sleep 60
"#;

fn model() -> Model {
    let wf = load_str(WAITS, "waits.yaml").unwrap();
    let mut m = Model::new(&wf);
    m.ui.color = false;
    update(&mut m, Msg::Resize(80, 24));
    feed(
        &mut m,
        0,
        r#""type":"run_started","workflow":"waits","steps":10,"resumed":false"#,
    );
    m
}

/// One journal line (without its envelope) applied at `ms` after T0.
fn feed(m: &mut Model, ms: u64, body: &str) {
    crate::feed_event(m, "waits-1", ms, body);
}

fn approval(m: &mut Model, ms: u64, step: &str, wait: &str, timeout_ms: u64) {
    let prompt = match step {
        "low" => "Restart the cache?",
        "mid" => "Rotate the staging keys?",
        "high" => "Deploy to production?",
        _ => "Page the on-call?",
    };
    feed(
        m,
        ms,
        &format!(
            r#""type":"approval_requested","step":"{step}","wait":"{wait}","prompt":"{prompt}","timeout_ms":{timeout_ms}"#
        ),
    );
}

fn question(m: &mut Model, ms: u64, step: &str, wait: &str) {
    let body = match step {
        "train" => format!(
            r#""type":"question_asked","step":"train","wait":"{wait}","question":"{LONG_QUESTION}","choices":["tonight-with-migration","monday-after-freeze","hold-until-further-notice","cancel-the-release"],"default":"monday-after-freeze""#
        ),
        _ => format!(
            r#""type":"question_asked","step":"approval","wait":"{wait}","question":"approval","choices":["YES","NO"],"default":"NO""#
        ),
    };
    feed(m, ms, &body);
}

/// Three approvals of different priority, opened lowest first.
fn three() -> Model {
    let mut m = model();
    approval(&mut m, 100, "low", "w1", 300_000);
    approval(&mut m, 200, "mid", "w2", 300_000);
    approval(&mut m, 300, "high", "w3", 300_000);
    update(&mut m, Msg::Clock(T0 + 1_000));
    m
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

/// Keys as a script: characters type themselves, `<Enter>`, `<Esc>`,
/// `<Down>`, `<Up>`, `<C-c>` are named keys.
fn press(m: &mut Model, text: &str) -> Vec<Command> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let (k, len) = match (c, rest.find('>')) {
            ('<', Some(end)) => {
                let k = match &rest[1..end] {
                    "Enter" => KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
                    "Esc" => KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
                    "Down" => KeyEvent::new(KeyCode::Down, KeyModifiers::NONE),
                    "Up" => KeyEvent::new(KeyCode::Up, KeyModifiers::NONE),
                    "C-c" => KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                    other => panic!("unknown key <{other}>"),
                };
                (k, end + 1)
            }
            _ => (key(c), c.len_utf8()),
        };
        out.extend(update(m, Msg::Key(k)));
        rest = &rest[len..];
    }
    out
}

fn approve(step: &str) -> Command {
    Command::Approve {
        step: step.into(),
        by: By::Keyboard,
    }
}

fn render(m: &Model, w: u16, h: u16) -> Vec<String> {
    let mut m = m.clone();
    update(&mut m, Msg::Resize(w, h));
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view(&m, f)).unwrap();
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
        .map(|l| l.chars().skip(1).take(l.chars().count() - 2).collect())
        .collect()
}

#[test]
fn a_pressed_twice_approves_one_wait_of_three() {
    let mut m = three();
    assert_eq!(press(&mut m, "a"), [approve("high")], "the top wait first");
    assert_eq!(press(&mut m, "a"), [], "a second a decides nothing");
    assert!(
        m.ui.notice
            .as_deref()
            .unwrap()
            .contains("no wait is selected")
    );
    // The engine's answer to the first comes in: still nothing selected.
    feed(
        &mut m,
        1_200,
        r#""type":"approval_resolved","step":"high","wait":"w3","approved":true,"by":"keyboard","waited_ms":900"#,
    );
    assert_eq!(press(&mut m, "a"), []);
    assert_eq!(press(&mut m, "r"), []);
    let rows = queue(&render(&m, 80, 24));
    assert!(rows.iter().all(|r| !r.contains('›')), "{rows:#?}");
    // The operator moves the selection: `w` takes the top one, now mid.
    assert_eq!(press(&mut m, "wa"), [approve("mid")]);
    assert_eq!(press(&mut m, "a"), []);
    // ↓ after a decision takes the wait that moved into its row.
    assert_eq!(press(&mut m, "<Down>a"), [approve("low")]);
}

#[test]
fn the_selection_follows_its_wait_as_waits_come_and_go() {
    let mut m = three();
    // Select mid (second row), then a more urgent wait opens above it.
    press(&mut m, "w<Down>");
    assert_eq!(m.selected_wait().unwrap().step_id, "mid");
    approval(&mut m, 1_500, "urgent", "w4", 300_000);
    assert_eq!(m.waits.list()[0].step_id, "urgent");
    assert_eq!(m.selected_wait().unwrap().step_id, "mid", "not its row");
    let rows = queue(&render(&m, 80, 24));
    let marked: Vec<&String> = rows.iter().filter(|r| r.starts_with('›')).collect();
    assert_eq!(marked.len(), 1, "{rows:#?}");
    assert!(marked[0].contains("mid"), "{rows:#?}");
    // The wait above it closes: still mid.
    feed(
        &mut m,
        1_600,
        r#""type":"approval_resolved","step":"high","wait":"w3","approved":true,"by":"socket","waited_ms":1300"#,
    );
    assert_eq!(press(&mut m, "a"), [approve("mid")]);
}

#[test]
fn a_chosen_wait_that_closes_elsewhere_leaves_nothing_selected() {
    let mut m = three();
    press(&mut m, "w<Down>");
    feed(
        &mut m,
        1_500,
        r#""type":"approval_resolved","step":"mid","wait":"w2","approved":false,"by":"timeout","waited_ms":1300"#,
    );
    assert!(m.selected_wait().is_none());
    assert_eq!(
        press(&mut m, "a"),
        [],
        "never the wait the operator did not pick"
    );
    assert_eq!(press(&mut m, "<Up>a"), [approve("high")]);
}

#[test]
fn a_on_a_question_only_says_to_press_enter() {
    let mut m = model();
    question(&mut m, 100, "approval", "w1");
    for k in ["a", "r"] {
        assert_eq!(press(&mut m, k), [], "{k} answers nothing");
        let notice = m.ui.notice.clone().unwrap_or_default();
        assert!(notice.contains("Enter"), "{k}: {notice}");
        assert!(m.ui.overlay.is_none());
    }
    press(&mut m, "w");
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = render(&m, w, h).join("\n");
        assert!(
            !screen.contains("a approve"),
            "nothing offers `a` over a question:\n{screen}"
        );
        assert!(screen.contains("Enter answer"), "{screen}");
    }
    // Enter then Enter takes the default, which `a` never did.
    let sent = press(&mut m, "<Enter><Enter>");
    assert_eq!(
        sent,
        [Command::Answer {
            step: "approval".into(),
            text: "NO".into(),
            by: By::Keyboard
        }]
    );
}

#[test]
fn the_box_matches_choices_as_the_engine_does() {
    let answer = |text: &str| Command::Answer {
        step: "approval".into(),
        text: text.into(),
        by: By::Keyboard,
    };
    for (typed, sent) in [("yes", "YES"), ("  No ", "NO"), ("YES", "YES")] {
        let mut m = model();
        question(&mut m, 100, "approval", "w1");
        let keys = format!("w<Enter>{typed}<Enter>");
        assert_eq!(press(&mut m, &keys), [answer(sent)], "{typed:?}");
        assert!(m.ui.overlay.is_none());
    }
    for typed in ["ye", "yes please", "y"] {
        let mut m = model();
        question(&mut m, 100, "approval", "w1");
        let keys = format!("w<Enter>{typed}<Enter>");
        assert_eq!(press(&mut m, &keys), [], "{typed:?} is no choice");
        let Some(Overlay::Answer(b)) = &m.ui.overlay else {
            panic!("the box stays open for {typed:?}");
        };
        let error = b.error.clone().unwrap_or_default();
        assert!(error.contains("not one of the choices"), "{error}");
        assert!(error.contains("YES, NO"), "{error}");
        let screen = render(&m, 80, 24).join("\n");
        assert!(screen.contains("not one of the choices"), "{screen}");
    }
}

/// SPEC §5: the box opens with the default filled in; `Enter` sends it as
/// it is, and the first key typed replaces it.
#[test]
fn the_box_opens_with_the_default_filled_in() {
    let open = || {
        let mut m = model();
        feed(
            &mut m,
            100,
            r#""type":"question_asked","step":"approval","wait":"w1","question":"Notes?","choices":[],"default":"Bug fixes""#,
        );
        m
    };
    let answer = |text: &str| Command::Answer {
        step: "approval".into(),
        text: text.into(),
        by: By::Keyboard,
    };
    let mut m = open();
    press(&mut m, "w<Enter>");
    let screen = render(&m, 80, 24).join("\n");
    assert!(screen.contains("› Bug fixes (default)"), "{screen}");
    assert_eq!(press(&mut m, "<Enter>"), [answer("Bug fixes")]);
    let mut m = open();
    assert_eq!(press(&mut m, "w<Enter>New<Enter>"), [answer("New")]);
}

/// With choices too, the box opens on the default: `Enter` sends it.
#[test]
fn a_box_with_choices_opens_on_its_default() {
    let mut m = model();
    question(&mut m, 100, "approval", "w1");
    let sent = press(&mut m, "w<Enter><Enter>");
    let no = Command::Answer {
        step: "approval".into(),
        text: "NO".into(),
        by: By::Keyboard,
    };
    assert_eq!(sent, [no]);
}

/// A `y`/`n` dialog about a step that ended meanwhile closes and says so,
/// as the answer box does for a question that closed.
#[test]
fn a_dialog_about_a_step_that_ended_closes() {
    let mut m = failed();
    select(&mut m, "lint");
    assert_eq!(press(&mut m, "x"), []);
    assert!(matches!(m.ui.overlay, Some(Overlay::ConfirmStep { .. })));
    feed(
        &mut m,
        900,
        r#""type":"step_succeeded","step":"lint","attempt":1,"duration_ms":400,"outputs":{},"fallback":false"#,
    );
    assert!(m.ui.overlay.is_none());
    let notice = m.ui.notice.clone().unwrap_or_default();
    assert!(notice.contains("lint has already ended"), "{notice}");
    assert_eq!(
        press(&mut m, "y"),
        [],
        "y after the dialog closed sends nothing"
    );
}

#[test]
fn a_long_question_and_all_its_choices_read_whole_at_80_columns() {
    let mut m = three();
    question(&mut m, 400, "train", "w4");
    press(&mut m, "w<Down><Down><Down>");
    assert_eq!(m.selected_wait().unwrap().step_id, "train");
    let screen = render(&m, 80, 24);
    insta::assert_snapshot!("long_question_80x24", screen.join("\n"));
    let text = queue(&screen).join(" ");
    let mut want: Vec<&str> = LONG_QUESTION.split_whitespace().collect();
    want.extend([
        "tonight-with-migration",
        "monday-after-freeze",
        "hold-until-further-notice",
        "cancel-the-release",
    ]);
    for word in want {
        assert!(
            text.split_whitespace().any(|w| w == word),
            "{word:?} is not in the queue:\n{}",
            screen.join("\n")
        );
    }
    // From the queue, Enter answers it: the box opens on that question,
    // whole too, its keys on the last row.
    press(&mut m, "<Enter>");
    assert!(matches!(&m.ui.overlay, Some(Overlay::Answer(b)) if b.wait == "w4"));
    let screen = render(&m, 80, 24);
    let boxed = screen.join(" ");
    for word in LONG_QUESTION.split_whitespace() {
        assert!(
            boxed.contains(word),
            "{word:?} in the box:\n{}",
            screen.join("\n")
        );
    }
    assert!(boxed.contains("Enter sends"), "{}", screen.join("\n"));
    let sent = press(&mut m, "HOLD-until-further-notice<Enter>");
    assert_eq!(
        sent,
        [Command::Answer {
            step: "train".into(),
            text: "hold-until-further-notice".into(),
            by: By::Keyboard
        }]
    );
}

#[test]
fn a_week_long_wait_shows_days_and_hours() {
    let mut m = model();
    approval(&mut m, 0, "high", "w1", 7 * 86_400_000);
    let rows = queue(&render(&m, 80, 24)).join("\n");
    assert!(rows.contains("7d00h"), "{rows}");
    update(&mut m, Msg::Clock(T0 + 1_000));
    let screen = render(&m, 80, 24).join("\n");
    assert!(screen.contains("6d23h"), "{screen}");
    assert!(
        !screen.contains("167:") && !screen.contains("168:"),
        "{screen}"
    );
    let wide = render(&m, 160, 48).join("\n");
    assert!(wide.contains("waiting 1s"), "how long it waited:\n{wide}");
}

/// The run as a failed `build` left it: `test` and `deploy` skipped below
/// it, `lint` running.
fn failed() -> Model {
    let mut m = model();
    for body in [
        r#""type":"step_started","step":"build","attempt":1"#,
        r#""type":"step_started","step":"lint","attempt":1"#,
        r#""type":"step_failed","step":"build","attempts":1,"error":"exit code 1","exit_code":1"#,
        r#""type":"step_skipped","step":"test","reason":"upstream_failed","cause":"build""#,
        r#""type":"step_skipped","step":"deploy","reason":"upstream_failed","cause":"test""#,
    ] {
        feed(&mut m, 500, body);
    }
    m
}

fn select(m: &mut Model, step: &str) {
    m.ui.selected = m.step_index(step).unwrap();
}

#[test]
fn retry_skip_and_cancel_ask_first() {
    let cases = [
        ("R", "build", StepAction::Retry, "Retry build?"),
        ("s", "lint", StepAction::Skip, "Skip lint?"),
        ("x", "lint", StepAction::Cancel, "Cancel lint?"),
    ];
    for (k, step, action, asks) in cases {
        let command = match action {
            StepAction::Retry => Command::Retry {
                step: step.into(),
                by: By::Keyboard,
            },
            StepAction::Skip => Command::Skip {
                step: step.into(),
                by: By::Keyboard,
            },
            StepAction::Cancel => Command::Cancel {
                step: Some(step.into()),
                by: By::Keyboard,
            },
            StepAction::ResetBreaker => unreachable!("B has tests of its own"),
        };
        for (answer, sent) in [("y", vec![command]), ("n", vec![]), ("<Esc>", vec![])] {
            let mut m = failed();
            select(&mut m, step);
            assert_eq!(press(&mut m, k), [], "{k} asks before it acts");
            assert!(
                matches!(m.ui.overlay, Some(Overlay::ConfirmStep { action: a, .. }) if a == action)
            );
            let screen = render(&m, 80, 24).join("\n");
            assert!(screen.contains(asks), "{screen}");
            assert_eq!(press(&mut m, answer), sent, "{k} then {answer}");
            assert!(m.ui.overlay.is_none(), "{k} then {answer}");
        }
    }
}

#[test]
fn the_dialogs_say_what_will_happen() {
    let mut m = failed();
    select(&mut m, "build");
    press(&mut m, "R");
    let Some(Overlay::ConfirmStep { question, .. }) = &m.ui.overlay else {
        panic!("no dialog");
    };
    assert_eq!(
        question,
        "Retry build? It runs again from attempt 1. Its 2 skipped dependents return to pending."
    );
    let screen = render(&m, 80, 24).join("\n");
    assert!(screen.contains("dependents return to pending."), "{screen}");
    insta::assert_snapshot!("retry_dialog_80x24", screen);
    let mut m = failed();
    select(&mut m, "lint");
    press(&mut m, "x");
    let Some(Overlay::ConfirmStep { question, .. }) = &m.ui.overlay else {
        panic!("no dialog");
    };
    assert_eq!(question, "Cancel lint? It is stopped.");
    // Ctrl-C in a step's dialog is no yes: it goes on to ask about quitting.
    assert_eq!(press(&mut m, "<C-c>"), []);
    assert_eq!(m.ui.overlay, Some(Overlay::ConfirmQuit));
}

#[test]
fn what_cannot_apply_is_refused_without_a_dialog() {
    let mut m = failed();
    select(&mut m, "test");
    assert_eq!(press(&mut m, "R"), []);
    assert!(m.ui.overlay.is_none());
    assert!(m.ui.notice.as_deref().unwrap().contains("test is not"));
}
