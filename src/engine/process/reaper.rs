//! Finding an attempt's processes by their environment, and reaping orphans.
//!
//! Every attempt's environment carries `SIGNALBOX_RUN_ID`, `SIGNALBOX_STEP`
//! and `SIGNALBOX_ATTEMPT`, and children inherit them whatever they do to
//! their session or group: an attempt's processes are the ones whose
//! `/proc/PID/environ` has all three, plus their descendants. Where the run
//! has a cgroup only the processes in it are read ([`members_in`]), and
//! while no other attempt runs everything in it is the attempt's, marked or
//! not. Without one, a process can hide by exec'ing with a cleared
//! environment (`env -i`) after its marked parent is gone; as child
//! subreaper signalbox then still sees it as an orphan re-parented to us,
//! and kills it when no other attempt runs. As a subreaper only our
//! descendants are read (a process a daemon started is not one); after a
//! crash, every process on the host.
//!
//! Being a subreaper makes orphans our children: their zombies are ours to
//! reap. tokio reaps the children it spawned, so the pids it waits for are
//! kept in a table and never reaped here; the table is locked across each
//! spawn so a fast-exiting child cannot be mistaken for an orphan.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use nix::sys::wait::{Id, WaitPidFlag, waitid, waitpid};
use nix::unistd::Pid;

/// Who an attempt is: the values of its marker variables. `output` is its
/// absolute `SIGNALBOX_OUTPUT`, which names the run folder: copies of a run
/// folder (same run id) resumed side by side must not kill each other's steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub run: String,
    pub step: String,
    pub attempt: u32,
    pub output: String,
}

impl Mark {
    /// `<run folder>/`, as `output` spells it.
    pub(super) fn folder(&self) -> &str {
        let outputs = std::path::Path::new(&self.output).parent();
        outputs
            .and_then(std::path::Path::parent)
            .and_then(std::path::Path::to_str)
            .unwrap_or("")
    }
}

static SUBREAPER: AtomicBool = AtomicBool::new(false);
static CHILDREN: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
/// The same pids, never held across a spawn: for the look on every
/// attempt's end, which must not wait for another attempt's spawn.
static KNOWN: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Records (or forgets) one of tokio's children in [`KNOWN`].
pub(super) fn known(pid: i32, alive: bool) {
    let mut known = KNOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if alive {
        known.insert(pid);
    } else {
        known.remove(&pid);
    }
}

/// Makes this process the child subreaper, so orphans of its steps are
/// re-parented to it rather than to PID 1. Call before any step starts.
pub fn become_subreaper() {
    match nix::sys::prctl::set_child_subreaper(true) {
        Ok(()) => SUBREAPER.store(true, Ordering::Relaxed),
        Err(e) => tracing::warn!(error = %e, "cannot become child subreaper"),
    }
}

/// Whether this process made itself the child subreaper: the signalbox
/// binary does, a program embedding the engine does not. Only then does it
/// own every process born under it, and only then does it use a cgroup.
pub(super) fn is_subreaper() -> bool {
    SUBREAPER.load(Ordering::Relaxed)
}

/// The pids tokio waits for; hold the guard across a spawn and insert.
pub(super) fn children() -> MutexGuard<'static, BTreeSet<i32>> {
    let mut guard = CHILDREN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for pid in GONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .drain(..)
    {
        guard.remove(&pid);
    }
    guard
}

/// Children tokio has reaped, to take out of [`CHILDREN`] the next time it
/// is held: an attempt's end never waits for another attempt's spawn.
static GONE: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Spawns in progress: while one is, some other attempt is running.
pub(super) static SPAWNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Forgets a child tokio has reaped.
pub(super) fn forget(pid: i32) {
    known(pid, false);
    match CHILDREN.try_lock() {
        Ok(mut guard) => {
            guard.remove(&pid);
        }
        Err(std::sync::TryLockError::Poisoned(p)) => {
            p.into_inner().remove(&pid);
        }
        Err(std::sync::TryLockError::WouldBlock) => GONE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(pid),
    }
}

/// Reaps every exited orphan, leaving tokio's children to tokio. Stops at
/// the first zombie that is tokio's: it is reaped there soon, and orphans
/// behind it are reaped the next time.
pub(super) fn reap_orphans() {
    if !SUBREAPER.load(Ordering::Relaxed) {
        return;
    }
    // A spawn holds the table: orphans wait for the next attempt's end
    // rather than this one waiting for the spawn.
    let ours = match CHILDREN.try_lock() {
        Ok(guard) => guard,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return,
    };
    let look = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    while let Ok(status) = waitid(Id::All, look) {
        match status.pid() {
            Some(pid) if !ours.contains(&pid.as_raw()) => {
                let _ = waitpid(pid, Some(WaitPidFlag::WNOHANG));
            }
            _ => break,
        }
    }
}

