//! One attempt on a worker: claim, lease, run, report.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{AckKind, Message};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};

use super::{Stop, Worker, report};
use crate::distributed::wire::{Claim, ClaimState, Exit, Lease, Report, Running, Work};
use crate::engine::bus::OutputRoom;
use crate::engine::event::Stream;
use crate::engine::process::{self, ProcessSpec};

/// Takes one work message: claims it, runs it, reports it.
pub(crate) async fn take(worker: Arc<Worker>, msg: Message, permit: OwnedSemaphorePermit) {
    let work: Work = match serde_json::from_slice(&msg.payload) {
        Ok(w) if w_ok(&w) => w,
        Ok(_) | Err(_) => {
            tracing::warn!("dropping a work message that is not signalbox's (v1)");
            let _ = msg.double_ack_with(AckKind::Term).await;
            return;
        }
    };
    let id = worker.opts.id.clone();
    let claim = Claim {
        state: ClaimState::Claimed,
        worker: Some(id.clone()),
    };
    let claimed = match serde_json::to_vec(&claim) {
        Ok(body) => worker.handles.claims.create(&work.key, body.into()).await,
        Err(_) => return,
    };
    if claimed.is_err() {
        // Someone has it, or the run fenced or cancelled it: never here.
        tracing::info!("{}: already claimed, fenced or cancelled", work.key);
        let _ = msg.double_ack_with(AckKind::Term).await;
        return;
    }
    let lease = Duration::from_millis(work.lease_ms.max(1000));
    // Listed before the claim is reported: a cancel the run sends as soon
    // as it hears of the claim finds it.
    let (stop_tx, stop) = watch::channel(None);
    if let Ok(mut running) = worker.running.lock() {
        running.insert(
            work.key.clone(),
            (
                Running {
                    key: work.key.clone(),
                    run: work.run.clone(),
                    step: work.step.clone(),
                    attempt: work.attempt,
                },
                stop_tx.clone(),
            ),
        );
    }
    let hello = Report::Claimed {
        v: 1,
        key: work.key.clone(),
        worker: id.clone(),
        host: worker.host.clone(),
        pid: std::process::id(),
    };
    // Sent before any line (one connection keeps their order); its
    // acknowledgement is awaited beside the process rather than before it.
    // The claim counts as the first lease (the run starts its clock when it
    // hears of it), so none is put before a quarter of the lease: a short
    // attempt never writes one. The work's ack needs no answer: were it
    // lost, the message comes again after its ack wait and finds the claim.
    let sent = report::start(&worker.handles.js, &work.key, 1, &hello).await;
    let _ = msg.ack().await;
    {
        let key = work.key.clone();
        tokio::spawn(async move {
            if let Err(e) = report::finish(sent).await {
                tracing::warn!("{key}: the claim was not reported: {e}");
            }
        });
    }
    crate::safe::say!("▸ {}/{} #{} started", work.run, work.step, work.attempt);
    let leased = Arc::new(AtomicBool::new(false));
    let leasing = tokio::spawn(keep_lease(
        worker.clone(),
        work.clone(),
        lease,
        stop_tx,
        leased.clone(),
    ));
    let (exit, outputs, n, dropped) = run(&worker, &work, lease, stop.clone()).await;
    leasing.abort();
    // The process is gone: its slot takes the next attempt while its end
    // is on its way (the worker stops only once every end is sent).
    let tail = worker.tails.clone().acquire_owned().await;
    drop(permit);
    let why = *stop.borrow();
    let exit = match why {
        Some(Stop::Fence) => Exit::LostLease,
        Some(Stop::Shutdown) => Exit::Error(format!("worker {id} stopped")),
        _ => exit,
    };
    // The glyphs of the run's own lines: ✓ a success, ⊘ a cancel, ✗ the rest.
    let glyph = match exit {
        Exit::Code(0) => '✓',
        Exit::Cancelled => '⊘',
        _ => '✗',
    };
    crate::safe::say!(
        "{glyph} {}/{} #{} ended: {}",
        work.run,
        work.step,
        work.attempt,
        said(&exit)
    );
    let end = Report::Exited {
        v: 1,
        key: work.key.clone(),
        n,
        exit,
        outputs,
        dropped_lines: dropped,
    };
    // The end is sent until the server has it, while the claim is ours.
    for round in 0u32.. {
        match report::send(&worker.handles.js, &work.key, n, &end).await {
            Ok(()) => break,
            Err(e) if round < 600 => {
                tracing::warn!("{}: the end was not sent yet: {e}", work.key);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                tracing::error!("{}: giving up sending its end: {e}", work.key);
                break;
            }
        }
    }
    // The claim stays `claimed`: the end report is what says it ended, and
    // a run treats both alike.
    if leased.load(Ordering::Acquire) {
        let _ = worker.handles.leases.delete(&work.key).await;
    }
    if let Ok(mut running) = worker.running.lock() {
        running.remove(&work.key);
    }
    worker.files.forget(&work.key);
    let _ = std::fs::remove_file(worker.files.output(&work.key));
    drop(tail);
}

