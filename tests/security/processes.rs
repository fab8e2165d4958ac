//! SPEC §2 processes: no process outlives its step, including processes
//! that call `setsid` or `setpgid`, double-fork or trap SIGTERM; on the
//! step's exit, on cancel, on timeout, and after a crash (`kill -9` of
//! signalbox, then `resume`). Each case runs twice: with the run's cgroup
//! (where this system lets us create one, as root: signalbox moves itself
//! into it, and every step is born inside) and with the fallback
//! (`SIGNALBOX_NO_CGROUP=1`: marker variables and the subreaper).
//!
//! Every process a test starts inherits `MARK=<unique>` from signalbox, so
//! `common::marked` finds whatever survived.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{BIN, Done, Live, is, marked, marker};

/// How each hostile step leaves its process group. Each touches `FLAG` once
/// it is out, and the step waits for that, so none is still in the group
/// (where the group kill alone would get it) when the step ends.
const SETSID: &str = "setsid sh -c 'touch FLAG; exec sleep 1000' &";
const DOUBLE_FORK: &str = "setsid sh -c '(touch FLAG; exec sleep 1000) & exit 0' &";
const SETPGID: &str =
    "perl -e 'setpgrp(0, 0); open(F, \">FLAG\"); close(F); exec \"sleep\", \"1000\"' &";
const TRAP_TERM: &str = "setsid sh -c 'trap \"\" TERM; touch FLAG; while :; do sleep 1; done' &";

/// The command that leaves, and the wait until it is out.
fn escape(leave: &str, flag: &str) -> String {
    format!(
        "{}\n      until [ -e {flag} ]; do sleep 0.01; done",
        leave.replace("FLAG", flag)
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// The step's shell exits on its own.
    Exit,
    /// SIGTERM to signalbox while the step runs.
    Cancel,
    /// The step's `timeout` fires.
    Timeout,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    Cgroup,
    Fallback,
}

struct Work {
    tmp: tempfile::TempDir,
    mark: String,
    mechanism: Mechanism,
}

impl Work {
    fn new(mechanism: Mechanism) -> Work {
        Work {
            tmp: tempfile::tempdir().unwrap(),
            mark: marker(),
            mechanism,
        }
    }

    fn write(&self, yaml: &str) -> PathBuf {
        let file = self.tmp.path().join("wf.yaml");
        std::fs::write(&file, yaml).unwrap();
        file
    }

    fn spawn(&self, args: &[&str]) -> Live {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .args(["--headless", "--json", "--state-dir"])
            .arg(self.tmp.path().join("state"))
            .env("MARK", &self.mark)
            .env_remove("SIGNALBOX_STATE_DIR")
            .current_dir(self.tmp.path())
            .stdin(Stdio::null());
        match self.mechanism {
            Mechanism::Cgroup => cmd.env_remove("SIGNALBOX_NO_CGROUP"),
            Mechanism::Fallback => cmd.env("SIGNALBOX_NO_CGROUP", "1"),
        };
        Live::spawn(cmd)
    }
}

/// Cleans up after a failed assertion too: these are processes we started.
impl Drop for Work {
    fn drop(&mut self) {
        for (pid, _) in marked("MARK", &self.mark) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// Where cgroup2 is mounted, when this process may create cgroups in its own.
fn cgroup_root() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = info.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let mut f = left.split(' ');
        let (root, point) = (f.nth(3)?, f.next()?);
        (right.starts_with("cgroup2 ") && root == "/").then(|| PathBuf::from(point))
    })?;
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let ours = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = mount.join(ours.trim_start_matches('/'));
    // Tests run side by side: each probes with a name of its own.
    let probe = dir.join(format!("signalbox-test-{}", marker()));
    std::fs::create_dir(&probe).ok()?;
    std::fs::remove_dir(&probe).ok()?;
    Some(mount)
}

/// `None` (and a message) when the mechanism cannot be tried here.
fn work(mechanism: Mechanism) -> Option<Work> {
    if mechanism == Mechanism::Cgroup && cgroup_root().is_none() {
        eprintln!("skipped: no writable cgroup2 here (run as root on a cgroup2 system)");
        return None;
    }
    Some(Work::new(mechanism))
}

fn workflow(leave: &str, end: End) -> String {
    let (timeout, tail) = match end {
        End::Exit => ("", ""),
        End::Cancel => ("", "sleep 1000"),
        End::Timeout => ("    timeout: 1s\n", "sleep 1000"),
    };
    format!(
        "name: hostile\nsteps:\n  s:\n    kill_grace: 300ms\n{timeout}    run: |\n      \
         grep '^0::' /proc/self/cgroup\n      {}\n      echo started\n      {tail}\n",
        escape(leave, "out")
    )
}

