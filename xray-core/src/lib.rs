//! AWS X-Ray tracing for Rust, built for AWS Lambda: ids, the `X-Amzn-Trace-Id` header, the
//! segment model, and an emitter that writes segment documents into reused buffers and sends
//! them to the X-Ray daemon over UDP without allocating (once warm, with up to 256 invocations
//! in flight; see `# Limitations`).
//!
//! # Lambda
//!
//! One attribute on the `lambda_runtime` handler, one on each function worth seeing. The
//! handler's subsegment (`## handler`, annotated `ColdStart` and `Service`) and everything
//! nested in it are sent as one independent subsegment before the handler returns; `Ok`
//! values are recorded as metadata, `Err` values as a fault with their `source()` chain.
//!
//! ```
//! use lambda_runtime::{Context, Error, LambdaEvent};
//! use xray_core::{capture_lambda_handler, capture_method};
//!
//! #[capture_method]
//! async fn submit_user(id: &str) -> Result<(), std::io::Error> {
//!     xray_core::put_annotation("user_id", id);
//!     Ok(())
//! }
//!
//! #[capture_lambda_handler]
//! async fn handler(event: LambdaEvent<String>) -> Result<String, Error> {
//!     submit_user(&event.payload).await?;
//!     Ok(format!("registered {}", event.payload))
//! }
//!
//! // In a function: `lambda_runtime::run(lambda_runtime::service_fn(handler)).await`, and
//! // the tracer sends to `AWS_XRAY_DAEMON_ADDRESS`. Here, a daemon socket of our own and one
//! // invocation with the header Lambda would pass.
//! let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
//! let emitter = xray_core::wire::Emitter::udp(daemon.local_addr().unwrap(), 64_000);
//! let tracer = xray_core::Tracer::with_emitter(xray_core::Config::default(), emitter);
//! assert!(xray_core::set_global(tracer).is_ok());
//! let mut context = Context::default();
//! context.xray_trace_id = Some(
//!     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into(),
//! );
//! let out = xray_core::testing::poll_to_completion(handler(LambdaEvent::new("u-1".into(), context)));
//! assert_eq!(out.unwrap(), "registered u-1");
//! let mut buf = [0u8; 65_536];
//! let n = daemon.recv(&mut buf).unwrap();
//! assert!(std::str::from_utf8(&buf[..n]).unwrap().contains("\"name\":\"## handler\""));
//! ```
//!
//! # Subsegments by hand
//!
//! [`Subsegment`] opens a subsegment under the current entity without writing a function (what
//! AWS SDK, HTTP client and SQL integrations build on); [`in_subsegment`] and
//! [`InSubsegmentExt::in_subsegment`] are its closure and future forms. Each is inert when the
//! invocation is not sampled. `testing::Capture` (feature `testing`) gives
//! a test exactly the documents its code produced.
//!
//! ```
//! use xray_core::{InSubsegmentExt as _, Namespace, Subsegment, testing::Capture};
//!
//! let capture = Capture::new();
//! capture.run_invocation(|| {
//!     let call = Subsegment::begin("DynamoDB");
//!     call.with_fields(|e| {
//!         e.set_namespace(Namespace::Aws).aws_operation("GetItem");
//!     });
//!     // Sent with the request, so the callee joins the trace under this subsegment.
//!     let _header = call.downstream_header();
//!     call.end();
//!     xray_core::in_subsegment("render", |seg| seg.put_annotation("rows", 3).unwrap());
//!     xray_core::testing::poll_to_completion(async {}.in_subsegment("flush"));
//! });
//! let doc = &capture.documents()[0];
//! assert_eq!(doc["subsegments"][0]["aws"]["operation"], "GetItem");
//! assert_eq!(doc["subsegments"][1]["annotations"]["rows"], 3);
//! assert_eq!(doc["subsegments"][2]["name"], "flush");
//! ```
//!
//! # Without the handler macro
//!
//! [`LambdaLayer`] traces every invocation of a `lambda_runtime` service (a `lambda_http` or
//! axum app, a hand-written `tower::Service`, `run_concurrent`) as the macro does:
//! `lambda_runtime::run(ServiceBuilder::new().layer(LambdaLayer::new()).service(svc))`.
//! Other runtimes use [`Tracer::begin_invocation`] and [`Invocation`]. Shortly before an
//! invocation's deadline, a handler still running has its open documents sent as
//! `in_progress`; the final ones replace them.
//!
//! # Building documents by hand
//!
//! ```
//! use xray_core::{Namespace, TraceHeader, wire::{EmitBuffer, Emitter}, model::{EntityTree, Timestamp}};
//!
//! // The header an upstream service (or Lambda) passed in.
//! let header = TraceHeader::parse(
//!     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
//! );
//!
//! let mut tree = EntityTree::new(header.root().unwrap());
//! let handler = tree.begin_detached_subsegment("## handler", header.parent().unwrap(), Timestamp::now());
//! let db = tree.begin_subsegment(handler, "orders-db", Timestamp::now());
//! tree.entity_mut(db).set_namespace(Namespace::Remote);
//! tree.end(db, Timestamp::now());
//! tree.entity_mut(handler).put_annotation("order_id", "A-1").unwrap();
//! tree.end(handler, Timestamp::now());
//!
//! let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
//! let emitter = Emitter::udp(daemon.local_addr().unwrap(), xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
//! emitter.emit(&mut tree, handler, &mut EmitBuffer::new());
//!
//! let mut buf = [0u8; 65_536];
//! let n = daemon.recv(&mut buf).unwrap();
//! let doc: serde_json::Value = serde_json::from_slice(&buf[30..n]).unwrap();
//! assert_eq!(doc["type"], "subsegment");
//! assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
//! assert_eq!(doc["subsegments"][0]["name"], "orders-db");
//! ```
//!
//! # Services outside Lambda
//!
//! On ECS, Fargate, EC2 or in any container nothing upstream records the service, so it
//! records a *segment* per request itself (feature `service`, module `service`): a
//! `ServiceTracer` (segment name, sampler, host facts such as `origin` and
//! `aws.ecs.container`) opens a `ServiceSegment` for each `IncomingRequest`, continuing an
//! incoming `X-Amzn-Trace-Id` or W3C `traceparent` (see [`w3c`]) or letting the sampler decide,
//! and sends it when `finish`ed with
//! the response status. `#[capture_method]` functions run through
//! `ServiceSegment::instrument` or `ServiceSegment::in_scope` nest under it. With the `http`
//! feature, `service::XRayLayer` does all of this for tower services over `http` types
//! (hyper, axum); see `examples/http_service.rs`.
//!
//! ```
//! use xray_core::{Config, Tracer, wire::Emitter, service::{IncomingRequest, ServiceTracer}};
//!
//! let (emitter, sink) = Emitter::memory(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
//! let service = ServiceTracer::new(Tracer::with_emitter(Config::default(), emitter), "orders");
//! let segment = service.begin(&IncomingRequest {
//!     trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
//!     method: Some("GET"),
//!     path: Some("/orders/17"),
//!     ..IncomingRequest::default()
//! });
//! // Return this in the response's X-Amzn-Trace-Id.
//! assert_eq!(&*segment.response_header(), "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
//! segment.finish(Some(200), Some(512));
//! assert_eq!(sink.take_documents()[0]["http"]["response"]["status"], 200);
//! ```
//!
//! # Features
//!
//! - `macros` (default): re-exports `#[capture_lambda_handler]` and `#[capture_method]`.
//! - `lambda` (default): [`InvocationSource`] for `lambda_runtime`'s `LambdaEvent` and
//!   `Context`, and [`LambdaLayer`].
//! - `service`: the `service` module (service segments, host facts) and centralized
//!   sampling (`sampling::CentralizedSampler`). A Lambda build leaves it off: Lambda records
//!   the function's segment itself.
//! - `http` (implies `service`): `service::XRayLayer` / `XRayService`, a tower layer that
//!   opens a `ServiceSegment` for every inbound `http::Request` and adds `X-Amzn-Trace-Id` to the response (adds the `http`,
//!   `http-body`, `tower-layer` and `tower-service` dependencies).
//! - `aws-sdk`: `aws_sdk::XRayInterceptor`, one `aws` subsegment per AWS SDK operation and the
//!   trace header on every attempt; add it with `.interceptor(XRayInterceptor::new())` on a
//!   service's config builder (adds the `aws-smithy-runtime-api`, `aws-smithy-types` and
//!   `aws-types` dependencies, no service crate).
//! - `tower-client`: `http_client::XRayClientLayer`, outbound requests of tower `http`
//!   clients as `remote` subsegments with `X-Amzn-Trace-Id`, the matching `traceparent` and the
//!   inbound `tracestate` injected.
//! - `reqwest`: `http_client::XRayMiddleware`, the same for `reqwest-middleware` clients.
//! - `sqlx`: `sql::XRayPool`, `sqlx` queries (SQLite, PostgreSQL) as subsegments with the
//!   `sql` fields.
//! - `tracing`: `tracing_bridge::SubsegmentLayer` (`tracing` spans as subsegments) and
//!   `tracing_bridge::WithTraceId` (trace ids in log lines).
//! - `testing`: test support: `testing::Capture` (a scoped tracer recording into memory), an
//!   in-memory emitter (`wire::Emitter::memory`), a discarding one (`Emitter::null`), a counting
//!   allocator, and the validator.
//! - `validate`: the conformance validator (the official schema plus the documented rules).
//!
//! # Limitations
//!
//! - Documents are written in compact JSON with timestamps as `<seconds>.<microseconds>`.
//! - A datagram never exceeds [`DEFAULT_DATAGRAM_LIMIT`](wire::DEFAULT_DATAGRAM_LIMIT) bytes
//!   (configurable, at most 65 507): larger documents are split into independent
//!   subsegments, then cut (see [`Emitter`](wire::Emitter)).
//! - Recordings are pooled for up to 256 invocations in flight at once; each one beyond that
//!   allocates a recording and drops it afterwards (`TracerStats::recordings_allocated`).
//! - UDP tells the sender only that the kernel took a datagram: see [`EmitterStats`](wire::EmitterStats) for what
//!   the loss counters can and cannot know.
//! - Each (sub)segment holds at most [`MAX_ENTITY_BYTES`](model::MAX_ENTITY_BYTES) (256 KiB) of annotations, metadata
//!   and cause; entries beyond are refused with [`RecordError::OverBudget`], counted, and
//!   marked on the entity. Metadata values nest at most [`MAX_METADATA_DEPTH`](model::MAX_METADATA_DEPTH) (32) levels;
//!   deeper parts are replaced by a marker string and counted.
//! - Service segments learn about the host from the environment and local files only; the
//!   EC2 instance metadata service is never called (give the availability zone with
//!   `service::HostFacts::with_ec2`).

