//! What opens over the panes: help (in two columns on a short screen), the
//! quit and cancel-the-run questions (`overlay/run_dialog.rs`), a step
//! command's question, the answer box, an edit's plan (`overlay/plan.rs`)
//! and a step's output (`overlay/output.rs`). Each is drawn from the model's
//! `ui.overlay`; the keys it takes are `update`'s business.

mod output;
mod plan;
mod run_dialog;
mod step_dialog;

use crate::safe::cells;
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

use super::theme::{self, Theme};
use super::{Areas, fit};
use crate::tui::keys::NORMAL;
use crate::tui::model::ui::{AnswerBox, Overlay};
use crate::tui::model::{Kind, Model, Status};

pub use plan::plan_lines;

pub fn draw(m: &Model, t: Theme, frame: &mut Frame, a: &Areas) {
    match &m.ui.overlay {
        Some(Overlay::Help) => help(t, frame, a.body),
        Some(Overlay::ConfirmQuit) => run_dialog::quit(m, t, frame, a.body),
        Some(Overlay::ConfirmCancel) => run_dialog::cancel(t, frame, a.body),
        Some(Overlay::ConfirmStep {
            action, question, ..
        })
        | Some(Overlay::ConfirmGroup {
            action, question, ..
        }) => step_dialog::step(*action, question, t, frame, a.body),
        Some(Overlay::Answer(b)) => answer(m, b, t, frame, a.body),
        Some(Overlay::Output { step, scroll, mark }) => {
            output::draw(m, (*step, *scroll, *mark), t, frame, a.body)
        }
        Some(Overlay::Plan(d)) => plan::draw(d, t, frame, a.body),
        Some(Overlay::Filter) | None => {}
    }
}

/// A `w` x `h` rectangle in the middle of `area`, shrunk to fit.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let (w, h) = (w.min(area.width), h.min(area.height));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

pub(super) fn dialog(title: &str, t: Theme) -> Block<'static> {
    Block::bordered()
        .border_type(BorderType::Double)
        .border_style(t.border(true))
        .title(Line::styled(format!(" {title} "), t.bold()))
}

