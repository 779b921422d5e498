//! What `XRayInterceptor` adds in allocations to an AWS SDK call, counted with a global
//! allocator: the same DynamoDB `ListTables` call (the whole SDK stack, an in-process HTTP
//! client) bare and traced, in an unsampled and in a sampled invocation. The SDK itself
//! allocates a few hundred times per call; the difference is ours.

mod aws_support;

use std::net::UdpSocket;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_support::canned::{self, Canned};
use aws_types::SdkConfig;
use aws_types::region::Region;
use lambda_runtime::{Context, LambdaEvent};
use xray_core::aws_sdk::XRayInterceptor;
use xray_core::testing::{CountingAllocator, count_allocations, counting_installed};
use xray_core::{Config, Tracer, capture_lambda_handler, wire::Emitter};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

static CLIENTS: std::sync::OnceLock<(aws_sdk_dynamodb::Client, aws_sdk_dynamodb::Client)> =
    std::sync::OnceLock::new();

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

/// The fewest allocations of `runs` invocations (the SDK's own count varies a little).
fn fewest(rt: &tokio::runtime::Runtime, traced: bool, sampled: bool) -> u64 {
    let mut events: Vec<_> = (0..20).map(|_| event(traced, sampled)).collect();
    (0..20)
        .map(|_| {
            let e = events.pop().unwrap();
            count_allocations(|| rt.block_on(handler(e)).unwrap()).1
        })
        .min()
        .unwrap()
}

#[test]
fn the_interceptor_adds_one_allocation_unsampled_and_few_sampled() {
    assert!(counting_installed());
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let emitter = Emitter::udp(
        daemon.local_addr().unwrap(),
        xray_core::wire::DEFAULT_DATAGRAM_LIMIT,
    );
    assert!(xray_core::set_global(Tracer::with_emitter(Config::default(), emitter)).is_ok());
    let canned = Canned::default();
    let sdk = SdkConfig::builder()
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )))
        .http_client(canned::client(&canned))
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

    let bare_unsampled = fewest(&rt, false, false);
    let traced_unsampled = fewest(&rt, true, false);
    let header = canned.last_header.lock().unwrap().clone().unwrap();
    assert!(header.ends_with(";Sampled=0"), "{header}");
    let bare_sampled = fewest(&rt, false, true);
    let traced_sampled = fewest(&rt, true, true);
    let header = canned.last_header.lock().unwrap().clone().unwrap();
    assert!(header.contains(";Sampled=1"), "{header}");

    let added_unsampled = traced_unsampled.saturating_sub(bare_unsampled);
    let added_sampled = traced_sampled.saturating_sub(bare_sampled);
    println!(
        "allocations per ListTables call: bare {bare_unsampled}, unsampled traced \
         {traced_unsampled} (+{added_unsampled}); bare in a sampled invocation {bare_sampled}, \
         sampled traced {traced_sampled} (+{added_sampled})"
    );
    // Unsampled: the header value only (the SDK's header map owns its values; the name is
    // 'static). Sampled, 4 when measured: the operation's state in the config bag, the
    // header, the request's parameters.
    assert!(added_unsampled <= 1, "unsampled adds {added_unsampled}");
    assert!(added_sampled <= 6, "sampled adds {added_sampled}");
}
