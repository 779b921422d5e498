//! A sampled Lambda invocation with 10 captured calls allocates nothing in the SDK once warm:
//! the recording comes from the pool, the tree and buffers are reused, and the datagram goes
//! out over a real UDP socket. Counted with a global allocator in this test binary; the canary
//! shows the allocator is installed. The events are built before counting starts (building a
//! `lambda_runtime::Context` allocates, and that is not the SDK). An unsampled invocation
//! allocates nothing either, by default and when recorded to be sent as `T1U`.

use std::net::UdpSocket;

use xray_core::testing::{
    CountingAllocator, count_allocations, counting_installed, poll_to_completion,
};
use xray_core::{Config, Output, OutputConfig, Tracer, wire::Emitter};

mod workload;

use workload::{event, handler};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_in(f: impl FnOnce()) -> u64 {
    count_allocations(f).1
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
fn a_warm_sampled_invocation_allocates_nothing() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let emitter = Emitter::udp(
        daemon.local_addr().unwrap(),
        xray_core::wire::DEFAULT_DATAGRAM_LIMIT,
    );
    assert!(xray_core::set_global(Tracer::with_emitter(Config::default(), emitter)).is_ok());
    let mut events: Vec<_> = (0..13).map(|_| event()).collect();
    for _ in 0..3 {
        poll_to_completion(handler(events.pop().unwrap())).unwrap();
    }
    let n = allocations_in(|| {
        for _ in 0..10 {
            let e = events.pop().unwrap();
            let out = poll_to_completion(handler(e)).unwrap();
            assert_eq!(out, 35);
        }
    });
    assert_eq!(n, 0, "allocations in 10 warm invocations");

    let stats = xray_core::global().stats();
    assert_eq!(stats.invocations_sampled, 13);
    assert_eq!(stats.emitter.datagrams_handed_to_kernel, 13);
    assert_eq!(stats.emitter.datagrams_known_lost(), 0);
    assert_eq!(stats.recordings_allocated, 1);
    let mut buf = vec![0u8; 65_536];
    let len = daemon.recv(&mut buf).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&buf[30..len]).unwrap();
    assert_eq!(doc["subsegments"].as_array().unwrap().len(), 10);
}

/// Ten captured calls and a downstream header inside an unsampled invocation.
fn unsampled_invocation(tracer: &Tracer) {
    const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1";
    let mut invocation = tracer.begin_invocation(Some(HEADER));
    let header = invocation.in_scope(|| {
        for i in 0..10_u32 {
            xray_core::in_subsegment("call", |_| std::hint::black_box(i));
        }
        xray_core::downstream_header()
    });
    assert!(header.unwrap().as_str().contains(";Sampled=0"));
    invocation.finish();
}

#[test]
fn a_warm_unsampled_invocation_allocates_nothing_sent_as_t1u_or_not() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut config = Config::default();
    config.daemon.udp = daemon.local_addr().unwrap();
    let quiet = Tracer::new(config.clone());
    config.output = OutputConfig::new(Output::OtlpUdp);
    config.output.otlp.unsampled = true;
    let t1u = Tracer::new(config);
    for tracer in [&quiet, &t1u] {
        for _ in 0..3 {
            unsampled_invocation(tracer);
        }
        let n = allocations_in(|| {
            for _ in 0..10 {
                unsampled_invocation(tracer);
            }
        });
        assert_eq!(n, 0, "allocations in 10 warm unsampled invocations");
        assert_eq!(tracer.stats().invocations_unsampled, 13);
    }
    assert_eq!(quiet.stats().emitter.datagrams_handed_to_kernel, 0);
    assert_eq!(quiet.stats().recordings_allocated, 0);
    let s = t1u.stats();
    assert_eq!(s.emitter.datagrams_handed_to_kernel, 13);
    assert_eq!(s.emitter.datagrams_known_lost(), 0);
    let mut buf = vec![0u8; 65_536];
    let len = daemon.recv(&mut buf).unwrap();
    assert!(buf[..len].starts_with(b"{\"format\":\"json\",\"version\":1}\nT1U"));
}
