//! What a step's box or compact line says besides its id: attempt, status
//! and time; a failed step its exit code, or its error when it had none;
//! the state of the breaker it names when that is not closed. A step with
//! a `pool` says the pool it is queued on, and the worker it runs on.

use crate::engine::event::BreakerState;
use crate::safe::cells;
use crate::tui::model::{Model, Status, StepView};
use crate::tui::view::theme;

/// The line inside a step's box: `done 3.2s`, `#2 retry in 6s`,
/// `exit 101`, `timed out after 5s`, `queued on linux`, `running 4s on w1`.
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
            format!("{attempt}running {t}{}", on_worker(step))
        }
        Status::Backoff { due_ms } if due_ms > now => {
            let next = step.attempt + 1;
            format!("retry #{next} in {}", theme::seconds(due_ms - now + 999))
        }
        // Its next attempt is sent to the pool once the delay is over.
        Status::Backoff { .. } if step.pool.is_some() => {
            format!("#{} {}", step.attempt + 1, state(step))
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
        _ if step.edited => format!("~ {}", state(step)),
        _ => state(step),
    }
}

/// A step's status in words, with where it is placed: `queued on linux`
/// for a step that waits for a worker of its pool (ready, not claimed
/// yet), `running on w1` for one a worker runs; else the status's word.
pub fn state(step: &StepView) -> String {
    match (step.status, &step.pool) {
        (Status::Ready | Status::Backoff { .. }, Some(pool)) => {
            format!("queued on {}", cells(pool))
        }
        (Status::Running, _) => format!("running{}", on_worker(step)),
        (status, _) => theme::word(status).to_string(),
    }
}

/// ` on w1` for an attempt running on a worker; empty for one run here.
fn on_worker(step: &StepView) -> String {
    match &step.worker {
        Some(w) => format!(" on {}", cells(w)),
        None => String::new(),
    }
}

/// The few columns after a compact line's id: `#2 1.4s`, `exit 101`,
/// `4:59`, `on w1 1.4s`, `queued on linux`; the glyph before the id says
/// the status.
pub fn short(m: &Model, s: usize) -> String {
    let step = &m.steps[s];
    let now = m.now_ms;
    let attempt = attempt(step);
    match step.status {
        Status::Running => {
            let t = step
                .first_start_ms
                .map(|t| theme::seconds(now.saturating_sub(t)));
            let on = match on_worker(step) {
                w if w.is_empty() => w,
                w => format!("{} ", w.trim_start()),
            };
            format!("{attempt}{on}{}", t.unwrap_or_default())
        }
        Status::Backoff { due_ms } if due_ms > now => {
            let next = step.attempt + 1;
            format!("#{next} in {}", theme::seconds(due_ms - now + 999))
        }
        Status::Backoff { .. } if step.pool.is_some() => {
            format!("#{} {}", step.attempt + 1, state(step))
        }
        Status::Backoff { .. } => format!("#{}", step.attempt + 1),
        Status::Waiting => wait_left(m, s).unwrap_or_default(),
        Status::Succeeded => {
            let t = step.duration_ms.map(theme::elapsed).unwrap_or_default();
            format!("{attempt}{t}")
        }
        Status::Failed => failure(step),
        Status::Ready if step.edited && step.pool.is_some() => format!("~ {}", state(step)),
        _ if step.edited => "~".into(),
        Status::Ready if step.pool.is_some() => state(step),
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

/// The breaker line of a step's box: `⊗ open 12s` (the time left of its
/// cooldown, while the run goes, as the status line counts it) or
/// `◐ half-open`, and the state for its colour; none while the breaker
/// the step names is closed, or when it names none.
pub fn breaker(m: &Model, s: usize) -> Option<(String, BreakerState)> {
    let name = m.steps.get(s)?.breaker.as_deref()?;
    let state = *m.breakers.get(name)?;
    let text = match state {
        BreakerState::Open => match m.breaker_until.get(name) {
            Some(&until) if !m.ended() => {
                format!(
                    "⊗ open {}",
                    theme::countdown(until.saturating_sub(m.now_ms))
                )
            }
            _ => "⊗ open".to_string(),
        },
        BreakerState::HalfOpen => "◐ half-open".to_string(),
        BreakerState::Closed => return None,
    };
    Some((text, state))
}

/// The breaker in a compact line's few columns, for a step with nothing
/// else to say there (pending, ready): `⊗ 26s`, `⊗` once the run has
/// ended, `◐` half-open.
pub fn breaker_short(m: &Model, s: usize) -> Option<(String, BreakerState)> {
    let name = m.steps.get(s)?.breaker.as_deref()?;
    let state = *m.breakers.get(name)?;
    let text = match state {
        BreakerState::Open => match m.breaker_until.get(name) {
            Some(&until) if !m.ended() => {
                format!("⊗ {}", theme::countdown(until.saturating_sub(m.now_ms)))
            }
            _ => "⊗".to_string(),
        },
        BreakerState::HalfOpen => "◐".to_string(),
        BreakerState::Closed => return None,
    };
    Some((text, state))
}
