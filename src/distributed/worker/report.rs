//! Sending an attempt's reports: each on `sb.res.<key>`, numbered, with
//! `Nats-Msg-Id: <key>:<n>` so one sent twice is kept once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::mpsc;

use crate::distributed::wire::{self, Report};
use crate::engine::bus::OutputRoom;
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

/// How long the server is given to acknowledge a report.
const ACK_WAIT: Duration = Duration::from_secs(5);

/// Waits for the server to have a report [`start`] sent.
pub(crate) async fn finish(sent: Sent) -> Result<(), String> {
    finish_by(sent, tokio::time::Instant::now() + ACK_WAIT).await
}

/// Waits until `deadline` for the server to have a report [`start`] sent.
async fn finish_by(sent: Sent, deadline: tokio::time::Instant) -> Result<(), String> {
    let ack = sent?;
    match tokio::time::timeout_at(deadline, ack).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no acknowledgement in 5 s".into()),
    }
}

/// Sends the lines that come on `lines` in batches, numbered from
/// `first`, at most `limit` bytes of them ([`BYTES_PER_ATTEMPT`]; the
/// rest are dropped); returns the next number and how many lines were
/// dropped (here, and before: `dropped_before`). Each line came with room taken in
/// `room`, given back once the server has it (or it is dropped): a step
/// prints no faster than its lines reach the server, as a local step
/// prints no faster than its lines reach the journal.
pub(crate) async fn lines(
    js: jetstream::Context,
    key: String,
    first: u64,
    mut lines: mpsc::UnboundedReceiver<(Stream, String)>,
    dropped_before: Arc<AtomicU64>,
    room: OutputRoom,
    limit: usize,
) -> (u64, u64) {
    let mut n = first;
    let mut dropped = 0u64;
    // The server's answers are awaited in order beside the sending, so
    // room comes back while the step waits for it.
    let (acks, answers) = mpsc::channel(ACKS_IN_FLIGHT);
    let answering = tokio::spawn(answered(key.clone(), answers, room.clone()));
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
        let count = Batch {
            lines: batch.len(),
            bytes,
        };
        sent_bytes = sent_bytes.saturating_add(bytes);
        if sent_bytes > limit {
            dropped += count.lines as u64;
            room.give_lines(count.lines, count.bytes);
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
        // Given its 5 s from now, not from when the ones before it are in.
        let by = tokio::time::Instant::now() + ACK_WAIT;
        if let Err(mpsc::error::SendError((count, sent, by))) = acks.send((count, sent, by)).await {
            dropped += acked(&key, count, sent, by, &room).await;
        }
    }
    drop(acks);
    dropped += answering.await.unwrap_or(0);
    (n, dropped + dropped_before.load(Ordering::Relaxed))
}

/// Awaits the server's answer to each report sent, in order; the lines
/// lost because it never had them.
async fn answered(key: String, mut sent: mpsc::Receiver<Answer>, room: OutputRoom) -> u64 {
    let mut lost = 0;
    while let Some((count, sent, by)) = sent.recv().await {
        lost += acked(&key, count, sent, by, &room).await;
    }
    lost
}

/// A report sent: its lines, its acknowledgement to come, and by when.
type Answer = (Batch, Sent, tokio::time::Instant);

/// The lines of one output report, and their bytes.
#[derive(Debug, Clone, Copy)]
struct Batch {
    lines: usize,
    bytes: usize,
}

/// Waits for the server to have a batch of lines and gives their room
/// back; the lines lost if it never had them.
async fn acked(
    key: &str,
    batch: Batch,
    sent: Sent,
    by: tokio::time::Instant,
    room: &OutputRoom,
) -> u64 {
    let lost = match finish_by(sent, by).await {
        Ok(()) => 0,
        Err(e) => {
            tracing::warn!("{key}: {} output lines not sent: {e}", batch.lines);
            batch.lines as u64
        }
    };
    room.give_lines(batch.lines, batch.bytes);
    lost
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
