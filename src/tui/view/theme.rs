//! Glyphs and styles. Colours are the terminal's own ANSI colours (which
//! every theme tunes for its background), never a fixed black or white, so
//! the screen reads on dark and light terminals. Under `NO_COLOR` only
//! glyphs and text attributes remain. Knows nothing of layout.

use ratatui::style::{Color, Modifier, Style};

use crate::engine::RunStatus;
use crate::engine::event::BreakerState;
use crate::tui::model::log::Tone;
use crate::tui::model::{Kind, Status};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub fn bold(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// The selected line or box title.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn status(self, s: Status) -> Style {
        match s {
            Status::Pending | Status::Skipped => self.dim(),
            Status::Ready => self.fg(Color::Blue),
            Status::Running => self.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Status::Backoff { .. } => self.fg(Color::Yellow),
            Status::Waiting => self.fg(Color::Magenta).add_modifier(Modifier::BOLD),
            Status::Succeeded => self.fg(Color::Green),
            Status::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Status::Cancelled => self.fg(Color::Red),
        }
    }

    pub fn tone(self, t: Tone) -> Style {
        match t {
            Tone::Output => Style::new(),
            Tone::Stderr => self.fg(Color::Yellow),
            Tone::Good => self.fg(Color::Green),
            Tone::Bad => self.fg(Color::Red),
            Tone::Warn => self.fg(Color::Yellow),
            Tone::Ask => self.fg(Color::Magenta),
            Tone::Dim => self.dim(),
            Tone::Info => self.fg(Color::Blue),
        }
    }

    pub fn outcome(self, s: RunStatus) -> Style {
        match s {
            RunStatus::Succeeded => self.fg(Color::Green).add_modifier(Modifier::BOLD),
            RunStatus::Failed | RunStatus::Cancelled => {
                self.fg(Color::Red).add_modifier(Modifier::BOLD)
            }
        }
    }

    pub fn breaker(self, s: BreakerState) -> Style {
        match s {
            BreakerState::Open => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            BreakerState::HalfOpen => self.fg(Color::Yellow),
            BreakerState::Closed => self.fg(Color::Green),
        }
    }

    /// A pane's border: bold and coloured when it has the keys.
    pub fn border(self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.dim()
        }
    }

    pub fn notice(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
}

/// A step's status glyph; a waiting step shows what it waits for.
pub fn glyph(s: Status, kind: Kind) -> &'static str {
    match s {
        Status::Pending => "·",
        Status::Ready => "○",
        Status::Running => "▶",
        Status::Backoff { .. } => "↻",
        Status::Waiting if kind == Kind::Ask => "?",
        Status::Waiting => "◆",
        Status::Succeeded => "✓",
        Status::Failed => "✗",
        Status::Skipped => "−",
        Status::Cancelled => "⊘",
    }
}

/// The status as a word.
pub fn word(s: Status) -> &'static str {
    match s {
        Status::Pending => "pending",
        Status::Ready => "ready",
        Status::Running => "running",
        Status::Backoff { .. } => "backoff",
        Status::Waiting => "waiting",
        Status::Succeeded => "succeeded",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        Status::Cancelled => "cancelled",
    }
}

pub fn outcome_word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Cancelled => "cancelled",
    }
}

/// Elapsed time: `66ms`, `1.4s`, `12s`, `3m05s`, `1h02m`, `2d03h`: the one
/// rounding the log's lines use too, so the status line and the log agree.
pub fn elapsed(ms: u64) -> String {
    crate::workflow::duration::human(std::time::Duration::from_millis(ms))
}

/// Whole seconds, for a clock that ticks once a second: `7s`, `3m05s`,
/// `6d23h`.
pub fn seconds(ms: u64) -> String {
    crate::workflow::duration::whole(std::time::Duration::from_millis(ms))
}

/// Time left, rounded up to the second so `0s` means now: `4m58s`,
/// `2h05m`, `6d23h`.
pub fn countdown(ms: u64) -> String {
    seconds(ms.div_ceil(1000).saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_screen_says_long_durations_in_two_units() {
        assert_eq!(countdown(7 * 86_400_000), "7d00h");
        assert_eq!(countdown(7 * 86_400_000 - 1000), "6d23h");
        assert_eq!(countdown(2 * 3_600_000 + 5 * 60_000 + 30_000), "2h05m");
        assert_eq!(countdown(250_000), "4m10s");
        assert_eq!(countdown(11_001), "12s", "time left rounds up");
        assert_eq!(countdown(0), "0s");
        assert_eq!(seconds(12_999), "12s");
        assert_eq!(elapsed(1_400), "1.4s");
        assert_eq!(elapsed(66), "66ms");
        assert_eq!(elapsed(3 * 86_400_000), "3d00h");
    }
}
