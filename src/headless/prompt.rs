//! The headless prompt: open waits asked one at a time on the terminal
//! (`by: prompt`), highest priority first.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::Asking;
use crate::engine::{By, Command, Event, Published, RunHandle};

/// Asks open waits one at a time on the terminal.
pub(super) struct Prompter {
    handle: RunHandle,
    /// Open waits in the order they are asked: (step, is approval, choices).
    queue: Vec<(String, bool, Vec<String>)>,
    asking: Option<String>,
    order: Asking,
}

impl Prompter {
    pub(super) fn start(
        handle: RunHandle,
        order: Asking,
    ) -> (Prompter, mpsc::UnboundedReceiver<String>) {
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

    pub(super) fn event(&mut self, p: &Arc<Published>) {
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
    pub(super) fn prompt(&self) -> Option<String> {
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
    pub(super) fn answer(&mut self, line: String) {
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
