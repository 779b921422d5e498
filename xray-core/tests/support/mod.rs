//! Shared by the downstream-call test targets: the global tracer on an in-memory sink, trace
//! headers, validated documents, and a hyper server on 127.0.0.1 that records what it got.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use xray_core::{
    Config, Tracer,
    validate::Validator,
    wire::{Emitter, MemorySink},
};

pub const PARENT: &str = "53995c3f42cd8ad8";

pub fn sink() -> &'static MemorySink {
    static SINK: OnceLock<MemorySink> = OnceLock::new();
    SINK.get_or_init(|| {
        let (emitter, sink) = Emitter::memory(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
        let mut config = Config::default();
        config.service_name = "orders".into();
        assert!(xray_core::set_global(Tracer::with_emitter(config, emitter)).is_ok());
        sink
    })
}

/// A service request continuing a fresh W3C trace with `tracestate` (when given): the segment
/// (its trace, the tracer being the global one) and the X-Ray root it continues.
pub fn w3c_request(
    sampled: bool,
    tracestate: Option<&str>,
) -> (xray_core::service::ServiceSegment, String) {
    use xray_core::service::{HostFacts, IncomingRequest, ServiceTracer};
    sink();
    let root = xray_core::TraceId::random();
    let parent = PARENT.parse().unwrap();
    let traceparent = xray_core::w3c::format_traceparent(&root, parent, sampled);
    let service = ServiceTracer::builder(xray_core::global().clone(), "orders")
        .host(HostFacts::default())
        .build();
    let segment = service.begin(&IncomingRequest {
        traceparent: Some(std::str::from_utf8(&traceparent).unwrap()),
        tracestate,
        ..IncomingRequest::default()
    });
    assert_eq!(segment.is_sampled(), sampled);
    (segment, root.to_string())
}

/// A fresh trace per test: (header, root).
pub fn header(sampled: &str, extras: &str) -> (String, String) {
    let root = xray_core::TraceId::random().to_string();
    (
        format!("Root={root};Parent={PARENT};Sampled={sampled}{extras}"),
        root,
    )
}

pub fn event<T>(payload: T, header: &str) -> LambdaEvent<T> {
    let mut ctx = Context::default();
    ctx.xray_trace_id = Some(header.to_owned());
    LambdaEvent::new(payload, ctx)
}

/// Every datagram of trace `root` so far, each checked by the validator.
pub fn documents(root: &str) -> Vec<Value> {
    let needle = format!("\"trace_id\":\"{root}\"");
    sink()
        .take_where(|d| d.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .into_iter()
        .map(|d| {
            let (doc, report) = Validator::shared()
                .check_datagram(&d)
                .unwrap_or_else(|e| panic!("bad datagram: {e}"));
            assert!(report.is_valid(), "{report}");
            doc
        })
        .collect()
}

/// Every subsegment named `name` anywhere in `docs`.
pub fn find<'a>(docs: &'a [Value], name: &str) -> Vec<&'a Value> {
    fn walk<'a>(v: &'a Value, name: &str, out: &mut Vec<&'a Value>) {
        if v["name"] == name {
            out.push(v);
        }
        for s in v["subsegments"].as_array().into_iter().flatten() {
            walk(s, name, out);
        }
    }
    let mut out = Vec::new();
    for d in docs {
        walk(d, name, &mut out);
    }
    out
}

/// One request as the server saw it: path and the trace header.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub trace_header: Option<String>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

/// A hyper server on 127.0.0.1: `/status/N` answers N, everything else 200 with `hello`.
pub struct Server {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub async fn start() -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let log = log.clone();
                        async move { Ok::<_, Infallible>(answer(&req, &log)) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await;
                });
            }
        });
        Server { addr, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn answer(req: &Request<Incoming>, log: &Mutex<Vec<Seen>>) -> Response<Full<Bytes>> {
    log.lock().unwrap().push(Seen {
        path: req.uri().path().to_owned(),
        trace_header: req
            .headers()
            .get("x-amzn-trace-id")
            .map(|v| v.to_str().unwrap().to_owned()),
        traceparent: req
            .headers()
            .get("traceparent")
            .map(|v| v.to_str().unwrap().to_owned()),
        tracestate: req
            .headers()
            .get("tracestate")
            .map(|v| v.to_str().unwrap().to_owned()),
    });
    let status = req
        .uri()
        .path()
        .strip_prefix("/status/")
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(200);
    let mut resp = Response::new(Full::new(Bytes::from_static(b"hello")));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    resp
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The `traceparent` that carries the same context as the X-Ray header `xray` (`Root`, `Parent`,
/// `Sampled`), written out by hand from the W3C format: version 00, the 32-hex trace id (the
/// X-Ray root's epoch and random part run together), the parent, and the sampled flag.
pub fn expected_traceparent(xray: &str) -> String {
    let field = |k: &str| {
        xray.split(';')
            .find_map(|f| f.strip_prefix(k))
            .unwrap()
            .to_owned()
    };
    let root = field("Root=1-").replace('-', "");
    let flags = if field("Sampled=") == "1" { "01" } else { "00" };
    format!("00-{root}-{}-{flags}", field("Parent="))
}
