//! The recording layer under hostile user code: SDK calls from inside every SDK callback
//! (re-entrancy), entries through a handle kept past the handler (late entries), a panicking
//! `Serialize`, and one labelling rule for exceptions. Every test runs under a hang guard.

use std::sync::mpsc;
use std::time::Duration;

use lambda_runtime::{Context, LambdaEvent};
use serde::{Serialize, Serializer};
use serde_json::Value;
use xray_core::testing::{Capture, SAMPLED_HEADER};
use xray_core::{
    Config, Handle, RecordError, Subsegment, Tracer, capture_lambda_handler, capture_method,
    service::{IncomingRequest, ServiceTracer},
    wire::Emitter,
};

const UNSAMPLED: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";

/// Runs `f` on its own thread and fails if it has not finished within 20 s (a deadlock).
fn guarded(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(()) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung: a deadlock in the recording layer"),
    }
}

fn event<T>(payload: T, header: &str) -> LambdaEvent<T> {
    let mut ctx = Context::default();
    ctx.xray_trace_id = Some(header.to_owned());
    LambdaEvent::new(payload, ctx)
}

fn child<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["subsegments"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no subsegment {name} in {doc}"))
}

/// Calls every SDK entry point; returns what the ones with a result said.
fn call_everything() -> Vec<String> {
    let mut said = vec![
        format!("{:?}", xray_core::try_put_annotation("inner", 1)),
        format!(
            "{:?}",
            xray_core::try_put_metadata(None, "inner_meta", &"v")
        ),
        format!("{:?}", xray_core::current_trace_id().is_some()),
        format!("{:?}", xray_core::current_entity_id().is_some()),
        format!("{:?}", xray_core::downstream_header().is_some()),
        format!("{:?}", xray_core::with_current(|_| ()).is_some()),
    ];
    xray_core::put_annotation("inner_plain", true);
    xray_core::put_metadata("inner_plain_meta", &1);
    let seg = Subsegment::begin("inner_subsegment");
    said.push(format!("{:?}", seg.put_annotation("k", 1)));
    seg.end();
    let _ = Handle::current().in_scope(xray_core::is_sampled);
    said.push(format!("{}", nested_sync(1)));
    said
}

#[capture_method]
fn nested_sync(n: u32) -> u32 {
    n + 1
}

/// A value whose `Serialize` calls back into the SDK.
struct CallsBack;

impl Serialize for CallsBack {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let said = call_everything();
        s.collect_str(&said.len())
    }
}

#[capture_method]
fn returns_calls_back() -> CallsBack {
    CallsBack
}

#[capture_method]
async fn returns_calls_back_async() -> CallsBack {
    CallsBack
}

#[capture_lambda_handler]
async fn reentrant_handler(event: LambdaEvent<()>) -> Result<CallsBack, lambda_runtime::Error> {
    let _ = event;
    // Inside a closure holding the recording: refused, counted, never a panic or a hang.
    let inside = xray_core::with_current(|_| call_everything()).unwrap_or_default();
    xray_core::put_metadata("inside", &inside);
    xray_core::put_metadata("calls_back", &CallsBack);
    let _ = returns_calls_back();
    let _ = returns_calls_back_async().await;
    let seg = Subsegment::begin("outer");
    let dropped_inside = Subsegment::begin("dropped_inside");
    let from_fields = seg.with_fields(move |_| {
        // Closing a guard needs the recording this closure holds: closed after the hold.
        dropped_inside.end();
        // Opening one under the hold is refused: it is inert.
        assert!(!Subsegment::begin("opened_while_held").is_recording());
        call_everything()
    });
    seg.end();
    xray_core::put_metadata("from_fields", &from_fields);
    Ok(CallsBack)
}

