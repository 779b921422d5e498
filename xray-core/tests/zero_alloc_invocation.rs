//! A sampled Lambda invocation with 10 captured calls allocates nothing in the SDK once warm:
//! the recording comes from the pool, the tree and buffers are reused, and the datagram goes
//! out over a real UDP socket. Counted with a global allocator in this test binary; the canary
//! shows the allocator is installed. The events are built before counting starts (building a
//! `lambda_runtime::Context` allocates, and that is not the SDK).

use std::net::UdpSocket;

use lambda_runtime::{Context, LambdaEvent};
use xray_core::testing::{
    CountingAllocator, count_allocations, counting_installed, poll_to_completion,
};
use xray_core::{Config, Tracer, capture_lambda_handler, capture_method, wire::Emitter};

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

#[capture_lambda_handler]
async fn handler(event: LambdaEvent<u32>) -> Result<u32, lambda_runtime::Error> {
    let mut total = 0;
    for i in 0..5 {
        total += sync_step(event.payload + i)?.n;
        total += async_step(i).await;
    }
    Ok(total)
}

fn event() -> LambdaEvent<u32> {
    let mut ctx = Context::default();
    ctx.xray_trace_id = Some(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
    );
    LambdaEvent::new(1, ctx)
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
