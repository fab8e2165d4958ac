//! `R` / `s` / `x` on a matrix group selected in the graph. `R` retries
//! the group's failed and cancelled instances only: live, one
//! `Command::Retry` per instance; on a finished run, `retry` with those
//! instances. `s` / `x` skip / cancel the instances that have not ended
//! (refused when every one has). Each asks `y`/`n` first, naming how many.

use crate::engine::{By, Command};
use crate::safe::cells;
use crate::tui::keys::Action;
use crate::tui::model::Model;
use crate::tui::model::group::{retryable, unfinished};
use crate::tui::model::ui::{Overlay, StepAction};

/// The instances of group `g` that `action` applies to now.
pub fn targets(model: &Model, action: StepAction, g: usize) -> Vec<usize> {
    let Some(group) = model.groups.get(g) else {
        return Vec::new();
    };
    match action {
        StepAction::Retry => retryable(&model.steps, &group.members),
        StepAction::Skip | StepAction::Cancel => unfinished(&model.steps, &group.members),
        StepAction::ResetBreaker => Vec::new(),
    }
}

/// `R`, `s` or `x` on group `g`: the question, or why it cannot apply.
pub fn ask(model: &mut Model, action: StepAction, g: usize) {
    if let Some(why) = group_refusal(model, action, g) {
        model.ui.notice = Some(why);
        return;
    }
    let steps = targets(model, action, g);
    let question = question(model, action, g, steps.len());
    model.ui.overlay = Some(Overlay::ConfirmGroup {
        action,
        group: g,
        steps,
        question,
    });
}

/// Why `action` does not apply to group `g` now, if it does not.
pub fn group_refusal(model: &Model, action: StepAction, g: usize) -> Option<String> {
    let id = &model.groups.get(g)?.id;
    let over = model.run.outcome.map(|(s, _)| s);
    if model.ended() {
        use crate::engine::RunStatus;
        if action != StepAction::Retry
            || !matches!(over, Some(RunStatus::Failed | RunStatus::Cancelled))
        {
            return Some("the run has ended".into());
        }
    }
    if !targets(model, action, g).is_empty() {
        return None;
    }
    Some(match action {
        StepAction::Retry => {
            format!("R on {id} retries its failed and cancelled instances; none of them is")
        }
        StepAction::Skip | StepAction::Cancel => {
            format!("every instance of {id} has ended: there is nothing to stop")
        }
        StepAction::ResetBreaker => String::new(),
    })
}

/// "Retry the 2 failed or cancelled instances of build? Each runs again
/// from attempt 1."
fn question(model: &Model, action: StepAction, g: usize, n: usize) -> String {
    let id = model
        .groups
        .get(g)
        .map(|g| cells(&g.id).into_owned())
        .unwrap_or_default();
    let of = |what: &str| match n {
        1 => format!("the 1 {what} instance of {id}"),
        n => format!("the {n} {what} instances of {id}"),
    };
    match action {
        StepAction::Retry if model.ended() => format!(
            "Retry {}? The run goes on: each runs again from attempt 1; the others are kept.",
            of("failed or cancelled")
        ),
        StepAction::Retry => format!(
            "Retry {}? Each runs again from attempt 1; the others are kept.",
            of("failed or cancelled")
        ),
        StepAction::Skip => format!(
            "Skip {}? Running ones are stopped, and steps that need them go on as if they had succeeded.",
            of("unfinished")
        ),
        StepAction::Cancel => format!(
            "Cancel {}? Running ones are stopped, waits close, and dependents still to run are skipped.",
            of("unfinished")
        ),
        StepAction::ResetBreaker => String::new(),
    }
}

/// A key in the group's dialog: `y` sends a command per instance that
/// still applies (the first returned, the rest in the outbox), any other
/// key closes it; Ctrl-C goes on to quit.
pub fn group_key(model: &mut Model, key: Action) -> Option<Command> {
    let Some(Overlay::ConfirmGroup {
        action,
        group,
        steps,
        ..
    }) = model.ui.overlay.take()
    else {
        return None;
    };
    match key {
        Action::Yes => {
            let now = targets(model, action, group);
            let ids: Vec<String> = (steps.iter())
                .filter(|i| now.contains(i))
                .filter_map(|&i| model.steps.get(i).map(|s| s.id.clone()))
                .collect();
            if ids.is_empty() {
                model.ui.notice = group_refusal(model, action, group)
                    .or_else(|| Some("those instances have moved on: nothing was sent".into()));
                return None;
            }
            if model.ended() {
                model.ui.retry = ids;
                return None;
            }
            let mut commands = ids.into_iter().map(|step| command(action, step));
            let first = commands.next();
            model.ui.outbox.extend(commands);
            first
        }
        Action::Quit => super::quit(model),
        _ => None,
    }
}

fn command(action: StepAction, step: String) -> Command {
    let by = By::Keyboard;
    match action {
        StepAction::Skip => Command::Skip { step, by },
        StepAction::Cancel => Command::Cancel {
            step: Some(step),
            by,
        },
        StepAction::Retry | StepAction::ResetBreaker => Command::Retry { step, by },
    }
}
