//! A cgroup v2 per run: where the cgroup2 file system is, moving signalbox
//! itself into `<ours>/signalbox-<run>.<hash>` at the run's first attempt,
//! listing what is in it, and moving back out and removing it at the end.
//!
//! Every step process is born inside the run's cgroup by plain inheritance:
//! no joining shell, no migration per attempt. A migration write-locks the
//! kernel's `cgroup_threadgroup_rwsem`, which waits for an RCU grace period
//! (0.5 ms back to back, 10–16 ms after an idle gap), and joining per attempt
//! also cost an extra exec of `sh`; now the whole run pays for two moves.
//! Writing our pid to `cgroup.procs` moves every thread of the engine, so
//! threads started later are inside too.
//!
//! A process cannot leave a cgroup by `setsid`, `setpgid` or double-forking:
//! only a write to another cgroup's `cgroup.procs` moves it, which needs
//! write access there (root, or a delegated tree). So the run's cgroup (with
//! any cgroups made under it) holds every process a step started, wherever
//! it went in the process tree. Which attempt a process belongs to is still
//! read from its marker variables (`reaper`), but only processes in the
//! cgroup are read, and one that cleared its environment is still there.
//!
//! Usable when `/proc/self/mountinfo` shows a cgroup2 mount, `/proc/self/cgroup`
//! names our cgroup under it, we may write there, and the first move into a
//! run's cgroup works (that move is the probe: a failure turns cgroups off
//! for the process, logged). Otherwise (or with `SIGNALBOX_NO_CGROUP=1`)
//! attempts are found by their environment alone, with signalbox as subreaper.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub(super) use mount::cgroup2_mount;

mod mount;

/// Turns cgroups off for operators whose system refuses them in a way we
/// cannot detect, and for tests of the fallback.
const DISABLE_VAR: &str = "SIGNALBOX_NO_CGROUP";

/// Set once creating or joining a cgroup failed: later attempts do not try.
static BROKEN: AtomicBool = AtomicBool::new(false);
/// The run cgroup this process is in, once it moved.
static JOINED: Mutex<Option<Joined>> = Mutex::new(None);

struct Joined {
    dir: Arc<Path>,
    /// The runs (by cgroup name) whose attempts ran here and have not ended.
    runs: BTreeSet<String>,
    /// The longest `kill_grace` of those attempts, for what is left at the end.
    grace: Duration,
}

/// The run cgroup an attempt runs in.
#[derive(Debug, Clone)]
pub(super) struct Cgroup {
    dir: Arc<Path>,
}

/// What [`leave`] leaves to do.
pub(super) enum Leave {
    /// Other runs or attempts of this process still use the cgroup: only
    /// this run's own leftovers are to be killed.
    Shared(Cgroup),
    /// The last run ended: kill everything in it, move back, remove it.
    Last(Cgroup, Duration),
}

fn joined() -> MutexGuard<'static, Option<Joined>> {
    JOINED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn me() -> i32 {
    i32::try_from(std::process::id()).unwrap_or(0)
}

/// Whether attempts may get a cgroup here (decided once; see the module doc).
#[cfg(test)]
pub(super) fn usable() -> bool {
    base().is_some() && !BROKEN.load(Ordering::Relaxed)
}

/// `<cgroup2 mount><our cgroup>` as it was when we started, when we may
/// create cgroups under it: run cgroups go there, and we move back there.
fn base() -> Option<&'static PathBuf> {
    // A program embedding the engine (a test binary among them) starts
    // processes of its own that a run's cgroup would take in and its end
    // would kill: only the signalbox binary, the subreaper, moves.
    if !super::reaper::is_subreaper() {
        return None;
    }
    static BASE: OnceLock<Option<PathBuf>> = OnceLock::new();
    BASE.get_or_init(|| {
        if std::env::var_os(DISABLE_VAR).is_some_and(|v| !v.is_empty() && v != "0") {
            tracing::info!("{DISABLE_VAR} is set: attempts run without a cgroup");
            return None;
        }
        let found = find();
        match &found {
            Some(dir) => sweep(dir),
            None => {
                tracing::info!("no writable cgroup2 here: attempts are found by their environment")
            }
        }
        found
    })
    .as_ref()
}

fn find() -> Option<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = cgroup2_mount(&mountinfo)?;
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    let ours = own.lines().find_map(|l| l.strip_prefix("0::"))?.trim_end();
    if !ours.starts_with('/') || ours.ends_with(" (deleted)") {
        return None;
    }
    let dir = mount.join(ours.trim_start_matches('/'));
    let flags = nix::unistd::AccessFlags::W_OK;
    nix::unistd::access(&dir, flags).ok()?;
    nix::unistd::access(&dir.join("cgroup.procs"), flags).ok()?;
    Some(dir)
}

