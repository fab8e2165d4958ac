//! `signalbox replay RUN` on the screen: a past run as it was, stepped
//! through one event at a time. Nothing runs: keys that would change a run
//! only move around the screen.
//!
//! The model is the live screen's, fed from the journal up to a cursor;
//! stepping forward applies one event, stepping back rebuilds up to the
//! cursor (the model is a function of the events, so that is exact).

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;

use super::model::{Model, parse_ts};
use super::update::{Msg, update};
use super::view::view;
use crate::engine::event::{Envelope, Event, RunStatus};
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

/// A past run and a cursor into its events.
pub struct Replay {
    wf: Workflow,
    events: Vec<Envelope>,
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
    /// Opens at the end: the run as it finished (or stopped).
    pub fn new(wf: Workflow, events: Vec<Envelope>, color: bool) -> Replay {
        let mut model = Model::new(&wf);
        model.ui.color = color;
        let mut r = Replay {
            wf,
            events,
            at: 0,
            model,
        };
        r.seek(r.events.len());
        r
    }

    /// Puts the cursor after `at` events.
    pub fn seek(&mut self, at: usize) {
        let at = at.min(self.events.len());
        if at < self.at {
            let ui = self.model.ui.clone();
            self.model = Model::new(&self.wf);
            self.model.ui = ui;
            self.at = 0;
        }
        for e in &self.events[self.at..at] {
            self.model.apply(e);
        }
        self.at = at;
        let now = self
            .at
            .checked_sub(1)
            .and_then(|i| parse_ts(&self.events[i].ts));
        if let Some(now) = now {
            self.model.set_now(now);
        }
        self.model.ui.notice = Some(format!(
            "replay: event {} of {}   . next  , back  g start  G end  F next failure  q quit",
            self.at,
            self.events.len()
        ));
    }

    /// Applies a move; false when it quits.
    pub fn step(&mut self, m: Move) -> bool {
        match m {
            Move::Forward => self.seek(self.at + 1),
            Move::Back => self.seek(self.at.saturating_sub(1)),
            Move::Start => self.seek(0),
            Move::End => self.seek(self.events.len()),
            Move::NextFailure => {
                let next = self.events[self.at..].iter().position(is_failure);
                self.seek(next.map_or(self.events.len(), |p| self.at + p + 1));
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

/// `signalbox replay RUN` with a terminal: the screen over the journal.
pub async fn run(wf: Workflow, events: Vec<Envelope>) -> u8 {
    let mut replay = Replay::new(wf, events, super::color_allowed());
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

    fn journal() -> (Workflow, Vec<Envelope>) {
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
        (
            wf,
            lines
                .iter()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        )
    }

    #[test]
    fn steps_forward_back_and_to_failures() {
        let (wf, events) = journal();
        let mut r = Replay::new(wf, events, false);
        assert_eq!(r.at, 6);
        assert!(r.step(Move::Start));
        assert_eq!(r.at, 0);
        r.step(Move::NextFailure);
        assert_eq!(r.at, 5, "stops just after step_failed");
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
        let (wf, events) = journal();
        let mut back = Replay::new(wf.clone(), events.clone(), false);
        back.seek(3);
        let mut fwd = Replay::new(wf, events, false);
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
