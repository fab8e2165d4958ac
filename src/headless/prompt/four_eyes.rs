//! Four-eyes gates at the prompt: how many approvals a gate needs and who
//! gave them so far, said in the prompt ("1 of 2 approvals (alice)"); the
//! user here is not asked again once they approved, and a gate that
//! refuses them (`self_approve: false`) is not asked at all: a line says
//! who must approve it instead. Nothing is sent the run would refuse.

use std::collections::HashMap;

use super::{Kind, Prompter, Wait};
use crate::engine::{Refusal, progress_text};
use crate::workflow::{Action, Workflow};

/// An approval as the prompt asks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::headless) struct Gate {
    pub needed: u32,
    /// Who approved it so far, in order.
    pub approved: Vec<String>,
}

/// The gates of `wf` that are not plain: step id -> (`approvers`,
/// `self_approve`). What [`super::super::Asking::four_eyes`] holds.
pub fn four_eyes(wf: &Workflow) -> HashMap<String, (u32, bool)> {
    (wf.steps.iter())
        .filter_map(|s| match &s.action {
            Action::Approval(a) if a.approvers > 1 || !a.self_approve => {
                Some((s.id.clone(), (a.approvers, a.self_approve)))
            }
            _ => None,
        })
        .collect()
}

impl Wait {
    /// "needs 2 approvals ", "1 of 2 approvals (alice) ", as the wait
    /// queue says it; nothing for a plain gate.
    pub(super) fn gate_text(&self) -> String {
        match &self.kind {
            Kind::Approval(gate) => progress_text(gate.needed, &gate.approved)
                .map(|t| format!("{t} "))
                .unwrap_or_default(),
            Kind::Question { .. } => String::new(),
        }
    }
}

impl Prompter {
    /// Queues the approval of `step` (its wait `wait`), or says why it is
    /// not asked here.
    pub(super) fn queue_approval(&mut self, step: &str, wait: &str, run: &str) -> Option<String> {
        let (needed, self_approve) = self.order.four_eyes.get(step).copied().unwrap_or((1, true));
        if !self_approve {
            let why = Refusal::SelfApproval {
                step: step.to_string(),
                user: self.user.clone(),
            };
            return Some(format!(
                "  {why}: another user approves it with `signalbox approve {run} {step}` (it can be rejected here with `signalbox reject {run} {step}`)"
            ));
        }
        // A resumed run re-opens a gate with the approvals it had.
        let approved = self.restored.remove(wait).unwrap_or_default();
        if approved.contains(&self.user) {
            return Some(format!(
                "  {step}: {} · you approved it before the run was resumed",
                progress_text(needed, &approved).unwrap_or_default()
            ));
        }
        let gate = Gate { needed, approved };
        self.queue_wait(step, Kind::Approval(gate));
        None
    }

    /// Another user approved `step`, short of what it needs.
    pub(super) fn progress(&mut self, step: &str, user: &str) {
        let Some(w) = self.queue.iter_mut().find(|w| w.step == step) else {
            return;
        };
        if let Kind::Approval(gate) = &mut w.kind
            && !gate.approved.iter().any(|u| u == user)
        {
            gate.approved.push(user.to_string());
        }
    }
}

/// Who approved each wait (by wait id), from the journal's events before
/// seq `before`: what a resumed run's re-opened gates had. Waits resolved
/// by then are left out.
pub(super) fn restored(journal: &std::path::Path, before: u64) -> HashMap<String, Vec<String>> {
    use crate::engine::Event;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let scanned = crate::engine::journal::scan(journal, |e| match e.event {
        _ if e.seq >= before => {}
        Event::ApprovalProgress { wait, user, .. } => {
            let users = out.entry(wait).or_default();
            if !users.contains(&user) {
                users.push(user);
            }
        }
        Event::ApprovalResolved { wait, .. } => {
            out.remove(&wait);
        }
        _ => {}
    });
    if let Err(e) = scanned {
        tracing::warn!("the prompt cannot read {}: {e}", journal.display());
    }
    out
}
