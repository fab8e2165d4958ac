//! The screen on `TestBackend`: a CI-shaped run with failures in several
//! layers, fed to the model as its journal would.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use signalbox::engine::{Envelope, Published};
use signalbox::tui::model::Model;
use signalbox::tui::model::ui::{Overlay, Pane};
use signalbox::tui::update::{Msg, update};
use signalbox::tui::view::view;

/// 2026-01-01T00:00:00Z in milliseconds.
const T0: u64 = 1_767_225_600_000;

const CI: &str = r#"
name: ci
steps:
  checkout: { run: "true" }
  build-linux: { needs: [checkout], run: "true" }
  build-macos: { needs: [checkout], run: "true" }
  build-stable-aarch64-unknown-linux-gnu: { needs: [checkout], run: "true" }
  clippy: { needs: [checkout], run: "true" }
  docs: { needs: [checkout], run: "true" }
  test-linux: { needs: [build-linux], run: "true" }
  test-macos: { needs: [build-macos], run: "true" }
  release: { needs: [test-linux, test-macos, clippy, docs], run: "true" }
"#;

/// The events of a run of CI: `checkout` succeeded, then what `tail` says.
fn run(tail: &[&str]) -> Model {
    let wf = signalbox::workflow::load_str(CI, "ci.yaml").unwrap();
    let mut m = Model::new(&wf);
    m.ui.color = false;
    let head = [
        r#""type":"run_started","workflow":"ci","steps":9,"resumed":false}"#,
        r#""type":"step_started","step":"checkout","attempt":1}"#,
        r#""type":"step_succeeded","step":"checkout","attempt":1,"duration_ms":100,"outputs":{},"fallback":false}"#,
    ];
    for (i, body) in head.iter().chain(tail).enumerate() {
        feed(&mut m, i as u64 + 1, i as u64 * 100, body);
    }
    update(&mut m, Msg::Resize(80, 24));
    m
}

/// Applies one journal line, `body` being what follows the envelope.
fn feed(m: &mut Model, seq: u64, ms: u64, body: &str) {
    let ts = std::time::UNIX_EPOCH + Duration::from_millis(T0 + ms);
    let line = format!(
        r#"{{"seq":{seq},"ts":"{}","run":"ci-1",{body}"#,
        humantime::format_rfc3339_millis(ts)
    );
    let envelope: Envelope = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    update(
        m,
        Msg::Event(Arc::new(Published {
            envelope,
            line: String::new(),
        })),
    );
}

fn failed(step: &str, code: i32) -> String {
    format!(
        r#""type":"step_failed","step":"{step}","attempts":1,"error":"exit code {code}","exit_code":{code}}}"#
    )
}

