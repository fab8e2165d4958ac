//! Matrix steps on the screen (SPEC §5): a matrix step is one
//! group box (`build ×5 ✓2 ▶1 ✗1 ·1`) whose edges are its instances'
//! edges, `Enter` opens it into its instances under a header and `-`
//! closes it, groups of at most four start open, `R` on a group retries
//! only its failed and cancelled instances after asking, `s`/`x` act on
//! the instances not ended, `n` opens a group to reach a failed instance,
//! and the output viewer shows a step's description. `update` driven by
//! messages and keys, the view rendered on `TestBackend`; the real binary
//! in tmux is in `matrix_screen/tmux.rs`.

mod edges;
mod keys;
mod tmux;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use signalbox::engine::Command;
use signalbox::tui::model::Model;
use signalbox::tui::update::{Msg, update};
use signalbox::tui::view::view;
use signalbox::workflow::{Group, Instance, Workflow, load_str};

/// `setup`, then a matrix step `build` of `n` instances (`build:k0`...)
/// that each need `setup`, then `publish` needing every instance. The
/// groups and instances are set as the loader sets them.
pub fn workflow(n: usize) -> Workflow {
    let mut yaml = String::from("name: mx\nsteps:\n  setup:\n    run: echo setup\n");
    for k in 0..n {
        yaml.push_str(&format!(
            "  build-k{k}:\n    needs: [setup]\n    run: echo build\n"
        ));
    }
    let all: Vec<String> = (0..n).map(|k| format!("build-k{k}")).collect();
    yaml.push_str(&format!(
        "  publish:\n    needs: [{}]\n    run: echo publish\n",
        all.join(", ")
    ));
    let mut wf = load_str(&yaml, "mx.yaml").unwrap();
    group(&mut wf, "build", "build-", "target");
    wf
}

/// Makes the steps whose ids start with `prefix` instances of a matrix
/// step `id` (ids `id:KEY`), as the loader would.
pub fn group(wf: &mut Workflow, id: &str, prefix: &str, axis: &str) {
    let g = wf.groups.len();
    let mut members = Vec::new();
    for (i, s) in wf.steps.iter_mut().enumerate() {
        if let Some(key) = s.id.strip_prefix(prefix) {
            let key = key.to_string();
            s.id = format!("{id}:{key}");
            s.instance = Some(Box::new(Instance {
                group: g,
                values: vec![(axis.to_string(), key)],
            }));
            members.push(i);
        }
    }
    wf.groups.push(Group {
        id: id.to_string(),
        line: 1,
        axes: vec![axis.to_string()],
        members,
        max_parallel: None,
        fail_fast: false,
        description: None,
    });
}

pub fn model(wf: &Workflow) -> Model {
    let mut m = Model::new(wf);
    m.ui.color = false;
    update(&mut m, Msg::Resize(120, 60));
    m
}

pub fn feed(m: &mut Model, ms: u64, body: &str) {
    crate::feed_event(m, "mx-1", ms, body);
}

pub fn started(m: &mut Model, ms: u64, step: &str) {
    feed(
        m,
        ms,
        &format!(r#""type":"step_started","step":"{step}","attempt":1"#),
    );
}

pub fn succeeded(m: &mut Model, ms: u64, step: &str) {
    started(m, ms, step);
    feed(
        m,
        ms + 10,
        &format!(
            r#""type":"step_succeeded","step":"{step}","attempt":1,"duration_ms":10,"outputs":{{}},"fallback":false"#
        ),
    );
}

pub fn failed(m: &mut Model, ms: u64, step: &str) {
    started(m, ms, step);
    feed(
        m,
        ms + 10,
        &format!(
            r#""type":"step_failed","step":"{step}","attempts":1,"error":"exit code 1","exit_code":1"#
        ),
    );
}

pub fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn enter() -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
}

pub fn down() -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE))
}

/// Presses each message; every command sent, in order (the one `update`
/// returns, then what it left for the app loop to send).
pub fn press(m: &mut Model, msgs: Vec<Msg>) -> Vec<Command> {
    let mut out = Vec::new();
    for msg in msgs {
        out.extend(update(m, msg));
        out.append(&mut m.ui.outbox);
    }
    out
}

pub fn draw(m: &Model, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view(m, f)).unwrap();
    t.backend().buffer().clone()
}

