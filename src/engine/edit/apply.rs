//! Applying a checked edit to the run's state: the revision written, its
//! `dag_modified` journaled and synced, then the graph changed in memory,
//! in that order, so a crash leaves either an unnamed revision file (never
//! read) or an event whose revision is on disk.
//!
//! Changing the graph moves step indices; every table keyed by index is
//! rebuilt by step id ([`Scheduler::switch_to`]), and a step keeps its
//! slot, which is what its running tasks call it. A resume replays an edit
//! with the same `switch_to`, so a live run and a resumed one agree.

use super::plan::Standing;
use super::{EditAsk, Plan};
use crate::engine::event::{By, DagAction, EditDiff, Event};
use crate::engine::resume::Open;
use crate::engine::scheduler::Scheduler;
use crate::engine::state::{Phase, StepRt, Stop};
use crate::workflow::{Action, Workflow};

/// An edit checked against the run and not yet applied.
pub(crate) struct Pending {
    pub plan: Plan,
    pub wf: Workflow,
    pub diff: EditDiff,
    /// The revision's bytes: the file as the operator gave it.
    pub source: String,
    pub by: By,
    /// Who sent it, when it said.
    pub sender: Option<String>,
}

/// The ids `dag_modified` names: added, removed, changed, then rerun,
/// each once.
pub(crate) fn named(diff: &EditDiff) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let all = (diff.added.iter())
        .chain(&diff.removed)
        .chain(diff.changed.keys())
        .chain(&diff.rerun);
    for id in all {
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

impl Scheduler {
    /// Each step's status word and bucket, as the planner takes them. For
    /// a run no process drives (`open` given), a step that had not ended
    /// counts as unstarted, whatever it was doing when the run stopped.
    pub(crate) fn edit_statuses(&self, open: Option<&[Open]>) -> Vec<(&'static str, Standing)> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, rt)| match (&rt.phase, open) {
                (Phase::Done(_), _) => (rt.phase.status_name(), Standing::Finished),
                (_, Some(open)) if open[i].stopped => ("cancelled", Standing::Unstarted),
                (_, Some(_)) => ("pending", Standing::Unstarted),
                (Phase::Pending | Phase::Queued, None) => {
                    (rt.phase.status_name(), Standing::Unstarted)
                }
                (_, None) => (rt.phase.status_name(), Standing::Started),
            })
            .collect()
    }

    /// Plans `ask` against the run as it stands.
    pub(crate) fn check_edit(
        &self,
        ask: &EditAsk,
        open: Option<&[Open]>,
        vars: &std::collections::BTreeMap<String, String>,
    ) -> super::plan::Checked {
        let statuses = self.edit_statuses(open);
        super::plan::plan(
            &self.dir.id,
            self.revision + 1,
            &self.wf,
            &statuses,
            ask,
            vars,
        )
    }

    /// Writes revision N, journals its `dag_modified` and makes it durable,
    /// then applies it. A revision that cannot be written changes nothing
    /// (the message says why); a journal that cannot be written stops the
    /// run, as any journal failure does.
    pub(crate) fn apply_edit(
        &mut self,
        p: Pending,
        open: Option<&mut Vec<Open>>,
    ) -> Result<Plan, String> {
        self.secrets_for(&p.wf)?;
        let n = self.revision + 1;
        let rel = crate::engine::run_dir::revision_rel(n);
        self.dir
            .write_revision(n, p.source.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", self.dir.path.join(&rel).display()))?;
        let user = self.who(p.sender, p.by);
        self.emit(Event::DagModified {
            action: DagAction::Edit,
            steps: named(&p.diff),
            by: p.by,
            user,
            revision: Some(n),
            sha256: Some(crate::engine::run_dir::sha256_hex(p.source.as_bytes())),
            diff: Some(Box::new(p.diff.clone())),
        });
        // Durable before anything acts on it: a resume must know the graph
        // any later event is about.
        if let Err(e) = self.bus.sync() {
            self.journal_failed(&e);
        }
        if let Some(e) = &self.journal_error {
            return Err(e.clone());
        }
        self.revision = n;
        let mut none = Vec::new();
        let live = open.is_none();
        let open = open.unwrap_or(&mut none);
        self.switch_to(p.wf, open);
        // A run no process drove carries on from its restored state, where
        // a step stopped with the run counts (as for a retry).
        self.restart_edited(&p.diff, open, live, !live);
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        self.limit = (self.options.jobs.or(self.wf.concurrency))
            .unwrap_or(cpus)
            .max(1);
        if live {
            self.settle();
        }
        let mut plan = p.plan;
        plan.revision = n;
        plan.applied = true;
        Ok(plan)
    }

    /// The run goes on with `wf`: each kept step keeps its state and slot
    /// (found by id), an added one starts pending in a new slot, a removed
    /// one's slot is left empty. `open`, when not empty, is re-indexed too.
    pub(crate) fn switch_to(&mut self, wf: Workflow, open: &mut Vec<Open>) {
        self.unpark_all();
        let old = std::mem::replace(&mut self.wf, wf);
        let mut rts: Vec<Option<StepRt>> = std::mem::take(&mut self.steps)
            .into_iter()
            .map(Some)
            .collect();
        let mut opens: Vec<Option<Open>> = std::mem::take(open).into_iter().map(Some).collect();
        let had_open = !opens.is_empty();
        let old_slots = std::mem::take(&mut self.slots);
        for (i, s) in old.steps.iter().enumerate() {
            if self.wf.step_index(&s.id).is_none() {
                self.at_slot[old_slots[i]] = None;
            }
        }
        for (j, s) in self.wf.steps.iter().enumerate() {
            let was = old.step_index(&s.id);
            let slot = match was {
                Some(i) => old_slots[i],
                None => {
                    self.at_slot.push(None);
                    self.at_slot.len() - 1
                }
            };
            self.at_slot[slot] = Some(j);
            self.slots.push(slot);
            self.steps
                .push(was.and_then(|i| rts[i].take()).unwrap_or_default());
            if had_open {
                open.push(was.and_then(|i| opens[i].take()).unwrap_or_default());
            }
        }
        let moved = |i: usize| self.wf.step_index(&old.steps[i].id);
        self.resolved_by = std::mem::take(&mut self.resolved_by)
            .into_iter()
            .filter_map(|(i, who)| Some((moved(i)?, who)))
            .collect();
        let mut heap = std::mem::take(&mut self.ready).into_vec();
        heap.append(&mut self.ready_remote.take_all());
        let heap: Vec<_> = heap
            .into_iter()
            .filter_map(|mut r| {
                let j = moved(r.index.0)?;
                r.index = std::cmp::Reverse(j);
                r.priority = self.wf.steps[j].priority;
                Some(r)
            })
            .collect();
        for r in heap {
            self.push_ready(r);
        }
        self.dependents = self.wf.dependents();
        self.asks = (self.wf.steps.iter().enumerate())
            .filter(|(_, s)| matches!(s.action, Action::Ask(_)))
            .map(|(i, _)| i)
            .collect();
        for (name, policy) in &self.wf.breakers {
            self.breakers
                .entry(name.clone())
                .or_insert_with(|| crate::engine::breaker::Breaker::new(policy.clone()));
        }
        self.recount_groups();
    }

    /// After [`switch_to`](Self::switch_to): a changed step that had not
    /// started goes back to pending, and each `--rerun` step starts over
    /// from attempt 1 (a running one once it has stopped), with its
    /// dependents skipped for it or cancelled (or, with `stopped_counts`,
    /// stopped with the run before this resume).
    pub(crate) fn restart_edited(
        &mut self,
        diff: &EditDiff,
        open: &mut [Open],
        live: bool,
        stopped_counts: bool,
    ) {
        for id in diff.changed.keys() {
            let Some(i) = self.wf.step_index(id) else {
                continue;
            };
            let unstarted = matches!(self.steps[i].phase, Phase::Pending | Phase::Queued);
            let ended = matches!(self.steps[i].phase, Phase::Done(_));
            if !diff.rerun.contains(id) && !ended && (unstarted || !live) {
                reset(&mut self.steps[i]);
                if let Some(o) = open.get_mut(i) {
                    *o = Open::default();
                }
            }
        }
        self.ready
            .retain(|r| matches!(self.steps[r.index.0].phase, Phase::Queued));
        self.ready_remote
            .retain(|r| matches!(self.steps[r.index.0].phase, Phase::Queued));
        let named: Vec<usize> = (diff.rerun.iter())
            .filter_map(|id| self.wf.step_index(id))
            .collect();
        let all_default;
        let opens: &[Open] = if stopped_counts && open.len() == self.steps.len() {
            open
        } else {
            all_default = vec![Open::default(); self.steps.len()];
            &all_default
        };
        let mut again = vec![false; self.steps.len()];
        self.reset_with_dependents(&named, opens, false, &mut again);
        for (i, again) in again.into_iter().enumerate() {
            if again {
                self.rerun(i);
                if let Some(o) = open.get_mut(i) {
                    *o = Open::default();
                }
            }
        }
    }

    /// One step an edit runs again: a running one is stopped first (see
    /// [`rerun_stopped`](Self::rerun_stopped)); any other is reset now.
    fn rerun(&mut self, i: usize) {
        match &mut self.steps[i].phase {
            Phase::Running { stop, cancel, .. } => {
                *stop = Some(Stop::Rerun);
                if let Some(c) = cancel.take() {
                    let _ = c.send(());
                }
            }
            Phase::Waiting { wait, .. } => {
                let wait = *wait;
                self.waits.remove(wait);
                self.resolved_by.remove(&i);
                reset(&mut self.steps[i]);
            }
            _ => reset(&mut self.steps[i]),
        }
    }

    /// A `--rerun` step's old attempt has stopped: journaled as cancelled
    /// for the rerun, then it starts over with its new definition.
    pub(crate) fn rerun_stopped(&mut self, i: usize) {
        let step = self.wf.steps[i].id.clone();
        self.emit(Event::StepCancelled {
            step,
            reason: RERUN.into(),
            cause: None,
        });
        reset(&mut self.steps[i]);
        if self.move_on(i) {
            self.move_dependents_on(i);
        }
    }
}

/// The reason a rerun step's old attempt is journaled as cancelled with.
pub(crate) const RERUN: &str = "rerun";

/// Back to pending, from the first attempt, nothing of its last run kept.
fn reset(rt: &mut StepRt) {
    rt.phase = Phase::Pending;
    rt.attempts = 0;
    rt.first_start = None;
    rt.outputs.clear();
    rt.answer = None;
}
