//! Retrying a finished run (`signalbox retry`): the same run goes on, in
//! its folder and journal, with some of its ended steps run again.
//!
//! It is a resume (see `resume.rs`) of a run that failed or was cancelled,
//! with a plan decided before anything runs: the named steps (by default
//! every failed and cancelled one) start over from attempt 1, and so do
//! their dependents skipped for them (`upstream_failed`) or cancelled;
//! `--downstream` adds their descendants that ended otherwise, so the
//! succeeded ones run again on the new results. Once the resumed
//! `run_started` is journaled, one `dag_modified` (`action: retry`) names
//! every step reset, in file order; a resume of the retried run replays that
//! event the same way (`Scheduler::restore`). The breakers those steps name
//! are closed with it (see `breaker_resume`).

use super::event::{By, DagAction, Event, RunStatus, SkipReason};
use super::resume::Open;
use super::scheduler::Scheduler;
use super::state::{Final, Phase};
use crate::workflow::diag::did_you_mean;

/// What the operator asked to run again.
#[derive(Debug, Clone)]
pub struct RetryAsk {
    /// Step ids; none: every failed and cancelled step.
    pub steps: Vec<String>,
    /// Also run again the named steps' descendants that had ended.
    pub downstream: bool,
    /// How it was asked: `flag` from the command line.
    pub by: By,
    /// Who asked, when not the account running the retry.
    pub user: Option<String>,
}

/// The steps a retry resets, decided before the run goes on.
#[derive(Debug, Clone)]
pub(super) struct Retrying {
    /// Step indices in file order.
    steps: Vec<usize>,
    by: By,
    user: Option<String>,
}

/// The refusal for a run another process drives: a live run's steps are
/// retried in it, not beside it.
pub(super) fn live_message(locked: &str) -> String {
    let id = locked_id(locked);
    format!(
        "run {id} is live: retry its steps in it, with `R` on its screen (`signalbox attach {id}`) or the socket's `retry` command"
    )
}

/// The run id in the lock's refusal (`run ID is being driven by ...`).
pub(super) fn locked_id(locked: &str) -> &str {
    locked
        .strip_prefix("run ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("")
}

/// How a step stands for a retry, from the restored state.
fn standing(phase: &Phase, open: &Open) -> &'static str {
    match phase {
        Phase::Done(_) => phase.status_name(),
        // Stopped with the whole run: the journal says it was cancelled.
        _ if open.stopped => "cancelled",
        _ => "pending",
    }
}

impl Scheduler {
    /// Checks the ask against the restored run and decides what starts
    /// over; the message says why not (the run is not over, succeeded with
    /// no step named, or a named step is unknown or never ran).
    pub(super) fn plan_retry(
        &self,
        status: Option<RunStatus>,
        open: &[Open],
        ask: &RetryAsk,
    ) -> Result<Retrying, String> {
        let id = &self.dir.id;
        match status {
            None => {
                return Err(format!(
                    "run {id} was interrupted, not finished: `signalbox resume {id}` carries it on; retry what fails then"
                ));
            }
            Some(RunStatus::Succeeded) if ask.steps.is_empty() => {
                return Err(format!(
                    "run {id} succeeded; there is nothing to retry (name the steps to run again: `signalbox retry {id} STEP`)"
                ));
            }
            Some(_) => {}
        }
        let mut named = Vec::new();
        for step in &ask.steps {
            // A matrix step's id: its failed and cancelled instances.
            if self.wf.step_index(step).is_none()
                && let Some(g) = self.wf.group_index(step)
            {
                named.extend(self.group_to_retry(g, open)?);
                continue;
            }
            let i = self.wf.step_index(step).ok_or_else(|| {
                let hint = did_you_mean(
                    step,
                    (self.wf.steps.iter().map(|s| s.id.as_str()))
                        .chain(self.wf.groups.iter().map(|g| g.id.as_str())),
                );
                format!("no step `{step}` in workflow `{}`{hint}", self.wf.name)
            })?;
            match standing(&self.steps[i].phase, &open[i]) {
                "succeeded" | "failed" | "cancelled" => named.push(i),
                word => {
                    return Err(format!(
                        "step `{step}` never ran (it is {word}); retry runs again a step that succeeded, failed or was cancelled"
                    ));
                }
            }
        }
        if ask.steps.is_empty() {
            named = (0..self.steps.len())
                .filter(|&i| {
                    matches!(
                        standing(&self.steps[i].phase, &open[i]),
                        "failed" | "cancelled"
                    )
                })
                .collect();
        }
        if named.is_empty() {
            return Err(format!(
                "run {id} has no failed or cancelled step; there is nothing to retry"
            ));
        }
        // A `fail_fast` instance starts over with the siblings it stopped.
        let siblings: Vec<usize> = named
            .iter()
            .flat_map(|&i| self.stopped_siblings(i))
            .collect();
        named.extend(siblings);
        let mut reset = vec![false; self.steps.len()];
        self.reset_with_dependents(&named, open, ask.downstream, &mut reset);
        Ok(Retrying {
            steps: (0..reset.len()).filter(|&i| reset[i]).collect(),
            by: ask.by,
            user: ask.user.clone(),
        })
    }

