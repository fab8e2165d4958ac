//! A breaker on the graph (SPEC §5, issue 13): every step that names an
//! open breaker says so in its box, `⊗ open 26s`, the cooldown counting
//! down as the status line's does; half-open `◐ half-open`; closed says
//! nothing; a compact line with nothing else to say shows `⊗ 26s`.
//! Through `update` and `TestBackend`, and once through the real binary in
//! tmux. And `R`'s question counts the cancelled dependents a
//! retry returns to pending.

use crate::T0;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use signalbox::tui::model::Model;
use signalbox::tui::model::ui::Overlay;
use signalbox::tui::update::{Msg, update};
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

fn model(flow: &str) -> Model {
    let mut m = Model::new(&load_str(flow, "ship.yaml").unwrap());
    m.ui.color = false;
    update(&mut m, Msg::Resize(100, 30));
    feed(
        &mut m,
        0,
        r#""type":"run_started","workflow":"ship","steps":3,"resumed":false"#,
    );
    m
}

/// `publish` failed once at 1 s and tripped `registry`; it backs off.
fn tripped() -> Model {
    let mut m = model(FLOW);
    feed(
        &mut m,
        100,
        r#""type":"step_started","step":"publish","attempt":1"#,
    );
    feed(
        &mut m,
        1_000,
        r#""type":"breaker_changed","breaker":"registry","state":"open""#,
    );
    feed(
        &mut m,
        1_000,
        r#""type":"step_retrying","step":"publish","attempt":1,"error":"exit code 1","exit_code":1,"delay_ms":10000"#,
    );
    update(&mut m, Msg::Clock(T0 + 5_000));
    m
}

fn render(m: &Model) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
    t.draw(|f| view(m, f)).unwrap();
    t
}

fn rows(t: &Terminal<TestBackend>) -> Vec<String> {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

/// The box of `step`: its three rows, cut to its columns.
fn step_box(rows: &[String], step: &str) -> [String; 3] {
    let (y, line) = rows
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains(&format!(" {step} ")))
        .unwrap_or_else(|| panic!("no box for {step}:\n{}", rows.join("\n")));
    let chars: Vec<char> = line.chars().collect();
    let name_at = line[..line.find(&format!(" {step} ")).unwrap()]
        .chars()
        .count();
    let left = (0..name_at)
        .rev()
        .find(|&x| "╭┏".contains(chars[x]))
        .unwrap();
    let right = (name_at..chars.len())
        .find(|&x| "╮┓".contains(chars[x]))
        .unwrap();
    let cut = |l: &String| l.chars().skip(left).take(right + 1 - left).collect();
    [cut(&rows[y]), cut(&rows[y + 1]), cut(&rows[y + 2])]
}

#[test]
fn every_step_behind_an_open_breaker_shows_it_in_its_box_with_the_time_left() {
    let mut m = tripped();
    let screen = rows(&render(&m));
    for step in ["publish", "mirror"] {
        let b = step_box(&screen, step);
        assert!(
            b[2].starts_with("╰ ⊗ open 26s ─") || b[2].starts_with("┗ ⊗ open 26s ━"),
            "{step}'s box: {b:#?}"
        );
        assert!(b[2].ends_with('╯') || b[2].ends_with('┛'), "{b:#?}");
        assert_eq!(b[2].chars().count(), b[0].chars().count(), "{b:#?}");
    }
    let build = step_box(&screen, "build");
    assert!(
        !build.concat().contains('⊗'),
        "build names no breaker: {build:#?}"
    );
    // The line inside still says the step's own state.
    assert!(step_box(&screen, "publish")[1].contains("retry #2 in"));

    // The countdown ticks with the clock, as the status line's does.
    update(&mut m, Msg::Clock(T0 + 6_000));
    let screen = rows(&render(&m));
    assert!(step_box(&screen, "mirror")[2].contains("⊗ open 25s "));
    assert!(screen.last().unwrap().contains("⊗ registry open 25s"));
}

