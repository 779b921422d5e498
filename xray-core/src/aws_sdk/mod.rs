//! AWS SDK calls as subsegments: [`XRayInterceptor`], one line at client construction.
//!
//! Every operation of a client built with the interceptor is one `aws` subsegment named for
//! the service (`DynamoDB`, `KMS`, `SQS`, …), whatever the retries, with `aws.operation`,
//! `aws.region`, `aws.request_id`, `aws.retries`, the operation's identifying parameters
//! (table, queue, key id, topic, function), the HTTP status and content length, and on
//! failure `error` / `throttle` / `fault` with the service's error code and message as a
//! remote exception. Every attempt carries `X-Amzn-Trace-Id` with `Parent` = that
//! subsegment, set after signing so it replaces the SDK's own recursion-detection header.
//!
//! Unsampled invocations record nothing and only set the header (`Sampled=0`); outside any
//! invocation the context-missing strategy applies and no header is sent.
//!
//! S3's `bucket_name` and `key` come from the request URI once the endpoint is applied
//! (path-style or virtual-hosted); S3 and Lambda bodies (objects, invocation payloads) are
//! never read, and JSON or form bodies only for their named top-level parameters.
//!
//! # Allocations
//!
//! Measured by `workloads/tests/aws_sdk_alloc.rs` (exact counts, the whole SDK stack):
//! - **Unsampled: 1**, the header value. `Headers::insert` (smithy's HTTP request) takes a
//!   value as `&'static str`, `String`, `Cow<'static, str>` or an `http` `HeaderValue`, and
//!   turns every non-`'static` form into an owned `String` before storing it as `Bytes` (an
//!   `http` `HeaderValue`, even one already `Bytes`-backed, is copied with `to_string`). A
//!   per-invocation header is not `'static`, so one allocation is the floor; the `String` is
//!   built at its exact length so that `Bytes` takes it over without a second one. (The SDK's
//!   own recursion-detection header costs the same where it is set.)
//! - **Sampled: 3**: the header, and the operation's state kept in the config bag between
//!   hooks — smithy's `TypeErasedBox` boxes the value and also allocates an `Arc` for its
//!   debug function, whatever the value (any interceptor keeping per-operation state pays
//!   these 2). The subsegment and its fields cost nothing more: they live in the invocation's
//!   pooled tree.
//!
//! ```
//! use xray_core::aws_sdk::XRayInterceptor;
//! # struct Builder;
//! # impl Builder { fn interceptor(self, _: XRayInterceptor) -> Self { self } }
//! // aws_sdk_dynamodb::config::Builder::from(&sdk_config).interceptor(XRayInterceptor::new())
//! let _builder = Builder.interceptor(XRayInterceptor::new());
//! ```

mod s3;
mod wire;

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_types::endpoint_config::EndpointUrl;
use aws_types::region::Region;

use crate::model::{AwsParam, Namespace};
use crate::runtime::subsegment::Subsegment;

/// [`HEADER_NAME`](crate::HEADER_NAME) as HTTP/1 and HTTP/2 send it.
const HEADER_KEY: &str = "x-amzn-trace-id";

/// The smithy interceptor that traces AWS SDK calls (feature `aws-sdk`).
///
/// Add it once to an `SdkConfig` loader, or to one service's config builder, with
/// `.interceptor(XRayInterceptor::new())`.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct XRayInterceptor;

impl XRayInterceptor {
    /// The interceptor; it holds no state of its own (each operation's lives in its config
    /// bag).
    pub fn new() -> XRayInterceptor {
        XRayInterceptor
    }
}

/// One recorded operation, kept in the operation's config bag between hooks.
struct Operation {
    sub: Mutex<Option<Subsegment>>,
    attempts: AtomicU32,
}

