//! The event log pane: one readable line per event, the time since the run
//! started in front, coloured by kind; follow, scrollback, wrap and the
//! filter show in its title, and the selected line (for `Enter`) is
//! highlighted while the pane has the keys. Long lines wrap or are cut and
//! scroll sideways ([`draw_rows`], shared with the output viewer). Draws
//! only the lines that fit; never filters or scrolls anything itself (the
//! model's log does).

use std::borrow::Cow;

use crate::safe::cells;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::theme::Theme;
use crate::tui::model::Model;
use crate::tui::model::log::{LineView, LogLine};
use crate::tui::model::ui::Overlay;

pub struct LogPane<'a> {
    pub model: &'a Model,
    pub theme: Theme,
    pub focused: bool,
}

/// The operator is typing the filter.
pub fn editing_filter(m: &Model) -> bool {
    m.ui.overlay == Some(Overlay::Filter)
}

impl<'a> Widget for &LogPane<'a> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.model;
        let t = self.theme;
        let picking = self.focused && !editing_filter(m);
        let mut block = super::pane(title(m, t, picking), self.focused, t);
        if editing_filter(m) || !m.log.filter.is_empty() {
            block = block.title_bottom(filter_line(m, t));
        }
        let inner = block.inner(area);
        block.render(area, buf);
        let height = inner.height as usize;
        let selected = picking
            .then(|| m.log.selected_line().map(|l| l.seq))
            .flatten();
        let start = m.run.started_ms.unwrap_or(0);
        let rows = |lines: Vec<&'a LogLine>| -> Vec<Row<'a>> {
            lines
                .into_iter()
                .map(|l| Row::of(l, start, t, selected == Some(l.seq)))
                .collect()
        };
        let view = m.log.pane_view;
        let mut shown = rows(m.log.window(height));
        // Wrapped lines take more rows: the selected one must stay in view.
        if view.wrap && selected.is_some() && !fits_selected(&shown, inner.width as usize, height) {
            shown = rows(m.log.window_at(height, m.log.selected));
        }
        draw_rows(buf, inner, &shown, view, t);
    }
}

/// Whether the selected row is among the last `height` screen rows.
fn fits_selected(rows: &[Row<'_>], width: usize, height: usize) -> bool {
    let mut used = 0;
    for r in rows.iter().rev() {
        used += r.height(width);
        if r.selected {
            return used <= height;
        }
    }
    true
}

fn title(m: &Model, t: Theme, focused: bool) -> Line<'static> {
    let mut spans = vec![Span::raw(" log ")];
    if m.log.follow {
        spans.push(Span::styled("following ", t.dim()));
    } else if m.log.scroll > 0 {
        spans.push(Span::styled(
            format!("paused, {} newer · f follows ", m.log.scroll),
            t.notice(),
        ));
    } else {
        spans.push(Span::styled("paused · f follows ", t.notice()));
    }
    let marks = view_marks(m.log.pane_view, t);
    let enter = focused.then(|| Span::styled("Enter: the line's output ", t.dim()));
    for extra in marks.into_iter().chain(enter) {
        spans.push(Span::styled("· ", t.dim()));
        spans.push(extra);
    }
    Line::from(spans)
}

/// What a pane's title says of its wrap and sideways scroll.
pub fn view_marks(v: LineView, t: Theme) -> Option<Span<'static>> {
    if v.wrap {
        Some(Span::styled("wrap · W cuts ", t.dim()))
    } else if v.hscroll > 0 {
        Some(Span::styled(
            format!("from column {} · ← ", v.hscroll + 1),
            t.dim(),
        ))
    } else {
        None
    }
}

fn filter_line(m: &Model, t: Theme) -> Line<'static> {
    let cursor = if editing_filter(m) { "▏" } else { "" };
    Line::from(vec![
        Span::raw(" /"),
        Span::styled(format!("{}{cursor}", cells(&m.log.filter)), t.bold()),
        Span::styled(
            if editing_filter(m) {
                "  Enter keeps (and selects the step it names) · Esc clears "
            } else {
                "  Esc clears "
            },
            t.dim(),
        ),
    ])
}

/// `mm:ss ` since the run started.
pub fn clock(ts_ms: u64, start_ms: u64) -> String {
    let s = ts_ms.saturating_sub(start_ms) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02} ", s / 3600, (s % 3600) / 60, s % 60)
    } else {
        format!("{:02}:{:02} ", s / 60, s % 60)
    }
}

