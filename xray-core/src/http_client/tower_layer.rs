//! The tower layer for outbound `http::Request` clients (hyper-util's client, tonic, …).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};

use super::{ClientOptions, RequestFacts, finish_error, finish_response};
use crate::runtime::subsegment::Subsegment;

/// A tower [`Layer`](tower_layer::Layer) that records each outbound request as a `remote`
/// subsegment and sends `X-Amzn-Trace-Id` with it (see the [module docs](super)).
///
/// ```
/// use tower::{Layer, ServiceExt};
/// use xray_core::http_client::{ClientOptions, XRayClientLayer};
///
/// // Any tower service from `http::Request` to `http::Response` (here a stand-in client).
/// let client = tower::service_fn(|req: http::Request<String>| async move {
///     let header = req.headers().get("x-amzn-trace-id").cloned();
///     Ok::<_, std::io::Error>(http::Response::new(format!("{header:?}")))
/// });
/// let client = XRayClientLayer::new(ClientOptions::new().ignore_endpoint("localhost", &[]))
///     .layer(client);
/// let req = http::Request::get("http://api.example.com/orders").body(String::new()).unwrap();
/// let resp = xray_core::testing::poll_to_completion(client.oneshot(req)).unwrap();
/// // Outside a traced invocation the request goes out untouched.
/// assert_eq!(resp.body(), "None");
/// ```
#[derive(Debug, Clone, Default)]
pub struct XRayClientLayer {
    options: ClientOptions,
}

impl XRayClientLayer {
    /// A layer tracing every request except those `options` leaves out.
    pub fn new(options: ClientOptions) -> XRayClientLayer {
        XRayClientLayer { options }
    }
}

impl<S> tower_layer::Layer<S> for XRayClientLayer {
    type Service = XRayClientService<S>;

    fn layer(&self, inner: S) -> XRayClientService<S> {
        XRayClientService {
            inner,
            options: self.options.clone(),
        }
    }
}

/// The service [`XRayClientLayer`] wraps a client in.
#[derive(Debug, Clone)]
pub struct XRayClientService<S> {
    inner: S,
    options: ClientOptions,
}

impl<S, B, RB> tower_service::Service<Request<B>> for XRayClientService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<RB>>,
    S::Error: std::error::Error + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = XRayClientFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let uri = req.uri();
        let facts = RequestFacts {
            method: req.method().as_str(),
            scheme: uri.scheme_str(),
            host: uri.host(),
            port: uri.port_u16(),
            path: uri.path(),
        };
        let sub = self.options.plan(&facts).apply(req.headers_mut());
        XRayClientFuture {
            inner: self.inner.call(req),
            sub,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`XRayClientService`]: closes the subsegment with the outcome.
    #[derive(Debug)]
    pub struct XRayClientFuture<F> {
        #[pin]
        inner: F,
        sub: Option<Subsegment>,
    }
}

impl<F, RB, E> Future for XRayClientFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
    E: std::error::Error + 'static,
{
    type Output = Result<Response<RB>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = std::task::ready!(this.inner.poll(cx));
        match &out {
            Ok(resp) => finish_response(
                this.sub.take(),
                resp.status().as_u16(),
                content_length(resp.headers()),
            ),
            Err(e) => finish_error(this.sub.take(), e),
        }
        Poll::Ready(out)
    }
}

pub(super) fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
