//! A matrix's combinations, by GitHub Actions' rules: the axes' cross
//! product in axis order, then value order; `exclude` removes every
//! combination it matches (partially); then each `include` entry adds its
//! keys to every combination whose axis values it does not overwrite, or
//! else becomes a combination of its own. Pure: no positions, no errors
//! but the ones a matrix can have on its own.

use super::super::spec::MatrixSpec;

/// The most instances one matrix step may have (SPEC §1).
pub const MAX_INSTANCES: usize = 10_000;

/// Cross products larger than this are refused before they are walked:
/// no `exclude` list could bring them under [`MAX_INSTANCES`] by design.
const MAX_WALKED: usize = 1_000_000;

/// One combination: a value, or none, for each of [`Expansion::keys`].
pub type Combination = Vec<Option<String>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    /// The axes in file order, then the keys only `include` adds, in the
    /// order they first appear.
    pub keys: Vec<String>,
    /// How many of `keys` are axes.
    pub axes: usize,
    pub combinations: Vec<Combination>,
    /// For each combination, the `include` entry that made it, if one did.
    pub made_by: Vec<Option<usize>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// More than [`MAX_INSTANCES`]; the count, or a lower bound of it.
    TooMany(usize),
    /// `exclude` entry `n` names key, which is not an axis.
    ExcludeKey(usize, String),
    /// Every combination was excluded, and `include` adds none.
    Empty,
    /// An axis has no values (reported where the file is read).
    EmptyAxis,
}

impl Expansion {
    /// The instance KEY of combination `c`: its axis values in axis order
    /// joined by `-` (keys only `include` adds left out), each character
    /// other than letters, digits, `_` and `-` made `_`.
    pub fn key(&self, c: &Combination) -> String {
        join_key(c[..self.axes].iter().flatten().map(String::as_str))
    }
}

/// Values joined by `-` and [`sanitize`]d; an empty value stands as `_`,
/// so `flags: ["", "--release"]` gives `STEP:_` rather than an id that
/// ends in `:`.
pub fn join_key<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let values: Vec<&str> = values.map(|v| if v.is_empty() { "_" } else { v }).collect();
    sanitize(&values.join("-"))
}

/// Characters other than letters, digits, `_` and `-` become `_`.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn expand(m: &MatrixSpec) -> Result<Expansion, Problem> {
    if m.axes.iter().any(|(_, values)| values.is_empty()) {
        return Err(Problem::EmptyAxis);
    }
    let mut keys: Vec<String> = m.axes.iter().map(|(k, _)| k.clone()).collect();
    let axes = keys.len();
    for combo in &m.include {
        for (k, _) in &combo.0 {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let at = |k: &str| keys.iter().position(|x| x == k);
    // Exclude entries as (axis, value) pairs.
    let mut exclude: Vec<Vec<(usize, &str)>> = Vec::with_capacity(m.exclude.len());
    for (n, combo) in m.exclude.iter().enumerate() {
        let mut pairs = Vec::with_capacity(combo.0.len());
        for (k, v) in &combo.0 {
            match at(k).filter(|&a| a < axes) {
                Some(a) => pairs.push((a, v.0.as_str())),
                None => return Err(Problem::ExcludeKey(n, k.clone())),
            }
        }
        exclude.push(pairs);
    }
    let mut combinations = cross(m, &keys, &exclude)?;
    let mut made_by = vec![None; combinations.len()];
    let originals = combinations.len();
    for (n, combo) in m.include.iter().enumerate() {
        let entry: Vec<(usize, &str)> = combo
            .0
            .iter()
            .filter_map(|(k, v)| at(k).map(|a| (a, v.0.as_str())))
            .collect();
        let mut added = false;
        for c in &mut combinations[..originals] {
            let fits = entry
                .iter()
                .all(|&(a, v)| a >= axes || c[a].as_deref() == Some(v));
            if fits {
                added = true;
                for &(a, v) in &entry {
                    c[a] = Some(v.to_string());
                }
            }
        }
        if !added {
            let mut c = vec![None; keys.len()];
            for &(a, v) in &entry {
                c[a] = Some(v.to_string());
            }
            combinations.push(c);
            made_by.push(Some(n));
        }
    }
    match combinations.len() {
        0 => Err(Problem::Empty),
        n if n > MAX_INSTANCES => Err(Problem::TooMany(n)),
        _ => Ok(Expansion {
            keys,
            axes,
            combinations,
            made_by,
        }),
    }
}

/// The axes' cross product less what `exclude` matches; none without axes.
fn cross(
    m: &MatrixSpec,
    keys: &[String],
    exclude: &[Vec<(usize, &str)>],
) -> Result<Vec<Combination>, Problem> {
    if m.axes.is_empty() {
        return Ok(Vec::new());
    }
    let total = m
        .axes
        .iter()
        .fold(1usize, |n, (_, vs)| n.saturating_mul(vs.len()));
    if total > MAX_WALKED {
        return Err(Problem::TooMany(total));
    }
    let mut out = Vec::new();
    let mut counted = 0;
    // Odometer over value indices, the last axis turning fastest.
    let mut idx = vec![0usize; m.axes.len()];
    for _ in 0..total {
        let value = |a: usize| m.axes[a].1[idx[a]].0.as_str();
        let excluded = exclude
            .iter()
            .any(|pairs| pairs.iter().all(|&(a, v)| value(a) == v));
        if !excluded {
            counted += 1;
            // Past the limit only the count matters.
            if counted <= MAX_INSTANCES {
                let mut c: Combination = vec![None; keys.len()];
                for (a, slot) in c.iter_mut().enumerate().take(m.axes.len()) {
                    *slot = Some(value(a).to_string());
                }
                out.push(c);
            }
        }
        for a in (0..idx.len()).rev() {
            idx[a] += 1;
            if idx[a] < m.axes[a].1.len() {
                break;
            }
            idx[a] = 0;
        }
    }
    if counted > MAX_INSTANCES {
        return Err(Problem::TooMany(counted));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
