//! The OTLP outputs keep the hot path: a warm sampled Lambda invocation sent as `T1S` spans
//! over a real UDP socket allocates nothing, and neither does a batch that must be split
//! across datagrams. Counted with a global allocator in this test binary (the canary shows it
//! is installed); run in debug and in release (`cargo test --release --test zero_alloc_otlp`).

use std::net::UdpSocket;

use xray_core::testing::{
    CountingAllocator, count_allocations, counting_installed, poll_to_completion,
};
use xray_core::{
    Config, Output, OutputConfig, TraceId, Tracer,
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

fn otlp_config(daemon: &UdpSocket, limit: usize) -> Config {
    let mut config = Config::default();
    config.datagram_limit = limit;
    config.output = OutputConfig::new(Output::OtlpUdp);
    config.daemon.udp = daemon.local_addr().unwrap();
    config
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
fn a_warm_sampled_invocation_sent_as_otlp_allocates_nothing() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = otlp_config(&daemon, xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
    let emitter = Emitter::for_config(&config);
    assert!(xray_core::set_global(Tracer::with_emitter(config, emitter)).is_ok());
    let mut events: Vec<_> = (0..13).map(|_| event()).collect();
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
    assert_eq!(stats.emitter.datagrams_handed_to_kernel, 13);
    assert_eq!(stats.emitter.datagrams_known_lost(), 0);
    let mut buf = vec![0u8; 65_536];
    let len = daemon.recv(&mut buf).unwrap();
    assert!(buf[..len].starts_with(b"{\"format\":\"json\",\"version\":1}\nT1S"));
}

#[test]
fn a_warm_batch_split_across_datagrams_allocates_nothing() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let emitter = Emitter::for_config(&otlp_config(&daemon, 2_000));
    let mut tree = EntityTree::new(TraceId::random());
    let mut buf = EmitBuffer::new();
    let mut invocation = || {
        let root = workload::steps_tree(&mut tree, 40);
        emitter.emit(&mut tree, root, &mut buf);
    };
    for _ in 0..3 {
        invocation();
    }
    let n = allocations_in(|| {
        for _ in 0..10 {
            invocation();
        }
    });
    assert_eq!(n, 0, "allocations in 10 warm split emissions");
    let s = emitter.stats();
    assert_eq!(s.oversized_documents, 13, "every emission was split");
    assert!(
        s.datagrams_handed_to_kernel >= 26 && s.largest_datagram <= 2_000,
        "{s:?}"
    );
    assert_eq!(s.datagrams_known_lost(), 0);
}
