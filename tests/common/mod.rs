// Each test binary uses a different part of this module.
#![allow(dead_code)]
//! What the tests that run the `signalbox` binary share: a process whose
//! stdout events are read as they come ([`Live`]), what it left when it
//! ended ([`Done`]), and finding the processes a test started by a marker
//! in their environment.

pub mod edges;
pub mod tmux;
pub mod work;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_signalbox");

/// How long any one process may take before the test gives up on it.
pub const LIMIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// A process and its events
// ---------------------------------------------------------------------------

/// A process in progress: stdout is read line by line on a thread, so a
/// test can wait for an event before it acts (e.g. sends a signal).
pub struct Live {
    child: Child,
    /// Until [`Live::read_stdout`]: nobody reads the pipe.
    stdout: Option<ChildStdout>,
    tx: Option<mpsc::Sender<Vec<u8>>>,
    lines: mpsc::Receiver<Vec<u8>>,
    /// All of stderr, once the process closed it.
    stderr: mpsc::Receiver<String>,
    raw: Vec<u8>,
    events: Vec<Value>,
    started: Instant,
}

/// A process that ended.
pub struct Done {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub events: Vec<Value>,
    pub elapsed: Duration,
}

impl Live {
    pub fn spawn(cmd: Command) -> Live {
        let mut live = Live::spawn_unread(cmd);
        live.read_stdout();
        live
    }

