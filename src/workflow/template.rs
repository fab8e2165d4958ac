//! `{{ ... }}` templates: parsed once at load, expanded by the engine.
//!
//! In a `run` command a template never becomes command text: the engine puts
//! the value in an environment variable and the command refers to it (see
//! [`Template::to_command`]), so an operator's answer stays one literal word.

/// What a template refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ref {
    Var(String),
    Answer(String),
    Output { step: String, key: String },
    RunId,
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
        }
    }

    /// The reference as written between `{{ }}`.
    pub fn text(&self) -> String {
        match self {
            Ref::Var(name) => format!("vars.{name}"),
            Ref::Answer(step) => format!("answers.{step}"),
            Ref::Output { step, key } => format!("steps.{step}.outputs.{key}"),
            Ref::RunId => "run.id".to_string(),
        }
    }

    /// The step this refers to, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Ref::Answer(step) | Ref::Output { step, .. } => Some(step),
            Ref::Var(_) | Ref::RunId => None,
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

    /// The command text for a `run` step: each reference becomes `"$NAME"`
    /// outside quotes and `${NAME}` inside double quotes. A reference inside
    /// single quotes could never expand, so it is an error.
    pub fn to_command(&self) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut quote = Quote::None;
        for part in &self.parts {
            match part {
                Part::Text(t) => {
                    quote = scan(t, quote);
                    out.push_str(t);
                }
                Part::Ref(r, at) => match quote {
                    Quote::None | Quote::Escape => {
                        if quote == Quote::Escape {
                            quote = Quote::None;
                        }
                        out.push_str(&format!("\"${}\"", r.env_name()));
                    }
                    Quote::Double | Quote::DoubleEscape => {
                        quote = Quote::Double;
                        out.push_str(&format!("${{{}}}", r.env_name()));
                    }
                    Quote::Single => {
                        return Err(TemplateError {
                            offset: *at,
                            message: "a template inside single quotes would never be expanded; use double quotes or none".to_string(),
                        });
                    }
                },
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Escape,
    Single,
    Double,
    DoubleEscape,
}

/// The shell quoting state after reading `text` from state `q`.
fn scan(text: &str, mut q: Quote) -> Quote {
    for c in text.chars() {
        q = match (q, c) {
            (Quote::Escape, _) => Quote::None,
            (Quote::DoubleEscape, _) => Quote::Double,
            (Quote::None, '\\') => Quote::Escape,
            (Quote::None, '\'') => Quote::Single,
            (Quote::None, '"') => Quote::Double,
            (Quote::Single, '\'') => Quote::None,
            (Quote::Double, '\\') => Quote::DoubleEscape,
            (Quote::Double, '"') => Quote::None,
            (state, _) => state,
        };
    }
    q
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
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
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
        _ => Err(err(format!(
            "unknown template `{{{{ {path} }}}}`: use `vars.X`, `answers.STEP`, `steps.STEP.outputs.KEY` or `run.id`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_reference_kind() {
        let t =
            Template::parse("a {{ vars.x }} {{answers.q}} {{ steps.b.outputs.v }} {{ run.id }}")
                .unwrap();
        let refs: Vec<_> = t.refs().map(|(r, _)| r.clone()).collect();
        assert_eq!(
            refs,
            [
                Ref::Var("x".into()),
                Ref::Answer("q".into()),
                Ref::Output {
                    step: "b".into(),
                    key: "v".into()
                },
                Ref::RunId
            ]
        );
    }

    #[test]
    fn reports_bad_templates_at_their_offset() {
        assert_eq!(Template::parse("ab {{ vars.x").unwrap_err().offset, 3);
        let e = Template::parse("x {{ secrets.k }}").unwrap_err();
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("unknown template"));
    }

    #[test]
    fn commands_refer_to_environment_variables() {
        let t = Template::parse("echo {{ vars.x }} \"v={{ answers.note-1 }}\" \\'{{ run.id }}")
            .unwrap();
        assert_eq!(
            t.to_command().unwrap(),
            "echo \"$SIGNALBOX_VAR_X\" \"v=${SIGNALBOX_ANSWER_NOTE_1}\" \\'\"$SIGNALBOX_RUN_ID\""
        );
        let single = Template::parse("echo 'x {{ vars.x }}'").unwrap();
        assert_eq!(single.to_command().unwrap_err().offset, 8);
        let after = Template::parse("echo 'x' \"it's {{ vars.x }}\"").unwrap();
        assert!(after.to_command().is_ok());
    }
}
