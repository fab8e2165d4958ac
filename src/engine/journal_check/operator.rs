//! The operator's changes to a run as the journal checker follows them
//! (`dag_modified`): a retry starts a failed step (and the steps skipped
//! for it or cancelled) over, or hurries one backing off; a skip or cancel
//! is journaled before the step ends by it.

use super::Checker;
use super::step::{End, St, Stop};
use crate::engine::event::{DagAction, SkipReason};

impl Checker<'_> {
    /// `retry` of a finished run, just after its resumed `run_started`:
    /// every step had ended or stopped with the run, and any of them but
    /// one an operator skipped may start over.
    pub(super) fn finished_retry(&mut self, ids: &[String]) -> Result<(), String> {
        if ids.is_empty() {
            return Err("dag_modified that names no step".into());
        }
        for id in ids {
            let i = self
                .wf
                .step_index(id)
                .ok_or_else(|| format!("dag_modified names `{id}`, not in the workflow"))?;
            let s = &mut self.steps[i];
            if s.st == St::Done(End::Skipped(SkipReason::Operator)) {
                return Err(format!("a retry of `{id}`, which the operator had skipped"));
            }
            s.reset();
        }
        Ok(())
    }

    pub(super) fn dag_modified(&mut self, action: DagAction, ids: &[String]) -> Result<(), String> {
        let mut at = Vec::with_capacity(ids.len());
        for id in ids {
            match self.wf.step_index(id) {
                Some(i) => at.push(i),
                None => return Err(format!("dag_modified names `{id}`, not in the workflow")),
            }
        }
        let (&first, rest) = at.split_first().ok_or("dag_modified that names no step")?;
        let name = |i: usize| self.wf.steps[i].id.clone();
        match action {
            DagAction::Retry => {
                if self.cancelling {
                    return Err("a retry while the run was stopping".into());
                }
                let s = &mut self.steps[first];
                match (s.st, s.halted) {
                    (St::Backoff(f), false) if rest.is_empty() => s.st = St::Queued(f + 1),
                    (St::Done(End::Failed { .. } | End::Cancelled), false) => s.reset(),
                    _ => {
                        return Err(format!(
                            "a retry of `{}`, which is {}",
                            name(first),
                            s.word()
                        ));
                    }
                }
                // With it, its dependents skipped for it or cancelled, as a
                // finished run's retry resets them.
                for &r in rest {
                    let s = &mut self.steps[r];
                    match s.st {
                        St::Done(
                            End::Skipped(SkipReason::UpstreamFailed | SkipReason::FailFast)
                            | End::Cancelled,
                        ) if !s.halted => s.reset(),
                        _ => {
                            return Err(format!(
                                "a retry resets `{}`, which was neither skipped for a failed need nor cancelled",
                                name(r)
                            ));
                        }
                    }
                }
            }
            DagAction::Edit => unreachable_edit()?,
            DagAction::Skip | DagAction::Cancel => {
                if !rest.is_empty() {
                    return Err("dag_modified skip or cancel of more than one step".into());
                }
                let s = &mut self.steps[first];
                if s.ended() {
                    return Err(format!(
                        "a skip or cancel of `{}`, which had ended",
                        name(first)
                    ));
                }
                s.stop = match (action, s.stop) {
                    (DagAction::Skip, _) => Some(Stop::Skip),
                    (_, Some(stop)) => Some(stop),
                    _ => Some(Stop::Cancel),
                };
            }
        }
        Ok(())
    }
}

/// An edit is checked by `edit.rs`, never here.
fn unreachable_edit() -> Result<(), String> {
    Err("an edit without its revision".into())
}
