//! A chatty step cannot blind a reader, and memory does not grow with what
//! steps print (issue 10, items 3 and 4): a subscriber that does not read
//! for a while still gets every event; `--json` to a reader that pauses
//! keeps every line in bounded memory; a screen on a slow terminal still
//! shows the wait and the run's end; `replay` and `runs` of a big journal
//! stay small.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use signalbox::engine::{Event, Preset, Run, RunOptions, RunStatus};
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