/// Removes the cgroups that runs left when they were killed: one empty
/// (with everything under it) for a minute is nobody's, since a live run's
/// cgroup holds its signalbox; a populated one cannot be removed at all.
fn sweep(base: &Path) {
    let Ok(runs) = fs::read_dir(base) else { return };
    let stale = |dir: &Path| {
        fs::metadata(dir)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() >= 60))
    };
    for run in runs.flatten() {
        let name = run.file_name();
        if !name.to_str().is_some_and(|n| n.starts_with("signalbox-")) {
            continue;
        }
        let dir = run.path();
        if dir.is_dir() && stale(&dir) && tree_procs(&dir).is_empty() {
            remove_tree(&dir);
        }
    }
}

/// The name of one run's cgroup: the run id and (hashed) its run folder,
/// so a resumed run finds what the crashed one left and copies of a run
/// folder do not share one; all hashed when the id is too long.
fn run_name(run: &str, folder: &str) -> String {
    // FNV-1a: stable across versions, unlike std's hasher.
    let fnv = |text: &str| {
        text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    if run.len() <= 200 && !run.contains('/') && !run.starts_with('.') {
        format!("signalbox-{run}.{:08x}", fnv(folder) as u32)
    } else {
        format!("signalbox-{:016x}", fnv(&format!("{run}/{folder}")))
    }
}

impl Cgroup {
    /// The cgroup of the run in `folder` (absolute), moving this process
    /// into it if it is not in one yet; `None` when cgroups are not usable.
    /// Every attempt calls this before it spawns, so none starts outside.
    pub(super) fn enter(run: &str, folder: &str, grace: Duration) -> Option<Cgroup> {
        if BROKEN.load(Ordering::Relaxed) {
            return None;
        }
        let base = base()?;
        let name = run_name(run, folder);
        // Held across the move: an attempt that comes meanwhile waits for it.
        let mut joined = joined();
        if let Some(j) = joined.as_mut() {
            if !j.runs.contains(&name) {
                j.runs.insert(name);
            }
            j.grace = j.grace.max(grace);
            return Some(Cgroup { dir: j.dir.clone() });
        }
        let dir = base.join(&name);
        match move_into(&dir) {
            Ok(()) => {
                tracing::debug!(dir = %dir.display(), "signalbox moved into the run's cgroup");
                let dir: Arc<Path> = dir.into();
                *joined = Some(Joined {
                    dir: dir.clone(),
                    runs: BTreeSet::from([name]),
                    grace,
                });
                Some(Cgroup { dir })
            }
            Err(e) => {
                give_up(&format!(
                    "cannot move into the cgroup {}: {e}",
                    dir.display()
                ));
                let _ = fs::remove_dir(&dir);
                None
            }
        }
    }

    /// Every process in the run's cgroup and the cgroups under it but this
    /// one; zombies are not listed.
    pub(super) fn candidates(&self) -> Vec<i32> {
        let me = me();
        let mut pids = tree_procs(&self.dir);
        pids.retain(|&p| p != me && p > 1);
        pids
    }

    /// Moves this process back where it came from; true when it worked.
    pub(super) fn move_back(&self) -> bool {
        let Some(base) = base() else { return false };
        match fs::write(base.join("cgroup.procs"), me().to_string()) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e,
                    "cannot move back out of the run's cgroup; it is left for a later signalbox to remove");
                false
            }
        }
    }

    /// SIGKILL to everything in it; only once we are out (see [`kill_tree`]).
    pub(super) fn kill_all(&self) {
        kill_tree(&self.dir);
    }

    /// Removes the (empty) cgroup and any made under it.
    pub(super) fn remove(&self) {
        remove_tree(&self.dir);
        if self.dir.exists() {
            tracing::warn!(dir = %self.dir.display(), "cannot remove the run's cgroup");
        }
    }
}

/// Creates the cgroup (a crashed run's may still be there) and writes our
/// pid into it, then checks the kernel agrees.
fn move_into(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    fs::write(dir.join("cgroup.procs"), me().to_string())?;
    match procs_of(dir).contains(&me()) {
        true => Ok(()),
        false => Err(io::Error::other("the kernel did not move us")),
    }
}

