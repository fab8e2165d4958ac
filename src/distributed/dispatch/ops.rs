//! What an attempt asks of the server: sending its work (after fencing or
//! following an earlier dispatch), and stopping it.

use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;

use super::attempt::{Ctx, Sent};
use crate::distributed::wire::{self, Claim, ClaimState, Control};
use crate::engine::remote::Job;

/// How long to wait before trying the server again.
const AGAIN: Duration = Duration::from_millis(500);

fn claim(state: ClaimState, worker: Option<String>) -> Bytes {
    Bytes::from(serde_json::to_vec(&Claim { state, worker }).unwrap_or_default())
}

/// A claim as `sb_claims` holds it now, with its revision; none when the
/// key holds none.
async fn read(claims: &kv::Store, key: &str) -> Result<Option<(Claim, u64)>, String> {
    match claims.entry(key).await {
        Ok(Some(entry)) if entry.operation == kv::Operation::Put => {
            match serde_json::from_slice::<Claim>(&entry.value) {
                Ok(c) => Ok(Some((c, entry.revision))),
                Err(e) => Err(format!("the claim of {key} is not one: {e}")),
            }
        }
        Ok(_) => Ok(None),
        Err(e) => Err(format!("cannot read the claim of {key}: {e}")),
    }
}

fn exists(e: &kv::CreateError) -> bool {
    e.kind() == kv::CreateErrorKind::AlreadyExists
}

/// The first try at publishing a dispatch's work: how it went.
pub(super) type Tried = Result<
    async_nats::jetstream::context::PublishAckFuture,
    async_nats::jetstream::context::PublishError,
>;

/// One publish for the run's [`publisher`], asked for in the order the run
/// dispatched; `tried` hears how it went.
pub(super) struct Publish {
    pub subject: String,
    pub key: String,
    pub payload: Bytes,
    pub tried: tokio::sync::oneshot::Sender<Tried>,
}

/// Publishes the run's work in the order it was dispatched (priority, then
/// file order, as the run started them), so a pool's workers, which take
/// first in first out, take it in that order too. Only the publish itself
/// waits its turn; each ack is awaited by its attempt. A dispatch cancelled
/// before its turn is not published.
pub(super) async fn publisher(ctx: Ctx, mut asks: tokio::sync::mpsc::UnboundedReceiver<Publish>) {
    while let Some(p) = asks.recv().await {
        if p.tried.is_closed() {
            continue;
        }
        let h = ctx.ready().await;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, p.key.as_str());
        let tried =
            h.js.publish_with_headers(p.subject, headers, p.payload)
                .await;
        let _ = p.tried.send(tried);
    }
}

/// A dispatch's subject and work, and the [`publisher`]'s first try.
pub(super) type First = (String, Bytes, tokio::sync::oneshot::Receiver<Tried>);

/// The work of `job`, as it travels, and the subject it goes to.
pub(super) fn work(job: &Job, lease: Duration) -> Result<(String, Bytes), String> {
    let work = wire::Work {
        v: 1,
        key: job.key.clone(),
        run: job.run.clone(),
        workflow: job.workflow.clone(),
        step: job.step.clone(),
        attempt: job.attempt,
        pool: job.pool.clone(),
        command: job.command.clone(),
        shell: job.shell.clone(),
        env: job.env.clone(),
        cwd: job.cwd.clone(),
        timeout_ms: job.timeout.map(|t| t.as_millis() as u64),
        kill_grace_ms: job.kill_grace.as_millis() as u64,
        merged: job.merged,
        lease_ms: lease.as_millis() as u64,
        mask: job.secrets.clone(),
    };
    let payload =
        serde_json::to_vec(&work).map_err(|e| format!("cannot send to pool {}: {e}", job.pool))?;
    Ok((wire::work_subject(&job.pool), Bytes::from(payload)))
}

