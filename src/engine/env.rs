//! What a step sees: the values its templates stand for, and the
//! environment its process gets.

use super::scheduler::Scheduler;
use crate::workflow::Action;
use crate::workflow::template::{Ref, Template, answer_env_name};

impl Scheduler {
    /// The value a template reference stands for right now.
    pub(super) fn ref_value(&self, r: &Ref) -> String {
        let step = |id: &str| self.wf.step_index(id).map(|i| &self.steps[i]);
        match r {
            Ref::Var(v) => self.wf.vars.get(v).cloned().unwrap_or_default(),
            Ref::Answer(s) => step(s).and_then(|rt| rt.answer.clone()).unwrap_or_default(),
            Ref::Output { step: s, key } => step(s)
                .and_then(|rt| rt.outputs.get(key).cloned())
                .unwrap_or_default(),
            Ref::RunId => self.dir.id.clone(),
            // An instance's own value: see `matrix_value`. Text templates
            // of instances have theirs written in at load.
            Ref::Matrix(_) => String::new(),
            Ref::Secret(name) => self.secrets.get(name).unwrap_or_default().to_string(),
        }
    }

    /// Step `i`'s value of matrix key `name` (empty off a matrix step,
    /// which loading refuses).
    pub(super) fn matrix_value(&self, i: usize, name: &str) -> String {
        self.wf.steps[i]
            .instance
            .as_ref()
            .and_then(|inst| inst.values.iter().find(|(k, _)| k == name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    pub(super) fn render(&self, t: &Template) -> String {
        t.render(|r| self.ref_value(r))
    }

    /// The environment of attempt `attempt` of step `i`, whose
    /// `step_started` was event `started_seq`.
    pub(super) fn attempt_env(
        &self,
        i: usize,
        (attempt, started_seq): (u32, u64),
        output: &std::path::Path,
    ) -> Vec<(String, String)> {
        let step = &self.wf.steps[i];
        let mut env: Vec<(String, String)> = Vec::new();
        env.extend(self.wf.env.iter().map(|(k, t)| (k.clone(), self.render(t))));
        env.extend(step.env.iter().map(|(k, t)| (k.clone(), self.render(t))));
        env.push(("SIGNALBOX_RUN_ID".into(), self.dir.id.clone()));
        env.push(("SIGNALBOX_STEP".into(), step.id.clone()));
        env.push(("SIGNALBOX_ATTEMPT".into(), attempt.to_string()));
        env.push(("SIGNALBOX_OUTPUT".into(), output.display().to_string()));
        // The attempt's own span, so the step's spans join the run's trace;
        // after the workflow's `env`, which cannot name another.
        let span = super::trace_ctx::attempt_span(self.trace, &self.dir.id, started_seq);
        env.push((
            "TRACEPARENT".into(),
            super::trace_ctx::TraceParent::header(self.trace, span),
        ));
        for &k in &self.asks {
            if let Some(a) = &self.steps[k].answer {
                env.push((answer_env_name(&self.wf.steps[k].id), a.clone()));
            }
        }
        // Every matrix value, whether or not `run` refers to it: the same
        // names `{{ matrix.X }}` in `run` stands for.
        if let Some(inst) = &step.instance {
            for (k, v) in &inst.values {
                env.push((Ref::Matrix(k.clone()).env_name(), v.clone()));
            }
        }
        if let Action::Run(run) = &step.action {
            for (r, _) in run.template().refs() {
                if !matches!(r, Ref::Matrix(_)) {
                    env.push((r.env_name(), self.ref_value(r)));
                }
            }
        }
        env
    }
}
