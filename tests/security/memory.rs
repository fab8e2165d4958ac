//! A chatty step cannot blind a reader, and memory does not grow with what
//! steps print (issue 10, items 3 and 4): a subscriber that does not read
//! for a while still gets every event; `--json` to a reader that pauses
//! keeps every line in bounded memory; a screen on a slow terminal still
//! shows the wait and the run's end; `replay` and `runs` of a big journal
//! stay small.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use serde_json::Value;
use signalbox::engine::{Event, Preset, Run, RunOptions, RunStatus};
use signalbox::tui::app::{Engine, drive};
use signalbox::tui::model::Model;
use signalbox::workflow::load_str;

use crate::common::BIN;

/// Peak resident memory every case must stay under (SPEC §6, issue 10).
const RSS_LIMIT_KB: u64 = 64 * 1024;

/// A flood this long is more than any subscriber queue holds, by count
/// (65,536) and by bytes.
const FLOOD: usize = 100_000;

/// A step that prints `lines` lines, then an approval, then one more step.
fn flood_yaml(print: &str) -> String {
    format!(
        "name: flood\nsteps:\n  flood:\n    run: {print}\n  gate:\n    needs: [flood]\n    approval: {{ prompt: \"ship?\" }}\n  after:\n    needs: [gate]\n    run: \"true\"\n"
    )
}

fn seqs_are_whole(events: &[Value]) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i as u64 + 1, "a gap or a repeat at {i}");
    }
}

