//! The `user-put` binary on the real `lambda_runtime` loop against the local Runtime API,
//! moto (through the recording proxy) and the fake X-Ray daemon: `## handler` → `## user_put`
//! → `KMS` and `DynamoDB` subsegments with their request ids, and every AWS request carrying
//! its own subsegment as `Parent`, the invocation's `Lineage` included; then the same with
//! four invocations in flight under `run_concurrent`.

mod aws_support;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_support::{Moto, Proxy};
use aws_types::SdkConfig;
use aws_types::region::Region;
use bench_harness::daemon::FakeDaemon;
use bench_harness::runtime_api::{Outcome, RuntimeApi};
use xray_core::TraceId;

const PARENT: &str = "9a9197af755a6419";
const LINEAGE: &str = "a87bd80c:1";
const WAIT: Duration = Duration::from_secs(30);

fn sdk(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .build()
}

/// Creates the table and the key straight on moto (untraced); returns the key id.
fn setup(moto: &Moto) -> String {
    let cfg = sdk(&format!("http://{}", moto.addr));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        aws_sdk_dynamodb::Client::new(&cfg)
            .create_table()
            .table_name("users")
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap();
        let key = aws_sdk_kms::Client::new(&cfg)
            .create_key()
            .send()
            .await
            .unwrap();
        key.key_metadata().unwrap().key_id().to_owned()
    })
}

struct Function(Child);

impl Function {
    fn start(api: &RuntimeApi, daemon: &FakeDaemon, proxy: &Proxy, key: &str, n: u32) -> Function {
        let child = Command::new(env!("CARGO_BIN_EXE_user-put"))
            .env("AWS_LAMBDA_RUNTIME_API", api.env_value())
            .env("AWS_LAMBDA_FUNCTION_NAME", "user-put")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_MAX_CONCURRENCY", n.to_string())
            .env("AWS_XRAY_DAEMON_ADDRESS", daemon.addr().to_string())
            .env("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR")
            .env("POWERTOOLS_SERVICE_NAME", "users")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_ENDPOINT_URL", proxy.url())
            .env("USERS_TABLE", "users")
            .env("TOKEN_KEY_ID", key)
            .env_remove("_X_AMZN_TRACE_ID")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_XRAY_SDK_DISABLED")
            .env_remove("POWERTOOLS_TRACE_DISABLED")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the user-put binary starts");
        Function(child)
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Invokes `count` events at once; checks each trace's nesting and every header.
fn invoke_and_check(api: &RuntimeApi, daemon: &FakeDaemon, proxy: &Proxy, count: usize) {
    let mut roots = Vec::new();
    for i in 0..count {
        let root = TraceId::random().to_string();
        let header = format!("Root={root};Parent={PARENT};Sampled=1;Lineage={LINEAGE}");
        let event = format!(r#"{{"user_id":"u-{i}","email":"u{i}@example.com","token":"t-{i}"}}"#);
        roots.push((api.invoke(event.as_bytes(), Some(&header)), root));
    }
    for (id, _) in &roots {
        match api.wait_outcome(id, WAIT).expect("an outcome").outcome {
            Outcome::Response(body) => {
                assert!(String::from_utf8_lossy(&body).contains("\"encrypted\":true"));
            }
            Outcome::Error { body, .. } => panic!("error: {}", String::from_utf8_lossy(&body)),
        }
    }
    // Each AWS request's header, by its Root.
    let mut headers: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for seen in proxy.take_seen() {
        let h = seen
            .trace_header
            .expect("every AWS request carries the header");
        let root = h
            .split(';')
            .find_map(|f| f.strip_prefix("Root="))
            .unwrap()
            .to_owned();
        headers.entry(root).or_default().push((seen.target, h));
    }
    for (_, root) in &roots {
        let deadline = std::time::Instant::now() + WAIT;
        let t = loop {
            if let Some(t) = daemon.trace(root)
                && t.named("KMS").next().is_some()
                && t.named("DynamoDB").next().is_some()
            {
                break t;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "trace {root} incomplete"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let handler = t.named("## handler").next().unwrap();
        assert_eq!(handler.parent_id.as_deref(), Some(PARENT));
        let put = t.named("## user_put").next().unwrap();
        assert_eq!(put.parent_id.as_deref(), Some(handler.id.as_str()));
        let kids: Vec<&str> = t
            .children_of(&put.id)
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(kids, ["KMS", "DynamoDB"]);
        let kms = t.named("KMS").next().unwrap();
        let ddb = t.named("DynamoDB").next().unwrap();
        assert_eq!(kms.fields["aws"]["operation"], "Encrypt");
        assert_eq!(ddb.fields["aws"]["operation"], "PutItem");
        assert_eq!(ddb.fields["aws"]["table_name"], "users");
        for e in [kms, ddb] {
            assert_eq!(e.fields["namespace"], "aws");
            assert!(
                e.fields["aws"]["request_id"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
            );
        }
        let sent = &headers[root];
        assert_eq!(sent.len(), 2, "{sent:?}");
        for (target, h) in sent {
            let own = if target.contains("TrentService") {
                kms
            } else {
                ddb
            };
            assert_eq!(
                h,
                &format!("Root={root};Parent={};Sampled=1;Lineage={LINEAGE}", own.id)
            );
        }
    }
    assert_eq!(daemon.stats().rejected, 0);
}

#[test]
fn user_put_shows_kms_and_dynamodb_under_its_method() {
    let moto = Moto::start();
    let key = setup(&moto);
    let proxy = Proxy::start(moto.addr);
    let daemon = FakeDaemon::start().unwrap();
    let api = RuntimeApi::start().unwrap();
    {
        let _f = Function::start(&api, &daemon, &proxy, &key, 1);
        invoke_and_check(&api, &daemon, &proxy, 2);
    }
    let api = RuntimeApi::start().unwrap();
    let _f = Function::start(&api, &daemon, &proxy, &key, 4);
    invoke_and_check(&api, &daemon, &proxy, 8);
}
