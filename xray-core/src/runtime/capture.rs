//! What a captured function's outcome records: its response as metadata, its error as a fault
//! with `cause.exceptions` and metadata, a panic, or a drop before completion.
//!
//! The macros choose how to record a value at the call site, where its type is known, with
//! autoref specialisation: `(&Wrap(v)).__xray_response(r)` resolves to the `Serialize`
//! implementation when there is one and to the no-op otherwise; errors go down a ladder from
//! `std::error::Error` (with its `source()` chain) through boxed errors, `Display` and `Debug`
//! to an opaque label. No type bound is ever added to the user's function.

use std::error::Error;
use std::fmt::{self, Debug, Display};

use serde::{Serialize, Serializer};

use crate::model::{EntityIndex, RecordCounts};

use super::span::CaptureOptions;
use super::state::Recording;

/// The metadata namespace for the SDK's own notes.
pub(crate) const SDK_NAMESPACE: &str = "xray_sdk";

/// Records the outcome of one captured function (given to the closure of `finish`).
#[derive(Debug)]
pub struct Recorder<'a> {
    rec: &'a mut Recording,
    node: EntityIndex,
    options: &'static CaptureOptions,
}

impl<'a> Recorder<'a> {
    pub(crate) fn new(
        rec: &'a mut Recording,
        node: EntityIndex,
        options: &'static CaptureOptions,
    ) -> Recorder<'a> {
        Recorder { rec, node, options }
    }

    fn capture_response(&self) -> bool {
        self.options
            .capture_response
            .unwrap_or(self.rec.capture_response)
    }

    fn capture_error(&self) -> bool {
        self.options.capture_error.unwrap_or(self.rec.capture_error)
    }

    /// Records `value` as the metadata `"<name> response"` in the service namespace.
    pub fn response<T: Serialize + ?Sized>(&mut self, value: &T) {
        if !self.capture_response() {
            return;
        }
        let Recording {
            tree, namespace, ..
        } = &mut *self.rec;
        // Errors are counted on the tree (a value that does not serialise, say).
        let _ =
            tree.entity_mut(self.node)
                .put_metadata(namespace, self.options.response_key, value);
    }

    /// Marks a fault; with error capture on, records `error` and its `source()` chain as
    /// exceptions and its message as the metadata `"<name> error"`.
    pub fn error(&mut self, error: &dyn Error, type_name: Option<&str>) {
        self.fault_with(|r| {
            let mut e = r.rec.tree.entity_mut(r.node);
            e.record_error(error, type_name, false);
        });
        self.error_metadata(error);
    }

    /// Like [`Recorder::error`] for an error that is only `Display`.
    pub fn error_display(&mut self, error: &dyn Display, type_name: &str) {
        self.fault_with(|r| {
            r.rec
                .tree
                .entity_mut(r.node)
                .add_exception(type_name, "", false);
        });
        self.set_last_message(error);
        self.error_metadata(error);
    }

    /// Like [`Recorder::error`] for an error that is only `Debug`.
    pub fn error_debug(&mut self, error: &dyn Debug, type_name: &str) {
        let shown = DebugAsDisplay(error);
        self.error_display(&shown, type_name);
    }

    /// Marks a fault for an error that can only be named.
    pub fn error_opaque(&mut self, type_name: &str) {
        self.fault_with(|r| {
            r.rec
                .tree
                .entity_mut(r.node)
                .add_exception(type_name, "", false);
        });
    }

    fn fault_with(&mut self, record: impl FnOnce(&mut Self)) {
        self.rec.tree.entity_mut(self.node).set_fault(true);
        if self.capture_error() {
            record(self);
        }
    }

    fn set_last_message(&mut self, message: &dyn Display) {
        if !self.capture_error() {
            return;
        }
        let node = self.rec.tree.node_mut(self.node.0);
        let slice = node.extras_mut().cause.exceptions.as_mut_slice();
        if let Some(ex) = slice.last_mut() {
            use std::fmt::Write as _;
            ex.message.clear();
            let _ = write!(ex.message, "{message}");
        }
    }

    fn error_metadata(&mut self, message: &dyn Display) {
        if !self.capture_error() {
            return;
        }
        let Recording {
            tree, namespace, ..
        } = &mut *self.rec;
        let _ = tree.entity_mut(self.node).put_metadata(
            namespace,
            self.options.error_key,
            &DisplayAsString(message),
        );
    }

    /// A panic unwound through the function, or its future was dropped before completing.
    pub(crate) fn abnormal_end(&mut self) {
        record_abnormal_end(self.rec, self.node, "the function panicked");
    }
}

