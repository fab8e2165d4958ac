//! Runs one attempt of a step's command as its own process group.
//!
//! This module owns the operating-system side of an attempt: spawning the command
//! (directly when it has no shell syntax, otherwise through the shell), streaming
//! stdout/stderr line by line, enforcing the timeout and cancellation, and killing the
//! whole attempt so that no process outlives it. It must not know about workflow files,
//! events, the journal or the UI: callers hand in a [`ProcessSpec`] and callbacks and get
//! an [`Exit`] back.
//!
//! "The whole attempt" is more than its process group, which `setsid` or `setpgid`
//! leaves: its processes are found by the marker variables in their environment
//! (`reaper`). Where the system lets us, each run gets a cgroup v2 (`cgroup`) that
//! signalbox moves itself into at the run's first attempt, so every step process is
//! born inside and cannot leave; only the processes in it are read, and those that
//! cleared their environment are killed when no other attempt runs, and at the run's
//! end ([`end_run`]). Otherwise signalbox is child subreaper and reads its descendants.
//! `scope` ends either.

use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use std::io::PipeWriter;

use tokio::process::{Child, Command};

/// Lines longer than this are delivered in pieces so one runaway line cannot eat memory.
pub(crate) const MAX_LINE: usize = 64 * 1024;
/// How long output is still read once the group is gone; only a process that left the
/// group (setsid, a daemon) can keep a pipe open that long.
const DRAIN_BOUND: Duration = Duration::from_millis(200);
/// SIGKILL cannot be ignored, but delivery is asynchronous: allow the kernel this long.
const KILL_SETTLE: Duration = Duration::from_millis(200);
/// Upper bound between liveness checks while waiting for non-children to exit.
const MAX_POLL: Duration = Duration::from_millis(50);

/// What to run for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// The step's `run` text.
    pub command: String,
    /// e.g. `["sh", "-c"]`; the command is appended as the last argument.
    pub shell: Vec<String>,
    /// Added on top of the inherited environment.
    pub env: Vec<(String, String)>,
    /// Left out of the inherited environment (before `env` is added): the
    /// variables signalbox read secrets from, which no step inherits.
    pub unset: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// Per attempt.
    pub timeout: Option<Duration>,
    /// SIGTERM, then wait this long, then SIGKILL.
    pub kill_grace: Duration,
    /// The attempt's marker variables (also in `env`): names its cgroup, and
    /// finds its processes where there is no cgroup. `None`: the group only.
    pub mark: Option<Mark>,
    /// Each output line takes room here before it is delivered, so a step
    /// cannot print faster than its lines are journaled.
    pub output_room: Option<crate::engine::bus::OutputRoom>,
    /// stdout and stderr share one pipe, so lines arrive in the order the
    /// process wrote them (as [`Stream::Output`]); two pipes cannot keep it.
    pub merged: bool,
    /// Written to the process's stdin, which is then closed (a hook's
    /// event line); none: stdin is `/dev/null`.
    pub stdin: Option<std::sync::Arc<str>>,
}

impl ProcessSpec {
    /// A spec with the defaults: `sh -c`, inherited env and cwd, no timeout, 5 s grace.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            shell: vec!["sh".to_owned(), "-c".to_owned()],
            env: Vec::new(),
            unset: Vec::new(),
            cwd: None,
            timeout: None,
            kill_grace: Duration::from_secs(5),
            mark: None,
            output_room: None,
            merged: false,
            stdin: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// stdout and stderr together, from the one pipe of a merged spec.
    Output,
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Exited normally (0 = success).
    Code(i32),
    /// Killed by a signal it did not get from us.
    Signal(i32),
    /// The timeout fired; the group was terminated.
    TimedOut,
    /// The cancel future resolved; the group was terminated.
    Cancelled,
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("no shell configured (expected something like [\"sh\", \"-c\"])")]
    EmptyShell,
    #[error("working directory {} does not exist or is not a directory", .dir.display())]
    MissingCwd { dir: PathBuf },
    #[error("shell `{shell}` was not found (is it installed and on PATH?)")]
    ShellNotFound { shell: String },
    #[error("could not start `{program}`: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("lost track of the running process: {0}")]
    Lost(io::Error),
}

/// Reported as soon as the process exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub pgid: i32,
}

