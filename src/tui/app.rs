//! The app loop: one `select!` over the terminal's events, the engine's
//! events, the stop signals, the run's end and (only while something on
//! screen counts down) a once-a-second clock. Every queued engine event is
//! applied before a frame is drawn, frames are paced, and nothing is drawn
//! when nothing changed. While a frame is pending the loop stops listening
//! for engine events and takes them all in one go just before it draws, so
//! a run of 10,000 steps wakes the screen once per frame, not per event. Generic over ratatui's `Backend` and over the key
//! stream, so tests drive it on a `TestBackend` with scripted keys. It
//! decides nothing: keys and events go through `update`, pixels through
//! `view`; it only sends the commands `update` returns.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{Event as TermEvent, KeyEventKind};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::link::{Commands, Events};
use super::model::ui::Role;
use super::model::{Model, millis};
use super::update::{Msg, update};
use super::view::view;
use crate::engine::{By, Command, Published, RunOutcome};

/// At most one frame this often, however fast events come.
const FRAME: Duration = Duration::from_millis(50);
/// Frames are also spaced by this many times what the last one took to draw,
/// so drawing a big graph takes at most about a tenth of a CPU from the steps.
const FRAME_COST: u32 = 10;
/// The longest wait between frames while something changes.
const MAX_FRAME: Duration = Duration::from_millis(200);
/// Events applied in one go before keys get another look.
const DRAIN: usize = 4096;

pub use super::link::Engine;
pub use lend::{Keys, Plain};

mod end;
mod lend;

/// An edit asked of the run, and its answer.
type Planned = (crate::engine::edit::EditAsk, super::link::EditAnswer);

/// How the loop ended.
#[derive(Debug)]
pub struct Ended {
    /// `None` if the engine's task did not finish (aborted or panicked).
    pub outcome: Option<RunOutcome>,
    /// The operator stopped waiting for a cancelled run to end.
    pub forced: bool,
    /// Drawing failed (the terminal went away); the run was cancelled
    /// (or, on an attached screen, left alone).
    pub draw_error: Option<String>,
    /// The screen detached: the run goes on.
    pub detached: bool,
    /// Why the run's events stopped before its end (a screen on the socket).
    pub lost: Option<String>,
    /// `R` on a finished run: the steps to retry, as `signalbox retry` does
    /// (none: no retry).
    pub retry: Vec<String>,
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

/// The loop's state between wake-ups.
struct Loop<'a, B: Backend> {
    terminal: &'a mut Terminal<B>,
    model: &'a mut Model,
    commands: Commands,
    /// Where the replies to refused commands come back.
    refused: mpsc::UnboundedSender<String>,
    /// Where the run's answers to edits come back.
    plans: mpsc::UnboundedSender<Planned>,
    /// Something changed since the last frame.
    dirty: bool,
    last_draw: Option<Instant>,
    /// The least time from the last frame to the next (see [`pace`]).
    pace: Duration,
    draw_error: Option<String>,
}

/// The least time between two frames, after one that took `cost` to draw.
fn pace(cost: Duration) -> Duration {
    (cost * FRAME_COST).clamp(FRAME, MAX_FRAME)
}

