//! The status line: the workflow, the run's clock or outcome, steps counted
//! by status, open breakers, and the main keys (or the latest notice),
//! shortened to fit. A function of the model only.

use crate::safe::cells;
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
        let (m, t) = (self.model, self.theme);
        let width = area.width as usize;
        let wordy = Line::from(left_spans(m, t, false));
        let compact = Line::from(left_spans(m, t, true));
        // The most useful hint that fits, with counts in words if they fit.
        let mut pick = None;
        'hints: for hint in hints(m) {
            for left in [&wordy, &compact] {
                if left.width() + hint.chars().count() < width {
                    pick = Some((left, Some(hint)));
                    break 'hints;
                }
            }
        }
        let (left, hint) = pick.unwrap_or((
            if wordy.width() <= width {
                &wordy
            } else {
                &compact
            },
            None,
        ));
        buf.set_line(area.x, area.y, left, area.width);
        if let Some(hint) = hint {
            let style = if m.ui.notice.is_some() {
                t.notice()
            } else {
                t.dim()
            };
            let w = hint.chars().count() as u16;
            buf.set_string(area.x + area.width - w, area.y, hint, style);
        } else if let Some(n) = &m.ui.notice {
            // A notice always shows, cut to the room there is.
            let room = width.saturating_sub(compact.width() + 3);
            let text = format!(" {} ", super::fit(&cells(n), room));
            let w = text.chars().count() as u16;
            buf.set_line(area.x, area.y, &compact, area.width);
            buf.set_string(
                area.x + area.width.saturating_sub(w),
                area.y,
                text,
                t.notice(),
            );
        }
    }
}

/// `compact`: counts as glyph and number only, for narrow terminals.
fn left_spans(m: &Model, t: Theme, compact: bool) -> Vec<Span<'static>> {
    let mut spans = vec![Span::styled(format!(" {} ", cells(&m.name)), t.bold())];
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
        let name = cells(name);
        spans.push(Span::styled(format!("⊗ {name} {word} "), t.breaker(*state)));
    }
    spans
}

/// What the right of the line may say, most useful first: the notice, or
/// the main keys in shorter and shorter forms.
fn hints(m: &Model) -> Vec<String> {
    if let Some(n) = &m.ui.notice {
        return vec![format!(" {} ", cells(n))];
    }
    let hints: &[&str] = if m.ended() {
        &[" q quit · ? help ", " q quit "]
    } else if m.ui.quit {
        &[" q: stop waiting "]
    } else if !m.waits.is_empty() {
        // The keys for the selected wait: never "a approve" over a question.
        use crate::tui::model::waits::WaitKind;
        match m.selected_wait().map(|w| w.kind) {
            Some(WaitKind::Approval) => &[
                " a approve · r reject · w waits · ? help · q quit ",
                " a/r approve/reject · ? help ",
                " ? help ",
            ],
            Some(WaitKind::Question) if m.ui.focus == crate::tui::model::ui::Pane::Waits => &[
                " Enter answer · ? help · q quit ",
                " Enter answer · ? help ",
                " ? help ",
            ],
            Some(WaitKind::Question) => &[
                " w, Enter answer · ? help · q quit ",
                " Enter answer · ? help ",
                " ? help ",
            ],
            None => &[
                " w selects a wait · ? help · q quit ",
                " w waits · ? help ",
                " ? help ",
            ],
        }
    } else {
        &[
            " Tab pane · Enter output · ? help · q quit ",
            " ? help · q quit ",
            " ? help ",
        ]
    };
    hints.iter().map(|h| h.to_string()).collect()
}
