#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! What signalbox promises an operator against a hostile step, workflow,
//! journal, socket client or local user (SPEC §2 and §6), each promise
//! tried through the binary the way an attacker would break it.

#[path = "../common/mod.rs"]
mod common;

mod allow;
mod escapes;
mod files;
mod journal;
mod limits;
mod memory;
mod processes;
mod templates;
