//! The app loop: one `select!` over the terminal's events, the engine's
//! events, the stop signals, the run's end and (only while something on
//! screen counts down) a once-a-second clock. Every queued engine event is
//! applied before a frame is drawn, frames are paced, and nothing is drawn
//! when nothing changed. Generic over ratatui's `Backend` and over the key
//! stream, so tests drive it on a `TestBackend` with scripted keys.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{Event as TermEvent, KeyEventKind};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::model::{Model, millis};
use super::update::{Msg, update};
use super::view::view;
use crate::engine::{By, Command, RunHandle, RunOutcome, Subscription};

/// At most one frame this often, however fast events come.
const FRAME: Duration = Duration::from_millis(20);
/// Events applied in one go before keys get another look.
const DRAIN: usize = 4096;

/// The running engine, as the loop sees it.
pub struct Engine {
    pub events: Subscription,
    pub handle: RunHandle,
    /// The task running `Run::start`.
    pub task: JoinHandle<RunOutcome>,
}

/// How the loop ended.
#[derive(Debug)]
pub struct Ended {
    /// `None` if the engine's task did not finish (aborted or panicked).
    pub outcome: Option<RunOutcome>,
    /// The operator stopped waiting for a cancelled run to end.
    pub forced: bool,
    /// Drawing failed (the terminal went away); the run was cancelled.
    pub draw_error: Option<String>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

/// Turns a terminal event into a message, if it means anything.
fn message(ev: TermEvent) -> Option<Msg> {
    match ev {
        TermEvent::Key(k) if k.kind != KeyEventKind::Release => Some(Msg::Key(k)),
        TermEvent::Resize(w, h) => Some(Msg::Resize(w, h)),
        TermEvent::Paste(text) => Some(Msg::Paste(text)),
        _ => None,
    }
}

/// The next whole second of wall-clock time, as a tokio instant.
fn next_second() -> Instant {
    let into = now_ms() % 1000;
    Instant::now() + Duration::from_millis(1000 - into + 5)
}

/// Runs the screen until the operator quits and the run has ended, or a
/// stop signal comes and the run has ended.
pub async fn drive<B, K, S>(
    terminal: &mut Terminal<B>,
    model: &mut Model,
    engine: Engine,
    mut keys: K,
    stop: S,
) -> Ended
where
    B: Backend,
    K: Stream<Item = std::io::Result<TermEvent>> + Unpin,
    S: Future<Output = ()>,
{
    let Engine {
        mut events,
        handle,
        mut task,
    } = engine;
    tokio::pin!(stop);
    let cancel = || Command::Cancel {
        step: None,
        by: By::Keyboard,
    };
    if let Ok(size) = terminal.size() {
        update(model, Msg::Resize(size.width, size.height));
    }
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let (mut events_open, mut keys_open, mut stopped) = (true, true, false);
    let mut outcome: Option<Option<RunOutcome>> = None;
    let mut draw_error = None;
    loop {
        let due = last_draw.is_none_or(|t| t.elapsed() >= FRAME);
        if dirty && due && draw_error.is_none() {
            update(model, Msg::Clock(now_ms()));
            if let Err(e) = terminal.draw(|f| view(model, f)) {
                tracing::error!("drawing failed, cancelling the run: {e}");
                draw_error = Some(e.to_string());
                model.ui.quit = true;
                handle.send(cancel());
            }
            dirty = false;
            last_draw = Some(Instant::now());
        }
        if let Some(outcome) = &outcome
            && (model.ui.quit || draw_error.is_some())
        {
            return Ended {
                outcome: outcome.clone(),
                forced: model.ui.force,
                draw_error,
            };
        }
        if model.ui.force && outcome.is_none() {
            // Dropping the run's future kills every process it started.
            task.abort();
        }
        let frame_at = last_draw.map_or_else(Instant::now, |t| t + FRAME);
        let clock = model.needs_clock();
        tokio::select! {
            biased;
            ev = keys.next(), if keys_open => match ev {
                Some(Ok(ev)) => {
                    if let Some(msg) = message(ev) {
                        if let Some(c) = update(model, msg) {
                            handle.send(c);
                        }
                        dirty = true;
                    }
                }
                _ => {
                    // No more input: the terminal is gone.
                    keys_open = false;
                    model.ui.quit = true;
                    handle.send(cancel());
                }
            },
            r = &mut task, if outcome.is_none() => {
                if let Err(e) = &r && !e.is_cancelled() {
                    tracing::error!("the run's task failed: {e}");
                }
                outcome = Some(r.ok());
                dirty = true;
            }
            p = events.recv(), if events_open => {
                match p {
                    Some(p) => {
                        update(model, Msg::Event(p));
                        for _ in 1..DRAIN {
                            match events.try_recv() {
                                Ok(p) => { update(model, Msg::Event(p)); }
                                Err(_) => break,
                            }
                        }
                    }
                    None => events_open = false,
                }
                dirty = true;
            }
            () = &mut stop, if !stopped => {
                stopped = true;
                model.ui.quit = true;
                handle.send(cancel());
                dirty = true;
            }
            () = tokio::time::sleep_until(next_second()), if clock => dirty = true,
            () = tokio::time::sleep_until(frame_at), if dirty && draw_error.is_none() => {}
        }
    }
}
