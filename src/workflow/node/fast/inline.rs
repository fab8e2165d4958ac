//! What fits on one line: keys, plain and quoted scalars, `[a, b]` lists.
//!
//! Each reader returns the node and the byte just past it, or `None` for
//! anything it is not sure of. Plain scalars are read strictly: no `: `, no
//! tab, no indicator first, nothing the granit path could read differently.

use std::borrow::Cow;

use serde_saphyr::granit_parser::ScalarStyle;

use super::super::{Key, Node, Value};
use super::Line;

/// Longest key read here; the granit path limits implicit keys too.
const MAX_KEY: usize = 500;

/// What a line holds from a given byte on.
pub(super) enum Shape<'s> {
    /// A key, and the byte of its `:`.
    Key(Node<'s>, usize),
    /// Anything else: a value.
    Value,
}

/// The 1-based column of byte `at`: characters before it, plus one.
pub(super) fn col(text: &str, at: usize) -> u32 {
    let b = text.as_bytes();
    let before = b.get(..at).unwrap_or(b);
    // Count every byte that starts a character.
    let n = before.iter().filter(|&&c| (c as i8) >= -0x40).count();
    u32::try_from(n + 1).unwrap_or(u32::MAX)
}

/// Whether only spaces, then the end of the line or a comment, follow byte
/// `at` (a `#` needs a space before it to start a comment).
pub(super) fn rest_blank(b: &[u8], at: usize) -> bool {
    let j = at + b.iter().skip(at).take_while(|&&c| c == b' ').count();
    match b.get(j) {
        None => at <= b.len(),
        Some(b'#') => j > at,
        Some(_) => false,
    }
}

/// Whether the line holds a key at `at` (`key: ...`, `"key": ...`).
pub(super) fn shape<'s>(line: &Line<'s>, at: usize) -> Option<Shape<'s>> {
    let b = line.bytes();
    if matches!(b.get(at), Some(b'"' | b'\'')) {
        let (node, end) = quoted(line, at)?;
        let key = b.get(end) == Some(&b':') && matches!(b.get(end + 1), None | Some(b' '));
        if key && end - at > MAX_KEY {
            return None;
        }
        return Some(if key {
            Shape::Key(node, end)
        } else {
            Shape::Value
        });
    }
    let mut i = at;
    let colon = loop {
        match b.get(i) {
            None => return Some(Shape::Value),
            Some(b':') if matches!(b.get(i + 1), None | Some(b' ')) => break i,
            Some(b'#') if i > at && b.get(i - 1) == Some(&b' ') => return Some(Shape::Value),
            Some(b'\t') => return None,
            Some(_) => i += 1,
        }
    };
    let end = at + b.get(at..colon)?.iter().rposition(|&c| c != b' ')? + 1;
    let text = line.text.get(at..end)?;
    let odd = |c: &u8| b"[]{},\"'".contains(c);
    if end - at > MAX_KEY || indicator(b, at, false) || text.as_bytes().iter().any(odd) {
        return None;
    }
    let node = Node {
        pos: line.pos(at),
        value: super::super::scalar(Cow::Borrowed(text), ScalarStyle::Plain, None),
    };
    Some(Shape::Key(node, colon))
}

/// A key node as the granit path names it, or `None` where it would refuse
/// the key (null) or merge it (`<<`).
pub(super) fn key(node: Node<'_>) -> Option<Key<'_>> {
    let pos = node.pos;
    // A text key is moved, not copied: a workflow has one per step.
    let name = match node.value {
        Value::Str(name) => name,
        _ => match node.scalar_text() {
            Some(name) if !name.is_empty() => name.into(),
            _ => return None,
        },
    };
    (name != "<<").then_some(Key { pos, name })
}

/// Whether a plain scalar cannot start at `at`: YAML gives the byte a
/// meaning there (`- x`, `&a`, `*a`, `!t`, `? k`, `|`, `>` ...).
fn indicator(b: &[u8], at: usize, flow: bool) -> bool {
    match b.get(at) {
        None | Some(b' ' | b'\t') => true,
        Some(b'-') => match b.get(at + 1) {
            None | Some(b' ' | b'\t') => true,
            Some(b',' | b']') => flow,
            Some(_) => false,
        },
        Some(c) => b"?:,[]{}#&*!|>'\"%@`".contains(c),
    }
}

/// A scalar value at `at`: quoted, or plain up to a comment, the end of the
/// line, or (in a flow collection) a `,`, `]` or `}`.
pub(super) fn scalar<'s>(line: &Line<'s>, at: usize, flow: bool) -> Option<(Node<'s>, usize)> {
    let b = line.bytes();
    if matches!(b.get(at), Some(b'"' | b'\'')) {
        return quoted(line, at);
    }
    if indicator(b, at, flow) {
        return None;
    }
    let mut i = at;
    while let Some(&c) = b.get(i) {
        match c {
            b'\t' => return None,
            b':' if !flow && matches!(b.get(i + 1), None | Some(b' ')) => return None,
            b'#' if i > at && b.get(i - 1) == Some(&b' ') => break,
            b',' | b']' | b'}' if flow => break,
            b'[' | b'{' | b':' | b'#' | b'"' | b'\'' if flow => return None,
            _ => i += 1,
        }
    }
    let end = at + b.get(at..i)?.iter().rposition(|&c| c != b' ')? + 1;
    let text = line.text.get(at..end)?;
    let node = Node {
        pos: line.pos(at),
        value: super::super::scalar(Cow::Borrowed(text), ScalarStyle::Plain, None),
    };
    Some((node, end))
}

