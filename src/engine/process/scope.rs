//! Everything one attempt started, and ending all of it: its process group,
//! and the processes carrying its marker variables (see `reaper`), looked
//! for in the run's cgroup where there is one, else among our descendants.
//! SIGTERM, up to the grace, then SIGKILL until nothing is left. And the end
//! of a run's cgroup: everything still in it, then the cgroup itself.
//!
//! Liveness counts zombies as dead: a zombie holds no pipe and runs no code,
//! so waiting for it would only stall. The kernel does not tell us when
//! processes that are not our children exit, so ending a scope polls, with
//! exponential backoff (at most every 50 ms), bounded by the grace.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Child;
use tokio::time::{Instant, sleep_until, timeout_at};

use super::cgroup::{self, Cgroup, Leave};
use super::reaper::{self, Mark};
use super::{KILL_SETTLE, MAX_POLL};

#[derive(Debug, Clone)]
pub(super) struct Scope {
    pgid: i32,
    cgroup: Option<Cgroup>,
    mark: Option<Mark>,
}

impl Scope {
    pub(super) fn new(pgid: i32, cgroup: Option<Cgroup>, mark: Option<Mark>) -> Self {
        Self { pgid, cgroup, mark }
    }

    /// Only a process group, for [`super::terminate_group`].
    pub(super) fn group(pgid: i32) -> Self {
        Self::new(pgid, None, None)
    }

    /// The attempt's processes in the run's cgroup, when there is one.
    fn in_cgroup(&self) -> Option<Vec<i32>> {
        let (cg, mark) = (self.cgroup.as_ref()?, self.mark.as_ref()?);
        Some(reaper::members_in(&cg.candidates(), mark, self.pgid))
    }

    /// Blocking: without a cgroup this scans `/proc`.
    fn alive(&self) -> bool {
        if let Some(members) = self.in_cgroup() {
            return !members.is_empty();
        }
        let marked = || {
            self.mark
                .as_ref()
                .is_some_and(|m| !reaper::members(m, self.pgid).is_empty())
        };
        marked() || group_alive(self.pgid)
    }

    /// Blocking, as [`Scope::alive`].
    fn signal(&self, signal: Signal) {
        signal_group(self.pgid, signal);
        if let Some(members) = self.in_cgroup() {
            return reaper::signal_each(&members, signal);
        }
        if let Some(m) = &self.mark {
            reaper::signal_each(&reaper::members(m, self.pgid), signal);
        }
    }

    /// A cgroup is read in place (its processes only, a few microseconds
    /// each); a `/proc` scan runs on the blocking pool.
    async fn alive_async(&self) -> bool {
        if self.cgroup.is_some() {
            return self.alive();
        }
        if self.mark.is_none() && !signalable(self.pgid) {
            return false;
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.alive())
            .await
            .unwrap_or(true)
    }

    async fn signal_async(&self, signal: Signal) {
        if self.cgroup.is_some() || self.mark.is_none() {
            return self.signal(signal);
        }
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || me.signal(signal)).await;
    }

    /// Once nothing is left: reaps orphans (the run's cgroup stays for the
    /// run's next attempts).
    pub(super) fn close(&self) {
        reaper::reap_orphans();
    }

    /// For a scope being dropped mid-attempt: SIGKILL now, and tidy up on a
    /// thread once the kernel has delivered it (drop cannot wait).
    pub(super) fn kill_now(&self) {
        self.signal(Signal::SIGKILL);
        let me = self.clone();
        let tidy = move || {
            for _ in 0..50 {
                if !me.alive() {
                    break;
                }
                me.signal(Signal::SIGKILL);
                std::thread::sleep(Duration::from_millis(10));
            }
            me.close();
        };
        if std::thread::Builder::new()
            .name("signalbox-tidy".into())
            .spawn(tidy)
            .is_err()
        {
            tracing::warn!(pgid = self.pgid, "cannot tidy up after a dropped attempt");
        }
    }
}

/// After the attempt's first process exited: SIGTERM what is left, wait up
/// to `grace`, then SIGKILL. Returns at once when nothing is left.
pub(super) async fn terminate(scope: &Scope, grace: Duration) {
    if !scope.alive_async().await {
        return;
    }
    let deadline = Instant::now() + grace;
    scope.signal_async(Signal::SIGTERM).await;
    if !wait_until_gone(scope, deadline).await {
        kill_and_settle(scope).await;
    }
}

/// Terminates the scope while its first process may still run; waits on the
/// child itself (which the kernel does notify us about), polls for the rest.
pub(super) async fn stop(scope: &Scope, grace: Duration, child: &mut Child) {
    let deadline = Instant::now() + grace;
    scope.signal_async(Signal::SIGTERM).await;
    let gone = match timeout_at(deadline, child.wait()).await {
        Ok(_) => wait_until_gone(scope, deadline).await,
        Err(_) => false,
    };
    if !gone {
        kill_and_settle(scope).await;
    }
    if let Err(e) = child.wait().await {
        tracing::warn!(pgid = scope.pgid, error = %e, "could not reap the step's process");
    }
}

