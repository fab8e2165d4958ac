//! The event log as the screen keeps it: readable lines, a bounded
//! scrollback, the filter and where the pane is scrolled to. Knows nothing
//! of terminals or drawing.

use std::collections::VecDeque;

/// Lines kept; older ones are dropped first (the journal keeps them all).
pub const CAPACITY: usize = 100_000;

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
}

#[derive(Debug, Clone)]
pub struct Log {
    lines: VecDeque<LogLine>,
    /// Only lines containing this (ignoring ASCII case) are shown.
    pub filter: String,
    /// Whether the pane shows the newest lines as they come.
    pub follow: bool,
    /// Matching lines hidden below the pane's bottom line; 0 is the tail.
    pub scroll: usize,
}

impl Default for Log {
    fn default() -> Log {
        Log {
            lines: VecDeque::new(),
            filter: String::new(),
            follow: true,
            scroll: 0,
        }
    }
}

impl Log {
    pub fn push(&mut self, line: LogLine) {
        // Scrolled back, the pane stays on the lines it shows.
        if !self.follow && self.matches(&line) {
            self.scroll += 1;
        }
        if self.lines.len() == CAPACITY {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn matches(&self, line: &LogLine) -> bool {
        contains_ignore_case(&line.text, &self.filter)
    }

    /// Lines that pass the filter.
    pub fn matching(&self) -> usize {
        if self.filter.is_empty() {
            return self.lines.len();
        }
        self.lines.iter().filter(|l| self.matches(l)).count()
    }

    /// The `height` lines to show, oldest first, given the filter and scroll.
    pub fn window(&self, height: usize) -> Vec<&LogLine> {
        let pick = |l: &&LogLine| self.matches(l);
        window(self.lines.iter().rev().filter(pick), height, self.scroll)
    }

    /// The `height` output lines of step `step` to show, `scroll` lines up
    /// from its newest one.
    pub fn step_output(&self, step: usize, height: usize, scroll: usize) -> Vec<&LogLine> {
        let pick = |l: &&LogLine| l.step == Some(step) && l.is_output();
        window(self.lines.iter().rev().filter(pick), height, scroll)
    }

    /// How many output lines step `step` has in the scrollback.
    pub fn output_count(&self, step: usize) -> usize {
        self.lines
            .iter()
            .filter(|l| l.step == Some(step) && l.is_output())
            .count()
    }

    /// Scrolls `by` lines back (`up`) or forward; the tail turns follow on.
    pub fn scroll(&mut self, by: usize, up: bool) {
        if up {
            let most = self.matching().saturating_sub(1);
            self.scroll = (self.scroll + by).min(most);
            self.follow = false;
        } else {
            self.scroll = self.scroll.saturating_sub(by);
            if self.scroll == 0 {
                self.follow = true;
            }
        }
    }

    pub fn toggle_follow(&mut self) {
        self.follow = !self.follow;
        if self.follow {
            self.scroll = 0;
        }
    }

    pub fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        self.scroll = 0;
        self.follow = true;
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
mod tests {
    use super::*;

    fn line(seq: u64, text: &str) -> LogLine {
        LogLine {
            seq,
            ts_ms: 0,
            step: None,
            tone: Tone::Info,
            text: text.into(),
        }
    }

    #[test]
    fn window_scrolls_and_stops_at_the_oldest_line() {
        let mut log = Log::default();
        for i in 0..10 {
            log.push(line(i, &format!("line {i}")));
        }
        let seqs = |log: &Log| log.window(3).iter().map(|l| l.seq).collect::<Vec<_>>();
        assert_eq!(seqs(&log), [7, 8, 9]);
        log.scroll(2, true);
        assert_eq!(seqs(&log), [5, 6, 7]);
        log.push(line(10, "new"));
        assert_eq!(seqs(&log), [5, 6, 7], "scrolled back, the view stays put");
        log.scroll(100, true);
        assert_eq!(seqs(&log), [0, 1, 2]);
        log.set_filter("LINE 1".into());
        assert_eq!(seqs(&log), [1]);
    }

    #[test]
    fn clean_shows_escapes_and_control_characters() {
        assert_eq!(
            clean("\x1b[1;31merror\x1b[0m: bad\tthing\r"),
            r"\x1b[1;31merror\x1b[0m: bad    thing\r"
        );
        assert_eq!(clean("\x1b]0;title\x07done"), r"\x1b]0;title\x07done");
        assert_eq!(clean("plain"), "plain");
    }
}