    /// The failed and cancelled instances of group `g`; the message says
    /// what to name instead when there are none.
    fn group_to_retry(&self, g: usize, open: &[Open]) -> Result<Vec<usize>, String> {
        let group = &self.wf.groups[g];
        let again: Vec<usize> = (group.members.iter().copied())
            .filter(|&m| {
                matches!(
                    standing(&self.steps[m].phase, &open[m]),
                    "failed" | "cancelled"
                )
            })
            .collect();
        if again.is_empty() {
            let one = group
                .members
                .first()
                .map_or("", |&m| self.wf.steps[m].id.as_str());
            return Err(format!(
                "no instance of `{}` failed or was cancelled; name the instances to run again (e.g. `{one}`)",
                group.id
            ));
        }
        Ok(again)
    }

    /// Marks `named` and, through the graph, every dependent that must run
    /// again with them: skipped for a failed need or cancelled, and with
    /// `downstream` whatever else ended but an operator's skip. A live
    /// run's retry (`control`) asks the same, with no `open` (nothing of
    /// it stopped with the run).
    pub(super) fn reset_with_dependents(
        &self,
        named: &[usize],
        open: &[Open],
        downstream: bool,
        reset: &mut [bool],
    ) {
        let mut work = named.to_vec();
        for &i in named {
            reset[i] = true;
        }
        while let Some(i) = work.pop() {
            for &d in &self.dependents[i] {
                let again = match &self.steps[d].phase {
                    Phase::Done(Final::Skipped(SkipReason::UpstreamFailed) | Final::Cancelled) => {
                        true
                    }
                    Phase::Done(Final::Skipped(SkipReason::Operator)) => false,
                    Phase::Done(_) => downstream,
                    _ => open.get(d).is_some_and(|o| o.stopped),
                };
                if again && !reset[d] {
                    reset[d] = true;
                    work.push(d);
                }
            }
        }
    }

    /// In a retried run, once its `run_started` is journaled: the
    /// `dag_modified` event, then each step it names reset.
    pub(super) fn apply_retry(&mut self, open: &mut [Open]) {
        let Some(plan) = self.retrying.take() else {
            return;
        };
        let user = self.who(plan.user.clone(), plan.by);
        let retried_by = (plan.by, user.clone());
        self.emit(Event::DagModified {
            action: DagAction::Retry,
            steps: plan
                .steps
                .iter()
                .map(|&i| self.wf.steps[i].id.clone())
                .collect(),
            by: plan.by,
            user,
            revision: None,
            sha256: None,
            diff: None,
        });
        for &i in &plan.steps {
            self.retried(i, &mut open[i]);
        }
        self.close_breakers_for_retry(&plan.steps, retried_by.0, retried_by.1);
    }
}