#![warn(missing_docs)]

mod annotation;
mod ascii;
#[cfg(feature = "aws-sdk")]
pub mod aws_sdk;
mod config;
mod emit;
mod header_scan;
#[cfg(any(feature = "tower-client", feature = "reqwest"))]
pub mod http_client;
mod id;
mod json;
pub mod model;
mod name;
mod name_charset;
mod otlp;
mod recycle;
mod runtime;
pub mod sampling;
#[cfg(feature = "sqlx")]
pub mod sql;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod time;
mod trace_header;
#[cfg(feature = "tracing")]
pub mod tracing_bridge;
#[cfg(feature = "validate")]
pub mod validate;
pub mod w3c;

pub use annotation::{AnnotationValue, RecordError};
pub use config::{
    Compression, DEFAULT_OTLP_HTTP_ENDPOINT, HttpEndpoint, OtlpOptions, Output, OutputConfig,
};
pub use config::{
    Config, ConfigWarning, ContextMissing, DEFAULT_DAEMON, DaemonAddress, DaemonAddressError,
    SERVICE_UNDEFINED,
};
pub use id::{IdError, SegmentId, TRACE_ID_LEN, TraceId};
pub use model::{EntityMut, Namespace};
pub use runtime::api::{
    current_entity_id, current_trace_id, is_sampled, put_annotation, put_metadata, put_metadata_in,
    try_put_annotation, try_put_metadata, with_current,
};
pub use runtime::context::{Handle, Instrumented, downstream_header};
pub use runtime::lambda::{Invocation, InvocationSource, TRACE_ENV};
#[cfg(feature = "lambda")]
pub use runtime::lambda_layer::{LambdaFuture, LambdaLayer, LambdaService};
pub use runtime::subsegment::{InSubsegment, InSubsegmentExt, Subsegment, in_subsegment};
pub use runtime::tracer::{ScopedFuture, Tracer, TracerBuilder, TracerStats, global, set_global};
pub use trace_header::{
    EncodedHeader, ExtraFields, HEADER_NAME, Malformed, SamplingDecision, TraceHeader,
};

