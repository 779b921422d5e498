//! Reassembling traces from accepted documents.
//!
//! Entities are keyed by trace id, then by entity id. A document's top entity takes its parent
//! from `parent_id`; an embedded subsegment's parent is the entity that contains it (whatever
//! its own `parent_id` says: the Go SDK writes the root segment's id there at every depth). A
//! complete entity replaces an in-progress one with the same id, never the other way round.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::Serialize;
use serde_json::{Map, Value};

/// How an entity arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityOrigin {
    /// A segment document.
    Segment,
    /// A subsegment sent as its own document (`type: "subsegment"`).
    IndependentSubsegment,
    /// A subsegment inside another entity's `subsegments`.
    EmbeddedSubsegment,
}

/// One segment or subsegment as last received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entity {
    /// The entity's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its parent's id: `parent_id` for a top entity, the containing entity when embedded.
    pub parent_id: Option<String>,
    /// How it arrived.
    pub origin: EntityOrigin,
    /// True while only an in-progress version has been received.
    pub in_progress: bool,
    /// `start_time`, in epoch seconds.
    pub start_time: Option<f64>,
    /// `end_time`, in epoch seconds.
    pub end_time: Option<f64>,
    /// Its annotations (empty when there are none).
    pub annotations: Map<String, Value>,
    /// Every field as received, except `subsegments` (indexed as entities of their own).
    pub fields: Map<String, Value>,
    /// The datagram it came from (0 = the first received).
    pub seq: u64,
    /// How many times this id was received.
    pub received: u32,
}

impl Entity {
    /// Duration in seconds, when both times are known.
    pub fn duration(&self) -> Option<f64> {
        Some(self.end_time? - self.start_time?)
    }

    /// True for segments (top-level records of a service), false for subsegments.
    pub fn is_segment(&self) -> bool {
        self.origin == EntityOrigin::Segment
    }
}

/// The entities of one trace received so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    /// The trace id.
    pub trace_id: String,
    /// Entities by id.
    pub entities: BTreeMap<String, Entity>,
    /// Documents applied to this trace; changes whenever the trace does.
    pub revision: u64,
    /// New entities not kept because the trace held its store's cap already.
    pub entities_dropped: u64,
}

impl Trace {
    fn new(trace_id: &str) -> Trace {
        Trace {
            trace_id: trace_id.to_owned(),
            entities: BTreeMap::new(),
            revision: 0,
            entities_dropped: 0,
        }
    }

    /// The entity with this id.
    pub fn entity(&self, id: &str) -> Option<&Entity> {
        self.entities.get(id)
    }

    /// The entities with this name, in id order.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Entity> + 'a {
        self.entities.values().filter(move |e| e.name == name)
    }

    /// The id of an entity's parent (which may not have been received).
    pub fn parent_of(&self, id: &str) -> Option<&str> {
        self.entities.get(id)?.parent_id.as_deref()
    }

    /// The entities whose parent is `id`, ordered by start time.
    pub fn children_of(&self, id: &str) -> Vec<&Entity> {
        let mut children: Vec<&Entity> = self
            .entities
            .values()
            .filter(|e| e.parent_id.as_deref() == Some(id))
            .collect();
        children.sort_by(|a, b| by_start(a, b));
        children
    }

    /// Entities whose parent is not in this trace (upstream callers, the Lambda facade
    /// segment, or a parent not received yet), or that have none; ordered by start time.
    pub fn roots(&self) -> Vec<&Entity> {
        let mut roots: Vec<&Entity> = self
            .entities
            .values()
            .filter(|e| {
                e.parent_id
                    .as_deref()
                    .is_none_or(|p| !self.entities.contains_key(p))
            })
            .collect();
        roots.sort_by(|a, b| by_start(a, b));
        roots
    }

    /// Parent ids named by this trace's subsegments that are neither in the trace nor in
    /// `external` (the ids of parents that are never sent, such as Lambda's facade segment).
    /// Segments are skipped: their `parent_id` is an upstream service's, normally elsewhere.
    pub fn missing_parents(&self, external: &[&str]) -> BTreeSet<String> {
        self.entities
            .values()
            .filter(|e| !e.is_segment())
            .filter_map(|e| e.parent_id.as_deref())
            .filter(|p| !self.entities.contains_key(*p) && !external.contains(p))
            .map(str::to_owned)
            .collect()
    }

    /// True when every subsegment's parent is in this trace or in `external`.
    pub fn parents_resolved(&self, external: &[&str]) -> bool {
        self.missing_parents(external).is_empty()
    }
}

