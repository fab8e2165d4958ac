//! Pool steps on the screen: queued on their pool until a worker claims
//! them, then running on that worker, in the box, the compact line, the
//! line under the graph and the output viewer's title.

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::engine::{Envelope, Event};
use crate::tui::model::Model;
use crate::tui::model::ui::Overlay;
use crate::tui::view::view;

/// 2026-01-01T00:00:00Z in milliseconds.
const T0: u64 = 1_767_225_600_000;

const POOLS: &str = "\
name: pools
steps:
  build:
    pool: linux
    run: make
  lint:
    run: true
";

fn model() -> Model {
    let wf = crate::workflow::load_str(POOLS, "pools.yaml").unwrap();
    Model::new(&wf)
}

fn apply(m: &mut Model, seq: u64, ms: u64, event: Event) {
    let ts = std::time::UNIX_EPOCH + Duration::from_millis(T0 + ms);
    m.apply(&Envelope {
        seq,
        ts: humantime::format_rfc3339_millis(ts).to_string(),
        run: "pools-20260101-000000-abcd".into(),
        event,
    });
}

fn ready(step: &str) -> Event {
    Event::StepReady { step: step.into() }
}

fn started(step: &str, worker: Option<&str>) -> Event {
    Event::StepStarted {
        step: step.into(),
        attempt: 1,
        pool: worker.map(|_| "linux".to_string()),
        worker: worker.map(str::to_string),
    }
}

/// The screen drawn at `w`×`h`, one string per row.
fn draw(m: &Model, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view(m, f)).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

fn shows(rows: &[String], text: &str) -> bool {
    rows.iter().any(|r| r.contains(text))
}

#[test]
fn a_ready_pool_step_is_queued_on_its_pool_and_a_local_one_is_ready() {
    let mut m = model();
    apply(&mut m, 1, 0, ready("build"));
    apply(&mut m, 2, 0, ready("lint"));
    m.ui.compact = Some(false);
    let rows = draw(&m, 120, 30);
    assert!(shows(&rows, "queued on linux"), "{rows:#?}");
    assert_eq!(
        rows.iter().filter(|r| r.contains("queued on")).count(),
        // The box, and the line under the graph (build is selected).
        2,
        "{rows:#?}"
    );
    assert!(shows(&rows, "build: queued on linux"), "{rows:#?}");
    m.ui.compact = Some(true);
    let rows = draw(&m, 120, 30);
    assert!(shows(&rows, "queued on linux"), "{rows:#?}");
}

#[test]
fn a_claimed_pool_step_runs_on_its_worker() {
    let mut m = model();
    apply(&mut m, 1, 0, ready("build"));
    apply(&mut m, 2, 0, ready("lint"));
    apply(&mut m, 3, 500, started("build", Some("w1")));
    apply(&mut m, 4, 500, started("lint", None));
    m.set_now(T0 + 3_500);
    m.ui.compact = Some(false);
    let rows = draw(&m, 120, 30);
    assert!(shows(&rows, "running 3s on w1"), "{rows:#?}");
    assert!(shows(&rows, "build: running on w1"), "{rows:#?}");
    assert!(!shows(&rows, "queued on"), "{rows:#?}");
    // The local step says no worker.
    assert!(
        rows.iter()
            .any(|r| r.contains("running 3s ") && !r.contains(" on ")),
        "{rows:#?}"
    );
    m.ui.compact = Some(true);
    let rows = draw(&m, 120, 30);
    assert!(shows(&rows, "on w1 3s"), "{rows:#?}");
    m.ui.overlay = Some(Overlay::Output {
        step: 0,
        scroll: 0,
        mark: None,
    });
    let rows = draw(&m, 120, 30);
    assert!(shows(&rows, "running on w1"), "{rows:#?}");
}

#[test]
fn a_pool_step_past_its_retry_delay_is_queued_again() {
    let mut m = model();
    apply(&mut m, 1, 0, ready("build"));
    apply(&mut m, 2, 0, started("build", Some("w1")));
    apply(
        &mut m,
        3,
        1_000,
        Event::StepRetrying {
            step: "build".into(),
            attempt: 1,
            error: "worker w1 lost".into(),
            exit_code: None,
            delay_ms: 1_000,
        },
    );
    m.set_now(T0 + 2_500);
    m.ui.compact = Some(false);
    let rows = draw(&m, 120, 30);
    assert!(shows(&rows, "#2 queued on linux"), "{rows:#?}");
}
