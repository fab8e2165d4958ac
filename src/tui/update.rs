//! `update`: the one place the screen's model changes. A message in (a key,
//! an engine event, a resize, the clock), the model changed, and at most one
//! engine command out for the app to send. It never awaits and never
//! touches the terminal, so tests drive it with plain values.

mod confirm;
pub mod edit;
mod find;
mod group;
mod role;
mod text;
mod waits;

use std::sync::Arc;

use crossterm::event::KeyEvent;

use super::keys::{self, Action, Mode};
use super::model::ui::{Overlay, Pane, StepAction};
use super::model::waits::WaitKind;
use super::model::{Model, Selection};
use super::view;
use crate::engine::{Command, Event, Published};

pub use role::READ_ONLY;
use role::quit;

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
    /// The app loop asked the run for an edit's plan (or to apply it).
    EditAsked(crate::engine::edit::EditAsk),
    /// The run's answer to that ask.
    EditAnswer(crate::engine::edit::EditAsk, super::link::EditAnswer),
    /// The run refused a command a key sent, saying why.
    Refused(String),
    /// The run's transport to its pools, as it is now, and the time now.
    Remote(crate::engine::remote::RemoteStatus, u64),
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
        Msg::Refused(why) => {
            waits::refused(model);
            model.ui.notice = Some(why);
            None
        }
        Msg::Resize(w, h) => {
            model.ui.screen = (w, h);
            show_selection(model);
            None
        }
        Msg::Event(p) => {
            let row = model.selected_wait_index();
            let selected = model.selected_wait().map(|w| w.wait.clone());
            model.apply(&p.envelope);
            waits::after_event(model, row);
            waits::decided_elsewhere(model, selected, &p.envelope.event);
            waits::progressed(model, &p.envelope.event);
            reconcile(model, &p.envelope.event);
            if let Event::DagModified {
                action: crate::engine::event::DagAction::Edit,
                ..
            } = &p.envelope.event
            {
                show_selection(model);
            }
            None
        }
        Msg::Clock(now) => {
            model.set_now(now);
            None
        }
        Msg::Remote(status, now) => {
            model.set_now(now);
            match model.pools.as_mut() {
                Some(p) => p.take(status, now),
                None => model.pools = Some(super::model::pools::Pools::new(status, now)),
            }
            None
        }
        Msg::EditAsked(ask) => {
            edit::asked(model, ask);
            None
        }
        Msg::EditAnswer(ask, answer) => {
            edit::answered(model, ask, answer);
            None
        }
    }
}

/// Which keymap reads the next key.
pub fn mode(model: &Model) -> Mode {
    match model.ui.overlay {
        None | Some(Overlay::Output { .. }) => Mode::Normal,
        Some(Overlay::Help) => Mode::Help,
        Some(
            Overlay::ConfirmQuit
            | Overlay::ConfirmCancel
            | Overlay::ConfirmStep { .. }
            | Overlay::ConfirmGroup { .. },
        ) => Mode::Confirm,
        Some(Overlay::Answer(_) | Overlay::Filter) => Mode::Text,
        Some(Overlay::Plan(_)) => Mode::Plan,
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
        Some(Overlay::ConfirmQuit) => role::quit_key(model, action),
        Some(Overlay::ConfirmCancel) => role::cancel_key(model, action),
        Some(Overlay::ConfirmStep { .. }) => confirm::key(model, action),
        Some(Overlay::ConfirmGroup { .. }) => group::group_key(model, action),
        Some(Overlay::Answer(_)) => text::answer_key(model, action),
        Some(Overlay::Filter) => text::filter_key(model, action),
        Some(Overlay::Output { .. }) => output_key(model, action),
        Some(Overlay::Plan(_)) => edit::key(model, action),
        None => normal(model, action),
    }
}

