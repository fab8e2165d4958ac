//! A hand-written reader for the YAML that workflow files are made of: block
//! mappings and sequences, one-line scalars, one-line flow lists and literal
//! block scalars. It builds exactly the tree the granit path would.
//!
//! It never reports an error: anything outside that subset, or anything odd
//! at all, makes it give up (`None`), and the granit path then reads the file
//! and says what is wrong. It works on bytes and only cuts text at ASCII
//! delimiters, so every slice falls on a character boundary.

mod block;
mod inline;
#[cfg(test)]
mod tests;

use super::{Key, MAX_DEPTH, MAX_NODES, Node, Pos, Value};
use inline::{Shape, col, rest_blank, shape};

/// Collections open at once before giving up, well below the granit path's
/// limit so that it is the one to report a too-deep file.
const DEPTH: usize = MAX_DEPTH - 8;

/// Nodes before giving up, below the granit path's limit for the same reason.
const NODES: usize = MAX_NODES - MAX_NODES / 10;

/// Longest non-ASCII content line read here.
const LONG_LINE: usize = 4096;

/// Reads `text` if it is in the subset, or says `None`.
pub(super) fn parse(text: &str) -> Option<Node<'_>> {
    if !plain_text(text) {
        return None;
    }
    let mut r = Reader {
        text,
        at: 0,
        no: 1,
        cur: None,
        before_content: true,
        depth: 0,
        nodes: 0,
        items: Vec::new(),
        entries: Vec::new(),
    };
    r.advance()?;
    r.document_start()?;
    let first = r.cur?;
    let root = r.block(first)?;
    // Anything left over is something the subset does not know.
    if r.cur.is_some() || r.nodes > NODES {
        return None;
    }
    Some(root)
}

/// No carriage returns, control characters, BOMs or Unicode line breaks: the
/// granit path has its own views on those.
fn plain_text(text: &str) -> bool {
    let ascii_ok = |b: u8| b == b'\n' || b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80;
    if !text.bytes().all(ascii_ok) {
        return false;
    }
    text.is_ascii()
        || text.chars().all(|c| {
            !matches!(
                c,
                '\u{80}'
                    ..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            )
        })
}

/// One line of the file that holds content (not blank, not a comment).
#[derive(Clone, Copy)]
struct Line<'s> {
    /// 1-based line number.
    no: u32,
    /// The line without its `\n`.
    text: &'s str,
    /// Leading spaces.
    indent: usize,
    /// Whether the line is ASCII, so that a column is a byte offset: a long
    /// line of many items must not be counted from its start for each one.
    ascii: bool,
}

impl Line<'_> {
    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// Whether a block sequence entry (`-` then a space or the end) is at `at`.
    fn dash_at(&self, at: usize) -> bool {
        self.bytes().get(at) == Some(&b'-') && matches!(self.bytes().get(at + 1), None | Some(b' '))
    }

    fn pos(&self, at: usize) -> Pos {
        let col = match self.ascii {
            true => u32::try_from(at.min(self.text.len()) + 1).unwrap_or(u32::MAX),
            false => col(self.text, at),
        };
        Pos { line: self.no, col }
    }

    /// The position just past the line's last character.
    fn end(&self) -> Pos {
        self.pos(self.text.len())
    }
}

struct Reader<'s> {
    text: &'s str,
    /// Byte offset of the first line not read yet.
    at: usize,
    /// Its line number.
    no: u32,
    /// The next content line, not handled yet; `None` at the end.
    cur: Option<Line<'s>>,
    /// Until the first content line: a `---` may open the document.
    before_content: bool,
    depth: usize,
    nodes: usize,
    /// Children of the open sequences, innermost last; moved into a Vec of
    /// the exact size when their sequence closes.
    items: Vec<Node<'s>>,
    /// The same for mappings.
    entries: Vec<(Key<'s>, Node<'s>)>,
}

