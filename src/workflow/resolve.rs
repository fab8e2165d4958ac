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

mod expand;
mod hooks;
mod matrix;
mod names;
mod needs;
mod refs;
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
    /// Per step: its matrix instance, if it is one.
    instances: &'a [Option<Box<Instance>>],
    /// The matrix steps, and their ids.
    groups: &'a [Group],
    group_ids: std::collections::HashMap<&'a str, usize>,
    /// `matrix.X` read where some instances have no X: where, and which.
    lacking: BTreeMap<(Pos, String), Vec<usize>>,
    /// The hook whose `run` is being checked: it may read no step's
    /// answer or outputs.
    hook: Option<String>,
    /// Dependencies resolved so far, across all steps (see `MAX_NEEDS`).
    edges: usize,
    /// The last `run` parsed and rewritten, for the next instance of the
    /// same matrix step: that step, the text, shell, template and command.
    #[allow(clippy::type_complexity)]
    last_run: Option<Box<(usize, String, Vec<String>, Template, String)>>,
    /// The pool names seen so far, each held once.
    pools: Vec<std::sync::Arc<str>>,
    /// For `same:`: a matrix step's instances by their values of some axes.
    #[allow(clippy::type_complexity)]
    same_index: std::collections::HashMap<
        (usize, Vec<String>),
        std::collections::HashMap<Vec<String>, Vec<usize>>,
    >,
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
        hooks,
        secrets,
        steps,
        extensions: _,
    } = spec;
    let mut specs = steps.0;
    let mut index = std::mem::take(&mut at.ids);
    let (mut instances, mut groups) = (Vec::new(), Vec::new());
    if specs.iter().any(|(_, s)| expand::has_matrix_keys(s)) {
        let e = expand::expand(specs, &mut at, diags);
        (specs, index, instances, groups) = (e.specs, e.index, e.instances, e.groups);
    }
    // The ids are taken out in place: unzipping would copy every spec.
    let ids: Vec<String> = specs.iter_mut().map(|(id, _)| std::mem::take(id)).collect();
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
        instances: &instances,
        groups: &groups,
        group_ids: groups
            .iter()
            .enumerate()
            .map(|(g, x)| (x.id.as_str(), g))
            .collect(),
        lacking: BTreeMap::new(),
        hook: None,
        edges: 0,
        same_index: std::collections::HashMap::new(),
        last_run: None,
        pools: Vec::new(),
    };
    cx.needs = specs
        .iter_mut()
        .enumerate()
        .map(|(i, (_, s))| cx.resolve_needs(i, &s.needs.0))
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
    cx.report_lacking();
    let hooks = cx.hooks(hooks, &defaults);
    let Cx { needs, index, .. } = cx;
    let instances = instances.into_iter().chain(std::iter::repeat_with(|| None));
    for (((step, id), needs), instance) in steps.iter_mut().zip(ids).zip(needs).zip(instances) {
        step.id = id;
        step.needs = needs;
        if let Some(instance) = instance {
            expand::fill_matrix(step, &instance);
            step.instance = Some(instance);
        }
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
        groups,
        hooks,
        // The caller moves the text in, rather than copy a file of 10 MiB.
        source: String::new(),
        index,
    })
}

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
        self.check_refs(step, key, text, &t);
        t
    }

    /// Checks what each reference of `t` (parsed from `text`) refers to.
    fn check_refs(&mut self, step: Option<usize>, key: &str, text: &str, t: &Template) {
        for (r, offset) in t.refs() {
            let problem = match r {
                Ref::Var(name) => self.unknown_var(name),
                Ref::RunId => None,
                Ref::Answer(s) => self
                    .group_ref(step, s, &r.text())
                    .unwrap_or_else(|| self.check_step_ref(step, s, "answer")),
                Ref::Output { step: s, .. } => self
                    .group_ref(step, s, &r.text())
                    .unwrap_or_else(|| self.check_step_ref(step, s, "outputs")),
                Ref::Matrix(name) => match self.matrix_ref(step, name) {
                    Err(lacks) => {
                        let pos = self.locate(step, key, text, offset);
                        self.lacking
                            .entry((pos, name.clone()))
                            .or_default()
                            .push(lacks);
                        None
                    }
                    Ok(problem) => problem,
                },
                Ref::Secret(name) => self.secret_problem(key, name),
            };
            if let Some(message) = problem {
                let pos = self.locate(step, key, text, offset);
                self.diags.push(pos, message);
            }
        }
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
        if let Some(hook) = &self.hook {
            return Some(format!(
                "hook `{hook}` cannot use the {what} of step `{target}`: a hook's `run` may read `vars`, `secrets` and `run.id` only"
            ));
        }
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
            let (problem, written) = self.operand(i, &op);
            // Operands come in written order, so each is found after the last.
            let offset = text[searched..].find(&written).map_or(0, |o| o + searched);
            if !written.is_empty() && offset >= searched {
                searched = offset + written.len();
            }
            match problem {
                Ok(None) => {}
                Ok(Some(message)) => {
                    let pos = self.locate(Some(i), "when", &text, offset);
                    self.diags.push(pos, format!("in `when`: {message}"));
                }
                Err(lacks) => {
                    let pos = self.locate(Some(i), "when", &text, offset);
                    let Operand::Matrix(name) = op else { continue };
                    self.lacking.entry((pos, name)).or_default().push(lacks);
                }
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
