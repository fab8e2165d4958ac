//! The run folder, `<state-dir>/runs/<run-id>/`: what a run keeps besides
//! its journal. `workflow.yaml` (the file as run), `run.json` (where and
//! with which `--var` values it started), `pids` (each attempt's process
//! group), `outputs/<step>` and `logs/<step>.log`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

mod outputs;
pub use outputs::{MAX_OUTPUT_VALUE, MAX_OUTPUTS, Outputs, read_outputs};

/// A run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a fresh run folder and keeps the workflow text in it.
    pub fn create(state_dir: &Path, workflow: &str, source: &str) -> io::Result<RunDir> {
        let runs = state_dir.join("runs");
        fs::create_dir_all(&runs)?;
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let stamp: String = stamp.chars().filter(char::is_ascii_digit).collect();
        let (date, time) = stamp.split_at(8.min(stamp.len()));
        loop {
            let suffix: u16 = rand::random();
            let id = format!("{workflow}-{date}-{time}-{suffix:04x}");
            let path = runs.join(&id);
            match fs::create_dir(&path) {
                Ok(()) => {
                    fs::create_dir_all(path.join("logs"))?;
                    fs::create_dir_all(path.join("outputs"))?;
                    write_atomic(&path.join("workflow.yaml"), source.as_bytes())?;
                    return Ok(RunDir { id, path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
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

/// Writes to a temporary file, then renames: never a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}

/// `<run>/run.json`: what a run started with besides its workflow, so a
/// resumed run goes on the same way: the folder its steps run in and its
/// `--var` overrides.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Params {
    pub workdir: PathBuf,
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
}

pub fn params_path(dir: &Path) -> PathBuf {
    dir.join("run.json")
}

/// Keeps a run's [`Params`] in its folder (written whole, or not at all).
pub fn write_params(dir: &Path, params: &Params) -> io::Result<()> {
    let text = serde_json::to_string_pretty(params).map_err(io::Error::other)?;
    write_atomic(&params_path(dir), format!("{text}\n").as_bytes())
}

/// A run's [`Params`]; none for a run folder without them.
pub fn read_params(dir: &Path) -> Result<Option<Params>, String> {
    let path = params_path(dir);
    match fs::read_to_string(&path) {
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
    let text = fs::read_to_string(pids_path(dir)).unwrap_or_default();
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
        Ok(RunDir { id, path })
    }
}
