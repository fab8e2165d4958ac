//! Hub columns: where two or more steps share the same two or more needs
//! in a gap, the needs' lines join once and split to the steps, instead
//! of a line per (need, step) pair.

use std::collections::HashMap;

use super::build::{Columns, Item};

/// What a line crossing the hub column carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Carry {
    /// The lines of one source, to one or more targets.
    Source(usize),
    /// The lines into one target, from sources with no other line here.
    Target(usize),
}

/// Where two or more steps share the same two or more needs in a gap
/// (`needs: [fmt, clippy]` on 38 jobs), a column of hubs goes between: the
/// sources join one line that splits to the targets. Honest, because each
/// source of a hub is a need of each of its targets; and it saves a line
/// per (need, step) pair. Other links cross the hub column on one line per
/// source.
pub fn with_hubs(c: Columns) -> Columns {
    use std::collections::BTreeMap;
    let mut out = Columns::default();
    for (i, col) in c.cols.iter().enumerate() {
        out.cols.push(col.clone());
        out.layer.push(c.layer[i]);
        out.hub.push(c.hub[i]);
        let Some(links) = c.gaps.get(i) else { break };
        let mut ins: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &(l, r) in links {
            ins.entry(r).or_default().push(l);
        }
        let mut groups: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
        for (r, mut ls) in ins {
            ls.sort_unstable();
            if ls.len() >= 2 {
                groups.entry(ls).or_default().push(r);
            }
        }
        groups.retain(|_, ts| ts.len() >= 2);
        if groups.is_empty() {
            out.gaps.push(links.clone());
            continue;
        }
        let (mut left, mut right) = (Vec::new(), Vec::new());
        let mut hub_of = HashMap::new();
        let mut items = 0;
        for (srcs, tgts) in groups {
            left.extend(srcs.iter().map(|&l| (l, items)));
            right.extend(tgts.iter().map(|&t| (items, t)));
            hub_of.extend(tgts.iter().map(|&t| (t, items)));
            items += 1;
        }
        // The other links cross on a line per source, or per target for
        // sources with only that one link (the 38 jobs into the gate).
        let rest: Vec<(usize, usize)> = links
            .iter()
            .copied()
            .filter(|(_, r)| !hub_of.contains_key(r))
            .collect();
        let mut out_deg: BTreeMap<usize, usize> = BTreeMap::new();
        for &(l, _) in &rest {
            *out_deg.entry(l).or_default() += 1;
        }
        let mut carry = BTreeMap::new();
        for &(l, r) in &rest {
            let key = if out_deg[&l] == 1 {
                Carry::Target(r)
            } else {
                Carry::Source(l)
            };
            let at = match carry.get(&key) {
                Some(&at) => at,
                None => {
                    carry.insert(key, items);
                    if let Carry::Target(_) = key {
                        right.push((items, r));
                    }
                    items += 1;
                    items - 1
                }
            };
            match key {
                Carry::Target(_) => left.push((l, at)),
                _ => right.push((at, r)),
            }
            if let Carry::Source(_) = key
                && !left.contains(&(l, at))
            {
                left.push((l, at));
            }
        }
        let (left, right) = by_mean_row(items, left, right);
        out.gaps.push(left);
        out.cols.push(vec![Item::Line; items]);
        out.layer.push(c.layer[i]);
        out.hub.push(true);
        out.gaps.push(right);
    }
    out
}

/// Links of one gap, as (item on the left, item on the right).
type Links = Vec<(usize, usize)>;

/// Orders a hub column's items by the mean row (index) of what they join,
/// so its lines cross as little as they can.
fn by_mean_row(
    items: usize,
    left: Vec<(usize, usize)>,
    right: Vec<(usize, usize)>,
) -> (Links, Links) {
    let mut sum = vec![(0usize, 0usize); items];
    for &(l, h) in &left {
        sum[h].0 += l;
        sum[h].1 += 1;
    }
    for &(h, r) in &right {
        sum[h].0 += r;
        sum[h].1 += 1;
    }
    let mut order: Vec<usize> = (0..items).collect();
    order.sort_by_key(|&h| (sum[h].0 * 1000 / sum[h].1.max(1), h));
    let mut place = vec![0; items];
    for (i, &h) in order.iter().enumerate() {
        place[h] = i;
    }
    let mut left: Vec<(usize, usize)> = left.into_iter().map(|(l, h)| (l, place[h])).collect();
    let mut right: Vec<(usize, usize)> = right.into_iter().map(|(h, r)| (place[h], r)).collect();
    left.sort_unstable();
    right.sort_unstable();
    (left, right)
}
