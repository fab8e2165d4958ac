//! The headless lines about the run's workers (SPEC §7): a pool that
//! steps wait on and that has no live worker, the worker that comes, the
//! server lost and back. Each is said once, when it changes; the decisions
//! are pure ([`Pools`] is given the time), the printer only asks them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio::sync::watch;
use tokio::time::Instant;

use crate::engine::Event;
use crate::engine::remote::RemoteStatus;

pub use crate::engine::remote::SETTLE_MS;

/// What the printer knows of the pools and what it has said of them.
#[derive(Debug, Default)]
pub struct Pools {
    /// Each pool step's pool, from the workflow.
    of_step: HashMap<String, String>,
    /// Each pool's steps waiting for a worker, in the order they queued.
    waiting: BTreeMap<String, Vec<String>>,
    status: Option<RemoteStatus>,
    /// When the printer began, and when the run last connected (ms).
    start_ms: u64,
    up_since_ms: Option<u64>,
    ever_up: bool,
    /// A line said the server cannot be reached, and none since that it is.
    said_down: bool,
    /// The pools a line said have no live worker, and none since that one is.
    said_empty: BTreeSet<String>,
    /// The server's trouble a line told (its streams cannot be made).
    said_problem: Option<String>,
}

impl Pools {
    /// `of_step`: each pool step's pool; `now_ms`: the time it starts at.
    pub fn new(of_step: HashMap<String, String>, now_ms: u64) -> Pools {
        Pools {
            of_step,
            start_ms: now_ms,
            ..Pools::default()
        }
    }

    /// Follows an event: which steps wait for a worker of their pool.
    pub fn event(&mut self, event: &Event) {
        let Some(step) = event.step() else {
            if let Event::RunFinished { .. } = event {
                self.waiting.clear();
            }
            return;
        };
        if let Event::StepStarted {
            pool: Some(pool), ..
        } = event
        {
            // A step an edit gave a pool.
            self.of_step.insert(step.to_string(), pool.clone());
        }
        let Some(pool) = self.of_step.get(step) else {
            return;
        };
        let steps = self.waiting.entry(pool.clone()).or_default();
        steps.retain(|s| s != step);
        // Retrying, it is sent to its pool again once its delay is over.
        if matches!(event, Event::StepReady { .. } | Event::StepRetrying { .. }) {
            steps.push(step.to_string());
        }
    }

    /// Takes the transport's latest state, seen at `now_ms`.
    pub fn status(&mut self, status: RemoteStatus, now_ms: u64) {
        match (status.connected, self.up_since_ms) {
            (true, None) => self.up_since_ms = Some(now_ms),
            (false, _) => self.up_since_ms = None,
            (true, Some(_)) => {}
        }
        self.status = Some(status);
    }

    /// The lines due at `now_ms`, each said once.
    pub fn lines(&mut self, now_ms: u64) -> Vec<String> {
        let Some(status) = self.status.as_ref() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let server = &status.server;
        if status.connected {
            self.ever_up = true;
            if std::mem::take(&mut self.said_down) {
                out.push(format!("◦ NATS at {server} is back"));
            }
        } else {
            let late = now_ms.saturating_sub(self.start_ms) >= SETTLE_MS;
            if !self.said_down && (self.ever_up || late) {
                self.said_down = true;
                out.push(match self.ever_up {
                    true => format!("◦ lost NATS at {server}; pool steps wait"),
                    false => format!("◦ cannot reach NATS at {server}; pool steps wait"),
                });
            }
            // What the run knows of its workers is stale until it is back.
            return out;
        }
        // Connected, and the server cannot serve (no JetStream, no room):
        // the pools wait on it, not on workers.
        if status.problem != self.said_problem {
            match &status.problem {
                Some(p) => out.push(format!("◦ NATS at {server}: {p}; pool steps wait")),
                None => out.push(format!("◦ NATS at {server} is usable again")),
            }
            self.said_problem = status.problem.clone();
        }
        if status.problem.is_some() {
            return out;
        }
        let settled = self
            .up_since_ms
            .is_some_and(|t| now_ms.saturating_sub(t) >= SETTLE_MS);
        for (pool, workers) in &status.pools {
            let said = self.said_empty.contains(pool);
            if said && !workers.is_empty() {
                self.said_empty.remove(pool);
                out.push(live_line(pool, workers));
                continue;
            }
            let steps = self.waiting.get(pool).map_or(&[][..], Vec::as_slice);
            if !said && settled && workers.is_empty() && !steps.is_empty() {
                self.said_empty.insert(pool.clone());
                out.push(empty_line(pool, steps));
            }
        }
        out
    }

