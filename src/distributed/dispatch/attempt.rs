//! One attempt on a worker, as the run follows it: its task holds the
//! attempt's `Reports`, sends its work (or follows an earlier dispatch a
//! worker claimed), cancels it when the run asks, and passes on what the
//! hub heard of it.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio::task::{JoinError, JoinHandle};

use super::hub::Internal;
use crate::distributed::setup::Handles;
use crate::engine::event::Stream;
use crate::engine::process::Exit;
use crate::engine::remote::{Adopt, Job, Reports};

/// What the hub passes on to an attempt's task.
#[derive(Debug)]
pub(super) enum Event {
    Claimed(String),
    Lines(Vec<(Stream, String)>, Held),
    Exited(Result<Exit, String>, BTreeMap<String, String>),
    Lost(String),
}

/// Output bytes of one attempt on their way from the hub to the journal,
/// at most [`PENDING`]: past that the hub drops lines (and counts them)
/// rather than hold more than the run can write. The reading of reports
/// waits on the journal (see [`Held`]), so only a worker that sends
/// reports far larger than a worker makes reaches it.
#[derive(Debug, Default, Clone)]
pub(super) struct Pending(std::sync::Arc<std::sync::atomic::AtomicUsize>);

/// Output bytes of an attempt held between the hub and the journal, at most.
pub(super) const PENDING: usize = 16 << 20;

impl Pending {
    /// Holds nothing: for the run's own word among the lines.
    pub(super) fn none(&self) -> Held {
        Held {
            bytes: 0,
            pending: self.clone(),
            _place: None,
        }
    }

    /// Holds `bytes` more, with the report's `place` among those read,
    /// unless that goes past [`PENDING`].
    pub(super) fn hold(&self, bytes: usize, place: OwnedSemaphorePermit) -> Option<Held> {
        use std::sync::atomic::Ordering;
        let now = self.0.load(Ordering::Acquire);
        if now > 0 && now + bytes > PENDING {
            return None;
        }
        self.0.fetch_add(bytes, Ordering::AcqRel);
        Some(Held {
            bytes,
            pending: self.clone(),
            _place: Some(place),
        })
    }
}

/// Bytes held until their lines are journaled, and the place of their
/// report among those read ahead: no more reports are read than the
/// journal can take, and the server keeps the rest.
#[derive(Debug)]
pub(super) struct Held {
    bytes: usize,
    pending: Pending,
    _place: Option<OwnedSemaphorePermit>,
}

impl Drop for Held {
    fn drop(&mut self) {
        (self.pending.0).fetch_sub(self.bytes, std::sync::atomic::Ordering::AcqRel);
    }
}

/// What an attempt's task needs of the connection.
#[derive(Clone)]
pub(super) struct Ctx {
    pub handles: watch::Receiver<Option<Handles>>,
    pub hub: mpsc::UnboundedSender<Internal>,
    pub lease: Duration,
    pub client: async_nats::Client,
}

