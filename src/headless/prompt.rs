//! The headless prompt: open waits asked one at a time on the terminal
//! (`by: prompt`), highest priority first.

use std::io::IsTerminal;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::Asking;
use crate::engine::event::{check_answer, match_choice};
use crate::engine::{By, Command, Event, Published, RunHandle};
use crate::safe;

mod four_eyes;
use four_eyes::Gate;
pub use four_eyes::four_eyes;

/// Asks open waits one at a time on the terminal.
pub(super) struct Prompter {
    handle: RunHandle,
    /// Open waits in the order they are asked.
    queue: Vec<Wait>,
    asking: Option<String>,
    /// The prompt left on the terminal's last line, not yet ended by Enter:
    /// whatever is printed next must first erase it.
    shown: Option<String>,
    order: Asking,
    /// Input ended: nothing is asked any more.
    closed: bool,
    /// Who answers here: the user running signalbox, as the run journals
    /// what the prompt sends.
    user: String,
    /// A resumed run's gates: who approved each (by wait id) before.
    restored: std::collections::HashMap<String, Vec<String>>,
}

/// An open wait, with what the prompt needs to ask it and check the reply.
struct Wait {
    step: String,
    kind: Kind,
}

enum Kind {
    Approval(Gate),
    Question {
        choices: Vec<String>,
        /// What an empty answer takes, if anything.
        default: Option<String>,
    },
}

impl Prompter {
    /// The prompt for the events from seq `first` on (those before are
    /// in the journal already: a resumed run's).
    pub(super) fn start(
        handle: RunHandle,
        order: Asking,
        first: u64,
    ) -> (Prompter, mpsc::UnboundedReceiver<String>) {
        let restored = match first > 1 && !order.four_eyes.is_empty() {
            true => four_eyes::restored(&handle.dir.join("events.jsonl"), first),
            false => Default::default(),
        };
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
                shown: None,
                order,
                closed: false,
                user: crate::engine::who::login_name(nix::unistd::Uid::effective()),
                restored,
            },
            lines,
        )
    }

    /// Follows an event, printing its human `line` (if any) in place of the
    /// prompt, and the prompt of the wait being asked below it. No other
    /// wait is chosen here: see [`Prompter::ask_next`].
    pub(super) fn event(&mut self, p: &Arc<Published>, line: Option<&str>) {
        let note = self.follow(p);
        self.print(line);
        if let Some(note) = note {
            self.print(Some(&note));
        }
    }

    /// Prints a line that is no event's, in place of the prompt.
    pub(super) fn note(&mut self, line: &str) {
        self.print(Some(line));
    }

    /// Keeps the queue to the waits that are open; a line to add when the
    /// prompt cannot ask one (a gate refusing the user here).
    fn follow(&mut self, p: &Arc<Published>) -> Option<String> {
        match &p.envelope.event {
            Event::ApprovalRequested { step, wait, .. } if !self.order.skip.contains(step) => {
                return self.queue_approval(step, wait, &p.envelope.run);
            }
            Event::ApprovalProgress { step, user, .. } if *user == self.user => {
                self.drop_wait(step)
            }
            Event::ApprovalProgress { step, user, .. } => self.progress(step, user),
            Event::QuestionAsked {
                step,
                choices,
                default,
                ..
            } if !self.order.skip.contains(step) => self.queue_wait(
                step,
                Kind::Question {
                    choices: choices.clone(),
                    default: default.clone(),
                },
            ),
            Event::ApprovalResolved { step, .. }
            | Event::QuestionAnswered { step, .. }
            | Event::StepSkipped { step, .. }
            | Event::StepCancelled { step, .. }
            | Event::StepFailed { step, .. } => self.drop_wait(step),
            _ => {}
        }
        None
    }

    /// The wait of `step` is not asked here any more.
    fn drop_wait(&mut self, step: &str) {
        self.queue.retain(|w| w.step != *step);
        if self.asking.as_deref() == Some(step) {
            self.asking = None;
            discard_typed();
        }
    }

    fn queue_wait(&mut self, step: &str, kind: Kind) {
        let queued: Vec<&str> = self.queue.iter().map(|w| w.step.as_str()).collect();
        let at = queue_position(&queued, &self.order.priorities, step);
        let step = step.to_string();
        self.queue.insert(at, Wait { step, kind });
    }

    /// The terminal's input ended (Ctrl-D): no wait is asked here any more,
    /// and the operator is told where else to answer.
    pub(super) fn input_closed(&mut self) {
        self.closed = true;
        self.asking = None;
        let line = format!(
            "input closed: open waits are no longer asked here; answer them with \
             `signalbox approve|reject|answer {} STEP`",
            self.handle.run_id
        );
        self.print(Some(&line));
    }

    /// Erases the prompt when the run's events end, so that what is printed
    /// after them starts a line of its own.
    pub(super) fn end(&mut self) {
        self.asking = None;
        self.print(None);
    }

    /// Asks the first wait in the queue, unless one is being asked. Called
    /// once the events already queued are followed, so that waits that
    /// opened together are asked in priority order, not in the order their
    /// events happened to come in.
    pub(super) fn ask_next(&mut self) {
        if self.asking.is_none() && !self.closed {
            self.asking = self.queue.first().map(|w| w.step.clone());
            self.print(None);
        }
    }

    /// Prints `line` where the prompt was (erased on a terminal, ended
    /// elsewhere), then the prompt of the wait being asked, if any. Nothing
    /// is printed when there is no line and the prompt shown is still due.
    fn print(&mut self, line: Option<&str>) {
        let due = self.prompt();
        if line.is_none() && due == self.shown {
            return;
        }
        // On a terminal the prompt's line is erased; elsewhere it is ended.
        let erase = self.shown.is_some() && std::io::stderr().is_terminal();
        let mut text = String::new();
        if self.shown.is_some() && !erase {
            text.push('\n');
        }
        if let Some(line) = line {
            text.push_str(&safe::line(line));
            text.push('\n');
        }
        text.push_str(due.as_deref().unwrap_or_default());
        let control = erase.then_some(safe::Control::EraseLine);
        safe::write(safe::Stream::Stderr, control, format_args!("{text}"));
        self.shown = due;
    }

    /// The prompt of the wait being asked, if any.
    fn prompt(&self) -> Option<String> {
        let asking = self.asking.as_deref()?;
        self.queue
            .iter()
            .find(|w| w.step == asking)
            .map(Wait::prompt)
    }

    /// A line typed at the prompt answers the wait being asked; a reply
    /// that cannot resolve it asks the same wait again.
    pub(super) fn answer(&mut self, line: String) {
        // Enter ended the prompt's line.
        self.shown = None;
        let Some(step) = self.asking.take() else {
            return;
        };
        let Some(wait) = self.queue.iter().find(|w| w.step == step) else {
            return;
        };
        match wait.reply(line) {
            Ok(command) => {
                // Answered: not asked again while the engine resolves it,
                // whatever other events come first.
                self.queue.retain(|w| w.step != step);
                self.handle.send(command);
            }
            Err(problem) => {
                self.asking = Some(step);
                self.print(Some(&problem));
            }
        }
    }
}

