//! Where each step sits on the graph canvas, and how the selection moves
//! between steps. The workflow's layered layout ([`crate::workflow::layout`])
//! is computed once; the [`Arrangement`] of it for the pane's size and mode
//! (boxes or compact lines) is made again when either changes. Knows
//! nothing of statuses or terminals.
//!
//! Canvas coordinates are cells from the top-left of the whole graph; the
//! view scrolls a window over them.

pub mod arrange;
pub mod build;
pub mod cut;
pub mod hubs;
pub mod nodes;

use std::borrow::Cow;

use super::StepView;
use super::group::GroupView;
use crate::workflow::layout::Slot;

pub use self::arrange::{Arrangement, BOX_H, Shape};
pub use self::build::Item;
pub use self::nodes::{Node, Nodes};

/// Room for a group's counts on its compact line beyond a step's detail:
/// four counts as long as its size (`✓9998 ▶1 ✗1 ·0`), say.
fn extra(nodes: &Nodes, groups: &[GroupView]) -> Vec<usize> {
    if groups.is_empty() {
        return Vec::new();
    }
    (nodes.nodes.iter())
        .map(|n| match *n {
            Node::Group(g) | Node::Header(g) => {
                let digits = groups
                    .get(g)
                    .map_or(1, |g| g.members.len().to_string().len());
                (4 * (1 + digits) + 3).saturating_sub(arrange::DETAIL_W)
            }
            Node::Step(_) => 0,
        })
        .collect()
}

/// Each node's label: a step's id, a group's `build ×5` (`▾ build ×5`
/// over its open instances).
fn labels(nodes: &Nodes, steps: &[StepView], groups: &[GroupView]) -> Vec<String> {
    let group = |g: usize, open: bool| {
        let (id, n) = groups
            .get(g)
            .map_or(("", 0), |g| (g.id.as_str(), g.members.len()));
        let mark = if open { "▾ " } else { "" };
        format!("{mark}{} ×{n}", crate::safe::cells(id))
    };
    (nodes.nodes.iter())
        .map(|n| match *n {
            Node::Step(i) => steps
                .get(i)
                .map(|s| crate::safe::cells(&s.id).into_owned())
                .unwrap_or_default(),
            Node::Group(g) => group(g, false),
            Node::Header(g) => group(g, true),
        })
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Layers left to right, each top to bottom: a node, or an edge passing.
    pub columns: Vec<Vec<Slot>>,
    /// The layout's links from each column, as (row, row in the next).
    pub links_from: Vec<Vec<(usize, usize)>>,
    /// Each node's label as the terminal may show it: a step's id, a
    /// group's `build ×5`.
    pub ids: Vec<String>,
    /// Each node's (layer, row) in the layout: graph order, for `n`/`N`
    /// and the failed names on the status line.
    pub place: Vec<(usize, usize)>,
    /// What each node is, and which node shows each step and group.
    pub nodes: Nodes,
    /// Columns a compact line of each node needs beyond a step's detail
    /// (a group's counts); empty without groups.
    pub extra: Vec<usize>,
    /// The arrangement for the pane the screen last had.
    pub arr: Arrangement,
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
    /// The graph of `steps`, each group open or closed as it says. Nodes
    /// are the steps themselves when there are no groups.
    pub fn new(steps: &[StepView], groups: &[GroupView]) -> Graph {
        let open = |g: usize| groups.get(g).is_some_and(|g| g.open);
        let mut nodes = Nodes::new(steps, groups, &open);
        let mut needs = nodes.needs(steps, groups);
        let lay = match nodes::layout(&nodes, &needs, groups) {
            Some(lay) => lay,
            None => {
                // Closed groups made a cycle of boxes (instances of two
                // groups needing each other's): draw them all open.
                nodes = Nodes::new(steps, groups, &|_| true);
                needs = nodes.needs(steps, groups);
                nodes::layout(&nodes, &needs, groups).unwrap_or_default()
            }
        };
        let mut links_from = vec![Vec::new(); lay.columns.len()];
        let links = lay.links();
        let mut columns = lay.columns;
        let mut place = lay.place;
        let rows = match groups.is_empty() {
            true => None,
            false => Some(nodes::cluster_columns(&mut columns, &nodes, steps)),
        };
        let row = |c: usize, r: usize| rows.as_ref().map_or(r, |m| m[c][r]);
        for ((c, r1), (_, r2)) in links {
            links_from[c].push((row(c, r1), row(c + 1, r2)));
        }
        if rows.is_some() {
            for (c, column) in columns.iter().enumerate() {
                for (r, slot) in column.iter().enumerate() {
                    if let Slot::Step(n) = slot {
                        place[*n] = (c, r);
                    }
                }
            }
        }
        // Arranged when the screen's size is known (`update` does it): a
        // big graph is not laid out twice at start.
        Graph {
            place,
            columns,
            links_from,
            ids: labels(&nodes, steps, groups),
            extra: extra(&nodes, groups),
            nodes,
            arr: Arrangement::default(),
        }
    }

    /// The node showing step `i`.
    pub fn node_of(&self, i: usize) -> usize {
        self.nodes.node_of.get(i).copied().unwrap_or(usize::MAX)
    }

    /// What node `n` is.
    pub fn node(&self, n: usize) -> Option<Node> {
        self.nodes.nodes.get(n).copied()
    }

    /// Step `i`'s place in graph order (its node's layer and row).
    pub fn step_place(&self, i: usize) -> (usize, usize) {
        (self.place.get(self.node_of(i)).copied()).unwrap_or((usize::MAX, 0))
    }

    fn shape(&self) -> Shape<'_> {
        Shape {
            columns: &self.columns,
            links_from: &self.links_from,
            ids: &self.ids,
            extra: &self.extra,
        }
    }

    fn make(&self, view: (usize, usize), choice: Option<bool>) -> Arrangement {
        Arrangement::new(&self.shape(), view, choice)
    }

    /// Arranges the graph for a pane of `view` (width, height) inside and
    /// the operator's choice of compact mode, unless it already is.
    pub fn arrange(&mut self, view: (usize, usize), choice: Option<bool>) {
        let unmade = self.arr.at.len() != self.ids.len();
        if unmade || self.arr.view != view || self.arr.choice != choice {
            self.arr = self.make(view, choice);
        }
    }

    /// The arrangement for `view` and `choice`: the kept one when it fits.
    pub fn arrangement(&self, view: (usize, usize), choice: Option<bool>) -> Cow<'_, Arrangement> {
        let made = self.arr.at.len() == self.ids.len();
        if made && self.arr.view == view && self.arr.choice == choice {
            Cow::Borrowed(&self.arr)
        } else {
            Cow::Owned(self.make(view, choice))
        }
    }

    /// Whether it is arranged for some pane (a new graph is not yet).
    pub fn arranged(&self) -> bool {
        self.arr.at.len() == self.ids.len()
    }

    /// Whether the graph draws a line per step.
    pub fn compact(&self) -> bool {
        self.arr.compact
    }
}