impl<'s> Reader<'s> {
    /// Reads the next raw line, `None` at the end of the text.
    fn raw(&mut self) -> Option<Line<'s>> {
        let rest = self.text.get(self.at..).filter(|r| !r.is_empty())?;
        let len = rest.find('\n').unwrap_or(rest.len());
        let text = rest.get(..len)?;
        let line = Line {
            no: self.no,
            text,
            indent: text.bytes().take_while(|&b| b == b' ').count(),
            ascii: text.is_ascii(),
        };
        self.at += len + 1;
        self.no = self.no.checked_add(1)?;
        Some(line)
    }

    /// Moves `cur` to the next content line, past blanks and comments.
    fn advance(&mut self) -> Option<()> {
        self.cur = None;
        while let Some(line) = self.raw() {
            match line.bytes().get(line.indent) {
                None | Some(b'#') => continue,
                Some(b'\t') => return None,
                Some(_) => {}
            }
            // Columns on other lines are counted from the start of the line.
            if !line.ascii && line.text.len() > LONG_LINE {
                return None;
            }
            let b = line.bytes();
            let marker = b.starts_with(b"---") || b.starts_with(b"...") || b.starts_with(b"%");
            // A `---` is only understood before the content.
            if line.indent == 0 && marker && !(self.before_content && b.starts_with(b"---")) {
                return None;
            }
            self.cur = Some(line);
            return Some(());
        }
        Some(())
    }

    /// Skips a leading `---` line.
    fn document_start(&mut self) -> Option<()> {
        let line = self.cur?;
        if line.indent == 0 && line.bytes().starts_with(b"---") {
            if !rest_blank(line.bytes(), 3) {
                return None;
            }
            self.before_content = false;
            self.advance()?;
        }
        self.before_content = false;
        Some(())
    }

    fn count(&mut self) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= NODES).then_some(())
    }

    fn open(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= DEPTH).then_some(())
    }

    /// The block collection whose first line is `line`.
    fn block(&mut self, line: Line<'s>) -> Option<Node<'s>> {
        if line.dash_at(line.indent) {
            let pos = line.pos(line.indent);
            self.seq(line.indent, pos)
        } else {
            self.map(line.indent)
        }
    }

    /// A block sequence of entries at column `indent`, starting at `cur`.
    fn seq(&mut self, indent: usize, pos: Pos) -> Option<Node<'s>> {
        self.open()?;
        self.count()?;
        let start = self.items.len();
        while let Some(line) = self.cur.filter(|l| l.indent == indent && l.dash_at(indent)) {
            let item = self.entry(line, indent)?;
            self.items.push(item);
            match self.cur {
                Some(next) if next.indent > indent => return None,
                _ => {}
            }
        }
        self.depth -= 1;
        let items = self.items.drain(start..).collect();
        Some(Node {
            pos,
            value: Value::Seq(items),
        })
    }

    /// One `- ...` entry of a sequence at `indent`.
    fn entry(&mut self, line: Line<'s>, indent: usize) -> Option<Node<'s>> {
        let b = line.bytes();
        let at = indent
            + 1
            + b.iter()
                .skip(indent + 1)
                .take_while(|&&c| c == b' ')
                .count();
        if rest_blank(b, indent + 1) {
            self.advance()?;
            return self.below(indent, line.end());
        }
        if line.dash_at(at) {
            return None; // `- - x`: not in the subset
        }
        match shape(&line, at)? {
            Shape::Key(..) => self.map(at),
            Shape::Value => self.inline(line, at, indent),
        }
    }

    /// The value of an entry or key that has nothing on its own line: a
    /// collection on the lines below, deeper than `indent`, or null at `null`.
    fn below(&mut self, indent: usize, null: Pos) -> Option<Node<'s>> {
        match self.cur {
            Some(next) if next.indent > indent => self.block(next),
            _ => {
                self.count()?;
                Some(Node {
                    pos: null,
                    value: Value::Null,
                })
            }
        }
    }

    /// A block mapping whose keys are at column `indent`, the first on `cur`
    /// (after its `- ` for a mapping in a sequence entry).
    fn map(&mut self, indent: usize) -> Option<Node<'s>> {
        self.open()?;
        let mut line = self.cur?;
        let pos = line.pos(indent);
        self.count()?;
        let start = self.entries.len();
        loop {
            let Shape::Key(key, colon) = shape(&line, indent)? else {
                return None;
            };
            self.count()?;
            let key = inline::key(key)?;
            let value = self.value(line, indent, colon)?;
            self.entries.push((key, value));
            match self.cur {
                Some(next) if next.indent == indent => line = next,
                Some(next) if next.indent > indent => return None,
                _ => break,
            }
        }
        self.depth -= 1;
        let entries = self.entries.drain(start..).collect();
        Some(Node {
            pos,
            value: Value::Map(entries),
        })
    }

    /// The value after the `:` at byte `colon` of a key at `indent`.
    fn value(&mut self, line: Line<'s>, indent: usize, colon: usize) -> Option<Node<'s>> {
        let b = line.bytes();
        if !rest_blank(b, colon + 1) {
            let at = colon + 1 + b.iter().skip(colon + 1).take_while(|&&c| c == b' ').count();
            return self.inline(line, at, indent);
        }
        self.advance()?;
        match self.cur {
            // A sequence may sit at its key's own indent.
            Some(next) if next.indent == indent && next.dash_at(indent) => {
                let first = self.indentless_pos(next, indent);
                self.seq(indent, first)
            }
            _ => self.below(indent, line.pos(colon)),
        }
    }

    /// Where the granit path places a sequence at its key's indent: at the
    /// first entry's content, or the end of the line if there is none.
    fn indentless_pos(&self, line: Line<'s>, indent: usize) -> Pos {
        let b = line.bytes();
        if rest_blank(b, indent + 1) {
            return line.end();
        }
        let at = indent
            + 1
            + b.iter()
                .skip(indent + 1)
                .take_while(|&&c| c == b' ')
                .count();
        line.pos(at)
    }

    /// A value written on the line itself, at byte `at`, in a collection
    /// at `indent`; leaves `cur` on the next content line.
    fn inline(&mut self, line: Line<'s>, at: usize, indent: usize) -> Option<Node<'s>> {
        self.count()?;
        let b = line.bytes();
        let node = match b.get(at) {
            Some(b'|') => return self.literal(line, at, indent),
            Some(b'[') => {
                self.open()?;
                let (node, end, n) = inline::flow_seq(&line, at, &mut self.items)?;
                self.depth -= 1;
                self.nodes += n;
                rest_blank(b, end).then_some(node)?
            }
            Some(b'{') if b.get(at + 1) == Some(&b'}') => {
                self.open()?;
                self.depth -= 1;
                rest_blank(b, at + 2).then_some(Node {
                    pos: line.pos(at),
                    value: Value::Map(Vec::new()),
                })?
            }
            Some(b'{') => {
                // The map and a list in it: two levels.
                self.open()?;
                self.open()?;
                let (node, end, n) =
                    inline::flow_map(&line, at, &mut self.items, &mut self.entries)?;
                self.depth -= 2;
                self.nodes += n;
                rest_blank(b, end).then_some(node)?
            }
            _ => {
                let (node, end) = inline::scalar(&line, at, false)?;
                rest_blank(b, end).then_some(node)?
            }
        };
        self.advance()?;
        Some(node)
    }
}
