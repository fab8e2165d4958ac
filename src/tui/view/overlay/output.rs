//! The output viewer: one step's output lines over the panes, its title
//! saying the step, the attempt, how it ended (exit code or error) and how
//! long it took; stderr lines marked `2>` when the step kept its streams
//! apart (`output: separate`); long lines wrapped or scrolled sideways.

use std::borrow::Cow;

use crate::safe::cells;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::dialog;
use crate::tui::model::log::Tone;
use crate::tui::model::{Model, Status, StepView};
use crate::tui::view::fit;
use crate::tui::view::log::{Row, clock, draw_rows, view_marks};
use crate::tui::view::theme::{self, Theme};

/// Draws the viewer of `(step, scroll, mark)`: `scroll` lines up from the
/// step's newest, the line of seq `mark` highlighted.
pub fn draw(
    m: &Model,
    (step, scroll, mark): (usize, usize, Option<u64>),
    t: Theme,
    frame: &mut Frame,
    body: Rect,
) {
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
    let room = (area.width as usize).saturating_sub(4);
    let block = dialog(&fit(&title(m, s, total), room), t).title_bottom(keys(m, t));
    let mut inner = block.inner(area);
    frame.render_widget(ratatui::widgets::Clear, area);
    frame.render_widget(block, area);
    // The step's description, for people, over its output.
    if let Some(text) = s.description.as_deref()
        && inner.height > 1
    {
        let line = Line::styled(
            fit(
                &cells(text.lines().next().unwrap_or("")),
                inner.width as usize,
            ),
            t.dim(),
        );
        frame
            .buffer_mut()
            .set_line(inner.x, inner.y, &line, inner.width);
        inner.y += 1;
        inner.height -= 1;
    }
    let lines = m.log.step_output(step, inner.height as usize, scroll);
    if lines.is_empty() {
        // A step that ended without printing will print nothing more.
        let what = if s.status.is_done() {
            "no output"
        } else {
            "no output yet"
        };
        let empty = Line::styled(what, t.dim());
        frame
            .buffer_mut()
            .set_line(inner.x, inner.y, &empty, inner.width);
        return;
    }
    let start = m.run.started_ms.unwrap_or(0);
    let marks = m.log.has_stderr(step);
    let rows: Vec<Row<'_>> = lines
        .iter()
        .map(|l| {
            let mut gutter = vec![Span::styled(clock(l.ts_ms, start), t.dim())];
            if marks {
                gutter.push(match l.tone {
                    Tone::Stderr => Span::styled("2> ", t.tone(Tone::Stderr)),
                    _ => Span::raw("   "),
                });
            }
            // The step's name is the viewer's title: show the bare line.
            let bare = l.text.split_once(" │ ").map_or(l.text.as_str(), |(_, r)| r);
            Row {
                gutter,
                text: Cow::Owned(cells(bare).into_owned()),
                style: t.tone(l.tone),
                selected: mark == Some(l.seq),
            }
        })
        .collect();
    draw_rows(frame.buffer_mut(), inner, &rows, m.log.viewer_view, t);
}

/// `test · attempt 2 · ✗ exit 101 · 3.2s · 45 lines`.
pub fn title(m: &Model, s: &StepView, total: usize) -> String {
    let mut parts = vec![cells(&s.id).into_owned()];
    if s.attempt > 0 {
        parts.push(format!("attempt {}", s.attempt));
    }
    let glyph = theme::glyph(s.status, s.kind);
    parts.push(match (s.status, s.exit_code, &s.error) {
        (Status::Failed, Some(code), _) => format!("{glyph} exit {code}"),
        (Status::Failed, None, Some(e)) => format!("{glyph} {}", fit(&cells(e), 40)),
        (Status::Succeeded, ..) if s.fallback => format!("{glyph} fallback"),
        _ => format!("{glyph} {}", crate::tui::view::graph::detail::state(s)),
    });
    if let Some(ms) = took(m, s) {
        parts.push(theme::elapsed(ms));
    }
    parts.push(match total {
        1 => "1 line".to_string(),
        n => format!("{n} lines"),
    });
    parts.join(" · ")
}

/// How long the step took, or has taken so far.
fn took(m: &Model, s: &StepView) -> Option<u64> {
    if let Some(ms) = s.duration_ms {
        return Some(ms);
    }
    let from = s.first_start_ms?;
    let to = match s.status {
        Status::Running | Status::Backoff { .. } | Status::Waiting => m.now_ms,
        _ => s.end_ms?,
    };
    Some(to.saturating_sub(from))
}

fn keys(m: &Model, t: Theme) -> Line<'static> {
    let v = m.log.viewer_view;
    let mut spans = vec![Span::raw(" ")];
    if !v.wrap {
        spans.extend(view_marks(v, t));
    }
    let keys = match v.wrap {
        true => "↑↓ PgUp PgDn scroll · W cuts · n N failures · Esc closes ",
        false => "↑↓ PgUp PgDn ←→ scroll · W wraps · n N failures · Esc closes ",
    };
    spans.push(Span::styled(keys, t.dim()));
    Line::from(spans)
}
