//! Segments for services that receive requests themselves.
//!
//! On ECS, Fargate, EC2 or in any container nothing upstream records the service, so the SDK
//! opens a *segment* per request, decides sampling when the caller left it open, and sends the
//! segment (a top-level document, not a subsegment) when the response is ready. A sampled
//! request takes a recording from the tracer's pool, as a Lambda invocation does; an unsampled
//! one takes nothing and only keeps the trace id and decision for downstream headers.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::id::{SegmentId, TraceId};
use crate::model::{EntityIndex, EntityMut};
use crate::name::sanitize_name_into;
use crate::sampling::{RuleName, Sampler, SamplingRequest};
use crate::trace_header::{EncodedHeader, SamplingDecision, TraceHeader};

use super::context::{Entered, Frame, Handle, Instrumented, Pass, Scope};
use super::host::HostFacts;
use super::recording::{Ending, Root};
use super::tracer::Tracer;

/// `aws.xray.sdk` on every service segment.
pub const SDK_NAME: &str = "X-Ray for Rust";

/// `aws.xray.sdk_version` on every service segment: this crate's version.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a service segment needs from an inbound request, borrowed from it.
///
/// Every field is optional. `host`, `method` and `path` are what sampling rules match;
/// `method`, `url`, `user_agent` and `client_ip` are recorded in `http.request` (cut to 250
/// characters, the schema's limit).
///
/// ```
/// use xray_core::IncomingRequest;
/// let request = IncomingRequest {
///     trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?"),
///     host: Some("orders.example.com"),
///     method: Some("GET"),
///     path: Some("/orders/17"),
///     url: Some("https://orders.example.com/orders/17"),
///     client_ip: Some("203.0.113.7"),
///     x_forwarded_for: true,
///     ..IncomingRequest::default()
/// };
/// assert_eq!(request.user_agent, None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IncomingRequest<'a> {
    /// The `X-Amzn-Trace-Id` header, as received.
    pub trace_header: Option<&'a str>,
    /// The `Host` header (sampling rules' `host`).
    pub host: Option<&'a str>,
    /// The method (`http.request.method`; sampling rules' `http_method`).
    pub method: Option<&'a str>,
    /// The URL path (sampling rules' `url_path`).
    pub path: Option<&'a str>,
    /// The full URL (`http.request.url`).
    pub url: Option<&'a str>,
    /// The `User-Agent` header (`http.request.user_agent`).
    pub user_agent: Option<&'a str>,
    /// The client's address (`http.request.client_ip`).
    pub client_ip: Option<&'a str>,
    /// `client_ip` came from `X-Forwarded-For` rather than the connection
    /// (`http.request.x_forwarded_for`).
    pub x_forwarded_for: bool,
}

/// Opens a segment for each request a service receives. Cheap to clone: clones share the
/// tracer, the sampler and the host facts.
///
/// The segment name is `AWS_XRAY_TRACING_NAME` when set (through
/// [`Config::tracing_name`](crate::Config::tracing_name)), else the name given here; it is
/// made valid once, here (characters X-Ray refuses become `_`, at most 200 are kept).
///
/// ```
/// use xray_core::{Config, Emitter, HostFacts, IncomingRequest, ServiceTracer, Tracer};
///
/// let (emitter, sink) = Emitter::memory(xray_core::DEFAULT_DATAGRAM_LIMIT);
/// let tracer = Tracer::with_emitter(Config::default(), emitter);
/// let service = ServiceTracer::builder(tracer, "orders-api")
///     .host(HostFacts::default().with_ec2("i-0123abcd", "eu-west-1a"))
///     .service_version("1.4.2")
///     .build();
///
/// let segment = service.begin(&IncomingRequest {
///     trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
///     method: Some("GET"),
///     url: Some("http://orders.internal/orders/17"),
///     ..IncomingRequest::default()
/// });
/// assert!(segment.is_sampled());
/// let response_header = segment.response_header();
/// assert_eq!(&*response_header, "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
/// segment.finish(Some(404), Some(0));
///
/// let doc = &sink.take_documents()[0];
/// assert_eq!(doc["name"], "orders-api");
/// assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
/// assert_eq!(doc["origin"], "AWS::EC2::Instance");
/// assert_eq!(doc["http"]["response"]["status"], 404);
/// assert_eq!(doc["error"], true);
/// assert!(doc.get("type").is_none(), "a segment, not a subsegment");
/// ```
#[derive(Debug, Clone)]
pub struct ServiceTracer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tracer: Tracer,
    /// Already valid (sanitised once in `build`).
    name: String,
    sampler: Sampler,
    host: HostFacts,
    service_version: String,
}

