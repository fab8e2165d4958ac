#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The screen's budget: one frame of a 1,000-step graph (goal: under 5 ms),
//! and a burst of 10,000 events applied then one frame (goal: under 50 ms).
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

fn model() -> Model {
    let wf = match signalbox::workflow::load_str(&wide(20, 50), "bench.yaml") {
        Ok(wf) => wf,
        Err(e) => panic!("{e}"),
    };
    let mut m = Model::new(&wf);
    update(&mut m, Msg::Resize(160, 48));
    m.ui.selected = 500;
    signalbox::tui::update::show_selection(&mut m);
    m
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
