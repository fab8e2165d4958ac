//! The graph pane: the DAG left to right in layers, a box per step (or in
//! compact mode a line) with its status glyph and colour, attempt and time
//! or exit code, and edges between them. Only what falls inside the pane
//! is drawn, so a frame of a 10,000-step graph costs what the visible part
//! costs. Reads the model, writes the buffer; knows nothing of keys or the
//! engine.

pub mod detail;
pub mod group;
#[cfg(test)]
mod tests;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthStr;

use super::theme::{self, Theme};
use crate::safe::cells;
use crate::tui::model::Model;
use crate::tui::model::graph::{Arrangement, CanvasRect, Item, Node};
use crate::tui::model::{Model as M, Selection};
use crate::workflow::layout::dir::{LEFT, RIGHT};

pub use self::detail::detail;

pub struct GraphPane<'a> {
    pub model: &'a Model,
    pub theme: Theme,
    pub focused: bool,
}

/// A window of the canvas, drawn into `area` of the buffer.
struct Window {
    area: Rect,
    /// The canvas cell at the area's top-left.
    ox: usize,
    oy: usize,
}

impl Window {
    fn w(&self) -> usize {
        self.area.width as usize
    }

    fn h(&self) -> usize {
        self.area.height as usize
    }

    /// The buffer position of canvas cell (x, y), if it is in the window.
    fn at(&self, x: usize, y: usize) -> Option<(u16, u16)> {
        let (dx, dy) = (x.checked_sub(self.ox)?, y.checked_sub(self.oy)?);
        (dx < self.w() && dy < self.h()).then(|| (self.area.x + dx as u16, self.area.y + dy as u16))
    }

    /// Writes `text` from canvas cell (x, y); a wide character takes two
    /// cells, a zero-width one none.
    fn put(&self, buf: &mut Buffer, x: usize, y: usize, text: &str, style: Style) {
        let mut at = x;
        for c in text.chars() {
            let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if w == 0 {
                continue;
            }
            if let Some(pos) = self.at(at, y)
                && let Some(cell) = buf.cell_mut(pos)
            {
                cell.set_char(c).set_style(style);
            }
            at += w;
        }
    }

    /// The items of drawing columns in view, as (column, item) ranges.
    fn columns<'a>(&self, arr: &'a Arrangement) -> impl Iterator<Item = usize> + 'a {
        let (ox, end) = (self.ox, self.ox + self.w());
        let first = arr.cols.partition_point(|c| c.x + c.w <= ox);
        (first..arr.cols.len()).take_while(move |&i| arr.cols[i].x < end)
    }

    fn rows(&self, items: &[(usize, Item)], h: usize) -> std::ops::Range<usize> {
        let lo = items.partition_point(|(y, _)| y + h <= self.oy);
        let hi = items.partition_point(|(y, _)| *y < self.oy + self.h());
        lo..hi.max(lo)
    }
}

impl Widget for &GraphPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.model;
        let inner = ratatui::widgets::Block::bordered().inner(area);
        let view = (inner.width as usize, inner.height as usize);
        let arr = m.graph.arrangement(view, m.ui.compact);
        let block = super::pane(title(m, arr.compact, self.theme), self.focused, self.theme)
            .title_bottom(selected_line(m, self.theme));
        block.render(area, buf);
        if inner.is_empty() || m.steps.is_empty() {
            return;
        }
        // The offset `update` keeps (scrolled past the selection, maybe)
        // when this is its arrangement; else one that shows the selection.
        let (ox, oy) = if arr.view == m.graph.arr.view && arr.choice == m.graph.arr.choice {
            let (w, h) = arr.size;
            let (x, y) = m.ui.graph_offset;
            (
                x.min(w.saturating_sub(view.0)),
                y.min(h.saturating_sub(view.1)),
            )
        } else {
            arr.keep_visible(m.selected_node(), m.ui.graph_offset, view)
        };
        let win = Window {
            area: inner,
            ox,
            oy,
        };
        draw_edges(&arr, &win, buf, self.theme);
        for c in win.columns(&arr) {
            let col = &arr.cols[c];
            for &(y, item) in &col.items[win.rows(&col.items, arr.item_h)] {
                let Item::Step(n) = item else { continue };
                let r = CanvasRect {
                    x: col.x,
                    y,
                    w: col.w,
                    h: arr.item_h,
                };
                let label = arr.labels.get(n).map_or("", String::as_str);
                let selected = n == m.selected_node();
                let on = Drawn {
                    label,
                    selected,
                    r,
                    win: &win,
                    theme: self.theme,
                };
                match (m.graph.node(n), arr.compact) {
                    (Some(Node::Step(s)), true) => draw_line(m, s, &on, buf),
                    (Some(Node::Step(s)), false) => draw_box(m, s, &on, buf),
                    (Some(Node::Group(g) | Node::Header(g)), true) => group::line(m, g, &on, buf),
                    (Some(Node::Group(g) | Node::Header(g)), false) => group::boxed(m, g, &on, buf),
                    (None, _) => {}
                }
            }
        }
    }
}

