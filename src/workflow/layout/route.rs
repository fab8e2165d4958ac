//! Where the edges between two neighbouring columns run, so that every line
//! drawn is a real dependency and every dependency is drawn (SPEC §5).
//!
//! Lines are read left to right: from a step's exit, right along
//! horizontals, up or down along verticals, never left, and straight on
//! through a `┼`. Joins are corners and tees only. The router keeps those
//! readings exact:
//! - a step with several dependents in the gap has a vertical *source lane*
//!   of its own (zone A, on the left), and only its lines reach it;
//! - a step with several needs in the gap has a *target lane* of its own
//!   (zone C, on the right), which only leads into it;
//! - a link from a source lane to a target lane runs on a row of its own
//!   (a row no port uses, below every port if none is left), so it crosses
//!   other lanes and never touches them;
//! - on a port row the exit (from the left) must end before the entry (to
//!   the right) starts; where a direct line would overlap, it goes through
//!   a lane instead.
//!
//! Lanes whose rows do not overlap share a column (interval colouring), so
//! a gap is as wide as its busiest stretch, not as its number of links.
//! Pure data: the text graph and the screen each draw the cells.

use std::collections::{BTreeSet, BinaryHeap};

use super::dir::{DOWN, LEFT, RIGHT, UP};

/// One gap between two columns, in the drawing's rows.
#[derive(Debug, Clone, Copy)]
pub struct Gap<'a> {
    /// The row each slot of the left column leaves from.
    pub left: &'a [usize],
    /// The row each slot of the right column is entered at.
    pub right: &'a [usize],
    /// The links as (left slot, right slot).
    pub links: &'a [(usize, usize)],
}

/// The lines of a gap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// Cells from the exit column (x = 0) to the entry column
    /// (x = width - 1), where a caller draws `▶` into a step or goes on
    /// with a pass-through line.
    pub width: usize,
    /// Line cells as (x, y, directions), several per cell OR-ed together.
    pub cells: Vec<(usize, usize, u8)>,
    /// One past the lowest row a line uses: more than the ports' rows when
    /// links needed rows of their own.
    pub rows: usize,
}

/// How one link is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// One horizontal on the shared row.
    Straight,
    /// From the source's lane along the target's row into it.
    FromLane,
    /// Along the source's row into the target's lane.
    ToLane,
    /// From the source's lane to the target's lane on a row of its own.
    Across(usize),
}

/// The fewest cells a gap takes: the exit, a lane and the arrow.
pub const MIN_WIDTH: usize = 3;

/// Routes one gap at least `min_width` cells wide.
pub fn route(gap: &Gap, min_width: usize) -> Route {
    let mut plan = Plan::new(gap);
    // Each round turns the direct lines that overlap into lane-to-lane
    // ones; after the last round every exit on a shared row ends in zone A
    // and every entry starts in zone C, which never overlap.
    for round in 0..8 {
        let (xs, _) = plan.lanes(min_width);
        if !plan.untangle(&xs, round == 7) {
            break;
        }
    }
    let (xs, width) = plan.lanes(min_width);
    plan.draw(&xs, width)
}

struct Plan<'a> {
    gap: &'a Gap<'a>,
    ways: Vec<Way>,
    /// Which left slots have a source lane, which right slots a target lane.
    source_lane: Vec<bool>,
    target_lane: Vec<bool>,
    /// Rows no port uses, not yet taken by a link.
    free: BTreeSet<usize>,
    /// The next row below everything, for when `free` runs out.
    below: usize,
}

/// Each lane's rows as (top, bottom), if it has one.
type Spans = Vec<Option<(usize, usize)>>;

/// Each lane's column: source lanes by left slot, target lanes by right.
struct Xs {
    source: Vec<usize>,
    target: Vec<usize>,
}

