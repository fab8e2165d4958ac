//! The wait queue's side of `update`: which wait is selected (SPEC §5),
//! `a` / `r` on it, `w`, the arrows in the queue, and keeping the
//! selection on its wait as waits come and go. No awaiting, no terminal.

use crate::engine::{By, Command, Event};
use crate::tui::model::Model;
use crate::tui::model::ui::{Pane, WaitSelection};
use crate::tui::model::waits::{OpenWait, WaitKind};

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
        .or_else(|| choosable(model).next())
        .map(|w| w.wait.clone());
    match chosen {
        Some(w) => model.ui.wait = WaitSelection::Pinned(w),
        None => model.ui.notice = Some("no wait is open".into()),
    }
}

/// The waits the operator can move to: all but those this screen decided
/// and the run has not closed yet.
fn choosable(model: &Model) -> impl Iterator<Item = &OpenWait> {
    let decided = match &model.ui.wait {
        WaitSelection::Cleared { wait, .. } => Some(wait.as_str()),
        _ => None,
    };
    let sent = &model.ui.sent;
    model
        .waits
        .list()
        .iter()
        .filter(move |w| Some(w.wait.as_str()) != decided && !sent.contains(&w.wait))
}

/// `↑` / `↓` (`times` rows) in the queue. With nothing selected, `↓`
/// takes the wait now where the decided one stood, `↑` the one above it.
pub fn step(model: &mut Model, up: bool, times: usize) {
    let list: Vec<&OpenWait> = choosable(model).collect();
    let Some(last) = list.len().checked_sub(1) else {
        return;
    };
    let at = model
        .selected_wait()
        .and_then(|s| list.iter().position(|w| w.wait == s.wait));
    let to = match (at, &model.ui.wait) {
        (Some(i), _) if up => i.saturating_sub(times),
        (Some(i), _) => i + times,
        (None, WaitSelection::Cleared { row, .. }) if up => row.saturating_sub(times),
        (None, WaitSelection::Cleared { row, .. }) => row + times - 1,
        (None, _) => 0,
    };
    let pick = list[to.min(last)].wait.clone();
    model.ui.wait = WaitSelection::Pinned(pick);
}

/// `a` / `r` on the selected approval, from any pane. A question is
/// answered in its box, never by `a` (its default could be a "no").
pub fn resolve(model: &mut Model, approve: bool) -> Option<Command> {
    let Some(w) = model.selected_wait() else {
        model.ui.notice = Some(none_selected(model));
        return None;
    };
    if w.kind == WaitKind::Question {
        // Raw: the status line escapes what it shows.
        let step = w.step_id.clone();
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
    if let (Some(row), Some(w)) = (model.selected_wait_index(), model.selected_wait()) {
        let wait = w.wait.clone();
        model.ui.sent.push(wait.clone());
        model.ui.wait = WaitSelection::Cleared { row, wait };
    }
}

/// The run refused a command a key sent. When it was `a` / `r` on a wait
/// that is still open (a four-eyes gate refusing this user, say), that
/// wait is selected again, so the operator is where they were.
pub fn refused(model: &mut Model) {
    let WaitSelection::Cleared { wait, .. } = &model.ui.wait else {
        return;
    };
    if wait.is_empty() || model.waits.get(wait).is_none() || !model.ui.sent.contains(wait) {
        return;
    }
    let wait = wait.clone();
    model.ui.sent.retain(|w| *w != wait);
    model.ui.wait = WaitSelection::Pinned(wait);
}

/// After an event: a chosen wait that closed leaves nothing selected
/// (`row`: where the selection stood before the event).
pub fn after_event(model: &mut Model, row: Option<usize>) {
    if !model.ui.sent.is_empty() {
        let waits = &model.waits;
        model.ui.sent.retain(|w| waits.get(w).is_some());
    }
    if let WaitSelection::Pinned(w) = &model.ui.wait
        && model.waits.get(w).is_none()
    {
        model.ui.wait = WaitSelection::Cleared {
            row: row.unwrap_or(0),
            wait: w.clone(),
        };
    }
}

/// A four-eyes gate took an approval and stays open: the run has this
/// screen's key (if it was this screen's), so the wait can be chosen again
/// (to reject it, say), though nothing is selected until the operator
/// moves; and if it was in view, the notice says who approved it.
pub fn progressed(model: &mut Model, event: &Event) {
    let Event::ApprovalProgress {
        step,
        wait,
        by,
        user,
        approvals,
        needed,
    } = event
    else {
        return;
    };
    let ours = model.ui.sent.iter().any(|w| w == wait);
    model.ui.sent.retain(|w| w != wait);
    let (cleared, row) = match &model.ui.wait {
        WaitSelection::Cleared { wait: w, row } => (w == wait, *row),
        _ => (false, 0),
    };
    if cleared {
        model.ui.wait = WaitSelection::Cleared {
            row,
            wait: String::new(),
        };
    }
    let selected = model.selected_wait().is_some_and(|w| w.wait == *wait);
    if ours || cleared || selected {
        model.ui.notice = Some(format!(
            "{step} was approved by {user} ({}): {approvals} of {needed} approvals",
            by_word(*by)
        ));
    }
}

/// The selected wait was decided by someone else (another screen, the
/// socket, a flag, its timeout): the notice says who, so a key meant for it
/// is not pressed blind. This screen's own keys cleared the selection
/// first, so they are never told back.
pub fn decided_elsewhere(model: &mut Model, selected: Option<String>, event: &Event) {
    if let Some(w) = selected
        && model.waits.get(&w).is_none()
        && matches!(
            event,
            Event::ApprovalResolved { .. } | Event::QuestionAnswered { .. }
        )
    {
        model.ui.notice = Some(closed_by(event));
    }
}

/// Who or what closed a wait, from the event that closed it: "notes was
/// answered by alice (socket)", "notes timed out", "go-live was rejected by
/// bob (keyboard)". Raw: the status line escapes what it shows.
pub fn closed_by(event: &Event) -> String {
    let who = |by: By, user: &Option<String>| match user {
        Some(u) => format!(" by {u} ({})", by_word(by)),
        None => format!(" ({})", by_word(by)),
    };
    match event {
        Event::QuestionAnswered { step, by, .. } | Event::ApprovalResolved { step, by, .. }
            if *by == By::Timeout =>
        {
            format!("{step} timed out")
        }
        Event::QuestionAnswered { step, by, user, .. } => {
            format!("{step} was answered{}", who(*by, user))
        }
        Event::ApprovalResolved {
            step,
            approved,
            by,
            user,
            ..
        } => {
            let verb = if *approved { "approved" } else { "rejected" };
            format!("{step} was {verb}{}", who(*by, user))
        }
        // A question timing out with no default fails its step, saying so.
        Event::StepFailed { step, error, .. } => format!("{step} failed: {error}"),
        Event::StepSkipped { step, .. } => format!("{step} was skipped"),
        Event::StepCancelled { step, .. } => format!("{step} was cancelled"),
        Event::RunFinished { .. } => "the run ended before an answer".into(),
        other => match other.step() {
            Some(step) => format!("{step} closed before it was answered"),
            None => "the question closed before it was answered".into(),
        },
    }
}

/// `by` as the journal spells it.
fn by_word(by: By) -> &'static str {
    match by {
        By::Keyboard => "keyboard",
        By::Socket => "socket",
        By::Flag => "flag",
        By::Prompt => "prompt",
        By::Timeout => "timeout",
    }
}
