//! The edit step by step: each step matched by id, compared by its
//! fingerprint, and the live rules of its bucket checked.

use super::places::Places;
use super::{Checked, Found, RunState, Standing};
use crate::engine::edit::PlanStep;
use crate::workflow::diag::did_you_mean;
use crate::workflow::fingerprint::{canonical, changed, of_step};
use crate::workflow::{OnFailure, Workflow};

/// `--rerun` checked: by index of the run's steps, whether it runs again.
pub(super) fn check_rerun(
    rs: &RunState,
    new: &Workflow,
    ids: &[String],
    places: &Places,
    found: &mut Found,
) -> Vec<bool> {
    let mut rerun = vec![false; rs.old.steps.len()];
    for id in ids {
        let flag = format!("--rerun {id}");
        match (rs.old.step_index(id), new.step_index(id)) {
            (None, None) => {
                let hint = did_you_mean(id, rs.old.steps.iter().map(|s| s.id.as_str()));
                found.error(
                    places.top("steps"),
                    format!("`{flag}`: the run has no step `{id}`{hint}"),
                );
            }
            (None, Some(_)) => found.error(
                places.step(id),
                format!("`{flag}`: `{id}` is new in this edit, so it runs without --rerun"),
            ),
            (Some(_), None) => found.error(
                places.top("steps"),
                format!("`{flag}`: this edit removes `{id}`; keep it in the file to run it again"),
            ),
            (Some(i), Some(_)) => match rs.status(i) {
                (status, Standing::Unstarted) => found.error(
                    places.step(id),
                    format!(
                        "`{flag}`: `{id}` is {status} and has not started, so it takes its new definition without --rerun"
                    ),
                ),
                _ => rerun[i] = true,
            },
        }
    }
    rerun
}

/// Every step's line of the plan, its diagnostics and the diff.
pub(super) fn compare(
    rs: &RunState,
    new: &Workflow,
    rerun: &[bool],
    places: &Places,
    found: &mut Found,
    out: &mut Checked,
) {
    let old = rs.old;
    let again = runs_again(rs, new, rerun);
    // By index of the run's steps: whether it runs again after this edit.
    let mut back = rerun.to_vec();
    for (j, a) in again.iter().enumerate() {
        if let (Some(_), Some(i)) = (a, old.step_index(&new.steps[j].id)) {
            back[i] = true;
        }
    }
    // (new index the line stands before or at, 1 for a step of the edited
    // file and 0 for a removed one, the removed one's index in the run).
    let mut lines: Vec<((usize, u8, usize), PlanStep)> = Vec::with_capacity(new.steps.len());
    let mut kept = vec![None; old.steps.len()];
    for (j, step) in new.steps.iter().enumerate() {
        let line = match old.step_index(&step.id) {
            None => added(rs, new, j, &back, places, found, out),
            Some(i) => {
                kept[i] = Some(j);
                let why = if rerun[i] {
                    Some("rerun".to_string())
                } else {
                    again[j].map(|t| format!("runs again after {}", new.steps[t].id))
                };
                changed_step(rs, new, (i, j), why, &back, places, found, out)
            }
        };
        lines.push(((j, 1, 0), line));
    }
    let mut next = usize::MAX;
    for i in (0..old.steps.len()).rev() {
        match kept[i] {
            Some(j) => next = j,
            None => lines.push(((next, 0, i), removed(rs, i, places, found, out))),
        }
    }
    lines.sort_unstable_by_key(|(at, _)| *at);
    out.plan.steps = lines.into_iter().map(|(_, line)| line).collect();
}

fn added(
    rs: &RunState,
    new: &Workflow,
    j: usize,
    back: &[bool],
    places: &Places,
    found: &mut Found,
    out: &mut Checked,
) -> PlanStep {
    let step = &new.steps[j];
    out.diff.added.push(step.id.clone());
    let ready = step.needs.iter().all(|&n| {
        rs.old
            .step_index(&new.steps[n].id)
            .is_some_and(|i| rs.status(i).0 == "succeeded" && !back[i])
    });
    warn_skipped(rs, new, j, back, places, found);
    PlanStep {
        mark: '+',
        step: step.id.clone(),
        status: "new".into(),
        fields: Vec::new(),
        note: if ready {
            "ready at once".into()
        } else {
            String::new()
        },
    }
}

