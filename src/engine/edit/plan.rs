//! Planning an edit: the edited file loaded as the run loads its workflow,
//! each step matched by id with the run's and compared by fingerprint, and
//! the live rules checked (SPEC §2 "Edit a run"). Pure: the scheduler calls
//! it with the run as it stands and applies what it returns.

use std::collections::BTreeMap;

mod places;
mod steps;

use places::{At, Places};

use super::{EditAsk, Plan};
use crate::engine::event::EditDiff;
use crate::workflow::{Pos, Workflow, node};

/// How a step of the run stands, for an edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// `pending`, or `ready` without a slot yet: it may change freely.
    Unstarted,
    /// Running, backing off between attempts, or waiting for an operator.
    Started,
    /// Succeeded, failed, skipped or cancelled.
    Finished,
}

/// A planned edit: the plan to show and, when nothing refuses it, the
/// workflow to apply and the diff to journal.
#[derive(Debug)]
pub struct Checked {
    /// Always filled, diagnostics included.
    pub plan: Plan,
    /// Some when it may apply (no error).
    pub wf: Option<Workflow>,
    pub diff: EditDiff,
}

/// Plans `ask` against the run. `statuses[i]`: the status word (`pending`,
/// `running`, `succeeded`, ...) and bucket of `old.steps[i]`. `vars`: the
/// run's `--var` values.
pub fn plan(
    run: &str,
    revision: u32,
    old: &Workflow,
    statuses: &[(&'static str, Standing)],
    ask: &EditAsk,
    vars: &BTreeMap<String, String>,
) -> Checked {
    let mut out = Checked {
        plan: Plan {
            run: run.to_string(),
            revision,
            ..Plan::default()
        },
        wf: None,
        diff: EditDiff::default(),
    };
    let places = Places;
    let mut found = Found::default();
    let new = match load(ask, vars, old) {
        Ok(wf) => wf,
        Err(diagnostics) => {
            out.plan.diagnostics = diagnostics;
            return out;
        }
    };
    if new.name != old.name {
        found.error(
            places.top("name"),
            format!(
                "`name` cannot change (the run is `{}`); an edit keeps the run's name",
                old.name
            ),
        );
    }
    // `defaults` is compared as written; the trees are read only for it.
    let (old_tree, new_tree) = (defaults_tree(&old.source), defaults_tree(&ask.source));
    out.plan.top = places::top_changes(old, &new, old_tree.as_ref(), new_tree.as_ref());
    let run_state = RunState { old, statuses };
    let rerun = steps::check_rerun(&run_state, &new, &ask.rerun, &places, &mut found);
    steps::compare(&run_state, &new, &rerun, &places, &mut found, &mut out);
    out.plan.diagnostics = found.finish(&ask.file, &ask.source);
    if !out.plan.refused() {
        out.wf = Some(new);
    }
    out
}

/// The file's tree, when it may hold `defaults` to compare.
fn defaults_tree(text: &str) -> Option<node::Node<'_>> {
    if text.contains("defaults") {
        node::parse(text).ok()
    } else {
        None
    }
}

/// The run's workflow and how each of its steps stands.
pub(super) struct RunState<'a> {
    pub old: &'a Workflow,
    pub statuses: &'a [(&'static str, Standing)],
}

impl RunState<'_> {
    /// Step `i`'s status word and bucket (pending when the run did not say).
    pub fn status(&self, i: usize) -> (&'static str, Standing) {
        self.statuses
            .get(i)
            .copied()
            .unwrap_or(("pending", Standing::Unstarted))
    }
}

/// The live rules' errors and warnings as they are found.
#[derive(Default)]
pub(super) struct Found {
    errors: Vec<(At, String)>,
    warnings: Vec<(At, String)>,
}

impl Found {
    pub(super) fn error(&mut self, at: At, message: String) {
        self.errors.push((at, message));
    }

    pub(super) fn warning(&mut self, at: At, message: String) {
        self.warnings.push((at, message));
    }

