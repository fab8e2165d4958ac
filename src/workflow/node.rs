//! The one place that reads YAML: bytes in, a tree of positioned nodes out.
//!
//! Everything after this works on [`Node`], so the YAML crate can be swapped
//! by rewriting this module alone: `granit` reads any YAML, `fast` reads the
//! common subset several times faster and gives up on anything else. The
//! tree keeps every key in file order, duplicates included, so the loader can
//! report them with their positions.

mod fast;
mod granit;

use std::borrow::Cow;

use serde_saphyr::granit_parser::ScalarStyle;

use super::diag::Pos;

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
pub struct Node<'s> {
    pub pos: Pos,
    pub value: Value<'s>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value<'s> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Borrowed from the source where the text is as written there.
    Str(Cow<'s, str>),
    Seq(Vec<Node<'s>>),
    /// Entries in file order; keys are always text (other keys are refused).
    Map(Vec<(Key<'s>, Node<'s>)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key<'s> {
    pub pos: Pos,
    pub name: Cow<'s, str>,
}

impl Node<'_> {
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
            Value::Str(s) => Some(s.to_string()),
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

/// Parses one YAML document into a tree. The common subset of workflow
/// files is read by a hand-written parser (`fast`, bounded nesting); the rest,
/// and every error, by granit's event stream, where nothing recurses on the
/// input's nesting. Oversized input, alias bombs and deep nesting are refused
/// with an error.
///
/// Scalars resolve as YAML 1.2's core schema does: plain `null`, `~` and
/// nothing are null, `true`/`false` booleans, numbers numbers; quoted and
/// block scalars are always strings. `<<` merge keys are applied.
pub fn parse(text: &str) -> Result<Node<'_>, ParseError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(ParseError {
            pos: Pos::START,
            message: format!(
                "the file is {} bytes; workflow files are limited to {MAX_FILE_BYTES} bytes",
                text.len()
            ),
        });
    }
    if let Some(node) = fast::parse(text) {
        return Ok(node);
    }
    granit::parse(text)
}

/// A line without its comment and trailing space, as the `|` is looked for.
fn code_of(line: &str) -> &str {
    line.split(" #").next().unwrap_or(line).trim_end()
}

/// The column of the last `|` or `>` in a line's code: where a block scalar
/// opened on that line is placed.
fn indicator_col(line: &str) -> Option<u64> {
    let code = code_of(line);
    let at = code.rfind(['|', '>'])?;
    Some(code.get(..at)?.chars().count() as u64 + 1)
}

fn scalar<'s>(text: Cow<'s, str>, style: ScalarStyle, tag: Option<&str>) -> Value<'s> {
    if style != ScalarStyle::Plain || tag == Some("str") {
        return Value::Str(text);
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
    Value::Str(text)
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
        let names: Vec<_> = entries.iter().map(|(k, _)| &*k.name).collect();
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