/// Unregisters the run in `folder`; what is left to do, if it had a cgroup.
/// The cgroup is torn down only when no run and no attempt is left in it.
pub(super) fn leave(run: &str, folder: &str) -> Option<Leave> {
    let name = run_name(run, folder);
    // Locked first, as `enter` does, then the child table.
    let mut joined = joined();
    let j = joined.as_mut()?;
    if !j.runs.remove(&name) {
        return None;
    }
    let cgroup = Cgroup { dir: j.dir.clone() };
    if !j.runs.is_empty() || !super::reaper::children().is_empty() {
        return Some(Leave::Shared(cgroup));
    }
    let grace = j.grace;
    *joined = None;
    Some(Leave::Last(cgroup, grace))
}

fn give_up(why: &str) {
    if !BROKEN.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "{why}; attempts now run without a cgroup and are found by their environment \
             (SIGNALBOX_NO_CGROUP=1 skips trying)"
        );
    }
}

fn procs_of(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// `dir` and the cgroups under it, parents before children.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while let Some(at) = out.get(i).cloned() {
        let subs = fs::read_dir(&at).into_iter().flatten().flatten();
        // The entry's type comes with the listing: no stat per interface file.
        let dirs = subs.filter(|e| e.file_type().is_ok_and(|t| t.is_dir()));
        out.extend(dirs.map(|e| e.path()));
        i += 1;
    }
    out
}

/// The processes in `dir` and in every cgroup under it: a step that may
/// write there can make cgroups of its own, but not leave ours.
fn tree_procs(dir: &Path) -> Vec<i32> {
    // Most runs make none, which `cgroup.stat` tells for less than a listing.
    let stat = fs::read_to_string(dir.join("cgroup.stat")).unwrap_or_default();
    if stat.lines().any(|l| l == "nr_descendants 0") {
        return procs_of(dir);
    }
    tree(dir).iter().flat_map(|d| procs_of(d)).collect()
}

/// SIGKILL to everything in `dir`'s tree: through `cgroup.kill` (atomic,
/// even against a process forking as fast as it can) where the kernel has
/// it and we are not inside (it would kill us too), else pid by pid.
fn kill_tree(dir: &Path) {
    let me = me();
    let pids = tree_procs(dir);
    if !pids.contains(&me) && fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    for pid in pids.into_iter().filter(|&p| p != me && p > 1) {
        match kill(Pid::from_raw(pid), Signal::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => tracing::warn!(pid, error = %e, "cannot kill a process of the run"),
        }
    }
}

/// Removes `dir` and the cgroups under it, children first; a populated one
/// stays.
fn remove_tree(dir: &Path) {
    for d in tree(dir).iter().rev() {
        let _ = fs::remove_dir(d);
    }
}

/// Kills what a crashed run left in its cgroup (under ours, and at the
/// hierarchy's root in case the crashed process ran elsewhere): everything
/// in it, marked or not, since only that run's processes were born there.
/// Then removes it. Blocks for at most `settle` per cgroup.
pub fn reclaim(run: &str, folder: &str, settle: Duration) {
    let Some(base) = base() else { return };
    let name = run_name(run, folder);
    let mut dirs = vec![base.join(&name)];
    if let Some(mount) = fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|m| cgroup2_mount(&m))
    {
        dirs.push(mount.join(&name));
    }
    let current = joined().as_ref().map(|j| j.dir.clone());
    for dir in dirs {
        // Our own run's cgroup holds our steps, not a crashed run's.
        if !dir.is_dir() || current.as_deref() == Some(dir.as_path()) {
            continue;
        }
        let deadline = std::time::Instant::now() + settle;
        while !tree_procs(&dir).is_empty() && std::time::Instant::now() < deadline {
            tracing::warn!(dir = %dir.display(), "killing what the interrupted run left");
            kill_tree(&dir);
            std::thread::sleep(Duration::from_millis(5));
        }
        remove_tree(&dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_are_one_path_component() {
        let name = run_name("wf-1", "/s/runs/wf-1");
        assert!(name.starts_with("signalbox-wf-1."), "{name}");
        assert_ne!(name, run_name("wf-1", "/copy/runs/wf-1"));
        let long = "x".repeat(300);
        let hashed = run_name(&long, "/s");
        assert!(hashed.len() < 40 && hashed.starts_with("signalbox-"));
        assert_eq!(hashed, run_name(&long, "/s"));
        assert!(!run_name("a/b", "/s").contains('/'));
    }

    #[test]
    fn a_tree_lists_parents_before_children() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("a/b")).unwrap();
        std::fs::write(tmp.path().join("a/cgroup.procs"), "12\n34\n").unwrap();
        std::fs::write(tmp.path().join("a/b/cgroup.procs"), "56\n").unwrap();
        let dirs = tree(&tmp.path().join("a"));
        assert_eq!(dirs, [tmp.path().join("a"), tmp.path().join("a/b")]);
        assert_eq!(tree_procs(&tmp.path().join("a")), [12, 34, 56]);
    }
}
