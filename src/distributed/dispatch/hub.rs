//! The task that owns the run's side of the connection: which dispatch
//! key answers which attempt, what the worker said of it so far, its
//! lease, the live workers, and the [`RemoteStatus`] the front ends show.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::attempt::{self, Event};
use super::pure::{self, Seen};
use super::{Cmd, ops, watchers};

mod report;
use crate::distributed::setup::Handles;
use crate::distributed::wire::{self, ClaimState, Report};
use crate::engine::remote::RemoteStatus;

/// What the hub is started with.
pub(super) struct Setup {
    pub run: String,
    pub server: String,
    pub lease: Duration,
    /// Every pool of the workflow, sorted.
    pub pools: Vec<String>,
    pub client: async_nats::Client,
    pub up: watch::Receiver<bool>,
    pub status: watch::Sender<RemoteStatus>,
}

/// What the hub's own tasks tell it.
pub(super) enum Internal {
    /// The streams and buckets are there.
    Ready(Box<Handles>),
    /// They could not be made; tried again.
    Failed(String),
    /// A report, with its sequence in `SB_RES`, and its place among the
    /// reports read and not yet journaled (at most `watchers::AHEAD`).
    Report(u64, Report, tokio::sync::OwnedSemaphorePermit),
    /// A worker renewed the lease of this key.
    Lease(String),
    /// The reading of reports is behind the server (or has caught up):
    /// a worker's reports may be waiting there unread.
    Behind(bool),
    /// A claim's state, as `sb_claims` shows it.
    Claim(String, wire::Claim),
    /// A worker said it is alive (or is gone: none).
    Worker(String, Option<Seen>),
    /// An attempt follows an earlier dispatch's key instead of its own.
    Follow {
        from: String,
        to: String,
        worker: Option<String>,
    },
    /// An attempt's task ended on its own (cancelled before a claim, or
    /// its work could not be sent).
    Ended(String),
}

/// One attempt the hub routes reports to.
struct Slot {
    tx: mpsc::UnboundedSender<Event>,
    /// The worker, once its `claimed` came (or the journal named it).
    worker: Option<String>,
    /// A `claimed` was delivered: another is not.
    claimed: bool,
    /// Output lines still to drop: a resumed run journaled them already.
    skip: u64,
    /// The last sequence of `SB_RES` applied: a replay skips up to it.
    applied: u64,
    /// The last renewal of its lease, while it is tracked.
    lease: Option<Instant>,
    /// A worker's claim seen in `sb_claims` before its `claimed` came.
    claim_seen: Option<(String, Instant)>,
    /// Its output on the way to the journal, and the lines dropped because
    /// too much was.
    pending: attempt::Pending,
    dropped: u64,
    /// Its lines come as one stream (`merged`): the run's word among them
    /// does too.
    merged: bool,
}

impl Slot {
    fn new(tx: mpsc::UnboundedSender<Event>) -> Slot {
        Slot {
            tx,
            worker: None,
            claimed: false,
            skip: 0,
            applied: 0,
            lease: None,
            claim_seen: None,
            pending: attempt::Pending::default(),
            dropped: 0,
            merged: false,
        }
    }
}

pub(super) struct Hub {
    setup: Setup,
    handles: watch::Sender<Option<Handles>>,
    internal: mpsc::UnboundedSender<Internal>,
    internal_rx: Option<mpsc::UnboundedReceiver<Internal>>,
    slots: HashMap<String, Slot>,
    workers: BTreeMap<String, Seen>,
    up_since: Option<Instant>,
    /// Since when the reading of reports has been caught up; none while
    /// it is behind.
    caught_up: Option<Instant>,
    /// Why the streams are not there, while they are not.
    problem: Option<String>,
    ensuring: bool,
    /// The watchers' tasks, once the streams are there.
    watchers: Vec<JoinHandle<()>>,
    /// Bumped to have the results read again from the start.
    replay: watch::Sender<u64>,
    /// Publishes work in the order it was dispatched (`ops::publisher`).
    publisher: Option<mpsc::UnboundedSender<ops::Publish>>,
    /// The attempts' tasks: a slot whose task is gone is forgotten.
    tasks: JoinSet<()>,
}

impl Hub {
    pub(super) fn new(setup: Setup) -> Hub {
        let (internal, internal_rx) = mpsc::unbounded_channel();
        Hub {
            setup,
            handles: watch::channel(None).0,
            internal,
            internal_rx: Some(internal_rx),
            slots: HashMap::new(),
            workers: BTreeMap::new(),
            up_since: None,
            caught_up: Some(Instant::now()),
            problem: None,
            ensuring: false,
            watchers: Vec::new(),
            replay: watch::channel(0).0,
            publisher: None,
            tasks: JoinSet::new(),
        }
    }

