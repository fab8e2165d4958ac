#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! One frame of a screen with a 10,000-instance matrix step, its group
//! closed (one box) and open (every instance), on a 200x50 `TestBackend`
//! (goal: under 5 ms each); and opening the group (a key press: the graph
//! laid out again).
//!
//! `cargo bench --bench matrix_screen`

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use signalbox::tui::model::{Model, Status};
use signalbox::tui::update::{Msg, update};
use signalbox::tui::view::view;
use signalbox::workflow::{Group, Instance, Workflow, load_str};

const N: usize = 10_000;

/// `setup`, a matrix step `build` of `N` instances each needing it, and
/// `publish` needing `build` (every instance). The instances are grouped
/// as the loader groups a matrix step's.
fn workflow() -> Workflow {
    let mut yaml = String::from("name: bench\nsteps:\n  setup:\n    run: 'true'\n");
    for k in 0..N {
        yaml.push_str(&format!(
            "  build-k{k}:\n    needs: [setup]\n    run: 'true'\n"
        ));
    }
    let all: Vec<String> = (0..N).map(|k| format!("build-k{k}")).collect();
    yaml.push_str(&format!(
        "  publish:\n    needs: [{}]\n    run: 'true'\n",
        all.join(", ")
    ));
    let mut wf = load_str(&yaml, "bench.yaml").unwrap_or_else(|e| panic!("{e}"));
    let mut members = Vec::new();
    for (i, s) in wf.steps.iter_mut().enumerate() {
        if let Some(key) = s.id.strip_prefix("build-") {
            let key = key.to_string();
            s.id = format!("build:{key}");
            s.instance = Some(Box::new(Instance {
                group: 0,
                values: vec![("target".into(), key)],
            }));
            members.push(i);
        }
    }
    wf.groups.push(Group {
        id: "build".into(),
        line: 1,
        axes: vec!["target".into()],
        members,
        max_parallel: None,
        fail_fast: false,
        description: None,
    });
    wf
}

/// The screen at 200x50 with the instances in every status, the group
/// open or closed, the middle instance (or the group) selected.
fn model(wf: &Workflow, open: bool) -> Model {
    let mut m = Model::new(wf);
    let statuses = [
        Status::Succeeded,
        Status::Running,
        Status::Failed,
        Status::Pending,
    ];
    for (k, &i) in wf.groups[0].members.iter().enumerate() {
        m.steps[i].status = statuses[k % statuses.len()];
    }
    update(&mut m, Msg::Resize(200, 50));
    m.set_open(0, open);
    signalbox::tui::update::select_step(&mut m, 1 + N / 2);
    if !open {
        m.set_open(0, false);
        signalbox::tui::update::show_selection(&mut m);
    }
    m
}

fn bench(c: &mut Criterion) {
    let wf = workflow();
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).unwrap_or_else(|e| panic!("{e}"));
    for (name, open) in [("closed", false), ("open", true)] {
        let m = model(&wf, open);
        assert_eq!(m.groups[0].open, open);
        c.bench_function(&format!("frame_10000_instances_{name}"), |b| {
            b.iter(|| terminal.draw(|f| view(&m, f)).is_ok())
        });
    }
    let closed = model(&wf, false);
    c.bench_function("open_a_10000_instance_group", |b| {
        b.iter_batched(
            || closed.clone(),
            |mut m| {
                update(
                    &mut m,
                    Msg::Key(crossterm::event::KeyEvent::new(
                        crossterm::event::KeyCode::Enter,
                        crossterm::event::KeyModifiers::NONE,
                    )),
                );
                m
            },
            BatchSize::LargeInput,
        )
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
