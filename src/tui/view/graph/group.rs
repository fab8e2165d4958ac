//! A matrix group on the graph: its box while closed (`build ×5` in the
//! top border, then its aggregate glyph and `✓2 ▶1 ✗1 ·1`, each count in
//! its status's glyph and colour, zero counts left out), the same box as
//! the header over its instances while open (`▾ build ×5`), and the same
//! as one line in compact mode.

use ratatui::buffer::Buffer;
use ratatui::style::Style;
use ratatui::text::Line;
use unicode_width::UnicodeWidthStr;

use super::Drawn;
use crate::safe::cells;
use crate::tui::model::group::{aggregate, counts};
use crate::tui::model::{Kind, Model, Status};
use crate::tui::view::theme::{self, Theme};

/// The kind of the group's instances, for the glyph of a wait.
fn kind(m: &Model, g: usize) -> Kind {
    let first = m.groups.get(g).and_then(|g| g.members.first());
    first
        .and_then(|&i| m.steps.get(i))
        .map_or(Kind::Run, |s| s.kind)
}

/// The group's counts as pieces: (`✓2`, its status), zero counts left out.
pub fn pieces(m: &Model, g: usize) -> Vec<(String, Status)> {
    let Some(group) = m.groups.get(g) else {
        return Vec::new();
    };
    let kind = kind(m, g);
    (counts(&m.steps, &group.members).into_iter())
        .filter(|&(_, n)| n > 0)
        .map(|(s, n)| (format!("{}{n}", theme::glyph(s, kind)), s))
        .collect()
}

/// The group's status and counts in words: `✓2 ▶1 ✗1 ·1`.
pub fn counts_text(m: &Model, g: usize) -> String {
    let p: Vec<String> = pieces(m, g).into_iter().map(|(t, _)| t).collect();
    p.join(" ")
}

/// Writes the counts from canvas (x, y) in at most `room` columns, each
/// in its status's colour; what does not fit ends in `…`.
fn put_counts(m: &Model, g: usize, on: &Drawn, buf: &mut Buffer, at: (usize, usize), room: usize) {
    let (mut x, y) = at;
    let end = at.0 + room;
    for (i, (text, status)) in pieces(m, g).into_iter().enumerate() {
        let text = if i == 0 { text } else { format!(" {text}") };
        let mut style = on.theme.status(status);
        if on.selected && on.r.h == 1 {
            style = style.patch(on.theme.selected());
        }
        if x + text.width() > end {
            if x < end {
                on.put(buf, x, y, &crate::tui::view::fit(&text, end - x), style);
            }
            return;
        }
        on.put(buf, x, y, &text, style);
        x += text.width();
    }
}

fn style_of(m: &Model, g: usize, theme: Theme) -> (Status, Style) {
    let members = m.groups.get(g).map_or(&[][..], |g| &g.members);
    let status = aggregate(&m.steps, members);
    (status, theme.status(status))
}

/// The group's box: its border in the aggregate's colour, the aggregate
/// glyph, then the counts.
pub fn boxed(m: &Model, g: usize, on: &Drawn, buf: &mut Buffer) {
    let (status, style) = style_of(m, g, on.theme);
    on.frame(buf, style);
    let (x, y, w) = (on.r.x, on.r.y + 1, on.r.w);
    let blank = " ".repeat(w.saturating_sub(2));
    on.put(buf, x + 1, y, &blank, style);
    on.put(buf, x + 2, y, theme::glyph(status, kind(m, g)), style);
    put_counts(m, g, on, buf, (x + 4, y), w.saturating_sub(5));
}

/// The group as a compact line: `▶ build ×5 ✓2 ▶1 ✗1 ·1`.
pub fn line(m: &Model, g: usize, on: &Drawn, buf: &mut Buffer) {
    let (status, mut style) = style_of(m, g, on.theme);
    if on.selected {
        style = style.patch(on.theme.selected());
    }
    let (r, label) = (on.r, on.label);
    let head = format!("{} {label} ", theme::glyph(status, kind(m, g)));
    on.put(buf, r.x, r.y, &format!("{head:<w$}", w = r.w), style);
    let at = r.x + head.width();
    put_counts(m, g, on, buf, (at, r.y), (r.x + r.w).saturating_sub(at));
}

/// The selected group, in words, under the graph.
pub fn selected_line(m: &Model, g: usize, theme: Theme) -> Line<'static> {
    let Some(group) = m.groups.get(g) else {
        return Line::default();
    };
    let (status, style) = style_of(m, g, theme);
    let keys = match group.open {
        true => "Enter or -: close",
        false => "Enter: open",
    };
    let text = format!(
        " {} {} ×{}: {} {} · R retries failed · {keys} ",
        theme::glyph(status, kind(m, g)),
        cells(&group.id),
        group.members.len(),
        theme::word(status),
        counts_text(m, g),
    );
    Line::styled(text, style)
}
