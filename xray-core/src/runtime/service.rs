//! Segments for services that receive requests themselves.
//!
//! On ECS, Fargate, EC2 or in any container nothing upstream records the service, so the SDK
//! opens a *segment* per request, decides sampling when the caller left it open, and sends the
//! segment (a top-level document, not a subsegment) when the response is ready. A sampled
//! request takes a recording from the tracer's pool, as a Lambda invocation does; an unsampled
//! one takes nothing and only keeps the trace id and decision for downstream headers.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::id::TraceId;
use crate::model::EntityMut;
use crate::name::sanitize_name_into;
use crate::sampling::{RuleName, Sampler, SamplingRequest};
use crate::trace_header::{SamplingDecision, TraceHeader};
use crate::w3c;

use super::context::{Frame, Pass, Scope};
use super::host::HostFacts;
use super::recording::Root;
use super::tracer::Tracer;

mod inbound;
mod segment;

use inbound::Inbound;

pub use segment::ServiceSegment;

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
/// use xray_core::service::IncomingRequest;
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
///
/// Not `#[non_exhaustive]` on purpose: callers build it with a struct literal and
/// `..Default::default()`, which that attribute forbids outside this crate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IncomingRequest<'a> {
    /// The `X-Amzn-Trace-Id` header, as received.
    pub trace_header: Option<&'a str>,
    /// The W3C `traceparent` header, as received (see [`crate::w3c`] for which header wins).
    pub traceparent: Option<&'a str>,
    /// The W3C `tracestate` header (several received ones joined with `,`), forwarded
    /// downstream when the `traceparent` it came with is followed.
    pub tracestate: Option<&'a str>,
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
/// use xray_core::{Config, Tracer, wire::Emitter, service::{HostFacts, IncomingRequest, ServiceTracer}};
///
/// let (emitter, sink) = Emitter::memory(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
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
    /// segment's `parent_id`; `Sampled=1` and `Sampled=0` are obeyed. A W3C `traceparent` is
    /// continued the same way (its `sampled` flag obeyed) when there is no `X-Amzn-Trace-Id`,
    /// and fills a missing `Parent` or `Sampled` of one naming the same trace; the
    /// [`crate::w3c`] module docs give the whole rule. With `Sampled=?`, no
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
        let traceparent = match request.traceparent.map(w3c::parse_traceparent) {
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => {
                counters.malformed_headers.fetch_add(1, Relaxed);
                None
            }
            None => None,
        };
        let inbound = Inbound::resolve(&header, traceparent);
        let tracestate = if inbound.w3c {
            request.tracestate.and_then(w3c::bounded_tracestate)
        } else {
            None
        };
        let mut rule = None;
        let sampled = !config.disabled
            && match inbound.decision {
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
        let (trace_id, parent) = match inbound.root {
            Some(root) => (root, inbound.parent),
            None if sampled || !config.noop_ids => (
                TraceId::random_at(tracer.clock().now().seconds() as u32),
                None,
            ),
            None => (TraceId::NOOP, None),
        };
        if !sampled {
            counters.invocations_unsampled.fetch_add(1, Relaxed);
            return ServiceSegment {
                // The tracestate is bounded, and only there when the caller sent one with a
                // followed traceparent.
                frame: Frame::Passthrough(Some(
                    Pass::new(trace_id, parent, SamplingDecision::NotSampled)
                        .carrying(tracestate.map(Arc::from)),
                )),
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
        if let Some(state) = tracestate {
            rec.set_tracestate(state);
        }
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

#[cfg(test)]
mod tests;
#[cfg(test)]
mod w3c_tests;
