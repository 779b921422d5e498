//! `XRayClientLayer` around hyper-util's client, against a real hyper server on 127.0.0.1 that
//! records the headers it got: subsegments, status flags, transport failures, the header
//! (sampled, unsampled, with `Lineage`), W3C `traceparent` / `tracestate` from a service request,
//! the ignore list and the daemon's own address.

mod support;

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lambda_runtime::{Error, LambdaEvent};
use support::{Server, documents, event, find, header, rt, sink, w3c_request};
use tower::{Layer, ServiceExt};
use xray_core::capture_lambda_handler;
use xray_core::http_client::{ClientOptions, XRayClientLayer};

#[derive(Debug, Clone, Default)]
struct Job {
    urls: Vec<String>,
    ignore: Option<(String, Vec<String>)>,
    daemon: Option<SocketAddr>,
}

/// GETs each URL through the layer; returns each status (or the error text).
async fn fetch_all(job: &Job) -> Vec<String> {
    let mut options = ClientOptions::new();
    if let Some((host, paths)) = &job.ignore {
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        options = options.ignore_endpoint(host, &paths);
    }
    if let Some(d) = job.daemon {
        options = options.daemon(d, d);
    }
    let client = XRayClientLayer::new(options)
        .layer(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let mut out = Vec::new();
    for url in &job.urls {
        let req = http::Request::get(url.as_str())
            .body(Full::default())
            .unwrap();
        match client.clone().oneshot(req).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                resp.into_body().collect().await.unwrap();
                out.push(status.to_string());
            }
            Err(e) => out.push(format!("error: {e}")),
        }
    }
    out
}

#[capture_lambda_handler]
async fn handler(event: LambdaEvent<Job>) -> Result<Vec<String>, Error> {
    Ok(fetch_all(&event.payload).await)
}

fn run(job: Job, header: &str) -> Vec<String> {
    sink();
    rt().block_on(handler(event(job, header))).unwrap()
}

#[test]
fn sampled_request_is_a_remote_subsegment_and_carries_its_id() {
    let rt = rt();
    let server = rt.block_on(Server::start());
    let (h, root) = header("1", ";Lineage=a87bd80c:1|68fd508a:5");
    let job = Job {
        urls: vec![server.url("/orders/7?secret=1")],
        ..Job::default()
    };
    assert_eq!(run(job, &h), ["200"]);

    let docs = documents(&root);
    let subs = find(&docs, "127.0.0.1");
    assert_eq!(subs.len(), 1, "{docs:#?}");
    let sub = subs[0];
    assert_eq!(sub["namespace"], "remote");
    assert_eq!(sub["http"]["request"]["method"], "GET");
    // The query string is left out of the recorded URL.
    assert_eq!(
        sub["http"]["request"]["url"],
        format!("http://{}/orders/7", server.addr)
    );
    assert_eq!(sub["http"]["response"]["status"], 200);
    assert_eq!(sub["http"]["response"]["content_length"], 5);
    assert!(sub.get("fault").is_none() && sub.get("error").is_none());

    let seen = server.take();
    assert_eq!(seen.len(), 1);
    let id = sub["id"].as_str().unwrap();
    assert_eq!(
        seen[0].trace_header.as_deref(),
        Some(format!("Root={root};Parent={id};Sampled=1;Lineage=a87bd80c:1|68fd508a:5").as_str())
    );
}

#[test]
fn status_sets_error_throttle_and_fault() {
    let rt = rt();
    let server = rt.block_on(Server::start());
    let (h, root) = header("1", "");
    let job = Job {
        urls: ["/status/404", "/status/429", "/status/503"]
            .iter()
            .map(|p| server.url(p))
            .collect(),
        ..Job::default()
    };
    assert_eq!(run(job, &h), ["404", "429", "503"]);
    let docs = documents(&root);
    let subs = find(&docs, "127.0.0.1");
    let by_status = |s: u64| {
        *subs
            .iter()
            .find(|v| v["http"]["response"]["status"] == s)
            .unwrap()
    };
    let (e404, e429, e503) = (by_status(404), by_status(429), by_status(503));
    assert_eq!(e404["error"], true);
    assert!(e404.get("throttle").is_none() && e404.get("fault").is_none());
    assert_eq!(e429["error"], true);
    assert_eq!(e429["throttle"], true);
    assert_eq!(e503["fault"], true);
    assert!(e503.get("error").is_none());
}

