//! The graph pane: the DAG left to right in layers, a box per step with its
//! status glyph and colour, attempt and time, and edges between boxes. Only
//! what falls inside the pane is drawn, so a frame of a 1,000-step graph
//! costs what the visible part costs. Reads the model, writes the buffer;
//! knows nothing of keys or the engine.

use crate::safe::cells;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::theme::{self, Theme};
use crate::tui::model::graph::{BOX_H, BOX_W, CanvasRect, Graph, PITCH_X, PITCH_Y};
use crate::tui::model::{Model, Status};
use crate::workflow::layout::Slot;

pub struct GraphPane<'a> {
    pub model: &'a Model,
    pub theme: Theme,
    pub focused: bool,
}

use crate::workflow::layout::dir::{DOWN, LEFT, RIGHT, UP};

/// A window of the canvas, drawn into `area` of the buffer.
struct Window {
    area: Rect,
    /// The canvas cell at the area's top-left.
    ox: usize,
    oy: usize,
}

impl Window {
    /// The buffer position of canvas cell (x, y), if it is in the window.
    fn at(&self, x: usize, y: usize) -> Option<(u16, u16)> {
        let (dx, dy) = (x.checked_sub(self.ox)?, y.checked_sub(self.oy)?);
        (dx < self.area.width as usize && dy < self.area.height as usize)
            .then(|| (self.area.x + dx as u16, self.area.y + dy as u16))
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

    fn intersects(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> bool {
        x1 >= self.ox
            && y1 >= self.oy
            && x0 < self.ox + self.area.width as usize
            && y0 < self.oy + self.area.height as usize
    }
}

/// Edge directions per visible cell, turned into box-drawing characters
/// at the end so joins and crossings come out right.
struct Edges<'w> {
    win: &'w Window,
    bits: Vec<u8>,
}

impl Edges<'_> {
    fn mark(&mut self, x: usize, y: usize, dirs: u8) {
        if let Some((bx, by)) = self.win.at(x, y) {
            let (dx, dy) = (bx - self.win.area.x, by - self.win.area.y);
            let i = dy as usize * self.win.area.width as usize + dx as usize;
            if let Some(cell) = self.bits.get_mut(i) {
                *cell |= dirs;
            }
        }
    }

    fn hline(&mut self, y: usize, a: usize, b: usize) {
        let lo = a.max(self.win.ox);
        let hi = b.min(self.win.ox + self.win.area.width as usize);
        for x in lo..=hi {
            let dirs = if x > a { LEFT } else { 0 } | if x < b { RIGHT } else { 0 };
            self.mark(x, y, dirs);
        }
    }

    fn vline(&mut self, x: usize, a: usize, b: usize) {
        let (a, b) = (a.min(b), a.max(b));
        let lo = a.max(self.win.oy);
        let hi = b.min(self.win.oy + self.win.area.height as usize);
        for y in lo..=hi {
            let dirs = if y > a { UP } else { 0 } | if y < b { DOWN } else { 0 };
            self.mark(x, y, dirs);
        }
    }

    fn render(&self, buf: &mut Buffer, style: Style) {
        let w = self.win.area.width as usize;
        for (i, &d) in self.bits.iter().enumerate() {
            if d == 0 {
                continue;
            }
            let pos = (
                self.win.area.x + (i % w) as u16,
                self.win.area.y + (i / w) as u16,
            );
            if let Some(cell) = buf.cell_mut(pos) {
                cell.set_char(crate::workflow::layout::line_char(d))
                    .set_style(style);
            }
        }
    }
}

impl Widget for &GraphPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.model;
        let block = super::pane(title(m, self.theme), self.focused, self.theme)
            .title_bottom(selected_line(m, self.theme));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.is_empty() || m.steps.is_empty() {
            return;
        }
        let view = (inner.width as usize, inner.height as usize);
        let (ox, oy) = m.graph.keep_visible(m.ui.selected, m.ui.graph_offset, view);
        let win = Window {
            area: inner,
            ox,
            oy,
        };
        draw_edges(&m.graph, &win, buf, self.theme);
        let span = |off: usize, len: usize, pitch: usize, n: usize| {
            (off / pitch).min(n)..((off + len) / pitch + 1).min(n)
        };
        let columns = &m.graph.columns;
        for column in &columns[span(ox, view.0, PITCH_X, columns.len())] {
            for slot in &column[span(oy, view.1, PITCH_Y, column.len())] {
                if let Slot::Step(s) = slot {
                    draw_box(m, *s, &win, buf, self.theme);
                }
            }
        }
    }
}

fn title(m: &Model, theme: Theme) -> Line<'static> {
    Line::from(vec![
        Span::raw(" graph "),
        Span::styled(
            match m.steps.len() {
                1 => "1 step ".to_string(),
                n => format!("{n} steps "),
            },
            theme.dim(),
        ),
    ])
}

