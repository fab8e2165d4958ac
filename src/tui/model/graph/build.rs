//! The drawing columns of a layered layout, and the links between them.
//!
//! A layer is one drawing column, or in compact mode several side by side
//! (sub-columns) when it is taller than the pane. Lines then cross the
//! sub-columns before theirs as carries, and a carry never mixes what it
//! should not: an in-carry holds the lines of one source fanning out to
//! later sub-columns, an out-carry the lines of many sources fanning in to
//! one slot of the next layer. So each path drawn still joins one real
//! step to one of its real dependents.

use std::collections::{BTreeSet, HashMap};

use crate::workflow::layout::Slot;

/// What a drawing column holds on one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Step(usize),
    /// A line passing through the column: an edge skipping the layer, or a
    /// carry to or from another sub-column.
    Line,
}

/// The drawing columns, each top to bottom, and for each gap between
/// column `i` and `i + 1` its links (item in `i`, item in `i + 1`).
#[derive(Debug, Clone, Default)]
pub struct Columns {
    pub cols: Vec<Vec<Item>>,
    pub gaps: Vec<Vec<(usize, usize)>>,
    /// Each drawing column's layer.
    pub layer: Vec<usize>,
    /// Columns of hubs only (see [`super::hubs`]): their rows follow the
    /// lines they join, not a pitch.
    pub hub: Vec<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    /// A slot of the layout's column, by row.
    Slot(usize),
    /// Lines of one source (an item of the column before the layer) on
    /// their way to later sub-columns.
    In(usize),
    /// Lines to one slot of the next layer (by row), from earlier
    /// sub-columns.
    Out(usize),
}

/// Splits layout column `c` into `split[c]` sub-columns (1: kept whole).
/// `links_from[c]`: the layout's links from column `c`, as (row, row in
/// `c + 1`).
pub fn build(
    columns: &[Vec<Slot>],
    links_from: &[Vec<(usize, usize)>],
    split: &[usize],
) -> Columns {
    let mut out = Columns::default();
    // For each layout link leaving the column drawn last: the item of the
    // last drawing column it leaves from.
    let mut exits: HashMap<(usize, usize), usize> = HashMap::new();
    for (c, slots) in columns.iter().enumerate() {
        let none = Vec::new();
        let incoming: Vec<(usize, usize)> = match c.checked_sub(1) {
            Some(p) => links_from[p]
                .iter()
                .filter_map(|&(r1, r2)| exits.get(&(r1, r2)).map(|&l| (l, r2)))
                .collect(),
            None => Vec::new(),
        };
        let outgoing = links_from.get(c).unwrap_or(&none);
        let layer = Layer::new(slots, split.get(c).copied().unwrap_or(1));
        let mut prev: Option<HashMap<Key, usize>> = None;
        for j in 0..layer.parts {
            let keys = layer.keys(j, &incoming, outgoing);
            let index: HashMap<Key, usize> =
                keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
            if !out.cols.is_empty() {
                let links = match &prev {
                    None => layer.links_in(&incoming, &index),
                    Some(p) => layer.links_between(j, p, &index, &incoming, outgoing),
                };
                out.gaps.push(links);
            }
            out.cols.push(
                keys.iter()
                    .map(|k| match k {
                        Key::Slot(r) => match slots[*r] {
                            Slot::Step(s) => Item::Step(s),
                            Slot::Pass { .. } => Item::Line,
                        },
                        _ => Item::Line,
                    })
                    .collect(),
            );
            out.layer.push(c);
            out.hub.push(false);
            prev = Some(index);
        }
        let last = prev.unwrap_or_default();
        exits = outgoing
            .iter()
            .filter_map(|&(r1, r2)| {
                let key = match layer.chunk[r1] {
                    Some(j) if j + 1 < layer.parts => Key::Out(r2),
                    _ => Key::Slot(r1),
                };
                last.get(&key).map(|&i| ((r1, r2), i))
            })
            .collect();
    }
    out
}

/// One layout column and how its steps are split.
struct Layer<'a> {
    slots: &'a [Slot],
    /// For each slot row: the sub-column of a step; none for a pass.
    chunk: Vec<Option<usize>>,
    parts: usize,
}

