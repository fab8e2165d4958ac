//! The status line's word on the run's workers (SPEC §7): what
//! `Model::pool_trouble` says is wrong, in red for the server, in yellow
//! for a pool with no live worker.

use ratatui::text::Span;

use super::super::theme::Theme;
use crate::engine::event::BreakerState;
use crate::safe::cells;
use crate::tui::model::pools::Trouble;
use crate::tui::model::{Model, Status};

/// The span for what is wrong now, if anything is.
pub(super) fn span(m: &Model, t: Theme, wordy: bool) -> Option<Span<'static>> {
    let trouble = m.pool_trouble()?;
    let style = match trouble {
        Trouble::Unreachable { .. } | Trouble::Unusable(_) => t.status(Status::Failed),
        Trouble::Empty(_) => t.breaker(BreakerState::HalfOpen),
    };
    Some(Span::styled(pools_text(&trouble, wordy), style))
}

/// `✗ lost NATS; pool steps wait `, `◦ pool linux has no live worker `, or
/// shorter: `✗ no NATS `, `◦ linux: no worker `.
fn pools_text(trouble: &Trouble, wordy: bool) -> String {
    match (trouble, wordy) {
        (Trouble::Unreachable { ever_up: true }, true) => "✗ lost NATS; pool steps wait ".into(),
        (Trouble::Unreachable { ever_up: false }, true) => {
            "✗ cannot reach NATS; pool steps wait ".into()
        }
        (Trouble::Unreachable { .. }, false) => "✗ no NATS ".into(),
        (Trouble::Unusable(why), true) => format!("✗ NATS: {} ", cells(why)),
        (Trouble::Unusable(_), false) => "✗ NATS unusable ".into(),
        (Trouble::Empty(pools), true) => match pools.as_slice() {
            [one] => format!("◦ pool {} has no live worker ", cells(one)),
            many => format!("◦ pools {} have no live worker ", cells(&many.join(", "))),
        },
        (Trouble::Empty(pools), false) => format!("◦ {}: no worker ", cells(&pools.join(", "))),
    }
}