/// Configures a [`ServiceTracer`] (see [`ServiceTracer::builder`]).
#[derive(Debug)]
#[must_use = "call `build` to get the tracer"]
pub struct ServiceTracerBuilder {
    tracer: Tracer,
    name: String,
    sampler: Option<Sampler>,
    host: Option<HostFacts>,
    service_version: String,
}

impl ServiceTracerBuilder {
    /// Decides unsampled and `Sampled=?` requests with `sampler` (a
    /// [`LocalSampler`](crate::sampling::LocalSampler) with the built-in rules by default,
    /// or a started [`CentralizedSampler`](crate::sampling::CentralizedSampler)).
    pub fn sampler(mut self, sampler: impl Into<Sampler>) -> ServiceTracerBuilder {
        self.sampler = Some(sampler.into());
        self
    }

    /// Uses `facts` instead of detecting them (see [`HostFacts::detect`]).
    pub fn host(mut self, facts: HostFacts) -> ServiceTracerBuilder {
        self.host = Some(facts);
        self
    }

    /// Sets `service.version` on every segment (the application's version).
    pub fn service_version(mut self, version: &str) -> ServiceTracerBuilder {
        version.clone_into(&mut self.service_version);
        self
    }

    /// The tracer. Host facts not given are detected now, once.
    pub fn build(self) -> ServiceTracer {
        let wanted = self
            .tracer
            .config()
            .tracing_name
            .as_deref()
            .unwrap_or(&self.name);
        let mut name = String::new();
        sanitize_name_into(wanted, &mut name);
        ServiceTracer {
            inner: Arc::new(Inner {
                name,
                sampler: self.sampler.unwrap_or_default(),
                host: self.host.unwrap_or_else(HostFacts::detect),
                service_version: self.service_version,
                tracer: self.tracer,
            }),
        }
    }
}

impl ServiceTracer {
    /// A tracer for the service `name`, with the built-in sampling rules and detected host
    /// facts.
    pub fn new(tracer: Tracer, name: &str) -> ServiceTracer {
        ServiceTracer::builder(tracer, name).build()
    }

    /// Starts configuring a tracer for the service `name`.
    pub fn builder(tracer: Tracer, name: &str) -> ServiceTracerBuilder {
        ServiceTracerBuilder {
            tracer,
            name: name.to_owned(),
            sampler: None,
            host: None,
            service_version: String::new(),
        }
    }

    /// The segment name, as sent.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The tracer segments are recorded with (its stats count sampled and unsampled requests
    /// with the invocations).
    pub fn tracer(&self) -> &Tracer {
        &self.inner.tracer
    }

    /// The sampler.
    pub fn sampler(&self) -> &Sampler {
        &self.inner.sampler
    }

    /// The host facts written on every segment.
    pub fn host(&self) -> &HostFacts {
        &self.inner.host
    }

