//! A run folder's lock: two processes never drive the same run, and `runs`
//! can tell a live run from an interrupted one without touching the lock.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::MetadataExt;

use super::run_dir::RunDir;

/// Holds a run folder's lock for as long as it lives: two processes never
/// drive the same run. The kernel drops the lock if the process dies.
pub struct RunLock {
    _lock: nix::fcntl::Flock<File>,
}

impl RunLock {
    /// True while some process holds the run's lock. Only reads, so it never
    /// gets in a driver's way: where the kernel lists its locks
    /// (`/proc/locks`) the lock itself is looked for, so a pid reused by
    /// another program does not count; elsewhere the pid in the lock file
    /// must be alive.
    pub fn held(dir: &RunDir) -> bool {
        let path = dir.path.join("lock");
        let Ok(meta) = fs::metadata(&path) else {
            return false;
        };
        if let Ok(locks) = fs::read_to_string("/proc/locks") {
            return flock_listed(&locks, meta.dev(), meta.ino());
        }
        let Ok(text) = super::fsafe::read_text(&path) else {
            return false;
        };
        let Ok(pid) = text.trim().parse::<i32>() else {
            return false;
        };
        pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
    }

    pub fn acquire(dir: &RunDir) -> Result<RunLock, String> {
        let path = dir.path.join("lock");
        let file = dir
            .open_file("lock", super::fsafe::How::Write)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                // Whoever drives a run keeps its folder private, also one
                // made under the umask by an older version.
                if let Err(e) = dir.make_private() {
                    tracing::warn!("cannot make {} private: {e}", dir.path.display());
                }
                // Who drives the run, for `runs` to tell live from interrupted
                // without touching the lock.
                let _ = lock.set_len(0);
                let _ = lock.write_all(std::process::id().to_string().as_bytes());
                Ok(RunLock { _lock: lock })
            }
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(format!(
                "run {} is being driven by another signalbox process; it cannot be resumed twice at once",
                dir.id
            )),
            Err((_, e)) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }
}

/// Whether `/proc/locks` lists a `flock` on the file `dev`/`ino`. Lines read
/// `1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF`: major and minor device
/// numbers in hex, then the inode.
fn flock_listed(locks: &str, dev: u64, ino: u64) -> bool {
    let (major, minor) = (
        ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff),
        (dev & 0xff) | ((dev >> 12) & !0xff),
    );
    locks.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // Lines of waiters start `1: -> FLOCK`; they hold nothing.
        fields.get(1) == Some(&"FLOCK")
            && fields.get(5).is_some_and(|id| {
                let mut parts = id.split(':');
                let mut hex = || parts.next().and_then(|p| u64::from_str_radix(p, 16).ok());
                let (ma, mi) = (hex(), hex());
                let inode = parts.next().and_then(|p| p.parse::<u64>().ok());
                ma == Some(major) && mi == Some(minor) && inode == Some(ino)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_held_while_its_lock_is_and_not_after() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::at("r".into(), dir.path().to_path_buf());
        assert!(!RunLock::held(&run), "no lock file yet");
        let lock = RunLock::acquire(&run).unwrap();
        assert!(RunLock::held(&run));
        drop(lock);
        assert!(!RunLock::held(&run), "released");
        // A live pid left in the lock file (here our own) is not a lock.
        assert!(
            fs::read_to_string(run.path.join("lock")).unwrap() == std::process::id().to_string()
        );
        assert!(!RunLock::held(&run));
    }

    #[test]
    fn flock_lines_are_matched_on_device_and_inode() {
        let dev = (0xfd << 8) | 0x01;
        let locks = "1: POSIX  ADVISORY  WRITE 10 fd:01:77 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 11 fd:01:78 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 12 fd:01:79 0 EOF\n";
        assert!(flock_listed(locks, dev, 78));
        assert!(!flock_listed(locks, dev, 77), "a POSIX lock");
        assert!(!flock_listed(locks, dev, 79), "a waiter");
        assert!(!flock_listed(locks, dev + 1, 78), "another device");
    }
}
