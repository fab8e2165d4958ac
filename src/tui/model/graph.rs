//! Where each step's box sits on the graph canvas, and how the selection
//! moves between boxes. Computed once from the workflow's layered layout
//! ([`crate::workflow::layout`]); knows nothing of statuses or terminals.
//!
//! Canvas coordinates are cells from the top-left of the whole graph; the
//! view scrolls a window over them.

use crate::workflow::Workflow;
use crate::workflow::layout::{self, Slot};

/// Width of a step's box, borders included.
pub const BOX_W: usize = 20;
/// Height of a step's box, borders included.
pub const BOX_H: usize = 3;
/// Columns of cells between two layers, where the edges run: the exit, the
/// lanes, and the arrow.
pub const GAP_X: usize = 6;
/// Vertical lanes in a gap: each source gets its own where it can, so edges
/// from different steps do not seem to join.
pub const LANES: usize = GAP_X - 2;
/// From one layer's left edge to the next one's.
pub const PITCH_X: usize = BOX_W + GAP_X;
/// From one row's top to the next one's: the box and a blank line.
pub const PITCH_Y: usize = BOX_H + 1;

/// A link between neighbouring columns: ((column, row), (column + 1, row)).
pub type Link = ((usize, usize), (usize, usize));

#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Layers left to right, each top to bottom: a step, or an edge passing.
    pub columns: Vec<Vec<Slot>>,
    /// For each step: (column, row).
    pub place: Vec<(usize, usize)>,
    /// Every link, in column order, computed once so a frame only filters.
    pub links: Vec<Link>,
    /// For each link, the lane (0..LANES) of the gap its vertical runs in.
    pub lanes: Vec<usize>,
}

/// A rectangle on the canvas, in cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanvasRect {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

impl Graph {
    pub fn new(wf: &Workflow) -> Graph {
        let needs: Vec<Vec<usize>> = wf.steps.iter().map(|s| s.needs.clone()).collect();
        let lay = layout::layout(&needs);
        let links = lay.links();
        Graph {
            lanes: lanes(&links),
            links,
            columns: lay.columns,
            place: lay.place,
        }
    }

    /// The whole canvas: (width, height) in cells.
    pub fn size(&self) -> (usize, usize) {
        let rows = self.columns.iter().map(Vec::len).max().unwrap_or(0);
        let w = (self.columns.len() * PITCH_X).saturating_sub(GAP_X);
        (w, (rows * PITCH_Y).saturating_sub(1))
    }

    /// The box of a slot at (column, row).
    pub fn slot_rect(column: usize, row: usize) -> CanvasRect {
        CanvasRect {
            x: column * PITCH_X,
            y: row * PITCH_Y,
            w: BOX_W,
            h: BOX_H,
        }
    }

    /// The box of step `s`.
    pub fn step_rect(&self, s: usize) -> Option<CanvasRect> {
        self.place.get(s).map(|&(c, r)| Graph::slot_rect(c, r))
    }

    /// The step above (`up`) or below `s` in its column, if any.
    pub fn vertical(&self, s: usize, up: bool) -> Option<usize> {
        let &(c, r) = self.place.get(s)?;
        let column = self.columns.get(c)?;
        let step_at = |row: usize| match column.get(row) {
            Some(Slot::Step(t)) => Some(*t),
            _ => None,
        };
        if up {
            (0..r).rev().find_map(step_at)
        } else {
            (r + 1..column.len()).find_map(step_at)
        }
    }

    /// The step in the column to the left (`left`) or right of `s` whose row
    /// is nearest to its own, the upper one on a tie.
    pub fn horizontal(&self, s: usize, left: bool) -> Option<usize> {
        let &(c, r) = self.place.get(s)?;
        let target = if left { c.checked_sub(1)? } else { c + 1 };
        self.columns
            .get(target)?
            .iter()
            .enumerate()
            .filter_map(|(row, slot)| match slot {
                Slot::Step(t) => Some((row.abs_diff(r), row, *t)),
                Slot::Pass { .. } => None,
            })
            .min()
            .map(|(_, _, t)| t)
    }