fn normal(model: &mut Model, action: Action) -> Option<Command> {
    if role::refused(model, action) {
        return None;
    }
    match action {
        Action::NextPane => model.ui.focus = model.ui.focus.next(side_by_side(model)),
        Action::PrevPane => model.ui.focus = model.ui.focus.prev(side_by_side(model)),
        Action::Up | Action::Down | Action::Left | Action::Right => moved(model, action, 1),
        Action::PageUp | Action::PageDown => {
            arrange(model);
            let page = page(model);
            moved(model, action, page)
        }
        Action::WaitQueue => waits::jump(model),
        Action::Approve => return waits::resolve(model, true),
        Action::Reject => return waits::resolve(model, false),
        Action::Enter => return enter(model),
        Action::Retry => confirm::ask(model, StepAction::Retry),
        Action::Skip => confirm::ask(model, StepAction::Skip),
        Action::Cancel => confirm::ask(model, StepAction::Cancel),
        Action::ResetBreaker => confirm::ask(model, StepAction::ResetBreaker),
        Action::Collapse => collapse(model),
        Action::Follow => model.log.toggle_follow(),
        Action::NextFailed | Action::PrevFailed => {
            find::next_failed(model, action == Action::NextFailed)
        }
        Action::Wrap => model.log.pane_view.toggle_wrap(),
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
        Action::Detach => role::detach(model),
        Action::CancelRun => role::ask_cancel(model),
        Action::Edit => edit::start(model),
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
            let first = model.selected_node();
            let mut s = first;
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
            let stuck = s == first;
            model.select_node(s);
            match action {
                // No step further that way: the pane scrolls, so lines
                // routed below the last step can be seen.
                Action::Up | Action::Down | Action::PageUp | Action::PageDown if stuck => {
                    scroll_graph(model, up, times)
                }
                _ => show_selection(model),
            }
        }
        Pane::Log => match action {
            Action::Left | Action::Right => {
                let widest = model.log.widest(None);
                model.log.pane_view.shift(action == Action::Left, widest);
            }
            _ => {
                let height = view::layout(model).log.height;
                model
                    .log
                    .select(times, up, (height as usize).saturating_sub(2));
            }
        },
        Pane::Waits => match action {
            Action::Left | Action::Right => {}
            _ => waits::step(model, up, times),
        },
    }
}