impl<B: Backend> Loop<'_, B> {
    /// Whether the next frame may be drawn now.
    fn due(&self) -> bool {
        self.last_draw.is_none_or(|t| t.elapsed() >= self.pace)
    }

    /// Draws if something changed and a frame is due, after taking in every
    /// engine event queued meanwhile.
    fn draw(&mut self, events: &mut Events, events_open: bool) {
        if !(self.dirty && self.due() && self.draw_error.is_none()) {
            return;
        }
        if events_open {
            self.drain(events);
        }
        update(self.model, Msg::Clock(now_ms()));
        let model = &*self.model;
        let start = Instant::now();
        if let Err(e) = self.terminal.draw(|f| view(model, f)) {
            tracing::error!("drawing failed, cancelling the run: {e}");
            self.draw_error = Some(e.to_string());
            self.leave();
        }
        let now = Instant::now();
        self.pace = pace(now - start);
        self.dirty = false;
        self.last_draw = Some(now);
    }

    /// A frame is wanted but not yet due: engine events wait in their queue
    /// (bounded; one that overflows reads on from the journal) until it is.
    fn holding(&self) -> bool {
        self.frame_wanted() && !self.due()
    }

    /// When the next frame may be drawn, if one is wanted.
    fn frame_wanted(&self) -> bool {
        self.dirty && self.draw_error.is_none()
    }

    fn frame_at(&self) -> Instant {
        self.last_draw.map_or_else(Instant::now, |t| t + self.pace)
    }

    /// The terminal is gone: no key will come, and nobody is left to see
    /// the run end. A run in a process of its own (`elsewhere`) goes on
    /// cancelling itself there; this one leaves without waiting.
    fn terminal_gone(&mut self, keys: &mut impl Keys, elsewhere: bool) {
        keys.close();
        self.model.ui.force |= elsewhere;
    }

    /// The terminal or the process is going: the run's own screen cancels
    /// the run and leaves once it has ended; an attached one detaches.
    fn leave(&mut self) {
        if self.model.ui.role != Role::Own {
            self.model.ui.detach = true;
            return;
        }
        self.model.ui.quit = true;
        self.commands.send(Command::Cancel {
            step: None,
            by: By::Keyboard,
        });
        self.dirty = true;
    }

    fn key(&mut self, ev: TermEvent) {
        if let Some(msg) = message(ev) {
            match update(self.model, msg) {
                // An edit's answer is its plan, for the dialog.
                Some(Command::Edit(ask)) => self.ask_edit(ask),
                Some(c) => self.send(c),
                None => {}
            }
            // `R` on a matrix group: one retry per instance, in order.
            for c in std::mem::take(&mut self.model.ui.outbox) {
                self.send(c);
            }
            self.dirty = true;
        }
    }

    fn send(&mut self, c: Command) {
        {
            // Sent now, in key order; the reply comes back as a message.
            // The screen checks what it can, but only the run knows,
            // e.g. that a wait timed out as the key was pressed.
            let reply = self.commands.send_for_reply(c);
            let refused = self.refused.clone();
            tokio::spawn(async move {
                if let Err(Some(why)) = reply.await {
                    let _ = refused.send(why);
                }
            });
        }
    }

    /// The run refused a command a key sent: say why.
    fn refused(&mut self, why: String) {
        update(self.model, Msg::Refused(why));
        self.dirty = true;
    }

    /// Applies `first` and every event queued behind it (up to [`DRAIN`]).
    fn events(&mut self, first: Arc<Published>, events: &mut Events) {
        update(self.model, Msg::Event(first));
        self.drain(events);
        self.dirty = true;
    }

    /// Applies the events already queued, up to [`DRAIN`] of them.
    fn drain(&mut self, events: &mut Events) {
        for _ in 1..DRAIN {
            match events.try_recv() {
                Some(p) => update(self.model, Msg::Event(p)),
                None => break,
            };
        }
    }
}

/// Runs the screen until the operator quits and the run has ended, or a
/// stop signal comes and the run has ended, or the screen detaches.
pub async fn drive<B, K, S>(
    terminal: &mut Terminal<B>,
    model: &mut Model,
    engine: Engine,
    keys: K,
    stop: S,
) -> Ended
where
    B: Backend,
    K: Stream<Item = std::io::Result<TermEvent>> + Unpin,
    S: Future<Output = ()>,
{
    drive_keys(terminal, model, engine, Plain(keys), stop).await
}

