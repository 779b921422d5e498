//! Proves the hot paths allocate nothing after warm-up, with a counting global allocator.
//!
//! The counter is per thread, so the test harness's own threads do not disturb it. The canary
//! test shows the allocator is really installed (a `Vec` allocation is seen), so a zero count
//! elsewhere means something. Run in debug and in release (`cargo test --release --test
//! zero_alloc`); CI does both.

use std::net::UdpSocket;

use serde::Serialize;
use xray_core::testing::{CountingAllocator, count_allocations, counting_installed};
use xray_core::{
    Namespace, SamplingDecision, SegmentId, TraceHeader, TraceId,
    model::{EntityTree, Timestamp},
    wire::{EmitBuffer, Emitter, write_document},
};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_in(f: impl FnOnce()) -> u64 {
    count_allocations(f).1
}

#[test]
fn canary_the_counting_allocator_is_installed() {
    assert!(counting_installed());
    let n = allocations_in(|| {
        let v: Vec<u64> = std::hint::black_box(Vec::with_capacity(16));
        drop(v);
    });
    assert_eq!(n, 1);
}

#[test]
fn header_parse_and_format() {
    let text = "Root=1-5759e988-bd862e3fe1be46a994272793; Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5";
    let n = allocations_in(|| {
        for _ in 0..100 {
            let h = TraceHeader::parse(std::hint::black_box(text));
            assert!(h.sampled().is_sampled());
            let down = h.downstream(SegmentId::from_u64(42), SamplingDecision::Sampled);
            let enc = down.encode();
            assert!(enc.as_str().ends_with("Lineage=a87bd80c:1|68fd508a:5"));
            assert_eq!(h.extra_fields().count(), 1);
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn id_generation() {
    // The thread's random generator is created on first use.
    let _ = SegmentId::random();
    let n = allocations_in(|| {
        for _ in 0..1000 {
            std::hint::black_box(SegmentId::random());
            std::hint::black_box(TraceId::random());
            std::hint::black_box(SegmentId::random().to_hex());
            std::hint::black_box(TraceId::random().to_text());
        }
    });
    assert_eq!(n, 0);
}

#[derive(Serialize)]
struct User<'a> {
    id: &'a str,
    email: &'a str,
    roles: [&'a str; 2],
    age: u32,
}

/// A realistic invocation: a handler with 10 subsegments (some nested), annotations, metadata
/// and an error with a source chain, written and sent over UDP.
fn invocation(
    tree: &mut EntityTree,
    error: &(dyn std::error::Error + 'static),
    emitter: &Emitter,
    buf: &mut EmitBuffer,
    out: &mut Vec<u8>,
) {
    let header = TraceHeader::parse(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    );
    tree.reset(header.root().unwrap_or(TraceId::NOOP));
    let parent = header.parent().unwrap_or(SegmentId::NOOP);
    let user = User {
        id: "u-123",
        email: "someone@example.com",
        roles: ["admin", "dev"],
        age: 42,
    };
    let h = tree.begin_detached_subsegment("## handler", parent, Timestamp::now());
    tree.entity_mut(h)
        .put_annotation("ColdStart", false)
        .unwrap()
        .put_annotation("Service", "orders")
        .unwrap();
    let mut parent_of_next = h;
    for i in 0..10_u32 {
        let s = tree.begin_subsegment(parent_of_next, "## step", Timestamp::now());
        {
            let mut e = tree.entity_mut(s);
            e.put_annotation("step", i).unwrap();
            e.put_annotation("ratio", f64::from(i) / 3.0).unwrap();
            e.put_metadata("orders", "user", &user).unwrap();
            if i == 3 {
                e.set_namespace(Namespace::Remote)
                    .http_method("POST")
                    .http_url("https://api.example.com/users")
                    .apply_http_status(503);
            }
            if i == 9 {
                e.set_fault(true);
                e.record_error(error, Some("app::Error"), false);
            }
        }
        // Steps 4..7 nest; the others are siblings under the handler.
        if (4..7).contains(&i) {
            parent_of_next = s;
        } else {
            tree.end(s, Timestamp::now());
        }
    }
    // Close the nested chain and the handler; closing is idempotent for closed ones.
    let mut cursor = Some(parent_of_next);
    while let Some(e) = cursor {
        tree.end(e, Timestamp::now());
        cursor = tree.parent(e);
    }
    out.clear();
    write_document(tree, h, out);
    emitter.emit(tree, h, buf);
}

#[test]
fn building_writing_and_sending_a_realistic_document() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let emitter = Emitter::udp(
        daemon.local_addr().unwrap(),
        xray_core::wire::DEFAULT_DATAGRAM_LIMIT,
    );
    let error = std::io::Error::other(std::fmt::Error);
    let mut tree = EntityTree::new(TraceId::NOOP);
    let mut buf = EmitBuffer::new();
    let mut out = Vec::with_capacity(64 * 1024);
    for _ in 0..3 {
        invocation(&mut tree, &error, &emitter, &mut buf, &mut out);
    }
    let n = allocations_in(|| {
        for _ in 0..10 {
            invocation(&mut tree, &error, &emitter, &mut buf, &mut out);
        }
    });
    assert_eq!(n, 0, "allocations in 10 warm invocations");

    // The work was real: the datagrams arrived and hold the whole tree.
    let stats = emitter.stats();
    assert_eq!(stats.datagrams_handed_to_kernel, 13);
    assert_eq!(stats.datagrams_known_lost(), 0);
    let mut datagram = vec![0u8; 65_536];
    let len = daemon.recv(&mut datagram).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&datagram[30..len]).unwrap();
    assert_eq!(doc["name"], "## handler");
    let mut count = 0;
    let mut stack = vec![&doc];
    while let Some(d) = stack.pop() {
        count += 1;
        stack.extend(d["subsegments"].as_array().into_iter().flatten());
    }
    assert_eq!(count, 11);
    assert!(out.len() > 2000, "{} bytes", out.len());
}

#[test]
fn sampling_decisions() {
    use xray_core::sampling::{LocalSampler, SamplingRequest};
    let rules = r#"{"version":2,"rules":[
        {"host":"*","http_method":"GET","url_path":"/health","fixed_target":0,"rate":0.0},
        {"host":"api.*","http_method":"*","url_path":"/api/*","fixed_target":2,"rate":0.1}],
        "default":{"fixed_target":1,"rate":0.05}}"#;
    let samplers = [
        LocalSampler::default(),
        LocalSampler::from_json(rules).unwrap(),
    ];
    let requests = [
        SamplingRequest::http("api.example.com", "GET", "/api/orders/17"),
        SamplingRequest::http("www.example.com", "GET", "/health"),
        SamplingRequest::http("www.example.com", "POST", "/checkout"),
    ];
    // The thread's random generator is created on first use.
    for s in &samplers {
        for r in &requests {
            s.decide(r);
        }
    }
    let mut sampled = 0;
    let n = allocations_in(|| {
        for _ in 0..1000 {
            for s in &samplers {
                for r in &requests {
                    sampled += usize::from(s.decide(r).sampled);
                }
            }
        }
    });
    assert_eq!(n, 0);
    assert!(sampled > 0);
}
