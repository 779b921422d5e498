//! [`Indexed`]: a recycled vector of keyed entries with O(1) lookup by key.
//!
//! Most entities carry a handful of annotations or metadata keys, and a short scan beats
//! hashing for those; beyond [`LINEAR_MAX`] entries a hash index of positions takes over, so
//! an entity with 50 000 keys does not make every put scan every earlier entry.

use std::hash::{BuildHasher, Hash};

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::recycle::{Recycle, Reset};

/// Entries looked up by a scan; the index is built when a push goes past this many.
pub(crate) const LINEAR_MAX: usize = 8;

/// An entry that has a key.
pub(crate) trait Keyed {
    /// Hashes the entry's key with `state` (the same hash [`Indexed::hash`] gives its key).
    fn key_hash(&self, state: &DefaultHashBuilder) -> u64;
}

/// A [`Recycle`] whose entries are found by key without a scan once there are many.
#[derive(Debug, Default)]
pub(crate) struct Indexed<T> {
    items: Recycle<T>,
    /// Positions in `items`; kept in step with them only while `items.len() > LINEAR_MAX`.
    index: HashTable<u32>,
    state: DefaultHashBuilder,
}

impl<T: Reset + Keyed> Indexed<T> {
    /// The position of the entry whose key is `key` (hashed as [`Keyed::key_hash`] hashes
    /// it), for which `eq` holds. Short lists are scanned without hashing.
    pub(crate) fn find(&self, key: impl Hash, mut eq: impl FnMut(&T) -> bool) -> Option<usize> {
        let items = self.items.as_slice();
        if items.len() <= LINEAR_MAX {
            return items.iter().position(eq);
        }
        let hash = self.state.hash_one(key);
        self.index
            .find(hash, |&i| eq(&items[i as usize]))
            .map(|&i| i as usize)
    }

    /// Appends an entry (a recycled one, emptied), lets `fill` write its key and value, and
    /// indexes it. `fill` must give the entry a key no other entry has.
    pub(crate) fn push_with(&mut self, fill: impl FnOnce(&mut T)) -> usize {
        let pos = self.items.len();
        fill(self.items.push());
        let Indexed {
            items,
            index,
            state,
        } = self;
        let items = items.as_slice();
        let rehash = |&i: &u32| items[i as usize].key_hash(state);
        if pos == LINEAR_MAX {
            // Crossing the threshold: index everything recorded so far.
            index.clear();
            for (i, item) in items.iter().enumerate() {
                index.insert_unique(item.key_hash(state), i as u32, rehash);
            }
        } else if pos > LINEAR_MAX {
            index.insert_unique(items[pos].key_hash(state), pos as u32, rehash);
        }
        pos
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.index.clear();
    }

    /// Frees what one unusually large use left behind: spare entries beyond `keep`, an index
    /// sized for more than `keep`, and long strings in the kept entries (through `trim`).
    pub(crate) fn trim(&mut self, keep: usize, trim: impl FnMut(&mut T)) {
        self.items.shrink_spare(keep);
        self.items.for_each_stored(trim);
        if self.index.capacity() > keep {
            self.index.clear();
            self.index.shrink_to(0, |_| 0);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        self.items.as_slice()
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        self.items.as_mut_slice()
    }

    pub(crate) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.items.get_mut(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Entry(String);
    impl Reset for Entry {
        fn reset(&mut self) {
            self.0.clear();
        }
    }
    impl Keyed for Entry {
        fn key_hash(&self, state: &DefaultHashBuilder) -> u64 {
            state.hash_one(self.0.as_str())
        }
    }

    fn find(ix: &Indexed<Entry>, key: &str) -> Option<usize> {
        ix.find(key, |e| e.0 == key)
    }

    #[test]
    fn finds_entries_before_and_after_the_index_is_built() {
        let mut ix = Indexed::<Entry>::default();
        for n in 0..1000 {
            let key = format!("k{n}");
            assert_eq!(find(&ix, &key), None);
            let pos = ix.push_with(|e| e.0.push_str(&key));
            assert_eq!(pos, n);
            assert_eq!(find(&ix, &key), Some(n), "{key}");
            if n > 0 {
                assert_eq!(find(&ix, "k0"), Some(0));
            }
        }
        assert_eq!(ix.index.len(), 1000);
        ix.clear();
        assert_eq!(find(&ix, "k3"), None);
        ix.push_with(|e| e.0.push_str("again"));
        assert_eq!(find(&ix, "again"), Some(0));
    }

    #[test]
    fn trim_releases_spare_entries_and_the_index() {
        let mut ix = Indexed::<Entry>::default();
        for n in 0..500 {
            let key = format!("key{n}");
            ix.push_with(|e| e.0.push_str(&key));
        }
        ix.clear();
        ix.trim(16, |e| e.0.shrink_to_fit());
        assert!(ix.index.capacity() <= 16);
        assert!(ix.items.stored_len() <= 16);
        for n in 0..20 {
            let key = format!("key{n}");
            ix.push_with(|e| e.0.push_str(&key));
        }
        assert_eq!(find(&ix, "key19"), Some(19));
    }
}
