//! A step's resolved definition in canonical form, key by key, and its
//! fingerprint: what an edit compares to say whether a step changed and
//! which keys did (SPEC §2 "Edit a run").
//!
//! The form is built from the loaded model, never from the text, so
//! comments, key order, whitespace, anchors and the step's place in the
//! file never count. Byte offsets that templates keep for error messages
//! are left out for the same reason. What reaches a step through
//! resolution counts as the step's own: `defaults` (merged into its
//! fields), the workflow's `env` (merged under the step's) and the value of
//! every var it reads (its `vars` key).

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use super::expr::{Expr, Operand};
use super::model::{Action, Step, Workflow};
use super::template::{Part, Ref, Template};

/// Each key of a step's resolved definition and its canonical text, in a
/// fixed order (the action's key first: `run`, `approval` or `ask`).
pub type Canonical = Vec<(&'static str, String)>;

/// The canonical form of `step`, a step of `wf`.
pub fn canonical(wf: &Workflow, step: &Step) -> Canonical {
    let mut form = Vec::with_capacity(15);
    visit(wf, step, &mut |key, value| {
        form.push((key, value.to_string()))
    });
    form
}

/// The fingerprint of `step` without building its form: the same hash as
/// `fingerprint(&canonical(wf, step))`, the values streamed into it.
pub fn of_step(wf: &Workflow, step: &Step) -> u64 {
    let mut hash = Fnv::default();
    visit(wf, step, &mut |key, value| {
        hash.eat(key.as_bytes());
        hash.eat(&[KEY_END]);
        let _ = hash.write_fmt(value);
        hash.eat(&[VALUE_END]);
    });
    hash.0
}

/// Hands each key of the step's resolved definition and its canonical
/// text to `out`, in the order of [`Canonical`].
fn visit(wf: &Workflow, step: &Step, out: &mut dyn FnMut(&'static str, fmt::Arguments<'_>)) {
    let mut vars: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    let mut read = |t: &'_ Template| {
        for (r, _) in t.refs() {
            if let Ref::Var(name) = r
                && let Some((k, v)) = wf.vars.get_key_value(name)
            {
                vars.insert(k, Some(v));
            }
        }
    };
    let kind = step.action.kind();
    match &step.action {
        Action::Run(a) => {
            read(a.template());
            out(kind, format_args!("{}", a.text));
        }
        Action::Approval(a) => {
            read(&a.prompt);
            let prompt = Form(&a.prompt);
            let (timeout, on_timeout) = (a.timeout, a.on_timeout);
            // Written only when set otherwise than the default, so the form
            // of every approval without four eyes stays as it was.
            let approvers = match a.approvers {
                1 => String::new(),
                n => format!(" approvers={n}"),
            };
            let self_approve = if a.self_approve {
                ""
            } else {
                " self_approve=false"
            };
            out(
                kind,
                format_args!(
                    "prompt={prompt} timeout={timeout:?} on_timeout={on_timeout:?}{approvers}{self_approve}"
                ),
            );
        }
        Action::Ask(a) => {
            read(&a.question);
            let question = Form(&a.question);
            let (choices, default, timeout) = (&a.choices, &a.default, a.timeout);
            out(
                kind,
                format_args!(
                    "question={question} choices={choices:?} default={default:?} timeout={timeout:?}"
                ),
            );
        }
    }
    // The workflow's env first, the step's over it: what the process gets.
    let mut env: BTreeMap<&str, &Template> = BTreeMap::new();
    for (k, t) in wf.env.iter().chain(step.env.iter()) {
        read(t);
        env.insert(k, t);
    }
    if let Some(c) = &step.when {
        let mut ops = Vec::new();
        c.expr.operands(&mut ops);
        for op in &ops {
            if let Operand::Var(name) = op
                && let Some((k, v)) = wf.vars.get_key_value(name)
            {
                vars.insert(k, Some(v));
            }
        }
    }
    let mut needs: Vec<&str> = step
        .needs
        .iter()
        .filter_map(|&n| wf.steps.get(n).map(|s| s.id.as_str()))
        .collect();
    needs.sort_unstable();
    out("needs", format_args!("{needs:?}"));
    out(
        "when",
        format_args!("{}", When(step.when.as_deref().map(|c| &c.expr))),
    );
    out("timeout", format_args!("{:?}", step.timeout));
    out("retry", format_args!("{:?}", step.retry));
    out("breaker", format_args!("{:?}", step.breaker));
    out("on_failure", format_args!("{:?}", step.on_failure));
    out("fallback", format_args!("{:?}", step.fallback));
    out("priority", format_args!("{}", step.priority));
    out("env", format_args!("{}", Env(&env)));
    out("cwd", format_args!("{:?}", step.cwd));
    out("pool", format_args!("{:?}", step.pool));
    out("shell", format_args!("{:?}", step.shell));
    out("kill_grace", format_args!("{:?}", step.kill_grace));
    out("output", format_args!("{:?}", step.output));
    out("vars", format_args!("{vars:?}"));
    // An instance's own values: its `run` text is its siblings', and an
    // `include` that adds a key changes what its templates read.
    if let Some(inst) = &step.instance {
        out("matrix", format_args!("{:?}", inst.values));
    }
}

/// Bytes that never occur in UTF-8 text: they end each key and value, so
/// no two forms hash alike by running together.
const KEY_END: u8 = 0xff;
const VALUE_END: u8 = 0xfe;

/// FNV-1a, 64 bits: small, stable across builds, and fast on short text.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn eat(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl fmt::Write for Fnv {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.eat(s.as_bytes());
        Ok(())
    }
}

/// The fingerprint of a canonical form (as [`of_step`] computes it).
pub fn fingerprint(form: &Canonical) -> u64 {
    let mut hash = Fnv::default();
    for (key, value) in form {
        hash.eat(key.as_bytes());
        hash.eat(&[KEY_END]);
        hash.eat(value.as_bytes());
        hash.eat(&[VALUE_END]);
    }
    hash.0
}

/// A template as text and references, without the offsets of its `{{`.
struct Form<'a>(&'a Template);

impl fmt::Display for Form<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.0.parts {
            match part {
                Part::Text(text) => write!(f, "{text:?}")?,
                Part::Ref(r, _) => write!(f, "{{{}}}", r.text())?,
            }
        }
        Ok(())
    }
}

/// A condition as its parsed tree: `a==b` and `a == b` are one condition.
struct When<'a>(Option<&'a Expr>);

impl fmt::Display for When<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(e) => write!(f, "{e:?}"),
            None => Ok(()),
        }
    }
}

/// The env a step's process gets, by name.
struct Env<'a>(&'a BTreeMap<&'a str, &'a Template>);

impl fmt::Display for Env<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, t) in self.0 {
            write!(f, "{k:?}={};", Form(t))?;
        }
        Ok(())
    }
}

/// A template in canonical form (for the workflow's own `env`).
pub fn template_form(t: &Template) -> String {
    Form(t).to_string()
}

/// The keys whose values differ between two forms, in the order of `new`
/// then any key only `old` has (a `run` step turned approval: both keys).
pub fn changed(old: &Canonical, new: &Canonical) -> Vec<&'static str> {
    fn get<'f>(form: &'f Canonical, key: &str) -> Option<&'f str> {
        form.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
    let mut keys: Vec<&'static str> = new
        .iter()
        .filter(|(k, v)| get(old, k) != Some(v.as_str()))
        .map(|(k, _)| *k)
        .collect();
    keys.extend(
        old.iter()
            .filter(|(k, _)| get(new, k).is_none())
            .map(|(k, _)| *k),
    );
    keys
}

#[cfg(test)]
mod tests;
