//! Four eyes in the journal (SPEC §1): each `approval_progress` counts one
//! more distinct user toward the `approvers` the gate needs, on the wait
//! that is open, short of that number (the last approval is the
//! `approval_resolved`). A re-opened wait keeps who approved it.

use super::step::{St, Step};
use crate::workflow::{Action, Step as Spec};

impl Step {
    /// `user` approved `wait`, the `approvals`th of the `needed`.
    pub fn progress(
        &mut self,
        wait: &str,
        user: &str,
        (approvals, needed): (u32, u32),
        spec: &Spec,
    ) -> Result<(), String> {
        let Action::Approval(a) = &spec.action else {
            return Err("it asks for no approval".into());
        };
        match self.st {
            St::Waiting(n) if wait == format!("w{n}") => {}
            St::Waiting(n) => return Err(format!("wait `{wait}` while w{n} was open")),
            _ => return Err(format!("wait `{wait}` while {}", self.word())),
        }
        if needed != a.approvers {
            return Err(format!(
                "needed {needed}; the approval needs {}",
                a.approvers
            ));
        }
        if self.approved.iter().any(|u| u == user) {
            return Err(format!("{user} had already approved it"));
        }
        let so_far = self.approved.len() + 1;
        if usize::try_from(approvals).ok() != Some(so_far) || approvals >= needed {
            return Err(format!(
                "{approvals} approvals where {so_far} of {needed} were due"
            ));
        }
        self.approved.push(user.to_string());
        Ok(())
    }
}
