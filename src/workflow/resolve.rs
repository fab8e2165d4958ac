//! From the file's spec types to a runnable [`Workflow`]: merges defaults,
//! resolves `needs`, parses templates and conditions, and checks every
//! reference (steps, vars, breakers, answers, outputs) with its position.

use std::collections::BTreeMap;

use super::convert::Located;
use super::dag;
use super::diag::{Diagnostics, Pos, did_you_mean};
use super::name_index::NameIndex;

use super::expr::{self, Operand};
use super::model::*;
use super::spec::{BreakerSpec, ScalarText, WorkflowSpec};
use super::template::{Ref, Template};

mod names;
mod secrets;
mod step;
mod values;
pub use values::to_duration;
use values::{breaker, locate_in_source, shell_words};

struct Cx<'a> {
    /// Step ids in file order.
    ids: &'a [String],
    /// Which steps are questions, by index.
    asks: Vec<bool>,
    vars: &'a BTreeMap<String, ScalarText>,
    breakers: &'a BTreeMap<String, BreakerSpec>,
    /// The names under `secrets`.
    secrets: &'a BTreeMap<String, super::spec::SecretSpec>,
    at: &'a Located,
    source: &'a str,
    /// The source's lines, indexed when the first error is placed.
    lines: std::cell::OnceCell<super::lines::Lines<'a>>,
    diags: &'a mut Diagnostics,
    /// Step indices by id, into `ids`.
    index: NameIndex,
    needs: Vec<Vec<usize>>,
    acyclic: bool,
    /// Comparisons left for "did you mean" hints; see [`Cx::hint`].
    hints: std::cell::Cell<usize>,
    /// `defaults.shell`, or `sh -c`: one copy shared by every step that
    /// sets none, rather than three allocations per step.
    shell: std::sync::Arc<[String]>,
    /// Likewise the retry policy of the step before, for the next alike.
    retry: std::sync::Arc<RetryPolicy>,
}

/// Each hint compares the name with every candidate: a file naming 100,000
/// unknown steps among 100,000 would take hours, so hints are looked for
/// until this many comparisons are spent (a few thousand hints in a file of
/// a hundred steps; the first few among 100,000). They are the ones a person
/// reads first.
const HINT_COMPARISONS: usize = 200_000;

/// Resolves the spec, consuming it: each step's strings move into the
/// [`Step`], and the steps' specs are freed as they are resolved, so a file
/// of 100,000 steps never holds both forms whole at once.
pub fn workflow(
    spec: WorkflowSpec,
    mut at: Located,
    source: &str,
    diags: &mut Diagnostics,
) -> Workflow {
    let WorkflowSpec {
        name,
        description,
        concurrency,
        timeout,
        env,
        vars,
        defaults,
        breakers,
        secrets,
        steps,
    } = spec;
    // The ids are taken out in place: unzipping would copy every spec.
    let mut specs = steps.0;
    let ids: Vec<String> = specs.iter_mut().map(|(id, _)| std::mem::take(id)).collect();
    let index = std::mem::take(&mut at.ids);
    let at = &at;
    let mut cx = Cx {
        ids: &ids,
        asks: specs.iter().map(|(_, s)| s.ask.is_some()).collect(),
        vars: &vars,
        breakers: &breakers,
        secrets: &secrets,
        at,
        source,
        lines: std::cell::OnceCell::new(),
        diags,
        index,
        needs: Vec::new(),
        acyclic: true,
        hints: std::cell::Cell::new(HINT_COMPARISONS),
        shell: std::sync::Arc::new(["sh".to_string(), "-c".to_string()]),
        retry: std::sync::Arc::default(),
    };
    cx.needs = specs
        .iter_mut()
        .enumerate()
        .map(|(i, (_, s))| cx.resolve_needs(i, std::mem::take(&mut s.needs.0)))
        .collect();
    cx.check_cycles();
    cx.check_answer_names();
    cx.check_secret_names();
    if let Some(text) = &description {
        cx.refuse_secret(None, "description", text);
    }
    let defaults = defaults.unwrap_or_default();
    let wait_default = defaults
        .wait_timeout
        .as_ref()
        .map_or(DEFAULT_WAIT_TIMEOUT, to_duration);
    if let Some(shell) = &defaults.shell {
        cx.shell = shell_words(shell).into();
    }
    let env = cx.env_templates(env, None, "env");
    let mut steps = Vec::with_capacity(specs.len());
    // Taken from the back, so the specs' buffer can shrink as it empties;
    // reversed once first, so steps are still resolved in file order.
    specs.reverse();
    while let Some((_, s)) = specs.pop() {
        let i = steps.len();
        steps.push(cx.step(i, s, &defaults, wait_default));
        if specs.len() % SHRINK_EVERY == 0 {
            specs.shrink_to_fit();
        }
    }
    let Cx { needs, index, .. } = cx;
    for ((step, id), needs) in steps.iter_mut().zip(ids).zip(needs) {
        step.id = id;
        step.needs = needs;
    }
    Workflow::new(Workflow {
        name,
        description,
        concurrency: concurrency.map(|c| usize::try_from(c).unwrap_or(usize::MAX)),
        timeout: timeout.as_ref().map(to_duration),
        env,
        vars: vars.into_iter().map(|(k, v)| (k, v.0)).collect(),
        breakers: breakers
            .iter()
            .map(|(k, b)| (k.clone(), breaker(b)))
            .collect(),
        secrets: secrets::sources(secrets),
        steps,
        groups: Vec::new(),
        // The caller moves the text in, rather than copy a file of 10 MiB.
        source: String::new(),
        index,
    })
}

