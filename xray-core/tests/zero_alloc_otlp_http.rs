//! The OTLP/HTTP output keeps the hot path: a warm sampled Lambda invocation POSTed as an
//! `ExportTraceServiceRequest` to a collector on 127.0.0.1 (a plain HTTP/1.1 receiver in a
//! thread of this test, keeping the connection alive as collectors do) allocates nothing in
//! the SDK: the protobuf is written into the emitter's reused buffers and the request head
//! into the connection's reused one, the kept-alive socket carries every request, and the
//! response is read into a stack buffer. Counted with a global allocator whose counter is per
//! thread, so the receiver's own allocations are not counted; the canary shows it is
//! installed. Run in debug and in release (`cargo test --release --test zero_alloc_otlp_http`).
//! With `Content-Encoding: gzip` a warm emission allocates nothing either (one deflate state
//! and one compressed-body buffer per endpoint, reused). That the bodies decode with the
//! official definitions is `otlp_reference`'s job.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xray_core::testing::{
    CountingAllocator, count_allocations, counting_installed, poll_to_completion,
};
use xray_core::{
    Compression, Config, HttpEndpoint, Output, OutputConfig, TraceId, Tracer,
    model::EntityTree,
    wire::{EmitBuffer, Emitter},
};

mod workload;

use workload::{event, handler};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_in(f: impl FnOnce()) -> u64 {
    count_allocations(f).1
}

/// What the receiver saw: requests, connections, gzipped requests, and the first body
/// (gunzipped).
#[derive(Default)]
struct Received {
    requests: AtomicU64,
    connections: AtomicU64,
    gzipped: AtomicU64,
    first_body: Mutex<Vec<u8>>,
}

/// A collector stand-in on 127.0.0.1:0: answers every POST `200` with an empty body and
/// keeps the connection open. Bounded: each connection gives up after 10 s of silence.
fn receiver() -> (u16, Arc<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Received::default());
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            log.connections.fetch_add(1, Relaxed);
            let log = log.clone();
            std::thread::spawn(move || serve(stream, &log));
        }
    });
    (port, seen)
}

fn serve(stream: TcpStream, log: &Received) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = None;
        let mut gzip = false;
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        assert!(
            request_line.starts_with("POST /v1/traces HTTP/1.1"),
            "{request_line}"
        );
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            }
            if let Some(v) = lower.strip_prefix("content-encoding:") {
                assert_eq!(v.trim(), "gzip");
                gzip = true;
            }
            if let Some(v) = lower.strip_prefix("content-type:") {
                assert_eq!(v.trim(), "application/x-protobuf");
            }
        }
        let mut body = vec![0u8; length.expect("a Content-Length")];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if gzip {
            log.gzipped.fetch_add(1, Relaxed);
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .expect("a whole gzip member");
            body = plain;
        }
        if log.requests.fetch_add(1, Relaxed) == 0 {
            *log.first_body.lock().unwrap() = body;
        }
        if out
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
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
fn a_warm_sampled_invocation_posted_as_otlp_http_allocates_nothing() {
    let (port, seen) = receiver();
    let endpoint = HttpEndpoint::parse(&format!("http://127.0.0.1:{port}/v1/traces")).unwrap();
    let mut config = Config::default();
    config.output = OutputConfig::new(Output::OtlpHttp(endpoint));
    let emitter = Emitter::for_config(&config);
    assert!(xray_core::set_global(Tracer::with_emitter(config, emitter)).is_ok());
    let mut events: Vec<_> = (0..13).map(|_| event()).collect();
    // Warm-up: the connection, the buffers' capacity, the pooled recording.
    for _ in 0..3 {
        poll_to_completion(handler(events.pop().unwrap())).unwrap();
    }
    let n = allocations_in(|| {
        for _ in 0..10 {
            let e = events.pop().unwrap();
            assert_eq!(poll_to_completion(handler(e)).unwrap(), 35);
        }
    });
    assert_eq!(n, 0, "allocations in 10 warm invocations");

    let stats = xray_core::global().stats();
    assert_eq!(stats.invocations_sampled, 13);
    // Each invocation is one POST, answered 2xx before the handler's future completes.
    assert_eq!(stats.emitter.datagrams_handed_to_kernel, 13);
    assert_eq!(stats.emitter.datagrams_known_lost(), 0);
    assert_eq!(seen.requests.load(Relaxed), 13);
    assert_eq!(
        seen.connections.load(Relaxed),
        1,
        "one kept-alive connection"
    );
    // An ExportTraceServiceRequest: field 1 (resource_spans), length-delimited.
    assert_eq!(seen.first_body.lock().unwrap().first(), Some(&0x0a));
}

#[test]
fn a_warm_gzipped_emission_allocates_nothing() {
    let (port, seen) = receiver();
    let mut endpoint = HttpEndpoint::parse(&format!("http://127.0.0.1:{port}/v1/traces")).unwrap();
    endpoint.compression = Compression::Gzip;
    let mut config = Config::default();
    config.output = OutputConfig::new(Output::OtlpHttp(endpoint));
    let emitter = Emitter::for_config(&config);
    let mut tree = EntityTree::new(TraceId::random());
    let mut buf = EmitBuffer::new();
    // An invocation's worth of spans, each with an annotation and metadata.
    let mut invocation = || {
        let root = workload::steps_tree(&mut tree, 20);
        emitter.emit(&mut tree, root, &mut buf);
    };
    // Warm-up: the connection, the deflate state, the buffers' capacity.
    for _ in 0..3 {
        invocation();
    }
    let n = allocations_in(|| {
        for _ in 0..10 {
            invocation();
        }
    });
    assert_eq!(n, 0, "allocations in 10 warm gzipped emissions");
    let s = emitter.stats();
    assert_eq!(
        (s.datagrams_handed_to_kernel, s.datagrams_known_lost()),
        (13, 0)
    );
    assert_eq!(seen.requests.load(Relaxed), 13);
    assert_eq!(seen.gzipped.load(Relaxed), 13);
    assert_eq!(seen.connections.load(Relaxed), 1);
    // Gunzipped, an ExportTraceServiceRequest.
    assert_eq!(seen.first_body.lock().unwrap().first(), Some(&0x0a));
}
