//! A small POSIX shell lexer over a `run` command with its templates in
//! place. It follows the contexts that change what a word means (quotes, `#`
//! comments, here-documents, `$(...)`, backticks, `${...}`, arithmetic,
//! `case`) far enough to say of each template whether a reference to its
//! environment variable stays one literal word (`"$NAME"`) or literal text
//! (`${NAME}`) there. What it cannot follow the same way in every shell, it
//! refuses: the contract is "literal or a load error", never a guess.
//!
//! One set of rules serves every POSIX shell: `sh` may be bash, so what bash
//! evaluates (array subscripts in names and arithmetic) is refused under
//! `sh` and `dash` too. A template in a `#` comment is refused rather than
//! left as text: it would never run, like one in single quotes. What a
//! command does with the literal value it was given (`ssh`, `xargs sh -c`,
//! a function that calls `eval "$1"`) is beyond what a lexer can see.

mod regions;

use super::command::{Cmd, Flags, Verdict};
use super::why::Why;
use super::word::Word;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    C(char),
    /// The n-th template of the command.
    T(usize),
}

/// How a template is written into the command, or why it cannot be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// One word of its own: `"$NAME"`.
    Word,
    /// Inside double quotes or a here-document: `${NAME}`.
    Text,
    Refused(Why),
}

/// Deeper nesting than this is refused rather than followed, so no command
/// text can exhaust the stack.
const MAX_DEPTH: usize = 32;

/// Shells a command can start, by a word anywhere in it (`exec sh -c`,
/// `env bash`, `| sh`, `timeout 5 bash -c`): their script or stdin may read
/// a value handed on as code, which no quoting here can see into.
const STARTS_SHELL: &[&str] = &[
    "sh", "bash", "dash", "ash", "ksh", "mksh", "posh", "yash", "zsh", "busybox",
];

/// What, anywhere in a command's text, would read a value as code whatever
/// its quoting: a shell started by a word anywhere, bash's indirect and
/// prompt expansions (`${!x}`, `${x@P}`), `-v` tests (which evaluate a
/// subscript), and the variables a shell expands as prompts or sources
/// (`PS4`, `PROMPT_COMMAND`, `BASH_ENV`, `ENV`). Checked on the text around
/// the templates before anything else.
pub fn reads_values_as_code(text: &str) -> Option<&'static str> {
    let words = text.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                ';' | '|' | '&' | '(' | ')' | '`' | '"' | '\'' | '<' | '>'
            )
    });
    let mut prev = "";
    for w in words.filter(|w| !w.is_empty()) {
        let test = matches!(prev, "[[" | "[" | "test" | "!");
        prev = w;
        let base = w.rsplit('/').next().unwrap_or(w);
        if STARTS_SHELL.contains(&base) {
            return Some("a shell started from it (`sh`, `bash`, `.`, `source`...)");
        }
        if test && w == "-v" {
            return Some("a `-v` test (bash evaluates its subscript)");
        }
        let name = w.split('=').next().unwrap_or("");
        if w.contains('=')
            && matches!(
                name.trim_start_matches("export").trim(),
                "PS0" | "PS1" | "PS2" | "PS3" | "PS4" | "PROMPT_COMMAND" | "BASH_ENV" | "ENV"
            )
        {
            return Some(
                "a prompt or start-up variable (`PS4`, `PROMPT_COMMAND`, `BASH_ENV`, `ENV`)",
            );
        }
    }
    let sources = text
        .split([';', '|', '&', '(', '\n', '`'])
        .map(str::trim_start)
        .any(|cmd| cmd.starts_with(". ") || cmd.starts_with("source "));
    if sources {
        return Some("`.` or `source`, which runs a file as code");
    }
    if text.contains("${!") {
        return Some("an indirect expansion `${!...}`");
    }
    if text.contains("@P}") || text.contains("@E}") || text.contains("@A}") {
        return Some("a prompt or quoting expansion `${x@P}`");
    }
    None
}

/// Decides, for each of the `count` templates in `toks`, how it is used.
pub fn lex(toks: &[Tok], count: usize) -> Vec<Use> {
    let mut st = Shared {
        uses: vec![None; count],
        lost: None,
        depth: 0,
        flags: Flags::default(),
    };
    Lexer::new(toks, &mut st).top(true, Ctx::default());
    // Facts about the whole text: a value stored in a variable anywhere in
    // it could reach what these evaluate.
    let whole = if st.flags.alias {
        Some(Why::Alias)
    } else if st.flags.integer {
        Some(Why::Integer)
    } else {
        st.flags.flow.map(Why::Flow)
    };
    st.uses
        .into_iter()
        .map(|u| match (u, whole) {
            (Some(Use::Refused(why)), _) => Use::Refused(why),
            (_, Some(why)) => Use::Refused(why),
            (Some(u), None) => u,
            (None, None) => Use::Refused(Why::Lost("more than 32 nested substitutions")),
        })
        .collect()
}

