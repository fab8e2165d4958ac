//! Planning an edit: the edited file loaded as the run loads its workflow,
//! then matched step by step (by id, compared by the fingerprint of the
//! resolved definition, `workflow::fingerprint`) against the run as it
//! stands, with every error and warning at once, each `FILE:LINE:COL`
//! against the edited file. Pure: the scheduler hands in the run's state
//! and applies what comes back.

use std::collections::BTreeMap;

use super::{EditAsk, Plan, PlanStep};
use crate::engine::event::EditDiff;
use crate::workflow::fingerprint;
use crate::workflow::{Step, Workflow};

/// How a step of the run stands, for an edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Pending, or ready but not given a slot: anything may change.
    Unstarted,
    /// Running, backing off, or waiting on a person.
    Started,
    /// Succeeded, failed, skipped or cancelled.
    Finished,
}

/// A plan, and what applying it takes.
pub(crate) struct Checked {
    /// Always filled; its diagnostics say whether it may apply.
    pub plan: Plan,
    /// The edited workflow, when no error stops it.
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

/// Where things are in the edited file, for the diagnostics.
struct Place<'a> {
    file: &'a str,
    lines: Vec<&'a str>,
}

impl Place<'_> {
    /// `FILE:LINE:COL` of step `s`'s id (its key in `steps:`).
    fn step(&self, s: &Step) -> String {
        let text = self
            .lines
            .get(s.line.saturating_sub(1) as usize)
            .copied()
            .unwrap_or("");
        let col = text.find(s.id.as_str()).map_or(1, |c| c + 1);
        format!("{}:{}:{col}", self.file, s.line)
    }

    /// `FILE:LINE:COL` of the `steps:` key, for what the file lacks.
    fn steps(&self) -> String {
        let line = self
            .lines
            .iter()
            .position(|l| l.starts_with("steps:"))
            .map_or(1, |i| i + 1);
        format!("{}:{line}:1", self.file)
    }
}

/// How a step's status reads after "step `x` ...".
fn standing_words(status: &str, standing: Standing) -> String {
    match standing {
        Standing::Finished => format!("has ended ({status})"),
        _ => format!("is {status}"),
    }
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
    let new = match load_revision(&ask.source, &ask.file, vars) {
        Ok(wf) => wf,
        Err(e) => {
            plan.diagnostics = e.lines().map(|l| removed_need(l, old)).collect();
            return Checked {
                plan,
                wf: None,
                diff: EditDiff::default(),
            };
        }
    };
    let place = Place {
        file: &ask.file,
        lines: ask.source.lines().collect(),
    };
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    if new.name != old.name {
        errors.push(format!(
            "{}:1:1: error: the workflow's name cannot change (`{}` to `{}`): it is part of the run's id",
            ask.file, old.name, new.name
        ));
    }
    check_reruns(old, &new, ask, &mut errors);
    let status_of = |id: &str| old.step_index(id).map(|i| statuses[i]);
    let rerun = |id: &str| ask.rerun.iter().any(|r| r == id);
    let mut diff = EditDiff::default();
    for s in &new.steps {
        let Some(i) = old.step_index(&s.id) else {
            diff.added.push(s.id.clone());
            let note = readiness(&new, s, &status_of, &rerun);
            plan.steps.push(step('+', &s.id, "new", Vec::new(), note));
            skipped_at_once(&new, s, &status_of, &rerun, &place, &mut warnings);
            continue;
        };
        let (status, standing) = statuses[i];
        let fields = fingerprint::changed(old, &old.steps[i], &new, s);
        let again = rerun(&s.id) && standing != Standing::Unstarted;
        if !fields.is_empty() {
            diff.changed
                .insert(s.id.clone(), fields.iter().map(|f| f.to_string()).collect());
        }
        if again {
            diff.rerun.push(s.id.clone());
        }
        let note = match (standing, fields.is_empty(), again) {
            (_, _, true) => "runs again".to_string(),
            (Standing::Unstarted, false, _) => {
                skipped_at_once(&new, s, &status_of, &rerun, &place, &mut warnings);
                readiness(&new, s, &status_of, &rerun)
            }
            (_, false, false) => {
                errors.push(format!(
                    "{}: error: step `{}` {}; its definition cannot change (add --rerun {})",
                    place.step(s),
                    s.id,
                    standing_words(status, standing),
                    s.id
                ));
                "refused".to_string()
            }
            _ => String::new(),
        };
        let mark = if fields.is_empty() { '=' } else { '~' };
        let shown = fields.iter().map(|f| f.to_string()).collect();
        plan.steps.push(step(mark, &s.id, status, shown, note));
    }
    for (i, s) in old.steps.iter().enumerate() {
        if new.step_index(&s.id).is_some() {
            continue;
        }
        let (status, standing) = statuses[i];
        if standing != Standing::Unstarted {
            errors.push(format!(
                "{}: error: step `{}` {}; it cannot be removed{}",
                place.steps(),
                s.id,
                standing_words(status, standing),
                match standing {
                    Standing::Started => " (skip or cancel it first)",
                    _ => "",
                }
            ));
        }
        diff.removed.push(s.id.clone());
        let at = plan.steps.len().min(i);
        plan.steps
            .insert(at, step('-', &s.id, status, Vec::new(), "removed".into()));
    }
    plan.top = fingerprint::top_changed(old, &new)
        .into_iter()
        .map(str::to_string)
        .collect();
    for key in ["vars", "env"] {
        if plan.top.iter().any(|t| t == key) {
            warnings.push(format!(
                "{}:1:1: warning: the workflow's `{key}` changed: steps that start from now on use the new values",
                ask.file
            ));
        }
    }
    plan.diagnostics = errors;
    plan.diagnostics.append(&mut warnings);
    let wf = (!plan.refused()).then_some(new);
    Checked { plan, wf, diff }
}