#[test]
fn defect_1_sdk_calls_from_inside_sdk_callbacks_work_or_return_an_error() {
    guarded(|| {
        let capture = Capture::new();
        let out = capture.run_future(reentrant_handler(event((), SAMPLED_HEADER)));
        assert!(out.is_ok());
        let docs = capture.documents();
        assert_eq!(docs.len(), 1, "{docs:?}");
        let d = &docs[0];
        assert!(d.get("in_progress").is_none());
        let ns = &d["metadata"]["service_undefined"];
        // Under the hold: every recording call refused as re-entrant, ids still readable.
        let inside: Vec<String> = serde_json::from_value(ns["inside"].clone()).unwrap();
        assert_eq!(inside[0], "Err(Reentrant)");
        assert_eq!(inside[1], "Err(Reentrant)");
        assert_eq!(&inside[2..6], ["true", "true", "true", "false"]);
        assert_eq!(
            inside[6], "Err(NoEntity)",
            "the subsegment opened under the hold is inert"
        );
        // From a Serialize (no hold): everything works.
        assert_eq!(ns["calls_back"], "8");
        assert_eq!(ns["reentrant_handler response"], "8", "{d}");
        assert_eq!(
            child(d, "## returns_calls_back")["metadata"]["service_undefined"]["returns_calls_back response"],
            "8"
        );
        assert_eq!(d["annotations"]["inner"], 1);
        assert!(child(d, "inner_subsegment").is_object());
        assert!(child(d, "## nested_sync").is_object());
        assert!(child(d, "outer")["end_time"].is_number());
        assert!(child(d, "dropped_inside")["end_time"].is_number());
        assert_eq!(ns["from_fields"], ns["inside"]);
        assert!(
            capture.stats().calls_reentrant >= 8,
            "{:?}",
            capture.stats()
        );
    });
}

#[test]
fn defect_1_unsampled_and_service_callbacks_neither_panic_nor_hang() {
    guarded(|| {
        let capture = Capture::new();
        let out = capture.run_future(reentrant_handler(event((), UNSAMPLED)));
        assert!(out.is_ok());
        assert!(capture.documents().is_empty());

        let (emitter, sink) = Emitter::memory(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
        let service = ServiceTracer::new(Tracer::with_emitter(Config::default(), emitter), "svc");
        let seg = service.begin(&IncomingRequest {
            trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            ..IncomingRequest::default()
        });
        let said = seg.in_scope(|| seg.with_entity(|_| call_everything()));
        assert_eq!(said.unwrap()[0], "Err(Reentrant)");
        seg.in_scope(|| xray_core::put_annotation("after", 1));
        seg.finish(Some(200), None);
        let docs = sink.take_documents();
        assert_eq!(docs[0]["annotations"]["after"], 1);
        assert!(docs[0]["annotations"].get("inner").is_none());
    });
}

#[capture_lambda_handler]
async fn keeps_a_handle(
    event: LambdaEvent<mpsc::Sender<Handle>>,
) -> Result<(), lambda_runtime::Error> {
    event.payload.send(Handle::current()).unwrap();
    Ok(())
}

#[test]
fn defect_2_entries_after_the_document_was_sent_are_refused_and_counted() {
    guarded(|| {
        let capture = Capture::new();
        let (tx, rx) = mpsc::channel();
        capture
            .run_future(keeps_a_handle(event(tx, SAMPLED_HEADER)))
            .unwrap();
        let handle = rx.recv().unwrap();
        assert_eq!(capture.documents().len(), 1);
        let late = handle.in_scope(|| {
            (
                xray_core::try_put_annotation("late", 1),
                xray_core::try_put_metadata(None, "late", &1),
            )
        });
        assert_eq!(
            late,
            (Err(RecordError::AlreadySent), Err(RecordError::AlreadySent))
        );
        handle.in_scope(|| xray_core::put_annotation("late_plain", 1));
        assert_eq!(capture.stats().entries_after_send, 3);
        // A late subsegment is still sent on its own.
        handle.in_scope(|| Subsegment::begin("late_work").end());
        let docs = capture.documents();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["name"], "late_work");
    });
}

