//! STAND-IN for plan13's planner (the lead drops this file at merge and
//! takes plan13's): the seam `plan` and `load_revision`, done crudely so
//! the engine's side of an edit can be built and tested. Steps are
//! compared by the `Debug` text of their resolved fields.

use std::collections::BTreeMap;

use super::{EditAsk, Plan, PlanStep};
use crate::engine::event::EditDiff;
use crate::workflow::{Step, Workflow};

/// How a step of the run stands, for an edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    Unstarted,
    Started,
    Finished,
}

pub(crate) struct Checked {
    pub plan: Plan,
    pub wf: Option<Workflow>,
    pub diff: EditDiff,
}

/// A revision's text loaded as the run loads its workflow (`--var`s applied).
pub(crate) fn load_revision(
    text: &str,
    label: &str,
    vars: &BTreeMap<String, String>,
) -> Result<Workflow, String> {
    let mut wf = crate::workflow::load_str(text, label).map_err(|d| d.to_string())?;
    for (k, v) in vars {
        wf.set_var(k, v)?;
    }
    Ok(wf)
}

/// The keys of `a` and `b` (of workflows `wa`, `wb`) that differ.
fn changed_fields(wa: &Workflow, a: &Step, wb: &Workflow, b: &Step) -> Vec<String> {
    let needs = |w: &Workflow, s: &Step| -> Vec<String> {
        s.needs.iter().map(|&n| w.steps[n].id.clone()).collect()
    };
    let mut out = Vec::new();
    let mut cmp = |key: &str, x: String, y: String| {
        if x != y {
            out.push(key.to_string());
        }
    };
    cmp(
        a.action.kind(),
        format!("{:?}", a.action),
        format!("{:?}", b.action),
    );
    cmp(
        "needs",
        format!("{:?}", needs(wa, a)),
        format!("{:?}", needs(wb, b)),
    );
    cmp("if", format!("{:?}", a.when), format!("{:?}", b.when));
    cmp(
        "timeout",
        format!("{:?}", a.timeout),
        format!("{:?}", b.timeout),
    );
    cmp("retry", format!("{:?}", a.retry), format!("{:?}", b.retry));
    cmp(
        "breaker",
        format!("{:?}", a.breaker),
        format!("{:?}", b.breaker),
    );
    cmp(
        "on_failure",
        format!("{:?}", a.on_failure),
        format!("{:?}", b.on_failure),
    );
    cmp(
        "fallback",
        format!("{:?}", a.fallback),
        format!("{:?}", b.fallback),
    );
    cmp(
        "priority",
        format!("{:?}", a.priority),
        format!("{:?}", b.priority),
    );
    cmp("env", format!("{:?}", a.env), format!("{:?}", b.env));
    cmp("cwd", format!("{:?}", a.cwd), format!("{:?}", b.cwd));
    cmp("shell", format!("{:?}", a.shell), format!("{:?}", b.shell));
    cmp(
        "kill_grace",
        format!("{:?}", a.kill_grace),
        format!("{:?}", b.kill_grace),
    );
    cmp(
        "output",
        format!("{:?}", a.output),
        format!("{:?}", b.output),
    );
    out
}

fn top_changes(a: &Workflow, b: &Workflow) -> Vec<String> {
    let mut top = Vec::new();
    let mut cmp = |key: &str, x: String, y: String| {
        if x != y {
            top.push(key.to_string());
        }
    };
    cmp(
        "description",
        format!("{:?}", a.description),
        format!("{:?}", b.description),
    );
    cmp(
        "concurrency",
        format!("{:?}", a.concurrency),
        format!("{:?}", b.concurrency),
    );
    cmp(
        "timeout",
        format!("{:?}", a.timeout),
        format!("{:?}", b.timeout),
    );
    cmp("env", format!("{:?}", a.env), format!("{:?}", b.env));
    cmp("vars", format!("{:?}", a.vars), format!("{:?}", b.vars));
    cmp(
        "breakers",
        format!("{:?}", a.breakers),
        format!("{:?}", b.breakers),
    );
    top
}

/// `statuses[i]`: the status word and bucket of `old.steps[i]`.
pub(crate) fn plan(
    run: &str,
    revision: u32,
    old: &Workflow,
    statuses: &[(&'static str, Standing)],
    ask: &EditAsk,
    vars: &BTreeMap<String, String>,
) -> Checked {
    let mut plan = Plan {
        run: run.to_string(),
        revision,
        ..Plan::default()
    };
    let mut diff = EditDiff::default();
    let new = match load_revision(&ask.source, &ask.file, vars) {
        Ok(wf) => wf,
        Err(e) => {
            plan.diagnostics = e.lines().map(str::to_string).collect();
            return Checked {
                plan,
                wf: None,
                diff,
            };
        }
    };
    let mut errors = Vec::new();
    let at = |s: &Step| format!("{}:{}:3", ask.file, s.line);
    if new.name != old.name {
        errors.push(format!(
            "{}:1:1: error: the workflow's name cannot change (`{}` to `{}`)",
            ask.file, old.name, new.name
        ));
    }
    for r in &ask.rerun {
        match old.step_index(r).map(|i| statuses[i].1) {
            Some(Standing::Started | Standing::Finished) if new.step_index(r).is_some() => {}
            _ => errors.push(format!(
                "{}:1:1: error: --rerun `{r}`: only a started or finished step of the run that the file keeps runs again",
                ask.file
            )),
        }
    }
    for (j, s) in new.steps.iter().enumerate() {
        let _ = j;
        let Some(i) = old.step_index(&s.id) else {
            diff.added.push(s.id.clone());
            plan.steps.push(line('+', &s.id, "new", Vec::new(), ""));
            continue;
        };
        let (status, standing) = statuses[i];
        let fields = changed_fields(old, &old.steps[i], &new, s);
        let rerun = ask.rerun.contains(&s.id);
        if rerun {
            diff.rerun.push(s.id.clone());
        }
        if fields.is_empty() {
            plan.steps.push(line(
                '=',
                &s.id,
                status,
                fields,
                if rerun { "rerun" } else { "" },
            ));
            continue;
        }
        if standing != Standing::Unstarted && !rerun {
            errors.push(format!(
                "{}: error: step `{}` is {status}: its {} cannot change; to run it again with the new definition, add `--rerun {}`",
                at(s),
                s.id,
                fields.join(", "),
                s.id
            ));
        }
        diff.changed.insert(s.id.clone(), fields.clone());
        plan.steps.push(line(
            '~',
            &s.id,
            status,
            fields,
            if rerun { "rerun" } else { "" },
        ));
    }
    for (i, s) in old.steps.iter().enumerate() {
        if new.step_index(&s.id).is_some() {
            continue;
        }
        let (status, standing) = statuses[i];
        if standing != Standing::Unstarted {
            errors.push(format!(
                "{}:1:1: error: step `{}` is {status}: a started or finished step cannot be removed",
                ask.file, s.id
            ));
        }
        diff.removed.push(s.id.clone());
        plan.steps.push(line('-', &s.id, status, Vec::new(), ""));
    }
    plan.top = top_changes(old, &new);
    let ok = errors.is_empty();
    plan.diagnostics = errors;
    Checked {
        plan,
        wf: ok.then_some(new),
        diff,
    }
}

fn line(mark: char, step: &str, status: &str, fields: Vec<String>, note: &str) -> PlanStep {
    PlanStep {
        mark,
        step: step.to_string(),
        status: status.to_string(),
        fields,
        note: note.to_string(),
    }
}
