//! A file's lines by number, each found in constant time after one pass.
//!
//! Positions are mapped back to the text once per block scalar and once per
//! error; `str::lines().nth(n)` walks the file from the start each time,
//! which made a file of 20,000 `run: |` steps take minutes to load.

/// The lines of a text as `str::lines` splits them: at `\n` or `\r\n`, with
/// no empty line after a final line ending.
pub struct Lines<'s> {
    source: &'s str,
    /// Byte offset of each line's start (files are at most 10 MiB).
    starts: Vec<u32>,
}

impl<'s> Lines<'s> {
    pub fn new(source: &'s str) -> Lines<'s> {
        let mut starts = Vec::new();
        if !source.is_empty() {
            starts.push(0);
        }
        starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|&(i, b)| b == b'\n' && i + 1 < source.len())
                .map(|(i, _)| u32::try_from(i + 1).unwrap_or(u32::MAX)),
        );
        Lines { source, starts }
    }

    /// How many lines there are.
    pub fn count(&self) -> usize {
        self.starts.len()
    }

    /// Line `n`, counted from 0, without its line ending.
    pub fn get(&self, n: usize) -> Option<&'s str> {
        let start = *self.starts.get(n)? as usize;
        let end = self
            .starts
            .get(n + 1)
            .map_or(self.source.len(), |&s| s as usize);
        let line = self.source.get(start..end)?;
        Some(match line.strip_suffix('\n') {
            Some(l) => l.strip_suffix('\r').unwrap_or(l),
            None => line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_as_str_lines_does() {
        for text in [
            "",
            "a",
            "a\n",
            "a\nb",
            "a\r\nb\r\n",
            "\n\n",
            "a\r",
            "x\n\r\ny\rz\n",
            "é\nü",
        ] {
            let lines = Lines::new(text);
            let ours: Vec<&str> = (0..lines.count()).filter_map(|n| lines.get(n)).collect();
            assert_eq!(ours, text.lines().collect::<Vec<_>>(), "{text:?}");
            assert_eq!(lines.get(lines.count()), None);
        }
    }
}
