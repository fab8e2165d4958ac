//! `R` / `s` / `x` / `B` on the step selected in the graph: each asks
//! `y`/`n` first, in a dialog that names the step (or its breaker) and says
//! what will happen, and sends its command only on `y`. Part of `update`:
//! no awaiting.

use crate::engine::{By, Command};
use crate::safe::cells;
use crate::tui::keys::Action;
use crate::tui::model::ui::{Overlay, StepAction};
use crate::tui::model::{Model, Selection, Status};

/// `R`, `s` or `x`: the question, or a notice saying why it cannot apply.
pub fn ask(model: &mut Model, action: StepAction) {
    if let (Selection::Group(g), false) = (model.selection(), action == StepAction::ResetBreaker) {
        return super::group::ask(model, action, g);
    }
    // `B` on a group: its instances share one breaker, the first one's.
    let step = model.ui.selected;
    match refusal(model, action, step) {
        Some(why) => model.ui.notice = Some(why),
        None => {
            let question = question(model, action, step);
            model.ui.overlay = Some(Overlay::ConfirmStep {
                action,
                step,
                question,
            });
        }
    }
}

/// A key in the dialog: `y` sends the command (if it still applies), any
/// other key closes it; Ctrl-C goes on to quit.
pub fn key(model: &mut Model, action: Action) -> Option<Command> {
    let Some(Overlay::ConfirmStep {
        action: what, step, ..
    }) = model.ui.overlay.take()
    else {
        return None;
    };
    match action {
        Action::Yes => {
            if let Some(why) = refusal(model, what, step) {
                model.ui.notice = Some(why);
                return None;
            }
            if model.ended() {
                // Only a retry gets here (see `refusal`): the run is over,
                // so it goes on in a process of its own.
                model.ui.retry = model
                    .steps
                    .get(step)
                    .map(|s| s.id.clone())
                    .into_iter()
                    .collect();
                return None;
            }
            command(model, what, step)
        }
        Action::Quit => super::quit(model),
        _ => None,
    }
}

/// Why `action` does not apply to step `i` now, if it does not.
pub fn refusal(model: &Model, action: StepAction, i: usize) -> Option<String> {
    let s = model.steps.get(i)?;
    // Raw: the status line escapes what it shows.
    let id = &s.id;
    if model.ended() {
        return finished(model, action, s.status, id);
    }
    if action == StepAction::ResetBreaker {
        return match &s.breaker {
            None => Some(format!("{id} uses no breaker: B resets a step's breaker")),
            Some(b) if !model.breakers.contains_key(b) => Some(format!(
                "breaker {b} of {id} is closed: there is nothing to reset"
            )),
            Some(_) => None,
        };
    }
    match (action, s.status) {
        (StepAction::Retry, Status::Failed | Status::Cancelled | Status::Backoff { .. }) => None,
        (StepAction::Retry, _) => Some(format!(
            "R retries a failed, cancelled or backing-off step; {id} is not"
        )),
        (_, st) if st.is_done() => Some(format!("{id} has already ended")),
        _ => None,
    }
}

/// On a finished run only `R` applies, to a failed or cancelled step of a
/// run that failed or was cancelled (SPEC §5: "on a finished run, `retry`").
fn finished(model: &Model, action: StepAction, status: Status, id: &str) -> Option<String> {
    use crate::engine::RunStatus;
    let over = model.run.outcome.map(|(s, _)| s);
    match (action, status, over) {
        (
            StepAction::Retry,
            Status::Failed | Status::Cancelled,
            Some(RunStatus::Failed | RunStatus::Cancelled),
        ) => None,
        (StepAction::Retry, _, Some(RunStatus::Failed | RunStatus::Cancelled)) => Some(format!(
            "R on a finished run retries a failed or cancelled step; {id} is not"
        )),
        _ => Some("the run has ended".to_string()),
    }
}

fn command(model: &Model, action: StepAction, i: usize) -> Option<Command> {
    let step = model.steps.get(i)?.id.clone();
    let by = By::Keyboard;
    Some(match action {
        StepAction::Retry => Command::Retry { step, by },
        StepAction::Skip => Command::Skip { step, by },
        StepAction::Cancel => Command::Cancel {
            step: Some(step),
            by,
        },
        StepAction::ResetBreaker => Command::Breaker {
            breaker: model.steps.get(i)?.breaker.clone()?,
            action: crate::engine::event::BreakerAction::Reset,
            by,
        },
    })
}

