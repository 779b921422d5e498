//! One Lambda invocation: the facade segment from the trace header, the handler subsegment,
//! and the document sent before the handler returns.
//!
//! The facade is never sent: Lambda records the function segment itself, and the handler's
//! subsegment goes out as an independent subsegment whose `parent_id` is the header's `Parent`.
//! The header comes from the invocation's `Context` first; `_X_AMZN_TRACE_ID` is only read when
//! the context has none (the concurrent runtime never sets it).

use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;

use serde::Serialize;

use crate::trace_header::{SamplingDecision, TraceHeader};

use crate::model::EntityIndex;

use super::capture::{CaptureOptions, Outcome, Recorder};
use super::context::{Entered, Frame, Handle, Pass, Scope};
use super::recording::{Ending, Root};
use super::span::InFrame;
use super::tracer::{Tracer, with_tracer};

/// The environment variable the sequential Lambda runtime sets for each invocation.
pub const TRACE_ENV: &str = "_X_AMZN_TRACE_ID";

/// Where an invocation's trace header comes from: implemented for `lambda_runtime`'s
/// `LambdaEvent` and `Context` (feature `lambda`), and for header strings.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not carry a Lambda invocation's trace header",
    label = "the first argument of a `#[capture_lambda_handler]` function must be the event",
    note = "use `lambda_runtime::LambdaEvent<T>` (feature `lambda` of xray-core), or implement `xray_core::InvocationSource`"
)]
pub trait InvocationSource {
    /// The `X-Amzn-Trace-Id` value Lambda passed for this invocation, if any.
    fn xray_trace_header(&self) -> Option<&str>;

    /// The invocation's deadline in milliseconds since the Unix epoch, if known: shortly
    /// before it, a handler still running has its open documents sent as `in_progress`.
    fn deadline_ms(&self) -> Option<u64> {
        None
    }
}

impl InvocationSource for str {
    fn xray_trace_header(&self) -> Option<&str> {
        Some(self)
    }
}

impl InvocationSource for String {
    fn xray_trace_header(&self) -> Option<&str> {
        Some(self)
    }
}

impl<T: InvocationSource + ?Sized> InvocationSource for &T {
    fn xray_trace_header(&self) -> Option<&str> {
        (**self).xray_trace_header()
    }

    fn deadline_ms(&self) -> Option<u64> {
        (**self).deadline_ms()
    }
}

impl<T: InvocationSource> InvocationSource for Option<T> {
    fn xray_trace_header(&self) -> Option<&str> {
        self.as_ref().and_then(InvocationSource::xray_trace_header)
    }

    fn deadline_ms(&self) -> Option<u64> {
        self.as_ref().and_then(InvocationSource::deadline_ms)
    }
}

#[cfg(feature = "lambda")]
impl InvocationSource for lambda_runtime::Context {
    fn xray_trace_header(&self) -> Option<&str> {
        self.xray_trace_id.as_deref()
    }

    fn deadline_ms(&self) -> Option<u64> {
        Some(self.deadline).filter(|&d| d > 0)
    }
}

#[cfg(feature = "lambda")]
impl<T> InvocationSource for lambda_runtime::LambdaEvent<T> {
    fn xray_trace_header(&self) -> Option<&str> {
        self.context.xray_trace_id.as_deref()
    }

    fn deadline_ms(&self) -> Option<u64> {
        self.context.deadline_ms()
    }
}

/// The tracing of one invocation, held by the handler wrapper for the handler's lifetime
/// (what `#[capture_lambda_handler]` expands to; see [`Invocation`] for the public form).
#[derive(Debug)]
pub struct LambdaInvocation {
    frame: Frame,
    /// The handler subsegment. The frame's current entity can differ when it closes: a
    /// `tracing` span entered in the handler and exited where the frame was not in place
    /// leaves its subsegment current.
    own: Option<EntityIndex>,
    options: &'static CaptureOptions,
    capture: (bool, bool),
    done: bool,
}

impl LambdaInvocation {
    /// Starts tracing an invocation with the tracer in scope (see [`Tracer::in_scope`]),
    /// else the global one.
    pub fn begin<S: InvocationSource + ?Sized>(
        source: &S,
        options: &'static CaptureOptions,
    ) -> LambdaInvocation {
        let inv = with_tracer(|t| Self::begin_with(t, source.xray_trace_header(), options));
        if let Some(ms) = source.deadline_ms() {
            inv.watch_deadline(ms);
        }
        inv
    }

