//! What the page shows, computed from reassembled traces: list rows, waterfalls and the
//! service map. Everything is plain data serialised to JSON; the page writes it with
//! `textContent` only, so names and annotations are never read as HTML.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::daemon::by_start;
use crate::daemon::{Entity, Trace};

/// An entity's or a trace's outcome, worst first when several apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No error flag.
    #[default]
    Ok,
    /// `error: true` (a 4xx).
    Error,
    /// `throttle: true` (a 429).
    Throttle,
    /// `fault: true` (a 5xx or an exception).
    Fault,
}

impl Status {
    /// `ok`, `error`, `fault` or `throttle`.
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "ok" => Some(Status::Ok),
            "error" => Some(Status::Error),
            "throttle" => Some(Status::Throttle),
            "fault" => Some(Status::Fault),
            _ => None,
        }
    }

    /// The worst flag an entity carries.
    pub fn of(entity: &Entity) -> Status {
        let flag = |name: &str| entity.fields.get(name) == Some(&Value::Bool(true));
        if flag("fault") {
            Status::Fault
        } else if flag("throttle") {
            Status::Throttle
        } else if flag("error") {
            Status::Error
        } else {
            Status::Ok
        }
    }
}

/// One row of the trace list.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TraceSummary {
    /// The trace id.
    pub trace_id: String,
    /// The earliest start, epoch seconds.
    pub start: Option<f64>,
    /// From the earliest start to the latest end, seconds.
    pub duration: Option<f64>,
    /// The worst status of its entities.
    pub status: Status,
    /// The first root's name.
    pub name: String,
    /// Every entity's name (for the `name` filter).
    #[serde(skip)]
    pub names: Vec<String>,
    /// Annotations of every entity, first value per key (for display).
    pub annotations: Map<String, Value>,
    /// Every annotation of every entity (for the filter).
    #[serde(skip)]
    pub all_annotations: Vec<(String, Value)>,
    /// Entities kept.
    pub entities: usize,
    /// New entities dropped for the per-trace cap.
    pub entities_dropped: u64,
    /// True while some entity is still in progress.
    pub in_progress: bool,
}

impl TraceSummary {
    /// Summarises a trace.
    pub fn of(trace: &Trace) -> TraceSummary {
        let entities = trace.entities.values();
        let start = entities
            .clone()
            .filter_map(|e| e.start_time)
            .reduce(f64::min);
        let end = entities.clone().filter_map(|e| e.end_time).reduce(f64::max);
        let mut annotations = Map::new();
        let mut all_annotations = Vec::new();
        for e in trace.entities.values() {
            for (k, v) in &e.annotations {
                annotations.entry(k.clone()).or_insert_with(|| v.clone());
                all_annotations.push((k.clone(), v.clone()));
            }
        }
        TraceSummary {
            trace_id: trace.trace_id.clone(),
            start,
            duration: start.zip(end).map(|(s, e)| e - s),
            status: entities.clone().map(Status::of).max().unwrap_or_default(),
            name: trace
                .roots()
                .first()
                .map(|r| r.name.clone())
                .unwrap_or_default(),
            names: entities.clone().map(|e| e.name.clone()).collect(),
            annotations,
            all_annotations,
            entities: trace.entities.len(),
            entities_dropped: trace.entities_dropped,
            in_progress: entities.clone().any(|e| e.in_progress),
        }
    }
}

/// One bar of a waterfall.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The entity id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Nesting depth (0 for roots).
    pub depth: usize,
    /// Start, seconds after the trace's start.
    pub offset: Option<f64>,
    /// Duration in seconds (to the trace's end while in progress).
    pub duration: Option<f64>,
    /// Its status.
    pub status: Status,
    /// True for segments.
    pub segment: bool,
    /// True while in progress.
    pub in_progress: bool,
    /// Every field as received, for the details pane.
    pub fields: Map<String, Value>,
}

/// A trace laid out for its waterfall: entities depth first, children by start time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waterfall {
    /// The list row of the trace.
    pub summary: TraceSummary,
    /// The bars, in display order.
    pub rows: Vec<Row>,
}

