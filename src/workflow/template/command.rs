//! What a shell does with one word of a simple command: is it the command's
//! name, an assignment, an argument, and does the command evaluate its
//! arguments (`eval`, `[[ ]]`, a variable name bash subscripts)? The lexer in
//! `shell.rs` feeds words here; this module only classifies them.

use super::why::Why;
use super::word::{Part, Word};

/// Builtins that run their arguments as code (`coproc` runs the command
/// after it, which may be `{ eval ...; }`).
const EVALUATES: &[&str] = &["eval", "trap", "alias", "let", "coproc"];
/// Builtins whose arguments are variable names (bash subscripts them).
const NAMES: &[&str] = &["read", "unset", "mapfile", "readarray", "getopts"];
/// Declaration builtins: `NAME=VALUE` arguments assign, other words are names.
const DECLARES: &[&str] = &[
    "declare", "typeset", "local", "export", "readonly", "integer",
];
/// Builtins where the word after `-v` is a variable name.
const DASH_V: &[&str] = &["printf", "test", "["];
/// Reserved words after which the next word is a command name again.
const KEEP_POSITION: &[&str] = &[
    "!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "time",
];
/// Shells: the word after `-c`, and a here-document they read, are code.
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "posh", "yash",
];
/// `[[ ]]` operators that evaluate their operands as arithmetic.
const ARITH_TESTS: &[&str] = &["-eq", "-ne", "-lt", "-le", "-gt", "-ge"];

/// Builtins that evaluate what a variable holds, named in messages.
fn evaluates_variables(name: &str) -> Option<&'static str> {
    match name {
        "eval" => Some("`eval`"),
        "trap" => Some("`trap`"),
        "let" => Some("`let`"),
        _ => None,
    }
}

/// Words that run the word after them (and its options) as the command.
const WRAPPERS: &[&str] = &["command", "builtin"];

