//! The macros and the per-invocation context, end to end on an in-memory emitter: what a
//! handler and its captured functions send, for sampled, unsampled and failing invocations,
//! concurrent futures, spawned tasks, panics and futures dropped before completion.

use std::sync::OnceLock;
use std::time::Duration;

use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use xray_core::testing::Capture;
use xray_core::{
    Config, Handle, Tracer, capture_lambda_handler, capture_method,
    validate::Validator,
    wire::{Emitter, MemorySink},
};

const PARENT: &str = "53995c3f42cd8ad8";

fn sink() -> &'static MemorySink {
    static SINK: OnceLock<MemorySink> = OnceLock::new();
    SINK.get_or_init(|| {
        let (emitter, sink) = Emitter::memory(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
        let mut config = Config::default();
        config.service_name = "orders".into();
        assert!(xray_core::set_global(Tracer::with_emitter(config, emitter)).is_ok());
        sink
    })
}

/// A fresh trace id per test, so tests running in parallel can pick their own documents.
fn header(sampled: &str) -> (String, String) {
    let root = xray_core::TraceId::random().to_string();
    (
        format!("Root={root};Parent={PARENT};Sampled={sampled}"),
        root,
    )
}

fn event<T>(payload: T, header: Option<&str>) -> LambdaEvent<T> {
    let mut ctx = Context::default();
    ctx.xray_trace_id = header.map(str::to_owned);
    LambdaEvent::new(payload, ctx)
}

