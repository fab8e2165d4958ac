//! `{{ ... }}` templates: parsed once at load, expanded by the engine.
//!
//! In a `run` command a template never becomes command text: the engine puts
//! the value in an environment variable and the command refers to it (see
//! [`Template::to_command`]), so an operator's answer stays one literal word.
//! `template/shell.rs` follows the shell's quoting to say how each reference
//! is written, or that none would stay literal.

mod command;
mod shell;
mod why;
mod word;

use shell::{Tok, Use};

/// What a template refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ref {
    Var(String),
    Answer(String),
    Output {
        step: String,
        key: String,
    },
    RunId,
    /// `matrix.X`: the instance's value of matrix key X.
    Matrix(String),
}

impl Ref {
    /// The environment variable that carries this value into a `run` step.
    pub fn env_name(&self) -> String {
        match self {
            Ref::Var(name) => format!("SIGNALBOX_VAR_{}", env_word(name)),
            Ref::Answer(step) => answer_env_name(step),
            Ref::Output { step, key } => {
                format!("SIGNALBOX_OUT_{}_{}", env_word(step), env_word(key))
            }
            Ref::RunId => "SIGNALBOX_RUN_ID".to_string(),
            Ref::Matrix(name) => format!("SIGNALBOX_MATRIX_{}", env_word(name)),
        }
    }

    /// The reference as written between `{{ }}`.
    pub fn text(&self) -> String {
        match self {
            Ref::Var(name) => format!("vars.{name}"),
            Ref::Answer(step) => format!("answers.{step}"),
            Ref::Output { step, key } => format!("steps.{step}.outputs.{key}"),
            Ref::RunId => "run.id".to_string(),
            Ref::Matrix(name) => format!("matrix.{name}"),
        }
    }

    /// The step this refers to, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Ref::Answer(step) | Ref::Output { step, .. } => Some(step),
            Ref::Var(_) | Ref::RunId | Ref::Matrix(_) => None,
        }
    }
}

/// `SIGNALBOX_ANSWER_<STEP>`: the step id upper-cased, other characters `_`.
pub fn answer_env_name(step: &str) -> String {
    format!("SIGNALBOX_ANSWER_{}", env_word(step))
}

fn env_word(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// A reference and the byte offset of its `{{` in the source text.
    Ref(Ref, usize),
}

/// A string with `{{ ... }}` references, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pub parts: Vec<Part>,
}

/// A template error and the byte offset in the text where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

