//! Small typed readers over [`Node`]: each reports a problem with its position
//! and returns `None`, so conversion goes on and finds every error at once.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

use super::diag::{Diagnostics, Pos, did_you_mean};
use super::duration;
use super::node::{Key, Node, Value};
use super::spec::{DurationSpec, ScalarText};

/// Where each key of one mapping was written, for errors found later.
#[derive(Debug, Clone, Default)]
#[allow(clippy::box_collection)] // the box is the point: see the field
pub struct Spots(
    pub Vec<(Cow<'static, str>, Pos)>,
    // Boxed: 8 bytes in each of 100,000 steps, rather than 48 that few use.
    OnceCell<Box<HashMap<String, Pos>>>,
);

/// Paths most steps have, kept without an allocation each: a file of
/// 100,000 steps has a few of them per step.
const COMMON_PATHS: &[&str] = &["run", "needs", "when", "timeout", "env", "approval", "ask"];

/// Above this many keys, lookups go through an index: the top level holds
/// one key per var and env entry, and a file may have 100,000 of them, each
/// looked up when an error in it is placed.
const SCAN_KEYS: usize = 32;

impl Spots {
    /// Position of the value under `path` (`"run"`, `"approval.prompt"`);
    /// the first, when a path was added twice.
    pub fn get(&self, path: &str) -> Option<Pos> {
        if self.0.len() <= SCAN_KEYS {
            return self.0.iter().find(|(p, _)| p == path).map(|(_, pos)| *pos);
        }
        let index = self.1.get_or_init(|| {
            let mut index = HashMap::with_capacity(self.0.len());
            for (p, pos) in &self.0 {
                index.entry(p.to_string()).or_insert(*pos);
            }
            Box::new(index)
        });
        index.get(path).copied()
    }

    /// Moves every spot to the end of `out`, keeping the room they took.
    pub fn move_into(&mut self, out: &mut Vec<(Cow<'static, str>, Pos)>) {
        out.append(&mut self.0);
        self.1 = OnceCell::new();
    }

    pub fn add(&mut self, path: impl AsRef<str> + Into<String>, pos: Pos) {
        let path = match COMMON_PATHS.iter().find(|p| **p == path.as_ref()) {
            Some(common) => Cow::Borrowed(*common),
            None => Cow::Owned(path.into()),
        };
        self.0.push((path, pos));
        self.1 = OnceCell::new();
    }
}

pub struct Reader<'d> {
    pub diags: &'d mut Diagnostics,
}

impl Reader<'_> {
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(pos, message);
    }

    /// The entries of a mapping whose keys must be among `allowed`; unknown
    /// and repeated keys are reported and left out. `Null` counts as empty.
    pub fn fields<'n, 's>(
        &mut self,
        node: &'n Node<'s>,
        what: &(impl Display + ?Sized),
        allowed: &[&str],
    ) -> Option<Vec<(&'n Key<'s>, &'n Node<'s>)>> {
        self.fields_where(node, what, allowed, |_| false)
    }

    /// [`Reader::fields`], with keys for which `also` holds allowed too.
    pub fn fields_where<'n, 's>(
        &mut self,
        node: &'n Node<'s>,
        what: &(impl Display + ?Sized),
        allowed: &[&str],
        also: impl Fn(&str) -> bool,
    ) -> Option<Vec<(&'n Key<'s>, &'n Node<'s>)>> {
        let entries = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => return Some(Vec::new()),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be a mapping, found {}", node.kind()),
                );
                return None;
            }
        };
        let mut out: Vec<(&Key<'s>, &Node<'s>)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            if !allowed.contains(&&*key.name) && !also(&key.name) {
                let hint = super::diag::other_tools_word(&key.name, allowed)
                    .unwrap_or_else(|| did_you_mean(&key.name, allowed.iter().copied()));
                self.error(
                    key.pos,
                    format!("unknown key `{}` in {what}{hint}", key.name),
                );
            } else if let Some((first, _)) = out.iter().find(|(k, _)| k.name == key.name) {
                self.error(
                    key.pos,
                    format!(
                        "duplicate key `{}` in {what} (first at line {})",
                        key.name, first.pos.line
                    ),
                );
            } else {
                out.push((key, value));
            }
        }
        Some(out)
    }

    /// The entries of a mapping with free-form keys, duplicates reported.
    pub fn entries<'n, 's>(
        &mut self,
        node: &'n Node<'s>,
        what: &(impl Display + ?Sized),
    ) -> Vec<(&'n Key<'s>, &'n Node<'s>)> {
        match &node.value {
            Value::Map(entries) => {
                let mut out: Vec<(&Key<'s>, &Node<'s>)> = Vec::with_capacity(entries.len());
                let mut seen = std::collections::HashMap::with_capacity(entries.len());
                for (key, value) in entries {
                    if let Some(first) = seen.insert(&*key.name, key.pos) {
                        self.error(
                            key.pos,
                            format!(
                                "duplicate key `{}` in {what} (first at line {})",
                                key.name, first.line
                            ),
                        );
                        seen.insert(&*key.name, first);
                    } else {
                        out.push((key, value));
                    }
                }
                out
            }
            Value::Null => Vec::new(),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be a mapping, found {}", node.kind()),
                );
                Vec::new()
            }
        }
    }

    pub fn string(&mut self, node: &Node, what: &(impl Display + ?Sized)) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.to_string()),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be a string, found {}", node.kind()),
                );
                None
            }
        }
    }

    /// A scalar of any kind, as text (env values, vars, answers).
    pub fn scalar(&mut self, node: &Node, what: &(impl Display + ?Sized)) -> Option<ScalarText> {
        match node.scalar_text() {
            // No command line, environment or file name can carry a NUL:
            // refused here rather than when a step fails to start.
            Some(text) if text.contains('\0') => {
                self.error(
                    node.pos,
                    format!("{what} holds a NUL byte, which no command or environment can carry"),
                );
                None
            }
            Some(text) => Some(ScalarText(text)),
            None => {
                self.error(
                    node.pos,
                    format!("{what} must be a string or number, found {}", node.kind()),
                );
                None
            }
        }
    }

    pub fn scalar_map(
        &mut self,
        node: &Node,
        what: &(impl Display + ?Sized),
    ) -> BTreeMap<String, ScalarText> {
        let mut out = BTreeMap::new();
        for (key, value) in self.entries(node, what) {
            if let Some(v) = self.scalar(value, &format!("`{}` in {what}", key.name)) {
                out.insert(key.name.to_string(), v);
            }
        }
        out
    }

    pub fn strings(
        &mut self,
        node: &Node,
        what: &(impl Display + ?Sized),
    ) -> Option<Vec<(String, Pos)>> {
        match &node.value {
            Value::Str(s) => Some(vec![(s.to_string(), node.pos)]),
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                out.extend(
                    items
                        .iter()
                        .filter_map(|n| self.string(n, what).map(|s| (s, n.pos))),
                );
                Some(out)
            }
            Value::Null => Some(Vec::new()),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be a list of strings, found {}", node.kind()),
                );
                None
            }
        }
    }

    pub fn positive(&mut self, node: &Node, what: &(impl Display + ?Sized)) -> Option<u64> {
        match node.value {
            Value::Int(i) if i > 0 => u64::try_from(i).ok(),
            _ => {
                let shown = node.scalar_text().unwrap_or_else(|| node.kind().into());
                self.error(
                    node.pos,
                    format!("{what} must be a positive whole number, found {shown}"),
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, node: &Node, what: &(impl Display + ?Sized)) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                let shown = node.scalar_text().unwrap_or_else(|| node.kind().into());
                self.error(
                    node.pos,
                    format!("{what} must be `true` or `false`, found {shown}"),
                );
                None
            }
        }
    }

    pub fn integer(&mut self, node: &Node, what: &(impl Display + ?Sized)) -> Option<i64> {
        match node.value {
            Value::Int(i) => Some(i),
            _ => {
                self.error(
                    node.pos,
                    format!("{what} must be a whole number, found {}", node.kind()),
                );
                None
            }
        }
    }

    pub fn number(&mut self, node: &Node, what: &(impl Display + ?Sized)) -> Option<f64> {
        let value = match node.value {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
            _ => f64::NAN,
        };
        if value.is_finite() && value > 0.0 {
            Some(value)
        } else {
            let shown = node.scalar_text().unwrap_or_else(|| node.kind().into());
            self.error(
                node.pos,
                format!("{what} must be a positive number, found {shown}"),
            );
            None
        }
    }

    pub fn duration(
        &mut self,
        node: &Node,
        what: &(impl Display + ?Sized),
    ) -> Option<DurationSpec> {
        let checked = match &node.value {
            Value::Int(i) => duration::seconds(*i as f64)
                .map(|_| DurationSpec::Seconds(*i as f64))
                .ok_or_else(|| format!("invalid duration `{i}`: it must not be negative")),
            Value::Float(f) => duration::seconds(*f)
                .map(|_| DurationSpec::Seconds(*f))
                .ok_or_else(|| format!("invalid duration `{f}`: it must not be negative")),
            Value::Str(s) => duration::parse(s).map(|_| DurationSpec::Text(s.to_string())),
            _ => Err(format!("must be a duration, found {}", node.kind())),
        };
        match checked {
            Ok(d) => Some(d),
            Err(message) => {
                self.error(node.pos, format!("{what}: {message}"));
                None
            }
        }
    }

    /// One of a fixed set of words.
    pub fn choice<T: Copy>(
        &mut self,
        node: &Node,
        what: &(impl Display + ?Sized),
        options: &[(&str, T)],
    ) -> Option<T> {
        let word = match &node.value {
            Value::Str(s) => &**s,
            _ => "",
        };
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == word) {
            return Some(*v);
        }
        let names: Vec<String> = options.iter().map(|(n, _)| format!("`{n}`")).collect();
        let hint = did_you_mean(word, options.iter().map(|(n, _)| *n));
        let found = node.scalar_text().unwrap_or_else(|| node.kind().into());
        self.error(
            node.pos,
            format!(
                "{what} must be one of {}, found `{found}`{hint}",
                names.join(", ")
            ),
        );
        None
    }
}

