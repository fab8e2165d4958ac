//! The headless front end: runs a workflow without a screen, for scripts and
//! CI. Human lines go to stderr, one per step change; `--json` puts the
//! journal's lines on stdout and nothing else there. With a terminal on
//! stdin, open waits are asked at a prompt.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::engine::event::SkipReason;
use crate::engine::{By, Command, Event, Published, RunHandle, RunStatus, Subscription};
use crate::workflow::duration;

/// What the headless runner prints.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    /// Ask open waits on the terminal (`by: prompt`).
    pub prompt: bool,
}

/// What the prompt asks, and in which order.
#[derive(Debug, Clone, Default)]
pub struct Asking {
    /// Steps whose waits a flag resolves: never asked.
    pub skip: Vec<String>,
    /// Each step's `priority`: open waits are asked highest first, then in
    /// the order they opened, like the screen's wait queue.
    pub priorities: std::collections::HashMap<String, i64>,
}

/// Prints events until the run's stream ends.
pub async fn print_events(
    mut events: Subscription,
    out: Output,
    handle: RunHandle,
    asking: Asking,
) {
    let (mut prompter, mut lines) = match out.prompt {
        true => {
            let (p, lines) = Prompter::start(handle, asking);
            (Some(p), Some(lines))
        }
        false => (None, None),
    };
    let stdout = std::io::stdout();
    loop {
        let p = tokio::select! {
            p = events.recv() => match p {
                Some(p) => p,
                None => break,
            },
            Some(line) = next_line(&mut lines) => {
                if let Some(pr) = prompter.as_mut() {
                    pr.answer(line);
                }
                continue;
            }
        };
        if out.json {
            let mut lock = stdout.lock();
            let _ = writeln!(lock, "{}", p.line);
            let _ = lock.flush();
        }
        if let Some(line) = human_line(&p) {
            match prompter.as_ref().and_then(Prompter::prompt) {
                // A prompt is showing: the line takes its place (on a
                // terminal the prompt is erased first) and the prompt is
                // shown again below it.
                Some(prompt) => {
                    let erase = if std::io::stderr().is_terminal() {
                        "\r\x1b[2K"
                    } else {
                        "\n"
                    };
                    eprint!("{erase}{line}\n{prompt}");
                    let _ = std::io::stderr().flush();
                }
                None => eprintln!("{line}"),
            }
        }
        if let Some(pr) = prompter.as_mut() {
            pr.event(&p);
        }
    }
}

