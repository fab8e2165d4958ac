//! The event log as the screen keeps it: readable lines, a scrollback
//! bounded in bytes, the filter, the selected line, and where the pane is
//! scrolled to (down and across) and whether it wraps. Knows nothing of
//! terminals or drawing.
//!
//! Only output lines are ever dropped (oldest first): the lines about
//! steps, waits and the run are few (a handful per step and attempt) and
//! the operator needs every one, while a step may print without end. The
//! two kinds are kept apart, so dropping the oldest output line is O(1)
//! however many other lines come before it, and merged by seq when shown.

use std::collections::VecDeque;

/// Bytes of output lines kept (text and bookkeeping); older ones are
/// dropped first (the journal and `logs/<step>.log` keep them all).
pub const OUTPUT_BYTES: usize = 8 << 20;

/// What the pane says where dropped output lines were.
pub const DROPPED: &str = "… earlier output lines are not kept here: the journal (events.jsonl) and logs/<step>.log have them all";

/// What kind of line, so the view can colour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A step's stdout.
    Output,
    /// A step's stderr.
    Stderr,
    Good,
    Bad,
    Warn,
    /// Approvals and questions.
    Ask,
    Dim,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub seq: u64,
    /// When it happened, in milliseconds since the Unix epoch.
    pub ts_ms: u64,
    /// The step it is about, as an index into the workflow's steps.
    pub step: Option<usize>,
    pub tone: Tone,
    pub text: String,
}

impl LogLine {
    pub fn is_output(&self) -> bool {
        matches!(self.tone, Tone::Output | Tone::Stderr)
    }

    /// What keeping it costs, in bytes.
    fn cost(&self) -> usize {
        self.text.len() + std::mem::size_of::<LogLine>()
    }
}

#[derive(Debug, Clone)]
pub struct Log {
    /// Lines about steps, waits and the run: never dropped.
    events: VecDeque<LogLine>,
    /// Step output, at most [`OUTPUT_BYTES`] of it.
    output: VecDeque<LogLine>,
    output_bytes: usize,
    /// Stands where output lines were dropped: [`DROPPED`], with the seq of
    /// the newest one dropped.
    dropped: Option<LogLine>,
    /// Only lines containing this (ignoring ASCII case) are shown.
    pub filter: String,
    /// Whether the pane shows the newest lines as they come.
    pub follow: bool,
    /// Matching lines hidden below the pane's bottom line; 0 is the tail.
    pub scroll: usize,
    /// The selected line, as matching lines below it (0 is the newest):
    /// `Enter` opens its step's output there.
    pub selected: usize,
    /// How the pane and the output viewer show long lines.
    pub pane_view: LineView,
    pub viewer_view: LineView,
}

/// How long lines show: wrapped onto more rows, or cut at the pane's edge
/// and shifted left by `hscroll` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineView {
    pub wrap: bool,
    pub hscroll: usize,
}

impl LineView {
    /// Columns `←` / `→` move a cut line by.
    pub const STEP: usize = 16;

    pub fn toggle_wrap(&mut self) {
        self.wrap = !self.wrap;
        self.hscroll = 0;
    }

    /// `←` / `→`; wrapped lines have nothing to scroll, and `→` stops
    /// while the widest line (`widest` columns) still shows its last
    /// [`LineView::STEP`] columns or more.
    pub fn shift(&mut self, left: bool, widest: usize) {
        if self.wrap {
            return;
        }
        self.hscroll = match left {
            true => self.hscroll.saturating_sub(LineView::STEP),
            false if self.hscroll + 2 * LineView::STEP <= widest => self.hscroll + LineView::STEP,
            false => self.hscroll,
        };
    }
}

impl Default for Log {
    fn default() -> Log {
        Log {
            events: VecDeque::new(),
            output: VecDeque::new(),
            output_bytes: 0,
            dropped: None,
            filter: String::new(),
            follow: true,
            scroll: 0,
            selected: 0,
            pane_view: LineView::default(),
            // The viewer is where a whole error is read.
            viewer_view: LineView {
                wrap: true,
                hscroll: 0,
            },
        }
    }
}

