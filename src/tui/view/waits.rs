//! The wait queue pane: open approvals and questions, highest priority
//! first then oldest, each with its time left; the selected one marked and,
//! with rows to spare, shown in full. Knows nothing of how a wait resolves.

use crate::safe::cells;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::theme::{self, Theme};
use crate::tui::model::Model;
use crate::tui::model::waits::{OpenWait, WaitKind};

pub struct WaitPane<'a> {
    pub model: &'a Model,
    pub theme: Theme,
    pub focused: bool,
}

impl Widget for &WaitPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.model;
        let t = self.theme;
        let n = m.waits.len();
        let title = if n == 0 {
            Line::raw(" waits ")
        } else {
            Line::from(vec![
                Span::raw(" waits "),
                Span::styled(
                    format!("{n} open "),
                    t.status(crate::tui::model::Status::Waiting),
                ),
            ])
        };
        let mut block = super::pane(title, self.focused, t);
        if n > 0 {
            block = block.title_bottom(Line::styled(
                " a approve · r reject · Enter answer ",
                t.dim(),
            ));
        }
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.is_empty() {
            return;
        }
        if n == 0 {
            let line = Line::styled("no approval or question is waiting", t.dim());
            buf.set_line(inner.x + 1, inner.y, &line, inner.width.saturating_sub(1));
            return;
        }
        // With rows to spare, the selected wait is shown in full below.
        let list_h = if inner.height as usize >= n + 5 {
            n as u16
        } else {
            inner.height
        };
        self.list(
            Rect {
                height: list_h,
                ..inner
            },
            buf,
        );
        if list_h < inner.height {
            let rest = Rect::new(
                inner.x,
                inner.y + list_h,
                inner.width,
                inner.height - list_h,
            );
            if let Some(w) = m.selected_wait() {
                detail(w, m.now_ms, t, rest, buf);
            }
        }
    }
}

impl WaitPane<'_> {
    /// One line per wait, scrolled to keep the selected one in view.
    fn list(&self, inner: Rect, buf: &mut Buffer) {
        let (m, t) = (self.model, self.theme);
        let selected = m.selected_wait_index().unwrap_or(0);
        let height = inner.height as usize;
        let first = (selected + 1).saturating_sub(height);
        let step_w = m
            .waits
            .list()
            .iter()
            .map(|w| w.step_id.chars().count())
            .max()
            .unwrap_or(0)
            .min(16);
        let rows = m.waits.list().iter().enumerate().skip(first).take(height);
        for (row, (i, w)) in rows.enumerate() {
            let mut line = wait_line(w, m.now_ms, step_w, t);
            if i == selected {
                line = line.patch_style(if self.focused { t.selected() } else { t.bold() });
                line.spans.insert(0, Span::raw("›"));
            } else {
                line.spans.insert(0, Span::raw(" "));
            }
            let y = inner.y + row as u16;
            if i == selected && self.focused {
                buf.set_style(Rect::new(inner.x, y, inner.width, 1), t.selected());
            }
            buf.set_line(inner.x, y, &line, inner.width);
        }
    }
}

/// The selected wait in full: its prompt wrapped, choices, default, time
/// left and the keys that resolve it.
fn detail(w: &OpenWait, now: u64, t: Theme, area: Rect, buf: &mut Buffer) {
    let kind = match w.kind {
        WaitKind::Approval => "approval",
        WaitKind::Question => "question",
    };
    let rule = format!("── {} · {kind} ", cells(&w.step_id));
    let rule = format!(
        "{rule}{}",
        "─".repeat((area.width as usize).saturating_sub(rule.chars().count()))
    );
    let mut lines = vec![
        Line::styled(rule, t.dim()),
        Line::styled(cells(&w.prompt).into_owned(), t.bold()),
    ];
    if !w.choices.is_empty() {
        let choices = cells(&w.choices.join(" | ")).into_owned();
        lines.push(Line::raw(format!("choices: {choices}")));
    }
    if let Some(d) = &w.default {
        lines.push(Line::raw(format!("default: {}", cells(d))));
    }
    let left = theme::countdown(w.deadline_ms.saturating_sub(now));
    let keys = match (w.kind, &w.default) {
        (WaitKind::Approval, _) => "a approves · r rejects",
        (WaitKind::Question, Some(_)) => "Enter answers · a takes the default",
        (WaitKind::Question, None) => "Enter answers",
    };
    lines.push(Line::styled(
        format!("times out in {left} · {keys}"),
        t.dim(),
    ));
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

/// `◆ go-live   4:58  Ship 2.3.0 to staging?`
fn wait_line(w: &OpenWait, now: u64, step_w: usize, t: Theme) -> Line<'static> {
    let glyph = match w.kind {
        WaitKind::Approval => "◆",
        WaitKind::Question => "?",
    };
    let left = w.deadline_ms.saturating_sub(now);
    let mut prompt = w.prompt.clone();
    if !w.choices.is_empty() {
        prompt.push_str(&format!(" [{}]", w.choices.join("|")));
    }
    if let Some(d) = &w.default {
        prompt.push_str(&format!(" (default: {d})"));
    }
    let mut spans = vec![
        Span::styled(
            format!("{glyph} "),
            t.status(crate::tui::model::Status::Waiting),
        ),
        Span::styled(
            format!("{:<step_w$} ", super::fit(&cells(&w.step_id), step_w)),
            t.bold(),
        ),
    ];
    if w.priority != 0 {
        spans.push(Span::styled(format!("p{} ", w.priority), t.dim()));
    }
    let urgent = left < 30_000;
    spans.push(Span::styled(
        format!("{:>5}  ", theme::countdown(left)),
        if urgent { t.notice() } else { t.dim() },
    ));
    spans.push(Span::raw(cells(&prompt).into_owned()));
    Line::from(spans)
}
