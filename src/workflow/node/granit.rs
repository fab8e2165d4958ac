//! The general path: serde_saphyr's granit event stream built into a tree.
//!
//! It reads any YAML and gives every error; `fast` handles the common subset
//! first and leaves everything else, and every error, to this path.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError, Span};

use super::super::diag::Pos;
use super::super::lines::Lines;
use super::{Key, MAX_DEPTH, MAX_NODES, Node, ParseError, Value, code_of, indicator_col, scalar};

/// Parses one document (the size was checked by the caller).
pub(super) fn parse(text: &str) -> Result<Node<'_>, ParseError> {
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
enum Open<'s> {
    Seq(Node<'s>, Vec<Node<'s>>, usize),
    /// The mapping, its entries, a key waiting for its value, its anchor.
    Map(Node<'s>, Vec<(Key<'s>, Node<'s>)>, Option<Node<'s>>, usize),
}

#[derive(Default)]
struct Builder<'s> {
    /// For placing block scalars at their `|` or `>`.
    source: &'s str,
    /// The source's lines, indexed on the first block scalar.
    lines: std::cell::OnceCell<Lines<'s>>,
    stack: Vec<Open<'s>>,
    root: Option<Node<'s>>,
    /// Anchored nodes by anchor id, with their size in nodes.
    anchors: HashMap<usize, (Node<'s>, usize)>,
    nodes: usize,
    documents: usize,
}

impl<'s> Builder<'s> {
    /// Takes one event. Reads to the end of the input, so a second document
    /// is reported rather than ignored.
    fn event(&mut self, event: Event<'s>, span: Span) -> Result<(), ParseError> {
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
                        // Grown by doubling; a file of 100,000 steps holds
                        // a few small collections per step.
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
    fn add(&mut self, node: Node<'s>, anchor: usize, pos: Pos) -> Result<(), ParseError> {
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
                    let name = match key.value {
                        Value::Str(name) => name,
                        _ => match key.scalar_text() {
                            Some(name) if !name.is_empty() => name.into(),
                            _ => {
                                return Err(ParseError {
                                    pos: key.pos,
                                    message: format!(
                                        "a key must be a string, found {}",
                                        key.kind()
                                    ),
                                });
                            }
                        },
                    };
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
        if code_of(line).is_empty() {
            continue;
        }
        return match indicator_col(line) {
            Some(col) => Pos::new(n as u64 + 1, col),
            None => content,
        };
    }
    content
}

fn size_of(node: &Node<'_>) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(size_of).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(_, v)| 1 + size_of(v)).sum::<usize>(),
        _ => 1,
    }
}

/// Applies `<<` merge keys: entries of the merged mappings that the mapping
/// does not set itself are added after its own.
fn merge<'s>(entries: Vec<(Key<'s>, Node<'s>)>) -> Vec<(Key<'s>, Node<'s>)> {
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
