//! The hub's readers of the server: the run's reports in `SB_RES` (one
//! ordered consumer, from the start), and the watches of `sb_leases`,
//! `sb_claims` and `sb_workers`. Each reads again after an error.

use std::time::Duration;

use async_nats::jetstream::{consumer, kv, stream};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::hub::Internal;
use super::pure::Seen;
use crate::distributed::setup::{self, Handles};
use crate::distributed::wire::{self, Claim, Report, WorkerInfo};

const AGAIN: Duration = Duration::from_millis(500);

type Hub = mpsc::UnboundedSender<Internal>;

/// Starts every reader of run `run`.
pub(super) fn spawn(
    h: &Handles,
    run: &str,
    hub: &Hub,
    replay: watch::Receiver<u64>,
) -> Vec<JoinHandle<()>> {
    let keys = wire::run_leases(run);
    vec![
        tokio::spawn(results(
            h.results.clone(),
            wire::run_reports(run),
            hub.clone(),
            replay,
        )),
        tokio::spawn(watch_kv(
            h.leases.clone(),
            keys.clone(),
            false,
            hub.clone(),
            |e, _| (e.operation == kv::Operation::Put).then(|| Internal::Lease(e.key)),
        )),
        tokio::spawn(watch_kv(
            h.claims.clone(),
            keys,
            true,
            hub.clone(),
            |e, _| {
                let claim = serde_json::from_slice::<Claim>(&e.value).ok()?;
                (e.operation == kv::Operation::Put).then(|| Internal::Claim(e.key, claim))
            },
        )),
        tokio::spawn(watch_kv(
            h.workers.clone(),
            ">".to_string(),
            true,
            hub.clone(),
            worker,
        )),
    ]
}

/// A worker's word in `sb_workers`; one from the history older than
/// [`wire::REGISTRY_STALE`] (by its time on the server) is not a live one.
fn worker(e: kv::Entry, history: bool) -> Option<Internal> {
    if e.operation != kv::Operation::Put {
        return Some(Internal::Worker(e.key, None));
    }
    let info = serde_json::from_slice::<WorkerInfo>(&e.value).ok()?;
    if history {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let age = now - e.created.unix_timestamp_nanos();
        if age > wire::REGISTRY_STALE.as_nanos() as i128 {
            return None;
        }
    }
    let seen = Seen {
        pools: info.pools,
        at: Instant::now(),
    };
    Some(Internal::Worker(e.key, Some(seen)))
}

/// Every report of the run, in order, from the start; from the start
/// again whenever `replay` changes.
/// Reports read and not yet journaled, at most.
const AHEAD: usize = 64;

/// How long the reading, behind, waits for the next report before it takes
/// itself as caught up.
const IDLE: Duration = Duration::from_secs(1);

async fn results(
    results: stream::Stream,
    filter: String,
    hub: Hub,
    mut replay: watch::Receiver<u64>,
) {
    // Reports read ahead of the journal, at most: past that the reading waits,
    // and the server holds the rest rather than this process.
    let ahead = std::sync::Arc::new(tokio::sync::Semaphore::new(AHEAD));
    let mut next = 1u64;
    // Whether the last report read had others after it in the stream.
    let mut behind = false;
    loop {
        let deliver_policy = match next {
            0 | 1 => consumer::DeliverPolicy::All,
            n => consumer::DeliverPolicy::ByStartSequence { start_sequence: n },
        };
        let config = consumer::pull::OrderedConfig {
            filter_subject: filter.clone(),
            deliver_policy,
            ..Default::default()
        };
        let messages = match results.create_consumer(config).await {
            Ok(c) => c.messages().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let mut messages = match messages {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!("nats: cannot read the reports: {e}");
                tokio::time::sleep(AGAIN).await;
                continue;
            }
        };
        loop {
            tokio::select! {
                // Nothing more has come: whatever was pending is not coming
                // (a server started again without it), and the reading is
                // not behind. A reading that waits on the journal is.
                () = tokio::time::sleep(IDLE), if behind => {
                    behind = false;
                    if hub.send(Internal::Behind(false)).is_err() {
                        return;
                    }
                }
                changed = replay.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    next = 1;
                    break;
                }
                message = messages.next() => match message {
                    Some(Ok(m)) => {
                        let Ok((seq, pending)) = m.info().map(|i| (i.stream_sequence, i.pending)) else {
                            continue;
                        };
                        next = seq + 1;
                        if (pending > 0) != behind {
                            behind = pending > 0;
                            if hub.send(Internal::Behind(behind)).is_err() {
                                return;
                            }
                        }
                        match serde_json::from_slice::<Report>(&m.payload) {
                            Ok(report) => {
                                let Ok(place) = ahead.clone().acquire_owned().await else {
                                    return;
                                };
                                if hub.send(Internal::Report(seq, report, place)).is_err() {
                                    return;
                                }
                            }
                            Err(e) => tracing::warn!("nats: report {seq} on {} is not one: {e}", m.subject),
                        }
                    }
                    Some(Err(e)) => {
                        tracing::debug!("nats: reading the reports: {e}");
                        tokio::time::sleep(AGAIN).await;
                        break;
                    }
                    None => {
                        tokio::time::sleep(AGAIN).await;
                        break;
                    }
                },
            }
        }
    }
}

/// Watches `key` in `store` (with the values it holds now when `history`),
/// telling the hub what `make` makes of each entry (and whether it came
/// from the history).
async fn watch_kv(
    store: kv::Store,
    key: String,
    history: bool,
    hub: Hub,
    make: fn(kv::Entry, bool) -> Option<Internal>,
) {
    loop {
        let watched = match history {
            true => store.watch_with_history(&key).await,
            false => store.watch(&key).await,
        };
        let mut entries = match watched {
            Ok(w) => w,
            Err(e) => {
                tracing::debug!("nats: cannot watch {key}: {e}");
                tokio::time::sleep(AGAIN).await;
                continue;
            }
        };
        let mut caught_up = !history;
        while let Some(entry) = entries.next().await {
            match entry {
                Ok(e) => {
                    let current = e.seen_current;
                    if let Some(msg) = make(e, !caught_up)
                        && hub.send(msg).is_err()
                    {
                        return;
                    }
                    caught_up |= current;
                }
                Err(e) => {
                    tracing::debug!("nats: watching {key}: {e}");
                    break;
                }
            }
        }
        tokio::time::sleep(AGAIN).await;
    }
}

/// Makes the streams and buckets, trying again every 500 ms until it can.
pub(super) async fn ensure(client: async_nats::Client, hub: Hub) {
    loop {
        match setup::ensure(&client).await {
            Ok(handles) => {
                let _ = hub.send(Internal::Ready(Box::new(handles)));
                return;
            }
            Err(e) => {
                if hub.send(Internal::Failed(e)).is_err() {
                    return;
                }
            }
        }
        tokio::time::sleep(AGAIN).await;
    }
}
