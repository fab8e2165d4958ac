//! What the screen knows of the run's workers (SPEC §7): the transport's
//! latest state, and since when it has been connected. From these and the
//! steps queued on each pool, [`Pools::trouble`] says what is wrong now: the
//! server cannot be reached, or a pool that steps wait on has no live
//! worker. Like the rest of the model it has no clock: it is given the time.

use crate::engine::remote::{RemoteStatus, SETTLE_MS};

/// The transport as the screen follows it.
#[derive(Debug, Clone, Default)]
pub struct Pools {
    status: RemoteStatus,
    /// When the screen first heard of the transport (ms).
    since_ms: u64,
    /// When the run last connected; none while it is not.
    up_since_ms: Option<u64>,
    /// The run has been connected once.
    ever_up: bool,
}

/// What is wrong with the run's workers now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// The server cannot be reached (or was lost): pool steps wait.
    Unreachable { ever_up: bool },
    /// Pools that steps are queued on with no live worker, by name.
    Empty(Vec<String>),
    /// Reached, but the server cannot serve the pools: why.
    Unusable(String),
}

impl Pools {
    pub fn new(status: RemoteStatus, now_ms: u64) -> Pools {
        let mut pools = Pools {
            since_ms: now_ms,
            ..Pools::default()
        };
        pools.take(status, now_ms);
        pools
    }

    /// The transport's new state, heard at `now_ms`.
    pub fn take(&mut self, status: RemoteStatus, now_ms: u64) {
        match (status.connected, self.up_since_ms) {
            (true, None) => self.up_since_ms = Some(now_ms),
            (false, _) => self.up_since_ms = None,
            (true, Some(_)) => {}
        }
        self.ever_up |= status.connected;
        self.status = status;
    }

    /// The live workers of `pool`, by id.
    pub fn workers(&self, pool: &str) -> &[String] {
        self.status.pools.get(pool).map_or(&[], Vec::as_slice)
    }

    /// What is wrong at `now_ms`, given whether steps are queued on a pool.
    /// An empty pool is told only once the run has been connected for
    /// [`SETTLE_MS`] (until it read the registry every pool looks empty),
    /// and a server never reached only once the run has tried as long.
    pub fn trouble(&self, now_ms: u64, queued: impl Fn(&str) -> bool) -> Option<Trouble> {
        if !self.status.connected {
            let late = now_ms.saturating_sub(self.since_ms) >= SETTLE_MS;
            return (self.ever_up || late).then_some(Trouble::Unreachable {
                ever_up: self.ever_up,
            });
        }
        if let Some(problem) = &self.status.problem {
            return Some(Trouble::Unusable(problem.clone()));
        }
        let settled = (self.up_since_ms).is_some_and(|t| now_ms.saturating_sub(t) >= SETTLE_MS);
        let empty: Vec<String> = (self.status.pools.iter())
            .filter(|(pool, workers)| settled && workers.is_empty() && queued(pool))
            .map(|(pool, _)| pool.clone())
            .collect();
        (!empty.is_empty()).then_some(Trouble::Empty(empty))
    }

    /// Time alone may change what [`trouble`](Self::trouble) says: a wait of
    /// [`SETTLE_MS`] is not over yet.
    pub fn settling(&self, now_ms: u64) -> bool {
        let from = match (self.status.connected, self.up_since_ms) {
            (false, _) if self.ever_up => return false,
            (false, _) => self.since_ms,
            (true, Some(t)) => t,
            (true, None) => return false,
        };
        now_ms.saturating_sub(from) < SETTLE_MS
    }

    /// The server, as the run was told it.
    pub fn server(&self) -> &str {
        &self.status.server
    }
}

/// For tests: a transport with pool `linux` and these live workers.
#[cfg(test)]
pub(crate) fn linux(connected: bool, workers: &[&str]) -> RemoteStatus {
    let workers = workers.iter().map(|w| w.to_string()).collect();
    RemoteStatus {
        server: "nats://127.0.0.1:4222".into(),
        connected,
        pools: [("linux".to_string(), workers)].into(),
        problem: None,
    }
}

#[cfg(test)]
mod tests {
    use super::linux as status;
    use super::*;

    #[test]
    fn an_empty_pool_is_told_once_the_registry_was_read_and_only_while_steps_wait() {
        let mut p = Pools::new(status(true, &[]), 1_000);
        let queued = |_: &str| true;
        assert_eq!(
            p.trouble(1_500, queued),
            None,
            "the registry is not read yet"
        );
        assert!(p.settling(1_500));
        let empty = Some(Trouble::Empty(vec!["linux".into()]));
        assert_eq!(p.trouble(1_000 + SETTLE_MS, queued), empty);
        assert!(!p.settling(1_000 + SETTLE_MS));
        assert_eq!(p.trouble(5_000, |_| false), None, "no step waits on it");
        p.take(status(true, &["w1"]), 6_000);
        assert_eq!(p.trouble(6_000, queued), None);
        assert_eq!(p.workers("linux"), ["w1"]);
    }

    #[test]
    fn a_server_that_cannot_serve_the_pools_says_why() {
        let mut s = status(true, &[]);
        s.problem = Some("cannot make stream SB_WORK: jetstream not enabled".into());
        let p = Pools::new(s, 0);
        let why = Some(Trouble::Unusable(
            "cannot make stream SB_WORK: jetstream not enabled".into(),
        ));
        assert_eq!(p.trouble(0, |_| true), why);
    }

    #[test]
    fn a_server_lost_is_told_at_once_and_one_never_reached_after_a_while() {
        let mut p = Pools::new(status(false, &[]), 0);
        assert_eq!(p.trouble(100, |_| true), None);
        let never = Some(Trouble::Unreachable { ever_up: false });
        assert_eq!(p.trouble(SETTLE_MS, |_| true), never);
        p.take(status(true, &["w1"]), 3_000);
        assert_eq!(p.trouble(3_000, |_| true), None);
        p.take(status(false, &["w1"]), 4_000);
        let lost = Some(Trouble::Unreachable { ever_up: true });
        assert_eq!(p.trouble(4_000, |_| true), lost);
        assert!(!p.settling(4_000));
        // Back: its workers are known again at once, the registry being read.
        p.take(status(true, &[]), 5_000);
        assert_eq!(p.trouble(5_100, |_| true), None, "settling again");
    }
}
