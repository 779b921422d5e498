//! Outbound HTTP calls as `remote` subsegments: a tower layer for `http::Request` clients
//! (feature `tower-client`) and a `reqwest-middleware` middleware (feature `reqwest`).
//!
//! Each request made inside a traced invocation becomes one subsegment named for the URL's
//! host, with `http.request` (method, url) and `http.response` (status, content length);
//! 4xx marks it `error`, 429 `throttle` and `error`, 5xx `fault`, and a transport failure (no
//! response) `fault` with the error chain as cause. The request carries `X-Amzn-Trace-Id`
//! with `Parent` = that subsegment and the incoming header's extra fields (`Lineage`, …), the
//! same context as W3C `traceparent`, and the inbound `tracestate` beside it; an
//! unsampled invocation records nothing and still sends `Sampled=0`. Requests outside any
//! trace are sent untouched.
//!
//! Never traced: requests to the X-Ray daemon's own addresses (`AWS_XRAY_DAEMON_ADDRESS`, its
//! sampling calls included) and the endpoints on the [`ClientOptions`] ignore list.
//!
//! The recorded URL keeps scheme, host, port and path; user info and the query string are
//! left out, as they often carry credentials or personal data.

#[cfg(feature = "reqwest")]
mod reqwest_middleware;
#[cfg(feature = "tower-client")]
mod tower_layer;

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::model::Namespace;
use crate::runtime::subsegment::Subsegment;
use crate::runtime::tracer::global;

#[cfg(feature = "reqwest")]
pub use reqwest_middleware::XRayMiddleware;
#[cfg(feature = "tower-client")]
pub use tower_layer::{XRayClientFuture, XRayClientLayer, XRayClientService};

/// Which requests are traced: everything except the daemon's own addresses and the ignore
/// list. Cheap to clone (shared).
///
/// ```
/// use xray_core::http_client::ClientOptions;
///
/// let options = ClientOptions::new()
///     .ignore_endpoint("*.internal.example.com", &[])
///     .ignore_endpoint("api.example.com", &["/health", "/metrics/*"]);
/// assert!(options.is_ignored("db.internal.example.com", "/anything"));
/// assert!(options.is_ignored("api.example.com", "/metrics/cpu"));
/// assert!(!options.is_ignored("api.example.com", "/orders"));
/// ```
#[derive(Debug, Clone)]
pub struct ClientOptions {
    inner: Arc<Options>,
}

#[derive(Debug, Clone)]
struct Options {
    /// Host pattern and path patterns (none: every path of the host).
    ignored: Vec<(String, Vec<String>)>,
    daemon: [SocketAddr; 2],
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions::new()
    }
}

impl ClientOptions {
    /// Traces everything except the daemon configured on the global tracer.
    pub fn new() -> ClientOptions {
        let daemon = &global().config().daemon;
        ClientOptions {
            inner: Arc::new(Options {
                ignored: Vec::new(),
                daemon: [daemon.udp, daemon.tcp],
            }),
        }
    }

    /// Leaves out requests to `host` (a pattern where `*` matches any run of characters)
    /// whose path matches one of `paths` (same patterns; empty: every path), like Powertools'
    /// `ignore_endpoint`.
    #[must_use]
    pub fn ignore_endpoint(mut self, host: &str, paths: &[&str]) -> ClientOptions {
        Arc::make_mut(&mut self.inner).ignored.push((
            host.to_ascii_lowercase(),
            paths.iter().map(|p| (*p).to_owned()).collect(),
        ));
        self
    }

    /// Never traces requests to these daemon addresses (by default, the global tracer's).
    #[must_use]
    pub fn daemon(mut self, udp: SocketAddr, tcp: SocketAddr) -> ClientOptions {
        Arc::make_mut(&mut self.inner).daemon = [udp, tcp];
        self
    }

    /// True when a request to `host` and `path` is on the ignore list.
    pub fn is_ignored(&self, host: &str, path: &str) -> bool {
        self.inner.ignored.iter().any(|(h, paths)| {
            glob_match_host(h, host)
                && (paths.is_empty() || paths.iter().any(|p| glob_match(p, path)))
        })
    }

    fn is_daemon(&self, host: &str, port: Option<u16>) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let (Ok(ip), Some(port)) = (host.parse::<IpAddr>(), port) else {
            return false;
        };
        self.inner
            .daemon
            .iter()
            .any(|d| d.ip() == ip && d.port() == port)
    }
}

fn glob_match_host(pattern: &str, host: &str) -> bool {
    // Host names are case-insensitive; patterns are stored lowercased.
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        glob_match(pattern, &host.to_ascii_lowercase())
    } else {
        glob_match(pattern, host)
    }
}

/// `*` matches any run of characters (including none); everything else matches itself.
/// Iterative with one backtrack point, so hostile patterns cost linear time per star.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// What one outbound request needs recorded.
pub(crate) struct RequestFacts<'a> {
    pub(crate) method: &'a str,
    pub(crate) scheme: Option<&'a str>,
    pub(crate) host: Option<&'a str>,
    pub(crate) port: Option<u16>,
    pub(crate) path: &'a str,
}

/// What to do with one request.
pub(crate) enum Plan {
    /// Not traced at all: no header, no subsegment.
    Skip,
    /// Send `header` (and the same context as W3C `traceparent`); `sub` records (sampled
    /// invocations only).
    Trace {
        sub: Option<Subsegment>,
        header: Option<http::HeaderValue>,
        traceparent: Option<http::HeaderValue>,
        /// The inbound `tracestate`, sent only beside a `traceparent`.
        tracestate: Option<http::HeaderValue>,
    },
}

