//! The event log as the screen keeps it: readable lines, a scrollback
//! bounded in bytes, the filter and where the pane is scrolled to. Knows
//! nothing of terminals or drawing.
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
        }
    }
}

impl Log {
    pub fn push(&mut self, line: LogLine) {
        // Scrolled back, the pane stays on the lines it shows.
        if !self.follow && self.matches(&line) {
            self.scroll += 1;
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
    pub fn output_count(&self, step: usize) -> usize {
        self.output.iter().filter(|l| l.step == Some(step)).count()
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

    fn output(seq: u64, text: &str) -> LogLine {
        LogLine {
            tone: Tone::Output,
            step: Some(0),
            ..line(seq, text)
        }
    }

    #[test]
    fn output_is_bounded_in_bytes_and_waits_are_never_dropped() {
        let mut log = Log::default();
        log.push(line(1, "a waits for approval"));
        let long = "x".repeat(64 << 10);
        for seq in 2..2000 {
            log.push(output(seq, &long));
        }
        log.push(line(2000, "run ended"));
        assert!(log.output_bytes() <= OUTPUT_BYTES);
        assert!(log.output_count(0) > 100, "the newest output is kept");
        let all = log.window(10_000);
        let texts: Vec<&str> = all.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts[0], "a waits for approval",
            "in seq order, oldest first"
        );
        assert_eq!(texts[1], DROPPED, "where the dropped lines were");
        assert_eq!(*texts.last().unwrap(), "run ended");
        let seqs: Vec<u64> = all.iter().map(|l| l.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        assert_eq!(seqs.last(), Some(&2000));
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
