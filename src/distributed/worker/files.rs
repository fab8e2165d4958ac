//! What a worker keeps on its own disk, under `<state-dir>/workers/<id>/`:
//! `pids` (each running attempt's process group, so a worker started again
//! with the same id kills what a crashed one left) and `outputs/` (each
//! attempt's `SIGNALBOX_OUTPUT`).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub(crate) struct Files {
    dir: PathBuf,
    pids: Mutex<()>,
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
            pids: Mutex::new(()),
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
        for line in text.lines() {
            let Some(pgid) = line
                .rsplit_once(' ')
                .and_then(|(_, p)| p.parse::<i32>().ok())
            else {
                continue;
            };
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
        let _guard = self.pids.lock();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(self.pids_path());
        if let Ok(mut f) = file {
            let _ = f.write_all(format!("{key} {pgid}\n").as_bytes());
        }
    }

    /// Forgets attempt `key`'s process group: it ended.
    pub(crate) fn forget(&self, key: &str) {
        let _guard = self.pids.lock();
        let Ok(text) = std::fs::read_to_string(self.pids_path()) else {
            return;
        };
        let kept: String = text
            .lines()
            .filter(|l| l.split_once(' ').is_none_or(|(k, _)| k != key))
            .map(|l| format!("{l}\n"))
            .collect();
        let tmp = self.dir.join("pids.tmp");
        if std::fs::write(&tmp, kept).is_ok() {
            let _ = std::fs::rename(&tmp, self.pids_path());
        }
    }
}
