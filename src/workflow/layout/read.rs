//! How a person reads a drawn graph back: from a step's exit, right along
//! horizontals, up or down along verticals, never back left, and straight
//! on through a `┼` (a crossing, never a join), until a `▶` into a step.
//! The tests of every drawing (`graph --format text`, the screen) read
//! their output with it and compare the edges with the workflow's.

use std::collections::HashSet;

use super::dir::{DOWN, LEFT, RIGHT, UP};

/// The arrowhead that ends an edge at a step.
pub const ARROW: char = '▶';

/// The directions a box-drawing character leaves its cell in.
pub fn bits(c: char) -> u8 {
    match c {
        '─' => LEFT | RIGHT,
        '│' => UP | DOWN,
        '╭' | '┌' => DOWN | RIGHT,
        '╮' | '┐' => DOWN | LEFT,
        '╰' | '└' => UP | RIGHT,
        '╯' | '┘' => UP | LEFT,
        '├' => UP | DOWN | RIGHT,
        '┤' => UP | DOWN | LEFT,
        '┬' => LEFT | RIGHT | DOWN,
        '┴' => LEFT | RIGHT | UP,
        '┼' => UP | DOWN | LEFT | RIGHT,
        _ => 0,
    }
}

fn opposite(d: u8) -> u8 {
    match d {
        UP => DOWN,
        DOWN => UP,
        LEFT => RIGHT,
        _ => LEFT,
    }
}

/// The cells right of every `▶` reached from the exit at `start` (the
/// first line cell right of a step), in the order found.
pub fn follow(grid: &[Vec<char>], start: (usize, usize)) -> Vec<(usize, usize)> {
    let at = |x: usize, y: usize| grid.get(y).and_then(|row| row.get(x)).copied();
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    let mut todo = Vec::new();
    match at(start.0, start.1) {
        Some(ARROW) => return vec![(start.0 + 1, start.1)],
        Some(c) if bits(c) & RIGHT != 0 => todo.push((start.0, start.1, RIGHT)),
        _ => {}
    }
    while let Some((x, y, heading)) = todo.pop() {
        if !seen.insert((x, y, heading)) {
            continue;
        }
        let b = at(x, y).map_or(0, bits);
        let ways: Vec<u8> = if b == UP | DOWN | LEFT | RIGHT {
            vec![heading]
        } else {
            [RIGHT, UP, DOWN]
                .into_iter()
                .filter(|&d| b & d != 0 && d != opposite(heading))
                .collect()
        };
        for d in ways {
            let next = match d {
                RIGHT => Some((x + 1, y)),
                UP => y.checked_sub(1).map(|y| (x, y)),
                _ => Some((x, y + 1)),
            };
            let Some((nx, ny)) = next else { continue };
            match at(nx, ny) {
                Some(ARROW) if d == RIGHT && !found.contains(&(nx + 1, ny)) => {
                    found.push((nx + 1, ny));
                }
                Some(ARROW) => {}
                Some(c) if bits(c) & opposite(d) != 0 => todo.push((nx, ny, d)),
                _ => {}
            }
        }
    }
    found
}
