//! The wait queue pane: open approvals and questions, highest priority
//! first then oldest, one line each with its time left; the selected one
//! in full (its whole prompt and every choice, wrapped), so the operator
//! reads and decides it without opening it. Knows nothing of how a wait
//! resolves.

use crate::safe::cells;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::theme::{self, Theme};
use crate::tui::model::ui::Pane;
use crate::tui::model::waits::{OpenWait, WaitKind};
use crate::tui::model::{Model, Status};

/// Columns a wrapped line of the selected wait is indented by.
const INDENT: usize = 4;
/// Other waits a narrow screen shows beside the selected one.
const OTHERS: usize = 3;
/// Below this many columns for the prompt on the first line, the prompt
/// starts on the next one.
const MIN_FIRST: usize = 12;

pub struct WaitPane<'a> {
    pub model: &'a Model,
    pub theme: Theme,
    pub focused: bool,
}

impl Widget for &WaitPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (m, t) = (self.model, self.theme);
        let n = m.waits.len();
        let title = if n == 0 {
            Line::raw(" waits ")
        } else {
            Line::from(vec![
                Span::raw(" waits "),
                Span::styled(format!("{n} open "), t.status(Status::Waiting)),
            ])
        };
        let mut block = super::pane(title, self.focused, t);
        if n > 0 {
            block = block.title_bottom(Line::styled(keys(m), t.dim()));
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
        self.list(inner, buf);
    }
}

/// The keys for the selected wait, as the pane's footer says them: never
/// "a approve" over a question.
fn keys(m: &Model) -> &'static str {
    match m.selected_wait().map(|w| w.kind) {
        Some(WaitKind::Approval) => " a approve · r reject ",
        Some(WaitKind::Question) if m.ui.focus == Pane::Waits => " Enter answer ",
        Some(WaitKind::Question) => " w, Enter answer ",
        None => " nothing selected · w selects ",
    }
}

/// Rows the queue wants inside its borders on a screen `width` columns
/// wide: the selected wait in full and up to three others.
pub fn rows(m: &Model, width: u16) -> usize {
    let n = m.waits.len();
    let inner = width.saturating_sub(2) as usize;
    let cols = columns(m);
    match m.selected_wait() {
        Some(w) => {
            let t = Theme { color: false };
            (n - 1).min(OTHERS) + entry(w, m.now_ms, cols, inner, false, t).len()
        }
        None => n.min(OTHERS + 1),
    }
}

impl WaitPane<'_> {
    /// Each wait on a line, the selected one in full, scrolled so the
    /// selected one shows whole when it fits.
    fn list(&self, inner: Rect, buf: &mut Buffer) {
        let (m, t) = (self.model, self.theme);
        let width = inner.width as usize;
        let cols = columns(m);
        let selected = m.selected_wait_index();
        let full = |i: usize, extra| {
            let w = &m.waits.list()[i];
            entry(w, m.now_ms, cols, width, extra, t)
        };
        let height = inner.height as usize;
        let heights: Vec<usize> = (0..m.waits.len())
            .map(|i| match selected == Some(i) {
                true => full(i, false).len(),
                false => 1,
            })
            .collect();
        // Spare rows say how long it has waited, too.
        let extra = heights.iter().sum::<usize>() < height;
        let mut first = 0;
        if let Some(s) = selected {
            while first < s && heights[first..=s].iter().sum::<usize>() > height {
                first += 1;
            }
        }
        let mut y = 0;
        for (i, w) in m.waits.list().iter().enumerate().skip(first) {
            if y >= height {
                break;
            }
            let lines = match selected == Some(i) {
                true => full(i, extra),
                false => vec![short(w, m.now_ms, cols, width, t)],
            };
            for (j, mut line) in lines.into_iter().take(height - y).enumerate() {
                let row = Rect::new(inner.x, inner.y + y as u16, inner.width, 1);
                if selected == Some(i) {
                    if self.focused {
                        buf.set_style(row, t.selected());
                        line = line.patch_style(t.selected());
                    } else if j == 0 {
                        line = line.patch_style(t.bold());
                    }
                }
                buf.set_line(row.x, row.y, &line, row.width);
                y += 1;
            }
        }
    }
}

/// The widths of the queue's columns, so they line up.
#[derive(Debug, Clone, Copy)]
struct Columns {
    /// The widest step id, up to 16 columns.
    step: usize,
    /// The widest `p10 `, or 0 when no wait has a priority.
    prio: usize,
}

/// Asked for every frame, so kept by the queue while its waits stay.
fn columns(m: &Model) -> Columns {
    let step = m.waits.widest(|id| cells(id).width());
    let (hi, lo) = m.waits.priorities();
    let width = |p: i64| match p {
        0 => 0,
        p => format!("p{p} ").len(),
    };
    Columns {
        step,
        prio: width(hi).max(width(lo)),
    }
}

