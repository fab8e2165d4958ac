//! The regions of a command that the lexer reads apart from plain words:
//! comments, single quotes, `$'...'`, `${...}`, arithmetic and array elements, backticks and
//! here-documents. Each consumes its region and decides the templates in it.

use super::{Ctx, Heredoc, Lexer, Tok, Use, is_meta};
use crate::workflow::template::why::Why;
use crate::workflow::template::word::Word;

/// What bash evaluates as arithmetic when it names a variable.
pub(super) const ARITH_FLOW: &str = "arithmetic on a variable (`$(( n ))`, `(( n ))`)";
pub(super) const SUBSCRIPT_FLOW: &str = "an array subscript";

impl Lexer<'_, '_> {
    /// After a `[` in `${...}`: `@]` or `*]` (all elements) is no subscript.
    fn at_all_elements(&self) -> bool {
        matches!(self.peek(), Some(Tok::C('@' | '*')))
            && self.toks.get(self.pos + 1) == Some(&Tok::C(']'))
    }

    /// A `#` that starts a word: the rest of the line is a comment.
    pub(super) fn comment(&mut self) {
        while let Some(tok) = self.peek() {
            match tok {
                Tok::C('\n') => return,
                Tok::T(t) => self.set(t, Use::Refused(Why::Comment)),
                Tok::C(_) => {}
            }
            self.pos += 1;
        }
    }

    /// Inside `'...'`: nothing expands.
    pub(super) fn single(&mut self, word: &mut Word) {
        while let Some(tok) = self.next() {
            match tok {
                Tok::C('\'') => return,
                Tok::C(c) => word.push_quoted(c),
                Tok::T(t) => self.set(t, Use::Refused(Why::SingleQuotes)),
            }
        }
    }

    /// Inside bash's `$'...'`, where `\'` does not end the quote.
    pub(super) fn ansi_c(&mut self) {
        while let Some(tok) = self.next() {
            match tok {
                Tok::C('\'') => return,
                Tok::C('\\') => {
                    // Shells without `$'...'` end the quote at `\'`.
                    self.lose("a `\\` inside `$'...'`");
                    self.pos += 1;
                }
                Tok::C(_) => {}
                Tok::T(t) => self.set(t, Use::Refused(Why::AnsiC)),
            }
        }
    }

    /// Inside `${...}`, up to its `}`.
    pub(super) fn param(&mut self, ctx: Ctx) {
        let inner = Ctx {
            taint: ctx.taint.or(Some(Why::Param)),
            ..ctx
        };
        let mut scratch = Word::default();
        while let Some(tok) = self.next() {
            match tok {
                Tok::C('}') => return,
                Tok::C('\\') => {
                    if let Some(Tok::T(t)) = self.next() {
                        self.place(t, inner, Use::Word);
                    }
                }
                // Whether quotes and braces nest inside `${...}` (and inside
                // double quotes) differs from shell to shell.
                Tok::C('\'') if ctx.dq => self.lose("a `'` inside `\"${...}\"`"),
                Tok::C('{') => self.lose("a `{` inside `${...}`"),
                Tok::C('[') if !self.at_all_elements() => {
                    self.st.flags.flow.get_or_insert(SUBSCRIPT_FLOW);
                }
                Tok::C(':') if !matches!(self.peek(), Some(Tok::C('-' | '=' | '?' | '+'))) => {
                    self.st.flags.flow.get_or_insert("an offset `${x:n}`");
                }
                Tok::C('\'') => self.single(&mut scratch),
                Tok::C('"') => self.double(inner, &mut scratch, false),
                Tok::C('$') => self.dollar(inner, &mut scratch, false),
                Tok::C('`') => self.backtick(inner),
                Tok::C(_) => {}
                Tok::T(t) => self.place(t, inner, Use::Word),
            }
        }
    }

    /// A region the shell evaluates (arithmetic, an array's elements) up to
    /// its `close` (doubled when `twice`); every template in it is refused.
    pub(super) fn evaluated(&mut self, why: Why, open: char, close: char, twice: bool) {
        let ctx = Ctx {
            taint: Some(why),
            ..Ctx::default()
        };
        let mut scratch = Word::default();
        let mut depth = 0usize;
        while let Some(tok) = self.next() {
            let names = why != Why::ArrayAssign;
            match tok {
                Tok::C(c) if names && (c.is_ascii_alphabetic() || c == '_' || c == '$') => {
                    self.st.flags.flow.get_or_insert(ARITH_FLOW);
                    if c == '$' {
                        self.dollar(ctx, &mut scratch, false);
                    }
                }
                Tok::C('[') if !names => {
                    self.st.flags.flow.get_or_insert(SUBSCRIPT_FLOW);
                }
                Tok::T(t) => self.place(t, ctx, Use::Word),
                Tok::C('\\') => {
                    if let Some(Tok::T(t)) = self.next() {
                        self.place(t, ctx, Use::Word);
                    }
                }
                Tok::C('\'') => self.single(&mut scratch),
                Tok::C('"') => self.double(ctx, &mut scratch, false),
                Tok::C('`') => self.backtick(ctx),
                Tok::C('$') => self.dollar(ctx, &mut scratch, false),
                Tok::C(c) if c == open => depth += 1,
                Tok::C(c) if c == close && depth > 0 => depth -= 1,
                Tok::C(c) if c == close => {
                    if twice && !self.eat(close) {
                        self.lose("a `)` that may or may not end arithmetic");
                    }
                    return;
                }
                Tok::C(_) => {}
            }
        }
    }

