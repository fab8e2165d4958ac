#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The screen's budget: one frame of a 1,000-step graph, and of a
//! 10,000-step one boxed and compact (goal: under 5 ms each); arranging the
//! 10,000-step graph for a new terminal size; and a burst of 10,000 events
//! applied then one frame (goal: under 50 ms).
//!
//! `cargo bench --bench screen`

use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use signalbox::engine::event::Stream;
use signalbox::engine::{Envelope, Event, Published};
use signalbox::tui::model::Model;
use signalbox::tui::update::{Msg, update};
use signalbox::tui::view::view;

/// 20 layers of 50 steps; each step needs two of the layer before.
fn wide(layers: usize, width: usize) -> String {
    let mut out = String::from("name: bench\nsteps:\n");
    for l in 0..layers {
        for i in 0..width {
            out.push_str(&format!("  l{l}-s{i}:\n    run: 'true'\n"));
            if l > 0 {
                let (a, b) = (i, (i * 7 + 3) % width);
                out.push_str(&format!("    needs: [l{}-s{a}, l{}-s{b}]\n", l - 1, l - 1));
            }
        }
    }
    out
}

/// `layers` x `width` steps at 160x48, the middle one selected, compact or
/// boxed as asked (`None`: as the size decides).
fn model_of(layers: usize, width: usize, compact: Option<bool>) -> Model {
    let wf = match signalbox::workflow::load_str(&wide(layers, width), "bench.yaml") {
        Ok(wf) => wf,
        Err(e) => panic!("{e}"),
    };
    let mut m = Model::new(&wf);
    m.ui.compact = compact;
    update(&mut m, Msg::Resize(160, 48));
    signalbox::tui::update::select_step(&mut m, layers * width / 2);
    m
}

fn model() -> Model {
    model_of(20, 50, None)
}

/// 10,000 events: steps starting, printing and ending.
fn burst(m: &Model) -> Vec<Msg> {
    let ids: Vec<String> = m.steps.iter().map(|s| s.id.clone()).collect();
    let mut out = Vec::new();
    let mut seq = 0;
    let mut push = |event: Event| {
        seq += 1;
        out.push(Msg::Event(Arc::new(Published {
            envelope: Envelope {
                seq,
                ts: "2026-01-01T00:00:00.000Z".into(),
                run: "bench".into(),
                event,
            },
            line: String::new(),
        })));
    };
    for (i, step) in ids.iter().cycle().take(1250).enumerate() {
        push(Event::StepStarted {
            step: step.clone(),
            attempt: 1,
            pool: None,
            worker: None,
        });
        for n in 0..6 {
            push(Event::StepOutput {
                step: step.clone(),
                stream: Stream::Stdout,
                line: format!("line {n} of step {i}: compiling module {n}"),
            });
        }
        push(Event::StepSucceeded {
            step: step.clone(),
            attempt: 1,
            duration_ms: 10,
            outputs: Default::default(),
            fallback: false,
        });
    }
    out
}

fn bench(c: &mut Criterion) {
    let m = model();
    let mut terminal = match Terminal::new(TestBackend::new(160, 48)) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    c.bench_function("frame_1000_steps", |b| {
        b.iter(|| terminal.draw(|f| view(&m, f)).is_ok())
    });
    for (name, compact) in [("boxed", false), ("compact", true)] {
        let big = model_of(200, 50, Some(compact));
        c.bench_function(&format!("frame_10000_steps_{name}"), |b| {
            b.iter(|| terminal.draw(|f| view(&big, f)).is_ok())
        });
    }
    let big = model_of(200, 50, None);
    c.bench_function("arrange_10000_steps_for_a_new_size", |b| {
        b.iter_batched(
            || big.clone(),
            |mut m| update(&mut m, Msg::Resize(120, 40)),
            BatchSize::LargeInput,
        )
    });
    let events = burst(&m);
    c.bench_function("burst_10000_events_then_frame", |b| {
        b.iter_batched(
            || (m.clone(), events.clone()),
            |(mut m, events)| {
                for e in events {
                    update(&mut m, e);
                }
                terminal.draw(|f| view(&m, f)).is_ok()
            },
            BatchSize::LargeInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