    /// `FILE:LINE:COL: error: ...` lines by position, then the warnings.
    fn finish(self, file: &str, source: &str) -> Vec<String> {
        if self.errors.is_empty() && self.warnings.is_empty() {
            return Vec::new();
        }
        let tree = node::parse(source).ok();
        let index = places::Index::new(tree.as_ref());
        let placed = |list: Vec<(At, String)>| {
            let mut list: Vec<(Pos, String)> = list
                .into_iter()
                .map(|(at, m)| (index.pos(&at), m))
                .collect();
            list.sort();
            list
        };
        let line = |kind: &str, (pos, message): (Pos, String)| {
            format!(
                "{file}:{}:{}: {kind}: {}",
                pos.line,
                pos.col,
                super::one_line(&message)
            )
        };
        let mut out: Vec<String> = placed(self.errors)
            .into_iter()
            .map(|e| line("error", e))
            .collect();
        out.extend(
            placed(self.warnings)
                .into_iter()
                .map(|w| line("warning", w)),
        );
        out
    }
}

/// The edited text through the whole loader, then the run's `--var`s, as
/// `run` loads a workflow; or every error as the loader prints it, a need
/// of a step this edit removes said as such.
fn load(
    ask: &EditAsk,
    vars: &BTreeMap<String, String>,
    old: &Workflow,
) -> Result<Workflow, Vec<String>> {
    let mut wf = match crate::workflow::load_text(ask.source.clone(), &ask.file) {
        Ok(wf) => wf,
        Err(mut diags) => {
            for d in &mut diags.errors {
                d.message = removed_need(&d.message, old);
            }
            return Err(diags.to_string().lines().map(str::to_string).collect());
        }
    };
    let mut found = Found::default();
    for (name, value) in vars {
        if let Err(e) = wf.set_var(name, value) {
            found.error(
                At::Top("vars"),
                format!(
                    "{e} (the run was started with --var {name}=...; keep `{name}` under `vars`)"
                ),
            );
        }
    }
    if found.errors.is_empty() {
        Ok(wf)
    } else {
        Err(found.finish(&ask.file, &ask.source))
    }
}

/// The loader's "needs unknown step" said as the edit's doing when the
/// step was in the run.
fn removed_need(message: &str, old: &Workflow) -> String {
    let parsed = message.strip_prefix("step `").and_then(|rest| {
        let (id, rest) = rest.split_once("` needs unknown step `")?;
        let (need, _) = rest.split_once('`')?;
        Some((id, need))
    });
    match parsed {
        Some((id, need)) if old.step_index(need).is_some() => {
            format!("`{id}` needs `{need}`, which this edit removes")
        }
        _ => message.to_string(),
    }
}

/// Warns when the edit changes the run's `timeout` to a deadline that has
/// already passed: the deadline is the run's start plus the new value, so
/// the run times out as the edit applies. `elapsed`: how long the run has
/// been going. The scheduler calls it after [`plan`], which has no clock.
pub fn warn_deadline(checked: &mut Checked, file: &str, elapsed: std::time::Duration) {
    let Some(timeout) = checked.wf.as_ref().and_then(|wf| wf.timeout) else {
        return;
    };
    if timeout > elapsed || !checked.plan.top.iter().any(|k| k == "timeout") {
        return;
    }
    let line = checked.wf.as_ref().map_or(1, |wf| {
        wf.source
            .lines()
            .position(|l| l.starts_with("timeout:"))
            .map_or(1, |n| n + 1)
    });
    let fmt = crate::workflow::duration::format;
    checked.plan.diagnostics.push(format!(
        "{file}:{line}:1: warning: the run's new `timeout` of {} has passed (the run has been going for {}): it times out as the edit applies",
        fmt(timeout),
        crate::workflow::duration::whole(elapsed)
    ));
}

/// A revision's text loaded as the run loads its workflow (`--var`s applied).
pub fn load_revision(
    text: &str,
    label: &str,
    vars: &BTreeMap<String, String>,
) -> Result<Workflow, String> {
    let mut wf = crate::workflow::load_text(text.to_string(), label).map_err(|d| d.to_string())?;
    for (name, value) in vars {
        wf.set_var(name, value)
            .map_err(|e| format!("{label}: error: {e}"))?;
    }
    Ok(wf)
}

#[cfg(test)]
mod tests;