fn w_ok(w: &Work) -> bool {
    w.v == 1 && !w.key.is_empty() && !w.shell.is_empty()
}

fn said(exit: &Exit) -> String {
    match exit {
        Exit::Code(c) => format!("exit code {c}"),
        Exit::Signal(s) => format!("killed by signal {s}"),
        Exit::TimedOut => "timed out".into(),
        Exit::Cancelled => "cancelled".into(),
        Exit::Error(e) => e.clone(),
        Exit::LostLease => "killed: its lease could not be renewed".into(),
    }
}

async fn put_lease(worker: &Worker, work: &Work) -> bool {
    let lease = Lease {
        worker: worker.opts.id.clone(),
        lease_ms: work.lease_ms,
    };
    let Ok(body) = serde_json::to_vec(&lease) else {
        return false;
    };
    let put = worker.handles.leases.put(&work.key, body.into());
    let quarter = Duration::from_millis(work.lease_ms.max(1000) / 4);
    matches!(tokio::time::timeout(quarter, put).await, Ok(Ok(_)))
}

/// Renews the lease every quarter of it (`leased` once it tried); after half of it without a
/// renewal, stops the attempt (`Stop::Fence`). Hears a cancel the run
/// wrote in the claim.
async fn keep_lease(
    worker: Arc<Worker>,
    work: Work,
    lease: Duration,
    stop: watch::Sender<Option<Stop>>,
    leased: Arc<AtomicBool>,
) {
    let mut renewed = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(lease / 4).await;
        // Judged before renewing: a worker frozen past half its lease (a
        // SIGSTOP, a suspended machine) may find the server well, but the
        // run may have given the attempt up already.
        let late = renewed.elapsed() >= lease / 2;
        if !late {
            leased.store(true, Ordering::Release);
        }
        if !late && put_lease(&worker, &work).await {
            renewed = tokio::time::Instant::now();
        } else if late || renewed.elapsed() >= lease / 2 {
            tracing::warn!(
                "{}: lease not renewed for {:?}: killing it",
                work.key,
                renewed.elapsed()
            );
            stop.send_if_modified(|s| s.is_none().then(|| *s = Some(Stop::Fence)).is_some());
        }
        let entry = tokio::time::timeout(lease / 4, worker.handles.claims.entry(&work.key)).await;
        if let Ok(Ok(Some(entry))) = entry
            && let Ok(claim) = serde_json::from_slice::<Claim>(&entry.value)
            && claim.state == ClaimState::CancelRequested
        {
            stop.send_if_modified(|s| s.is_none().then(|| *s = Some(Stop::Cancel)).is_some());
        }
    }
}

