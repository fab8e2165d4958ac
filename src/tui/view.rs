//! The view: draws a [`Model`] into a ratatui frame and changes nothing.
//! Where the panes go ([`areas`]) is a pure function of the terminal size,
//! shared with `update` so it can keep the graph selection in view. Knows
//! nothing of the engine beyond the model, and never reads the clock.

pub mod graph;
pub mod log;
pub mod overlay;
pub mod status;
pub mod theme;
pub mod waits;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use self::theme::Theme;
use super::model::Model;
use super::model::ui::Pane;

/// Terminals at least this wide put the log and the wait queue side by side.
const WIDE: u16 = 120;

/// Where everything goes on a screen of (columns, rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// Everything above the status line.
    pub body: Rect,
    pub graph: Rect,
    pub waits: Rect,
    pub log: Rect,
    pub status: Rect,
}

/// Whether a screen `width` columns wide puts the log and the wait queue
/// side by side.
pub fn side_by_side(width: u16) -> bool {
    width >= WIDE
}

/// `waits`: the rows the wait queue wants inside its borders
/// ([`waits::rows`]); on a narrow screen it takes only those, up to what
/// leaves the log three lines.
pub fn areas(screen: (u16, u16), waits: usize) -> Areas {
    let (w, h) = screen;
    let body = Rect::new(0, 0, w, h.saturating_sub(1));
    let status = Rect::new(0, body.height, w, h.min(1));
    let graph_h = if w >= WIDE {
        body.height * 55 / 100
    } else {
        body.height * 45 / 100
    };
    let graph = Rect::new(0, 0, w, graph_h);
    let rest = Rect::new(0, graph_h, w, body.height - graph_h);
    let (waits, log) = if side_by_side(w) {
        let log_w = w * 60 / 100;
        (
            Rect::new(log_w, rest.y, w - log_w, rest.height),
            Rect::new(0, rest.y, log_w, rest.height),
        )
    } else {
        let want = u16::try_from(waits.max(1))
            .unwrap_or(u16::MAX)
            .saturating_add(2);
        let most = (rest.height / 2).max(rest.height.saturating_sub(5));
        let waits_h = want.min(most);
        (
            Rect::new(0, rest.y, w, waits_h),
            Rect::new(0, rest.y + waits_h, w, rest.height - waits_h),
        )
    };
    Areas {
        body,
        graph,
        waits,
        log,
        status,
    }
}

/// Where everything goes for the model's screen size and waits.
pub fn layout(model: &Model) -> Areas {
    let screen = model.ui.screen;
    areas(screen, waits::rows(model, screen.0))
}

/// Draws the whole screen.
pub fn view(model: &Model, frame: &mut Frame) {
    let size = frame.area();
    let a = areas((size.width, size.height), waits::rows(model, size.width));
    let theme = Theme {
        color: model.ui.color,
    };
    let focus = |p: Pane| model.ui.focus == p && model.ui.overlay.is_none();
    frame.render_widget(
        &graph::GraphPane {
            model,
            theme,
            focused: focus(Pane::Graph),
        },
        a.graph,
    );
    frame.render_widget(
        &waits::WaitPane {
            model,
            theme,
            focused: focus(Pane::Waits),
        },
        a.waits,
    );
    frame.render_widget(
        &log::LogPane {
            model,
            theme,
            focused: focus(Pane::Log) || log::editing_filter(model),
        },
        a.log,
    );
    frame.render_widget(&status::StatusLine { model, theme }, a.status);
    overlay::draw(model, theme, frame, &a);
}

/// A pane's frame: rounded, thick and coloured when it has the keys.
pub fn pane<'a>(title: Line<'a>, focused: bool, theme: Theme) -> Block<'a> {
    Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(theme.border(focused))
        .title(title)
}

/// `text` cut to `max` terminal columns, with `…` when cut (a CJK
/// character takes two columns).
pub fn fit(text: &str, max: usize) -> String {
    if text.width() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}
