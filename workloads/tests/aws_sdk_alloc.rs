//! What `XRayInterceptor` adds in allocations to an AWS SDK call, counted with a global
//! allocator: the same DynamoDB `ListTables` call (the whole SDK stack, an in-process HTTP
//! client) bare and traced, in an unsampled and in a sampled invocation. The SDK itself
//! allocates a few hundred times per call; the difference is ours. Two more clients carry an
//! interceptor that only keeps one value in the operation's config bag (the floor for any
//! interceptor with per-operation state), and one that keeps there a subsegment with one
//! field: the sampled cost is that second floor plus the header.

mod aws_support;

use std::net::UdpSocket;
use std::sync::Mutex;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_support::canned::{self, Canned};
use aws_types::SdkConfig;
use aws_types::region::Region;
use lambda_runtime::{Context, LambdaEvent};
use xray_core::aws_sdk::XRayInterceptor;
use xray_core::testing::{CountingAllocator, count_allocations, counting_installed};
use xray_core::{Config, Subsegment, Tracer, capture_lambda_handler, wire::Emitter};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Bare, traced, and with [`Keeps`] a value or a subsegment.
static CLIENTS: std::sync::OnceLock<[aws_sdk_dynamodb::Client; 4]> = std::sync::OnceLock::new();
const BARE: usize = 0;
const TRACED: usize = 1;
const ONE_VALUE: usize = 2;
const ONE_SUBSEGMENT: usize = 3;

/// Stores one value in each operation's config bag: a number, or a subsegment with one
/// field set, opened there and closed when the operation ends.
#[derive(Debug)]
struct Keeps {
    subsegment: bool,
}

#[derive(Debug)]
struct Kept(#[allow(dead_code)] u64, Mutex<Option<Subsegment>>);

impl Storable for Kept {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Keeps {
    fn name(&self) -> &'static str {
        "Keeps"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let sub = self.subsegment.then(|| {
            let sub = Subsegment::begin("DynamoDB");
            sub.with_fields(|e| {
                e.http_content_length(0);
            });
            sub
        });
        cfg.interceptor_state().store_put(Kept(1, Mutex::new(sub)));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(sub) = cfg.load::<Kept>().and_then(|k| k.1.lock().unwrap().take()) {
            sub.end();
        }
        Ok(())
    }
}

#[capture_lambda_handler]
async fn handler(event: LambdaEvent<usize>) -> Result<(), lambda_runtime::Error> {
    CLIENTS.get().unwrap()[event.payload]
        .list_tables()
        .send()
        .await?;
    Ok(())
}

fn event(client: usize, sampled: bool) -> LambdaEvent<usize> {
    let mut ctx = Context::default();
    ctx.xray_trace_id = Some(format!(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled={}",
        u8::from(sampled)
    ));
    LambdaEvent::new(client, ctx)
}

/// The fewest allocations of `runs` invocations (the SDK's own count varies a little).
fn fewest(rt: &tokio::runtime::Runtime, client: usize, sampled: bool) -> u64 {
    let mut events: Vec<_> = (0..20).map(|_| event(client, sampled)).collect();
    (0..20)
        .map(|_| {
            let e = events.pop().unwrap();
            count_allocations(|| rt.block_on(handler(e)).unwrap()).1
        })
        .min()
        .unwrap()
}

#[test]
fn the_interceptor_adds_one_allocation_unsampled_and_three_sampled() {
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
    let keeps = |subsegment| {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(Keeps { subsegment })
                .build(),
        )
    };
    assert!(
        CLIENTS
            .set([bare, traced, keeps(false), keeps(true)])
            .is_ok()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let bare_unsampled = fewest(&rt, BARE, false);
    let traced_unsampled = fewest(&rt, TRACED, false);
    let header = canned.last_header.lock().unwrap().clone().unwrap();
    assert!(header.ends_with(";Sampled=0"), "{header}");
    let bare_sampled = fewest(&rt, BARE, true);
    let traced_sampled = fewest(&rt, TRACED, true);
    let header = canned.last_header.lock().unwrap().clone().unwrap();
    assert!(header.contains(";Sampled=1"), "{header}");
    let one_value = fewest(&rt, ONE_VALUE, true);
    let one_subsegment = fewest(&rt, ONE_SUBSEGMENT, true);

    let added_unsampled = traced_unsampled.saturating_sub(bare_unsampled);
    let added_sampled = traced_sampled.saturating_sub(bare_sampled);
    let added_by_one_value = one_value.saturating_sub(bare_sampled);
    let added_by_one_subsegment = one_subsegment.saturating_sub(bare_sampled);
    println!(
        "allocations per ListTables call: bare {bare_unsampled}, unsampled traced \
         {traced_unsampled} (+{added_unsampled}); bare in a sampled invocation {bare_sampled}, \
         sampled traced {traced_sampled} (+{added_sampled}); one value kept in the config bag \
         {one_value} (+{added_by_one_value}); a subsegment with one field kept there {one_subsegment} \
         (+{added_by_one_subsegment})"
    );
    // Unsampled: the header value, which `Headers::insert` only takes as an owned or
    // 'static string (see the `aws_sdk` module docs).
    assert_eq!(added_unsampled, 1, "unsampled");
    // Keeping a value in the bag: its box and the type-erased box's shared debug function.
    assert_eq!(added_by_one_value, 2, "one value in the config bag");
    // The subsegment itself and its fields: nothing (pooled with the invocation's tree).
    assert_eq!(
        added_by_one_subsegment, added_by_one_value,
        "a subsegment with a field"
    );
    // Sampled: that floor and the header.
    assert_eq!(added_sampled, added_by_one_value + 1, "sampled");
}
