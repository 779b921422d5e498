//! `XRayLayer` over a real socket: a hyper 1.x server on 127.0.0.1 serves a tower stack with
//! the layer, and a plain TCP client writes raw HTTP/1.1 requests (so headers can be anything,
//! non-UTF-8 bytes included). Each test has its own tracer and in-memory emitter; every
//! document is checked by the validator (schema and rules); every network wait is bounded.

use std::convert::Infallible;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, ServiceExt};
use xray_core::sampling::LocalSampler;
use xray_core::{
    Config, TraceId, Tracer, capture_method,
    model::{Clock, ManualClock, Timestamp},
    service::{HostFacts, ServiceTracer, XRayLayer},
    validate::Validator,
    wire::{Emitter, MemorySink},
};

const PARENT: &str = "53995c3f42cd8ad8";
const NOOP_ROOT: &str = "1-00000000-000000000000000000000000";
/// The longest any network wait may take.
const LIMIT: Duration = Duration::from_secs(10);

// ---- the application ----------------------------------------------------------------------

#[derive(serde::Serialize)]
struct Order {
    id: u32,
}

#[capture_method]
async fn load_order(id: u32) -> Result<Order, io::Error> {
    xray_core::put_annotation("order_id", id);
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(Order { id })
}

#[capture_method]
fn render(order: &Order) -> String {
    format!("order {}", order.id)
}

fn reply(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
    r
}

async fn app(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, io::Error> {
    let path = request.uri().path().to_owned();
    match path.as_str() {
        "/orders/7" => {
            let order = load_order(7).await?;
            Ok(reply(200, render(&order)))
        }
        "/downstream" => {
            let header = xray_core::downstream_header().map(|h| h.to_string());
            Ok(reply(200, header.unwrap_or_default()))
        }
        "/w3c" => {
            // What a downstream call would carry: the X-Ray header and the forwarded state.
            let header = xray_core::downstream_header().map(|h| h.to_string());
            let mut state = String::new();
            xray_core::w3c::downstream_tracestate_into(&mut state);
            Ok(reply(
                200,
                format!("{}\n{state}", header.unwrap_or_default()),
            ))
        }
        "/error" => Err(io::Error::other("database unreachable")),
        "/panic" => panic!("handler bug"),
        _ => match path.strip_prefix("/status/") {
            Some(code) => Ok(reply(code.parse().unwrap_or(500), "")),
            None => Ok(reply(200, "ok")),
        },
    }
}

// `io::Error` rather than tower's `BoxError`: hyper's bounds trip over the boxed error's
// lifetime inside `tokio::spawn` (a known higher-ranked inference limitation).
type App = BoxCloneService<Request<Incoming>, Response<Full<Bytes>>, io::Error>;

fn stack(tracer: ServiceTracer) -> App {
    BoxCloneService::new(
        ServiceBuilder::new()
            .layer(XRayLayer::new(tracer))
            .service_fn(app),
    )
}

/// A tracer on an in-memory emitter; `sampler` decides requests without a decision.
fn tracer(sampler: LocalSampler, clock: Clock) -> (ServiceTracer, MemorySink) {
    let (emitter, sink) = Emitter::memory(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
    let tracer = Tracer::with_parts(Config::default(), emitter, clock);
    let service = ServiceTracer::builder(tracer, "orders-api")
        .sampler(sampler)
        .host(HostFacts::default())
        .build();
    (service, sink)
}

fn rules(fixed_target: u64, rate: f64) -> LocalSampler {
    LocalSampler::from_json(&format!(
        r#"{{"version":2,"default":{{"fixed_target":{fixed_target},"rate":{rate}}},"rules":[]}}"#
    ))
    .unwrap()
}

// ---- the server ---------------------------------------------------------------------------

/// hyper on 127.0.0.1:0 in its own runtime and thread, until dropped.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn serve(app: App) -> Server {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (stream, peer) = tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(_) => continue,
                    },
                };
                let app = app.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |mut r: Request<Incoming>| {
                        r.extensions_mut().insert::<SocketAddr>(peer);
                        app.clone().oneshot(r)
                    });
                    // Errors (the failing and panicking handlers) close the connection.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        rt.shutdown_timeout(Duration::from_secs(1));
    });
    let addr = addr_rx.recv_timeout(LIMIT).expect("the server starts");
    Server {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---- the client ---------------------------------------------------------------------------

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The `Root` of the response's `X-Amzn-Trace-Id`, and whether it says `Sampled=1`.
    fn trace(&self) -> (String, bool) {
        let h = self.header("x-amzn-trace-id").expect("a trace header");
        let parsed = xray_core::TraceHeader::parse(h);
        let root = parsed.root().expect("a Root").to_string();
        assert_eq!(
            h,
            format!(
                "Root={root};Sampled={}",
                u8::from(parsed.sampled().is_sampled())
            )
        );
        (root, parsed.sampled().is_sampled())
    }
}

