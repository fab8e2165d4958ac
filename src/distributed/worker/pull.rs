//! Pulling a pool's work: one message per free slot, through one inbox
//! the worker keeps (rather than a subscription made and dropped for each
//! message), with at most one pull request waiting on it at a time.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::BatchConfig;
use async_nats::{StatusCode, Subject, Subscriber};
use futures::StreamExt;
use tokio::sync::{Semaphore, watch};

use super::{Worker, attempt};

/// How long a pull request waits on the server for work.
const WAIT: Duration = Duration::from_millis(500);
/// How long past [`WAIT`] the answer may take before the request is
/// taken as lost (a server gone or started again); the next one goes
/// through a new inbox, so a late answer reaches no one and its message
/// comes again after its ack wait.
const LATE: Duration = Duration::from_secs(2);
/// The pause after an error.
const AGAIN: Duration = Duration::from_millis(200);

/// Pulls `pool`'s work one message at a time, while a slot is free.
pub(super) async fn pull(
    worker: Arc<Worker>,
    pool: String,
    consumer: PullConsumer,
    slots: Arc<Semaphore>,
    stopping: watch::Receiver<bool>,
) {
    let client = worker.handles.js.client();
    let mut inbox: Option<(Subject, Subscriber)> = None;
    loop {
        if *stopping.borrow() {
            return;
        }
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        // Asks until a message comes for this slot, or a request expires
        // with none: then the slot is let go, for the worker's other pools
        // to have their turn at it (the semaphore is fair), and taken again.
        let msg = loop {
            let (subject, sub) = match &mut inbox {
                Some(found) => found,
                None => {
                    let subject = Subject::from(client.new_inbox());
                    match client.subscribe(subject.clone()).await {
                        Ok(sub) => inbox.insert((subject, sub)),
                        Err(e) => {
                            tracing::debug!("pool {pool}: cannot subscribe: {e}");
                            tokio::time::sleep(AGAIN).await;
                            continue;
                        }
                    }
                }
            };
            let ask = BatchConfig {
                batch: 1,
                expires: Some(WAIT),
                ..Default::default()
            };
            if let Err(e) = consumer.request_batch(ask, subject.clone()).await {
                tracing::debug!("fetch from pool {pool}: {e}");
                tokio::time::sleep(AGAIN).await;
                continue;
            }
            match tokio::time::timeout(WAIT + LATE, sub.next()).await {
                Ok(Some(m)) => match m.status {
                    None | Some(StatusCode::OK) => break Some(m),
                    // Expired with nothing to take.
                    Some(StatusCode::TIMEOUT) => break None,
                    Some(status) => {
                        tracing::debug!("fetch from pool {pool}: {status} {:?}", m.description);
                        tokio::time::sleep(AGAIN).await;
                    }
                },
                Ok(None) | Err(_) => {
                    inbox = None;
                }
            }
        };
        let Some(msg) = msg else {
            drop(permit);
            continue;
        };
        let msg = async_nats::jetstream::Message {
            message: msg,
            context: worker.handles.js.clone(),
        };
        if *stopping.borrow() {
            // Left for another worker at once.
            let _ = msg
                .ack_with(async_nats::jetstream::AckKind::Nak(None))
                .await;
            return;
        }
        tokio::spawn(attempt::take(worker.clone(), msg, permit));
    }
}