/// Marks `node` as ended by a panic (a fault with a `panic` exception saying `panic_message`)
/// or, when no panic is unwinding, as dropped before completion; counts either.
pub(crate) fn record_abnormal_end(rec: &mut Recording, node: EntityIndex, panic_message: &str) {
    let panicking = std::thread::panicking();
    let mut e = rec.tree.entity_mut(node);
    if panicking {
        e.set_fault(true);
        e.add_exception("panic", panic_message, false);
    } else {
        let _ = e.put_metadata(SDK_NAMESPACE, "dropped_before_completion", &true);
    }
    let counts: &mut RecordCounts = &mut rec.tree.counts;
    if panicking {
        counts.spans_panicked += 1;
    } else {
        counts.spans_dropped_before_completion += 1;
    }
}

/// Records how a traced scope ended: through `record` when it returned, as a panic or a drop
/// before completion when there is none.
pub(crate) fn conclude(
    rec: &mut Recording,
    node: EntityIndex,
    options: &'static CaptureOptions,
    record: Option<impl FnOnce(&mut Recorder<'_>)>,
) {
    let mut r = Recorder::new(rec, node, options);
    match record {
        Some(f) => f(&mut r),
        None => r.abnormal_end(),
    }
}

/// The `record` of a scope that did not return.
pub(crate) const ABNORMAL: Option<fn(&mut Recorder<'_>)> = None;

/// Serialises a `Display` value as a JSON string, written straight into the output.
struct DisplayAsString<'a, T: ?Sized>(&'a T);

impl<T: Display + ?Sized> Serialize for DisplayAsString<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

struct DebugAsDisplay<'a>(&'a dyn Debug);

impl Display for DebugAsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Debug::fmt(self.0, f)
    }
}

/// The value a macro hands to the dispatch traits.
#[derive(Debug)]
pub struct Wrap<'a, T: ?Sized>(pub &'a T);

/// Response dispatch, first choice: the value is `Serialize`.
pub trait ResponseSerialize {
    /// Records the response.
    fn __xray_response(&self, r: &mut Recorder<'_>);
}

impl<T: Serialize + ?Sized> ResponseSerialize for Wrap<'_, T> {
    fn __xray_response(&self, r: &mut Recorder<'_>) {
        r.response(self.0);
    }
}

/// Response dispatch, fallback: the value cannot be serialised and is not recorded.
pub trait ResponseOther {
    /// Does nothing.
    fn __xray_response(&self, r: &mut Recorder<'_>);
}

impl<T: ?Sized> ResponseOther for &Wrap<'_, T> {
    fn __xray_response(&self, _: &mut Recorder<'_>) {}
}

/// Error dispatch, first choice: `std::error::Error`, with its `source()` chain.
pub trait ErrorStd {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: Error> ErrorStd for &&&&&Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error(self.0, Some(std::any::type_name::<T>()));
    }
}

/// Error dispatch: boxed thread-safe errors (`lambda_runtime::Error`, `anyhow::Error`).
pub trait ErrorBoxedSync {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: AsRef<dyn Error + Send + Sync + 'static> + ?Sized> ErrorBoxedSync for &&&&Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        let e: &(dyn Error + Send + Sync + 'static) = self.0.as_ref();
        r.error(e, None);
    }
}

/// Error dispatch: boxed errors (`Box<dyn Error>`).
pub trait ErrorBoxed {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: AsRef<dyn Error + 'static> + ?Sized> ErrorBoxed for &&&Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error(self.0.as_ref(), None);
    }
}

/// Error dispatch: errors that are only `Display`.
pub trait ErrorDisplay {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: Display> ErrorDisplay for &&Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error_display(self.0, std::any::type_name::<T>());
    }
}

/// Error dispatch: errors that are only `Debug`.
pub trait ErrorDebug {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: Debug> ErrorDebug for &Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error_debug(self.0, std::any::type_name::<T>());
    }
}

/// Error dispatch, last resort: only the type's name is known.
pub trait ErrorOpaque {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: ?Sized> ErrorOpaque for Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error_opaque(std::any::type_name::<T>());
    }
}