fn known(list: &[&'static str], name: &str) -> Option<&'static str> {
    list.iter().copied().find(|n| *n == name)
}

/// What may happen to a template at the current point of a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Literal,
    Refused(Why),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    /// The word after `case`.
    Subject,
    /// Waiting for `in`.
    In,
    /// Reading patterns, up to `)`.
    Pattern,
    /// The commands of a branch, up to `;;`.
    Body,
}

#[derive(Debug)]
enum Name {
    Literal(String),
    Dynamic,
}

/// Facts about the whole command text that change what is safe anywhere in it.
#[derive(Debug, Default)]
pub struct Flags {
    pub integer: bool,
    pub alias: bool,
    /// Something bash evaluates a variable's value in (arithmetic on a
    /// name, `eval`, a subscript): a template stored in a variable first
    /// could reach it.
    pub flow: Option<&'static str>,
}

/// The simple command being read, and the compound state around it.
#[derive(Debug, Default)]
pub struct Cmd {
    /// `None` while the next word is in command position.
    name: Option<Name>,
    args: usize,
    prev: String,
    wrapper: bool,
    /// The next word is a redirection's target.
    pub redirect: bool,
    /// Inside `[[ ]]`, which separators do not end.
    bracket: bool,
    /// The command is a shell and an option with `c` came: the next word
    /// is its script.
    script_next: bool,
    /// A script (after `-c`) or a script file came: stdin is data.
    had_script: bool,
    case: Vec<Case>,
}

impl Cmd {
    /// A separator (`;`, `&`, `|`, newline, parentheses) ends the command.
    pub fn reset(&mut self) {
        self.name = None;
        self.args = 0;
        self.prev.clear();
        self.wrapper = false;
        self.redirect = false;
        self.script_next = false;
        self.had_script = false;
    }

    /// The shell this command runs, if it is one.
    fn shell(&self) -> Option<&'static str> {
        match &self.name {
            Some(Name::Literal(n)) => known(SHELLS, n.rsplit('/').next().unwrap_or(n)),
            _ => None,
        }
    }

    /// Why a here-document given to this command cannot hold a template:
    /// a shell without `-c` runs its stdin as code.
    pub fn heredoc_refusal(&self) -> Option<Why> {
        self.shell()
            .filter(|_| !self.script_next && !self.had_script)
            .map(Why::ShellStdin)
    }

    pub fn verdict(&self, w: &Word) -> Verdict {
        if self.bracket {
            return Verdict::Refused(Why::DoubleBracket);
        }
        if self.redirect
            || matches!(
                self.case.last(),
                Some(Case::Subject | Case::In | Case::Pattern)
            )
        {
            return Verdict::Literal;
        }
        match &self.name {
            None => match w.part() {
                Part::Value => Verdict::Literal,
                Part::Subscript => Verdict::Refused(Why::Subscript),
                Part::Other => Verdict::Literal,
            },
            Some(Name::Dynamic) => Verdict::Refused(Why::DynamicName),
            Some(Name::Literal(name)) => self.argument(name, w),
        }
    }

    fn argument(&self, name: &str, w: &Word) -> Verdict {
        if let Some(n) = known(EVALUATES, name) {
            return Verdict::Refused(Why::Evaluates(n));
        }
        if let Some(n) = known(NAMES, name) {
            return Verdict::Refused(Why::VarName(n));
        }
        if let Some(n) = known(DECLARES, name) {
            return match w.part() {
                Part::Value => Verdict::Literal,
                Part::Subscript => Verdict::Refused(Why::Subscript),
                Part::Other => Verdict::Refused(Why::VarName(n)),
            };
        }
        let after_v = self.prev == "-v" || (w.plain_open && w.plain.starts_with("-v"));
        if let Some(n) = known(DASH_V, name).filter(|_| after_v) {
            return Verdict::Refused(Why::VarName(n));
        }
        if let Some(sh) = self.shell().filter(|_| self.script_next) {
            return Verdict::Refused(Why::ShellScript(sh));
        }
        if name == "wait" && self.prev == "-p" {
            return Verdict::Refused(Why::VarName("wait"));
        }
        Verdict::Literal
    }

    /// The word ended (a blank, an operator or the end came).
    pub fn end_word(&mut self, w: &Word, flags: &mut Flags) {
        let plain = w.plain_word();
        if self.bracket && plain == Some("]]") {
            self.bracket = false;
            return;
        }
        if self.bracket && plain.is_some_and(|p| ARITH_TESTS.contains(&p)) {
            flags.flow.get_or_insert("`[[ ]]` with `-eq` and the like");
        }
        if std::mem::take(&mut self.redirect) {
            return;
        }
        match self.case.last().copied() {
            Some(Case::Subject) => return self.set_case(Case::In),
            Some(Case::In) if plain == Some("in") => return self.set_case(Case::Pattern),
            Some(Case::Pattern) if plain == Some("esac") => {
                self.case.pop();
                return;
            }
            Some(Case::Pattern | Case::In) => return,
            _ => {}
        }
        match &self.name {
            None => self.command_word(w, plain, flags),
            Some(name) => {
                self.args += 1;
                if let Name::Literal(n) = name {
                    let names = known(NAMES, n).is_some()
                        || known(DECLARES, n).is_some()
                        || (known(DASH_V, n).is_some() && self.prev == "-v");
                    if names && w.dynamic && w.part() != Part::Value {
                        flags
                            .flow
                            .get_or_insert("a variable name from an expansion");
                    }
                    if known(DECLARES, n).is_some() && w.is_subscript_assignment() {
                        flags.flow.get_or_insert("an array subscript");
                    }
                    let option = plain.is_some_and(|p| p.starts_with(['-', '+']));
                    if known(DECLARES, n).is_some() && option && w.text.contains(['i', 'n']) {
                        flags.integer = true;
                    }
                    if n == "function" && self.args == 1 {
                        self.reset();
                        return;
                    }
                }
                let option = w.text.starts_with('-') && !w.text.starts_with("--");
                self.had_script |= !option;
                self.script_next = if option {
                    self.script_next || w.text.contains('c')
                } else {
                    false
                };
                self.prev.clone_from(&w.text);
            }
        }
    }

    fn command_word(&mut self, w: &Word, plain: Option<&str>, flags: &mut Flags) {
        if w.is_subscript_assignment() {
            flags.flow.get_or_insert("an array subscript");
            return;
        }
        if w.dynamic {
            self.name = Some(Name::Dynamic);
            return;
        }
        match plain {
            Some(k) if KEEP_POSITION.contains(&k) => return,
            Some("[[") => {
                self.bracket = true;
                return;
            }
            Some("case") => {
                self.case.push(Case::Subject);
                return;
            }
            Some("esac") if self.case.last() == Some(&Case::Body) => {
                self.case.pop();
                return;
            }
            _ => {}
        }
        if w.part() == Part::Value {
            return;
        }
        if self.wrapper && w.text.starts_with('-') {
            return;
        }
        if known(WRAPPERS, &w.text).is_some() {
            self.wrapper = true;
            return;
        }
        if w.text == "alias" {
            flags.alias = true;
        }
        if let Some(what) = evaluates_variables(&w.text) {
            flags.flow.get_or_insert(what);
        }
        if w.text == "integer" {
            flags.integer = true;
        }
        self.name = Some(Name::Literal(w.text.clone()));
    }

    fn set_case(&mut self, state: Case) {
        if let Some(top) = self.case.last_mut() {
            *top = state;
        }
    }

    /// A `(` while patterns are expected is the optional one before a pattern.
    pub fn in_patterns(&self) -> bool {
        matches!(self.case.last(), Some(Case::Pattern))
    }

    /// A `)` that ends a `case` pattern (so it closes no parenthesis).
    pub fn close_pattern(&mut self) -> bool {
        if self.in_patterns() {
            self.set_case(Case::Body);
            self.reset();
            return true;
        }
        false
    }

    /// `;;`, `;&` or `;;&`: the next branch's patterns follow.
    pub fn next_branch(&mut self) {
        if self.case.last() == Some(&Case::Body) {
            self.set_case(Case::Pattern);
        }
    }
}