impl Log {
    pub fn push(&mut self, line: LogLine) {
        // Scrolled back, the pane stays on the lines it shows.
        if !self.follow && self.matches(&line) {
            self.scroll += 1;
            self.selected += 1;
        }
        if !line.is_output() {
            self.events.push_back(line);
            return;
        }
        self.output_bytes += line.cost();
        self.output.push_back(line);
        while self.output_bytes > OUTPUT_BYTES && self.output.len() > 1 {
            let Some(old) = self.output.pop_front() else {
                break;
            };
            self.output_bytes -= old.cost();
            self.note_dropped(old);
        }
    }

    /// The dropped lines' place is taken by one notice. Lines go from the
    /// oldest end, so the scroll (lines below the pane) stays right.
    fn note_dropped(&mut self, old: LogLine) {
        match &mut self.dropped {
            Some(notice) => notice.seq = old.seq,
            None => {
                self.dropped = Some(LogLine {
                    seq: old.seq,
                    ts_ms: old.ts_ms,
                    step: None,
                    tone: Tone::Dim,
                    text: DROPPED.to_string(),
                });
            }
        }
    }

    /// After an edit re-indexed the steps: `map[old]` is each line's step
    /// now (`None` for a removed one).
    pub fn remap(&mut self, map: &[Option<usize>]) {
        for line in self.events.iter_mut().chain(self.output.iter_mut()) {
            line.step = line.step.and_then(|i| map.get(i).copied().flatten());
        }
    }

