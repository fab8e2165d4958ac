//! Matrix instances as the journal checker follows them: what `fail_fast`
//! does to the siblings of the first failed instance (cancel the started
//! ones, skip the rest), as `engine::matrix` does it.

use super::Checker;
use super::step::{End, St};

impl Checker<'_> {
    /// The failed siblings of instance `i` in a `fail_fast` group (a
    /// failure `on_failure: continue` tolerates stops nothing).
    fn failed_siblings(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let group = (self.wf.steps[i].instance.as_ref())
            .and_then(|inst| self.wf.groups.get(inst.group))
            .filter(|g| g.fail_fast);
        (group.into_iter().flat_map(|g| g.members.iter().copied())).filter(move |&m| {
            m != i && self.steps[m].st == St::Done(End::Failed { tolerated: false })
        })
    }

    /// A `fail_fast` skip: `cause` is a failed sibling, and `i` never started.
    pub(super) fn fail_fast_skip(&self, i: usize, cause: &str) -> bool {
        matches!(self.steps[i].st, St::Pending | St::Queued(_) | St::Opening)
            && self
                .failed_siblings(i)
                .any(|m| self.wf.steps[m].id == cause)
    }

    /// A `fail_fast` cancel: a sibling failed, and `i` had started.
    pub(super) fn fail_fast_cancel(&mut self, i: usize) -> Result<(), String> {
        if self.failed_siblings(i).next().is_none() {
            return Err("no instance of its fail_fast matrix step had failed".into());
        }
        match self.steps[i].st {
            St::Running(_) | St::Backoff(_) | St::Waiting(_) | St::Queued(_) | St::Reopen(_) => {
                self.steps[i].end(End::Cancelled);
                Ok(())
            }
            _ => Err(format!("it was {}", self.steps[i].word())),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::engine::event::Envelope;
    use crate::engine::journal_check::check_all;
    use crate::workflow::{Group, Instance, Workflow};

    /// Three steps made one `fail_fast` group by hand, and one after them.
    fn wf() -> Workflow {
        let text = "name: t\nsteps:\n  a: { run: 'true' }\n  b: { run: 'true' }\n  c: { run: 'true' }\n  d: { needs: [a, b, c], run: 'true' }\n";
        let mut wf = crate::workflow::load_str(text, "t.yaml").unwrap();
        wf.groups.push(Group {
            id: "m".into(),
            line: 3,
            axes: vec!["k".into()],
            members: vec![0, 1, 2],
            max_parallel: Some(2),
            fail_fast: true,
            description: None,
        });
        for (i, k) in ["a", "b", "c"].into_iter().enumerate() {
            wf.steps[i].instance = Some(Box::new(Instance {
                group: 0,
                values: vec![("k".into(), k.into())],
            }));
        }
        wf
    }

    fn journal(events: &[Value]) -> Vec<Envelope> {
        (events.iter().enumerate())
            .map(|(n, e)| {
                let mut line = json!({ "seq": n + 1, "ts": "2026-01-01T00:00:00Z", "run": "r" });
                for (k, v) in e.as_object().unwrap() {
                    line[k] = v.clone();
                }
                serde_json::from_value(line).unwrap()
            })
            .collect()
    }

    fn ev(ty: &str, step: &str) -> Value {
        json!({ "type": ty, "step": step })
    }

    fn with(mut e: Value, more: Value) -> Value {
        for (k, v) in more.as_object().unwrap() {
            e[k] = v.clone();
        }
        e
    }

    fn fail_fast() -> Vec<Value> {
        vec![
            json!({ "type": "run_started", "workflow": "t", "steps": 4, "resumed": false }),
            ev("step_ready", "a"),
            ev("step_ready", "b"),
            ev("step_ready", "c"),
            with(ev("step_started", "a"), json!({ "attempt": 1 })),
            with(ev("step_started", "b"), json!({ "attempt": 1 })),
            with(
                ev("step_failed", "a"),
                json!({ "attempts": 1, "error": "exit code 1", "exit_code": 1 }),
            ),
            with(
                ev("step_skipped", "c"),
                json!({ "reason": "fail_fast", "cause": "a" }),
            ),
            with(ev("step_cancelled", "b"), json!({ "reason": "fail_fast" })),
            with(
                ev("step_skipped", "d"),
                json!({ "reason": "upstream_failed", "cause": "a" }),
            ),
            json!({ "type": "run_finished", "status": "failed", "duration_ms": 1 }),
        ]
    }

    #[test]
    fn fail_fast_skips_and_cancels_only_after_a_sibling_failed() {
        check_all(&wf(), "r", &journal(&fail_fast())).unwrap();
        // The cause must be the sibling that failed.
        let mut wrong_cause = fail_fast();
        wrong_cause[7]["cause"] = "b".into();
        let err = check_all(&wf(), "r", &journal(&wrong_cause)).unwrap_err();
        assert_eq!(err.line, 8);
        // Nothing had failed yet.
        let mut early = fail_fast();
        early.swap(6, 8);
        let err = check_all(&wf(), "r", &journal(&early)).unwrap_err();
        assert_eq!(err.line, 7);
        // A started instance is cancelled, never skipped.
        let mut started = fail_fast();
        started[8] = with(
            ev("step_skipped", "b"),
            json!({ "reason": "fail_fast", "cause": "a" }),
        );
        let err = check_all(&wf(), "r", &journal(&started)).unwrap_err();
        assert_eq!(err.line, 9);
    }

    #[test]
    fn outside_a_fail_fast_group_no_step_is_stopped_so() {
        let mut wf = wf();
        wf.groups[0].fail_fast = false;
        let err = check_all(&wf, "r", &journal(&fail_fast())).unwrap_err();
        assert_eq!(err.line, 8);
    }
}
