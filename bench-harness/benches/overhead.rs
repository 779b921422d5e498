//! What tracing costs, each group with its baselines in the same run.
//!
//! - `per_call`: one call of a small function, bare, under `#[tracing::instrument]` (no
//!   subscriber; a registry subscriber), and under `#[capture_method]` inside an unsampled
//!   invocation (the common case on Lambda at 1/s + 5 %).
//! - `invocation_10_calls`: a whole handler making 10 calls: bare; `tracing` with a registry;
//!   ours unsampled; ours sampled with everything recorded and written (the socket replaced by
//!   a discarding sink); ours sampled with the real UDP send to a local socket; and a raw
//!   `UdpSocket::send` of the same datagram for reference. The sampled cost per captured call
//!   is `(sampled_10 - sampled_0) / 10`, hence the `sampled_no_calls` line.

use std::hint::black_box;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use lambda_runtime::{Context, LambdaEvent};
use tracing_subscriber::layer::SubscriberExt;
use xray_core::testing::poll_to_completion;
use xray_core::{Config, Handle, Tracer, capture_lambda_handler, capture_method, wire::Emitter};

#[inline(never)]
fn bare(x: u64) -> u64 {
    black_box(x).wrapping_mul(31) ^ 7
}

#[tracing::instrument(skip_all)]
#[inline(never)]
fn traced(x: u64) -> u64 {
    black_box(x).wrapping_mul(31) ^ 7
}

#[capture_method(capture_response = false)]
#[inline(never)]
fn captured(x: u64) -> u64 {
    black_box(x).wrapping_mul(31) ^ 7
}

#[allow(clippy::unused_async)]
async fn bare_handler(event: LambdaEvent<u64>) -> Result<u64, lambda_runtime::Error> {
    let mut acc = event.payload;
    for _ in 0..10 {
        acc = bare(acc);
    }
    Ok(acc)
}

#[tracing::instrument(skip_all)]
async fn tracing_handler(event: LambdaEvent<u64>) -> Result<u64, lambda_runtime::Error> {
    let mut acc = event.payload;
    for _ in 0..10 {
        acc = traced(acc);
    }
    Ok(acc)
}

#[capture_lambda_handler(capture_response = false)]
async fn ten_calls(event: LambdaEvent<u64>) -> Result<u64, lambda_runtime::Error> {
    let mut acc = event.payload;
    for _ in 0..10 {
        acc = captured(acc);
    }
    Ok(acc)
}

#[capture_lambda_handler(capture_response = false)]
async fn no_calls(event: LambdaEvent<u64>) -> Result<u64, lambda_runtime::Error> {
    Ok(black_box(event.payload))
}

/// The same handler as `ten_calls`, traced through the public invocation API around a given
/// tracer, to measure the real UDP send.
async fn ten_calls_with(tracer: &Tracer, event: LambdaEvent<u64>) -> u64 {
    let mut inv = tracer.begin_invocation(event.context.xray_trace_id.as_deref());
    let out = inv
        .instrument(async {
            let mut acc = event.payload;
            for _ in 0..10 {
                acc = captured(acc);
            }
            acc
        })
        .await;
    inv.finish();
    out
}

fn event(sampled: &str) -> LambdaEvent<u64> {
    let mut ctx = Context::default();
    ctx.xray_trace_id = Some(format!(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled={sampled}"
    ));
    LambdaEvent::new(3, ctx)
}

/// Times `iters` runs of `f` on events built beforehand (building a `Context` allocates, and
/// that is the runtime's cost, not tracing's).
fn timed(iters: u64, sampled: &str, mut f: impl FnMut(LambdaEvent<u64>)) -> Duration {
    let events: Vec<_> = (0..iters).map(|_| event(sampled)).collect();
    let start = Instant::now();
    for e in events {
        f(e);
    }
    start.elapsed()
}

fn install_global() {
    let config = Config::default();
    let _ = xray_core::set_global(Tracer::with_emitter(
        config,
        Emitter::null(xray_core::wire::DEFAULT_DATAGRAM_LIMIT),
    ));
}