    /// Starts a process whose stdout nobody reads until [`Live::read_stdout`].
    pub fn spawn_unread(mut cmd: Command) -> Live {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the signalbox binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut stderr_pipe = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let (etx, stderr) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut text);
            let _ = etx.send(String::from_utf8_lossy(&text).into_owned());
        });
        Live {
            child,
            stdout: Some(stdout),
            tx: Some(tx),
            lines,
            stderr,
            raw: Vec::new(),
            events: Vec::new(),
            started: Instant::now(),
        }
    }

    pub fn read_stdout(&mut self) {
        let (Some(stdout), Some(tx)) = (self.stdout.take(), self.tx.take()) else {
            return;
        };
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }

    fn take(&mut self, line: Vec<u8>) -> Value {
        self.raw.extend_from_slice(&line);
        let text = String::from_utf8(line).unwrap_or_else(|e| {
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            panic!("stdout line is not UTF-8: {lossy:?}")
        });
        let value: Value = serde_json::from_str(text.trim_end_matches('\n'))
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {text:?}"));
        self.events.push(value.clone());
        value
    }

    /// Kills the process, for a test that gives up on it, and returns its
    /// stderr for the panic message.
    fn give_up(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_default()
    }

    /// Reads events until one matches; panics after 10 s or at the end of stdout.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.events.iter().find(|v| pred(v)) {
            return v.clone();
        }
        self.read_stdout();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let v = self.take(line);
                    if pred(&v) {
                        return v;
                    }
                }
                Err(e) => {
                    let stderr = self.give_up();
                    panic!(
                        "no {what} ({e:?}); events so far:\n{}\nstderr:\n{stderr}",
                        dump(&self.events)
                    );
                }
            }
        }
    }

    pub fn run_id(&mut self) -> String {
        let started = self.wait_for("run_started", |e| e["type"] == "run_started");
        started["run"].as_str().unwrap().to_string()
    }

    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -s {signal} failed");
    }

    /// `kill -9` the signalbox process (not its steps) and reap it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        // It may have ended by itself just before the signal.
        assert!(
            status.code().is_none() || status.code() == Some(0),
            "the process ended with {status:?} before the kill"
        );
    }

    /// Waits for the process to exit (at most [`LIMIT`]) and reads the rest.
    pub fn finish(mut self) -> Done {
        self.read_stdout();
        let status = loop {
            while let Ok(line) = self.lines.try_recv() {
                self.take(line);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if self.started.elapsed() > LIMIT {
                let stderr = self.give_up();
                panic!(
                    "the process did not end within {LIMIT:?}; events so far:\n{}\nstderr:\n{stderr}",
                    dump(&self.events)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = self.started.elapsed();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(5)) {
                Ok(line) => {
                    self.take(line);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("stdout stayed open after the process exited")
                }
            }
        }
        let stderr = self
            .stderr
            .recv_timeout(Duration::from_secs(5))
            .expect("stderr closes");
        Done {
            code: status.code(),
            stdout: std::mem::take(&mut self.raw),
            stderr,
            events: std::mem::take(&mut self.events),
            elapsed,
        }
    }
}

/// A test that panics must not leave its signalbox running.
impl Drop for Live {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Done {
    pub fn dump(&self) -> String {
        format!(
            "exit {:?}\nevents:\n{}\nstderr:\n{}",
            self.code,
            dump(&self.events),
            self.stderr
        )
    }

    /// Exit code, and on stdout a run from `run_started` to `run_finished`
    /// with `status`; no panic on stderr.
    pub fn expect(&self, code: i32, status: &str) {
        assert_eq!(self.code, Some(code), "{}", self.dump());
        assert!(!self.events.is_empty(), "{}", self.dump());
        assert_eq!(self.events[0]["type"], "run_started", "{}", self.dump());
        assert_eq!(self.status(), status, "{}", self.dump());
        assert!(!self.stderr.contains("panicked"), "{}", self.dump());
    }

    /// Refused before anything ran: exit 2, nothing on stdout.
    pub fn expect_refused(&self, words: &str) {
        assert_eq!(self.code, Some(2), "{}", self.dump());
        assert!(self.stdout.is_empty(), "{}", self.dump());
        assert!(self.stderr.contains(words), "{}", self.dump());
        assert!(!self.stderr.contains("panicked"), "{}", self.dump());
    }

    /// The status in the last event, which must be `run_finished` (or the
    /// `hook_finished` of hooks that follow it).
    pub fn status(&self) -> &str {
        let last = (self.events.iter().rev())
            .find(|e| e["type"] != "hook_finished")
            .expect("some events");
        assert_eq!(last["type"], "run_finished", "{}", self.dump());
        last["status"].as_str().unwrap()
    }

    pub fn run_id(&self) -> &str {
        self.events[0]["run"].as_str().expect("run id")
    }

    pub fn all(&self, ty: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["type"] == ty).collect()
    }

    pub fn of(&self, ty: &str, step: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| is(e, ty, step)).collect()
    }

    /// The one event of this type for this step.
    pub fn one(&self, ty: &str, step: &str) -> &Value {
        let found = self.of(ty, step);
        assert_eq!(
            found.len(),
            1,
            "expected exactly one {ty} for {step}\n{}",
            self.dump()
        );
        found[0]
    }

    pub fn pos(&self, ty: &str, step: &str) -> usize {
        self.events
            .iter()
            .position(|e| is(e, ty, step))
            .unwrap_or_else(|| panic!("no {ty} for {step}\n{}", self.dump()))
    }

    pub fn has(&self, ty: &str, step: &str) -> bool {
        self.events.iter().any(|e| is(e, ty, step))
    }

    /// `step_output` lines of a step on a stream.
    pub fn lines(&self, step: &str, stream: &str) -> Vec<&str> {
        self.of("step_output", step)
            .into_iter()
            .filter(|e| e["stream"] == stream)
            .map(|e| e["line"].as_str().unwrap())
            .collect()
    }

    /// How a step ended: the type of its last final event.
    pub fn end(&self, step: &str) -> &str {
        const FINAL: [&str; 4] = [
            "step_succeeded",
            "step_failed",
            "step_skipped",
            "step_cancelled",
        ];
        self.events
            .iter()
            .rev()
            .find(|e| e["step"] == step && FINAL.contains(&e["type"].as_str().unwrap_or("")))
            .map(|e| e["type"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{step} never ended\n{}", self.dump()))
    }

    pub fn started_order(&self) -> Vec<&str> {
        self.all("step_started")
            .into_iter()
            .map(|e| e["step"].as_str().unwrap())
            .collect()
    }

    /// stdout as text, for the commands that print text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

pub fn is(e: &Value, ty: &str, step: &str) -> bool {
    e["type"] == ty && e["step"] == step
}

/// One event a line, without the run id they all share.
pub fn dump(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if let Some(o) = e.as_object_mut() {
                o.remove("run");
            }
            format!("  {e}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------
// Processes a test started
// ---------------------------------------------------------------------------

/// A value no other test, here or in another test binary, uses.
pub fn marker() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "sbxmark-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub struct Proc {
    pub pid: u32,
    pub pgrp: i64,
}

/// Processes that are alive (not zombies), with their process group.
pub fn procs() -> Vec<Proc> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let mut fields = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace())
            .into_iter()
            .flatten();
        let state = fields.next().unwrap_or("");
        let pgrp = fields.nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        if !matches!(state, "Z" | "X" | "") {
            out.push(Proc { pid, pgrp });
        }
    }
    out
}

/// Live processes with `var=value` in their environment: pid and command
/// line.
pub fn marked(var: &str, value: &str) -> Vec<(u32, String)> {
    let needle = format!("{var}={value}");
    procs()
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{}/environ", p.pid))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .map(|p| {
            let cmd = std::fs::read(format!("/proc/{}/cmdline", p.pid))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .unwrap_or_default();
            (p.pid, cmd)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// A deterministic random source for the fuzz tests
// ---------------------------------------------------------------------------

/// splitmix64: small, fast, and the same on every machine, so a fuzz test
/// replays the same inputs from the same seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}
