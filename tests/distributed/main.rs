#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Many machines (SPEC §7), end to end: a real nats-server, real
//! `signalbox worker` processes and real runs, with workers killed,
//! frozen and cut off, the server restarted and the run's own process
//! killed. Each step appends `STEP ATTEMPT PID` to an oracle file, which
//! shows whether an attempt ran more than once. Skipped (with a line on
//! stderr) when `$SIGNALBOX_NATS_SERVER` names no nats-server, except
//! under CI.
//!
//! `cargo test --test distributed -- --test-threads=1`

#[path = "../common/mod.rs"]
mod common;

mod harness;
mod server;
mod worker;

mod happy;
mod lost;
mod outage;
mod pools;
mod secrets;
mod stop;