#[test]
fn half_open_says_so_and_closed_says_nothing() {
    let mut m = tripped();
    feed(
        &mut m,
        31_000,
        r#""type":"breaker_changed","breaker":"registry","state":"half_open""#,
    );
    let screen = rows(&render(&m));
    for step in ["publish", "mirror"] {
        let b = step_box(&screen, step);
        assert!(b[2].contains(" ◐ half-open "), "{b:#?}");
        assert!(!b[2].contains('⊗'), "{b:#?}");
    }
    feed(
        &mut m,
        32_000,
        r#""type":"breaker_changed","breaker":"registry","state":"closed""#,
    );
    let screen = rows(&render(&m));
    for step in ["publish", "mirror"] {
        let b = step_box(&screen, step);
        assert!(!b[2].contains('⊗') && !b[2].contains('◐'), "{b:#?}");
    }
}

#[test]
fn the_breaker_line_is_in_the_breakers_colour() {
    let mut m = tripped();
    m.ui.color = true;
    let t = render(&m);
    let screen = rows(&t);
    let (y, line) = screen
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains("⊗ open 26s"))
        .unwrap();
    let x = line[..line.find('⊗').unwrap()].chars().count() as u16;
    let cell = &t.backend().buffer()[(x, y as u16)];
    assert_eq!(cell.fg, Color::Red, "open: the status line's colour");

    feed(
        &mut m,
        31_000,
        r#""type":"breaker_changed","breaker":"registry","state":"half_open""#,
    );
    let t = render(&m);
    let screen = rows(&t);
    let (y, line) = screen
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains("◐ half-open"))
        .unwrap();
    let x = line[..line.find('◐').unwrap()].chars().count() as u16;
    assert_eq!(t.backend().buffer()[(x, y as u16)].fg, Color::Yellow);
}

#[test]
fn once_the_run_has_ended_an_open_breaker_counts_down_no_more() {
    let mut m = tripped();
    feed(
        &mut m,
        2_000,
        r#""type":"step_failed","step":"publish","attempts":2,"error":"breaker registry is open""#,
    );
    feed(
        &mut m,
        2_000,
        r#""type":"run_finished","status":"failed","duration_ms":2000"#,
    );
    let screen = rows(&render(&m));
    let b = step_box(&screen, "mirror");
    assert!(
        b[2].contains(" ⊗ open ─") || b[2].contains(" ⊗ open ━"),
        "{b:#?}"
    );
}

#[test]
fn the_narrowest_box_keeps_its_width_and_the_breaker_line_inside_it() {
    // Two layers on 40 columns: the boxes are as narrow as they come.
    let flow = FLOW.replace(
        "    run: ./mirror.sh",
        "    needs: [build]\n    run: ./mirror.sh",
    );
    let mut m = model(&flow);
    feed(
        &mut m,
        1_000,
        r#""type":"breaker_changed","breaker":"registry","state":"open""#,
    );
    update(&mut m, Msg::Clock(T0 + 5_000));
    update(&mut m, Msg::Resize(40, 40));
    let mut t = Terminal::new(TestBackend::new(40, 40)).unwrap();
    t.draw(|f| view(&m, f)).unwrap();
    let screen = rows(&t);
    let b = step_box(&screen, "publish");
    assert_eq!(b[0].chars().count(), 20, "the narrowest box: {b:#?}");
    assert_eq!(b[2], "┗ ⊗ open 26s ━━━━━━┛", "selected, so drawn heavy");
    // A box cut by the pane's edge is cut with its breaker line.
    let edge: Vec<&String> = screen
        .iter()
        .filter(|l| l.contains("⊗ open 26s ─┃"))
        .collect();
    assert_eq!(edge.len(), 1, "{}", screen.join("\n"));
}

const PIPELINE: &str = r#"
name: ship
steps:
  gate:
    approval: { prompt: "Ship?" }
  build:
    run: make
  lint:
    needs: [build]
    run: make lint
  package:
    needs: [build, gate]
    run: make package
  ship:
    needs: [package]
    run: make ship
"#;

#[test]
fn rs_question_counts_the_cancelled_dependents_it_returns_to_pending() {
    let mut m = model(PIPELINE);
    for body in [
        r#""type":"step_started","step":"build","attempt":1"#,
        r#""type":"step_failed","step":"build","attempts":1,"error":"exit code 1","exit_code":1"#,
        r#""type":"step_skipped","step":"lint","reason":"upstream_failed","cause":"build""#,
        r#""type":"step_cancelled","step":"package","reason":"operator""#,
        r#""type":"step_skipped","step":"ship","reason":"upstream_failed","cause":"package""#,
    ] {
        feed(&mut m, 1_000, body);
    }
    m.ui.selected = m.step_index("build").unwrap();
    update(
        &mut m,
        Msg::Key(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT)),
    );
    let Some(Overlay::ConfirmStep { question, .. }) = &m.ui.overlay else {
        panic!("R asks first: {:?}", m.ui.overlay);
    };
    assert_eq!(
        question,
        "Retry build? It runs again from attempt 1. Its 3 skipped or cancelled dependents return to pending."
    );
}

