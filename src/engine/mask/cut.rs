//! A line cut at 64 KiB (SPEC §6) may split a secret: its first piece ends
//! with the secret's start, the next begins with its end, and neither holds
//! a whole one. So at a cut, the longest end of the first piece that starts
//! some secret line is masked, and the longest start of the next that ends
//! one. That may mask a few ordinary bytes at a cut, never leave a part of
//! a secret. Each is one pass of the Knuth-Morris-Pratt automaton per
//! pattern: linear, however long the secret.

/// The length of the longest end of `text` that is a proper start of one of
/// `patterns` (a whole one is a match, masked as any other).
pub(super) fn longest_tail(patterns: &[Vec<u8>], text: &[u8]) -> Option<usize> {
    patterns
        .iter()
        .map(|p| tail_in(p, text))
        .max()
        .filter(|&n| n > 0)
}

/// The length of the longest start of `text` that is a proper end of one of
/// `patterns`.
pub(super) fn longest_head(patterns: &[Vec<u8>], text: &[u8]) -> Option<usize> {
    let reversed: Vec<u8> = text.iter().rev().copied().collect();
    patterns
        .iter()
        .map(|p| {
            let p: Vec<u8> = p.iter().rev().copied().collect();
            tail_in(&p, &reversed)
        })
        .max()
        .filter(|&n| n > 0)
}

/// How much of `p`'s start, short of all of it, `text` ends with.
fn tail_in(p: &[u8], text: &[u8]) -> usize {
    if p.len() < 2 {
        return 0;
    }
    // Only the last `p.len() - 1` bytes can take part.
    let text = &text[text.len().saturating_sub(p.len() - 1)..];
    let fail = failure(p);
    let mut k = 0;
    for &b in text {
        while k > 0 && (k == p.len() || p[k] != b) {
            k = fail[k - 1];
        }
        if p[k] == b {
            k += 1;
        }
    }
    if k == p.len() { fail[k - 1] } else { k }
}

/// `fail[i]`: the longest proper start of `p[..=i]` that is also its end.
fn failure(p: &[u8]) -> Vec<usize> {
    let mut fail = vec![0; p.len()];
    let mut k = 0;
    for i in 1..p.len() {
        while k > 0 && p[i] != p[k] {
            k = fail[k - 1];
        }
        if p[i] == p[k] {
            k += 1;
        }
        fail[i] = k;
    }
    fail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_part_of_a_secret_at_a_cut() {
        let p = vec![b"s3cr3t-value".to_vec()];
        assert_eq!(longest_tail(&p, b"xxxxs3cr3"), Some(5));
        assert_eq!(longest_tail(&p, b"xxxx"), None);
        // A whole secret is a match, not a cut part of one.
        assert_eq!(longest_tail(&p, b"xs3cr3t-value"), None);
        assert_eq!(longest_head(&p, b"t-valueyyy"), Some(7));
        assert_eq!(longest_head(&p, b"yyy"), None);
        let p = vec![b"aaab".to_vec()];
        assert_eq!(longest_tail(&p, b"xaaaa"), Some(3));
        assert_eq!(longest_head(&p, b"abz"), Some(2));
    }
}