pub(crate) fn by_start(a: &Entity, b: &Entity) -> std::cmp::Ordering {
    let key = |e: &Entity| e.start_time.unwrap_or(f64::INFINITY);
    key(a).total_cmp(&key(b)).then_with(|| a.id.cmp(&b.id))
}

/// A parent link that crosses traces: almost always a trace-id mix-up in the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignAttachment {
    /// The trace of the child.
    pub trace_id: String,
    /// The child.
    pub entity_id: String,
    /// The parent it names.
    pub parent_id: String,
    /// The trace where that parent was found.
    pub parent_trace_id: String,
}

/// Every trace, plus an index from entity id to the traces holding it.
#[derive(Debug)]
pub(crate) struct TraceStore {
    traces: BTreeMap<String, Trace>,
    owners: HashMap<String, BTreeSet<String>>,
    /// Trace ids in the order they were first seen, for evicting the oldest.
    arrival: VecDeque<String>,
    /// How many traces are kept; beyond it, the oldest goes.
    max_traces: usize,
    /// How many entities one trace keeps; beyond it, new ones are dropped and counted.
    max_entities: usize,
    /// Entities dropped for the cap, over all traces (also the evicted ones).
    pub(crate) entities_dropped: u64,
    pub(crate) traces_evicted: u64,
    /// Counters that survive `take` and `clear`.
    pub(crate) traces_seen: u64,
    pub(crate) entities_seen: u64,
    pub(crate) entity_updates: u64,
}

impl Default for TraceStore {
    fn default() -> Self {
        TraceStore::with_capacity(usize::MAX, usize::MAX)
    }
}

impl TraceStore {
    /// A store that keeps at most `max_traces` traces and `max_entities` entities in each
    /// (at least one of each).
    pub(crate) fn with_capacity(max_traces: usize, max_entities: usize) -> TraceStore {
        TraceStore {
            traces: BTreeMap::new(),
            owners: HashMap::new(),
            arrival: VecDeque::new(),
            max_traces: max_traces.max(1),
            max_entities: max_entities.max(1),
            entities_dropped: 0,
            traces_evicted: 0,
            traces_seen: 0,
            entities_seen: 0,
            entity_updates: 0,
        }
    }

    /// Indexes an accepted document (a JSON object with a string `trace_id`).
    pub(crate) fn add_document(&mut self, doc: &Value, seq: u64) {
        let Some(top) = doc.as_object() else { return };
        let Some(trace_id) = top.get("trace_id").and_then(Value::as_str) else {
            return;
        };
        let origin = if top.get("type").and_then(Value::as_str) == Some("subsegment") {
            EntityOrigin::IndependentSubsegment
        } else {
            EntityOrigin::Segment
        };
        let parent = top
            .get("parent_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if !self.traces.contains_key(trace_id) {
            self.make_room();
            self.arrival.push_back(trace_id.to_owned());
        }
        let trace = self.traces.entry(trace_id.to_owned()).or_insert_with(|| {
            self.traces_seen += 1;
            Trace::new(trace_id)
        });
        trace.revision += 1;
        // Explicit stack: independent of nesting depth.
        let mut stack = vec![(top, parent, origin)];
        while let Some((fields, parent_id, origin)) = stack.pop() {
            let Some(id) = fields.get("id").and_then(Value::as_str) else {
                continue;
            };
            if let Some(Value::Array(children)) = fields.get("subsegments") {
                for child in children.iter().rev().filter_map(Value::as_object) {
                    stack.push((child, Some(id.to_owned()), EntityOrigin::EmbeddedSubsegment));
                }
            }
            let entity = entity_from(fields, id, parent_id, origin, seq);
            if let Some(existing) = trace.entities.get_mut(id) {
                self.entity_updates += 1;
                let received = existing.received.saturating_add(1);
                // A late in-progress copy must not undo a completed entity.
                if entity.in_progress && !existing.in_progress {
                    existing.received = received;
                } else {
                    *existing = Entity { received, ..entity };
                }
            } else if trace.entities.len() >= self.max_entities {
                // A runaway trace (a loop recording spans) must not hold all the memory.
                trace.entities_dropped += 1;
                self.entities_dropped += 1;
            } else {
                self.entities_seen += 1;
                self.owners
                    .entry(id.to_owned())
                    .or_default()
                    .insert(trace_id.to_owned());
                trace.entities.insert(id.to_owned(), entity);
            }
        }
    }

