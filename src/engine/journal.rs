//! The run folder and its journal: `<state-dir>/runs/<run-id>/` holding
//! `workflow.yaml`, `events.jsonl` and `logs/<step>.log`.
//!
//! The journal is written by the run's owner alone, one whole line per
//! `write`, so a reader never sees half an event except after a crash.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

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
    /// The length of the whole lines written: where a failed write is cut
    /// back to.
    len: u64,
}

impl Journal {
    pub fn open(path: &Path) -> io::Result<Journal> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(Journal {
            file,
            buf: Vec::with_capacity(512),
            len,
        })
    }

    /// Appends one line. A write that fails part way (a full disk) is cut
    /// back, so the journal still ends with a whole line.
    pub fn append(&mut self, line: &str) -> io::Result<()> {
        self.buf.clear();
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
        match self.file.write_all(&self.buf) {
            Ok(()) => {
                self.len += self.buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                if let Err(cut) = self.file.set_len(self.len) {
                    tracing::warn!("cannot cut a partly written journal line back: {cut}");
                }
                Err(e)
            }
        }
    }

    /// A second handle on the journal, to sync it from another thread.
    pub fn handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }
}

/// Group commit for a journal: whoever needs the journal on disk up to some
/// seq calls [`Durable::ensure`], from any thread. One sync runs at a time,
/// and it covers every event written before it began, so those waiting
/// behind it usually find their events already on disk and do not sync
/// again. Steps that end together share one sync.
#[derive(Debug)]
pub struct Durable {
    file: File,
    /// The last seq written to the journal.
    written: AtomicU64,
    /// The last seq known to be on disk.
    durable: AtomicU64,
    /// Held while a sync runs.
    syncing: Mutex<()>,
}

impl Durable {
    /// For `journal`, whose events up to `seq` are on disk already.
    pub fn new(journal: &Journal, seq: u64) -> io::Result<Durable> {
        Ok(Durable {
            file: journal.handle()?,
            written: AtomicU64::new(seq),
            durable: AtomicU64::new(seq),
            syncing: Mutex::new(()),
        })
    }

    /// Event `seq` was written (not yet synced).
    pub fn wrote(&self, seq: u64) {
        self.written.store(seq, Ordering::Release);
    }

    /// Returns once events up to `seq` are on disk, syncing if no sync
    /// already covers them. Blocks the calling thread for one sync at most
    /// two.
    pub fn ensure(&self, seq: u64) -> io::Result<()> {
        if self.durable.load(Ordering::Acquire) >= seq {
            return Ok(());
        }
        let _one_at_a_time = self.syncing.lock().unwrap_or_else(PoisonError::into_inner);
        if self.durable.load(Ordering::Acquire) >= seq {
            return Ok(());
        }
        let upto = self.written.load(Ordering::Acquire);
        self.file.sync_data()?;
        self.durable.fetch_max(upto, Ordering::AcqRel);
        Ok(())
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

/// A journal read back: the events, and where a torn last line was cut.
#[derive(Debug)]
pub struct Replayed {
    pub events: Vec<super::event::Envelope>,
    /// Byte length of the whole, good lines; a torn tail starts here.
    pub good_len: u64,
    /// The 1-based line number of a torn last line that was dropped.
    pub torn_line: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}:{line}: damaged journal line ({reason}); refusing to go on")]
    Damaged {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// Reads a journal. A last line that is incomplete or not an event (a crash
/// mid-write) is dropped and reported. Damage anywhere else is an error, and
/// so is a whole line out of sequence (a seq gap, a repeat) or of another
/// run: no crash writes those.
pub fn read_journal(path: &Path) -> Result<Replayed, ReadError> {
    let bytes = fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let damaged = |line: usize, reason: String| ReadError::Damaged {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut events: Vec<super::event::Envelope> = Vec::new();
    let mut good_len = 0u64;
    let mut torn_line = None;
    let mut start = 0usize;
    let mut line_no = 0usize;
    while start < bytes.len() {
        line_no += 1;
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| start + p);
        let (line, next) = match end {
            Some(e) => (&bytes[start..e], e + 1),
            None => (&bytes[start..], bytes.len()),
        };
        let parsed = std::str::from_utf8(line)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                serde_json::from_str::<super::event::Envelope>(text).map_err(|e| e.to_string())
            });
        match parsed {
            Ok(envelope) if end.is_some() => {
                let due = events.len() as u64 + 1;
                if envelope.seq != due {
                    return Err(damaged(
                        line_no,
                        format!("seq {} where {due} was due", envelope.seq),
                    ));
                }
                if let Some(first) = events.first().filter(|f| f.run != envelope.run) {
                    return Err(damaged(
                        line_no,
                        format!(
                            "an event of run `{}` in the journal of run `{}`",
                            envelope.run, first.run
                        ),
                    ));
                }
                events.push(envelope);
                good_len = next as u64;
            }
            result => {
                if next < bytes.len() {
                    let reason = result.err().unwrap_or_else(|| "no line end".to_string());
                    return Err(damaged(
                        line_no,
                        format!("{reason}; it is not the last line, so no crash mid-write left it"),
                    ));
                }
                torn_line = Some(line_no);
            }
        }
        start = next;
    }
    Ok(Replayed {
        events,
        good_len,
        torn_line,
    })
}

/// Cuts a torn last line off, so new events follow whole lines.
pub fn truncate(path: &Path, len: u64) -> io::Result<()> {
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_all()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn journal() -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("events.jsonl")).unwrap();
        (dir, j)
    }

    #[test]
    fn ensure_syncs_only_what_no_sync_covered_yet() {
        let (_dir, mut j) = journal();
        let d = Durable::new(&j, 3).unwrap();
        // Resumed at seq 3: nothing to do up to there.
        d.ensure(3).unwrap();
        assert_eq!(d.durable.load(Ordering::Acquire), 3);
        for seq in 4..=6 {
            j.append("{}").unwrap();
            d.wrote(seq);
        }
        // One sync covers every event written before it began.
        d.ensure(4).unwrap();
        assert_eq!(d.durable.load(Ordering::Acquire), 6);
        d.ensure(6).unwrap();
        assert_eq!(d.durable.load(Ordering::Acquire), 6);
    }

    #[test]
    fn threads_waiting_on_one_sync_are_covered_by_it() {
        let (_dir, mut j) = journal();
        let d = std::sync::Arc::new(Durable::new(&j, 0).unwrap());
        for seq in 1..=100 {
            j.append("{}").unwrap();
            d.wrote(seq);
        }
        let threads: Vec<_> = (1..=8)
            .map(|k| {
                let d = d.clone();
                std::thread::spawn(move || d.ensure(k * 10))
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        assert_eq!(d.durable.load(Ordering::Acquire), 100);
    }
}
