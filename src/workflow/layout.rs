//! Where each step goes when the graph is drawn left to right: longest-path
//! layers, pass-through slots for edges that skip layers, and an order
//! within each layer that keeps crossings low (barycenter sweeps).
//!
//! Pure data; the text graph and the screen each draw it their own way.

use std::collections::HashMap;

use super::dag;

pub mod read;
pub mod route;

/// Directions a drawn line leaves a cell in; OR them together per cell.
pub mod dir {
    pub const UP: u8 = 1;
    pub const DOWN: u8 = 2;
    pub const LEFT: u8 = 4;
    pub const RIGHT: u8 = 8;
}

/// The box-drawing character for a cell that lines leave in the directions
/// `d` (see [`dir`]), so crossings and joins come out right; ' ' for none.
pub fn line_char(d: u8) -> char {
    use dir::*;
    match d {
        0 => ' ',
        x if x == UP | DOWN => '│',
        x if x == DOWN | RIGHT => '╭',
        x if x == DOWN | LEFT => '╮',
        x if x == UP | RIGHT => '╰',
        x if x == UP | LEFT => '╯',
        x if x == UP | DOWN | RIGHT => '├',
        x if x == UP | DOWN | LEFT => '┤',
        x if x == LEFT | RIGHT | DOWN => '┬',
        x if x == LEFT | RIGHT | UP => '┴',
        x if x == UP | DOWN | LEFT | RIGHT => '┼',
        x if x & (LEFT | RIGHT) == 0 => '│',
        _ => '─',
    }
}

/// One cell of a column: a step, or an edge passing through the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Step(usize),
    /// Part of the edge `from -> to` (step indices) crossing this layer.
    Pass {
        from: usize,
        to: usize,
    },
}

#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Columns left to right, each listed top to bottom.
    pub columns: Vec<Vec<Slot>>,
    /// For each step: (column, row).
    pub place: Vec<(usize, usize)>,
    /// Each step's layer (its column).
    pub layer: Vec<usize>,
    needs: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
}

impl Layout {
    /// Links between neighbouring columns as ((col, row), (col + 1, row)).
    pub fn links(&self) -> Vec<((usize, usize), (usize, usize))> {
        let rows = Rows::of(self);
        let mut out = Vec::new();
        for c in 1..self.columns.len() {
            for (r, slot) in self.columns[c].iter().enumerate() {
                self.each_neighbour(*slot, c, true, |left| {
                    out.push(((c - 1, rows.get(left, c - 1)), (c, r)));
                });
            }
        }
        out
    }

    /// The links of each gap (between column c and c + 1) as (row in c,
    /// row in c + 1), for [`route::route`].
    pub fn gaps(&self) -> Vec<Vec<(usize, usize)>> {
        let mut gaps = vec![Vec::new(); self.columns.len().saturating_sub(1)];
        for ((c, a), (_, b)) in self.links() {
            gaps[c].push((a, b));
        }
        gaps
    }

    /// How many steps need step `s`.
    pub fn dependents(&self, s: usize) -> usize {
        self.dependents.get(s).map_or(0, Vec::len)
    }

    /// Calls `f` with each slot that the slot at column `c` connects to in
    /// the column before (`back`) or after.
    fn each_neighbour(&self, slot: Slot, c: usize, back: bool, mut f: impl FnMut(Slot)) {
        let target = if back { c.wrapping_sub(1) } else { c + 1 };
        let via = |from: usize, to: usize, end: usize| {
            if self.layer[end] == target {
                Slot::Step(end)
            } else {
                Slot::Pass { from, to }
            }
        };
        match slot {
            Slot::Step(s) if back => self.needs[s].iter().for_each(|&n| f(via(n, s, n))),
            Slot::Step(s) => self.dependents[s].iter().for_each(|&t| f(via(s, t, t))),
            Slot::Pass { from, to } if back => f(via(from, to, from)),
            Slot::Pass { from, to } => f(via(from, to, to)),
        }
    }
}

/// Each slot's row: a step's by its index, a pass-through's by its edge and
/// column (the only slots that need a map, and graphs rarely have many).
struct Rows {
    step: Vec<usize>,
    pass: HashMap<(usize, usize, usize), usize>,
}

