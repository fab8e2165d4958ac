//! The one place that reads YAML: bytes in, a tree of positioned nodes out.
//!
//! Everything after this works on [`Node`], so the YAML crate can be swapped
//! by rewriting this file alone. The tree keeps every key in file order,
//! duplicates included, so the loader can report them with their positions.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError, Span};

use super::diag::Pos;
use super::lines::Lines;

/// Files larger than this are refused before parsing: no workflow is that big,
/// and a parser should never be handed an arbitrarily large input.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// Nodes a document may hold once aliases are expanded: a 10,000-step
/// workflow uses about 60,000, an alias bomb billions.
const MAX_NODES: usize = 1_000_000;

/// Workflows nest five or six levels; deeper input is a mistake or an attack.
const MAX_DEPTH: usize = 32;

/// A YAML value with the position it was written at.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in file order; keys are always text (other keys are refused).
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub pos: Pos,
    pub name: String,
}

impl Node {
    /// What a user would call this kind of value, for "expected X, found Y".
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// A scalar as text, the way a shell variable would hold it.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str(s) => Some(s.clone()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

/// Why a document could not be read as YAML, with where.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub pos: Pos,
    pub message: String,
}

/// Parses one YAML document into a tree. Works from the parser's event
/// stream, so nothing recurses on the input's nesting; refuses oversized
/// input, alias bombs and deep nesting with an error.
///
/// Scalars resolve as YAML 1.2's core schema does: plain `null`, `~` and
/// nothing are null, `true`/`false` booleans, numbers numbers; quoted and
/// block scalars are always strings. `<<` merge keys are applied.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(ParseError {
            pos: Pos::START,
            message: format!(
                "the file is {} bytes; workflow files are limited to {MAX_FILE_BYTES} bytes",
                text.len()
            ),
        });
    }
    let mut builder = Builder {
        source: text,
        ..Builder::default()
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(scan_error)?;
        builder.event(event, span)?;
    }
    Ok(builder.root.unwrap_or(Node {
        pos: Pos::START,
        value: Value::Null,
    }))
}

fn scan_error(e: ScanError) -> ParseError {
    let m = e.marker();
    let info = e.info();
    let message = if info.contains("recursion limit") || info.contains("nesting limit") {
        "the YAML is nested too deeply".to_string()
    } else {
        info.replace('\n', " ")
    };
    ParseError {
        pos: Pos::new(m.line() as u64, m.col() as u64 + 1),
        message,
    }
}

fn pos_of(span: &Span) -> Pos {
    Pos::new(span.start.line() as u64, span.start.col() as u64 + 1)
}

/// An open collection while its children arrive.
enum Open {
    Seq(Node, Vec<Node>, usize),
    /// The mapping, its entries, a key waiting for its value, its anchor.
    Map(Node, Vec<(Key, Node)>, Option<Node>, usize),
}

#[derive(Default)]
struct Builder<'s> {
    /// For placing block scalars at their `|` or `>`.
    source: &'s str,
    /// The source's lines, indexed on the first block scalar.
    lines: std::cell::OnceCell<Lines<'s>>,
    stack: Vec<Open>,
    root: Option<Node>,
    /// Anchored nodes by anchor id, with their size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    documents: usize,
}

impl Builder<'_> {
    /// Takes one event. Reads to the end of the input, so a second document
    /// is reported rather than ignored.
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), ParseError> {
        let pos = pos_of(&span);
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(ParseError {
                        pos,
                        message: "a workflow file holds one YAML document; found a second `---`"
                            .to_string(),
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let pos = match style {
                    ScalarStyle::Literal | ScalarStyle::Folded => {
                        let source = self.source;
                        block_indicator(self.lines.get_or_init(|| Lines::new(source)), pos)
                    }
                    _ => pos,
                };
                let value = scalar(text, style, tag.as_deref().map(|t| t.suffix()));
                self.add(Node { pos, value }, anchor, pos)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                self.deeper(pos)?;
                let node = Node {
                    pos,
                    value: Value::Null,
                };
                self.stack.push(Open::Seq(node, Vec::new(), anchor));
            }
            Event::MappingStart(_, anchor, _) => {
                self.deeper(pos)?;
                let node = Node {
                    pos,
                    value: Value::Null,
                };
                self.stack.push(Open::Map(node, Vec::new(), None, anchor));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq(mut node, mut items, anchor)) => {
                        items.shrink_to_fit();
                        node.value = Value::Seq(items);
                        (node, anchor)
                    }
                    Some(Open::Map(mut node, entries, _, anchor)) => {
                        let mut entries = merge(entries);
                        entries.shrink_to_fit();
                        node.value = Value::Map(entries);
                        (node, anchor)
                    }
                    None => return Ok(()),
                };
                self.nodes -= 1; // counted once when opened
                self.add(node, anchor, pos)?;
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id) else {
                    return Err(ParseError {
                        pos,
                        message: "unknown alias".to_string(),
                    });
                };
                let (mut node, size) = (node.clone(), *size);
                self.count(size, pos)?;
                node.pos = pos;
                self.nodes -= 1;
                self.add(node, 0, pos)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn deeper(&mut self, pos: Pos) -> Result<(), ParseError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(ParseError {
                pos,
                message: "the YAML is nested too deeply".to_string(),
            });
        }
        self.count(1, pos)
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), ParseError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(ParseError {
                pos,
                message: "the YAML expands beyond what a workflow may hold; an alias bomb?"
                    .to_string(),
            });
        }
        Ok(())
    }

    /// Places a finished node in its parent (or as the root).
    fn add(&mut self, node: Node, anchor: usize, pos: Pos) -> Result<(), ParseError> {
        self.count(1, pos)?;
        if anchor != 0 {
            let size = size_of(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(_, items, _)) => items.push(node),
            Some(Open::Map(_, entries, pending, _)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    let name = key.scalar_text().unwrap_or_default();
                    if name.is_empty() && !matches!(key.value, Value::Str(_)) {
                        return Err(ParseError {
                            pos: key.pos,
                            message: format!("a key must be a string, found {}", key.kind()),
                        });
                    }
                    entries.push((Key { pos: key.pos, name }, node));
                }
            },
        }
        Ok(())
    }
}