impl Plan {
    fn trace(
        sub: Option<Subsegment>,
        header: Option<http::HeaderValue>,
        traceparent: Option<http::HeaderValue>,
    ) -> Plan {
        let tracestate = traceparent
            .as_ref()
            .and_then(|_| crate::runtime::context::with_tracestate(http::HeaderValue::from_str))
            .and_then(Result::ok);
        Plan::Trace {
            sub,
            header,
            traceparent,
            tracestate,
        }
    }

    /// Writes the trace headers on `headers`; returns the subsegment to close (`None` when
    /// not traced or not recorded).
    pub(crate) fn apply(self, headers: &mut http::HeaderMap) -> Option<Subsegment> {
        let Plan::Trace {
            sub,
            header,
            traceparent,
            tracestate,
        } = self
        else {
            return None;
        };
        for (name, value) in [
            (X_AMZN_TRACE_ID, header),
            (TRACEPARENT, traceparent),
            (TRACESTATE, tracestate),
        ] {
            if let Some(v) = value {
                headers.insert(name, v);
            }
        }
        sub
    }
}

/// The W3C trace-context header name, lowercase and `'static` so it is never copied.
const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");
/// `X-Amzn-Trace-Id` as a `HeaderName`, lowercase and `'static` for the same reason (a
/// mixed-case `&str` name is lowercased into a new allocation on every insert).
const X_AMZN_TRACE_ID: http::HeaderName = http::HeaderName::from_static("x-amzn-trace-id");
const TRACESTATE: http::HeaderName = http::HeaderName::from_static("tracestate");

thread_local! {
    /// Reused for formatting the header before it is copied into a `HeaderValue`.
    static HEADER_BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

impl ClientOptions {
    /// Opens the request's subsegment and builds the header to send.
    pub(crate) fn plan(&self, req: &RequestFacts<'_>) -> Plan {
        let Some(host) = req.host else {
            return Plan::Skip;
        };
        if self.is_daemon(host, req.port) || self.is_ignored(host, req.path) {
            return Plan::Skip;
        }
        // Outside any trace there is nothing to continue and nothing to record; checking
        // first also keeps the context-missing strategy quiet for untraced programs.
        if crate::runtime::api::is_sampled() {
            let sub = Subsegment::begin(host);
            sub.with_fields(|e| {
                e.set_namespace(Namespace::Remote).http_method(req.method);
                HEADER_BUF.with(|b| {
                    let mut url = b.borrow_mut();
                    url.clear();
                    write_url(&mut url, req);
                    e.http_url(&url);
                });
                e.http_traced(true);
            });
            let header = header_value(&sub);
            let traceparent = header.as_ref().and_then(traceparent);
            Plan::trace(Some(sub), header, traceparent)
        } else {
            // Unsampled: nothing recorded, but the callee still learns `Sampled=0`.
            match crate::downstream_header() {
                Some(h) => {
                    let header = http::HeaderValue::from_str(h.as_str()).ok();
                    let traceparent = header.as_ref().and_then(traceparent);
                    Plan::trace(None, header, traceparent)
                }
                None => Plan::Skip,
            }
        }
    }
}

fn write_url(out: &mut String, req: &RequestFacts<'_>) {
    out.push_str(req.scheme.unwrap_or("http"));
    out.push_str("://");
    out.push_str(req.host.unwrap_or_default());
    if let Some(port) = req.port {
        out.push(':');
        out.push_str(itoa::Buffer::new().format(port));
    }
    out.push_str(if req.path.is_empty() { "/" } else { req.path });
}

fn header_value(sub: &Subsegment) -> Option<http::HeaderValue> {
    HEADER_BUF.with(|b| {
        let mut buf = b.borrow_mut();
        buf.clear();
        if !sub.write_downstream_header(&mut buf) {
            return None;
        }
        http::HeaderValue::from_str(&buf).ok()
    })
}

/// The W3C `traceparent` carrying the same trace, parent and sampling decision as the
/// `X-Amzn-Trace-Id` value `xray`, for callees instrumented with OpenTelemetry. `Lineage` has
/// no W3C counterpart and stays in the X-Ray header.
fn traceparent(xray: &http::HeaderValue) -> Option<http::HeaderValue> {
    let header = crate::TraceHeader::parse(xray.to_str().ok()?);
    let sampled = header.sampled() == crate::SamplingDecision::Sampled;
    let value = crate::w3c::format_traceparent(&header.root()?, header.parent()?, sampled);
    http::HeaderValue::from_bytes(&value).ok()
}

/// Records the response on the subsegment and closes it.
pub(crate) fn finish_response(sub: Option<Subsegment>, status: u16, content_length: Option<u64>) {
    let Some(sub) = sub else { return };
    sub.with_fields(|e| {
        e.apply_http_status(status);
        if let Some(len) = content_length {
            e.http_content_length(len);
        }
    });
    sub.end();
}

/// Records a transport failure (no response) as a fault with its chain, and closes.
pub(crate) fn finish_error(sub: Option<Subsegment>, error: &(dyn std::error::Error + 'static)) {
    let Some(sub) = sub else { return };
    sub.record_error(error, false);
    sub.end();
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn glob_patterns() {
        assert!(glob_match("*", ""));
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*.example.com", "x.example.com"));
        assert!(!glob_match("*.example.com", "example.com"));
        assert!(glob_match("/metrics/*", "/metrics/"));
        assert!(!glob_match("/health", "/healthz"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b*c", "aXbYbZ"));
    }
}