/// Runs the command. `on_start` is called once right after spawn with the pgid.
/// `on_line` is called for every line of stdout/stderr, in order per pipe (one pipe for
/// both when the spec is `merged`), without the
/// trailing newline (lossy UTF-8; a final line without newline is still delivered; lines
/// longer than 64 KiB are split). When `cancel` resolves the attempt is cancelled.
///
/// A command without shell syntax (see [`simple_argv`]) is executed directly when the
/// shell is the default `sh -c`. If that exec fails (not found, not executable, no
/// shebang) the command is re-run through the shell, so the user gets exactly what sh
/// reports: exit 127 and `sh: 1: NAME: not found` on stderr for a missing program.
///
/// Dropping the returned future mid-attempt SIGKILLs the group (no grace: drop cannot wait).
pub async fn run(
    spec: &ProcessSpec,
    cancel: impl Future<Output = ()>,
    on_start: impl FnOnce(Started),
    mut on_line: impl FnMut(Stream, String),
) -> Result<Exit, SpawnError> {
    let (mut child, scope, pid, merged) = start(spec).await?;
    let mut guard = KillOnDrop {
        scope: scope.clone(),
        pid,
        armed: true,
    };
    on_start(Started { pgid: pid });
    feed_stdin(spec, &mut child);
    let mut output = Output {
        out: child.stdout.take().map(LineReader::new),
        err: child.stderr.take().map(LineReader::new),
        merged: merged.map(LineReader::new),
        room: spec.output_room.clone(),
    };
    let ended = pump(
        &mut output,
        &mut on_line,
        wait_for_end(&mut child, spec.timeout, cancel),
    )
    .await;
    let grace = spec.kill_grace;
    match ended {
        Ended::Exited(_) => pump(&mut output, &mut on_line, scope::terminate(&scope, grace)).await,
        _ => {
            pump(
                &mut output,
                &mut on_line,
                scope::stop(&scope, grace, &mut child),
            )
            .await
        }
    }
    guard.armed = false;
    scope.close();
    drain(&mut output, &mut on_line).await;
    match ended {
        Ended::Exited(Ok(status)) => Ok(exit_from(status)),
        Ended::Exited(Err(e)) => Err(SpawnError::Lost(e)),
        Ended::TimedOut => Ok(Exit::TimedOut),
        Ended::Cancelled => Ok(Exit::Cancelled),
    }
}

/// Sends SIGTERM to a process group, waits `grace`, then SIGKILL. Safe if the group is gone.
/// Only pass a group you started and have not long since cleaned up: once a group is empty
/// its number can be reused.
pub async fn terminate_group(pgid: i32, grace: Duration) {
    scope::terminate(&Scope::group(pgid), grace).await;
}

/// True when any process of the group is still alive (`kill(-pgid, 0)`), zombies excluded
/// where `/proc` can tell. Never true for pgid 0 or 1, which `killpg` would read as "our own
/// group" and "every process". When the group has members this scans `/proc`.
pub fn group_alive(pgid: i32) -> bool {
    scope::group_alive(pgid)
}

/// Call when the run in `folder` is over, after its last attempt: kills what is still
/// in the run's cgroup (SIGTERM, the longest `kill_grace` of its steps, SIGKILL), moves
/// signalbox back to the cgroup it came from and removes the run's. Does nothing
/// without a cgroup, and while another run of this process still uses it.
pub async fn end_run(run: &str, folder: &Path) {
    let folder = std::path::absolute(folder).unwrap_or_else(|_| folder.to_path_buf());
    scope::end_run(run, &folder.display().to_string()).await;
}

/// Kills, without grace, every process a crashed run left: its cgroups, and every process
/// with its run id and run folder in the environment. Blocks for at most a fraction of a
/// second.
pub fn reclaim_run(run: &str, folder: &Path) {
    let folder = std::path::absolute(folder).unwrap_or_else(|_| folder.to_path_buf());
    let folder = folder.display().to_string();
    cgroup::reclaim(run, &folder, KILL_SETTLE);
    let deadline = std::time::Instant::now() + KILL_SETTLE;
    loop {
        let left = reaper::run_members(run, &folder);
        if left.is_empty() {
            break;
        }
        tracing::warn!(run, pids = ?left, "killing processes left from the interrupted run");
        reaper::signal_each(&left, nix::sys::signal::Signal::SIGKILL);
        if std::time::Instant::now() >= deadline {
            tracing::warn!(run, pids = ?left, "processes of the interrupted run survived SIGKILL");
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    reaper::reap_orphans();
}

enum Ended {
    Exited(io::Result<ExitStatus>),
    TimedOut,
    Cancelled,
}

/// Spawns the attempt's first process; in the run's cgroup when there is one
/// (this process moves into it first, once per run, and the child inherits it).
async fn start(spec: &ProcessSpec) -> Result<(Child, Scope, i32, Option<Merged>), SpawnError> {
    let cgroup = spec
        .mark
        .as_ref()
        .and_then(|m| Cgroup::enter(&m.run, m.folder(), spec.kill_grace));
    let (reader, writer) = output::shared_pipe(spec.merged)?;
    let child = spawn(spec, writer.as_ref()).await?;
    // The child holds its copies; ours must go, or the reader never sees the end.
    drop(writer);
    let merged = output::merged(reader)?;
    let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) else {
        return Err(SpawnError::Lost(io::Error::other("the process has no pid")));
    };
    Ok((
        child,
        Scope::new(pid, cgroup, spec.mark.clone()),
        pid,
        merged,
    ))
}

/// `shared`: the write end of the one pipe stdout and stderr share, when merged.
async fn spawn(spec: &ProcessSpec, shared: Option<&PipeWriter>) -> Result<Child, SpawnError> {
    let (shell, shell_args) = spec.shell.split_first().ok_or(SpawnError::EmptyShell)?;
    if spec.shell == ["sh", "-c"]
        && let Some((program, args)) = simple_argv(&spec.command)
            .as_deref()
            .and_then(<[String]>::split_first)
    {
        match command(program, args, spec, shared).and_then(tracked) {
            Ok(child) => return Ok(child),
            // The shell reruns it and reports the failure the way users know.
            Err(e) => tracing::debug!(program, error = %e, "direct exec failed, using the shell"),
        }
    }
    let mut args = shell_args.to_vec();
    args.push(spec.command.clone());
    match command(shell, &args, spec, shared).and_then(tracked) {
        Ok(child) => Ok(child),
        Err(e) => Err(explain(e, shell, spec).await),
    }
}

/// Spawns with the child table locked, so the reaper never takes tokio's child for an
/// orphan, however soon it exits.
fn tracked(mut cmd: Command) -> io::Result<Child> {
    reaper::SPAWNING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let mut children = reaper::children();
    let child = cmd.spawn();
    reaper::SPAWNING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    let child = child?;
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        children.insert(pid);
        reaper::known(pid, true);
    }
    Ok(child)
}

