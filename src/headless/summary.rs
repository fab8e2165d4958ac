//! What the headless lines add for someone reading them later: the last
//! line of a failed run names each failed step, how it failed and its log
//! file (SPEC §4), and, with no terminal to prompt on, an open wait says
//! the command that decides it from another terminal.

use std::path::{Path, PathBuf};

use crate::engine::{Event, Published, RunStatus};

/// The failed steps so far, in the order they failed.
#[derive(Debug, Default)]
pub(super) struct Failures {
    /// (step, how it failed, whether a process ran).
    failed: Vec<(String, String, bool)>,
}

impl Failures {
    pub(super) fn follow(&mut self, event: &Event) {
        match event {
            Event::StepFailed {
                step,
                exit_code,
                error,
                ..
            } => {
                let how = match exit_code {
                    Some(code) => format!("exit {code}"),
                    None => error.clone(),
                };
                self.failed.retain(|(s, ..)| s != step);
                self.failed.push((step.clone(), how, exit_code.is_some()));
            }
            // Retried: it may not fail again.
            Event::StepStarted { step, .. } => self.failed.retain(|(s, ..)| s != step),
            _ => {}
        }
    }

    /// The line that ends a failed run, in place of `line`: `line` then
    /// `: 2 failed: test (exit 101, DIR/logs/test.log), gate (rejected)`.
    /// A step with no log file printed nothing, or ran no process.
    pub(super) fn last_line(&self, p: &Published, line: &str, run_dir: &Path) -> Option<String> {
        let Event::RunFinished {
            status: RunStatus::Failed,
            ..
        } = p.envelope.event
        else {
            return None;
        };
        if self.failed.is_empty() {
            return None;
        }
        let named: Vec<String> = self
            .failed
            .iter()
            .map(|(step, how, ran)| {
                let log = log_file(run_dir, step);
                match (log.is_file(), ran) {
                    (true, _) => format!("{step} ({how}, {})", log.display()),
                    (false, true) => format!("{step} ({how}, no output)"),
                    (false, false) => format!("{step} ({how})"),
                }
            })
            .collect();
        let line = format!(
            "✗ {line}: {} failed: {}",
            self.failed.len(),
            named.join(", ")
        );
        Some(crate::safe::line(&line).into_owned())
    }
}

/// `logs/<step>.log` of the run folder.
fn log_file(run_dir: &Path, step: &str) -> PathBuf {
    run_dir.join("logs").join(format!("{step}.log"))
}

/// The commands that decide a wait that just opened, from another terminal.
/// `state_flag` is ` --state-dir DIR` when the run's state dir is not the
/// one those commands would find by default, else empty.
pub(super) fn wait_hint(event: &Event, run: &str, state_flag: &str) -> Option<String> {
    let line = match event {
        Event::ApprovalRequested { step, .. } => format!(
            "  decide it from another terminal: signalbox approve {run} {step}{state_flag}  (or: signalbox reject {run} {step}{state_flag})"
        ),
        Event::QuestionAsked { step, .. } => format!(
            "  answer it from another terminal: signalbox answer {run} {step} TEXT{state_flag}"
        ),
        _ => return None,
    };
    Some(crate::safe::line(&line).into_owned())
}

/// ` --state-dir DIR` for a run in `run_dir`, unless `default` is its state
/// dir; DIR quoted for a POSIX shell where it needs it.
pub(super) fn state_flag(run_dir: &Path, default: &Path) -> String {
    let Some(state) = run_dir.parent().and_then(Path::parent) else {
        return String::new();
    };
    if state == default {
        return String::new();
    }
    format!(" --state-dir {}", shell_word(&state.to_string_lossy()))
}

/// The state dir `approve`/`answer` use without `--state-dir` (as
/// `cli::run::state_dir` decides it).
pub(super) fn default_state_dir() -> PathBuf {
    std::env::var_os("SIGNALBOX_STATE_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(".signalbox"), PathBuf::from)
}

/// `text` as one word of a POSIX shell command.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./-+=:,@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_dir_flag_only_when_needed_and_quoted() {
        let default = Path::new(".signalbox");
        assert_eq!(state_flag(Path::new(".signalbox/runs/r1"), default), "");
        assert_eq!(
            state_flag(Path::new("/tmp/s/runs/r1"), default),
            " --state-dir /tmp/s"
        );
        assert_eq!(
            state_flag(Path::new("/tmp/my state/runs/r1"), default),
            " --state-dir '/tmp/my state'"
        );
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    fn event(json: &str) -> Event {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_retried_step_is_no_longer_failed() {
        let mut f = Failures::default();
        f.follow(&event(
            r#"{"type":"step_failed","step":"a","attempts":1,"error":"exit code 1","exit_code":1}"#,
        ));
        f.follow(&event(
            r#"{"type":"step_failed","step":"b","attempts":1,"error":"rejected","exit_code":null}"#,
        ));
        assert_eq!(f.failed[1], ("b".into(), "rejected".into(), false));
        f.follow(&event(r#"{"type":"step_started","step":"a","attempt":1}"#));
        assert_eq!(f.failed.len(), 1);
    }
}
