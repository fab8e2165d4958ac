//! Where each step's values were written, kept for the checks that come
//! after conversion. A file of 100,000 steps has a few positions per step,
//! so they are kept end to end in two lists, not in lists of their own.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;

use super::super::diag::Pos;
use super::super::name_index::NameIndex;
use super::super::read::Spots;

/// Where things were written, for the checks that come after conversion.
#[derive(Debug, Clone, Default)]
pub struct Located {
    /// Top-level keys (`vars.target`, `breakers.registry`, ...).
    pub top: Spots,
    /// Per step in file order: its id, and where its keys and needs start.
    steps: Vec<StepAt>,
    keys: Vec<(Cow<'static, str>, Pos)>,
    needs: Vec<Pos>,
    /// The steps by id, as indices into the spec's steps: the same indices
    /// the workflow's steps have, so one index serves to the end.
    pub ids: NameIndex,
    /// For steps with more than [`SCAN_KEYS`] keys (an `env` of thousands),
    /// their keys by path: built on the first look into such a step, since
    /// every error placed in it looks.
    many: OnceCell<HashMap<usize, HashMap<String, Pos>>>,
    /// After a matrix is expanded: for each step of the workflow, the
    /// written step it came from (an instance is where its matrix step is).
    written: Option<Vec<u32>>,
}

/// Up to this many keys, a step's are looked through one by one.
const SCAN_KEYS: usize = 32;

#[derive(Debug, Clone, Copy, Default)]
struct StepAt {
    id: Pos,
    keys: u32,
    needs: u32,
}

/// One step's positions while it is converted; [`Located::push`] keeps them.
#[derive(Debug, Clone, Default)]
pub struct StepSpots {
    pub id: Pos,
    pub needs: Vec<Pos>,
    pub keys: Spots,
}

impl Located {
    /// Keeps `s` as the next step's, leaving it empty for the next step.
    pub fn push(&mut self, s: &mut StepSpots) {
        self.many = OnceCell::new();
        self.steps.push(StepAt {
            id: s.id,
            keys: offset(self.keys.len()),
            needs: offset(self.needs.len()),
        });
        s.keys.move_into(&mut self.keys);
        self.needs.append(&mut s.needs);
    }

    /// From now on step `i` is written where step `written[i]` was: the
    /// steps are the expanded ones, each instance where its matrix step is.
    pub fn expand(&mut self, written: Vec<u32>) {
        self.written = Some(written);
    }

    /// The written step that step `i` is.
    pub fn written(&self, i: usize) -> usize {
        match &self.written {
            Some(w) => w.get(i).map_or(usize::MAX, |&j| j as usize),
            None => i,
        }
    }

    /// Where step `i`'s id is.
    pub fn id(&self, i: usize) -> Pos {
        self.steps.get(self.written(i)).map_or(Pos::START, |s| s.id)
    }

    /// Where the `k`th of step `i`'s needs is, if it was a list item.
    pub fn need(&self, i: usize, k: usize) -> Option<Pos> {
        let (_, needs) = self.ranges(self.written(i))?;
        self.needs.get(needs).and_then(|n| n.get(k)).copied()
    }

    /// Where the value under `path` (`"run"`, `"env.HOME"`) of step `i` is.
    pub fn key(&self, i: usize, path: &str) -> Option<Pos> {
        let i = self.written(i);
        let (keys, _) = self.ranges(i)?;
        let keys = self.keys.get(keys)?;
        if keys.len() <= SCAN_KEYS {
            return keys.iter().find(|(p, _)| p == path).map(|(_, pos)| *pos);
        }
        self.many
            .get_or_init(|| self.index_many())
            .get(&i)
            .and_then(|index| index.get(path))
            .copied()
    }

    fn index_many(&self) -> HashMap<usize, HashMap<String, Pos>> {
        let mut out = HashMap::new();
        for i in 0..self.steps.len() {
            let Some((keys, _)) = self.ranges(i) else {
                continue;
            };
            let Some(keys) = self.keys.get(keys).filter(|k| k.len() > SCAN_KEYS) else {
                continue;
            };
            let index: &mut HashMap<String, Pos> = out.entry(i).or_default();
            for (path, pos) in keys {
                // The first, when a path was added twice, as when scanning.
                index.entry(path.to_string()).or_insert(*pos);
            }
        }
        out
    }

    fn ranges(&self, i: usize) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
        let at = self.steps.get(i)?;
        let (keys_end, needs_end) = match self.steps.get(i + 1) {
            Some(next) => (next.keys as usize, next.needs as usize),
            None => (self.keys.len(), self.needs.len()),
        };
        Some((at.keys as usize..keys_end, at.needs as usize..needs_end))
    }
}

/// Offsets fit in 32 bits: a workflow file is at most 10 MiB.
fn offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_finds_its_own_positions() {
        let mut located = Located::default();
        let mut s = StepSpots::default();
        for i in 0..3u32 {
            s.id = Pos {
                line: i + 1,
                col: 3,
            };
            s.keys.add(
                "run",
                Pos {
                    line: i + 1,
                    col: 8,
                },
            );
            if i != 1 {
                s.needs = vec![
                    Pos {
                        line: 10 + i,
                        col: 1,
                    },
                    Pos {
                        line: 20 + i,
                        col: 1,
                    },
                ];
                s.keys.add(
                    "env.A",
                    Pos {
                        line: 30 + i,
                        col: 1,
                    },
                );
            }
            located.push(&mut s);
            assert!(s.needs.is_empty() && s.keys.0.is_empty());
        }
        assert_eq!(located.id(1), Pos { line: 2, col: 3 });
        assert_eq!(located.key(2, "run"), Some(Pos { line: 3, col: 8 }));
        assert_eq!(located.key(1, "env.A"), None);
        assert_eq!(located.key(2, "env.A"), Some(Pos { line: 32, col: 1 }));
        assert_eq!(located.need(0, 1), Some(Pos { line: 20, col: 1 }));
        assert_eq!(located.need(1, 0), None);
        assert_eq!(located.need(2, 0), Some(Pos { line: 12, col: 1 }));
        assert_eq!(located.need(2, 2), None);
        assert_eq!(located.id(9), Pos::START);
    }

    #[test]
    fn a_step_with_many_keys_finds_each_the_first_time_it_was_written() {
        let mut located = Located::default();
        let mut s = StepSpots::default();
        s.keys.add("run", Pos { line: 1, col: 1 });
        located.push(&mut s);
        for k in 0..1000u32 {
            s.keys.add(
                format!("env.K{k}"),
                Pos {
                    line: k + 2,
                    col: 5,
                },
            );
        }
        s.keys.add("env.K7", Pos { line: 9999, col: 1 });
        located.push(&mut s);
        assert_eq!(located.key(1, "env.K999"), Some(Pos { line: 1001, col: 5 }));
        assert_eq!(located.key(1, "env.K7"), Some(Pos { line: 9, col: 5 }));
        assert_eq!(located.key(1, "run"), None);
        assert_eq!(located.key(0, "run"), Some(Pos { line: 1, col: 1 }));
    }
}