fn title(m: &Model, compact: bool, theme: Theme) -> Line<'static> {
    let n = m.steps.len();
    let mode = if compact { "· compact " } else { "" };
    Line::from(vec![
        Span::raw(" graph "),
        Span::styled(
            format!("{n} step{} {mode}", if n == 1 { "" } else { "s" }),
            theme.dim(),
        ),
    ])
}

/// The selected step, in words, under the graph.
fn selected_line(m: &Model, theme: Theme) -> Line<'static> {
    if let Selection::Group(g) = m.selection() {
        return group::selected_line(m, g, theme);
    }
    let Some(s) = m.steps.get(m.ui.selected) else {
        return Line::default();
    };
    let mut text = format!(
        " {} {}: {}",
        theme::glyph(s.status, s.kind),
        cells(&s.id),
        detail::state(s)
    );
    if s.attempt > 1 {
        text.push_str(&format!(", attempt {}", s.attempt));
    }
    if s.status == crate::tui::model::Status::Failed {
        text.push_str(&format!(" ({})", detail::failure(s)));
    }
    text.push_str(" · Enter: output ");
    Line::styled(text, theme.status(s.status))
}

/// The gaps' lines, and lines passing through columns, in view.
fn draw_edges(arr: &Arrangement, win: &Window, buf: &mut Buffer, theme: Theme) {
    let mut bits = vec![0u8; win.w() * win.h()];
    let mut mark = |x: usize, y: usize, d: u8| {
        if let (Some(dx), Some(dy)) = (x.checked_sub(win.ox), y.checked_sub(win.oy))
            && dx < win.w()
            && dy < win.h()
        {
            bits[dy * win.w() + dx] |= d;
        }
    };
    let port = arr.port();
    let mut arrows = Vec::new();
    let (ox, end) = (win.ox, win.ox + win.w());
    let first = arr.gaps.partition_point(|g| g.x + g.width <= ox);
    for (i, g) in arr.gaps.iter().enumerate().skip(first) {
        if g.x >= end {
            break;
        }
        let (left, right) = (&arr.cols[i], &arr.cols[i + 1]);
        for &(x, y, d) in g.cells(left, right, port) {
            mark(g.x + x, y, d);
        }
        for &(a, b) in &g.links {
            // A line through the columns on either side meets the gap's.
            if let Some((y, Item::Line)) = left.items.get(a) {
                mark(g.x, y + port, LEFT);
            }
            match right.items.get(b) {
                Some((y, Item::Line)) => mark(g.x + g.width - 1, y + port, RIGHT),
                Some((y, Item::Step(_))) => arrows.push((g.x + g.width - 1, y + port)),
                None => {}
            }
        }
    }
    for c in win.columns(arr) {
        let col = &arr.cols[c];
        for &(y, item) in &col.items[win.rows(&col.items, arr.item_h)] {
            if item == Item::Line {
                for x in col.x.max(ox)..(col.x + col.w).min(end) {
                    mark(x, y + port, LEFT | RIGHT);
                }
            }
        }
    }
    let style = theme.dim();
    for (i, &d) in bits.iter().enumerate() {
        if d != 0
            && let Some(cell) = buf.cell_mut((
                win.area.x + (i % win.w()) as u16,
                win.area.y + (i / win.w()) as u16,
            ))
        {
            cell.set_char(crate::workflow::layout::line_char(d))
                .set_style(style);
        }
    }
    for (x, y) in arrows {
        win.put(buf, x, y, "▶", style);
    }
}