fn help(t: Theme, frame: &mut Frame, body: Rect) {
    let keys: Vec<(&str, &str)> = NORMAL
        .iter()
        .filter(|b| !b.help.is_empty())
        .map(|b| (b.label, b.help))
        .collect();
    let mut lines: Vec<Line> = keys
        .iter()
        .map(|(label, help)| {
            Line::from(vec![
                Span::styled(format!("{label:>10}  "), t.bold()),
                Span::raw(*help),
            ])
        })
        .collect();
    // The legend and the note take 4 rows, the frame 2.
    let width = body.width.min(100);
    let two = lines.len() + 6 > body.height as usize;
    if two {
        lines = two_columns(&keys, width.saturating_sub(2) as usize, t);
    }
    // The blank row before the legend goes first when rows are short.
    if lines.len() + 6 <= body.height as usize {
        lines.push(Line::raw(""));
    }
    let legend = [
        Status::Pending,
        Status::Ready,
        Status::Running,
        Status::Backoff { due_ms: 0 },
        Status::Waiting,
        Status::Succeeded,
        Status::Failed,
        Status::Skipped,
        Status::Cancelled,
    ];
    for row in legend.chunks(5) {
        let mut spans = vec![Span::raw("  ")];
        for &s in row {
            spans.push(Span::styled(
                format!("{} {}  ", theme::glyph(s, Kind::Run), theme::word(s)),
                t.status(s),
            ));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::styled(
        "  ? marks a question; any key closes this help",
        t.dim(),
    ));
    let w = if two { width } else { 72 };
    let area = centered(body, w, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(dialog("keys", t));
    frame.render_widget(p, area);
}

/// The keys in two columns of `width / 2`, each help text wrapped at
/// words within its column: for screens too short for one.
fn two_columns<'a>(keys: &[(&'a str, &'a str)], width: usize, t: Theme) -> Vec<Line<'a>> {
    let col = width / 2;
    let room = col.saturating_sub(12).max(8);
    // Each entry as rows of (label, text).
    let rows: Vec<Vec<(&str, String)>> = keys
        .iter()
        .map(|(label, help)| {
            words_in(help, room)
                .into_iter()
                .enumerate()
                .map(|(i, text)| (if i == 0 { *label } else { "" }, text))
                .collect()
        })
        .collect();
    // The split between entries that makes the taller column shortest.
    let total: usize = rows.iter().map(Vec::len).sum();
    let mut above = 0;
    let mut split = (usize::MAX, 0);
    for (i, entry) in rows.iter().enumerate() {
        above += entry.len();
        let tall = above.max(total - above);
        if tall < split.0 {
            split = (tall, i + 1);
        }
    }
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for (i, entry) in rows.into_iter().enumerate() {
        match i < split.1 {
            true => left.extend(entry),
            false => right.extend(entry),
        }
    }
    let cell = |(label, text): &(&'a str, String)| {
        vec![
            Span::styled(format!("{label:>10}  "), t.bold()),
            Span::raw(format!("{text:<room$}")),
        ]
    };
    (0..left.len().max(right.len()))
        .map(|i| {
            let mut spans = left
                .get(i)
                .map(cell)
                .unwrap_or_else(|| vec![Span::raw(" ".repeat(col))]);
            spans.extend(right.get(i).map(cell).unwrap_or_default());
            Line::from(spans)
        })
        .collect()
}

/// `text` in rows of at most `width` columns, broken at spaces.
fn words_in(text: &str, width: usize) -> Vec<String> {
    let mut rows = vec![String::new()];
    for word in text.split(' ') {
        let Some(row) = rows.last_mut() else { break };
        if !row.is_empty() && row.width() + 1 + word.width() > width {
            rows.push(word.to_string());
        } else {
            if !row.is_empty() {
                row.push(' ');
            }
            row.push_str(word);
        }
    }
    rows
}

fn answer(m: &Model, b: &AnswerBox, t: Theme, frame: &mut Frame, body: Rect) {
    let Some(w) = m.waits.get(&b.wait) else {
        return;
    };
    let width = body.width.saturating_sub(4).min(72);
    let inner_w = width.saturating_sub(2) as usize;
    // Wrapped here, not by the paragraph, so the box's height and the
    // cursor's row are exact however long the question.
    let mut lines: Vec<Line> = super::waits::wrap(&cells(&w.prompt), inner_w, inner_w)
        .into_iter()
        .map(|l| Line::styled(l, t.bold()))
        .collect();
    lines.push(Line::raw(""));
    let shown = fit(&cells(&b.text), inner_w.saturating_sub(3));
    let input_row = lines.len();
    lines.push(Line::from(vec![
        Span::styled("› ", t.bold()),
        Span::raw(shown.clone()),
    ]));
    // The default as filled in: highlighted, since typing replaces it.
    if b.fresh {
        lines[input_row] = Line::from(vec![
            Span::styled("› ", t.bold()),
            Span::styled(shown.clone(), t.selected()),
            Span::styled(" (default)", t.dim()),
        ]);
    }
    for (i, c) in w.choices.iter().enumerate() {
        let style = if Some(i) == b.choice {
            t.selected()
        } else {
            Style::new()
        };
        let shown = cells(c);
        let mut row = vec![Span::raw("  "), Span::styled(format!(" {shown} "), style)];
        if w.default.as_ref() == Some(c) {
            row.push(Span::styled("(default)", t.dim()));
        }
        lines.push(Line::from(row));
    }
    if let Some(e) = &b.error {
        lines.push(Line::styled(cells(e).into_owned(), t.notice()));
    }
    let hint = if w.choices.is_empty() {
        "Enter sends · Esc closes"
    } else {
        "↑↓ choose or type · Enter sends · Esc closes"
    };
    lines.push(Line::styled(hint, t.dim()));
    // A choice longer than the box wraps: it takes the rows it needs.
    let rows: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w.max(1)).max(1))
        .sum();
    let area = centered(body, width, rows as u16 + 2);
    frame.render_widget(Clear, area);
    let title = format!("answer {}", cells(&w.step_id));
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(dialog(&title, t));
    frame.render_widget(p, area);
    let x = area.x + 3 + shown.width() as u16;
    let y = area.y + 1 + input_row as u16;
    if x < area.right() && y < area.bottom() {
        frame.set_cursor_position(Position::new(x, y));
    }
}
