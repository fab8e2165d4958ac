//! A real terminal for tests of the binary: a tmux server of the test's
//! own, typing keys and reading the screen with `capture-pane`, plus the
//! journal and the processes of the run it drives.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tmux session of its own for a test, and a state dir; none (the test is
/// skipped, and says so) without tmux.
pub fn tmux_session(name: &str) -> Option<(Session, tempfile::TempDir)> {
    if !have_tmux() {
        println!("SKIPPED: tmux is not installed; .ci/run installs it");
        return None;
    }
    let session = Session {
        socket: format!("{name}-{}", std::process::id()),
    };
    Some((session, tempfile::tempdir().unwrap()))
}

pub fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A tmux session on its own server socket, killed on drop.
pub struct Session {
    pub socket: String,
}

impl Session {
    pub fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .env_remove("TMUX")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap()
    }

    /// Starts `command` in a 160x48 window named `sb`.
    pub fn start(&self, command: &str) {
        self.start_sized(command, 160, 48);
    }

    /// Starts `command` in a `width`x`height` window named `sb`.
    pub fn start_sized(&self, command: &str, width: u16, height: u16) {
        let (w, h) = (width.to_string(), height.to_string());
        let out = self.tmux(&["new-session", "-d", "-s", "sb", "-x", &w, "-y", &h, command]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts `signalbox run FILE --headless` on a fixture of
    /// `tests/fixtures/run/`, then prints its exit code and lingers.
    pub fn start_headless(&self, fixture: &str, state: &Path) {
        self.start(&headless_command(fixture, state));
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "sb"]).stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "sb", k]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "sb", "-l", text]);
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Waits until the screen shows `what`, up to `secs` seconds.
    pub fn wait_for(&self, what: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.screen();
            if screen.contains(what) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what:?}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// The shell command behind [`Session::start_headless`].
pub fn headless_command(fixture: &str, state: &Path) -> String {
    format!(
        "cd {root} && {bin} run tests/fixtures/run/{fixture}.yaml --headless --state-dir {state}; echo \"EXIT=$?\"; sleep 60",
        root = root().display(),
        bin = env!("CARGO_BIN_EXE_signalbox"),
        state = state.display(),
    )
}

pub fn journal(state: &Path) -> Vec<serde_json::Value> {
    let runs = state.join("runs");
    let Some(run) = std::fs::read_dir(&runs)
        .ok()
        .and_then(|mut d| d.next())
        .and_then(Result::ok)
    else {
        return Vec::new();
    };
    std::fs::read_to_string(run.path().join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

pub fn wait_journal(state: &Path, what: &str, secs: u64) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let events = journal(state);
        if events.iter().any(|e| e["type"] == what) {
            return events;
        }
        assert!(Instant::now() < deadline, "no {what} in the journal");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Processes whose environment names the run: every step's process has
/// `SIGNALBOX_RUN_ID` set to it.
pub fn processes_of(run_id: &str) -> Vec<String> {
    processes_whose("environ", &format!("SIGNALBOX_RUN_ID={run_id}"))
}

/// Processes whose `/proc/PID/<file>` (`environ`, `cmdline`) holds `needle`
/// as one of its NUL-separated parts, or inside one with `cmdline`.
pub fn processes_whose(file: &str, needle: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let whole = file == "environ";
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join(file)).is_ok_and(|text| {
                text.split(|&b| b == 0).any(|v| match whole {
                    true => v == needle.as_bytes(),
                    false => String::from_utf8_lossy(v).contains(needle),
                })
            })
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}