    /// Opens the segment for `request`.
    ///
    /// An incoming header is continued: its `Root` is the trace id and its `Parent` the
    /// segment's `parent_id`; `Sampled=1` and `Sampled=0` are obeyed. With `Sampled=?`, no
    /// `Sampled` or no header, the sampler decides from the host, method, path, segment name
    /// and origin, and a centralized rule's name is recorded in `aws.xray.sampling_rule_name`.
    /// Without a readable `Root` the trace is new: a fresh trace id when sampled; when not,
    /// the all-zero id unless `AWS_XRAY_NOOP_ID=false` (the other SDKs' rule, which spares
    /// unsampled requests the random draw).
    ///
    /// An unsampled request records nothing and takes no recording; code run in its scope
    /// still sees the trace id and `Sampled=0` for downstream headers.
    pub fn begin(&self, request: &IncomingRequest<'_>) -> ServiceSegment {
        let inner = &*self.inner;
        let tracer = &inner.tracer;
        let config = tracer.config();
        let counters = tracer.counters();
        let header = request
            .trace_header
            .map(TraceHeader::parse)
            .unwrap_or_default();
        if header.malformed().any() {
            counters.malformed_headers.fetch_add(1, Relaxed);
        }
        let mut rule = None;
        let sampled = !config.disabled
            && match header.sampled() {
                SamplingDecision::Sampled => true,
                SamplingDecision::NotSampled => false,
                SamplingDecision::Requested | SamplingDecision::Unknown => {
                    let outcome = inner.sampler.decide(&SamplingRequest {
                        host: request.host,
                        method: request.method,
                        url_path: request.path,
                        service_name: Some(&inner.name),
                        service_type: Some(inner.host.origin.as_str()),
                    });
                    rule = outcome.rule_name;
                    outcome.sampled
                }
            };
        // A `Parent` only means something in the trace its `Root` names.
        let (trace_id, parent) = match header.root() {
            Some(root) => (root, header.parent()),
            None if sampled || !config.noop_ids => (
                TraceId::random_at(tracer.clock().now().seconds() as u32),
                None,
            ),
            None => (TraceId::NOOP, None),
        };
        if !sampled {
            counters.invocations_unsampled.fetch_add(1, Relaxed);
            return ServiceSegment {
                frame: Frame::Passthrough(Some(Pass {
                    root: trace_id,
                    parent,
                    decision: SamplingDecision::NotSampled,
                })),
                root: None,
                trace_id,
                id: None,
            };
        }
        counters.invocations_sampled.fetch_add(1, Relaxed);
        let rec = tracer.acquire();
        let (node, id) = rec.begin(
            trace_id,
            Root::Segment {
                name: &inner.name,
                parent,
            },
            &inner.name,
            header.extras_text(),
            (config.capture_response, config.capture_error),
            |e| inner.describe(e, request, rule),
        );
        ServiceSegment {
            frame: Frame::Recording(Scope {
                rec,
                node,
                id,
                trace: trace_id,
            }),
            root: Some(node),
            trace_id,
            id: Some(id),
        }
    }
}

/// A request field worth writing.
fn given(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty())
}

impl Inner {
    /// Writes the host, SDK and request fields on a new segment.
    fn describe(
        &self,
        e: &mut EntityMut<'_>,
        request: &IncomingRequest<'_>,
        rule: Option<RuleName>,
    ) {
        let h = &self.host;
        let present = |s: &str| !s.is_empty();
        if present(&h.origin) {
            e.set_origin(&h.origin);
        }
        if present(&h.ecs_container) {
            e.aws_ecs_container(&h.ecs_container);
        }
        if present(&h.ec2_instance_id) {
            e.aws_ec2_instance_id(&h.ec2_instance_id);
        }
        if present(&h.ec2_availability_zone) {
            e.aws_ec2_availability_zone(&h.ec2_availability_zone);
        }
        if present(&self.service_version) {
            e.set_service_version(&self.service_version);
        }
        e.aws_xray_sdk(SDK_NAME).aws_xray_sdk_version(SDK_VERSION);
        if let Some(rule) = rule {
            e.aws_sampling_rule_name(rule.as_str());
        }
        if let Some(v) = given(request.method) {
            e.http_method(v);
        }
        if let Some(v) = given(request.url) {
            e.http_url(v);
        }
        if let Some(v) = given(request.user_agent) {
            e.http_user_agent(v);
        }
        if let Some(v) = given(request.client_ip) {
            e.http_client_ip(v);
            if request.x_forwarded_for {
                e.http_x_forwarded_for(true);
            }
        }
    }
}

/// The segment of one request, from [`ServiceTracer::begin`].
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
/// use xray_core::{Config, Emitter, IncomingRequest, ServiceTracer, Tracer};
///
/// let (emitter, sink) = Emitter::memory(xray_core::DEFAULT_DATAGRAM_LIMIT);
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
    frame: Frame,
    root: Option<EntityIndex>,
    trace_id: TraceId,
    id: Option<SegmentId>,
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
        let mut out = super::capture::Outcome::take();
        if capture {
            out.chain.fill_one(type_name, Some(error));
        }
        let _ = scope.rec.update(root, |mut e, _| {
            e.set_fault(true);
            if capture {
                out.chain.record(&mut e);
            }
        });
        super::capture::Outcome::put_back(out);
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

#[cfg(test)]
mod tests;
