//! What the engine counts that no event carries: subscribers that fell
//! behind the bus, and how long each journal sync took. Plain atomics, so
//! counting costs the run a few relaxed adds and any front end can read
//! them at any time (the metrics front end does, at each scrape) without
//! holding anything the run waits on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds, in seconds, of the journal sync buckets: 50 µs to 100 ms
/// (a sync on a laptop's SSD takes about 250 µs; a slow disk shows here).
pub const SYNC_BOUNDS: [f64; 12] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,
];

/// Counts kept by one run's engine, shared through
/// [`RunHandle::stats`](super::RunHandle::stats).
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Subscribers the bus stopped feeding because their queue was full
    /// (each reads on from the journal).
    dropped: AtomicU64,
    /// Syncs per bucket of [`SYNC_BOUNDS`], not cumulative; the last one
    /// holds the syncs slower than every bound.
    syncs: [AtomicU64; SYNC_BOUNDS.len() + 1],
    /// Nanoseconds spent in syncs.
    sync_nanos: AtomicU64,
}

/// A reading of the journal sync histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncReading {
    /// `(upper bound, syncs in that bucket)`, each bucket counting only
    /// what the one before does not; the last bound is infinite.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    /// Seconds spent in syncs.
    pub sum: f64,
}

impl EngineStats {
    /// `n` subscribers fell behind and were dropped from the bus.
    pub fn dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Subscribers dropped so far.
    pub fn subscribers_dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// One journal sync took `took`.
    pub fn synced(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = SYNC_BOUNDS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(SYNC_BOUNDS.len());
        if let Some(b) = self.syncs.get(bucket) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sync_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The sync histogram as it stands. The count is the sum of the
    /// buckets read, so the two always agree.
    pub fn syncs(&self) -> SyncReading {
        let bounds = SYNC_BOUNDS.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds
            .zip(&self.syncs)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        SyncReading {
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
            sum: self.sync_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_fall_in_their_buckets_and_the_count_agrees() {
        let s = EngineStats::default();
        s.synced(Duration::from_micros(40));
        s.synced(Duration::from_micros(300));
        s.synced(Duration::from_millis(2));
        s.synced(Duration::from_secs(1));
        let r = s.syncs();
        assert_eq!(r.count, 4);
        assert_eq!(r.buckets[0], (0.00005, 1));
        assert_eq!(r.buckets[3], (0.0005, 1));
        assert_eq!(r.buckets[5], (0.0025, 1));
        assert_eq!(r.buckets[11], (0.1, 0));
        assert_eq!(r.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert_eq!(r.buckets.len(), SYNC_BOUNDS.len() + 1);
        assert!((r.sum - 1.00234).abs() < 1e-9, "{}", r.sum);
        s.dropped(2);
        assert_eq!(s.subscribers_dropped(), 2);
    }
}
