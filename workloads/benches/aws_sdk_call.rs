//! The cost of `XRayInterceptor` on an AWS SDK call: the same DynamoDB `ListTables` (the whole
//! SDK stack, an in-process HTTP client answering `200 {}`) bare, traced in an unsampled
//! invocation and traced in a sampled one, each inside a `#[capture_lambda_handler]`
//! invocation so the three differ only by the interceptor.

#[path = "../tests/aws_support/mod.rs"]
mod aws_support;

use std::net::UdpSocket;
use std::sync::OnceLock;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_support::canned::{self, Canned};
use aws_types::SdkConfig;
use aws_types::region::Region;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lambda_runtime::{Context, LambdaEvent};
use xray_core::aws_sdk::XRayInterceptor;
use xray_core::{Config, Tracer, capture_lambda_handler, wire::Emitter};

static CLIENTS: OnceLock<(aws_sdk_dynamodb::Client, aws_sdk_dynamodb::Client)> = OnceLock::new();

#[capture_lambda_handler]
async fn handler(event: LambdaEvent<bool>) -> Result<(), lambda_runtime::Error> {
    let (bare, traced) = CLIENTS.get().unwrap();
    let client = if event.payload { traced } else { bare };
    client.list_tables().send().await?;
    Ok(())
}

fn event(traced: bool, sampled: bool) -> LambdaEvent<bool> {
    let mut ctx = Context::default();
    ctx.xray_trace_id = Some(format!(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled={}",
        u8::from(sampled)
    ));
    LambdaEvent::new(traced, ctx)
}

fn bench(c: &mut Criterion) {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let emitter = Emitter::udp(
        daemon.local_addr().unwrap(),
        xray_core::wire::DEFAULT_DATAGRAM_LIMIT,
    );
    assert!(xray_core::set_global(Tracer::with_emitter(Config::default(), emitter)).is_ok());
    let sdk = SdkConfig::builder()
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "bench",
        )))
        .http_client(canned::client(&Canned::default()))
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .build();
    let bare = aws_sdk_dynamodb::Client::new(&sdk);
    let traced = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(XRayInterceptor::new())
            .build(),
    );
    assert!(CLIENTS.set((bare, traced)).is_ok());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("aws_sdk_call");
    for (name, traced, sampled) in [
        ("bare_sampled_invocation", false, true),
        ("traced_sampled", true, true),
        ("bare_unsampled_invocation", false, false),
        ("traced_unsampled", true, false),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || event(traced, sampled),
                |e| rt.block_on(handler(e)).unwrap(),
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