/// The parser places a block scalar at its first content line; errors read
/// better at the `|` or `>` that opens it, on the last non-blank line above.
fn block_indicator(lines: &Lines<'_>, content: Pos) -> Pos {
    // As many lines as there are before the content's, the last excluded.
    let above = (content.line as usize).min(lines.count()).saturating_sub(1);
    for n in (0..above).rev() {
        let line = lines.get(n).unwrap_or_default();
        let code = line.split(" #").next().unwrap_or(line).trim_end();
        if code.is_empty() {
            continue;
        }
        return match code.rfind(['|', '>']) {
            Some(at) => Pos::new(n as u64 + 1, code[..at].chars().count() as u64 + 1),
            None => content,
        };
    }
    content
}

fn size_of(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(size_of).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(_, v)| 1 + size_of(v)).sum::<usize>(),
        _ => 1,
    }
}

/// Applies `<<` merge keys: entries of the merged mappings that the mapping
/// does not set itself are added after its own.
fn merge(entries: Vec<(Key, Node)>) -> Vec<(Key, Node)> {
    if !entries.iter().any(|(k, _)| k.name == "<<") {
        return entries;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) =
        entries.into_iter().partition(|(k, _)| k.name == "<<");
    for (_, source) in merges {
        let maps = match source.value {
            Value::Seq(items) => items,
            other => vec![Node {
                pos: source.pos,
                value: other,
            }],
        };
        for map in maps {
            if let Value::Map(inherited) = map.value {
                for (k, v) in inherited {
                    if !own.iter().any(|(o, _)| o.name == k.name) {
                        own.push((k, v));
                    }
                }
            }
        }
    }
    own
}

fn scalar(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&str>) -> Value {
    if style != ScalarStyle::Plain || tag == Some("str") {
        return Value::Str(text.into_owned());
    }
    let t = text.as_ref();
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(v) = integer(t) {
        return Value::Int(v);
    }
    let numeric = t
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'-' || b == b'+' || b == b'.');
    if numeric
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        && let Ok(f) = t.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text.into_owned())
}

fn integer(t: &str) -> Option<i64> {
    if let Some(hex) = t.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = t.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_order_and_duplicates() {
        let node = parse("b: 1\na: {x: [true, 2.5]}\nb: 3\n").unwrap();
        let Value::Map(entries) = node.value else {
            unreachable!("a mapping")
        };
        let names: Vec<_> = entries.iter().map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(names, ["b", "a", "b"]);
        assert_eq!(entries[1].0.pos, Pos { line: 2, col: 1 });
        assert_eq!(entries[2].1.pos, Pos { line: 3, col: 4 });
    }

    #[test]
    fn refuses_bombs_and_depth_fast() {
        let mut bomb = String::from("a: &a [1,1,1,1,1,1,1,1,1]\n");
        for i in 1..12u8 {
            let (prev, cur) = ((b'a' + i - 1) as char, (b'a' + i) as char);
            bomb.push_str(&format!("{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        }
        let err = parse(&bomb).unwrap_err();
        assert!(err.message.contains("alias bomb"), "{}", err.message);
        assert!(parse(&"[".repeat(100_000)).is_err());
        let deep: String = (0..500)
            .map(|i| format!("{}k:\n", "  ".repeat(i)))
            .collect();
        assert!(parse(&deep).unwrap_err().message.contains("nested"));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse("a: {b: 1\nc: 2\n").unwrap_err();
        assert_eq!(err.pos.line, 2);
        assert!(!err.message.contains("at line"), "{}", err.message);
    }
}