/// Every `--rerun` names a started or finished step the edited file keeps.
fn check_reruns(old: &Workflow, new: &Workflow, ask: &EditAsk, errors: &mut Vec<String>) {
    for r in &ask.rerun {
        let why = match (old.step_index(r), new.step_index(r)) {
            (None, _) => {
                let hint =
                    crate::workflow::diag::did_you_mean(r, old.steps.iter().map(|s| s.id.as_str()));
                format!("--rerun `{r}`: no step `{r}` in the run{hint}")
            }
            (Some(_), None) => format!("--rerun `{r}`: the edited file removes it"),
            // Not started yet: it runs with its new definition anyway.
            _ => continue,
        };
        errors.push(format!("{}:1:1: error: {why}", ask.file));
    }
}

/// A loader's "needs unknown step" for a step the run has: the edit removes it.
fn removed_need(line: &str, old: &Workflow) -> String {
    let Some(at) = line.find("needs unknown step `") else {
        return line.to_string();
    };
    let rest = &line[at + "needs unknown step `".len()..];
    let Some(end) = rest.find('`') else {
        return line.to_string();
    };
    let need = &rest[..end];
    if old.step_index(need).is_none() {
        return line.to_string();
    }
    format!("{}needs `{need}`, which this edit removes", &line[..at])
}

/// What happens next to a step not started: ready at once, or waits.
fn readiness(
    new: &Workflow,
    s: &Step,
    status_of: &dyn Fn(&str) -> Option<(&'static str, Standing)>,
    rerun: &dyn Fn(&str) -> bool,
) -> String {
    let waiting: Vec<&str> = s
        .needs
        .iter()
        .map(|&n| new.steps[n].id.as_str())
        .filter(|id| rerun(id) || !matches!(status_of(id), Some(("succeeded", _))))
        .collect();
    match waiting.as_slice() {
        [] => "ready at once".to_string(),
        [one] => format!("after {one}"),
        [first, rest @ ..] => format!("after {first} and {} more", rest.len()),
    }
}

/// A warning when a need of step `s` failed or was skipped, so `s` will be
/// skipped at once.
fn skipped_at_once(
    new: &Workflow,
    s: &Step,
    status_of: &dyn Fn(&str) -> Option<(&'static str, Standing)>,
    rerun: &dyn Fn(&str) -> bool,
    place: &Place,
    warnings: &mut Vec<String>,
) {
    if s.when.is_some() {
        return;
    }
    for &n in &s.needs {
        let id = new.steps[n].id.as_str();
        if new.steps[n].on_failure == crate::workflow::OnFailure::Continue {
            continue;
        }
        if let Some((word @ ("failed" | "skipped" | "cancelled"), Standing::Finished)) =
            status_of(id)
            && !rerun(id)
        {
            warnings.push(format!(
                "{}: warning: `{}` will be skipped at once: it needs `{id}`, which {}",
                place.step(s),
                s.id,
                match word {
                    "failed" => "failed",
                    "skipped" => "was skipped",
                    _ => "was cancelled",
                }
            ));
            return;
        }
    }
}

fn step(mark: char, id: &str, status: &str, fields: Vec<String>, note: String) -> PlanStep {
    PlanStep {
        mark,
        step: id.to_string(),
        status: status.to_string(),
        fields,
        note,
    }
}

#[cfg(test)]
mod tests;
