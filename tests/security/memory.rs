//! A chatty step cannot blind a reader, and memory does not grow with what
//! steps print (issue 10, items 3 and 4): a subscriber that does not read
//! for a while still gets every event; `--json` to a reader that pauses
//! keeps every line in bounded memory; a screen on a slow terminal still
//! shows the wait and the run's end; `replay` and `runs` of a big journal
//! stay small.

use std::io::Read;
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
    let engine = Engine {
        events,
        handle: run.handle(),
        task: tokio::spawn(run.start()),
    };
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