/// Through the real binary: `publish` trips `registry` (a 30 s cooldown)
/// and backs off behind it; `mirror`, which needs it, names it too. Both
/// boxes count the cooldown down; after `B`, `y` the breaker closes,
/// `publish` goes through, and the boxes say nothing more.
#[test]
fn the_boxes_count_an_open_breaker_down_on_the_real_screen() {
    use crate::common::BIN;
    use crate::common::tmux::tmux_session;
    let Some((session, _state)) = tmux_session("sb-breakers13") else {
        return;
    };
    let work = super::Work::new();
    let mark = work.path("failed-once");
    let file = work.write(&format!(
        r#"
name: reg
breakers:
  registry: {{ failures: 1, cooldown: 30s }}
steps:
  publish:
    breaker: registry
    retry: {{ attempts: 1000, delay: 300ms, factor: 1, jitter: none }}
    run: test -f {mark} || {{ touch {mark}; exit 1; }}
  mirror:
    needs: [publish]
    breaker: registry
    run: echo mirrored
"#,
        mark = mark.display()
    ));
    session.start_sized(
        &format!(
            "{BIN} run {} --state-dir {}; echo \"EXIT=$?\"; sleep 60",
            file.display(),
            work.state().display()
        ),
        120,
        32,
    );
    let screen = session.wait_for("⊗ open ", 10);
    let left = seconds_left(&screen);
    assert_eq!(
        screen.matches(&format!("⊗ open {left}s")).count(),
        2,
        "both boxes:\n{screen}"
    );
    // It ticks: a second later both boxes say one second less.
    let screen = session.wait_for(&format!("⊗ open {}s", left - 1), 5);
    assert!(
        screen.contains(&format!("⊗ registry open {}s", left - 1)),
        "the boxes and the status line count alike:\n{screen}"
    );
    session.keys(&["B"]);
    session.wait_for("Reset breaker registry (open)?", 5);
    session.keys(&["y"]);
    let screen = session.wait_for("succeeded in", 15);
    assert!(
        !screen.contains("⊗ open") && !screen.contains('◐'),
        "closed: the boxes say nothing\n{screen}"
    );
    session.keys(&["q"]);
    let screen = session.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=0"), "{screen}");
}

/// The seconds in the first box's `⊗ open 29s`.
fn seconds_left(screen: &str) -> u64 {
    let at = screen.find("⊗ open ").unwrap() + "⊗ open ".len();
    let digits: String = screen[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no seconds after ⊗ open:\n{screen}"))
}

#[test]
fn a_compact_line_with_nothing_else_to_say_shows_the_breaker() {
    let mut m = tripped();
    update(
        &mut m,
        Msg::Key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::NONE)),
    );
    assert_eq!(m.ui.compact, Some(true));
    let screen = rows(&render(&m));
    let line = |step: &str| {
        screen
            .iter()
            .find(|l| l.contains(&format!(" {step} ")))
            .unwrap_or_else(|| panic!("no line for {step}:\n{}", screen.join("\n")))
            .clone()
    };
    assert!(line("mirror").contains(" ⊗ 26s"), "{}", line("mirror"));
    // A step backing off says when it retries, as before.
    assert!(!line("publish").contains('⊗'), "{}", line("publish"));
    assert!(!line("build").contains('⊗'), "{}", line("build"));
}

#[test]
fn after_a_resume_the_boxes_go_on_counting_from_the_journaled_open() {
    let mut m = tripped();
    feed(
        &mut m,
        10_000,
        r#""type":"run_started","workflow":"ship","steps":3,"resumed":true"#,
    );
    let screen = rows(&render(&m));
    assert!(
        step_box(&screen, "mirror")[2].contains("⊗ open 21s "),
        "{}",
        screen.join("\n")
    );
}
