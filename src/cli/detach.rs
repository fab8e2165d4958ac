//! `run --detach`: the run goes on in a process of its own, in a session of
//! its own, so closing the shell, the ssh session or the terminal that
//! started it does not reach it. This process checks the file first (its
//! errors are for the person who typed the command), starts that process,
//! waits until the run can be reached through its socket, prints the run id
//! and exits 0.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use super::exit;
use super::run::{RunArgs, prefixed, prepare};

/// The hidden flag that tells the started process it is the detached run.
pub const CHILD_FLAG: &str = "--detached-run";

/// Set in the detached run's process: it announces its id once reachable.
static DETACHED: AtomicBool = AtomicBool::new(false);

/// Starts the run in the background and prints its id.
pub fn start(args: &RunArgs) -> u8 {
    let options = match prepare(args) {
        Ok((_, options)) => options,
        Err(message) => {
            crate::safe::say!("{}", prefixed(&message));
            return exit::INVALID;
        }
    };
    // The state dir too: its errors would otherwise reach nobody.
    if let Err(e) = super::logging::state_dir(&options.state_dir) {
        crate::safe::say!("error: {e}");
        return exit::INVALID;
    }
    let spawned = spawn();
    if let (Ok(id), Some(_)) = (&spawned, args.flags.metrics) {
        // The run wrote where it serves before it said its id.
        let file = options.state_dir.join("runs").join(id).join("metrics.addr");
        let addr = crate::engine::fsafe::read_text(&file)
            .ok()
            .and_then(|t| t.trim().parse::<std::net::SocketAddr>().ok());
        if let Some(addr) = addr {
            crate::safe::say!("metrics: {}", crate::metrics::addr::url(addr));
            if !crate::metrics::loopback(addr) {
                crate::safe::say!(
                    "warning: --metrics {addr} can be reached from other machines, and the metrics have no authentication"
                );
            }
        }
    }
    print_id(spawned)
}

/// Prints the id of a run [`spawn`] started; the exit code.
pub fn print_id(spawned: Result<String, u8>) -> u8 {
    match spawned {
        Ok(id) => {
            crate::safe::show!("{}", crate::safe::line(&id));
            exit::OK
        }
        Err(code) => code,
    }
}

/// Starts this command line again as the run's own process, headless, in
/// a session of its own; the run's id once it can be reached, or (what it
/// said on stderr is printed) its exit code.
pub fn spawn() -> Result<String, u8> {
    // The same command line, as the run's own, headless.
    let argv: Vec<OsString> = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--detach" && a != "--headless")
        .collect();
    spawn_args(argv)
}

/// The variable that hands `--nats` to the run's own process: not on its
/// command line, where any local user could read a password in it.
pub const NATS_FLAG_VAR: &str = "SIGNALBOX_NATS_FLAG";

/// `argv` without its `--nats URL` (or `--nats=URL`), and that URL.
fn without_nats(argv: Vec<OsString>) -> (Vec<OsString>, Option<OsString>) {
    let mut out = Vec::with_capacity(argv.len());
    let mut nats = None;
    let mut args = argv.into_iter();
    while let Some(a) = args.next() {
        if a == "--" {
            out.push(a);
            out.extend(args.by_ref());
            break;
        }
        if a == "--nats" {
            nats = args.next();
        } else if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--nats=")) {
            nats = Some(v.into());
        } else {
            out.push(a);
        }
    }
    (out, nats)
}

#[cfg(test)]
#[test]
fn nats_leaves_the_command_line() {
    let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
    let (argv, nats) = without_nats(os(&["run", "--nats", "nats://a:b@h", "w.yaml"]));
    assert_eq!(
        (argv, nats),
        (os(&["run", "w.yaml"]), Some("nats://a:b@h".into()))
    );
    let (argv, nats) = without_nats(os(&["run", "--nats=u", "--", "--nats"]));
    assert_eq!(
        (argv, nats),
        (os(&["run", "--", "--nats"]), Some("u".into()))
    );
}

