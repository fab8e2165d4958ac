#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! What an operator needs on real work (SPEC §4 and §5): graphs of real
//! pipelines drawn honestly and readably, failures found in a few keys,
//! output kept in order and readable whole, waits decided one at a time,
//! and the command line's completions and man page.

#[path = "../common/mod.rs"]
mod common;

mod attach_keys;
mod breaker;
mod edges;
mod finding;
mod output;
mod retry;
mod screen;
mod small;
mod waits;
