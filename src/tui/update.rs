//! `update`: the one place the screen's model changes. A message in (a key,
//! an engine event, a resize, the clock), the model changed, and at most one
//! engine command out for the app to send. It never awaits and never
//! touches the terminal, so tests drive it with plain values.

mod text;

use std::sync::Arc;

use crossterm::event::KeyEvent;

use super::keys::{self, Action, Mode};
use super::model::ui::{Overlay, Pane};
use super::model::waits::WaitKind;
use super::model::{Model, Status};
use super::view;
use crate::engine::{By, Command, Published};

/// What reaches `update`.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// Text pasted into the terminal (bracketed paste).
    Paste(String),
    /// The terminal's new size: (columns, rows).
    Resize(u16, u16),
    Event(Arc<Published>),
    /// The time now, in milliseconds since the epoch.
    Clock(u64),
}

pub fn update(model: &mut Model, msg: Msg) -> Option<Command> {
    match msg {
        Msg::Key(key) => {
            let action = keys::action(mode(model), key)?;
            model.ui.notice = None;
            act(model, action)
        }
        Msg::Paste(text) => {
            text::paste(model, &text);
            None
        }
        Msg::Resize(w, h) => {
            model.ui.screen = (w, h);
            show_selection(model);
            None
        }
        Msg::Event(p) => {
            model.apply(&p.envelope);
            reconcile(model);
            None
        }
        Msg::Clock(now) => {
            model.set_now(now);
            None
        }
    }
}

/// Which keymap reads the next key.
pub fn mode(model: &Model) -> Mode {
    match model.ui.overlay {
        None | Some(Overlay::Output { .. }) => Mode::Normal,
        Some(Overlay::Help) => Mode::Help,
        Some(Overlay::ConfirmQuit) => Mode::Confirm,
        Some(Overlay::Answer(_) | Overlay::Filter) => Mode::Text,
    }
}

/// Applies an action: the open overlay gets it first.
pub fn act(model: &mut Model, action: Action) -> Option<Command> {
    match &model.ui.overlay {
        Some(Overlay::Help) => {
            model.ui.overlay = None;
            if action == Action::Quit {
                return quit(model);
            }
            None
        }
        Some(Overlay::ConfirmQuit) => {
            model.ui.overlay = None;
            (action == Action::Yes).then(|| quit_now(model)).flatten()
        }
        Some(Overlay::Answer(_)) => text::answer_key(model, action),
        Some(Overlay::Filter) => text::filter_key(model, action),
        Some(Overlay::Output { .. }) => output_key(model, action),
        None => normal(model, action),
    }
}

fn normal(model: &mut Model, action: Action) -> Option<Command> {
    match action {
        Action::NextPane => model.ui.focus = model.ui.focus.next(side_by_side(model)),
        Action::PrevPane => model.ui.focus = model.ui.focus.prev(side_by_side(model)),
        Action::Up | Action::Down | Action::Left | Action::Right => moved(model, action, 1),
        Action::PageUp | Action::PageDown => {
            arrange(model);
            let page = page(model);
            moved(model, action, page)
        }
        Action::WaitQueue => {
            model.ui.focus = Pane::Waits;
            if model.waits.is_empty() {
                model.ui.notice = Some("no wait is open".into());
            }
        }
        Action::Approve => return resolve(model, true),
        Action::Reject => return resolve(model, false),
        Action::Enter => return enter(model),
        Action::Retry | Action::Skip | Action::Cancel => return step_command(model, action),
        Action::Follow => model.log.toggle_follow(),
        Action::Compact => {
            arrange(model);
            model.ui.compact = Some(!model.graph.compact());
            show_selection(model);
        }
        Action::Filter => {
            model.ui.focus = Pane::Log;
            model.ui.overlay = Some(Overlay::Filter);
        }
        Action::Help => model.ui.overlay = Some(Overlay::Help),
        Action::Quit => return quit(model),
        Action::Close => {
            if !model.log.filter.is_empty() {
                model.log.set_filter(String::new());
            }
        }
        Action::Insert(_) | Action::Backspace | Action::Yes | Action::No => {}
    }
    None
}

/// Arrows and pages, for the focused pane.
fn moved(model: &mut Model, action: Action, times: usize) {
    let up = matches!(action, Action::Up | Action::PageUp);
    match model.ui.focus {
        Pane::Graph => {
            arrange(model);
            let mut s = model.ui.selected;
            for _ in 0..times {
                let arr = &model.graph.arr;
                let next = match action {
                    Action::Left => arr.horizontal(s, true),
                    Action::Right => arr.horizontal(s, false),
                    _ => arr.vertical(s, up),
                };
                match next {
                    Some(n) => s = n,
                    None => break,
                }
            }
            model.ui.selected = s;
            show_selection(model);
        }
        Pane::Log => match action {
            Action::Left | Action::Right => {}
            _ => model.log.scroll(times, up),
        },
        Pane::Waits => {
            let Some(i) = model.selected_wait_index() else {
                return;
            };
            let last = model.waits.len().saturating_sub(1);
            let to = match action {
                Action::Up | Action::PageUp => i.saturating_sub(times),
                Action::Down | Action::PageDown => (i + times).min(last),
                _ => i,
            };
            model.ui.wait_pin = model.waits.list().get(to).map(|w| w.wait.clone());
        }
    }
}

/// Lines in a page of the focused pane.
fn page(model: &Model) -> usize {
    let a = view::areas(model.ui.screen, model.waits.len());
    let rect = match model.ui.focus {
        Pane::Graph => {
            return model
                .graph
                .arr
                .page((a.graph.height as usize).saturating_sub(2));
        }
        Pane::Log => a.log,
        Pane::Waits => a.waits,
    };
    (rect.height as usize).saturating_sub(3).max(1)
}

