//! `when` conditions: parsed at load into a tree, evaluated when a step
//! becomes ready.
//!
//! Grammar: `or := and ('||' and)*`, `and := not ('&&' not)*`,
//! `not := '!' not | cmp`, `cmp := atom (('==' | '!=') atom)?`,
//! `atom := '(' or ')' | operand`.

/// A value a condition can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Literal(String),
    Var(String),
    Answer(String),
    Status(String),
    Output {
        step: String,
        key: String,
    },
    /// `matrix.X` of the instance whose condition this is.
    Matrix(String),
}

impl Operand {
    pub fn step(&self) -> Option<&str> {
        match self {
            Operand::Answer(s) | Operand::Status(s) | Operand::Output { step: s, .. } => Some(s),
            Operand::Literal(_) | Operand::Var(_) | Operand::Matrix(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Eq(Operand, Operand),
    Ne(Operand, Operand),
    /// A bare operand: true unless empty, `false` or `0`.
    Truthy(Operand),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Evaluates with `value` giving each operand's current text.
    pub fn eval(&self, value: &dyn Fn(&Operand) -> String) -> bool {
        match self {
            Expr::Eq(a, b) => value(a) == value(b),
            Expr::Ne(a, b) => value(a) != value(b),
            Expr::Truthy(a) => {
                let v = value(a);
                !(v.is_empty() || v == "false" || v == "0")
            }
            Expr::Not(e) => !e.eval(value),
            Expr::And(a, b) => a.eval(value) && b.eval(value),
            Expr::Or(a, b) => a.eval(value) || b.eval(value),
        }
    }

    /// Every operand with the byte offset where it was written.
    pub fn operands(&self, out: &mut Vec<Operand>) {
        match self {
            Expr::Eq(a, b) | Expr::Ne(a, b) => out.extend([a.clone(), b.clone()]),
            Expr::Truthy(a) => out.push(a.clone()),
            Expr::Not(e) => e.operands(out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.operands(out);
                b.operands(out);
            }
        }
    }
}

/// A syntax error and the byte offset where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Eq,
    Ne,
    And,
    Or,
    Not,
    Open,
    Close,
    Str(String),
    Path(String),
}

/// Parses a condition; nesting is bounded so no input overflows the stack.
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        at: 0,
        end: text.len(),
        depth: 0,
    };
    let e = p.or()?;
    match p.toks.get(p.at) {
        None => Ok(e),
        Some((_, off)) => Err(ExprError {
            offset: *off,
            message: "expected `&&`, `||` or the end of the condition".into(),
        }),
    }
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let two = bytes.get(i..i + 2);
        let (tok, len) = match (c, two) {
            (b' ' | b'\t' | b'\n' | b'\r', _) => {
                i += 1;
                continue;
            }
            (_, Some(b"==")) => (Tok::Eq, 2),
            (_, Some(b"!=")) => (Tok::Ne, 2),
            (_, Some(b"&&")) => (Tok::And, 2),
            (_, Some(b"||")) => (Tok::Or, 2),
            (b'!', _) => (Tok::Not, 1),
            (b'(', _) => (Tok::Open, 1),
            (b')', _) => (Tok::Close, 1),
            (b'\'' | b'"', _) => {
                let Some(close) = text[i + 1..].find(c as char) else {
                    return Err(ExprError {
                        offset: i,
                        message: "string is never closed".into(),
                    });
                };
                (Tok::Str(text[i + 1..i + 1 + close].to_string()), close + 2)
            }
            _ if c.is_ascii_alphanumeric() || c == b'_' => {
                let len = text[i..]
                    .find(|ch: char| {
                        !(ch.is_ascii_alphanumeric()
                            || ch == '_'
                            || ch == '-'
                            || ch == '.'
                            || ch == ':')
                    })
                    .unwrap_or(text.len() - i);
                (Tok::Path(text[i..i + len].to_string()), len)
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(ExprError {
                    offset: i,
                    message: if ch == '=' {
                        "unexpected `=`: compare with `==` or `!=`".to_string()
                    } else {
                        format!("unexpected `{ch}`")
                    },
                });
            }
        };
        out.push((tok, i));
        i += len;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(_, o)| *o)
    }
    fn deeper(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > 64 {
            return Err(ExprError {
                offset: self.offset(),
                message: "condition nested too deeply".into(),
            });
        }
        Ok(())
    }
    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.not()?;
        while self.peek() == Some(&Tok::And) {
            self.at += 1;
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }
    fn not(&mut self) -> Result<Expr, ExprError> {
        if self.peek() == Some(&Tok::Not) {
            self.at += 1;
            self.deeper()?;
            let e = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> Result<Expr, ExprError> {
        if self.peek() == Some(&Tok::Open) {
            self.at += 1;
            self.deeper()?;
            let e = self.or()?;
            self.depth -= 1;
            if self.peek() != Some(&Tok::Close) {
                return Err(ExprError {
                    offset: self.offset(),
                    message: "expected `)`".into(),
                });
            }
            self.at += 1;
            return Ok(e);
        }
        let left = self.operand()?;
        match self.peek() {
            Some(Tok::Eq) => {
                self.at += 1;
                Ok(Expr::Eq(left, self.operand()?))
            }
            Some(Tok::Ne) => {
                self.at += 1;
                Ok(Expr::Ne(left, self.operand()?))
            }
            _ => Ok(Expr::Truthy(left)),
        }
    }
    fn operand(&mut self) -> Result<Operand, ExprError> {
        let offset = self.offset();
        let tok = self.toks.get(self.at).map(|(t, _)| t.clone());
        self.at += 1;
        match tok {
            Some(Tok::Str(s)) => Ok(Operand::Literal(s)),
            Some(Tok::Path(p)) => path(&p).ok_or_else(|| ExprError {
                offset,
                message: format!("unknown operand `{p}`: use `vars.X`, `answers.STEP`, `steps.STEP.status`, `steps.STEP.outputs.KEY`, `matrix.X` or a quoted string"),
            }),
            None => Err(ExprError { offset, message: "expected a value at the end of the condition".into() }),
            Some(_) => Err(ExprError { offset, message: "expected a value such as `vars.X` or a quoted string".into() }),
        }
    }
}

fn path(p: &str) -> Option<Operand> {
    let words: Vec<&str> = p.split('.').collect();
    if words.iter().any(|w| w.is_empty()) {
        return None;
    }
    match words.as_slice() {
        ["vars", name] => Some(Operand::Var(name.to_string())),
        ["answers", step] => Some(Operand::Answer(step.to_string())),
        ["matrix", name] => Some(Operand::Matrix(name.to_string())),
        ["steps", step, "status"] => Some(Operand::Status(step.to_string())),
        ["steps", step, "outputs", key] => Some(Operand::Output {
            step: step.to_string(),
            key: key.to_string(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> bool {
        let e = parse(text).unwrap();
        e.eval(&|o| match o {
            Operand::Literal(s) => s.clone(),
            Operand::Var(v) => format!("var:{v}"),
            Operand::Status(_) => "succeeded".into(),
            Operand::Answer(_) => "yes".into(),
            Operand::Output { .. } | Operand::Matrix(_) => "".into(),
        })
    }

    #[test]
    fn evaluates_with_precedence_and_parentheses() {
        assert!(eval("vars.t != 'dev'"));
        assert!(eval("vars.t == 'var:t'"));
        assert!(eval(
            "steps.a.status == 'succeeded' && answers.q == \"yes\""
        ));
        assert!(eval("'a' == 'b' || 'c' == 'c' && !('x' == 'y')"));
        assert!(!eval("!(answers.q == 'yes')"));
        assert!(!eval("steps.a.outputs.v"));
        assert!(eval("answers.q"));
    }

    #[test]
    fn points_at_the_column_that_went_wrong() {
        assert_eq!(parse("vars.a == ").unwrap_err().offset, 10);
        assert_eq!(parse("vars.a = 'x'").unwrap_err().offset, 7);
        assert_eq!(parse("(vars.a == 'x'").unwrap_err().offset, 14);
        assert_eq!(parse("vars.a == 'x").unwrap_err().offset, 10);
        assert_eq!(parse("foo.bar == 'x'").unwrap_err().offset, 0);
        assert!(parse(&"!".repeat(10_000)).is_err());
        assert!(parse(&"(".repeat(10_000)).is_err());
    }
}
