//! What a step's box or compact line says besides its id: attempt, status
//! and time; a failed step its exit code, or its error when it had none.

use crate::safe::cells;
use crate::tui::model::{Model, Status, StepView};
use crate::tui::view::theme;

/// The line inside a step's box: `done 3.2s`, `#2 retry in 6s`,
/// `exit 101`, `timed out after 5s`.
pub fn detail(m: &Model, s: usize) -> String {
    let step = &m.steps[s];
    let now = m.now_ms;
    let attempt = attempt(step);
    let since = |t: Option<u64>| t.map(|t| now.saturating_sub(t));
    match step.status {
        Status::Running => {
            let t = since(step.first_start_ms)
                .map(theme::seconds)
                .unwrap_or_default();
            format!("{attempt}running {t}")
        }
        Status::Backoff { due_ms } if due_ms > now => {
            let next = step.attempt + 1;
            format!("retry #{next} in {}", theme::seconds(due_ms - now + 999))
        }
        Status::Backoff { .. } => format!("retrying #{}", step.attempt + 1),
        Status::Waiting => match wait_left(m, s) {
            Some(left) => format!("waits {left}"),
            None => "waiting".into(),
        },
        Status::Succeeded => {
            let word = if step.fallback { "fallback" } else { "done" };
            let t = step.duration_ms.map(theme::elapsed).unwrap_or_default();
            format!("{attempt}{word} {t}")
        }
        Status::Failed => failure(step),
        // Changed by an edit and not started since.
        other if step.edited => format!("~ {}", theme::word(other)),
        other => theme::word(other).to_string(),
    }
}

/// The few columns after a compact line's id: `#2 1.4s`, `exit 101`,
/// `4:59`; the glyph before the id says the status.
pub fn short(m: &Model, s: usize) -> String {
    let step = &m.steps[s];
    let now = m.now_ms;
    let attempt = attempt(step);
    match step.status {
        Status::Running => {
            let t = step
                .first_start_ms
                .map(|t| theme::seconds(now.saturating_sub(t)));
            format!("{attempt}{}", t.unwrap_or_default())
        }
        Status::Backoff { due_ms } if due_ms > now => {
            let next = step.attempt + 1;
            format!("#{next} in {}", theme::seconds(due_ms - now + 999))
        }
        Status::Backoff { .. } => format!("#{}", step.attempt + 1),
        Status::Waiting => wait_left(m, s).unwrap_or_default(),
        Status::Succeeded => {
            let t = step.duration_ms.map(theme::elapsed).unwrap_or_default();
            format!("{attempt}{t}")
        }
        Status::Failed => failure(step),
        _ if step.edited => "~".into(),
        _ => String::new(),
    }
}

/// `#2 ` from the second attempt on.
fn attempt(step: &StepView) -> String {
    if step.attempt > 1 {
        format!("#{} ", step.attempt)
    } else {
        String::new()
    }
}

/// A failure in a few words: its exit code, else its error, else `failed`.
pub fn failure(step: &StepView) -> String {
    match (step.exit_code, &step.error) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(e)) if !e.is_empty() => cells(e).into_owned(),
        _ => "failed".into(),
    }
}

fn wait_left(m: &Model, s: usize) -> Option<String> {
    let deadline = m.steps.get(s)?.wait_deadline_ms?;
    Some(theme::countdown(deadline.saturating_sub(m.now_ms)))
}
