//! A trace as an indented tree, for people.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write};

use super::traces::{Entity, EntityOrigin, Trace};

impl fmt::Display for Trace {
    /// One line per entity, children indented under their parent and ordered by start time.
    /// Entities caught in a parent cycle (possible only with hostile input) are listed last.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.entities.len();
        let noun = if n == 1 { "entity" } else { "entities" };
        writeln!(f, "trace {} ({n} {noun})", self.trace_id)?;
        let mut children: HashMap<&str, Vec<&Entity>> = HashMap::new();
        for e in self.entities.values() {
            if let Some(p) = e.parent_id.as_deref() {
                children.entry(p).or_default().push(e);
            }
        }
        for list in children.values_mut() {
            list.sort_by(|a, b| super::traces::by_start(a, b));
        }
        let mut seen: HashSet<&str> = HashSet::new();
        // Explicit stack: a chain of independent subsegments can be arbitrarily deep.
        let mut stack: Vec<(&Entity, usize)> =
            self.roots().into_iter().rev().map(|e| (e, 1)).collect();
        while let Some((entity, depth)) = stack.pop() {
            if !seen.insert(entity.id.as_str()) {
                continue;
            }
            writeln!(f, "{}{}", "  ".repeat(depth), line(self, entity))?;
            for child in children.get(entity.id.as_str()).into_iter().flatten().rev() {
                stack.push((child, depth + 1));
            }
        }
        let stranded: Vec<&Entity> = self
            .entities
            .values()
            .filter(|e| !seen.contains(e.id.as_str()))
            .collect();
        if !stranded.is_empty() {
            writeln!(f, "  (in a parent cycle)")?;
            for entity in stranded {
                writeln!(f, "    {}", line(self, entity))?;
            }
        }
        Ok(())
    }
}

fn line(trace: &Trace, e: &Entity) -> String {
    let kind = match e.origin {
        EntityOrigin::Segment => "segment",
        EntityOrigin::IndependentSubsegment => "independent subsegment",
        EntityOrigin::EmbeddedSubsegment => "subsegment",
    };
    let mut out = format!("{} [{kind} {}]", e.name, e.id);
    match e.duration() {
        _ if e.in_progress => out.push_str(" in progress"),
        Some(d) => {
            let _ = write!(out, " {:.3} ms", d * 1000.0);
        }
        None => {}
    }
    let unknown_parent = e
        .parent_id
        .as_deref()
        .filter(|p| !trace.entities.contains_key(*p));
    if let Some(parent) = unknown_parent {
        let _ = write!(out, " parent {parent} (not received)");
    }
    if !e.annotations.is_empty() {
        let pairs: Vec<String> = e
            .annotations
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = write!(out, " {{{}}}", pairs.join(", "));
    }
    if e.received > 1 {
        let _ = write!(out, " (received {}×)", e.received);
    }
    out
}