/// One process as `/proc/PID/stat` shows it.
struct Entry {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    zombie: bool,
}

/// `None` once the process is gone: they vanish while we look.
fn stat(pid: i32) -> Option<Entry> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may itself contain spaces or ')'.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Entry {
        pid,
        ppid,
        pgrp,
        zombie: matches!(state, "Z" | "X"),
    })
}

fn table() -> Vec<Entry> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat)
        .collect()
}

/// An environment entry to look for: exactly `Is`, or starting with `Starts`.
enum Needle {
    Is(String),
    Starts(String),
}

fn has_all(pid: i32, needles: &[Needle]) -> bool {
    let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    needles.iter().all(|n| {
        env.split(|&b| b == 0).any(|kv| match n {
            Needle::Is(s) => kv == s.as_bytes(),
            Needle::Starts(s) => kv.starts_with(s.as_bytes()),
        })
    })
}

/// Our descendants, from `/proc/PID/task/*/children`: as a subreaper every
/// process a step started is one unless a daemon started it, and walking
/// them costs far less than reading every process on the host. `None` when
/// the kernel has no `children` files.
fn descendants() -> Option<Vec<Entry>> {
    let me = i32::try_from(std::process::id()).ok()?;
    let mut out = Vec::new();
    let mut queue = vec![me];
    while let Some(parent) = queue.pop() {
        let Ok(tasks) = fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children = match fs::read_to_string(task.path().join("children")) {
                Ok(text) => text,
                Err(_) if parent == me => return None,
                Err(_) => continue,
            };
            for pid in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                let entry = stat(pid).unwrap_or(Entry {
                    pid,
                    ppid: parent,
                    pgrp: 0,
                    zombie: true,
                });
                out.push(Entry {
                    ppid: parent,
                    ..entry
                });
                queue.push(pid);
            }
        }
    }
    Some(out)
}

/// Live processes carrying every `needles` entry in their environment, and
/// their descendants; never this process or its ancestors. With `orphans`,
/// also our unmarked orphans (children tokio did not start) and theirs.
/// `everywhere` reads every process on the host, not only our descendants.
fn find(needles: &[Needle], orphans: bool, everywhere: bool) -> Vec<i32> {
    let entries = match everywhere || !SUBREAPER.load(Ordering::Relaxed) {
        true => table(),
        false => descendants().unwrap_or_else(table),
    };
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let parent: HashMap<i32, i32> = entries.iter().map(|e| (e.pid, e.ppid)).collect();
    let mut exempt = BTreeSet::new();
    let mut at = me;
    while at > 1 && exempt.insert(at) {
        at = parent.get(&at).copied().unwrap_or(0);
    }
    let ours = if orphans {
        children().clone()
    } else {
        BTreeSet::new()
    };
    let found: BTreeSet<i32> = entries
        .iter()
        .filter(|e| !e.zombie && !exempt.contains(&e.pid))
        .filter(|e| (orphans && e.ppid == me && !ours.contains(&e.pid)) || has_all(e.pid, needles))
        .map(|e| e.pid)
        .collect();
    with_descendants(&entries, found, &exempt)
}

/// `found` and the live descendants of each among `entries`.
fn with_descendants(
    entries: &[Entry],
    mut found: BTreeSet<i32>,
    exempt: &BTreeSet<i32>,
) -> Vec<i32> {
    // Repeat until no new child joins (the tree is shallow).
    loop {
        let more: Vec<i32> = entries
            .iter()
            .filter(|e| !e.zombie && found.contains(&e.ppid) && !found.contains(&e.pid))
            .filter(|e| !exempt.contains(&e.pid))
            .map(|e| e.pid)
            .collect();
        if more.is_empty() {
            break;
        }
        found.extend(more);
    }
    found.into_iter().collect()
}

fn needles(mark: &Mark) -> Vec<Needle> {
    let mut needles = vec![
        Needle::Is(format!("SIGNALBOX_RUN_ID={}", mark.run)),
        Needle::Is(format!("SIGNALBOX_ATTEMPT={}", mark.attempt)),
        Needle::Is(format!("SIGNALBOX_OUTPUT={}", mark.output)),
    ];
    // A hook run on an event about no step has no SIGNALBOX_STEP; its
    // SIGNALBOX_OUTPUT is its own all the same.
    if !mark.step.is_empty() {
        needles.push(Needle::Is(format!("SIGNALBOX_STEP={}", mark.step)));
    }
    needles
}

