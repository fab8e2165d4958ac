#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! What an operator needs on real work (SPEC §4 and §5): graphs of real
//! pipelines drawn honestly and readably, failures found in a few keys,
//! output kept in order and readable whole, waits decided one at a time,
//! and the command line's completions and man page.

#[path = "../common/mod.rs"]
mod common;

mod attach_keys;
mod breaker;
mod breakers13;
mod edges;
mod edit;
mod edit_engine;
mod finding;
mod flood;
mod four_eyes;
mod hooks;
mod matrix;
mod matrix_run;
mod matrix_screen;
mod output;
mod retry;
mod screen;
mod screen13;
mod secrets;
mod small;
mod waits;

/// 2026-01-01T00:00:00Z in milliseconds: the screen tests' clock starts here.
pub const T0: u64 = 1_767_225_600_000;

/// One journal line of run `run` (its body, without the envelope) applied
/// to the screen's model at `ms` after [`T0`], as the next seq.
pub fn feed_event(m: &mut signalbox::tui::model::Model, run: &str, ms: u64, body: &str) {
    use signalbox::tui::update::{Msg, update};
    let ts = std::time::UNIX_EPOCH + std::time::Duration::from_millis(T0 + ms);
    let line = format!(
        r#"{{"seq":{},"ts":"{}","run":"{run}",{body}}}"#,
        m.seq + 1,
        humantime::format_rfc3339_millis(ts)
    );
    let envelope: signalbox::engine::Envelope = serde_json::from_str(&line).unwrap();
    let published = signalbox::engine::Published {
        envelope,
        line: String::new(),
    };
    update(m, Msg::Event(std::sync::Arc::new(published)));
}
