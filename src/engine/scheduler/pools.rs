//! The queues of steps with a `pool` (SPEC §7): one per pool, in priority
//! then file order. A remote attempt holds no local slot, but a pool's
//! workers take what was sent to it first in, first out; so at most
//! [`WINDOW`] attempts of a pool are out there unclaimed at a time, and the
//! rest wait here, where priority orders them.

use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use super::Ready;

/// Attempts of one pool sent and not yet claimed by a worker, at most. As
/// many as that wait in the pool's stream for the next free worker slot,
/// so a worker that finishes takes the next without waiting for the run.
pub const WINDOW: usize = 16;

#[derive(Default)]
pub(in crate::engine) struct PoolQueues {
    queues: BTreeMap<Arc<str>, Pool>,
}

#[derive(Default)]
struct Pool {
    ready: BinaryHeap<Ready>,
    /// Sent and not claimed yet.
    unclaimed: usize,
}

impl PoolQueues {
    pub(in crate::engine) fn push(&mut self, pool: &Arc<str>, ready: Ready) {
        self.queues
            .entry(pool.clone())
            .or_default()
            .ready
            .push(ready);
    }

    /// The first in priority order of the pools that have room to send.
    pub(in crate::engine) fn pop(&mut self) -> Option<Ready> {
        let name = (self.queues.iter())
            .filter(|(_, p)| p.unclaimed < WINDOW)
            .filter_map(|(name, p)| Some((p.ready.peek()?, name)))
            .max_by(|a, b| a.0.cmp(b.0))
            .map(|(_, name)| name.clone())?;
        self.queues.get_mut(&name)?.ready.pop()
    }

    /// An attempt was sent to `pool`.
    pub(in crate::engine) fn sent(&mut self, pool: &Arc<str>) {
        self.queues.entry(pool.clone()).or_default().unclaimed += 1;
    }

    /// An attempt sent to `pool` was claimed, or ended before it was.
    pub(in crate::engine) fn left(&mut self, pool: &str) {
        if let Some(p) = self.queues.get_mut(pool) {
            p.unclaimed = p.unclaimed.saturating_sub(1);
        }
    }

    /// Every queued attempt, the queues emptied (the unclaimed counts stay).
    pub(in crate::engine) fn take_all(&mut self) -> Vec<Ready> {
        (self.queues.values_mut())
            .flat_map(|p| std::mem::take(&mut p.ready).into_vec())
            .collect()
    }

    pub(in crate::engine) fn retain(&mut self, mut keep: impl FnMut(&Ready) -> bool) {
        for p in self.queues.values_mut() {
            p.ready.retain(&mut keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(priority: i64, index: usize) -> Ready {
        Ready {
            priority,
            index: std::cmp::Reverse(index),
            seq: 0,
        }
    }

    #[test]
    fn each_pool_sends_its_highest_priority_first_and_at_most_a_window_unclaimed() {
        let (linux, arm): (Arc<str>, Arc<str>) = ("linux".into(), "arm".into());
        let mut q = PoolQueues::default();
        for i in 0..WINDOW + 2 {
            q.push(&linux, ready(0, i + 10));
        }
        q.push(&linux, ready(5, 99));
        q.push(&arm, ready(1, 3));
        let first = q.pop().map(|r| (r.priority, r.index.0));
        assert_eq!(first, Some((5, 99)), "priority first, whatever the pool");
        q.sent(&linux);
        assert_eq!(q.pop().map(|r| r.index.0), Some(3));
        q.sent(&arm);
        for _ in 1..WINDOW {
            assert!(q.pop().is_some());
            q.sent(&linux);
        }
        assert!(q.pop().is_none(), "linux has a window out, arm is empty");
        q.left("linux");
        assert_eq!(q.pop().map(|r| r.index.0), Some(10 + WINDOW - 1));
        assert_eq!(q.take_all().len(), 2);
    }
}