/// One readable line for an event, or none for the envelope-only ones.
pub fn human_line(p: &Published) -> Option<String> {
    let ms = |m: u64| duration::human(std::time::Duration::from_millis(m));
    Some(match &p.envelope.event {
        Event::RunStarted {
            workflow,
            steps,
            resumed,
        } => {
            let verb = if *resumed { "resumed" } else { "started" };
            format!("run {} {verb}: {workflow}, {steps} steps", p.envelope.run)
        }
        Event::RunFinished {
            status,
            duration_ms,
        } => {
            format!(
                "run {} {} in {}",
                p.envelope.run,
                status_word(*status),
                ms(*duration_ms)
            )
        }
        Event::StepReady { .. } => return None,
        Event::StepStarted { step, attempt: 1 } => format!("▸ {step} started"),
        Event::StepStarted { step, attempt } => format!("▸ {step} started (attempt {attempt})"),
        Event::StepOutput { step, line, .. } => format!("  {step} │ {}", printable(line)),
        Event::StepRetrying {
            step,
            attempt,
            error,
            delay_ms,
            ..
        } => {
            format!(
                "↻ {step} attempt {attempt} failed ({error}); retrying in {}",
                ms(*delay_ms)
            )
        }
        Event::StepSucceeded {
            step,
            duration_ms,
            fallback: true,
            ..
        } => {
            format!(
                "✓ {step} succeeded with its fallback after {}",
                ms(*duration_ms)
            )
        }
        Event::StepSucceeded {
            step, duration_ms, ..
        } => format!("✓ {step} succeeded in {}", ms(*duration_ms)),
        Event::StepFailed {
            step,
            attempts,
            error,
            ..
        } => {
            let s = if *attempts == 1 { "" } else { "s" };
            format!("✗ {step} failed after {attempts} attempt{s}: {error}")
        }
        Event::StepSkipped {
            step,
            reason,
            cause,
        } => match reason {
            SkipReason::Operator => format!("- {step} skipped by the operator"),
            SkipReason::Condition => format!("- {step} skipped: `{cause}` is false"),
            SkipReason::UpstreamFailed => {
                format!("- {step} skipped: it needs {cause}, which did not succeed")
            }
        },
        Event::StepCancelled { step, reason } => format!("⊘ {step} cancelled ({reason})"),
        Event::ApprovalRequested {
            step,
            prompt,
            timeout_ms,
            ..
        } => {
            format!(
                "◆ {step} waits for approval: {prompt} (times out in {})",
                ms(*timeout_ms)
            )
        }
        Event::ApprovalResolved {
            step, approved, by, ..
        } => {
            let verdict = if *approved { "approved" } else { "rejected" };
            format!("◆ {step} {verdict} by {}", by_word(*by))
        }
        Event::QuestionAsked {
            step,
            question,
            choices,
            default,
            ..
        } => {
            let mut line = format!("? {step} asks: {question}");
            if !choices.is_empty() {
                line.push_str(&format!(" [{}]", choices.join(" | ")));
            }
            if let Some(d) = default {
                line.push_str(&format!(" (default: {d})"));
            }
            line
        }
        Event::QuestionAnswered {
            step, answer, by, ..
        } => format!("? {step} answered {answer:?} by {}", by_word(*by)),
        Event::BreakerChanged { breaker, state } => {
            let word = serde_json::to_value(state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("⊗ breaker {breaker} is {}", word.replace('_', "-"))
        }
        Event::DagModified { action, steps, by } => {
            let word = serde_json::to_value(action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("✎ {word} {} by {}", steps.join(", "), by_word(*by))
        }
    })
}

/// Step output without the control characters that would drive the
/// terminal (colours, cursor moves): a log line is text.
fn printable(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.chars().any(|c| c.is_control() && c != '\t') {
        return line.into();
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // CSI sequences: ESC [ ... up to a final byte in @..~
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.into()
}

fn status_word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Cancelled => "cancelled",
    }
}

fn by_word(by: By) -> &'static str {
    match by {
        By::Keyboard => "keyboard",
        By::Socket => "socket",
        By::Flag => "flag",
        By::Prompt => "prompt",
        By::Timeout => "timeout",
    }
}

