//! Events: every change of state in a run, past tense, with the names and
//! fields of SPEC §3. They are the only thing the engine tells the world,
//! beside the answer to a command: taken, or a [`Refusal`] saying why not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod read;

/// One journal line: the envelope fields, then the event's own. Read back
/// by hand (see `read`), written as derived.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    pub seq: u64,
    /// RFC 3339, UTC.
    pub ts: String,
    pub run: String,
    #[serde(flatten)]
    pub event: Event,
}

/// Who resolved a wait or changed the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    Keyboard,
    Socket,
    Flag,
    Prompt,
    Timeout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// stdout and stderr on one pipe, in the order written (`output: merged`).
    Output,
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Condition,
    Operator,
    UpstreamFailed,
    /// A sibling instance of a `fail_fast` matrix step failed first.
    FailFast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Open,
    HalfOpen,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DagAction {
    Retry,
    Skip,
    Cancel,
    /// A changed workflow applied to the run (`signalbox edit`).
    Edit,
}

/// What an edit changed, step by step (`dag_modified` with `action: edit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Step id -> the keys of its resolved definition that changed.
    pub changed: std::collections::BTreeMap<String, Vec<String>>,
    /// Started or finished steps run again with their new definition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rerun: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        workflow: String,
        steps: usize,
        resumed: bool,
    },
    RunFinished {
        status: RunStatus,
        duration_ms: u64,
    },
    StepReady {
        step: String,
    },
    StepStarted {
        step: String,
        attempt: u32,
        /// The pool and the worker it runs on, when it runs on a worker
        /// (SPEC §7).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pool: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        worker: Option<String>,
    },
    StepOutput {
        step: String,
        stream: Stream,
        line: String,
    },
    StepRetrying {
        step: String,
        attempt: u32,
        error: String,
        exit_code: Option<i32>,
        delay_ms: u64,
    },
    StepSucceeded {
        step: String,
        attempt: u32,
        duration_ms: u64,
        outputs: BTreeMap<String, String>,
        fallback: bool,
    },
    StepFailed {
        step: String,
        attempts: u32,
        error: String,
        exit_code: Option<i32>,
    },
    StepSkipped {
        step: String,
        reason: SkipReason,
        /// What caused it: the condition, the operator, or the need that failed.
        cause: String,
    },
    StepCancelled {
        step: String,
        reason: String,
        /// For `fail_fast`: the failed instance.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<String>,
    },
    ApprovalRequested {
        step: String,
        wait: String,
        prompt: String,
        timeout_ms: u64,
    },
    ApprovalResolved {
        step: String,
        wait: String,
        approved: bool,
        by: By,
        /// Who acted: the login name (SPEC §2); none for a timeout.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        waited_ms: u64,
    },
    /// An approval short of the `approvers` it needs; the wait stays open.
    ApprovalProgress {
        step: String,
        wait: String,
        by: By,
        user: String,
        /// Distinct users who have approved so far, this one included.
        approvals: u32,
        needed: u32,
    },
    QuestionAsked {
        step: String,
        wait: String,
        question: String,
        choices: Vec<String>,
        default: Option<String>,
    },
    QuestionAnswered {
        step: String,
        wait: String,
        answer: String,
        by: By,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        waited_ms: u64,
    },
    BreakerChanged {
        breaker: String,
        state: BreakerState,
        /// Set when an operator changed it (`signalbox breaker`, `B`);
        /// none when its own failures, cooldown or probes did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<By>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    DagModified {
        action: DagAction,
        steps: Vec<String>,
        by: By,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        /// For `edit`: N of `<run>/revisions/N.yaml`, now in force.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<u32>,
        /// For `edit`: the SHA-256 (hex) of that revision's bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
        /// For `edit`: what changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        diff: Option<Box<EditDiff>>,
    },
    /// A hook ran for event `on_seq` (see `engine::hooks`); it changes
    /// nothing else, and may come after `run_finished`.
    HookFinished {
        hook: String,
        on_seq: u64,
        exit_code: Option<i32>,
        error: Option<String>,
        duration_ms: u64,
    },
}