/// "Retry test-linux? It runs again from attempt 1. Its 3 skipped
/// dependents return to pending."
pub fn question(model: &Model, action: StepAction, i: usize) -> String {
    let Some(s) = model.steps.get(i) else {
        return String::new();
    };
    let id = cells(&s.id);
    match (action, s.status) {
        (StepAction::ResetBreaker, _) => breaker_question(model, i),
        (StepAction::Retry, Status::Backoff { .. }) => format!(
            "Retry {id} now? It stops waiting out its delay and starts attempt {}.",
            s.attempt + 1
        ),
        (StepAction::Retry, _) => {
            let (back, skipped) = (reset_below(model, i), skipped_below(model, i));
            let what = match back == skipped {
                true => "skipped dependent",
                false => "skipped or cancelled dependent",
            };
            let mut q = match model.ended() {
                true => format!("Retry {id}? The run goes on: {id} runs again from attempt 1."),
                false => format!("Retry {id}? It runs again from attempt 1."),
            };
            if back > 0 {
                q.push_str(&format!(
                    " Its {} return{} to pending.",
                    count(back, what),
                    if back == 1 { "s" } else { "" }
                ));
            }
            q
        }
        (StepAction::Skip, st) => {
            let how = match st {
                Status::Running => "It is stopped, and steps",
                Status::Waiting => "Its wait closes, and steps",
                _ => "Steps",
            };
            format!("Skip {id}? {how} that need it go on as if it had succeeded.")
        }
        (StepAction::Cancel, st) => {
            let how = match st {
                Status::Running => "It is stopped",
                Status::Waiting => "Its wait closes",
                _ => "It will not run",
            };
            let below = pending_below(model, i);
            match below {
                0 => format!("Cancel {id}? {how}."),
                n => format!(
                    "Cancel {id}? {how}, and its {} skipped.",
                    match n {
                        1 => "1 dependent still to run is".to_string(),
                        n => format!("{n} dependents still to run are"),
                    }
                ),
            }
        }
    }
}

/// "Reset breaker registry (open)? It closes now: attempts of publish,
/// deploy go through again, a step backing off at its next attempt."
fn breaker_question(model: &Model, i: usize) -> String {
    let Some(name) = model.steps.get(i).and_then(|s| s.breaker.as_deref()) else {
        return String::new();
    };
    let state = match model.breakers.get(name) {
        Some(crate::engine::event::BreakerState::HalfOpen) => "half-open",
        _ => "open",
    };
    let users: Vec<String> = (model.steps.iter())
        .filter(|s| s.breaker.as_deref() == Some(name))
        .map(|s| cells(&s.id).into_owned())
        .collect();
    let shown = match users.len() {
        0..=4 => users.join(", "),
        n => format!("{} and {} more", users[..3].join(", "), n - 3),
    };
    format!(
        "Reset breaker {} ({state})? It closes now: attempts of {shown} go through again, a step backing off at its next attempt.",
        cells(name)
    )
}

/// `1 step`, `3 steps`.
fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The steps below `i` skipped as `upstream_failed`, reached through
/// such steps.
fn skipped_below(model: &Model, i: usize) -> usize {
    let upstream = |d: usize| {
        model.steps[d].status == Status::Skipped
            && model.steps[d].skip == Some(crate::engine::event::SkipReason::UpstreamFailed)
    };
    below(model, i, upstream)
}

/// The steps below `i` that a retry of `i` returns to pending (as the
/// engine counts them, live or finished): those skipped as
/// `upstream_failed` or cancelled, and reached through such steps.
fn reset_below(model: &Model, i: usize) -> usize {
    let again = |d: usize| {
        let s = &model.steps[d];
        s.status == Status::Cancelled
            || (s.status == Status::Skipped
                && s.skip == Some(crate::engine::event::SkipReason::UpstreamFailed))
    };
    below(model, i, again)
}

/// The steps below `i` that have not ended: cancelling `i` skips them.
fn pending_below(model: &Model, i: usize) -> usize {
    below(model, i, |d| !model.steps[d].status.is_done())
}

/// How many steps depend on `i`, directly or through steps that pass
/// `keep`, and pass it themselves. One pass over the needs, so a key
/// press stays cheap on a 100,000-step graph.
fn below(model: &Model, i: usize, keep: impl Fn(usize) -> bool) -> usize {
    let mut dependents = vec![Vec::new(); model.steps.len()];
    for (d, s) in model.steps.iter().enumerate() {
        for &n in &s.needs {
            if let Some(list) = dependents.get_mut(n) {
                list.push(d);
            }
        }
    }
    let mut seen = vec![false; model.steps.len()];
    let mut todo = vec![i];
    let mut n = 0;
    while let Some(at) = todo.pop() {
        for &d in dependents.get(at).into_iter().flatten() {
            if !seen[d] && keep(d) {
                seen[d] = true;
                n += 1;
                todo.push(d);
            }
        }
    }
    n
}
