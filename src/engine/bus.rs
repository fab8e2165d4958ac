//! Publishing events: number them, journal them, hand them to subscribers.
//!
//! The journal may not lose an event, so it is written first and a failure
//! stops the run. Subscribers never slow the run and never lose an event:
//! each has its own queue, bounded by count and by bytes; when the bus
//! finds one full it stops feeding it and notes the first event it missed,
//! and the subscriber, once it has drained its queue, reads on from the
//! journal (which has every event before anyone sees it) and follows it to
//! the run's end (see `follow`). [`Subscription::recv`] hides the switch:
//! a subscriber gets every event, in order, with no gap and no repeat,
//! however slowly it reads, and holds a bounded amount of memory.

mod follow;
mod room;

pub use room::{OUTPUT_IN_FLIGHT, OutputRoom};

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, watch};

use super::event::{Envelope, Event};
use super::journal::{Durable, Journal};
use follow::Follower;

/// Events a subscriber may have queued before it reads on from the journal.
pub const SUBSCRIBER_QUEUE: usize = 65_536;

/// Bytes of events (see `cost`) a subscriber may have queued before it
/// reads on from the journal: with 64 KiB output lines a count alone would
/// let one slow screen hold gigabytes.
pub const SUBSCRIBER_BYTES: usize = 8 << 20;

/// An event as published: the envelope and its journal line.
#[derive(Debug)]
pub struct Published {
    pub envelope: Envelope,
    pub line: String,
}

/// What a queued event holds in memory: its line, about as much again
/// parsed, and the fixed parts.
fn cost(p: &Published) -> usize {
    2 * p.line.len() + 256
}

/// Where a subscriber the bus stopped feeding reads on in the journal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct From {
    /// The first event it was not sent.
    pub seq: u64,
    /// Where that event's line starts in the journal.
    pub offset: u64,
}

/// What the bus and one subscriber share.
#[derive(Default)]
struct Shared {
    /// The cost of the events queued: added by the bus, taken off as read.
    queued: AtomicUsize,
    /// Set, before the bus drops its sender, once it stops feeding this
    /// subscriber.
    lagged: OnceLock<From>,
}

/// A subscriber's end: every event from when it subscribed, in order, until
/// the run is over.
pub struct Subscription {
    rx: mpsc::Receiver<Arc<Published>>,
    shared: Arc<Shared>,
    journal: PathBuf,
    /// The last seq in the journal; closed when the run is over.
    written: watch::Receiver<u64>,
    /// Reading from the journal, once the bus stopped feeding us.
    follow: Option<Follower>,
    /// The seq of the first event it gets.
    first: u64,
}

impl Subscription {
    /// The next event; `None` once the run is over and every event was had.
    /// Cancel-safe: a `select!` may drop it and call again, losing nothing.
    pub async fn recv(&mut self) -> Option<Arc<Published>> {
        if self.follow.is_none() {
            if let Some(p) = self.rx.recv().await {
                self.shared.queued.fetch_sub(cost(&p), Ordering::AcqRel);
                return Some(p);
            }
            // The bus let go: the run is over, or it stopped feeding us.
            let from = *self.shared.lagged.get()?;
            self.follow = Some(Follower::new(
                self.journal.clone(),
                from,
                self.written.clone(),
            ));
        }
        self.follow.as_mut()?.recv().await
    }

    /// An event already at hand, without waiting.
    pub fn try_recv(&mut self) -> Result<Arc<Published>, mpsc::error::TryRecvError> {
        match &mut self.follow {
            Some(f) => f.try_recv().ok_or(mpsc::error::TryRecvError::Empty),
            None => {
                let p = self.rx.try_recv()?;
                self.shared.queued.fetch_sub(cost(&p), Ordering::AcqRel);
                Ok(p)
            }
        }
    }

    /// The seq of the first event this subscription gets: every event
    /// before it is in the journal already, so a reader can take those from
    /// the file and these from here with no gap and no repeat.
    pub fn first_seq(&self) -> u64 {
        self.first
    }

    /// Whether this subscriber reads from the journal, having fallen behind.
    pub fn lagging(&self) -> bool {
        self.shared.lagged.get().is_some()
    }
}

struct Subscriber {
    tx: mpsc::Sender<Arc<Published>>,
    shared: Arc<Shared>,
}

enum Offer {
    Sent,
    /// Its queue is full, by count or by bytes.
    Full,
    /// It went away.
    Gone,
}

