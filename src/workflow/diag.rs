//! Load errors: where in the file, what is wrong, and a near miss to suggest.
//!
//! Every check in the loader pushes into one [`Diagnostics`] so that a user
//! sees every mistake in a file at once, sorted by position.

use std::fmt;

/// A 1-based line and column in the workflow file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub const START: Pos = Pos { line: 1, col: 1 };

    pub fn new(line: u64, col: u64) -> Pos {
        Pos {
            line: u32::try_from(line.max(1)).unwrap_or(u32::MAX),
            col: u32::try_from(col.max(1)).unwrap_or(u32::MAX),
        }
    }

    /// The position `n` characters further along the same line.
    pub fn shifted(self, n: usize) -> Pos {
        Pos {
            line: self.line,
            col: self
                .col
                .saturating_add(u32::try_from(n).unwrap_or(u32::MAX)),
        }
    }
}

/// One problem found in a workflow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub pos: Pos,
    pub message: String,
}

/// Every problem found in one file, printed as `FILE:LINE:COL: error: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics {
    /// The path as the user gave it, so the message points where they look.
    pub file: String,
    pub errors: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new(file: impl Into<String>) -> Diagnostics {
        Diagnostics {
            file: file.into(),
            errors: Vec::new(),
        }
    }

    pub fn push(&mut self, pos: Pos, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            pos,
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Sorts by position and drops exact repeats (an alias can make the same
    /// node be checked twice).
    pub fn finish(mut self) -> Diagnostics {
        self.errors
            .sort_by(|a, b| a.pos.cmp(&b.pos).then_with(|| a.message.cmp(&b.message)));
        self.errors.dedup();
        self
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: error: {}",
                self.file,
                e.pos.line,
                e.pos.col,
                one_line(&e.message)
            )?;
        }
        Ok(())
    }
}

/// Messages quote what the user wrote; escaping control characters keeps
/// every error on one line.
fn one_line(message: &str) -> std::borrow::Cow<'_, str> {
    if !message.chars().any(char::is_control) {
        return message.into();
    }
    message
        .chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect::<String>()
        .into()
}

/// The candidate closest to `word`, when it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (edit_distance(word, c), c))
        // A one-letter name is near every other one; suggest only real near misses.
        .filter(|(d, _)| *d <= limit && *d < word.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `" (did you mean `X`?)"` or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Keys other tools use for what signalbox spells differently, and what
/// to write instead.
const OTHER_TOOLS: &[(&str, &str, &str)] = &[
    ("depends", "needs", "needs"),
    ("depends_on", "needs", "needs"),
    ("if", "when", "when"),
    ("timeout-minutes", "timeout", "timeout"),
    ("continue-on-error", "on_failure", "on_failure: continue"),
    ("retries", "retry", "retry"),
    ("command", "run", "run"),
    ("script", "run", "run"),
    // GitHub Actions.
    ("strategy", "matrix", "matrix"),
    ("max-parallel", "max_parallel", "max_parallel"),
    ("fail-fast", "fail_fast", "fail_fast"),
    ("working-directory", "cwd", "cwd"),
    ("runs-on", "pool", "pool"),
    // Argo Workflows and Dagu.
    ("dependencies", "needs", "needs"),
    ("retryStrategy", "retry", "retry"),
    ("continueOn", "on_failure", "on_failure: continue"),
    ("preconditions", "when", "when"),
    ("timeoutSec", "timeout", "timeout"),
    ("dir", "cwd", "cwd"),
    ("workingDir", "cwd", "cwd"),
];

/// `" (did you mean `needs`?)"` for `depends_on`, when `needs` is allowed.
pub fn other_tools_word(key: &str, allowed: &[&str]) -> Option<String> {
    let (_, target, write) = OTHER_TOOLS.iter().find(|(k, _, _)| *k == key)?;
    allowed
        .contains(target)
        .then(|| format!(" (did you mean `{write}`?)"))
}

/// Levenshtein distance with an adjacent swap counted as one edit, since a
/// swap is the commonest typo.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let keys = ["needs", "run", "retry", "timeout"];
        assert_eq!(closest("neds", keys), Some("needs"));
        assert_eq!(closest("retyr", keys), Some("retry"));
        assert_eq!(closest("timeuot", keys), Some("timeout"));
        assert_eq!(closest("banana", keys), None);
        assert_eq!(did_you_mean("rnu", ["run"]), " (did you mean `run`?)");
    }

    #[test]
    fn prints_one_line_per_error_sorted() {
        let mut d = Diagnostics::new("w.yaml");
        d.push(Pos { line: 9, col: 2 }, "second");
        d.push(Pos { line: 3, col: 5 }, "first");
        assert_eq!(
            d.finish().to_string(),
            "w.yaml:3:5: error: first\nw.yaml:9:2: error: second"
        );
    }
}