/// Up to this many `needs`, duplicates are found by looking through the
/// list rather than through a set.
const SMALL_NEEDS: usize = 16;

/// How many specs are resolved between two shrinks of their buffer.
const SHRINK_EVERY: usize = 4096;

impl<'a> Cx<'a> {
    fn index_of(&self, id: &str) -> Option<usize> {
        let ids = self.ids;
        self.index.get(id, |i| ids.get(i).map(String::as_str))
    }

    fn step_ids(&self) -> impl ExactSizeIterator<Item = &'a str> + use<'a> {
        self.ids.iter().map(String::as_str)
    }

    /// `" (did you mean `X`?)"` or nothing, while [`HINT_COMPARISONS`] last.
    fn hint<'c>(&self, word: &str, candidates: impl ExactSizeIterator<Item = &'c str>) -> String {
        let Some(left) = self.hints.get().checked_sub(candidates.len()) else {
            return String::new();
        };
        self.hints.set(left);
        did_you_mean(word, candidates)
    }

    fn resolve_needs(&mut self, i: usize, needs: Vec<String>) -> Vec<usize> {
        let mut out = Vec::with_capacity(needs.len());
        // A set once the list is long, not `out.contains`: a step may need
        // 100,000 others; most need one or two, and a set costs more then.
        let mut seen = std::collections::HashSet::new();
        for (k, need) in needs.iter().enumerate() {
            let pos = self.at.need(i, k).unwrap_or(self.at.id(i));
            match self.index_of(need) {
                Some(n) if needs.len() <= SMALL_NEEDS => {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
                Some(n) if seen.insert(n) => out.push(n),
                Some(_) => {}
                None => {
                    let hint = self.hint(need, self.step_ids());
                    let id = &self.ids[i];
                    self.diags.push(
                        pos,
                        format!("step `{id}` needs unknown step `{need}`{hint}"),
                    );
                }
            }
        }
        out
    }

    fn check_cycles(&mut self) {
        for cycle in dag::cycles(&self.needs) {
            self.acyclic = false;
            let path: Vec<&str> = cycle.iter().map(|&i| self.ids[i].as_str()).collect();
            let pos = self.at.id(cycle[0]);
            self.diags
                .push(pos, format!("dependency cycle: {}", path.join(" -> ")));
        }
    }

    /// Parses a template and checks what it refers to; `step` is `None` for
    /// the workflow's own `env`, where no step can be referred to.
    fn template(&mut self, step: Option<usize>, key: &str, text: &str) -> Template {
        let t = match Template::parse(text) {
            Ok(t) => t,
            Err(e) => {
                let pos = self.locate(step, key, text, e.offset);
                self.diags.push(pos, e.message);
                return Template::literal(text);
            }
        };
        for (r, offset) in t.refs() {
            let problem = match r {
                Ref::Var(name) => self.unknown_var(name),
                Ref::RunId => None,
                Ref::Answer(s) => self.check_step_ref(step, s, "answer"),
                Ref::Output { step: s, .. } => self.check_step_ref(step, s, "outputs"),
                Ref::Secret(name) => self.secret_problem(key, name),
            };
            if let Some(message) = problem {
                let pos = self.locate(step, key, text, offset);
                self.diags.push(pos, message);
            }
        }
        t
    }

    fn text_template(&mut self, i: usize, key: &str, text: &str) -> Template {
        self.template(Some(i), key, text)
    }

    fn env_templates(
        &mut self,
        env: BTreeMap<String, ScalarText>,
        step: Option<usize>,
        key: &str,
    ) -> Vec<(String, Template)> {
        env.into_iter()
            .map(|(k, v)| {
                let t = self.template(step, &format!("{key}.{k}"), &v.0);
                (k, t)
            })
            .collect()
    }

    fn unknown_var(&self, name: &str) -> Option<String> {
        if self.vars.contains_key(name) {
            return None;
        }
        let hint = self.hint(name, self.vars.keys().map(String::as_str));
        Some(format!("unknown var `{name}`{hint}"))
    }

    /// Why `user` may not read `target` (an answer when `answer`), if it may not.
    fn check_step_ref(&self, user: Option<usize>, target: &str, what: &str) -> Option<String> {
        let answer = what == "answer";
        let Some(t) = self.index_of(target) else {
            let hint = self.hint(target, self.step_ids());
            return Some(format!("the {what} of unknown step `{target}`{hint}"));
        };
        if answer && !self.asks[t] {
            return Some(format!(
                "step `{target}` is not an `ask` step, so it has no answer"
            ));
        }
        let Some(u) = user else {
            return Some(format!(
                "the workflow's `env` cannot use the {what} of step `{target}`; set it in the step's `env`"
            ));
        };
        if u == t {
            return Some(format!("step `{target}` cannot use its own {what}"));
        }
        if self.acyclic && !dag::is_upstream(&self.needs, u, t) {
            let id = &self.ids[u];
            return Some(format!(
                "step `{target}` is not upstream of `{id}`: add it to `needs` to use its {what}"
            ));
        }
        None
    }

    fn condition(&mut self, i: usize, text: String) -> Option<Condition> {
        if let Some(name) = secrets::named_secret(&text) {
            let offset = text.find(&format!("secrets.{name}")).unwrap_or(0);
            let pos = self.locate(Some(i), "when", &text, offset);
            self.diags.push(
                pos,
                format!("in `when`: a condition cannot read `secrets.{name}`: a secret's value is never compared or journaled"),
            );
            return None;
        }
        let e = match expr::parse(&text) {
            Ok(e) => e,
            Err(e) => {
                let pos = self.locate(Some(i), "when", &text, e.offset);
                self.diags.push(pos, format!("in `when`: {}", e.message));
                return None;
            }
        };
        let mut ops = Vec::new();
        e.operands(&mut ops);
        let mut searched = 0;
        for op in ops {
            let (problem, written) = match &op {
                Operand::Var(name) => (self.unknown_var(name), format!("vars.{name}")),
                Operand::Answer(s) => (
                    self.check_step_ref(Some(i), s, "answer"),
                    format!("answers.{s}"),
                ),
                Operand::Status(s) => (
                    self.check_step_ref(Some(i), s, "status"),
                    format!("steps.{s}.status"),
                ),
                Operand::Output { step: s, key } => (
                    self.check_step_ref(Some(i), s, "outputs"),
                    format!("steps.{s}.outputs.{key}"),
                ),
                Operand::Literal(_) => (None, String::new()),
            };
            // Operands come in written order, so each is found after the last.
            let offset = text[searched..].find(&written).map_or(0, |o| o + searched);
            if !written.is_empty() && offset >= searched {
                searched = offset + written.len();
            }
            if let Some(message) = problem {
                let pos = self.locate(Some(i), "when", &text, offset);
                self.diags.push(pos, format!("in `when`: {message}"));
            }
        }
        Some(Condition { text, expr: e })
    }

    /// The file position of byte `offset` inside the value under `key`.
    fn locate(&self, step: Option<usize>, key: &str, text: &str, offset: usize) -> Pos {
        let base = match step {
            Some(i) => self.at.key(i, key).unwrap_or(self.at.id(i)),
            None => self
                .at
                .top
                .get(key)
                .or_else(|| self.at.top.get("env"))
                .unwrap_or(Pos::START),
        };
        let source = self.source;
        let lines = self.lines.get_or_init(|| super::lines::Lines::new(source));
        locate_in_source(lines, base, text, offset)
    }
}
