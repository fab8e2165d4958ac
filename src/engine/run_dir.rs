//! The run folder, `<state-dir>/runs/<run-id>/`: what a run keeps besides
//! its journal. `workflow.yaml` (the file as run), `run.json` (where and
//! with which `--var` values it started, and whom `--allow` let in), `pids` (each attempt's process
//! group), `outputs/<step>`, `logs/<step>.log` and `revisions/N.yaml`
//! (each applied edit's workflow). Everything in it is
//! private to its owner (SPEC §6) and opened through the folder's own
//! descriptor ([`super::fsafe`]), never through a symlink.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::fsafe::{self, How};

mod outputs;
mod revisions;
pub use outputs::{MAX_OUTPUT_VALUE, MAX_OUTPUTS, Outputs, read_outputs};
pub use revisions::{revision_rel, sha256_hex};

/// A run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
    /// The folder itself, opened when the run began: files are opened
    /// relative to it, so the path swapped for a symlink mid-run is not
    /// followed. None for a folder only looked at; then each open starts
    /// from the path, still refusing a symlink in its place.
    pub fd: Option<Arc<OwnedFd>>,
}

impl RunDir {
    /// A run folder known only by its path.
    pub fn at(id: String, path: PathBuf) -> RunDir {
        RunDir { id, path, fd: None }
    }

    /// Creates a fresh run folder and keeps the workflow text in it.
    pub fn create(state_dir: &Path, workflow: &str, source: &str) -> io::Result<RunDir> {
        // The state dir is the user's choice: made if missing, never changed.
        if fs::symlink_metadata(state_dir).is_err() {
            fsafe::make_dir(state_dir)?;
        }
        let state = fsafe::open_dir(state_dir)?;
        fsafe::make_dir_in(&state, "runs")?;
        let runs_fd = fsafe::open_in_dir(&state, "runs")?;
        let runs = state_dir.join("runs");
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let stamp: String = stamp.chars().filter(char::is_ascii_digit).collect();
        let (date, time) = stamp.split_at(8.min(stamp.len()));
        loop {
            let suffix: u16 = rand::random();
            let id = format!("{workflow}-{date}-{time}-{suffix:04x}");
            let path = runs.join(&id);
            let mode = nix::sys::stat::Mode::from_bits_truncate(fsafe::DIR_MODE);
            match nix::sys::stat::mkdirat(&runs_fd, id.as_str(), mode) {
                Ok(()) => {
                    let fd = fsafe::open_in_dir(&runs_fd, &id)?;
                    fsafe::make_dir_in(&fd, "logs")?;
                    fsafe::make_dir_in(&fd, "outputs")?;
                    let dir = RunDir {
                        id,
                        path,
                        fd: Some(Arc::new(fd)),
                    };
                    dir.write_atomic("workflow.yaml", source.as_bytes())?;
                    return Ok(dir);
                }
                Err(nix::errno::Errno::EEXIST) => continue,
                Err(e) => return Err(io::Error::from_raw_os_error(e as i32)),
            }
        }
    }

    /// Opens `rel` inside the folder, following no symlink (see [`fsafe`]).
    pub fn open_file(&self, rel: &str, how: How) -> io::Result<File> {
        match &self.fd {
            Some(fd) => fsafe::open_in(fd.as_ref(), Path::new(rel), how),
            None => fsafe::open_in(&fsafe::open_dir(&self.path)?, Path::new(rel), how),
        }
    }

    /// Writes `rel` whole (a temporary file, then a rename): never a
    /// half-written file.
    pub fn write_atomic(&self, rel: &str, bytes: &[u8]) -> io::Result<()> {
        let tmp = format!("{rel}.tmp");
        let mut f = self.open_file(&tmp, How::Replace)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        let held;
        let dir = match &self.fd {
            Some(fd) => fd.as_ref(),
            None => {
                held = fsafe::open_dir(&self.path)?;
                &held
            }
        };
        nix::fcntl::renameat(dir, tmp.as_str(), dir, rel)
            .map_err(|e| io::Error::from_raw_os_error(e as i32))
    }

    /// Makes the folder and its `logs/` and `outputs/` private again (`0700`):
    /// a run made under the umask by an older version, resumed now.
    pub fn make_private(&self) -> io::Result<()> {
        let held;
        let dir = match &self.fd {
            Some(fd) => fd.as_ref(),
            None => {
                held = fsafe::open_dir(&self.path)?;
                &held
            }
        };
        let mode = nix::sys::stat::Mode::from_bits_truncate(fsafe::DIR_MODE);
        nix::sys::stat::fchmod(dir, mode).map_err(|e| io::Error::from_raw_os_error(e as i32))?;
        fsafe::make_dir_in(dir, "logs")?;
        fsafe::make_dir_in(dir, "outputs")?;
        // Opening a file makes it private (a symlink, or the socket, is
        // not opened, and stays as it is).
        for sub in ["", "logs", "outputs"] {
            let Ok(names) = fs::read_dir(self.path.join(sub)) else {
                continue;
            };
            for name in names.flatten().map(|e| e.file_name()) {
                let rel = Path::new(sub).join(name);
                let _ = fsafe::open_in(dir, &rel, How::Read);
            }
        }
        Ok(())
    }

