//! Step ids cut to a width in the middle (`build-st…aarch64`), the way a
//! CI pipeline's ids differ: a shared head (`build-stable-`) and a tail
//! that names the target. When two cut ids would read the same, the cut
//! moves until each one reads differently. Pure text; knows nothing of
//! the graph.

use std::collections::HashMap;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Each of `ids` cut to at most `max` terminal columns, `…` marking the
/// cut; ids that fit are left whole. The results are distinct whenever
/// some cut can make them so.
pub fn cut_ids(ids: &[&str], max: usize) -> Vec<String> {
    let mut out: Vec<String> = ids.iter().map(|id| middle(id, max, None)).collect();
    let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, text) in out.iter().enumerate() {
        seen.entry(text.clone()).or_default().push(i);
    }
    let clashes: Vec<Vec<usize>> = seen.into_values().filter(|v| v.len() > 1).collect();
    if clashes.is_empty() {
        return out;
    }
    let mut taken: HashMap<String, usize> = HashMap::new();
    for text in &out {
        *taken.entry(text.clone()).or_default() += 1;
    }
    for group in clashes {
        // The first of a group keeps its cut; the others look for one that
        // no other id shows.
        for &i in &group[1..] {
            let others: Vec<&str> = group.iter().filter(|&&j| j != i).map(|&j| ids[j]).collect();
            let found = distinct(ids[i], max, &taken).or_else(|| window(ids[i], &others, max));
            if let Some(text) = found.filter(|t| taken.get(t).is_none_or(|&n| n == 0)) {
                if let Some(n) = taken.get_mut(&out[i]) {
                    *n -= 1;
                }
                *taken.entry(text.clone()).or_default() += 1;
                out[i] = text;
            }
        }
    }
    out
}

/// A cut of `id` no other id shows: heads from the default one outwards,
/// then a window ending just after the first column where it differs.
fn distinct(id: &str, max: usize, taken: &HashMap<String, usize>) -> Option<String> {
    let free = |t: &String| taken.get(t).is_none_or(|&n| n == 0);
    let room = max.checked_sub(1)?;
    let default = room.div_ceil(2);
    let heads = (0..=room).flat_map(|d| {
        let mut v = vec![default + d];
        if d > 0 && d <= default {
            v.push(default - d);
        }
        v
    });
    for head in heads.filter(|&h| h <= room) {
        let text = middle(id, max, Some(head));
        if free(&text) {
            return Some(text);
        }
    }
    None
}

/// `id` cut twice (`bui…t05…gnu`) around where it differs from `others`,
/// for ids that differ only far from both ends.
fn window(id: &str, others: &[&str], max: usize) -> Option<String> {
    let chars: Vec<char> = id.chars().collect();
    let room = max.checked_sub(2)?;
    let diff = |o: &str| {
        chars
            .iter()
            .zip(o.chars())
            .take_while(|(a, b)| **a == *b)
            .count()
    };
    let lo = others.iter().map(|o| diff(o)).min()?;
    let hi = others.iter().map(|o| diff(o)).max()?;
    // A little of the head and of the tail, the rest for the part that
    // differs.
    let (head, tail) = (room / 5, room / 5);
    let span = room.checked_sub(head + tail)?.max(1);
    if chars.len() < head + span + tail {
        return None;
    }
    let start = (hi + 1).saturating_sub(span).min(lo).max(head);
    let start = start.min(chars.len() - tail - span);
    let end = start + span;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[start..end]);
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    (out.width() <= max).then_some(out)
}

/// `id` in `max` columns: whole if it fits, else `head` columns of its start
/// (half the room by default), `…`, and its end.
fn middle(id: &str, max: usize, head: Option<usize>) -> String {
    let chars: Vec<(char, usize)> = id.chars().map(|c| (c, c.width().unwrap_or(0))).collect();
    let total: usize = chars.iter().map(|c| c.1).sum();
    if total <= max {
        return id.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let room = max - 1;
    let head = head.unwrap_or(room.div_ceil(2)).min(room);
    let mut out = String::new();
    let mut used = 0;
    for &(c, w) in &chars {
        if used + w > head {
            break;
        }
        used += w;
        out.push(c);
    }
    let mut tail = Vec::new();
    let mut left = room - used;
    for &(c, w) in chars.iter().rev() {
        if w > left {
            break;
        }
        left -= w;
        tail.push(c);
    }
    out.push('…');
    out.extend(tail.into_iter().rev());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_fit_stay_whole() {
        assert_eq!(cut_ids(&["fmt", "clippy"], 6), ["fmt", "clippy"]);
    }

    #[test]
    fn long_ids_are_cut_in_the_middle() {
        let got = cut_ids(&["build-stable-aarch64-unknown-linux-gnu"], 20);
        assert_eq!(got, ["build-stab…linux-gnu"]);
        assert_eq!(got[0].width(), 20);
    }

    #[test]
    fn cuts_keep_names_of_one_graph_distinct() {
        let ids = ["build-stable-aarch64-linux", "build-stable-armv7-linux"];
        for max in 6..=24 {
            let got = cut_ids(&ids, max);
            assert_ne!(got[0], got[1], "at {max} columns: {got:?}");
            assert!(got.iter().all(|t| t.width() <= max), "{got:?}");
        }
        // Where the default cut clashes, one of them moves.
        let got = cut_ids(&["build-x-one-linux", "build-y-one-linux"], 9);
        assert_ne!(got[0], got[1], "{got:?}");
    }

    #[test]
    fn many_similar_ids_stay_distinct() {
        let ids: Vec<String> = (0..30)
            .map(|i| format!("build-stable-target{i:02}-unknown-linux-gnu"))
            .collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let got = cut_ids(&refs, 20);
        let set: std::collections::HashSet<&String> = got.iter().collect();
        assert_eq!(set.len(), ids.len(), "{got:?}");
    }

    #[test]
    fn wide_characters_count_two_columns() {
        let got = cut_ids(&["構築-ステージ-アーム"], 9);
        assert!(got[0].width() <= 9, "{got:?}");
        assert!(got[0].contains('…'));
    }
}