impl Rows {
    fn of(lay: &Layout) -> Rows {
        let mut rows = Rows {
            step: vec![0; lay.layer.len()],
            pass: HashMap::new(),
        };
        for c in 0..lay.columns.len() {
            rows.set_column(lay, c);
        }
        rows
    }

    fn set_column(&mut self, lay: &Layout, c: usize) {
        for (r, slot) in lay.columns[c].iter().enumerate() {
            match *slot {
                Slot::Step(s) => self.step[s] = r,
                Slot::Pass { from, to } => {
                    self.pass.insert((from, to, c), r);
                }
            }
        }
    }

    /// The row of `slot`, which is in column `c`.
    fn get(&self, slot: Slot, c: usize) -> usize {
        match slot {
            Slot::Step(s) => self.step[s],
            Slot::Pass { from, to } => self.pass.get(&(from, to, c)).copied().unwrap_or(0),
        }
    }
}

/// Lays out steps given each step's `needs` (indices); the graph must be
/// acyclic.
pub fn layout(needs: &[Vec<usize>]) -> Layout {
    layout_in(needs, dag::layers(needs))
}

/// [`layout`] with each step's layer already known (`dag::layers`).
pub fn layout_in(needs: &[Vec<usize>], layer: Vec<usize>) -> Layout {
    let depth = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut columns: Vec<Vec<Slot>> = vec![Vec::new(); depth];
    for (s, &l) in layer.iter().enumerate() {
        columns[l].push(Slot::Step(s));
    }
    let mut dependents = vec![Vec::new(); needs.len()];
    for (to, ns) in needs.iter().enumerate() {
        for &from in ns {
            dependents[from].push(to);
            for column in &mut columns[layer[from] + 1..layer[to]] {
                column.push(Slot::Pass { from, to });
            }
        }
    }
    let mut lay = Layout {
        columns,
        place: Vec::new(),
        layer,
        needs: needs.to_vec(),
        dependents,
    };
    let mut rows = Rows::of(&lay);
    for _ in 0..4 {
        sweep(&mut lay, &mut rows, true);
        sweep(&mut lay, &mut rows, false);
    }
    lay.place = vec![(0, 0); needs.len()];
    for (c, column) in lay.columns.iter().enumerate() {
        for (r, slot) in column.iter().enumerate() {
            if let Slot::Step(s) = slot {
                lay.place[*s] = (c, r);
            }
        }
    }
    lay
}

/// Reorders each column by the mean row of its neighbours in the column
/// before (forward) or after (backward).
fn sweep(lay: &mut Layout, rows: &mut Rows, forward: bool) {
    let n = lay.columns.len();
    let order: Vec<usize> = if forward {
        (1..n).collect()
    } else {
        (0..n.saturating_sub(1)).rev().collect()
    };
    for c in order {
        let other = if forward { c - 1 } else { c + 1 };
        let mut keyed: Vec<(f64, usize, Slot)> = lay.columns[c]
            .iter()
            .enumerate()
            .map(|(r, s)| {
                let (mut sum, mut count) = (0usize, 0usize);
                lay.each_neighbour(*s, c, forward, |x| {
                    sum += rows.get(x, other);
                    count += 1;
                });
                let key = if count == 0 {
                    r as f64
                } else {
                    sum as f64 / count as f64
                };
                (key, r, *s)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        lay.columns[c] = keyed.into_iter().map(|(_, _, s)| s).collect();
        rows.set_column(lay, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_edges_pass_through_middle_layers() {
        // 0 -> 1 -> 2 and 0 -> 2: the second edge passes layer 1.
        let lay = layout(&[vec![], vec![0], vec![0, 1]]);
        assert_eq!(lay.columns.len(), 3);
        assert!(lay.columns[1].contains(&Slot::Pass { from: 0, to: 2 }));
        assert_eq!(lay.links().len(), 4);
    }

    #[test]
    fn barycenter_keeps_chains_straight() {
        // Two chains a0->a1, b0->b1 written crossed: b1 first in layer 1.
        let lay = layout(&[vec![], vec![], vec![1], vec![0]]);
        let row = |s: usize| lay.place[s].1;
        assert_eq!(row(0) < row(1), row(3) < row(2));
    }
}
