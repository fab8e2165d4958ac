//! The screen's view of each step and matrix step as the workflow defines
//! them, before any event: where the model starts, and what an edit
//! rebuilds.

use crate::workflow::{Action, Workflow};

use super::group::{self, GroupView};
use super::{Kind, Status, StepView, millis};

fn step_view(step: &crate::workflow::Step) -> StepView {
    let (kind, ask_timeout_ms) = match &step.action {
        Action::Run(_) => (Kind::Run, 0),
        Action::Approval(_) => (Kind::Approval, 0),
        Action::Ask(a) => (Kind::Ask, millis(a.timeout)),
    };
    StepView {
        id: step.id.clone(),
        kind,
        priority: step.priority,
        ask_timeout_ms,
        approvers: match &step.action {
            Action::Approval(a) => a.approvers,
            _ => 1,
        },
        status: Status::Pending,
        attempt: 0,
        first_start_ms: None,
        end_ms: None,
        duration_ms: None,
        fallback: false,
        wait_deadline_ms: None,
        exit_code: None,
        error: None,
        needs: step.needs.clone(),
        skip: None,
        breaker: step.breaker.clone(),
        edited: false,
        group: step.instance.as_ref().map(|i| i.group),
        continues: step.on_failure == crate::workflow::spec::OnFailure::Continue,
        description: step.description.clone(),
        pool: step.pool.clone(),
        worker: None,
    }
}

/// The workflow's steps as the screen starts them.
pub(super) fn step_views(wf: &Workflow) -> Vec<StepView> {
    let group_text = |g: usize| wf.groups.get(g)?.description.as_deref();
    (wf.steps.iter())
        .map(|step| {
            let mut v = step_view(step);
            if v.description.is_none()
                && let Some(text) = v.group.and_then(group_text)
            {
                v.description = Some(text.into());
            }
            v
        })
        .collect()
}

/// The workflow's matrix steps; each open as `was` says (an edit keeps
/// what the operator chose), else open when it has few instances.
pub(super) fn group_views(wf: &Workflow, was: impl Fn(&str) -> Option<bool>) -> Vec<GroupView> {
    (wf.groups.iter())
        .map(|g| GroupView {
            id: g.id.clone(),
            members: g.members.clone(),
            open: was(&g.id).unwrap_or(g.members.len() <= group::OPEN_AT_MOST),
        })
        .collect()
}