impl Arrangement {
    /// The box (or line) of step `s`.
    pub fn step_rect(&self, s: usize) -> Option<CanvasRect> {
        let &(c, i) = self.at.get(s)?;
        let col = self.cols.get(c)?;
        let &(y, _) = col.items.get(i)?;
        Some(CanvasRect {
            x: col.x,
            y,
            w: col.w,
            h: self.item_h,
        })
    }

    /// The step before (`up`) or after `s` in its layer, across the
    /// layer's sub-columns.
    pub fn vertical(&self, s: usize, up: bool) -> Option<usize> {
        let &(c, i) = self.at.get(s)?;
        let step_in = |c: usize, i: usize| match self.cols.get(c)?.items.get(i)? {
            (_, Item::Step(t)) => Some(*t),
            _ => None,
        };
        let same_layer = |c2: usize| self.layer_of_col(c2) == self.layer_of_col(c);
        if up {
            let here = (0..i).rev().find_map(|j| step_in(c, j));
            here.or_else(|| {
                let p = (0..c).rev().find(|&p| self.layer_of_col(p).is_some())?;
                let p = Some(p).filter(|&p| same_layer(p))?;
                (0..self.cols[p].items.len())
                    .rev()
                    .find_map(|j| step_in(p, j))
            })
        } else {
            let n = self.cols.get(c)?.items.len();
            let here = (i + 1..n).find_map(|j| step_in(c, j));
            here.or_else(|| {
                // The next column with steps: hub columns have none.
                let nx = (c + 1..self.cols.len()).find(|&x| self.layer_of_col(x).is_some())?;
                let nx = Some(nx).filter(|&x| same_layer(x))?;
                (0..self.cols[nx].items.len()).find_map(|j| step_in(nx, j))
            })
        }
    }

    fn layer_of_col(&self, c: usize) -> Option<usize> {
        self.cols.get(c)?.items.iter().find_map(|(_, it)| match it {
            Item::Step(t) => self.layer.get(*t).copied(),
            Item::Line => None,
        })
    }

    /// The step in the drawing column to the left (`left`) or right of `s`
    /// whose row is nearest to its own, the upper one on a tie.
    pub fn horizontal(&self, s: usize, left: bool) -> Option<usize> {
        let &(c, i) = self.at.get(s)?;
        let y = self.cols.get(c)?.items.get(i)?.0;
        // The nearest column with steps: hub columns have none.
        let has_steps = |i: &usize| {
            self.cols[*i]
                .items
                .iter()
                .any(|(_, it)| matches!(it, Item::Step(_)))
        };
        let target = if left {
            (0..c).rev().find(has_steps)?
        } else {
            (c + 1..self.cols.len()).find(has_steps)?
        };
        self.cols[target]
            .items
            .iter()
            .filter_map(|(row, it)| match it {
                Item::Step(t) => Some((row.abs_diff(y), *row, *t)),
                Item::Line => None,
            })
            .min()
            .map(|(_, _, t)| t)
    }

    /// Steps in a page of `rows` pane rows.
    pub fn page(&self, rows: usize) -> usize {
        let pitch = if self.compact { 1 } else { BOX_H + 1 };
        (rows / pitch).max(1)
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
        let (w, h) = self.size;
        let axis = |off: usize, start: usize, len: usize, view: usize, total: usize| {
            let mut off = off.min(total.saturating_sub(view));
            if start + len > off + view {
                off = (start + len).saturating_sub(view);
            }
            // A view smaller than the box shows its top-left part.
            off.min(start)
        };
        let mut x = axis(offset.0, b.x, b.w, view.0, w);
        if x != offset.0.min(w.saturating_sub(view.0)) {
            // Scrolled sideways: start at a column's left edge where the
            // box still fits, so no column shows cut from the left.
            if let Some(col) = self
                .cols
                .iter()
                .find(|c| c.x <= b.x && b.x + b.w <= c.x + view.0)
            {
                x = col.x;
            }
        }
        (x, axis(offset.1, b.y, b.h, view.1, h))
    }
}

#[cfg(test)]
mod tests;
