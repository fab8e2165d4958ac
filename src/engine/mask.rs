//! Masking secret values: wherever one would be written (events, logs,
//! outputs files, `signalbox.log`), `***` is written instead.
//!
//! A value is matched line by line: each of its lines of [`MIN_LEN`] bytes
//! or more is a pattern (shorter ones would mask ordinary text), found with
//! one Aho-Corasick automaton over all of them, so masking is linear in the
//! text whatever the number of secrets, and costs nothing (no automaton, no
//! scan) when a run has none. Overlapping matches (`abcdef` and `defghi`
//! in `abcdefghi`) are merged into one `***`, so no byte of either shows.
//!
//! Events are masked whole and once, in the bus, before they are journaled
//! or published (see [`Masker::event`]).

mod cut;
mod stream;

pub use stream::{Lines, mask_file, outputs};

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};

use super::event::Event;

/// What stands for a secret.
pub const MASK: &str = "***";

/// Lines of a secret shorter than this are not masked.
pub const MIN_LEN: usize = 4;

/// The patterns of a run's secrets; empty when it has none.
#[derive(Default)]
pub struct Masker {
    inner: Option<Box<Inner>>,
}

struct Inner {
    /// The lines masked, as bytes.
    patterns: Vec<Vec<u8>>,
    /// All of them, every match reported (overlapping ones too).
    plain: AhoCorasick,
    /// The same lines as they are spelled inside a journal line's JSON
    /// strings, to tell at one scan whether an event holds any.
    json: AhoCorasick,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.inner.as_ref().map_or(0, |i| i.patterns.len());
        write!(f, "Masker({n} patterns)")
    }
}

/// The event fields that name things of the workflow file itself (step
/// ids, waits, breakers): not secret, and a journal whose ids were masked
/// could not be read back.
const NAMES: &[&str] = &[
    "type", "step", "wait", "breaker", "workflow", "steps", "sha256", "diff", "cause",
];