    /// When [`lines`](Self::lines) may have a line due with nothing else
    /// changing, in ms from `now_ms`: the end of a wait of [`SETTLE_MS`].
    pub fn due_in(&self, now_ms: u64) -> Option<u64> {
        let status = self.status.as_ref()?;
        let from = match (status.connected, self.up_since_ms) {
            (false, _) if self.ever_up || self.said_down => return None,
            (false, _) => self.start_ms,
            (true, Some(t)) => {
                let empty = (status.pools.iter()).any(|(pool, workers)| {
                    workers.is_empty()
                        && !self.said_empty.contains(pool)
                        && self.waiting.get(pool).is_some_and(|s| !s.is_empty())
                });
                if !empty {
                    return None;
                }
                t
            }
            (true, None) => return None,
        };
        let at = from + SETTLE_MS;
        (at > now_ms).then(|| at - now_ms)
    }
}

/// `◦ pool linux has no live worker; build waits for one`.
fn empty_line(pool: &str, steps: &[String]) -> String {
    let who = match steps {
        [one] => format!("{one} waits"),
        [first, second] => format!("{first} and {second} wait"),
        [first, rest @ ..] => format!("{first} and {} more steps wait", rest.len()),
        [] => "steps wait".to_string(),
    };
    format!("◦ pool {pool} has no live worker; {who} for one")
}

/// `◦ pool linux: worker w1 is live`, or `workers w1, w2 are live`.
fn live_line(pool: &str, workers: &[String]) -> String {
    match workers {
        [one] => format!("◦ pool {pool}: worker {one} is live"),
        many => format!("◦ pool {pool}: workers {} are live", many.join(", ")),
    }
}

/// [`Pools`] on the run's transport: its state as it changes, and the
/// clock that ends a wait of [`SETTLE_MS`].
#[derive(Debug)]
pub struct Watch {
    /// None once the transport is gone.
    rx: Option<watch::Receiver<RemoteStatus>>,
    pools: Pools,
    clock: Instant,
}

impl Watch {
    /// A watch of the run's transport, when it has one (`handle.remote()`).
    pub fn new(
        rx: Option<watch::Receiver<RemoteStatus>>,
        of_step: HashMap<String, String>,
    ) -> Option<Watch> {
        let mut rx = rx?;
        let mut pools = Pools::new(of_step, 0);
        pools.status(rx.borrow_and_update().clone(), 0);
        Some(Watch {
            rx: Some(rx),
            pools,
            clock: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Resolves once the transport's state changed or a line may be due:
    /// then [`lines`](Self::lines) says what to print.
    pub async fn wake(&mut self) {
        let due = self.pools.due_in(self.now_ms());
        let changed = {
            let sleep = async {
                match due {
                    Some(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
                    None => std::future::pending().await,
                }
            };
            let changed = async {
                match self.rx.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ok = changed => Some(ok),
                () = sleep => None,
            }
        };
        match (changed, self.rx.as_mut()) {
            (Some(true), Some(rx)) => {
                let status = rx.borrow_and_update().clone();
                let now = self.now_ms();
                self.pools.status(status, now);
            }
            (Some(false), _) => self.rx = None,
            _ => {}
        }
    }

    /// Follows an event of the run.
    pub fn event(&mut self, event: &Event) {
        self.pools.event(event);
    }

    /// The lines due now.
    pub fn lines(&mut self) -> Vec<String> {
        let now = self.now_ms();
        self.pools.lines(now)
    }
}

/// Resolves when `w` has something to say; never without one.
pub async fn wake(w: &mut Option<Watch>) {
    match w {
        Some(w) => w.wake().await,
        None => std::future::pending().await,
    }
}

/// Each pool step of `wf` with its pool, for `Pools::new`.
pub fn of_steps(wf: &crate::workflow::Workflow) -> HashMap<String, String> {
    (wf.steps.iter())
        .filter_map(|s| Some((s.id.clone(), s.pool.as_deref()?.to_string())))
        .collect()
}

#[cfg(test)]
#[path = "pools_tests.rs"]
mod tests;
