//! Which inbound context a service segment continues when W3C headers come with (or instead
//! of) `X-Amzn-Trace-Id`, and what `tracestate` it forwards (the rules in `crate::w3c`).

use super::*;
use crate::config::Config;
use crate::emit::{Emitter, MemorySink};
use crate::sampling::LocalSampler;

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const W3C_TRACE: &str = "5759e988bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";
const STATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";

fn service(rate: u8) -> (ServiceTracer, MemorySink) {
    let (emitter, sink) = Emitter::memory(crate::wire::DEFAULT_DATAGRAM_LIMIT);
    let rules =
        format!(r#"{{"version":2,"default":{{"fixed_target":0,"rate":{rate}}},"rules":[]}}"#);
    let s = ServiceTracer::builder(Tracer::with_emitter(Config::default(), emitter), "orders")
        .sampler(LocalSampler::from_json(&rules).unwrap())
        .host(HostFacts::default())
        .build();
    (s, sink)
}

fn traceparent(trace: &str, parent: &str, flags: &str) -> String {
    format!("00-{trace}-{parent}-{flags}")
}

/// The downstream `X-Amzn-Trace-Id` and the forwarded `tracestate` inside `seg`.
fn downstream(seg: &ServiceSegment) -> (String, Option<String>) {
    seg.in_scope(|| {
        let mut state = String::new();
        let has = crate::w3c::downstream_tracestate_into(&mut state);
        let header = crate::downstream_header().unwrap();
        (header.to_string(), has.then_some(state))
    })
}

fn parent_of(sink: &MemorySink) -> serde_json::Value {
    let docs = sink.take_documents();
    docs[0].get("parent_id").cloned().unwrap_or_default()
}

#[test]
fn a_traceparent_alone_is_continued_with_its_decision() {
    let (s, sink) = service(0);
    let tp = traceparent(W3C_TRACE, PARENT, "01");
    let seg = s.begin(&IncomingRequest {
        traceparent: Some(&tp),
        tracestate: Some(STATE),
        ..IncomingRequest::default()
    });
    assert!(seg.is_sampled(), "the flag decides, not the sampler");
    assert_eq!(seg.trace_id().to_string(), ROOT);
    let id = seg.id().unwrap();
    let (header, state) = downstream(&seg);
    assert_eq!(header, format!("Root={ROOT};Parent={id};Sampled=1"));
    assert_eq!(state.as_deref(), Some(STATE));
    seg.finish(Some(200), None);
    assert_eq!(parent_of(&sink), PARENT);

    // Flag 00 is obeyed even by a sampler that takes everything; the state still travels.
    let (s, sink) = service(1);
    let tp = traceparent(W3C_TRACE, PARENT, "00");
    let seg = s.begin(&IncomingRequest {
        traceparent: Some(&tp),
        tracestate: Some(STATE),
        ..IncomingRequest::default()
    });
    assert!(!seg.is_sampled());
    let (header, state) = downstream(&seg);
    assert_eq!(header, format!("Root={ROOT};Parent={PARENT};Sampled=0"));
    assert_eq!(state.as_deref(), Some(STATE));
    seg.finish(Some(200), None);
    assert!(sink.take().is_empty());
}

#[test]
fn with_both_headers_of_one_trace_the_x_ray_header_wins_and_gaps_are_filled() {
    let (s, sink) = service(0);
    let header = format!("Root={ROOT};Lineage=a87bd80c:1|68fd508a:5");
    let tp = traceparent(W3C_TRACE, PARENT, "01");
    let seg = s.begin(&IncomingRequest {
        trace_header: Some(&header),
        traceparent: Some(&tp),
        tracestate: Some(STATE),
        ..IncomingRequest::default()
    });
    assert!(
        seg.is_sampled(),
        "no Sampled in the X-Ray header: the flag decides"
    );
    let id = seg.id().unwrap();
    let (down, state) = downstream(&seg);
    assert_eq!(
        down,
        format!("Root={ROOT};Parent={id};Sampled=1;Lineage=a87bd80c:1|68fd508a:5")
    );
    assert_eq!(state.as_deref(), Some(STATE));
    seg.finish(None, None);
    assert_eq!(
        parent_of(&sink),
        PARENT,
        "the missing Parent comes from traceparent"
    );

    // An explicit X-Ray decision beats the flag.
    let header = format!("Root={ROOT};Parent={PARENT};Sampled=0");
    let seg = s.begin(&IncomingRequest {
        trace_header: Some(&header),
        traceparent: Some(&tp),
        ..IncomingRequest::default()
    });
    assert!(!seg.is_sampled());
}

#[test]
fn a_traceparent_of_another_trace_is_ignored_with_its_state() {
    let (s, sink) = service(0);
    let header = format!("Root={ROOT};Parent={PARENT};Sampled=1");
    let tp = traceparent("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "00");
    let seg = s.begin(&IncomingRequest {
        trace_header: Some(&header),
        traceparent: Some(&tp),
        tracestate: Some(STATE),
        ..IncomingRequest::default()
    });
    assert!(seg.is_sampled());
    assert_eq!(seg.trace_id().to_string(), ROOT);
    assert_eq!(downstream(&seg).1, None);
    seg.finish(None, None);
    assert_eq!(parent_of(&sink), PARENT);
    assert_eq!(s.tracer().stats().malformed_headers, 0);
}

#[test]
fn a_malformed_traceparent_is_counted_and_ignored() {
    let (s, sink) = service(1);
    for bad in [
        "00-xyz",
        "00-00000000000000000000000000000000-53995c3f42cd8ad8-01",
        "00-5759E988BD862E3FE1BE46A994272793-53995c3f42cd8ad8-01",
    ] {
        let seg = s.begin(&IncomingRequest {
            traceparent: Some(bad),
            tracestate: Some(STATE),
            ..IncomingRequest::default()
        });
        assert!(seg.is_sampled(), "the sampler decides a new trace");
        assert_ne!(seg.trace_id().to_string(), ROOT);
        assert_eq!(
            downstream(&seg).1,
            None,
            "no tracestate without its traceparent"
        );
        seg.finish(None, None);
        assert_eq!(parent_of(&sink), serde_json::Value::Null);
    }
    assert_eq!(s.tracer().stats().malformed_headers, 3);
}

#[test]
fn a_pooled_recording_forgets_the_previous_requests_state() {
    let (s, _sink) = service(1);
    let tp = traceparent(W3C_TRACE, PARENT, "01");
    let seg = s.begin(&IncomingRequest {
        traceparent: Some(&tp),
        tracestate: Some(STATE),
        ..IncomingRequest::default()
    });
    assert_eq!(downstream(&seg).1.as_deref(), Some(STATE));
    seg.finish(None, None);
    let seg = s.begin(&IncomingRequest {
        traceparent: Some(&tp),
        ..IncomingRequest::default()
    });
    assert_eq!(downstream(&seg).1, None);
    seg.finish(None, None);
    assert_eq!(s.tracer().stats().recordings_allocated, 1);
}
