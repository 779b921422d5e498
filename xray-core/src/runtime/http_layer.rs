//! A tower layer that opens a service segment for every inbound HTTP request (feature
//! `http`): for hyper 1.x servers, axum, and anything else serving `http::Request`s through
//! tower.

use std::fmt::{self, Display};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::header::{CONTENT_LENGTH, HOST, HeaderName, HeaderValue, USER_AGENT};
use http::{HeaderMap, Request, Response};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::service::{IncomingRequest, ServiceSegment, ServiceTracer};

/// `X-Amzn-Trace-Id`, as `http` spells header names.
const TRACE_HEADER: HeaderName = HeaderName::from_static("x-amzn-trace-id");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Traces every request of the services it wraps with a [`ServiceTracer`] segment.
///
/// For each request the layer:
///
/// - reads `X-Amzn-Trace-Id` and the W3C `traceparent` / `tracestate` (continued when
///   present; the [`crate::w3c`] module docs say which wins), the method, the path, `Host` (or the
///   URI's authority), `User-Agent`, and the client address: the first entry of
///   `X-Forwarded-For` (recorded with `x_forwarded_for: true`), else a
///   [`std::net::SocketAddr`] found in the request's extensions. hyper does not put the peer
///   address there; insert it when accepting the connection (see the example below). The
///   URL is `<scheme>://<host><path and query>`, the scheme taken from an absolute URI, else
///   `X-Forwarded-Proto` (`http` or `https`), else `http`;
/// - runs the inner service (its `call` and every poll of its future) with the segment as the
///   current entity, so `#[capture_method]` functions nest under it;
/// - records the status and the length (`Content-Length`, else the body's exact size),
///   which set `error` (4xx), `throttle` (429) and `fault` (5xx);
/// - adds `X-Amzn-Trace-Id: Root=…;Sampled=1|0` to the response and sends the segment.
///
/// An error from the inner service is a fault, recorded with its type and message (it has to
/// be `Display`); a panic in the inner service, or a response future dropped before it
/// completes, still closes and sends the segment (see [`ServiceSegment`]). Header values
/// that are not UTF-8 are ignored, long ones are cut to the schema's 250 characters; nothing
/// about a request can make the layer panic.
///
/// ```
/// use std::convert::Infallible;
/// use tower::ServiceExt as _;
/// use xray_core::{Config, Tracer, wire::Emitter, service::{ServiceTracer, XRayLayer}};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (emitter, sink) = Emitter::memory(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
/// let tracer = ServiceTracer::new(Tracer::with_emitter(Config::default(), emitter), "orders");
///
/// // Any tower service over `http` types; axum routers and hyper adapters are such services.
/// let handler = tower::service_fn(|request: http::Request<String>| async move {
///     Ok::<_, Infallible>(http::Response::new(format!("you asked for {}", request.uri().path())))
/// });
/// let service = tower::ServiceBuilder::new()
///     .layer(XRayLayer::new(tracer))
///     .service(handler);
///
/// let mut request = http::Request::get("/orders/17")
///     .header("Host", "orders.internal")
///     .header("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
///     .body(String::new())
///     .unwrap();
/// // What a server does when it accepts a connection, for `client_ip`.
/// request.extensions_mut().insert(std::net::SocketAddr::from(([10, 0, 0, 7], 50_123)));
///
/// let response = service.oneshot(request).await.unwrap();
/// assert_eq!(
///     response.headers()["x-amzn-trace-id"],
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
/// );
/// let doc = &sink.take_documents()[0];
/// assert_eq!(doc["http"]["request"]["url"], "http://orders.internal/orders/17");
/// assert_eq!(doc["http"]["request"]["client_ip"], "10.0.0.7");
/// assert_eq!(doc["http"]["response"]["content_length"], 24);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct XRayLayer {
    tracer: ServiceTracer,
}

impl XRayLayer {
    /// A layer opening segments with `tracer`.
    pub fn new(tracer: ServiceTracer) -> XRayLayer {
        XRayLayer { tracer }
    }
}

impl<S> Layer<S> for XRayLayer {
    type Service = XRayService<S>;

    fn layer(&self, inner: S) -> XRayService<S> {
        XRayService {
            inner,
            tracer: self.tracer.clone(),
        }
    }
}

/// A service traced by [`XRayLayer`].
#[derive(Debug, Clone)]
pub struct XRayService<S> {
    inner: S,
    tracer: ServiceTracer,
}