impl Wait {
    /// What the prompt shows, every control character escaped.
    fn prompt(&self) -> String {
        safe::line(&self.raw_prompt()).into_owned()
    }

    fn raw_prompt(&self) -> String {
        let step = &self.step;
        let Kind::Question { choices, default } = &self.kind else {
            return format!("approve {step}? {}[y/n] ", self.gate_text());
        };
        let mut hints = Vec::new();
        if !choices.is_empty() {
            hints.push(choices.join(" | "));
        }
        if default.is_some() {
            hints.push("empty takes the default".to_string());
        }
        match hints.is_empty() {
            true => format!("answer for {step}: "),
            false => format!("answer for {step} ({}): ", hints.join("; ")),
        }
    }

    /// The command a typed line stands for, or why it stands for none.
    /// Nothing is sent that
    /// the engine would ignore: the wait would stay open with no one asking.
    fn reply(&self, line: String) -> Result<Command, String> {
        let step = self.step.clone();
        let by = By::Prompt;
        let Kind::Question { choices, default } = &self.kind else {
            return match line.trim().to_ascii_lowercase().as_str() {
                "y" | "yes" => Ok(Command::Approve { step, by }),
                "n" | "no" => Ok(Command::Reject { step, by }),
                _ => Err("y approves, n rejects".to_string()),
            };
        };
        if line.is_empty() {
            // An empty answer takes the default: sent as an answer, since
            // the run refuses to approve a question.
            return match default {
                Some(text) => Ok(Command::Answer {
                    step,
                    text: text.clone(),
                    by,
                }),
                None => Err(format!("{step} has no default: an answer is needed")),
            };
        }
        if !choices.is_empty() && match_choice(choices, &line).is_none() {
            return Err(format!("\"{line}\" is not one of the choices"));
        }
        // Refused here too, so that the same wait is asked again.
        check_answer(&step, &line).map_err(|refusal| refusal.to_string())?;
        Ok(Command::Answer {
            step,
            text: line,
            by,
        })
    }
}

/// Drops what was typed at a prompt whose wait closed some other way (from
/// another terminal, by its timeout): the terminal holds a line until Enter,
/// and it would otherwise become the start of the answer to the next wait.
fn discard_typed() {
    if std::io::stdin().is_terminal()
        && let Err(e) =
            nix::sys::termios::tcflush(std::io::stdin(), nix::sys::termios::FlushArg::TCIFLUSH)
    {
        tracing::debug!("cannot discard typed input: {e}");
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
mod tests;
