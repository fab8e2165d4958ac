//! A cgroup v2 per attempt: where the cgroup2 file system is, creating
//! `<ours>/signalbox-<run>.<hash>/a<n>` for an attempt, putting its first
//! process in it before that process can run the step's command, and killing
//! and removing everything in it.
//!
//! The first process is `/bin/sh` running [`JOIN_SCRIPT`]: it writes itself
//! into the cgroup, then execs the command (same pid, same process group).
//! Not a `pre_exec` in the child: that makes std fork the whole engine
//! instead of `posix_spawn`ing, which on the 1,000-step benchmark tripled
//! the page faults and doubled the CPU time; one small exec of `sh` costs far
//! less. Not `clone3(CLONE_INTO_CGROUP)`: that means spawning by hand,
//! without std's `Command`.
//!
//! A process cannot leave a cgroup by `setsid`, `setpgid` or double-forking:
//! only a write to another cgroup's `cgroup.procs` moves it, which needs
//! write access there (root, or a delegated tree). So the cgroup holds every
//! process an attempt started, wherever it went in the process tree.
//!
//! Usable when `/proc/self/mountinfo` shows a cgroup2 mount, `/proc/self/cgroup`
//! names our cgroup under it, and we may write there; otherwise (or with
//! `SIGNALBOX_NO_CGROUP=1`) attempts run without one and `reaper` finds their
//! processes instead.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Turns cgroups off for operators whose system refuses them in a way we
/// cannot detect, and for tests of the fallback.
const DISABLE_VAR: &str = "SIGNALBOX_NO_CGROUP";

/// Set once creating or joining a cgroup failed: later attempts do not try.
static BROKEN: AtomicBool = AtomicBool::new(false);
static NEXT: AtomicU64 = AtomicU64::new(1);

/// One attempt's cgroup.
#[derive(Debug, Clone)]
pub(super) struct Cgroup {
    dir: PathBuf,
}

/// The shell that joins the cgroup, and what it runs: `$1` is the
/// cgroup's `cgroup.procs`, the rest the command. It never runs the command
/// outside the cgroup: a failure ends it with 126 and says why.
pub(super) const JOIN_SHELL: &str = "/bin/sh";
pub(super) const JOIN_SCRIPT: &str = "echo 0 >\"$1\" || { echo \"signalbox: cannot join the cgroup      $1 (SIGNALBOX_NO_CGROUP=1 runs steps without one)\" >&2; exit 126; }; shift; exec \"$@\"";

/// The `cgroup.procs` of a new cgroup, for [`JOIN_SCRIPT`].
pub(super) struct Joiner(PathBuf);

impl Joiner {
    pub(super) fn procs(&self) -> &Path {
        &self.0
    }
}

/// Whether attempts get a cgroup here (decided once; see the module doc).
#[cfg(test)]
pub(super) fn usable() -> bool {
    base().is_some() && !BROKEN.load(Ordering::Relaxed)
}

