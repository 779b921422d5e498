//! The `register-user` binary on the real `lambda_runtime` loop, against a Runtime API served
//! on 127.0.0.1 and the fake X-Ray daemon: sampled, unsampled, header-less, odd-but-valid,
//! malformed and failing invocations, then many invocations in flight at once. The same
//! function traced by `LambdaLayer` instead of the handler macro (`register-user-layer`) must
//! record the same documents.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bench_harness::daemon::FakeDaemon;
use bench_harness::runtime_api::{Outcome, RuntimeApi};
use serde_json::Value;
use xray_core::TraceId;

const PARENT: &str = "9a9197af755a6419";
const WAIT: Duration = Duration::from_secs(20);
/// The function traced by `#[capture_lambda_handler]`.
const MACRO: &str = env!("CARGO_BIN_EXE_register-user");
/// The same function traced by `LambdaLayer`.
const LAYER: &str = env!("CARGO_BIN_EXE_register-user-layer");

struct Function {
    child: Child,
}

impl Function {
    fn start(binary: &str, api: &RuntimeApi, daemon: &FakeDaemon, concurrency: u32) -> Function {
        let child = Command::new(binary)
            .env("AWS_LAMBDA_RUNTIME_API", api.env_value())
            .env("AWS_LAMBDA_FUNCTION_NAME", "register-user")
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
            .unwrap_or_else(|e| panic!("{binary} does not start: {e}"));
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

/// Checks the trace of the first (cold) sampled invocation, `u-1` with an email: the handler
/// under the caller with its annotations and response, `validate` then `submit_user` under it
/// with the user's annotation and metadata, and every parent resolved.
fn assert_cold_u1_trace(daemon: &FakeDaemon, root: &str) {
    let t = daemon.trace(root).expect("the first trace arrived");
    let handler: Vec<_> = t.named("## handler").collect();
    assert_eq!(handler.len(), 1);
    let handler = handler[0];
    assert_eq!(handler.parent_id.as_deref(), Some(PARENT));
    assert_eq!(handler.annotations["ColdStart"], true);
    assert_eq!(handler.annotations["Service"], "users");
    assert_eq!(
        handler.fields["metadata"]["users"]["handler response"]["status"],
        "created"
    );
    let children = t.children_of(&handler.id);
    let names: Vec<&str> = children.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["## validate", "## submit_user"]);
    let submit = children[1];
    assert_eq!(submit.annotations["user_id"], "u-1");
    assert_eq!(
        submit.fields["metadata"]["users"]["user"]["email"],
        "a@example.com"
    );
    assert!(t.parents_resolved(&[PARENT]));
}

#[test]
fn every_kind_of_invocation_on_the_real_runtime_loop() {
    let daemon = FakeDaemon::start().unwrap();
    let api = RuntimeApi::start().unwrap();
    let _function = Function::start(MACRO, &api, &daemon, 1);

    // 1. Sampled, cold.
    let (h1, root1) = sampled_header();
    let id = api.invoke(br#"{"user_id":"u-1","email":"a@example.com"}"#, Some(&h1));
    assert_eq!(ok_body(&response(&api, &id))["user_id"], "u-1");
    assert!(daemon.wait_for(1, WAIT));
    assert_cold_u1_trace(&daemon, &root1);

    // 2. Sampled again: warm.
    let (h2, root2) = sampled_header();
    let id = api.invoke(br#"{"user_id":"u-2","delay_ms":3}"#, Some(&h2));
    ok_body(&response(&api, &id));
    assert!(daemon.wait_for(2, WAIT));
    let t = daemon.trace(&root2).unwrap();
    assert_eq!(
        t.named("## handler").next().unwrap().annotations["ColdStart"],
        false
    );

    // 3. Unsampled, requested and header-less: answered, nothing sent.
    let quiet_root = TraceId::random().to_string();
    for header in [
        Some(format!("Root={quiet_root};Parent={PARENT};Sampled=0")),
        Some(format!("Root={quiet_root};Parent={PARENT};Sampled=?")),
        Some(format!("Root={quiet_root}")),
        None,
    ] {
        let id = api.invoke(br#"{"user_id":"u-3"}"#, header.as_deref());
        assert_eq!(ok_body(&response(&api, &id))["user_id"], "u-3");
    }

    // 4. Odd but valid: spaces, any case, extra fields.
    let root4 = TraceId::random().to_string();
    let h4 = format!(" sampled=1 ; Lineage=a87bd80c:1|68fd508a:5; root = {root4};PARENT={PARENT};");
    let id = api.invoke(br#"{"user_id":"u-4"}"#, Some(&h4));
    ok_body(&response(&api, &id));

    // 5. Malformed: unreadable Root and Parent, so nothing can be recorded, but the function
    // still answers.
    let id = api.invoke(
        br#"{"user_id":"u-5"}"#,
        Some("Root=1-garbage;Parent=not-hex;Sampled=1"),
    );
    assert_eq!(ok_body(&response(&api, &id))["user_id"], "u-5");

    // 6. Failing: no user_id.
    let (h6, root6) = sampled_header();
    let id = api.invoke(br#"{"email":"nobody@example.com"}"#, Some(&h6));
    match response(&api, &id) {
        Outcome::Error { body, .. } => {
            assert!(String::from_utf8_lossy(&body).contains("user_id is required"));
        }
        Outcome::Response(b) => panic!("expected an error, got {}", String::from_utf8_lossy(&b)),
    }

    assert!(daemon.wait_for(4, WAIT));
    // Give stray datagrams (there must be none) time to land before counting.
    std::thread::sleep(Duration::from_millis(200));
    let stats = daemon.stats();
    assert_eq!(stats.rejected, 0, "{stats}");
    assert_eq!(
        stats.accepted, 4,
        "exactly the four sampled invocations: {stats}"
    );
    assert!(daemon.trace(&quiet_root).is_none());

    let t = daemon.trace(&root4).unwrap();
    assert_eq!(
        t.named("## handler").next().unwrap().parent_id.as_deref(),
        Some(PARENT)
    );

    let t = daemon.trace(&root6).unwrap();
    let handler = t.named("## handler").next().unwrap();
    assert_eq!(handler.fields["fault"], true);
    assert_eq!(
        handler.fields["metadata"]["users"]["handler error"],
        "user_id is required"
    );
    let validate = t.named("## validate").next().unwrap();
    assert_eq!(validate.fields["fault"], true);
    let ex = &validate.fields["cause"]["exceptions"][0];
    assert_eq!(ex["message"], "user_id is required");
    // One labelling rule at every level: the error's Debug label (the variant).
    assert_eq!(ex["type"], "MissingUserId");
    assert_eq!(
        handler.fields["cause"]["exceptions"][0]["type"],
        "MissingUserId"
    );
    assert_eq!(t.named("## submit_user").count(), 0);
    assert!(daemon.foreign_attachments().is_empty());
}

#[test]
fn concurrent_invocations_never_attach_to_a_foreign_trace() {
    concurrent_invocations_stay_apart(MACRO, 32);
}

/// `invocations` in flight four at a time in one process of `binary`: each trace complete, its
/// annotations its own, one cold start, and the invocations really overlapping.
fn concurrent_invocations_stay_apart(binary: &str, invocations: u64) {
    let daemon = FakeDaemon::start().unwrap();
    let api = RuntimeApi::start().unwrap();
    let _function = Function::start(binary, &api, &daemon, 4);

    let mut expected = Vec::new();
    for n in 0..invocations {
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

    let mut cold = 0;
    let mut spans = Vec::new();
    for (id, root, user) in &expected {
        assert_eq!(ok_body(&response(&api, id))["user_id"], user.as_str());
        let t = daemon
            .trace(root)
            .unwrap_or_else(|| panic!("no trace for {user}"));
        let handler = t.named("## handler").next().unwrap();
        if handler.annotations["ColdStart"] == true {
            cold += 1;
        }
        spans.push((handler.start_time.unwrap(), handler.end_time.unwrap()));
        let children = t.children_of(&handler.id);
        assert_eq!(children.len(), 2, "{user}: {t}");
        let submit = t.named("## submit_user").next().unwrap();
        assert_eq!(
            submit.annotations["user_id"],
            user.as_str(),
            "annotation from another invocation"
        );
        assert_eq!(t.entities.len(), 3, "{user}: {t}");
    }
    assert_eq!(
        cold, 1,
        "exactly one invocation of the process is a cold start"
    );
    // The invocations really were in flight together.
    let overlapping = spans
        .iter()
        .enumerate()
        .any(|(i, a)| spans[i + 1..].iter().any(|b| a.0 < b.1 && b.0 < a.1));
    assert!(overlapping, "no two invocations overlapped: {spans:?}");
    assert!(daemon.foreign_attachments().is_empty());
    assert_eq!(daemon.stats().rejected, 0);
}

#[test]
fn the_layer_records_what_the_macro_records() {
    let daemon = FakeDaemon::start().unwrap();
    let api = RuntimeApi::start().unwrap();
    let _function = Function::start(LAYER, &api, &daemon, 1);

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

    assert_cold_u1_trace(&daemon, &root1);

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
    concurrent_invocations_stay_apart(LAYER, 16);
}

#[test]
fn an_invocation_past_its_deadline_leaves_an_in_progress_trace_then_the_final_one() {
    let daemon = FakeDaemon::start().unwrap();
    let api = RuntimeApi::start().unwrap();
    let _function = Function::start(MACRO, &api, &daemon, 1);

    // A 600 ms time limit and a handler that needs 1 500: what is open goes out 100 ms before
    // the deadline, and the final documents replace it when the handler returns.
    let (h, root) = sampled_header();
    let id = api.invoke_with_timeout(
        br#"{"user_id":"u-slow","delay_ms":1500}"#,
        Some(&h),
        Duration::from_millis(600),
    );
    let early = Instant::now() + WAIT;
    let handler_in_progress = loop {
        let open = daemon.trace(&root).and_then(|t| {
            t.named("## handler")
                .next()
                .map(|handler| handler.in_progress)
        });
        if let Some(open) = open {
            break open;
        }
        assert!(
            Instant::now() < early,
            "nothing arrived before the handler returned"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        handler_in_progress,
        "the first handler document is the early one"
    );
    assert!(
        api.wait_outcome(&id, Duration::ZERO).is_none(),
        "the early document arrives while the handler still runs"
    );

    assert_eq!(ok_body(&response(&api, &id))["user_id"], "u-slow");
    let done = Instant::now() + WAIT;
    loop {
        let t = daemon.trace(&root).unwrap();
        let handler = t.named("## handler").next().unwrap();
        if !handler.in_progress {
            assert!(handler.fields["end_time"].as_f64().is_some());
            let names: Vec<&str> = t
                .children_of(&handler.id)
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            assert_eq!(names, ["## validate", "## submit_user"]);
            assert!(t.named("## submit_user").all(|e| !e.in_progress));
            break;
        }
        assert!(
            Instant::now() < done,
            "the final document never replaced the early one"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(daemon.stats().rejected, 0);
}
