//! What the graph draws as its nodes: each step, except that a closed
//! matrix group is one node (its box) standing for all its instances, and
//! an open one adds a header node above its instances. A node's needs are
//! the union of what it shows: every edge drawn is a real dependency (of
//! some instance), and none is left out. An open group's instances sit
//! together in their layer, in expansion order, under the header.

use std::collections::HashMap;

use crate::tui::model::StepView;
use crate::tui::model::group::GroupView;
use crate::workflow::dag;
use crate::workflow::layout::{self, Layout, Slot};

/// One thing the graph draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// A step, or an instance of an open group.
    Step(usize),
    /// A closed group: one box for all its instances.
    Group(usize),
    /// An open group's header, above its instances.
    Header(usize),
}

/// The nodes and which node shows each step and each group.
#[derive(Debug, Clone, Default)]
pub struct Nodes {
    pub nodes: Vec<Node>,
    /// Per step: the node showing it (its own, or its closed group's).
    pub node_of: Vec<usize>,
    /// Per group: its box (closed) or header (open).
    pub group_node: Vec<usize>,
}

impl Nodes {
    /// The nodes for `steps` with `groups` open or closed as `open` says.
    pub fn new(steps: &[StepView], groups: &[GroupView], open: &dyn Fn(usize) -> bool) -> Nodes {
        let mut out = Nodes {
            nodes: Vec::with_capacity(steps.len()),
            node_of: vec![0; steps.len()],
            group_node: vec![usize::MAX; groups.len()],
        };
        for (i, s) in steps.iter().enumerate() {
            let Some(g) = s.group.filter(|&g| g < groups.len()) else {
                out.node_of[i] = out.push(Node::Step(i));
                continue;
            };
            if out.group_node[g] == usize::MAX {
                out.group_node[g] = match open(g) {
                    true => out.push(Node::Header(g)),
                    false => out.push(Node::Group(g)),
                };
            }
            out.node_of[i] = match open(g) {
                true => out.push(Node::Step(i)),
                false => out.group_node[g],
            };
        }
        out
    }

    fn push(&mut self, n: Node) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    /// Each node's needs, as nodes: a closed group needs what any of its
    /// instances needs, and what needs an instance needs the group.
    pub fn needs(&self, steps: &[StepView], groups: &[GroupView]) -> Vec<Vec<usize>> {
        // The last node that listed each node, so each is listed once.
        let mut seen = vec![usize::MAX; self.nodes.len()];
        let mut out = vec![Vec::new(); self.nodes.len()];
        for (n, node) in self.nodes.iter().enumerate() {
            let shows: &[usize] = match node {
                Node::Step(i) => std::slice::from_ref(i),
                Node::Group(g) => groups.get(*g).map_or(&[], |g| &g.members),
                Node::Header(_) => &[],
            };
            for &i in shows {
                for &d in steps.get(i).map_or(&[][..], |s| &s.needs) {
                    let Some(&dn) = self.node_of.get(d) else {
                        continue;
                    };
                    if dn != n && seen[dn] != n {
                        seen[dn] = n;
                        out[n].push(dn);
                    }
                }
            }
        }
        out
    }
}

/// The layout of `nodes`: longest-path layers, with each header in its
/// group's first instance's layer and each open group's instances
/// together under it. None when closing groups made a cycle of nodes.
pub fn layout(nodes: &Nodes, needs: &[Vec<usize>], groups: &[GroupView]) -> Option<Layout> {
    dag::order(needs)?;
    let mut layer = dag::layers(needs);
    for (g, group) in groups.iter().enumerate() {
        let (Some(&h), Some(&first)) = (nodes.group_node.get(g), group.members.first()) else {
            continue;
        };
        if matches!(nodes.nodes.get(h), Some(Node::Header(_))) {
            layer[h] = layer[nodes.node_of[first]];
        }
    }
    Some(layout::layout_in(needs, layer))
}

/// Which open group a slot belongs to (an instance or the header).
fn cluster(nodes: &Nodes, steps: &[StepView], slot: &Slot) -> Option<usize> {
    match slot {
        Slot::Step(n) => match nodes.nodes.get(*n)? {
            Node::Step(i) => steps.get(*i)?.group,
            Node::Header(g) => Some(*g),
            Node::Group(_) => None,
        },
        Slot::Pass { .. } => None,
    }
}

/// Puts each open group's slots of a column together where its first one
/// was, header first, then instances in expansion order; returns, per
/// column, each old row's new row.
pub fn cluster_columns(
    columns: &mut [Vec<Slot>],
    nodes: &Nodes,
    steps: &[StepView],
) -> Vec<Vec<usize>> {
    let mut moved = Vec::with_capacity(columns.len());
    for column in columns.iter_mut() {
        let mut by_group: HashMap<usize, Vec<usize>> = HashMap::new();
        for (r, slot) in column.iter().enumerate() {
            if let Some(g) = cluster(nodes, steps, slot) {
                by_group.entry(g).or_default().push(r);
            }
        }
        if by_group.is_empty() {
            moved.push((0..column.len()).collect());
            continue;
        }
        // Nodes are numbered in step order, the header before its first
        // instance: sorting by node is header, then expansion order.
        let node = |r: &usize| match column[*r] {
            Slot::Step(n) => n,
            Slot::Pass { .. } => usize::MAX,
        };
        let mut order = Vec::with_capacity(column.len());
        for (r, slot) in column.iter().enumerate() {
            match cluster(nodes, steps, slot).and_then(|g| by_group.remove(&g)) {
                Some(mut rows) => {
                    rows.sort_by_key(node);
                    order.extend(rows);
                }
                None if cluster(nodes, steps, slot).is_none() => order.push(r),
                None => {}
            }
        }
        let mut new_row = vec![0; column.len()];
        for (new, &old) in order.iter().enumerate() {
            new_row[old] = new;
        }
        let slots: Vec<Slot> = order.iter().map(|&r| column[r]).collect();
        *column = slots;
        moved.push(new_row);
    }
    moved
}