impl Masker {
    /// The masker of these secret values.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Masker {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        for value in values {
            for line in value.split('\n') {
                let line = line.strip_suffix('\r').unwrap_or(line);
                if line.len() >= MIN_LEN && !patterns.iter().any(|p| p == line.as_bytes()) {
                    patterns.push(line.as_bytes().to_vec());
                }
            }
        }
        if patterns.is_empty() {
            return Masker::default();
        }
        let json: Vec<String> = patterns
            .iter()
            .map(|p| json_spelling(&String::from_utf8_lossy(p)))
            .collect();
        let build = |pats: &[&[u8]], kind| {
            AhoCorasick::builder()
                .match_kind(kind)
                .build(pats)
                .map_err(|e| tracing::error!("cannot build the secrets' matcher: {e}"))
                .ok()
        };
        let plain_pats: Vec<&[u8]> = patterns.iter().map(Vec::as_slice).collect();
        let json_pats: Vec<&[u8]> = json.iter().map(String::as_bytes).collect();
        let (Some(plain), Some(json)) = (
            build(&plain_pats, MatchKind::Standard),
            build(&json_pats, MatchKind::LeftmostFirst),
        ) else {
            return Masker::default();
        };
        Masker {
            inner: Some(Box::new(Inner {
                patterns,
                plain,
                json,
            })),
        }
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.inner.is_none()
    }

    /// `text` with every secret line in it replaced by [`MASK`].
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // A secret line is whole characters, and so is what stands for
            // it: the text stays UTF-8.
            Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
        }
    }

    /// [`text`](Self::text) of bytes that need not be UTF-8 (files).
    pub fn bytes<'a>(&self, text: &'a [u8]) -> Cow<'a, [u8]> {
        self.piece(text, false, false)
    }

    /// `text` masked, and also, where `head` says the text continues a
    /// line cut before it, a start that could be the end of a secret; and
    /// where `tail` says it is cut after, an end that could be the start of
    /// one (see `cut`).
    pub(crate) fn piece<'a>(&self, text: &'a [u8], head: bool, tail: bool) -> Cow<'a, [u8]> {
        let Some(inner) = &self.inner else {
            return Cow::Borrowed(text);
        };
        let mut spans: Vec<(usize, usize)> = inner
            .plain
            .find_overlapping_iter(text)
            .map(|m| (m.start(), m.end()))
            .collect();
        if head && let Some(n) = cut::longest_head(&inner.patterns, text) {
            spans.push((0, n));
        }
        if tail && let Some(n) = cut::longest_tail(&inner.patterns, text) {
            spans.push((text.len() - n, text.len()));
        }
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        spans.sort_unstable();
        let mut out = Vec::with_capacity(text.len());
        let mut at = 0;
        let mut spans = spans.into_iter().peekable();
        while let Some((start, mut end)) = spans.next() {
            while let Some(&(_, e)) = spans.peek().filter(|(s, _)| *s < end) {
                end = end.max(e);
                spans.next();
            }
            out.extend_from_slice(&text[at..start.max(at)]);
            out.extend_from_slice(MASK.as_bytes());
            at = end.max(at);
        }
        out.extend_from_slice(&text[at..]);
        Cow::Owned(out)
    }

    /// Whether a journal line may hold a secret in one of its strings: when
    /// it does not, neither does its event. A match in a number or the
    /// envelope only costs a closer look.
    pub fn in_json(&self, line: &str) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.json.is_match(line.as_bytes()))
    }

    /// The event with every text in it masked (field values, outputs' keys
    /// and values, list items), but for the fields that name the
    /// workflow's own things (`NAMES`); `None` when nothing changed.
    pub fn event(&self, event: &Event) -> Result<Option<Event>, serde_json::Error> {
        let mut value = serde_json::to_value(event)?;
        let mut changed = false;
        if let serde_json::Value::Object(fields) = &mut value {
            for (key, field) in fields.iter_mut() {
                if !NAMES.contains(&key.as_str()) {
                    changed |= self.value(field);
                }
            }
        }
        if !changed {
            return Ok(None);
        }
        serde_json::from_value(value).map(Some)
    }

    /// Masks every string in `value`, keys included; whether any changed.
    fn value(&self, value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(s) => match self.text(s) {
                Cow::Owned(masked) => {
                    *s = masked;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |changed, v| self.value(v) | changed),
            Value::Object(map) => {
                let mut changed = false;
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    changed |= self.value(&mut v);
                    let key = match self.text(&key) {
                        Cow::Owned(masked) => {
                            changed = true;
                            masked
                        }
                        Cow::Borrowed(_) => key,
                    };
                    map.insert(key, v);
                }
                changed
            }
            _ => false,
        }
    }
}

/// The secrets `signalbox.log` masks: this process drives one run at a
/// time, and the log's writer has no other way to know them.
static LOG_MASK: std::sync::RwLock<Option<std::sync::Arc<Masker>>> = std::sync::RwLock::new(None);

/// Masks these secrets in `signalbox.log` from now on.
pub fn set_log_mask(mask: std::sync::Arc<Masker>) {
    if let Ok(mut held) = LOG_MASK.write() {
        *held = (!mask.is_empty()).then_some(mask);
    }
}

/// A line on its way to `signalbox.log`, masked.
pub fn for_log(line: &[u8]) -> Cow<'_, [u8]> {
    match LOG_MASK.read() {
        Ok(held) => match &*held {
            Some(mask) => mask.bytes(line),
            None => Cow::Borrowed(line),
        },
        Err(_) => Cow::Borrowed(line),
    }
}

/// How `text` is spelled inside a journal line's JSON string: serde_json's
/// escapes, then the ones `safe::json_line` adds. Both act one character
/// at a time, so a text inside a string is spelled inside its spelling.
fn json_spelling(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    let inner = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(&quoted);
    crate::safe::json_line(inner).into_owned()
}

#[cfg(test)]
mod tests;