impl Waterfall {
    /// Lays out a trace.
    pub fn of(trace: &Trace) -> Waterfall {
        let summary = TraceSummary::of(trace);
        let t0 = summary.start.unwrap_or(0.0);
        let end = t0 + summary.duration.unwrap_or(0.0);
        let mut rows = Vec::with_capacity(trace.entities.len());
        // One pass to index children: a 10 000-entity trace is laid out in linear time.
        let mut children: HashMap<&str, Vec<&Entity>> = HashMap::new();
        for e in trace.entities.values() {
            if let Some(parent) = e.parent_id.as_deref() {
                children.entry(parent).or_default().push(e);
            }
        }
        for list in children.values_mut() {
            list.sort_by(|a, b| by_start(a, b));
        }
        // Explicit stack: hostile nesting cannot overflow the server's stack.
        let mut stack: Vec<(&Entity, usize)> =
            trace.roots().into_iter().rev().map(|e| (e, 0)).collect();
        let mut shown: HashSet<&str> = HashSet::new();
        // Entities whose parents form a cycle (hostile input) have no root: shown at the end.
        let mut orphans = trace.entities.values();
        while let Some((e, depth)) = stack.pop().or_else(|| {
            orphans
                .find(|e| !shown.contains(e.id.as_str()))
                .map(|e| (e, 0))
        }) {
            if !shown.insert(e.id.as_str()) {
                continue;
            }
            rows.push(Row {
                id: e.id.clone(),
                name: e.name.clone(),
                depth,
                offset: e.start_time.map(|s| s - t0),
                duration: e.start_time.map(|s| e.end_time.unwrap_or(end) - s),
                status: Status::of(e),
                segment: e.is_segment(),
                in_progress: e.in_progress,
                fields: e.fields.clone(),
            });
            for child in children.get(e.id.as_str()).into_iter().flatten().rev() {
                stack.push((child, depth + 1));
            }
        }
        Waterfall { summary, rows }
    }
}

/// A node of the service map.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Node {
    /// The service (segment name) or the downstream target (subsegment name).
    pub name: String,
    /// `service`, `aws` or `remote`.
    pub kind: String,
}

/// Calls between two nodes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Edge {
    /// Index of the caller in [`ServiceMap::nodes`].
    pub from: usize,
    /// Index of the callee.
    pub to: usize,
    /// Calls seen.
    pub calls: u64,
    /// Calls with `error` or `throttle`.
    pub errors: u64,
    /// Calls with `fault`.
    pub faults: u64,
}

/// Services and the calls between them, over the traces kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceMap {
    /// One per service or target, sorted.
    pub nodes: Vec<Node>,
    /// One per caller and callee.
    pub edges: Vec<Edge>,
}

impl ServiceMap {
    /// Builds the map: segments are services; `aws` and `remote` subsegments are targets of
    /// the segment they belong to, unless a segment downstream represents the call.
    pub fn of<'a>(traces: impl IntoIterator<Item = &'a Trace>) -> ServiceMap {
        let mut nodes: BTreeSet<Node> = BTreeSet::new();
        let mut calls: HashMap<(Node, Node), (u64, u64, u64)> = HashMap::new();
        for trace in traces {
            let called: std::collections::HashSet<&str> = trace
                .entities
                .values()
                .filter(|e| e.is_segment())
                .filter_map(|e| e.parent_id.as_deref())
                .collect();
            for e in trace.entities.values() {
                let target = if e.is_segment() {
                    Node {
                        name: e.name.clone(),
                        kind: "service".to_owned(),
                    }
                } else {
                    match e.fields.get("namespace").and_then(Value::as_str) {
                        Some(ns @ ("aws" | "remote")) if !called.contains(e.id.as_str()) => Node {
                            name: e.name.clone(),
                            kind: ns.to_owned(),
                        },
                        _ => continue,
                    }
                };
                nodes.insert(target.clone());
                let caller_start = if e.is_segment() {
                    e.parent_id.as_deref()
                } else {
                    Some(e.id.as_str())
                };
                let Some(caller) = caller_start.and_then(|id| owning_segment(trace, id, e)) else {
                    continue;
                };
                let caller = Node {
                    name: caller.name.clone(),
                    kind: "service".to_owned(),
                };
                let status = Status::of(e);
                let counts = calls.entry((caller, target)).or_default();
                counts.0 += 1;
                counts.1 += u64::from(matches!(status, Status::Error | Status::Throttle));
                counts.2 += u64::from(status == Status::Fault);
            }
        }
        let nodes: Vec<Node> = nodes.into_iter().collect();
        let index = |n: &Node| nodes.binary_search(n).unwrap_or(0);
        let mut edges: Vec<Edge> = calls
            .into_iter()
            .map(|((from, to), (calls, errors, faults))| Edge {
                from: index(&from),
                to: index(&to),
                calls,
                errors,
                faults,
            })
            .collect();
        edges.sort_by_key(|e| (e.from, e.to));
        ServiceMap { nodes, edges }
    }
}

/// The nearest segment at or above `id`, other than `callee` itself.
fn owning_segment<'a>(trace: &'a Trace, id: &str, callee: &Entity) -> Option<&'a Entity> {
    let mut current = trace.entity(id)?;
    // Bounded by the entity count: a parent cycle in hostile input cannot loop forever.
    for _ in 0..=trace.entities.len() {
        if current.is_segment() && current.id != callee.id {
            return Some(current);
        }
        current = trace.entity(current.parent_id.as_deref()?)?;
    }
    None
}
