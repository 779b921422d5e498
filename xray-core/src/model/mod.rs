//! The segment model: a tree of segments and subsegments for one trace, built in reusable
//! storage.
//!
//! An [`EntityTree`] holds every entity one trace root produces in a process (a service
//! segment and its subsegments, or in Lambda the handler subsegment and everything below it).
//! Entities live in one flat, recycled vector and refer to each other by index; their strings,
//! annotations and metadata reuse the buffers of the previous use. After a few invocations of
//! the same shape, recording allocates nothing.

mod access;
mod aws_params;
mod budget;
mod cause;
mod counts;
mod entity;
mod entries;
mod exceptions;
mod fields;
mod indexed;
mod metadata;
mod record;

pub use aws_params::AwsParam;
pub use budget::{MAX_ENTITY_BYTES, MAX_METADATA_DEPTH};
pub(crate) use cause::ErrorText;
pub use cause::{MAX_CHAIN, MAX_MESSAGE_CHARS};
pub use counts::RecordCounts;
pub use entity::EntityKind;
pub(crate) use entity::{Emission, Entity, Extras, NONE};
pub use fields::{Namespace, SqlPreparation};
pub(crate) use metadata::MetaArena;
pub use record::EntityMut;

// The model's limits and clock, named where the model is.
pub use crate::annotation::{
    MAX_ANNOTATION_KEY_LEN, MAX_ANNOTATION_STRING_CHARS, is_valid_annotation_key,
    is_valid_metadata_namespace,
};
pub use crate::name::{MAX_NAME_CHARS, is_name_char, is_valid_name, sanitize_name_into};
pub use crate::runtime::recording::MAX_ENTITIES;
pub use crate::time::{Clock, ManualClock, Timestamp};

use crate::id::{SegmentId, TraceId};
use crate::recycle::Recycle;

/// A handle to one entity of an [`EntityTree`]. Only meaningful for the tree that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntityIndex(pub(crate) u32);

/// How new entity ids are chosen.
#[derive(Debug, Clone, Copy)]
enum IdSource {
    Random,
    /// Deterministic ids for tests: the counter's next values.
    Sequential(u64),
}

/// The entities of one trace root, in reusable storage.
///
/// ```
/// use xray_core::{Namespace, TraceId, model::{EntityTree, Timestamp}};
///
/// let mut tree = EntityTree::new(TraceId::random());
/// let t0 = Timestamp::from_micros(1_700_000_000_000_000);
/// let root = tree.begin_segment("orders-api", None, t0);
/// let ddb = tree.begin_subsegment(root, "DynamoDB", t0);
/// tree.entity_mut(ddb).set_namespace(Namespace::Aws).aws_operation("UpdateItem");
/// tree.entity_mut(root).put_annotation("tier", "gold").unwrap();
/// tree.end(ddb, Timestamp::from_micros(1_700_000_000_001_000));
/// tree.end(root, Timestamp::from_micros(1_700_000_000_002_000));
///
/// let mut buf = Vec::new();
/// xray_core::wire::write_document(&tree, root, &mut buf);
/// let doc: serde_json::Value = serde_json::from_slice(&buf).unwrap();
/// assert_eq!(doc["subsegments"][0]["aws"]["operation"], "UpdateItem");
/// ```
#[derive(Debug)]
pub struct EntityTree {
    pub(crate) trace_id: TraceId,
    pub(crate) nodes: Recycle<Entity>,
    /// Serialised metadata values, referenced by range from `MetadataEntry`.
    pub(crate) meta: MetaArena,
    pub(crate) counts: RecordCounts,
    /// The deepest level any entity sits at (so shallow trees skip the nesting check).
    pub(crate) max_depth: u32,
    ids: IdSource,
}

/// Node slots kept across resets.
const NODES_KEEP: usize = 4096;
/// About how much the slots of a tree keep for reuse across resets (see
/// [`Entity::held_bytes`]): a steady workload under it records without allocating, and one
/// far larger invocation leaves no more than this behind.
const TREE_KEEP_BYTES: usize = 512 * 1024;

impl EntityTree {
    /// An empty tree for the given trace.
    pub fn new(trace_id: TraceId) -> EntityTree {
        EntityTree {
            trace_id,
            nodes: Recycle::default(),
            meta: MetaArena::default(),
            counts: RecordCounts::default(),
            max_depth: 0,
            ids: IdSource::Random,
        }
    }