#[test]
fn connection_failure_is_a_fault_with_its_chain() {
    // A port nothing listens on any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (h, root) = header("1", "");
    let job = Job {
        urls: vec![format!("http://{closed}/x")],
        ..Job::default()
    };
    let out = run(job, &h);
    assert!(out[0].starts_with("error:"), "{out:?}");
    let docs = documents(&root);
    let sub = find(&docs, "127.0.0.1")[0];
    assert_eq!(sub["fault"], true);
    let exceptions = sub["cause"]["exceptions"].as_array().unwrap();
    assert!(
        exceptions.len() >= 2,
        "the source chain is kept: {exceptions:#?}"
    );
    assert!(sub["http"].get("response").is_none());
}

#[test]
fn unsampled_records_nothing_and_sends_sampled_0() {
    let rt = rt();
    let server = rt.block_on(Server::start());
    let (h, root) = header("0", ";Lineage=a87bd80c:1");
    let job = Job {
        urls: vec![server.url("/a")],
        ..Job::default()
    };
    assert_eq!(run(job, &h), ["200"]);
    assert!(documents(&root).is_empty());
    let seen = server.take();
    let sent = seen[0].trace_header.as_deref().unwrap();
    assert!(sent.starts_with(&format!("Root={root}")), "{sent}");
    assert!(sent.contains("Sampled=0"), "{sent}");
}

#[test]
fn ignored_endpoints_and_the_daemon_are_not_traced() {
    let rt = rt();
    let server = rt.block_on(Server::start());
    let (h, root) = header("1", "");
    let job = Job {
        urls: vec![server.url("/health"), server.url("/traced")],
        ignore: Some(("127.0.0.*".into(), vec!["/health".into()])),
        ..Job::default()
    };
    assert_eq!(run(job, &h), ["200", "200"]);
    let seen = server.take();
    assert_eq!(seen[0].path, "/health");
    assert_eq!(seen[0].trace_header, None);
    assert!(seen[1].trace_header.is_some());
    assert_eq!(find(&documents(&root), "127.0.0.1").len(), 1);

    // The same server posing as the daemon: never traced, no header.
    let (h, root) = header("1", "");
    let job = Job {
        urls: vec![server.url("/GetSamplingRules")],
        daemon: Some(server.addr),
        ..Job::default()
    };
    assert_eq!(run(job, &h), ["200"]);
    assert_eq!(server.take()[0].trace_header, None);
    assert!(find(&documents(&root), "127.0.0.1").is_empty());
}

#[test]
fn outside_an_invocation_requests_go_out_untouched() {
    sink();
    let rt = rt();
    let server = rt.block_on(Server::start());
    let job = Job {
        urls: vec![server.url("/plain")],
        ..Job::default()
    };
    assert_eq!(rt.block_on(fetch_all(&job)), ["200"]);
    assert_eq!(server.take()[0].trace_header, None);
}

#[test]
fn a_service_requests_tracestate_travels_beside_a_consistent_traceparent() {
    const STATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    let rt = rt();
    let server = rt.block_on(Server::start());
    for (sampled, state) in [(true, Some(STATE)), (false, Some(STATE)), (true, None)] {
        let (segment, root) = w3c_request(sampled, state);
        let job = Job {
            urls: vec![server.url("/a"), server.url("/b")],
            ..Job::default()
        };
        let out = rt.block_on(segment.instrument(async { fetch_all(&job).await }));
        assert_eq!(out, ["200", "200"]);
        segment.finish(Some(200), None);

        let seen = server.take();
        assert_eq!(seen.len(), 2);
        for s in &seen {
            let xray = s.trace_header.as_deref().unwrap();
            assert!(xray.starts_with(&format!("Root={root};")), "{xray}");
            // The W3C header names the same trace, parent and decision as the X-Ray one.
            assert_eq!(
                s.traceparent.as_deref(),
                Some(support::expected_traceparent(xray).as_str())
            );
            assert_eq!(s.tracestate.as_deref(), state, "{sampled}");
        }
        if sampled {
            let docs = documents(&root);
            assert_eq!(find(&docs, "127.0.0.1").len(), 2, "{docs:#?}");
        } else {
            assert!(
                seen[0]
                    .trace_header
                    .as_deref()
                    .unwrap()
                    .contains("Parent=53995c3f42cd8ad8;Sampled=0")
            );
        }
    }
}
