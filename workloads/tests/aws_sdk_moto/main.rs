//! `XRayInterceptor` on real AWS SDK clients (DynamoDB, KMS, SQS, S3, SNS, Lambda) against one
//! moto on 127.0.0.1, through a recording proxy, with the fake X-Ray daemon as the daemon: the
//! exact subsegments of successful and failed calls and the header every attempt carried.
//! Needs moto (`pip install 'moto[server]'`).

#[path = "../aws_support/mod.rs"]
mod aws_support;
mod dynamodb_kms_sqs;
mod s3_sns_lambda;

use std::sync::OnceLock;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_support::{Moto, Proxy};
use aws_types::SdkConfig;
use aws_types::region::Region;
use bench_harness::daemon::{Entity, FakeDaemon};
use lambda_runtime::{Context, LambdaEvent};
use xray_core::aws_sdk::XRayInterceptor;
use xray_core::{Config, TraceId, Tracer, capture_lambda_handler, wire::Emitter};

const PARENT: &str = "9a9197af755a6419";
const LINEAGE: &str = "a87bd80c:1|68fd508a:5";
const WAIT: Duration = Duration::from_secs(20);

struct Clients {
    ddb: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    sqs: aws_sdk_sqs::Client,
    /// Points at a port nothing listens on.
    refused: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    sns: aws_sdk_sns::Client,
    lambda: aws_sdk_lambda::Client,
    /// S3 with an in-process HTTP client, on AWS's endpoints and on a custom one, both
    /// virtual-hosted.
    s3_virtual: s3_sns_lambda::VirtualHosted,
}

static CLIENTS: OnceLock<Clients> = OnceLock::new();

pub(crate) fn sdk_config(endpoint: &str, attempts: u32) -> SdkConfig {
    SdkConfig::builder()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .build()
}

fn clients(proxy: &Proxy) -> Clients {
    let cfg = sdk_config(&proxy.url(), 3);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused_cfg = sdk_config(&format!("http://{closed}"), 1);
    Clients {
        ddb: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&cfg)
                .interceptor(XRayInterceptor::new())
                .build(),
        ),
        kms: aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&cfg)
                .interceptor(XRayInterceptor::new())
                .build(),
        ),
        sqs: aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&cfg)
                .interceptor(XRayInterceptor::new())
                .build(),
        ),
        refused: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&refused_cfg)
                .interceptor(XRayInterceptor::new())
                .build(),
        ),
        // moto on an IP address: path-style, as the SDK also chooses for an IP endpoint.
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&cfg)
                .force_path_style(true)
                .interceptor(XRayInterceptor::new())
                .build(),
        ),
        sns: aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&cfg)
                .interceptor(XRayInterceptor::new())
                .build(),
        ),
        lambda: aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(&cfg)
                .interceptor(XRayInterceptor::new())
                .build(),
        ),
        s3_virtual: s3_sns_lambda::VirtualHosted::new(),
    }
}

/// Runs one scenario's calls; errors are expected in some and returned as the handler's
/// answer so the test sees them.
#[capture_lambda_handler]
async fn handler(event: LambdaEvent<String>) -> Result<String, lambda_runtime::Error> {
    let c = CLIENTS.get().expect("clients built");
    let scenario = event.payload.as_str();
    let out = match dynamodb_kms_sqs::call(c, scenario).await? {
        Some(out) => Some(out),
        None => s3_sns_lambda::call(c, scenario).await?,
    };
    Ok(out.unwrap_or_else(|| panic!("unknown scenario {scenario}")))
}

struct World {
    daemon: FakeDaemon,
    proxy: Proxy,
    rt: tokio::runtime::Runtime,
    _moto: Moto,
}

impl World {
    fn start() -> World {
        let moto = Moto::start();
        let proxy = Proxy::start(moto.addr);
        let daemon = FakeDaemon::start().unwrap();
        let emitter = Emitter::udp(daemon.addr(), xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
        assert!(xray_core::set_global(Tracer::with_emitter(Config::default(), emitter)).is_ok());
        assert!(CLIENTS.set(clients(&proxy)).is_ok());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        World {
            daemon,
            proxy,
            rt,
            _moto: moto,
        }
    }

    /// Invokes `scenario` sampled; returns the answer, the trace's entities under the
    /// handler, and the handler's id.
    fn invoke(&self, scenario: &str) -> (String, Vec<Entity>, String) {
        let root = TraceId::random().to_string();
        let mut ctx = Context::default();
        ctx.xray_trace_id = Some(format!(
            "Root={root};Parent={PARENT};Sampled=1;Lineage={LINEAGE}"
        ));
        let out = self
            .rt
            .block_on(handler(LambdaEvent::new(scenario.to_owned(), ctx)))
            .unwrap();
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(t) = self.daemon.trace(&root)
                && let Some(h) = t.named("## handler").next()
            {
                let hid = h.id.clone();
                let kids = t.children_of(&hid).into_iter().cloned().collect();
                return (out, kids, hid);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no trace for {scenario}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn aws<'a>(e: &'a Entity, k: &str) -> &'a serde_json::Value {
    &e.fields["aws"][k]
}

/// Checks the header of each request the proxy saw since the last call, and returns them.
fn assert_headers_name(world: &World, subs: &[Entity], calls: usize) -> Vec<aws_support::Seen> {
    let seen = world.proxy.take_seen();
    assert_eq!(seen.len(), calls, "{seen:?}");
    for s in &seen {
        let h = s
            .trace_header
            .as_deref()
            .expect("every attempt carries the header");
        let parent = h
            .split(';')
            .find_map(|f| f.strip_prefix("Parent="))
            .unwrap();
        assert!(
            subs.iter().any(|e| e.id == parent),
            "{h} names a subsegment"
        );
        assert!(h.contains(";Sampled=1"), "{h}");
        assert!(h.ends_with(&format!(";Lineage={LINEAGE}")), "{h}");
    }
    seen
}

#[test]
fn aws_sdk_calls_are_subsegments_with_the_header_on_every_attempt() {
    let world = World::start();
    dynamodb_kms_sqs::check(&world);
    s3_sns_lambda::check(&world);
    let stats = world.daemon.stats();
    assert_eq!(stats.rejected, 0, "{:?}", stats.rejection_examples);
}