/// Sends `job` to its pool, once the server is there, trying again while
/// it is not. An earlier dispatch a worker claimed is followed instead; one
/// no worker claimed is fenced so that none ever does. `first`: its work
/// and the [`publisher`]'s try, when it was asked to publish it in its turn.
pub(super) async fn send(job: Job, ctx: Ctx, first: Option<First>) -> Sent {
    if let Some(k) = job.earlier.as_ref().filter(|k| **k != job.key) {
        loop {
            let h = ctx.ready().await;
            match read(&h.claims, k).await {
                Ok(Some((c, _))) => match c.state {
                    ClaimState::Claimed | ClaimState::CancelRequested | ClaimState::Exited => {
                        return Sent::Follow(k.clone(), c.worker);
                    }
                    ClaimState::Cancelled | ClaimState::Fenced => break,
                },
                Ok(None) => match h.claims.create(k, claim(ClaimState::Fenced, None)).await {
                    Ok(_) => {
                        tracing::info!("nats: fenced {k}, sent before the run stopped");
                        break;
                    }
                    Err(e) if exists(&e) => continue,
                    Err(e) => tracing::debug!("nats: cannot fence {k}: {e}"),
                },
                Err(e) => tracing::debug!("nats: {e}"),
            }
            tokio::time::sleep(AGAIN).await;
        }
    }
    let (subject, payload, mut first) = match first {
        Some((subject, payload, turn)) if job.earlier.is_none() => (subject, payload, Some(turn)),
        _ => match work(&job, ctx.lease) {
            Ok((subject, payload)) => (subject, payload, None),
            Err(e) => return Sent::Failed(e),
        },
    };
    let mut said = false;
    loop {
        let tried = match first.take() {
            Some(turn) => match turn.await {
                Ok(tried) => tried,
                // The publisher is gone (the run is ending): as below.
                Err(_) => continue,
            },
            None => {
                let h = ctx.ready().await;
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(async_nats::header::NATS_MESSAGE_ID, job.key.as_str());
                h.js.publish_with_headers(subject.clone(), headers, payload.clone())
                    .await
            }
        };
        let acked = match tried {
            Ok(ack) => ack.await,
            Err(e) => Err(e),
        };
        match acked {
            Ok(ack) => {
                tracing::info!("nats: sent {} to pool {}", job.key, job.pool);
                return Sent::Published(ack.sequence);
            }
            Err(e) if super::pure::transient(e.kind()) => {
                if !said {
                    tracing::info!("nats: cannot send {} yet: {e}; trying again", job.key);
                    said = true;
                }
            }
            Err(e) => return Sent::Failed(format!("cannot send to pool {}: {e}", job.pool)),
        }
        tokio::time::sleep(AGAIN).await;
    }
}

/// Stops dispatch `key`: fenced if no worker claimed it yet (then `true`),
/// else its worker is asked to kill it and its claim says so (`false`:
/// its `exited` follows, or the lease lapses).
pub(super) async fn stop(ctx: Ctx, key: String, worker: Option<String>) -> (String, bool) {
    loop {
        let h = ctx.ready().await;
        if worker.is_none() {
            match h
                .claims
                .create(&key, claim(ClaimState::Cancelled, None))
                .await
            {
                Ok(_) => {
                    tracing::info!("nats: cancelled {key} before any worker claimed it");
                    return (key, true);
                }
                Err(e) if exists(&e) => {}
                Err(e) => {
                    tracing::debug!("nats: cannot cancel {key}: {e}");
                    tokio::time::sleep(AGAIN).await;
                    continue;
                }
            }
        }
        let (c, revision) = match read(&h.claims, &key).await {
            Ok(Some(found)) => found,
            Ok(None) if worker.is_none() => {
                tokio::time::sleep(AGAIN).await;
                continue;
            }
            Ok(None) => {
                ask(&ctx, worker.as_deref(), &key).await;
                return (key, false);
            }
            Err(e) => {
                tracing::debug!("nats: {e}");
                tokio::time::sleep(AGAIN).await;
                continue;
            }
        };
        match c.state {
            ClaimState::Cancelled | ClaimState::Fenced => return (key, true),
            ClaimState::CancelRequested | ClaimState::Exited => return (key, false),
            ClaimState::Claimed => {}
        }
        let w = c.worker.clone().or_else(|| worker.clone());
        ask(&ctx, w.as_deref(), &key).await;
        let asked = claim(ClaimState::CancelRequested, w.clone());
        match h.claims.update(&key, asked, revision).await {
            Ok(_) => {
                tracing::info!(
                    "nats: asked worker {} to stop {key}",
                    w.as_deref().unwrap_or("?")
                );
                return (key, false);
            }
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {}
            Err(e) => {
                tracing::debug!("nats: cannot ask for {key} to stop: {e}");
                tokio::time::sleep(AGAIN).await;
            }
        }
    }
}

/// The fast path of a cancel: a word on the worker's control subject.
async fn ask(ctx: &Ctx, worker: Option<&str>, key: &str) {
    let Some(worker) = worker else {
        return;
    };
    let word = Control::Cancel {
        key: key.to_string(),
    };
    if let Ok(body) = serde_json::to_vec(&word)
        && let Err(e) = ctx
            .client
            .publish(wire::control_subject(worker), Bytes::from(body))
            .await
    {
        tracing::debug!("nats: cannot tell worker {worker} to stop {key}: {e}");
    }
}
