//! `XRayInterceptor` on real AWS SDK clients (DynamoDB, KMS, SQS) against moto on 127.0.0.1,
//! through a recording proxy, with the fake X-Ray daemon as the daemon: the exact subsegments
//! of successful calls, a 4xx with a remote cause, 5xx and throttling answers retried, a
//! refused connection, and the header every attempt carried. Needs `moto_server` on PATH.

mod aws_support;

use std::sync::OnceLock;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_support::{Canned, Moto, Proxy};
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
}

static CLIENTS: OnceLock<Clients> = OnceLock::new();

fn sdk_config(endpoint: &str, attempts: u32) -> SdkConfig {
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
    }
}

/// Runs one scenario's calls; errors are expected in some and returned as the handler's
/// answer so the test sees them.
#[capture_lambda_handler]
async fn handler(event: LambdaEvent<String>) -> Result<String, lambda_runtime::Error> {
    let c = CLIENTS.get().expect("clients built");
    let out = match event.payload.as_str() {
        "setup" => {
            c.ddb
                .create_table()
                .table_name("users")
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name("id")
                        .attribute_type(ScalarAttributeType::S)
                        .build()?,
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("id")
                        .key_type(KeyType::Hash)
                        .build()?,
                )
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await?;
            let key = c.kms.create_key().send().await?;
            let key_id = key
                .key_metadata()
                .map(|m| m.key_id().to_owned())
                .unwrap_or_default();
            let queue = c.sqs.create_queue().queue_name("signups").send().await?;
            format!("{key_id} {}", queue.queue_url().unwrap_or_default())
        }
        "put" => {
            c.ddb
                .put_item()
                .table_name("users")
                .item("id", AttributeValue::S("u-1".into()))
                .item("secret", AttributeValue::S("do-not-record".into()))
                .send()
                .await?;
            "ok".to_owned()
        }
        p if p.starts_with("encrypt ") => {
            let key_id = &p["encrypt ".len()..];
            c.kms
                .encrypt()
                .key_id(key_id)
                .plaintext(aws_sdk_kms::primitives::Blob::new(b"plain-secret".to_vec()))
                .send()
                .await?;
            "ok".to_owned()
        }
        p if p.starts_with("send ") => {
            c.sqs
                .send_message()
                .queue_url(&p["send ".len()..])
                .message_body("body-secret")
                .send()
                .await?;
            "ok".to_owned()
        }
        "missing" => match c
            .ddb
            .get_item()
            .table_name("nope")
            .key("id", AttributeValue::S("x".into()))
            .send()
            .await
        {
            Ok(_) => "unexpected".to_owned(),
            Err(e) => format!("err {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
        },
        "describe" => match c.ddb.describe_table().table_name("users").send().await {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("err {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
        },
        "refused" => match c.refused.describe_table().table_name("users").send().await {
            Ok(_) => "unexpected".to_owned(),
            Err(e) => format!("err {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
        },
        other => panic!("unknown scenario {other}"),
    };
    Ok(out)
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

fn assert_headers_name(world: &World, subs: &[Entity], calls: usize) {
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
}

#[test]
fn aws_sdk_calls_are_subsegments_with_the_header_on_every_attempt() {
    let world = World::start();

    // Setup: three services, one subsegment each, named for the service.
    let (out, subs, _) = world.invoke("setup");
    let (key_id, queue_url) = out.split_once(' ').unwrap();
    let names: Vec<&str> = subs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["DynamoDB", "KMS", "SQS"]);
    for e in &subs {
        assert_eq!(e.fields["namespace"], "aws");
        assert_eq!(aws(e, "region"), "us-east-1");
        assert_eq!(aws(e, "retries"), 0);
        assert_eq!(e.fields["http"]["response"]["status"], 200);
        assert!(
            aws(e, "request_id").as_str().is_some_and(|s| !s.is_empty()),
            "{e:?}"
        );
        assert!(e.fields.get("error").is_none() && e.fields.get("fault").is_none());
    }
    assert_eq!(aws(&subs[0], "operation"), "CreateTable");
    assert_eq!(aws(&subs[0], "table_name"), "users");
    assert_eq!(aws(&subs[1], "operation"), "CreateKey");
    assert_eq!(aws(&subs[2], "operation"), "CreateQueue");
    assert_eq!(aws(&subs[2], "queue_name"), "signups");
    assert_headers_name(&world, &subs, 3);

    // Parameters, never contents.
    let (_, subs, _) = world.invoke("put");
    assert_eq!(subs.len(), 1);
    assert_eq!(aws(&subs[0], "operation"), "PutItem");
    assert_eq!(aws(&subs[0], "table_name"), "users");
    assert!(
        !serde_json::to_string(&subs[0].fields)
            .unwrap()
            .contains("do-not-record")
    );
    assert_headers_name(&world, &subs, 1);
    let (_, subs, _) = world.invoke(&format!("encrypt {key_id}"));
    assert_eq!(
        (subs[0].name.as_str(), aws(&subs[0], "operation")),
        ("KMS", &"Encrypt".into())
    );
    assert_eq!(aws(&subs[0], "key_id"), key_id);
    assert!(
        !serde_json::to_string(&subs[0].fields)
            .unwrap()
            .contains("plain")
    );
    assert_headers_name(&world, &subs, 1);
    let (_, subs, _) = world.invoke(&format!("send {queue_url}"));
    assert_eq!(aws(&subs[0], "operation"), "SendMessage");
    assert_eq!(aws(&subs[0], "queue_url"), queue_url);
    assert!(
        !serde_json::to_string(&subs[0].fields)
            .unwrap()
            .contains("body-secret")
    );
    assert_headers_name(&world, &subs, 1);

    // A 4xx: error with the service's code and message as a remote cause.
    let (out, subs, _) = world.invoke("missing");
    assert!(out.contains("ResourceNotFoundException"), "{out}");
    let e = &subs[0];
    assert_eq!(e.fields["error"], true);
    assert!(e.fields.get("fault").is_none() && e.fields.get("throttle").is_none());
    assert_eq!(e.fields["http"]["response"]["status"], 400);
    assert_eq!(aws(e, "table_name"), "nope");
    let ex = &e.fields["cause"]["exceptions"][0];
    assert_eq!(ex["type"], "ResourceNotFoundException");
    assert_eq!(ex["remote"], true);
    assert!(
        ex["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{ex}"
    );
    assert_headers_name(&world, &subs, 1);

    // Two 5xx answers then success: one subsegment, two retries, no fault.
    let five = Canned {
        status: 500,
        body: r#"{"__type":"InternalServerError","message":"boom"}"#,
    };
    world.proxy.answer_next(&[five.clone(), five.clone()]);
    let (out, subs, _) = world.invoke("describe");
    assert_eq!(out, "ok");
    assert_eq!(subs.len(), 1);
    assert_eq!(aws(&subs[0], "retries"), 2);
    assert_eq!(subs[0].fields["http"]["response"]["status"], 200);
    assert!(subs[0].fields.get("fault").is_none());
    assert_headers_name(&world, &subs, 3);

    // 5xx on every attempt: a fault with the remote cause.
    world.proxy.answer_next(&[five.clone(), five.clone(), five]);
    let (_, subs, _) = world.invoke("describe");
    assert_eq!(aws(&subs[0], "retries"), 2);
    assert_eq!(subs[0].fields["fault"], true);
    assert_eq!(subs[0].fields["http"]["response"]["status"], 500);
    assert_eq!(
        subs[0].fields["cause"]["exceptions"][0]["type"],
        "InternalServerError"
    );
    assert_headers_name(&world, &subs, 3);

    // Throttled on every attempt: throttle and error.
    let slow = Canned {
        status: 400,
        body: r#"{"__type":"com.amazonaws.dynamodb#ThrottlingException","message":"Rate exceeded"}"#,
    };
    world.proxy.answer_next(&[slow.clone(), slow.clone(), slow]);
    let (_, subs, _) = world.invoke("describe");
    let e = &subs[0];
    assert_eq!(
        (e.fields["throttle"].clone(), e.fields["error"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(aws(e, "retries"), 2);
    assert_eq!(
        e.fields["cause"]["exceptions"][0]["type"],
        "ThrottlingException"
    );
    assert_eq!(
        e.fields["cause"]["exceptions"][0]["message"],
        "Rate exceeded"
    );
    assert_headers_name(&world, &subs, 3);

    // A refused connection: a local fault with the error chain, no status.
    let (out, subs, _) = world.invoke("refused");
    assert!(out.starts_with("err"), "{out}");
    let e = &subs[0];
    assert_eq!(e.fields["fault"], true);
    assert!(e.fields.get("http").is_none(), "{e:?}");
    let exceptions = e.fields["cause"]["exceptions"].as_array().unwrap();
    assert!(!exceptions.is_empty());
    assert!(
        exceptions
            .iter()
            .all(|x| x.get("remote").is_none_or(|r| r == false))
    );

    // Unsampled: the header says so, nothing is sent.
    let root = TraceId::random().to_string();
    let mut ctx = Context::default();
    ctx.xray_trace_id = Some(format!("Root={root};Parent={PARENT};Sampled=0"));
    world
        .rt
        .block_on(handler(LambdaEvent::new("put".to_owned(), ctx)))
        .unwrap();
    let seen = world.proxy.take_seen();
    assert_eq!(seen.len(), 1);
    let h = seen[0].trace_header.as_deref().unwrap();
    assert!(
        h.starts_with(&format!("Root={root};")) && h.contains("Sampled=0"),
        "{h}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(world.daemon.trace(&root).is_none());

    // Outside any invocation (a client used at init): the context-missing strategy, no
    // header, no panic.
    let before = xray_core::global().stats().context_missing;
    world
        .rt
        .block_on(async {
            let c = CLIENTS.get().unwrap();
            c.ddb.describe_table().table_name("users").send().await
        })
        .unwrap();
    let seen = world.proxy.take_seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].trace_header.is_none(), "{seen:?}");
    assert_eq!(xray_core::global().stats().context_missing, before + 1);

    let stats = world.daemon.stats();
    assert_eq!(stats.rejected, 0, "{:?}", stats.rejection_examples);
}