/// Runs the attempt's process; returns how it ended, its outputs, the
/// number of its end report and the lines dropped.
async fn run(
    worker: &Arc<Worker>,
    work: &Work,
    lease: Duration,
    mut stop: watch::Receiver<Option<Stop>>,
) -> (Exit, BTreeMap<String, String>, u64, u64) {
    let output = worker.files.output(&work.key);
    let _ = std::fs::remove_file(&output);
    let mut env = work.env.clone();
    env.retain(|(k, _)| k != "SIGNALBOX_OUTPUT");
    env.push(("SIGNALBOX_OUTPUT".into(), output.display().to_string()));
    let room = OutputRoom::default();
    let spec = ProcessSpec {
        command: work.command.clone(),
        shell: work.shell.clone(),
        env,
        unset: Vec::new(),
        cwd: work.cwd.as_ref().map(std::path::PathBuf::from),
        timeout: work.timeout_ms.map(Duration::from_millis),
        // Done before the run's lease is out when the worker fences itself.
        kill_grace: Duration::from_millis(work.kill_grace_ms).min(lease / 4),
        // Its processes are found by their marker variables, as a local
        // attempt's are: one that left its group (setsid) dies with it.
        mark: Some(crate::engine::process::Mark {
            run: work.run.clone(),
            step: work.step.clone(),
            attempt: work.attempt,
            output: output.display().to_string(),
        }),
        // A line takes room before it is read on, and has it back once the
        // server has it: a flooding step waits on its writes.
        output_room: Some(room.clone()),
        merged: work.merged,
        stdin: None,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let dropped = Arc::new(AtomicU64::new(0));
    let sender = tokio::spawn(report::lines(
        worker.handles.js.clone(),
        work.key.clone(),
        2,
        rx,
        dropped.clone(),
        room.clone(),
        report::BYTES_PER_ATTEMPT,
    ));
    let files = &worker.files;
    let key = work.key.clone();
    // Secrets are masked here, before any report leaves: the server keeps
    // reports for days.
    let masker = Arc::new(crate::engine::mask::Masker::new(
        work.mask.iter().map(String::as_str),
    ));
    let mut masked = crate::engine::mask::Lines::new(masker.clone());
    let exit = process::run(
        &spec,
        async {
            let _ = stop.wait_for(Option::is_some).await;
        },
        |s| files.record(&key, s.pgid),
        |stream, line| {
            let line = masked.line(stream, line);
            let stream = match stream {
                process::Stream::Output => Stream::Output,
                process::Stream::Stdout => Stream::Stdout,
                process::Stream::Stderr => Stream::Stderr,
            };
            let len = line.len();
            if tx.send((stream, line)).is_err() {
                room.give(len);
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        },
    )
    .await;
    let (exit, outputs) = match exit {
        Ok(process::Exit::Code(0)) => {
            let read = crate::engine::run_dir::read_outputs(&output);
            let stream = if work.merged {
                Stream::Output
            } else {
                Stream::Stderr
            };
            for problem in read.problems {
                let line = format!("signalbox: {}", masker.text(&problem));
                // Its room is given back with the others'.
                room.force(line.len());
                let _ = tx.send((stream, line));
            }
            (
                Exit::Code(0),
                crate::engine::mask::outputs(&masker, read.values),
            )
        }
        Ok(process::Exit::Code(c)) => (Exit::Code(c), BTreeMap::new()),
        Ok(process::Exit::Signal(s)) => (Exit::Signal(s), BTreeMap::new()),
        Ok(process::Exit::TimedOut) => (Exit::TimedOut, BTreeMap::new()),
        Ok(process::Exit::Cancelled) => (Exit::Cancelled, BTreeMap::new()),
        Err(e) => (Exit::Error(e.to_string()), BTreeMap::new()),
    };
    drop(tx);
    let (n, dropped) = sender.await.unwrap_or((2, 0));
    (exit, outputs, n, dropped)
}
