//! Loading and checking a 10,000-step workflow (100 chains of 100 steps),
//! and parsing a 100,000-step one (10 chains of 10,000).
//!
//! `cargo bench --bench validate`; the figure is in the README.

use criterion::{Criterion, criterion_group, criterion_main};

fn chains(n_chains: usize, length: usize) -> String {
    let mut out = String::from("name: bench\nsteps:\n");
    for c in 0..n_chains {
        for i in 0..length {
            out.push_str(&format!("  c{c}-s{i}:\n"));
            if i > 0 {
                out.push_str(&format!("    needs: [c{c}-s{}]\n", i - 1));
            }
            out.push_str("    run: true\n");
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let text = chains(100, 100);
    let mut group = c.benchmark_group("validate_10k_steps");
    group.sample_size(20);
    group.bench_function("yaml_parse", |b| {
        b.iter(|| signalbox::workflow::node::parse(&text).is_ok())
    });
    group.bench_function("events_only", |b| {
        b.iter(|| {
            let parser = serde_saphyr::granit_parser::Parser::new_from_str(&text);
            parser.count()
        })
    });
    group.bench_function("load_str", |b| {
        b.iter(|| signalbox::workflow::load_str(&text, "bench.yaml").is_ok())
    });
    group.finish();

    // The 100,000-step file of `benches/ninja_100k.sh`: parsing alone, by the
    // fast path (`node::parse`) and, for scale, granit's events alone.
    let big = chains(10, 10_000);
    let mut group = c.benchmark_group("parse_100k_steps");
    group.sample_size(10);
    group.bench_function("node_parse", |b| {
        b.iter(|| signalbox::workflow::node::parse(&big).is_ok())
    });
    group.bench_function("granit_events_only", |b| {
        b.iter(|| serde_saphyr::granit_parser::Parser::new_from_str(&big).count())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
