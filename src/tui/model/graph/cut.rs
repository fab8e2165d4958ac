//! Step ids cut to a width in the middle (`build-st…aarch64`). The part
//! cut out is the one the graph's ids share most: in a CI pipeline the
//! shared head (`build-stable-`) and tail (`-unknown-linux-gnu`) say
//! little, the target in between says which job it is. When two cut ids
//! would still read the same, one cut moves until they read differently.
//! Pure text; knows nothing of the graph.

use std::collections::HashMap;

use unicode_width::UnicodeWidthChar;

/// Each of `ids` cut to at most `max` terminal columns, `…` marking the
/// cut; ids that fit are left whole. The results are distinct whenever
/// some cut can make them so.
pub fn cut_ids(ids: &[&str], max: usize) -> Vec<String> {
    let shared = Shared::new(ids);
    let mut out = Vec::with_capacity(ids.len());
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut clashes = Vec::new();
    let check = ids.len() <= TELLING_CHECK;
    for (i, id) in ids.iter().enumerate() {
        let text = cuts(id, max, &shared, 1)
            .into_iter()
            .next()
            .unwrap_or_default();
        let n = taken.entry(text.clone()).or_default();
        *n += 1;
        if *n > 1 || (check && !telling(&text, i, ids)) {
            clashes.push(i);
        }
        out.push(text);
    }
    // The first id to show a text keeps it; a later one takes its best cut
    // that no other id shows.
    for i in clashes {
        let free = cuts(ids[i], max, &shared, usize::MAX)
            .into_iter()
            .chain(window(ids[i], ids, max))
            .find(|t| taken.get(t).is_none_or(|&n| n == 0) && (!check || telling(t, i, ids)));
        if let Some(text) = free {
            if let Some(n) = taken.get_mut(&out[i]) {
                *n -= 1;
            }
            *taken.entry(text.clone()).or_default() += 1;
            out[i] = text;
        }
    }
    out
}

/// Up to this many ids, a cut must also tell its id from every other one;
/// past it (a check costs the ids squared) distinct texts are enough.
const TELLING_CHECK: usize = 2000;

/// Whether `text`, the cut of `ids[i]`, reads as no other id: `bui…msvc`
/// does not tell `build-stable-…-msvc` from `build-beta-…-msvc`, though
/// it differs from the text the other one shows.
fn telling(text: &str, i: usize, ids: &[&str]) -> bool {
    let parts: Vec<&str> = text.split('…').collect();
    let could_be = |other: &str| {
        let (Some(head), Some(tail)) = (parts.first(), parts.last()) else {
            return false;
        };
        if parts.len() == 1 {
            return other == text;
        }
        if !other.starts_with(head) || !other.ends_with(tail) {
            return false;
        }
        let Some(mut rest) =
            other[head.len()..].get(..other.len().saturating_sub(head.len() + tail.len()))
        else {
            return false;
        };
        for mid in &parts[1..parts.len() - 1] {
            match rest.find(mid) {
                Some(at) => rest = &rest[at + mid.len()..],
                None => return false,
            }
        }
        true
    };
    ids.iter()
        .enumerate()
        .all(|(j, other)| j == i || !could_be(other))
}

/// `id` cut twice (`bui…t05…gnu`) around where it differs from the ids
/// that share its start, for ids that differ only far from both ends.
fn window(id: &str, ids: &[&str], max: usize) -> Option<String> {
    let chars: Vec<char> = id.chars().collect();
    let room = max.checked_sub(2)?;
    let same = |o: &str| {
        chars
            .iter()
            .zip(o.chars())
            .take_while(|(a, b)| **a == *b)
            .count()
    };
    // Where it first differs from the id most like it.
    let at = ids.iter().filter(|o| **o != id).map(|o| same(o)).max()?;
    let (head, tail) = (room / 5, room / 5);
    let span = room.checked_sub(head + tail)?.max(1);
    if chars.len() < head + span + tail {
        return None;
    }
    let start = (at + 1).saturating_sub(span / 2).max(head);
    let start = start.min(chars.len() - tail - span);
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[start..start + span]);
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    use unicode_width::UnicodeWidthStr;
    (out.width() <= max).then_some(out)
}

/// How many ids share each prefix and each suffix, by a hash of it.
struct Shared {
    prefix: HashMap<u64, u32>,
    suffix: HashMap<u64, u32>,
}

/// FNV-1a, one character at a time, so every prefix's hash comes on the way.
fn step(h: u64, c: char) -> u64 {
    (h ^ c as u64).wrapping_mul(0x0100_0000_01b3)
}

const SEED: u64 = 0xcbf2_9ce4_8422_2325;

impl Shared {
    fn new(ids: &[&str]) -> Shared {
        let mut s = Shared {
            prefix: HashMap::new(),
            suffix: HashMap::new(),
        };
        for id in ids {
            let mut h = SEED;
            for c in id.chars() {
                h = step(h, c);
                *s.prefix.entry(h).or_default() += 1;
            }
            let mut h = SEED;
            for c in id.chars().rev() {
                h = step(h, c);
                *s.suffix.entry(h).or_default() += 1;
            }
        }
        s
    }