/// [`spawn`] of the command line `argv` (without the program).
pub fn spawn_args(argv: Vec<OsString>) -> Result<String, u8> {
    let exe = std::env::current_exe().map_err(|e| {
        crate::safe::say!("error: cannot find this program to start the run: {e}");
        exit::FAILED
    })?;
    let (argv, nats) = without_nats(argv);
    let mut child = without_inherited(exe);
    child.env_remove(NATS_FLAG_VAR);
    if let Some(nats) = nats {
        child.env(NATS_FLAG_VAR, nats);
    }
    let child = child
        .args(argv)
        .arg("--headless")
        .arg(CHILD_FLAG)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = child.map_err(|e| {
        crate::safe::say!("error: cannot start the run: {e}");
        exit::FAILED
    })?;
    // One line, once the run can be reached; nothing if it could not start.
    let mut id = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut id);
    }
    let id = id.trim();
    if !id.is_empty() {
        return Ok(id.to_string());
    }
    // It said why on stderr (already made safe to show), and ended.
    let mut said = Vec::new();
    if let Some(err) = child.stderr.take() {
        use std::io::Read;
        let _ = err.take(64 << 10).read_to_end(&mut said);
    }
    let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(1);
    let said = String::from_utf8_lossy(&said);
    match said.trim().is_empty() {
        true => crate::safe::say!(
            "error: the run did not start; its reasons are in the state dir's signalbox.log"
        ),
        false => crate::safe::say!("{}", said.trim_end()),
    }
    Err(u8::try_from(code)
        .ok()
        .filter(|&c| c != 0)
        .unwrap_or(exit::FAILED))
}

/// The screen on the run in `dir` until it is left; `R` on a failed step of
/// the finished run carries the run on (`signalbox retry`, in a process of
/// its own) and the screen comes back on it, as the run's own.
pub fn screen(
    runtime: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    role: crate::tui::model::ui::Role,
    wf: Option<crate::workflow::Workflow>,
    state: &std::path::Path,
) -> u8 {
    let (mut role, mut wf) = (role, wf);
    loop {
        match runtime.block_on(crate::tui::attach(dir, role, wf.take())) {
            crate::tui::Left::Code(code) => return code,
            crate::tui::Left::Retry(steps) => {
                let mut argv: Vec<OsString> = vec!["retry".into(), dir.as_os_str().to_owned()];
                argv.extend(steps.into_iter().map(OsString::from));
                argv.extend([
                    "--from-screen".into(),
                    "--state-dir".into(),
                    state.as_os_str().to_owned(),
                ]);
                if let Err(code) = spawn_args(argv) {
                    return code;
                }
                role = crate::tui::model::ui::Role::Own;
            }
        }
    }
}

/// The command that starts `exe` without the descriptors this process was
/// given open across exec (a caller's pipe, its terminal on a high number):
/// the run must hold none of them, or a reader of that pipe would wait for
/// the whole run. When there are any, a shell closes them on its `exec`
/// (`sh` takes descriptors up to 9; above, `bash` is used when there is one).
fn without_inherited(exe: std::path::PathBuf) -> Command {
    let mut open = inherited();
    if open.is_empty() {
        return Command::new(exe);
    }
    let bash = std::path::Path::new("/bin/bash");
    let shell = if open.iter().any(|&fd| fd > 9) && bash.exists() {
        bash
    } else {
        let high: Vec<u32> = open.iter().copied().filter(|&fd| fd > 9).collect();
        if !high.is_empty() {
            tracing::warn!("--detach: no bash to close descriptors {high:?}; the run keeps them");
        }
        open.retain(|&fd| fd <= 9);
        std::path::Path::new("/bin/sh")
    };
    let closes: Vec<String> = open.iter().map(|fd| format!("{fd}>&-")).collect();
    let mut sh = Command::new(shell);
    sh.arg("-c")
        .arg(format!("exec \"$0\" \"$@\" {}", closes.join(" ")))
        .arg(exe);
    sh
}

/// Descriptors above stderr that stay open across exec.
fn inherited() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut out: Vec<u32> = dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&fd| fd > 2 && !close_on_exec(fd))
        .collect();
    out.sort_unstable();
    out
}

/// Whether `/proc` says descriptor `fd` closes on exec (`O_CLOEXEC` in its
/// flags, octal); one that is gone by now counts as closed.
fn close_on_exec(fd: u32) -> bool {
    const O_CLOEXEC: u32 = 0o2_000_000;
    let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
        return true;
    };
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .is_none_or(|flags| flags & O_CLOEXEC != 0)
}

/// In the detached run's process, before anything else: a session of its
/// own, with no terminal, so no hangup reaches it.
pub fn become_detached() {
    DETACHED.store(true, Ordering::Relaxed);
    let _ = nix::unistd::setsid();
}

/// Once the run can be reached: says its id to the process that started it,
/// then lets stdout go, so nothing later can block on it.
pub fn announce(run_id: &str) {
    if !DETACHED.load(Ordering::Relaxed) {
        return;
    }
    // Stderr first: once the id is read, nobody reads that pipe.
    let null = std::fs::File::options().write(true).open("/dev/null");
    if let Ok(null) = &null {
        let _ = nix::unistd::dup2_stderr(null);
    }
    crate::safe::show!("{run_id}");
    let _ = std::io::stdout().flush();
    if let Ok(null) = &null {
        let _ = nix::unistd::dup2_stdout(null);
    }
}
