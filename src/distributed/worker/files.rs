//! What a worker keeps on its own disk, under `<state-dir>/workers/<id>/`:
//! `pids` (each running attempt's process group, so a worker started again
//! with the same id kills what a crashed one left) and `outputs/` (each
//! attempt's `SIGNALBOX_OUTPUT`).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Lines `pids` may hold before it is written afresh with the live ones.
const COMPACT_AT: usize = 256;

pub(crate) struct Files {
    dir: PathBuf,
    pids: Mutex<Pids>,
}

/// `pids` is appended to: `KEY PGID` when an attempt starts, `KEY -` when
/// it ends (emptied instead once none runs), so an attempt costs a write
/// each way rather than a rewrite.
#[derive(Default)]
struct Pids {
    file: Option<File>,
    live: HashMap<String, i32>,
    lines: usize,
}

impl Files {
    pub(crate) fn open(state: &Path, id: &str) -> Result<Files, String> {
        // Absolute: a step with a `cwd`, or one that changes directory,
        // still finds its `SIGNALBOX_OUTPUT`.
        let dir = std::path::absolute(state.join("workers").join(id))
            .map_err(|e| format!("cannot find {}: {e}", state.display()))?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir.join("outputs"))
            .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        Ok(Files {
            dir,
            pids: Mutex::new(Pids::default()),
        })
    }

    /// Where attempt `key` writes its outputs.
    pub(crate) fn output(&self, key: &str) -> PathBuf {
        self.dir.join("outputs").join(key)
    }

    fn pids_path(&self) -> PathBuf {
        self.dir.join("pids")
    }

    /// Kills the process groups an earlier worker with this id recorded
    /// and did not see end, then forgets them.
    pub(crate) fn kill_survivors(&self) {
        let Ok(text) = std::fs::read_to_string(self.pids_path()) else {
            return;
        };
        for pgid in survivors(&text) {
            if pgid > 1 && crate::engine::process::group_alive(pgid) {
                crate::safe::say!(
                    "◦ killing process group {pgid}, left by an earlier worker with this id"
                );
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pgid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let _ = std::fs::remove_file(self.pids_path());
    }

    /// Records attempt `key`'s process group.
    pub(crate) fn record(&self, key: &str, pgid: i32) {
        let Ok(mut pids) = self.pids.lock() else {
            return;
        };
        pids.live.insert(key.to_string(), pgid);
        self.append(&mut pids, &format!("{key} {pgid}\n"));
    }

    /// Forgets attempt `key`'s process group: it ended.
    pub(crate) fn forget(&self, key: &str) {
        let Ok(mut pids) = self.pids.lock() else {
            return;
        };
        if pids.live.remove(key).is_none() {
            return;
        }
        if pids.live.is_empty() {
            if let Some(f) = &pids.file
                && f.set_len(0).is_ok()
            {
                pids.lines = 0;
                return;
            }
        } else if pids.lines >= COMPACT_AT {
            let kept: String = (pids.live.iter())
                .map(|(k, pgid)| format!("{k} {pgid}\n"))
                .collect();
            let tmp = self.dir.join("pids.tmp");
            if std::fs::write(&tmp, kept).is_ok() && std::fs::rename(&tmp, self.pids_path()).is_ok()
            {
                pids.file = None;
                pids.lines = pids.live.len();
                return;
            }
        }
        self.append(&mut pids, &format!("{key} -\n"));
    }

    fn append(&self, pids: &mut Pids, line: &str) {
        if pids.file.is_none() {
            pids.file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(self.pids_path())
                .ok();
        }
        if let Some(f) = &mut pids.file
            && f.write_all(line.as_bytes()).is_ok()
        {
            pids.lines += 1;
        }
    }
}

/// The process groups `pids` holds that were not seen end.
fn survivors(text: &str) -> Vec<i32> {
    let mut live: HashMap<&str, i32> = HashMap::new();
    for line in text.lines() {
        let Some((key, pgid)) = line.rsplit_once(' ') else {
            continue;
        };
        match pgid.parse::<i32>() {
            Ok(p) => {
                live.insert(key, p);
            }
            Err(_) if pgid == "-" => {
                live.remove(key);
            }
            Err(_) => {}
        }
    }
    live.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_attempts_are_not_survivors() {
        let text = "a 10\nb 11\na -\nc 12\nbad\nc -\nd x\n";
        assert_eq!(survivors(text), vec![11]);
    }

    #[test]
    fn pids_hold_only_what_runs() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::open(dir.path(), "w").unwrap();
        let read = || std::fs::read_to_string(files.pids_path()).unwrap_or_default();
        files.record("a", 10);
        files.record("b", 11);
        files.forget("a");
        assert_eq!(survivors(&read()), vec![11]);
        files.forget("b");
        assert_eq!(read(), "");
        for n in 0..(COMPACT_AT + 10) {
            files.record("long", 7);
            files.record(&format!("k{n}"), 20);
            files.forget(&format!("k{n}"));
        }
        assert!(read().lines().count() < COMPACT_AT + 5, "{}", read());
        assert_eq!(survivors(&read()), vec![7]);
    }
}
