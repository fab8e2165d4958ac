//! The plan dialog of `e`: the run's plan for the edited workflow, one line
//! per step (`+` added, `-` removed, `~` changed, `=` kept) and then the
//! diagnostics, scrollable when longer than the screen, with the keys it
//! takes; a refused plan's errors, and only `e` and Esc; a no-op's
//! "nothing changed".

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{centered, dialog};
use crate::engine::edit::Plan;
use crate::safe::cells;
use crate::tui::model::Status;
use crate::tui::model::ui::{PlanDialog, PlanShown};
use crate::tui::update::edit::appliable;
use crate::tui::view::fit;
use crate::tui::view::theme::Theme;

/// The dialog's text lines, as the scroll counts them.
pub fn plan_lines(shown: &PlanShown) -> Vec<String> {
    match shown {
        PlanShown::Waiting => vec!["asking the run for the plan…".into()],
        PlanShown::Plan(plan) => render(plan),
        PlanShown::Refused(why, Some(plan)) => {
            let mut lines = render(plan);
            // The plan's errors say it all, unless the run said more.
            if !plan.diagnostics.iter().any(|d| why.contains(d.as_str())) {
                lines.extend(["".to_string()]);
                lines.extend(why.lines().map(str::to_string));
            }
            lines
        }
        PlanShown::Refused(why, None) => why.lines().map(str::to_string).collect(),
    }
}

/// A plan as text: one line per step (mark, step, status, the keys that
/// changed, the note), the top-level keys that changed, the diagnostics.
/// (`Plan::render` may take its place once it exists.)
pub fn render(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    if plan.is_noop() && !plan.refused() {
        lines.push("nothing changed".to_string());
    }
    let w = (plan.steps.iter())
        .map(|s| s.step.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    for s in &plan.steps {
        let mut line = format!("{} {:<w$} {:<9}", s.mark, s.step, s.status);
        if !s.fields.is_empty() {
            line.push_str(&format!(" {}", s.fields.join(", ")));
        }
        if !s.note.is_empty() {
            line.push_str(&format!("  ({})", s.note));
        }
        lines.push(line.trim_end().to_string());
    }
    if !plan.top.is_empty() {
        lines.push(format!("~ top-level: {}", plan.top.join(", ")));
    }
    if !plan.diagnostics.is_empty() {
        lines.push(String::new());
        lines.extend(plan.diagnostics.iter().cloned());
    }
    lines
}

fn style(line: &str, t: Theme) -> Style {
    let status = match line.chars().next() {
        Some('+') => Status::Succeeded,
        Some('-') => Status::Cancelled,
        Some('~') => Status::Backoff { due_ms: 0 },
        Some('=') => Status::Pending,
        _ if line.contains(": error: ") => Status::Failed,
        _ if line.contains(": warning: ") => Status::Backoff { due_ms: 0 },
        _ => return Style::new(),
    };
    t.status(status)
}

pub fn draw(d: &PlanDialog, t: Theme, frame: &mut Frame, body: Rect) {
    let lines = plan_lines(&d.shown);
    let width = body.width.saturating_sub(4).min(100);
    let inner = (width.saturating_sub(2) as usize).max(2);
    // The frame, a blank row and the keys take 4 rows.
    let room = (body.height as usize).saturating_sub(4).max(1);
    let scroll = d.scroll.min(lines.len().saturating_sub(room));
    let mut shown: Vec<Line> = (lines.iter().skip(scroll).take(room))
        .map(|l| Line::styled(format!(" {}", fit(&cells(l), inner - 1)), style(l, t)))
        .collect();
    let more = lines.len() > room;
    shown.push(Line::raw(""));
    shown.push(keys(&d.shown, more, t));
    let area = centered(body, width, shown.len() as u16 + 2);
    frame.render_widget(Clear, area);
    let title = match &d.shown {
        PlanShown::Waiting if !d.ask.dry_run => "edit: applying…".to_string(),
        PlanShown::Waiting => "edit: checking…".to_string(),
        PlanShown::Plan(p) if p.is_noop() => "edit: nothing changed".to_string(),
        PlanShown::Plan(p) => format!("edit: the plan for revision {}", p.revision),
        PlanShown::Refused(..) => "edit refused".to_string(),
    };
    let p = Paragraph::new(shown).block(dialog(&title, t));
    frame.render_widget(p, area);
}

/// `y apply · e edit again · Esc discard`, what the dialog takes now.
fn keys(shown: &PlanShown, more: bool, t: Theme) -> Line<'static> {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    if appliable(shown) {
        keys.push(("y", "apply"));
    }
    if *shown != PlanShown::Waiting {
        keys.push(("e", "edit again"));
    }
    keys.push(("Esc", "discard"));
    if more {
        keys.push(("↑↓", "scroll"));
    }
    let mut spans = vec![Span::raw(" ")];
    for (i, (key, what)) in keys.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", t.dim()));
        }
        spans.push(Span::styled(key, t.bold()));
        spans.push(Span::raw(format!(" {what}")));
    }
    Line::from(spans)
}