/// SIGKILL again on every look: a process forking in a loop outside a
/// cgroup may start a new one between a scan and the kill.
async fn kill_and_settle(scope: &Scope) {
    let deadline = Instant::now() + KILL_SETTLE;
    let mut pause = Duration::from_millis(2);
    loop {
        scope.signal_async(Signal::SIGKILL).await;
        if !scope.alive_async().await {
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            tracing::warn!(
                pgid = scope.pgid,
                "processes of the step survived SIGKILL (uninterruptible sleep?)"
            );
            return;
        }
        sleep_until((now + pause).min(deadline)).await;
        pause = (pause * 2).min(MAX_POLL);
    }
}

async fn wait_until_gone(scope: &Scope, deadline: Instant) -> bool {
    let mut pause = Duration::from_millis(2);
    while scope.alive_async().await {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        sleep_until((now + pause).min(deadline)).await;
        pause = (pause * 2).min(MAX_POLL);
    }
    true
}

/// True when any process of the group is still alive (`kill(-pgid, 0)`),
/// zombies excluded where `/proc` can tell. Never true for pgid 0 or 1.
pub(super) fn group_alive(pgid: i32) -> bool {
    signalable(pgid) && any_member_running(pgid).unwrap_or(true)
}

fn signalable(pgid: i32) -> bool {
    pgid > 1 && !matches!(killpg(Pid::from_raw(pgid), None), Err(Errno::ESRCH))
}

/// `Some(false)` only when members were seen and all are zombies; `None` when `/proc`
/// cannot tell (no procfs, hidepid, another pid namespace), so callers assume alive.
fn any_member_running(pgid: i32) -> Option<bool> {
    let mut saw_zombie = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        if !name
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        // Processes vanish while we scan; a missing file just means one fewer member.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the command name, which may itself contain spaces or ')'.
        let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
        let (state, group) = (fields.next(), fields.nth(1));
        if group.and_then(|g| g.parse::<i32>().ok()) == Some(pgid) {
            match state {
                Some("Z" | "X") => saw_zombie = true,
                _ => return Some(true),
            }
        }
    }
    saw_zombie.then_some(false)
}

pub(super) fn signal_group(pgid: i32, signal: Signal) {
    if pgid <= 1 {
        return;
    }
    match killpg(Pid::from_raw(pgid), signal) {
        Ok(()) => tracing::debug!(pgid, %signal, "signalled process group"),
        Err(Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pgid, %signal, error = %e, "could not signal process group"),
    }
}

/// The end of the run in `folder` (absolute): when it was the last run in
/// its cgroup, SIGTERM to everything still there, up to the longest grace
/// of its steps, then we move out, SIGKILL the rest and remove the cgroup;
/// otherwise the run's own leftovers get SIGKILL.
pub(super) async fn end_run(run: &str, folder: &str) {
    match cgroup::leave(run, folder) {
        None => {}
        Some(Leave::Shared(cg)) => {
            settle(|| reaper::run_members_in(&cg.candidates(), run, folder)).await;
        }
        Some(Leave::Last(cg, grace)) => {
            let left = cg.candidates();
            if !left.is_empty() {
                tracing::info!(pids = ?left, "ending what is left in the run's cgroup");
                reaper::signal_each(&left, Signal::SIGTERM);
                let deadline = Instant::now() + grace;
                let mut pause = Duration::from_millis(2);
                while !cg.candidates().is_empty() && Instant::now() < deadline {
                    sleep_until((Instant::now() + pause).min(deadline)).await;
                    pause = (pause * 2).min(MAX_POLL);
                }
            }
            if cg.move_back() {
                cg.kill_all();
                let deadline = Instant::now() + KILL_SETTLE;
                while !cg.candidates().is_empty() && Instant::now() < deadline {
                    sleep_until(Instant::now() + Duration::from_millis(5)).await;
                    cg.kill_all();
                }
                cg.remove();
            } else {
                settle(|| cg.candidates()).await;
            }
        }
    }
    reaper::reap_orphans();
}

/// SIGKILL to what `left` lists until it lists nothing, for at most
/// [`KILL_SETTLE`].
async fn settle(left: impl Fn() -> Vec<i32>) {
    let deadline = Instant::now() + KILL_SETTLE;
    loop {
        let pids = left();
        if pids.is_empty() {
            return;
        }
        reaper::signal_each(&pids, Signal::SIGKILL);
        if Instant::now() >= deadline {
            tracing::warn!(?pids, "processes of the run survived SIGKILL");
            return;
        }
        sleep_until(Instant::now() + Duration::from_millis(5)).await;
    }
}
