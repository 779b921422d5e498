//! The documented rules the schema leaves out, applied to a document and to every subsegment
//! embedded in it.
//!
//! Entities and values are walked with explicit stacks rather than recursion, so a deeply
//! nested document built in code cannot overflow the stack.

use serde_json::{Map, Value};

use super::datagram::{kind, short};
use crate::name::{MAX_NAME_CHARS, is_name_char, is_valid_name};

/// Where the checked document sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// A document sent on its own: a segment or an independent subsegment.
    Top,
    /// A subsegment embedded in a parent, checked alone.
    Embedded,
}

/// Collects rule violations, each prefixed with the path of the entity (or value) at fault.
pub(crate) struct Rules<'o> {
    out: &'o mut Vec<String>,
}

impl<'o> Rules<'o> {
    pub(crate) fn new(out: &'o mut Vec<String>) -> Rules<'o> {
        Rules { out }
    }

    fn push(&mut self, path: &str, message: &str) {
        let at = if path.is_empty() { super::ROOT } else { path };
        self.out.push(format!("{at}: {message}"));
    }

    /// Applies every rule to `doc`.
    pub(crate) fn check(&mut self, doc: &Value, level: Level) {
        let Value::Object(top) = doc else {
            self.push(
                "",
                &format!("a document must be a JSON object, got {}", kind(doc)),
            );
            return;
        };
        if level == Level::Top {
            self.top_level(top);
        }
        let mut stack: Vec<(String, &Value)> = vec![(String::new(), doc)];
        while let Some((path, entity)) = stack.pop() {
            let Value::Object(entity) = entity else {
                self.push(
                    &path,
                    &format!("a subsegment must be a JSON object, got {}", kind(entity)),
                );
                continue;
            };
            self.entity(&path, entity);
            if let Some(Value::Array(children)) = entity.get("subsegments") {
                // Reversed, so entities are reported in document order.
                for (i, child) in children.iter().enumerate().rev() {
                    stack.push((join(&path, &format!("subsegments/{i}")), child));
                }
            }
        }
        self.finite_numbers(doc);
    }

    /// Rules for the document sent on its own.
    fn top_level(&mut self, top: &Map<String, Value>) {
        if !top.contains_key("trace_id") {
            self.push("", "`trace_id` is missing; every document sent needs one");
        }
        if top.get("type").and_then(Value::as_str) == Some("subsegment") {
            for field in ["parent_id", "trace_id"] {
                if !top.contains_key(field) {
                    self.push(
                        "",
                        &format!("`{field}` is missing; an independent subsegment needs it"),
                    );
                }
            }
        }
    }

    /// Rules for one segment or subsegment, embedded or not.
    fn entity(&mut self, path: &str, e: &Map<String, Value>) {
        self.completion(path, e);
        match e.get("id") {
            None => self.push(path, "`id` is missing"),
            Some(id) => self.hex_id(path, "`id`", id),
        }
        if let Some(parent) = e.get("parent_id") {
            self.hex_id(path, "`parent_id`", parent);
        }
        if let Some(trace) = e.get("trace_id")
            && !trace.as_str().is_some_and(is_trace_id)
        {
            self.push(
                path,
                &format!(
                    "`trace_id` must be `1-` then 8 and 24 lowercase hex digits, got {}",
                    short(trace)
                ),
            );
        }
        self.name(path, e.get("name"));
        if let (Some(start), Some(end)) = (
            e.get("start_time").and_then(Value::as_f64),
            e.get("end_time").and_then(Value::as_f64),
        ) && end < start
        {
            self.push(
                path,
                &format!("`end_time` {end} is before `start_time` {start}"),
            );
        }
        if let Some(Value::Array(ids)) = e.get("precursor_ids") {
            for (i, id) in ids.iter().enumerate() {
                self.hex_id(path, &format!("`precursor_ids[{i}]`"), id);
            }
        }
        if let Some(Value::Array(exceptions)) = e.get("cause").and_then(|c| c.get("exceptions")) {
            for (i, exception) in exceptions.iter().enumerate() {
                let what = format!("`cause.exceptions[{i}].id`");
                match exception.get("id") {
                    Some(id) => self.hex_id(path, &what, id),
                    None => self.push(path, &format!("{what} is missing")),
                }
            }
        }
    }

    /// Exactly one of `end_time` and `in_progress: true`. `in_progress: false` next to an
    /// `end_time` is what Python writes for a closed entity, and is fine.
    fn completion(&mut self, path: &str, e: &Map<String, Value>) {
        let ended = e.get("end_time").is_some_and(|v| !v.is_null());
        let in_progress = e.get("in_progress") == Some(&Value::Bool(true));
        match (ended, in_progress) {
            (true, true) => self.push(
                path,
                "both `end_time` and `in_progress: true` are set; send exactly one",
            ),
            (false, false) => self.push(
                path,
                "neither `end_time` nor `in_progress: true` is set; send exactly one",
            ),
            _ => {}
        }
    }

    fn hex_id(&mut self, path: &str, what: &str, id: &Value) {
        if !id.as_str().is_some_and(is_segment_id) {
            self.push(
                path,
                &format!("{what} must be 16 lowercase hex digits, got {}", short(id)),
            );
        }
    }

    /// The same test as the emitter's (`crate::name`), with a message saying which part fails.
    fn name(&mut self, path: &str, name: Option<&Value>) {
        let name = match name {
            None => return self.push(path, "`name` is missing"),
            Some(Value::String(s)) => s,
            Some(other) => {
                return self.push(
                    path,
                    &format!("`name` must be a string, got {}", kind(other)),
                );
            }
        };
        if is_valid_name(name) {
            return;
        }
        let chars = name.chars().count();
        if chars == 0 {
            self.push(path, "`name` is empty");
        } else if chars > MAX_NAME_CHARS {
            self.push(
                path,
                &format!("`name` has {chars} characters, more than {MAX_NAME_CHARS}"),
            );
        }
        if let Some(c) = name.chars().find(|&c| !is_name_char(c)) {
            self.push(
                path,
                &format!(
                    "`name` contains {c:?} (U+{:04X}), which the schema's name pattern does not allow",
                    c as u32
                ),
            );
        }
    }

    /// No number anywhere may be NaN or infinite.
    ///
    /// `serde_json` cannot parse such numbers and its `Value` cannot hold them, so this only
    /// fires if `serde_json/arbitrary_precision` gets enabled by another crate in the build,
    /// where an out-of-range literal becomes a `Number` that reads as infinity.
    fn finite_numbers(&mut self, doc: &Value) {
        let mut stack: Vec<(String, &Value)> = vec![(String::new(), doc)];
        while let Some((path, v)) = stack.pop() {
            match v {
                Value::Number(n) if !n.as_f64().is_some_and(f64::is_finite) => {
                    self.push(&path, &format!("number {n} is not finite"));
                }
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate().rev() {
                        stack.push((join(&path, &i.to_string()), item));
                    }
                }
                Value::Object(map) => {
                    let mut children: Vec<_> = map
                        .iter()
                        .map(|(k, item)| (join(&path, &escape(k)), item))
                        .collect();
                    children.reverse();
                    stack.extend(children);
                }
                _ => {}
            }
        }
    }
}

/// 16 lowercase hex digits.
pub(crate) fn is_segment_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(is_lower_hex)
}

/// `1-` then 8 lowercase hex digits, `-`, and 24 lowercase hex digits.
pub(crate) fn is_trace_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == crate::id::TRACE_ID_LEN
        && b.starts_with(b"1-")
        && b[10] == b'-'
        && b[2..10].iter().copied().all(is_lower_hex)
        && b[11..].iter().copied().all(is_lower_hex)
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_owned()
    } else {
        format!("{path}/{segment}")
    }
}

/// A key as a JSON-pointer segment.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