/// Sends `GET <path>` with `headers` (raw bytes) and reads the whole answer; `None` when the
/// server closed the connection without one.
fn get(addr: SocketAddr, path: &str, headers: &[(&str, &[u8])]) -> Option<Reply> {
    let mut raw = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n").into_bytes();
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        raw.extend_from_slice(b"Host: orders.test\r\n");
    }
    for (name, value) in headers {
        raw.extend_from_slice(name.as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"\r\n");
    let mut stream = TcpStream::connect_timeout(&addr, LIMIT).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    stream.write_all(&raw).unwrap();
    let mut answer = Vec::new();
    // A reset (the failing handlers) reads as an empty answer.
    let _ = stream.read_to_end(&mut answer);
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = &answer[..end];
    let mut lines = head.split(|b| *b == b'\n');
    let status_line = String::from_utf8_lossy(lines.next()?).into_owned();
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            let colon = l.iter().position(|b| *b == b':')?;
            let name = String::from_utf8_lossy(&l[..colon]).into_owned();
            Some((name, l[colon + 1..].trim_ascii().to_vec()))
        })
        .collect();
    Some(Reply {
        status,
        headers,
        body: answer[end + 4..].to_vec(),
    })
}

fn trace_header(root: &str, sampled: &str) -> Vec<u8> {
    format!("Root={root};Parent={PARENT};Sampled={sampled}").into_bytes()
}

// ---- the documents ------------------------------------------------------------------------

