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

use crate::tui::model::pools::linux as transport;

fn hear(m: &mut Model, status: crate::engine::remote::RemoteStatus, ms: u64) {
    crate::tui::update::update(m, crate::tui::update::Msg::Remote(status, T0 + ms));
}

#[test]
fn the_status_line_says_a_pool_steps_wait_on_has_no_live_worker() {
    let mut m = model();
    hear(&mut m, transport(true, &[]), 0);
    apply(&mut m, 1, 0, ready("build"));
    let rows = draw(&m, 120, 20);
    assert!(
        !shows(&rows, "no live worker"),
        "the registry is not read yet: {rows:#?}"
    );
    m.set_now(T0 + 2_000);
    let rows = draw(&m, 120, 20);
    assert!(shows(&rows, "◦ pool linux has no live worker"), "{rows:#?}");
    let rows = draw(&m, 40, 20);
    assert!(shows(&rows, "◦ linux: no worker"), "narrow: {rows:#?}");
    hear(&mut m, transport(true, &["w1"]), 2_500);
    let rows = draw(&m, 120, 20);
    assert!(!shows(&rows, "no live worker"), "a worker came: {rows:#?}");
    // A worker gone, and no step waiting: nothing to say.
    apply(&mut m, 2, 2_600, started("build", Some("w1")));
    hear(&mut m, transport(true, &[]), 2_700);
    m.set_now(T0 + 10_000);
    assert!(!shows(&draw(&m, 120, 20), "no live worker"));
}

#[test]
fn the_status_line_says_the_server_is_lost_and_back() {
    let mut m = model();
    hear(&mut m, transport(false, &[]), 0);
    apply(&mut m, 1, 0, ready("build"));
    assert!(!shows(&draw(&m, 120, 20), "NATS"), "still trying");
    assert!(
        m.needs_clock(),
        "the wait's end is drawn without another event"
    );
    m.set_now(T0 + 2_000);
    assert!(shows(
        &draw(&m, 120, 20),
        "✗ cannot reach NATS; pool steps wait"
    ));
    hear(&mut m, transport(true, &["w1"]), 3_000);
    assert!(!shows(&draw(&m, 120, 20), "NATS"));
    hear(&mut m, transport(false, &["w1"]), 4_000);
    assert!(shows(&draw(&m, 120, 20), "✗ lost NATS; pool steps wait"));
}