fn command(
    program: &str,
    args: &[String],
    spec: &ProcessSpec,
    shared: Option<&PipeWriter>,
) -> io::Result<Command> {
    let mut cmd = Command::new(resolve(program, spec).as_ref());
    match shared {
        Some(pipe) => cmd
            .stdout(Stdio::from(pipe.try_clone()?))
            .stderr(Stdio::from(pipe.try_clone()?)),
        None => cmd.stdout(Stdio::piped()).stderr(Stdio::piped()),
    };
    for name in &spec.unset {
        cmd.env_remove(name);
    }
    // Where signalbox itself reaches its NATS server, which may hold a
    // password: no step or hook inherits it (one may still set it in `env`).
    for name in ["SIGNALBOX_NATS", "SIGNALBOX_NATS_FLAG"] {
        cmd.env_remove(name);
    }
    cmd.args(args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(match spec.stdin {
            Some(_) => Stdio::piped(),
            None => Stdio::null(),
        })
        .process_group(0)
        // If `run` is dropped, tokio still reaps the child in the background.
        .kill_on_drop(true);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    Ok(cmd)
}

/// Writes `spec.stdin` on a task of its own, then closes the pipe: a
/// process that never reads it only fails that write (EPIPE), and the
/// attempt never waits for it.
fn feed_stdin(spec: &ProcessSpec, child: &mut Child) {
    let (Some(data), Some(mut pipe)) = (spec.stdin.clone(), child.stdin.take()) else {
        return;
    };
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let _ = pipe.write_all(data.as_bytes()).await;
        let _ = pipe.write_all(b"\n").await;
    });
}

/// posix_spawn reports a missing cwd and a missing program both as ENOENT; tell them apart.
async fn explain(err: io::Error, shell: &str, spec: &ProcessSpec) -> SpawnError {
    if let Some(dir) = &spec.cwd
        && !tokio::fs::metadata(dir).await.is_ok_and(|m| m.is_dir())
    {
        return SpawnError::MissingCwd { dir: dir.clone() };
    }
    if err.kind() == io::ErrorKind::NotFound {
        return SpawnError::ShellNotFound {
            shell: shell.to_owned(),
        };
    }
    SpawnError::Spawn {
        program: shell.to_owned(),
        source: err,
    }
}

async fn wait_for_end(
    child: &mut Child,
    timeout: Option<Duration>,
    cancel: impl Future<Output = ()>,
) -> Ended {
    let timeout = async {
        match timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        status = child.wait() => Ended::Exited(status),
        () = timeout => Ended::TimedOut,
        () = cancel => Ended::Cancelled,
    }
}

fn exit_from(status: ExitStatus) -> Exit {
    // On Unix a reaped process has either an exit code or a terminating signal.
    status
        .code()
        .map_or(Exit::Signal(status.signal().unwrap_or(0)), Exit::Code)
}

/// Kills the attempt if `run` is dropped mid-attempt, e.g. when the engine aborts its task;
/// either way the first process leaves the child table once tokio has it or is done.
struct KillOnDrop {
    scope: Scope,
    pid: i32,
    armed: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.scope.kill_now();
        }
        reaper::forget(self.pid);
    }
}

mod cgroup;
mod direct;
mod output;
mod reaper;
mod scope;

use cgroup::Cgroup;
use direct::resolve;
pub use direct::simple_argv;
use output::{LineReader, Merged, Output, drain, pump};
pub use reaper::{Mark, become_subreaper};
use scope::Scope;

#[cfg(test)]
mod tests;