impl Template {
    /// A template without references.
    pub fn literal(text: impl Into<String>) -> Template {
        Template {
            parts: vec![Part::Text(text.into())],
        }
    }

    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = 0;
        while let Some(found) = text[rest..].find("{{") {
            let open = rest + found;
            if open > rest {
                parts.push(Part::Text(text[rest..open].to_string()));
            }
            let Some(len) = text[open + 2..].find("}}") else {
                return Err(TemplateError {
                    offset: open,
                    message: "`{{` is never closed with `}}`".to_string(),
                });
            };
            let inner = &text[open + 2..open + 2 + len];
            parts.push(Part::Ref(reference(inner, open)?, open));
            rest = open + 2 + len + 2;
        }
        if rest < text.len() {
            parts.push(Part::Text(text[rest..].to_string()));
        }
        // A part is 56 bytes and a first push makes room for four: most
        // templates have one part, and a workflow may hold 100,000 of them.
        parts.shrink_to_fit();
        Ok(Template { parts })
    }

    pub fn refs(&self) -> impl Iterator<Item = (&Ref, usize)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r, at) => Some((r, *at)),
            Part::Text(_) => None,
        })
    }

    /// Expands into plain text (prompts, questions, env values).
    pub fn render(&self, value: impl Fn(&Ref) -> String) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Ref(r, _) => out.push_str(&value(r)),
            }
        }
        out
    }

    /// The command text for a `run` step under `shell`: each reference
    /// becomes `"$NAME"` where it is a word of its own and `${NAME}` inside
    /// double quotes or a here-document, so its value stays literal. A
    /// reference where no quoting keeps it literal (see `template/shell.rs`)
    /// is an error, one per reference.
    pub fn to_command(&self, shell: &[String]) -> Result<String, Vec<TemplateError>> {
        let offsets: Vec<usize> = self.refs().map(|(_, at)| at).collect();
        if offsets.is_empty() {
            return Ok(self.render(|_| String::new()));
        }
        if let Some(name) = non_posix(shell) {
            let message = format!(
                "templates in `run` need a POSIX shell (sh, bash, dash, ksh, zsh), and `{name}` is not one; pass the value through the step's `env` instead"
            );
            return Err(offsets
                .into_iter()
                .map(|offset| TemplateError {
                    offset,
                    message: message.clone(),
                })
                .collect());
        }
        let text: String = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                Part::Ref(..) => None,
            })
            .collect::<Vec<_>>()
            .join(" ");
        // What the lexer accepts, this can still refuse: the value, stored
        // in a variable or handed on, could be read as code elsewhere.
        let danger = shell::reads_values_as_code(&text).map(|what| {
            format!(
                "a template in a command that uses {what} is not safe: the value, stored in a variable or handed on, could be read as code there; pass the value through the step's `env` and check it there"
            )
        });
        let mut toks = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => toks.extend(t.chars().map(Tok::C)),
                Part::Ref(..) => toks.push(Tok::T(toks.len())),
            }
        }
        // Number the templates 0, 1, 2... in order.
        let mut n = 0;
        for tok in &mut toks {
            if let Tok::T(k) = tok {
                *k = n;
                n += 1;
            }
        }
        let mut uses = shell::lex(&toks, n).into_iter();
        let mut out = String::new();
        let mut errors = Vec::new();
        for part in &self.parts {
            match (part, part_use(part, &mut uses)) {
                (Part::Text(t), _) => out.push_str(t),
                (Part::Ref(_, offset), Some(Use::Word | Use::Text)) if danger.is_some() => errors
                    .push(TemplateError {
                        offset: *offset,
                        message: danger.clone().unwrap_or_default(),
                    }),
                (Part::Ref(r, _), Some(Use::Word)) => {
                    out.push_str(&format!("\"${}\"", r.env_name()))
                }
                (Part::Ref(r, _), Some(Use::Text)) => {
                    out.push_str(&format!("${{{}}}", r.env_name()))
                }
                (Part::Ref(_, offset), Some(Use::Refused(why))) => errors.push(TemplateError {
                    offset: *offset,
                    message: why.message(),
                }),
                (Part::Ref(..), None) => {}
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

fn part_use(part: &Part, uses: &mut impl Iterator<Item = Use>) -> Option<Use> {
    match part {
        Part::Ref(..) => uses.next(),
        Part::Text(_) => None,
    }
}

/// Shells whose quoting the lexer follows.
const POSIX_SHELLS: &[&str] = &[
    "sh", "bash", "dash", "ash", "ksh", "mksh", "posh", "yash", "zsh", "busybox",
];

/// The program of `shell` when it is not a POSIX shell (`env` looked
/// through; a version suffix such as `bash5` or `ksh93` ignored).
fn non_posix(shell: &[String]) -> Option<String> {
    let mut words = shell.iter().map(|w| w.rsplit('/').next().unwrap_or(w));
    let mut program = words.next()?;
    if program == "env" {
        program = words.find(|w| !w.starts_with('-') && !w.contains('='))?;
    }
    let base = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-');
    (!POSIX_SHELLS.contains(&base)).then(|| program.to_string())
}

fn reference(inner: &str, open: usize) -> Result<Ref, TemplateError> {
    let path = inner.trim();
    let err = |message: String| TemplateError {
        offset: open,
        message,
    };
    let words: Vec<&str> = path.split('.').collect();
    if words.iter().any(|w| {
        w.is_empty()
            || !w
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ':')
    }) {
        return Err(err(format!(
            "`{{{{ {path} }}}}` is not a template: use `vars.X`, `answers.STEP`, `steps.STEP.outputs.KEY` or `run.id`"
        )));
    }
    match words.as_slice() {
        ["vars", name] => Ok(Ref::Var(name.to_string())),
        ["answers", step] => Ok(Ref::Answer(step.to_string())),
        ["steps", step, "outputs", key] => Ok(Ref::Output {
            step: step.to_string(),
            key: key.to_string(),
        }),
        ["run", "id"] => Ok(Ref::RunId),
        ["matrix", name] => Ok(Ref::Matrix(name.to_string())),
        _ => Err(err(format!(
            "unknown template `{{{{ {path} }}}}`: use `vars.X`, `answers.STEP`, `steps.STEP.outputs.KEY` or `run.id`"
        ))),
    }
}

#[cfg(test)]
mod tests;
