//! Text on its way to a terminal. Everything signalbox prints (headless
//! lines, the prompt, `replay`, `runs`, error messages, the screen's spans)
//! may hold text a step, a var, an answer, an output or the workflow file
//! chose, and a terminal obeys the control characters in it: an OSC
//! sequence sets its title or writes the clipboard, a CSI one moves the
//! cursor over what was printed. This module owns the one rule for that
//! text, and the only writers to stdout and stderr outside the screen.
//!
//! The rule: control characters are shown escaped, never written raw.
//! `\n` and `\r` read as themselves, other C0 characters and DEL as `\xNN`
//! (`\x1b`, `\x07`, `\x7f`), C1 characters and the bidirectional overrides
//! (which reorder what a line seems to say) as `\u{NN}` (`\u{9b}`,
//! `\u{202e}`). A tab stays a tab (it only moves the cursor), and becomes
//! spaces on the screen, whose cells have no tabs. A backslash is left as
//! it is: the escaped form is for reading, not for parsing back.
//!
//! What it must not know: where the text came from. `--json` lines and the
//! journal are not shown through here: JSON escapes C0 itself, and
//! [`json_line`] escapes the rest without changing the value.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::Write as _;

/// How much of the text is kept as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One line: a newline in it is shown as `\n`.
    Line,
    /// A message of several lines (a diagnostic with its snippet).
    Text,
    /// Screen cells: as [`Mode::Line`], with tabs turned into spaces.
    Cells,
}

/// Whether `c` is written as an escape rather than as itself.
fn unsafe_char(c: char, mode: Mode) -> bool {
    match c {
        '\t' => mode == Mode::Cells,
        '\n' => mode != Mode::Text,
        // Bidirectional embeddings, overrides and isolates.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        c => c.is_control(),
    }
}

/// Writes `c`, escaped, to `out`.
fn escape_char(c: char, mode: Mode, out: &mut impl fmt::Write) -> fmt::Result {
    match c {
        '\t' if mode == Mode::Cells => out.write_str("    "),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    }
}

fn escape_into(s: &str, mode: Mode, out: &mut impl fmt::Write) -> fmt::Result {
    let mut rest = s;
    while let Some(at) = rest.find(|c| unsafe_char(c, mode)) {
        out.write_str(&rest[..at])?;
        let c = rest[at..].chars().next().unwrap_or_default();
        escape_char(c, mode, out)?;
        rest = &rest[at + c.len_utf8()..];
    }
    out.write_str(rest)
}

fn escape(s: &str, mode: Mode) -> Cow<'_, str> {
    if !s.contains(|c| unsafe_char(c, mode)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let _ = escape_into(s, mode, &mut out);
    Cow::Owned(out)
}

/// `s` as one line a terminal shows and never obeys.
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, Mode::Line)
}

/// `s` as lines a terminal shows and never obeys: newlines are kept.
pub fn text(s: &str) -> Cow<'_, str> {
    escape(s, Mode::Text)
}

/// `s` for the screen's cells: one line, tabs as spaces, escapes shown.
pub fn cells(s: &str) -> Cow<'_, str> {
    escape(s, Mode::Cells)
}

/// Shows a value as one safe line: `format!("{}", Line(&answer))`.
pub struct Line<T>(pub T);

impl<T: fmt::Display> fmt::Display for Line<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            Escaping {
                out: f,
                mode: Mode::Line
            },
            "{}",
            self.0
        )
    }
}

/// A `fmt::Write` that escapes what goes through it.
struct Escaping<'a, W: fmt::Write> {
    out: &'a mut W,
    mode: Mode,
}

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(s, self.mode, self.out)
    }
}

/// A terminal control the program itself writes. A closed set: nothing
/// from outside can be written raw through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Back to the line's start, and clear it (the prompt's line).
    EraseLine,
}

impl Control {
    fn bytes(self) -> &'static str {
        match self {
            Control::EraseLine => "\r\x1b[2K",
        }
    }
}

/// Which stream a message goes to.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Writes `args` escaped (newlines kept), after `control` if any, in one
/// write, then flushes. What `say!` and `show!` expand to.
pub fn write(stream: Stream, control: Option<Control>, args: fmt::Arguments<'_>) {
    let mut buf = String::new();
    if let Some(c) = control {
        buf.push_str(c.bytes());
    }
    let _ = Escaping {
        out: &mut buf,
        mode: Mode::Text,
    }
    .write_fmt(args);
    // A closed pipe (`| head`) is not an error worth dying for.
    let _ = match stream {
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(buf.as_bytes()).and_then(|()| out.flush())
        }
        Stream::Stderr => {
            let mut err = std::io::stderr().lock();
            err.write_all(buf.as_bytes()).and_then(|()| err.flush())
        }
    };
}

/// Writes bytes to stdout exactly (`--json`, `replay --json` to a pipe):
/// output a program reads, which must stay as the journal has it.
pub fn write_exact(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// `eprintln!` with every control character in the message escaped.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::safe::write($crate::safe::Stream::Stderr, None, format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `println!` with every control character in the message escaped.
macro_rules! show {
    ($($arg:tt)*) => {
        $crate::safe::write($crate::safe::Stream::Stdout, None, format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {say, show};

/// A JSON line with DEL, the C1 characters and the bidirectional controls
/// written as `\u00XX` escapes. serde_json escapes only C0, and a terminal
/// may obey a raw C1 character (`\u{9b}` is CSI). These characters can only
/// stand inside JSON strings, where the escape means the same character:
/// the value read back is the same.
pub fn json_line(line: &str) -> Cow<'_, str> {
    let risky = |c: char| unsafe_char(c, Mode::Line);
    if !line.contains(risky) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        if risky(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
