//! Tests of screen (SPEC §4, §5): the graph pane on a real-shaped 45-step
//! pipeline (`workflows/ci.yaml`), boxed and compact, and edges read back
//! from the drawing of random graphs.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use signalbox::engine::{Envelope, Event, Published};
use signalbox::tui::model::Model;
use signalbox::tui::model::graph::Item;
use signalbox::tui::update::{Msg, select_step, update};
use signalbox::tui::view::view;
use signalbox::workflow::{Workflow, load_str};

use signalbox::workflow::layout::read::follow;

use super::common::{Rng, edges};

/// 2026-01-01T00:00:00Z in milliseconds.
const T0: u64 = 1_767_225_600_000;
const CI: &str = include_str!("../../workflows/ci.yaml");

fn workflow(text: &str) -> Workflow {
    load_str(text, "ci.yaml").unwrap_or_else(|e| panic!("{e}"))
}

struct Feed {
    seq: u64,
}

impl Feed {
    fn send(&mut self, m: &mut Model, ms: u64, event: Event) {
        self.seq += 1;
        let ts = std::time::UNIX_EPOCH + Duration::from_millis(T0 + ms);
        let envelope = Envelope {
            seq: self.seq,
            ts: humantime::format_rfc3339_millis(ts).to_string(),
            run: "ci-20260101-000000-abcd".into(),
            event,
        };
        update(
            m,
            Msg::Event(Arc::new(Published {
                envelope,
                line: String::new(),
            })),
        );
    }
}

fn started(step: &str, attempt: u32) -> Event {
    Event::StepStarted {
        step: step.into(),
        attempt,
        pool: None,
        worker: None,
    }
}

fn succeeded(step: &str, ms: u64) -> Event {
    Event::StepSucceeded {
        step: step.into(),
        attempt: 1,
        duration_ms: ms,
        outputs: Default::default(),
        fallback: false,
    }
}

/// The CI run 6 seconds in: the checks passed, 20 jobs done, the loom test
/// failed with exit 101, one job retrying after a breaker refused it, 8
/// running, the rest pending.
fn ci_model() -> Model {
    let wf = workflow(CI);
    let ids: Vec<String> = wf.steps.iter().map(|s| s.id.clone()).collect();
    let mut m = Model::new(&wf);
    m.ui.color = false;
    let mut f = Feed { seq: 0 };
    let run = Event::RunStarted {
        workflow: "ci".into(),
        steps: ids.len(),
        resumed: false,
    };
    f.send(&mut m, 0, run);
    for (i, id) in ids[..3].iter().enumerate() {
        f.send(&mut m, 10, started(id, 1));
        f.send(&mut m, 300, succeeded(id, 240 + i as u64 * 10));
    }
    let wide = &ids[3..41];
    for (i, id) in wide.iter().enumerate().take(30) {
        f.send(&mut m, 400 + i as u64 * 100, started(id, 1));
    }
    for (i, id) in wide.iter().enumerate().take(20) {
        if id == "loom-tokio-sync" {
            continue;
        }
        f.send(
            &mut m,
            2_500 + i as u64 * 100,
            succeeded(id, 1_100 + i as u64 * 37),
        );
    }
    let failed = Event::StepFailed {
        step: "loom-tokio-sync".into(),
        attempts: 1,
        error: "exit code 101".into(),
        exit_code: Some(101),
    };
    f.send(&mut m, 4_000, failed);
    let retry = Event::StepRetrying {
        step: "miri-tokio".into(),
        attempt: 1,
        error: "breaker db is open".into(),
        exit_code: None,
        delay_ms: 4_000,
    };
    f.send(&mut m, 4_500, retry);
    update(&mut m, Msg::Clock(T0 + 6_000));
    m
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn draw(m: &Model, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap_or_else(|e| panic!("{e}"));
    t.draw(|f| view(m, f)).unwrap_or_else(|e| panic!("{e}"));
    t.backend().buffer().clone()
}

fn text(b: &Buffer) -> String {
    let w = b.area.width as usize;
    let cells: Vec<&str> = b.content.iter().map(|c| c.symbol()).collect();
    cells
        .chunks(w)
        .map(|r| r.concat())
        .collect::<Vec<_>>()
        .join("\n")
}

fn sized(m: &Model, w: u16, h: u16) -> Model {
    let mut m = m.clone();
    update(&mut m, Msg::Resize(w, h));
    m
}

#[test]
fn snapshots_of_a_45_step_pipeline() {
    let m = ci_model();
    let failed = m.step_index("loom-tokio-sync").unwrap_or(0);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => true }, {
        for (w, h) in [(80u16, 24u16), (160, 48)] {
            let mut m = sized(&m, w, h);
            select_step(&mut m, failed);
            assert!(m.graph.compact(), "{w}x{h} starts compact");
            insta::assert_snapshot!(format!("ci_compact_{w}x{h}"), text(&draw(&m, w, h)));
            update(&mut m, key('z'));
            assert!(!m.graph.compact(), "z shows boxes at {w}x{h}");
            insta::assert_snapshot!(format!("ci_boxed_{w}x{h}"), text(&draw(&m, w, h)));
        }
    });
}

