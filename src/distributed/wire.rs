//! What travels between a run and its workers (JSON, `"v": 1`).
//!
//! - Work: the run publishes one [`Work`] per dispatch of an attempt on
//!   `sb.work.<pool>` (stream `SB_WORK`, work queue), header
//!   `Nats-Msg-Id: <key>`, so a duplicate publish is dropped.
//! - Claims: a worker claims a dispatch by `create` of its key in KV
//!   `sb_claims`; only one create of a key succeeds, which is what makes
//!   an attempt run at most once. The run `create`s it first to fence a
//!   dispatch it no longer wants (cancelled, or an earlier process's).
//! - Leases: while an attempt runs, its worker `put`s its key in KV
//!   `sb_leases` every `lease / 4` (the claim counts as the first, so an
//!   attempt shorter than that writes none); the run judges the worker lost
//!   when no put came for `lease`, and the worker kills the attempt itself
//!   once it could not put for `lease / 2`.
//! - Reports: the worker publishes [`Report`]s on `sb.res.<key>` (stream
//!   `SB_RES`, limits), in order; the run reads `sb.res.<run>.>` from the
//!   start, so a resumed run hears again what it missed.
//! - Workers: each live worker `put`s a [`WorkerInfo`] under its id in KV
//!   `sb_workers` every [`REGISTRY_EVERY`].
//! - Control: `sb.ctl.<worker>` carries [`Control`] (core NATS), the fast
//!   path of a cancel; the claim's state is the durable one.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::event::Stream;
pub use crate::engine::remote::key_token;

pub const WORK_STREAM: &str = "SB_WORK";
pub const RESULTS_STREAM: &str = "SB_RES";
pub const CLAIMS: &str = "sb_claims";
pub const LEASES: &str = "sb_leases";
pub const WORKERS: &str = "sb_workers";

/// The lease when `SIGNALBOX_LEASE` does not say another.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);
/// How often a worker says it is alive in `sb_workers`.
pub const REGISTRY_EVERY: Duration = Duration::from_secs(1);
/// A worker not heard of for this long is not live.
pub const REGISTRY_STALE: Duration = Duration::from_secs(5);
/// The server when neither `--nats` nor `$SIGNALBOX_NATS` names one.
pub const DEFAULT_SERVER: &str = "nats://127.0.0.1:4222";

/// The subject a pool's work is published on.
pub fn work_subject(pool: &str) -> String {
    format!("sb.work.{pool}")
}

/// The durable consumer every worker of `pool` pulls from.
pub fn pool_consumer(pool: &str) -> String {
    format!("pool_{pool}")
}

/// The subject of the reports of dispatch `key`.
pub fn report_subject(key: &str) -> String {
    format!("sb.res.{key}")
}

/// Every report of run `run`.
pub fn run_reports(run: &str) -> String {
    format!("sb.res.{}.>", key_token(run))
}

/// The leases of run `run`'s attempts, as a KV watch names them.
pub fn run_leases(run: &str) -> String {
    format!("{}.>", key_token(run))
}

/// Where a worker hears cancels.
pub fn control_subject(worker: &str) -> String {
    format!("sb.ctl.{}", key_token(worker))
}

/// The lease the run's attempts get: `$SIGNALBOX_LEASE` (a duration such
/// as `2s`, from 1 s to 1 h), else [`DEFAULT_LEASE`].
pub fn lease_from_env() -> Result<Duration, String> {
    match std::env::var("SIGNALBOX_LEASE") {
        Ok(v) if !v.trim().is_empty() => lease(v.trim()),
        _ => Ok(DEFAULT_LEASE),
    }
}

/// A lease as `SIGNALBOX_LEASE` gives it. Below 1 s a worker could not
/// renew it in time over a real network; above an hour a lost worker would
/// go unnoticed for longer than anyone waits.
fn lease(text: &str) -> Result<Duration, String> {
    let shown: String = text.chars().take(40).collect();
    // As a workflow writes durations: `10s`, `1m`, or a bare `10` seconds.
    let d = crate::workflow::duration::parse(text)
        .map_err(|_| format!("SIGNALBOX_LEASE={shown:?} is not a duration (such as 10s)"))?;
    if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&d) {
        return Err(format!(
            "SIGNALBOX_LEASE={shown:?} is out of range: a lease is from 1s to 1h"
        ));
    }
    Ok(d)
}