/// `mm:ss` since the run started, then the event's text.
pub fn log_line(l: &LogLine, start_ms: u64, t: Theme) -> Line<'_> {
    Line::from(vec![
        Span::styled(clock(l.ts_ms, start_ms), t.dim()),
        Span::styled(cells(&l.text), t.tone(l.tone)),
    ])
}

/// One line to draw: a gutter that stays put (the clock, a stream mark)
/// and text that wraps or scrolls sideways.
pub struct Row<'a> {
    pub gutter: Vec<Span<'a>>,
    /// Already safe for the terminal.
    pub text: Cow<'a, str>,
    pub style: Style,
    pub selected: bool,
}

impl<'a> Row<'a> {
    /// A log line as the pane shows it.
    pub fn of(l: &'a LogLine, start_ms: u64, t: Theme, selected: bool) -> Row<'a> {
        Row {
            gutter: vec![Span::styled(clock(l.ts_ms, start_ms), t.dim())],
            text: cells(&l.text),
            style: t.tone(l.tone),
            selected,
        }
    }

    fn gutter_width(&self) -> usize {
        self.gutter.iter().map(|s| s.content.width()).sum()
    }

    /// Screen rows it takes when wrapped at `width` columns.
    fn height(&self, width: usize) -> usize {
        let room = width.saturating_sub(self.gutter_width()).max(1);
        self.text.width().div_ceil(room).max(1)
    }
}

/// Draws `rows` (oldest first) into `area` from its top; when they take
/// more screen rows than it has, the newest rows are the ones shown.
/// Wrapped, a line goes on under its text; cut, it starts `hscroll`
/// columns in and a `…` says there is more.
pub fn draw_rows(buf: &mut Buffer, area: Rect, rows: &[Row<'_>], view: LineView, t: Theme) {
    let (width, height) = (area.width as usize, area.height as usize);
    if width == 0 || height == 0 {
        return;
    }
    let mut lines: Vec<Line<'_>> = Vec::new();
    for r in rows {
        let gw = r.gutter_width();
        let room = width.saturating_sub(gw).max(1);
        let style = match r.selected {
            true => r.style.patch(t.selected()),
            false => r.style,
        };
        if view.wrap {
            // A line taller than the area shows its last rows.
            let pieces = wrap_cols(&r.text, room);
            let skip = pieces.len().saturating_sub(height);
            for (i, piece) in pieces.into_iter().enumerate().skip(skip) {
                let lead = match i {
                    0 => r.gutter.clone(),
                    _ => vec![Span::raw(" ".repeat(gw))],
                };
                let mut spans = lead;
                spans.push(Span::styled(piece.to_string(), style));
                lines.push(Line::from(spans));
            }
        } else {
            let mut spans = r.gutter.clone();
            let rest = skip_cols(&r.text, view.hscroll);
            if view.hscroll > 0 && !r.text.is_empty() {
                spans.push(Span::styled("…", t.dim()));
                spans.push(Span::styled(super::fit(rest, room - 1), style));
            } else {
                spans.push(Span::styled(super::fit(rest, room), style));
            }
            lines.push(Line::from(spans));
        }
    }
    let skip = lines.len().saturating_sub(height);
    for (row, line) in lines.iter().skip(skip).enumerate() {
        buf.set_line(area.x, area.y + row as u16, line, area.width);
    }
}

/// `text` in pieces of at most `width` columns (a wide character is never
/// split); an empty text is one empty piece.
pub fn wrap_cols(text: &str, width: usize) -> Vec<&str> {
    let width = width.max(2);
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            out.push(&text[start..i]);
            (start, used) = (i, 0);
        }
        used += w;
    }
    out.push(&text[start..]);
    out
}

/// `text` without its first `cols` columns.
pub fn skip_cols(text: &str, cols: usize) -> &str {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        if used >= cols {
            return &text[i..];
        }
        used += c.width().unwrap_or(0);
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_cuts_by_columns_and_keeps_everything() {
        assert_eq!(wrap_cols("abcdefg", 3), ["abc", "def", "g"]);
        assert_eq!(wrap_cols("", 3), [""]);
        assert_eq!(wrap_cols("ab日本", 3), ["ab", "日", "本"]);
        let long = "x".repeat(300);
        assert_eq!(wrap_cols(&long, 74).concat(), long);
    }

    #[test]
    fn skip_cols_counts_columns() {
        assert_eq!(skip_cols("abcdef", 2), "cdef");
        assert_eq!(skip_cols("日本語", 2), "本語");
        assert_eq!(skip_cols("abc", 9), "");
        assert_eq!(skip_cols("abc", 0), "abc");
    }
}
