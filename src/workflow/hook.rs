//! A loaded hook: which events run it and the command it runs. The engine's
//! `hooks` module runs it; this only says what it is.

use std::sync::Arc;
use std::time::Duration;

use super::template::Template;

/// The event types of SPEC §3 a hook may be `on`. `hook_finished` is an
/// event too, but a hook on it would feed itself, so it is refused.
pub const EVENT_TYPES: &[&str] = &[
    "run_started",
    "run_finished",
    "step_ready",
    "step_started",
    "step_output",
    "step_retrying",
    "step_succeeded",
    "step_failed",
    "step_skipped",
    "step_cancelled",
    "approval_requested",
    "approval_resolved",
    "approval_progress",
    "question_asked",
    "question_answered",
    "breaker_changed",
    "dag_modified",
];

/// A hook's timeout when it sets none.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Hook {
    /// As written, or `hook-N` (N its place in the list, from 1).
    pub name: String,
    /// Event types that run it.
    pub on: Vec<String>,
    /// Only events about these steps; a matrix step's id stands for all
    /// of its instances (`STEP:KEY`).
    pub steps: Option<Vec<String>>,
    /// `run` as written.
    pub text: String,
    /// `run` with each template turned into an environment-variable
    /// reference, as in a step's `run`; the same as `text` without any.
    pub command: String,
    /// The templates of `run`, whose values go into the environment.
    pub template: Template,
    pub timeout: Duration,
    /// `defaults.shell`, else `sh -c`.
    pub shell: Arc<[String]>,
    /// `defaults.kill_grace`, else 5s: between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
}

impl Hook {
    /// Whether an event of type `kind`, about `step` if any, runs this hook.
    pub fn wants(&self, kind: &str, step: Option<&str>) -> bool {
        if !self.on.iter().any(|o| o == kind) {
            return false;
        }
        let Some(only) = &self.steps else {
            return true;
        };
        let Some(step) = step else {
            return false;
        };
        only.iter().any(|id| {
            step == id
                || step
                    .strip_prefix(id.as_str())
                    .is_some_and(|rest| rest.starts_with(':'))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(on: &[&str], steps: Option<&[&str]>) -> Hook {
        Hook {
            name: "h".into(),
            on: on.iter().map(|s| s.to_string()).collect(),
            steps: steps.map(|s| s.iter().map(|s| s.to_string()).collect()),
            text: String::new(),
            command: String::new(),
            template: Template::default(),
            timeout: DEFAULT_HOOK_TIMEOUT,
            shell: Arc::from(vec!["sh".to_string(), "-c".to_string()]),
            kill_grace: Duration::from_secs(5),
        }
    }

    #[test]
    fn a_hook_wants_its_types_and_its_steps_and_their_instances() {
        let all = hook(&["step_failed"], None);
        assert!(all.wants("step_failed", Some("a")));
        assert!(!all.wants("step_succeeded", Some("a")));
        let some = hook(&["step_failed", "run_finished"], Some(&["build"]));
        assert!(some.wants("step_failed", Some("build")));
        assert!(some.wants("step_failed", Some("build:x86-release")));
        assert!(!some.wants("step_failed", Some("builder")));
        assert!(!some.wants("step_failed", Some("test")));
        assert!(
            !some.wants("run_finished", None),
            "no step: not one of them"
        );
    }
}