/// Lines in a page of the focused pane.
fn page(model: &Model) -> usize {
    let a = view::layout(model);
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

/// Scrolls the graph pane `times` rows, as far as the graph goes (the
/// selection may leave the view; moving it brings it back).
fn scroll_graph(model: &mut Model, up: bool, times: usize) {
    let inner = arrange(model);
    let (ox, oy) = model.ui.graph_offset;
    let most = model.graph.arr.size.1.saturating_sub(inner.1);
    let y = match up {
        true => oy.saturating_sub(times),
        false => (oy + times).min(most),
    };
    model.ui.graph_offset = (ox, y);
}

/// Arranges the graph for its pane on this screen, if it is not already.
fn arrange(model: &mut Model) -> (usize, usize) {
    let area = view::layout(model).graph;
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
            .keep_visible(model.selected_node(), model.ui.graph_offset, inner);
}

/// Selects step `i` in the graph (opening its matrix group if closed) and
/// scrolls it into view (for keys that jump to a step: `n`/`N`, a search).
pub fn select_step(model: &mut Model, i: usize) {
    if i < model.steps.len() {
        model.reveal(i);
        show_selection(model);
    }
}

/// `Enter` on a matrix group: a closed one opens (its header selected),
/// an open one's header closes it.
fn toggle_group(model: &mut Model, g: usize) {
    let open = model.groups.get(g).is_some_and(|g| g.open);
    model.set_open(g, !open);
    show_selection(model);
}

/// `-` on an open group's instance or header: the group closes to one
/// box, which is selected.
fn collapse(model: &mut Model) {
    let Some(g) = model.steps.get(model.ui.selected).and_then(|s| s.group) else {
        model.ui.notice = Some("- closes a matrix group: select one of its instances".into());
        return;
    };
    model.set_open(g, false);
    show_selection(model);
}

fn enter(model: &mut Model) -> Option<Command> {
    match model.ui.focus {
        Pane::Waits => match model.selected_wait().map(|w| w.kind) {
            Some(WaitKind::Question) => text::open_answer(model),
            Some(WaitKind::Approval) => {
                model.ui.notice = Some("an approval: a approves, r rejects".into())
            }
            None => model.ui.notice = Some(waits::none_selected(model)),
        },
        Pane::Graph if matches!(model.selection(), Selection::Group(_)) => {
            if let Selection::Group(g) = model.selection() {
                toggle_group(model, g);
            }
        }
        Pane::Graph => {
            model.log.viewer_view.hscroll = 0;
            model.ui.overlay = Some(Overlay::Output {
                step: model.ui.selected,
                scroll: 0,
                mark: None,
            })
        }
        Pane::Log => find::open_from_log(model),
    }
    None
}

/// The step output overlay: arrows scroll it (`←` `→` across when lines
/// are cut), `W` wraps, Esc/Enter/q close it, other keys work as usual.
fn output_key(model: &mut Model, action: Action) -> Option<Command> {
    let Some(Overlay::Output { step, scroll, mark }) = model.ui.overlay.clone() else {
        return None;
    };
    let most = model.log.output_count(step).saturating_sub(1);
    let page = (view::layout(model).body.height as usize)
        .saturating_sub(4)
        .max(1);
    let scroll = match action {
        Action::Up => (scroll + 1).min(most),
        Action::Down => scroll.saturating_sub(1),
        Action::PageUp => (scroll + page).min(most),
        Action::PageDown => scroll.saturating_sub(page),
        Action::Left | Action::Right => {
            let widest = model.log.widest(Some(step));
            model.log.viewer_view.shift(action == Action::Left, widest);
            scroll
        }
        Action::Wrap => {
            model.log.viewer_view.toggle_wrap();
            scroll
        }
        Action::Close | Action::Enter | Action::Quit => {
            model.ui.overlay = None;
            return None;
        }
        other => return normal(model, other),
    };
    model.ui.overlay = Some(Overlay::Output { step, scroll, mark });
    None
}

/// After events: dialogs about waits that closed, or about a step the
/// command no longer applies to, go away and say why.
fn reconcile(model: &mut Model, event: &Event) {
    if let Some(Overlay::ConfirmStep { action, step, .. }) = &model.ui.overlay
        && let Some(why) = confirm::refusal(model, *action, *step)
    {
        model.ui.overlay = None;
        model.ui.notice = Some(why);
    }
    if let Some(Overlay::ConfirmGroup { action, group, .. }) = &model.ui.overlay
        && let Some(why) = group::group_refusal(model, *action, *group)
    {
        model.ui.overlay = None;
        model.ui.notice = Some(why);
    }
    edit::edited_meanwhile(model, event);
    if matches!(model.ui.overlay, Some(Overlay::Plan(_))) && model.ended() {
        model.ui.overlay = None;
        model.ui.notice = Some(edit::ENDED.into());
    }
    if model.ui.overlay == Some(Overlay::ConfirmCancel) && model.ended() {
        model.ui.overlay = None;
        model.ui.notice = Some("the run has ended: there is nothing to cancel".into());
    }
    // Someone else (another screen, the socket, a timeout) decided the
    // question this box answers: what was typed goes, and the notice says who.
    if let Some(Overlay::Answer(b)) = &model.ui.overlay
        && model.waits.get(&b.wait).is_none()
    {
        model.ui.overlay = None;
        model.ui.notice = Some(waits::closed_by(event));
    }
}

/// Whether the log and the wait queue sit side by side on this screen.
fn side_by_side(model: &Model) -> bool {
    crate::tui::view::side_by_side(model.ui.screen.0)
}