/// The longest step id or workflow name, in bytes (SPEC §6). Both become
/// parts of file names (`logs/<step>.log`, the run id), and a file name
/// longer than 255 bytes fails only when the run writes it.
pub const MAX_NAME_BYTES: usize = 100;

/// The most a value that becomes an answer or a var may hold: what an
/// answer may (SPEC §2), so every step's environment can carry it.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Why `value` is too long to be a `what`, if it is.
pub fn value_too_long(what: &str, value: &str) -> Option<String> {
    (value.len() > MAX_VALUE_BYTES).then(|| {
        format!(
            "{what} is {} bytes long; it may hold at most {MAX_VALUE_BYTES} bytes (64 KiB)",
            value.len()
        )
    })
}

/// Why `name` is too long to be a `what` (`"step id"`, `"name"`), if it is.
pub fn too_long(what: &str, name: &str) -> Option<String> {
    if name.len() <= MAX_NAME_BYTES {
        return None;
    }
    let shown: String = name.chars().take(24).collect();
    Some(format!(
        "{what} `{shown}…` is {} bytes long; a {what} is at most {MAX_NAME_BYTES} bytes",
        name.len()
    ))
}

/// True for `[a-z0-9][a-z0-9_-]*`, the form of workflow names.
pub fn is_workflow_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// True for `[A-Za-z0-9_][A-Za-z0-9_-]*`, the form of step, var and breaker
/// names: safe in templates, file names and environment variable names.
pub fn is_id(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
