//! Metadata as stored: namespaces in first-use order, each with its keys in first-use order,
//! the values already serialised in the tree's byte arena ([`MetaArena`]).
//!
//! Keys are found through [`Indexed`], so a put costs O(1) however many keys the entity has.
//! A replaced value is overwritten in place when the new one is not longer; otherwise the old
//! bytes become garbage, and the arena is compacted once garbage outweighs live bytes, so
//! overwriting one key forever keeps memory flat.

use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;

use crate::recycle::Reset;

use super::entity::{Entity, NONE};
use super::indexed::{Indexed, Keyed};

/// Entries kept per entity across resets (more are freed after a large invocation).
pub(crate) const ENTRIES_KEEP: usize = 16;
/// Capacity kept by a key string across resets.
pub(crate) const STRING_KEEP: usize = 1024;

/// One namespace of an entity's metadata and the chain of its entries.
#[derive(Debug)]
pub(crate) struct MetaNamespace {
    pub(crate) name: String,
    pub(crate) first: u32,
    pub(crate) last: u32,
}

impl Default for MetaNamespace {
    fn default() -> Self {
        MetaNamespace {
            name: String::new(),
            first: NONE,
            last: NONE,
        }
    }
}

impl Reset for MetaNamespace {
    fn reset(&mut self) {
        self.name.clear();
        self.first = NONE;
        self.last = NONE;
    }
}

impl Keyed for MetaNamespace {
    fn key_hash(&self, state: &DefaultHashBuilder) -> u64 {
        state.hash_one(self.name.as_str())
    }
}

/// A metadata entry: its JSON value is `arena[start..end]`.
#[derive(Debug)]
pub(crate) struct MetadataEntry {
    /// Position of its namespace in [`Metadata::namespaces`].
    pub(crate) ns: u32,
    pub(crate) key: String,
    pub(crate) start: u32,
    pub(crate) end: u32,
    /// The next entry of the same namespace, or `NONE`.
    pub(crate) next: u32,
}

impl MetadataEntry {
    pub(crate) fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
}

impl Default for MetadataEntry {
    fn default() -> Self {
        MetadataEntry {
            ns: 0,
            key: String::new(),
            start: 0,
            end: 0,
            next: NONE,
        }
    }
}

impl Reset for MetadataEntry {
    fn reset(&mut self) {
        self.ns = 0;
        self.key.clear();
        self.start = 0;
        self.end = 0;
        self.next = NONE;
    }
}

impl Keyed for MetadataEntry {
    fn key_hash(&self, state: &DefaultHashBuilder) -> u64 {
        state.hash_one((self.ns, self.key.as_str()))
    }
}

/// The metadata of one entity.
#[derive(Debug, Default)]
pub(crate) struct Metadata {
    pub(crate) namespaces: Indexed<MetaNamespace>,
    pub(crate) entries: Indexed<MetadataEntry>,
}

impl Metadata {
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.namespaces.clear();
        self.entries.clear();
    }

    pub(crate) fn trim(&mut self) {
        self.namespaces
            .trim(ENTRIES_KEEP, |n| trim_string(&mut n.name));
        self.entries.trim(ENTRIES_KEEP, |e| trim_string(&mut e.key));
    }

    pub(crate) fn namespace(&self, name: &str) -> Option<usize> {
        self.namespaces.find(name, |n| n.name == name)
    }

    /// The position of the entry `namespace` / `key`.
    pub(crate) fn find(&self, namespace: &str, key: &str) -> Option<usize> {
        let ns = self.namespace(namespace)? as u32;
        self.entries.find((ns, key), |e| e.ns == ns && e.key == key)
    }

    /// Adds an entry that [`Metadata::find`] did not find.
    pub(crate) fn insert(&mut self, namespace: &str, key: &str, start: usize, end: usize) {
        let ns = match self.namespace(namespace) {
            Some(i) => i,
            None => self.namespaces.push_with(|n| n.name.push_str(namespace)),
        };
        let pos = self.entries.push_with(|e| {
            e.ns = ns as u32;
            e.key.push_str(key);
            e.start = start as u32;
            e.end = end as u32;
        }) as u32;
        let group = &mut self.namespaces.as_mut_slice()[ns];
        if group.last == NONE {
            group.first = pos;
        } else {
            self.entries.as_mut_slice()[group.last as usize].next = pos;
        }
        group.last = pos;
    }

    /// The entries of one namespace, in first-use order.
    pub(crate) fn group<'a>(
        &'a self,
        ns: &MetaNamespace,
    ) -> impl Iterator<Item = &'a MetadataEntry> + 'a {
        let entries = self.entries.as_slice();
        let mut next = ns.first;
        std::iter::from_fn(move || {
            let e = entries.get(next as usize)?;
            next = e.next;
            Some(e)
        })
    }
}

