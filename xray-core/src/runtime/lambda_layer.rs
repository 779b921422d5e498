//! `LambdaLayer`: a tower layer that traces every invocation of a `lambda_runtime` service
//! without the handler macro (for `lambda_http` / axum users, hand-written services, and
//! `run_concurrent`).

use std::fmt::{Debug, Display};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use lambda_runtime::LambdaEvent;
use lambda_runtime::tower::{Layer, Service};
use serde::Serialize;

use super::context::Entered;
use super::lambda::Invocation;
use super::tracer::{Tracer, with_tracer};

/// Traces every invocation of the service it wraps as `#[capture_lambda_handler]` does: the
/// `## handler` subsegment with `ColdStart` and `Service`, the response as metadata, an error
/// as a fault labelled from its `Debug` form with its `Display` message. Each invocation's
/// future runs with its trace in scope, so `#[capture_method]` functions and the manual API
/// nest under it, also under `run_concurrent`. Shortly before the invocation's deadline, a
/// handler still running has its open documents sent as `in_progress`.
///
/// ```
/// use lambda_runtime::tower::{Service, ServiceBuilder, ServiceExt};
/// use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
/// use xray_core::{LambdaLayer, testing::Capture};
///
/// async fn handler(event: LambdaEvent<String>) -> Result<String, Error> {
///     xray_core::put_annotation("user", event.payload.as_str());
///     Ok(format!("hello {}", event.payload))
/// }
///
/// let capture = Capture::new();
/// let mut service = ServiceBuilder::new()
///     .layer(LambdaLayer::with_tracer(capture.tracer().clone()))
///     .service(service_fn(handler));
/// // In a function: `lambda_runtime::run(service).await`.
/// let mut context = Context::default();
/// context.xray_trace_id = Some(xray_core::testing::SAMPLED_HEADER.into());
/// let out = xray_core::testing::poll_to_completion(async {
///     service.ready().await?.call(LambdaEvent::new("ana".to_owned(), context)).await
/// });
/// assert_eq!(out.unwrap(), "hello ana");
/// let doc = &capture.documents()[0];
/// assert_eq!(doc["annotations"]["user"], "ana");
/// assert_eq!(doc["metadata"]["service_undefined"]["handler response"], "hello ana");
/// ```
#[derive(Debug, Clone, Default)]
pub struct LambdaLayer {
    tracer: Option<Tracer>,
}

impl LambdaLayer {
    /// Traces with the tracer in scope when each invocation starts (else the global one).
    pub fn new() -> LambdaLayer {
        LambdaLayer::default()
    }

    /// Traces with `tracer`.
    pub fn with_tracer(tracer: Tracer) -> LambdaLayer {
        LambdaLayer {
            tracer: Some(tracer),
        }
    }
}

impl<S> Layer<S> for LambdaLayer {
    type Service = LambdaService<S>;

    fn layer(&self, inner: S) -> LambdaService<S> {
        LambdaService {
            inner,
            tracer: self.tracer.clone(),
        }
    }
}

/// The service [`LambdaLayer`] wraps around a handler service.
#[derive(Debug, Clone)]
pub struct LambdaService<S> {
    inner: S,
    tracer: Option<Tracer>,
}

impl<S, A> Service<LambdaEvent<A>> for LambdaService<S>
where
    S: Service<LambdaEvent<A>>,
    S::Response: Serialize,
    S::Error: Debug + Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = LambdaFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<A>) -> LambdaFuture<S::Future> {
        let header = event.context.xray_trace_id.as_deref();
        let mut invocation = match &self.tracer {
            Some(t) => t.begin_invocation(header),
            None => with_tracer(|t| t.begin_invocation(header)),
        };
        if event.context.deadline > 0 {
            invocation.watch_deadline(event.context.deadline);
        }
        // The inner service may start work as soon as it is called: in the trace already.
        let future = {
            let _entered = Entered::new(invocation.frame_mut());
            self.inner.call(event)
        };
        LambdaFuture {
            future,
            invocation: Some(invocation),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of one traced invocation (see [`LambdaLayer`]).
    #[derive(Debug)]
    pub struct LambdaFuture<F> {
        #[pin]
        future: F,
        invocation: Option<Invocation>,
    }
}

impl<F, R, E> Future for LambdaFuture<F>
where
    F: Future<Output = Result<R, E>>,
    R: Serialize,
    E: Debug + Display,
{
    type Output = Result<R, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R, E>> {
        let this = self.project();
        let polled = match this.invocation.as_mut() {
            Some(inv) => {
                let _entered = Entered::new(inv.frame_mut());
                this.future.poll(cx)
            }
            None => this.future.poll(cx),
        };
        if let Poll::Ready(out) = &polled
            && let Some(inv) = this.invocation.take()
        {
            match out {
                Ok(r) => inv.finish_ok(r),
                Err(e) => inv.finish_err_labelled(e, e),
            }
        }
        polled
    }
}
