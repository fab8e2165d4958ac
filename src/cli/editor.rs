//! What `edit` needs besides the run: the operator's editor on a scratch
//! copy of the workflow, and the plan of an edit to a run no process
//! drives.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::engine::edit::{EditAsk, Plan};
use crate::engine::run_dir::{self as params, RunDir};
use crate::engine::{EngineError, Run, RunOptions};

/// A new file under `<state>/edits/`, readable by this user alone, holding
/// `text`: what the editor opens.
pub(super) fn scratch(state: &Path, run: &str, text: &[u8]) -> Result<PathBuf, String> {
    let folder = state.join("edits");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&folder)
        .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let path = folder.join(format!("{run}.{}.{stamp}.yaml", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(text)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Opens the editor on `file` and waits for it; an error when it cannot
/// start or does not exit 0 (the edit is then abandoned).
pub(super) fn open(file: &Path) -> Result<(), String> {
    // The same choice as the screen's `e`.
    let words = crate::tui::editor::from_env();
    let Some((program, args)) = words.split_first() else {
        return Err("no editor: set $VISUAL or $EDITOR".to_string());
    };
    let status = std::process::Command::new(program)
        .args(args)
        .arg(file)
        .status()
        .map_err(|e| {
            format!("cannot start the editor `{program}`: {e} (set $VISUAL or $EDITOR)")
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the editor `{program}` exited with {status}: the edit is abandoned"
        ))
    }
}

/// The plan of `ask` against the run in `dir`, which no process drives:
/// its state rebuilt from the journal, nothing written.
pub(super) fn plan_here(dir: &RunDir, state: &Path, ask: &EditAsk) -> Result<Plan, String> {
    let load = |path: &Path| -> Result<crate::workflow::Workflow, String> {
        let mut wf = crate::workflow::load(path).map_err(|d| d.to_string())?;
        let folder = path.parent().unwrap_or(Path::new("."));
        if let Some(kept) = params::read_params(folder)? {
            for (k, v) in &kept.vars {
                wf.set_var(k, v)?;
            }
        }
        Ok(wf)
    };
    let vars = params::read_params(&dir.path)?
        .map(|p| p.vars)
        .unwrap_or_default();
    let options = RunOptions {
        state_dir: state.to_path_buf(),
        vars,
        ..Default::default()
    };
    let ask = EditAsk {
        dry_run: true,
        ..ask.clone()
    };
    let run = dir.path.to_string_lossy().into_owned();
    let runtime = super::runtime().map_err(|_| "cannot start the runtime".to_string())?;
    let planned = runtime.block_on(async { Run::edit(&run, options, load, ask) });
    match planned {
        Ok((_, plan)) => Ok(plan),
        Err(EngineError::Resume(message)) => Err(message),
        Err(e) => Err(e.to_string()),
    }
}
