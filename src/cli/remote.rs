//! `approve`, `reject`, `answer` and `breaker` from another terminal: one
//! command to a live run through its control socket (`by: socket` in the journal). Silent
//! and 0 when the run took it; the run's reason and 2 when it refused it
//! (no such step, no open wait, not one of the choices...); 1 when the run
//! could not be reached. Another user's run (`--allow`) is found by its
//! run id alone, through the socket its owner shares.

use std::path::PathBuf;

use clap::Args;

use super::exit;
use super::run::state_dir;
use crate::engine::event::BreakerAction;
use crate::engine::run_dir::RunDir;
use crate::engine::{By, Command};
use crate::socket::Reply;

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// A run id under the state dir, or a run folder.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The step whose approval or question to resolve.
    #[arg(value_name = "STEP")]
    pub step: String,
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AnswerArgs {
    #[command(flatten)]
    pub wait: WaitArgs,
    /// The answer.
    #[arg(value_name = "TEXT")]
    pub text: String,
}

#[derive(Debug, Args)]
pub struct BreakerArgs {
    /// A run id under the state dir, or a run folder.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The breaker, as the workflow's `breakers` names it.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// `reset` closes it; `open` opens it for one cooldown.
    #[arg(value_enum, value_name = "ACTION")]
    pub action: BreakerVerb,
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BreakerVerb {
    Reset,
    Open,
}

/// Sends `make(step)` to the run; 0 when the run took it.
pub fn send(args: WaitArgs, make: impl FnOnce(String) -> Command) -> u8 {
    let command = make(args.step);
    send_to(args.state_dir, &args.run, &command)
}

/// Sends `command` to run `run`: 0 taken, 2 refused, 1 unreachable.
fn send_to(state_dir: Option<PathBuf>, run: &str, command: &Command) -> u8 {
    // A run that is not there cannot be reached (SPEC §4: exit 1), like one
    // whose process is gone.
    let dir = match open_run(state_dir, run) {
        Ok(d) => d,
        Err(e) => {
            crate::safe::say!("error: {e}");
            return exit::FAILED;
        }
    };
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(crate::socket::send(&dir.path, command)) {
        Ok(Reply::Taken) => exit::OK,
        Ok(Reply::Refused(why)) => {
            crate::safe::say!("error: {why}");
            exit::INVALID
        }
        Err(e) => {
            crate::safe::say!("error: {}", unreachable(&dir).unwrap_or(e));
            exit::FAILED
        }
    }
}

/// The run `run` names (a run id under the state dir, or a run folder);
/// else, for a run id, another user's live run that shares its socket
/// (`--allow`): its folder is not for this user to read, only its socket.
pub(super) fn open_run(state: Option<PathBuf>, run: &str) -> Result<RunDir, String> {
    if run.is_empty() {
        return Err("no run named: give a run id (see `signalbox runs`) or a run folder".into());
    }
    let state = state_dir(state);
    let not_here = match RunDir::open(&state, run) {
        Ok(dir) => return Ok(dir),
        Err(e) => e.to_string(),
    };
    if run.contains('/') || run.starts_with('.') {
        return Err(not_here);
    }
    let path = state.join("runs").join(run);
    match crate::socket::locate(&path)? {
        Some(_) => Ok(RunDir::at(run.to_string(), path)),
        None => Err(not_here),
    }
}

/// Whether this user cannot read the run's journal: another user's run,
/// reached only through its socket.
pub(super) fn foreign(dir: &RunDir) -> bool {
    !dir.journal_path().is_file()
}

/// Why a run's socket does not answer, when its folder says: it ended, or
/// no process drives it any more.
pub(super) fn unreachable(dir: &RunDir) -> Option<String> {
    use crate::engine::event::{Envelope, Event};
    let last: Option<Envelope> = crate::engine::journal::last_event(&dir.journal_path()).ok()?;
    if let Some(Event::RunFinished { status, .. }) = last.map(|e| e.event) {
        let status = serde_json::to_value(status).ok()?;
        return Some(format!(
            "run {} is over ({}): it takes no more commands",
            dir.id,
            status.as_str()?
        ));
    }
    (!crate::engine::lock::RunLock::held(dir)).then(|| {
        format!(
            "run {} is not running (interrupted); `signalbox resume {}` picks it up",
            dir.id, dir.id
        )
    })
}

pub fn approve(args: WaitArgs) -> u8 {
    send(args, |step| Command::Approve {
        step,
        by: By::Socket,
    })
}

pub fn reject(args: WaitArgs) -> u8 {
    send(args, |step| Command::Reject {
        step,
        by: By::Socket,
    })
}

pub fn answer(args: AnswerArgs) -> u8 {
    let text = args.text;
    send(args.wait, |step| Command::Answer {
        step,
        text,
        by: By::Socket,
    })
}

pub fn breaker(args: BreakerArgs) -> u8 {
    let action = match args.action {
        BreakerVerb::Reset => BreakerAction::Reset,
        BreakerVerb::Open => BreakerAction::Open,
    };
    let command = Command::Breaker {
        breaker: args.name,
        action,
        by: By::Socket,
    };
    send_to(args.state_dir, &args.run, &command)
}
