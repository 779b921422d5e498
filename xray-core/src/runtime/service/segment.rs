//! One request's segment: scoping work under it, and closing it with the response.

use std::future::Future;

use crate::id::{SegmentId, TraceId};
use crate::model::{EntityIndex, EntityMut};
use crate::runtime::context::{Entered, Frame, Handle, Instrumented};
use crate::runtime::recording::Ending;
use crate::trace_header::{EncodedHeader, SamplingDecision, TraceHeader};

/// The segment of one request, from [`ServiceTracer::begin`](super::ServiceTracer::begin).
///
/// Run the request's work with [`instrument`](ServiceSegment::instrument) or
/// [`in_scope`](ServiceSegment::in_scope) so `#[capture_method]` functions and
/// [`put_annotation`](crate::put_annotation) record under the segment, then
/// [`finish`](ServiceSegment::finish) it with the response status. A segment dropped without
/// `finish` (the request's future was dropped, or a panic unwound through it) is still closed
/// and sent: a panic marks it a fault with a `panic` exception; a drop adds the metadata
/// `xray_sdk.dropped_before_completion`.
///
/// ```
/// use xray_core::{Config, Tracer, wire::Emitter, service::{IncomingRequest, ServiceTracer}};
///
/// let (emitter, sink) = Emitter::memory(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
/// let service = ServiceTracer::new(Tracer::with_emitter(Config::default(), emitter), "orders");
/// let segment = service.begin(&IncomingRequest {
///     trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
///     ..IncomingRequest::default()
/// });
/// let rows = segment.in_scope(|| {
///     xray_core::put_annotation("customer", "c-9");
///     // A downstream call would send this header.
///     let down = xray_core::downstream_header().unwrap();
///     assert!(down.starts_with("Root=1-5759e988-bd862e3fe1be46a994272793;Parent="));
///     3
/// });
/// segment.with_entity(|mut e| {
///     e.set_user("u-42");
/// });
/// segment.finish(Some(200), Some(rows * 10));
/// let doc = &sink.take_documents()[0];
/// assert_eq!(doc["annotations"]["customer"], "c-9");
/// assert_eq!(doc["user"], "u-42");
/// assert_eq!(doc["http"]["response"]["content_length"], 30);
/// ```
#[derive(Debug)]
#[must_use = "a segment is sent when finished (or dropped): keep it for the request's lifetime"]
pub struct ServiceSegment {
    /// `Recording` while sampled and open (`None` once sent), `Passthrough` when unsampled.
    pub(super) frame: Frame,
    pub(super) root: Option<EntityIndex>,
    pub(super) trace_id: TraceId,
    pub(super) id: Option<SegmentId>,
}

impl ServiceSegment {
    /// True when this request is recorded and its segment will be sent.
    pub fn is_sampled(&self) -> bool {
        self.root.is_some()
    }

    /// The trace the request belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The segment's id; `None` when the request is not sampled (nothing is recorded).
    pub fn id(&self) -> Option<SegmentId> {
        self.id
    }

    /// The `X-Amzn-Trace-Id` value to return in the response: `Root=…;Sampled=1` or
    /// `Root=…;Sampled=0`, so a caller learns the trace id and the decision.
    pub fn response_header(&self) -> EncodedHeader {
        let decision = if self.is_sampled() {
            SamplingDecision::Sampled
        } else {
            SamplingDecision::NotSampled
        };
        TraceHeader::new(self.trace_id, None, decision).encode()
    }

    /// A handle to the segment, to carry it into spawned tasks and threads.
    pub fn handle(&self) -> Handle {
        Handle::from_frame(self.frame.clone())
    }

    /// Runs `f` with the segment as the current entity.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let mut frame = self.frame.clone();
        let _entered = Entered::new(&mut frame);
        f()
    }

    /// Wraps `future` so every poll runs with the segment as the current entity.
    pub fn instrument<F: Future>(&self, future: F) -> Instrumented<F> {
        Instrumented::new(self.frame.clone(), future)
    }

    /// Runs `f` on the segment's fields (`user`, annotations, `http`, …); `None` when not
    /// sampled. SDK calls made from inside `f` return
    /// [`RecordError::Reentrant`](crate::RecordError::Reentrant): the recording is locked while
    /// it runs.
    pub fn with_entity<R>(&self, f: impl FnOnce(EntityMut<'_>) -> R) -> Option<R> {
        let (Frame::Recording(scope), Some(root)) = (&self.frame, self.root) else {
            return None;
        };
        scope.rec.hold(root, f).ok()
    }

    /// Records the response and sends the segment. A status sets `http.response.status`
    /// and the flags (5xx a fault, 429 a throttle and an error, other 4xx an error).
    pub fn finish(mut self, status: Option<u16>, content_length: Option<u64>) {
        self.close(Some((status, content_length)));
    }

    /// Runs `f` with the segment's own frame in place: no reference counting, for the
    /// layer's future, which owns the segment.
    #[cfg(feature = "http")]
    pub(crate) fn run_in<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _entered = Entered::new(&mut self.frame);
        f()
    }

    /// Marks a fault for a failure known only by its type name and `Display` form (an inner
    /// service's error); with error capture on, records it as an exception.
    #[cfg(any(test, feature = "http"))]
    pub(crate) fn record_failure(&self, type_name: &str, error: &dyn std::fmt::Display) {
        let (Frame::Recording(scope), Some(root)) = (&self.frame, self.root) else {
            return;
        };
        let capture = scope.rec.capture().1;
        // The message is formatted before anything is locked.
        let mut out = crate::runtime::capture::Outcome::take();
        if capture {
            out.chain.fill_one(type_name, Some(error));
        }
        let _ = scope.rec.update(root, |mut e, _| {
            e.set_fault(true);
            if capture {
                out.chain.record(&mut e);
            }
        });
        crate::runtime::capture::Outcome::put_back(out);
    }

    fn close(&mut self, response: Option<(Option<u16>, Option<u64>)>) {
        let Frame::Recording(scope) = std::mem::take(&mut self.frame) else {
            return;
        };
        let Some(root) = self.root else {
            return;
        };
        let ending = match response {
            Some((status, content_length)) => {
                let _ = scope.rec.update(root, |mut e, _| {
                    if let Some(status) = status {
                        e.apply_http_status(status);
                    }
                    if let Some(len) = content_length {
                        e.http_content_length(len);
                    }
                });
                Ending::Returned
            }
            None => Ending::on_drop("the request handler panicked"),
        };
        scope.rec.close(root, ending, None);
    }
}

impl Drop for ServiceSegment {
    fn drop(&mut self) {
        // Not finished: the request's future was dropped or a panic is unwinding. Still
        // send what was recorded, marked as such (a no-op once finished or when unsampled).
        self.close(None);
    }
}
