//! The two questions about the whole run: quitting the run's own screen
//! (which cancels a live run; `d` detaches instead) and `C`, cancelling the
//! run while the screen stays. Both fit whole in 80 columns.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{centered, dialog};
use crate::tui::model::{Model, Status};
use crate::tui::view::theme::Theme;

/// "Quit? The run is cancelled." with `y`, `d` and `n`.
pub fn quit(m: &Model, t: Theme, frame: &mut Frame, body: Rect) {
    let running = m
        .steps
        .iter()
        .filter(|s| matches!(s.status, Status::Running | Status::Backoff { .. }))
        .count();
    let lines = vec![
        Line::raw(format!(
            "{} running and {} open.",
            plural(running, "step"),
            plural(m.waits.len(), "wait")
        )),
        Line::raw("Quitting cancels the run: running steps are stopped."),
        Line::raw("Detaching closes the screen and the run goes on."),
        Line::raw(""),
        keys(
            t,
            &[("y", "quit and cancel"), ("d", "detach"), ("n", "stay")],
        ),
    ];
    draw(lines, "quit?", t, frame, body);
}

/// `C`: "Cancel the whole run?" with `y` and `n`.
pub fn cancel(t: Theme, frame: &mut Frame, body: Rect) {
    let lines = vec![
        Line::raw("Cancel the whole run?"),
        Line::raw("Running steps are stopped, open waits dropped."),
        Line::raw("The screen stays and shows how the run ends."),
        Line::raw(""),
        keys(t, &[("y", "cancel the run"), ("n", "leave it")]),
    ];
    draw(lines, "cancel the run? y/n", t, frame, body);
}

/// `y quit and cancel    d detach    n stay`, the keys in bold.
fn keys(t: Theme, keys: &[(&'static str, &'static str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, (key, what)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("    "));
        }
        spans.push(Span::styled(*key, t.bold()));
        spans.push(Span::raw(format!(" {what}")));
    }
    Line::from(spans)
}

fn draw(lines: Vec<Line<'static>>, title: &str, t: Theme, frame: &mut Frame, body: Rect) {
    let area = centered(body, 58, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(dialog(title, t));
    frame.render_widget(p, area);
}

/// `1 step`, `3 steps`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