    /// Sends the open documents as `in_progress` shortly before `deadline_ms` (milliseconds
    /// since the Unix epoch) if the handler is still running then.
    pub(crate) fn watch_deadline(&self, deadline_ms: u64) {
        if let Frame::Recording(s) = &self.frame {
            super::deadline::watch(&s.rec, s.rec.generation(), s.node, deadline_ms);
        }
    }

    /// Starts tracing an invocation with `tracer`, from the header Lambda passed (or, when
    /// `None`, from `_X_AMZN_TRACE_ID`).
    pub fn begin_with(
        tracer: &Tracer,
        header: Option<&str>,
        options: &'static CaptureOptions,
    ) -> LambdaInvocation {
        let cold_start = tracer.take_cold_start();
        let mut inv = LambdaInvocation {
            frame: Frame::Passthrough(None),
            own: None,
            options,
            capture: (false, false),
            done: false,
        };
        if tracer.config().disabled {
            return inv;
        }
        let env_value;
        let header = match header {
            Some(h) => h,
            None => {
                env_value = std::env::var(TRACE_ENV).ok();
                match env_value.as_deref() {
                    Some(h) => h,
                    None => {
                        tracer
                            .counters()
                            .invocations_without_header
                            .fetch_add(1, Relaxed);
                        tracer.context_missing(
                            "the invocation (no X-Ray trace header: is active tracing on?)",
                        );
                        return inv;
                    }
                }
            }
        };
        let counters = tracer.counters();
        // An emitter sending unsampled invocations (`T1U`) has them recorded too.
        let sends_unsampled = tracer.emitter().sends_unsampled();
        // Not sampled, in Lambda's layout, and nothing to record: the ids stay text until a
        // downstream header needs them (see `Pass`).
        if !sends_unsampled
            && let Some((decision, root, parent)) = crate::header_scan::canonical_ids(header)
            && decision != SamplingDecision::Sampled
        {
            counters.invocations_unsampled.fetch_add(1, Relaxed);
            inv.frame = Frame::Passthrough(Some(Pass::from_text(root, parent, decision)));
            return inv;
        }
        let parsed = TraceHeader::parse(header);
        if parsed.malformed().any() {
            counters.malformed_headers.fetch_add(1, Relaxed);
        }
        let (root, parent, decision, extras) = (
            parsed.root(),
            parsed.parent(),
            parsed.sampled(),
            parsed.extras_text(),
        );
        let sampled = decision == SamplingDecision::Sampled;
        match (root, parent) {
            (Some(root), Some(parent)) if sampled || sends_unsampled => {
                if sampled {
                    counters.invocations_sampled.fetch_add(1, Relaxed);
                } else {
                    counters.invocations_unsampled.fetch_add(1, Relaxed);
                }
                let rec = tracer.acquire();
                let config = tracer.config();
                let defaults = (config.capture_response, config.capture_error);
                let (node, id) = rec.begin(
                    root,
                    Root::Handler {
                        name: options.name,
                        parent,
                    },
                    &config.service_name,
                    extras,
                    defaults,
                    |e| {
                        let _ = e.put_annotation("ColdStart", cold_start);
                        let _ = e.put_annotation("Service", config.service_name.as_str());
                    },
                );
                if !sampled {
                    rec.mark_unsampled();
                }
                inv.capture = options.capture(defaults);
                inv.own = Some(node);
                inv.frame = Frame::Recording(Scope {
                    rec,
                    node,
                    id,
                    trace: root,
                });
            }
            (root, parent) => {
                counters.invocations_unsampled.fetch_add(1, Relaxed);
                inv.frame = Frame::Passthrough(root.map(|root| Pass::new(root, parent, decision)));
            }
        }
        inv
    }

    /// True when this invocation is recorded: sampled, or unsampled under an emitter that
    /// [sends those](crate::wire::Emitter::sends_unsampled) as `T1U`.
    pub fn is_recording(&self) -> bool {
        matches!(self.frame, Frame::Recording(_))
    }

    /// Runs the handler's future with this invocation's trace in scope.
    pub fn instrument<F: Future>(&mut self, future: F) -> InFrame<'_, F> {
        InFrame::new(&mut self.frame, future)
    }

    /// Runs `f` with this invocation's trace in scope.
    pub fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _entered = Entered::new(&mut self.frame);
        f()
    }

    /// A handle to the invocation's trace.
    pub fn handle(&self) -> Handle {
        Handle::from_frame(self.frame.clone())
    }

    /// Lets `record` describe the handler's outcome, closes the handler subsegment and sends
    /// the invocation's document. A panic in `record` closes it as a panic instead.
    pub fn finish(mut self, record: impl FnOnce(&mut Recorder<'_>)) {
        if !self.is_recording() {
            self.done = true;
            return;
        }
        let mut out = Outcome::take();
        record(&mut Recorder::new(&mut out, self.options, self.capture));
        self.done = true;
        self.close(Ending::Returned, Some(out));
    }

    fn close(&mut self, ending: Ending, out: Option<Box<Outcome>>) {
        if let (Frame::Recording(s), Some(own)) = (std::mem::take(&mut self.frame), self.own) {
            s.rec.close(own, ending, out);
        }
    }
}