#[test]
fn z_toggles_compact_mode_both_ways() {
    let m = ci_model();
    let mut m = sized(&m, 160, 48);
    let before = text(&draw(&m, 160, 48));
    update(&mut m, key('z'));
    let boxed = text(&draw(&m, 160, 48));
    assert!(boxed.contains("┏ fmt ━"), "{boxed}");
    assert!(!before.contains("┏ fmt ━"), "{before}");
    update(&mut m, key('z'));
    assert_eq!(text(&draw(&m, 160, 48)), before);
}

/// Steps whose glyph and id start show in the graph pane (its first
/// `rows` lines).
fn shown(m: &Model, screen: &str, rows: usize) -> usize {
    let graph: String = screen.lines().take(rows).collect::<Vec<_>>().join("\n");
    m.steps
        .iter()
        .filter(|s| graph.contains(&s.id[..s.id.len().min(8)]))
        .count()
}

#[test]
fn the_compact_screen_shows_more_of_the_pipeline_than_boxes() {
    let mut m = sized(&ci_model(), 80, 24);
    let failed = m.step_index("loom-tokio-sync").unwrap_or(0);
    select_step(&mut m, failed);
    let compact = text(&draw(&m, 80, 24));
    update(&mut m, key('z'));
    let boxed = text(&draw(&m, 80, 24));
    let (c, b) = (shown(&m, &compact, 10), shown(&m, &boxed, 10));
    assert!(
        c >= 3 * b && c >= 9,
        "compact {c}, boxed {b}:\n{compact}\n{boxed}"
    );
}

#[test]
fn failed_and_retrying_boxes_say_why() {
    let m = ci_model();
    let mut m = sized(&m, 160, 48);
    update(&mut m, key('z'));
    let failed = m.step_index("loom-tokio-sync").unwrap_or(0);
    select_step(&mut m, failed);
    let screen = text(&draw(&m, 160, 48));
    assert!(screen.contains("✗ exit 101"), "{screen}");
    let miri = m.step_index("miri-tokio").unwrap_or(0);
    select_step(&mut m, miri);
    let screen = text(&draw(&m, 160, 48));
    assert!(screen.contains("↻ retry #2 in 3s"), "{screen}");
    // A failure with no exit code shows its error.
    let mut f = Feed { seq: 100 };
    let refused = Event::StepFailed {
        step: "miri-tokio".into(),
        attempts: 2,
        error: "breaker db is open".into(),
        exit_code: None,
    };
    f.send(&mut m, 6_000, refused);
    let screen = text(&draw(&m, 160, 48));
    assert!(screen.contains("✗ breaker db is open"), "{screen}");
}

#[test]
fn long_ids_are_cut_in_the_middle_and_read_differently() {
    let m = sized(&ci_model(), 80, 24);
    let at = |id: &str| m.step_index(id).map(|s| m.graph.arr.labels[s].clone());
    let a = at("build-stable-aarch64-unknown-linux-gnu").unwrap_or_default();
    let b = at("build-stable-armv7-unknown-linux-gnueabihf").unwrap_or_default();
    assert!(a.contains('…') && a.starts_with("build-st"), "{a}");
    assert_ne!(a, b);
    let all: BTreeSet<&String> = m.graph.arr.labels.iter().collect();
    assert_eq!(all.len(), m.steps.len(), "{:?}", m.graph.arr.labels);
}

// ---------------------------------------------------------------------------
// Edges read back from the drawing
// ---------------------------------------------------------------------------

