//! Literal block scalars (`|`, `|-`, `|+`), with YAML 1.2's chomping as the
//! granit path applies it. Folded scalars, explicit indentation and every
//! doubtful case (no content, over-indented blank lines, a tab in the
//! indentation) are left to the granit path.

use super::super::{Node, Value, indicator_col};
use super::{Line, Reader, rest_blank};

#[derive(Clone, Copy, PartialEq)]
enum Chomp {
    /// `|`: one final line break.
    Clip,
    /// `|-`: none.
    Strip,
    /// `|+`: every trailing line break.
    Keep,
}

/// How the scalar's lines ended.
enum End {
    /// At the end of the text.
    Eof,
    /// At a less indented line: a comment or the next content.
    Line { comment: bool },
}

impl<'s> Reader<'s> {
    /// The literal scalar whose `|` is at byte `at` of `line`, in a
    /// collection at `indent`; leaves `cur` on the next content line.
    pub(super) fn literal(&mut self, line: Line<'s>, at: usize, indent: usize) -> Option<Node<'s>> {
        let b = line.bytes();
        let (chomp, after) = match b.get(at + 1) {
            Some(b'-') => (Chomp::Strip, at + 2),
            Some(b'+') => (Chomp::Keep, at + 2),
            _ => (Chomp::Clip, at + 1),
        };
        let pos = line.pos(at);
        // The granit path looks for the `|` on this line again; it must find
        // this one.
        if !rest_blank(b, after) || indicator_col(line.text) != Some(u64::from(pos.col)) {
            return None;
        }
        let (mut body, blanks, end) = self.literal_lines(indent)?;
        match (chomp, end) {
            (Chomp::Clip, _) => {}
            (Chomp::Strip, _) => {
                body.pop();
            }
            (Chomp::Keep, End::Line { comment: false }) => {
                body.extend(std::iter::repeat_n('\n', blanks));
            }
            (Chomp::Keep, End::Eof) if self.text.ends_with('\n') => {
                body.extend(std::iter::repeat_n('\n', blanks));
            }
            (Chomp::Keep, _) => return None,
        }
        self.advance()?;
        Some(Node {
            pos,
            value: Value::Str(body.into()),
        })
    }

    /// Reads the content lines (deeper than `indent`): the text with a line
    /// break after each line, the blank lines after the last one, and what
    /// ended them. Leaves the reader on the line that ended them.
    fn literal_lines(&mut self, indent: usize) -> Option<(String, usize, End)> {
        let mut body = String::new();
        let mut depth: Option<usize> = None;
        let (mut blanks, mut lead) = (0, 0);
        loop {
            let (at, no) = (self.at, self.no);
            let Some(l) = self.raw() else {
                depth?;
                return Some((body, blanks, End::Eof));
            };
            let s = l.indent;
            let Some(&c) = l.bytes().get(s) else {
                // Blank: only an over-indented one would hold text.
                match depth {
                    Some(d) if s > d => return None,
                    None => lead = lead.max(s),
                    _ => {}
                }
                blanks += 1;
                continue;
            };
            let d = match depth {
                Some(d) => d,
                None if s > indent && c != b'\t' && lead <= s => *depth.insert(s),
                None => return None,
            };
            if s < d {
                if c == b'\t' {
                    return None;
                }
                (self.at, self.no) = (at, no);
                return Some((body, blanks, End::Line { comment: c == b'#' }));
            }
            body.extend(std::iter::repeat_n('\n', blanks));
            blanks = 0;
            body.push_str(l.text.get(d..)?);
            body.push('\n');
        }
    }
}