/// A subscriber that reads nothing until the run is over still gets every
/// event, the approval and the run's end among them, with no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_does_not_read_still_gets_every_event() {
    let state = tempfile::tempdir().unwrap();
    let wf = load_str(&flood_yaml(&format!("seq 1 {FLOOD}")), "flood.yaml").unwrap();
    let options = RunOptions {
        state_dir: state.path().to_path_buf(),
        presets: [("gate".to_string(), Preset::Approve)].into(),
        ..Default::default()
    };
    let mut run = Run::new(wf, options).unwrap();
    let mut slow = run.subscribe();
    let outcome = tokio::time::timeout(Duration::from_secs(300), run.start())
        .await
        .expect("the run ends");
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert!(slow.lagging(), "the flood was meant to outrun the queue");

    let mut events = Vec::new();
    let read = async {
        while let Some(p) = slow.recv().await {
            events.push(serde_json::from_str::<Value>(&p.line).unwrap());
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .expect("the subscription ends after the run's end");
    seqs_are_whole(&events);
    let journal = std::fs::read_to_string(outcome.dir.join("events.jsonl")).unwrap();
    assert_eq!(
        events.len(),
        journal.lines().count(),
        "every journaled event"
    );
    let has = |ty: &str| events.iter().any(|e| e["type"] == ty);
    assert!(has("approval_requested") && has("approval_resolved"));
    assert_eq!(events.last().unwrap()["type"], "run_finished");
}

/// A `signalbox` process, waited for by the test.
struct Proc {
    child: Child,
    state: tempfile::TempDir,
}

impl Proc {
    fn start(args: &[&str], yaml: &str) -> Proc {
        let state = tempfile::tempdir().unwrap();
        let file = state.path().join("flood.yaml");
        std::fs::write(&file, yaml).unwrap();
        let child = Command::new(BIN)
            .args(["run", "--headless", "--state-dir"])
            .arg(state.path().join("state"))
            .args(args)
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Proc { child, state }
    }

    fn journal(&self) -> Option<PathBuf> {
        let runs = self.state.path().join("state/runs");
        let run = std::fs::read_dir(runs).ok()?.next()?.ok()?;
        Some(run.path().join("events.jsonl"))
    }

    /// Waits (at most `limit`) until the journal ends with `run_finished`.
    fn wait_journaled_end(&mut self, limit: Duration) -> PathBuf {
        let started = Instant::now();
        loop {
            if let Some(path) = self.journal()
                && last_line(&path).contains("\"type\":\"run_finished\"")
            {
                return path;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!("the run did not end within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The peak resident memory so far, in KiB.
    fn peak_kb(&self) -> u64 {
        peak_kb(self.child.id())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peak_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

fn last_line(path: &Path) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let tail = &text[text.len().saturating_sub(4096)..];
    String::from_utf8_lossy(tail)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// `--json` to a reader that reads nothing while a step prints 100 MB:
/// once it reads, it gets every journal line, exactly and in order, and
/// the process never held the flood in memory.
#[test]
fn json_to_a_paused_reader_keeps_every_line_in_bounded_memory() {
    let print = format!("\"yes $(printf %01000d 0) | head -n {FLOOD}\"");
    let mut p = Proc::start(&["--json", "--approve", "gate"], &flood_yaml(&print));
    let journal = p.wait_journaled_end(Duration::from_secs(300));
    let peak = p.peak_kb();
    let mut stdout = Vec::new();
    p.child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let status = p.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let kept = std::fs::read(&journal).unwrap();
    assert!(
        stdout == kept,
        "stdout ({} bytes) is not the journal ({} bytes)",
        stdout.len(),
        kept.len()
    );
    assert!(
        peak < RSS_LIMIT_KB,
        "peak RSS {peak} KiB with a paused --json reader"
    );
}

/// A terminal that takes a second per frame while `slow` is set, and
/// presses keys when the screen shows things: `a` once the wait shows, `q`
/// once the status line shows the run's end.
struct SlowTerminal {
    inner: TestBackend,
    slow: Arc<AtomicBool>,
    keys: futures::channel::mpsc::UnboundedSender<std::io::Result<TermEvent>>,
    approved: bool,
}

impl SlowTerminal {
    fn press(&self, c: char) {
        let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        let _ = self.keys.unbounded_send(Ok(TermEvent::Key(key)));
    }
}

impl Backend for SlowTerminal {
    type Error = <TestBackend as Backend>::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()?;
        if self.slow.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_secs(1));
        }
        let screen = self.inner.to_string();
        if !self.approved && screen.contains("ship?") {
            self.approved = true;
            self.press('a');
        }
        if screen.contains("✓ succeeded in") {
            self.press('q');
        }
        Ok(())
    }
}

/// A step prints 200,000 lines to a screen whose terminal takes a second a
/// frame, far more than the screen can follow live; then an approval. The
/// screen still shows the wait (and `a` approves it) and the run's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_on_a_slow_terminal_still_shows_the_wait_and_the_end() {
    let state = tempfile::tempdir().unwrap();
    let wf = load_str(&flood_yaml("seq 1 200000"), "flood.yaml").unwrap();
    let mut model = Model::new(&wf);
    let options = RunOptions {
        state_dir: state.path().to_path_buf(),
        ..Default::default()
    };
    let mut run = Run::new(wf, options).unwrap();
    let events = run.subscribe();
    let mut watch = run.subscribe();
    let slow = Arc::new(AtomicBool::new(true));
    // The terminal is slow while the step floods, so the screen falls far
    // behind; then it catches up.
    let flood_over = {
        let slow = slow.clone();
        async move {
            while let Some(p) = watch.recv().await {
                if let Event::ApprovalRequested { .. } = p.envelope.event {
                    slow.store(false, Ordering::Release);
                }
            }
        }
    };
    let (tx, keys) = futures::channel::mpsc::unbounded();
    let backend = SlowTerminal {
        inner: TestBackend::new(100, 30),
        slow,
        keys: tx,
        approved: false,
    };
    let mut terminal = Terminal::new(backend).unwrap();
    let handle = run.handle();
    let engine = Engine::local(events, handle, tokio::spawn(run.start()));
    let watching = tokio::spawn(flood_over);
    let screen = drive(
        &mut terminal,
        &mut model,
        engine,
        keys,
        std::future::pending(),
    );
    let ended = tokio::time::timeout(Duration::from_secs(240), screen)
        .await
        .expect("the screen shows the wait and the end (it got `a`, then `q`)");
    watching.abort();
    assert_eq!(ended.outcome.map(|o| o.status), Some(RunStatus::Succeeded));
    assert!(model.ended());
    assert!(model.log.output_bytes() <= signalbox::tui::model::log::OUTPUT_BYTES);
}

/// Runs `args` under `/usr/bin/time`; its exit code, stdout and peak RSS.
fn measured(args: &[&str], dir: &Path) -> (Option<i32>, String, u64) {
    let report = dir.join("time.txt");
    let out = Command::new("/usr/bin/time")
        .arg("-o")
        .arg(&report)
        .args(["-f", "%M", BIN])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("/usr/bin/time runs");
    let kb = std::fs::read_to_string(&report).unwrap();
    let kb = kb.lines().last().unwrap().trim().parse().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        kb,
    )
}

/// A real journal of a step that printed three lines, grown to about
/// `bytes` by more output lines of 4 KB in the middle, renumbered. With
/// `finished: false` it stops before `run_finished`, as after a crash.
fn big_journal(state: &Path, id: &str, bytes: usize, finished: bool) -> PathBuf {
    let small = state.with_file_name(format!("small-{id}"));
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(
        small.with_extension("yaml"),
        "name: big\nsteps:\n  a:\n    run: seq 1 3\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["run", "--headless", "--state-dir"])
        .arg(&small)
        .arg(small.with_extension("yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let run = std::fs::read_dir(small.join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let lines: Vec<Value> = std::fs::read_to_string(run.path().join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let folder = state.join("runs").join(id);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(
        run.path().join("workflow.yaml"),
        folder.join("workflow.yaml"),
    )
    .unwrap();
    let file = std::fs::File::create(folder.join("events.jsonl")).unwrap();
    let mut w = std::io::BufWriter::new(file);
    let output = lines
        .iter()
        .position(|e| e["type"] == "step_output")
        .unwrap();
    let mut copy = lines[output].clone();
    copy["line"] = Value::from("x".repeat(4000));
    copy["run"] = id.into();
    copy["seq"] = 0.into();
    // Written as text around its seq: a debug build is slow at JSON.
    let text = serde_json::to_string(&copy).unwrap();
    let (before, after) = text.split_once("\"seq\":0").unwrap();
    let extra = bytes / 4100;
    let mut seq = 0u64;
    let mut put = |w: &mut std::io::BufWriter<std::fs::File>, e: Option<&Value>| {
        seq += 1;
        match e {
            Some(e) => {
                let mut e = e.clone();
                e["seq"] = seq.into();
                e["run"] = id.into();
                serde_json::to_writer(&mut *w, &e).unwrap();
            }
            None => write!(w, "{before}\"seq\":{seq}{after}").unwrap(),
        }
        w.write_all(b"\n").unwrap();
    };
    for (i, e) in lines.iter().enumerate() {
        if i == output {
            for _ in 0..extra {
                put(&mut w, None);
            }
        }
        if finished || e["type"] != "run_finished" {
            put(&mut w, Some(e));
        }
    }
    w.flush().unwrap();
    folder.join("events.jsonl")
}

/// `replay` and `runs` of a 100 MB journal read it a line at a time (or,
/// for `runs`, only its ends), in bounded memory; a damaged journal is
/// still said to be damaged.
#[test]
fn replay_and_runs_of_a_big_journal_stay_small() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let big = 100 << 20;
    let finished = big_journal(&state, "big-finished", big, true);
    big_journal(&state, "big-interrupted", big, false);
    let damaged = big_journal(&state, "big-damaged", big, false);
    // A line in the middle that no crash could leave.
    let mut bytes = std::fs::read(&damaged).unwrap();
    let middle = bytes.len() / 2;
    let at = middle + bytes[middle..].iter().position(|&b| b == b'\n').unwrap() + 1;
    bytes.splice(at..at, b"{\"seq\": oops}\n".iter().copied());
    std::fs::write(&damaged, bytes).unwrap();

    let state_arg = state.to_str().unwrap();
    let (code, text, kb) = measured(&["runs", "--json", "--state-dir", state_arg], dir.path());
    assert_eq!(code, Some(0), "{text}");
    let status = |id: &str| {
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|r| r["id"] == id)
            .map(|r| r["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status("big-finished").as_deref(), Some("succeeded"));
    assert_eq!(status("big-interrupted").as_deref(), Some("interrupted"));
    assert_eq!(status("big-damaged").as_deref(), Some("damaged"));
    assert!(kb < RSS_LIMIT_KB, "runs: peak RSS {kb} KiB");

    let (code, text, kb) = measured(
        &["replay", "big-finished", "--state-dir", state_arg],
        dir.path(),
    );
    assert_eq!(code, Some(0));
    assert!(
        text.lines().last().unwrap().contains("succeeded"),
        "the run's end is printed"
    );
    assert!(kb < RSS_LIMIT_KB, "replay: peak RSS {kb} KiB");

    let (code, text, kb) = measured(
        &["replay", "big-finished", "--json", "--state-dir", state_arg],
        dir.path(),
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        text.len() as u64,
        std::fs::metadata(&finished).unwrap().len()
    );
    assert!(kb < RSS_LIMIT_KB, "replay --json: peak RSS {kb} KiB");
}