/// The edges the graph pane draws, read back from the buffer the way a
/// person reads them (`layout::read`): from each step's exit, left to right.
fn drawn_edges(m: &Model, buf: &Buffer) -> BTreeSet<(usize, usize)> {
    let arr = &m.graph.arr;
    let w = buf.area.width as usize;
    let grid: Vec<Vec<char>> = buf
        .content
        .chunks(w)
        .map(|row| {
            row.iter()
                .map(|c| c.symbol().chars().next().unwrap_or(' '))
                .collect()
        })
        .collect();
    let rect = |s: usize| {
        arr.step_rect(s)
            .unwrap_or_else(|| panic!("step {s} has no place"))
    };
    // The pane's inside starts one cell in; the whole graph is in view.
    let owner: std::collections::HashMap<(usize, usize), usize> = (0..m.steps.len())
        .map(|s| ((1 + rect(s).x, 1 + rect(s).y + arr.port()), s))
        .collect();
    let mut found = BTreeSet::new();
    for s in 0..m.steps.len() {
        let r = rect(s);
        for cell in follow(&grid, (1 + r.x + r.w, 1 + r.y + arr.port())) {
            let t = owner
                .get(&cell)
                .unwrap_or_else(|| panic!("an arrow into no step at {cell:?}"));
            found.insert((s, *t));
        }
    }
    found
}

/// A screen on which the whole graph fits in the graph pane.
fn whole(m: &mut Model, compact: bool) -> (u16, u16) {
    m.ui.compact = Some(compact);
    let (mut w, mut h) = (120u16, 40u16);
    for _ in 0..6 {
        update(m, Msg::Resize(w, h));
        let (cw, ch) = m.graph.arr.size;
        let view = m.graph.arr.view;
        if cw <= view.0 && ch <= view.1 {
            return (w, h);
        }
        w = w.max(cw as u16 + 10);
        h = h.max((ch as u16 + 4) * 100 / 45 + 4);
    }
    panic!("the graph does not fit: {:?}", m.graph.arr.size);
}

#[test]
fn every_edge_drawn_is_a_dependency_and_every_dependency_is_drawn() {
    let mut rng = Rng(0x5eed_0011);
    for round in 0..60 {
        let n = 2 + rng.below(16);
        let needs = edges::random_dag(&mut rng, n);
        let yaml = edges::yaml(&needs);
        let want = edges::edge_set(&needs);
        let wf = workflow(&yaml);
        for compact in [false, true] {
            let mut m = Model::new(&wf);
            m.ui.color = false;
            let (w, h) = whole(&mut m, compact);
            let buf = draw(&m, w, h);
            let got: BTreeSet<(String, String)> = drawn_edges(&m, &buf)
                .into_iter()
                .map(|(a, b)| (m.steps[a].id.clone(), m.steps[b].id.clone()))
                .collect();
            assert_eq!(
                got,
                want,
                "round {round}, compact {compact}\n{yaml}\n{}",
                text(&buf)
            );
        }
    }
}

#[test]
fn sub_columns_of_a_tall_layer_keep_edges_honest() {
    // The CI graph, compact on a screen wide enough for its sub-columns.
    let wf = workflow(CI);
    let want: BTreeSet<(usize, usize)> = wf
        .steps
        .iter()
        .enumerate()
        .flat_map(|(t, s)| s.needs.iter().map(move |&f| (f, t)))
        .collect();
    let mut m = Model::new(&wf);
    m.ui.compact = Some(true);
    // 30 graph rows: the 38 jobs split in two sub-columns, all in view.
    update(&mut m, Msg::Resize(400, 60));
    let arr = &m.graph.arr;
    assert_eq!(arr.view.1, 30);
    let with_steps: Vec<usize> = (0..arr.cols.len())
        .filter(|&c| {
            arr.cols[c]
                .items
                .iter()
                .any(|(_, i)| matches!(i, Item::Step(_)))
        })
        .collect();
    assert_eq!(with_steps.len(), 6, "five layers, the wide one in two");
    let builds = m
        .step_index("build-stable-x86_64-unknown-linux-gnu")
        .unwrap_or(0);
    let last = m.step_index("wasm-bindgen-tests").unwrap_or(0);
    assert_ne!(
        arr.at[builds].0, arr.at[last].0,
        "the 38 jobs in two sub-columns"
    );
    assert!(
        arr.size.0 <= arr.view.0 && arr.size.1 <= arr.view.1,
        "{:?}",
        arr.size
    );
    let buf = draw(&m, 400, 60);
    assert_eq!(drawn_edges(&m, &buf), want, "{}", text(&buf));
}

/// A CI-like random DAG: a few checks, a wide layer of jobs needing some of
/// them (often the same ones), and gates needing some jobs and checks.
fn ci_like_dag(rng: &mut Rng) -> Vec<Vec<usize>> {
    let checks = 2 + rng.below(3);
    let jobs = 10 + rng.below(21);
    let gates = 1 + rng.below(3);
    let mut needs: Vec<Vec<usize>> = vec![Vec::new(); checks];
    let common: Vec<usize> = (0..checks).filter(|_| rng.below(2) == 0).collect();
    for _ in 0..jobs {
        let mut ns: BTreeSet<usize> = if rng.below(3) > 0 && !common.is_empty() {
            common.iter().copied().collect()
        } else {
            BTreeSet::new()
        };
        ns.insert(rng.below(checks));
        needs.push(ns.into_iter().collect());
    }
    for _ in 0..gates {
        let mut ns = BTreeSet::new();
        for _ in 0..1 + rng.below(jobs) {
            ns.insert(checks + rng.below(jobs));
        }
        if rng.below(2) == 0 {
            ns.insert(rng.below(checks));
        }
        needs.push(ns.into_iter().collect());
    }
    needs
}