impl Drop for LambdaInvocation {
    fn drop(&mut self) {
        if !self.done {
            // The handler panicked or its future was dropped (a timeout in a wrapper, say):
            // still send what was recorded, marked as such.
            self.close(Ending::on_drop("the function panicked"), None);
        }
    }
}

static HANDLER: CaptureOptions = CaptureOptions {
    name: "## handler",
    name_is_valid: true,
    response_key: "handler response",
    error_key: "handler error",
    capture_response: None,
    capture_error: None,
};

/// One traced invocation, for runtimes and wrappers other than the handler macro: the
/// `## handler` subsegment (annotated `ColdStart` and `Service`), its response or error, and
/// the document sent when it finishes. From [`Tracer::begin_invocation`].
///
/// ```
/// use xray_core::testing::Capture;
///
/// let capture = Capture::new();
/// let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// let mut invocation = capture.tracer().begin_invocation(Some(header));
/// let out = invocation.in_scope(|| {
///     xray_core::in_subsegment("lookup", |_| 42)
/// });
/// invocation.finish_ok(&out);
///
/// let docs = capture.documents();
/// assert_eq!(docs[0]["name"], "## handler");
/// assert_eq!(docs[0]["subsegments"][0]["name"], "lookup");
/// assert_eq!(docs[0]["metadata"]["service_undefined"]["handler response"], 42);
/// ```
#[derive(Debug)]
#[must_use = "an invocation is sent when finished (or dropped)"]
pub struct Invocation {
    inner: LambdaInvocation,
}

impl Tracer {
    /// Starts tracing one invocation from the trace header its runtime passed (`None`: from
    /// `_X_AMZN_TRACE_ID`), as `#[capture_lambda_handler]` does.
    pub fn begin_invocation(&self, header: Option<&str>) -> Invocation {
        Invocation {
            inner: LambdaInvocation::begin_with(self, header, &HANDLER),
        }
    }
}

impl Invocation {
    /// True when this invocation is recorded: sampled, or unsampled under an emitter that
    /// [sends those](crate::wire::Emitter::sends_unsampled) as `T1U`.
    pub fn is_recording(&self) -> bool {
        self.inner.is_recording()
    }

    /// A handle to the invocation's trace (for spawned tasks and threads).
    pub fn handle(&self) -> Handle {
        self.inner.handle()
    }

    /// Runs `f` with the invocation's trace in scope.
    pub fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        self.inner.in_scope(f)
    }

    /// If the invocation is still running 100 ms before `deadline_ms` (milliseconds since the
    /// Unix epoch, as `lambda_runtime::Context::deadline`), its open documents are sent as
    /// `in_progress` then; the final ones replace them when it finishes. One watcher thread
    /// serves the process.
    pub fn watch_deadline(&self, deadline_ms: u64) {
        self.inner.watch_deadline(deadline_ms);
    }

    /// Runs `future` with the invocation's trace in scope during every poll.
    pub fn instrument<F: Future>(
        &mut self,
        future: F,
    ) -> impl Future<Output = F::Output> + use<'_, F> {
        self.inner.instrument(future)
    }

    /// Records `response` as the metadata `handler response` and sends the document.
    pub fn finish_ok<T: Serialize + ?Sized>(self, response: &T) {
        self.inner.finish(|r| r.response(response));
    }

    /// Records `error` (a fault, with its `source()` chain) and sends the document.
    pub fn finish_err(self, error: &(dyn std::error::Error + 'static)) {
        self.inner.finish(|r| r.error(error, None));
    }

    /// Records an error known by its `Debug` form (the label) and its `Display` message.
    pub(crate) fn finish_err_labelled(
        self,
        debug: &dyn std::fmt::Debug,
        message: &dyn std::fmt::Display,
    ) {
        self.inner.finish(|r| r.error_labelled(debug, message));
    }

    pub(crate) fn frame_mut(&mut self) -> &mut Frame {
        &mut self.inner.frame
    }

    /// Sends the document with nothing more recorded.
    pub fn finish(self) {
        self.inner.finish(|_| {});
    }
}