impl Event {
    /// The step this event is about, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Event::StepReady { step }
            | Event::StepStarted { step, .. }
            | Event::StepOutput { step, .. }
            | Event::StepRetrying { step, .. }
            | Event::StepSucceeded { step, .. }
            | Event::StepFailed { step, .. }
            | Event::StepSkipped { step, .. }
            | Event::StepCancelled { step, .. }
            | Event::ApprovalRequested { step, .. }
            | Event::ApprovalResolved { step, .. }
            | Event::ApprovalProgress { step, .. }
            | Event::QuestionAsked { step, .. }
            | Event::QuestionAnswered { step, .. } => Some(step),
            Event::RunStarted { .. }
            | Event::RunFinished { .. }
            | Event::BreakerChanged { .. }
            | Event::DagModified { .. }
            | Event::HookFinished { .. } => None,
        }
    }
}

/// What the operator (or a flag, or a script) asks of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Approve {
        step: String,
        by: By,
    },
    Reject {
        step: String,
        by: By,
    },
    Answer {
        step: String,
        text: String,
        by: By,
    },
    /// Run a failed step again, retry a backing-off step now, or reopen a
    /// wait that timed out.
    Retry {
        step: String,
        by: By,
    },
    Skip {
        step: String,
        by: By,
    },
    /// Cancel one step, or the whole run when `step` is `None`.
    Cancel {
        step: Option<String>,
        by: By,
    },
    /// Reset (close) or force open a named breaker.
    Breaker {
        breaker: String,
        action: BreakerAction,
        by: By,
    },
    /// Apply a changed workflow, or with `dry_run` only plan it.
    Edit(super::edit::EditAsk),
}

/// What an operator does to a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerAction {
    /// Close it: attempts go through again, the failure count starts anew.
    Reset,
    /// Open it for one cooldown, as if it had tripped now.
    Open,
}

/// Why a run did not take a command. A front end that asks (see
/// `RunHandle::request`) shows it; one that only sends never hears it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no step `{step}` in workflow `{workflow}`{hint}")]
    UnknownStep {
        step: String,
        workflow: String,
        /// ` (did you mean `x`?)`, or empty.
        hint: String,
    },
    #[error("step `{step}` runs a command: it has no approval or question")]
    NotAWait { step: String },
    #[error("step `{step}` has no open wait (status: {status})")]
    NotOpen { step: String, status: &'static str },
    #[error("the wait of `{step}` is already resolved")]
    AlreadyResolved { step: String },
    #[error("{user} has already approved `{step}` ({approvals} of {needed} approvals)")]
    AlreadyApproved {
        step: String,
        user: String,
        approvals: u32,
        needed: u32,
    },
    #[error("`{step}` needs an approval from someone other than {user}, who started the run")]
    SelfApproval { step: String, user: String },
    #[error("the wait of `{step}` has timed out")]
    TimedOut { step: String },
    #[error("`{step}` is an approval, not a question: approve or reject it")]
    AnswerToApproval { step: String },
    #[error(
        "`{step}` is a question, not an approval: answer it{}",
        one_of(choices)
    )]
    ApproveQuestion { step: String, choices: Vec<String> },
    #[error("`{answer}` is not one of the choices of `{step}`: {}", choices.join(", "))]
    NotAChoice {
        step: String,
        answer: String,
        choices: Vec<String>,
    },
    #[error("step `{step}` is neither failed nor backing off (status: {status})")]
    NotRetryable { step: String, status: &'static str },
    #[error("step `{step}` has already ended (status: {status})")]
    Ended { step: String, status: &'static str },
    #[error(
        "the answer to `{step}` holds a NUL byte, which no environment variable can carry: answer without it"
    )]
    AnswerHasNul { step: String },
    #[error(
        "the answer to `{step}` holds {len} bytes; an answer holds at most 64 KiB (65536 bytes): shorten it, or put it in a file and answer with its path"
    )]
    AnswerTooLong { step: String, len: usize },
    #[error("no breaker `{breaker}` in workflow `{workflow}`{hint}")]
    UnknownBreaker {
        breaker: String,
        workflow: String,
        /// ` (did you mean `x`?)`, `: it has no breakers`, or empty.
        hint: String,
    },
    #[error("breaker `{breaker}` is already closed: there is nothing to reset")]
    BreakerClosed { breaker: String },
    #[error("breaker `{breaker}` is already open (half-open in {left}): `reset` closes it")]
    BreakerOpen { breaker: String, left: String },
    #[error(
        "no instance of `{step}` {wanted} (the matrix step is {status}): name one instance, `{step}:KEY`, or wait"
    )]
    NoInstance {
        step: String,
        wanted: &'static str,
        status: &'static str,
    },
    #[error("the run is stopping")]
    Stopping,
    #[error("the run is over")]
    RunOver,
    /// An edit that cannot apply: the plan, with its errors.
    #[error("{}", .0.refusal())]
    Edit(Box<super::edit::Plan>),
}

