//! One Lambda invocation: the facade segment from the trace header, the handler subsegment,
//! and the document sent before the handler returns.
//!
//! The facade is never sent: Lambda records the function segment itself, and the handler's
//! subsegment goes out as an independent subsegment whose `parent_id` is the header's `Parent`.
//! The header comes from the invocation's `Context` first; `_X_AMZN_TRACE_ID` is only read when
//! the context has none (the concurrent runtime never sets it).

use std::future::Future;

use crate::model::EntityIndex;
use crate::trace_header::{SamplingDecision, TraceHeader};

use super::capture::{ABNORMAL, Recorder, conclude};
use super::scope::{Frame, Scope};
use super::span::{CaptureOptions, InFrame};
use super::tracer::{Tracer, global};

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
}

impl<T: InvocationSource> InvocationSource for Option<T> {
    fn xray_trace_header(&self) -> Option<&str> {
        self.as_ref().and_then(InvocationSource::xray_trace_header)
    }
}

#[cfg(feature = "lambda")]
impl InvocationSource for lambda_runtime::Context {
    fn xray_trace_header(&self) -> Option<&str> {
        self.xray_trace_id.as_deref()
    }
}

#[cfg(feature = "lambda")]
impl<T> InvocationSource for lambda_runtime::LambdaEvent<T> {
    fn xray_trace_header(&self) -> Option<&str> {
        self.context.xray_trace_id.as_deref()
    }
}

/// The tracing of one invocation, held by the handler wrapper for the handler's lifetime.
///
/// ```
/// use xray_core::__private::{CaptureOptions, LambdaInvocation};
/// static OPTIONS: CaptureOptions = CaptureOptions {
///     name: "## handler",
///     name_is_valid: true,
///     response_key: "handler response",
///     error_key: "handler error",
///     capture_response: None,
///     capture_error: None,
/// };
/// let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0";
/// let mut invocation = LambdaInvocation::begin(&header, &OPTIONS);
/// assert!(!invocation.is_recording());
/// invocation.finish(|_| {});
/// ```
#[derive(Debug)]
pub struct LambdaInvocation {
    frame: Frame,
    root: Option<EntityIndex>,
    options: &'static CaptureOptions,
    done: bool,
}

impl LambdaInvocation {
    /// Starts tracing an invocation with the global tracer.
    pub fn begin<S: InvocationSource + ?Sized>(
        source: &S,
        options: &'static CaptureOptions,
    ) -> LambdaInvocation {
        Self::begin_with(global(), source.xray_trace_header(), options)
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
            root: None,
            options,
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
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracer.context_missing(
                            "the invocation (no X-Ray trace header: is active tracing on?)",
                        );
                        return inv;
                    }
                }
            }
        };
        let parsed = TraceHeader::parse(header);
        let counters = tracer.counters();
        if parsed.malformed().any() {
            counters
                .malformed_headers
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        match (parsed.root(), parsed.parent(), parsed.sampled()) {
            (Some(root), Some(parent), SamplingDecision::Sampled) => {
                counters
                    .invocations_sampled
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let state = tracer.acquire();
                let now = state.now();
                let node = {
                    let mut rec = state.lock();
                    let config = tracer.config();
                    rec.reset(root, &config.service_name, parsed.extras_text());
                    rec.capture_response = config.capture_response;
                    rec.capture_error = config.capture_error;
                    let node = rec
                        .tree
                        .begin_detached_subsegment(options.name, parent, now);
                    rec.root = Some(node);
                    let mut e = rec.tree.entity_mut(node);
                    let _ = e.put_annotation("ColdStart", cold_start);
                    let _ = e.put_annotation("Service", config.service_name.as_str());
                    node
                };
                inv.root = Some(node);
                inv.frame = Frame::Recording(Scope { state, node });
            }
            (root, _, decision) => {
                counters
                    .invocations_unsampled
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                inv.frame = Frame::Passthrough(root.map(|r| (r, decision)));
            }
        }
        inv
    }

    /// True when this invocation is recorded.
    pub fn is_recording(&self) -> bool {
        self.root.is_some()
    }

    /// Runs the handler's future with this invocation's trace in scope.
    pub fn instrument<F: Future>(&mut self, future: F) -> InFrame<'_, F> {
        InFrame::new(&mut self.frame, future)
    }

    /// Lets `record` describe the handler's outcome, closes the handler subsegment and sends
    /// the invocation's document.
    pub fn finish(mut self, record: impl FnOnce(&mut Recorder<'_>)) {
        self.close(Some(record));
    }

    fn close(&mut self, record: Option<impl FnOnce(&mut Recorder<'_>)>) {
        self.done = true;
        let (Frame::Recording(scope), Some(root)) = (std::mem::take(&mut self.frame), self.root)
        else {
            return;
        };
        let now = scope.state.now();
        let mut rec = scope.state.lock();
        conclude(&mut rec, root, self.options, record);
        rec.close(root, now, &scope.state.emitter);
    }
}

impl Drop for LambdaInvocation {
    fn drop(&mut self) {
        if !self.done {
            // The handler panicked or its future was dropped (a timeout in a wrapper, say):
            // still send what was recorded, marked as such.
            self.close(ABNORMAL);
        }
    }
}
