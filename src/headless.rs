//! The headless front end: runs a workflow without a screen, for scripts and
//! CI. Human lines go to stderr, one per step change; `--json` puts the
//! journal's lines on stdout and nothing else there. With a terminal on
//! stdin, open waits are asked at a prompt; without one, each says the
//! command that decides it. A failed run's last line names its failed
//! steps and their logs.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::engine::{Envelope, Event, Published, RunHandle, Subscription};
use crate::safe;

mod lines;
mod pools;
mod prompt;
pub use pools::of_steps as step_pools;
pub use prompt::four_eyes;
mod summary;

use prompt::Prompter;
pub use prompt::can_prompt;

/// What the headless runner prints.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    /// Ask open waits on the terminal (`by: prompt`).
    pub prompt: bool,
    /// With no prompt, say under each wait that opens how to decide it
    /// from another terminal (not under `--auto-approve`: nothing waits).
    pub hint: bool,
}

/// What the prompt asks, and in which order.
#[derive(Debug, Clone, Default)]
pub struct Asking {
    /// Steps whose waits a flag resolves: never asked.
    pub skip: Vec<String>,
    /// Each step's `priority`: open waits are asked highest first, then in
    /// the order they opened, like the screen's wait queue.
    pub priorities: std::collections::HashMap<String, i64>,
    /// Four-eyes gates: step id -> (`approvers`, `self_approve`), see
    /// [`prompt::four_eyes`]; a plain gate is not in it.
    pub four_eyes: std::collections::HashMap<String, (u32, bool)>,
    /// Each pool step's pool ([`step_pools`]): the run's lines about its
    /// workers name the steps that wait for one.
    pub pools: std::collections::HashMap<String, String>,
}

/// Events printed in one go before the prompt chooses a wait: a bound, so
/// that a run printing faster than the terminal cannot keep a typed answer
/// waiting.
const BATCH: usize = 1024;

/// Whether a write of the printer can stall for as long as a reader
/// pleases: stderr, or stdout under `--json`, is a pipe or a socket. A
/// terminal, a file or `/dev/null` takes its lines at once.
pub fn output_may_stall(json: bool) -> bool {
    use nix::sys::stat::{SFlag, fstat};
    let stalls = |fd: std::os::fd::BorrowedFd<'_>| {
        fstat(fd).map_or(true, |st| {
            let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
            kind == SFlag::S_IFIFO || kind == SFlag::S_IFSOCK
        })
    };
    use std::os::fd::AsFd;
    stalls(std::io::stderr().as_fd()) || (json && stalls(std::io::stdout().as_fd()))
}

/// Prints events until the run's stream ends.
pub async fn print_events(
    mut events: Subscription,
    out: Output,
    handle: RunHandle,
    mut asking: Asking,
) {
    let mut remote = pools::Watch::new(handle.remote(), std::mem::take(&mut asking.pools));
    let hint = (out.hint && !out.prompt).then(|| {
        let flag = summary::state_flag(&handle.dir, &summary::default_state_dir());
        (flag, asking.skip.clone())
    });
    let run_dir = handle.dir.clone();
    let (prompter, mut lines) = match out.prompt {
        true => {
            let (p, lines) = Prompter::start(handle, asking, events.first_seq());
            (Some(p), Some(lines))
        }
        false => (None, None),
    };
    let mut printer = Printer {
        json: out.json,
        prompter,
        failures: summary::Failures::default(),
        run_dir,
        hint,
    };
    loop {
        let first = tokio::select! {
            p = events.recv() => match p {
                Some(p) => p,
                None => break,
            },
            line = next_line(&mut lines) => {
                match (line, printer.prompter.as_mut()) {
                    (Some(line), Some(pr)) => pr.answer(line),
                    // Ctrl-D: nothing more will be typed here.
                    (None, Some(pr)) => {
                        lines = None;
                        pr.input_closed();
                    }
                    (_, None) => {}
                }
                continue;
            }
            () = pools::wake(&mut remote) => {
                printer.say_pools(remote.as_mut());
                continue;
            }
        };
        if let Some(r) = remote.as_mut() {
            r.event(&first.envelope.event);
        }
        printer.print(&first);
        // Waits that opened together have their events queued together:
        // all of them are followed before one is chosen to be asked.
        for _ in 1..BATCH {
            match events.try_recv() {
                Ok(p) => {
                    if let Some(r) = remote.as_mut() {
                        r.event(&p.envelope.event);
                    }
                    printer.print(&p);
                }
                Err(_) => break,
            }
        }
        printer.say_pools(remote.as_mut());
        if let Some(pr) = printer.prompter.as_mut() {
            pr.ask_next();
        }
    }
    if let Some(pr) = printer.prompter.as_mut() {
        pr.end();
    }
}

