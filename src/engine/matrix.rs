//! Matrix steps in a run: the aggregate status of a group of instances
//! (SPEC §2, the one rule the engine and the screen share), `max_parallel`
//! (instances of a group running a process at once) and `fail_fast` (the
//! first failed instance stops its siblings). The instances themselves are
//! ordinary steps; the group emits no events of its own.
//!
//! `max_parallel` parks an instance popped from the ready queue while its
//! group is full, and hands one parked instance back to the queue each time
//! an instance of the group stops running: nothing is looked at twice while
//! it cannot start, and a full group never holds up the steps behind it.

use std::collections::BinaryHeap;

use super::event::{Event, SkipReason};
use super::scheduler::{Ready, Scheduler};
use super::state::{Final, Phase};

mod commands;

/// The status of a matrix step from its instances' statuses (as
/// `steps.X.status` names them: `pending`, `ready`, `running`, `waiting`,
/// `succeeded`, `failed`, `skipped`, `cancelled`).
///
/// While any instance has not ended: `running` once one started (or
/// ended), else `waiting` when one waits for a person, else `ready` when
/// one is queued, else `pending`. Once all ended: `failed` when one failed,
/// else `cancelled` when one was cancelled, else `skipped` when all were
/// skipped, else `succeeded`. A group of no instances is `pending`.
pub fn aggregate<'a>(statuses: impl IntoIterator<Item = &'a str>) -> &'static str {
    #[derive(Default)]
    struct Seen {
        all: usize,
        ended: usize,
        running: bool,
        waiting: bool,
        ready: bool,
        failed: bool,
        cancelled: bool,
        skipped: usize,
    }
    let mut s = Seen::default();
    for status in statuses {
        s.all += 1;
        match status {
            "running" => s.running = true,
            "waiting" => s.waiting = true,
            "ready" => s.ready = true,
            "succeeded" => s.ended += 1,
            "failed" => (s.ended, s.failed) = (s.ended + 1, true),
            "cancelled" => (s.ended, s.cancelled) = (s.ended + 1, true),
            "skipped" => (s.ended, s.skipped) = (s.ended + 1, s.skipped + 1),
            _ => {}
        }
    }
    match s {
        Seen { all: 0, .. } => "pending",
        Seen { all, ended, .. } if ended < all => {
            if s.running || (ended > 0 && !s.waiting) {
                "running"
            } else if s.waiting {
                "waiting"
            } else if s.ready {
                "ready"
            } else {
                "pending"
            }
        }
        Seen { failed: true, .. } => "failed",
        Seen {
            cancelled: true, ..
        } => "cancelled",
        Seen { all, skipped, .. } if skipped == all => "skipped",
        _ => "succeeded",
    }
}

/// What the scheduler keeps for its matrix steps, by group index.
#[derive(Default)]
pub(super) struct Groups {
    /// Instances of each group running a process now.
    running: Vec<usize>,
    /// Instances popped from the ready queue while their group was full.
    parked: Vec<BinaryHeap<Ready>>,
}

impl Scheduler {
    /// The group of step `i`, if it is a matrix instance.
    pub(super) fn group_of(&self, i: usize) -> Option<usize> {
        self.wf.steps[i].instance.as_ref().map(|inst| inst.group)
    }

