//! The wait queue's side of `update`: which wait is selected (SPEC §5),
//! `a` / `r` on it, `w`, the arrows in the queue, and keeping the
//! selection on its wait as waits come and go. No awaiting, no terminal.

use crate::engine::{By, Command};
use crate::tui::model::Model;
use crate::tui::model::ui::{Pane, WaitSelection};
use crate::tui::model::waits::WaitKind;

/// Said when a key needs a selected wait and none is.
pub fn none_selected(model: &Model) -> String {
    if model.waits.is_empty() {
        "no wait is open".into()
    } else {
        "no wait is selected: w selects the top one, ↑↓ in the queue another".into()
    }
}

/// `w`: the wait queue, with its top wait selected when none is.
pub fn jump(model: &mut Model) {
    model.ui.focus = Pane::Waits;
    let chosen = model
        .selected_wait()
        .or_else(|| model.waits.list().first())
        .map(|w| w.wait.clone());
    match chosen {
        Some(w) => model.ui.wait = WaitSelection::Pinned(w),
        None => model.ui.notice = Some("no wait is open".into()),
    }
}

/// `↑` / `↓` (`times` rows) in the queue. With nothing selected, `↓`
/// takes the wait now where the decided one stood, `↑` the one above it.
pub fn step(model: &mut Model, up: bool, times: usize) {
    let Some(last) = model.waits.len().checked_sub(1) else {
        return;
    };
    let to = match (model.selected_wait_index(), &model.ui.wait) {
        (Some(i), _) if up => i.saturating_sub(times),
        (Some(i), _) => (i + times).min(last),
        (None, WaitSelection::Cleared { row }) if up => row.saturating_sub(times),
        (None, WaitSelection::Cleared { row }) => (row + times - 1).min(last),
        (None, _) => 0,
    };
    if let Some(w) = model.waits.list().get(to.min(last)) {
        model.ui.wait = WaitSelection::Pinned(w.wait.clone());
    }
}

/// `a` / `r` on the selected approval, from any pane. A question is
/// answered in its box, never by `a` (its default could be a "no").
pub fn resolve(model: &mut Model, approve: bool) -> Option<Command> {
    let Some(w) = model.selected_wait() else {
        model.ui.notice = Some(none_selected(model));
        return None;
    };
    if w.kind == WaitKind::Question {
        let step = crate::safe::cells(&w.step_id).into_owned();
        model.ui.notice = Some(if model.ui.focus == Pane::Waits {
            format!("{step} is a question: press Enter to answer it")
        } else {
            format!("{step} is a question: press w, then Enter to answer it")
        });
        return None;
    }
    let step = w.step_id.clone();
    decided(model);
    let by = By::Keyboard;
    Some(match approve {
        true => Command::Approve { step, by },
        false => Command::Reject { step, by },
    })
}

/// The selected wait was decided by a key: nothing is selected now.
pub fn decided(model: &mut Model) {
    if let Some(row) = model.selected_wait_index() {
        model.ui.wait = WaitSelection::Cleared { row };
    }
}

/// After an event: a chosen wait that closed leaves nothing selected
/// (`row`: where the selection stood before the event).
pub fn after_event(model: &mut Model, row: Option<usize>) {
    if let WaitSelection::Pinned(w) = &model.ui.wait
        && model.waits.get(w).is_none()
    {
        model.ui.wait = WaitSelection::Cleared {
            row: row.unwrap_or(0),
        };
    }
}
