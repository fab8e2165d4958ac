//! `signalbox worker`: takes the attempts of its pools and runs them with
//! the same process code as a local step (own process group, kill ladder),
//! streams their lines back, and reports how they ended (SPEC §7).
//!
//! One task per pool pulls work while a slot is free; each attempt is a
//! task that claims it (`sb_claims` create: the only door to a process),
//! renews its lease, runs it, and reports. A worker that cannot renew a
//! lease for half of it kills that attempt itself.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Semaphore, watch};

use super::setup::Handles;
use super::wire::{self, Running, WorkerInfo};

mod attempt;
mod files;
mod pull;
mod report;

/// What `signalbox worker` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub pools: Vec<String>,
    pub server: String,
    pub jobs: usize,
    pub id: String,
    pub state_dir: PathBuf,
}

/// Why an attempt is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The run cancelled it (or it timed out there).
    Cancel,
    /// Its lease could not be renewed: the run will judge the worker lost.
    Fence,
    /// The worker itself is stopping.
    Shutdown,
}

/// The attempts running here, by key: what the registry lists, and how to
/// stop each.
pub(crate) type RunningSet = Mutex<HashMap<String, (Running, watch::Sender<Option<Stop>>)>>;

/// A worker's shared state.
pub(crate) struct Worker {
    pub(crate) opts: Options,
    pub(crate) host: String,
    pub(crate) handles: Handles,
    pub(crate) running: RunningSet,
    pub(crate) files: files::Files,
    /// One permit per attempt whose process ended and whose end is still
    /// being reported (its slot already free): the worker stops only once
    /// it has them all back.
    pub(crate) tails: Arc<Semaphore>,
}

/// Attempts whose ends are being reported at once, at most.
const TAILS: u32 = 256;