impl fmt::Debug for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operation")
            .field("attempts", &self.attempts.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Storable for Operation {
    type Storer = StoreReplace<Self>;
}

impl Operation {
    fn with<R>(&self, f: impl FnOnce(&Subsegment) -> R) -> Option<R> {
        let guard = self
            .sub
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.as_ref().map(f)
    }
}

/// True inside an invocation that is not recorded (unsampled, or tracing disabled): one
/// thread-local load.
fn unrecorded_invocation() -> bool {
    crate::runtime::context::mode() == crate::runtime::context::MODE_PASSTHROUGH
}

impl Intercept for XRayInterceptor {
    fn name(&self) -> &'static str {
        "XRayInterceptor"
    }

    // Not `read_before_execution`: a client's interceptors run that before the operation's
    // configuration (its `Metadata`: service and operation names) is in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // A call in an unrecorded invocation stores nothing (a stored value costs 2
        // allocations) and looks nothing up (every config-bag lookup walks the bag's layers):
        // its header is taken from the current frame at each attempt. Outside any invocation
        // it goes on, so that `Subsegment::begin` applies the context-missing strategy.
        if unrecorded_invocation() {
            return Ok(());
        }
        let (service, operation) = cfg
            .load::<Metadata>()
            .map_or(("AWS", ""), |m| (m.service(), m.name()));
        let sub = Subsegment::begin(service);
        if !sub.is_recording() {
            return Ok(());
        }
        sub.with_fields(|e| {
            e.set_namespace(Namespace::Aws).aws_operation(operation);
            if let Some(region) = cfg.load::<Region>() {
                e.aws_region(region.as_ref());
            }
        });
        cfg.interceptor_state().store_put(Operation {
            sub: Mutex::new(Some(sub)),
            attempts: AtomicU32::new(0),
        });
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Only a recorded call stored its operation (see `read_before_serialization`).
        let op = if unrecorded_invocation() {
            None
        } else {
            cfg.load::<Operation>()
        };
        let header = match op {
            Some(op) => {
                // The parameters, once: only now is the endpoint applied to the URI (S3's
                // bucket is in it), and every attempt sends the same request.
                let first = op.attempts.fetch_add(1, Ordering::Relaxed) == 0;
                let request = context.request();
                let request = first.then(|| wire::Request {
                    service: cfg.load::<Metadata>().map_or("", Metadata::service),
                    uri: request.uri(),
                    content_type: request.headers().get("content-type").unwrap_or_default(),
                    body: request.body().bytes().unwrap_or_default(),
                    endpoint: cfg.load::<EndpointUrl>().map(|u| u.0.as_str()),
                });
                // One lock of the operation for both.
                op.with(|sub| {
                    if let Some(request) = &request {
                        sub.with_fields(|e| wire::record_request(e, request));
                    }
                    sub.downstream_header()
                })
                .flatten()
            }
            // Exact length: `Bytes` takes the buffer over without reallocating.
            None => crate::downstream_header().map(|h| h.as_str().to_owned()),
        };
        if let Some(header) = header {
            // Lowercase and 'static: the name is then used as is, not copied.
            context
                .request_mut()
                .headers_mut()
                .insert(HEADER_KEY, header);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if unrecorded_invocation() {
            return Ok(());
        }
        let Some(op) = cfg.load::<Operation>() else {
            return Ok(());
        };
        let Some(sub) = op
            .sub
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        else {
            return Ok(());
        };
        let attempts = op.attempts.load(Ordering::Relaxed);
        sub.with_fields(|e| {
            e.aws_retries(attempts.saturating_sub(1));
        });
        match context.response() {
            Some(response) => {
                let headers = response.headers();
                let status = response.status().as_u16();
                sub.with_fields(|e| {
                    let request_id = headers
                        .get("x-amzn-requestid")
                        .or_else(|| headers.get("x-amz-request-id"));
                    if let Some(id) = request_id {
                        e.aws_request_id(id);
                    }
                    if let Some(id2) = headers.get("x-amz-id-2") {
                        e.aws_param(AwsParam::Id2, id2);
                    }
                    e.apply_http_status(status);
                    if let Some(len) = headers.get("content-length").and_then(|v| v.parse().ok()) {
                        e.http_content_length(len);
                    }
                    if status >= 400 {
                        let body = response.body().bytes().unwrap_or_default();
                        let err = wire::service_error(headers.get("x-amzn-errortype"), body);
                        if wire::is_throttling(&err.code) {
                            e.set_throttle(true).set_error(true);
                        }
                        let code = if err.code.is_empty() {
                            "ServiceError"
                        } else {
                            &err.code
                        };
                        e.add_exception(code, &err.message, true);
                    }
                });
            }
            None => {
                if let Some(Err(err)) = context.output_or_error() {
                    sub.record_error(err, false);
                }
            }
        }
        sub.end();
        Ok(())
    }
}
