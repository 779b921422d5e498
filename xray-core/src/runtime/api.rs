//! Recording on the current (sub)segment from anywhere in a traced invocation.
//!
//! Every function here is a no-op, costing one thread-local load, when the invocation is not
//! sampled; with no trace in scope at all the context-missing strategy applies.

use serde::Serialize;

use crate::annotation::{AnnotationValue, RecordError};
use crate::id::{SegmentId, TraceId};
use crate::model::EntityMut;

use super::scope::{self, MODE_NONE, MODE_RECORDING};
use super::span::context_missing;

/// Runs `f` on the current entity of a recorded invocation.
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
    let mode = scope::mode();
    if mode != MODE_RECORDING {
        if mode == MODE_NONE {
            context_missing("with_current");
        }
        return None;
    }
    scope::with_scope(|s| {
        let mut rec = s.state.lock();
        f(rec.tree.entity_mut(s.node))
    })
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
    if scope::mode() == MODE_RECORDING {
        let _ = try_put_annotation(key, value);
    } else if scope::mode() == MODE_NONE {
        context_missing("put_annotation");
    }
}

/// Like [`put_annotation`], returning why the annotation was refused. Outside a recorded
/// invocation it returns `Err(RecordError::NoEntity)`.
pub fn try_put_annotation<'v>(
    key: &str,
    value: impl Into<AnnotationValue<'v>>,
) -> Result<(), RecordError> {
    if scope::mode() != MODE_RECORDING {
        return Err(RecordError::NoEntity);
    }
    let value = value.into();
    scope::with_scope(|s| {
        let mut rec = s.state.lock();
        rec.tree
            .entity_mut(s.node)
            .put_annotation(key, value)
            .map(|_| ())
    })
    .unwrap_or(Err(RecordError::NoEntity))
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
    if scope::mode() == MODE_RECORDING {
        let _ = put_metadata_impl(None, key, value);
    } else if scope::mode() == MODE_NONE {
        context_missing("put_metadata");
    }
}

/// Adds metadata in a given namespace (not one starting with `AWS.`).
pub fn put_metadata_in<T: Serialize + ?Sized>(namespace: &str, key: &str, value: &T) {
    if scope::mode() == MODE_RECORDING {
        let _ = put_metadata_impl(Some(namespace), key, value);
    } else if scope::mode() == MODE_NONE {
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
    if scope::mode() != MODE_RECORDING {
        return Err(RecordError::NoEntity);
    }
    put_metadata_impl(namespace, key, value)
}

fn put_metadata_impl<T: Serialize + ?Sized>(
    namespace: Option<&str>,
    key: &str,
    value: &T,
) -> Result<(), RecordError> {
    scope::with_scope(|s| {
        let mut rec = s.state.lock();
        let rec = &mut *rec;
        let ns = namespace.unwrap_or(rec.namespace.as_str());
        rec.tree
            .entity_mut(s.node)
            .put_metadata(ns, key, value)
            .map(|_| ())
    })
    .unwrap_or(Err(RecordError::NoEntity))
}

/// True when the current code belongs to a recorded (sampled) invocation.
#[inline]
pub fn is_sampled() -> bool {
    scope::mode() == MODE_RECORDING
}

/// The trace id of the recorded invocation in scope.
pub fn current_trace_id() -> Option<TraceId> {
    scope::with_scope(|s| s.state.lock().tree.trace_id())
}

/// The id of the current (sub)segment of a recorded invocation.
pub fn current_entity_id() -> Option<SegmentId> {
    scope::with_scope(|s| s.state.lock().tree.id(s.node)).flatten()
}
