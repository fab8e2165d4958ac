//! How a span ended: its status and the attributes that say so, after
//! the OpenTelemetry CI/CD conventions where they fit
//! (`cicd.pipeline.result`, `cicd.pipeline.task.run.result`,
//! `error.type`). OK for success, ERROR with a message for failure,
//! cancellation and an interrupted attempt; UNSET for a skip, a dropped
//! wait and a span still open.

use crate::engine::event::{By, RunStatus, SkipReason};

use super::word;
use crate::trace::otlp::{self, KeyValue};

pub(super) enum Outcome {
    /// An attempt that exited 0.
    Succeeded,
    /// An attempt that failed: its error and exit code.
    Failed(String, Option<i32>),
    /// The last attempt failed and the step's fallback outputs apply.
    FallbackApplied,
    /// An attempt the run's crash cut (no end before the next `run_started`).
    Interrupted,
    /// An attempt cancelled (its step cancelled, or ended under it).
    Cancelled(String),
    StepSucceeded(bool),
    StepFailed(String),
    StepCancelled(String),
    Skipped(SkipReason, String),
    /// A step an edit removed.
    Removed,
    Approved(bool, By, Option<String>),
    Answered(By, Option<String>),
    /// A wait that ended without a decision (its step or run ended).
    Dropped,
    /// Not ended when the journal does.
    Open,
    Run(RunStatus),
}

/// An attempt's failure.
pub(super) fn attempt_error(error: &str, exit_code: Option<i32>) -> Outcome {
    Outcome::Failed(error.to_string(), exit_code)
}

/// A low-cardinality class of an attempt's error (`error.type`).
fn error_type(error: &str, exit_code: Option<i32>) -> &'static str {
    if exit_code.is_some() {
        "exit_code"
    } else if error.starts_with("killed by signal") {
        "signal"
    } else if error.starts_with("timed out") {
        "timeout"
    } else if error.starts_with("breaker ") {
        "breaker_open"
    } else if error.contains(" lost") {
        "worker_lost"
    } else if error == "cancelled" {
        "cancelled"
    } else {
        "error"
    }
}

fn ok() -> otlp::Status {
    otlp::Status {
        code: otlp::STATUS_OK,
        message: String::new(),
    }
}

fn error(message: impl Into<String>) -> otlp::Status {
    otlp::Status {
        code: otlp::STATUS_ERROR,
        message: message.into(),
    }
}

const TASK_RESULT: &str = "cicd.pipeline.task.run.result";

impl Outcome {
    /// Adds the attributes of this ending to `attrs`; the span's status.
    pub(super) fn apply(&self, attrs: &mut Vec<KeyValue>) -> otlp::Status {
        match self {
            Outcome::Succeeded => ok(),
            Outcome::Failed(e, code) => {
                attrs.extend(code.map(|c| KeyValue::int("process.exit.code", c)));
                attrs.push(KeyValue::str("error.type", error_type(e, *code)));
                error(e.clone())
            }
            Outcome::FallbackApplied => {
                attrs.push(KeyValue::str("error.type", "fallback"));
                error("failed: the step's fallback outputs apply")
            }
            Outcome::Interrupted => {
                attrs.push(KeyValue::str("error.type", "interrupted"));
                error("interrupted")
            }
            Outcome::Cancelled(reason) => {
                attrs.push(KeyValue::str("error.type", "cancelled"));
                error(format!("cancelled: {reason}"))
            }
            Outcome::StepSucceeded(fallback) => {
                attrs.push(KeyValue::str(TASK_RESULT, "success"));
                attrs.push(KeyValue::bool("signalbox.fallback", *fallback));
                ok()
            }
            Outcome::StepFailed(e) => {
                let result = match e.starts_with("timed out") {
                    true => "timeout",
                    false => "failure",
                };
                attrs.push(KeyValue::str(TASK_RESULT, result));
                attrs.push(KeyValue::str("error.type", result));
                error(e.clone())
            }
            Outcome::StepCancelled(reason) => {
                attrs.push(KeyValue::str(TASK_RESULT, "cancellation"));
                attrs.push(KeyValue::str("signalbox.cancel.reason", reason.clone()));
                error(format!("cancelled: {reason}"))
            }
            Outcome::Skipped(reason, cause) => {
                attrs.push(KeyValue::str(TASK_RESULT, "skip"));
                attrs.push(KeyValue::str("signalbox.skip.reason", word(reason)));
                attrs.push(KeyValue::str("signalbox.skip.cause", cause.clone()));
                otlp::Status::default()
            }
            Outcome::Removed => {
                attrs.push(KeyValue::bool("signalbox.step.removed", true));
                otlp::Status::default()
            }
            Outcome::Approved(approved, by, user) => {
                attrs.push(KeyValue::str(
                    "signalbox.wait.outcome",
                    if *approved { "approved" } else { "rejected" },
                ));
                attrs.push(KeyValue::bool("signalbox.wait.approved", *approved));
                who(attrs, *by, user);
                ok()
            }
            Outcome::Answered(by, user) => {
                attrs.push(KeyValue::str("signalbox.wait.outcome", "answered"));
                attrs.push(KeyValue::bool("signalbox.wait.answered", true));
                who(attrs, *by, user);
                ok()
            }
            Outcome::Dropped => {
                attrs.push(KeyValue::str("signalbox.wait.outcome", "dropped"));
                otlp::Status::default()
            }
            Outcome::Open => {
                attrs.push(KeyValue::bool("signalbox.open", true));
                otlp::Status::default()
            }
            Outcome::Run(status) => {
                let (result, status) = match status {
                    RunStatus::Succeeded => ("success", ok()),
                    RunStatus::Failed => ("failure", error("the run failed")),
                    RunStatus::Cancelled => ("cancellation", error("the run was cancelled")),
                };
                attrs.push(KeyValue::str("cicd.pipeline.result", result));
                if status.code == otlp::STATUS_ERROR {
                    attrs.push(KeyValue::str("error.type", result));
                }
                status
            }
        }
    }
}

fn who(attrs: &mut Vec<KeyValue>, by: By, user: &Option<String>) {
    attrs.push(KeyValue::str("signalbox.wait.by", word(&by)));
    if let Some(user) = user {
        attrs.push(KeyValue::str("signalbox.wait.user", user.clone()));
    }
}