/// The step's first line is its cgroup: with the cgroup mechanism the run's
/// own, `signalbox-<run id>.<hash>` right in the cgroup signalbox started in
/// (one per run, not per attempt), and never one of ours on the fallback
/// (so a test cannot pass on the other).
fn check_mechanism(w: &Work, o: &Done, step: &str) -> Option<PathBuf> {
    let lines: Vec<&str> = o
        .of("step_output", step)
        .iter()
        .filter_map(|e| e["line"].as_str())
        .collect();
    let line = lines.first().copied().unwrap_or("");
    let ours = line.contains("/signalbox-");
    match w.mechanism {
        Mechanism::Cgroup => {
            assert!(
                ours,
                "the step ran outside a signalbox cgroup: {line:?}\n{}",
                o.dump()
            );
            let rel = line.trim_start_matches("0::").trim_start_matches('/');
            let dir = cgroup_root().unwrap().join(rel);
            let name = dir.file_name().unwrap().to_str().unwrap();
            let want = format!("signalbox-{}.", o.run_id());
            assert!(name.starts_with(&want), "not the run's cgroup: {line:?}");
            assert_eq!(
                dir.parent(),
                Some(own_cgroup().as_path()),
                "not the per-run cgroup: {line:?}"
            );
            Some(dir)
        }
        Mechanism::Fallback => {
            assert!(!ours, "SIGNALBOX_NO_CGROUP=1 still used a cgroup: {line:?}");
            None
        }
    }
}

/// This process's cgroup, where signalbox starts and makes the run's.
fn own_cgroup() -> PathBuf {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let ours = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    cgroup_root().unwrap().join(ours.trim_start_matches('/'))
}