    /// Backticks: the text up to the closing one, with `\$`, `` \` `` and
    /// `\\` unescaped, is read again as commands.
    pub(super) fn backtick(&mut self, ctx: Ctx) {
        let mut inner = Vec::new();
        while let Some(tok) = self.next() {
            match tok {
                Tok::C('`') => break,
                Tok::C('\\') => match self.next() {
                    Some(Tok::C(c @ ('$' | '`' | '\\'))) => inner.push(Tok::C(c)),
                    Some(Tok::C('"')) if ctx.dq => {
                        self.lose("a `\\\"` inside backticks inside double quotes");
                        inner.extend([Tok::C('\\'), Tok::C('"')]);
                    }
                    Some(other) => inner.extend([Tok::C('\\'), other]),
                    None => inner.push(Tok::C('\\')),
                },
                other => inner.push(other),
            }
        }
        self.nested(|l| Lexer::new(&inner, l.st).top(true, ctx));
    }

    /// The word after `<<`: the delimiter, and whether it was quoted.
    pub(super) fn heredoc_word(&mut self, strip_tabs: bool, taint: Option<Why>) {
        while self.eat(' ') || self.eat('\t') {}
        let mut delim = String::new();
        let mut quoted = false;
        while let Some(tok) = self.peek() {
            match tok {
                Tok::C(c) if is_meta(c) => break,
                Tok::T(t) => self.set(t, Use::Refused(Why::HeredocDelimiter)),
                Tok::C(q @ ('\'' | '"')) => {
                    quoted = true;
                    self.pos += 1;
                    while let Some(tok) = self.next() {
                        match tok {
                            Tok::C(c) if c == q => break,
                            Tok::C(c) => delim.push(c),
                            Tok::T(t) => self.set(t, Use::Refused(Why::HeredocDelimiter)),
                        }
                    }
                    continue;
                }
                Tok::C('\\') => {
                    quoted = true;
                    self.pos += 1;
                    match self.peek() {
                        Some(Tok::C(c)) => delim.push(c),
                        Some(Tok::T(t)) => self.set(t, Use::Refused(Why::HeredocDelimiter)),
                        None => {}
                    }
                }
                Tok::C(c) => delim.push(c),
            }
            self.pos += 1;
        }
        self.pending.push(Heredoc {
            delim,
            strip_tabs,
            quoted,
            taint,
        });
    }

    /// After a newline: the bodies of the here-documents opened on its line.
    pub(super) fn heredoc_bodies(&mut self, ctx: Ctx) {
        for doc in std::mem::take(&mut self.pending) {
            let toks = self.toks;
            let start = self.pos;
            let (mut end, mut resume) = (toks.len(), toks.len());
            let mut line = start;
            while line < toks.len() {
                let nl = toks[line..]
                    .iter()
                    .position(|t| *t == Tok::C('\n'))
                    .map_or(toks.len(), |k| line + k);
                let mut from = line;
                while doc.strip_tabs && toks.get(from) == Some(&Tok::C('\t')) {
                    from += 1;
                }
                if is_text(&toks[from.min(nl)..nl], &doc.delim) {
                    (end, resume) = (line, (nl + 1).min(toks.len()));
                    break;
                }
                if !doc.quoted && nl > line && toks[nl - 1] == Tok::C('\\') {
                    self.lose("a here-document line that ends in `\\`");
                }
                line = nl + 1;
            }
            let body = &toks[start..end];
            if doc.quoted {
                for tok in body {
                    if let Tok::T(t) = tok {
                        self.set(*t, Use::Refused(Why::QuotedHeredoc));
                    }
                }
            } else {
                let inner = Ctx {
                    taint: ctx.taint.or(doc.taint),
                    ..ctx
                };
                let mut scratch = Word::default();
                Lexer::new(body, self.st).double(inner, &mut scratch, true);
            }
            self.pos = resume;
        }
    }
}

/// Whether `toks` are exactly the characters of `text`.
fn is_text(toks: &[Tok], text: &str) -> bool {
    let mut chars = text.chars();
    toks.iter().all(|t| match t {
        Tok::C(c) => chars.next() == Some(*c),
        Tok::T(_) => false,
    }) && chars.next().is_none()
}
