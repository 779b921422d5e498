//! A sampled service request with 10 captured calls allocates nothing in the SDK once warm,
//! whether the decision comes in the header or from the sampler: the recording comes from the
//! tracer's pool, the tree and buffers are reused, host facts and request fields are copied
//! into kept strings, and the segment goes out over a real UDP socket. The same holds for a
//! request continuing a W3C `traceparent` with a `tracestate` (kept in the recording's reused
//! string). An unsampled request allocates nothing at all, except one shared copy of an
//! inbound `tracestate` it must forward (bounded at 512 bytes), which is counted exactly here.
//! Counted with a global allocator in this test binary; the canary
//! shows the allocator is installed.

use std::net::UdpSocket;

use xray_core::sampling::LocalSampler;
use xray_core::testing::{
    CountingAllocator, count_allocations, counting_installed, poll_to_completion,
};
use xray_core::{
    Config, Tracer, capture_method,
    service::{HostFacts, IncomingRequest, ServiceTracer},
    wire::Emitter,
};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_in(f: impl FnOnce()) -> u64 {
    count_allocations(f).1
}

#[derive(serde::Serialize)]
struct Step {
    n: u32,
    label: &'static str,
}

#[capture_method]
fn sync_step(n: u32) -> Result<Step, std::fmt::Error> {
    xray_core::put_annotation("step", n);
    Ok(Step { n, label: "sync" })
}

#[capture_method]
async fn async_step(n: u32) -> u32 {
    xray_core::put_metadata("step", &Step { n, label: "async" });
    n * 2
}

/// One request as a handler would serve it; returns whether it was sampled.
fn serve(service: &ServiceTracer, trace_header: Option<&str>) -> bool {
    serve_w3c(service, trace_header, None)
}

thread_local! {
    /// Reused for reading the forwarded `tracestate`, so the test adds no allocation of its own.
    static STATE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// One request, with a W3C `traceparent` and `tracestate` when `w3c` is given.
fn serve_w3c(
    service: &ServiceTracer,
    trace_header: Option<&str>,
    w3c: Option<(&str, &str)>,
) -> bool {
    let segment = service.begin(&IncomingRequest {
        trace_header,
        traceparent: w3c.map(|w| w.0),
        tracestate: w3c.map(|w| w.1),
        host: Some("orders.internal"),
        method: Some("POST"),
        path: Some("/orders"),
        url: Some("http://orders.internal/orders"),
        user_agent: Some("load-test/1.0"),
        client_ip: Some("203.0.113.7"),
        x_forwarded_for: true,
    });
    if let Some((_, state)) = w3c {
        // What an outbound call would forward: the inbound `tracestate`, unchanged.
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            assert!(segment.in_scope(|| xray_core::w3c::downstream_tracestate_into(&mut s)));
            assert_eq!(*s, state);
        });
    }
    let total = poll_to_completion(segment.instrument(async {
        let mut total = 0;
        for i in 0..5 {
            total += sync_step(i).map_or(0, |s| s.n);
            total += async_step(i).await;
        }
        total
    }));
    segment.in_scope(|| xray_core::put_annotation("total", total));
    segment.with_entity(|mut e| {
        e.set_user("u-42");
    });
    let sampled = segment.is_sampled();
    assert!(!segment.response_header().is_empty());
    segment.finish(Some(201), Some(42));
    sampled
}

#[test]
fn canary_the_counting_allocator_is_installed() {
    assert!(counting_installed());
    assert_eq!(
        allocations_in(|| drop(std::hint::black_box(Box::new(7)))),
        1
    );
}

#[test]
fn a_warm_sampled_request_allocates_nothing() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let emitter = Emitter::udp(
        daemon.local_addr().unwrap(),
        xray_core::wire::DEFAULT_DATAGRAM_LIMIT,
    );
    let tracer = Tracer::with_emitter(Config::default(), emitter);
    let always = LocalSampler::from_json(
        r#"{"version":2,"default":{"fixed_target":0,"rate":1},"rules":[]}"#,
    )
    .unwrap();
    let service = ServiceTracer::builder(tracer, "orders")
        .sampler(always)
        .host(
            HostFacts {
                ecs_container: "task-7".into(),
                ..HostFacts::default()
            }
            .with_origin(xray_core::service::ORIGIN_ECS_CONTAINER),
        )
        .service_version("1.2.3")
        .build();
    let continued =
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
    let unsampled = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0");
    let w3c_sampled = (
        "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
    );
    let w3c_unsampled = (
        "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00",
        w3c_sampled.1,
    );

    for _ in 0..3 {
        assert!(serve(&service, continued));
        assert!(serve(&service, None));
        assert!(serve_w3c(&service, None, Some(w3c_sampled)));
    }
    let n = allocations_in(|| {
        for _ in 0..10 {
            assert!(serve(&service, continued));
        }
    });
    assert_eq!(
        n, 0,
        "allocations in 10 warm requests continuing a sampled header"
    );
    let n = allocations_in(|| {
        for _ in 0..10 {
            assert!(serve(&service, None));
        }
    });
    assert_eq!(n, 0, "allocations in 10 warm requests sampled here");
    let n = allocations_in(|| {
        for _ in 0..10 {
            assert!(!serve(&service, unsampled));
        }
    });
    assert_eq!(n, 0, "allocations in 10 unsampled requests");
    let n = allocations_in(|| {
        for _ in 0..10 {
            assert!(serve_w3c(&service, None, Some(w3c_sampled)));
        }
    });
    assert_eq!(
        n, 0,
        "allocations in 10 warm requests continuing a sampled traceparent with a tracestate"
    );
    let n = allocations_in(|| {
        for _ in 0..10 {
            assert!(!serve_w3c(&service, None, Some(w3c_unsampled)));
        }
    });
    assert_eq!(
        n, 10,
        "one shared tracestate copy per unsampled request that carries one"
    );

    let stats = service.tracer().stats();
    assert_eq!(stats.invocations_sampled, 39);
    assert_eq!(stats.invocations_unsampled, 20);
    assert_eq!(stats.malformed_headers, 0);
    assert_eq!(stats.emitter.datagrams_handed_to_kernel, 39);
    assert_eq!(stats.emitter.datagrams_known_lost(), 0);
    assert_eq!(stats.recordings_allocated, 1);
    let mut buf = vec![0u8; 65_536];
    let len = daemon.recv(&mut buf).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&buf[30..len]).unwrap();
    assert_eq!(doc["origin"], "AWS::ECS::Container");
    assert_eq!(doc["subsegments"].as_array().unwrap().len(), 10);
    assert_eq!(doc["http"]["response"]["status"], 201);
}