    /// Empties the tree for another trace, keeping its buffers.
    pub fn reset(&mut self, trace_id: TraceId) {
        self.trace_id = trace_id;
        // Emptied now rather than on reuse, so a slot the next invocations never reach does
        // not keep a large invocation's vectors for the life of the process.
        // Past TREE_KEEP_BYTES, slots are released outright: each trimmed slot is bounded,
        // but thousands of them would not be.
        let mut held = 0;
        for node in self.nodes.as_mut_slice() {
            held += node.held_bytes();
            if held > TREE_KEEP_BYTES {
                *node = Entity::default();
            } else {
                node.reset_and_trim();
            }
        }
        self.nodes.clear();
        self.nodes.shrink_spare(NODES_KEEP);
        self.meta.clear();
        self.counts = RecordCounts::default();
        self.max_depth = 0;
    }

    /// Makes new ids deterministic: `start`, `start + 1`, … (tests and reproducible examples).
    pub fn use_sequential_ids(&mut self, start: u64) {
        self.ids = IdSource::Sequential(start.max(1));
    }

    /// The trace every entity of this tree belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// Repairs and rejections made so far.
    pub fn counts(&self) -> RecordCounts {
        self.counts
    }

    /// Number of entities recorded.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn next_id(&mut self) -> SegmentId {
        match &mut self.ids {
            IdSource::Random => SegmentId::random(),
            IdSource::Sequential(n) => {
                let id = SegmentId::from_u64(*n);
                *n = n.wrapping_add(1).max(1);
                id
            }
        }
    }

    fn push_node(
        &mut self,
        name: &str,
        kind: EntityKind,
        parent: u32,
        upstream: Option<SegmentId>,
        start: Timestamp,
    ) -> EntityIndex {
        self.push_node_named(name, false, kind, parent, upstream, start)
    }

    fn push_node_named(
        &mut self,
        name: &str,
        name_is_valid: bool,
        kind: EntityKind,
        parent: u32,
        upstream: Option<SegmentId>,
        start: Timestamp,
    ) -> EntityIndex {
        let id = self.next_id();
        let index = self.nodes.len() as u32;
        let node = self.nodes.push();
        if name_is_valid {
            debug_assert!(crate::name::is_valid_name(name), "{name:?}");
            node.name.clear();
            node.name.push_str(name);
        } else if sanitize_name_into(name, &mut node.name) {
            self.counts.names_sanitized += 1;
        }
        node.id = id;
        node.kind = kind;
        node.parent = parent;
        node.depth = 0;
        node.upstream_parent = upstream;
        node.first_child = NONE;
        node.last_child = NONE;
        node.next_sibling = NONE;
        node.start = start;
        if parent != NONE {
            let depth = self.nodes.as_slice()[parent as usize].depth + 1;
            self.nodes.as_mut_slice()[index as usize].depth = depth;
            self.max_depth = self.max_depth.max(depth);
            let p = &mut self.nodes.as_mut_slice()[parent as usize];
            let prev_last = p.last_child;
            p.last_child = index;
            if prev_last == NONE {
                p.first_child = index;
            } else {
                self.nodes.as_mut_slice()[prev_last as usize].next_sibling = index;
            }
        }
        EntityIndex(index)
    }

    /// Opens a segment: the top-level record of a service for one request. `parent_id` is the
    /// upstream caller's id from the trace header, if any.
    pub fn begin_segment(
        &mut self,
        name: &str,
        parent_id: Option<SegmentId>,
        start: Timestamp,
    ) -> EntityIndex {
        self.push_node(name, EntityKind::Segment, NONE, parent_id, start)
    }

    /// [`EntityTree::begin_segment`] for a name already known to be valid (sanitised once
    /// when a service tracer was built), skipping the per-request check.
    #[cfg(feature = "service")]
    pub(crate) fn begin_segment_valid_name(
        &mut self,
        name: &str,
        parent_id: Option<SegmentId>,
        start: Timestamp,
    ) -> EntityIndex {
        self.push_node_named(name, true, EntityKind::Segment, NONE, parent_id, start)
    }

    /// Opens a subsegment whose parent lives elsewhere (in Lambda, the function segment that
    /// Lambda itself records). It is sent as an independent subsegment document.
    pub fn begin_detached_subsegment(
        &mut self,
        name: &str,
        parent_id: SegmentId,
        start: Timestamp,
    ) -> EntityIndex {
        self.push_node(name, EntityKind::Subsegment, NONE, Some(parent_id), start)
    }

    /// Opens a subsegment under `parent`.
    pub fn begin_subsegment(
        &mut self,
        parent: EntityIndex,
        name: &str,
        start: Timestamp,
    ) -> EntityIndex {
        self.push_node(name, EntityKind::Subsegment, parent.0, None, start)
    }

    /// [`EntityTree::begin_subsegment`] for a name already known to be valid (checked when a
    /// macro expanded), skipping the run-time check.
    pub(crate) fn begin_subsegment_valid_name(
        &mut self,
        parent: EntityIndex,
        name: &str,
        start: Timestamp,
    ) -> EntityIndex {
        self.push_node_named(name, true, EntityKind::Subsegment, parent.0, None, start)
    }

    /// Closes an entity. Closing twice keeps the first end time.
    pub fn end(&mut self, entity: EntityIndex, end: Timestamp) {
        if let Some(node) = self.nodes.get_mut(entity.0 as usize)
            && node.end.is_none()
        {
            node.end = Some(end.max(node.start));
        }
    }

    /// Mutable access to an entity's fields.
    ///
    /// # Panics
    /// If `entity` was not issued by this tree since its last reset.
    pub fn entity_mut(&mut self, entity: EntityIndex) -> EntityMut<'_> {
        assert!((entity.0 as usize) < self.nodes.len(), "stale EntityIndex");
        EntityMut {
            tree: self,
            index: entity.0 as usize,
        }
    }

    /// The id of an entity.
    pub fn id(&self, entity: EntityIndex) -> Option<SegmentId> {
        self.nodes.get(entity.0 as usize).map(|n| n.id)
    }

    /// The parent of an entity within this tree (`None` for roots).
    pub fn parent(&self, entity: EntityIndex) -> Option<EntityIndex> {
        let p = self.nodes.get(entity.0 as usize)?.parent;
        (p != NONE).then_some(EntityIndex(p))
    }

    /// True when the entity has been closed.
    pub fn is_closed(&self, entity: EntityIndex) -> bool {
        self.nodes
            .get(entity.0 as usize)
            .is_some_and(|n| n.end.is_some())
    }

    /// The children of an entity, in the order they were opened.
    pub fn child_entities(&self, entity: EntityIndex) -> impl Iterator<Item = EntityIndex> + '_ {
        let first = self
            .nodes
            .get(entity.0 as usize)
            .map_or(NONE, |n| n.first_child);
        Children {
            tree: self,
            next: first,
        }
        .map(EntityIndex)
    }

    /// The first entity that is not a descendant of another one, if any.
    pub fn first_root(&self) -> Option<EntityIndex> {
        self.nodes
            .iter()
            .position(|n| n.parent == NONE)
            .map(|i| EntityIndex(i as u32))
    }

    pub(crate) fn node(&self, i: u32) -> &Entity {
        &self.nodes.as_slice()[i as usize]
    }

    pub(crate) fn node_mut(&mut self, i: u32) -> &mut Entity {
        &mut self.nodes.as_mut_slice()[i as usize]
    }

    /// Children of `i` in creation order.
    pub(crate) fn children(&self, i: u32) -> Children<'_> {
        Children {
            tree: self,
            next: self.node(i).first_child,
        }
    }

    /// True when `i` and all its descendants are closed (iterative: trees can be deep).
    pub(crate) fn subtree_closed(&self, i: u32) -> bool {
        let mut stack = vec![i];
        while let Some(n) = stack.pop() {
            if self.node(n).end.is_none() {
                return false;
            }
            stack.extend(self.children(n));
        }
        true
    }
}

pub(crate) struct Children<'a> {
    tree: &'a EntityTree,
    next: u32,
}

impl Iterator for Children<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.next == NONE {
            return None;
        }
        let cur = self.next;
        self.next = self.tree.node(cur).next_sibling;
        Some(cur)
    }
}

#[cfg(test)]
mod tests;