pub fn text(b: &Buffer) -> String {
    let w = b.area.width as usize;
    let cells: Vec<&str> = b.content.iter().map(|c| c.symbol()).collect();
    cells
        .chunks(w)
        .map(|r| r.concat().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn render(m: &Model) -> String {
    text(&draw(m, 120, 60))
}

/// Five instances: two succeeded, one running, one failed, one pending.
pub fn five() -> Model {
    let mut m = model(&workflow(5));
    feed(
        &mut m,
        0,
        r#""type":"run_started","workflow":"mx","steps":7,"resumed":false"#,
    );
    succeeded(&mut m, 100, "setup");
    succeeded(&mut m, 200, "build:k0");
    succeeded(&mut m, 300, "build:k1");
    started(&mut m, 400, "build:k2");
    failed(&mut m, 500, "build:k3");
    m
}

#[test]
fn a_closed_group_is_one_box_with_its_counts() {
    let m = five();
    assert!(!m.groups[0].open, "five instances start closed");
    let screen = render(&m);
    assert!(screen.contains("build ×5"), "{screen}");
    assert!(screen.contains("▶ ✓2 ▶1 ✗1 ·1"), "{screen}");
    assert!(!screen.contains(" build:k0 ─"), "no instance box\n{screen}");
    // Its colours are its statuses': the failed count is red.
    let mut m = m;
    m.ui.color = true;
    let buf = draw(&m, 120, 60);
    let at = text(&buf)
        .lines()
        .enumerate()
        .find_map(|(y, l)| l.find("✗1").map(|x| (l[..x].chars().count(), y)))
        .unwrap();
    assert_eq!(
        buf[(at.0 as u16, at.1 as u16)].fg,
        ratatui::style::Color::Red
    );
}

#[test]
fn compact_mode_shows_a_group_as_one_line() {
    let mut m = five();
    update(&mut m, key('z'));
    assert!(m.graph.compact());
    let screen = render(&m);
    assert!(screen.contains("▶ build ×5 ✓2 ▶1 ✗1 ·1"), "{screen}");
}

#[test]
fn enter_opens_a_group_and_minus_closes_it() {
    let mut m = five();
    // setup, then the group.
    press(&mut m, vec![key('l')]);
    assert!(render(&m).contains("build ×5: running ✓2 ▶1 ✗1 ·1"));
    press(&mut m, vec![enter()]);
    assert!(m.groups[0].open);
    assert!(m.ui.overlay.is_none(), "Enter on a group opens no output");
    let screen = render(&m);
    assert!(
        screen.contains("▾ build ×5"),
        "the header names the group\n{screen}"
    );
    // The instances sit together, under the header, in expansion order.
    let row = |s: &str| {
        (screen.lines().position(|l| l.contains(s))).unwrap_or_else(|| panic!("{s}\n{screen}"))
    };
    let rows: Vec<usize> = (0..5).map(|k| row(&format!("╭ build:k{k} ─"))).collect();
    assert!(row("▾ build ×5") < rows[0], "{screen}");
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "{screen}");
    // Down to the first instance; Enter opens its output as for any step.
    press(&mut m, vec![down(), enter()]);
    assert_eq!(m.steps[m.ui.selected].id, "build:k0");
    assert!(matches!(
        m.ui.overlay,
        Some(signalbox::tui::model::ui::Overlay::Output { .. })
    ));
    // `-` on an instance closes its group; the group box is selected.
    press(
        &mut m,
        vec![
            Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
            key('-'),
        ],
    );
    assert!(!m.groups[0].open);
    let screen = render(&m);
    assert!(!screen.contains(" build:k0 ─"), "{screen}");
    assert!(screen.contains("build ×5: running"), "selected: {screen}");
    // Enter opens it again, and Enter on the header closes it.
    press(&mut m, vec![enter()]);
    assert!(m.groups[0].open);
    press(&mut m, vec![enter()]);
    assert!(!m.groups[0].open);
}

#[test]
fn groups_of_at_most_four_start_open() {
    let m = model(&workflow(4));
    assert!(m.groups[0].open);
    let screen = render(&m);
    assert!(screen.contains("▾ build ×4"), "{screen}");
    assert!(screen.contains("╭ build:k3 ─"), "{screen}");
}

#[test]
fn the_output_viewer_shows_the_description() {
    let mut wf = workflow(2);
    wf.steps[0].description = Some("Prepare the toolchain".into());
    wf.groups[0].description = Some("Compile every target".into());
    let mut m = model(&wf);
    press(&mut m, vec![enter()]);
    assert!(render(&m).contains("Prepare the toolchain"));
    m.ui.overlay = None;
    signalbox::tui::update::select_step(&mut m, 1);
    press(&mut m, vec![enter()]);
    assert!(
        render(&m).contains("Compile every target"),
        "an instance shows its matrix step's"
    );
}
