//! `R`, `s`, `x` and `n` on matrix groups, and the log filter naming one.

use signalbox::engine::{By, Command};
use signalbox::tui::model::ui::Overlay;
use signalbox::tui::update::{Msg, update};

use super::{failed, feed, five, key, press, render};

fn retry(step: &str) -> Command {
    Command::Retry {
        step: step.into(),
        by: By::Keyboard,
    }
}

/// `five` with the group selected and `build:k4` cancelled too.
fn on_group() -> signalbox::tui::model::Model {
    let mut m = five();
    feed(
        &mut m,
        600,
        r#""type":"step_cancelled","step":"build:k4","reason":"operator""#,
    );
    press(&mut m, vec![key('l')]);
    m
}

#[test]
fn r_on_a_group_asks_then_retries_only_its_failed_and_cancelled_instances() {
    let mut m = on_group();
    assert!(press(&mut m, vec![key('R')]).is_empty(), "it asks first");
    let Some(Overlay::ConfirmGroup { question, .. }) = &m.ui.overlay else {
        panic!("{:?}", m.ui.overlay);
    };
    assert!(
        question.contains("the 2 failed or cancelled instances of build"),
        "{question}"
    );
    assert!(render(&m).contains("retry? y/n"));
    let sent = press(&mut m, vec![key('y')]);
    assert_eq!(sent, vec![retry("build:k3"), retry("build:k4")]);
    assert!(m.ui.overlay.is_none());
}

#[test]
fn n_on_a_group_dialog_sends_nothing() {
    let mut m = on_group();
    let sent = press(&mut m, vec![key('R'), key('n')]);
    assert!(sent.is_empty());
    assert!(m.ui.overlay.is_none());
}

#[test]
fn r_on_a_group_with_nothing_failed_is_refused() {
    let mut m = super::model(&super::workflow(5));
    press(&mut m, vec![key('l'), key('R')]);
    assert!(m.ui.overlay.is_none());
    let notice = m.ui.notice.clone().unwrap();
    assert!(notice.contains("R on build retries its failed"), "{notice}");
}

#[test]
fn r_on_a_group_of_a_finished_run_retries_those_instances() {
    let mut m = on_group();
    feed(
        &mut m,
        900,
        r#""type":"run_finished","status":"failed","duration_ms":900"#,
    );
    let sent = press(&mut m, vec![key('R'), key('y')]);
    assert!(sent.is_empty(), "a finished run is retried by `retry`");
    assert_eq!(m.ui.retry, ["build:k3", "build:k4"]);
}

#[test]
fn s_and_x_on_a_group_act_on_its_instances_not_ended() {
    let mut m = five();
    press(&mut m, vec![key('l')]);
    let sent = press(&mut m, vec![key('x')]);
    assert!(sent.is_empty());
    let Some(Overlay::ConfirmGroup { question, .. }) = &m.ui.overlay else {
        panic!("{:?}", m.ui.overlay);
    };
    assert!(
        question.contains("the 2 unfinished instances of build"),
        "{question}"
    );
    let sent = press(&mut m, vec![key('y')]);
    let cancel = |s: &str| Command::Cancel {
        step: Some(s.into()),
        by: By::Keyboard,
    };
    assert_eq!(sent, vec![cancel("build:k2"), cancel("build:k4")]);
    let sent = press(&mut m, vec![key('s'), key('y')]);
    let skip = |s: &str| Command::Skip {
        step: s.into(),
        by: By::Keyboard,
    };
    assert_eq!(sent, vec![skip("build:k2"), skip("build:k4")]);
}

#[test]
fn n_opens_a_closed_group_to_select_its_failed_instance() {
    let mut m = five();
    failed(&mut m, 700, "build:k4");
    assert!(!m.groups[0].open);
    press(&mut m, vec![key('n')]);
    assert!(m.groups[0].open, "n opens the group");
    assert_eq!(m.steps[m.ui.selected].id, "build:k3");
    press(&mut m, vec![key('n')]);
    assert_eq!(m.steps[m.ui.selected].id, "build:k4");
    assert!(render(&m).contains("build:k4: failed"));
}

#[test]
fn the_log_filter_naming_a_group_selects_it() {
    let mut m = five();
    update(&mut m, key('/'));
    for c in "build".chars() {
        update(&mut m, key(c));
    }
    update(
        &mut m,
        Msg::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Enter,
            crossterm::event::KeyModifiers::NONE,
        )),
    );
    assert!(render(&m).contains("build ×5: running"));
    // A filter naming one instance opens its group and selects it.
    update(&mut m, key('/'));
    for _ in 0.."build".len() {
        update(
            &mut m,
            Msg::Key(crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Backspace,
                crossterm::event::KeyModifiers::NONE,
            )),
        );
    }
    for c in "build:k1".chars() {
        update(&mut m, key(c));
    }
    update(
        &mut m,
        Msg::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Enter,
            crossterm::event::KeyModifiers::NONE,
        )),
    );
    assert!(m.groups[0].open);
    assert_eq!(m.steps[m.ui.selected].id, "build:k1");
}

#[test]
fn the_wait_queue_names_instances_by_their_ids() {
    let mut wf = signalbox::workflow::load_str(
        "name: mx
steps:
  regions-eu:
    approval: { prompt: Ship eu? }
  regions-us:
    approval: { prompt: Ship us? }
",
        "mx.yaml",
    )
    .unwrap();
    super::group(&mut wf, "regions", "regions-", "region");
    let mut m = super::model(&wf);
    feed(
        &mut m,
        100,
        r#""type":"approval_requested","step":"regions:eu","wait":"w1","prompt":"Ship eu?","timeout_ms":300000"#,
    );
    let screen = render(&m);
    let queue: Vec<&str> = (screen.lines())
        .filter(|l| l.contains("Ship eu?"))
        .collect();
    assert!(queue.iter().any(|l| l.contains("regions:eu")), "{screen}");
    // `a` approves the instance by its id.
    let sent = press(&mut m, vec![key('a')]);
    assert_eq!(
        sent,
        vec![Command::Approve {
            step: "regions:eu".into(),
            by: By::Keyboard,
        }]
    );
}
