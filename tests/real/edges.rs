//! `signalbox graph --format text` draws every dependency and nothing
//! else (SPEC §5): random DAGs are drawn by the binary, the drawing is read
//! back the way a person reads it, and the edge sets must be equal.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use signalbox::workflow::layout::read;

use crate::common::{self, Rng, edges};

/// The drawing of `yaml` by the binary, as a grid of characters.
fn drawing(yaml: &str) -> Vec<Vec<char>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wf.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new(common::BIN)
        .args(["graph", "--format", "text"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // The header, a blank line, the drawing, a blank line, the legend.
    let lines: Vec<&str> = text.lines().collect();
    let body = &lines[2..lines.len().saturating_sub(2)];
    body.iter().map(|l| l.chars().collect()).collect()
}

/// Every label `[▸ id]` as (id, x of `[`, x after `]`, row).
fn labels(grid: &[Vec<char>]) -> Vec<(String, usize, usize, usize)> {
    let mut out = Vec::new();
    for (y, row) in grid.iter().enumerate() {
        let mut x = 0;
        while x < row.len() {
            if row[x] == '[' && row.get(x + 1) == Some(&'▸') {
                let end = (x..row.len()).find(|&e| row[e] == ']').unwrap();
                let id: String = row[x + 3..end].iter().collect();
                out.push((id, x, end + 1, y));
                x = end;
            }
            x += 1;
        }
    }
    out
}

/// The edges the drawing shows.
fn read_back(grid: &[Vec<char>]) -> BTreeSet<(String, String)> {
    let labels = labels(grid);
    let at: HashMap<(usize, usize), &str> = labels
        .iter()
        .map(|(id, x, _, y)| ((*x, *y), id.as_str()))
        .collect();
    let mut out = BTreeSet::new();
    for (id, _, after, y) in &labels {
        for cell in read::follow(grid, (*after, *y)) {
            let target = at
                .get(&cell)
                .unwrap_or_else(|| panic!("{id}: a line ends at {cell:?}"));
            out.insert((id.clone(), target.to_string()));
        }
    }
    out
}

fn picture(grid: &[Vec<char>]) -> String {
    grid.iter()
        .map(|r| r.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_issue_s_graph_reads_as_it_is() {
    // a; b needs a; x; c needs a; d needs x: no line may read x -> c or a -> d.
    let needs = vec![vec![], vec![0], vec![], vec![0], vec![2]];
    let grid = drawing(&edges::yaml(&needs));
    assert_eq!(
        read_back(&grid),
        edges::edge_set(&needs),
        "\n{}",
        picture(&grid)
    );
}

#[test]
fn random_graphs_read_back_exactly() {
    let mut rng = Rng(0x5eed_0011);
    for round in 0..150 {
        let n = 2 + rng.below(30);
        let needs = edges::random_dag(&mut rng, n);
        let grid = drawing(&edges::yaml(&needs));
        assert_eq!(
            read_back(&grid),
            edges::edge_set(&needs),
            "round {round}, needs {needs:?}\n{}",
            picture(&grid)
        );
    }
}