    /// The step's log, `logs/<step>.log`, opened for appending.
    pub fn open_log(&self, step: &str) -> io::Result<File> {
        self.open_file(&format!("logs/{step}.log"), How::Append)
    }

    pub fn journal_path(&self) -> PathBuf {
        self.path.join("events.jsonl")
    }

    pub fn log_path(&self, step: &str) -> PathBuf {
        self.path.join("logs").join(format!("{step}.log"))
    }

    /// The file a step writes `key=value` lines to (`SIGNALBOX_OUTPUT`).
    pub fn output_path(&self, step: &str) -> PathBuf {
        self.path.join("outputs").join(step)
    }
}

/// Removes the folder of a run that never began (its journal is empty), so
/// a run refused at the start leaves nothing to resume.
pub fn discard_if_unstarted(dir: &Path) {
    if fs::symlink_metadata(dir.join("events.jsonl")).is_ok_and(|m| m.len() == 0) {
        let _ = fs::remove_dir_all(dir);
    }
}

/// `<run>/run.json`: what a run started with besides its workflow, so a
/// resumed run goes on the same way: the folder its steps run in and its
/// `--var` overrides, and whom `--allow` lets reach it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Params {
    pub workdir: PathBuf,
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<super::allow::Allowed>,
    /// The run's trace id (32 hex digits), chosen when it started, so a
    /// resumed run goes on in the same trace (SPEC §8). None in a folder
    /// made before traces were: see [`Params::trace`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The span the run joined (`TRACEPARENT` when it started): its run
    /// span's parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_parent: Option<String>,
    /// The NATS server the run's pool steps go to (SPEC §7), so a resumed
    /// run goes on with the same one. Kept by the front end that connects;
    /// never one with a password in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<String>,
}

impl Params {
    /// The trace of run `run_id`: the kept trace id, else one derived from
    /// the run id; and the span it joined, if any.
    pub fn trace(
        params: Option<&Params>,
        run_id: &str,
    ) -> (super::trace_ctx::TraceId, Option<super::trace_ctx::SpanId>) {
        use super::trace_ctx::{SpanId, TraceId};
        let kept = params.and_then(|p| p.trace_id.as_deref().and_then(TraceId::parse));
        let parent = params.and_then(|p| p.trace_parent.as_deref().and_then(SpanId::parse));
        (kept.unwrap_or_else(|| TraceId::derived(run_id)), parent)
    }
}

pub fn params_path(dir: &Path) -> PathBuf {
    dir.join("run.json")
}

/// Keeps a run's [`Params`] in its folder (written whole, or not at all).
pub fn write_params(dir: &Path, params: &Params) -> io::Result<()> {
    let text = serde_json::to_string_pretty(params).map_err(io::Error::other)?;
    RunDir::at(String::new(), dir.to_path_buf())
        .write_atomic("run.json", format!("{text}\n").as_bytes())
}

/// A run's [`Params`]; none for a run folder without them.
pub fn read_params(dir: &Path) -> Result<Option<Params>, String> {
    let path = params_path(dir);
    let read = fsafe::read_text(&path);
    match read {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// `<run>/pids`: a `step pgid` line for every attempt's process group, so a
/// resumed run can kill what survived a crash. Appended, never rewritten:
/// one small write per spawn, no file made or removed per step.
pub fn pids_path(dir: &RunDir) -> PathBuf {
    dir.path.join("pids")
}

/// Appends one `step pgid` line (one `write`, so lines never interleave).
pub fn record_pgid(mut pids: &File, step: &str, pgid: i32) -> io::Result<()> {
    pids.write_all(format!("{step} {pgid}\n").as_bytes())
}

/// The last process group recorded for each step.
pub fn recorded_pgids(dir: &RunDir) -> std::collections::HashMap<String, i32> {
    // Not `fs::read_to_string`: a FIFO planted here must not block resume.
    let text = fsafe::read_text(&pids_path(dir)).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(step, pgid)| Some((step.to_string(), pgid.parse().ok()?)))
        .collect()
}

impl RunDir {
    /// Opens an existing run folder: a path, or a run id under `state_dir`.
    pub fn open(state_dir: &Path, run: &str) -> io::Result<RunDir> {
        let as_path = Path::new(run);
        let path = if as_path.join("events.jsonl").is_file() {
            as_path.to_path_buf()
        } else {
            state_dir.join("runs").join(run)
        };
        if !path.join("events.jsonl").is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no run `{run}`: neither a run folder nor a run id under {}",
                    state_dir.join("runs").display()
                ),
            ));
        }
        let id = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Held for a run that is resumed; a folder that is a symlink gets none,
        // and every open in it then fails.
        let fd = fsafe::open_dir(&path).ok().map(Arc::new);
        Ok(RunDir { id, path, fd })
    }
}
