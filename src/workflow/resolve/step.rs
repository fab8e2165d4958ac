//! One step's spec to its [`Step`]: what it does, its policies and
//! defaults, its strings moved rather than copied.

use std::time::Duration;

use super::super::model::*;
use super::super::spec::{DefaultsSpec, DurationSpec, StepSpec};
use super::super::template::Template;
use super::Cx;
use super::values::{merge_retry, shell_words, to_duration};

impl Cx<'_> {
    pub(super) fn step(
        &mut self,
        i: usize,
        mut s: StepSpec,
        d: &DefaultsSpec,
        wait_default: Duration,
    ) -> Step {
        let shell = s
            .shell
            .as_ref()
            .map_or_else(|| self.shell.clone(), |sh| shell_words(sh).into());
        let is_run = s.run.is_some();
        if let Some(text) = &s.description {
            self.refuse_secret(Some(i), "description", text);
        }
        let action = self.action(i, &mut s, &shell, wait_default);
        if let Some(name) = &s.breaker
            && !self.breakers.contains_key(name)
        {
            let pos = self.at.key(i, "breaker").unwrap_or(self.at.id(i));
            let hint = self.hint(name, self.breakers.keys().map(String::as_str));
            let id = &self.ids[i];
            self.diags.push(
                pos,
                format!("step `{id}` uses unknown breaker `{name}`{hint}"),
            );
        }
        let when = s
            .when
            .take()
            .and_then(|text| self.condition(i, text))
            .map(Box::new);
        let run_timeout = s.timeout.as_deref().or(d.timeout.as_ref()).map(to_duration);
        self.refuse_secrets_in_values(i, &s);
        Step {
            // The id and the needs move in once every step is resolved:
            // until then the checks read them from `self`.
            id: String::new(),
            line: self.at.id(i).line,
            action,
            needs: Vec::new(),
            when,
            timeout: if is_run { run_timeout } else { None },
            retry: self.shared_retry(merge_retry(s.retry.as_deref(), d.retry.as_ref())),
            breaker: s.breaker,
            on_failure: s.on_failure.or(d.on_failure).unwrap_or_default(),
            fallback: s
                .fallback
                .map(|f| Box::new(f.outputs.into_iter().map(|(k, v)| (k, v.0)).collect())),
            priority: s.priority.unwrap_or(0),
            env: self.env_templates(std::mem::take(&mut s.env), Some(i), "env"),
            cwd: s.cwd,
            pool: self.pool(i, s.pool.take(), is_run),
            shell,
            kill_grace: s
                .kill_grace
                .as_deref()
                .or(d.kill_grace.as_ref())
                .map_or(DEFAULT_KILL_GRACE, to_duration),
            output: s.output.or(d.output).unwrap_or_default(),
            description: s.description.take().map(Into::into),
            instance: None,
        }
    }

    /// What the step does, its texts taken out of `s`.
    fn action(
        &mut self,
        i: usize,
        s: &mut StepSpec,
        shell: &[String],
        wait_default: Duration,
    ) -> Action {
        let step_timeout = s.timeout.as_deref();
        let wait = |t: Option<&DurationSpec>| t.or(step_timeout).map_or(wait_default, to_duration);
        if let Some(a) = s.approval.take() {
            let prompt = match &a.prompt {
                Some(p) => self.text_template(i, "approval.prompt", p),
                None => {
                    let text = format!("Approve {}?", self.ids[i]);
                    self.text_template(i, "approval.prompt", &text)
                }
            };
            Action::Approval(ApprovalAction {
                prompt,
                timeout: wait(a.timeout.as_ref()),
                on_timeout: a.on_timeout.unwrap_or_default(),
                approvers: a.approvers.map_or(1, super::values::clamp_u32),
                self_approve: a.self_approve.unwrap_or(true),
            })
        } else if let Some(a) = s.ask.take() {
            let a = *a;
            for (key, text) in a
                .choices
                .iter()
                .flatten()
                .map(|c| ("ask.choices", c))
                .chain(a.default.iter().map(|d| ("ask.default", d)))
            {
                self.refuse_secret(Some(i), key, &text.0);
            }
            Action::Ask(Box::new(AskAction {
                question: self.text_template(i, "ask.question", &a.question),
                choices: a.choices.into_iter().flatten().map(|c| c.0).collect(),
                default: a.default.map(|t| t.0),
                timeout: wait(a.timeout.as_ref()),
            }))
        } else {
            self.run_action(i, s.run.take().unwrap_or_default(), shell)
        }
    }

    /// Values that are never templates may still not name a secret: they
    /// are shown or journaled as written.
    fn refuse_secrets_in_values(&mut self, i: usize, s: &StepSpec) {
        if let Some(cwd) = &s.cwd {
            self.refuse_secret(Some(i), "cwd", cwd);
        }
        for v in s.fallback.iter().flat_map(|f| f.outputs.values()) {
            self.refuse_secret(Some(i), "fallback", &v.0);
        }
    }

    /// A step's `pool`, checked: a name a subject can carry, on a step that
    /// runs a command. Steps of one pool share its name.
    fn pool(
        &mut self,
        i: usize,
        pool: Option<String>,
        is_run: bool,
    ) -> Option<std::sync::Arc<str>> {
        let name = pool?;
        let pos = self.at.key(i, "pool").unwrap_or(self.at.id(i));
        let id = &self.ids[i];
        if !is_run {
            self.diags.push(
                pos,
                format!("step `{id}` has a `pool`, but only a `run` step runs on a worker"),
            );
            return None;
        }
        if !crate::workflow::pool_name_ok(&name) {
            self.diags.push(
                pos,
                format!(
                    "step `{id}` has pool `{name}`: a pool name is 1 to 64 letters, digits, `_` or `-`"
                ),
            );
            return None;
        }
        if let Some(p) = self.pools.iter().find(|p| ***p == *name) {
            return Some(p.clone());
        }
        let p: std::sync::Arc<str> = name.into();
        self.pools.push(p.clone());
        Some(p)
    }

    /// The last policy handed out, again when `policy` is alike.
    fn shared_retry(&mut self, policy: RetryPolicy) -> std::sync::Arc<RetryPolicy> {
        if *self.retry != policy {
            self.retry = std::sync::Arc::new(policy);
        }
        self.retry.clone()
    }

    fn run_action(&mut self, i: usize, text: String, shell: &[String]) -> Action {
        // Instances share their command: parsed and rewritten once, each
        // instance's references still checked.
        if let Some(last) = self.last_run.take() {
            let (written, last_text, last_shell, template, command) = &*last;
            if *written == self.at.written(i)
                && *last_text == text
                && last_shell.as_slice() == shell
            {
                let (template, command) = (template.clone(), command.clone());
                self.check_refs(Some(i), "run", &text, &template);
                self.last_run = Some(last);
                return Action::Run(RunAction {
                    text,
                    expanded: Some(Box::new(Expanded { template, command })),
                });
            }
        }
        // Most commands refer to nothing: nothing to parse, check or rewrite.
        let template = if text.contains("{{") {
            self.text_template(i, "run", &text)
        } else {
            Template::default()
        };
        self.check_env_names(i, &text, &template);
        if template.refs().next().is_none() {
            return Action::Run(RunAction {
                text,
                expanded: None,
            });
        }
        let command = match template.to_command(shell) {
            Ok(c) => c,
            Err(errors) => {
                for e in errors {
                    let pos = self.locate(Some(i), "run", &text, e.offset);
                    self.diags.push(pos, e.message);
                }
                String::new()
            }
        };
        if self.instances.get(i).is_some_and(Option::is_some) {
            let last = (
                self.at.written(i),
                text.clone(),
                shell.to_vec(),
                template.clone(),
                command.clone(),
            );
            self.last_run = Some(Box::new(last));
        }
        Action::Run(RunAction {
            text,
            expanded: Some(Box::new(Expanded { template, command })),
        })
    }
}