/// A one-line quoted scalar at `at`; double quotes take only `\\ \" \n \t
/// \/` as escapes.
fn quoted<'s>(line: &Line<'s>, at: usize) -> Option<(Node<'s>, usize)> {
    let (b, text) = (line.bytes(), line.text);
    let quote = *b.get(at)?;
    let mut out = String::new();
    let (mut seg, mut i) = (at + 1, at + 1);
    loop {
        match *b.get(i)? {
            b'\t' => return None,
            c if c == quote && quote == b'\'' && b.get(i + 1) == Some(&b'\'') => {
                out.push_str(text.get(seg..=i)?);
                i += 2;
                seg = i;
            }
            c if c == quote => break,
            b'\\' if quote == b'"' => {
                out.push_str(text.get(seg..i)?);
                out.push(match *b.get(i + 1)? {
                    b'\\' => '\\',
                    b'"' => '"',
                    b'n' => '\n',
                    b't' => '\t',
                    b'/' => '/',
                    _ => return None,
                });
                i += 2;
                seg = i;
            }
            _ => i += 1,
        }
    }
    // With nothing unescaped, the text is borrowed as written.
    let value = if seg == at + 1 {
        Cow::Borrowed(text.get(seg..i)?)
    } else {
        out.push_str(text.get(seg..i)?);
        Cow::Owned(out)
    };
    let node = Node {
        pos: line.pos(at),
        value: Value::Str(value),
    };
    Some((node, i + 1))
}

/// A one-line flow list of scalars at `at` (`[]`, `[a, "b"]`): the node, the
/// byte after its `]`, and how many items it holds.
///
/// Items gather on `scratch` and move into a Vec of the exact size.
pub(super) fn flow_seq<'s>(
    line: &Line<'s>,
    at: usize,
    scratch: &mut Vec<Node<'s>>,
) -> Option<(Node<'s>, usize, usize)> {
    let b = line.bytes();
    let skip = |i: usize| i + b.iter().skip(i).take_while(|&&c| c == b' ').count();
    let start = scratch.len();
    let items = scratch;
    let mut i = skip(at + 1);
    if b.get(i) != Some(&b']') {
        loop {
            let (item, end) = scalar(line, i, true)?;
            items.push(item);
            i = skip(end);
            match b.get(i)? {
                b',' => i = skip(i + 1),
                b']' => break,
                _ => return None,
            }
        }
    }
    let n = items.len() - start;
    let node = Node {
        pos: line.pos(at),
        value: Value::Seq(items.drain(start..).collect()),
    };
    Some((node, i + 1, n))
}

/// A one-line flow mapping at `at` of plain keys to scalars or flow lists
/// (`{ run: make, needs: [a, b] }`): the node, the byte after its `}`, and
/// how many nodes it holds. Empty entries, a trailing `,`, quoted or
/// spaced keys and nested mappings are left to the granit path.
pub(super) fn flow_map<'s>(
    line: &Line<'s>,
    at: usize,
    items: &mut Vec<Node<'s>>,
    entries: &mut Vec<(Key<'s>, Node<'s>)>,
) -> Option<(Node<'s>, usize, usize)> {
    let b = line.bytes();
    let skip = |i: usize| i + b.iter().skip(i).take_while(|&&c| c == b' ').count();
    let start = entries.len();
    let mut n = 0;
    let mut i = skip(at + 1);
    loop {
        let colon = i + b.get(i..)?.iter().position(|&c| c == b':')?;
        let name = line.text.get(i..colon)?;
        let odd = |c: &u8| b" []{},\"'#".contains(c);
        if name.is_empty()
            || name.len() > MAX_KEY
            || indicator(b, i, true)
            || name.as_bytes().iter().any(odd)
        {
            return None;
        }
        if b.get(colon + 1) != Some(&b' ') {
            return None;
        }
        let key_node = Node {
            pos: line.pos(i),
            value: super::super::scalar(Cow::Borrowed(name), ScalarStyle::Plain, None),
        };
        let v = skip(colon + 1);
        let (value, end) = match b.get(v)? {
            b'[' => {
                let (node, end, m) = flow_seq(line, v, items)?;
                n += m;
                (node, end)
            }
            b'{' | b'}' | b',' => return None,
            _ => scalar(line, v, true)?,
        };
        entries.push((key(key_node)?, value));
        n += 2;
        i = skip(end);
        match b.get(i)? {
            b',' => i = skip(i + 1),
            b'}' => break,
            _ => return None,
        }
        if b.get(i) == Some(&b'}') {
            return None;
        }
    }
    let node = Node {
        pos: line.pos(at),
        value: Value::Map(entries.drain(start..).collect()),
    };
    Some((node, i + 1, n))
}
