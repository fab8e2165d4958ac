//! The arrangement at real sizes: box widths, the compact rule, sub-columns
//! and moving the selection.

use super::*;
use crate::workflow::load_str;

/// A CI-shaped graph: 4 basics, `wide` builds needing two of them, a gate.
fn ci(wide: usize) -> Graph {
    let mut y = String::from("name: ci\nsteps:\n");
    for b in ["fmt", "clippy", "docs", "check"] {
        y.push_str(&format!("  {b}:\n    run: 'true'\n"));
    }
    for i in 0..wide {
        y.push_str(&format!(
            "  build-stable-target{i:02}-unknown-linux-gnu:\n    run: 'true'\n    needs: [fmt, check]\n"
        ));
    }
    let all: Vec<String> = (0..wide)
        .map(|i| format!("build-stable-target{i:02}-unknown-linux-gnu"))
        .collect();
    y.push_str(&format!(
        "  gate:\n    run: 'true'\n    needs: [{}]\n",
        all.join(", ")
    ));
    match load_str(&y, "ci.yaml") {
        Ok(wf) => crate::tui::model::Model::new(&wf).graph,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn boxes_follow_the_longest_id_up_to_half_the_pane() {
    let mut g = ci(3);
    g.arrange((158, 23), Some(false));
    let w = g.arr.step_rect(4).map_or(0, |r| r.w);
    assert!(
        w >= "build-stable-target00-unknown-linux-gnu".len() + 4,
        "{w}"
    );
    assert_eq!(g.arr.labels[4], "build-stable-target00-unknown-linux-gnu");
    g.arrange((78, 8), Some(false));
    assert_eq!(g.arr.step_rect(4).map(|r| r.w), Some(36));
    assert!(g.arr.labels[4].contains('…'), "{:?}", g.arr.labels[4]);
}

#[test]
fn few_layers_use_the_width() {
    let wf = load_str(
        "name: x\nsteps:\n  a: { run: 'true' }\n  b: { run: 'true', needs: [a] }\n",
        "x.yaml",
    );
    let mut g = crate::tui::model::Model::new(&wf.unwrap_or_else(|e| panic!("{e}"))).graph;
    g.arrange((158, 23), None);
    assert!(!g.compact());
    let (w, _) = g.arr.size;
    assert!(w >= 90, "two layers take {w} of 158 columns");
}

#[test]
fn compact_by_itself_when_boxes_show_too_little() {
    let mut g = ci(38);
    g.arrange((78, 8), None);
    assert!(g.compact());
    g.arrange((158, 23), None);
    assert!(g.compact(), "6 boxes of a 38-step layer");
    g.arrange((158, 23), Some(false));
    assert!(!g.compact());
    let mut small = ci(2);
    small.arrange((78, 8), None);
    assert!(!small.compact());
}

#[test]
fn a_tall_layer_is_split_into_sub_columns_in_compact_mode() {
    let mut g = ci(38);
    g.arrange((158, 23), Some(true));
    // fmt..check, two sub-columns of builds, the gate (and hub columns
    // between, where the builds share fmt and check).
    let with_steps = g
        .arr
        .cols
        .iter()
        .filter(|c| c.items.iter().any(|(_, it)| matches!(it, Item::Step(_))))
        .count();
    assert_eq!(with_steps, 4);
    let tallest = g.arr.cols.iter().map(|c| c.items.len()).max().unwrap_or(0);
    assert!(tallest <= 23, "{tallest} rows");
    // Down from the last step of the first sub-column reaches the second.
    let first = &g.arr.cols[g.arr.at[4].0];
    let last = first
        .items
        .iter()
        .rev()
        .find_map(|(_, it)| match it {
            Item::Step(s) => Some(*s),
            Item::Line => None,
        })
        .unwrap_or(0);
    let next = g.arr.vertical(last, false).unwrap_or(last);
    assert!(g.arr.at[next].0 > g.arr.at[last].0);
    assert_eq!(g.arr.layer[next], g.arr.layer[last]);
    assert_eq!(g.arr.vertical(next, true), Some(last));
    // Right from a build in the second sub-column: the gate.
    assert_eq!(g.arr.horizontal(next, false), Some(42));
}
