//! `signalbox attach [RUN] [--read-only]`: the screen on a live run, through
//! its socket (`tui::attach`). Without RUN, the only live run in the state
//! dir; when there are several (or none), they are listed and it exits 2.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;

use super::exit;
use super::run::state_dir;
use crate::engine::run_dir::RunDir;
use crate::tui::model::ui::Role;

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// A live run's id under the state dir, or its folder (default: the only live run).
    #[arg(value_name = "RUN")]
    pub run: Option<String>,
    /// Watch only: this screen sends nothing to the run.
    #[arg(long)]
    pub read_only: bool,
    /// Where runs are kept (default: $SIGNALBOX_STATE_DIR, else .signalbox).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

pub fn attach(args: AttachArgs) -> u8 {
    let state = state_dir(args.state_dir);
    let dir = match &args.run {
        Some(run) => match super::remote::open_run(Some(state.clone()), run) {
            Ok(d) => d.path,
            Err(e) => {
                crate::safe::say!("error: {e}");
                return exit::FAILED;
            }
        },
        None => match only_live(&state) {
            Ok(dir) => dir,
            Err(code) => return code,
        },
    };
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        crate::safe::say!(
            "error: attach needs a terminal; `signalbox events RUN --follow` follows a run from a script"
        );
        return exit::INVALID;
    }
    // The screen's own diagnostics, where the run's go (when this user may).
    let _log = super::logging::state_dir(&state).ok();
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let role = match args.read_only {
        true => Role::ReadOnly,
        false => Role::Attached,
    };
    super::detach::screen(&runtime, &dir, role, None, &state)
}

/// The one live run in `state`; else they are listed (or their absence
/// said) and the exit code is 2.
fn only_live(state: &Path) -> Result<PathBuf, u8> {
    let mut live: Vec<(String, PathBuf)> = std::fs::read_dir(state.join("runs"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            let dir = RunDir::open(state, &e.file_name().to_string_lossy()).ok()?;
            crate::engine::lock::RunLock::held(&dir).then(|| (dir.id.clone(), path))
        })
        .collect();
    live.sort();
    match live.len() {
        1 => Ok(live.remove(0).1),
        0 => {
            crate::safe::say!(
                "error: no live run in {}; `signalbox runs` lists the runs kept there",
                state.display()
            );
            Err(exit::INVALID)
        }
        n => {
            let ids: Vec<String> = live
                .iter()
                .map(|(id, _)| format!("  {}", crate::safe::line(id)))
                .collect();
            crate::safe::say!(
                "error: {n} runs are live; name one: signalbox attach RUN\n{}",
                ids.join("\n")
            );
            Err(exit::INVALID)
        }
    }
}