/// The most an answer holds (SPEC §2). Every later `run` step gets it in
/// its environment, and Linux refuses to start a process with one string
/// over 128 KiB there ("Argument list too long"); 64 KiB leaves room.
pub const MAX_ANSWER: usize = 64 * 1024;

/// Whether `text` can be an answer to `step`: one that every later step's
/// environment can carry (no NUL byte, at most [`MAX_ANSWER`] bytes).
pub fn check_answer(step: &str, text: &str) -> Result<(), Refusal> {
    if text.len() > MAX_ANSWER {
        return Err(Refusal::AnswerTooLong {
            step: step.to_string(),
            len: text.len(),
        });
    }
    if text.contains('\0') {
        return Err(Refusal::AnswerHasNul {
            step: step.to_string(),
        });
    }
    Ok(())
}

/// The choice `answer` stands for: the same ignoring case and surrounding
/// spaces (SPEC §2 choices), as the workflow spells it.
pub fn match_choice<'a>(choices: &'a [String], answer: &str) -> Option<&'a str> {
    let answer = answer.trim().to_lowercase();
    choices
        .iter()
        .find(|c| c.trim().to_lowercase() == answer)
        .map(String::as_str)
}

fn one_of(choices: &[String]) -> String {
    if choices.is_empty() {
        String::new()
    } else {
        format!(" with one of {}", choices.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_the_spec_names() {
        let e = Envelope {
            seq: 3,
            ts: "2026-01-01T00:00:00Z".into(),
            run: "r".into(),
            event: Event::StepRetrying {
                step: "a".into(),
                attempt: 1,
                error: "exit code 1".into(),
                exit_code: Some(1),
                delay_ms: 250,
            },
        };
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(
            line,
            r#"{"seq":3,"ts":"2026-01-01T00:00:00Z","run":"r","type":"step_retrying","step":"a","attempt":1,"error":"exit code 1","exit_code":1,"delay_ms":250}"#
        );
        assert_eq!(serde_json::from_str::<Envelope>(&line).unwrap(), e);
        let b = serde_json::to_string(&Event::BreakerChanged {
            breaker: "r".into(),
            state: BreakerState::HalfOpen,
            by: None,
            user: None,
        })
        .unwrap();
        assert_eq!(
            b,
            r#"{"type":"breaker_changed","breaker":"r","state":"half_open"}"#
        );
    }

    #[test]
    fn an_answer_matches_a_choice_ignoring_case_and_surrounding_spaces() {
        let choices = ["Bug fixes".to_string(), "Ünïcode".to_string()];
        assert_eq!(match_choice(&choices, "  bug FIXES "), Some("Bug fixes"));
        assert_eq!(match_choice(&choices, "üNÏCODE"), Some("Ünïcode"));
        assert_eq!(match_choice(&choices, "bug  fixes"), None);
        assert_eq!(match_choice(&choices, ""), None);
    }

    #[test]
    fn an_answer_no_environment_can_carry_is_refused() {
        assert_eq!(check_answer("q", "fine"), Ok(()));
        assert_eq!(check_answer("q", &"x".repeat(MAX_ANSWER)), Ok(()));
        assert_eq!(
            check_answer("q", &"x".repeat(MAX_ANSWER + 1)),
            Err(Refusal::AnswerTooLong {
                step: "q".into(),
                len: MAX_ANSWER + 1
            })
        );
        assert_eq!(
            check_answer("q", "a\0b"),
            Err(Refusal::AnswerHasNul { step: "q".into() })
        );
    }
}
