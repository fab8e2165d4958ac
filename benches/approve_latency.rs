//! How long an approval takes to go through the engine: from
//! `RunHandle::send(Command::Approve { .. })` until a subscriber receives the
//! matching `approval_resolved` event.
//!
//! `cargo bench --bench approve_latency`. It first prints a table of
//! percentiles of its own over `APPROVE_SAMPLES` approvals (goal: p99 under
//! 1 ms): all from one run of that many open approvals, then from runs of
//! 1,000 and of 100. Then criterion measures the mean, in runs of 100 and of
//! 1,000 open approvals (`cargo bench --bench approve_latency -- spawned`
//! picks some).
//!
//! Each run is set up as the binary sets it up: a multi-thread tokio runtime
//! (`new_multi_thread().enable_all()`, src/cli/run.rs), the front end a
//! spawned task on the workers, the journal in a state dir (a temporary
//! folder here). The scheduler is driven two ways, both measured:
//! `block_on`: by `block_on` on the calling thread, as `signalbox run
//! --headless` does (src/cli/run.rs `drive_headless`); `spawned`: as a task
//! on the workers, as the screen does (src/tui.rs). The workflow is N
//! independent approval steps; the front end waits until all N
//! `approval_requested` events arrived, then approves the steps one at a
//! time, timing each.
//!
//! Environment: `APPROVE_SAMPLES` (default 10000).

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use signalbox::engine::{By, Command, Event, Run, RunOptions, RunStatus};
use tokio::runtime::Runtime;

fn workflow_text(n: usize) -> String {
    let mut text = String::from("name: approvals\nsteps:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  a{i}:\n    approval: {{ prompt: \"ok?\", timeout: 1h }}\n"
        ));
    }
    text
}

fn runtime() -> Result<Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// Where the run's scheduler (`Run::start`) is polled.
#[derive(Debug, Clone, Copy)]
enum Driver {
    /// `block_on(run.start())` on the calling thread: `run --headless`.
    BlockOn,
    /// `tokio::spawn(run.start())` on the workers: the screen.
    Spawned,
}

impl Driver {
    fn name(self) -> &'static str {
        match self {
            Driver::BlockOn => "block_on",
            Driver::Spawned => "spawned",
        }
    }
}

/// Runs a workflow of `n` approval steps and approves them one at a time;
/// returns each approval's latency, in the order they were approved.
fn approve_all(rt: &Runtime, driver: Driver, n: usize) -> Result<Vec<Duration>, String> {
    let text = workflow_text(n);
    let wf = signalbox::workflow::load_str(&text, "approvals.yaml").map_err(|d| d.to_string())?;
    let state = tempfile::tempdir().map_err(|e| format!("cannot make a temporary dir: {e}"))?;
    let options = RunOptions {
        state_dir: state.path().to_path_buf(),
        ..RunOptions::default()
    };
    let mut run = Run::new(wf, options).map_err(|e| e.to_string())?;
    let mut events = run.subscribe();
    let handle = run.handle();
    rt.block_on(async move {
        let front = tokio::spawn(async move {
            let approve = async {
                let mut open = Vec::with_capacity(n);
                while open.len() < n {
                    let p = events
                        .recv()
                        .await
                        .ok_or("the run ended before its approvals opened")?;
                    if let Event::ApprovalRequested { step, .. } = &p.envelope.event {
                        open.push(step.clone());
                    }
                }
                let mut latencies = Vec::with_capacity(n);
                for step in open {
                    let command = Command::Approve {
                        step: step.clone(),
                        by: By::Keyboard,
                    };
                    let sent = Instant::now();
                    handle.send(command);
                    loop {
                        let p = events
                            .recv()
                            .await
                            .ok_or("the run ended before an approval was resolved")?;
                        if let Event::ApprovalResolved { step: s, .. } = &p.envelope.event
                            && *s == step
                        {
                            break;
                        }
                    }
                    latencies.push(sent.elapsed());
                }
                Ok::<_, &str>(latencies)
            };
            let result = approve.await;
            if result.is_err() {
                handle.send(Command::Cancel {
                    step: None,
                    by: By::Keyboard,
                });
            }
            result
        });
        let outcome = match driver {
            Driver::BlockOn => run.start().await,
            Driver::Spawned => tokio::spawn(run.start())
                .await
                .map_err(|e| format!("the scheduler task failed: {e}"))?,
        };
        let latencies = front
            .await
            .map_err(|e| format!("the front end task failed: {e}"))??;
        if outcome.status != RunStatus::Succeeded {
            return Err(format!("the run ended {:?}", outcome.status));
        }
        Ok(latencies)
    })
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The value below which `q` of the sorted samples fall (nearest rank).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// `samples` approvals in runs of `per_run` open approvals each.
fn report(rt: &Runtime, driver: Driver, samples: usize, per_run: usize) -> Result<(), String> {
    let mut all = Vec::with_capacity(samples);
    while all.len() < samples {
        all.extend(approve_all(rt, driver, per_run.min(samples - all.len()))?);
    }
    let mean = all.iter().sum::<Duration>() / all.len() as u32;
    all.sort_unstable();
    println!(
        "{:<8} {:>6} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1}  {}",
        driver.name(),
        per_run,
        all.len(),
        micros(percentile(&all, 0.50)),
        micros(percentile(&all, 0.90)),
        micros(percentile(&all, 0.99)),
        micros(percentile(&all, 0.999)),
        micros(percentile(&all, 1.0)),
        micros(mean),
        if percentile(&all, 0.99) < Duration::from_millis(1) {
            "met"
        } else {
            "MISSED"
        },
    );
    Ok(())
}

fn fail(message: &str) -> ! {
    eprintln!("approve_latency: {message}");
    std::process::exit(1)
}

fn bench(c: &mut Criterion) {
    let rt = runtime().unwrap_or_else(|e| fail(&e));
    let samples = std::env::var("APPROVE_SAMPLES")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(10_000);
    // All samples from one run first (the most waits open at once), then the
    // same number from smaller runs: the difference is what the run's size costs.
    println!("approve -> approval_resolved latency, µs (goal: p99 < 1 ms)");
    println!(
        "{:<8} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  p99 goal",
        "driver", "run of", "samples", "p50", "p90", "p99", "p99.9", "max", "mean"
    );
    let mut sizes = vec![samples, 1_000, 100];
    sizes.retain(|&n| n <= samples);
    sizes.dedup();
    for driver in [Driver::BlockOn, Driver::Spawned] {
        for &per_run in &sizes {
            report(&rt, driver, samples, per_run).unwrap_or_else(|e| fail(&e));
        }
    }

    let mut group = c.benchmark_group("approve_latency");
    group.sample_size(30);
    for (driver, per_run) in [
        (Driver::BlockOn, 100usize),
        (Driver::BlockOn, 1_000),
        (Driver::Spawned, 100),
        (Driver::Spawned, 1_000),
    ] {
        group.bench_with_input(
            BenchmarkId::new(driver.name(), format!("{per_run}_open")),
            &per_run,
            |b, &per_run| {
                b.iter_custom(|iters| {
                    // Whole runs of `per_run` approvals, so each approval sees a
                    // run of the same size whatever `iters` is.
                    let want = usize::try_from(iters).unwrap_or(usize::MAX);
                    let mut total = Duration::ZERO;
                    let mut counted = 0;
                    while counted < want {
                        let latencies =
                            approve_all(&rt, driver, per_run).unwrap_or_else(|e| fail(&e));
                        for d in latencies.into_iter().take(want - counted) {
                            total += d;
                            counted += 1;
                        }
                    }
                    total
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
