//! What the integrations add to the allocations of the work they wrap: a `tracing` span
//! through [`SubsegmentLayer`], a request through [`XRayClientLayer`] and a query through
//! [`XRayPool`], each measured bare and wrapped in the same test, warm, outside any
//! invocation, in an unsampled one and in a sampled one. Counted per thread by the global
//! allocator of this test binary, so the SQLite worker thread's own work is not counted.
//! Each figure is the least over many runs, so a one-off allocation elsewhere in the process
//! (a lazily grown buffer in `tokio` or `sqlx`) does not count against the layer.
//!
//! What the layers add, per span, request or query:
//!
//! | | outside | unsampled | sampled |
//! |---|---|---|---|
//! | span through `SubsegmentLayer` | 0 | 0 | 1: the subsegment in the span's extensions (a `Box` in `tracing_subscriber`'s registry) |
//! | request through `XRayClientLayer` | 0 | 2 | 2: the `X-Amzn-Trace-Id` and `traceparent` values (an `http::HeaderValue` owns its bytes) |
//! | query through `XRayPool` | 0 | 0 | 1: the stream that closes the subsegment (`sqlx`'s `Executor` returns boxed streams) |
//!
//! The subsegments themselves allocate nothing once warm (pooled recording, reused buffers).

use std::convert::Infallible;
use std::net::UdpSocket;
use std::sync::OnceLock;

use tower::Layer as _;
use tower::Service as _;
use tracing_subscriber::layer::SubscriberExt;
use xray_core::http_client::{ClientOptions, XRayClientLayer};
use xray_core::sql::XRayPool;
use xray_core::testing::{
    CountingAllocator, count_allocations, counting_installed, poll_to_completion,
};
use xray_core::tracing_bridge::SubsegmentLayer;
use xray_core::{Config, Tracer};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Enough that the least is the common path: a query bare allocates 12 to 49 times on this
/// thread depending on when the SQLite worker answers, 12 in about a quarter of runs or more.
const RUNS: u64 = 200;

#[derive(Debug, Clone, Copy)]
enum Where {
    Outside,
    Unsampled,
    Sampled,
}

const ALL: [Where; 3] = [Where::Outside, Where::Unsampled, Where::Sampled];

/// A tracer sending to a real UDP socket on 127.0.0.1 (kept open, never read).
fn tracer() -> &'static Tracer {
    static TRACER: OnceLock<(Tracer, UdpSocket)> = OnceLock::new();
    &TRACER
        .get_or_init(|| {
            let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut config = Config::default();
            config.daemon.udp = daemon.local_addr().unwrap();
            (Tracer::new(config), daemon)
        })
        .0
}

/// Runs `f` where `w` says, one invocation per call.
fn run_in(w: Where, f: &mut impl FnMut()) {
    let header = match w {
        Where::Outside => return f(),
        Where::Unsampled => {
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
        }
        Where::Sampled => {
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        }
    };
    let mut invocation = tracer().begin_invocation(Some(header));
    invocation.in_scope(&mut *f);
    invocation.finish_ok(&());
}

/// The least allocations of one warm run of `bare` and of one of `wrapped`, over `RUNS` runs
/// of each taken in turn, each run an invocation where `w` says. The least, so that a one-off
/// allocation elsewhere (a buffer `tokio` or `sqlx` grows now and then) is not counted.
fn bare_and_wrapped(w: Where, mut bare: impl FnMut(), mut wrapped: impl FnMut()) -> (u64, u64) {
    for _ in 0..3 {
        run_in(w, &mut bare);
        run_in(w, &mut wrapped);
    }
    let (mut b, mut x) = (u64::MAX, u64::MAX);
    for _ in 0..RUNS {
        b = b.min(count_allocations(|| run_in(w, &mut bare)).1);
        x = x.min(count_allocations(|| run_in(w, &mut wrapped)).1);
    }
    (b, x)
}

/// Asserts that `wrapped` adds exactly `per_run` allocations to a run of `bare`.
fn assert_adds(what: &str, w: Where, (bare, wrapped): (u64, u64), per_run: u64) {
    assert_eq!(
        wrapped.checked_sub(bare),
        Some(per_run),
        "{what} {w:?}: {bare} allocations bare, {wrapped} wrapped"
    );
}

#[test]
fn canary_the_counting_allocator_is_installed() {
    assert!(counting_installed());
}

#[test]
fn a_span_through_the_bridge() {
    let bare = tracing::Dispatch::new(tracing_subscriber::registry());
    let wrapped =
        tracing::Dispatch::new(tracing_subscriber::registry().with(SubsegmentLayer::new()));
    let span = || {
        tracing::info_span!("work", n = 1_u64).in_scope(|| {
            std::hint::black_box(1);
        });
    };
    for (w, per_run) in ALL.into_iter().zip([0, 0, 1]) {
        let counts = bare_and_wrapped(
            w,
            || tracing::dispatcher::with_default(&bare, span),
            || tracing::dispatcher::with_default(&wrapped, span),
        );
        assert_adds("span", w, counts, per_run);
    }
}

#[test]
fn a_request_through_the_tower_layer() {
    let client = || {
        tower::service_fn(|_req: http::Request<()>| {
            std::future::ready(Ok::<_, Infallible>(http::Response::new(())))
        })
    };
    let mut bare = client();
    let mut wrapped = XRayClientLayer::new(ClientOptions::new()).layer(client());
    // Built before counting, with room for the headers: a real client's request usually has
    // headers already, and growing the map is not the layer's cost.
    let requests = |n| {
        (0..n)
            .map(|_| {
                let mut req = http::Request::get("http://api.example.com/orders")
                    .body(())
                    .unwrap();
                req.headers_mut().reserve(4);
                req
            })
            .collect::<Vec<_>>()
    };
    for (w, per_run) in ALL.into_iter().zip([0, 2, 2]) {
        let n = (RUNS + 3) as usize;
        let (mut rb, mut rx) = (requests(n), requests(n));
        let counts = bare_and_wrapped(
            w,
            || {
                let req = rb.pop().unwrap();
                poll_to_completion(bare.call(req)).unwrap();
            },
            || {
                let req = rx.pop().unwrap();
                poll_to_completion(wrapped.call(req)).unwrap();
            },
        );
        assert_adds("request", w, counts, per_run);
    }
}

#[test]
fn a_query_through_the_pool() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = rt
        .block_on(XRayPool::<sqlx::Sqlite>::connect("sqlite::memory:"))
        .unwrap();
    for (w, per_run) in ALL.into_iter().zip([0, 0, 1]) {
        let counts = bare_and_wrapped(
            w,
            || {
                rt.block_on(sqlx::query("select 1").execute(pool.pool()))
                    .unwrap();
            },
            || {
                rt.block_on(sqlx::query("select 1").execute(&pool)).unwrap();
            },
        );
        assert_adds("query", w, counts, per_run);
    }
}
