//! Span fields onto a subsegment: annotations, metadata, errors.

use std::fmt::{self, Write as _};

use tracing_core::Event;
use tracing_core::field::{Field, Visit};

use crate::annotation::AnnotationValue;
use crate::model::EntityMut;
use crate::runtime::subsegment::Subsegment;

/// Records each visited field on `sub`.
pub(super) struct Recorder<'a> {
    sub: &'a Subsegment,
    annotations: &'a [String],
    text: String,
}

impl<'a> Recorder<'a> {
    pub(super) fn new(sub: &'a Subsegment, annotations: &'a [String]) -> Recorder<'a> {
        Recorder {
            sub,
            annotations,
            text: String::new(),
        }
    }

    fn put(&self, field: &Field, value: AnnotationValue<'_>, json: &serde_json::Value) {
        let name = field.name();
        if self.annotations.iter().any(|a| a == name) {
            // A refused annotation (invalid key) is counted by the entity; keep it as metadata.
            if self.sub.put_annotation(name, value).is_ok() {
                return;
            }
        }
        let _ = self.sub.put_metadata(name, json);
    }
}

impl Visit for Recorder<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into(), &serde_json::json!(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into(), &value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into(), &value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into(), &value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "error" {
            self.sub.with_fields(|e| {
                e.add_exception("error", value, false);
                e.set_fault(true);
            });
            return;
        }
        self.put(field, value.into(), &value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if field.name() == "error" {
            self.sub.record_error(value, false);
            return;
        }
        self.text.clear();
        let _ = write!(self.text, "{value}");
        let text = std::mem::take(&mut self.text);
        self.put(field, text.as_str().into(), &text.as_str().into());
        self.text = text;
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text.clear();
        let _ = write!(self.text, "{value:?}");
        let text = std::mem::take(&mut self.text);
        if field.name() == "error" {
            self.record_str(field, &text);
        } else {
            self.put(field, text.as_str().into(), &text.as_str().into());
        }
        self.text = text;
    }
}

/// An `ERROR` event's message and fields (formatting them runs the user's `Debug`, so it is
/// done before the entity is locked; see [`record_error`]).
pub(super) fn error_message(event: &Event<'_>) -> String {
    let mut message = Message(String::new());
    event.record(&mut message);
    message.0
}

/// Records `message` (from [`error_message`]) as an exception and marks a fault.
pub(super) fn record_error(e: &mut EntityMut<'_>, target: &str, message: &str) {
    e.add_exception(target, message, false);
    e.set_fault(true);
}

/// The event's `message`, then its other fields as `name=value`.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() != "message" {
            self.0.push_str(field.name());
            self.0.push('=');
        }
        self.0.push_str(value);
    }
}