fn per_call(c: &mut Criterion) {
    install_global();
    let mut g = c.benchmark_group("per_call");
    g.bench_function("bare_fn_baseline", |b| b.iter(|| bare(black_box(5))));
    g.bench_function("tracing_instrument_no_subscriber", |b| {
        b.iter(|| traced(black_box(5)));
    });
    let registry =
        tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::TRACE);
    tracing::subscriber::with_default(registry, || {
        g.bench_function("tracing_instrument_registry", |b| {
            b.iter(|| traced(black_box(5)));
        });
    });
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::{Tracer as _, TracerProvider as _};
        // Spans recorded by the SDK and dropped (no exporter): the cost of the span itself.
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let tracer = provider.tracer("bench");
        g.bench_function("opentelemetry_sdk_span", |b| {
            b.iter(|| tracer.in_span("captured", |_| bare(black_box(5))));
        });
    }
    // Inside an unsampled invocation: a handle taken in the handler carries its frame.
    #[capture_lambda_handler(capture_response = false)]
    async fn unsampled_host(_event: LambdaEvent<u64>) -> Result<Handle, lambda_runtime::Error> {
        Ok(Handle::current())
    }
    let handle = poll_to_completion(unsampled_host(event("0"))).unwrap();
    handle.in_scope(|| {
        g.bench_function("xray_capture_unsampled", |b| {
            b.iter(|| captured(black_box(5)));
        });
    });
    g.finish();
}

fn invocation(c: &mut Criterion) {
    install_global();
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_tracer = Tracer::with_emitter(
        Config::default(),
        Emitter::udp(
            daemon.local_addr().unwrap(),
            xray_core::wire::DEFAULT_DATAGRAM_LIMIT,
        ),
    );
    let mut g = c.benchmark_group("invocation_10_calls");
    g.bench_function("bare_handler_baseline", |b| {
        b.iter_custom(|n| {
            timed(n, "1", |e| {
                drop(black_box(poll_to_completion(bare_handler(e))));
            })
        });
    });
    let registry =
        tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::TRACE);
    tracing::subscriber::with_default(registry, || {
        g.bench_function("tracing_instrument_registry", |b| {
            b.iter_custom(|n| {
                timed(n, "1", |e| {
                    drop(black_box(poll_to_completion(tracing_handler(e))));
                })
            });
        });
    });
    g.bench_function("xray_unsampled", |b| {
        b.iter_custom(|n| {
            timed(n, "0", |e| {
                drop(black_box(poll_to_completion(ten_calls(e))));
            })
        });
    });
    g.bench_function("xray_sampled_no_calls", |b| {
        b.iter_custom(|n| timed(n, "1", |e| drop(black_box(poll_to_completion(no_calls(e))))));
    });
    g.bench_function("xray_sampled_record_and_write", |b| {
        b.iter_custom(|n| {
            timed(n, "1", |e| {
                drop(black_box(poll_to_completion(ten_calls(e))));
            })
        });
    });
    g.bench_function("xray_sampled_with_udp_send", |b| {
        b.iter_custom(|n| {
            timed(n, "1", |e| {
                let _ = black_box(poll_to_completion(ten_calls_with(&udp_tracer, e)));
            })
        });
    });
    // The datagram one sampled invocation sends, sent raw from a connected socket.
    poll_to_completion(ten_calls_with(&udp_tracer, event("1")));
    let mut buf = vec![0u8; 65_536];
    let len = daemon.recv(&mut buf).unwrap();
    let datagram = buf[..len].to_vec();
    let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
    raw.connect(daemon.local_addr().unwrap()).unwrap();
    raw.set_nonblocking(true).unwrap();
    g.bench_function("raw_udp_send_of_the_same_datagram", |b| {
        b.iter(|| {
            let _ = raw.send(black_box(&datagram));
        });
    });
    g.finish();
}

criterion_group!(benches, per_call, invocation);
criterion_main!(benches);
