//! Where everything of the graph goes for one pane size and one mode: the
//! drawing columns' places and widths, each step's label (its id cut to
//! fit), and each gap's width. Boxes follow the longest id up to half the
//! pane and widen to fill it when the graph has few layers; compact mode
//! draws a line per step and splits a layer taller than the pane into
//! sub-columns side by side.

use std::sync::OnceLock;

use unicode_width::UnicodeWidthStr;

use super::build::{self, Item};
use super::cut::cut_ids;
use crate::workflow::layout::Slot;
use crate::workflow::layout::route::{self, Route};

/// Height of a step's box, borders included.
pub const BOX_H: usize = 3;
/// A box is never narrower: room for the glyph and `running 1m02s`.
pub const MIN_BOX_W: usize = 20;
/// Filling the width stops here: wider boxes only hold blanks.
const MAX_FILL_W: usize = 48;
/// Columns of a compact line after the id: attempt, time or exit code.
pub const DETAIL_W: usize = 9;

/// One drawing column: its place, width and items, top to bottom.
#[derive(Debug, Clone, Default)]
pub struct Col {
    pub x: usize,
    pub w: usize,
    /// (top row, item), by row.
    pub items: Vec<(usize, Item)>,
}

/// The gap after a drawing column: its place, width and links, and its
/// lines once drawn.
#[derive(Debug, Clone, Default)]
pub struct Gap {
    pub x: usize,
    pub width: usize,
    pub links: Vec<(usize, usize)>,
    cells: OnceLock<Vec<(usize, usize, u8)>>,
}

#[derive(Debug, Clone, Default)]
pub struct Arrangement {
    /// The pane's inside it was made for, and the operator's choice of mode
    /// (`None`: chosen by size).
    pub view: (usize, usize),
    pub choice: Option<bool>,
    pub compact: bool,
    pub cols: Vec<Col>,
    /// `gaps[i]` lies between `cols[i]` and `cols[i + 1]`.
    pub gaps: Vec<Gap>,
    /// Each step's (drawing column, item).
    pub at: Vec<(usize, usize)>,
    /// Each step's id as drawn.
    pub labels: Vec<String>,
    /// Rows of one item: a box or a line.
    pub item_h: usize,
    /// The whole canvas, in cells.
    pub size: (usize, usize),
    /// Each step's drawing column's layer.
    pub layer: Vec<usize>,
}

/// What the arrangement is made from: the layout, once per workflow.
pub struct Shape<'a> {
    pub columns: &'a [Vec<Slot>],
    pub links_from: &'a [Vec<(usize, usize)>],
    /// Step ids as the terminal may show them.
    pub ids: &'a [String],
    /// Columns a node's compact line needs beyond [`DETAIL_W`] (none
    /// listed: 0).
    pub extra: &'a [usize],
}

impl Gap {
    /// The line cells `(x, y, dirs)`, relative to the gap's left edge.
    pub fn cells(&self, left: &Col, right: &Col, port: usize) -> &[(usize, usize, u8)] {
        self.cells
            .get_or_init(|| gap_route(left, right, &self.links, port).cells)
    }
}

/// Routes a gap with the workflow's edge router, which keeps every line
/// read left to right a real dependency. Boxes get a wider gap than lines,
/// so an arrow does not crowd the box it leaves.
fn gap_route(left: &Col, right: &Col, links: &[(usize, usize)], port: usize) -> Route {
    let rows = |c: &Col| c.items.iter().map(|(y, _)| y + port).collect::<Vec<_>>();
    let (l, r) = (rows(left), rows(right));
    let gap = route::Gap {
        left: &l,
        right: &r,
        links,
    };
    let min = if port == 0 {
        route::MIN_WIDTH
    } else {
        route::MIN_WIDTH + 1
    };
    route::route(&gap, min)
}

impl Arrangement {
    /// The row lines enter and leave an item on, from its top.
    pub fn port(&self) -> usize {
        if self.compact { 0 } else { BOX_H / 2 }
    }