    /// Evicts the oldest traces until one more fits.
    fn make_room(&mut self) {
        while self.traces.len() >= self.max_traces {
            let Some(oldest) = self.arrival.pop_front() else {
                return;
            };
            // Ids of traces already taken linger in `arrival`; they cost nothing to skip.
            if self.take(&oldest).is_some() {
                self.traces_evicted += 1;
            }
        }
        // Taken traces leave stale ids behind; keep the queue proportional to what is held.
        if self.arrival.len() > 2 * self.traces.len() + 64 {
            let traces = &self.traces;
            self.arrival.retain(|id| traces.contains_key(id));
        }
    }

    /// The traces newest first (by first arrival), at most `limit`.
    pub(crate) fn newest(&self, limit: usize) -> Vec<Trace> {
        self.arrival
            .iter()
            .rev()
            .filter_map(|id| self.traces.get(id))
            .take(limit)
            .cloned()
            .collect()
    }

    pub(crate) fn traces(&self) -> Vec<Trace> {
        self.traces.values().cloned().collect()
    }

    pub(crate) fn trace(&self, trace_id: &str) -> Option<Trace> {
        self.traces.get(trace_id).cloned()
    }

    pub(crate) fn take(&mut self, trace_id: &str) -> Option<Trace> {
        let trace = self.traces.remove(trace_id)?;
        for id in trace.entities.keys() {
            if let Some(owners) = self.owners.get_mut(id) {
                owners.remove(trace_id);
                if owners.is_empty() {
                    self.owners.remove(id);
                }
            }
        }
        Some(trace)
    }

    /// Entities whose parent is not in their own trace but is in another one.
    pub(crate) fn foreign_attachments(&self) -> Vec<ForeignAttachment> {
        let mut found = Vec::new();
        for trace in self.traces.values() {
            for entity in trace.entities.values() {
                let Some(parent) = entity.parent_id.as_deref() else {
                    continue;
                };
                if trace.entities.contains_key(parent) {
                    continue;
                }
                for other in self.owners.get(parent).into_iter().flatten() {
                    found.push(ForeignAttachment {
                        trace_id: trace.trace_id.clone(),
                        entity_id: entity.id.clone(),
                        parent_id: parent.to_owned(),
                        parent_trace_id: other.clone(),
                    });
                }
            }
        }
        found
    }

    pub(crate) fn clear(&mut self) {
        self.traces.clear();
        self.owners.clear();
        self.arrival.clear();
    }
}

fn entity_from(
    fields: &Map<String, Value>,
    id: &str,
    parent_id: Option<String>,
    origin: EntityOrigin,
    seq: u64,
) -> Entity {
    // Children are entities of their own; copying them here would cost O(size × depth).
    let kept: Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| *k != "subsegments")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Entity {
        id: id.to_owned(),
        name: fields
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        parent_id,
        origin,
        in_progress: fields.get("in_progress") == Some(&Value::Bool(true)),
        start_time: fields.get("start_time").and_then(Value::as_f64),
        end_time: fields.get("end_time").and_then(Value::as_f64),
        annotations: fields
            .get("annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        fields: kept,
        seq,
        received: 1,
    }
}
