//! What a template or condition may read of a matrix: `matrix.X` of the
//! instance itself, the aggregate `steps.STEP.status` of a matrix step,
//! and never `steps.STEP.outputs.K` or `answers.STEP` of one (which
//! instance's?). `matrix.X` that some instances lack is gathered here and
//! reported once per place, listing them.

use super::super::expr::Operand;
use super::Cx;

impl Cx<'_> {
    /// `Ok(problem)`, or `Err(i)`: instance `i` has no value for `name`.
    pub(super) fn matrix_ref(
        &self,
        step: Option<usize>,
        name: &str,
    ) -> Result<Option<String>, usize> {
        let Some(i) = step else {
            return Ok(Some(format!(
                "the workflow's `env` cannot use `matrix.{name}`: only a matrix step's own keys can"
            )));
        };
        match self.instances.get(i).and_then(|x| x.as_deref()) {
            None => Ok(Some(format!(
                "step `{}` has no `matrix`, so `matrix.{name}` means nothing there",
                self.ids[i]
            ))),
            Some(inst) if inst.values.iter().any(|(k, _)| k == name) => Ok(None),
            Some(_) => Err(i),
        }
    }

    /// `None` when `target` is not a matrix step; else what is wrong with
    /// reading `written` of it, if anything.
    pub(super) fn group_ref(
        &self,
        user: Option<usize>,
        target: &str,
        written: &str,
    ) -> Option<Option<String>> {
        let &g = self.group_ids.get(target)?;
        let group = &self.groups[g];
        if !written.ends_with(".status") {
            let example = group
                .members
                .first()
                .map(|&m| written.replacen(target, &self.ids[m], 1))
                .unwrap_or_default();
            return Some(Some(format!(
                "step `{target}` is a matrix of {} instances, so `{written}` could be any of theirs; name one, such as `{example}`",
                group.members.len()
            )));
        }
        // The aggregate status: every instance must be upstream.
        let problem = group.members.iter().find_map(|&m| {
            self.check_step_ref(user, &self.ids[m], "status")
                .map(|p| p.replace(&format!("`{}`", self.ids[m]), &format!("`{target}`")))
        });
        Some(problem)
    }

    /// What is wrong with a condition's operand, and how it is written.
    pub(super) fn operand(
        &self,
        i: usize,
        op: &Operand,
    ) -> (Result<Option<String>, usize>, String) {
        let (written, target) = match op {
            Operand::Var(name) => return (Ok(self.unknown_var(name)), format!("vars.{name}")),
            Operand::Literal(_) => return (Ok(None), String::new()),
            Operand::Matrix(name) => {
                return (self.matrix_ref(Some(i), name), format!("matrix.{name}"));
            }
            Operand::Answer(s) => (format!("answers.{s}"), s),
            Operand::Status(s) => (format!("steps.{s}.status"), s),
            Operand::Output { step: s, key } => (format!("steps.{s}.outputs.{key}"), s),
        };
        let what = match op {
            Operand::Answer(_) => "answer",
            Operand::Status(_) => "status",
            _ => "outputs",
        };
        let problem = self
            .group_ref(Some(i), target, &written)
            .unwrap_or_else(|| self.check_step_ref(Some(i), target, what));
        (Ok(problem), written)
    }

    /// One error per place that reads a `matrix.X` some instances lack.
    pub(super) fn report_lacking(&mut self) {
        for ((pos, name), which) in std::mem::take(&mut self.lacking) {
            let Some(Some(first)) = which.first().map(|&i| self.instances.get(i)) else {
                continue;
            };
            let Some(first) = first.as_deref() else {
                continue;
            };
            let group = &self.groups[first.group];
            let mut ids: Vec<String> = which.iter().map(|&i| self.ids[i].clone()).collect();
            ids.dedup();
            let message = super::expand::lacking_message(
                &group.id,
                &name,
                &ids,
                group.members.len(),
                &group.axes,
            );
            self.diags.push(pos, message);
        }
    }
}