/// Checks an id: 1 to 64 letters, digits, `_`, `-` or `.`.
pub fn id_ok(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The default id: `<hostname>-<pid>`.
pub fn default_id() -> String {
    let host = hostname();
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    format!("{host}-{}", std::process::id())
}

pub(crate) fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Runs the worker until SIGTERM or Ctrl-C; returns the exit code.
pub async fn serve(opts: Options) -> u8 {
    let files = match files::Files::open(&opts.state_dir, &opts.id) {
        Ok(f) => f,
        Err(e) => {
            crate::safe::say!("error: {e}");
            return 2;
        }
    };
    let name = format!("signalbox worker {}", opts.id);
    let (client, mut up) = match super::connect::client(&opts.server, &name).await {
        Ok(c) => c,
        Err(e) => {
            crate::safe::say!("error: {e}");
            return 2;
        }
    };
    let server = super::connect::shown(&opts.server);
    let mut said_waiting = false;
    let mut said = None;
    let handles = loop {
        // A first connection gets a second before it is said to be awaited.
        let soon = (tokio::time::timeout(Duration::from_secs(1), up.wait_for(|u| *u)).await)
            .is_ok_and(|r| r.is_ok());
        if !soon {
            if !std::mem::replace(&mut said_waiting, true) {
                crate::safe::say!("◦ waiting for NATS at {server}");
            }
            let _ = up.wait_for(|u| *u).await;
        }
        match super::setup::ensure(&client).await {
            Ok(h) => break h,
            Err(e) => {
                if *up.borrow() && said.as_ref() != Some(&e) {
                    // Reached, and it cannot serve: no JetStream, no room.
                    crate::safe::say!("◦ NATS at {server}: {e}; trying again");
                    said = Some(e.clone());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let instance = format!("{:016x}", rand::random::<u64>());
    if let Err(e) = refuse_twin(&handles, &opts.id, &instance).await {
        crate::safe::say!("error: {e}");
        return 2;
    }
    // Only once no live worker has this id: what it left is an orphan.
    files.kill_survivors();
    let mut consumers = Vec::new();
    for pool in &opts.pools {
        match super::setup::pool_consumer(&handles.work, pool).await {
            Ok(c) => consumers.push((pool.clone(), c)),
            Err(e) => {
                crate::safe::say!("error: {e}");
                return 1;
            }
        }
    }
    let worker = Arc::new(Worker {
        host: hostname(),
        handles,
        running: Mutex::new(HashMap::new()),
        files,
        opts,
        tails: Arc::new(Semaphore::new(TAILS as usize)),
    });
    crate::safe::say!(
        "worker {}: pools {}, {} jobs, {}",
        worker.opts.id,
        worker.opts.pools.join(", "),
        worker.opts.jobs,
        super::connect::shown(&worker.opts.server)
    );
    let slots = Arc::new(Semaphore::new(worker.opts.jobs));
    let (stopping_tx, stopping) = watch::channel(false);
    let registry = tokio::spawn(register(worker.clone(), instance, stopping.clone()));
    let control = tokio::spawn(control(worker.clone(), client.clone()));
    let watch_up = tokio::spawn(say_connection(
        super::connect::shown(&worker.opts.server),
        up,
    ));
    let pulls: Vec<_> = consumers
        .into_iter()
        .map(|(pool, c)| {
            tokio::spawn(pull::pull(
                worker.clone(),
                pool,
                c,
                slots.clone(),
                stopping.clone(),
            ))
        })
        .collect();
    wait_for_stop().await;
    crate::safe::say!("◦ worker {} stopping", worker.opts.id);
    let _ = stopping_tx.send(true);
    // A pull waiting for a slot or a message takes nothing more; a message
    // fetched and not claimed goes back to the pool after its ack wait.
    for p in pulls {
        p.abort();
        let _ = p.await;
    }
    for (_, (_, stop)) in worker.running.lock().map(|r| r.clone()).unwrap_or_default() {
        let _ = stop.send(Some(Stop::Shutdown));
    }
    // Every slot back: every attempt has ended and reported.
    let _ = slots
        .acquire_many(u32::try_from(worker.opts.jobs).unwrap_or(u32::MAX))
        .await;
    let _ = worker.tails.acquire_many(TAILS).await;
    control.abort();
    watch_up.abort();
    let _ = registry.await;
    let _ = worker
        .handles
        .workers
        .delete(wire::key_token(&worker.opts.id))
        .await;
    0
}

/// SIGTERM, SIGINT or SIGHUP.
async fn wait_for_stop() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = hup.recv() => {}
    }
}

/// Process `pid` of this host is gone, or a zombie nobody reaped yet.
fn dead(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // `PID (COMM) STATE …`: COMM may hold anything, so after its last `)`.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    match state {
        Some(s) => s == "Z" || s == "X",
        None => {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                == Err(nix::errno::Errno::ESRCH)
        }
    }
}

/// Refuses to start beside a live worker with the same id.
async fn refuse_twin(handles: &Handles, id: &str, instance: &str) -> Result<(), String> {
    let Ok(Some(entry)) = handles.workers.entry(wire::key_token(id)).await else {
        return Ok(());
    };
    let Ok(info) = serde_json::from_slice::<WorkerInfo>(&entry.value) else {
        return Ok(());
    };
    let fresh = now_ms().saturating_sub(info.at_ms) < millis(wire::REGISTRY_STALE);
    // A worker of this host whose process is gone (killed, say) is no twin.
    let gone = info.host == hostname() && i32::try_from(info.pid).is_ok_and(dead);
    if fresh && !gone && info.instance != instance {
        return Err(format!(
            "a worker with id {id} is live (pid {} on {}); give this one another --id",
            info.pid, info.host
        ));
    }
    Ok(())
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Says the worker is alive, with what it runs, every `REGISTRY_EVERY`.
async fn register(worker: Arc<Worker>, instance: String, mut stopping: watch::Receiver<bool>) {
    let started = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    loop {
        let running: Vec<Running> = worker
            .running
            .lock()
            .map(|r| r.values().map(|(info, _)| info.clone()).collect())
            .unwrap_or_default();
        let info = WorkerInfo {
            v: 1,
            id: worker.opts.id.clone(),
            pools: worker.opts.pools.clone(),
            jobs: worker.opts.jobs,
            running,
            host: worker.host.clone(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").into(),
            started: started.clone(),
            instance: instance.clone(),
            at_ms: now_ms(),
        };
        if let Ok(body) = serde_json::to_vec(&info) {
            let key = wire::key_token(&worker.opts.id);
            let put = worker.handles.workers.put(key, body.into());
            if let Err(e) = tokio::time::timeout(wire::REGISTRY_EVERY, put).await {
                tracing::debug!("registry put: {e}");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(wire::REGISTRY_EVERY) => {}
            _ = stopping.wait_for(|s| *s) => return,
        }
    }
}

/// Cancels from the run, on `sb.ctl.<id>`.
async fn control(worker: Arc<Worker>, client: async_nats::Client) {
    let Ok(mut sub) = client
        .subscribe(wire::control_subject(&worker.opts.id))
        .await
    else {
        tracing::warn!(
            "cannot hear cancels on {}",
            wire::control_subject(&worker.opts.id)
        );
        return;
    };
    while let Some(msg) = sub.next().await {
        if let Ok(wire::Control::Cancel { key }) = serde_json::from_slice(&msg.payload) {
            worker.stop(&key, Stop::Cancel);
        }
    }
}

async fn say_connection(server: String, mut up: watch::Receiver<bool>) {
    let mut was = *up.borrow();
    while up.changed().await.is_ok() {
        let now = *up.borrow();
        if now != was {
            if now {
                crate::safe::say!("◦ NATS at {server} is back");
            } else {
                crate::safe::say!(
                    "◦ lost NATS at {server}; running attempts go on while their leases last"
                );
            }
            was = now;
        }
    }
}

impl Worker {
    /// Asks attempt `key` to stop, if it runs here.
    pub(crate) fn stop(&self, key: &str, why: Stop) {
        if let Ok(running) = self.running.lock()
            && let Some((_, stop)) = running.get(key)
        {
            stop.send_if_modified(|s| {
                if s.is_none() {
                    *s = Some(why);
                    true
                } else {
                    false
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_tokens() {
        assert!(id_ok("w1"));
        assert!(id_ok("build-3.example"));
        assert!(!id_ok(""));
        assert!(!id_ok("a b"));
        assert!(!id_ok("w*"));
        assert!(!id_ok(&"x".repeat(65)));
        assert!(id_ok(&default_id()), "{}", default_id());
    }
}