impl<S> XRayService<S> {
    /// Wraps `inner` (what [`XRayLayer`] does).
    pub fn new(inner: S, tracer: ServiceTracer) -> XRayService<S> {
        XRayService { inner, tracer }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for XRayService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Display,
    ResBody: Body,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = XRayResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let mut segment = begin(&self.tracer, &request);
        let inner = &mut self.inner;
        let future = segment.run_in(|| inner.call(request));
        XRayResponseFuture {
            future,
            segment: Some(segment),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of an [`XRayService`]: the inner future, polled in the request's
    /// segment, which it finishes when the response is ready.
    #[derive(Debug)]
    pub struct XRayResponseFuture<F> {
        #[pin]
        future: F,
        segment: Option<ServiceSegment>,
    }
}

impl<F, ResBody, E> Future for XRayResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    E: Display,
    ResBody: Body,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut future = this.future;
        let Some(segment) = this.segment.as_mut() else {
            // Polled again after completing: the inner future answers for itself.
            return future.poll(cx);
        };
        let result = ready!(segment.run_in(|| future.as_mut().poll(cx)));
        let Some(segment) = this.segment.take() else {
            return Poll::Ready(result);
        };
        match result {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let length = content_length(response.headers())
                    .or_else(|| response.body().size_hint().exact());
                let header = segment.response_header();
                if let Ok(value) = HeaderValue::from_str(&header) {
                    response.headers_mut().insert(TRACE_HEADER, value);
                }
                segment.finish(Some(status), length);
                Poll::Ready(Ok(response))
            }
            Err(error) => {
                segment.record_failure(std::any::type_name::<E>(), &error);
                segment.finish(None, None);
                Poll::Ready(Err(error))
            }
        }
    }
}

/// Opens the segment for `request`. The URL and the peer address are written into stack
/// buffers, so a request costs no allocation here.
fn begin<B>(tracer: &ServiceTracer, request: &Request<B>) -> ServiceSegment {
    let headers = request.headers();
    let uri = request.uri();
    let host = uri
        .authority()
        .map(http::uri::Authority::as_str)
        .or_else(|| text(headers, &HOST));
    let forwarded_proto =
        text(headers, &X_FORWARDED_PROTO).filter(|p| matches!(*p, "http" | "https"));
    let scheme = uri.scheme_str().or(forwarded_proto).unwrap_or("http");
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());

    let mut url = StackText::<URL_BYTES>::new();
    if let Some(host) = host {
        let _ = fmt::Write::write_fmt(&mut url, format_args!("{scheme}://{host}"));
    }
    let _ = fmt::Write::write_str(&mut url, path_and_query);

    let mut peer = StackText::<PEER_BYTES>::new();
    let forwarded = text(headers, &X_FORWARDED_FOR)
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let client_ip = forwarded.or_else(|| {
        let addr = request.extensions().get::<SocketAddr>()?;
        fmt::Write::write_fmt(&mut peer, format_args!("{}", addr.ip())).ok()?;
        Some(peer.as_str())
    });

    // Several `tracestate` headers are one list (RFC 9110 field combination); a joined value
    // longer than the buffer is cut, and `bounded_tracestate` then keeps whole members only.
    let mut tracestate = StackText::<TRACESTATE_BYTES>::new();
    for (i, v) in headers.get_all(&TRACESTATE).iter().enumerate() {
        let Ok(v) = std::str::from_utf8(v.as_bytes()) else {
            continue;
        };
        if i > 0 {
            let _ = fmt::Write::write_str(&mut tracestate, ",");
        }
        let _ = fmt::Write::write_str(&mut tracestate, v);
    }

    tracer.begin(&IncomingRequest {
        trace_header: text(headers, &TRACE_HEADER),
        traceparent: text(headers, &TRACEPARENT),
        tracestate: Some(tracestate.as_str()).filter(|t| !t.is_empty()),
        host,
        method: Some(request.method().as_str()),
        path: Some(uri.path()),
        url: Some(url.as_str()),
        user_agent: text(headers, &USER_AGENT),
        client_ip,
        x_forwarded_for: forwarded.is_some(),
    })
}

/// The first value of header `name`, if it is UTF-8.
fn text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
}

/// A `Content-Length` that reads as a number.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    text(headers, &CONTENT_LENGTH).and_then(|v| v.trim().parse().ok())
}

/// The schema keeps 250 characters of a URL; four bytes each at most.
const URL_BYTES: usize = 1000;
/// One byte past what a `tracestate` keeps, so a cut value is seen as such and trimmed to
/// whole members.
const TRACESTATE_BYTES: usize = crate::w3c::TRACESTATE_MAX + 1;
/// An IPv6 address with a zone needs at most 47 bytes.
const PEER_BYTES: usize = 64;

/// Text written into a fixed buffer on the stack. What does not fit is dropped, whole
/// characters at a time.
struct StackText<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    fn new() -> Self {
        StackText {
            buf: [0; N],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole characters of `&str` pieces are ever copied in.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> fmt::Write for StackText<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn stack_text_keeps_whole_characters() {
        let mut t = StackText::<5>::new();
        t.write_str("abéé").unwrap();
        assert_eq!(t.as_str(), "abé");
        t.write_str("zzz").unwrap();
        assert_eq!(t.as_str(), "abéz");
    }

    #[test]
    fn reads_headers_leniently() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_LENGTH, HeaderValue::from_static(" 42 "));
        h.insert(USER_AGENT, HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert_eq!(content_length(&h), Some(42));
        assert_eq!(text(&h, &USER_AGENT), None);
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("-1"));
        assert_eq!(content_length(&h), None);
    }
}