/// The selected step, in words, under the graph.
fn selected_line(m: &Model, theme: Theme) -> Line<'static> {
    let Some(s) = m.steps.get(m.ui.selected) else {
        return Line::default();
    };
    let mut text = format!(
        " {} {}: {}",
        theme::glyph(s.status, s.kind),
        cells(&s.id),
        theme::word(s.status)
    );
    if s.attempt > 1 {
        text.push_str(&format!(", attempt {}", s.attempt));
    }
    text.push_str(" · Enter: output ");
    Line::styled(text, theme.status(s.status))
}

fn draw_edges(g: &Graph, win: &Window, buf: &mut Buffer, theme: Theme) {
    let mut edges = Edges {
        win,
        bits: vec![0; win.area.width as usize * win.area.height as usize],
    };
    let mut arrows = Vec::new();
    for (&((c, r1), (_, r2)), &lane) in g.links.iter().zip(&g.lanes) {
        let src = Graph::slot_rect(c, r1);
        let x0 = match g.columns[c].get(r1) {
            Some(Slot::Step(_)) => src.x + BOX_W,
            _ => src.x,
        };
        let bus = src.x + BOX_W + 1 + lane;
        let x1 = (c + 1) * PITCH_X - 1;
        let (y1, y2) = (src.y + 1, r2 * PITCH_Y + 1);
        if !win.intersects(x0, y1.min(y2), x1 + 1, y1.max(y2)) {
            continue;
        }
        if y1 == y2 {
            // Straight across: no bend, no junction with the lane.
            edges.hline(y1, x0, x1);
        } else {
            edges.hline(y1, x0, bus);
            edges.vline(bus, y1, y2);
        }
        match g.columns.get(c + 1).and_then(|col| col.get(r2)) {
            Some(Slot::Step(_)) => {
                edges.hline(y2, bus, x1);
                arrows.push((x1, y2));
            }
            _ => edges.hline(y2, bus, x1 + 1),
        }
    }
    let style = theme.dim();
    edges.render(buf, style);
    for (x, y) in arrows {
        win.put(buf, x, y, "▶", style);
    }
}

fn draw_box(m: &Model, s: usize, win: &Window, buf: &mut Buffer, theme: Theme) {
    let Some(r) = m.graph.step_rect(s) else {
        return;
    };
    let CanvasRect { x, y, w, .. } = r;
    let step = &m.steps[s];
    let selected = s == m.ui.selected;
    let style = theme.status(step.status);
    let [tl, tr, bl, br, hz, vt] = if selected {
        ["┏", "┓", "┗", "┛", "━", "┃"]
    } else {
        ["╭", "╮", "╰", "╯", "─", "│"]
    };
    let line = hz.repeat(w - 2);
    win.put(buf, x, y, &format!("{tl}{line}{tr}"), style);
    win.put(buf, x, y + BOX_H - 1, &format!("{bl}{line}{br}"), style);
    let body = format!(
        " {} {:<width$}",
        theme::glyph(step.status, step.kind),
        super::fit(&detail(m, s), w - 5),
        width = w - 5
    );
    win.put(buf, x, y + 1, vt, style);
    win.put(buf, x + 1, y + 1, &body, style);
    win.put(buf, x + w - 1, y + 1, vt, style);
    let name = format!(" {} ", super::fit(&cells(&step.id), w - 4));
    let name_style = if selected {
        style.patch(theme.selected())
    } else {
        style.patch(theme.bold())
    };
    win.put(buf, x + 1, y, &name, name_style);
}

/// The line inside a step's box: attempt, status and time.
pub fn detail(m: &Model, s: usize) -> String {
    let step = &m.steps[s];
    let now = m.now_ms;
    let attempt = if step.attempt > 1 {
        format!("#{} ", step.attempt)
    } else {
        String::new()
    };
    let since = |t: Option<u64>| t.map(|t| now.saturating_sub(t));
    match step.status {
        Status::Running => {
            let t = since(step.first_start_ms)
                .map(theme::seconds)
                .unwrap_or_default();
            format!("{attempt}running {t}")
        }
        Status::Backoff { due_ms } if due_ms > now => {
            format!("{attempt}retry in {}", theme::seconds(due_ms - now + 999))
        }
        Status::Backoff { .. } => format!("{attempt}retrying"),
        Status::Waiting => match m.waits.list().iter().find(|w| w.step == s) {
            Some(w) => format!(
                "waits {}",
                theme::countdown(w.deadline_ms.saturating_sub(now))
            ),
            None => "waiting".into(),
        },
        Status::Succeeded => {
            let word = if step.fallback { "fallback" } else { "done" };
            let t = step.duration_ms.map(theme::elapsed).unwrap_or_default();
            format!("{attempt}{word} {t}")
        }
        Status::Failed => format!("failed {attempt}").trim_end().to_string(),
        other => theme::word(other).to_string(),
    }
}