/// What prints the events, and what it remembers for the lines it adds.
struct Printer {
    json: bool,
    prompter: Option<Prompter>,
    failures: summary::Failures,
    run_dir: Arc<std::path::Path>,
    /// With no prompt to ask waits at: the `--state-dir` part of the hint
    /// commands, and the steps a flag resolves (no hint for those).
    hint: Option<(String, Vec<String>)>,
}

impl Printer {
    /// Prints an event: its JSON line on stdout with `--json`, its human
    /// line on stderr, in place of the prompt if one is showing.
    fn print(&mut self, p: &Arc<Published>) {
        if self.json {
            safe::write_exact(format!("{}\n", safe::json_line(&p.line)).as_bytes());
        }
        self.failures.follow(&p.envelope.event);
        let mut line = human_line(p);
        if let Some(l) = &line
            && let Some(last) = self.failures.last_line(p, l, &self.run_dir)
        {
            line = Some(last);
        }
        match self.prompter.as_mut() {
            Some(pr) => pr.event(p, line.as_deref()),
            None => {
                if let Some(line) = line {
                    safe::say!("{line}");
                }
                if let Some(hint) = self.hint(p) {
                    safe::say!("{hint}");
                }
            }
        }
    }

    /// The lines due about the run's pools and its server, on stderr (in
    /// place of the prompt if one is showing), also under `--json`.
    fn say_pools(&mut self, remote: Option<&mut pools::Watch>) {
        for line in remote.map(pools::Watch::lines).unwrap_or_default() {
            match self.prompter.as_mut() {
                Some(pr) => pr.note(&line),
                None => safe::say!("{line}"),
            }
        }
    }

    /// How to decide a wait that opened, when nothing here will ask it.
    fn hint(&self, p: &Published) -> Option<String> {
        let (flag, skip) = self.hint.as_ref()?;
        let step = p.envelope.event.step()?;
        if skip.iter().any(|s| s == step) {
            return None;
        }
        summary::wait_hint(&p.envelope.event, &p.envelope.run, flag)
    }
}

/// One readable line for an event, or none for the envelope-only ones:
/// safe for a terminal, every control character in it shown escaped.
pub fn human_line(p: &Published) -> Option<String> {
    // A hook changes nothing in the run: its end is journaled and logged,
    // and shown on the screen's log, not told here (a `run_finished`
    // hook's end comes after the run's last line, which names its result).
    if matches!(p.envelope.event, Event::HookFinished { .. }) {
        return None;
    }
    envelope_line(&p.envelope)
}

/// [`human_line`] of an event not (or no longer) kept with its journal line.
pub fn envelope_line(e: &Envelope) -> Option<String> {
    let raw = lines::raw_line(e)?;
    let escaped = match safe::line(&raw) {
        std::borrow::Cow::Owned(escaped) => Some(escaped),
        std::borrow::Cow::Borrowed(_) => None,
    };
    Some(escaped.unwrap_or(raw))
}

async fn next_line(lines: &mut Option<mpsc::UnboundedReceiver<String>>) -> Option<String> {
    match lines {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
