use std::collections::BTreeSet;

use super::*;
use crate::workflow::layout::{line_char, read};

/// Draws a routed gap as characters, with `▶` at each entry used.
fn draw(gap: &Gap, route: &Route) -> Vec<Vec<char>> {
    let ports = gap.right.iter().chain(gap.left).max().map_or(0, |r| r + 1);
    let height = route.rows.max(ports);
    let mut bits = vec![vec![0u8; route.width + 1]; height];
    for &(x, y, d) in &route.cells {
        bits[y][x] |= d;
    }
    let mut grid: Vec<Vec<char>> = bits
        .iter()
        .map(|row| row.iter().map(|&d| line_char(d)).collect())
        .collect();
    for &(_, j) in gap.links {
        grid[gap.right[j]][route.width - 1] = read::ARROW;
    }
    grid
}

fn picture(grid: &[Vec<char>]) -> String {
    grid.iter()
        .map(|r| r.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The links the drawing shows, read back from each exit.
fn read_back(gap: &Gap, route: &Route) -> BTreeSet<(usize, usize)> {
    let grid = draw(gap, route);
    let sources: BTreeSet<usize> = gap.links.iter().map(|l| l.0).collect();
    let mut out = BTreeSet::new();
    for i in sources {
        for (x, y) in read::follow(&grid, (0, gap.left[i])) {
            assert_eq!(x, route.width, "an edge ends inside the gap");
            let j = gap.right.iter().position(|&r| r == y).unwrap();
            out.insert((i, j));
        }
    }
    out
}

fn check(left: &[usize], right: &[usize], links: &[(usize, usize)]) -> Route {
    let gap = Gap { left, right, links };
    let route = route(&gap, 3);
    let want: BTreeSet<(usize, usize)> = links.iter().copied().collect();
    let got = read_back(&gap, &route);
    assert_eq!(
        got,
        want,
        "left {left:?} right {right:?}\n{}",
        picture(&draw(&gap, &route))
    );
    route
}

#[test]
fn the_issue_s_example_reads_as_it_is() {
    // a -> b, a -> c, x -> d with a, x on rows 0, 2 and b, c, d on 0, 2, 4:
    // no path may read x -> c or a -> d.
    check(&[0, 2], &[0, 2, 4], &[(0, 0), (0, 1), (1, 2)]);
}

#[test]
fn fan_in_and_fan_out_share_nothing() {
    // a, x -> b (fan-in) and x -> c: x's line must not lead a to c.
    check(&[0, 2], &[0, 2], &[(0, 0), (1, 0), (1, 1)]);
    check(
        &[0, 2, 4],
        &[0, 2, 4],
        &[(0, 0), (0, 1), (1, 1), (2, 1), (2, 2)],
    );
}

#[test]
fn crossed_chains_and_complete_bipartite_graphs() {
    check(&[0, 2], &[0, 2], &[(0, 1), (1, 0)]);
    let all: Vec<(usize, usize)> = (0..4).flat_map(|i| (0..4).map(move |j| (i, j))).collect();
    check(&[0, 2, 4, 6], &[0, 2, 4, 6], &all);
}

#[test]
fn a_wide_fan_in_takes_one_lane() {
    let left: Vec<usize> = (0..40).map(|r| r * 2).collect();
    let links: Vec<(usize, usize)> = (0..40).map(|i| (i, 0)).collect();
    let route = check(&left, &[40], &links);
    assert!(route.width <= 5, "width {}", route.width);
}

#[test]
fn straight_chains_stay_straight() {
    let rows: Vec<usize> = (0..10).map(|r| r * 2).collect();
    let links: Vec<(usize, usize)> = (0..10).map(|i| (i, i)).collect();
    let route = check(&rows, &rows, &links);
    assert_eq!(route.width, 3);
}

#[test]
fn random_gaps_read_back_exactly() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..3000 {
        let (nl, nr) = (1 + next(7), 1 + next(7));
        // Port rows as the drawings place them: the text graph two apart,
        // the screen four, compact one.
        let pitch = [1, 2, 4][next(3)];
        let left: Vec<usize> = (0..nl).map(|r| r * pitch + next(pitch)).collect();
        let right: Vec<usize> = (0..nr).map(|r| r * pitch + next(pitch)).collect();
        let mut links = BTreeSet::new();
        for _ in 0..1 + next(nl * nr) {
            links.insert((next(nl), next(nr)));
        }
        let links: Vec<(usize, usize)> = links.into_iter().collect();
        check(&left, &right, &links);
    }
}
