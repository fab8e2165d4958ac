//! The status line: the workflow, the run's clock or outcome, steps counted
//! by status, open breakers, and the main keys (or the latest notice).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::theme::{self, Theme};
use crate::engine::event::BreakerState;
use crate::tui::model::{Kind, Model};

pub struct StatusLine<'a> {
    pub model: &'a Model,
    pub theme: Theme,
}

impl Widget for &StatusLine<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let mut left = Line::from(left_spans(self.model, self.theme, false));
        if left.width() > area.width as usize {
            left = Line::from(left_spans(self.model, self.theme, true));
        }
        let used = left.width() as u16;
        buf.set_line(area.x, area.y, &left, area.width);
        let room = area.width.saturating_sub(used + 1) as usize;
        if let Some(right) = right_line(self.model, self.theme, room) {
            let w = right.width() as u16;
            buf.set_line(area.x + area.width - w, area.y, &right, w);
        }
    }
}

/// `compact`: counts as glyph and number only, for narrow terminals.
fn left_spans(m: &Model, t: Theme, compact: bool) -> Vec<Span<'static>> {
    let mut spans = vec![Span::styled(format!(" {} ", m.name), t.bold())];
    match m.run.outcome {
        Some((status, ms)) => spans.push(Span::styled(
            format!(
                "{} {} in {} ",
                match status {
                    crate::engine::RunStatus::Succeeded => "✓",
                    crate::engine::RunStatus::Failed => "✗",
                    crate::engine::RunStatus::Cancelled => "⊘",
                },
                theme::outcome_word(status),
                theme::elapsed(ms)
            ),
            t.outcome(status),
        )),
        None if m.ui.quit => spans.push(Span::styled("cancelling… ", t.notice())),
        None => {
            let ms = m.run.started_ms.map_or(0, |s| m.now_ms.saturating_sub(s));
            spans.push(Span::styled(format!("{} ", theme::seconds(ms)), t.dim()));
        }
    }
    for (status, n) in m.counts() {
        if n > 0 {
            let glyph = theme::glyph(status, Kind::Run);
            let text = if compact {
                format!("{glyph}{n} ")
            } else {
                format!("{glyph}{n} {} ", theme::word(status))
            };
            spans.push(Span::styled(text, t.status(status)));
        }
    }
    for (name, state) in &m.breakers {
        let word = match state {
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
            BreakerState::Closed => "closed",
        };
        spans.push(Span::styled(format!("⊗ {name} {word} "), t.breaker(*state)));
    }
    spans
}

/// The notice, or the most useful keys that fit in `room` columns.
fn right_line(m: &Model, t: Theme, room: usize) -> Option<Line<'static>> {
    if let Some(n) = &m.ui.notice {
        return Some(Line::styled(
            format!(" {} ", super::fit(n, room.saturating_sub(2))),
            t.notice(),
        ));
    }
    let hints: &[&str] = if m.ended() {
        &[" q quit · ? help ", " q quit "]
    } else if m.ui.quit {
        &[" q: stop waiting "]
    } else if !m.waits.is_empty() {
        &[
            " a approve · r reject · w waits · ? help · q quit ",
            " a/r approve/reject · ? help ",
            " ? help ",
        ]
    } else {
        &[
            " Tab pane · Enter output · ? help · q quit ",
            " ? help · q quit ",
            " ? help ",
        ]
    };
    hints
        .iter()
        .find(|h| h.chars().count() <= room)
        .map(|h| Line::styled(*h, t.dim()))
}
