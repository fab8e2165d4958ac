//! Finding a step by id without copying the ids: a hash table of indices
//! into wherever the ids already are (the steps, a list of ids). A file of
//! 100,000 steps pays 4 bytes an id, not a second copy of each.

use std::hash::BuildHasher;

use hashbrown::hash_table::Entry;

/// foldhash, seeded per process: ids come from the workflow file, and a
/// file written to collide would still not know the seed.
type Hasher = hashbrown::DefaultHashBuilder;

#[derive(Debug, Clone, Default)]
pub struct NameIndex {
    table: hashbrown::HashTable<u32>,
    hasher: Hasher,
}

impl NameIndex {
    pub fn with_capacity(n: usize) -> NameIndex {
        NameIndex {
            table: hashbrown::HashTable::with_capacity(n),
            hasher: Hasher::default(),
        }
    }

    /// Where `name` is, if it was inserted.
    pub fn get<'a>(&self, name: &str, names: impl Fn(usize) -> Option<&'a str>) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        self.table
            .find(hash, |&j| names(j as usize) == Some(name))
            .map(|&j| j as usize)
    }

    /// Records that `name` is at `i`; returns where it already was instead,
    /// when it was. `names` must already hold `name` at `i`.
    pub fn insert<'a>(
        &mut self,
        i: usize,
        name: &str,
        names: impl Fn(usize) -> Option<&'a str>,
    ) -> Option<usize> {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(name);
        let entry = self.table.entry(
            hash,
            |&j| names(j as usize) == Some(name),
            |&j| hasher.hash_one(names(j as usize).unwrap_or_default()),
        );
        match entry {
            Entry::Occupied(first) => Some(*first.get() as usize),
            Entry::Vacant(slot) => {
                // Past 4 billion steps nothing is indexed; files are far smaller.
                if let Ok(at) = u32::try_from(i) {
                    slot.insert(at);
                }
                None
            }
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_names_where_they_are_and_keeps_the_first_of_repeats() {
        let ids = ["b", "a", "c", "a"];
        let at = |i: usize| ids.get(i).copied();
        let mut index = NameIndex::default();
        let repeats: Vec<_> = (0..ids.len())
            .map(|i| index.insert(i, ids[i], at))
            .collect();
        assert_eq!(repeats, [None, None, None, Some(1)]);
        assert_eq!(index.get("a", at), Some(1));
        assert_eq!(index.get("c", at), Some(2));
        assert_eq!(index.get("z", at), None);
        assert_eq!(index.len(), 3);
        let mut grown = NameIndex::with_capacity(1);
        let many: Vec<String> = (0..1000).map(|i| format!("s{i}")).collect();
        let at = |i: usize| many.get(i).map(String::as_str);
        for (i, id) in many.iter().enumerate() {
            assert_eq!(grown.insert(i, id, at), None);
        }
        assert_eq!(grown.insert(5, "s3", at), Some(3));
        assert!((0..1000).all(|i| grown.get(&many[i], at) == Some(i)));
    }
}
