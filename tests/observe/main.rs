#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! What other tools see of a run (SPEC §8): its Prometheus metrics, scraped
//! from a live run and checked against its events, and its OpenTelemetry
//! trace, built from its journal.

#[path = "../common/mod.rs"]
mod common;

mod dashboard;
mod metrics;
mod trace;
