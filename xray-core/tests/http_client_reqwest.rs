//! `XRayMiddleware` in a `reqwest-middleware` client against a real hyper server on 127.0.0.1
//! that records the headers it got (`X-Amzn-Trace-Id`, `traceparent`, `tracestate`).

mod support;

use lambda_runtime::{Error, LambdaEvent};
use support::{Server, documents, event, find, header, rt, sink, w3c_request};
use xray_core::capture_lambda_handler;
use xray_core::http_client::{ClientOptions, XRayMiddleware};

fn client() -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(XRayMiddleware::new(
            ClientOptions::new().ignore_endpoint("127.0.0.1", &["/ignored/*"]),
        ))
        .build()
}

/// GETs each URL; returns each status (or the error text).
#[capture_lambda_handler]
async fn handler(event: LambdaEvent<Vec<String>>) -> Result<Vec<String>, Error> {
    Ok(get_all(&event.payload).await)
}

async fn get_all(urls: &[String]) -> Vec<String> {
    let client = client();
    let mut out = Vec::new();
    for url in urls {
        match client.get(url).send().await {
            Ok(resp) => out.push(resp.status().as_u16().to_string()),
            Err(e) => out.push(format!("error: {e}")),
        }
    }
    out
}

#[test]
fn requests_are_remote_subsegments_and_carry_the_header() {
    sink();
    let rt = rt();
    let server = rt.block_on(Server::start());
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (h, root) = header("1", ";Lineage=a87bd80c:1");
    let urls = vec![
        server.url("/ok"),
        server.url("/status/429"),
        server.url("/ignored/x"),
        format!("http://{closed}/down"),
    ];
    let out = rt.block_on(handler(event(urls, &h))).unwrap();
    assert_eq!(out[..3], ["200", "429", "200"]);
    assert!(out[3].starts_with("error:"), "{out:?}");

    let docs = documents(&root);
    let subs = find(&docs, "127.0.0.1");
    assert_eq!(subs.len(), 3, "{docs:#?}");
    assert_eq!(subs[0]["namespace"], "remote");
    assert_eq!(subs[0]["http"]["request"]["method"], "GET");
    assert_eq!(subs[0]["http"]["response"]["status"], 200);
    assert_eq!(subs[0]["http"]["response"]["content_length"], 5);
    assert_eq!(subs[1]["throttle"], true);
    assert_eq!(subs[1]["error"], true);
    assert_eq!(subs[2]["fault"], true);
    assert!(
        !subs[2]["cause"]["exceptions"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let seen = server.take();
    let id = subs[0]["id"].as_str().unwrap();
    assert_eq!(
        seen[0].trace_header.as_deref(),
        Some(format!("Root={root};Parent={id};Sampled=1;Lineage=a87bd80c:1").as_str())
    );
    // OpenTelemetry-instrumented callees see the same context.
    assert_eq!(
        seen[0].traceparent.as_deref(),
        Some(support::expected_traceparent(seen[0].trace_header.as_deref().unwrap()).as_str())
    );
    assert_eq!(seen[2].path, "/ignored/x");
    assert_eq!(seen[2].trace_header, None);
    assert_eq!(seen[2].traceparent, None);
}

#[test]
fn unsampled_sends_sampled_0_and_records_nothing() {
    sink();
    let rt = rt();
    let server = rt.block_on(Server::start());
    let (h, root) = header("0", "");
    rt.block_on(handler(event(vec![server.url("/a")], &h)))
        .unwrap();
    assert!(documents(&root).is_empty());
    let seen = server.take();
    let sent = seen[0].trace_header.clone().unwrap();
    // The callee is told not to sample, under the invocation's own parent, in both formats.
    assert_eq!(
        sent,
        format!("Root={root};Parent={};Sampled=0", support::PARENT)
    );
    let traceparent = seen[0].traceparent.as_deref().unwrap();
    assert_eq!(traceparent, support::expected_traceparent(&sent));
    assert!(traceparent.ends_with("-00"), "{traceparent}");
}

#[test]
fn a_service_requests_tracestate_travels_beside_traceparent() {
    const STATE: &str = "congo=t61rcWkgMzE";
    let rt = rt();
    let server = rt.block_on(Server::start());
    for sampled in [true, false] {
        let (segment, root) = w3c_request(sampled, Some(STATE));
        let urls = [server.url("/a"), server.url("/ignored/x")];
        let out = rt.block_on(segment.instrument(get_all(&urls)));
        assert_eq!(out, ["200", "200"]);
        segment.finish(Some(200), None);
        let seen = server.take();
        let xray = seen[0].trace_header.as_deref().unwrap();
        assert!(xray.starts_with(&format!("Root={root};")), "{xray}");
        assert_eq!(
            seen[0].traceparent.as_deref(),
            Some(support::expected_traceparent(xray).as_str())
        );
        assert_eq!(seen[0].tracestate.as_deref(), Some(STATE));
        // An ignored endpoint gets none of the three.
        assert_eq!(
            (
                &seen[1].trace_header,
                &seen[1].traceparent,
                &seen[1].tracestate
            ),
            (&None, &None, &None)
        );
    }
}
