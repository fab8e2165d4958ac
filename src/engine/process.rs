//! Runs one attempt of a step's command as its own process group.
//!
//! This module owns the operating-system side of an attempt: spawning the command
//! (directly when it has no shell syntax, otherwise through the shell), streaming
//! stdout/stderr line by line, enforcing the timeout and cancellation, and killing the
//! whole process group so that no process outlives the attempt. It must not know about
//! workflow files, events, the journal or the UI: callers hand in a [`ProcessSpec`] and
//! callbacks and get an [`Exit`] back.
//!
//! Liveness of a group ([`group_alive`]) counts zombies as dead. Orphaned grandchildren
//! are reaped by PID 1, which in containers without an init may take seconds or never
//! happen; a zombie holds no pipe and runs no code, so waiting for it would only stall.

use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal as NixSignal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep_until, timeout_at};

/// Lines longer than this are delivered in pieces so one runaway line cannot eat memory.
const MAX_LINE: usize = 64 * 1024;
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
    pub cwd: Option<PathBuf>,
    /// Per attempt.
    pub timeout: Option<Duration>,
    /// SIGTERM, then wait this long, then SIGKILL.
    pub kill_grace: Duration,
    /// Each output line takes room here before it is delivered, so a step
    /// cannot print faster than its lines are journaled.
    pub output_room: Option<crate::engine::bus::OutputRoom>,
}

impl ProcessSpec {
    /// A spec with the defaults: `sh -c`, inherited env and cwd, no timeout, 5 s grace.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            shell: vec!["sh".to_owned(), "-c".to_owned()],
            env: Vec::new(),
            cwd: None,
            timeout: None,
            kill_grace: Duration::from_secs(5),
            output_room: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
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
/// `on_line` is called for every line of stdout/stderr, in order per stream, without the
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
    let mut child = spawn(spec).await?;
    let pgid = match child.id().and_then(|pid| i32::try_from(pid).ok()) {
        Some(pgid) => pgid,
        None => return Err(SpawnError::Lost(io::Error::other("the process has no pid"))),
    };
    let mut guard = KillOnDrop { pgid, armed: true };
    on_start(Started { pgid });
    let mut output = Output {
        out: child.stdout.take().map(LineReader::new),
        err: child.stderr.take().map(LineReader::new),
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
        Ended::Exited(_) => pump(&mut output, &mut on_line, terminate_group(pgid, grace)).await,
        _ => pump(&mut output, &mut on_line, stop(pgid, grace, &mut child)).await,
    }
    guard.armed = false;
    drain(&mut output, &mut on_line).await;
    match ended {
        Ended::Exited(Ok(status)) => Ok(exit_from(status)),
        Ended::Exited(Err(e)) => Err(SpawnError::Lost(e)),
        Ended::TimedOut => Ok(Exit::TimedOut),
        Ended::Cancelled => Ok(Exit::Cancelled),
    }
}

/// Sends SIGTERM to a process group, waits `grace`, then SIGKILL. Safe if the group is gone.
///
/// The kernel does not notify us when processes that are not our children exit, so this
/// checks [`group_alive`] with exponential backoff (at most every 50 ms) until the group is
/// empty or `grace` runs out. That is the only polling in this module and it is bounded.
/// Only pass a group you started and have not long since cleaned up: once a group is empty
/// its number can be reused.
pub async fn terminate_group(pgid: i32, grace: Duration) {
    if !alive_async(pgid).await {
        return;
    }
    let deadline = Instant::now() + grace;
    signal_group(pgid, NixSignal::SIGTERM);
    if !wait_until_gone(pgid, deadline).await {
        kill_and_settle(pgid).await;
    }
}

/// True when any process of the group is still alive (`kill(-pgid, 0)`), zombies excluded
/// where `/proc` can tell. Never true for pgid 0 or 1, which `killpg` would read as "our own
/// group" and "every process". When the group has members this scans `/proc`, a few
/// milliseconds on a busy host: async code inside this module runs it on the blocking pool.
pub fn group_alive(pgid: i32) -> bool {
    signalable(pgid) && any_member_running(pgid).unwrap_or(true)
}

