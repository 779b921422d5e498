//! One segment or subsegment as stored in an [`EntityTree`](super::EntityTree).

use crate::annotation::AnnotationValue;
use crate::id::SegmentId;
use crate::recycle::Reset;
use crate::time::Timestamp;

use super::cause::Cause;
use super::fields::{Aws, Http, Namespace, Service, Sql};
use super::indexed::{Indexed, Keyed};
use super::metadata::{ENTRIES_KEEP, Metadata, STRING_KEEP};

/// Index meaning "no node" in the intrusive child lists.
pub(crate) const NONE: u32 = u32::MAX;

/// Segment (top-level document of a service) or subsegment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntityKind {
    /// A segment: what a service records for one request.
    Segment,
    /// A subsegment: a unit of work inside a segment or another subsegment.
    #[default]
    Subsegment,
}

/// An annotation as stored: the value's text lives in `text` so its buffer is reused.
#[derive(Debug, Default)]
pub(crate) struct Annotation {
    pub(crate) key: String,
    pub(crate) kind: AnnotationKind,
    pub(crate) text: String,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) enum AnnotationKind {
    #[default]
    Str,
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
}

impl Annotation {
    pub(crate) fn value(&self) -> AnnotationValue<'_> {
        match self.kind {
            AnnotationKind::Str => AnnotationValue::Str(&self.text),
            AnnotationKind::Int(v) => AnnotationValue::Int(v),
            AnnotationKind::UInt(v) => AnnotationValue::UInt(v),
            AnnotationKind::Float(v) => AnnotationValue::Float(v),
            AnnotationKind::Bool(v) => AnnotationValue::Bool(v),
        }
    }
}

impl Keyed for Annotation {
    fn key_hash(&self, state: &hashbrown::DefaultHashBuilder) -> u64 {
        std::hash::BuildHasher::hash_one(state, self.key.as_str())
    }
}

impl Reset for Annotation {
    fn reset(&mut self) {
        self.key.clear();
        self.kind = AnnotationKind::Str;
        self.text.clear();
    }
}

/// Where an entity stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Emission {
    /// Not sent in any form.
    #[default]
    Pending,
    /// Sent as its own document (streamed, or a root); not embedded again.
    Sent,
}

#[derive(Debug, Default)]
pub(crate) struct Entity {
    pub(crate) name: String,
    pub(crate) id: SegmentId,
    pub(crate) kind: EntityKind,
    /// Index of the parent node in this tree, or `NONE` for a root.
    pub(crate) parent: u32,
    /// Levels below the root (0 for a root).
    pub(crate) depth: u32,
    /// For a root: the upstream parent id written as `parent_id`.
    pub(crate) upstream_parent: Option<SegmentId>,
    pub(crate) first_child: u32,
    pub(crate) last_child: u32,
    pub(crate) next_sibling: u32,
    pub(crate) start: Timestamp,
    pub(crate) end: Option<Timestamp>,
    pub(crate) emission: Emission,
    /// Some field beyond name, ids and times was set through `EntityMut`: the optional groups
    /// need resetting and writing. Most captured calls never set one, and skip both.
    pub(crate) extended: bool,
    pub(crate) error: bool,
    pub(crate) throttle: bool,
    pub(crate) fault: bool,
    pub(crate) namespace: Option<Namespace>,
    pub(crate) traced: Option<bool>,
    pub(crate) annotations: Indexed<Annotation>,
    pub(crate) metadata: Metadata,
    /// Bytes of annotations, metadata and cause held, against
    /// [`MAX_ENTITY_BYTES`](super::MAX_ENTITY_BYTES).
    pub(crate) bytes: usize,
    /// Entries refused because they would have taken `bytes` over the budget.
    pub(crate) over_budget: u32,
    /// The rarely used groups, boxed so a plain subsegment stays small (they are most of an
    /// entity's size); allocated the first time a slot needs them and reused after.
    pub(crate) extras: Option<Box<Extras>>,
}

/// Fields few subsegments set: service and host facts, HTTP, AWS, SQL, the cause.
#[derive(Debug, Default)]
pub(crate) struct Extras {
    pub(crate) origin: String,
    pub(crate) user: String,
    pub(crate) resource_arn: String,
    pub(crate) service: Service,
    pub(crate) http: Http,
    pub(crate) aws: Aws,
    pub(crate) sql: Sql,
    pub(crate) cause: Cause,
    pub(crate) precursor_ids: Vec<SegmentId>,
}

impl Reset for Extras {
    fn reset(&mut self) {
        self.origin.clear();
        self.user.clear();
        self.resource_arn.clear();
        self.service.reset();
        self.http.reset();
        self.aws.reset();
        self.sql.reset();
        self.cause.reset();
        self.precursor_ids.clear();
    }
}

impl Entity {
    /// The optional groups, created on first use.
    pub(crate) fn extras_mut(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }
}

impl Reset for Entity {
    fn reset(&mut self) {
        self.name.clear();
        self.id = SegmentId::NOOP;
        self.kind = EntityKind::Subsegment;
        self.parent = NONE;
        self.upstream_parent = None;
        self.first_child = NONE;
        self.last_child = NONE;
        self.next_sibling = NONE;
        self.start = Timestamp::default();
        self.end = None;
        self.emission = Emission::Pending;
        if !std::mem::take(&mut self.extended) {
            return;
        }
        self.error = false;
        self.throttle = false;
        self.fault = false;
        self.namespace = None;
        self.traced = None;
        self.annotations.clear();
        self.metadata.clear();
        self.bytes = 0;
        self.over_budget = 0;
        if let Some(x) = &mut self.extras {
            x.reset();
        }
    }
}

/// Precursor ids kept per entity across resets.
const PRECURSORS_KEEP: usize = 64;

impl Entity {
    /// Frees what one unusually large use left in this slot (defect: a pooled tree kept every
    /// entity's vectors at their largest size for the life of the process).
    /// An estimate of the memory this slot holds after its last use: the bytes its entries
    /// were charged, plus the fixed size of each entry and of the optional groups.
    pub(crate) fn held_bytes(&self) -> usize {
        let entries = self.annotations.len() + self.metadata.entries.len();
        let extras = self.extras.as_ref().map_or(0, |x| {
            std::mem::size_of::<Extras>()
                + x.cause.exceptions.len() * std::mem::size_of::<super::cause::Exception>()
        });
        std::mem::size_of::<Entity>() + self.bytes + entries * 64 + extras
    }

    pub(crate) fn reset_and_trim(&mut self) {
        // A slot whose last use set nothing beyond name, ids and times holds no entries and no
        // groups that could have grown; `Recycle::push` resets it when it is reused.
        if !self.extended {
            return;
        }
        self.reset();
        self.annotations.trim(ENTRIES_KEEP, |a| {
            if a.text.capacity() > STRING_KEEP {
                a.text.clear();
                a.text.shrink_to(STRING_KEEP);
            }
        });
        self.metadata.trim();
        if let Some(x) = &mut self.extras {
            x.cause.trim();
            if x.precursor_ids.capacity() > PRECURSORS_KEEP {
                x.precursor_ids.clear();
                x.precursor_ids.shrink_to(PRECURSORS_KEEP);
            }
        }
    }
}