#[test]
fn split_layers_and_hubs_draw_only_real_edges() {
    let mut rng = Rng(0x5eed_0012);
    let mut split_seen = 0;
    for round in 0..30 {
        let needs = ci_like_dag(&mut rng);
        let yaml = edges::yaml(&needs);
        let want = edges::edge_set(&needs);
        let wf = workflow(&yaml);
        // The lowest screen whose graph pane still holds the whole compact
        // graph: there a wide layer is split into sub-columns.
        for h in (12..90u16).step_by(3) {
            let mut m = Model::new(&wf);
            m.ui.compact = Some(true);
            update(&mut m, Msg::Resize(400, h));
            let arr = &m.graph.arr;
            if arr.size.0 > arr.view.0 || arr.size.1 > arr.view.1 {
                continue;
            }
            let layers: BTreeSet<usize> = arr.layer.iter().copied().collect();
            let with_steps = arr
                .cols
                .iter()
                .filter(|c| c.items.iter().any(|(_, i)| matches!(i, Item::Step(_))))
                .count();
            split_seen += usize::from(with_steps > layers.len());
            let buf = draw(&m, 400, h);
            let got: BTreeSet<(String, String)> = drawn_edges(&m, &buf)
                .into_iter()
                .map(|(a, b)| (m.steps[a].id.clone(), m.steps[b].id.clone()))
                .collect();
            assert_eq!(
                got,
                want,
                "round {round} at 400x{h}\n{yaml}\n{}",
                text(&buf)
            );
            break;
        }
    }
    assert!(
        split_seen >= 10,
        "only {split_seen} graphs had a split layer"
    );
}

#[test]
fn the_ci_example_runs_on_the_real_screen_and_z_switches_modes() {
    use super::common::tmux;
    let Some((term, state)) = tmux::tmux_session("screen-ci") else {
        return;
    };
    let command = format!(
        "cd {root} && {bin} run workflows/ci.yaml --state-dir {state}; echo EXIT=$?; sleep 60",
        root = tmux::root().display(),
        bin = super::common::BIN,
        state = state.path().display(),
    );
    term.start_sized(&command, 80, 24);
    // The 45 steps ran up to the waits, compact by itself at 80x24.
    let screen = term.wait_for("approve-release", 30);
    assert!(screen.contains("graph 45 steps · compact"), "{screen}");
    term.keys(&["z"]);
    let boxed = term.wait_for("┏ fmt ━", 10);
    assert!(!boxed.contains("· compact"), "{boxed}");
    term.keys(&["z"]);
    term.wait_for("graph 45 steps · compact", 10);
    term.keys(&["q", "y"]);
    term.wait_for("EXIT=", 20);
}

/// `↓` with no step further down scrolls the pane, so the lines routed
/// below the last step can be seen (SPEC §5: the graph scrolls).
#[test]
fn down_past_the_last_step_scrolls_to_the_bottom_of_the_graph() {
    let wf = workflow(
        "name: t\nsteps:\n  a: { run: 'true' }\n  b: { run: 'true' }\n  c: { run: 'true' }\n  p: { needs: [a, c], run: 'true' }\n  q: { needs: [b], run: 'true' }\n  r: { needs: [a, b, c], run: 'true' }\n  s: { needs: [p], run: 'true' }\n  t: { needs: [a, q], run: 'true' }\n  u: { needs: [c, s, t], run: 'true' }\n",
    );
    let mut m = Model::new(&wf);
    m.ui.compact = Some(true);
    update(&mut m, Msg::Resize(80, 24));
    for _ in 0..20 {
        update(&mut m, key('j'));
    }
    let (view, size) = (m.graph.arr.view, m.graph.arr.size);
    assert!(
        size.1 > view.1,
        "the test needs a graph taller than the pane"
    );
    assert_eq!(
        m.ui.graph_offset.1 + view.1,
        size.1,
        "the bottom of the graph is in view"
    );
    for _ in 0..40 {
        update(&mut m, key('k'));
    }
    assert_eq!(m.ui.graph_offset.1, 0, "and ↑ goes back to the top");
}
