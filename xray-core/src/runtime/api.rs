//! Recording on the current (sub)segment from anywhere in a traced invocation.
//!
//! Every function here is a no-op, costing one thread-local load, when the invocation is not
//! sampled; with no trace in scope at all the context-missing strategy applies.

use std::cell::Cell;

use serde::Serialize;

use crate::annotation::{AnnotationValue, RecordError};
use crate::id::{SegmentId, TraceId};
use crate::model::EntityMut;

use super::capture::{Unserializable, put_json, serialize_into};
use super::context::{self, MODE_NONE, MODE_RECORDING};
use super::tracer::context_missing;

thread_local! {
    /// Reused buffer for metadata values, serialised before anything is locked.
    static VALUE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Serialises `value` outside every lock into this thread's reused buffer (a fresh one when
/// the value's own `Serialize` records metadata), then records it on `node` of `scope`.
pub(crate) fn record_metadata<T: Serialize + ?Sized>(
    scope: &context::Scope,
    namespace: Option<&str>,
    key: &str,
    value: &T,
) -> Result<(), RecordError> {
    let mut buf = VALUE.with(Cell::take);
    let ok = serialize_into(&mut buf, value);
    let result = scope.rec.update(scope.node, |mut e, service_ns| {
        let ns = namespace.unwrap_or(service_ns);
        if ok {
            put_json(&mut e, ns, key, &buf)
        } else {
            e.put_metadata(ns, key, &Unserializable).map(|_| ())
        }
    });
    VALUE.with(|v| v.set(buf));
    result.and_then(|r| r)
}

/// The current scope (a cheap copy: one reference count), taken without holding the frame.
fn scope() -> Option<context::Scope> {
    context::with_scope(|s| s.clone())
}

/// Runs `f` on the current entity of a recorded invocation.
///
/// `f` runs with the recording locked: SDK calls made from inside it return
/// [`RecordError::Reentrant`] (and `put_annotation` / `put_metadata` count and drop them).
///
/// ```
/// use xray_core::Namespace;
/// // Outside a sampled invocation this returns `None` and records nothing.
/// let done = xray_core::with_current(|mut e| {
///     e.set_namespace(Namespace::Remote).http_method("GET");
/// });
/// assert!(done.is_none());
/// ```
pub fn with_current<R>(f: impl FnOnce(EntityMut<'_>) -> R) -> Option<R> {
    let mode = context::mode();
    if mode != MODE_RECORDING {
        if mode == MODE_NONE {
            context_missing("with_current");
        }
        return None;
    }
    let s = scope()?;
    s.rec.hold(s.node, f).ok()
}

/// Adds an annotation (indexed, searchable) to the current (sub)segment.
///
/// Keys must match `[A-Za-z0-9_]{1,500}`; an invalid key or a NaN/infinite float is refused
/// and counted (see [`try_put_annotation`] to get the error). Inside `#[capture_method]` and
/// `#[capture_lambda_handler]` functions a literal key is checked at compile time.
///
/// ```
/// xray_core::put_annotation("user_id", "u-42");
/// xray_core::put_annotation("attempt", 2);
/// ```
#[inline]
pub fn put_annotation<'v>(key: &str, value: impl Into<AnnotationValue<'v>>) {
    let mode = context::mode();
    if mode == MODE_RECORDING {
        let _ = try_put_annotation(key, value);
    } else if mode == MODE_NONE {
        context_missing("put_annotation");
    }
}

/// Like [`put_annotation`], returning why the annotation was refused. Outside a recorded
/// invocation it returns `Err(RecordError::NoEntity)`.
pub fn try_put_annotation<'v>(
    key: &str,
    value: impl Into<AnnotationValue<'v>>,
) -> Result<(), RecordError> {
    if context::mode() != MODE_RECORDING {
        return Err(RecordError::NoEntity);
    }
    let value = value.into();
    // An annotation value is plain data: recording it runs no user code, so the frame may
    // stay borrowed.
    context::with_scope(|s| {
        s.rec
            .update(s.node, |mut e, _| e.put_annotation(key, value).map(|_| ()))
    })
    .unwrap_or(Err(RecordError::NoEntity))
    .and_then(|r| r)
}

/// Adds metadata (not indexed) to the current (sub)segment, in the service's namespace
/// (`POWERTOOLS_SERVICE_NAME`, else `service_undefined`). The value is serialised now.
///
/// ```
/// #[derive(serde::Serialize)]
/// struct User { id: String }
/// xray_core::put_metadata("user", &User { id: "u-42".into() });
/// ```
#[inline]
pub fn put_metadata<T: Serialize + ?Sized>(key: &str, value: &T) {
    let mode = context::mode();
    if mode == MODE_RECORDING {
        let _ = put_metadata_impl(None, key, value);
    } else if mode == MODE_NONE {
        context_missing("put_metadata");
    }
}

/// Adds metadata in a given namespace (not one starting with `AWS.`).
pub fn put_metadata_in<T: Serialize + ?Sized>(namespace: &str, key: &str, value: &T) {
    let mode = context::mode();
    if mode == MODE_RECORDING {
        let _ = put_metadata_impl(Some(namespace), key, value);
    } else if mode == MODE_NONE {
        context_missing("put_metadata_in");
    }
}

/// Like [`put_metadata_in`] (or [`put_metadata`] with `namespace: None`), returning why the
/// entry was refused.
pub fn try_put_metadata<T: Serialize + ?Sized>(
    namespace: Option<&str>,
    key: &str,
    value: &T,
) -> Result<(), RecordError> {
    if context::mode() != MODE_RECORDING {
        return Err(RecordError::NoEntity);
    }
    put_metadata_impl(namespace, key, value)
}

fn put_metadata_impl<T: Serialize + ?Sized>(
    namespace: Option<&str>,
    key: &str,
    value: &T,
) -> Result<(), RecordError> {
    // The value's `Serialize` is user code: no frame borrow while it runs.
    let s = scope().ok_or(RecordError::NoEntity)?;
    record_metadata(&s, namespace, key, value)
}

/// True when the current code belongs to a recorded (sampled) invocation.
#[inline]
pub fn is_sampled() -> bool {
    context::mode() == MODE_RECORDING
}

/// The trace id of the recorded invocation in scope (no lock taken).
pub fn current_trace_id() -> Option<TraceId> {
    context::with_scope(|s| s.trace)
}

/// The id of the current (sub)segment of a recorded invocation (no lock taken).
pub fn current_entity_id() -> Option<SegmentId> {
    context::with_scope(|s| s.id)
}