/// Where and how one node is drawn.
pub struct Drawn<'a> {
    /// Its label as arranged (the id cut to fit).
    pub label: &'a str,
    pub selected: bool,
    pub r: CanvasRect,
    win: &'a Window,
    pub theme: Theme,
}

impl Drawn<'_> {
    /// Writes `text` from canvas cell (x, y), inside the pane.
    pub fn put(&self, buf: &mut Buffer, x: usize, y: usize, text: &str, style: Style) {
        self.win.put(buf, x, y, text, style);
    }

    /// A box's border in `style`, heavy when selected, and its label in the
    /// top border; the caller fills the line inside.
    pub fn frame(&self, buf: &mut Buffer, style: Style) {
        let CanvasRect { x, y, w, h } = self.r;
        let [tl, tr, bl, br, hz, vt] = if self.selected {
            ["┏", "┓", "┗", "┛", "━", "┃"]
        } else {
            ["╭", "╮", "╰", "╯", "─", "│"]
        };
        let line = hz.repeat(w - 2);
        self.put(buf, x, y, &format!("{tl}{line}{tr}"), style);
        self.put(buf, x, y + h - 1, &format!("{bl}{line}{br}"), style);
        self.put(buf, x, y + 1, vt, style);
        self.put(buf, x + w - 1, y + 1, vt, style);
        let name_style = if self.selected {
            style.patch(self.theme.selected())
        } else {
            style.patch(self.theme.bold())
        };
        self.put(buf, x + 1, y, &format!(" {} ", self.label), name_style);
    }
}

fn draw_box(m: &M, s: usize, on: &Drawn, buf: &mut Buffer) {
    let CanvasRect { x, y, w, .. } = on.r;
    let theme = on.theme;
    let step = &m.steps[s];
    let style = theme.status(step.status);
    on.frame(buf, style);
    let body = format!(
        " {} {:<width$}",
        theme::glyph(step.status, step.kind),
        super::fit(&detail(m, s), w - 5),
        width = w - 5
    );
    on.put(buf, x + 1, y + 1, &body, style);
    // In the bottom border, as the id is in the top one: the box keeps its
    // size, and the line inside keeps saying the step's own state.
    if let Some((text, state)) = detail::breaker(m, s) {
        let text = format!(" {} ", super::fit(&text, w.saturating_sub(4)));
        on.put(buf, x + 1, y + on.r.h - 1, &text, theme.breaker(state));
    }
}

/// A compact line: `✓ build-st…aarch64      1.4s`, the time or exit code
/// flush right.
fn draw_line(m: &M, s: usize, on: &Drawn, buf: &mut Buffer) {
    let (r, theme, label) = (on.r, on.theme, on.label);
    let step = &m.steps[s];
    let room = r.w.saturating_sub(3 + label.width());
    let short = detail::short(m, s);
    // A step with nothing of its own to say there shows its breaker.
    let breaker = short
        .is_empty()
        .then(|| detail::breaker_short(m, s))
        .flatten()
        .map(|(text, state)| (super::fit(&text, room), state));
    let shown = breaker.as_ref().map_or(short, |(text, _)| text.clone());
    let text = format!(
        "{} {label} {:>room$}",
        theme::glyph(step.status, step.kind),
        super::fit(&shown, room),
    );
    let mut style = theme.status(step.status);
    if on.selected {
        style = style.patch(theme.selected());
    }
    on.put(buf, r.x, r.y, &text, style);
    // Flush right, where the line ends, in the breaker's colour.
    if let Some((text, state)) = breaker {
        let mut style = theme.breaker(state);
        if on.selected {
            style = style.patch(theme.selected());
        }
        on.put(
            buf,
            r.x + r.w.saturating_sub(text.width()),
            r.y,
            &text,
            style,
        );
    }
}
