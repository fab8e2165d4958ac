//! `signalbox graph`: the step graph as text for the terminal, as Graphviz
//! DOT, or as Mermaid for GitHub.

use std::fmt::Write;

mod formats;
mod notes;
pub use formats::{dot, mermaid};

use crate::workflow::layout::{self, Slot, route};
use crate::workflow::{Action, Step, Workflow};

/// Space between columns, where the edges run.
const GAP: usize = 5;

/// One short line that names a step and its key settings.
pub fn label(step: &Step) -> String {
    let glyph = match step.action {
        Action::Run(_) => '▸',
        Action::Approval(_) => '◆',
        Action::Ask(_) => '?',
    };
    let mut out = format!("{glyph} {}", step.id);
    if step.retry.attempts > 1 {
        let _ = write!(out, " ↻{}", step.retry.attempts);
    }
    if let Some(b) = &step.breaker {
        let _ = write!(out, " ⊗{b}");
    }
    if step.when.is_some() {
        out.push_str(" if");
    }
    out
}

use crate::workflow::layout::dir::{LEFT, RIGHT};

/// A character grid where lines are drawn as directions and turned into
/// box-drawing characters at the end, so crossings and joins come out right.
struct Canvas {
    lines: Vec<u8>,
    text: Vec<Option<char>>,
    width: usize,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            lines: vec![0; width * height],
            text: vec![None; width * height],
            width,
        }
    }
    fn mark(&mut self, x: usize, y: usize, dirs: u8) {
        if let Some(cell) = self.lines.get_mut(y * self.width + x) {
            *cell |= dirs;
        }
    }
    fn hline(&mut self, y: usize, x0: usize, x1: usize) {
        let (a, b) = (x0.min(x1), x0.max(x1));
        for x in a..=b {
            let dirs = if x > a { LEFT } else { 0 } | if x < b { RIGHT } else { 0 };
            self.mark(x, y, dirs);
        }
    }
    fn put(&mut self, x: usize, y: usize, text: &str) {
        for (i, c) in text.chars().enumerate() {
            if let Some(cell) = self.text.get_mut(y * self.width + x + i) {
                *cell = Some(c);
            }
        }
    }
    fn render(&self) -> String {
        let mut out = String::new();
        for (row_lines, row_text) in self
            .lines
            .chunks(self.width)
            .zip(self.text.chunks(self.width))
        {
            let line: String = row_lines
                .iter()
                .zip(row_text)
                .map(|(&d, t)| t.unwrap_or_else(|| crate::workflow::layout::line_char(d)))
                .collect();
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The most cells the text graph may cover (about 5 bytes each while it is
/// drawn): 100,000 steps in one layer take 7 million, but edges that pass
/// through thousands of layers each add a row to every one of them.
const MAX_CELLS: usize = 1 << 24;

/// Refuses a graph too big to draw as text, before it is laid out.
fn check_size(steps: usize, needs: &[Vec<usize>], layer: &[usize]) -> Result<(), String> {
    let passes: usize = needs
        .iter()
        .enumerate()
        .flat_map(|(to, ns)| ns.iter().map(move |&from| (to, from)))
        .map(|(to, from)| layer[to].saturating_sub(layer[from] + 1))
        .sum();
    too_big(steps, passes.saturating_mul(GAP + 1))
}

fn too_big(steps: usize, cells: usize) -> Result<(), String> {
    if cells <= MAX_CELLS {
        return Ok(());
    }
    Err(format!(
        "the graph of {steps} steps is too big to draw as text ({cells} cells); draw it with `--format dot` or `--format mermaid`"
    ))
}

/// The graph drawn left to right in layers, edges between boxes, each
/// gap's lines laid by [`route`] so that every line is a real dependency.
pub fn text(wf: &Workflow) -> Result<String, String> {
    let needs: Vec<Vec<usize>> = wf.steps.iter().map(|s| s.needs.clone()).collect();
    let layer = crate::workflow::dag::layers(&needs);
    check_size(wf.steps.len(), &needs, &layer)?;
    let lay = layout::layout_in(&needs, layer);
    let labels: Vec<String> = wf.steps.iter().map(|s| format!("[{}]", label(s))).collect();
    let widths: Vec<usize> = lay
        .columns
        .iter()
        .map(|col| {
            col.iter()
                .map(|slot| match slot {
                    Slot::Step(s) => labels[*s].chars().count(),
                    Slot::Pass { .. } => 1,
                })
                .max()
                .unwrap_or(1)
        })
        .collect();
    let routes = routes(&lay);
    let mut xs = Vec::with_capacity(widths.len());
    let mut x = 0;
    for (c, w) in widths.iter().enumerate() {
        xs.push(x);
        x += w + routes.get(c).map_or(0, |r| r.width);
    }
    let ports = lay.columns.iter().map(Vec::len).max().unwrap_or(0) * 2;
    let height = routes.iter().map(|r| r.rows).fold(ports, usize::max);
    too_big(wf.steps.len(), x.saturating_mul(height))?;
    let mut canvas = Canvas::new(x.max(1), height.max(1));
    for (c, route) in routes.iter().enumerate() {
        let gx = xs[c] + widths[c];
        for &(x, y, d) in &route.cells {
            canvas.mark(gx + x, y, d);
        }
    }
    for (c, col) in lay.columns.iter().enumerate() {
        let gx = xs[c] + widths[c];
        let has_gap = c + 1 < lay.columns.len();
        for (r, slot) in col.iter().enumerate() {
            match slot {
                // A pass-through joins the lines either side of it.
                Slot::Pass { .. } => canvas.hline(r * 2, xs[c] - 1, gx),
                Slot::Step(s) => {
                    let end = xs[c] + labels[*s].chars().count();
                    if has_gap && end < gx && exits(&lay, c, r) {
                        canvas.hline(r * 2, end, gx);
                    }
                }
            }
        }
    }
    for (c, col) in lay.columns.iter().enumerate() {
        for (r, slot) in col.iter().enumerate() {
            if let Slot::Step(s) = slot {
                canvas.put(xs[c], r * 2, &labels[*s]);
                if !wf.steps[*s].needs.is_empty() {
                    canvas.put(xs[c] - 1, r * 2, &layout::read::ARROW.to_string());
                }
            }
        }
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut out = format!(
        "{}: {} in {}\n\n",
        wf.name,
        plural(wf.steps.len(), "step"),
        plural(lay.columns.len(), "layer")
    );
    out.push_str(&canvas.render());
    out.push_str("\n▸ run  ◆ approval  ? ask  ↻N attempts  ⊗ breaker  if: has a condition\n");
    out.push_str(&notes::notes(wf));
    Ok(out)
}

/// Each gap's lines, ports on every other row.
fn routes(lay: &layout::Layout) -> Vec<route::Route> {
    lay.gaps()
        .iter()
        .enumerate()
        .map(|(c, links)| {
            let left: Vec<usize> = (0..lay.columns[c].len()).map(|r| r * 2).collect();
            let right: Vec<usize> = (0..lay.columns[c + 1].len()).map(|r| r * 2).collect();
            let gap = route::Gap {
                left: &left,
                right: &right,
                links,
            };
            route::route(&gap, GAP)
        })
        .collect()
}

/// Whether the slot at (column, row) has a line leaving it.
fn exits(lay: &layout::Layout, c: usize, r: usize) -> bool {
    match lay.columns[c][r] {
        Slot::Step(s) => lay.dependents(s) > 0,
        Slot::Pass { .. } => true,
    }
}