impl<'a> Plan<'a> {
    fn new(gap: &'a Gap<'a>) -> Plan<'a> {
        let mut outdeg = vec![0usize; gap.left.len()];
        let mut indeg = vec![0usize; gap.right.len()];
        for &(i, j) in gap.links {
            outdeg[i] += 1;
            indeg[j] += 1;
        }
        let ports: BTreeSet<usize> = gap.left.iter().chain(gap.right).copied().collect();
        let below = ports.last().map_or(0, |r| r + 1);
        let free = (0..below).filter(|r| !ports.contains(r)).collect();
        let mut plan = Plan {
            gap,
            ways: Vec::with_capacity(gap.links.len()),
            source_lane: outdeg.iter().map(|&d| d >= 2).collect(),
            target_lane: indeg.iter().map(|&d| d >= 2).collect(),
            free,
            below,
        };
        for &(i, j) in gap.links {
            let way = match (outdeg[i], indeg[j]) {
                (1, 1) if gap.left[i] == gap.right[j] => Way::Straight,
                (1, 1) => {
                    plan.source_lane[i] = true;
                    Way::FromLane
                }
                (1, _) => Way::ToLane,
                (_, 1) => Way::FromLane,
                _ => Way::Across(0),
            };
            plan.ways.push(way);
        }
        for k in 0..plan.ways.len() {
            if plan.ways[k] == Way::Across(0) {
                let row = plan.take_row(gap.right[gap.links[k].1]);
                plan.ways[k] = Way::Across(row);
            }
        }
        plan
    }

    /// The free row nearest `near`, or a new one below everything.
    fn take_row(&mut self, near: usize) -> usize {
        let after = self.free.range(near..).next().copied();
        let before = self.free.range(..near).next_back().copied();
        let row = match (before, after) {
            (Some(b), Some(a)) => Some(if near - b <= a - near { b } else { a }),
            (b, a) => b.or(a),
        };
        match row {
            Some(r) => {
                self.free.remove(&r);
                r
            }
            None => {
                self.below += 1;
                self.below - 1
            }
        }
    }

    /// Every lane's rows as (top, bottom), by left slot and by right slot.
    fn spans(&self) -> (Spans, Spans) {
        let g = self.gap;
        let mut src: Vec<Option<(usize, usize)>> = vec![None; g.left.len()];
        let mut dst: Vec<Option<(usize, usize)>> = vec![None; g.right.len()];
        let widen = |s: &mut Option<(usize, usize)>, r: usize| {
            *s = Some(s.map_or((r, r), |(a, b)| (a.min(r), b.max(r))));
        };
        for (k, &(i, j)) in g.links.iter().enumerate() {
            if self.source_lane[i] {
                widen(&mut src[i], g.left[i]);
            }
            if self.target_lane[j] {
                widen(&mut dst[j], g.right[j]);
            }
            match self.ways[k] {
                Way::FromLane => widen(&mut src[i], g.right[j]),
                Way::ToLane => widen(&mut dst[j], g.left[i]),
                Way::Across(r) => {
                    widen(&mut src[i], r);
                    widen(&mut dst[j], r);
                }
                Way::Straight => {}
            }
        }
        (src, dst)
    }

    /// Each lane's column, and the gap's width.
    fn lanes(&self, min_width: usize) -> (Xs, usize) {
        let (src, dst) = self.spans();
        let (a, na) = colour(&src);
        let (c, nc) = colour(&dst);
        // x = 0 is the exit, then zone A, a column apart, zone C, the arrow.
        let spare = usize::from(na > 0 && nc > 0);
        let width = (1 + na + spare + nc + 1).max(min_width).max(MIN_WIDTH);
        let first_c = width - 1 - nc;
        let xs = Xs {
            source: a.iter().map(|&k| 1 + k).collect(),
            target: c.iter().map(|&k| first_c + k).collect(),
        };
        (xs, width)
    }

    /// Turns direct lines that overlap on a shared row into lane-to-lane
    /// ones (all of them in the `last` round); false when none overlapped.
    fn untangle(&mut self, xs: &Xs, last: bool) -> bool {
        let g = self.gap;
        // Per row: the exit's last cell and link, the entry's first cell
        // and link.
        let mut exits = std::collections::HashMap::new();
        let mut entries = std::collections::HashMap::new();
        for (k, &(i, j)) in g.links.iter().enumerate() {
            let (exit, entry) = match self.ways[k] {
                Way::Straight => continue,
                Way::FromLane => (xs.source[i], xs.source[i]),
                Way::ToLane => (xs.target[j], xs.target[j]),
                Way::Across(_) => (xs.source[i], xs.target[j]),
            };
            if self.source_lane[i] || self.ways[k] == Way::ToLane {
                exits.insert(g.left[i], (exit, k));
            }
            if self.target_lane[j] || self.ways[k] == Way::FromLane {
                entries.insert(g.right[j], (entry, k));
            }
        }
        let (src, dst) = self.spans();
        let mut changed = Vec::new();
        for (row, &(end, k)) in &exits {
            let Some(&(start, m)) = entries.get(row) else {
                continue;
            };
            if end == start && self.tee(k, m, *row, &src, &dst) {
                continue;
            }
            if end >= start || last {
                // An exit into a target lane becomes a source lane of its
                // own; else the entry from a source lane gets a target lane.
                match (self.ways[k], self.ways[m]) {
                    (Way::ToLane, _) => changed.push(k),
                    (_, Way::FromLane) => changed.push(m),
                    _ => {}
                }
            }
        }
        changed.sort_unstable();
        changed.dedup();
        for &k in &changed {
            let (i, j) = g.links[k];
            self.source_lane[i] = true;
            self.target_lane[j] = true;
            let row = self.take_row(g.right[j]);
            self.ways[k] = Way::Across(row);
        }
        !changed.is_empty()
    }

    /// Whether the exit of link `k` and the entry of link `m` on `row` go
    /// through one lane that ends there: the line goes straight on and the
    /// lane leaves it at a tee (`┬` or `┴`), which reads as a join. (Were
    /// the lane to go on both ways, the cell would be a `┼`, a crossing.)
    fn tee(&self, k: usize, m: usize, row: usize, src: &Spans, dst: &Spans) -> bool {
        let (i, _) = self.gap.links[k];
        let (_, j) = self.gap.links[m];
        let ends = |span: Option<(usize, usize)>| span.is_some_and(|(a, b)| a == row || b == row);
        match (self.ways[k], self.ways[m]) {
            (Way::ToLane, _) => self.gap.links[k].1 == j && self.target_lane[j] && ends(dst[j]),
            (_, Way::FromLane) => self.gap.links[m].0 == i && self.source_lane[i] && ends(src[i]),
            _ => false,
        }
    }

    fn draw(&self, xs: &Xs, width: usize) -> Route {
        let g = self.gap;
        let end = width - 1;
        let mut cells = Vec::new();
        let mut rows = 0;
        let mut hline = |y: usize, a: usize, b: usize, cells: &mut Vec<(usize, usize, u8)>| {
            rows = rows.max(y + 1);
            for x in a..=b {
                let d = if x > a { LEFT } else { 0 } | if x < b { RIGHT } else { 0 };
                cells.push((x, y, d));
            }
        };
        let mut exited = vec![false; g.left.len()];
        let mut entered = vec![false; g.right.len()];
        for (k, &(i, j)) in g.links.iter().enumerate() {
            let (li, rj) = (g.left[i], g.right[j]);
            if self.source_lane[i] && !std::mem::replace(&mut exited[i], true) {
                hline(li, 0, xs.source[i], &mut cells);
            }
            if self.target_lane[j] && !std::mem::replace(&mut entered[j], true) {
                hline(rj, xs.target[j], end, &mut cells);
            }
            match self.ways[k] {
                Way::Straight => hline(li, 0, end, &mut cells),
                Way::FromLane => hline(rj, xs.source[i], end, &mut cells),
                Way::ToLane => hline(li, 0, xs.target[j], &mut cells),
                Way::Across(r) => hline(r, xs.source[i], xs.target[j], &mut cells),
            }
        }
        let (src, dst) = self.spans();
        for (span, x) in src.iter().zip(&xs.source).chain(dst.iter().zip(&xs.target)) {
            if let Some((top, bottom)) = *span {
                rows = rows.max(bottom + 1);
                for y in top..=bottom {
                    let d = if y > top { UP } else { 0 } | if y < bottom { DOWN } else { 0 };
                    if d != 0 {
                        cells.push((*x, y, d));
                    }
                }
            }
        }
        Route { width, cells, rows }
    }
}

/// Gives each span a colour (a lane column) so that spans of one colour
/// never share a row; returns the colours (0 for no span) and how many.
fn colour(spans: &[Option<(usize, usize)>]) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..spans.len()).filter(|&k| spans[k].is_some()).collect();
    order.sort_by_key(|&k| spans[k].map(|s| s.0));
    let mut colours = vec![0; spans.len()];
    // The colours in use, by the last row taken: the one that frees first
    // on top (a min-heap through Reverse).
    let mut busy: BinaryHeap<std::cmp::Reverse<(usize, usize)>> = BinaryHeap::new();
    let mut count = 0;
    for k in order {
        let Some((top, bottom)) = spans[k] else {
            continue;
        };
        let colour = match busy.peek() {
            Some(&std::cmp::Reverse((last, c))) if last < top => {
                busy.pop();
                c
            }
            _ => {
                count += 1;
                count - 1
            }
        };
        colours[k] = colour;
        busy.push(std::cmp::Reverse((bottom, colour)));
    }
    (colours, count)
}

#[cfg(test)]
mod tests;
