//! The run folder and its journal: `<state-dir>/runs/<run-id>/` holding
//! `workflow.yaml`, `events.jsonl` and `logs/<step>.log`.
//!
//! The journal is written by the run's owner alone, one whole line per
//! `write`, so a reader never sees half an event except after a crash.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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

/// The append-only event log of one run.
pub struct Journal {
    file: File,
    /// Reused so each event is one `write` of one whole line.
    buf: Vec<u8>,
}

impl Journal {
    pub fn open(path: &Path) -> io::Result<Journal> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Journal {
            file,
            buf: Vec::with_capacity(512),
        })
    }

    pub fn append(&mut self, line: &str) -> io::Result<()> {
        self.buf.clear();
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
        self.file.write_all(&self.buf)
    }

    /// Makes what was appended durable.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Reads `key=value` lines a step wrote to its output file.
pub fn read_outputs(path: &Path) -> std::collections::BTreeMap<String, String> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| !k.trim().is_empty())
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect()
}