/// What every nested lexer shares.
struct Shared {
    uses: Vec<Option<Use>>,
    /// Once set, every later template is refused.
    lost: Option<&'static str>,
    depth: usize,
    flags: Flags,
}

/// The context a frame inherits.
#[derive(Debug, Clone, Copy, Default)]
struct Ctx {
    /// The nearest enclosing place where no template is safe.
    taint: Option<Why>,
    /// Inside double quotes (for backticks and `${...}`).
    dq: bool,
}

struct Heredoc {
    delim: String,
    strip_tabs: bool,
    quoted: bool,
    taint: Option<Why>,
}

struct Lexer<'t, 's> {
    toks: &'t [Tok],
    pos: usize,
    st: &'s mut Shared,
    pending: Vec<Heredoc>,
}

/// A character that ends an unquoted word.
fn is_meta(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')'
    )
}

impl<'t, 's> Lexer<'t, 's> {
    fn new(toks: &'t [Tok], st: &'s mut Shared) -> Self {
        Lexer {
            toks,
            pos: 0,
            st,
            pending: Vec::new(),
        }
    }

    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.peek()?;
        self.pos += 1;
        Some(t)
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(Tok::C(c));
        self.pos += usize::from(hit);
        hit
    }

    fn set(&mut self, t: usize, u: Use) {
        if let Some(slot @ None) = self.st.uses.get_mut(t) {
            *slot = Some(u);
        }
    }

    /// A template where `how` would be literal, unless the context says not.
    fn place(&mut self, t: usize, ctx: Ctx, how: Use) {
        let u = match (self.st.lost, ctx.taint) {
            (Some(after), _) => Use::Refused(Why::Lost(after)),
            (None, Some(why)) => Use::Refused(why),
            (None, None) => how,
        };
        self.set(t, u);
    }

    fn lose(&mut self, after: &'static str) {
        self.st.lost.get_or_insert(after);
    }

    /// Runs `f` one level deeper, or gives up on the rest of the text.
    fn nested(&mut self, f: impl FnOnce(&mut Self)) {
        if self.st.depth >= MAX_DEPTH {
            self.lose("more than 32 nested substitutions");
            self.pos = self.toks.len();
            return;
        }
        self.st.depth += 1;
        f(self);
        self.st.depth -= 1;
    }

    /// Commands, up to the end (`root`) or to the `)` of `$(`.
    fn top(&mut self, root: bool, ctx: Ctx) {
        let ctx = Ctx { dq: false, ..ctx };
        let mut cmd = Cmd::default();
        let mut word = Word::default();
        let mut depth = 0usize;
        while let Some(tok) = self.next() {
            let c = match tok {
                Tok::T(t) => {
                    let inner = self.inner(ctx, &cmd, &word);
                    word.mark_dynamic();
                    self.place(t, inner, Use::Word);
                    continue;
                }
                Tok::C(c) => c,
            };
            match c {
                ' ' | '\t' => self.end_word(&mut cmd, &mut word),
                '\n' => {
                    self.end_word(&mut cmd, &mut word);
                    cmd.reset();
                    self.heredoc_bodies(ctx);
                }
                '#' if !word.started => self.comment(),
                '\\' => match self.next() {
                    Some(Tok::T(t)) => self.set(t, Use::Refused(Why::AfterBackslash)),
                    Some(Tok::C('\n')) | None => {}
                    Some(Tok::C(c)) => word.push_quoted(c),
                },
                '\'' | '"' | '`' | '$' => self.quoted(c, ctx, &cmd, &mut word),
                '(' | ')' => {
                    if self.paren(c, &mut cmd, &mut word, &mut depth) && !root {
                        return;
                    }
                }
                ';' | '&' | '|' => self.operator(c, &mut cmd, &mut word, ctx),
                '<' | '>' => self.redirect(c, &mut cmd, &mut word, ctx),
                c => word.push(c),
            }
        }
        self.end_word(&mut cmd, &mut word);
    }

    /// A quote, backtick or `$` in a word.
    fn quoted(&mut self, c: char, ctx: Ctx, cmd: &Cmd, word: &mut Word) {
        let inner = self.inner(ctx, cmd, word);
        match c {
            '\'' => {
                word.mark_quoted();
                self.single(word);
            }
            '"' => {
                word.mark_quoted();
                self.double(inner, word, false);
            }
            '`' => {
                word.mark_dynamic();
                self.backtick(inner);
            }
            _ => self.dollar(inner, word, true),
        }
    }

    /// `(` or `)`: a subshell, `((`, an array, a `case` pattern. True when
    /// a `)` closes nothing opened here (so it may end a `$(`).
    fn paren(&mut self, c: char, cmd: &mut Cmd, word: &mut Word, depth: &mut usize) -> bool {
        if c == '(' && word.is_bare_assignment() {
            word.mark_dynamic();
            self.evaluated(Why::ArrayAssign, '(', ')', false);
            return false;
        }
        self.end_word(cmd, word);
        if c == '(' {
            if cmd.in_patterns() {
                return false;
            }
            if self.eat('(') {
                self.evaluated(Why::ArithCommand, '(', ')', true);
                return false;
            }
            *depth += 1;
        } else if cmd.close_pattern() {
            return false;
        } else if *depth == 0 {
            return true;
        } else {
            *depth -= 1;
        }
        cmd.reset();
        false
    }

    /// The context for something nested in the current word.
    fn inner(&self, ctx: Ctx, cmd: &Cmd, word: &Word) -> Ctx {
        match cmd.verdict(word) {
            Verdict::Literal => ctx,
            Verdict::Refused(why) => Ctx {
                taint: ctx.taint.or(Some(why)),
                ..ctx
            },
        }
    }

    fn end_word(&mut self, cmd: &mut Cmd, word: &mut Word) {
        if word.started {
            cmd.end_word(word, &mut self.st.flags);
        }
        *word = Word::default();
    }

    fn operator(&mut self, c: char, cmd: &mut Cmd, word: &mut Word, ctx: Ctx) {
        if c == '&' && self.peek() == Some(Tok::C('>')) {
            // `&>` and `&>>`: a redirection, not a separator.
            return self.redirect('>', cmd, word, ctx);
        }
        self.end_word(cmd, word);
        match c {
            ';' if self.eat(';') || self.eat('&') => {
                self.eat('&');
                cmd.next_branch();
            }
            '|' if cmd.in_patterns() => return,
            '|' => {
                let _ = self.eat('|') || self.eat('&');
            }
            '&' => {
                self.eat('&');
            }
            _ => {}
        }
        cmd.reset();
    }

    fn redirect(&mut self, c: char, cmd: &mut Cmd, word: &mut Word, ctx: Ctx) {
        if word.started && word.is_fd() {
            *word = Word::default();
        } else {
            self.end_word(cmd, word);
        }
        if c == '<' && self.eat('<') {
            if !self.eat('<') {
                let strip_tabs = self.eat('-');
                // The body is the command's stdin: what encloses the command
                // decides how it is read, and a shell runs it.
                return self.heredoc_word(strip_tabs, ctx.taint.or(cmd.heredoc_refusal()));
            }
        } else {
            let _ = self.eat('>') || self.eat('&') || self.eat('|');
        }
        cmd.redirect = true;
    }

    /// Inside `"..."`, or (`heredoc`) the body of an unquoted here-document,
    /// where `"` means nothing and the text runs to the end.
    fn double(&mut self, ctx: Ctx, word: &mut Word, heredoc: bool) {
        let ctx = Ctx { dq: true, ..ctx };
        while let Some(tok) = self.next() {
            match tok {
                Tok::C('"') if !heredoc => return,
                Tok::C('\\') => match self.next() {
                    Some(Tok::T(t)) => self.set(t, Use::Refused(Why::AfterBackslash)),
                    Some(Tok::C(c)) if "$`\\\n".contains(c) || (c == '"' && !heredoc) => {
                        word.push_quoted(c);
                    }
                    Some(Tok::C(c)) => {
                        word.push_quoted('\\');
                        word.push_quoted(c);
                    }
                    None => {}
                },
                Tok::C('$') => self.dollar(ctx, word, false),
                Tok::C('`') => {
                    word.mark_dynamic();
                    self.backtick(ctx);
                }
                Tok::C(c) => word.push_quoted(c),
                Tok::T(t) => {
                    word.mark_dynamic();
                    self.place(t, ctx, Use::Text);
                }
            }
        }
    }

    /// After a `$`; `top` says whether `$'...'` and `$"..."` are quotes here.
    fn dollar(&mut self, ctx: Ctx, word: &mut Word, top: bool) {
        word.mark_dynamic();
        match self.peek() {
            Some(Tok::T(t)) => {
                self.pos += 1;
                self.set(t, Use::Refused(Why::AfterDollar));
            }
            Some(Tok::C('(')) => {
                self.pos += 1;
                if self.eat('(') {
                    self.evaluated(Why::Arith, '(', ')', true);
                } else {
                    self.nested(|l| l.top(false, ctx));
                }
            }
            Some(Tok::C('{')) => {
                self.pos += 1;
                self.nested(|l| l.param(ctx));
            }
            Some(Tok::C('[')) => {
                self.pos += 1;
                self.evaluated(Why::ArithBracket, '[', ']', false);
            }
            Some(Tok::C('\'')) if top => {
                self.pos += 1;
                self.ansi_c();
            }
            Some(Tok::C('"')) if top => {
                self.pos += 1;
                self.double(ctx, word, false);
            }
            _ => {}
        }
    }
}
