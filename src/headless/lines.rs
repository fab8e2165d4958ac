//! Each event as the one human line a headless run prints for it (before
//! it is made safe for a terminal): `▶ build started`, `✓ build
//! succeeded in 2s`, `✎ edit r2 by keyboard: +lint`.

use crate::engine::event::{DagAction, SkipReason};
use crate::engine::{By, Envelope, Event, RunStatus};
use crate::workflow::duration;

/// The line before it is made safe.
pub(super) fn raw_line(e: &Envelope) -> Option<String> {
    let ms = |m: u64| duration::human(std::time::Duration::from_millis(m));
    Some(match &e.event {
        Event::RunStarted {
            workflow,
            steps,
            resumed,
        } => {
            let verb = if *resumed { "resumed" } else { "started" };
            let s = if *steps == 1 { "" } else { "s" };
            format!("run {} {verb}: {workflow}, {steps} step{s}", e.run)
        }
        Event::RunFinished {
            status,
            duration_ms,
        } => {
            format!(
                "run {} {} in {}",
                e.run,
                status_word(*status),
                ms(*duration_ms)
            )
        }
        Event::StepReady { .. } => return None,
        Event::HookFinished {
            hook,
            on_seq,
            error: None,
            duration_ms,
            ..
        } => format!(
            "⚓ hook {hook} ran for event #{on_seq} in {}",
            ms(*duration_ms)
        ),
        Event::HookFinished {
            hook,
            on_seq,
            error: Some(error),
            ..
        } => format!("⚠ hook {hook} failed for event #{on_seq}: {error}"),
        Event::StepStarted {
            step,
            attempt,
            pool,
            worker,
        } => {
            let place = match (pool, worker) {
                (Some(pool), Some(worker)) => format!(" on {worker} (pool {pool})"),
                _ => String::new(),
            };
            match attempt {
                1 => format!("▸ {step} started{place}"),
                n => format!("▸ {step} started{place} (attempt {n})"),
            }
        }
        Event::StepOutput { step, line, .. } => format!("  {step} │ {line}"),
        Event::StepRetrying {
            step,
            attempt,
            error,
            delay_ms,
            ..
        } => {
            format!(
                "↻ {step} attempt {attempt} failed ({error}); retrying in {}",
                ms(*delay_ms)
            )
        }
        Event::StepSucceeded {
            step,
            duration_ms,
            fallback: true,
            ..
        } => {
            format!(
                "✓ {step} succeeded with its fallback after {}",
                ms(*duration_ms)
            )
        }
        Event::StepSucceeded {
            step, duration_ms, ..
        } => format!("✓ {step} succeeded in {}", ms(*duration_ms)),
        Event::StepFailed {
            step,
            attempts,
            error,
            ..
        } => {
            let s = if *attempts == 1 { "" } else { "s" };
            format!("✗ {step} failed after {attempts} attempt{s}: {error}")
        }
        Event::StepSkipped {
            step,
            reason,
            cause,
        } => match reason {
            SkipReason::Operator => format!("- {step} skipped by the operator"),
            SkipReason::Condition => format!("- {step} skipped: `{cause}` is false"),
            SkipReason::UpstreamFailed => {
                format!("- {step} skipped: it needs {cause}, which did not succeed")
            }
            SkipReason::FailFast => {
                format!("- {step} skipped: {cause} failed and the matrix step fails fast")
            }
        },
        Event::StepCancelled { step, reason, .. } => format!("⊘ {step} cancelled ({reason})"),
        Event::ApprovalRequested {
            step,
            prompt,
            timeout_ms,
            ..
        } => {
            format!(
                "◆ {step} waits for approval: {prompt} (times out in {})",
                ms(*timeout_ms)
            )
        }
        Event::ApprovalResolved {
            step, approved, by, ..
        } => {
            let verdict = if *approved { "approved" } else { "rejected" };
            format!("◆ {step} {verdict} by {}", by_word(*by))
        }
        Event::ApprovalProgress {
            step,
            by,
            user,
            approvals,
            needed,
            ..
        } => format!(
            "◆ {step} approved by {user} ({}): {approvals} of {needed} approvals",
            by_word(*by)
        ),
        Event::QuestionAsked {
            step,
            question,
            choices,
            default,
            ..
        } => {
            let mut line = format!("? {step} asks: {question}");
            if !choices.is_empty() {
                line.push_str(&format!(" [{}]", choices.join(" | ")));
            }
            if let Some(d) = default {
                line.push_str(&format!(" (default: {d})"));
            }
            line
        }
        Event::QuestionAnswered {
            step, answer, by, ..
        } => format!("? {step} answered \"{answer}\" by {}", by_word(*by)),
        Event::BreakerChanged {
            breaker, state, by, ..
        } => {
            let word = serde_json::to_value(state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let mut line = format!("⊗ breaker {breaker} is {}", word.replace('_', "-"));
            if let Some(by) = by {
                line.push_str(&format!(" by {}", by_word(*by)));
            }
            line
        }
        Event::DagModified {
            action: DagAction::Edit,
            by,
            user,
            revision,
            diff,
            ..
        } => edit_line(*by, user.as_deref(), *revision, diff.as_deref()),
        Event::DagModified {
            action, steps, by, ..
        } => {
            let word = serde_json::to_value(action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("✎ {word} {} by {}", steps.join(", "), by_word(*by))
        }
    })
}

/// `✎ edit r2 by keyboard (ops): +lint -notes ~deploy`, and the steps run
/// again, if any.
fn edit_line(
    by: By,
    user: Option<&str>,
    revision: Option<u32>,
    diff: Option<&crate::engine::event::EditDiff>,
) -> String {
    let mut line = format!("✎ edit r{} by {}", revision.unwrap_or(0), by_word(by));
    if let Some(user) = user {
        line.push_str(&format!(" ({user})"));
    }
    let Some(d) = diff else { return line };
    let marks: Vec<String> = (d.added.iter().map(|s| format!("+{s}")))
        .chain(d.removed.iter().map(|s| format!("-{s}")))
        .chain(d.changed.keys().map(|s| format!("~{s}")))
        .collect();
    if !marks.is_empty() {
        line.push_str(&format!(": {}", marks.join(" ")));
    }
    if !d.rerun.is_empty() {
        line.push_str(&format!("; runs again: {}", d.rerun.join(", ")));
    }
    line
}

fn status_word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Cancelled => "cancelled",
    }
}

fn by_word(by: By) -> &'static str {
    match by {
        By::Keyboard => "keyboard",
        By::Socket => "socket",
        By::Flag => "flag",
        By::Prompt => "prompt",
        By::Timeout => "timeout",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_says_its_revision_who_and_what_changed() {
        let diff = crate::engine::event::EditDiff {
            added: vec!["lint".into()],
            removed: vec!["notes".into()],
            changed: [("deploy".to_string(), vec!["run".to_string()])].into(),
            rerun: vec![],
        };
        let line = edit_line(By::Keyboard, Some("ops"), Some(2), Some(&diff));
        assert_eq!(line, "✎ edit r2 by keyboard (ops): +lint -notes ~deploy");
        let diff = crate::engine::event::EditDiff {
            rerun: vec!["build".into()],
            ..diff
        };
        let line = edit_line(By::Socket, None, Some(3), Some(&diff));
        assert_eq!(
            line,
            "✎ edit r3 by socket: +lint -notes ~deploy; runs again: build"
        );
    }
}