/// Sending documents: the [`Emitter`](crate::wire::Emitter) (UDP to the daemon, OTLP, or memory in
/// tests), the buffers it reuses, its loss counters, the document writer and the header-level
/// facts of the wire format.
///
/// ```
/// use xray_core::wire::{DEFAULT_DATAGRAM_LIMIT, Emitter};
///
/// let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// let emitter = Emitter::udp(daemon.local_addr().unwrap(), DEFAULT_DATAGRAM_LIMIT);
/// assert_eq!(emitter.limit(), DEFAULT_DATAGRAM_LIMIT);
/// assert_eq!(emitter.stats().datagrams_handed_to_kernel, 0);
/// ```
pub mod wire {
    #[cfg(any(test, feature = "testing"))]
    pub use crate::emit::MemorySink;
    pub use crate::emit::{
        BATCH_NAME, DATAGRAM_HEADER, DEFAULT_DATAGRAM_LIMIT, EmitBuffer, Emitter, EmitterCounters,
        EmitterStats, MAX_NESTING, MAX_UDP_PAYLOAD,
    };
    pub use crate::header_scan::sampled_decision;
    pub use crate::json::document::write_document;
    pub use crate::otlp::{OtlpResource, Signal, otel_trace_id};
    pub use crate::trace_header::{
        ENCODED_CAPACITY, TraceHeaderStats, is_valid_extra_field, trace_header_stats,
    };
}