    /// Runs until the run has dropped its dispatch and no attempt is left.
    pub(super) async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
        let Some(mut internal) = self.internal_rx.take() else {
            return;
        };
        let (publisher, asks) = mpsc::unbounded_channel();
        tokio::spawn(ops::publisher(self.ctx(), asks));
        self.publisher = Some(publisher);
        let mut up = self.setup.up.clone();
        let first = *up.borrow_and_update();
        self.connection(first);
        let mut open = true;
        while open || !self.slots.is_empty() {
            // Nothing is judged on a clock of its own: the hub wakes when
            // the first lease could lapse or a worker's word could change.
            let next = self.next_change();
            tokio::select! {
                biased;
                cmd = cmds.recv(), if open => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => open = false,
                },
                changed = up.changed() => match changed {
                    Ok(()) => {
                        let now = *up.borrow_and_update();
                        self.connection(now);
                    }
                    Err(_) => break,
                },
                Some(msg) = internal.recv() => self.internal(msg),
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    self.slots.retain(|_, slot| !slot.tx.is_closed());
                }
                () = attempt::sleep_until(next) => self.judge(),
            }
        }
        for task in &self.watchers {
            task.abort();
        }
        // An attempt's task may still be handing its end to the engine.
        self.tasks.detach_all();
    }

    fn ctx(&self) -> attempt::Ctx {
        attempt::Ctx {
            handles: self.handles.subscribe(),
            hub: self.internal.clone(),
            lease: self.setup.lease,
            client: self.setup.client.clone(),
        }
    }

    fn command(&mut self, cmd: Cmd) {
        let (tx, rx) = mpsc::unbounded_channel();
        match cmd {
            Cmd::Dispatch(job, reports) => {
                let mut slot = Slot::new(tx);
                slot.merged = job.merged;
                self.slots.insert(job.key.clone(), slot);
                // Its publish takes its turn now, in the run's order.
                let first = match (&job.earlier, &self.publisher) {
                    (None, Some(publisher)) => {
                        ops::work(&job, self.setup.lease)
                            .ok()
                            .map(|(subject, payload)| {
                                let (tried, turn) = tokio::sync::oneshot::channel();
                                let _ = publisher.send(ops::Publish {
                                    subject: subject.clone(),
                                    key: job.key.clone(),
                                    payload: payload.clone(),
                                    tried,
                                });
                                (subject, payload, turn)
                            })
                    }
                    _ => None,
                };
                (self.tasks).spawn(attempt::dispatched(job, reports, rx, self.ctx(), first));
            }
            Cmd::Adopt(adopt, reports) => {
                tracing::info!(
                    "nats: following {} on worker {} again",
                    adopt.key,
                    adopt.worker
                );
                let mut slot = Slot::new(tx);
                slot.worker = Some(adopt.worker.clone());
                slot.claimed = true;
                slot.skip = adopt.lines;
                slot.lease = Some(Instant::now());
                self.slots.insert(adopt.key.clone(), slot);
                self.replay_if_reading();
                (self.tasks).spawn(attempt::adopted(adopt, reports, rx, self.ctx()));
            }
        }
    }

    /// A key registered after the results began to be read may have
    /// missed its reports: they are read again (the others skip them).
    fn replay_if_reading(&self) {
        if !self.watchers.is_empty() {
            self.replay.send_modify(|n| *n += 1);
        }
    }

    fn connection(&mut self, up: bool) {
        let now = Instant::now();
        if up {
            if self.up_since.is_none() {
                tracing::info!("nats: connected to {}", self.setup.server);
            }
            self.up_since = Some(now);
            // Nothing was heard while down: every clock starts again.
            for slot in self.slots.values_mut() {
                if slot.lease.is_some() {
                    slot.lease = Some(now);
                }
                if let Some((_, at)) = &mut slot.claim_seen {
                    *at = now;
                }
            }
            self.ensure();
        } else {
            if self.up_since.is_some() {
                tracing::info!("nats: lost the connection to {}", self.setup.server);
            }
            self.up_since = None;
        }
        self.publish();
    }

    /// Makes the streams and buckets, trying again every 500 ms.
    fn ensure(&mut self) {
        if !self.ensuring {
            self.ensuring = true;
            let client = self.setup.client.clone();
            tokio::spawn(watchers::ensure(client, self.internal.clone()));
        }
    }

    fn internal(&mut self, msg: Internal) {
        let now = Instant::now();
        match msg {
            Internal::Ready(handles) => {
                self.ensuring = false;
                if self.problem.take().is_some() {
                    tracing::info!("nats: the streams and buckets are there");
                }
                // Read afresh on every connection: a server started again
                // leaves the old readers waiting on consumers it no longer
                // has. Reports read twice are skipped by their stream seq.
                for w in self.watchers.drain(..) {
                    w.abort();
                }
                // The new reader starts from caught up, and says if not.
                self.caught_up.get_or_insert(now);
                self.watchers = watchers::spawn(
                    &handles,
                    &self.setup.run,
                    &self.internal,
                    self.replay.subscribe(),
                );
                self.handles.send_replace(Some(*handles));
            }
            Internal::Failed(e) => {
                if self.problem.as_deref() != Some(e.as_str()) {
                    tracing::info!("nats: {e}");
                }
                self.problem = Some(e);
            }
            Internal::Report(seq, report, place) => self.report(seq, report, place),
            Internal::Lease(key) => {
                // The lease of a claim seen before its `claimed` was read
                // is renewed as well: that report may wait behind others.
                if let Some(slot) = self.slots.get_mut(&key) {
                    if slot.lease.is_some() {
                        slot.lease = Some(now);
                    } else if let Some((_, at)) = &mut slot.claim_seen {
                        *at = now;
                    }
                }
            }
            Internal::Behind(behind) => match (behind, self.caught_up) {
                (true, Some(_)) => self.caught_up = None,
                (false, None) => self.caught_up = Some(now),
                _ => {}
            },
            Internal::Claim(key, claim) => {
                if let Some(slot) = self.slots.get_mut(&key)
                    && slot.worker.is_none()
                    && slot.claim_seen.is_none()
                    && claim.state == ClaimState::Claimed
                    && let Some(worker) = claim.worker
                {
                    slot.claim_seen = Some((worker, now));
                }
            }
            Internal::Worker(id, seen) => {
                match seen {
                    Some(seen) => self.workers.insert(id, seen),
                    None => self.workers.remove(&id),
                };
            }
            Internal::Follow { from, to, worker } => {
                if let Some(mut slot) = self.slots.remove(&from) {
                    tracing::info!("nats: {from} follows {to}, which a worker claimed before");
                    slot.applied = 0;
                    slot.claim_seen = worker.map(|w| (w, now));
                    self.slots.insert(to, slot);
                    self.replay_if_reading();
                }
            }
            Internal::Ended(key) => {
                self.slots.remove(&key);
            }
        }
        self.publish();
    }

    /// The first time after now at which a lease could lapse or a worker
    /// stop counting as live; none while nothing is tracked.
    fn next_change(&self) -> Option<Instant> {
        let now = Instant::now();
        let (up, lease) = (self.judged_since(), self.setup.lease);
        let leases = (self.slots.values())
            .filter_map(held)
            .filter_map(|(_, at)| pure::lapses_at(up, lease, at));
        let workers = (self.workers.values()).filter_map(|w| pure::worker_changes_at(w, now));
        leases.chain(workers).min()
    }

    /// Since when leases may be judged: while connected and caught up with
    /// the reports, for then no word of a worker waits unread. A flood of
    /// output that puts the reading behind never makes a worker look lost.
    fn judged_since(&self) -> Option<Instant> {
        Some(self.up_since?.max(self.caught_up?))
    }

    /// Judges the leases and says which workers are still live.
    fn judge(&mut self) {
        let now = Instant::now();
        let (up, lease) = (self.judged_since(), self.setup.lease);
        let lost: Vec<(String, String)> = (self.slots.iter())
            .filter_map(|(key, slot)| {
                let (worker, at) = held(slot)?;
                pure::lapsed(now, up, lease, at).then(|| (key.clone(), worker.to_string()))
            })
            .collect();
        for (key, worker) in lost {
            tracing::info!(
                "nats: worker {worker} lost: no lease renewal of {key} for {}",
                humantime::format_duration(lease)
            );
            if let Some(slot) = self.slots.remove(&key) {
                let _ = slot.tx.send(Event::Lost(worker));
            }
        }
        self.workers
            .retain(|_, w| now.saturating_duration_since(w.at) <= wire::REGISTRY_STALE * 2);
        self.publish();
    }

    fn publish(&self) {
        let connected = self.up_since.is_some();
        let problem = match connected {
            false => Some(pure::unreachable(&self.setup.server)),
            true => self.problem.clone(),
        };
        let status = RemoteStatus {
            server: self.setup.server.clone(),
            connected,
            pools: pure::live_pools(&self.setup.pools, &self.workers, Instant::now()),
            problem,
        };
        self.setup.status.send_if_modified(|s| {
            let changed = *s != status;
            if changed {
                *s = status;
            }
            changed
        });
    }
}

/// The worker holding `slot`'s lease and when it was last renewed: once
/// its `claimed` came, or its claim was seen before that.
fn held(slot: &Slot) -> Option<(&str, Instant)> {
    match (&slot.worker, slot.lease, &slot.claim_seen) {
        (Some(w), Some(at), _) => Some((w, at)),
        (None, _, Some((w, at))) => Some((w, *at)),
        _ => None,
    }
}
