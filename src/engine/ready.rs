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
        if let Some(cond) = &self.wf.steps[i].when {
            let holds = cond.expr.eval(&|op| self.operand(op));
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
        let mut work = vec![i];
        while let Some(done) = work.pop() {
            for d in self.dependents[done].clone() {
                if !matches!(self.steps[d].phase, Phase::Pending) {
                    continue;
                }
                let needs = &self.wf.steps[d].needs;
                if !needs
                    .iter()
                    .all(|&n| matches!(self.steps[n].phase, Phase::Done(_)))
                {
                    continue;
                }
                let unmet = needs.iter().copied().find(|&n| !self.satisfied(n));
                match unmet {
                    None => self.make_ready(d),
                    Some(n) => {
                        let cause = self.wf.steps[n].id.clone();
                        self.steps[d].phase =
                            Phase::Done(Final::Skipped(SkipReason::UpstreamFailed));
                        let step = self.wf.steps[d].id.clone();
                        self.emit(Event::StepSkipped {
                            step,
                            reason: SkipReason::UpstreamFailed,
                            cause,
                        });
                        work.push(d);
                    }
                }
            }
        }
    }

    /// Whether a finished step lets its dependents run.
    pub(super) fn satisfied(&self, i: usize) -> bool {
        match self.steps[i].phase {
            Phase::Done(Final::Succeeded) => true,
            Phase::Done(Final::Skipped(reason)) => reason != SkipReason::UpstreamFailed,
            Phase::Done(Final::Failed { tolerated }) => tolerated,
            _ => false,
        }
    }

    fn operand(&self, op: &crate::workflow::expr::Operand) -> String {
        use crate::workflow::expr::Operand;
        let step = |id: &str| self.wf.step_index(id).map(|i| &self.steps[i]);
        match op {
            Operand::Literal(s) => s.clone(),
            Operand::Var(v) => self.wf.vars.get(v).cloned().unwrap_or_default(),
            Operand::Answer(s) => step(s).and_then(|r| r.answer.clone()).unwrap_or_default(),
            Operand::Status(s) => step(s).map_or("", |r| r.phase.status_name()).to_string(),
            Operand::Output { step: s, key } => step(s)
                .and_then(|r| r.outputs.get(key).cloned())
                .unwrap_or_default(),
        }
    }
}
