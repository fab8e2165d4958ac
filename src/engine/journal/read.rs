//! Reading a journal back, streaming: a journal may be hundreds of
//! megabytes, so no reader holds more of it than one line (at most
//! [`MAX_LINE`]) and a buffer. [`scan`] checks a whole journal one event at
//! a time; [`read_journal`] collects it for resume; [`first_event`] and
//! [`last_event`] read only the ends, for `runs`.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::engine::event::Envelope;

/// The longest journal line read back. The longest line the engine writes
/// is a `step_succeeded` carrying its outputs (bounded by SPEC §6), escaped
/// as JSON; anything longer is damage, not an event.
pub const MAX_LINE: usize = 32 << 20;

/// What the reader's buffer keeps between lines after a long one.
const KEEP: usize = 1 << 20;

/// Whole lines of a file, each at most [`MAX_LINE`] bytes. At the end of
/// what is written so far a partial line is kept, and completed by a later
/// call once more is written (a journal that is still growing).
pub struct Lines<R> {
    inner: BufReader<R>,
    line: Vec<u8>,
    /// `line` holds a whole line already returned.
    returned: bool,
}

impl<R: Read> Lines<R> {
    pub fn new(inner: R) -> Lines<R> {
        Lines {
            inner: BufReader::with_capacity(64 << 10, inner),
            line: Vec::new(),
            returned: false,
        }
    }

    /// The next whole line, without its `\n`; `None` at the end of what is
    /// written (see [`Lines::partial`]); an error for a line longer than
    /// [`MAX_LINE`].
    pub fn line(&mut self) -> io::Result<Option<&[u8]>> {
        if self.returned {
            self.line.clear();
            if self.line.capacity() > KEEP {
                self.line.shrink_to(KEEP);
            }
            self.returned = false;
        }
        loop {
            let room = (MAX_LINE + 1).saturating_sub(self.line.len()) as u64;
            let n = (&mut self.inner)
                .take(room)
                .read_until(b'\n', &mut self.line)?;
            if self.line.last() == Some(&b'\n') {
                self.returned = true;
                let len = self.line.len() - 1;
                return Ok(Some(&self.line[..len]));
            }
            if self.line.len() > MAX_LINE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a line longer than {} MiB", MAX_LINE >> 20),
                ));
            }
            if n == 0 {
                return Ok(None);
            }
        }
    }

    /// The bytes after the last whole line, once [`Lines::line`] returned
    /// `None`.
    pub fn partial(&self) -> &[u8] {
        match self.returned {
            true => &[],
            false => &self.line,
        }
    }
}

/// A journal read back: the events, and where a torn last line was cut.
#[derive(Debug)]
pub struct Replayed {
    pub events: Vec<Envelope>,
    /// Byte length of the whole, good lines; a torn tail starts here.
    pub good_len: u64,
    /// The 1-based line number of a torn last line that was dropped.
    pub torn_line: Option<usize>,
}

