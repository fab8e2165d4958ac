//! How a screen leaves and what it may send, by its role (SPEC §4, §5):
//! `q` quits the run's own screen (cancelling a live run, after asking,
//! with `d` offered to detach instead) and detaches an attached one; `d`
//! detaches from any screen; `C` cancels the whole run after asking and
//! the screen stays; a read-only screen sends nothing. Part of `update`:
//! it sets `ui.quit` / `ui.detach` and the app loop does the leaving.

use crate::engine::{By, Command};
use crate::tui::keys::Action;
use crate::tui::model::Model;
use crate::tui::model::ui::{Overlay, Pane, Role};

/// Said when a read-only screen is asked to act.
pub const READ_ONLY: &str =
    "read-only: this screen sends nothing (attach without --read-only to act)";

/// `q`: on the own screen, leave after the run ends, asking first while work
/// is in flight; on an attached one, detach while the run is live.
pub fn quit(model: &mut Model) -> Option<Command> {
    if model.ended() {
        model.ui.quit = true;
        return None;
    }
    if model.ui.role != Role::Own {
        model.ui.detach = true;
        return None;
    }
    if model.ui.quit {
        // Asked again while the run is being cancelled: stop waiting.
        model.ui.force = true;
        return None;
    }
    if model.busy() {
        model.ui.overlay = Some(Overlay::ConfirmQuit);
        return None;
    }
    quit_now(model)
}

/// Quitting a run still going cancels it; the app leaves once it ended.
pub fn quit_now(model: &mut Model) -> Option<Command> {
    model.ui.quit = true;
    if model.ended() {
        return None;
    }
    Some(Command::Cancel {
        step: None,
        by: By::Keyboard,
    })
}

/// `d`: the screen leaves at once and the run goes on. A finished run has
/// nothing to detach from: `d` is `q` there, so the screen leaves with the
/// run's own outcome.
pub fn detach(model: &mut Model) {
    match model.ended() {
        true => model.ui.quit = true,
        false => model.ui.detach = true,
    }
}

/// A key in the quit dialog: `y` (or a second Ctrl-C) quits and cancels,
/// `d` detaches, anything else stays.
pub fn quit_key(model: &mut Model, action: Action) -> Option<Command> {
    model.ui.overlay = None;
    match action {
        Action::Yes | Action::Quit => quit_now(model),
        Action::Detach => {
            detach(model);
            None
        }
        _ => None,
    }
}

/// `C`: asks before cancelling the whole run, or says why it cannot.
pub fn ask_cancel(model: &mut Model) {
    match model.ended() {
        true => model.ui.notice = Some("the run has ended: there is nothing to cancel".into()),
        false => model.ui.overlay = Some(Overlay::ConfirmCancel),
    }
}

/// A key in the cancel dialog: `y` cancels the run and the screen stays to
/// show how it ends; Ctrl-C closes it and goes on to quit; anything else
/// closes it.
pub fn cancel_key(model: &mut Model, action: Action) -> Option<Command> {
    model.ui.overlay = None;
    match action {
        Action::Yes if model.ended() => {
            model.ui.notice = Some("the run has ended: there is nothing to cancel".into());
            None
        }
        Action::Yes => {
            model.ui.notice = Some("cancelling the run: running steps are stopped".into());
            Some(Command::Cancel {
                step: None,
                by: By::Keyboard,
            })
        }
        Action::Quit => quit(model),
        _ => None,
    }
}

/// On a read-only screen, a key that would send the run a command (now or
/// from the box or dialog it opens) is refused with [`READ_ONLY`]; moving,
/// scrolling, filtering, help and output work as anywhere.
pub fn refused(model: &mut Model, action: Action) -> bool {
    if model.ui.role != Role::ReadOnly {
        return false;
    }
    let sends = match action {
        Action::Approve
        | Action::Reject
        | Action::Retry
        | Action::Skip
        | Action::Cancel
        | Action::ResetBreaker
        | Action::CancelRun
        | Action::Edit => true,
        // In the wait queue, Enter opens the box that answers a question.
        Action::Enter => model.ui.focus == Pane::Waits && model.selected_wait().is_some(),
        _ => false,
    };
    if sends {
        model.ui.notice = Some(READ_ONLY.into());
    }
    sends
}