/// One dispatch of an attempt (see `engine::remote::Job`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Work {
    pub v: u32,
    pub key: String,
    pub run: String,
    pub workflow: String,
    pub step: String,
    pub attempt: u32,
    pub pool: String,
    pub command: String,
    pub shell: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
    pub timeout_ms: Option<u64>,
    pub kill_grace_ms: u64,
    pub merged: bool,
    /// The worker puts the lease every `lease_ms / 4`, and kills the
    /// attempt after `lease_ms / 2` without a put that worked.
    pub lease_ms: u64,
    /// Secret values in `env`, masked in every report before it is sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask: Vec<String>,
}

/// A claim's state in `sb_claims`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    /// A worker took it; it runs or is about to.
    Claimed,
    /// The run asked for it to stop; the worker kills its process group.
    CancelRequested,
    /// The worker reported its end. Workers no longer write it (the end
    /// report says so); a run still reads it as one that was claimed.
    Exited,
    /// The run cancelled it before any worker claimed it: never runs.
    Cancelled,
    /// An earlier dispatch the run no longer wants: never runs.
    Fenced,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub state: ClaimState,
    /// The worker that claimed it; none for a fence or a cancel before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

/// The value of a lease in `sb_leases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub worker: String,
    pub lease_ms: u64,
}

/// How an attempt's process ended, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
    Cancelled,
    /// It could not start, or the worker could not follow it.
    Error(String),
    /// The worker killed it when it could not renew its lease.
    LostLease,
}

/// What a worker says of one dispatch, on `sb.res.<key>`, in order.
/// Header `Nats-Msg-Id: <key>:<n>`, `n` counting the dispatch's reports
/// from 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Report {
    /// Claimed; its process starts now.
    Claimed {
        v: u32,
        key: String,
        worker: String,
        host: String,
        pid: u32,
    },
    /// Lines in the order printed.
    Output {
        v: u32,
        key: String,
        n: u64,
        lines: Vec<(Stream, String)>,
    },
    /// Its end, with the outputs its `SIGNALBOX_OUTPUT` file held (exit 0
    /// only) and how many lines were dropped when they could not be sent.
    Exited {
        v: u32,
        key: String,
        n: u64,
        exit: Exit,
        #[serde(default)]
        outputs: BTreeMap<String, String>,
        #[serde(default)]
        dropped_lines: u64,
    },
}

impl Report {
    pub fn key(&self) -> &str {
        match self {
            Report::Claimed { key, .. }
            | Report::Output { key, .. }
            | Report::Exited { key, .. } => key,
        }
    }
}

/// A running attempt, as a worker lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    pub key: String,
    pub run: String,
    pub step: String,
    pub attempt: u32,
}

/// What a live worker says of itself in `sb_workers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub v: u32,
    pub id: String,
    pub pools: Vec<String>,
    pub jobs: usize,
    pub running: Vec<Running>,
    pub host: String,
    pub pid: u32,
    pub version: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// Random per process: a second worker with the same id is told apart.
    pub instance: String,
    /// When it said this (Unix ms, its own clock).
    #[serde(default)]
    pub at_ms: u64,
}

/// On `sb.ctl.<worker>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// Kill the process group of dispatch `key` (SIGTERM, its grace, SIGKILL).
    Cancel { key: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_from_one_second_to_an_hour() {
        assert_eq!(lease("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(lease("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(lease("10"), Ok(Duration::from_secs(10)));
        assert!(lease("500ms").unwrap_err().contains("from 1s to 1h"));
        assert!(lease("2h").unwrap_err().contains("from 1s to 1h"));
        assert!(lease("soon").unwrap_err().contains("not a duration"));
    }
}
