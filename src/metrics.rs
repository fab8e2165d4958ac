//! A run's Prometheus metrics (SPEC §8): a subscriber folds the run's
//! events into a registry, and `--metrics ADDR` serves it at `/metrics`.
//! The engine knows nothing of them; the few figures no event carries
//! (journal syncs, subscribers dropped) it keeps as plain counters
//! ([`EngineStats`](crate::engine::stats::EngineStats)), read at each
//! scrape.
//!
//! The run pays for this only the bus's one `try_send` per event to the
//! fold's subscription: the fold and the HTTP tasks hold nothing the
//! scheduler waits on, and a fold that falls behind reads on from the
//! journal like any subscriber. The fold wakes at most about 50 times a
//! second, however many events come.
//!
//! - `addr`: what `--metrics` takes.
//! - `exposition`: the registry, its metrics and label sets.
//! - `fold`: events into values.
//! - `http`: the responder.

pub mod addr;
mod exposition;
mod fold;
mod http;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;

use crate::engine::{Run, Subscription};
use exposition::Metrics;
use fold::Fold;

/// The metrics of a live run, served.
pub struct Exporter {
    addr: SocketAddr,
    server: JoinHandle<()>,
    fold: JoinHandle<()>,
}

impl Exporter {
    /// Binds `addr` and starts folding `run`'s events (subscribed here, so
    /// call this before the run starts); the journal's events before the
    /// subscription (a resumed run's) are folded first, so the counters
    /// count the whole run. An address that cannot be bound is an error
    /// that says which, and nothing is left running.
    pub async fn start(addr: SocketAddr, run: &mut Run) -> Result<Exporter, String> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("--metrics {addr}: cannot listen there: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("--metrics {addr}: {e}"))?;
        let handle = run.handle();
        let (registry, metrics) = Metrics::register(&run.workflow().name, Some(handle.stats()));
        let fold = Fold::new(run.workflow(), metrics);
        let events = run.subscribe();
        let journal = handle.dir.join("events.jsonl");
        let fold = tokio::spawn(follow(fold, events, journal));
        let server = tokio::spawn(http::serve(listener, Arc::new(registry)));
        Ok(Exporter { addr, server, fold })
    }

    /// The address bound (the port chosen, for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving, and folding.
    pub fn close(self) {
        self.server.abort();
        self.fold.abort();
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.server.abort();
        self.fold.abort();
    }
}

/// Folds the journal up to the subscription's first event, then the
/// subscription's events, to the run's end.
async fn follow(mut fold: Fold, mut events: Subscription, journal: std::path::PathBuf) {
    let first = events.first_seq();
    if first > 1 {
        let read = tokio::task::spawn_blocking(move || {
            let scanned = crate::engine::journal::scan(&journal, |e| {
                if e.seq < first {
                    fold.apply(&e);
                }
            });
            if let Err(e) = scanned {
                tracing::warn!("metrics: cannot read {}: {e}", journal.display());
            }
            fold
        });
        fold = match read.await {
            Ok(fold) => fold,
            Err(_) => return,
        };
    }
    while let Some(p) = events.recv().await {
        fold.apply(&p.envelope);
        let mut folded = 1;
        while let Ok(p) = events.try_recv() {
            fold.apply(&p.envelope);
            folded += 1;
            // A long flood does not keep a worker the run needs.
            if folded % 1024 == 0 {
                tokio::task::yield_now().await;
            }
        }
        // Events come in floods: folded a moment later, in one go, they
        // cost the run no wake-up of this task per event.
        tokio::time::sleep(FOLD_PAUSE).await;
    }
}

/// How long the fold leaves events to queue after folding what it had:
/// what a scrape sees is at most about this old.
const FOLD_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// The text a scrape of `registry` returns, for tests and benches.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, registry);
    out
}

/// Writes `<run>/metrics.addr` (private, whole or not at all): where a
/// scraper finds this run.
pub fn write_addr(dir: &Path, addr: SocketAddr) -> std::io::Result<()> {
    crate::engine::run_dir::RunDir::at(String::new(), dir.to_path_buf())
        .write_atomic("metrics.addr", format!("{addr}\n").as_bytes())
}

/// Whether `addr` is reachable only from this machine.
pub fn loopback(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}
