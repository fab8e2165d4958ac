//! An edit as the journal checker follows it (`dag_modified`, `action:
//! edit`): its revision read back and checked, then every step's state
//! carried over by id to the revision's graph, as the scheduler's
//! `switch_to` and `restart_edited` do (`edit/apply.rs`).

use std::borrow::Cow;

use super::Checker;
use super::step::{End, St, Step};
use crate::engine::event::{EditDiff, SkipReason};

impl Checker<'_> {
    pub(super) fn edit(
        &mut self,
        revision: Option<u32>,
        sha256: Option<&str>,
        diff: Option<&EditDiff>,
        ids: &[String],
        fresh: bool,
    ) -> Result<(), String> {
        let (Some(n), Some(sha), Some(diff)) = (revision, sha256, diff) else {
            return Err("dag_modified edit without its revision, sha256 and diff".into());
        };
        if n != self.revision + 1 {
            return Err(format!(
                "revision {n} where revision {} was due",
                self.revision + 1
            ));
        }
        if self.cancelling {
            return Err("an edit while the run was stopping".into());
        }
        let source = (self.revisions.as_ref())
            .ok_or_else(|| format!("an edit to revision {n}, which this check cannot read"))?;
        let new = source.load(n, sha)?;
        let old = &self.wf;
        let both = |id: &String| old.step_index(id).is_some() && new.step_index(id).is_some();
        let lacks = |what: &str, id: &String| {
            Err(format!(
                "dag_modified names `{id}` {what}, which revision {n} and the one before it do not bear out"
            ))
        };
        for id in &diff.added {
            if old.step_index(id).is_some() || new.step_index(id).is_none() {
                return lacks("as added", id);
            }
        }
        for id in &diff.removed {
            match old.step_index(id) {
                Some(i) if new.step_index(id).is_none() => {
                    if !matches!(self.steps[i].st, St::Pending | St::Queued(_)) {
                        return Err(format!(
                            "an edit removes `{id}`, which had started ({})",
                            self.steps[i].word()
                        ));
                    }
                }
                _ => return lacks("as removed", id),
            }
        }
        for id in diff.changed.keys().chain(&diff.rerun) {
            if !both(id) {
                return lacks("as changed or rerun", id);
            }
        }
        for id in ids {
            if old.step_index(id).is_none() && new.step_index(id).is_none() {
                return lacks("", id);
            }
        }
        let mut old_steps: Vec<Option<Step>> = std::mem::take(&mut self.steps)
            .into_iter()
            .map(Some)
            .collect();
        self.steps = (new.steps.iter())
            .map(|s| {
                old.step_index(&s.id)
                    .and_then(|i| old_steps[i].take())
                    .unwrap_or_default()
            })
            .collect();
        self.wf = Cow::Owned(new.clone());
        self.loaded.push(new);
        self.revision = n;
        self.restart_edited(diff, fresh);
        Ok(())
    }

    /// A changed step that had not ended starts over; so does each rerun
    /// one, a running one's attempt still to stop, and the dependents that
    /// go with it (skipped for it, cancelled, or, `fresh` after a resume,
    /// stopped with the run).
    fn restart_edited(&mut self, diff: &EditDiff, fresh: bool) {
        for id in diff.changed.keys() {
            if let Some(i) = self.wf.step_index(id)
                && !diff.rerun.contains(id)
                && !self.steps[i].ended()
            {
                self.steps[i].reset();
            }
        }
        let mut work: Vec<usize> = (diff.rerun.iter())
            .filter_map(|id| self.wf.step_index(id))
            .collect();
        let mut again = vec![false; self.steps.len()];
        for &i in &work {
            again[i] = true;
        }
        let dependents = self.wf.dependents();
        while let Some(i) = work.pop() {
            for &d in &dependents[i] {
                let s = &self.steps[d];
                let goes = match s.st {
                    St::Done(End::Skipped(SkipReason::UpstreamFailed) | End::Cancelled) => true,
                    St::Done(_) => false,
                    _ => fresh && s.stopped,
                };
                if goes && !again[d] {
                    again[d] = true;
                    work.push(d);
                }
            }
        }
        for (i, again) in again.into_iter().enumerate() {
            if again {
                // A second rerun before the first one's attempt stopped:
                // that attempt's last words may still come.
                let stale = self.steps[i].stale || matches!(self.steps[i].st, St::Running(_));
                self.steps[i].reset();
                self.steps[i].stale = stale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{Impossible, check_with_revisions};
    use crate::engine::edit::revision::RevisionSource;
    use crate::engine::event::Envelope;
    use crate::engine::run_dir::{RunDir, sha256_hex};

    const OLD: &str =
        "name: t\nsteps:\n  a:\n    run: sleep 9\n  b:\n    needs: [a]\n    run: 'true'\n";
    const NEW: &str = "name: t\nsteps:\n  a:\n    run: 'true'\n  n:\n    run: 'true'\n  b:\n    needs: [a]\n    run: 'true'\n";

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

    fn edit(revision: u32, sha: &str, added: &[&str], rerun: &[&str]) -> Value {
        json!({ "type": "dag_modified", "action": "edit", "steps": added, "by": "socket",
            "user": "u", "revision": revision, "sha256": sha,
            "diff": { "added": added, "removed": [], "changed": { "a": ["run"] }, "rerun": rerun } })
    }

    /// The journal checked against a run folder holding `NEW` as revision 1.
    fn check(events: &[Value]) -> Result<usize, Impossible> {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::at("r".into(), tmp.path().to_path_buf());
        dir.write_revision(1, NEW.as_bytes()).unwrap();
        dir.write_revision(2, NEW.as_bytes()).unwrap();
        let wf = crate::workflow::load_str(OLD, "t.yaml").unwrap();
        let source = RevisionSource {
            dir,
            vars: Default::default(),
        };
        check_with_revisions(&wf, "r", &journal(events), source).map(|r| r.len())
    }

    fn running_a() -> Vec<Value> {
        vec![
            json!({ "type": "run_started", "workflow": "t", "steps": 2, "resumed": false }),
            json!({ "type": "step_ready", "step": "a" }),
            json!({ "type": "step_started", "step": "a", "attempt": 1 }),
        ]
    }

    #[test]
    fn a_rerun_of_a_running_step_stops_its_attempt_then_starts_over() {
        let sha = sha256_hex(NEW.as_bytes());
        let mut events = running_a();
        events.extend([
            edit(1, &sha, &["n"], &["a"]),
            json!({ "type": "step_ready", "step": "n" }),
            json!({ "type": "step_output", "step": "a", "stream": "stdout", "line": "x" }),
            json!({ "type": "step_cancelled", "step": "a", "reason": "rerun" }),
            json!({ "type": "step_ready", "step": "a" }),
            json!({ "type": "step_started", "step": "a", "attempt": 1 }),
        ]);
        assert_eq!(check(&events), Ok(1));
    }

    #[test]
    fn two_reruns_before_the_attempt_stops_wait_for_its_one_stop() {
        let sha = sha256_hex(NEW.as_bytes());
        let mut events = running_a();
        events.extend([
            edit(1, &sha, &["n"], &["a"]),
            edit(2, &sha, &[], &["a"]),
            json!({ "type": "step_cancelled", "step": "a", "reason": "rerun" }),
            json!({ "type": "step_ready", "step": "a" }),
            json!({ "type": "step_started", "step": "a", "attempt": 1 }),
        ]);
        assert_eq!(check(&events), Ok(2));
    }

    #[test]
    fn an_altered_or_unordered_revision_or_a_step_it_lacks_is_damage() {
        let sha = sha256_hex(NEW.as_bytes());
        let mut events = running_a();
        events.push(edit(1, &sha256_hex(b"other"), &["n"], &["a"]));
        let err = check(&events).unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.reason.contains("SHA-256"), "{err}");
        events[3] = edit(2, &sha, &["n"], &["a"]);
        let err = check(&events).unwrap_err();
        assert!(err.reason.contains("revision 2 where revision 1"), "{err}");
        events[3] = edit(1, &sha, &["zzz"], &["a"]);
        let err = check(&events).unwrap_err();
        assert!(err.reason.contains("`zzz`"), "{err}");
        // Its attempt stopped for the rerun, `a` cannot end as it was.
        events[3] = edit(1, &sha, &["n"], &["a"]);
        events.push(json!({ "type": "step_succeeded", "step": "a", "attempt": 1,
            "duration_ms": 1, "outputs": {}, "fallback": false }));
        assert_eq!(check(&events).unwrap_err().line, 5);
    }
}