impl Subscriber {
    fn offer(&self, p: &Arc<Published>, cost: usize) -> Offer {
        // Counted before sending, so the reader never takes off more than
        // was added.
        let queued = self.shared.queued.fetch_add(cost, Ordering::AcqRel);
        // One event alone always fits, however big.
        let offer = if queued > 0 && queued + cost > SUBSCRIBER_BYTES {
            Offer::Full
        } else {
            match self.tx.try_send(p.clone()) {
                Ok(()) => return Offer::Sent,
                Err(mpsc::error::TrySendError::Full(_)) => Offer::Full,
                Err(mpsc::error::TrySendError::Closed(_)) => Offer::Gone,
            }
        };
        self.shared.queued.fetch_sub(cost, Ordering::AcqRel);
        offer
    }
}

pub struct Bus {
    run: String,
    seq: u64,
    journal: Journal,
    path: PathBuf,
    subscribers: Vec<Subscriber>,
    /// The last seq written, for subscribers that read the journal.
    written: watch::Sender<u64>,
    /// Subscribers that fell behind and read on from the journal, for the
    /// diagnostics log.
    pub lagged: u64,
    /// Syncs the journal, from whichever thread needs it on disk.
    durable: Arc<Durable>,
    /// Output read from steps and not yet journaled.
    room: OutputRoom,
    /// The run's secrets, masked in every event before anyone sees it.
    mask: Arc<super::mask::Masker>,
    /// What front ends may read of the bus and journal that no event says.
    stats: Arc<super::stats::EngineStats>,
}

impl Bus {
    /// The bus of the journal at `path`, open in `journal`, whose last
    /// event so far is `first_seq`.
    pub fn new(
        run: String,
        journal: Journal,
        path: PathBuf,
        first_seq: u64,
    ) -> std::io::Result<Bus> {
        let stats = Arc::<super::stats::EngineStats>::default();
        Ok(Bus {
            run,
            seq: first_seq,
            durable: Arc::new(Durable::counted(&journal, first_seq, stats.clone())?),
            stats,
            journal,
            path,
            subscribers: Vec::new(),
            written: watch::Sender::new(first_seq),
            lagged: 0,
            room: OutputRoom::default(),
            mask: Arc::default(),
        })
    }

    /// Masks these secrets in every event from now on.
    pub fn set_mask(&mut self, mask: Arc<super::mask::Masker>) {
        self.mask = mask;
    }

    /// Every event from now on, however slowly it is read.
    pub fn subscribe(&mut self) -> Subscription {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        let shared = Arc::new(Shared::default());
        self.subscribers.push(Subscriber {
            tx,
            shared: shared.clone(),
        });
        Subscription {
            rx,
            shared,
            journal: self.path.clone(),
            written: self.written.subscribe(),
            follow: None,
            first: self.seq + 1,
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
        let mut envelope = envelope;
        let mut line = serde_json::to_string(&envelope).map_err(std::io::Error::other)?;
        // One scan of the line when the run has secrets, none when not; the
        // event is rebuilt only when one of its strings holds one.
        if self.mask.in_json(&line)
            && let Some(masked) = self
                .mask
                .event(&envelope.event)
                .map_err(std::io::Error::other)?
        {
            envelope.event = masked;
            line = serde_json::to_string(&envelope).map_err(std::io::Error::other)?;
        }
        // The same value, without the characters a terminal would obey that
        // serde_json leaves raw (DEL, C1): `cat events.jsonl` stays safe.
        if let std::borrow::Cow::Owned(escaped) = crate::safe::json_line(&line) {
            line = escaped;
        }
        let from = From {
            seq: self.seq,
            offset: self.journal.end(),
        };
        self.journal.append(&line)?;
        self.durable.wrote(self.seq);
        self.written.send_replace(self.seq);
        let published = Arc::new(Published { envelope, line });
        let cost = cost(&published);
        let mut lagged = 0;
        self.subscribers
            .retain(|s| match s.offer(&published, cost) {
                Offer::Sent => true,
                Offer::Full => {
                    // Dropping the sender after this lets the subscriber drain
                    // its queue, then read on from `from`.
                    let _ = s.shared.lagged.set(from);
                    lagged += 1;
                    false
                }
                Offer::Gone => false,
            });
        if lagged > 0 {
            tracing::info!("{lagged} subscriber(s) fell behind and read on from the journal");
            self.lagged += lagged;
            self.stats.dropped(lagged);
        }
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

    /// The run's room for output between the steps' pipes and the journal.
    pub fn room(&self) -> &OutputRoom {
        &self.room
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The counts the bus and its journal keep (see [`super::stats`]).
    pub fn stats(&self) -> Arc<super::stats::EngineStats> {
        self.stats.clone()
    }
}