/// The live processes of one attempt. `main` is its first process: when no
/// other attempt has a process running, unmarked orphans count as ours.
pub(super) fn members(mark: &Mark, main: i32) -> Vec<i32> {
    let alone = SUBREAPER.load(Ordering::Relaxed) && children().iter().all(|&p| p == main);
    find(&needles(mark), alone, false)
}

/// The live processes of one attempt among `candidates`, the processes in
/// the run's cgroup but us: those with its markers or in its process group,
/// and their descendants; all of them when no other attempt is running
/// (`main` is the attempt's first process).
pub(super) fn members_in(candidates: &[i32], mark: &Mark, main: i32) -> Vec<i32> {
    if candidates.is_empty() {
        return Vec::new();
    }
    // All that is left are other attempts' first processes, which we spawned
    // and wait for: nothing of this attempt's remains, and nothing need be
    // read (the common case, and the one on every step's path). A process
    // being spawned is not known yet, so it takes the long way below.
    let known = KNOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if candidates.iter().all(|p| *p != main && known.contains(p)) {
        return Vec::new();
    }
    let others = known.iter().any(|&p| p != main) || SPAWNING.load(Ordering::SeqCst) > 0;
    let entries: Vec<Entry> = if others {
        // Not alone: only marked processes count, and another attempt's
        // spawn need not be waited for.
        candidates.iter().filter_map(|&p| stat(p)).collect()
    } else {
        // Perhaps alone: held while we look, so no attempt is spawned
        // meanwhile and a process between fork and exec (which shows our
        // environment) is never taken for an unmarked one of ours.
        let ours = children();
        let entries: Vec<Entry> = candidates.iter().filter_map(|&p| stat(p)).collect();
        if ours.iter().all(|&p| p == main) {
            return entries
                .iter()
                .filter(|e| !e.zombie)
                .map(|e| e.pid)
                .collect();
        }
        entries
    };
    let needles = needles(mark);
    let found = entries
        .iter()
        .filter(|e| !e.zombie && !known.contains(&e.pid))
        .filter(|e| e.pgrp == main || has_all(e.pid, &needles))
        .map(|e| e.pid)
        .collect();
    with_descendants(&entries, found, &BTreeSet::new())
}

/// The live processes among `candidates` that any attempt of the run in
/// `folder` (absolute) started, and their descendants.
pub(super) fn run_members_in(candidates: &[i32], run: &str, folder: &str) -> Vec<i32> {
    let entries: Vec<Entry> = candidates.iter().filter_map(|&p| stat(p)).collect();
    let needles = run_needles(run, folder);
    let found = entries
        .iter()
        .filter(|e| !e.zombie && has_all(e.pid, &needles))
        .map(|e| e.pid)
        .collect();
    with_descendants(&entries, found, &BTreeSet::new())
}

fn run_needles(run: &str, folder: &str) -> [Needle; 2] {
    [
        Needle::Is(format!("SIGNALBOX_RUN_ID={run}")),
        Needle::Starts(format!(
            "SIGNALBOX_OUTPUT={}/",
            folder.trim_end_matches('/')
        )),
    ]
}

/// Every live process of any attempt of the run in `folder` (absolute):
/// what a crashed run left.
pub(super) fn run_members(run: &str, folder: &str) -> Vec<i32> {
    let needles = run_needles(run, folder);
    // The crashed process was their subreaper: they are not our descendants.
    find(&needles, false, true)
}

/// Sends `signal` to each pid; a pid that is gone is not an error.
pub(super) fn signal_each(pids: &[i32], signal: nix::sys::signal::Signal) {
    for &pid in pids {
        if pid > 1 {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_folder_comes_from_the_output_path() {
        let mark = Mark {
            run: "wf-1".into(),
            step: "s".into(),
            attempt: 2,
            output: "/state/runs/wf-1/outputs/s".into(),
        };
        assert_eq!(mark.folder(), "/state/runs/wf-1");
    }

    #[test]
    fn needles_match_whole_entries_or_prefixes() {
        let me = std::process::id() as i32;
        let path = std::env::var("PATH").unwrap_or_default();
        assert!(has_all(me, &[Needle::Is(format!("PATH={path}"))]));
        assert!(has_all(me, &[Needle::Starts("PATH=".into())]));
        assert!(!has_all(me, &[Needle::Is("PATH=".into())]));
        // This process and its ancestors are never an attempt's.
        assert!(
            find(&[Needle::Starts("PATH=".into())], false, true)
                .iter()
                .all(|&p| p != me)
        );
    }
}