/// `<cgroup2 mount><our cgroup>`, when we may create cgroups under it.
fn base() -> Option<&'static PathBuf> {
    static BASE: OnceLock<Option<PathBuf>> = OnceLock::new();
    BASE.get_or_init(|| {
        if std::env::var_os(DISABLE_VAR).is_some_and(|v| !v.is_empty() && v != "0") {
            tracing::info!("{DISABLE_VAR} is set: attempts run without a cgroup");
            return None;
        }
        let found = find().filter(|dir| probe(dir));
        if let Some(dir) = &found {
            sweep(dir);
        }
        if found.is_none() {
            tracing::info!("no writable cgroup2 here: attempts are found by their environment");
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

/// Runs [`JOIN_SCRIPT`] once, into a cgroup made for the purpose: some
/// systems let us create cgroups but not move processes into them.
fn probe(dir: &Path) -> bool {
    let probe = dir.join(format!("signalbox-probe-{}", std::process::id()));
    if fs::create_dir(&probe).is_err() {
        return false;
    }
    // Held so the reaper cannot take this child's exit from `status`.
    let _children = super::reaper::children();
    let ran = std::process::Command::new(JOIN_SHELL)
        .args(["-c", JOIN_SCRIPT, "sh"])
        .arg(probe.join("cgroup.procs"))
        .arg("true")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let _ = fs::remove_dir(&probe);
    match ran {
        Ok(status) if status.success() => true,
        other => {
            tracing::info!(?other, "cannot move a process into a new cgroup");
            false
        }
    }
}

/// Removes the empty cgroups that runs left when they were killed (or
/// their process ended mid-attempt). A leaf is empty only between its
/// creation and its first process joining, a matter of milliseconds, so one
/// empty for a minute is nobody's; a populated one cannot be removed at all.
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
        // Before its leaves go: removing one makes the folder look new.
        let run_stale = stale(&run.path());
        let leaves = fs::read_dir(run.path()).into_iter().flatten().flatten();
        for leaf in leaves.filter(|l| l.path().is_dir() && stale(&l.path())) {
            if procs_of(&leaf.path()).is_empty() {
                let _ = fs::remove_dir(leaf.path());
            }
        }
        if run_stale {
            // Fails while the folder has a leaf: that run is alive.
            let _ = fs::remove_dir(run.path());
        }
    }
}

/// The mount point of the cgroup2 file system whose root is the hierarchy's
/// root (a bind mount of a sub-tree would not match `/proc/self/cgroup`).
pub(super) fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split(' ').next()?;
        let mut fields = left.split(' ');
        let root = fields.nth(3)?;
        let point = fields.next()?;
        (fstype == "cgroup2" && root == "/").then(|| PathBuf::from(unescape(point)))
    })
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let mut out = Vec::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            let s = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(s, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The folder of one run's cgroups: named by the run id and (hashed) its
/// run folder, so a resumed run finds what the crashed one left and copies
/// of a run folder do not share one; all hashed when the id is too long.
fn run_name(run: Option<(&str, &str)>) -> String {
    // FNV-1a: stable across versions, unlike std's hasher.
    let fnv = |text: &str| {
        text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    match run {
        Some((r, folder)) if r.len() <= 200 && !r.contains('/') && !r.starts_with('.') => {
            format!("signalbox-{r}.{:08x}", fnv(folder) as u32)
        }
        Some((r, folder)) => format!("signalbox-{:016x}", fnv(&format!("{r}/{folder}"))),
        None => format!("signalbox-pid{}", std::process::id()),
    }
}

impl Cgroup {
    /// A new cgroup for one attempt of `run`, or `None` when cgroups are not
    /// usable (the first failure turns them off for the process, logged).
    pub(super) fn create(run: Option<(&str, &str)>) -> Option<(Cgroup, Joiner)> {
        if BROKEN.load(Ordering::Relaxed) {
            return None;
        }
        let base = base()?;
        let name = run_name(run);
        let leaf = format!("a{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let dir = base.join(&name).join(&leaf);
        let made = fs::create_dir(&dir).or_else(|e| match e.kind() {
            // The run's folder is removed when its last attempt ends.
            io::ErrorKind::NotFound => match fs::create_dir(base.join(&name)) {
                Ok(()) => fs::create_dir(&dir),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => fs::create_dir(&dir),
                Err(e) => Err(e),
            },
            _ => Err(e),
        });
        match made {
            Ok(()) => {
                let joiner = Joiner(dir.join("cgroup.procs"));
                Some((Cgroup { dir }, joiner))
            }
            Err(e) => {
                give_up(&format!("cannot create {}: {e}", dir.display()));
                let _ = fs::remove_dir(&dir);
                None
            }
        }
    }

    /// The pids in the cgroup; zombies are not listed.
    pub(super) fn members(&self) -> Vec<i32> {
        procs_of(&self.dir)
    }

    /// SIGKILL through `cgroup.kill` (atomic, even against a process forking
    /// as fast as it can) where the kernel has it, else pid by pid.
    pub(super) fn signal(&self, signal: Signal) {
        signal_dir(&self.dir, signal);
    }

    /// Removes the (empty) cgroup, and the run's folder if it was the last.
    pub(super) fn remove(&self) {
        if let Err(e) = fs::remove_dir(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove the attempt's cgroup");
        }
        if let Some(parent) = self.dir.parent() {
            // Busy while another attempt of the run has its cgroup there.
            let _ = fs::remove_dir(parent);
        }
    }
}

fn give_up(why: &str) {
    if !BROKEN.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "{why}; attempts now run without a cgroup and are found by their environment"
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

fn signal_dir(dir: &Path, signal: Signal) {
    if signal == Signal::SIGKILL && fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    for pid in procs_of(dir) {
        match kill(Pid::from_raw(pid), signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => {
                tracing::warn!(pid, %signal, error = %e, "cannot signal a process of the attempt")
            }
        }
    }
}

/// Kills what a crashed run left in its cgroups (under ours, and at the
/// hierarchy's root in case the crashed process ran elsewhere) and removes
/// them. Blocks for at most `settle` per cgroup.
pub fn reclaim(run: &str, folder: &str, settle: std::time::Duration) {
    let Some(base) = base() else { return };
    let name = run_name(Some((run, folder)));
    let mut parents = vec![base.join(&name)];
    if let Some(mount) = fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|m| cgroup2_mount(&m))
    {
        parents.push(mount.join(&name));
    }
    for parent in parents {
        let Ok(leaves) = fs::read_dir(&parent) else {
            continue;
        };
        for leaf in leaves.flatten().filter(|e| e.path().is_dir()) {
            let dir = leaf.path();
            let deadline = std::time::Instant::now() + settle;
            while !procs_of(&dir).is_empty() && std::time::Instant::now() < deadline {
                tracing::warn!(dir = %dir.display(), "killing what the interrupted run left");
                signal_dir(&dir, Signal::SIGKILL);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let _ = fs::remove_dir(&dir);
        }
        let _ = fs::remove_dir(&parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cgroup2_mount_of_a_hybrid_system() {
        let info = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                    40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
                    41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(info),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
    }

    #[test]
    fn ignores_bind_mounts_of_a_subtree_and_unescapes() {
        let info = "1 0 0:1 /sub /a rw - cgroup2 cgroup2 rw\n\
                    2 0 0:1 / /my\\040cg rw - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup2_mount(info), Some(PathBuf::from("/my cg")));
        assert_eq!(cgroup2_mount("1 0 0:1 / /x rw - tmpfs tmpfs rw\n"), None);
    }

    #[test]
    fn run_names_are_one_path_component() {
        let name = run_name(Some(("wf-1", "/s/runs/wf-1")));
        assert!(name.starts_with("signalbox-wf-1."), "{name}");
        assert_ne!(name, run_name(Some(("wf-1", "/copy/runs/wf-1"))));
        let long = "x".repeat(300);
        let hashed = run_name(Some((&long, "/s")));
        assert!(hashed.len() < 40 && hashed.starts_with("signalbox-"));
        assert_eq!(hashed, run_name(Some((&long, "/s"))));
        assert!(!run_name(Some(("a/b", "/s"))).contains('/'));
    }
}
