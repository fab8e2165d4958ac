//! Where each step of a run stands, as the scheduler keeps it.

use std::collections::BTreeMap;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::event::SkipReason;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Final {
    Succeeded,
    /// `tolerated`: `on_failure: continue`, so dependents run anyway.
    Failed {
        tolerated: bool,
    },
    Skipped(SkipReason),
    Cancelled,
}

#[derive(Debug, Default)]
#[allow(dead_code)] // times kept for the screen's countdowns and resume
pub enum Phase {
    /// Waiting for its needs.
    #[default]
    Pending,
    /// In the ready queue for a slot.
    Queued,
    Running {
        attempt: u32,
        started: Instant,
        /// Dropping or sending this stops the attempt's process group.
        cancel: Option<oneshot::Sender<()>>,
        /// Why the scheduler stopped it, if it did.
        stop: Option<Stop>,
        /// Admitted by a breaker, which must hear how it went.
        via_breaker: bool,
        /// Sent to a pool rather than spawned here (SPEC §7).
        remote: Option<Box<Placed>>,
    },
    /// Waiting out the delay before attempt `failed + 1`.
    Backoff {
        failed: u32,
        due: Instant,
        token: u64,
    },
    /// An open approval or question.
    Waiting {
        wait: u64,
        opened: Instant,
        deadline: Instant,
    },
    Done(Final),
}

/// Where a remote attempt stands: queued on its pool until a worker
/// claims it, which starts it (`step_started`).
#[derive(Debug)]
pub struct Placed {
    pub pool: std::sync::Arc<str>,
    pub worker: Option<String>,
}

/// Why a running attempt was stopped from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    Skip,
    Cancel(String),
    /// An edit's `--rerun`: once stopped it starts over with its new
    /// definition (a run-wide cancel meanwhile turns it into that cancel).
    Rerun,
}

impl Phase {
    /// The status as `steps.X.status` reads it in a condition.
    pub fn status_name(&self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Queued => "ready",
            Phase::Running { .. } | Phase::Backoff { .. } => "running",
            Phase::Waiting { .. } => "waiting",
            Phase::Done(Final::Succeeded) => "succeeded",
            Phase::Done(Final::Failed { .. }) => "failed",
            Phase::Done(Final::Skipped(_)) => "skipped",
            Phase::Done(Final::Cancelled) => "cancelled",
        }
    }
}

/// A step's runtime record.
#[derive(Debug, Default)]
pub struct StepRt {
    pub phase: Phase,
    /// Attempts made so far (a breaker's fast failures included).
    pub attempts: u32,
    /// When the first attempt started, for `duration_ms`.
    pub first_start: Option<Instant>,
    pub outputs: BTreeMap<String, String>,
    pub answer: Option<String>,
    /// Waits opened for this step so far (a retried wait opens again).
    pub waits_opened: u32,
    /// Who has approved its open wait so far, in order, while it needs
    /// more than one (`approvers`); empty otherwise.
    pub approved: Vec<String>,
    /// The failed instance whose `fail_fast` is cancelling this one: the
    /// `cause` of its `step_cancelled`.
    pub cancel_cause: Option<String>,
    /// The seq of its last `step_ready` or `step_retrying`: what names the
    /// dispatch of its next attempt to a pool (`remote::key`).
    pub queued_seq: u64,
    /// For a resumed run: the key of a dispatch of its next attempt that
    /// an earlier process of the run may have sent (see `remote::Job`).
    pub earlier: Option<String>,
}