/// `◆ go-live  p10  4m58s  ` (after the one-column marker).
fn head(w: &OpenWait, now: u64, cols: Columns, t: Theme) -> Vec<Span<'static>> {
    let glyph = match w.kind {
        WaitKind::Approval => "◆",
        WaitKind::Question => "?",
    };
    let step = super::fit(&cells(&w.step_id), cols.step);
    let pad = cols.step.saturating_sub(step.width());
    let mut spans = vec![
        Span::styled(format!("{glyph} "), t.status(Status::Waiting)),
        Span::styled(format!("{step}{} ", " ".repeat(pad)), t.bold()),
    ];
    let prio = match w.priority {
        0 => String::new(),
        p => format!("p{p} "),
    };
    spans.push(Span::styled(format!("{prio:<0$}", cols.prio), t.dim()));
    let left = w.deadline_ms.saturating_sub(now);
    spans.push(Span::styled(
        format!("{:>6}  ", theme::countdown(left)),
        if left < 30_000 { t.notice() } else { t.dim() },
    ));
    spans
}

/// A wait that is not selected: one line, cut with `…`.
fn short(w: &OpenWait, now: u64, cols: Columns, width: usize, t: Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    spans.extend(head(w, now, cols, t));
    if let Some(progress) = approvals(w) {
        spans.push(Span::styled(format!("{progress} · "), t.notice()));
    }
    let mut text = cells(&w.prompt).into_owned();
    if !w.choices.is_empty() {
        text.push_str(&format!(" [{}]", cells(&w.choices.join("|"))));
    }
    if let Some(d) = &w.default {
        text.push_str(&format!(" (default: {})", cells(d)));
    }
    let used: usize = spans.iter().map(|s| s.content.width()).sum();
    spans.push(Span::raw(super::fit(&text, width.saturating_sub(used))));
    Line::from(spans)
}

/// The selected wait in full: its head and prompt wrapped, then its
/// choices and default, and with `extra` how long it has waited.
fn entry(
    w: &OpenWait,
    now: u64,
    cols: Columns,
    width: usize,
    extra: bool,
    t: Theme,
) -> Vec<Line<'static>> {
    let mut headline = vec![Span::raw("›")];
    headline.extend(head(w, now, cols, t));
    let used: usize = headline.iter().map(|s| s.content.width()).sum();
    let rest = width.saturating_sub(INDENT).max(1);
    let first = width.saturating_sub(used);
    let first = if first < MIN_FIRST { 0 } else { first };
    let indent = || Span::raw(" ".repeat(INDENT));
    let mut prompt = wrap(&cells(&w.prompt), first, rest).into_iter();
    let mut lines = Vec::new();
    if first > 0
        && let Some(l) = prompt.next()
    {
        headline.push(Span::raw(l));
    }
    lines.push(Line::from(headline));
    lines.extend(prompt.map(|l| Line::from(vec![indent(), Span::raw(l)])));
    let mut more = approvals(w).unwrap_or_default();
    if !w.choices.is_empty() {
        let choices: Vec<String> = w.choices.iter().map(|c| cells(c).into_owned()).collect();
        // A question has no approvals to count: `more` is empty here.
        more = format!("choices: {}", choices.join(" | "));
    }
    if let Some(d) = &w.default {
        let sep = if more.is_empty() { "" } else { " · " };
        more.push_str(&format!("{sep}default: {}", cells(d)));
    }
    if extra {
        let sep = if more.is_empty() { "" } else { " · " };
        let waited = theme::seconds(now.saturating_sub(w.opened_ms));
        more.push_str(&format!("{sep}waiting {waited}"));
    }
    let style = Style::new();
    lines.extend(
        wrap(&more, rest, rest)
            .into_iter()
            .map(|l| Line::from(vec![indent(), Span::styled(l, style)])),
    );
    lines
}

/// A four-eyes gate's progress: "needs 2 approvals", "1 of 2 approvals
/// (alice)"; none for a plain gate or a question. User names are login
/// names, shown escaped all the same.
fn approvals(w: &OpenWait) -> Option<String> {
    match w.kind {
        WaitKind::Approval => crate::engine::progress_text(w.needed, &w.approved)
            .map(|text| cells(&text).into_owned()),
        WaitKind::Question => None,
    }
}

/// `text` in lines of at most `first` columns, then `rest` columns
/// (`first` 0: `rest` from the start), broken at spaces, and inside a word
/// only when the word is longer than a line. Every word is kept.
pub fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let rest = rest.max(1);
    let room = |lines: &Vec<String>| match lines.is_empty() && first > 0 {
        true => first,
        false => rest,
    };
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split_whitespace() {
        let ww = word.width();
        if used > 0 && used + 1 + ww <= room(&lines) {
            line.push(' ');
            line.push_str(word);
            used += 1 + ww;
            continue;
        }
        if used > 0 {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if used > 0 && used + cw > room(&lines) {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(c);
            used += cw;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrapping_keeps_every_word_and_breaks_at_spaces() {
        let text = "Deploy 2.3.0 to every production region now?";
        assert_eq!(
            wrap(text, 20, 16),
            ["Deploy 2.3.0 to", "every production", "region now?"]
        );
        let joined = wrap(text, 7, 10).join(" ");
        assert_eq!(joined, text);
        assert_eq!(wrap("abcdefghij", 4, 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("発行する準備", 4, 4), ["発行", "する", "準備"]);
        assert_eq!(
            wrap("short words", 0, 6),
            ["short", "words"],
            "no first line"
        );
        assert!(wrap("", 10, 10).is_empty());
    }
}
