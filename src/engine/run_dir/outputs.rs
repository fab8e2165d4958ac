//! `outputs/<step>`: the `key=value` lines a step writes to
//! `$SIGNALBOX_OUTPUT`, read back when its attempt succeeds. The file is the
//! step's to fill with anything, so it is read line by line within fixed
//! bounds (SPEC §6): a line that is not valid UTF-8 is left out and
//! reported, never the others with it; a value is cut at
//! [`MAX_OUTPUT_VALUE`]; one attempt keeps at most [`MAX_OUTPUTS`].

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The most one output value holds (SPEC §6); the rest of it is cut.
pub const MAX_OUTPUT_VALUE: usize = 1 << 20;

/// The most one attempt keeps of its outputs, keys and values together
/// (each also counted 64 bytes for its bookkeeping): a file of
/// millions of tiny lines costs no more than one of a few big ones.
pub const MAX_OUTPUTS: usize = 4 << 20;

/// What one kept output costs besides its text, in the [`MAX_OUTPUTS`] budget.
const ENTRY_COST: usize = 64;

/// Room for a key in front of a full value: a longer line is cut.
const MAX_KEY: usize = 4096;

/// Problems reported one by one; past this many, only their count.
const MAX_REPORTED: usize = 10;

/// A step's outputs, and what was wrong with its file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outputs {
    pub values: BTreeMap<String, String>,
    /// One line each, for the step's log and `signalbox.log`.
    pub problems: Vec<String>,
}

/// Reads the `key=value` lines at `path` (none when there is no file).
pub fn read_outputs(path: &Path) -> Outputs {
    let mut kept = Kept::default();
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    let file = match opened {
        Ok(f) => {
            // The step made it under its umask; kept files are private.
            if let Err(e) = f.set_permissions(std::fs::Permissions::from_mode(0o600)) {
                tracing::warn!("cannot make {} private: {e}", path.display());
            }
            f
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return kept.out,
        Err(e) => {
            kept.report(format!("cannot read $SIGNALBOX_OUTPUT: {e}"));
            return kept.out;
        }
    };
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut buf = Vec::new();
    for n in 1.. {
        let cut = match read_line_capped(&mut reader, &mut buf, MAX_KEY + 1 + MAX_OUTPUT_VALUE) {
            Ok(Some(cut)) => cut,
            Ok(None) => break,
            Err(e) => {
                kept.report(format!("cannot read $SIGNALBOX_OUTPUT line {n}: {e}"));
                break;
            }
        };
        match utf8_prefix(&buf, cut) {
            Some(text) => {
                if !kept.line(n, text, cut) {
                    break;
                }
            }
            None => kept.report(format!(
                "$SIGNALBOX_OUTPUT line {n} is not valid UTF-8: it is left out"
            )),
        }
    }
    kept.finish()
}

/// The outputs kept so far, and what they cost.
#[derive(Default)]
struct Kept {
    out: Outputs,
    /// Of [`MAX_OUTPUTS`].
    used: usize,
    /// Problems past [`MAX_REPORTED`], counted.
    unreported: usize,
}

impl Kept {
    fn report(&mut self, problem: String) {
        if self.out.problems.len() < MAX_REPORTED {
            self.out.problems.push(problem);
        } else {
            self.unreported += 1;
        }
    }

    /// Keeps line `n`'s output, if it has one; false once the budget is
    /// spent, when nothing more is read.
    fn line(&mut self, n: usize, text: &str, cut: bool) -> bool {
        let Some((key, mut value)) = text.split_once('=') else {
            return true;
        };
        let key = key.trim();
        if key.is_empty() {
            return true;
        }
        if cut || value.len() > MAX_OUTPUT_VALUE {
            value = &value[..floor_char_boundary(value, MAX_OUTPUT_VALUE)];
            self.report(format!(
                "output `{key}` (line {n}) is cut at 1 MiB, the most a value holds"
            ));
        }
        let cost = key.len() + value.len() + ENTRY_COST;
        if self.used + cost > MAX_OUTPUTS {
            self.report(format!(
                "outputs from line {n} on are left out: one attempt keeps at most 4 MiB of outputs"
            ));
            return false;
        }
        self.used += cost;
        if let Some(old) = self.out.values.insert(key.to_string(), value.to_string()) {
            self.used -= key.len() + old.len() + ENTRY_COST;
        }
        true
    }

    fn finish(mut self) -> Outputs {
        if self.unreported > 0 {
            let n = self.unreported;
            self.out
                .problems
                .push(format!("and {n} more problems with $SIGNALBOX_OUTPUT"));
        }
        self.out
    }
}

/// Reads one line (without its `\n`) into `buf`, keeping at most `cap`
/// bytes of it and skipping the rest: whether it was cut, or `None` at the
/// end of the file.
fn read_line_capped(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    let (mut any, mut cut) = (false, false);
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any.then_some(cut));
        }
        any = true;
        let (line, end) = match chunk.iter().position(|&b| b == b'\n') {
            Some(at) => (&chunk[..at], Some(at + 1)),
            None => (chunk, None),
        };
        let room = cap - buf.len();
        if line.len() > room {
            cut = true;
        }
        buf.extend_from_slice(&line[..line.len().min(room)]);
        let used = end.unwrap_or(chunk.len());
        r.consume(used);
        if end.is_some() {
            return Ok(Some(cut));
        }
    }
}