/// Segments for services that receive requests themselves (ECS, Fargate, EC2, containers):
/// [`ServiceTracer`](crate::service::ServiceTracer), the per-request
/// [`ServiceSegment`](crate::service::ServiceSegment), the host facts it records and, with the `http`
/// feature, the `XRayLayer` tower layer. Feature `service`; centralized sampling
/// (`sampling::CentralizedSampler`) comes with it.
///
/// ```
/// use xray_core::service::{IncomingRequest, ServiceTracer};
/// use xray_core::{Config, Tracer, wire::Emitter};
///
/// let (emitter, sink) = Emitter::memory(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
/// let service = ServiceTracer::new(Tracer::with_emitter(Config::default(), emitter), "orders");
/// let segment = service.begin(&IncomingRequest {
///     trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
///     ..IncomingRequest::default()
/// });
/// segment.finish(Some(200), None);
/// assert_eq!(sink.take_documents()[0]["name"], "orders");
/// ```
#[cfg(feature = "service")]
pub mod service {
    pub use crate::runtime::host::{HostFacts, ORIGIN_EC2_INSTANCE, ORIGIN_ECS_CONTAINER};
    #[cfg(feature = "http")]
    pub use crate::runtime::http_layer::{XRayLayer, XRayResponseFuture, XRayService};
    pub use crate::runtime::service::{
        IncomingRequest, SDK_NAME, SDK_VERSION, ServiceSegment, ServiceTracer, ServiceTracerBuilder,
    };
}

#[cfg(feature = "macros")]
pub use xray_macros::{capture_lambda_handler, capture_method};

/// What the macros expand to. Not a stable API: use the macros.
#[doc(hidden)]
pub mod __private {
    pub use crate::runtime::capture::{
        CaptureOptions, ErrorBoxed, ErrorBoxedSync, ErrorDebug, ErrorDisplay, ErrorOpaque,
        ErrorStd, Recorder, ResponseOther, ResponseSerialize, Wrap,
    };
    pub use crate::runtime::lambda::LambdaInvocation;
    pub use crate::runtime::span::{AsyncSpan, InFrame, SyncSpan};
}
