//! One word of a command as the lexer reads it: its text with quotes
//! removed, whether anything in it was quoted or expanded, and the plain
//! prefix that tells `NAME=`, `NAME[` and `-v` apart.

/// One word as the lexer read it so far.
#[derive(Debug, Default)]
pub struct Word {
    pub started: bool,
    /// The word with quotes removed (expansions left out).
    pub text: String,
    /// Something was quoted or escaped.
    pub quoted: bool,
    /// An expansion or template is part of it.
    pub dynamic: bool,
    /// The leading characters while they are all plain (unquoted, no
    /// expansion): enough to tell `NAME=`, `NAME[` and `-v` apart.
    pub(super) plain: String,
    pub(super) plain_open: bool,
}

/// Where in a `NAME=VALUE` shape a template would land.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Part {
    Value,
    Subscript,
    Other,
}

impl Word {
    pub fn push(&mut self, c: char) {
        if !self.started {
            self.started = true;
            self.plain_open = true;
        }
        self.text.push(c);
        if self.plain_open {
            self.plain.push(c);
        }
    }

    /// A character that came quoted or escaped.
    pub fn push_quoted(&mut self, c: char) {
        self.mark_quoted();
        self.text.push(c);
    }

    pub fn mark_quoted(&mut self) {
        self.started = true;
        self.quoted = true;
        self.plain_open = false;
    }

    pub fn mark_dynamic(&mut self) {
        self.started = true;
        self.dynamic = true;
        self.plain_open = false;
    }

    /// `NAME=` with nothing after it yet: a `(` now opens an array.
    pub fn is_bare_assignment(&self) -> bool {
        self.plain_open
            && self
                .plain
                .strip_suffix('=')
                .is_some_and(|n| is_name(n.strip_suffix('+').unwrap_or(n)))
    }

    /// Digits (or bash's `{var}`) right before `<` or `>`: a file
    /// descriptor, not a word.
    pub fn is_fd(&self) -> bool {
        self.plain_open
            && (self.plain.chars().all(|c| c.is_ascii_digit())
                || (self.plain.starts_with('{') && self.plain.ends_with('}')))
    }

    /// `NAME[...]=...`, whatever the subscript holds.
    pub(super) fn is_subscript_assignment(&self) -> bool {
        self.text.split_once('[').is_some_and(|(name, rest)| {
            is_name(name) && (rest.contains("]=") || rest.contains("]+="))
        })
    }

    pub(super) fn part(&self) -> Part {
        let Some((lhs, _)) = self.plain.split_once('=') else {
            let subscript = self
                .plain
                .split_once('[')
                .is_some_and(|(name, _)| is_name(name));
            return if subscript && self.plain_open {
                Part::Subscript
            } else {
                Part::Other
            };
        };
        let lhs = lhs.strip_suffix('+').unwrap_or(lhs);
        let name = lhs.split_once('[').map_or(lhs, |(n, _)| n);
        if is_name(name) && (lhs == name || lhs.ends_with(']')) {
            Part::Value
        } else {
            Part::Other
        }
    }

    pub(super) fn plain_word(&self) -> Option<&str> {
        (!self.quoted && !self.dynamic).then_some(self.text.as_str())
    }
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
