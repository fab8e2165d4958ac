//! Four eyes (SPEC §1): an approval that needs `approvers` distinct users,
//! and `self_approve: false`, which refuses the run's own user. Each
//! approval short of the number is journaled as `approval_progress` and
//! the wait stays open; the last one resolves it as any approval does. A
//! user counts once however many ways they approve (screens, the socket,
//! a flag); a refused approval journals nothing.

use super::super::event::{By, Event, Refusal};
use super::super::scheduler::Scheduler;
use super::wait_name;
use crate::workflow::{Action, ApprovalAction, Workflow};

impl Scheduler {
    /// Counts an approval `by` of step `i`'s open wait `wait`: `Ok(true)`
    /// when it was journaled as progress and the wait stays open,
    /// `Ok(false)` when it is the one that resolves the wait.
    pub(in crate::engine) fn count_approval(
        &mut self,
        i: usize,
        wait: u64,
        by: By,
    ) -> Result<bool, Refusal> {
        let Action::Approval(a) = &self.wf.steps[i].action else {
            return Ok(false);
        };
        let (needed, self_approve) = (a.approvers, a.self_approve);
        let user = self.who(self.acting.clone(), by).unwrap_or_default();
        let step = &self.wf.steps[i].id;
        if !self_approve && self.user.as_deref() == Some(user.as_str()) {
            return Err(Refusal::SelfApproval {
                step: step.clone(),
                user,
            });
        }
        let approved = &self.steps[i].approved;
        if approved.contains(&user) {
            return Err(Refusal::AlreadyApproved {
                step: step.clone(),
                user,
                approvals: count(approved),
                needed,
            });
        }
        if count(approved) + 1 >= needed {
            return Ok(false);
        }
        let step = step.clone();
        self.steps[i].approved.push(user.clone());
        let approvals = count(&self.steps[i].approved);
        self.emit(Event::ApprovalProgress {
            step,
            wait: wait_name(wait),
            by,
            user,
            approvals,
            needed,
        });
        Ok(true)
    }
}

/// How far a gate that needs `needed` approvals is: "needs 2 approvals"
/// before any, "1 of 2 approvals (alice)" after; none for a gate one
/// approval decides. What the wait queue and the prompt say alike.
pub fn progress_text(needed: u32, approved: &[String]) -> Option<String> {
    match (needed, approved.len()) {
        (0 | 1, _) => None,
        (n, 0) => Some(format!("needs {n} approvals")),
        (n, k) => Some(format!("{k} of {n} approvals ({})", approved.join(", "))),
    }
}

fn count(users: &[String]) -> u32 {
    u32::try_from(users.len()).unwrap_or(u32::MAX)
}

/// What `--approve` and `--auto-approve` can do for the run's own `user`
/// at four-eyes gates, said once at the start: an error for `--approve`
/// of a gate that refuses that user (it could never be taken), and a
/// warning for each gate the flags leave waiting for someone else.
pub fn flag_notes(
    wf: &Workflow,
    user: &str,
    approve: &[String],
    auto_approve: bool,
) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    for step in &wf.steps {
        let Action::Approval(a) = &step.action else {
            continue;
        };
        let named = approve.contains(&step.id);
        if !named && !auto_approve {
            continue;
        }
        let flag = if named { "--approve" } else { "--auto-approve" };
        if !a.self_approve {
            let why = refused(&step.id, user, a);
            if named {
                return Err(format!(
                    "--approve {}: {why}; leave the flag out and have another user approve it (`signalbox approve RUN {}`)",
                    step.id, step.id
                ));
            }
            notes.push(format!(
                "warning: --auto-approve cannot approve `{}`: {why}, so it waits for them",
                step.id
            ));
        } else if a.approvers > 1 {
            let more = a.approvers - 1;
            notes.push(format!(
                "warning: {flag} gives `{}` 1 of its {} approvals, as {user}; it waits for {more} more from other users",
                step.id, a.approvers
            ));
        }
    }
    Ok(notes)
}

fn refused(step: &str, user: &str, a: &ApprovalAction) -> String {
    let needed = match a.approvers {
        1 => String::new(),
        n => format!(" ({n} approvals, none from {user})"),
    };
    format!("`{step}` needs an approval from someone other than {user}, who runs signalbox{needed}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(text: &str) -> Workflow {
        crate::workflow::load_str(text, "wf.yaml").unwrap()
    }

    const GATES: &str = "name: w\nsteps:\n  two:\n    approval: { approvers: 2 }\n  other:\n    approval: { self_approve: false }\n  plain:\n    approval: {}\n";

    #[test]
    fn approve_of_a_gate_that_refuses_the_runs_user_is_bad_usage() {
        let err = flag_notes(&wf(GATES), "alice", &["other".into()], false).unwrap_err();
        assert_eq!(
            err,
            "--approve other: `other` needs an approval from someone other than alice, who runs signalbox; leave the flag out and have another user approve it (`signalbox approve RUN other`)"
        );
    }

    #[test]
    fn the_flags_say_which_gates_they_leave_waiting() {
        let notes = flag_notes(&wf(GATES), "alice", &[], true).unwrap();
        assert_eq!(
            notes,
            [
                "warning: --auto-approve gives `two` 1 of its 2 approvals, as alice; it waits for 1 more from other users",
                "warning: --auto-approve cannot approve `other`: `other` needs an approval from someone other than alice, who runs signalbox, so it waits for them",
            ]
        );
        let notes = flag_notes(&wf(GATES), "alice", &["two".into()], false).unwrap();
        assert_eq!(
            notes,
            [
                "warning: --approve gives `two` 1 of its 2 approvals, as alice; it waits for 1 more from other users"
            ]
        );
        assert!(
            flag_notes(&wf(GATES), "alice", &["plain".into()], false)
                .unwrap()
                .is_empty()
        );
    }
}