/// A journal checked by [`scan`]: how many events, where a torn last line
/// was cut.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scanned {
    pub events: u64,
    /// Byte length of the whole, good lines; a torn tail starts here.
    pub good_len: u64,
    /// The 1-based line number of a torn last line that was dropped.
    pub torn_line: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}:{line}: damaged journal line ({reason}); refusing to go on")]
    Damaged {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// Reads a journal whole, for resume. See [`scan`].
pub fn read_journal(path: &Path) -> Result<Replayed, ReadError> {
    let mut events = Vec::new();
    let scanned = scan(path, |e| events.push(e))?;
    Ok(Replayed {
        events,
        good_len: scanned.good_len,
        torn_line: scanned.torn_line,
    })
}

/// Checks a journal one line at a time, handing each event to `each`. A
/// last line that is incomplete or not an event (a crash mid-write) is
/// dropped and reported. Damage anywhere else is an error, and so is a
/// whole line out of sequence (a seq gap, a repeat) or of another run: no
/// crash writes those.
pub fn scan(path: &Path, mut each: impl FnMut(Envelope)) -> Result<Scanned, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let damaged = |line: usize, reason: String| ReadError::Damaged {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut lines = Lines::new(crate::engine::fsafe::open_read(path).map_err(io)?);
    let mut out = Scanned::default();
    let mut run: Option<String> = None;
    let mut line_no = 0usize;
    loop {
        line_no += 1;
        let line = match lines.line() {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(damaged(line_no, e.to_string()));
            }
            Err(e) => return Err(io(e)),
        };
        let len = line.len() as u64 + 1;
        match parse(line) {
            Ok(envelope) => {
                let due = out.events + 1;
                if envelope.seq != due {
                    return Err(damaged(
                        line_no,
                        format!("seq {} where {due} was due", envelope.seq),
                    ));
                }
                match &run {
                    Some(first) if *first != envelope.run => {
                        return Err(damaged(
                            line_no,
                            format!(
                                "an event of run `{}` in the journal of run `{first}`",
                                envelope.run
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => run = Some(envelope.run.clone()),
                }
                each(envelope);
                out.events = due;
                out.good_len += len;
            }
            Err(reason) => {
                // Each event is one `write` of its line and its newline: a
                // crash can leave a last line without its newline (below),
                // never a whole line that is not an event.
                return Err(damaged(
                    line_no,
                    format!("{reason}; a whole line, so no crash mid-write left it"),
                ));
            }
        }
    }
    if !lines.partial().is_empty() {
        out.torn_line = Some(line_no);
    }
    Ok(out)
}

fn parse(line: &[u8]) -> Result<Envelope, String> {
    let text = std::str::from_utf8(line).map_err(|e| e.to_string())?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// The journal's first event, reading only its first line.
pub fn first_event(path: &Path) -> io::Result<Option<Envelope>> {
    let mut lines = Lines::new(crate::engine::fsafe::open_read(path)?);
    Ok(lines.line()?.and_then(|l| parse(l).ok()))
}

/// The journal's last whole event of the run itself, reading backwards
/// from its end only as far as it takes to find one (a torn last line is
/// passed over, and so are the `hook_finished` lines that follow
/// `run_finished`: how a run ended is what its readers ask).
pub fn last_event(path: &Path) -> io::Result<Option<Envelope>> {
    let mut file = crate::engine::fsafe::open_read(path)?;
    let len = file.metadata()?.len();
    let mut window: u64 = 64 << 10;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::with_capacity((len - start) as usize);
        (&mut file).take(len - start).read_to_end(&mut buf)?;
        // Unless the window starts the file, its first piece may be the
        // end of a longer line.
        let whole = match start {
            0 => &buf[..],
            _ => match buf.iter().position(|&b| b == b'\n') {
                Some(p) => &buf[p + 1..],
                None => &[],
            },
        };
        let found = whole.split(|&b| b == b'\n').rev().find_map(|l| {
            parse(l)
                .ok()
                .filter(|e| !matches!(e.event, crate::engine::event::Event::HookFinished { .. }))
        });
        if found.is_some() || start == 0 || window > 2 * MAX_LINE as u64 {
            return Ok(found);
        }
        window *= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_whole_bounded_and_completed_as_the_file_grows() {
        let mut lines = Lines::new(io::Cursor::new(b"one\ntwo\nthr".to_vec()));
        assert_eq!(lines.line().unwrap(), Some(&b"one"[..]));
        assert_eq!(lines.line().unwrap(), Some(&b"two"[..]));
        assert_eq!(lines.line().unwrap(), None);
        assert_eq!(lines.partial(), b"thr");

        let long = vec![b'x'; MAX_LINE + 10];
        let mut lines = Lines::new(io::Cursor::new(long));
        assert!(lines.line().is_err(), "a line past the limit is refused");
    }

    #[test]
    fn a_growing_file_s_partial_line_is_completed_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        std::fs::write(&path, "a\nb").unwrap();
        let mut lines = Lines::new(std::fs::File::open(&path).unwrap());
        assert_eq!(lines.line().unwrap(), Some(&b"a"[..]));
        assert_eq!(lines.line().unwrap(), None);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut f, b"c\n").unwrap();
        assert_eq!(lines.line().unwrap(), Some(&b"bc"[..]));
    }

    #[test]
    fn the_ends_are_read_without_the_middle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let event = |seq: u64| {
            format!(
                r#"{{"seq":{seq},"ts":"2026-01-01T00:00:00.000Z","run":"r","type":"step_output","step":"a","stream":"stdout","line":"{}"}}"#,
                "y".repeat(1000)
            )
        };
        let mut text: String = (1..=500).map(|s| event(s) + "\n").collect();
        text.push_str("{\"seq\":501,\"ts");
        std::fs::write(&path, text).unwrap();
        assert_eq!(first_event(&path).unwrap().unwrap().seq, 1);
        assert_eq!(last_event(&path).unwrap().unwrap().seq, 500);
        let scanned = scan(&path, |_| {}).unwrap();
        assert_eq!((scanned.events, scanned.torn_line), (500, Some(501)));
    }
}
