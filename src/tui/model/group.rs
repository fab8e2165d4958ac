//! Matrix steps as the screen shows them: a group of instances (ordinary
//! steps in [`super::Model::steps`]), whether its box is open, its status
//! counts, and its aggregate status by SPEC §2's rule. Pure: derived from
//! the instances' statuses on every frame, never from events of its own
//! (a matrix step emits none).

use super::{Status, StepView};

/// One matrix step on the screen.
#[derive(Debug, Clone)]
pub struct GroupView {
    /// The matrix step's id as written (`build`).
    pub id: String,
    /// Its instances, as indices into the model's steps, in expansion order.
    pub members: Vec<usize>,
    /// Shown as its instances (true) or as one box.
    pub open: bool,
}

/// Groups of at most this many instances start open.
pub const OPEN_AT_MOST: usize = 4;

/// The order a group box lists its counts in, each with its glyph and
/// colour: done first, then what moves, then what waits.
pub const ORDER: [Status; 9] = [
    Status::Succeeded,
    Status::Running,
    Status::Backoff { due_ms: 0 },
    Status::Waiting,
    Status::Ready,
    Status::Failed,
    Status::Cancelled,
    Status::Skipped,
    Status::Pending,
];

/// A status with a backoff's due time forgotten, for counting.
fn bucket(s: Status) -> Status {
    match s {
        Status::Backoff { .. } => Status::Backoff { due_ms: 0 },
        other => other,
    }
}

/// How many of `members` are in each status of [`ORDER`].
pub fn counts(steps: &[StepView], members: &[usize]) -> [(Status, usize); 9] {
    let mut out = ORDER.map(|s| (s, 0));
    for s in members.iter().filter_map(|&i| steps.get(i)) {
        let b = bucket(s.status);
        if let Some(slot) = out.iter_mut().find(|(st, _)| *st == b) {
            slot.1 += 1;
        }
    }
    out
}

/// The matrix step's status from its instances', by the engine's own rule
/// (SPEC §2), so the box and `steps.STEP.status` always agree.
pub fn aggregate(steps: &[StepView], members: &[usize]) -> Status {
    let word = |s: &StepView| match s.status {
        Status::Pending => "pending",
        Status::Ready => "ready",
        Status::Running | Status::Backoff { .. } => "running",
        Status::Waiting => "waiting",
        Status::Succeeded => "succeeded",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        Status::Cancelled => "cancelled",
    };
    let statuses = members.iter().filter_map(|&i| steps.get(i)).map(word);
    match crate::engine::matrix::aggregate(statuses) {
        "ready" => Status::Ready,
        "running" => Status::Running,
        "waiting" => Status::Waiting,
        "succeeded" => Status::Succeeded,
        "failed" => Status::Failed,
        "skipped" => Status::Skipped,
        "cancelled" => Status::Cancelled,
        _ => Status::Pending,
    }
}

/// The instances a retry of the whole group runs again: its failed and
/// cancelled ones, in expansion order.
pub fn retryable(steps: &[StepView], members: &[usize]) -> Vec<usize> {
    (members.iter().copied())
        .filter(|&i| {
            steps
                .get(i)
                .is_some_and(|s| matches!(s.status, Status::Failed | Status::Cancelled))
        })
        .collect()
}

/// The instances that have not ended, which `s` and `x` on the group act on.
pub fn unfinished(steps: &[StepView], members: &[usize]) -> Vec<usize> {
    (members.iter().copied())
        .filter(|&i| steps.get(i).is_some_and(|s| !s.status.is_done()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::model::Kind;

    fn view(status: Status) -> StepView {
        StepView {
            id: String::new(),
            kind: Kind::Run,
            priority: 0,
            ask_timeout_ms: 0,
            status,
            attempt: 0,
            first_start_ms: None,
            end_ms: None,
            duration_ms: None,
            fallback: false,
            wait_deadline_ms: None,
            exit_code: None,
            error: None,
            needs: Vec::new(),
            skip: None,
            breaker: None,
            edited: false,
            approvers: 1,
            group: None,
            continues: false,
            description: None,
            pool: None,
            worker: None,
        }
    }

    fn agg(statuses: &[Status]) -> Status {
        let steps: Vec<StepView> = statuses.iter().map(|&s| view(s)).collect();
        let all: Vec<usize> = (0..steps.len()).collect();
        aggregate(&steps, &all)
    }

    #[test]
    fn the_aggregate_follows_spec_section_2() {
        use Status::*;
        assert_eq!(agg(&[Pending, Pending]), Pending);
        assert_eq!(agg(&[Ready, Pending]), Ready);
        assert_eq!(agg(&[Running, Pending]), Running);
        assert_eq!(
            agg(&[Failed, Running]),
            Running,
            "failed only after all end"
        );
        assert_eq!(agg(&[Failed, Pending]), Running, "some ended, some not");
        assert_eq!(agg(&[Succeeded, Skipped]), Succeeded);
        assert_eq!(agg(&[Failed, Cancelled, Succeeded]), Failed);
        assert_eq!(agg(&[Cancelled, Succeeded]), Cancelled);
        assert_eq!(agg(&[Skipped, Skipped]), Skipped);
        assert_eq!(agg(&[Waiting, Pending]), Waiting);
        let mut steps = vec![view(Failed), view(Succeeded)];
        steps[0].continues = true;
        assert_eq!(
            aggregate(&steps, &[0, 1]),
            Failed,
            "a tolerated failure still reads failed, as `steps.X.status` does"
        );
    }

    #[test]
    fn counts_keep_their_order_and_retry_takes_failed_and_cancelled() {
        use Status::*;
        let steps: Vec<StepView> = [Succeeded, Failed, Running, Succeeded, Cancelled, Pending]
            .iter()
            .map(|&s| view(s))
            .collect();
        let all: Vec<usize> = (0..steps.len()).collect();
        let c = counts(&steps, &all);
        assert_eq!(c[0], (Succeeded, 2));
        assert_eq!(c[1], (Running, 1));
        assert_eq!(retryable(&steps, &all), vec![1, 4]);
        assert_eq!(unfinished(&steps, &all), vec![2, 5]);
    }
}
