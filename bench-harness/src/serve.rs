//! The one way this crate serves HTTP: hyper 1.x (which `lambda_runtime` already builds) on a
//! background thread, calling a plain synchronous handler per request.
//!
//! Handlers run on tokio's blocking pool, so one may wait on a condition variable (the Runtime
//! API's long-polled `next`) without stalling other connections. Bodies are read whole, up to
//! [`MAX_BODY`]; a larger one is answered with `413`.
//!
//! ```
//! use bench_harness::serve::{HttpServer, Reply};
//! use std::io::{Read, Write};
//!
//! let server = HttpServer::start("127.0.0.1:0".parse().unwrap(), "example", |req| {
//!     Reply::text(200, format!("you asked for {}", req.path))
//! })
//! .unwrap();
//! let mut conn = std::net::TcpStream::connect(server.addr()).unwrap();
//! conn.write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
//! let mut answer = String::new();
//! conn.read_to_string(&mut answer).unwrap();
//! assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("you asked for /hello"));
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

/// The largest request body read (Lambda's synchronous response limit is 6 MB).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// How long [`HttpServer::shutdown`] waits for handlers still running.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// One request, read whole.
#[derive(Debug)]
#[non_exhaustive]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string (empty when there is none).
    pub query: String,
    /// The headers.
    pub headers: hyper::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Request {
    /// A header's value, when present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// A query parameter, percent-decoded (`+` as a space); the first one when repeated.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == name).then(|| percent_decode(v))
        })
    }
}

/// Decodes `%XX` escapes and `+`; invalid escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a handler answers.
#[derive(Debug)]
pub enum Reply {
    /// A response.
    Response {
        /// The status code.
        status: u16,
        /// Headers, besides `content-length`.
        headers: Vec<(&'static str, String)>,
        /// The body.
        body: Bytes,
    },
    /// Close the connection without answering (a server shutting down).
    Close,
}

impl Reply {
    /// A response with a content type.
    pub fn with_type(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
        Reply::Response {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: body.into(),
        }
    }

    /// A `text/plain` response.
    pub fn text(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply::with_type(status, "text/plain; charset=utf-8", body)
    }

    /// An `application/json` response.
    pub fn json(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply::with_type(status, "application/json", body)
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        if let Reply::Response { headers, .. } = &mut self {
            headers.push((name, value.into()));
        }
        self
    }
}

type Handler = dyn Fn(Request) -> Reply + Send + Sync;

/// A running server; stops on [`HttpServer::shutdown`] or when dropped.
pub struct HttpServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl HttpServer {
    /// Binds `addr` (port 0 picks a free one) and serves `handler` on a thread named `name`.
    pub fn start(
        addr: SocketAddr,
        name: &str,
        handler: impl Fn(Request) -> Reply + Send + Sync + 'static,
    ) -> io::Result<HttpServer> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("{name}-http"))
            .enable_all()
            .build()?;
        let handler: Arc<Handler> = Arc::new(handler);
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(accept_loop(listener, handler, stopped));
                // Connections still open are dropped; handlers still blocked get a grace period.
                runtime.shutdown_timeout(SHUTDOWN_GRACE);
            })?;
        Ok(HttpServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address served (with the actual port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes open connections and joins the thread. Handlers should already
    /// have been told to return (they get two seconds). Calling it again does nothing.
    pub fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    handler: Arc<Handler>,
    mut stopped: watch::Receiver<bool>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let stream = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // A failed accept (out of descriptors) must not become a busy loop.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let handler = Arc::clone(&handler);
        let mut stop_conn = stopped.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| respond(Arc::clone(&handler), req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stop_conn.changed() => {}
            }
        });
    }
}

/// Hyper closes the connection when the service fails; that is how [`Reply::Close`] is done.
#[derive(Debug)]
struct CloseConnection;

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("closing the connection")
    }
}

impl std::error::Error for CloseConnection {}

async fn respond(
    handler: Arc<Handler>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, CloseConnection> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Ok(plain(413, "body too large"));
        }
        Err(_) => return Err(CloseConnection),
    };
    let request = Request {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
    };
    let reply = tokio::task::spawn_blocking(move || handler(request))
        .await
        .unwrap_or_else(|_| Reply::text(500, "the handler panicked"));
    let Reply::Response {
        status,
        headers,
        body,
    } = reply
    else {
        return Err(CloseConnection);
    };
    let mut response = hyper::Response::new(Full::new(body));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::try_from(value) {
            response
                .headers_mut()
                .append(HeaderName::from_static(name), value);
        }
    }
    Ok(response)
}

fn plain(status: u16, text: &'static str) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded() {
        let req = Request {
            method: "GET".into(),
            path: "/".into(),
            query: "q=annotation.user_id+%3D+%22u-1%22&bad=%zz&x".into(),
            headers: hyper::HeaderMap::new(),
            body: Bytes::new(),
        };
        assert_eq!(
            req.query_param("q").as_deref(),
            Some("annotation.user_id = \"u-1\"")
        );
        assert_eq!(req.query_param("bad").as_deref(), Some("%zz"));
        assert_eq!(req.query_param("x").as_deref(), Some(""));
        assert_eq!(req.query_param("nope"), None);
    }
}