/// Nothing marked is alive (SIGKILL is asynchronous: a short moment to
/// vanish), and no cgroup of the run is left.
fn assert_nothing_left(w: &Work, cgroup: Option<&Path>) {
    let deadline = Instant::now() + Duration::from_millis(500);
    loop {
        let left = marked("MARK", &w.mark);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes outlived their step: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(dir) = cgroup {
        assert!(!dir.exists(), "the run's cgroup {} is left", dir.display());
    }
}

fn case(leave: &str, end: End, mechanism: Mechanism) {
    let Some(w) = work(mechanism) else { return };
    let file = w.write(&workflow(leave, end));
    let mut live = w.spawn(&["run", file.to_str().unwrap()]);
    let o = match end {
        End::Exit | End::Timeout => live.finish(),
        End::Cancel => {
            live.wait_for("started", |e| {
                is(e, "step_output", "s") && e["line"] == "started"
            });
            live.signal("TERM");
            live.finish()
        }
    };
    match end {
        End::Exit => o.expect(0, "succeeded"),
        End::Cancel => o.expect(130, "cancelled"),
        End::Timeout => {
            o.expect(1, "failed");
            assert!(
                o.one("step_failed", "s")["error"]
                    .as_str()
                    .unwrap()
                    .contains("timed out")
            );
        }
    }
    assert_nothing_left(&w, None);
    let cgroup = check_mechanism(&w, &o, "s");
    assert_nothing_left(&w, cgroup.as_deref());
}

macro_rules! cases {
    ($($name:ident: $leave:expr, $end:expr;)*) => {
        mod cgroup {
            use super::*;
            $(#[test] fn $name() { case($leave, $end, Mechanism::Cgroup) })*
        }
        mod fallback {
            use super::*;
            $(#[test] fn $name() { case($leave, $end, Mechanism::Fallback) })*
        }
    };
}

cases! {
    setsid_on_exit: SETSID, End::Exit;
    setsid_on_cancel: SETSID, End::Cancel;
    setsid_on_timeout: SETSID, End::Timeout;
    double_fork_on_exit: DOUBLE_FORK, End::Exit;
    double_fork_on_cancel: DOUBLE_FORK, End::Cancel;
    double_fork_on_timeout: DOUBLE_FORK, End::Timeout;
    setpgid_on_exit: SETPGID, End::Exit;
    setpgid_on_cancel: SETPGID, End::Cancel;
    setpgid_on_timeout: SETPGID, End::Timeout;
    trap_term_on_exit: TRAP_TERM, End::Exit;
    trap_term_on_cancel: TRAP_TERM, End::Cancel;
    trap_term_on_timeout: TRAP_TERM, End::Timeout;
}

/// `kill -9` of signalbox while the step's escaped processes run; `resume`
/// kills them before it runs the step again (which then just succeeds).
fn resume_after_crash(mechanism: Mechanism) {
    let Some(w) = work(mechanism) else { return };
    let leave = [SETSID, DOUBLE_FORK, SETPGID, TRAP_TERM]
        .iter()
        .enumerate()
        .map(|(i, l)| escape(l, &format!("out{i}")))
        .collect::<Vec<_>>()
        .join("\n      ");
    let file = w.write(&format!(
        "name: crash\nsteps:\n  s:\n    kill_grace: 300ms\n    run: |\n      \
         grep '^0::' /proc/self/cgroup\n      \
         if [ -e again ]; then echo again; exit 0; fi\n      touch again\n      \
         {leave}\n      echo started\n      sleep 1000\n"
    ));
    let mut live = w.spawn(&["run", file.to_str().unwrap()]);
    let id = live.run_id();
    live.wait_for("started", |e| {
        is(e, "step_output", "s") && e["line"] == "started"
    });
    live.kill9();
    assert!(
        !marked("MARK", &w.mark).is_empty(),
        "the crash left the step's processes"
    );
    let o = w.spawn(&["resume", &id]).finish();
    o.expect(0, "succeeded");
    let lines: Vec<&str> = o
        .of("step_output", "s")
        .iter()
        .filter_map(|e| e["line"].as_str())
        .collect();
    assert_eq!(lines.last(), Some(&"again"), "{}", o.dump());
    assert_nothing_left(&w, None);
    let cgroup = check_mechanism(&w, &o, "s");
    assert_nothing_left(&w, cgroup.as_deref());
}

#[test]
fn cgroup_resume_after_kill_9_kills_the_survivors() {
    resume_after_crash(Mechanism::Cgroup);
}

#[test]
fn fallback_resume_after_kill_9_kills_the_survivors() {
    resume_after_crash(Mechanism::Fallback);
}

/// A step that clears its environment (`env -i`) and leaves its session
/// carries no marker; while another step runs it is nobody's, but it is
/// dead once none runs (step `u` looks), and by the run's end. Its pid is
/// in `flag`: `MARK` cannot find it.
/// `hide` runs first in that process (with its cgroup folder as `$1`).
fn cleared_environment(mechanism: Mechanism, hide: &str) {
    let Some(w) = work(mechanism) else { return };
    let root = cgroup_root()
        .map(|r| r.display().to_string())
        .unwrap_or_default();
    let file = w.write(&format!(
        "name: cleared\nsteps:\n  s:\n    kill_grace: 300ms\n    run: |\n      \
         grep '^0::' /proc/self/cgroup\n      \
         cg={root}$(sed -n 's/^0:://p' /proc/self/cgroup)\n      \
         env -i setsid sh -c '{hide}echo $$ >pid.tmp; mv pid.tmp flag; exec sleep 1000' sh \"$cg\" &\n      \
         until [ -e flag ]; do sleep 0.01; done\n  \
         t:\n    run: |\n      until [ -e flag ]; do sleep 0.01; done\n      sleep 0.3\n  \
         u:\n    needs: [s, t]\n    run: |\n      \
         if grep -q 1000 /proc/$(cat flag)/cmdline; then echo alive; exit 1; fi\n",
    ));
    let o = w.spawn(&["run", file.to_str().unwrap()]).finish();
    o.expect(0, "succeeded");
    let pid = std::fs::read_to_string(w.tmp.path().join("flag")).unwrap();
    let pid: u32 = pid.trim().parse().expect("the step could not hide");
    let cmdline = format!("/proc/{pid}/cmdline");
    let sleeping = || std::fs::read(&cmdline).is_ok_and(|c| c.starts_with(b"sleep\x001000"));
    let deadline = Instant::now() + Duration::from_millis(500);
    while sleeping() {
        if Instant::now() >= deadline {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the step's process without markers outlived the run");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let cgroup = check_mechanism(&w, &o, "s");
    assert_nothing_left(&w, cgroup.as_deref());
}

#[test]
fn cgroup_cleared_environment_dies_by_the_runs_end() {
    cleared_environment(Mechanism::Cgroup, "");
}

#[test]
fn fallback_cleared_environment_dies_by_the_runs_end() {
    cleared_environment(Mechanism::Fallback, "");
}

/// As root a step may make a cgroup under the run's and move into it: it
/// is still under the run's, and found there.
#[test]
fn cgroup_a_cgroup_of_the_steps_own_is_searched_too() {
    cleared_environment(
        Mechanism::Cgroup,
        "mkdir \"$1\"/own && echo $$ >\"$1\"/own/cgroup.procs || { echo no >flag; exit 1; }; ",
    );
}

/// A run killed without a resume leaves an empty cgroup; the next signalbox
/// removes such leftovers, and never a cgroup that is fresh or holds a process.
#[test]
fn cgroup_leftovers_of_killed_runs_are_swept() {
    let Some(w) = work(Mechanism::Cgroup) else {
        return;
    };
    let mount = cgroup_root().unwrap();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let ours = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    let base = mount.join(ours.trim_start_matches('/'));
    let stale = base.join(format!("signalbox-{}", w.mark));
    let fresh = base.join(format!("signalbox-{}-fresh", w.mark));
    for dir in [&stale, &fresh] {
        std::fs::create_dir_all(dir.join("a1")).unwrap();
    }
    let old = Command::new("touch")
        .args(["-d", "2 minutes ago"])
        .arg(stale.join("a1"))
        .arg(&stale)
        .status()
        .unwrap();
    assert!(old.success());
    let file = w.write("name: sweep\nsteps:\n  s:\n    run: true\n");
    w.spawn(&["run", file.to_str().unwrap()])
        .finish()
        .expect(0, "succeeded");
    let fresh_kept = fresh.join("a1").exists();
    let _ = std::fs::remove_dir(fresh.join("a1"));
    let _ = std::fs::remove_dir(&fresh);
    let _ = std::fs::remove_dir(stale.join("a1"));
    let stale_left = stale.exists();
    let _ = std::fs::remove_dir(&stale);
    assert!(!stale_left, "the stale cgroup {} is left", stale.display());
    assert!(fresh_kept, "a fresh cgroup was removed");
}