/// [`drive`] with keys that may lend the terminal to an editor (`e`).
pub async fn drive_keys<B, K, S>(
    terminal: &mut Terminal<B>,
    model: &mut Model,
    engine: Engine,
    mut keys: K,
    stop: S,
) -> Ended
where
    B: Backend,
    K: Keys,
    S: Future<Output = ()>,
{
    let Engine {
        mut events,
        commands,
        mut task,
        mut remote,
        mut transport,
    } = engine;
    tokio::pin!(stop);
    if let Ok(size) = terminal.size() {
        update(model, Msg::Resize(size.width, size.height));
    }
    if let Some(r) = &remote {
        model.ui.screens = *r.screens.borrow();
    }
    if let Some(status) = transport.now() {
        update(model, Msg::Remote(status, now_ms()));
    }
    if model.run.dir.is_none() {
        model.run.dir = match (&remote, &commands) {
            (Some(r), _) => Some(r.dir.clone()),
            (None, Commands::Local(h)) => Some(h.dir.to_path_buf()),
            (None, Commands::Remote(_)) => None,
        };
    }
    let (refused, mut refusals) = mpsc::unbounded_channel();
    let (plans, mut planned) = mpsc::unbounded_channel::<Planned>();
    let mut l = Loop {
        terminal,
        model,
        commands,
        refused,
        plans,
        dirty: true,
        last_draw: None,
        pace: FRAME,
        draw_error: None,
    };
    let (mut events_open, mut keys_open, mut stopped) = (true, true, false);
    let mut outcome: Option<Option<RunOutcome>> = None;
    let mut lost = None;
    loop {
        if let Some(from) = l.model.ui.edit.take() {
            l.edit(from, &mut keys).await;
        }
        l.draw(&mut events, events_open);
        if l.draw_error.is_some() && keys_open {
            keys_open = false;
            l.terminal_gone(&mut keys, task.is_none());
        }
        if l.model.ui.detach && task.is_some() {
            // This process runs the run: there is nothing to detach from.
            l.model.ui.detach = false;
            l.model.ui.notice = Some("this screen's process runs the run: it cannot detach".into());
            l.dirty = true;
            continue;
        }
        let leaving = l.model.ui.quit
            || l.draw_error.is_some()
            || l.model.ui.detach
            || !l.model.ui.retry.is_empty();
        if leaving && (outcome.is_some() || l.model.ui.detach) {
            // The run may have ended in the frame the key was pressed in:
            // then the screen leaves with its outcome, not detached.
            if let (None, Some(r)) = (&outcome, &remote) {
                outcome = l.remote_outcome(r).map(Some);
            }
            let (forced, draw_error) = (l.model.ui.force, l.draw_error.take());
            let outcome = outcome.flatten();
            return Ended {
                detached: l.model.ui.detach && outcome.is_none() && lost.is_none(),
                outcome,
                forced,
                draw_error,
                lost,
                retry: std::mem::take(&mut l.model.ui.retry),
            };
        }
        if l.model.ui.force && outcome.is_none() {
            match &task {
                // Dropping the run's future kills every process it started.
                Some(task) => task.abort(),
                // The run's own process goes on cancelling it.
                None => outcome = Some(None),
            }
            if task.is_none() {
                continue;
            }
        }
        let (frame, frame_at, clock) = (l.frame_wanted(), l.frame_at(), l.model.needs_clock());
        let listen = events_open && !l.holding();
        let run_task = async {
            match &mut task {
                Some(t) => t.await,
                None => std::future::pending().await,
            }
        };
        let screens = async {
            match &mut remote {
                Some(r) => match r.screens.changed().await {
                    Ok(()) => *r.screens.borrow_and_update(),
                    Err(_) => std::future::pending().await,
                },
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            ev = keys.next(), if keys_open => match ev {
                Some(Ok(ev)) => l.key(ev),
                // No more input: the terminal is gone.
                _ => {
                    keys_open = false;
                    l.leave();
                    l.terminal_gone(&mut keys, task.is_none());
                }
            },
            r = run_task, if outcome.is_none() => outcome = Some(l.ended(r)),
            p = events.recv(), if listen => match p {
                Some(p) => l.events(p, &mut events),
                None => {
                    events_open = false;
                    if let Some(r) = &mut remote {
                        if let Ok(crate::socket::screen::End::Lost(why)) = (&mut r.end).await {
                            lost = Some(why);
                        }
                        outcome = Some(l.remote_outcome(r));
                    }
                    l.events_closed(lost.as_deref());
                }
            },
            n = screens => { l.model.ui.screens = n; l.dirty = true; }
            status = transport.next() => {
                update(l.model, Msg::Remote(status, now_ms()));
                l.dirty = true;
            }
            Some(why) = refusals.recv() => l.refused(why),
            Some((ask, answer)) = planned.recv() => {
                update(l.model, Msg::EditAnswer(ask, answer));
                l.dirty = true;
            }
            () = &mut stop, if !stopped => { stopped = true; l.leave(); }
            () = tokio::time::sleep_until(next_second()), if clock => l.dirty = true,
            () = tokio::time::sleep_until(frame_at), if frame => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_spaced_by_what_drawing_costs() {
        assert_eq!(pace(Duration::ZERO), FRAME);
        assert_eq!(pace(Duration::from_millis(1)), FRAME);
        assert_eq!(pace(Duration::from_millis(5)), Duration::from_millis(50));
        assert_eq!(pace(Duration::from_secs(1)), MAX_FRAME);
    }
}
