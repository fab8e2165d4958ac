//! Random workflows for the tests that read a drawn graph back
//! (`signalbox::workflow::layout::read`) and compare its edges with the
//! workflow's.

use std::collections::BTreeSet;

use super::Rng;

/// A random DAG of `n` steps: each step's needs, all earlier steps.
/// Mixes chains, fans out and in, and edges that skip layers.
pub fn random_dag(rng: &mut Rng, n: usize) -> Vec<Vec<usize>> {
    let density = 1 + rng.below(4);
    (0..n)
        .map(|i| {
            let mut needs = BTreeSet::new();
            if i > 0 {
                for _ in 0..rng.below(density + 1) {
                    // Mostly near steps, sometimes far ones.
                    let back = if rng.below(4) == 0 { i } else { i.min(4) };
                    needs.insert(i - 1 - rng.below(back));
                }
            }
            needs.into_iter().collect()
        })
        .collect()
}

/// The workflow file of a DAG: steps `s0`, `s1`, ... that run `true`.
pub fn yaml(needs: &[Vec<usize>]) -> String {
    let mut out = String::from("name: random\nsteps:\n");
    for (i, ns) in needs.iter().enumerate() {
        out.push_str(&format!("  s{i}:\n    run: \"true\"\n"));
        if !ns.is_empty() {
            let list: Vec<String> = ns.iter().map(|n| format!("s{n}")).collect();
            out.push_str(&format!("    needs: [{}]\n", list.join(", ")));
        }
    }
    out
}

/// The edges of a DAG as (need, step) pairs of step ids.
pub fn edge_set(needs: &[Vec<usize>]) -> BTreeSet<(String, String)> {
    needs
        .iter()
        .enumerate()
        .flat_map(|(i, ns)| ns.iter().map(move |n| (format!("s{n}"), format!("s{i}"))))
        .collect()
}
