//! Masking what an attempt writes as it comes: its output lines, which the
//! process reader cuts at 64 KiB, and its `$SIGNALBOX_OUTPUT` file, copied
//! masked once the attempt is over.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use super::Masker;
use crate::engine::process::{MAX_LINE, Stream};

/// One attempt's output lines, masked one by one; it remembers, for each
/// stream, whether the last line was cut at `MAX_LINE`, so a secret split
/// by the cut is masked on both sides (see `cut`).
pub struct Lines {
    mask: Arc<Masker>,
    cut: [bool; 3],
}

impl Lines {
    pub fn new(mask: Arc<Masker>) -> Lines {
        Lines {
            mask,
            cut: [false; 3],
        }
    }

    pub fn line(&mut self, stream: Stream, line: String) -> String {
        if self.mask.is_empty() {
            return line;
        }
        let k = match stream {
            Stream::Output => 0,
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        };
        let head = self.cut[k];
        // A line this long was cut (or is exactly that long: masking a few
        // bytes more at its end is the price).
        let tail = line.len() >= MAX_LINE;
        self.cut[k] = tail;
        match self.mask.piece(line.as_bytes(), head, tail) {
            std::borrow::Cow::Borrowed(_) => line,
            std::borrow::Cow::Owned(b) => String::from_utf8_lossy(&b).into_owned(),
        }
    }
}

/// A step's outputs, keys and values masked; a value cut at its limit (1
/// MiB) may end with the start of a secret, masked too.
pub fn outputs(mask: &Masker, values: BTreeMap<String, String>) -> BTreeMap<String, String> {
    if mask.is_empty() {
        return values;
    }
    let masked = |t: String, cut: bool| match mask.piece(t.as_bytes(), false, cut) {
        std::borrow::Cow::Borrowed(_) => t,
        std::borrow::Cow::Owned(b) => String::from_utf8_lossy(&b).into_owned(),
    };
    // Cut at a character's start: up to 3 bytes short of the limit.
    let limit = crate::engine::run_dir::MAX_OUTPUT_VALUE - 3;
    (values.into_iter())
        .map(|(k, v)| {
            let cut = v.len() >= limit;
            (masked(k, false), masked(v, cut))
        })
        .collect()
}

/// The most of one line of an outputs file held at once while it is copied.
const FILE_PIECE: usize = 1 << 20;

/// Rewrites the step's outputs file at `path` with its secrets masked (the
/// step wrote it, so it may hold one): copied piece by piece into a new
/// private file, which then takes its place. No file, nothing to do.
pub fn mask_file(path: &Path, mask: &Masker) -> io::Result<()> {
    if mask.is_empty() {
        return Ok(());
    }
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    let src = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // Step ids hold no `.`, so no step's file is called this.
    let tmp = path.with_extension("masking");
    let _ = std::fs::remove_file(&tmp);
    let mut out = io::BufWriter::new(
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?,
    );
    let mut reader = io::BufReader::new(src);
    let mut buf = Vec::new();
    let mut cut = false;
    loop {
        buf.clear();
        let n = io::Read::take(&mut reader, FILE_PIECE as u64).read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        let whole = buf.last() == Some(&b'\n');
        let body = if whole {
            &buf[..buf.len() - 1]
        } else {
            &buf[..]
        };
        let tail = !whole && n == FILE_PIECE;
        out.write_all(&mask.piece(body, cut, tail))?;
        if whole {
            out.write_all(b"\n")?;
        }
        cut = tail;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outputs_file_is_rewritten_masked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("step");
        std::fs::write(&path, b"k=abc-secret-1\nother=x\nlast=abc-secret-1").unwrap();
        let mask = Masker::new(["abc-secret-1"]);
        mask_file(&path, &mask).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "k=***\nother=x\nlast=***");
        mask_file(&dir.path().join("none"), &mask).unwrap();
    }

    #[test]
    fn a_secret_cut_between_two_output_lines_is_masked_in_both() {
        let mask = Arc::new(Masker::new(["0123456789"]));
        let mut lines = Lines::new(mask);
        let first = format!("{}01234", "x".repeat(MAX_LINE - 5));
        let first = lines.line(Stream::Output, first);
        assert!(first.ends_with("x***"), "{}", &first[first.len() - 10..]);
        assert_eq!(
            lines.line(Stream::Output, "56789 after".into()),
            "*** after"
        );
        assert_eq!(
            lines.line(Stream::Output, "56789 again".into()),
            "56789 again"
        );
    }
}