/// Arranges the graph for its pane on this screen, if it is not already.
fn arrange(model: &mut Model) -> (usize, usize) {
    let area = view::areas(model.ui.screen, model.waits.len()).graph;
    let inner = (
        area.width.saturating_sub(2) as usize,
        area.height.saturating_sub(2) as usize,
    );
    model.graph.arrange(inner, model.ui.compact);
    inner
}

/// Arranges the graph for the pane and scrolls it so the selected step's
/// box is in view.
pub fn show_selection(model: &mut Model) {
    let inner = arrange(model);
    model.ui.graph_offset =
        model
            .graph
            .arr
            .keep_visible(model.ui.selected, model.ui.graph_offset, inner);
}

/// Selects step `i` in the graph and scrolls it into view (for keys that
/// jump to a step: `n`/`N`, a search).
pub fn select_step(model: &mut Model, i: usize) {
    if i < model.steps.len() {
        model.ui.selected = i;
        show_selection(model);
    }
}

/// `a` / `r` on the selected wait, from any pane.
fn resolve(model: &mut Model, approve: bool) -> Option<Command> {
    let Some(w) = model.selected_wait() else {
        model.ui.notice = Some("no wait is open".into());
        return None;
    };
    let step = w.step_id.clone();
    let by = By::Keyboard;
    match (w.kind, approve, w.default.clone()) {
        (_, false, _) => Some(Command::Reject { step, by }),
        (WaitKind::Approval, true, _) => Some(Command::Approve { step, by }),
        (WaitKind::Question, true, Some(text)) => Some(Command::Answer { step, text, by }),
        (WaitKind::Question, true, None) => {
            text::open_answer(model);
            None
        }
    }
}

fn enter(model: &mut Model) -> Option<Command> {
    match model.ui.focus {
        Pane::Waits => match model.selected_wait().map(|w| w.kind) {
            Some(WaitKind::Question) => text::open_answer(model),
            Some(WaitKind::Approval) => {
                model.ui.notice = Some("an approval: a approves, r rejects".into())
            }
            None => model.ui.notice = Some("no wait is open".into()),
        },
        Pane::Graph => {
            model.ui.overlay = Some(Overlay::Output {
                step: model.ui.selected,
                scroll: 0,
            })
        }
        Pane::Log => {}
    }
    None
}

/// `R` / `s` / `x` on the step selected in the graph.
fn step_command(model: &mut Model, action: Action) -> Option<Command> {
    let s = model.steps.get(model.ui.selected)?;
    let (step, by) = (s.id.clone(), By::Keyboard);
    let refuse = if model.ended() {
        Some("the run has ended".to_string())
    } else {
        match (action, s.status) {
            (Action::Retry, Status::Failed | Status::Cancelled | Status::Backoff { .. }) => None,
            (Action::Retry, _) => Some(format!(
                "R retries a failed, cancelled or backing-off step; {step} is not"
            )),
            (_, st) if st.is_done() => Some(format!("{step} has already ended")),
            _ => None,
        }
    };
    if let Some(why) = refuse {
        model.ui.notice = Some(why);
        return None;
    }
    Some(match action {
        Action::Retry => Command::Retry { step, by },
        Action::Skip => Command::Skip { step, by },
        _ => Command::Cancel {
            step: Some(step),
            by,
        },
    })
}

/// The step output overlay: arrows scroll it, Esc/Enter/q close it, other
/// keys work as usual.
fn output_key(model: &mut Model, action: Action) -> Option<Command> {
    let Some(Overlay::Output { step, scroll }) = model.ui.overlay.clone() else {
        return None;
    };
    let most = model.log.output_count(step).saturating_sub(1);
    let page = (view::areas(model.ui.screen, model.waits.len()).body.height as usize)
        .saturating_sub(4)
        .max(1);
    let scroll = match action {
        Action::Up => (scroll + 1).min(most),
        Action::Down => scroll.saturating_sub(1),
        Action::PageUp => (scroll + page).min(most),
        Action::PageDown => scroll.saturating_sub(page),
        Action::Close | Action::Enter | Action::Quit => {
            model.ui.overlay = None;
            return None;
        }
        other => return normal(model, other),
    };
    model.ui.overlay = Some(Overlay::Output { step, scroll });
    None
}

/// `q`: leave after the run ends; ask first while work is in flight.
fn quit(model: &mut Model) -> Option<Command> {
    if model.ended() {
        model.ui.quit = true;
        return None;
    }
    if model.ui.quit {
        // Asked again while the run is being cancelled: stop waiting.
        model.ui.force = true;
        return None;
    }
    if model.busy() {
        model.ui.overlay = Some(Overlay::ConfirmQuit);
        return None;
    }
    quit_now(model)
}

/// Quitting a run still going cancels it; the app leaves once it ended.
fn quit_now(model: &mut Model) -> Option<Command> {
    model.ui.quit = true;
    if model.ended() {
        return None;
    }
    Some(Command::Cancel {
        step: None,
        by: By::Keyboard,
    })
}

/// After events: dialogs about waits that closed go away.
fn reconcile(model: &mut Model) {
    if let Some(Overlay::Answer(b)) = &model.ui.overlay
        && model.waits.get(&b.wait).is_none()
    {
        model.ui.overlay = None;
        model.ui.notice = Some("the question closed before it was answered".into());
    }
}

/// Whether the log and the wait queue sit side by side on this screen.
fn side_by_side(model: &Model) -> bool {
    crate::tui::view::side_by_side(model.ui.screen.0)
}