/// The line as text: all of it, or for a line that was cut, up to the
/// character the cut split. `None` when it is not valid UTF-8.
fn utf8_prefix(bytes: &[u8], cut: bool) -> Option<&str> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(text),
        // Only an incomplete character at the very end, where it was cut.
        Err(e) if cut && e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    }
}

/// The largest index `<= at` that starts a character of `s`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Outputs {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, bytes).unwrap();
        read_outputs(&path)
    }

    #[test]
    fn an_invalid_line_is_reported_and_the_others_are_kept() {
        let out = read(b"a=1\nbad=\xff\xfe\nb=two=2\n  c  = spaced\n=nokey\nnoequals\n");
        let values: Vec<(&str, &str)> = out
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(values, [("a", "1"), ("b", "two=2"), ("c", " spaced")]);
        assert_eq!(
            out.problems,
            ["$SIGNALBOX_OUTPUT line 2 is not valid UTF-8: it is left out"]
        );
    }

    #[test]
    fn no_file_is_no_outputs_and_a_last_line_needs_no_newline() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_outputs(&dir.path().join("none")), Outputs::default());
        assert_eq!(read(b"k=v").values["k"], "v");
        assert_eq!(read(b"k=v\r\n").values["k"], "v");
    }

    #[test]
    fn a_long_value_is_cut_at_a_character_and_said_so() {
        let mut file = b"big=".to_vec();
        file.extend_from_slice("é".repeat(MAX_OUTPUT_VALUE).as_bytes());
        file.extend_from_slice(b"\nafter=1\n");
        let out = read(&file);
        let big = &out.values["big"];
        assert!(big.len() <= MAX_OUTPUT_VALUE && big.len() > MAX_OUTPUT_VALUE - 4);
        assert!(big.chars().all(|c| c == 'é'));
        assert_eq!(out.values["after"], "1");
        assert_eq!(
            out.problems,
            ["output `big` (line 1) is cut at 1 MiB, the most a value holds"]
        );
    }

    #[test]
    fn one_attempt_keeps_at_most_its_budget() {
        let mut file = Vec::new();
        for i in 0..6 {
            file.extend_from_slice(format!("k{i}=").as_bytes());
            file.extend(std::iter::repeat_n(b'x', MAX_OUTPUT_VALUE - 100));
            file.push(b'\n');
        }
        let out = read(&file);
        assert_eq!(out.values.len(), 4);
        assert_eq!(
            out.problems,
            ["outputs from line 5 on are left out: one attempt keeps at most 4 MiB of outputs"]
        );
        // Replacing a key frees what it held.
        let twice = format!("k={}\n", "y".repeat(900 << 10)).repeat(6);
        assert!(read(twice.as_bytes()).problems.is_empty());
    }

    #[test]
    fn many_problems_are_counted_not_listed() {
        let out = read(&b"\xff\n".repeat(25));
        assert_eq!(out.problems.len(), MAX_REPORTED + 1);
        assert_eq!(
            out.problems[MAX_REPORTED],
            "and 15 more problems with $SIGNALBOX_OUTPUT"
        );
    }
}
