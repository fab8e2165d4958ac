//! A group's edges on the drawing, read back as a person reads them: the
//! union of its instances' edges, closed or open, between two groups, from
//! a group to a step and from a step to a group; no edge that is not a
//! real dependency, none left out.

use std::collections::BTreeSet;

use ratatui::buffer::Buffer;
use signalbox::tui::model::Model;
use signalbox::tui::model::graph::Node;
use signalbox::tui::update::{Msg, update};
use signalbox::workflow::layout::read::follow;
use signalbox::workflow::load_str;

use super::{draw, group, text};

/// The name a node stands for: a step's id, or the group's.
fn name(m: &Model, n: usize) -> String {
    match m.graph.node(n).unwrap() {
        Node::Step(i) => m.steps[i].id.clone(),
        Node::Group(g) => format!("[{}]", m.groups[g].id),
        Node::Header(g) => format!("header {}", m.groups[g].id),
    }
}

/// The edges drawn, by node names, read from each node's exit.
fn drawn(m: &Model, buf: &Buffer) -> BTreeSet<(String, String)> {
    let arr = &m.graph.arr;
    let w = buf.area.width as usize;
    let grid: Vec<Vec<char>> = (buf.content.chunks(w))
        .map(|row| {
            (row.iter())
                .map(|c| c.symbol().chars().next().unwrap_or(' '))
                .collect()
        })
        .collect();
    let nodes = m.graph.nodes.nodes.len();
    let rect = |n: usize| arr.step_rect(n).unwrap();
    let owner: std::collections::HashMap<(usize, usize), usize> = (0..nodes)
        .map(|n| ((1 + rect(n).x, 1 + rect(n).y + arr.port()), n))
        .collect();
    let mut found = BTreeSet::new();
    for n in 0..nodes {
        let r = rect(n);
        for cell in follow(&grid, (1 + r.x + r.w, 1 + r.y + arr.port())) {
            let t = owner
                .get(&cell)
                .unwrap_or_else(|| panic!("into nothing at {cell:?}"));
            found.insert((name(m, n), name(m, *t)));
        }
    }
    found
}

/// The edges that should be drawn: each real need, between the nodes
/// that show its two ends.
fn wanted(m: &Model) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (i, s) in m.steps.iter().enumerate() {
        for &d in &s.needs {
            let (a, b) = (m.graph.node_of(d), m.graph.node_of(i));
            if a != b {
                out.insert((name(m, a), name(m, b)));
            }
        }
    }
    out
}

/// `build` and `test` over two targets, each test instance needing its
/// own target's build (`same: [target]`), `lint` needing one build
/// instance, `docs` needed by every build, `ship` needing every test.
const TWO: &str = "name: two
steps:
  docs:
    run: echo docs
  build-a:
    needs: [docs]
    run: echo a
  build-b:
    needs: [docs]
    run: echo b
  build-c:
    needs: [docs]
    run: echo c
  build-d:
    needs: [docs]
    run: echo d
  build-e:
    needs: [docs]
    run: echo e
  test-a:
    needs: [build-a]
    run: echo a
  test-b:
    needs: [build-b]
    run: echo b
  test-c:
    needs: [build-c]
    run: echo c
  test-d:
    needs: [build-d]
    run: echo d
  test-e:
    needs: [build-e]
    run: echo e
  lint:
    needs: [build-b]
    run: echo lint
  ship:
    needs: [test-a, test-b, test-c, test-d, test-e]
    run: echo ship
";

#[test]
fn every_edge_drawn_is_a_dependency_closed_or_open() {
    let mut wf = load_str(TWO, "two.yaml").unwrap();
    group(&mut wf, "build", "build-", "target");
    group(&mut wf, "test", "test-", "target");
    for (open, compact) in [(false, false), (false, true), (true, false), (true, true)] {
        for mixed in [false, true] {
            let mut m = Model::new(&wf);
            m.ui.color = false;
            m.ui.compact = Some(compact);
            m.set_open(0, open);
            m.set_open(1, open ^ mixed);
            update(&mut m, Msg::Resize(200, 100));
            let buf = draw(&m, 200, 100);
            let (got, want) = (drawn(&m, &buf), wanted(&m));
            assert_eq!(
                got,
                want,
                "open {open} mixed {mixed} compact {compact}\n{}",
                text(&buf)
            );
            if !open && !mixed {
                let names: BTreeSet<(&str, &str)> =
                    want.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                let expect = BTreeSet::from([
                    ("docs", "[build]"),
                    ("[build]", "[test]"),
                    ("[build]", "lint"),
                    ("[test]", "ship"),
                ]);
                assert_eq!(names, expect);
            }
        }
    }
}

/// The loader's own matrix example: every open/closed mix of its three
/// groups draws exactly its dependencies.
#[test]
fn the_matrix_example_draws_only_real_edges_in_every_mix() {
    let yaml = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/matrix.yaml"),
    )
    .unwrap();
    let wf = load_str(&yaml, "matrix.yaml").unwrap();
    assert_eq!(wf.groups.len(), 3, "build, test, regions");
    for mix in 0..8u32 {
        for compact in [false, true] {
            let mut m = Model::new(&wf);
            assert!(m.groups.iter().all(|g| g.open), "small groups start open");
            m.ui.color = false;
            m.ui.compact = Some(compact);
            for g in 0..3 {
                m.set_open(g, mix & (1 << g) != 0);
            }
            update(&mut m, Msg::Resize(220, 120));
            let buf = draw(&m, 220, 120);
            assert_eq!(
                drawn(&m, &buf),
                wanted(&m),
                "mix {mix} compact {compact}\n{}",
                text(&buf)
            );
        }
    }
}