async fn next_line(lines: &mut Option<mpsc::UnboundedReceiver<String>>) -> Option<String> {
    match lines {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Asks open waits one at a time on the terminal.
struct Prompter {
    handle: RunHandle,
    /// Open waits in the order they are asked: (step, is approval, choices).
    queue: Vec<(String, bool, Vec<String>)>,
    asking: Option<String>,
    order: Asking,
}

impl Prompter {
    fn start(handle: RunHandle, order: Asking) -> (Prompter, mpsc::UnboundedReceiver<String>) {
        let (tx, lines) = mpsc::unbounded_channel();
        // Reading stdin blocks; a plain thread does it and ends with the process.
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            let mut line = String::new();
            while stdin.read_line(&mut line).is_ok_and(|n| n > 0) {
                if tx
                    .send(line.trim_end_matches(['\n', '\r']).to_string())
                    .is_err()
                {
                    break;
                }
                line.clear();
            }
        });
        (
            Prompter {
                handle,
                queue: Vec::new(),
                asking: None,
                order,
            },
            lines,
        )
    }

    fn event(&mut self, p: &Arc<Published>) {
        match &p.envelope.event {
            Event::ApprovalRequested { step, .. } if !self.order.skip.contains(step) => {
                self.queue_wait(step, true, Vec::new())
            }
            Event::QuestionAsked { step, choices, .. } if !self.order.skip.contains(step) => {
                self.queue_wait(step, false, choices.clone())
            }
            Event::ApprovalResolved { step, .. }
            | Event::QuestionAnswered { step, .. }
            | Event::StepSkipped { step, .. }
            | Event::StepCancelled { step, .. }
            | Event::StepFailed { step, .. } => {
                self.queue.retain(|(s, _, _)| s != step);
                if self.asking.as_deref() == Some(step) {
                    self.asking = None;
                }
            }
            _ => {}
        }
        self.ask_next();
    }

    fn queue_wait(&mut self, step: &str, approval: bool, choices: Vec<String>) {
        let queued: Vec<&str> = self.queue.iter().map(|(s, ..)| s.as_str()).collect();
        let at = queue_position(&queued, &self.order.priorities, step);
        self.queue.insert(at, (step.to_string(), approval, choices));
    }

    fn ask_next(&mut self) {
        if self.asking.is_some() {
            return;
        }
        if let Some((step, ..)) = self.queue.first() {
            self.asking = Some(step.clone());
            if let Some(prompt) = self.prompt() {
                eprint!("{prompt}");
                let _ = std::io::stderr().flush();
            }
        }
    }

    /// The prompt being shown, if a wait is being asked.
    fn prompt(&self) -> Option<String> {
        let asking = self.asking.as_deref()?;
        let (step, approval, choices) = self.queue.iter().find(|(s, ..)| s == asking)?;
        Some(if *approval {
            format!("approve {step}? [y/n] ")
        } else if choices.is_empty() {
            format!("answer for {step} (empty takes the default): ")
        } else {
            format!("answer for {step} ({}): ", choices.join(" | "))
        })
    }

    /// A line typed at the prompt answers the wait being asked.
    fn answer(&mut self, line: String) {
        let Some(step) = self.asking.take() else {
            return;
        };
        let approval = self
            .queue
            .iter()
            .find(|(s, _, _)| *s == step)
            .is_some_and(|(_, a, _)| *a);
        let command = if approval {
            match line.trim().to_ascii_lowercase().as_str() {
                "y" | "yes" => Command::Approve {
                    step,
                    by: By::Prompt,
                },
                "n" | "no" => Command::Reject {
                    step,
                    by: By::Prompt,
                },
                _ => {
                    self.ask_next();
                    return;
                }
            }
        } else if line.is_empty() {
            Command::Approve {
                step,
                by: By::Prompt,
            }
        } else if self
            .queue
            .iter()
            .any(|(s, _, c)| *s == step && !c.is_empty() && !c.contains(&line))
        {
            eprintln!("{line:?} is not one of the choices");
            self.ask_next();
            return;
        } else {
            Command::Answer {
                step,
                text: line,
                by: By::Prompt,
            }
        };
        self.handle.send(command);
    }
}

/// Where a newly opened wait goes in the prompt's queue: behind those of
/// its priority and above.
fn queue_position(
    queued: &[&str],
    priorities: &std::collections::HashMap<String, i64>,
    step: &str,
) -> usize {
    let priority = |s: &str| priorities.get(s).copied().unwrap_or(0);
    let p = priority(step);
    queued
        .iter()
        .position(|s| priority(s) < p)
        .unwrap_or(queued.len())
}

/// True when waits can be asked on this terminal.
pub fn can_prompt() -> bool {
    std::io::stdin().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::queue_position;

    #[test]
    fn waits_are_asked_highest_priority_first_then_in_the_order_they_opened() {
        let priorities = [("urgent", 10), ("low", -1), ("later", 10)]
            .map(|(s, p)| (s.to_string(), p))
            .into();
        let mut queue: Vec<&str> = Vec::new();
        for step in ["plain", "low", "urgent", "other", "later"] {
            let at = queue_position(&queue, &priorities, step);
            queue.insert(at, step);
        }
        assert_eq!(queue, ["urgent", "later", "plain", "other", "low"]);
    }
}