struct Panics;

impl Serialize for Panics {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("a Serialize that panics")
    }
}

#[capture_method]
fn returns_panics() -> Panics {
    Panics
}

#[capture_lambda_handler]
async fn panicking_serialize(event: LambdaEvent<()>) -> Result<u32, lambda_runtime::Error> {
    let _ = event;
    let caught = std::panic::catch_unwind(|| {
        let _ = returns_panics();
    });
    assert!(caught.is_err());
    // The next captured call nests under the handler, not under the panicked one.
    Ok(nested_sync(1))
}

#[capture_lambda_handler]
async fn handler_response_panics(event: LambdaEvent<()>) -> Result<Panics, lambda_runtime::Error> {
    let _ = event;
    Ok(Panics)
}

#[test]
fn defect_4_a_panicking_serialize_closes_its_subsegment_and_keeps_the_trace() {
    guarded(|| {
        let capture = Capture::new();
        assert_eq!(
            capture
                .run_future(panicking_serialize(event((), SAMPLED_HEADER)))
                .unwrap(),
            2
        );
        let docs = capture.documents();
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        let p = child(d, "## returns_panics");
        assert_eq!(p["fault"], true);
        assert_eq!(p["cause"]["exceptions"][0]["type"], "panic");
        assert!(p["end_time"].is_number());
        assert!(p.get("in_progress").is_none());
        assert!(
            child(d, "## nested_sync").is_object(),
            "nests under the handler"
        );

        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            capture.run_future(handler_response_panics(event((), SAMPLED_HEADER)))
        }));
        assert!(caught.is_err());
        let docs = capture.documents();
        assert_eq!(docs.len(), 1, "the handler's trace is sent");
        assert_eq!(docs[0]["fault"], true);
        assert_eq!(docs[0]["cause"]["exceptions"][0]["type"], "panic");
    });
}

#[derive(Debug)]
enum ValidationError {
    MissingUserId,
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("user id is missing")
    }
}

impl std::error::Error for ValidationError {}

#[derive(Debug)]
#[allow(dead_code)]
struct Foo {
    field: u32,
}

impl std::fmt::Display for Foo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("foo failed")
    }
}

impl std::error::Error for Foo {}

#[capture_method]
fn validate() -> Result<(), ValidationError> {
    Err(ValidationError::MissingUserId)
}

#[capture_method]
fn foo() -> Result<(), Foo> {
    Err(Foo { field: 1 })
}

#[capture_method]
fn huge() -> Result<(), String> {
    Err("x".repeat(50_000))
}

#[capture_lambda_handler]
async fn failing(event: LambdaEvent<()>) -> Result<(), lambda_runtime::Error> {
    let _ = event;
    let _ = foo();
    let _ = huge();
    validate()?;
    Ok(())
}

#[test]
fn defect_9_one_label_rule_and_one_message_cut_at_every_level() {
    guarded(|| {
        let capture = Capture::new();
        assert!(
            capture
                .run_future(failing(event((), SAMPLED_HEADER)))
                .is_err()
        );
        let docs = capture.documents();
        let d = &docs[0];
        let label = |v: &Value| {
            v["cause"]["exceptions"][0]["type"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(label(d), "MissingUserId");
        assert_eq!(label(child(d, "## validate")), "MissingUserId");
        assert_eq!(label(child(d, "## foo")), "Foo");
        let h = child(d, "## huge");
        assert_eq!(label(h), "String");
        let message = h["cause"]["exceptions"][0]["message"].as_str().unwrap();
        assert_eq!(message.chars().count(), xray_core::model::MAX_MESSAGE_CHARS);
        let meta = h["metadata"]["service_undefined"]["huge error"]
            .as_str()
            .unwrap();
        assert_eq!(meta.chars().count(), xray_core::model::MAX_MESSAGE_CHARS);
    });
}
