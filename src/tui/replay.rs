//! `signalbox replay RUN` on the screen: a past run as it was, stepped
//! through one event at a time. Nothing runs: keys that would change a run
//! only move around the screen.
//!
//! The model is the live screen's, fed from the journal up to a cursor;
//! stepping forward applies one event, stepping back rebuilds up to the
//! cursor (the model is a function of the events, so that is exact).

use std::fs::File;
use std::path::PathBuf;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;

use super::model::{Model, parse_ts};
use super::update::{Msg, update};
use super::view::view;
use crate::engine::event::{Envelope, Event, RunStatus};
use crate::engine::journal::Lines;
use crate::workflow::Workflow;

/// What a replay key does to the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Forward,
    Back,
    Start,
    End,
    NextFailure,
    Quit,
}

/// The replay keys, apart from the live screen's (which still move panes,
/// selection and scroll): `.`/`,` one event, `g`/`G` (or Home/End) the
/// start and the end, `F` the next failure, `q` quits.
pub const KEYS: &[(KeyCode, Move)] = &[
    (KeyCode::Char('.'), Move::Forward),
    (KeyCode::Char(','), Move::Back),
    (KeyCode::Char('g'), Move::Start),
    (KeyCode::Home, Move::Start),
    (KeyCode::Char('G'), Move::End),
    (KeyCode::End, Move::End),
    (KeyCode::Char('F'), Move::NextFailure),
    (KeyCode::Char('q'), Move::Quit),
];

fn replay_move(key: &KeyEvent) -> Option<Move> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Move::Quit);
    }
    KEYS.iter()
        .find(|(code, _)| *code == key.code)
        .map(|(_, m)| *m)
}

/// A past run and a cursor into its events. The events stay in the
/// journal: the cursor reads on from it, and going back rebuilds the model
/// from the start (the model is a function of the events), so a journal of
/// any size takes a bounded amount of memory.
pub struct Replay {
    wf: Workflow,
    journal: PathBuf,
    /// How many events the journal has (checked before the replay opens).
    total: usize,
    /// Reads the event after the cursor; `None` until the first read.
    reader: Option<Lines<File>>,
    /// How many events are applied.
    pub at: usize,
    pub model: Model,
}

fn is_failure(e: &Envelope) -> bool {
    matches!(
        e.event,
        Event::StepFailed { .. }
            | Event::RunFinished {
                status: RunStatus::Failed,
                ..
            }
    )
}

impl Replay {
    /// Opens at the end: the run as it finished (or stopped). `journal`
    /// was checked and has `total` whole events (see `journal::scan`).
    pub fn new(wf: Workflow, journal: PathBuf, total: usize, color: bool) -> Replay {
        let mut model = Model::new(&wf);
        model.ui.color = color;
        model.run.dir = journal.parent().map(std::path::Path::to_path_buf);
        let mut r = Replay {
            wf,
            journal,
            total,
            reader: None,
            at: 0,
            model,
        };
        r.seek(total);
        r
    }

    /// The event after the cursor, if any (the cursor does not move).
    fn next_event(&mut self) -> Option<Envelope> {
        if self.at >= self.total {
            return None;
        }
        if self.reader.is_none() {
            // From the start: the cursor is at 0 whenever there is no reader.
            self.reader = crate::engine::fsafe::open_read(&self.journal)
                .ok()
                .map(Lines::new);
        }
        let line = self.reader.as_mut()?.line().ok()??;
        match serde_json::from_slice(line) {
            Ok(e) => Some(e),
            Err(e) => {
                // It was checked; it changed since.
                tracing::warn!("replay: {} changed: {e}", self.journal.display());
                self.total = self.at;
                None
            }
        }
    }

    /// Applies the event after the cursor; false at the end.
    fn forward(&mut self) -> Option<Envelope> {
        let e = self.next_event()?;
        self.model.apply(&e);
        self.at += 1;
        Some(e)
    }

    /// Puts the cursor after `at` events.
    pub fn seek(&mut self, at: usize) {
        let at = at.min(self.total);
        if at < self.at {
            let ui = self.model.ui.clone();
            let dir = self.model.run.dir.take();
            self.model = Model::new(&self.wf);
            self.model.ui = ui;
            self.model.run.dir = dir;
            self.at = 0;
            self.reader = None;
        }
        let mut last = None;
        while self.at < at {
            match self.forward() {
                Some(e) => last = Some(e),
                None => break,
            }
        }
        self.settle(last.as_ref());
    }

    /// The clock at the last event applied, and where the replay stands.
    fn settle(&mut self, last: Option<&Envelope>) {
        if let Some(now) = last.and_then(|e| parse_ts(&e.ts)) {
            self.model.set_now(now);
        }
        self.model.ui.replay = Some((self.at, self.total));
        // An edit stepped over (either way) gave the model another graph:
        // arranged for the pane, the selection in view.
        if !self.model.graph.arranged() {
            super::update::show_selection(&mut self.model);
        }
    }

    /// After `F`: the graph selects the step that failed, as the log shows it.
    fn select_failed(&mut self, last: Option<&Envelope>) {
        let Some(Event::StepFailed { step, .. }) = last.map(|e| &e.event) else {
            return;
        };
        if let Some(i) = self.model.step_index(step) {
            self.model.reveal(i);
            super::update::show_selection(&mut self.model);
        }
    }

