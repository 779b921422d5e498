//! Downstream calls and `tracing` spans, bare vs. recorded, in one group each: an HTTP GET
//! through hyper-util's client to a hyper server on 127.0.0.1 (plain client vs.
//! `XRayClientLayer`, sampled and unsampled), a SQLite query (plain pool vs. `XRayPool`,
//! sampled and unsampled), and an entered `tracing` span (a registry with a no-op layer vs.
//! the registry with `SubsegmentLayer`: sampled, unsampled, outside any trace). Every iteration runs inside
//! a service segment (begun, finished, written to a discarding emitter) in all variants but
//! the "outside" ones, so the difference is what the integration adds.
//!
//! Run: `cargo bench -p xray-core --features tower-client,sqlx,tracing --bench downstream -- --warm-up-time 1 --measurement-time 3`

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Layer, Service, ServiceExt};
use xray_core::http_client::{ClientOptions, XRayClientLayer};
use xray_core::sql::XRayPool;
use xray_core::{
    Config, Tracer,
    service::{IncomingRequest, ServiceSegment, ServiceTracer},
    wire::Emitter,
};

const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
const UNSAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0";

fn service() -> ServiceTracer {
    let emitter = Emitter::null(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
    ServiceTracer::new(Tracer::with_emitter(Config::default(), emitter), "bench")
}

fn segment(service: &ServiceTracer, header: &str) -> ServiceSegment {
    service.begin(&IncomingRequest {
        trace_header: Some(header),
        method: Some("GET"),
        path: Some("/bench"),
        ..IncomingRequest::default()
    })
}

async fn get<S>(client: &mut S, url: &str)
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<hyper::body::Incoming>>,
    S::Error: std::fmt::Debug,
{
    let req = http::Request::get(url).body(Full::default()).unwrap();
    let resp = client.ready().await.unwrap().call(req).await.unwrap();
    black_box(resp.into_body().collect().await.unwrap());
}

fn http_request(c: &mut Criterion) {
    let rt = support::rt();
    let server = rt.block_on(support::Server::start());
    let url = server.url("/bench");
    let service = service();
    let mut plain = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut layered = XRayClientLayer::new(ClientOptions::new()).layer(plain.clone());

    let mut g = c.benchmark_group("http_request");
    g.bench_function("bare_client_baseline", |b| {
        b.iter(|| {
            let seg = segment(&service, SAMPLED);
            rt.block_on(seg.instrument(get(&mut plain, &url)));
            seg.finish(Some(200), None);
        });
    });
    g.bench_function("xray_layer_sampled", |b| {
        b.iter(|| {
            let seg = segment(&service, SAMPLED);
            rt.block_on(seg.instrument(get(&mut layered, &url)));
            seg.finish(Some(200), None);
        });
    });
    g.bench_function("xray_layer_unsampled", |b| {
        b.iter(|| {
            let seg = segment(&service, UNSAMPLED);
            rt.block_on(seg.instrument(get(&mut layered, &url)));
            seg.finish(Some(200), None);
        });
    });
    g.finish();
    server.take();
}

fn sql_query(c: &mut Criterion) {
    // A query is three hand-offs to sqlx's SQLite worker thread (the pool's ping on acquire,
    // the query, the ping on release); on a multi-thread runtime, waking tokio workers on top
    // of that made the variants differ by more than the integration costs, so the group runs
    // on the bench thread alone.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let service = service();
    let traced = rt
        .block_on(XRayPool::<sqlx::Sqlite>::connect("sqlite::memory:"))
        .unwrap();
    let plain = traced.pool().clone();

    let mut g = c.benchmark_group("sql_query");
    g.bench_function("bare_pool_baseline", |b| {
        b.iter(|| {
            let seg = segment(&service, SAMPLED);
            let q = sqlx::query_scalar::<_, i64>("select ? + 41").bind(1_i64);
            black_box(rt.block_on(seg.instrument(q.fetch_one(&plain))).unwrap());
            seg.finish(Some(200), None);
        });
    });
    g.bench_function("xray_pool_sampled", |b| {
        b.iter(|| {
            let seg = segment(&service, SAMPLED);
            let q = sqlx::query_scalar::<_, i64>("select ? + 41").bind(1_i64);
            black_box(rt.block_on(seg.instrument(q.fetch_one(&traced))).unwrap());
            seg.finish(Some(200), None);
        });
    });
    g.bench_function("xray_pool_unsampled", |b| {
        b.iter(|| {
            let seg = segment(&service, UNSAMPLED);
            let q = sqlx::query_scalar::<_, i64>("select ? + 41").bind(1_i64);
            black_box(rt.block_on(seg.instrument(q.fetch_one(&traced))).unwrap());
            seg.finish(Some(200), None);
        });
    });
    g.finish();
}

/// The baseline's layer: it does nothing, so both sides have the same layered shape (a bare
/// `Registry` alone measured slower and far noisier here).
struct NoOp;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for NoOp {}

fn tracing_span(c: &mut Criterion) {
    use tracing_subscriber::layer::SubscriberExt;
    use xray_core::tracing_bridge::SubsegmentLayer;

    let service = service();
    let span = || {
        tracing::info_span!("validate", order = 7_u64).in_scope(|| black_box(1_u64));
    };
    let in_segment = |header: &str| {
        let seg = segment(&service, header);
        seg.in_scope(span);
        seg.finish(Some(200), None);
    };
    let mut g = c.benchmark_group("tracing_span");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(NoOp), || {
        g.bench_function("noop_layer_baseline", |b| b.iter(|| in_segment(SAMPLED)));
        g.bench_function("noop_layer_unsampled_baseline", |b| {
            b.iter(|| in_segment(UNSAMPLED));
        });
        g.bench_function("noop_layer_outside_baseline", |b| b.iter(span));
    });
    let layered = tracing_subscriber::registry().with(SubsegmentLayer::new());
    tracing::subscriber::with_default(layered, || {
        g.bench_function("xray_layer_sampled", |b| b.iter(|| in_segment(SAMPLED)));
        g.bench_function("xray_layer_unsampled", |b| b.iter(|| in_segment(UNSAMPLED)));
        g.bench_function("xray_layer_outside", |b| b.iter(span));
    });
    g.finish();
}

criterion_group!(benches, http_request, sql_query, tracing_span);
criterion_main!(benches);