    /// The scroll offset, moved as little as possible from `offset`, that
    /// shows all of step `s` in a `view` of (width, height) cells.
    pub fn keep_visible(
        &self,
        s: usize,
        offset: (usize, usize),
        view: (usize, usize),
    ) -> (usize, usize) {
        let Some(b) = self.step_rect(s) else {
            return offset;
        };
        let (w, h) = self.size();
        let axis = |off: usize, start: usize, len: usize, view: usize, total: usize| {
            let mut off = off.min(total.saturating_sub(view));
            if start + len > off + view {
                off = (start + len).saturating_sub(view);
            }
            // A view smaller than the box shows its top-left part.
            off.min(start)
        };
        (
            axis(offset.0, b.x, b.w, view.0, w),
            axis(offset.1, b.y, b.h, view.1, h),
        )
    }
}

/// Gives each source slot that needs a vertical segment a lane of its gap.
///
/// A source leaves its row on `[exit, its lane]` and an edge enters a row
/// on `[its lane, arrow]`; when a source's row is entered by another
/// source's edge, the first must take the lower lane or the two lines would
/// overlap and seem joined. So sources are ordered by that rule (row order
/// where it cannot hold), and each takes the lowest lane above those it must
/// precede whose vertical does not overlap its own.
fn lanes(links: &[Link]) -> Vec<usize> {
    use std::collections::{BTreeMap, HashMap};
    // Per column: source row -> (the rows its vertical spans, rows it enters).
    let mut gaps: BTreeMap<usize, BTreeMap<usize, Source>> = BTreeMap::new();
    for &((c, r1), (_, r2)) in links {
        if r1 != r2 {
            let src = gaps.entry(c).or_default().entry(r1).or_insert(Source {
                lo: r1,
                hi: r1,
                enters: Vec::new(),
            });
            src.lo = src.lo.min(r2);
            src.hi = src.hi.max(r2);
            src.enters.push(r2);
        }
    }
    let mut lane_of = HashMap::new();
    for (c, sources) in gaps {
        for (row, lane) in gap_lanes(&sources) {
            lane_of.insert((c, row), lane);
        }
    }
    links
        .iter()
        .map(|&((c, r), _)| lane_of.get(&(c, r)).copied().unwrap_or(0))
        .collect()
}

/// A source slot with a vertical segment in one gap.
struct Source {
    lo: usize,
    hi: usize,
    /// Rows its edges enter in the next column.
    enters: Vec<usize>,
}

/// Lanes for the sources of one gap, by source row.
fn gap_lanes(sources: &std::collections::BTreeMap<usize, Source>) -> Vec<(usize, usize)> {
    // `before[s]`: sources that must take a lower lane than s (their row is
    // one s enters).
    let rows: Vec<usize> = sources.keys().copied().collect();
    let before = |s: usize| -> Vec<usize> {
        sources[&s]
            .enters
            .iter()
            .copied()
            .filter(|r| *r != s && sources.contains_key(r))
            .collect()
    };
    let mut placed: Vec<(usize, usize)> = Vec::new();
    let mut left: Vec<usize> = rows;
    while !left.is_empty() {
        // The first source whose predecessors are all placed; on a cycle,
        // the top one.
        let ready = left
            .iter()
            .position(|&s| before(s).iter().all(|p| placed.iter().any(|(r, _)| r == p)));
        let s = left.remove(ready.unwrap_or(0));
        let min = before(s)
            .iter()
            .filter_map(|p| placed.iter().find(|(r, _)| r == p).map(|(_, l)| l + 1))
            .max()
            .unwrap_or(0);
        let me = &sources[&s];
        let free = |lane: usize| {
            placed.iter().all(|(r, l)| {
                let o = &sources[r];
                *l != lane || o.hi < me.lo || me.hi < o.lo
            })
        };
        let lane = (min..LANES)
            .find(|&l| free(l))
            .unwrap_or(min.min(LANES - 1));
        placed.push((s, lane));
    }
    placed
}