    /// Applies a move; false when it quits.
    pub fn step(&mut self, m: Move) -> bool {
        match m {
            Move::Forward => self.seek(self.at + 1),
            Move::Back => self.seek(self.at.saturating_sub(1)),
            Move::Start => self.seek(0),
            Move::End => self.seek(self.total),
            Move::NextFailure => {
                let mut last = None;
                while let Some(e) = self.forward() {
                    let failed = is_failure(&e);
                    last = Some(e);
                    if failed {
                        break;
                    }
                }
                self.settle(last.as_ref());
                self.select_failed(last.as_ref());
            }
            Move::Quit => return false,
        }
        true
    }
}

/// Shows the replay until the operator quits.
pub async fn drive<B: Backend>(
    terminal: &mut Terminal<B>,
    replay: &mut Replay,
    mut keys: impl Stream<Item = std::io::Result<TermEvent>> + Unpin,
) -> std::io::Result<()> {
    loop {
        terminal
            .draw(|f| view(&replay.model, f))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let Some(ev) = keys.next().await else {
            return Ok(());
        };
        match ev? {
            TermEvent::Key(k) if k.kind != KeyEventKind::Release => match replay_move(&k) {
                Some(m) => {
                    if !replay.step(m) {
                        return Ok(());
                    }
                }
                // Live keys move around; the commands they would send go nowhere.
                None => {
                    let _ = update(&mut replay.model, Msg::Key(k));
                    replay.model.ui.quit = false;
                }
            },
            TermEvent::Resize(w, h) => {
                let _ = update(&mut replay.model, Msg::Resize(w, h));
            }
            _ => {}
        }
    }
}

/// `signalbox replay RUN` with a terminal: the screen over the journal,
/// checked to have `total` whole events.
pub async fn run(wf: Workflow, journal: PathBuf, total: usize) -> u8 {
    let mut replay = Replay::new(wf, journal, total, super::color_allowed());
    let (mut screen, guard) = match super::terminal::enter() {
        Ok(t) => t,
        Err(e) => {
            crate::safe::say!("error: cannot open the screen: {e} (try --json)");
            return crate::cli::exit::FAILED;
        }
    };
    super::terminal::install_panic_hook();
    if let Ok(size) = screen.size() {
        let _ = update(&mut replay.model, Msg::Resize(size.width, size.height));
    }
    let result = drive(
        &mut screen,
        &mut replay,
        crossterm::event::EventStream::new(),
    )
    .await;
    drop(screen);
    drop(guard);
    match result {
        Ok(()) => crate::cli::exit::OK,
        Err(e) => {
            crate::safe::say!("error: the screen failed: {e}");
            crate::cli::exit::FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal() -> (Workflow, PathBuf, tempfile::TempDir) {
        let wf = crate::workflow::load_str(
            "name: r\nsteps:\n  a: { run: 'true' }\n  b: { run: 'false', needs: [a] }\n",
            "r.yaml",
        )
        .unwrap();
        let lines = [
            r#"{"seq":1,"ts":"2026-01-01T00:00:00.000Z","run":"r1","type":"run_started","workflow":"r","steps":2,"resumed":false}"#,
            r#"{"seq":2,"ts":"2026-01-01T00:00:00.100Z","run":"r1","type":"step_started","step":"a","attempt":1}"#,
            r#"{"seq":3,"ts":"2026-01-01T00:00:00.200Z","run":"r1","type":"step_succeeded","step":"a","attempt":1,"duration_ms":100,"outputs":{},"fallback":false}"#,
            r#"{"seq":4,"ts":"2026-01-01T00:00:00.300Z","run":"r1","type":"step_started","step":"b","attempt":1}"#,
            r#"{"seq":5,"ts":"2026-01-01T00:00:00.400Z","run":"r1","type":"step_failed","step":"b","attempts":1,"error":"exit code 1","exit_code":1}"#,
            r#"{"seq":6,"ts":"2026-01-01T00:00:00.500Z","run":"r1","type":"run_finished","status":"failed","duration_ms":500}"#,
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        (wf, path, dir)
    }

    #[test]
    fn steps_forward_back_and_to_failures() {
        let (wf, path, _dir) = journal();
        let mut r = Replay::new(wf, path, 6, false);
        assert_eq!(r.at, 6);
        assert!(r.step(Move::Start));
        assert_eq!(r.at, 0);
        r.step(Move::NextFailure);
        assert_eq!(r.at, 5, "stops just after step_failed");
        assert_eq!(r.model.ui.selected, 1, "the graph selects the failed step");
        r.step(Move::Back);
        assert_eq!(r.at, 4);
        r.step(Move::Forward);
        r.step(Move::Forward);
        assert_eq!(r.at, 6);
        r.step(Move::Forward);
        assert_eq!(r.at, 6, "the end is the end");
        assert!(!r.step(Move::Quit));
    }

    #[test]
    fn stepping_back_rebuilds_the_same_screen_as_stepping_forward() {
        let (wf, path, _dir) = journal();
        let mut back = Replay::new(wf.clone(), path.clone(), 6, false);
        back.seek(3);
        let mut fwd = Replay::new(wf, path, 6, false);
        fwd.seek(0);
        fwd.seek(3);
        let draw = |m: &Model| {
            let mut t = Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
            t.draw(|f| view(m, f)).unwrap();
            format!("{:?}", t.backend().buffer())
        };
        assert_eq!(draw(&back.model), draw(&fwd.model));
    }
}
