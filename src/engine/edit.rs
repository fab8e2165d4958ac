//! Editing a run (`signalbox edit`): a changed workflow file applied to a
//! live or finished run, all or nothing (SPEC §2 "Edit a run").
//!
//! The scheduler plans the edit against the run's state inside its own
//! loop, so no step starts between the check and the apply: every step is
//! matched by id and compared by the fingerprint of its resolved
//! definition, so comments, key order, whitespace and anchors never count.
//! An applied edit is written to `<run>/revisions/N.yaml` before its
//! `dag_modified` (`action: edit`) is journaled.

use serde::{Deserialize, Serialize};

pub(crate) mod apply;
pub mod plan;
mod render;

pub(crate) use render::one_line;
pub mod revision;

use super::event::{By, Refusal};
use super::scheduler::Scheduler;

/// An edit asked of a run (the socket's `edit` command).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditAsk {
    /// The whole edited workflow file.
    pub source: String,
    /// Its path, as diagnostics name it (`FILE:LINE:COL`).
    pub file: String,
    /// Started or finished steps to run again with their new definition
    /// (a running one is cancelled first).
    #[serde(default)]
    pub rerun: Vec<String>,
    /// Plan only: nothing applies.
    #[serde(default)]
    pub dry_run: bool,
    pub by: By,
    /// Apply only as this revision: the one the operator's plan was made
    /// for. Refused when the run was edited since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
}

/// What an edit does, or would do, to a run: shown before it applies
/// (`--dry-run`, the `y`/`N` question, the screen's dialog) and sent back
/// as the socket's reply to an `edit` command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The run's id.
    pub run: String,
    /// The revision the edit makes (or made) of the run's workflow.
    pub revision: u32,
    /// One line per step of the run and of the edited file: added, removed,
    /// changed and kept, in the edited file's order (removed ones where
    /// they stood).
    pub steps: Vec<PlanStep>,
    /// Top-level keys that changed (`concurrency`, `env`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<String>,
    /// `FILE:LINE:COL: error: ...` and `FILE:LINE:COL: warning: ...`, against
    /// the edited file, errors first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<String>,
    /// Set once the edit is applied (never for a dry run or a refusal).
    #[serde(default)]
    pub applied: bool,
}

/// One step's line of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    /// `+` added, `-` removed, `~` changed, `=` kept.
    pub mark: char,
    pub step: String,
    /// The step's status now (`pending`, `running`, `succeeded`, ...; a new
    /// step's is `new`).
    pub status: String,
    /// For `~`: the keys of the resolved definition that changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Why, or what happens next (`rerun`, `ready at once`, ...); may be empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Plan {
    /// Whether the plan holds an error: then nothing applies.
    pub fn refused(&self) -> bool {
        self.diagnostics.iter().any(|d| d.contains(": error: "))
    }

    /// Whether the edit changes nothing (a whitespace-only edit): then no
    /// revision is written and no event journaled.
    pub fn is_noop(&self) -> bool {
        // A kept step with a note runs again (`--rerun`): that is a change.
        self.top.is_empty()
            && self
                .steps
                .iter()
                .all(|s| s.mark == '=' && s.note.is_empty())
    }

    /// The errors, one per line, as a refusal's message.
    pub fn refusal(&self) -> String {
        let errors: Vec<&str> = self
            .diagnostics
            .iter()
            .filter(|d| d.contains(": error: "))
            .map(String::as_str)
            .collect();
        if errors.is_empty() {
            "the edit was refused".to_string()
        } else {
            errors.join("\n")
        }
    }
}

impl Scheduler {
    /// Plans `ask` against the run as it stands and, unless it is a dry
    /// run, a no-op or refused, applies it: the revision written, then
    /// `dag_modified` journaled, then the graph changed in memory.
    pub(super) fn edit(&mut self, ask: EditAsk) -> Result<Box<Plan>, Refusal> {
        if self.cancelling.is_some() {
            return Err(Refusal::Stopping);
        }
        let began = std::time::Instant::now();
        let vars = self.options.vars.clone();
        let checked = self.check_edit(&ask, None, &vars);
        let planned = began.elapsed();
        let refused = |mut plan: Plan, why: String| {
            plan.diagnostics
                .insert(0, format!("{}: error: {why}", ask.file));
            Refusal::Edit(Box::new(plan))
        };
        let wf = match checked.wf {
            Some(wf) if !checked.plan.refused() => wf,
            _ if checked.plan.refused() => return Err(Refusal::Edit(Box::new(checked.plan))),
            _ => return Err(refused(checked.plan, "the edit cannot apply".into())),
        };
        if let Some(n) = ask.revision.filter(|&n| n != checked.plan.revision) {
            let now = checked.plan.revision.saturating_sub(1);
            let why = format!(
                "the run was edited meanwhile: revision {now} is in force, and the plan was made for revision {n}; plan again"
            );
            return Err(refused(checked.plan, why));
        }
        if ask.dry_run || changes_nothing(&checked.plan, &checked.diff) {
            return Ok(Box::new(checked.plan));
        }
        let plan = checked.plan.clone();
        let pending = apply::Pending {
            plan: checked.plan,
            wf,
            diff: checked.diff,
            source: ask.source,
            by: ask.by,
            sender: self.acting.clone(),
        };
        let applied = self.apply_edit(pending, None);
        tracing::info!(
            run = %self.dir.id,
            planned_ms = planned.as_secs_f64() * 1e3,
            total_ms = began.elapsed().as_secs_f64() * 1e3,
            "edit"
        );
        applied.map(Box::new).map_err(|why| refused(plan, why))
    }
}

/// The refusal for a run another process drives: a live run is edited in
/// it, through its socket.
pub(super) fn live_message(locked: &str) -> String {
    let id = super::retry::locked_id(locked);
    format!(
        "run {id} is live: edit it through its socket (`signalbox edit {id}` does), or with `e` on its screen (`signalbox attach {id}`)"
    )
}

/// A plan with nothing to do: no step or top-level key changed, and no
/// step to run again. Then no revision is written and no event journaled.
pub(crate) fn changes_nothing(plan: &Plan, diff: &super::event::EditDiff) -> bool {
    plan.is_noop() && diff.rerun.is_empty()
}
