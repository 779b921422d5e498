//! The public way in: a subsegment guard, plus its closure and future forms.
//!
//! Integrations (AWS SDK calls, HTTP clients, SQL, bridges) open their subsegments here; the
//! capture macros sit on the same recording layer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Serialize;

use crate::annotation::{AnnotationValue, RecordError};
use crate::model::EntityMut;

use super::api::record_metadata;
use super::capture::Outcome;
use super::context::{self, Entered, Frame, Handle, MODE_NONE, MODE_RECORDING, Scope};
use super::recording::Ending;
use super::tracer::context_missing;

/// An open subsegment under the current entity.
///
/// `Send + Sync + 'static`, so it can be kept across `.await` or in another library's
/// per-request state. Inert (every method a no-op, [`is_recording`](Subsegment::is_recording)
/// false) when the current invocation is not sampled or there is no trace (then the
/// context-missing strategy applies once, in [`begin`](Subsegment::begin)).
///
/// Closed by [`end`](Subsegment::end); dropped without it, it is still closed and sent, marked
/// with the metadata `xray_sdk.dropped_before_completion = true` (or, while a panic unwinds,
/// as a fault with a `panic` exception), and counted.
///
/// ```
/// use xray_core::{Namespace, Subsegment, testing::Capture};
///
/// let capture = Capture::new();
/// capture.run_invocation(|| {
///     let seg = Subsegment::begin("orders-db");
///     seg.with_fields(|e| {
///         e.set_namespace(Namespace::Remote).sql_url("postgres://db/orders");
///     });
///     seg.put_annotation("table", "orders").unwrap();
///     let header = seg.downstream_header().unwrap();
///     assert!(header.contains(";Sampled=1"));
///     seg.end();
/// });
/// let docs = capture.documents();
/// let db = &docs[0]["subsegments"][0];
/// assert_eq!(db["name"], "orders-db");
/// assert_eq!(db["namespace"], "remote");
/// assert_eq!(db["annotations"]["table"], "orders");
/// ```
pub struct Subsegment {
    /// `Recording` while open and recorded, `Passthrough` inside an unrecorded invocation
    /// (for downstream headers), `None` otherwise.
    frame: Frame,
}

impl fmt::Debug for Subsegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.frame {
            Frame::Recording(s) => f
                .debug_struct("Subsegment")
                .field("id", &s.id)
                .field("trace", &s.trace)
                .finish(),
            _ => f.write_str("Subsegment(inert)"),
        }
    }
}

impl Subsegment {
    /// Opens `name` (invalid characters repaired and counted) under the current entity,
    /// starting now.
    pub fn begin(name: &str) -> Subsegment {
        let frame = match context::mode() {
            MODE_RECORDING => {
                context::with_scope(|s| match s.rec.open_child(s.node, name, false) {
                    Some((node, id)) => Frame::Recording(Scope {
                        rec: s.rec.clone(),
                        node,
                        id,
                        trace: s.trace,
                    }),
                    None => Frame::None,
                })
                .unwrap_or_default()
            }
            MODE_NONE => {
                context_missing(name);
                Frame::None
            }
            _ => context::current(),
        };
        Subsegment { frame }
    }

    fn scope(&self) -> Option<&Scope> {
        match &self.frame {
            Frame::Recording(s) => Some(s),
            _ => None,
        }
    }

    /// True when this subsegment records (and will be sent).
    pub fn is_recording(&self) -> bool {
        self.scope().is_some()
    }

    /// Runs `f` on the subsegment's entity: namespace, `http`, `aws` and `sql` fields, flags,
    /// cause. `None` when inert, or when called from inside another such closure. SDK calls
    /// made from inside `f` return [`RecordError::Reentrant`].
    pub fn with_fields<R>(&self, f: impl FnOnce(&mut EntityMut<'_>) -> R) -> Option<R> {
        let s = self.scope()?;
        s.rec.hold(s.node, |mut e| f(&mut e)).ok()
    }

    /// Adds an annotation (see [`put_annotation`](crate::put_annotation)).
    pub fn put_annotation<'v>(
        &self,
        key: &str,
        value: impl Into<AnnotationValue<'v>>,
    ) -> Result<(), RecordError> {
        let s = self.scope().ok_or(RecordError::NoEntity)?;
        let value = value.into();
        s.rec
            .update(s.node, |mut e, _| e.put_annotation(key, value).map(|_| ()))?
    }

