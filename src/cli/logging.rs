//! The state dir a run writes to, checked before anything is written (SPEC
//! §6), and the program's own diagnostics: tracing into
//! `<state-dir>/signalbox.log`, never to the terminal (the screen owns it).
//! The log is our own small rolling writer rather than tracing-appender's
//! file appender, which follows symlinks and makes files as the umask says.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;

use crate::engine::fsafe::{self, How};

/// The log is rolled to `signalbox.log.1` when it grows past this.
const ROLL_BYTES: u64 = 10 * 1024 * 1024;
const LOG: &str = "signalbox.log";
/// Log lines waiting for the writer thread, at most.
const LOG_QUEUE_LINES: usize = 4096;
const ROLLED: &str = "signalbox.log.1";

/// Refuses a state dir another user could change (the message says how to
/// fix it), makes a missing one, then starts logging into it.
pub fn state_dir(state_dir: &Path) -> Result<Option<WorkerGuard>, String> {
    fsafe::check_state_dir(state_dir)?;
    Ok(init(state_dir))
}

/// Starts logging; keep the guard alive so the last lines are written.
/// Logging is best effort: a state dir that cannot be written loses the log,
/// not the run. `SIGNALBOX_LOG` takes a tracing filter (`debug`, ...).
pub fn init(state_dir: &Path) -> Option<WorkerGuard> {
    let writer = match Rolling::open(state_dir) {
        Ok(w) => w,
        Err(e) => {
            let path = state_dir.join(LOG);
            crate::safe::say!("warning: not logging to {}: {e}", path.display());
            return None;
        }
    };
    // The default queue holds 128,000 lines, allocated up front (4 MB); the
    // log gets a few lines a second, and a line that finds the queue full
    // is dropped rather than slow the run.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .finish(writer);
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIGNALBOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}

/// `signalbox.log`, private and never opened through a symlink, rolled to
/// `signalbox.log.1` past [`ROLL_BYTES`]. Runs on tracing-appender's worker
/// thread, so a slow disk never holds up the run.
struct Rolling {
    /// The state dir, held so a roll renames and reopens inside the same
    /// folder even if its path changes.
    dir: OwnedFd,
    file: File,
    len: u64,
}

impl Rolling {
    fn open(state_dir: &Path) -> io::Result<Rolling> {
        let dir = fsafe::open_dir(state_dir)?;
        let file = fsafe::open_in(&dir, Path::new(LOG), How::Append)?;
        let len = file.metadata()?.len();
        let mut log = Rolling { dir, file, len };
        if log.len > ROLL_BYTES {
            log.roll()?;
        }
        Ok(log)
    }

    /// Renames the log to `.1` (a symlink there is replaced, not followed)
    /// and starts a new one.
    fn roll(&mut self) -> io::Result<()> {
        nix::fcntl::renameat(&self.dir, LOG, &self.dir, ROLLED)
            .map_err(|e| io::Error::from_raw_os_error(e as i32))?;
        self.file = fsafe::open_in(&self.dir, Path::new(LOG), How::Append)?;
        self.len = 0;
        Ok(())
    }
}

impl Write for Rolling {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.len > ROLL_BYTES {
            // A log that cannot roll goes on growing rather than stop.
            let _ = self.roll();
        }
        // A line that quotes a step's text may hold a secret of the run.
        if let std::borrow::Cow::Owned(masked) = crate::engine::mask::for_log(buf) {
            self.file.write_all(&masked)?;
            self.len += masked.len() as u64;
            return Ok(buf.len());
        }
        let n = self.file.write(buf)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_log_rolls_past_its_size_and_stays_private() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Rolling::open(dir.path()).unwrap();
        log.len = ROLL_BYTES + 1;
        log.write_all(b"after\n").unwrap();
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read(LOG), "after\n");
        assert_eq!(read(ROLLED), "");
        let mode = std::fs::metadata(dir.path().join(LOG)).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_symlink_at_the_log_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(LOG)).unwrap();
        assert!(Rolling::open(dir.path()).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
    }
}