impl<'a> Layer<'a> {
    fn new(slots: &'a [Slot], split: usize) -> Layer<'a> {
        let steps = slots.iter().filter(|s| matches!(s, Slot::Step(_))).count();
        let size = steps.div_ceil(split.max(1)).max(1);
        let mut n = 0;
        let chunk = slots
            .iter()
            .map(|s| match s {
                Slot::Step(_) => {
                    n += 1;
                    Some((n - 1) / size)
                }
                Slot::Pass { .. } => None,
            })
            .collect();
        Layer {
            slots,
            chunk,
            parts: steps.div_ceil(size).max(1),
        }
    }

    fn in_chunk(&self, r: usize, j: usize) -> bool {
        self.chunk[r].is_none_or(|c| c == j)
    }

    /// The items of sub-column `j`, top to bottom.
    fn keys(&self, j: usize, incoming: &[(usize, usize)], outgoing: &[(usize, usize)]) -> Vec<Key> {
        let rows = 0..self.slots.len();
        if self.parts == 1 {
            return rows.map(Key::Slot).collect();
        }
        let ins: BTreeSet<usize> = incoming
            .iter()
            .filter(|&&(_, r2)| self.chunk[r2].is_some_and(|c| c > j))
            .map(|&(l, _)| l)
            .collect();
        let outs: BTreeSet<usize> = outgoing
            .iter()
            .filter(|&&(r1, _)| self.chunk[r1].is_some_and(|c| c < j))
            .map(|&(_, r2)| r2)
            .collect();
        // Steps first, so the top of each sub-column is steps.
        let mut keys: Vec<Key> = rows
            .clone()
            .filter(|&r| self.chunk[r] == Some(j))
            .map(Key::Slot)
            .collect();
        keys.extend(ins.into_iter().map(Key::In));
        keys.extend(rows.filter(|&r| self.chunk[r].is_none()).map(Key::Slot));
        keys.extend(outs.into_iter().map(Key::Out));
        keys
    }

    /// Links from the column before the layer into its first sub-column.
    fn links_in(
        &self,
        incoming: &[(usize, usize)],
        index: &HashMap<Key, usize>,
    ) -> Vec<(usize, usize)> {
        let mut links: Vec<(usize, usize)> = incoming
            .iter()
            .filter_map(|&(l, r2)| {
                let key = if self.in_chunk(r2, 0) {
                    Key::Slot(r2)
                } else {
                    Key::In(l)
                };
                index.get(&key).map(|&i| (l, i))
            })
            .collect();
        links.sort_unstable();
        links.dedup();
        links
    }

    /// Links from sub-column `j - 1` (items `prev`) into sub-column `j`.
    fn links_between(
        &self,
        j: usize,
        prev: &HashMap<Key, usize>,
        index: &HashMap<Key, usize>,
        incoming: &[(usize, usize)],
        outgoing: &[(usize, usize)],
    ) -> Vec<(usize, usize)> {
        let mut links = Vec::new();
        let mut link = |a: Key, b: Key| {
            if let (Some(&x), Some(&y)) = (prev.get(&a), index.get(&b)) {
                links.push((x, y));
            }
        };
        for (r, c) in self.chunk.iter().enumerate() {
            if c.is_none() {
                link(Key::Slot(r), Key::Slot(r));
            }
        }
        for &(l, r2) in incoming {
            if self.chunk[r2] == Some(j) {
                link(Key::In(l), Key::Slot(r2));
            }
            link(Key::In(l), Key::In(l));
        }
        for &(r1, r2) in outgoing {
            if self.chunk[r1] == Some(j - 1) {
                link(Key::Slot(r1), Key::Out(r2));
            }
            link(Key::Out(r2), Key::Out(r2));
        }
        links.sort_unstable();
        links.dedup();
        links
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path through the drawing columns, as (step, step).
    fn paths(c: &Columns) -> BTreeSet<(usize, usize)> {
        let mut found = BTreeSet::new();
        for (ci, col) in c.cols.iter().enumerate() {
            for (i, item) in col.iter().enumerate() {
                let Item::Step(s) = item else { continue };
                let mut front = vec![(ci, i)];
                while let Some((cc, ii)) = front.pop() {
                    for &(a, b) in c.gaps.get(cc).into_iter().flatten() {
                        if a == ii {
                            match c.cols[cc + 1][b] {
                                Item::Step(t) => {
                                    found.insert((*s, t));
                                }
                                Item::Line => front.push((cc + 1, b)),
                            }
                        }
                    }
                }
            }
        }
        found
    }

    #[test]
    fn split_layers_keep_every_edge_and_add_none() {
        // 0, 1 -> 2..=9 (every other one needs 1) -> 10; 0 -> 11 skips.
        let mut needs: Vec<Vec<usize>> = vec![vec![], vec![]];
        for t in 2..10 {
            needs.push(if t % 2 == 0 { vec![0] } else { vec![0, 1] });
        }
        needs.push((2..10).collect());
        needs.push(vec![0, 10]);
        let lay = crate::workflow::layout::layout(&needs);
        let mut links_from = vec![Vec::new(); lay.columns.len()];
        for ((c, r1), (_, r2)) in lay.links() {
            links_from[c].push((r1, r2));
        }
        let want: BTreeSet<(usize, usize)> = needs
            .iter()
            .enumerate()
            .flat_map(|(t, ns)| ns.iter().map(move |&f| (f, t)))
            .collect();
        for parts in 1..=4 {
            let split: Vec<usize> = (0..lay.columns.len())
                .map(|c| if c == 1 { parts } else { 1 })
                .collect();
            let c = build(&lay.columns, &links_from, &split);
            assert_eq!(c.cols.len(), lay.columns.len() + parts - 1);
            assert_eq!(paths(&c), want, "split in {parts}");
        }
    }
}
