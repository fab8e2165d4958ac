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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{Impossible, check_all};
    use crate::engine::event::Envelope;

    const WF: &str = "name: t\nsteps:\n  gate:\n    approval: { approvers: 3 }\n";

    fn check(events: &[Value]) -> Result<(), Impossible> {
        let wf = crate::workflow::load_str(WF, "t.yaml").unwrap();
        let journal: Vec<Envelope> = (events.iter().enumerate())
            .map(|(n, e)| {
                let mut line = json!({ "seq": n + 1, "ts": "2026-01-01T00:00:00Z", "run": "r" });
                for (k, v) in e.as_object().unwrap() {
                    line[k] = v.clone();
                }
                serde_json::from_value(line).unwrap()
            })
            .collect();
        check_all(&wf, "r", &journal)
    }

    fn progress(user: &str, approvals: u32, needed: u32) -> Value {
        json!({ "type": "approval_progress", "step": "gate", "wait": "w1", "by": "socket",
                "user": user, "approvals": approvals, "needed": needed })
    }

    /// Open, then `middle`, then resolved by carol.
    fn journal(middle: &[Value]) -> Vec<Value> {
        let mut events = vec![
            json!({ "type": "run_started", "workflow": "t", "steps": 1, "resumed": false }),
            json!({ "type": "step_ready", "step": "gate" }),
            json!({ "type": "approval_requested", "step": "gate", "wait": "w1", "prompt": "ok?", "timeout_ms": 1000 }),
        ];
        events.extend_from_slice(middle);
        events.push(
            json!({ "type": "approval_resolved", "step": "gate", "wait": "w1",
            "approved": true, "by": "socket", "user": "carol", "waited_ms": 5 }),
        );
        events
    }

    #[test]
    fn progress_counts_distinct_users_one_by_one_short_of_the_number() {
        check(&journal(&[progress("alice", 1, 3), progress("bob", 2, 3)])).unwrap();
        let bad = [
            (
                vec![progress("alice", 1, 3), progress("alice", 2, 3)],
                "alice had already approved it",
            ),
            (
                vec![progress("alice", 2, 3)],
                "2 approvals where 1 of 3 were due",
            ),
            (
                vec![progress("alice", 1, 2)],
                "needed 2; the approval needs 3",
            ),
            (
                vec![
                    progress("alice", 1, 3),
                    progress("bob", 2, 3),
                    progress("carol", 3, 3),
                ],
                "3 approvals where 3 of 3 were due",
            ),
        ];
        for (middle, why) in bad {
            let err = check(&journal(&middle)).unwrap_err();
            assert_eq!(err.line, 3 + middle.len(), "{why}");
            assert!(err.reason.contains(why), "{}", err.reason);
        }
    }

    #[test]
    fn a_resumed_run_reopens_its_wait_with_the_approvals_it_had() {
        let resumed = [
            progress("alice", 1, 3),
            json!({ "type": "run_started", "workflow": "t", "steps": 1, "resumed": true }),
            json!({ "type": "approval_requested", "step": "gate", "wait": "w1", "prompt": "ok?", "timeout_ms": 900 }),
        ];
        let mut middle = resumed.to_vec();
        middle.push(progress("bob", 2, 3));
        check(&journal(&middle)).unwrap();
        let mut again = resumed.to_vec();
        again.push(progress("alice", 2, 3));
        assert_eq!(check(&journal(&again)).unwrap_err().line, 7);
    }
}