    pub fn new(shape: &Shape, view: (usize, usize), choice: Option<bool>) -> Arrangement {
        let compact = choice.unwrap_or_else(|| boxes_too_few(shape, view));
        let id_w = shape.ids.iter().map(|s| s.width()).max().unwrap_or(0);
        let (split, col_w) = if compact {
            let w = (2 + id_w + 1 + DETAIL_W).min(half(view.0).max(24));
            let fit = ((view.0 + 4) / (w + 4)).max(1);
            let rows = view.1.saturating_sub(2).max(1);
            let split = shape
                .columns
                .iter()
                .map(|c| split_of(steps_in(c), rows, fit))
                .collect();
            (split, w)
        } else {
            (
                vec![1; shape.columns.len()],
                (id_w + 4).clamp(MIN_BOX_W, half(view.0).max(MIN_BOX_W)),
            )
        };
        let built = super::hubs::with_hubs(build::build(shape.columns, shape.links_from, &split));
        let (pitch, item_h) = if compact { (1, 1) } else { (BOX_H + 1, BOX_H) };
        let mut arr = Arrangement {
            view,
            choice,
            compact,
            item_h,
            ..Arrangement::default()
        };
        let label_w = if compact {
            col_w - 3 - DETAIL_W
        } else {
            col_w - 4
        };
        let refs: Vec<&str> = shape.ids.iter().map(String::as_str).collect();
        arr.labels = cut_ids(&refs, label_w);
        arr.cols = built
            .cols
            .iter()
            .zip(&built.hub)
            .map(|(items, &hub)| Col {
                x: 0,
                w: match (hub, compact) {
                    (true, _) => 1,
                    (false, true) => arr.compact_width(items, shape.extra),
                    (false, false) => col_w,
                },
                items: items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| (i * pitch, *it))
                    .collect(),
            })
            .collect();
        for (i, &hub) in built.hub.iter().enumerate() {
            if hub && i > 0 {
                arr.hub_rows(i, &built.gaps[i - 1], &built.gaps[i]);
            }
        }
        arr.place(built.gaps, &built.layer, shape.ids.len());
        arr
    }

    /// A compact column is as wide as its longest label needs: a layer of
    /// short names does not take the room of the long ones.
    fn compact_width(&self, items: &[Item], extra: &[usize]) -> usize {
        let label = items
            .iter()
            .filter_map(|it| match it {
                Item::Step(s) => {
                    (self.labels.get(*s)).map(|l| l.width() + extra.get(*s).copied().unwrap_or(0))
                }
                Item::Line => None,
            })
            .max()
            .unwrap_or(0);
        label + 3 + DETAIL_W
    }

    /// A hub column's rows: each item near the mean row of the lines it
    /// joins, in order, one row apart at least.
    fn hub_rows(&mut self, c: usize, left: &[(usize, usize)], right: &[(usize, usize)]) {
        let n = self.cols[c].items.len();
        let mut sum = vec![(0usize, 0usize); n];
        for &(l, h) in left {
            sum[h].0 += self.cols[c - 1].items[l].0;
            sum[h].1 += 1;
        }
        for &(h, r) in right {
            sum[h].0 += self.cols[c + 1].items[r].0;
            sum[h].1 += 1;
        }
        let mut next = 0;
        for (h, item) in self.cols[c].items.iter_mut().enumerate() {
            let mean = sum[h].0 / sum[h].1.max(1);
            item.0 = mean.max(next);
            next = item.0 + 1;
        }
    }

    /// Routes the gaps for their widths, then places the columns, widening
    /// boxes to fill the pane when there is room.
    fn place(&mut self, gaps: Vec<Vec<(usize, usize)>>, layer: &[usize], steps: usize) {
        let port = self.port();
        let mut height = 0;
        for (i, links) in gaps.into_iter().enumerate() {
            let r = gap_route(&self.cols[i], &self.cols[i + 1], &links, port);
            height = height.max(r.rows);
            self.gaps.push(Gap {
                x: 0,
                width: r.width,
                links,
                // Drawn again when first shown: a big graph keeps only
                // the lines someone looked at.
                cells: OnceLock::new(),
            });
        }
        let n = self.cols.iter().filter(|c| c.w > 1).count().max(1);
        let lines: usize = self.gaps.iter().map(|g| g.width).sum::<usize>()
            + self.cols.iter().filter(|c| c.w == 1).count();
        let fill = self.view.0.saturating_sub(lines) / n;
        let box_w = self.cols.first().map_or(0, |c| c.w);
        if !self.compact && fill > box_w {
            let w = fill.min(MAX_FILL_W).max(box_w);
            self.cols
                .iter_mut()
                .filter(|c| c.w > 1)
                .for_each(|c| c.w = w);
        }
        let mut x = 0;
        self.at = vec![(0, 0); steps];
        self.layer = vec![0; steps];
        for (i, col) in self.cols.iter_mut().enumerate() {
            col.x = x;
            x += col.w;
            if let Some(g) = self.gaps.get_mut(i) {
                g.x = x;
                x += g.width;
            }
            for (j, (y, item)) in col.items.iter().enumerate() {
                height = height.max(y + self.item_h);
                if let Item::Step(s) = item
                    && *s < steps
                {
                    self.at[*s] = (i, j);
                    self.layer[*s] = layer[i];
                }
            }
        }
        self.size = (x, height);
    }
}

/// Layers of more steps than this, that would not show whole even split,
/// stay one column: lines between sub-columns cost about each
/// sub-column's steps squared in cells, too much for a 10,000-instance
/// matrix group (and such a layer scrolls either way).
const SPLIT_AT_MOST: usize = 512;

/// How many sub-columns a compact layer of `steps` takes: enough to show
/// it whole in the pane's `rows`, at most `fit`.
fn split_of(steps: usize, rows: usize, fit: usize) -> usize {
    match steps > (rows * fit).max(SPLIT_AT_MOST) {
        true => 1,
        false => steps.div_ceil(rows).clamp(1, fit),
    }
}

/// Half the pane, less a gap: two columns fit side by side.
fn half(w: usize) -> usize {
    w.saturating_sub(6) / 2
}

fn steps_in(column: &[Slot]) -> usize {
    column.iter().filter(|s| matches!(s, Slot::Step(_))).count()
}

/// The rule for compact mode by itself: boxes show fewer than a quarter of
/// the steps at once, or fewer than a quarter of the tallest layer.
pub fn boxes_too_few(shape: &Shape, view: (usize, usize)) -> bool {
    let steps = shape.ids.len();
    let id_w = shape.ids.iter().map(|s| s.width()).max().unwrap_or(0);
    let w = (id_w + 4).clamp(MIN_BOX_W, half(view.0).max(MIN_BOX_W));
    let rows = (view.1 + 1) / (BOX_H + 1);
    let cols = ((view.0 + 6) / (w + 6)).clamp(1, shape.columns.len().max(1));
    let tallest = shape.columns.iter().map(|c| steps_in(c)).max().unwrap_or(0);
    rows * cols * 4 < steps || rows * 4 < tallest
}
