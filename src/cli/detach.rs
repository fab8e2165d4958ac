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
    if let Err(message) = prepare(args) {
        crate::safe::say!("{}", prefixed(&message));
        return exit::INVALID;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            crate::safe::say!("error: cannot find this program to start the run: {e}");
            return exit::FAILED;
        }
    };
    // The same command line, as the run's own, headless.
    let argv: Vec<OsString> = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--detach")
        .collect();
    let child = Command::new(exe)
        .args(argv)
        .arg("--headless")
        .arg(CHILD_FLAG)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            crate::safe::say!("error: cannot start the run: {e}");
            return exit::FAILED;
        }
    };
    // One line, once the run can be reached; nothing if it could not start.
    let mut id = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut id);
    }
    let id = id.trim();
    if id.is_empty() {
        let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(1);
        crate::safe::say!(
            "error: the run did not start; its reasons are in the state dir's signalbox.log"
        );
        return u8::try_from(code)
            .ok()
            .filter(|&c| c != 0)
            .unwrap_or(exit::FAILED);
    }
    crate::safe::show!("{id}");
    exit::OK
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
    crate::safe::show!("{run_id}");
    let _ = std::io::stdout().flush();
    if let Ok(null) = std::fs::File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
    }
}
