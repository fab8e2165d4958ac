//! The lines of one gap between two drawing columns: each left port with
//! a bend gets a vertical lane of its own, so a lane only ever carries one
//! source's lines. Shaped like the workflow's edge router (ports' rows and
//! links in, width and cells out) so the two can be swapped.

use crate::workflow::layout::dir::{DOWN, LEFT, RIGHT, UP};

/// One gap's drawing: its width and the line cells `(x, y, dir bits)`.
#[derive(Debug, Clone, Default)]
pub struct Route {
    pub width: usize,
    pub cells: Vec<(usize, usize, u8)>,
    /// Rows the drawing needs (one past the lowest cell).
    pub rows: usize,
}

/// Routes `links` (left port, right port) between ports on rows `exits`
/// (left) and `entries` (right). A cell at `x = 0` leaves a left port, one
/// at `x = width - 1` enters a right port.
pub fn route(exits: &[usize], entries: &[usize], links: &[(usize, usize)]) -> Route {
    use std::collections::BTreeMap;
    // Per bending source: the span its vertical covers.
    let mut spans: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for &(l, r) in links {
        let (a, b) = (exits[l], entries[r]);
        if a != b {
            let e = spans.entry(l).or_insert((a, a));
            e.0 = e.0.min(b);
            e.1 = e.1.max(b);
        }
    }
    // Lanes by first fit; two sources share one only with a free row
    // between them, so their ends never touch.
    let mut lane_end: Vec<usize> = Vec::new();
    let mut lane_of = BTreeMap::new();
    let mut order: Vec<(usize, (usize, usize))> = spans.into_iter().collect();
    order.sort_by_key(|&(l, (lo, _))| (lo, l));
    for (l, (lo, hi)) in order {
        let lane = match lane_end.iter().position(|&end| end + 1 < lo) {
            Some(i) => i,
            None => {
                lane_end.push(0);
                lane_end.len() - 1
            }
        };
        lane_end[lane] = hi;
        lane_of.insert(l, lane);
    }
    let width = (lane_end.len() + 2).max(3);
    let mut cells = Vec::new();
    let hline = |y: usize, a: usize, b: usize, cells: &mut Vec<(usize, usize, u8)>| {
        for x in a..=b {
            let d = if x > a { LEFT } else { 0 } | if x < b { RIGHT } else { 0 };
            cells.push((x, y, d));
        }
    };
    for &(l, r) in links {
        let (a, b) = (exits[l], entries[r]);
        match lane_of.get(&l) {
            Some(&lane) if a != b => {
                let x = 1 + lane;
                hline(a, 0, x, &mut cells);
                hline(b, x, width - 1, &mut cells);
                let (lo, hi) = (a.min(b), a.max(b));
                for y in lo..=hi {
                    let d = if y > lo { UP } else { 0 } | if y < hi { DOWN } else { 0 };
                    cells.push((x, y, d));
                }
            }
            _ => hline(a, 0, width - 1, &mut cells),
        }
    }
    let rows = cells.iter().map(|c| c.1 + 1).max().unwrap_or(0);
    Route { width, cells, rows }
}
