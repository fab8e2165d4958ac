//! `hooks:` resolved: step ids checked (with "did you mean"), `run`'s
//! templates parsed and checked by the same code as a step's (a hook may
//! read `vars`, `secrets` and `run.id`, nothing about steps), then turned
//! into environment-variable references under the workflow's shell.

use super::super::hook::{DEFAULT_HOOK_TIMEOUT, Hook};
use super::super::spec::{DefaultsSpec, HookSpec};
use super::super::template::Template;
use super::Cx;
use super::values::to_duration;
use crate::workflow::DEFAULT_KILL_GRACE;

impl Cx<'_> {
    pub(super) fn hooks(&mut self, specs: Vec<HookSpec>, d: &DefaultsSpec) -> Vec<Hook> {
        let kill_grace = d
            .kill_grace
            .as_ref()
            .map_or(DEFAULT_KILL_GRACE, to_duration);
        specs
            .into_iter()
            .enumerate()
            .map(|(n, h)| self.hook(n, h, kill_grace))
            .collect()
    }

    fn hook(&mut self, n: usize, h: HookSpec, kill_grace: std::time::Duration) -> Hook {
        let name = h.name.unwrap_or_else(|| format!("hook-{}", n + 1));
        for (k, id) in h.steps.iter().flatten().enumerate() {
            // A matrix step's own id names all its instances (`Hook::wants`).
            if self.index_of(id).is_none() && !self.group_ids.contains_key(id.as_str()) {
                let pos = self.top_pos(&format!("hooks.{n}.steps.{k}"), n);
                let hint = self.hint(id, self.step_ids());
                self.diags.push(
                    pos,
                    format!("hook `{name}` names unknown step `{id}`{hint}"),
                );
            }
        }
        let key = format!("hooks.{n}.run");
        self.hook = Some(name.clone());
        let template = if h.run.contains("{{") {
            self.template(None, &key, &h.run)
        } else {
            Template::default()
        };
        self.hook = None;
        let command = match template.refs().next() {
            None => h.run.clone(),
            Some(_) => match template.to_command(&self.shell) {
                Ok(c) => c,
                Err(errors) => {
                    for e in errors {
                        let pos = self.locate(None, &key, &h.run, e.offset);
                        self.diags
                            .push(pos, format!("in hook `{name}`: {}", e.message));
                    }
                    String::new()
                }
            },
        };
        Hook {
            name,
            on: h.on,
            steps: h.steps,
            text: h.run,
            command,
            template,
            timeout: h.timeout.as_ref().map_or(DEFAULT_HOOK_TIMEOUT, to_duration),
            shell: self.shell.clone(),
            kill_grace,
        }
    }

    /// Where `key` was written, else where hook `n` starts.
    fn top_pos(&self, key: &str, n: usize) -> super::Pos {
        self.at
            .top
            .get(key)
            .or_else(|| self.at.top.get(&format!("hooks.{n}")))
            .unwrap_or(super::Pos::START)
    }
}