enum Ended {
    Exited(io::Result<ExitStatus>),
    TimedOut,
    Cancelled,
}

async fn spawn(spec: &ProcessSpec) -> Result<Child, SpawnError> {
    let (shell, shell_args) = spec.shell.split_first().ok_or(SpawnError::EmptyShell)?;
    if spec.shell == ["sh", "-c"]
        && let Some((program, args)) = simple_argv(&spec.command)
            .as_deref()
            .and_then(<[String]>::split_first)
    {
        match command(program, args, spec).spawn() {
            Ok(child) => return Ok(child),
            // The shell reruns it and reports the failure the way users know.
            Err(e) => tracing::debug!(program, error = %e, "direct exec failed, using the shell"),
        }
    }
    let mut args = shell_args.to_vec();
    args.push(spec.command.clone());
    match command(shell, &args, spec).spawn() {
        Ok(child) => Ok(child),
        Err(e) => Err(explain(e, shell, spec).await),
    }
}

fn command(program: &str, args: &[String], spec: &ProcessSpec) -> Command {
    let resolved = resolve(program, spec);
    let mut cmd = Command::new(resolved.as_ref());
    cmd.args(args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // If `run` is dropped, tokio still reaps the child in the background.
        .kill_on_drop(true);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    cmd
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

/// Terminates the group while the main child may still run; waits on the child itself
/// (which the kernel does notify us about) and polls only for leftovers.
async fn stop(pgid: i32, grace: Duration, child: &mut Child) {
    let deadline = Instant::now() + grace;
    signal_group(pgid, NixSignal::SIGTERM);
    let gone = match timeout_at(deadline, child.wait()).await {
        Ok(_) => wait_until_gone(pgid, deadline).await,
        Err(_) => false,
    };
    if !gone {
        kill_and_settle(pgid).await;
    }
    if let Err(e) = child.wait().await {
        tracing::warn!(pgid, error = %e, "could not reap the step's process");
    }
}

async fn kill_and_settle(pgid: i32) {
    signal_group(pgid, NixSignal::SIGKILL);
    if !wait_until_gone(pgid, Instant::now() + KILL_SETTLE).await {
        tracing::warn!(
            pgid,
            "process group survived SIGKILL (uninterruptible sleep?)"
        );
    }
}

/// Bounded by `deadline`; see [`terminate_group`] for why this polls.
async fn wait_until_gone(pgid: i32, deadline: Instant) -> bool {
    let mut pause = Duration::from_millis(2);
    while alive_async(pgid).await {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        sleep_until((now + pause).min(deadline)).await;
        pause = (pause * 2).min(MAX_POLL);
    }
    true
}

/// The `/proc` scan reads one file per process on the host: keep it off the runtime.
async fn alive_async(pgid: i32) -> bool {
    if !signalable(pgid) {
        return false;
    }
    tokio::task::spawn_blocking(move || group_alive(pgid))
        .await
        .unwrap_or(true)
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

fn signal_group(pgid: i32, signal: NixSignal) {
    if pgid <= 1 {
        return;
    }
    match killpg(Pid::from_raw(pgid), signal) {
        Ok(()) => tracing::debug!(pgid, %signal, "signalled process group"),
        Err(Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pgid, %signal, error = %e, "could not signal process group"),
    }
}

fn exit_from(status: ExitStatus) -> Exit {
    // On Unix a reaped process has either an exit code or a terminating signal.
    status
        .code()
        .map_or(Exit::Signal(status.signal().unwrap_or(0)), Exit::Code)
}

/// Kills the group if `run` is dropped mid-attempt, e.g. when the engine aborts its task.
struct KillOnDrop {
    pgid: i32,
    armed: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.armed {
            signal_group(self.pgid, NixSignal::SIGKILL);
        }
    }
}

mod direct;
mod output;

use direct::resolve;
pub use direct::simple_argv;
use output::{LineReader, Output, drain, pump};

#[cfg(test)]
mod tests;
