#![allow(clippy::panic)]
//! Planning an edit of a 10,000-step live run (100 chains of 100 steps, the
//! first half of each chain finished): the edited file loaded, every step
//! fingerprinted and matched, the live rules checked, and the plan
//! rendered. The budget for check and apply is 200 ms.
//!
//! `cargo bench --bench edit_plan`; the figure is in the README.

use std::collections::BTreeMap;

use criterion::{Criterion, criterion_group, criterion_main};
use signalbox::engine::edit::EditAsk;
use signalbox::engine::edit::plan::{Standing, plan};
use signalbox::engine::event::By;

/// The workflow; with `edited`, 100 unstarted steps changed, 10 removed
/// (each a chain's last) and 10 added.
fn chains(edited: bool) -> String {
    let mut out = String::from("name: bench\nsteps:\n");
    for c in 0..100 {
        for i in 0..100 {
            if edited && c < 10 && i == 99 {
                continue;
            }
            out.push_str(&format!("  c{c}-s{i}:\n"));
            if i > 0 {
                out.push_str(&format!("    needs: [c{c}-s{}]\n", i - 1));
            }
            let run = if edited && i == 60 { "make" } else { "true" };
            out.push_str(&format!("    run: {run}\n"));
        }
        if edited && c < 10 {
            out.push_str(&format!(
                "  c{c}-new:\n    needs: [c{c}-s10]\n    run: lint\n"
            ));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let old = match signalbox::workflow::load_str(&chains(false), "bench.yaml") {
        Ok(wf) => wf,
        Err(e) => panic!("{e}"),
    };
    let statuses: Vec<(&'static str, Standing)> = (0..old.steps.len())
        .map(|i| match i % 100 {
            0..50 => ("succeeded", Standing::Finished),
            50 => ("running", Standing::Started),
            _ => ("pending", Standing::Unstarted),
        })
        .collect();
    let ask = EditAsk {
        source: chains(true),
        file: "bench.edit.yaml".into(),
        rerun: vec![],
        dry_run: true,
        by: By::Socket,
        revision: None,
    };
    let vars = BTreeMap::new();
    let checked = plan("bench-1", 1, &old, &statuses, &ask, &vars);
    assert!(!checked.plan.refused(), "{:?}", checked.plan.diagnostics);
    assert_eq!(checked.diff.changed.len(), 100);
    let mut group = c.benchmark_group("edit_10k_steps");
    group.sample_size(20);
    group.bench_function("plan", |b| {
        b.iter(|| {
            plan("bench-1", 1, &old, &statuses, &ask, &vars)
                .plan
                .steps
                .len()
        })
    });
    group.bench_function("render", |b| b.iter(|| checked.plan.render().len()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