/// Waits (bounded) for `n` datagrams, then takes every datagram and validates it.
fn documents(sink: &MemorySink, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + LIMIT;
    let mut taken = Vec::new();
    loop {
        taken.extend(sink.take());
        if taken.len() >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "waited for {n} datagrams, got {}",
            taken.len()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    taken
        .iter()
        .map(|d| {
            let (doc, report) = Validator::shared()
                .check_datagram(d)
                .unwrap_or_else(|e| panic!("bad datagram: {e}"));
            assert!(report.is_valid(), "{report}\n{doc:#}");
            assert!(doc.get("type").is_none(), "a segment: {doc:#}");
            doc
        })
        .collect()
}

fn child<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["subsegments"]
        .as_array()
        .and_then(|subs| subs.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no subsegment {name} in {doc:#}"))
}

// ---- the tests ----------------------------------------------------------------------------

#[test]
fn a_sampled_header_is_continued_with_captured_calls_nested() {
    let (service, sink) = tracer(rules(0, 0.0), Clock::System);
    let server = serve(stack(service));
    let root = TraceId::random().to_string();
    let r = get(
        server.addr,
        "/orders/7?expand=items",
        &[
            ("X-Amzn-Trace-Id", &trace_header(&root, "1")),
            ("User-Agent", b"curl/8.5"),
        ],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"order 7");
    assert_eq!(r.trace(), (root.clone(), true));

    let docs = documents(&sink, 1);
    let d = &docs[0];
    assert_eq!(d["name"], "orders-api");
    assert_eq!(d["trace_id"], root);
    assert_eq!(d["parent_id"], PARENT);
    assert_eq!(d["aws"]["xray"]["sdk"], "X-Ray for Rust");
    let req = &d["http"]["request"];
    assert_eq!(req["method"], "GET");
    assert_eq!(req["url"], "http://orders.test/orders/7?expand=items");
    assert_eq!(req["user_agent"], "curl/8.5");
    assert_eq!(req["client_ip"], "127.0.0.1");
    assert!(req.get("x_forwarded_for").is_none());
    assert_eq!(d["http"]["response"]["status"], 200);
    assert_eq!(d["http"]["response"]["content_length"], 7);
    for flag in ["error", "throttle", "fault"] {
        assert!(d.get(flag).is_none(), "{flag}");
    }
    let load = child(d, "## load_order");
    assert_eq!(load["annotations"]["order_id"], 7);
    assert_eq!(
        load["metadata"]["orders-api"]["load_order response"]["id"],
        7
    );
    child(d, "## render");
}

#[test]
fn an_unsampled_header_is_propagated_and_nothing_is_sent() {
    let (service, sink) = tracer(rules(100, 1.0), Clock::System);
    let server = serve(stack(service.clone()));
    let root = TraceId::random().to_string();
    let r = get(
        server.addr,
        "/downstream",
        &[("X-Amzn-Trace-Id", &trace_header(&root, "0"))],
    )
    .unwrap();
    assert_eq!(r.trace(), (root.clone(), false));
    // The handler ran in the trace: a downstream call would carry Root, the incoming
    // Parent (nothing was recorded here) and Sampled=0.
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        format!("Root={root};Parent={PARENT};Sampled=0")
    );
    assert!(sink.take().is_empty());
    assert_eq!(service.tracer().stats().invocations_unsampled, 1);
}

#[test]
fn a_traceparent_is_continued_and_its_tracestate_forwarded() {
    let (service, sink) = tracer(rules(0, 0.0), Clock::System);
    let server = serve(stack(service.clone()));
    let trace = TraceId::random();
    let root = trace.to_string();
    let traceparent = xray_core::w3c::format_traceparent(&trace, PARENT.parse().unwrap(), true);
    // Two `tracestate` lines are one list.
    let r = get(
        server.addr,
        "/w3c",
        &[
            ("traceparent", &traceparent),
            ("tracestate", b"congo=t61rcWkgMzE"),
            ("tracestate", b"rojo=00f067aa0ba902b7"),
        ],
    )
    .unwrap();
    assert_eq!(r.trace(), (root.clone(), true), "the sampled flag decides");
    let body = String::from_utf8(r.body).unwrap();
    let (down, state) = body.split_once('\n').unwrap();
    assert!(down.starts_with(&format!("Root={root};Parent=")), "{down}");
    assert!(down.ends_with(";Sampled=1"), "{down}");
    assert_eq!(state, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    let docs = documents(&sink, 1);
    assert_eq!(docs[0]["trace_id"], root);
    assert_eq!(docs[0]["parent_id"], PARENT);

    // A malformed traceparent: a new trace the sampler decides, and no state forwarded.
    let r = get(
        server.addr,
        "/w3c",
        &[
            ("traceparent", b"00-not-a-traceparent"),
            ("tracestate", b"congo=t61rcWkgMzE"),
        ],
    )
    .unwrap();
    let (new_root, sampled) = r.trace();
    assert!(!sampled);
    assert_ne!(new_root, root);
    assert!(String::from_utf8(r.body).unwrap().ends_with('\n'));
    assert!(sink.take().is_empty());
    assert_eq!(service.tracer().stats().malformed_headers, 1);
}

#[test]
fn without_a_decision_the_sampler_takes_one_request_a_second() {
    let clock = ManualClock::new(Timestamp::now());
    let sampler = rules(1, 0.0).with_clock(Clock::Manual(clock.clone()));
    let (service, sink) = tracer(sampler, Clock::Manual(clock.clone()));
    let server = serve(stack(service));

    let first = get(server.addr, "/", &[]).unwrap();
    let (root, sampled) = first.trace();
    assert!(sampled);
    let docs = documents(&sink, 1);
    assert_eq!(docs[0]["trace_id"], root);
    assert!(docs[0].get("parent_id").is_none());

    // The second request in the same second is not sampled; a new unsampled trace gets the
    // all-zero id (AWS_XRAY_NOOP_ID unset).
    let second = get(server.addr, "/", &[]).unwrap();
    assert_eq!(second.trace(), (NOOP_ROOT.to_owned(), false));
    // `Sampled=?` asks this service to decide: still no, but the caller's Root is kept.
    let asked = TraceId::random().to_string();
    let third = get(
        server.addr,
        "/",
        &[("X-Amzn-Trace-Id", &trace_header(&asked, "?"))],
    )
    .unwrap();
    assert_eq!(third.trace(), (asked.clone(), false));
    assert!(sink.take().is_empty());

    clock.advance_micros(1_000_000);
    let fourth = get(
        server.addr,
        "/",
        &[("X-Amzn-Trace-Id", &trace_header(&asked, "?"))],
    )
    .unwrap();
    assert_eq!(fourth.trace(), (asked.clone(), true));
    let docs = documents(&sink, 1);
    assert_eq!(docs[0]["trace_id"], asked);
    assert_eq!(docs[0]["parent_id"], PARENT);
}

#[test]
fn statuses_set_error_throttle_and_fault() {
    let (service, sink) = tracer(rules(0, 0.0), Clock::System);
    let server = serve(stack(service));
    for (status, error, throttle, fault) in [
        (404, true, false, false),
        (429, true, true, false),
        (500, false, false, true),
        (503, false, false, true),
        (302, false, false, false),
    ] {
        let root = TraceId::random().to_string();
        let r = get(
            server.addr,
            &format!("/status/{status}"),
            &[("X-Amzn-Trace-Id", &trace_header(&root, "1"))],
        )
        .unwrap();
        assert_eq!(r.status, status);
        let d = &documents(&sink, 1)[0];
        assert_eq!(d["trace_id"], root);
        assert_eq!(d["http"]["response"]["status"], status);
        assert_eq!(d["http"]["response"]["content_length"], 0);
        let flag = |k: &str| d.get(k) == Some(&Value::Bool(true));
        assert_eq!(
            (flag("error"), flag("throttle"), flag("fault")),
            (error, throttle, fault),
            "{status}"
        );
    }
}

#[test]
fn an_inner_error_is_a_fault_with_the_error_recorded() {
    let (service, sink) = tracer(rules(0, 0.0), Clock::System);
    let server = serve(stack(service));
    let root = TraceId::random().to_string();
    let r = get(
        server.addr,
        "/error",
        &[("X-Amzn-Trace-Id", &trace_header(&root, "1"))],
    );
    assert!(
        r.is_none(),
        "hyper closes the connection on a service error"
    );
    let d = &documents(&sink, 1)[0];
    assert_eq!(d["trace_id"], root);
    assert_eq!(d["fault"], true);
    assert!(d["http"].get("response").is_none());
    let ex = &d["cause"]["exceptions"][0];
    assert_eq!(ex["message"], "database unreachable");
    assert!(
        ex["type"].as_str().unwrap().contains("io::error::Error"),
        "{ex}"
    );
}

#[test]
fn a_panicking_handler_still_sends_its_segment() {
    let (service, sink) = tracer(rules(0, 0.0), Clock::System);
    let server = serve(stack(service));
    let root = TraceId::random().to_string();
    let r = get(
        server.addr,
        "/panic",
        &[("X-Amzn-Trace-Id", &trace_header(&root, "1"))],
    );
    assert!(r.is_none());
    let d = &documents(&sink, 1)[0];
    assert_eq!(d["trace_id"], root);
    assert_eq!(d["fault"], true);
    assert_eq!(d["cause"]["exceptions"][0]["type"], "panic");
    // The server keeps serving.
    assert_eq!(get(server.addr, "/", &[]).unwrap().status, 200);
}

type Headers = Vec<(&'static str, Vec<u8>)>;

#[test]
fn odd_headers_never_break_the_layer() {
    let (service, sink) = tracer(rules(0, 1.0), Clock::System);
    let server = serve(stack(service));
    let long_path = format!("/{}", "p".repeat(2000));
    let huge_ip = format!("{}, 10.0.0.1", "9".repeat(10_000));
    let cases: Vec<(&str, Headers)> = vec![
        (
            "/",
            vec![
                ("X-Amzn-Trace-Id", b"Root=\xff\xfe;Sampled=1".to_vec()),
                ("User-Agent", b"caf\xe9/1.0".to_vec()),
                ("Host", b"h\xf6st.test".to_vec()),
            ],
        ),
        (
            "/",
            vec![(
                "X-Amzn-Trace-Id",
                b";;=;Root==;Parent;Sampled=maybe;Self=x".to_vec(),
            )],
        ),
        (
            &long_path,
            vec![
                ("X-Forwarded-For", huge_ip.into_bytes()),
                ("X-Forwarded-Proto", b"gopher".to_vec()),
                ("User-Agent", "ü".repeat(5000).into_bytes()),
            ],
        ),
        (
            "/",
            vec![("X-Forwarded-For", b" 203.0.113.9 , 10.0.0.1".to_vec())],
        ),
        ("/", vec![("X-Forwarded-For", b" , ".to_vec())]),
    ];
    for (path, headers) in &cases {
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        let r = get(server.addr, path, &headers).unwrap();
        assert_eq!(r.status, 200, "{path:.20} {headers:?}");
        assert!(r.trace().1, "sampled by the rate");
    }
    let docs = documents(&sink, cases.len());
    assert_eq!(docs.len(), cases.len());
    let req = |i: usize| &docs[i]["http"]["request"];
    // Not UTF-8: left out; the trace header is treated as absent.
    assert!(req(0).get("user_agent").is_none());
    assert_eq!(req(0)["url"], "/");
    assert!(docs[1].get("parent_id").is_none());
    let url = req(2)["url"].as_str().unwrap();
    assert_eq!(url.chars().count(), 250);
    assert!(url.starts_with("http://orders.test/ppp"), "{url:.40}");
    assert_eq!(req(2)["client_ip"].as_str().unwrap().len(), 250);
    assert_eq!(req(2)["x_forwarded_for"], true);
    assert_eq!(req(2)["user_agent"].as_str().unwrap().chars().count(), 250);
    assert_eq!(req(3)["client_ip"], "203.0.113.9");
    assert_eq!(req(3)["x_forwarded_for"], true);
    assert_eq!(
        req(4)["client_ip"],
        "127.0.0.1",
        "an empty first entry falls back"
    );
    assert!(req(4).get("x_forwarded_for").is_none());
}

#[test]
fn the_layer_works_without_a_peer_address_or_host() {
    // Straight through tower, no server: no `SocketAddr` extension, an origin-form URI and no
    // `Host` header.
    let (service, sink) = tracer(rules(1, 0.0), Clock::System);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handler = tower::service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::from("hi")))
    });
    let svc = ServiceBuilder::new()
        .layer(XRayLayer::new(service))
        .service(handler);
    let request = Request::get("/x?y=1").body(String::new()).unwrap();
    let response = rt
        .block_on(async { tokio::time::timeout(LIMIT, svc.oneshot(request)).await })
        .unwrap()
        .unwrap();
    assert!(response.headers().contains_key("x-amzn-trace-id"));
    let d = &documents(&sink, 1)[0];
    assert_eq!(d["http"]["request"]["url"], "/x?y=1");
    assert!(d["http"]["request"].get("client_ip").is_none());
    assert_eq!(d["http"]["response"]["content_length"], 2);
}
