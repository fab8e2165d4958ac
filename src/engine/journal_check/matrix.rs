//! Matrix instances as the journal checker follows them: what `fail_fast`
//! does to the siblings of the first failed instance (cancel the started
//! ones, skip the rest), as `engine::matrix` does it.

use super::Checker;
use super::step::{End, St};

impl Checker<'_> {
    /// The failed siblings of instance `i` in a `fail_fast` group.
    fn failed_siblings(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let group = (self.wf.steps[i].instance.as_ref())
            .and_then(|inst| self.wf.groups.get(inst.group))
            .filter(|g| g.fail_fast);
        (group.into_iter().flat_map(|g| g.members.iter().copied()))
            .filter(move |&m| m != i && matches!(self.steps[m].st, St::Done(End::Failed { .. })))
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
