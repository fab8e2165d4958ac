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
use std::pin::pin;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal as NixSignal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
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

/// Returns the argv of a command with no shell syntax at all, so it can be executed without a
/// shell like make does: only words of `[A-Za-z0-9_./=:,+@%-]` separated by spaces or tabs,
/// the first word neither a shell builtin/keyword nor an assignment. Trailing newlines (from
/// YAML block scalars) are ignored since sh ignores them too.
pub fn simple_argv(command: &str) -> Option<Vec<String>> {
    const ALLOWED: &str = "_./=:,+@%-";
    const SHELL_WORDS: &[&str] = &[
        ".", ":", "alias", "bg", "break", "builtin", "case", "cd", "command", "continue",
        "declare", "dirs", "disown", "do", "done", "elif", "else", "enable", "esac", "eval",
        "exec", "exit", "export", "fc", "fg", "fi", "for", "function", "getopts", "hash",
        "history", "if", "in", "jobs", "let", "local", "logout", "popd", "pushd", "read",
        "readonly", "return", "select", "set", "shift", "shopt", "source", "suspend", "then",
        "time", "times", "trap", "type", "typeset", "ulimit", "umask", "unalias", "unset", "until",
        "wait", "while",
    ];
    let command = command.trim_end_matches('\n');
    let ok = |c: char| c.is_ascii_alphanumeric() || ALLOWED.contains(c) || c == ' ' || c == '\t';
    if !command.chars().all(ok) {
        return None;
    }
    let argv: Vec<String> = command
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let first = argv.first()?;
    if first.contains('=') || SHELL_WORDS.contains(&first.as_str()) {
        return None;
    }
    Some(argv)
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

/// Where a bare program name is found on `PATH`, looked up once per name:
/// the kernel would otherwise try every `PATH` entry on every spawn. Only
/// for steps that keep the inherited `PATH`.
fn resolve(program: &str, spec: &ProcessSpec) -> std::borrow::Cow<'static, str> {
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::{Mutex, OnceLock};
    static FOUND: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    if program.contains('/') || spec.env.iter().any(|(k, _)| k == "PATH") {
        return program.to_owned().into();
    }
    let cache = FOUND.get_or_init(Default::default);
    if let Some(path) = cache.lock().ok().and_then(|c| c.get(program).cloned()) {
        return path.into();
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| {
                std::fs::metadata(p)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    });
    match found.and_then(|p| p.to_str().map(str::to_owned)) {
        Some(path) => {
            if let Ok(mut c) = cache.lock() {
                c.insert(program.to_owned(), path.clone());
            }
            path.into()
        }
        None => program.to_owned().into(),
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

/// Delivers output lines while `work` runs, so a chatty process never blocks on a full pipe.
async fn pump<T>(
    output: &mut Output,
    on_line: &mut impl FnMut(Stream, String),
    work: impl Future<Output = T>,
) -> T {
    let mut work = pin!(work);
    loop {
        tokio::select! {
            biased;
            done = work.as_mut() => return done,
            Some((stream, line)) = output.next() => on_line(stream, line),
        }
    }
}

/// Reads what is left once the group is gone, bounded in case a process escaped the group.
async fn drain(output: &mut Output, on_line: &mut impl FnMut(Stream, String)) {
    let read_all = async {
        while let Some((stream, line)) = output.next().await {
            on_line(stream, line);
        }
    };
    if tokio::time::timeout(DRAIN_BOUND, read_all).await.is_err() {
        tracing::debug!("output still open after the process group ended; stopped reading");
    }
}

struct Output {
    out: Option<LineReader<ChildStdout>>,
    err: Option<LineReader<ChildStderr>>,
}

impl Output {
    /// The next line from either stream, `None` once both are closed. Cancel-safe.
    async fn next(&mut self) -> Option<(Stream, String)> {
        loop {
            let (has_out, has_err) = (self.out.is_some(), self.err.is_some());
            let (stream, read) = tokio::select! {
                read = next_line(&mut self.out), if has_out => (Stream::Stdout, read),
                read = next_line(&mut self.err), if has_err => (Stream::Stderr, read),
                else => return None,
            };
            match read {
                Ok(Some(line)) => return Some((stream, line)),
                Ok(None) => {}
                Err(e) => tracing::warn!(?stream, error = %e, "could not read output"),
            }
            match stream {
                Stream::Stdout => self.out = None,
                Stream::Stderr => self.err = None,
            }
        }
    }
}

async fn next_line<R: AsyncRead + Unpin>(
    reader: &mut Option<LineReader<R>>,
) -> io::Result<Option<String>> {
    match reader {
        Some(reader) => reader.next_line().await,
        None => Ok(None),
    }
}

struct LineReader<R> {
    inner: BufReader<R>,
    partial: Vec<u8>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner: BufReader::new(inner),
            partial: Vec::new(),
        }
    }

    /// Cancel-safe: bytes are moved into `partial` before they are consumed.
    async fn next_line(&mut self) -> io::Result<Option<String>> {
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                return Ok((!self.partial.is_empty()).then(|| self.take()));
            }
            let room = MAX_LINE - self.partial.len();
            // One byte more than `room` so a newline right at the limit is not split off.
            let window = &available[..available.len().min(room + 1)];
            if let Some(end) = window.iter().position(|&b| b == b'\n') {
                self.partial.extend_from_slice(&window[..end]);
                self.inner.consume(end + 1);
                return Ok(Some(self.take()));
            }
            if room == 0 {
                return Ok(Some(self.take()));
            }
            let taken = window.len().min(room);
            self.partial.extend_from_slice(&window[..taken]);
            self.inner.consume(taken);
        }
    }

    fn take(&mut self) -> String {
        match String::from_utf8(std::mem::take(&mut self.partial)) {
            Ok(line) => line,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests;