    /// Adds metadata in the service's namespace (see [`put_metadata`](crate::put_metadata)).
    /// The value is serialised before anything is locked.
    pub fn put_metadata<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), RecordError> {
        let s = self.scope().ok_or(RecordError::NoEntity)?;
        record_metadata(s, None, key, value)
    }

    /// Records `error` and its `source()` chain as `cause.exceptions` (labelled from their
    /// `Debug` form, messages cut at 1000 characters) and marks a fault. `remote`: the error
    /// came from the called service. For a 4xx answer set `error` instead with
    /// [`with_fields`](Subsegment::with_fields) (`apply_http_status`).
    pub fn record_error(&self, error: &(dyn std::error::Error + 'static), remote: bool) {
        let Some(s) = self.scope() else { return };
        // Display and Debug are user code: formatted before anything is locked.
        let mut out = Outcome::take();
        out.chain.fill(error, remote);
        let _ = s.rec.update(s.node, |mut e, _| {
            e.set_fault(true);
            out.chain.record(&mut e);
        });
        Outcome::put_back(out);
    }

    /// The `X-Amzn-Trace-Id` value for a downstream call made inside this subsegment:
    /// `Root=…;Parent=<this id>;Sampled=1` plus the incoming header's extra fields. In an
    /// unrecorded invocation: `Root=…;Parent=<incoming parent>;Sampled=0`. No trace: `None`.
    pub fn downstream_header(&self) -> Option<String> {
        let mut out = String::new();
        self.write_downstream_header(&mut out).then_some(out)
    }

    /// Appends [`downstream_header`](Subsegment::downstream_header) to `out` (no allocation
    /// once `out` has the capacity); false when there is nothing to write.
    pub fn write_downstream_header(&self, out: &mut String) -> bool {
        match self.frame.header() {
            Some(h) => {
                out.push_str(h.as_str());
                true
            }
            None => false,
        }
    }

    /// A handle that makes this subsegment the current entity where it is entered.
    pub fn handle(&self) -> Handle {
        Handle::from_frame(self.frame.clone())
    }

    /// Runs `f` with this subsegment as the current entity (captured functions and other
    /// subsegments opened in `f` nest under it).
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        if !self.is_recording() {
            return f();
        }
        let mut frame = self.frame.clone();
        let _entered = Entered::new(&mut frame);
        f()
    }

    /// Closes the subsegment now.
    pub fn end(mut self) {
        self.close(Ending::Returned);
    }

    fn close(&mut self, ending: Ending) {
        if let Frame::Recording(s) = std::mem::take(&mut self.frame) {
            s.rec.close(s.node, ending, None);
        }
    }
}

impl Drop for Subsegment {
    fn drop(&mut self) {
        self.close(Ending::on_drop("a panic unwound through the subsegment"));
    }
}

/// Opens `name`, runs `f` with it as the current entity, and closes it. A panic in `f` closes
/// it as a fault with a `panic` exception.
///
/// ```
/// use xray_core::testing::Capture;
///
/// let capture = Capture::new();
/// capture.run_invocation(|| {
///     let rows = xray_core::in_subsegment("load", |seg| {
///         seg.put_annotation("rows", 3).unwrap();
///         3
///     });
///     assert_eq!(rows, 3);
/// });
/// assert_eq!(capture.documents()[0]["subsegments"][0]["annotations"]["rows"], 3);
/// ```
pub fn in_subsegment<R>(name: &str, f: impl FnOnce(&Subsegment) -> R) -> R {
    let seg = Subsegment::begin(name);
    let out = seg.in_scope(|| f(&seg));
    seg.end();
    out
}

/// The future form: a subsegment over a future's real duration, current during every poll.
///
/// ```
/// use xray_core::{InSubsegmentExt as _, testing::Capture};
///
/// let capture = Capture::new();
/// capture.run_invocation(|| {
///     let n = xray_core::testing::poll_to_completion(async { 7 }.in_subsegment("fetch"));
///     assert_eq!(n, 7);
/// });
/// assert_eq!(capture.documents()[0]["subsegments"][0]["name"], "fetch");
/// ```
pub trait InSubsegmentExt: Future + Sized {
    /// Opens `name` under the current entity now; it closes when the future completes (or,
    /// marked as dropped, when the future is dropped before).
    fn in_subsegment(self, name: &str) -> InSubsegment<Self> {
        let seg = Subsegment::begin(name);
        InSubsegment {
            frame: seg.frame.clone(),
            seg: Some(seg),
            future: self,
        }
    }
}

impl<F: Future> InSubsegmentExt for F {}

pin_project_lite::pin_project! {
    /// A future inside a subsegment (see [`InSubsegmentExt`]).
    #[derive(Debug)]
    pub struct InSubsegment<F> {
        #[pin]
        future: F,
        frame: Frame,
        seg: Option<Subsegment>,
    }
}

impl<F: Future> Future for InSubsegment<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let polled = if matches!(this.frame, Frame::Recording(_)) {
            let _entered = Entered::new(this.frame);
            this.future.poll(cx)
        } else {
            this.future.poll(cx)
        };
        if polled.is_ready()
            && let Some(seg) = this.seg.take()
        {
            seg.end();
        }
        polled
    }
}
