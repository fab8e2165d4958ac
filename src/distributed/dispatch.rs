//! The run's side: a [`Dispatch`] over NATS (SPEC §7).
//!
//! One task, the `hub`, owns what the run knows of its attempts on
//! workers: which dispatch key answers which attempt, their leases, the
//! live workers of the workflow's pools, and whether the server is up.
//! [`Dispatch::dispatch`] and [`Dispatch::adopt`] hand it a command over a
//! channel and return at once. Each attempt then has a task of its own
//! (`attempt`) that holds its `Reports`, sends its work, cancels it, and
//! hears from the hub what the worker said; the `watchers` read the
//! server's streams and buckets for the hub.

mod attempt;
mod hub;
mod ops;
mod pure;
mod watchers;

#[cfg(test)]
mod pure_tests;
#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::connect;
use crate::engine::remote::{Adopt, Dispatch, Job, RemoteStatus, Reports};
use crate::workflow::Workflow;

/// What `dispatch` and `adopt` ask of the hub.
#[derive(Debug)]
enum Cmd {
    Dispatch(Job, Reports),
    Adopt(Adopt, Reports),
}

/// The run's transport to its pools over NATS JetStream.
#[derive(Debug)]
pub struct Nats {
    cmds: mpsc::UnboundedSender<Cmd>,
    status: watch::Receiver<RemoteStatus>,
}

/// Starts the transport of run `run_id` to the pools of `wf`, through the
/// server at `server`. Returns at once: the connection is made (and made
/// again) in the background, and attempts wait for it. Only an address
/// that is not one, or a bad `$SIGNALBOX_LEASE`, is an error.
pub async fn start(server: &str, wf: &Workflow, run_id: &str) -> Result<Arc<Nats>, String> {
    connect::check(server)?;
    let lease = super::wire::lease_from_env()?;
    start_with(server, wf, run_id, lease).await
}

/// [`start`] with the lease given.
async fn start_with(
    server: &str,
    wf: &Workflow,
    run_id: &str,
    lease: Duration,
) -> Result<Arc<Nats>, String> {
    let (client, up) = connect::client(server, "signalbox run").await?;
    let mut pools: Vec<String> = (wf.steps.iter())
        .filter_map(|s| s.pool.as_deref().map(str::to_string))
        .collect();
    pools.sort();
    pools.dedup();
    // From here on, only shown: a password in it is not.
    let server = &connect::shown(server);
    let first = RemoteStatus {
        server: server.to_string(),
        connected: false,
        pools: pools.iter().map(|p| (p.clone(), Vec::new())).collect(),
        problem: Some(pure::unreachable(server)),
    };
    let (status_tx, status) = watch::channel(first);
    let (cmds, cmd_rx) = mpsc::unbounded_channel();
    let hub = hub::Hub::new(hub::Setup {
        run: run_id.to_string(),
        server: server.to_string(),
        lease,
        pools,
        client,
        up,
        status: status_tx,
    });
    tokio::spawn(hub.run(cmd_rx));
    tracing::info!("nats: run {run_id} sends its pools' attempts to {server}");
    Ok(Arc::new(Nats { cmds, status }))
}

/// Whether any step of `wf` runs on a worker.
pub fn needed(wf: &Workflow) -> bool {
    wf.steps.iter().any(|s| s.pool.is_some())
}

impl Dispatch for Nats {
    fn dispatch(&self, job: Job, reports: Reports) {
        // Once the hub is gone, the dropped reports fail the attempt.
        let _ = self.cmds.send(Cmd::Dispatch(job, reports));
    }

    fn adopt(&self, adopt: Adopt, reports: Reports) {
        let _ = self.cmds.send(Cmd::Adopt(adopt, reports));
    }

    fn status(&self) -> watch::Receiver<RemoteStatus> {
        self.status.clone()
    }
}