    /// Lines kept (the dropped-output notice included).
    pub fn len(&self) -> usize {
        self.events.len() + self.output.len() + usize::from(self.dropped.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of output lines kept.
    pub fn output_bytes(&self) -> usize {
        self.output_bytes
    }

    /// Every kept line, newest first.
    fn newest_first(&self) -> impl Iterator<Item = &LogLine> {
        let notice = self.dropped.iter();
        Merged {
            a: self.events.iter().rev().peekable(),
            b: self.output.iter().rev().chain(notice).peekable(),
        }
    }

    pub fn matches(&self, line: &LogLine) -> bool {
        contains_ignore_case(&line.text, &self.filter)
    }

    /// Lines that pass the filter.
    pub fn matching(&self) -> usize {
        if self.filter.is_empty() {
            return self.len();
        }
        self.newest_first().filter(|l| self.matches(l)).count()
    }

    /// The `height` lines to show, oldest first, given the filter and scroll.
    pub fn window(&self, height: usize) -> Vec<&LogLine> {
        let pick = |l: &&LogLine| self.matches(l);
        window(self.newest_first().filter(pick), height, self.scroll)
    }

    /// The `height` output lines of step `step` to show, `scroll` lines up
    /// from its newest one.
    pub fn step_output(&self, step: usize, height: usize, scroll: usize) -> Vec<&LogLine> {
        let pick = |l: &&LogLine| l.step == Some(step);
        window(self.output.iter().rev().filter(pick), height, scroll)
    }

    /// How many output lines step `step` has in the scrollback.
    /// The widest line's columns: of the pane's matching lines, or of
    /// `step`'s output.
    pub fn widest(&self, step: Option<usize>) -> usize {
        let width = |l: &LogLine| unicode_width::UnicodeWidthStr::width(l.text.as_str());
        // The viewer shows a line without the `step │ ` the log puts first.
        let bare = |l: &LogLine| {
            let text = l.text.split_once(" │ ").map_or(l.text.as_str(), |(_, r)| r);
            unicode_width::UnicodeWidthStr::width(text)
        };
        match step {
            Some(s) => self
                .output
                .iter()
                .filter(|l| l.step == Some(s))
                .map(bare)
                .max(),
            None => self
                .newest_first()
                .filter(|l| self.matches(l))
                .map(width)
                .max(),
        }
        .unwrap_or(0)
    }

    pub fn output_count(&self, step: usize) -> usize {
        self.output.iter().filter(|l| l.step == Some(step)).count()
    }

    /// The `height` lines that end `scroll` matching lines above the
    /// newest, oldest first.
    pub fn window_at(&self, height: usize, scroll: usize) -> Vec<&LogLine> {
        let pick = |l: &&LogLine| self.matches(l);
        window(self.newest_first().filter(pick), height, scroll)
    }

    /// The selected line, if any line matches.
    pub fn selected_line(&self) -> Option<&LogLine> {
        self.newest_first()
            .filter(|l| self.matches(l))
            .nth(self.selected)
    }

    /// Moves the selected line `by` lines back (`up`) or forward, and the
    /// pane of `height` lines with it. At the newest line the pane follows
    /// the tail again.
    pub fn select(&mut self, by: usize, up: bool, height: usize) {
        let height = height.max(1);
        self.selected = match up {
            true => (self.selected + by).min(self.matching().saturating_sub(1)),
            false => self.selected.saturating_sub(by),
        };
        if self.selected < self.scroll {
            self.scroll = self.selected;
        } else if self.selected >= self.scroll + height {
            self.scroll = self.selected + 1 - height;
        }
        self.follow = self.selected == 0 && self.scroll == 0;
    }

    pub fn toggle_follow(&mut self) {
        self.follow = !self.follow;
        if self.follow {
            self.scroll = 0;
            self.selected = 0;
        }
    }

    pub fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        self.scroll = 0;
        self.selected = 0;
        self.follow = true;
    }

    /// The output lines of step `step` newer than event `seq`: how far up
    /// from its newest line the output viewer opens to show that moment.
    pub fn output_after(&self, step: usize, seq: u64) -> usize {
        self.output
            .iter()
            .rev()
            .take_while(|l| l.seq > seq)
            .filter(|l| l.step == Some(step))
            .count()
    }

    /// Whether step `step` has stderr lines in the scrollback (its output
    /// was kept apart: `output: separate`).
    pub fn has_stderr(&self, step: usize) -> bool {
        self.output
            .iter()
            .any(|l| l.step == Some(step) && l.tone == Tone::Stderr)
    }
}

/// Two newest-first runs of lines, merged newest first by seq.
struct Merged<A: Iterator, B: Iterator> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
}

impl<'a, A, B> Iterator for Merged<A, B>
where
    A: Iterator<Item = &'a LogLine>,
    B: Iterator<Item = &'a LogLine>,
{
    type Item = &'a LogLine;

    fn next(&mut self) -> Option<&'a LogLine> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if x.seq < y.seq => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

/// From newest-first `lines`, skips `scroll`, takes `height`, and returns
/// them oldest first. Near the oldest line the window stops scrolling, so
/// a full pane stays full.
fn window<'a>(
    lines: impl Iterator<Item = &'a LogLine>,
    height: usize,
    scroll: usize,
) -> Vec<&'a LogLine> {
    let mut seen: VecDeque<&LogLine> = VecDeque::with_capacity(height + 1);
    for (i, line) in lines.enumerate() {
        seen.push_back(line);
        if seen.len() > height {
            seen.pop_front();
        }
        if i + 1 >= scroll + height {
            break;
        }
    }
    seen.into_iter().rev().collect()
}

/// A line fit for a terminal cell grid: control characters (colours and
/// titles a step printed) shown escaped, tabs turned into spaces.
pub fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    crate::safe::cells(text)
}

/// Whether `needle` occurs in `hay`, ASCII letters compared without case.
pub fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty()
        || h.windows(n.len())
            .any(|w| w.iter().zip(n).all(|(a, b)| a.eq_ignore_ascii_case(b)))
}

#[cfg(test)]
mod tests;