fn trim_string(s: &mut String) {
    if s.capacity() > STRING_KEEP {
        s.clear();
        s.shrink_to(STRING_KEEP);
    }
}

/// Below this much garbage the arena is never compacted (copying would cost more than it saves).
const COMPACT_MIN_GARBAGE: usize = 64 * 1024;
/// Arena capacity kept across resets.
const ARENA_KEEP_BYTES: usize = 256 * 1024;

/// The serialised metadata values of every entity of a tree.
#[derive(Debug, Default)]
pub(crate) struct MetaArena {
    pub(crate) bytes: Vec<u8>,
    /// The compaction target, kept so a warm tree compacts without allocating.
    spare: Vec<u8>,
    /// Bytes no entry refers to any more.
    garbage: usize,
    /// Compactions since the tree was created (tests read it).
    pub(crate) compactions: u64,
}

impl MetaArena {
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.garbage = 0;
        for b in [&mut self.bytes, &mut self.spare] {
            if b.capacity() > ARENA_KEEP_BYTES {
                b.shrink_to(ARENA_KEEP_BYTES);
            }
        }
    }

    pub(crate) fn value(&self, e: &MetadataEntry) -> &[u8] {
        &self.bytes[e.start as usize..e.end as usize]
    }

    /// Puts the value just serialised at `arena[start..]` into `old`'s place: overwritten in
    /// place when it fits, otherwise moved to the new bytes (the old ones become garbage).
    pub(crate) fn replace(&mut self, old: &mut MetadataEntry, start: usize) {
        let new_len = self.bytes.len() - start;
        let old_len = old.len();
        if new_len <= old_len {
            let at = old.start as usize;
            self.bytes.copy_within(start.., at);
            self.bytes.truncate(start);
            old.end = (at + new_len) as u32;
            self.garbage += old_len - new_len;
        } else {
            old.start = start as u32;
            old.end = self.bytes.len() as u32;
            self.garbage += old_len;
        }
    }

    /// True when garbage outweighs live bytes (and is worth a copy).
    pub(crate) fn needs_compaction(&self) -> bool {
        self.garbage >= COMPACT_MIN_GARBAGE && self.garbage > self.bytes.len() - self.garbage
    }

    /// Copies every live value of `nodes` into the spare buffer, in node order, and swaps.
    pub(crate) fn compact(&mut self, nodes: &mut [Entity]) {
        self.spare.clear();
        for node in nodes {
            for e in node.metadata.entries.as_mut_slice() {
                let start = self.spare.len();
                self.spare
                    .extend_from_slice(&self.bytes[e.start as usize..e.end as usize]);
                e.start = start as u32;
                e.end = self.spare.len() as u32;
            }
        }
        std::mem::swap(&mut self.bytes, &mut self.spare);
        self.garbage = 0;
        self.compactions += 1;
    }

    #[cfg(test)]
    pub(crate) fn garbage(&self) -> usize {
        self.garbage
    }
}
