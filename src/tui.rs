//! The operator's screen (SPEC §5): the live graph, the event log, the wait
//! queue and a status line over a running engine, in The Elm Architecture.
//!
//! - [`model`]: the state drawn, built only from the workflow and the
//!   events, plus what the operator is doing (`model::ui`).
//! - [`keys`]: the keymap, as tables.
//! - [`update`]: a message in, the model changed, an engine command out;
//!   never awaits.
//! - [`view`]: draws the model; changes nothing.
//! - [`app`]: the one `select!` loop, generic over the ratatui backend.
//! - `terminal`: raw mode, the alternate screen, the panic hook, signals.
//!
//! A front end: it knows the engine only through [`Run`], [`RunHandle`](crate::engine::RunHandle)
//! commands and the events; the engine knows nothing of it.

pub mod app;
pub mod keys;
pub mod model;
pub mod replay;
mod terminal;
pub mod update;
pub mod view;

use crossterm::event::EventStream;

use crate::cli::exit;
use crate::engine::{Run, RunOptions, RunStatus};
use crate::workflow::Workflow;

/// Whether colours may be used: `NO_COLOR` set to anything but empty
/// turns them off (no-color.org).
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Runs `wf` under the screen until the operator quits; returns the exit
/// code: 0 succeeded, 1 failed, 130 cancelled.
pub async fn run(wf: Workflow, options: RunOptions) -> u8 {
    let model = model::Model::new(&wf);
    match Run::new(wf, options) {
        Ok(run) => drive_run(model, run).await,
        // The run could not begin (an unusable state dir): a usage error.
        Err(e) => {
            crate::safe::say!("error: {e}");
            exit::INVALID
        }
    }
}

/// Runs a resumed run under the screen: the journal's events first, so the
/// screen shows the run as it stood, then the live ones. The journal is
/// read a line at a time: the model keeps a bounded log, and so does this.
pub async fn run_resumed(wf: &Workflow, run: Run, journal: &std::path::Path) -> u8 {
    let mut model = model::Model::new(wf);
    if let Err(e) = crate::engine::journal::scan(journal, |e| model.apply(&e)) {
        tracing::warn!("the screen shows less of the run than its journal has: {e}");
    }
    drive_run(model, run).await
}

async fn drive_run(mut model: model::Model, mut run: Run) -> u8 {
    model.ui.color = color_allowed();
    let events = run.subscribe();
    let handle = run.handle();
    // A run nobody could reach from another terminal does not start.
    let socket = match crate::socket::serve(handle.clone(), &handle.dir) {
        Ok(server) => server,
        Err(e) => {
            crate::safe::say!("error: {e}");
            crate::engine::run_dir::discard_if_unstarted(&handle.dir);
            return exit::INVALID;
        }
    };
    let (mut screen, guard) = match terminal::enter() {
        Ok(t) => t,
        Err(e) => {
            crate::safe::say!("error: cannot open the screen: {e} (try --headless)");
            return exit::FAILED;
        }
    };
    terminal::install_panic_hook();
    let engine = app::Engine {
        events,
        handle,
        task: tokio::spawn(run.start()),
    };
    let ended = app::drive(
        &mut screen,
        &mut model,
        engine,
        EventStream::new(),
        terminal::stop_signals(),
    )
    .await;
    socket.close().await;
    drop(screen);
    drop(guard);
    report(&ended)
}

/// One line on stderr once the screen is gone, and the exit code.
fn report(ended: &app::Ended) -> u8 {
    if let Some(e) = &ended.draw_error {
        crate::safe::say!("error: the screen failed: {e}");
    }
    let Some(outcome) = &ended.outcome else {
        if ended.forced {
            crate::safe::say!("run cancelled; stopped waiting for it to end");
            return exit::CANCELLED;
        }
        crate::safe::say!("error: the run stopped unexpectedly (see signalbox.log)");
        return exit::FAILED;
    };
    if let Some(e) = &outcome.journal_error {
        crate::safe::say!("error: the run stopped: {e}");
    }
    let (word, code) = match outcome.status {
        RunStatus::Succeeded => ("succeeded", exit::OK),
        RunStatus::Failed => ("failed", exit::FAILED),
        RunStatus::Cancelled => ("cancelled", exit::CANCELLED),
    };
    crate::safe::say!(
        "run {} {word}; events in {}",
        outcome.run_id,
        outcome.dir.join("events.jsonl").display()
    );
    code
}
