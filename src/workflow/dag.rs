//! The step graph: cycles, layers and ancestry, over `needs` as indices.
//!
//! Edges run from a step to the steps that need it, the direction work flows.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

fn graph(needs: &[Vec<usize>]) -> DiGraph<(), ()> {
    let mut g = DiGraph::with_capacity(needs.len(), needs.len());
    let nodes: Vec<NodeIndex> = (0..needs.len()).map(|_| g.add_node(())).collect();
    for (i, ns) in needs.iter().enumerate() {
        for &n in ns {
            g.add_edge(nodes[n], nodes[i], ());
        }
    }
    g
}

/// The steps in an order where each comes after all it needs, or `None`
/// when there is a cycle. Kahn's algorithm over flat arrays: the common case,
/// a graph with no cycle, costs two passes and no allocation per step.
pub fn order(needs: &[Vec<usize>]) -> Option<Vec<usize>> {
    let n = needs.len();
    // Dependents of each step, packed: `start[d]..start[d + 1]` in `to`.
    let mut start = vec![0usize; n + 1];
    for ns in needs {
        for &d in ns {
            start[d.min(n - 1) + 1] += 1;
        }
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut to = vec![0usize; start[n]];
    for (i, ns) in needs.iter().enumerate() {
        for &d in ns {
            let d = d.min(n - 1);
            to[fill[d]] = i;
            fill[d] += 1;
        }
    }
    let mut waiting: Vec<usize> = needs.iter().map(Vec::len).collect();
    let mut out: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut next = 0;
    while let Some(&d) = out.get(next) {
        next += 1;
        for &i in &to[start[d]..start[d + 1]] {
            waiting[i] -= 1;
            if waiting[i] == 0 {
                out.push(i);
            }
        }
    }
    (out.len() == n).then_some(out)
}

/// One cycle per strongly connected component that has one, each as a path
/// of step indices that starts and ends at its lowest index.
pub fn cycles(needs: &[Vec<usize>]) -> Vec<Vec<usize>> {
    if order(needs).is_some() {
        return Vec::new();
    }
    let g = graph(needs);
    let mut out = Vec::new();
    for scc in tarjan_scc(&g) {
        let members: Vec<usize> = scc.iter().map(|n| n.index()).collect();
        let start = members.iter().copied().min().unwrap_or(0);
        let self_loop = members.len() == 1 && needs[start].contains(&start);
        if members.len() > 1 || self_loop {
            out.push(cycle_through(needs, start, &members));
        }
    }
    out.sort();
    out
}

/// A shortest path from `start` back to itself inside one component.
fn cycle_through(needs: &[Vec<usize>], start: usize, members: &[usize]) -> Vec<usize> {
    // Walk forward, from a step to the steps in the component that need it.
    let mut dependents: std::collections::HashMap<usize, Vec<usize>> = Default::default();
    let inside: std::collections::HashSet<usize> = members.iter().copied().collect();
    for &m in members {
        for &n in &needs[m] {
            if inside.contains(&n) {
                dependents.entry(n).or_default().push(m);
            }
        }
    }
    for list in dependents.values_mut() {
        list.sort_unstable();
    }
    let mut prev: std::collections::HashMap<usize, usize> = Default::default();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        for &next in dependents.get(&at).map(Vec::as_slice).unwrap_or_default() {
            if next == start {
                let mut path = vec![start];
                let mut cur = at;
                while cur != start {
                    path.push(cur);
                    cur = prev.get(&cur).copied().unwrap_or(start);
                }
                path.push(start);
                let last = path.len() - 1;
                path[1..last].reverse();
                return path;
            }
            if next != start && !prev.contains_key(&next) {
                prev.insert(next, at);
                queue.push_back(next);
            }
        }
    }
    vec![start, start]
}

/// Longest-path layers: a step sits one layer right of its deepest need.
/// Must be called on an acyclic graph.
pub fn layers(needs: &[Vec<usize>]) -> Vec<usize> {
    let Some(order) = order(needs) else {
        return vec![0; needs.len()];
    };
    let mut layer = vec![0; needs.len()];
    for i in order {
        layer[i] = needs[i].iter().map(|&d| layer[d] + 1).max().unwrap_or(0);
    }
    layer
}

/// True when `ancestor` must finish before `step` starts, through `needs`.
///
/// Called once per reference to another step, so it costs what it visits,
/// not the size of the graph: a direct need answers at once, and the set of
/// seen steps grows only with the walk.
pub fn is_upstream(needs: &[Vec<usize>], step: usize, ancestor: usize) -> bool {
    let Some(direct) = needs.get(step) else {
        return false;
    };
    if direct.contains(&ancestor) {
        return true;
    }
    let mut seen = std::collections::HashSet::new();
    let mut stack = direct.clone();
    while let Some(s) = stack.pop() {
        if s == ancestor {
            return true;
        }
        if seen.insert(s) {
            stack.extend_from_slice(needs.get(s).map_or(&[][..], Vec::as_slice));
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_cycle_as_a_path() {
        // 0 needs 2, 1 needs 0, 2 needs 1: 0 -> 1 -> 2 -> 0.
        let needs = vec![vec![2], vec![0], vec![1], vec![3]];
        assert_eq!(cycles(&needs), vec![vec![0, 1, 2, 0], vec![3, 3]]);
        assert!(cycles(&[vec![], vec![0], vec![0, 1]]).is_empty());
    }

    #[test]
    fn orders_needs_first_and_sees_cycles() {
        let needs = vec![vec![2], vec![], vec![1], vec![0, 2]];
        let order = order(&needs).unwrap();
        let at = |s: usize| order.iter().position(|&o| o == s).unwrap();
        assert!(at(1) < at(2) && at(2) < at(0) && at(0) < at(3));
        assert_eq!(super::order(&[]), Some(vec![]));
        assert_eq!(super::order(&[vec![1], vec![0]]), None);
        assert_eq!(super::order(&[vec![0]]), None);
    }

    #[test]
    fn layers_by_longest_path() {
        let needs = vec![vec![], vec![0], vec![0, 1], vec![]];
        assert_eq!(layers(&needs), vec![0, 1, 2, 0]);
    }

    #[test]
    fn ancestry_is_transitive() {
        let needs = vec![vec![], vec![0], vec![1], vec![]];
        assert!(is_upstream(&needs, 2, 0));
        assert!(!is_upstream(&needs, 0, 2));
        assert!(!is_upstream(&needs, 2, 3));
    }
}