    /// The aggregate status of group `g` now.
    pub(super) fn group_status(&self, g: usize) -> &'static str {
        let members = self.wf.groups.get(g).map_or(&[][..], |g| &g.members);
        aggregate(members.iter().map(|&m| self.steps[m].phase.status_name()))
    }

    /// Parks a queued instance whose group already runs `max_parallel`
    /// instances; gives it back when it may start.
    pub(super) fn park_if_full(&mut self, ready: Ready) -> Option<Ready> {
        let i = ready.index.0;
        let Some(g) = self.group_of(i) else {
            return Some(ready);
        };
        let cap = self.wf.groups.get(g).and_then(|g| g.max_parallel);
        let running = self.matrix.running.get(g).copied().unwrap_or(0);
        match cap {
            Some(cap) if running >= cap => {
                self.fit_groups();
                self.matrix.parked[g].push(ready);
                None
            }
            _ => Some(ready),
        }
    }

    /// An instance of step `i`'s group started a process.
    pub(super) fn group_started(&mut self, i: usize) {
        if let Some(g) = self.group_of(i) {
            self.fit_groups();
            self.matrix.running[g] += 1;
        }
    }

    /// An instance of step `i`'s group stopped running a process: one
    /// parked instance of the group goes back to the ready queue.
    pub(super) fn group_stopped(&mut self, i: usize) {
        let Some(g) = self.group_of(i) else { return };
        self.fit_groups();
        self.matrix.running[g] = self.matrix.running[g].saturating_sub(1);
        self.release(g);
    }

    /// The ready queue gave up step `i`, which had left `Queued` (skipped
    /// or cancelled there): when it was an instance handed back for a free
    /// place, another parked one takes that place.
    pub(super) fn dropped_from_queue(&mut self, i: usize) {
        let Some(g) = self.group_of(i) else { return };
        let cap = self.wf.groups.get(g).and_then(|g| g.max_parallel);
        let running = self.matrix.running.get(g).copied().unwrap_or(0);
        if cap.is_some_and(|cap| running < cap) {
            self.fit_groups();
            self.release(g);
        }
    }

    /// One parked instance of group `g` back to the ready queue.
    fn release(&mut self, g: usize) {
        while let Some(r) = self.matrix.parked[g].pop() {
            // Skipped, cancelled or started meanwhile: not this one.
            if matches!(self.steps[r.index.0].phase, Phase::Queued) {
                self.push_ready(r);
                break;
            }
        }
    }

    /// The tables as long as the workflow's groups (an edit may add some).
    fn fit_groups(&mut self) {
        let n = self.wf.groups.len();
        if self.matrix.running.len() < n {
            self.matrix.running.resize(n, 0);
        }
        if self.matrix.parked.len() < n {
            self.matrix.parked.resize_with(n, BinaryHeap::new);
        }
    }

    /// Before an edit moves step indices: every parked instance goes back
    /// to the ready queue, whose entries the edit moves with the steps.
    pub(crate) fn unpark_all(&mut self) {
        for heap in &mut self.matrix.parked {
            self.ready.extend(std::mem::take(heap).into_vec());
        }
    }

    /// After an edit: each group's running instances counted again.
    pub(crate) fn recount_groups(&mut self) {
        self.matrix.running = vec![0; self.wf.groups.len()];
        self.fit_groups();
        for i in 0..self.steps.len() {
            if matches!(self.steps[i].phase, Phase::Running { .. })
                && let Some(g) = self.group_of(i)
            {
                self.matrix.running[g] += 1;
            }
        }
    }

    /// Instance `failed` ended failed (not tolerated): with `fail_fast`, its running,
    /// backing-off and waiting siblings are cancelled and the unstarted
    /// ones skipped, both with reason `fail_fast`.
    pub(super) fn fail_fast(&mut self, failed: usize) {
        let Some(g) = self.group_of(failed) else {
            return;
        };
        let Some(group) = self.wf.groups.get(g).filter(|g| g.fail_fast) else {
            return;
        };
        if self.cancelling.is_some() {
            return;
        }
        let members = group.members.clone();
        let cause = self.wf.steps[failed].id.clone();
        for m in members {
            let unstarted = match self.steps[m].phase {
                Phase::Done(_) => continue,
                Phase::Pending => true,
                Phase::Queued => self.steps[m].attempts == 0,
                _ => false,
            };
            if unstarted {
                let cause = cause.clone();
                self.finish_step(m, Final::Skipped(SkipReason::FailFast), |step| {
                    Event::StepSkipped {
                        step,
                        reason: SkipReason::FailFast,
                        cause,
                    }
                });
            } else {
                self.steps[m].cancel_cause = Some(cause.clone());
                self.cancel_step(m, FAIL_FAST);
            }
        }
    }

    /// The siblings a retry of instance `i` starts over with it: in a
    /// `fail_fast` group, those its failure skipped or cancelled.
    pub(super) fn stopped_siblings(&self, i: usize) -> Vec<usize> {
        let Some(group) = self.group_of(i).and_then(|g| self.wf.groups.get(g)) else {
            return Vec::new();
        };
        if !group.fail_fast {
            return Vec::new();
        }
        (group.members.iter().copied())
            .filter(|&m| {
                m != i
                    && matches!(
                        self.steps[m].phase,
                        Phase::Done(Final::Skipped(SkipReason::FailFast) | Final::Cancelled)
                    )
            })
            .collect()
    }
}

/// The reason of a cancel `fail_fast` made.
pub const FAIL_FAST: &str = "fail_fast";

#[cfg(test)]
mod tests {
    use super::aggregate;

    fn agg(s: &[&str]) -> &'static str {
        aggregate(s.iter().copied())
    }

    #[test]
    fn a_group_runs_once_any_instance_started_until_all_ended() {
        assert_eq!(agg(&["pending", "pending"]), "pending");
        assert_eq!(agg(&["ready", "pending"]), "ready");
        assert_eq!(agg(&["running", "pending"]), "running");
        assert_eq!(agg(&["succeeded", "pending"]), "running");
        assert_eq!(agg(&["failed", "ready"]), "running");
        assert_eq!(agg(&["waiting", "waiting"]), "waiting");
        assert_eq!(agg(&["succeeded", "waiting"]), "waiting");
        assert_eq!(agg(&["running", "waiting"]), "running");
        assert_eq!(agg(&[]), "pending");
    }

    #[test]
    fn an_ended_group_fails_before_it_is_cancelled_skipped_or_succeeds() {
        assert_eq!(agg(&["succeeded", "succeeded"]), "succeeded");
        assert_eq!(agg(&["succeeded", "skipped"]), "succeeded");
        assert_eq!(agg(&["skipped", "skipped"]), "skipped");
        assert_eq!(agg(&["succeeded", "cancelled"]), "cancelled");
        assert_eq!(agg(&["failed", "cancelled", "skipped"]), "failed");
        assert_eq!(agg(&["cancelled", "failed"]), "failed");
        assert_eq!(agg(&["skipped", "cancelled"]), "cancelled");
    }
}