/// A step of the run still in the file: kept, changed, or refused.
#[allow(clippy::too_many_arguments)]
fn changed_step(
    rs: &RunState,
    new: &Workflow,
    (i, j): (usize, usize),
    again: Option<String>,
    back: &[bool],
    places: &Places,
    found: &mut Found,
    out: &mut Checked,
) -> PlanStep {
    let (old_step, step) = (&rs.old.steps[i], &new.steps[j]);
    // Forms are built only for the steps whose fingerprints differ.
    let fields: Vec<String> = if of_step(rs.old, old_step) == of_step(new, step) {
        Vec::new()
    } else {
        let (a, b) = (canonical(rs.old, old_step), canonical(new, step));
        changed(&a, &b).into_iter().map(str::to_string).collect()
    };
    let (status, standing) = rs.status(i);
    let id = &step.id;
    if again.as_deref() == Some("rerun") {
        out.diff.rerun.push(id.clone());
    }
    match (standing, &again, fields.first()) {
        (_, _, None) => {}
        (Standing::Unstarted, _, Some(_)) => {
            warn_skipped(rs, new, j, back, places, found);
        }
        (_, Some(_), Some(_)) => {}
        (_, None, Some(first)) => found.error(
            places.key(id, first),
            format!(
                "step `{id}` {}; its definition cannot change (add --rerun {id})",
                stands(status)
            ),
        ),
    }
    if !fields.is_empty() {
        out.diff.changed.insert(id.clone(), fields.clone());
    }
    PlanStep {
        mark: if fields.is_empty() { '=' } else { '~' },
        step: id.clone(),
        status: status.to_string(),
        fields,
        note: again.unwrap_or_default(),
    }
}

fn removed(
    rs: &RunState,
    i: usize,
    places: &Places,
    found: &mut Found,
    out: &mut Checked,
) -> PlanStep {
    let id = &rs.old.steps[i].id;
    let (status, standing) = rs.status(i);
    if standing == Standing::Unstarted {
        out.diff.removed.push(id.clone());
    } else {
        found.error(
            places.top("steps"),
            format!("step `{id}` {}; it cannot be removed", stands(status)),
        );
    }
    PlanStep {
        mark: '-',
        step: id.clone(),
        status: status.to_string(),
        fields: Vec::new(),
        note: String::new(),
    }
}

/// `is running`, `has succeeded`, `was skipped`: a status in a sentence.
fn stands(status: &str) -> String {
    match status {
        "succeeded" | "failed" => format!("has {status}"),
        "skipped" | "cancelled" => format!("was {status}"),
        _ => format!("is {status}"),
    }
}

/// Warns when new step `j` would be skipped as soon as the edit applies: a
/// need of it failed (and does not continue on failure), was skipped or
/// cancelled, and does not run again.
fn warn_skipped(
    rs: &RunState,
    new: &Workflow,
    j: usize,
    back: &[bool],
    places: &Places,
    found: &mut Found,
) {
    let step = &new.steps[j];
    for &n in &step.needs {
        let need = &new.steps[n].id;
        let Some(i) = rs.old.step_index(need).filter(|&i| !back[i]) else {
            continue;
        };
        let (status, _) = rs.status(i);
        let dooms = match status {
            "failed" => rs.old.steps[i].on_failure != OnFailure::Continue,
            "skipped" | "cancelled" => true,
            _ => false,
        };
        if dooms {
            found.warning(
                places.key(&step.id, "needs"),
                format!(
                    "`{}` will be skipped at once: it needs `{need}`, which {}",
                    step.id,
                    if status == "failed" {
                        "failed".to_string()
                    } else {
                        format!("was {status}")
                    }
                ),
            );
            return;
        }
    }
}

/// By index of the edited file's steps: the step whose rerun makes it run
/// again, for the run's steps skipped for a failed need or cancelled that
/// depend on a rerun step through such steps (as a retry resets them).
fn runs_again(rs: &RunState, new: &Workflow, rerun: &[bool]) -> Vec<Option<usize>> {
    let mut again = vec![None; new.steps.len()];
    if !rerun.contains(&true) {
        return again;
    }
    let dependents = new.dependents();
    let mut work = Vec::new();
    for (i, _) in rerun.iter().enumerate().filter(|(_, r)| **r) {
        if let Some(j) = new.step_index(&rs.old.steps[i].id) {
            work.push((j, j));
        }
    }
    while let Some((j, cause)) = work.pop() {
        for &d in &dependents[j] {
            let Some(i) = rs.old.step_index(&new.steps[d].id) else {
                continue;
            };
            let stopped = matches!(rs.status(i).0, "skipped" | "cancelled");
            if stopped && !rerun[i] && again[d].is_none() {
                again[d] = Some(cause);
                work.push((d, cause));
            }
        }
    }
    again
}
