//! `B` and the open breaker's countdown on the screen, through `update`
//! and `TestBackend`: the dialog names the breaker and the steps it holds
//! back and sends the reset on `y`; a step without a breaker, a closed
//! breaker and a read-only screen are refused, saying why.

use crate::T0;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use signalbox::engine::event::BreakerAction;
use signalbox::engine::{By, Command as EngineCommand};
use signalbox::tui::model::Model;
use signalbox::tui::model::ui::{Overlay, Role};
use signalbox::tui::update::{Msg, READ_ONLY, update};
use signalbox::tui::view::view;
use signalbox::workflow::load_str;

const FLOW: &str = r#"
name: ship
breakers:
  registry: { failures: 1, cooldown: 30s }
steps:
  publish:
    breaker: registry
    retry: { attempts: 5, delay: 10s }
    run: ./publish.sh
  mirror:
    breaker: registry
    run: ./mirror.sh
  build:
    run: make
"#;

fn feed(m: &mut Model, ms: u64, body: &str) {
    crate::feed_event(m, "ship-1", ms, body);
}

/// `publish` failed once at 1 s and tripped `registry`; it backs off.
fn tripped(role: Role) -> Model {
    let mut m = Model::new(&load_str(FLOW, "ship.yaml").unwrap());
    m.ui.color = false;
    m.ui.role = role;
    update(&mut m, Msg::Resize(80, 24));
    for (ms, body) in [
        (
            0,
            r#""type":"run_started","workflow":"ship","steps":3,"resumed":false"#,
        ),
        (100, r#""type":"step_started","step":"publish","attempt":1"#),
        (
            1_000,
            r#""type":"breaker_changed","breaker":"registry","state":"open""#,
        ),
        (
            1_000,
            r#""type":"step_retrying","step":"publish","attempt":1,"error":"exit code 1","exit_code":1,"delay_ms":10000"#,
        ),
    ] {
        feed(&mut m, ms, body);
    }
    update(&mut m, Msg::Clock(T0 + 5_000));
    m
}

fn press(m: &mut Model, keys: &str) -> Vec<EngineCommand> {
    keys.chars()
        .flat_map(|c| {
            let mods = match c.is_ascii_uppercase() {
                true => KeyModifiers::SHIFT,
                false => KeyModifiers::NONE,
            };
            update(m, Msg::Key(KeyEvent::new(KeyCode::Char(c), mods)))
        })
        .collect()
}

fn screen(m: &Model) -> String {
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| view(m, f)).unwrap();
    let buf = t.backend().buffer();
    (0..24)
        .map(|y| (0..80).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

fn select(m: &mut Model, step: &str) {
    m.ui.selected = m.step_index(step).unwrap();
}

fn status_line(m: &Model) -> String {
    screen(m).lines().last().unwrap().to_string()
}

#[test]
fn b_asks_then_resets_the_selected_steps_breaker() {
    let reset = EngineCommand::Breaker {
        breaker: "registry".into(),
        action: BreakerAction::Reset,
        by: By::Keyboard,
    };
    for (answer, sent) in [("y", vec![reset]), ("n", vec![])] {
        let mut m = tripped(Role::Own);
        select(&mut m, "mirror");
        assert_eq!(press(&mut m, "B"), [], "B asks before it acts");
        assert!(matches!(m.ui.overlay, Some(Overlay::ConfirmStep { .. })));
        let shown = screen(&m);
        assert!(shown.contains("reset the breaker? y/n"), "{shown}");
        assert!(
            shown.contains("Reset breaker registry (open)?"),
            "the dialog names the breaker: {shown}"
        );
        assert!(
            shown.contains("publish, mirror"),
            "and the steps it holds back: {shown}"
        );
        assert_eq!(press(&mut m, answer), sent, "B then {answer}");
        assert!(m.ui.overlay.is_none());
    }
}

#[test]
fn b_says_why_when_there_is_nothing_to_reset() {
    let cases = [
        (Role::Own, "build", "build uses no breaker"),
        (Role::ReadOnly, "publish", READ_ONLY),
    ];
    for (role, step, why) in cases {
        let mut m = tripped(role);
        select(&mut m, step);
        assert_eq!(press(&mut m, "By"), [], "{step}");
        assert!(m.ui.overlay.is_none(), "{step}");
        let notice = m.ui.notice.clone().unwrap_or_default();
        assert!(notice.contains(why), "{step}: {notice:?}");
    }
    // Closed: nothing to reset.
    let mut m = tripped(Role::Own);
    feed(
        &mut m,
        6_000,
        r#""type":"breaker_changed","breaker":"registry","state":"closed","by":"socket","user":"ops""#,
    );
    select(&mut m, "publish");
    assert_eq!(press(&mut m, "By"), []);
    assert_eq!(
        m.ui.notice.as_deref(),
        Some("breaker registry of publish is closed: there is nothing to reset")
    );
    // The dialog goes away if someone else resets the breaker first.
    let mut m = tripped(Role::Own);
    press(&mut m, "B");
    assert!(m.ui.overlay.is_some());
    feed(
        &mut m,
        6_000,
        r#""type":"breaker_changed","breaker":"registry","state":"closed","by":"socket","user":"ops""#,
    );
    assert!(m.ui.overlay.is_none());
    assert_eq!(press(&mut m, "y"), []);
}

#[test]
fn the_status_line_counts_down_an_open_breaker_to_half_open() {
    let mut m = tripped(Role::Own);
    // Opened at 1 s for 30 s; the clock says 5 s.
    assert!(
        status_line(&m).contains("⊗ registry open 26s"),
        "{}",
        status_line(&m)
    );
    update(&mut m, Msg::Clock(T0 + 20_500));
    assert!(
        status_line(&m).contains("⊗ registry open 11s"),
        "{}",
        status_line(&m)
    );
    assert!(m.needs_clock(), "the countdown ticks");
    feed(
        &mut m,
        31_000,
        r#""type":"breaker_changed","breaker":"registry","state":"half_open""#,
    );
    let line = status_line(&m);
    assert!(line.contains("⊗ registry half-open "), "{line}");
    assert!(!line.contains("half-open 0s"), "{line}");
    feed(
        &mut m,
        32_000,
        r#""type":"breaker_changed","breaker":"registry","state":"closed""#,
    );
    assert!(!status_line(&m).contains("⊗"), "{}", status_line(&m));
}

#[test]
fn a_resumed_run_keeps_its_breakers_as_the_journal_left_them() {
    let mut m = tripped(Role::Own);
    assert!(status_line(&m).contains("⊗ registry open"));
    // Resume restores the breaker, its cooldown counted from the open.
    feed(
        &mut m,
        10_000,
        r#""type":"run_started","workflow":"ship","steps":3,"resumed":true"#,
    );
    let line = status_line(&m);
    assert!(line.contains("⊗ registry open 21s "), "{line}");
}
