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
//! - [`link`]: the run as the loop reaches it, in this process or through
//!   its socket (every real screen: [`attach`]).
//! - `terminal`: raw mode, the alternate screen, the panic hook, signals.
//!
//! A front end: it knows the engine only through its commands and events
//! (a [`RunHandle`](crate::engine::RunHandle), or the socket); the engine
//! knows nothing of it.

pub mod app;
pub mod editor;
pub mod keys;
pub mod link;
pub mod model;
pub mod replay;
mod terminal;
pub mod update;
pub mod view;

use crate::cli::exit;
use crate::engine::RunStatus;
use crate::workflow::Workflow;
use model::ui::Role;

/// Whether colours may be used: `NO_COLOR` set to anything but empty
/// turns them off (no-color.org).
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// How a screen was left.
#[derive(Debug, PartialEq, Eq)]
pub enum Left {
    /// With this exit code.
    Code(u8),
    /// `R` on these failed steps of the finished run (one, or a matrix
    /// group's failed instances): carry it on, then attach again.
    Retry(Vec<String>),
}

/// A screen on the run in `dir`, through its socket, until the operator
/// quits or detaches; the exit code: the run's own once it ended (0
/// succeeded, 1 failed, 130 cancelled), 0 detached, 1 the run could not be
/// reached. `wf`: the workflow, when the caller has it already.
pub async fn attach(dir: &std::path::Path, role: Role, wf: Option<Workflow>) -> Left {
    let kept = dir.join("workflow.yaml");
    // A user the run allowed in cannot read its folder: the run sends it.
    let readable = wf.is_some() || crate::engine::fsafe::open_read(&kept).is_ok();
    let remote = match crate::socket::screen::open(dir, role == Role::ReadOnly, !readable).await {
        Ok(r) => r,
        Err(crate::socket::screen::Refused::Unreachable(why)) => {
            crate::safe::say!("error: {}", not_live(dir).unwrap_or(why));
            return Left::Code(exit::FAILED);
        }
        Err(crate::socket::screen::Refused::Said(why)) => {
            crate::safe::say!("error: {why}");
            return Left::Code(exit::FAILED);
        }
    };
    let wf = match (wf, &remote.workflow) {
        (Some(wf), _) => Ok(wf),
        (None, Some(source)) => {
            crate::workflow::load_text(source.clone(), "workflow.yaml").map_err(|d| d.to_string())
        }
        (None, None) => crate::workflow::load(&kept).map_err(|d| d.to_string()),
    };
    let wf = match wf {
        Ok(wf) => wf,
        Err(e) => {
            crate::safe::say!("error: cannot read the run's workflow: {e}");
            return Left::Code(exit::FAILED);
        }
    };
    let mut model = model::Model::new(&wf);
    drop(wf);
    model.ui.role = role;
    model.ui.color = color_allowed();
    let (mut screen, guard) = match terminal::enter() {
        Ok(t) => t,
        Err(e) => {
            crate::safe::say!("error: cannot open the screen: {e}");
            return Left::Code(exit::FAILED);
        }
    };
    terminal::install_panic_hook();
    let ended = app::drive_keys(
        &mut screen,
        &mut model,
        app::Engine::remote(remote),
        terminal::Keys::new(),
        terminal::stop_signals(),
    )
    .await;
    drop(screen);
    drop(guard);
    if !ended.retry.is_empty() {
        return Left::Retry(ended.retry);
    }
    if let (None, Some(why)) = (&ended.outcome, &ended.lost) {
        match not_live(dir) {
            Some(hint) => crate::safe::say!("error: the screen lost the run: {why}; {hint}"),
            None => crate::safe::say!("error: the screen lost the run: {why}"),
        }
        return Left::Code(exit::FAILED);
    }
    if ended.detached {
        let id = dir.file_name().unwrap_or_default().to_string_lossy();
        let id = crate::safe::line(&id);
        crate::safe::say!("detached from run {id}; it goes on: signalbox attach {id}");
        return Left::Code(exit::OK);
    }
    Left::Code(report(&ended))
}

/// Why the run in `dir` cannot be reached, as its journal says: it is
/// over, or nothing drives it any more.
fn not_live(dir: &std::path::Path) -> Option<String> {
    use crate::engine::event::Event;
    let id = dir.file_name()?.to_string_lossy().into_owned();
    let id = crate::safe::line(&id);
    let last = crate::engine::journal::last_event(&dir.join("events.jsonl")).ok()??;
    Some(match last.event {
        Event::RunFinished { status, .. } => {
            let word = match status {
                RunStatus::Succeeded => "succeeded",
                RunStatus::Failed => "failed",
                RunStatus::Cancelled => "cancelled",
            };
            format!("run {id} is over ({word}); `signalbox replay {id}` shows it")
        }
        _ => format!("run {id} is not running (interrupted); `signalbox resume {id}` picks it up"),
    })
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
