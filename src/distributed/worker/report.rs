//! Sending an attempt's reports: each on `sb.res.<key>`, numbered, with
//! `Nats-Msg-Id: <key>:<n>` so one sent twice is kept once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::mpsc;

use crate::distributed::wire::{self, Report};
use crate::engine::event::Stream;

/// Lines per output report, at most.
const BATCH_LINES: usize = 256;
/// Bytes of lines per output report, about.
const BATCH_BYTES: usize = 64 * 1024;
/// How long a line waits for others to share its report.
const BATCH_WAIT: Duration = Duration::from_millis(20);
/// Reports sent and not yet acknowledged, at most: the server's answers
/// are awaited behind the sending, not before the next report.
const ACKS_IN_FLIGHT: usize = 64;
/// Bytes of lines read but not yet sent, at most: beyond, lines are
/// dropped and counted (the run says how many), so a step never waits
/// on the network and a worker's memory stays bounded.
pub(crate) const BYTES_IN_FLIGHT: usize = 16 << 20;

/// Bytes of output lines one attempt sends, at most: the server keeps the
/// reports of every run in one stream of 1 GiB, which one flooding step
/// must not fill, pushing out what other runs still need. Past this the
/// lines are dropped and counted, and the run says how many.
pub(crate) const BYTES_PER_ATTEMPT: usize = 64 << 20;

/// A report on its way: sent to the server, its acknowledgement to come.
pub(crate) type Sent = Result<jetstream::context::PublishAckFuture, String>;

/// Sends `report` as report `n` of `key`; Ok once the server has it.
pub(crate) async fn send(
    js: &jetstream::Context,
    key: &str,
    n: u64,
    report: &Report,
) -> Result<(), String> {
    finish(start(js, key, n, report).await).await
}

/// Sends `report` as report `n` of `key`, without waiting for the server.
pub(crate) async fn start(js: &jetstream::Context, key: &str, n: u64, report: &Report) -> Sent {
    let body = serde_json::to_vec(report).map_err(|e| e.to_string())?;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", format!("{key}:{n}").as_str());
    js.publish_with_headers(wire::report_subject(key), headers, body.into())
        .await
        .map_err(|e| e.to_string())
}

/// Waits for the server to have a report [`start`] sent.
pub(crate) async fn finish(sent: Sent) -> Result<(), String> {
    let ack = sent?;
    match tokio::time::timeout(Duration::from_secs(5), ack).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no acknowledgement in 5 s".into()),
    }
}

/// Sends the lines that come on `lines` in batches, numbered from
/// `first`; returns the next number and how many lines were dropped
/// (here, and before: `dropped_before`). `in_flight` counts the bytes of
/// lines read and not yet taken from `lines`.
pub(crate) async fn lines(
    js: jetstream::Context,
    key: String,
    first: u64,
    mut lines: mpsc::UnboundedReceiver<(Stream, String)>,
    dropped_before: Arc<AtomicU64>,
    in_flight: Arc<AtomicUsize>,
) -> (u64, u64) {
    let mut n = first;
    let mut dropped = 0u64;
    let mut acks: VecDeque<(u64, Sent)> = VecDeque::new();
    let mut sent_bytes = 0usize;
    loop {
        let Some(line) = lines.recv().await else {
            break;
        };
        let mut bytes = line.1.len();
        let mut batch = vec![line];
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while batch.len() < BATCH_LINES && bytes < BATCH_BYTES {
            let next = match lines.try_recv() {
                Ok(l) => Some(l),
                Err(_) => match tokio::time::timeout_at(deadline, lines.recv()).await {
                    Ok(Some(l)) => Some(l),
                    Ok(None) | Err(_) => None,
                },
            };
            let Some(l) = next else { break };
            bytes += l.1.len();
            batch.push(l);
        }
        in_flight.fetch_sub(bytes, Ordering::AcqRel);
        let count = batch.len() as u64;
        sent_bytes = sent_bytes.saturating_add(bytes);
        if sent_bytes > BYTES_PER_ATTEMPT {
            dropped += count;
            continue;
        }
        let report = Report::Output {
            v: 1,
            key: key.clone(),
            n,
            lines: batch,
        };
        let sent = start(&js, &key, n, &report).await;
        n += 1;
        acks.push_back((count, sent));
        while acks.len() > ACKS_IN_FLIGHT {
            if let Some((count, sent)) = acks.pop_front()
                && let Err(e) = finish(sent).await
            {
                tracing::warn!("{key}: {count} output lines not sent: {e}");
                dropped += count;
            }
        }
    }
    for (count, sent) in acks {
        if let Err(e) = finish(sent).await {
            tracing::warn!("{key}: {count} output lines not sent: {e}");
            dropped += count;
        }
    }
    (n, dropped + dropped_before.load(Ordering::Relaxed))
}
