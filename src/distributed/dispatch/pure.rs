//! The decisions of the run's side that need no server: how a worker's
//! exit reads to the engine, which lines a resumed run already has, when
//! a lease has lapsed, and which workers are live.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::distributed::wire;
use crate::engine::event::Stream;
use crate::engine::process::Exit;

/// The `problem` while the server cannot be reached.
pub(super) fn unreachable(server: &str) -> String {
    format!("cannot reach NATS at {server}")
}

/// A worker's exit as the engine takes it: the process's end, or why
/// there is none (`worker ID lost` when it gave up its lease).
pub(super) fn exit(exit: wire::Exit, worker: &str) -> Result<Exit, String> {
    match exit {
        wire::Exit::Code(c) => Ok(Exit::Code(c)),
        wire::Exit::Signal(s) => Ok(Exit::Signal(s)),
        wire::Exit::TimedOut => Ok(Exit::TimedOut),
        wire::Exit::Cancelled => Ok(Exit::Cancelled),
        wire::Exit::Error(e) => Err(e),
        wire::Exit::LostLease => Err(lost(worker)),
    }
}

/// The error of an attempt whose worker is gone.
pub(super) fn lost(worker: &str) -> String {
    format!("worker {worker} lost")
}

/// `lines` without the first `*skip` of them (lines a resumed run already
/// journaled), counting `*skip` down by those dropped.
pub(super) fn skip_lines(lines: Vec<(Stream, String)>, skip: &mut u64) -> Vec<(Stream, String)> {
    let n = usize::try_from(*skip)
        .unwrap_or(usize::MAX)
        .min(lines.len());
    *skip -= n as u64;
    lines.into_iter().skip(n).collect()
}

/// Whether something last heard of at `last` has lapsed at `now`: only
/// judged once the connection has been up (since `up_since`) for a whole
/// `lease`, so that an outage of the run's own is never a worker's fault.
pub(super) fn lapsed(
    now: Instant,
    up_since: Option<Instant>,
    lease: Duration,
    last: Instant,
) -> bool {
    let Some(up) = up_since else {
        return false;
    };
    now.saturating_duration_since(up) >= lease && now.saturating_duration_since(last) > lease
}

/// When something last heard of at `last` lapses, by [`lapsed`]: none
/// while the connection is down.
pub(super) fn lapses_at(
    up_since: Option<Instant>,
    lease: Duration,
    last: Instant,
) -> Option<Instant> {
    let up = up_since?;
    Some((up + lease).max(last + lease + Duration::from_millis(1)))
}

/// When `worker`'s word on the screen next changes after `now`: it stops
/// counting as live, then it is forgotten.
pub(super) fn worker_changes_at(worker: &Seen, now: Instant) -> Option<Instant> {
    let step = Duration::from_millis(1);
    [
        worker.at + wire::REGISTRY_STALE + step,
        worker.at + wire::REGISTRY_STALE * 2 + step,
    ]
    .into_iter()
    .find(|at| *at > now)
}

/// One worker as `sb_workers` last showed it.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub pools: Vec<String>,
    pub at: Instant,
}

/// Each of `pools` with the ids of the workers in `workers` that serve it
/// and were heard of within [`wire::REGISTRY_STALE`] of `now`.
pub(super) fn live_pools(
    pools: &[String],
    workers: &BTreeMap<String, Seen>,
    now: Instant,
) -> BTreeMap<String, Vec<String>> {
    pools
        .iter()
        .map(|pool| {
            let ids = (workers.iter())
                .filter(|(_, w)| {
                    now.saturating_duration_since(w.at) <= wire::REGISTRY_STALE
                        && w.pools.iter().any(|p| p == pool)
                })
                .map(|(id, _)| id.clone())
                .collect();
            (pool.clone(), ids)
        })
        .collect()
}

/// Whether a publish that failed this way could work if tried again (the
/// server away, slow, or busy); the others never will.
pub(super) fn transient(kind: async_nats::jetstream::context::PublishErrorKind) -> bool {
    use async_nats::jetstream::context::PublishErrorKind as K;
    matches!(
        kind,
        K::TimedOut | K::BrokenPipe | K::StreamNotFound | K::MaxAckPending
    )
}
