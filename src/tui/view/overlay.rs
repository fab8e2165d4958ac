//! What opens over the panes: help, the quit question, the answer box and a
//! step's output. Each is drawn from the model's `ui.overlay`; the keys it
//! takes are `update`'s business.

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

pub fn draw(m: &Model, t: Theme, frame: &mut Frame, a: &Areas) {
    match &m.ui.overlay {
        Some(Overlay::Help) => help(t, frame, a.body),
        Some(Overlay::ConfirmQuit) => confirm(m, t, frame, a.body),
        Some(Overlay::Answer(b)) => answer(m, b, t, frame, a.body),
        Some(Overlay::Output { step, scroll }) => output(m, *step, *scroll, t, frame, a.body),
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

fn dialog(title: &str, t: Theme) -> Block<'static> {
    Block::bordered()
        .border_type(BorderType::Double)
        .border_style(t.border(true))
        .title(Line::styled(format!(" {title} "), t.bold()))
}

fn help(t: Theme, frame: &mut Frame, body: Rect) {
    let mut lines: Vec<Line> = NORMAL
        .iter()
        .filter(|b| !b.help.is_empty())
        .map(|b| {
            Line::from(vec![
                Span::styled(format!("{:>10}  ", b.label), t.bold()),
                Span::raw(b.help),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
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
    let area = centered(body, 72, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(dialog("keys", t));
    frame.render_widget(p, area);
}

fn confirm(m: &Model, t: Theme, frame: &mut Frame, body: Rect) {
    let running = m
        .steps
        .iter()
        .filter(|s| matches!(s.status, Status::Running | Status::Backoff { .. }))
        .count();
    let lines = vec![
        Line::raw(format!(
            "{} running and {} open.",
            plural(running, "step"),
            plural(m.waits.len(), "wait")
        )),
        Line::raw("Quitting cancels the run: running steps are stopped."),
        Line::raw(""),
        Line::from(vec![
            Span::styled("y", t.bold()),
            Span::raw(" quit and cancel    "),
            Span::styled("n", t.bold()),
            Span::raw(" stay"),
        ]),
    ];
    let area = centered(body, 58, 6);
    frame.render_widget(Clear, area);
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(dialog("quit?", t));
    frame.render_widget(p, area);
}

fn answer(m: &Model, b: &AnswerBox, t: Theme, frame: &mut Frame, body: Rect) {
    let Some(w) = m.waits.get(&b.wait) else {
        return;
    };
    let width = body.width.saturating_sub(4).min(72);
    let inner_w = width.saturating_sub(2) as usize;
    let prompt = cells(&w.prompt);
    let mut lines = vec![Line::styled(prompt.to_string(), t.bold()), Line::raw("")];
    let shown = fit(&cells(&b.text), inner_w.saturating_sub(3));
    let input_row = lines.len();
    lines.push(Line::from(vec![
        Span::styled("› ", t.bold()),
        Span::raw(shown.clone()),
    ]));
    // With choices, the default is marked in the list instead.
    if b.text.is_empty()
        && w.choices.is_empty()
        && let Some(d) = &w.default
    {
        lines[input_row] = Line::from(vec![
            Span::styled("› ", t.bold()),
            Span::styled(format!("{} (default)", cells(d)), t.dim()),
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
    let prompt_rows = (prompt.width() / inner_w.max(1)) as u16;
    let area = centered(body, width, lines.len() as u16 + 2 + prompt_rows);
    frame.render_widget(Clear, area);
    let title = format!("answer {}", cells(&w.step_id));
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(dialog(&title, t));
    frame.render_widget(p, area);
    let x = area.x + 3 + shown.width() as u16;
    let y = area.y + 1 + input_row as u16 + prompt_rows;
    if x < area.right() && y < area.bottom() {
        frame.set_cursor_position(Position::new(x, y));
    }
}

fn output(m: &Model, step: usize, scroll: usize, t: Theme, frame: &mut Frame, body: Rect) {
    let Some(s) = m.steps.get(step) else {
        return;
    };
    let area = Rect::new(
        body.x + 1,
        body.y + 1,
        body.width.saturating_sub(2),
        body.height.saturating_sub(2),
    );
    let total = m.log.output_count(step);
    let block = dialog(
        &format!("output of {} · {}", cells(&s.id), plural(total, "line")),
        t,
    )
    .title_bottom(Line::styled(" ↑↓ PgUp PgDn scroll · Esc closes ", t.dim()));
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    let lines = m.log.step_output(step, inner.height as usize, scroll);
    if lines.is_empty() {
        let empty = Line::styled("no output yet", t.dim());
        frame
            .buffer_mut()
            .set_line(inner.x, inner.y, &empty, inner.width);
    }
    let start = m.run.started_ms.unwrap_or(0);
    for (row, l) in lines.iter().enumerate() {
        let mut line = super::log::log_line(l, start, t);
        if let Some(text) = line.spans.get_mut(1) {
            // The step's name is the pane's title: show the bare line.
            let bare = l.text.split_once(" │ ").map_or(l.text.as_str(), |(_, r)| r);
            text.content = cells(bare).into_owned().into();
        }
        frame
            .buffer_mut()
            .set_line(inner.x, inner.y + row as u16, &line, inner.width);
    }
}

/// `1 step`, `3 steps`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
