//! The y/n dialog of a step command (`R`, `s`, `x`, `B`): the question that
//! names the step and says what will happen, wrapped, and the two keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{centered, dialog};
use crate::tui::model::ui::StepAction;
use crate::tui::view::theme::Theme;
use crate::tui::view::waits::wrap;

pub fn step(action: StepAction, question: &str, t: Theme, frame: &mut Frame, body: Rect) {
    let width = body.width.saturating_sub(4).min(64);
    let inner = width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = wrap(question, inner, inner)
        .into_iter()
        .map(|l| Line::styled(l, t.bold()))
        .collect();
    let verb = match action {
        StepAction::Retry => "retry",
        StepAction::Skip => "skip",
        StepAction::Cancel => "cancel it",
        StepAction::ResetBreaker => "reset it",
    };
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("y", t.bold()),
        Span::raw(format!(" {verb}    ")),
        Span::styled("n", t.bold()),
        Span::raw(" leave it"),
    ]));
    let area = centered(body, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    let title = match action {
        StepAction::Retry => "retry? y/n",
        StepAction::Skip => "skip? y/n",
        StepAction::Cancel => "cancel? y/n",
        StepAction::ResetBreaker => "reset the breaker? y/n",
    };
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(dialog(title, t));
    frame.render_widget(p, area);
}
