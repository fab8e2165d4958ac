//! Finding a step: `n` / `N` to the next / previous failed one in graph
//! order, a step by name from the log filter, and `Enter` on a log line to
//! that step's output at that moment. Part of `update`: no awaiting, no
//! terminal.

use super::show_selection;
use crate::tui::model::Model;
use crate::tui::model::ui::{Overlay, Pane};

/// Selects step `i` in the graph, gives the graph the keys, and scrolls it
/// into view.
pub fn select_step(model: &mut Model, i: usize) {
    // A failed instance of a closed matrix group: the group opens, so
    // `n` goes on from instance to instance and Enter shows its output.
    model.reveal(i);
    model.ui.focus = Pane::Graph;
    show_selection(model);
}

/// Selects matrix group `g` (its box, or its header when open), gives the
/// graph the keys, and scrolls it into view.
pub fn select_group(model: &mut Model, g: usize) {
    if let Some(&first) = model.groups.get(g).and_then(|g| g.members.first()) {
        model.ui.selected = first;
        model.ui.on_group = true;
        model.ui.focus = Pane::Graph;
        show_selection(model);
    }
}

/// Where step `i` comes in graph order: its layer, then its row.
fn graph_order(model: &Model, i: usize) -> (usize, usize, usize) {
    let (c, r) = model.graph.step_place(i);
    (c, r, i)
}

/// The failed step after (`forward`) or before the selected one in graph
/// order, wrapping around; none when no step failed.
pub fn failed_after(model: &Model, forward: bool) -> Option<usize> {
    let failed = crate::tui::view::status::failed_in_order(model);
    let here = graph_order(model, model.ui.selected);
    let key = |i: &&usize| graph_order(model, **i);
    let pick = match forward {
        true => failed.iter().find(|i| key(i) > here).or(failed.first()),
        false => failed
            .iter()
            .rev()
            .find(|i| key(i) < here)
            .or(failed.last()),
    };
    pick.copied()
}

/// `n` / `N`, from any pane. In the output viewer, the viewer moves to the
/// step too.
pub fn next_failed(model: &mut Model, forward: bool) {
    let Some(i) = failed_after(model, forward) else {
        model.ui.notice = Some("no step has failed".into());
        return;
    };
    select_step(model, i);
    if let Some(Overlay::Output { .. }) = model.ui.overlay {
        model.log.viewer_view.hscroll = 0;
        model.ui.overlay = Some(Overlay::Output {
            step: i,
            scroll: 0,
            mark: None,
        });
    }
}

/// The step a filter names: the one whose id it is (ignoring ASCII case),
/// else the first in the file whose id contains it.
pub fn step_named(model: &Model, text: &str) -> Option<usize> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let ids = || model.steps.iter().enumerate();
    ids()
        .find(|(_, s)| s.id.eq_ignore_ascii_case(text))
        .or_else(|| ids().find(|(_, s)| crate::tui::model::log::contains_ignore_case(&s.id, text)))
        .map(|(i, _)| i)
}

/// `Enter` on the log's selected line: its step's output, opened at the
/// moment of that line (the line itself marked when it is output).
pub fn open_from_log(model: &mut Model) {
    let Some(line) = model.log.selected_line() else {
        model.ui.notice = Some("the log is empty".into());
        return;
    };
    let Some(step) = line.step else {
        model.ui.notice = Some("this line is about no step: pick a step's line".into());
        return;
    };
    let (seq, output) = (line.seq, line.is_output());
    let newer = model.log.output_after(step, seq);
    model.log.viewer_view.hscroll = 0;
    model.ui.overlay = Some(Overlay::Output {
        step,
        scroll: newer,
        mark: output.then_some(seq),
    });
}
