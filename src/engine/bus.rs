//! Publishing events: number them, journal them, hand them to subscribers.
//!
//! The journal may not lose an event, so it is written first and a failure
//! stops the run. Subscribers are isolated: each has its own bounded queue;
//! one that falls a whole queue behind, or goes away, is dropped (counted
//! and logged) rather than slowing the run.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::event::{Envelope, Event};
use super::journal::{Durable, Journal};

/// Events a subscriber may have queued before it is dropped as too slow.
pub const SUBSCRIBER_QUEUE: usize = 65_536;

/// An event as published: the envelope and its journal line.
#[derive(Debug)]
pub struct Published {
    pub envelope: Envelope,
    pub line: String,
}

/// A subscriber's end: every event from when it subscribed, in order; the
/// queue closes when the run is over (or, for a bounded subscription, when
/// it fell a whole queue behind).
pub struct Subscription {
    rx: Rx,
}

enum Rx {
    Bounded(mpsc::Receiver<Arc<Published>>),
    Lossless(mpsc::UnboundedReceiver<Arc<Published>>),
}

impl Subscription {
    pub async fn recv(&mut self) -> Option<Arc<Published>> {
        match &mut self.rx {
            Rx::Bounded(rx) => rx.recv().await,
            Rx::Lossless(rx) => rx.recv().await,
        }
    }

    pub fn try_recv(&mut self) -> Result<Arc<Published>, mpsc::error::TryRecvError> {
        match &mut self.rx {
            Rx::Bounded(rx) => rx.try_recv(),
            Rx::Lossless(rx) => rx.try_recv(),
        }
    }
}

enum Tx {
    Bounded(mpsc::Sender<Arc<Published>>),
    Lossless(mpsc::UnboundedSender<Arc<Published>>),
}

pub struct Bus {
    run: String,
    seq: u64,
    journal: Journal,
    subscribers: Vec<Tx>,
    /// Subscribers dropped for falling behind, for the diagnostics log.
    pub dropped: u64,
    /// Syncs the journal, from whichever thread needs it on disk.
    durable: Arc<Durable>,
}

impl Bus {
    pub fn new(run: String, journal: Journal, first_seq: u64) -> std::io::Result<Bus> {
        Ok(Bus {
            run,
            seq: first_seq,
            durable: Arc::new(Durable::new(&journal, first_seq)?),
            journal,
            subscribers: Vec::new(),
            dropped: 0,
        })
    }

    /// A subscription that is dropped if it falls [`SUBSCRIBER_QUEUE`]
    /// events behind: for screens, which must never slow the run.
    pub fn subscribe(&mut self) -> Subscription {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        self.subscribers.push(Tx::Bounded(tx));
        Subscription {
            rx: Rx::Bounded(rx),
        }
    }

    /// A subscription that never loses an event, however slow its reader:
    /// for `--json`, which promises every line. Its queue grows instead.
    pub fn subscribe_lossless(&mut self) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers.push(Tx::Lossless(tx));
        Subscription {
            rx: Rx::Lossless(rx),
        }
    }

    /// Journals and publishes one event.
    pub fn emit(&mut self, event: Event) -> std::io::Result<()> {
        self.seq += 1;
        let envelope = Envelope {
            seq: self.seq,
            ts: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            run: self.run.clone(),
            event,
        };
        let mut line = serde_json::to_string(&envelope).map_err(std::io::Error::other)?;
        // The same value, without the characters a terminal would obey that
        // serde_json leaves raw (DEL, C1): `cat events.jsonl` stays safe.
        if let std::borrow::Cow::Owned(escaped) = crate::safe::json_line(&line) {
            line = escaped;
        }
        self.journal.append(&line)?;
        self.durable.wrote(self.seq);
        let published = Arc::new(Published { envelope, line });
        let before = self.subscribers.len();
        self.subscribers.retain(|s| match s {
            Tx::Lossless(tx) => tx.send(published.clone()).is_ok(),
            Tx::Bounded(tx) => match tx.try_send(published.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        "a subscriber fell {SUBSCRIBER_QUEUE} events behind and was dropped"
                    );
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            },
        });
        self.dropped += (before - self.subscribers.len()) as u64;
        Ok(())
    }

    /// Syncs the journal up to the last event.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.durable.ensure(self.seq)
    }

    /// A handle that makes the journal durable up to a given seq, for the
    /// tasks that act on its events.
    pub fn durable(&self) -> Arc<Durable> {
        self.durable.clone()
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }
}
