//! The one place that reads YAML: bytes in, a tree of positioned nodes out.
//!
//! Everything after this works on [`Node`], so the YAML crate can be swapped
//! by rewriting this file alone. The tree keeps every key in file order,
//! duplicates included, so the loader can report them with their positions.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Budget, DuplicateKeyPolicy, Options, Spanned};

use super::diag::Pos;

/// Files larger than this are refused before parsing: no workflow is that big,
/// and a parser should never be handed an arbitrarily large input.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// Stack for the parser thread: ample for the depth budget, reserved not used.
const PARSE_STACK_BYTES: usize = 64 * 1024 * 1024;

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

/// Parses one YAML document. Refuses oversized input, alias bombs and deep
/// nesting with an error rather than spending unbounded time or stack.
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
    // The deserializer recurses once per level; a thread of our own gives it
    // a stack that no input within the depth budget can overflow.
    let parsed = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("yaml".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, || parse_here(text))
            .map(|handle| handle.join())
    });
    match parsed {
        Ok(Ok(result)) => result,
        _ => Err(ParseError {
            pos: Pos::START,
            message: "the YAML parser could not run".to_string(),
        }),
    }
}

fn parse_here(text: &str) -> Result<Node, ParseError> {
    let mut budget = Budget::default();
    // A 10,000-step file uses about 150,000 events; the defaults allow more
    // than any workflow needs, so an alias bomb stops early.
    budget.max_events = 600_000;
    budget.max_nodes = 250_000;
    // Workflows nest five or six levels; deeper input is an attack or a mistake.
    budget.max_depth = 32;
    budget.flow_nesting_limit = 32;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    match serde_saphyr::from_str_with_options::<Option<Spanned<Raw>>>(text, options) {
        Ok(Some(raw)) => Ok(raw.into()),
        Ok(None) => Ok(Node {
            pos: Pos::START,
            value: Value::Null,
        }),
        Err(e) => Err(parse_error(&e)),
    }
}

fn parse_error(e: &serde_saphyr::Error) -> ParseError {
    let pos = e
        .location()
        .map(|l| Pos::new(l.line(), l.column()))
        .unwrap_or(Pos::START);
    let text = e.without_snippet().to_string();
    // The position is printed in front already.
    let text = text
        .rfind(" at line ")
        .map_or(text.as_str(), |cut| &text[..cut]);
    let message = if text.contains("budget breached: Depth") || text.contains("recursion limit") {
        "the YAML is nested too deeply".to_string()
    } else if text.contains("budget breached") {
        "the YAML expands beyond what a workflow may hold; an alias bomb?".to_string()
    } else {
        text.to_string()
    };
    ParseError {
        pos,
        message: message.replace('\n', " "),
    }
}

/// The shape serde-saphyr fills in; converted to [`Node`] right after.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

fn pos_of<T>(s: &Spanned<T>) -> Pos {
    Pos::new(s.referenced.line(), s.referenced.column())
}

impl From<Spanned<Raw>> for Node {
    fn from(s: Spanned<Raw>) -> Node {
        let pos = pos_of(&s);
        let value = match s.value {
            Raw::Null => Value::Null,
            Raw::Bool(b) => Value::Bool(b),
            Raw::Int(i) => Value::Int(i),
            Raw::Float(f) => Value::Float(f),
            Raw::Str(t) => Value::Str(t),
            Raw::Seq(items) => Value::Seq(items.into_iter().map(Node::from).collect()),
            Raw::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let key = Node::from(k);
                        let name = key.scalar_text().unwrap_or_default();
                        (Key { pos: key.pos, name }, Node::from(v))
                    })
                    .collect(),
            ),
        };
        Node { pos, value }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = a.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = a.next_key::<Spanned<Raw>>()? {
            let value = a.next_value::<Spanned<Raw>>()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
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