impl Ctx {
    /// The streams and buckets, once they are there.
    pub(super) async fn ready(&self) -> Handles {
        let mut rx = self.handles.clone();
        loop {
            let handles = rx.borrow_and_update().clone();
            if let Some(h) = handles {
                return h;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// How sending the work ended.
pub(super) enum Sent {
    /// In `SB_WORK` under this sequence.
    Published(u64),
    /// An earlier dispatch of the attempt was claimed: that one is followed.
    Follow(String, Option<String>),
    Failed(String),
}

/// Follows a new dispatch of an attempt, from sending its work to its end.
pub(super) async fn dispatched(
    job: Job,
    reports: Reports,
    rx: mpsc::UnboundedReceiver<Event>,
    ctx: Ctx,
    first: Option<super::ops::First>,
) {
    let key = job.key.clone();
    let send = tokio::spawn(super::ops::send(job, ctx.clone(), first));
    follow(reports, rx, ctx, key, None, Some(send)).await;
}

/// Follows an attempt a resumed run found started on `adopt.worker`.
pub(super) async fn adopted(
    adopt: Adopt,
    reports: Reports,
    rx: mpsc::UnboundedReceiver<Event>,
    ctx: Ctx,
) {
    follow(reports, rx, ctx, adopt.key, Some(adopt.worker), None).await;
}

async fn join<T>(task: &mut Option<JoinHandle<T>>) -> Result<T, JoinError> {
    match task {
        Some(task) => task.await,
        None => std::future::pending().await,
    }
}

async fn follow(
    mut reports: Reports,
    mut rx: mpsc::UnboundedReceiver<Event>,
    ctx: Ctx,
    mut key: String,
    mut worker: Option<String>,
    mut send: Option<JoinHandle<Sent>>,
) {
    let mut cancel: Option<JoinHandle<(String, bool)>> = None;
    let mut asked = false;
    // Once cancelled, how long the run waits for the attempt's end.
    let mut give_up: Option<tokio::time::Instant> = None;
    let mut published: Option<u64> = None;
    loop {
        tokio::select! {
            biased;
            sent = join(&mut send) => {
                send = None;
                if let Err(e) = on_sent(sent, &ctx, &mut key, &mut published) {
                    end(&send, &cancel);
                    reports.exited(Err(e), BTreeMap::new());
                    return;
                }
            }
            event = rx.recv() => match event {
                None => {
                    end(&send, &cancel);
                    return;
                }
                Some(Event::Claimed(w)) => {
                    reports.claimed(&w);
                    worker = Some(w);
                }
                Some(Event::Lines(lines, held)) => {
                    for (stream, line) in lines {
                        reports.line(stream, line).await;
                    }
                    drop(held);
                }
                Some(Event::Exited(exit, outputs)) => {
                    end(&send, &cancel);
                    reports.exited(exit, outputs);
                    return;
                }
                Some(Event::Lost(w)) => {
                    end(&send, &cancel);
                    reports.lost(&w);
                    return;
                }
            },
            done = join(&mut cancel) => {
                cancel = None;
                // Fenced before any worker claimed it: it never runs.
                if let Ok((fenced, true)) = done && fenced == key {
                    // Its work, which may hold secrets, need not wait in
                    // the server for a worker to throw it away.
                    // It is erased before the end is reported, so a run
                    // that ends with it does not exit with it still there.
                    if let Some(seq) = published {
                        erase(&ctx, seq).await;
                    }
                    let _ = ctx.hub.send(Internal::Ended(key.clone()));
                    end(&send, &cancel);
                    reports.exited(Ok(Exit::Cancelled), BTreeMap::new());
                    return;
                }
            }
            () = sleep_until(give_up), if give_up.is_some() => {
                // No word for a lease and a half (the server away): a copy
                // a worker claimed has killed itself by now, unable to
                // renew its lease; the fence goes on being tried.
                tracing::warn!("nats: {key}: no end heard since it was cancelled; taken as cancelled");
                let _ = ctx.hub.send(Internal::Ended(key.clone()));
                if let Some(task) = &send {
                    task.abort();
                }
                reports.exited(Ok(Exit::Cancelled), BTreeMap::new());
                return;
            }
            () = reports.cancelled(), if !asked => {
                asked = true;
                give_up = Some(tokio::time::Instant::now() + ctx.lease * 3 / 2);
                if let Some(mut task) = send.take() {
                    // A send the server is about to acknowledge is let
                    // finish, so its work can be fenced and erased.
                    match tokio::time::timeout(SEND_WAIT, &mut task).await {
                        Ok(sent) => {
                            if let Err(e) = on_sent(sent, &ctx, &mut key, &mut published) {
                                reports.exited(Err(e), BTreeMap::new());
                                return;
                            }
                        }
                        Err(_) => {
                            // Not sent (the server away): no worker has
                            // it, and the run need not wait for the server
                            // to say so. The fence goes in when it can,
                            // lest a send that went through unacknowledged
                            // be claimed.
                            task.abort();
                            tokio::spawn(super::ops::stop(ctx.clone(), key.clone(), worker.clone()));
                            tracing::info!("nats: cancelled {key} before it was sent");
                            let _ = ctx.hub.send(Internal::Ended(key.clone()));
                            reports.exited(Ok(Exit::Cancelled), BTreeMap::new());
                            return;
                        }
                    }
                }
                cancel = Some(tokio::spawn(super::ops::stop(ctx.clone(), key.clone(), worker.clone())));
            }
        }
    }
}

/// Takes in how sending the work ended: its sequence, or the dispatch it
/// follows instead; `Err` when it could not be sent (the hub is told).
fn on_sent(
    sent: Result<Sent, JoinError>,
    ctx: &Ctx,
    key: &mut String,
    published: &mut Option<u64>,
) -> Result<(), String> {
    match sent {
        Ok(Sent::Published(seq)) => *published = Some(seq),
        Err(_) => {}
        Ok(Sent::Follow(to, w)) => {
            let _ = ctx.hub.send(Internal::Follow {
                from: key.clone(),
                to: to.clone(),
                worker: w,
            });
            *key = to;
        }
        Ok(Sent::Failed(e)) => {
            tracing::info!("nats: {key}: {e}");
            let _ = ctx.hub.send(Internal::Ended(key.clone()));
            return Err(e);
        }
    }
    Ok(())
}

/// Sleeps until `at`; forever when there is none.
pub(super) async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Stops what is still running of an attempt's side tasks.
fn end(send: &Option<JoinHandle<Sent>>, cancel: &Option<JoinHandle<(String, bool)>>) {
    if let Some(task) = send {
        task.abort();
    }
    if let Some(task) = cancel {
        task.abort();
    }
}

/// Erases work `seq` from the work stream, giving up after [`ERASE_WAIT`]
/// (the server away): a worker that pulls it later finds it fenced.
async fn erase(ctx: &Ctx, seq: u64) {
    let erased = tokio::time::timeout(ERASE_WAIT, async {
        let h = ctx.ready().await;
        h.work.delete_message(seq).await
    })
    .await;
    match erased {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::debug!("nats: cannot delete work {seq}: {e}"),
        Err(_) => tracing::debug!("nats: cannot delete work {seq} yet: the server is away"),
    }
}

/// How long a cancel waits for a send under way to be acknowledged.
const SEND_WAIT: Duration = Duration::from_millis(500);

/// How long a fenced attempt's end waits for its work to be erased.
const ERASE_WAIT: Duration = Duration::from_secs(2);