/// Every datagram of trace `root` received so far, validated (others stay for other tests).
fn documents(root: &str) -> Vec<Value> {
    let needle = format!("\"trace_id\":\"{root}\"");
    sink()
        .take_where(|d| d.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .into_iter()
        .map(|d| {
            let (doc, report) = Validator::shared()
                .check_datagram(&d)
                .unwrap_or_else(|e| panic!("bad datagram: {e}"));
            assert!(report.is_valid(), "{report}");
            doc
        })
        .collect()
}

fn child<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["subsegments"]
        .as_array()
        .and_then(|subs| subs.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no subsegment {name} in {doc:#}"))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

#[derive(Debug, serde::Serialize, serde::Deserialize, Clone)]
struct User {
    id: String,
}

#[derive(Debug)]
struct DbError(std::io::Error);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("database unavailable")
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[capture_method]
fn validate(user: &User) -> Result<User, String> {
    if user.id.is_empty() {
        return Err("user_id is required".to_owned());
    }
    Ok(user.clone())
}

#[capture_method]
async fn submit_user(user: &User) -> Result<(), DbError> {
    xray_core::put_annotation("user_id", user.id.as_str());
    xray_core::put_metadata("user", user);
    if user.id == "fail" {
        return Err(DbError(std::io::Error::other("connection reset")));
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(())
}

#[capture_lambda_handler]
async fn handler(event: LambdaEvent<User>) -> Result<Value, lambda_runtime::Error> {
    let user = validate(&event.payload)?;
    submit_user(&user).await?;
    Ok(serde_json::json!({ "created": user.id }))
}

#[test]
fn a_sampled_invocation_sends_one_document_with_nested_subsegments() {
    let _ = sink();
    let (h, root) = header("1");
    let out = rt()
        .block_on(handler(event(User { id: "u-1".into() }, Some(&h))))
        .unwrap();
    assert_eq!(out["created"], "u-1");
    let docs = documents(&root);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let d = &docs[0];
    assert_eq!(d["name"], "## handler");
    assert_eq!(d["type"], "subsegment");
    assert_eq!(d["parent_id"], PARENT);
    assert_eq!(d["annotations"]["Service"], "orders");
    assert!(d["annotations"]["ColdStart"].is_boolean());
    assert_eq!(
        d["metadata"]["orders"]["handler response"]["created"],
        "u-1"
    );
    let v = child(d, "## validate");
    assert_eq!(v["metadata"]["orders"]["validate response"]["id"], "u-1");
    let s = child(d, "## submit_user");
    assert_eq!(s["annotations"]["user_id"], "u-1");
    assert_eq!(s["metadata"]["orders"]["user"]["id"], "u-1");
    assert!(s.get("fault").is_none());
    let (start, end) = (
        d["start_time"].as_f64().unwrap(),
        d["end_time"].as_f64().unwrap(),
    );
    assert!(end >= start);
}

#[test]
fn errors_become_faults_with_their_cause_chain() {
    let _ = sink();
    let (h, root) = header("1");
    let err = rt()
        .block_on(handler(event(User { id: "fail".into() }, Some(&h))))
        .unwrap_err();
    assert_eq!(err.to_string(), "database unavailable");
    let docs = documents(&root);
    assert_eq!(docs.len(), 1);
    let d = &docs[0];
    assert_eq!(d["fault"], true);
    assert_eq!(
        d["metadata"]["orders"]["handler error"],
        "database unavailable"
    );
    let s = child(d, "## submit_user");
    assert_eq!(s["fault"], true);
    let ex = s["cause"]["exceptions"].as_array().unwrap();
    assert_eq!(ex.len(), 2, "{s:#}");
    assert!(ex[0]["type"].as_str().unwrap().ends_with("DbError"));
    assert_eq!(ex[0]["message"], "database unavailable");
    assert_eq!(ex[0]["cause"], ex[1]["id"]);
    assert_eq!(ex[1]["message"], "connection reset");
    assert_eq!(
        s["metadata"]["orders"]["submit_user error"],
        "database unavailable"
    );

    // A plain `String` error goes down the Display path.
    let (h, root) = header("1");
    let _ = rt().block_on(handler(event(User { id: String::new() }, Some(&h))));
    let d = &documents(&root)[0];
    let v = child(d, "## validate");
    assert_eq!(v["fault"], true);
    assert_eq!(
        v["cause"]["exceptions"][0]["message"],
        "user_id is required"
    );
    assert!(
        d["subsegments"].as_array().unwrap().len() == 1,
        "submit_user never ran"
    );
}

#[test]
fn unsampled_and_headerless_invocations_send_nothing() {
    let _ = sink();
    for sampled in ["0", "?"] {
        let (h, root) = header(sampled);
        rt().block_on(handler(event(User { id: "u-2".into() }, Some(&h))))
            .unwrap();
        assert!(documents(&root).is_empty(), "Sampled={sampled}");
    }
    // Root only (tracing off upstream): nothing either.
    let root = xray_core::TraceId::random().to_string();
    let h = format!("Root={root}");
    rt().block_on(handler(event(User { id: "u-3".into() }, Some(&h))))
        .unwrap();
    assert!(documents(&root).is_empty());
    // No header at all: the handler still runs; counted on the tracer in scope.
    let capture = Capture::new();
    let out = rt()
        .block_on(
            capture
                .tracer()
                .scope_future(handler(event(User { id: "u-4".into() }, None))),
        )
        .unwrap();
    assert_eq!(out["created"], "u-4");
    assert_eq!(capture.stats().invocations_without_header, 1);
    assert_eq!(capture.stats().context_missing, 1);
    assert!(capture.documents().is_empty());
}

#[capture_method]
async fn leaf(tag: &'static str, wait_ms: u64) -> &'static str {
    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    xray_core::put_annotation("tag", tag);
    tag
}

#[capture_method(name = "## branch")]
async fn branch(tag: &'static str, wait_ms: u64) -> &'static str {
    leaf(tag, wait_ms).await
}

#[capture_lambda_handler]
async fn fan_out(event: LambdaEvent<Tracer>) -> Result<(), lambda_runtime::Error> {
    // Interleaved: each branch is polled while the other waits.
    let (a, b) = tokio::join!(branch("a", 5), branch("b", 1));
    assert_eq!((a, b), ("a", "b"));
    let handle = Handle::current();
    let spawned = tokio::spawn(handle.instrument(leaf("spawned", 1)));
    spawned.await?;
    // Without the handle a spawned task has no trace: not recorded, counted (on the tracer
    // the task is scoped to).
    tokio::spawn(event.payload.scope_future(leaf("lost", 0))).await?;
    Ok(())
}

#[test]
fn concurrent_futures_and_spawned_tasks_get_the_right_parent() {
    let _ = sink();
    let (h, root) = header("1");
    let capture = Capture::new();
    rt().block_on(fan_out(event(capture.tracer().clone(), Some(&h))))
        .unwrap();
    let d = &documents(&root)[0];
    let subs = d["subsegments"].as_array().unwrap();
    let names: Vec<_> = subs.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["## branch", "## branch", "## leaf"], "{d:#}");
    for (s, tag) in subs[..2].iter().zip(["a", "b"]) {
        let leaves = s["subsegments"].as_array().unwrap();
        assert_eq!(leaves.len(), 1);
        assert_eq!(
            leaves[0]["annotations"]["tag"], tag,
            "leaf under the wrong branch"
        );
    }
    assert_eq!(subs[2]["annotations"]["tag"], "spawned");
    // The lost task's subsegment and its annotation.
    assert_eq!(capture.stats().context_missing, 2);
}

#[capture_method]
fn explode() -> u32 {
    panic!("boom")
}

#[capture_method]
async fn never_finishes() {
    std::future::pending::<()>().await;
}

#[capture_lambda_handler]
async fn unlucky(event: LambdaEvent<()>) -> Result<(), lambda_runtime::Error> {
    let _ = event;
    let caught = std::panic::catch_unwind(explode);
    assert!(caught.is_err());
    let timed_out = tokio::time::timeout(Duration::from_millis(2), never_finishes()).await;
    assert!(timed_out.is_err());
    Ok(())
}

#[test]
fn panics_and_dropped_futures_still_close_their_subsegments() {
    let _ = sink();
    let (h, root) = header("1");
    rt().block_on(unlucky(event((), Some(&h)))).unwrap();
    let d = &documents(&root)[0];
    let p = child(d, "## explode");
    assert_eq!(p["fault"], true);
    assert_eq!(p["cause"]["exceptions"][0]["type"], "panic");
    assert!(p["end_time"].is_number());
    let n = child(d, "## never_finishes");
    assert_eq!(n["metadata"]["xray_sdk"]["dropped_before_completion"], true);
    assert!(n["end_time"].is_number());
    assert!(d.get("fault").is_none(), "the handler itself succeeded");
    assert!(
        d["metadata"]["orders"].get("unlucky response").is_none(),
        "`Ok(())` is not recorded"
    );
}

#[capture_lambda_handler]
async fn leaves_work_behind(event: LambdaEvent<()>) -> Result<(), lambda_runtime::Error> {
    let _ = event;
    let handle = Handle::current();
    tokio::spawn(handle.instrument(leaf("late", 30)));
    // Let the task start (and open its subsegment) before the handler returns.
    tokio::time::sleep(Duration::from_millis(2)).await;
    Ok(())
}

#[test]
fn a_subsegment_that_outlives_the_handler_is_sent_when_it_ends() {
    let _ = sink();
    let (h, root) = header("1");
    let rt = rt();
    rt.block_on(leaves_work_behind(event((), Some(&h))))
        .unwrap();
    let first = documents(&root);
    assert_eq!(first.len(), 1);
    let late = child(&first[0], "## leaf");
    assert_eq!(late["in_progress"], true);
    let id = late["id"].clone();
    let mut later = Vec::new();
    for _ in 0..200 {
        later = documents(&root);
        if !later.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(later.len(), 1);
    assert_eq!(later[0]["id"], id);
    assert_eq!(later[0]["type"], "subsegment");
    assert_eq!(later[0]["parent_id"], first[0]["id"]);
    assert!(later[0]["end_time"].is_number());
}

#[capture_lambda_handler]
async fn tagged(event: LambdaEvent<u32>) -> Result<u32, lambda_runtime::Error> {
    let n = event.payload;
    xray_core::put_annotation("invocation", n);
    let (a, b) = tokio::join!(branch("x", u64::from(n % 3)), leaf("y", u64::from(n % 2)));
    let _ = (a, b);
    Ok(n)
}

#[test]
fn many_invocations_in_flight_never_mix() {
    let _ = sink();
    let rt = rt();
    let headers: Vec<(String, String)> = (0..40).map(|_| header("1")).collect();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for (n, (h, _)) in headers.iter().enumerate() {
            let e = event(n as u32, Some(h.as_str()));
            tasks.push(tokio::spawn(tagged(e)));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    for (n, (_, root)) in headers.iter().enumerate() {
        let docs = documents(root);
        assert_eq!(docs.len(), 1, "invocation {n}");
        let d = &docs[0];
        assert_eq!(d["annotations"]["invocation"], n);
        let subs = d["subsegments"].as_array().unwrap();
        assert_eq!(subs.len(), 2, "{d:#}");
        for s in subs {
            assert!(
                s.get("annotations")
                    .is_none_or(|a| a.get("invocation").is_none())
            );
        }
    }
}

#[capture_method(capture_response = false)]
fn tiny(i: usize) -> usize {
    i + 1
}

#[capture_lambda_handler]
async fn loops(event: LambdaEvent<usize>) -> Result<usize, lambda_runtime::Error> {
    let mut acc = 0;
    for i in 0..event.payload {
        acc = tiny(acc ^ i);
    }
    Ok(acc)
}

#[test]
fn an_invocation_records_at_most_max_entities() {
    let _ = sink();
    let (h, _) = header("1");
    let calls = xray_core::model::MAX_ENTITIES + 2000;
    let capture = Capture::new();
    rt().block_on(capture.tracer().scope_future(loops(event(calls, Some(&h)))))
        .unwrap();
    let docs = capture.documents();
    let mut entities = 0;
    let mut stack: Vec<&Value> = docs.iter().collect();
    while let Some(d) = stack.pop() {
        // The emitter's batches carry streamed subsegments; they are not recorded entities.
        entities += usize::from(d["name"] != xray_core::wire::BATCH_NAME);
        stack.extend(d["subsegments"].as_array().into_iter().flatten());
    }
    assert_eq!(entities, xray_core::model::MAX_ENTITIES);
    // Packed several hundred to a datagram, not one each.
    assert!(docs.len() <= 40, "{} documents", docs.len());
    let over = capture.stats().emitter.subsegments_over_limit;
    assert_eq!(over as usize, calls + 1 - xray_core::model::MAX_ENTITIES);
}

#[capture_method]
fn outgoing_header() -> String {
    let entity = xray_core::current_entity_id().unwrap().to_string();
    let header = xray_core::downstream_header().unwrap().to_string();
    assert!(header.contains(&format!("Parent={entity}")), "{header}");
    header
}

#[capture_lambda_handler]
async fn calls_downstream(event: LambdaEvent<()>) -> Result<String, lambda_runtime::Error> {
    let _ = event;
    Ok(outgoing_header())
}

#[test]
fn downstream_headers_carry_the_current_subsegment_and_the_extra_fields() {
    let _ = sink();
    let root = xray_core::TraceId::random().to_string();
    let h = format!("Root={root};Parent={PARENT};Sampled=1;Lineage=a87bd80c:1|68fd508a:5");
    let out = rt()
        .block_on(calls_downstream(event((), Some(&h))))
        .unwrap();
    assert!(out.starts_with(&format!("Root={root};Parent=")), "{out}");
    assert!(
        out.ends_with(";Sampled=1;Lineage=a87bd80c:1|68fd508a:5"),
        "{out}"
    );
    let d = &documents(&root)[0];
    let id = child(d, "## outgoing_header")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(out.contains(&id));

    // Unsampled: Root, the incoming Parent (nothing recorded here) and the decision.
    let h = format!("Root={root};Parent={PARENT};Sampled=0;Lineage=x:1");
    let header = rt().block_on(async {
        #[capture_lambda_handler]
        async fn quiet(event: LambdaEvent<()>) -> Result<String, lambda_runtime::Error> {
            let _ = event;
            Ok(xray_core::downstream_header().unwrap().to_string())
        }
        quiet(event((), Some(&h))).await.unwrap()
    });
    assert_eq!(header, format!("Root={root};Parent={PARENT};Sampled=0"));
}