    /// For each character of `chars`: how many ids share the prefix up to
    /// it or the suffix from it, whichever is more.
    fn scores(&self, chars: &[(char, usize)]) -> Vec<u32> {
        let mut pre = Vec::with_capacity(chars.len());
        let mut h = SEED;
        for &(c, _) in chars {
            h = step(h, c);
            pre.push(self.prefix.get(&h).copied().unwrap_or(1));
        }
        let mut h = SEED;
        for (i, &(c, _)) in chars.iter().enumerate().rev() {
            h = step(h, c);
            let suf = self.suffix.get(&h).copied().unwrap_or(1);
            pre[i] = pre[i].max(suf);
        }
        pre
    }
}

/// The `most` best cuts of `id` to `max` columns, best first: the window
/// cut out holds what the most ids share (each character costs one over
/// the ids that share it), and on a tie sits nearest the middle. An id that fits is its only cut.
fn cuts(id: &str, max: usize, shared: &Shared, most: usize) -> Vec<String> {
    let chars: Vec<(char, usize)> = id.chars().map(|c| (c, c.width().unwrap_or(0))).collect();
    let total: usize = chars.iter().map(|c| c.1).sum();
    if total <= max {
        return vec![id.to_string()];
    }
    if max < 3 {
        return vec![String::new()];
    }
    // Columns to cut out, `…` included.
    let need = total - (max - 1);
    let score = shared.scores(&chars);
    let mut windows: Vec<(u64, usize, usize, usize)> = Vec::new();
    for a in 1..chars.len() {
        let (mut b, mut cut, mut sum) = (a, 0, 0u64);
        while cut < need && b < chars.len() - 1 {
            cut += chars[b].1;
            // A character many ids share says little: cutting it costs less.
            sum += 1_000_000 / u64::from(score[b].max(1));
            b += 1;
        }
        if cut < need {
            break;
        }
        let off_middle = (a + b).abs_diff(chars.len());
        windows.push((sum, off_middle, a, b));
    }
    windows.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.cmp(&y.1)));
    windows
        .into_iter()
        .take(most)
        .map(|(_, _, a, b)| {
            let mut s: String = chars[..a].iter().map(|c| c.0).collect();
            s.push('…');
            s.extend(chars[b..].iter().map(|c| c.0));
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn ids_that_fit_stay_whole() {
        assert_eq!(cut_ids(&["fmt", "clippy"], 6), ["fmt", "clippy"]);
    }

    #[test]
    fn the_cut_takes_out_what_the_ids_share() {
        let ids = [
            "build-stable-aarch64-unknown-linux-gnu",
            "build-stable-x86_64-unknown-linux-gnu",
            "build-stable-armv7-unknown-linux-gnueabihf",
            "build-stable-i686-unknown-linux-gnu",
        ];
        let got = cut_ids(&ids, 24);
        assert!(
            got.iter().all(|t| t.width() <= 24 && t.contains('…')),
            "{got:?}"
        );
        assert!(got[0].contains("aarch64"), "{got:?}");
        assert!(got[1].contains("x86_64"), "{got:?}");
        assert!(got[3].contains("i686"), "{got:?}");
        // A lone id is cut near its middle.
        assert_eq!(cut_ids(&["abcdefghij"], 7), ["abc…hij"]);
    }

    #[test]
    fn cuts_keep_names_of_one_graph_distinct() {
        let ids = ["build-stable-aarch64-linux", "build-stable-armv7-linux"];
        for max in 6..=24 {
            let got = cut_ids(&ids, max);
            assert_ne!(got[0], got[1], "at {max} columns: {got:?}");
            assert!(got.iter().all(|t| t.width() <= max), "{got:?}");
        }
    }

    #[test]
    fn many_similar_ids_stay_distinct() {
        let ids: Vec<String> = (0..30)
            .map(|i| format!("build-stable-target{i:02}-unknown-linux-gnu"))
            .collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        for max in [12, 20, 30] {
            let got = cut_ids(&refs, max);
            let set: std::collections::HashSet<&String> = got.iter().collect();
            assert_eq!(set.len(), ids.len(), "{got:?}");
        }
    }

    #[test]
    fn a_cut_keeps_what_tells_an_id_from_the_others() {
        let ids = [
            "build-stable-x86_64-pc-windows-msvc",
            "build-beta-x86_64-pc-windows-msvc",
            "build-nightly-x86_64-pc-windows-msvc",
            "build-stable-x86_64-unknown-linux-gnu",
            "build-beta-x86_64-unknown-linux-gnu",
        ];
        for max in [16, 20, 24] {
            let got = cut_ids(&ids, max);
            for (i, t) in got.iter().enumerate() {
                assert!(t.width() <= max, "{got:?}");
                assert!(telling(t, i, &ids), "{t} could be another id: {got:?}");
            }
        }
    }

    #[test]
    fn wide_characters_count_two_columns() {
        let got = cut_ids(&["構築-ステージ-アーム"], 9);
        assert!(got[0].width() <= 9, "{got:?}");
        assert!(got[0].contains('…'));
    }
}
