//! The `traced-orders` binary on the real `lambda_runtime` loop, against the harness's local
//! Runtime API and fake X-Ray daemon: `tracing` spans arrive as subsegments under the handler,
//! and every JSON log line of an invocation carries its trace id.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bench_harness::daemon::FakeDaemon;
use bench_harness::runtime_api::{Outcome, RuntimeApi};
use serde_json::Value;
use xray_core::TraceId;

const PARENT: &str = "9a9197af755a6419";
const WAIT: Duration = Duration::from_secs(20);

struct Function {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Function {
    fn start(api: &RuntimeApi, daemon: &FakeDaemon) -> Function {
        let mut child = Command::new(env!("CARGO_BIN_EXE_traced-orders"))
            .env("AWS_LAMBDA_RUNTIME_API", api.env_value())
            .env("AWS_LAMBDA_FUNCTION_NAME", "traced-orders")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_XRAY_DAEMON_ADDRESS", daemon.addr().to_string())
            .env("AWS_XRAY_CONTEXT_MISSING", "IGNORE_ERROR")
            .env("POWERTOOLS_SERVICE_NAME", "orders")
            .env_remove("_X_AMZN_TRACE_ID")
            .env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
            .env_remove("AWS_XRAY_SDK_DISABLED")
            .env_remove("POWERTOOLS_TRACE_DISABLED")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the traced-orders binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Function { child, lines }
    }

    /// The JSON log lines written so far (other lines are not ours to check).
    fn json_lines(&self) -> Vec<Value> {
        self.lines
            .try_iter()
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn invoke(api: &RuntimeApi, payload: &str, header: &str) -> Value {
    let id = api.invoke(payload.as_bytes(), Some(header));
    match api.wait_outcome(&id, WAIT).expect("an outcome").outcome {
        Outcome::Response(body) => serde_json::from_slice(&body).unwrap(),
        Outcome::Error { body, .. } => panic!("error: {}", String::from_utf8_lossy(&body)),
    }
}

#[test]
fn tracing_spans_and_logs_reach_xray_on_the_real_runtime_loop() {
    let daemon = FakeDaemon::start().unwrap();
    let api = RuntimeApi::start().unwrap();
    let function = Function::start(&api, &daemon);

    let root = TraceId::random().to_string();
    let header = format!("Root={root};Parent={PARENT};Sampled=1");
    let out = invoke(&api, r#"{"order_id":"O-1","quantity":0}"#, &header);
    assert_eq!(out["total"], 0.0);
    assert!(daemon.wait_for(1, WAIT));
    let t = daemon.trace(&root).expect("the trace arrived");
    let handler = t.named("## handler").next().unwrap();
    assert_eq!(handler.parent_id.as_deref(), Some(PARENT));
    let children = t.children_of(&handler.id);
    let names: Vec<&str> = children.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["price_order", "reserve_stock"]);
    let price = children[0];
    assert_eq!(price.annotations["order_id"], "O-1");
    assert_eq!(price.fields["metadata"]["orders"]["quantity"], 0);
    let reserve = children[1];
    assert_eq!(reserve.fields["fault"], true);
    assert_eq!(reserve.fields["metadata"]["orders"]["warehouse"], "east");
    let ex = &reserve.fields["cause"]["exceptions"][0];
    assert!(
        ex["message"]
            .as_str()
            .unwrap()
            .contains("nothing to reserve"),
        "{ex}"
    );

    // Unsampled: nothing sent, but the logs still name the trace.
    let quiet = TraceId::random().to_string();
    let out = invoke(
        &api,
        r#"{"order_id":"O-2","quantity":2}"#,
        &format!("Root={quiet};Parent={PARENT};Sampled=0"),
    );
    assert_eq!(out["total"], 5.0);
    std::thread::sleep(Duration::from_millis(200));
    assert!(daemon.trace(&quiet).is_none());

    let lines = function.json_lines();
    let ours = |order: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["fields"]["order_id"] == order)
            .collect()
    };
    let first = ours("O-1");
    assert_eq!(first.len(), 3, "{lines:#?}");
    for l in &first {
        assert_eq!(l["xray_trace_id"], root.as_str(), "{l}");
    }
    // The line logged inside `price_order` names its subsegment.
    let pricing = first
        .iter()
        .find(|l| l["fields"]["message"] == "pricing")
        .unwrap();
    assert_eq!(pricing["xray_segment_id"], price.id.as_str());
    let second = ours("O-2");
    assert_eq!(second.len(), 2, "{lines:#?}");
    for l in &second {
        assert_eq!(l["xray_trace_id"], quiet.as_str(), "{l}");
        assert!(l.get("xray_segment_id").is_none(), "{l}");
    }
}
