//! The `register-user-layer` binary (traced by `xray_core::LambdaLayer`, no handler macro) on
//! the real `lambda_runtime` loop against a Runtime API on 127.0.0.1 and the fake X-Ray
//! daemon: the same documents as the macro, and many invocations in flight at once.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bench_harness::daemon::FakeDaemon;
use bench_harness::runtime_api::{Outcome, RuntimeApi};
use serde_json::Value;
use xray_core::TraceId;

const PARENT: &str = "9a9197af755a6419";
const WAIT: Duration = Duration::from_secs(20);

struct Function {
    child: Child,
}

impl Function {
    fn start(api: &RuntimeApi, daemon: &FakeDaemon, concurrency: u32) -> Function {
        let child = Command::new(env!("CARGO_BIN_EXE_register-user-layer"))
            .env("AWS_LAMBDA_RUNTIME_API", api.env_value())
            .env("AWS_LAMBDA_FUNCTION_NAME", "register-user-layer")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_MAX_CONCURRENCY", concurrency.to_string())
            .env("AWS_XRAY_DAEMON_ADDRESS", daemon.addr().to_string())
            .env("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR")
            .env("POWERTOOLS_SERVICE_NAME", "users")
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .env_remove("_X_AMZN_TRACE_ID")
            .env_remove("AWS_XRAY_SDK_DISABLED")
            .env_remove("POWERTOOLS_TRACE_DISABLED")
            .env_remove("AWS_LAMBDA_INITIALIZATION_TYPE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the register-user-layer binary starts");
        Function { child }
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sampled_header() -> (String, String) {
    let root = TraceId::random().to_string();
    (format!("Root={root};Parent={PARENT};Sampled=1"), root)
}

fn response(api: &RuntimeApi, id: &str) -> Outcome {
    api.wait_outcome(id, WAIT)
        .unwrap_or_else(|| panic!("no outcome for {id}"))
        .outcome
}

fn ok_body(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Response(body) => serde_json::from_slice(body).unwrap(),
        Outcome::Error { body, .. } => panic!("error: {}", String::from_utf8_lossy(body)),
    }
}

#[test]
fn the_layer_records_what_the_macro_records() {
    let daemon = FakeDaemon::start().unwrap();
    let api = RuntimeApi::start().unwrap();
    let _function = Function::start(&api, &daemon, 1);

    let (h1, root1) = sampled_header();
    let id = api.invoke(br#"{"user_id":"u-1","email":"a@example.com"}"#, Some(&h1));
    assert_eq!(ok_body(&response(&api, &id))["user_id"], "u-1");

    let quiet = TraceId::random().to_string();
    let id = api.invoke(
        br#"{"user_id":"u-2"}"#,
        Some(&format!("Root={quiet};Parent={PARENT};Sampled=0")),
    );
    assert_eq!(ok_body(&response(&api, &id))["user_id"], "u-2");

    let (h3, root3) = sampled_header();
    let id = api.invoke(br#"{"email":"nobody@example.com"}"#, Some(&h3));
    assert!(matches!(response(&api, &id), Outcome::Error { .. }));

    assert!(daemon.wait_for(2, WAIT));
    std::thread::sleep(Duration::from_millis(200));
    let stats = daemon.stats();
    assert_eq!((stats.accepted, stats.rejected), (2, 0), "{stats}");
    assert!(daemon.trace(&quiet).is_none());

    let t = daemon.trace(&root1).unwrap();
    let handler = t.named("## handler").next().unwrap();
    assert_eq!(handler.parent_id.as_deref(), Some(PARENT));
    assert_eq!(handler.annotations["ColdStart"], true);
    assert_eq!(handler.annotations["Service"], "users");
    assert_eq!(
        handler.fields["metadata"]["users"]["handler response"]["status"],
        "created"
    );
    let names: Vec<&str> = t
        .children_of(&handler.id)
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["## validate", "## submit_user"]);

    let t = daemon.trace(&root3).unwrap();
    let handler = t.named("## handler").next().unwrap();
    assert_eq!(handler.annotations["ColdStart"], false);
    assert_eq!(handler.fields["fault"], true);
    let ex = &handler.fields["cause"]["exceptions"][0];
    assert_eq!(ex["type"], "MissingUserId");
    assert_eq!(ex["message"], "user_id is required");
    assert_eq!(t.named("## validate").next().unwrap().fields["fault"], true);
    assert!(daemon.foreign_attachments().is_empty());
}

#[test]
fn the_layer_keeps_concurrent_invocations_apart() {
    let daemon = FakeDaemon::start().unwrap();
    let api = RuntimeApi::start().unwrap();
    let _function = Function::start(&api, &daemon, 4);

    let mut expected = Vec::new();
    for n in 0..16u64 {
        let (h, root) = sampled_header();
        let payload = format!(r#"{{"user_id":"u-{n}","delay_ms":{}}}"#, 2 + (n * 7) % 20);
        let id = api.invoke(payload.as_bytes(), Some(&h));
        expected.push((id, root, format!("u-{n}")));
    }
    assert!(
        api.wait_completed(expected.len(), WAIT),
        "{:?}",
        api.stats()
    );
    assert!(
        daemon.wait_for(expected.len() as u64, WAIT),
        "{}",
        daemon.stats()
    );
    for (id, root, user) in &expected {
        assert_eq!(ok_body(&response(&api, id))["user_id"], user.as_str());
        let t = daemon
            .trace(root)
            .unwrap_or_else(|| panic!("no trace for {user}"));
        let handler = t.named("## handler").next().unwrap();
        assert_eq!(t.children_of(&handler.id).len(), 2, "{user}: {t}");
        let submit = t.named("## submit_user").next().unwrap();
        assert_eq!(submit.annotations["user_id"], user.as_str());
        assert_eq!(t.entities.len(), 3, "{user}: {t}");
    }
    assert!(daemon.foreign_attachments().is_empty());
    assert_eq!(daemon.stats().rejected, 0);
}
