//! signalbox runs YAML-defined DAG workflows from a terminal, with a person
//! in the loop.
//!
//! # Layout
//!
//! Three layers, one direction:
//!
//! - [`workflow`]: the file format. Parsing, checking, the step graph. No
//!   tokio, no UI.
//! - [`engine`]: the tokio orchestrator that runs a [`workflow::Workflow`]
//!   and tells the world what happened as events. No ratatui, no crossterm.
//! - front ends: [`cli`] (the commands) and [`headless`] (runs for scripts
//!   and CI), which drive the engine and show its events; [`metrics`]
//!   (Prometheus, folded from the events) and [`trace`] (OpenTelemetry
//!   spans, built from the journal) show a run to other tools.
//!
//! Below the front ends, [`safe`] is the one way text reaches a terminal:
//! control characters shown escaped.
//!
//! `main.rs` only wires these together.

pub mod cli;
pub mod distributed;
pub mod engine;
pub mod headless;
pub mod metrics;
pub mod safe;
pub mod socket;
pub mod trace;
pub mod tui;
pub mod workflow;
