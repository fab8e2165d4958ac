//! The event log pane: one readable line per event, the time since the run
//! started in front, coloured by kind; follow, scrollback and the filter
//! show in its title. Draws only the lines that fit; never filters or
//! scrolls anything itself (the model's log does).

use crate::safe::cells;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::theme::Theme;
use crate::tui::model::Model;
use crate::tui::model::log::LogLine;
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

impl Widget for &LogPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.model;
        let t = self.theme;
        let mut block = super::pane(title(m, t), self.focused, t);
        if editing_filter(m) || !m.log.filter.is_empty() {
            block = block.title_bottom(filter_line(m, t));
        }
        let inner = block.inner(area);
        block.render(area, buf);
        let start = m.run.started_ms.unwrap_or(0);
        let lines = m.log.window(inner.height as usize);
        for (row, l) in lines.iter().enumerate() {
            let line = log_line(l, start, t);
            buf.set_line(inner.x, inner.y + row as u16, &line, inner.width);
        }
    }
}

fn title(m: &Model, t: Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(" log ")];
    if m.log.follow {
        spans.push(Span::styled("following ", t.dim()));
    } else {
        spans.push(Span::styled(
            format!("paused, {} newer · f follows ", m.log.scroll),
            t.notice(),
        ));
    }
    Line::from(spans)
}

fn filter_line(m: &Model, t: Theme) -> Line<'static> {
    let cursor = if editing_filter(m) { "▏" } else { "" };
    Line::from(vec![
        Span::raw(" /"),
        Span::styled(format!("{}{cursor}", cells(&m.log.filter)), t.bold()),
        Span::styled(
            if editing_filter(m) {
                "  Enter keeps · Esc clears "
            } else {
                "  Esc clears "
            },
            t.dim(),
        ),
    ])
}

/// `mm:ss` since the run started, then the event's text.
pub fn log_line(l: &LogLine, start_ms: u64, t: Theme) -> Line<'_> {
    let s = l.ts_ms.saturating_sub(start_ms) / 1000;
    let clock = if s >= 3600 {
        format!("{}:{:02}:{:02} ", s / 3600, (s % 3600) / 60, s % 60)
    } else {
        format!("{:02}:{:02} ", s / 60, s % 60)
    };
    Line::from(vec![
        Span::styled(clock, t.dim()),
        Span::styled(cells(&l.text), t.tone(l.tone)),
    ])
}
