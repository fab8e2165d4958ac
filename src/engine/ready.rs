//! Readiness: when a step's needs are done it becomes ready (its condition
//! checked, then queued or its wait opened); when a step ends, its
//! dependents move on, or are skipped when a need did not succeed.

use super::event::{Event, SkipReason};
use super::scheduler::Scheduler;
use super::state::{Final, Phase};

impl Scheduler {
    /// A step whose needs are all done and satisfied: check its condition,
    /// then queue it or open its wait.
    pub(super) fn make_ready(&mut self, i: usize) {
        if self.cancelling.is_some() {
            return;
        }
        self.emit(Event::StepReady {
            step: self.wf.steps[i].id.clone(),
        });
        self.steps[i].queued_seq = self.bus.seq();
        if let Some(cond) = &self.wf.steps[i].when {
            let holds = cond.expr.eval(&|op| self.operand(i, op));
            if !holds {
                let cause = cond.text.clone();
                self.finish_step(i, Final::Skipped(SkipReason::Condition), |step| {
                    Event::StepSkipped {
                        step,
                        reason: SkipReason::Condition,
                        cause,
                    }
                });
                return;
            }
        }
        match &self.wf.steps[i].action {
            crate::workflow::Action::Run(_) => self.enqueue(i),
            crate::workflow::Action::Approval(_) | crate::workflow::Action::Ask(_) => {
                self.open_wait(i)
            }
        }
    }

    /// Ends a step: records its final status, publishes `event`, and moves
    /// on its dependents (ready, or skipped when a need failed).
    pub(super) fn finish_step(
        &mut self,
        i: usize,
        fin: Final,
        event: impl FnOnce(String) -> Event,
    ) {
        self.steps[i].phase = Phase::Done(fin);
        let e = event(self.wf.steps[i].id.clone());
        self.emit(e);
        self.move_dependents_on(i);
    }

    /// Moves on every dependent of `i` whose needs have now all ended, and
    /// theirs in turn when they are skipped.
    pub(super) fn move_dependents_on(&mut self, i: usize) {
        let mut work = vec![i];
        while let Some(done) = work.pop() {
            for d in self.dependents[done].clone() {
                if self.move_on(d) {
                    work.push(d);
                }
            }
        }
    }

    /// A pending step whose needs have all ended: ready it, or skip it when
    /// a need did not succeed. True when it was skipped, so its own
    /// dependents must be looked at in turn.
    pub(super) fn move_on(&mut self, d: usize) -> bool {
        let needs = &self.wf.steps[d].needs;
        let ended = needs
            .iter()
            .all(|&n| matches!(self.steps[n].phase, Phase::Done(_)));
        if !matches!(self.steps[d].phase, Phase::Pending) || !ended {
            return false;
        }
        match needs.iter().copied().find(|&n| !self.satisfied(n)) {
            None => {
                self.make_ready(d);
                false
            }
            Some(n) => {
                let cause = self.wf.steps[n].id.clone();
                self.steps[d].phase = Phase::Done(Final::Skipped(SkipReason::UpstreamFailed));
                let step = self.wf.steps[d].id.clone();
                self.emit(Event::StepSkipped {
                    step,
                    reason: SkipReason::UpstreamFailed,
                    cause,
                });
                true
            }
        }
    }

    /// Whether a finished step lets its dependents run.
    pub(super) fn satisfied(&self, i: usize) -> bool {
        match self.steps[i].phase {
            Phase::Done(Final::Succeeded) => true,
            Phase::Done(Final::Skipped(reason)) => {
                !matches!(reason, SkipReason::UpstreamFailed | SkipReason::FailFast)
            }
            Phase::Done(Final::Failed { tolerated }) => tolerated,
            _ => false,
        }
    }

    /// A condition's operand of step `i`, read the way templates read the
    /// same values.
    fn operand(&self, i: usize, op: &crate::workflow::expr::Operand) -> String {
        use crate::workflow::expr::Operand;
        use crate::workflow::template::Ref;
        match op {
            Operand::Literal(s) => s.clone(),
            Operand::Matrix(name) => self.matrix_value(i, name),
            Operand::Var(v) => self.ref_value(&Ref::Var(v.clone())),
            Operand::Answer(s) => self.ref_value(&Ref::Answer(s.clone())),
            Operand::Output { step, key } => self.ref_value(&Ref::Output {
                step: step.clone(),
                key: key.clone(),
            }),
            // A matrix step's status is its instances' aggregate.
            Operand::Status(s) => match self.wf.step_index(s) {
                Some(i) => self.steps[i].phase.status_name(),
                None => self.wf.group_index(s).map_or("", |g| self.group_status(g)),
            }
            .to_string(),
        }
    }
}