fn started(step: &str, attempt: u32) -> String {
    format!(r#""type":"step_started","step":"{step}","attempt":{attempt}}}"#)
}

fn out(step: &str, stream: &str, line: &str) -> String {
    let line = serde_json::to_string(line).unwrap();
    format!(r#""type":"step_output","step":"{step}","stream":"{stream}","line":{line}}}"#)
}

/// Three failures in two layers, with output.
fn failures() -> Model {
    let tail = [
        started("clippy", 1),
        out("clippy", "stdout", "warning: needless borrow"),
        failed("clippy", 2),
        started("test-macos", 1),
        started("test-linux", 1),
        out("test-linux", "stdout", "running 12 tests"),
        out("test-linux", "stdout", "test widget ... FAILED"),
        failed("test-linux", 101),
        failed("test-macos", 1),
    ];
    let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
    run(&tail)
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn press(m: &mut Model, keys: &[KeyEvent]) {
    for k in keys {
        let _ = update(m, Msg::Key(*k));
    }
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn selected(m: &Model) -> &str {
    &m.steps[m.ui.selected].id
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

fn status_line(m: &Model, w: u16) -> String {
    render(m, w, 24).pop().unwrap()
}

/// `n` goes through the failed steps in graph order (layer, then row) and
/// wraps; `N` goes the other way; both from any pane, to the graph.
#[test]
fn n_and_shift_n_visit_the_failed_steps_in_graph_order() {
    let mut m = failures();
    m.ui.focus = Pane::Log;
    let mut forward = Vec::new();
    for _ in 0..4 {
        press(&mut m, &[key('n')]);
        assert_eq!(m.ui.focus, Pane::Graph, "n gives the graph the keys");
        forward.push(selected(&m).to_string());
    }
    assert_eq!(forward[0], "clippy", "layer 1 comes before layer 2");
    let mut tests = forward[1..3].to_vec();
    tests.sort();
    assert_eq!(tests, ["test-linux", "test-macos"]);
    assert_eq!(forward[3], forward[0], "n wraps around");
    let layer = |id: &str| m.graph.place[m.step_index(id).unwrap()];
    assert!(layer(&forward[1]) < layer(&forward[2]), "then by row");
    let mut back = Vec::new();
    for _ in 0..3 {
        press(&mut m, &[key('N')]);
        back.push(selected(&m).to_string());
    }
    assert_eq!(
        back,
        [forward[2].clone(), forward[1].clone(), forward[0].clone()]
    );
}

#[test]
fn n_says_so_when_nothing_failed() {
    let mut m = run(&[]);
    press(&mut m, &[key('n')]);
    assert_eq!(selected(&m), "checkout");
    assert_eq!(m.ui.notice.as_deref(), Some("no step has failed"));
    assert!(status_line(&m, 80).contains("no step has failed"));
}

/// `/` then `Enter`: a filter that is a step's id (or part of one) selects
/// that step in the graph, and the graph shows it.
#[test]
fn the_filter_jumps_to_the_step_it_names() {
    for (typed, want) in [
        ("clippy", "clippy"),
        ("TEST-MACOS", "test-macos"),
        ("aarch64", "build-stable-aarch64-unknown-linux-gnu"),
        ("build", "build-linux"),
    ] {
        let mut m = failures();
        press(&mut m, &[key('/')]);
        press(&mut m, &typed.chars().map(key).collect::<Vec<_>>());
        press(&mut m, &[code(KeyCode::Enter)]);
        assert_eq!(selected(&m), want, "/{typed}");
        assert_eq!(m.ui.focus, Pane::Graph);
        assert_eq!(m.log.filter, typed, "the log stays filtered");
        press(&mut m, &[code(KeyCode::Enter)]);
        assert!(
            matches!(m.ui.overlay, Some(Overlay::Output { step, .. }) if m.steps[step].id == want),
            "Enter then opens its output"
        );
    }
    let mut m = failures();
    press(
        &mut m,
        &[key('/'), key('z'), key('z'), code(KeyCode::Enter)],
    );
    assert_eq!(
        selected(&m),
        "checkout",
        "no step named: the selection stays"
    );
}

/// At 80 columns the status line names as many failed steps as fit and
/// counts the rest; at any width, no word is cut.
#[test]
fn the_status_line_names_the_failed_steps_and_never_cuts_a_word() {
    let mut m = failures();
    for (i, step) in ["build-stable-aarch64-unknown-linux-gnu", "docs"]
        .iter()
        .enumerate()
    {
        feed(&mut m, 50 + i as u64, 5000, &failed(step, 1));
    }
    let wide = status_line(&m, 250);
    let mut order: Vec<usize> = (0..m.steps.len())
        .filter(|&i| m.steps[i].status == signalbox::tui::model::Status::Failed)
        .collect();
    order.sort_by_key(|&i| m.graph.place[i]);
    let names: Vec<&str> = order.iter().map(|&i| m.steps[i].id.as_str()).collect();
    assert!(
        wide.contains(&format!("✗5 failed: {} ", names.join(", "))),
        "names whole, in graph order: {wide}"
    );
    assert!(!wide.contains("more"), "{wide}");
    let narrow = status_line(&m, 80);
    let shown = narrow
        .split("failed: ")
        .nth(1)
        .and_then(|rest| rest.split(" +").next())
        .unwrap_or_else(|| panic!("names at 80 columns: {narrow}"));
    let names = shown.split(", ").count();
    assert!(narrow.contains(&format!("+{} more", 5 - names)), "{narrow}");
    let mut allowed: Vec<String> = wide.split_whitespace().map(str::to_string).collect();
    allowed.extend(
        "+1 +2 +3 +4 more failed a/r approve/reject ? help d detach q quit · Tab pane Enter output n next failure a approve r reject w waits"
            .split(' ')
            .map(str::to_string),
    );
    for width in 40..=250 {
        let line = status_line(&m, width);
        for word in line.split_whitespace() {
            let word = word.trim_end_matches(',');
            assert!(
                allowed.iter().any(|a| a.trim_end_matches(',') == word),
                "{width} columns: {word:?} is cut in {line:?}"
            );
        }
    }
}

/// The replay's status line at 80x24 says where it stands in whole words.
#[test]
fn the_replay_status_line_cuts_no_word() {
    let mut yaml = String::from("name: big\nsteps:\n");
    for i in 0..45 {
        yaml.push_str(&format!("  step-{i}: {{ run: 'true' }}\n"));
    }
    let mut m = Model::new(&signalbox::workflow::load_str(&yaml, "big.yaml").unwrap());
    m.ui.replay = Some((0, 304));
    let line = status_line(&m, 80);
    assert!(line.contains("·45 pending"), "{line}");
    assert!(line.contains("replay: event 0 of 304 · "), "{line}");
    assert!(line.contains("q quit"), "{line}");
    let wide = status_line(&m, 160);
    assert!(wide.contains("F next failure"), "{wide}");
    let narrow = status_line(&m, 40);
    assert!(
        narrow.contains(" ·45 ") && narrow.contains(" replay: event 0 of 304 "),
        "{narrow}"
    );
}

fn viewer(m: &Model, w: u16, h: u16) -> String {
    render(m, w, h).join("\n")
}

/// The viewer's title says the step, attempt, exit code and duration.
#[test]
fn the_output_viewer_says_how_the_step_ended() {
    let mut m = failures();
    m.ui.selected = m.step_index("test-linux").unwrap();
    press(&mut m, &[code(KeyCode::Enter)]);
    let screen = viewer(&m, 80, 24);
    assert!(
        screen.contains("test-linux · attempt 1 · ✗ exit 101 · 300ms · 2 lines"),
        "{screen}"
    );
    assert!(screen.contains("test widget ... FAILED"), "{screen}");
    assert!(!screen.contains("2>"), "merged output has no stderr marks");
    // A step that failed with no process says its error instead.
    let mut m = failures();
    feed(
        &mut m,
        60,
        900,
        r#""type":"step_failed","step":"docs","attempts":2,"error":"breaker registry is open","exit_code":null}"#,
    );
    m.ui.selected = m.step_index("docs").unwrap();
    press(&mut m, &[code(KeyCode::Enter)]);
    let screen = viewer(&m, 80, 24);
    assert!(
        screen.contains("docs · attempt 2 · ✗ breaker registry is open"),
        "{screen}"
    );
    assert!(screen.contains("║no output "), "it ended silent: {screen}");
}

#[test]
fn a_silent_step_says_no_output_yet_only_while_it_runs() {
    let mut m = run(&[&started("docs", 1)]);
    m.ui.selected = m.step_index("docs").unwrap();
    press(&mut m, &[code(KeyCode::Enter)]);
    assert!(viewer(&m, 80, 24).contains("no output yet"));
    feed(
        &mut m,
        10,
        500,
        r#""type":"step_succeeded","step":"docs","attempt":1,"duration_ms":200,"outputs":{},"fallback":false}"#,
    );
    let screen = viewer(&m, 80, 24);
    assert!(!screen.contains("no output yet"), "{screen}");
    assert!(screen.contains("no output"), "{screen}");
    assert!(
        screen.contains("docs · attempt 1 · ✓ succeeded · 200ms"),
        "{screen}"
    );
}

/// With `output: separate`, stderr lines are marked `2>` and stdout lines
/// are not.
#[test]
fn stderr_lines_are_marked() {
    let tail = [
        started("clippy", 1),
        out("clippy", "stdout", "checking signalbox"),
        out("clippy", "stderr", "error: unused import"),
        failed("clippy", 2),
    ];
    let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
    let mut m = run(&tail);
    press(&mut m, &[key('n'), code(KeyCode::Enter)]);
    let screen = render(&m, 80, 24);
    let row = |text: &str| {
        screen
            .iter()
            .find(|r| r.contains(text))
            .unwrap_or_else(|| panic!("{text} on {screen:#?}"))
            .clone()
    };
    assert!(row("error: unused import").contains("2> error: unused import"));
    assert!(row("checking signalbox").contains("   checking signalbox"));
    assert!(!row("checking signalbox").contains("2>"));
}

/// `Enter` on a line of the log opens that line's step's output with the
/// line in view.
#[test]
fn enter_on_a_log_line_opens_its_output_there() {
    let mut tail: Vec<String> = vec![started("test-linux", 1)];
    for i in 0..60 {
        tail.push(out("test-linux", "stdout", &format!("test case {i} ok")));
    }
    tail.push(failed("test-linux", 101));
    let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
    let mut m = run(&tail);
    m.ui.focus = Pane::Log;
    // From the newest line (the failure), up to `test case 40 ok`.
    let ups: Vec<KeyEvent> = (0..20).map(|_| code(KeyCode::Up)).collect();
    press(&mut m, &ups);
    assert_eq!(
        m.log.selected_line().map(|l| l.text.as_str()),
        Some("  test-linux │ test case 40 ok")
    );
    let log = viewer(&m, 80, 24);
    assert!(
        log.contains("test case 40 ok"),
        "the selection is in view: {log}"
    );
    press(&mut m, &[code(KeyCode::Enter)]);
    let Some(Overlay::Output { step, mark, .. }) = m.ui.overlay else {
        panic!("no viewer: {:?}", m.ui.overlay);
    };
    assert_eq!(m.steps[step].id, "test-linux");
    assert!(mark.is_some());
    let screen = viewer(&m, 80, 24);
    assert!(screen.contains("test case 40 ok"), "{screen}");
    assert!(
        !screen.contains("test case 59 ok"),
        "opened there, not at the end"
    );
    // A line about no step says so.
    let mut m = run(&[]);
    m.ui.focus = Pane::Log;
    let ups: Vec<KeyEvent> = (0..5).map(|_| code(KeyCode::Up)).collect();
    press(&mut m, &ups);
    press(&mut m, &[code(KeyCode::Enter)]);
    assert!(m.ui.overlay.is_none());
    assert!(m.ui.notice.is_some());
}

/// A 300-column line is readable whole at 80 columns: wrapped in the
/// viewer, and in the log pane after `W`, or cut and scrolled with `→`.
#[test]
fn a_long_line_wraps_or_scrolls_sideways() {
    let long: String = (0..30).map(|i| format!("part{i:02}-abc ")).collect();
    assert!(long.len() >= 300);
    let mut m = run(&[
        &started("clippy", 1),
        &out("clippy", "stdout", &long),
        &failed("clippy", 2),
    ]);
    let words = |screen: &str| {
        (0..30)
            .filter(|i| screen.contains(&format!("part{i:02}")))
            .count()
    };
    // The viewer wraps by default: its rows, read on, are the whole line.
    press(&mut m, &[key('n'), code(KeyCode::Enter)]);
    assert_eq!(unwrapped(&render(&m, 80, 24), 2), long.trim_end());
    // `W` cuts it; `→` shows the rest.
    press(&mut m, &[key('W')]);
    let cut = viewer(&m, 80, 24);
    assert!(words(&cut) < 8, "{cut}");
    assert!(!cut.contains("part29"));
    let rights: Vec<KeyEvent> = (0..17).map(|_| code(KeyCode::Right)).collect();
    press(&mut m, &rights);
    assert!(
        viewer(&m, 80, 24).contains("part29"),
        "{}",
        viewer(&m, 80, 24)
    );
    press(&mut m, &[code(KeyCode::Esc)]);
    // The log pane cuts by default; `W` wraps it.
    let pane = viewer(&m, 80, 24);
    assert!(!pane.contains("part29"), "{pane}");
    press(&mut m, &[key('W')]);
    let pane = unwrapped(&render(&m, 80, 24), 1);
    assert!(pane.ends_with(long.trim_end()), "{pane}");
    press(&mut m, &[key('W')]);
    m.ui.focus = Pane::Log;
    press(&mut m, &rights);
    assert!(viewer(&m, 80, 24).contains("part29"));
}

/// `→` stops while the widest line still shows part of itself, and a viewer
/// opened again starts at its first column.
#[test]
fn sideways_scroll_ends_at_the_widest_line() {
    let long: String = (0..30).map(|i| format!("part{i:02}-abc ")).collect();
    let mut m = run(&[
        &started("clippy", 1),
        &out("clippy", "stdout", &long),
        &failed("clippy", 2),
    ]);
    press(&mut m, &[key('n'), code(KeyCode::Enter), key('W')]);
    let rights: Vec<KeyEvent> = (0..200).map(|_| code(KeyCode::Right)).collect();
    press(&mut m, &rights);
    let shown = viewer(&m, 80, 24);
    assert!(shown.contains("29-abc"), "{shown}");
    press(&mut m, &[code(KeyCode::Esc), code(KeyCode::Enter)]);
    let shown = viewer(&m, 80, 24);
    assert!(shown.contains("part00"), "{shown}");
    press(&mut m, &[code(KeyCode::Esc)]);
    m.ui.focus = Pane::Log;
    press(&mut m, &rights);
    let shown = viewer(&m, 80, 24);
    assert!(shown.contains("29-abc"), "{shown}");
}

/// The text of the rows from the one where `part00` starts, each without
/// its `frame` columns of frame each side and 6-column gutter, joined: a
/// wrapped line read back.
fn unwrapped(rows: &[String], frame: usize) -> String {
    let inner = |r: &String| -> String {
        let cells: Vec<char> = r.chars().collect();
        cells[frame + 6..cells.len() - frame].iter().collect()
    };
    let first = rows.iter().position(|r| r.contains("part00")).unwrap();
    let mut text = String::new();
    for r in &rows[first..] {
        text.push_str(&inner(r));
        if r.contains("part29") {
            break;
        }
    }
    text.trim_end().to_string()
}

/// In the output viewer, `n` moves it to the next failed step's output.
#[test]
fn n_in_the_viewer_shows_the_next_failure() {
    let mut m = failures();
    press(&mut m, &[key('n'), code(KeyCode::Enter)]);
    let shown = |m: &Model| match m.ui.overlay {
        Some(Overlay::Output { step, .. }) => m.steps[step].id.clone(),
        _ => panic!("no viewer: {:?}", m.ui.overlay),
    };
    assert_eq!(shown(&m), "clippy");
    press(&mut m, &[key('n')]);
    assert_eq!(shown(&m), selected(&m));
    assert!(shown(&m).starts_with("test-"));
    assert!(viewer(&m, 80, 24).contains(&format!("{} · attempt 1 · ✗ exit", shown(&m))));
}

/// Help at 80x24 shows every key, `n N` and `W` among them.
#[test]
fn help_at_80x24_lists_every_key() {
    let mut m = failures();
    press(&mut m, &[key('?')]);
    let screen = viewer(&m, 80, 24);
    for b in signalbox::tui::keys::NORMAL {
        if !b.label.is_empty() {
            assert!(screen.contains(b.label), "{} in:\n{screen}", b.label);
        }
    }
    assert!(screen.contains("any key closes this help"), "{screen}");
}
