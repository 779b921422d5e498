//! `SubsegmentLayer` and `WithTraceId` under a real registry + fmt subscriber (global, as in a
//! function): spans become nested subsegments with their fields, `ERROR` events faults, and
//! every log line inside an invocation carries the trace id.

mod support;

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use lambda_runtime::{Error, LambdaEvent};
use support::{documents, event, find, header, rt, sink};
use tracing_subscriber::layer::SubscriberExt;
use xray_core::tracing_bridge::{SubsegmentLayer, WithTraceId};
use xray_core::{capture_lambda_handler, capture_method};

/// Every line the fmt layers wrote.
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| Mutex::new(Vec::new()))
}

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        logs().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    sink();
    ONCE.get_or_init(|| {
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(|| LogWriter)
                    .event_format(WithTraceId::new(
                        tracing_subscriber::fmt::format().without_time(),
                    )),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(|| LogWriter)
                    .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
                    .event_format(WithTraceId::new(tracing_subscriber::fmt::format().json())),
            )
            .with(SubsegmentLayer::new().annotate("order_id"));
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// The log lines that mention `marker`.
fn lines_with(marker: &str) -> Vec<String> {
    String::from_utf8(logs().lock().unwrap().clone())
        .unwrap()
        .lines()
        .filter(|l| l.contains("marker") && l.contains(marker))
        .map(str::to_owned)
        .collect()
}

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for Declined {}

#[tracing::instrument(fields(attempts = 2_u64))]
async fn charge(order_id: &str, amount: f64) -> Result<(), String> {
    tokio::task::yield_now().await;
    price_check(order_id);
    tracing::error!(
        error = &Declined as &(dyn std::error::Error + 'static),
        "charge failed"
    );
    Err("declined".into())
}

#[tracing::instrument]
fn price_check(order_id: &str) {
    tracing::info!(marker = order_id, "checking the price");
}

#[tracing::instrument(level = "debug")]
fn too_verbose() {}

#[capture_lambda_handler]
async fn handler(event: LambdaEvent<String>) -> Result<String, Error> {
    let _ = charge(&event.payload, 9.5).await;
    too_verbose();
    tracing::info!(marker = %event.payload, "handler done");
    Ok(event.payload)
}

#[test]
fn spans_are_nested_subsegments_with_fields() {
    install();
    let (h, root) = header("1", "");
    rt().block_on(handler(event("A-1".to_owned(), &h))).unwrap();
    let docs = documents(&root);

    let charge = find(&docs, "charge");
    assert_eq!(charge.len(), 1, "{docs:#?}");
    let charge = charge[0];
    assert_eq!(charge["annotations"]["order_id"], "A-1");
    assert_eq!(charge["metadata"]["orders"]["amount"], 9.5);
    assert_eq!(charge["metadata"]["orders"]["attempts"], 2);
    assert_eq!(charge["fault"], true);
    let ex = &charge["cause"]["exceptions"][0];
    assert!(
        ex["message"].as_str().unwrap().contains("charge failed"),
        "{ex}"
    );
    // Nested under the tracing parent, not beside it.
    assert_eq!(find(&docs, "price_check").len(), 1);
    assert_eq!(charge["subsegments"][0]["name"], "price_check");
    // Below the level: not recorded.
    assert!(find(&docs, "too_verbose").is_empty());
    // Under the handler's subsegment.
    assert_eq!(docs[0]["name"], "## handler");
}

#[test]
fn log_lines_carry_the_trace_and_segment_ids() {
    install();
    let (h, root) = header("1", "");
    rt().block_on(handler(event("L-7".to_owned(), &h))).unwrap();
    let docs = documents(&root);
    let check_id = find(&docs, "price_check")[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let handler_id = docs[0]["id"].as_str().unwrap().to_owned();

    let lines = lines_with("L-7");
    let text: Vec<_> = lines.iter().filter(|l| !l.starts_with('{')).collect();
    let json: Vec<serde_json::Value> = lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!((text.len(), json.len()), (2, 2), "{lines:#?}");
    // Inside `price_check`: its subsegment; in the handler: the handler's.
    assert!(
        text[0].ends_with(&format!(" xray_trace_id={root} xray_segment_id={check_id}")),
        "{}",
        text[0]
    );
    assert!(
        text[1].ends_with(&format!(
            " xray_trace_id={root} xray_segment_id={handler_id}"
        )),
        "{}",
        text[1]
    );
    assert_eq!(json[0]["xray_trace_id"], root);
    assert_eq!(json[0]["xray_segment_id"], check_id);
    assert_eq!(json[1]["xray_segment_id"], handler_id);
}

#[test]
fn unsampled_and_untraced_record_nothing_and_log_what_they_can() {
    install();
    let (h, root) = header("0", "");
    rt().block_on(handler(event("U-3".to_owned(), &h))).unwrap();
    assert!(documents(&root).is_empty());
    let lines = lines_with("U-3");
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(l.contains(&root), "{l}");
        assert!(!l.contains("xray_segment_id"), "{l}");
    }

    tracing::info_span!("outside").in_scope(|| tracing::info!(marker = "O-1", "no trace"));
    let lines = lines_with("O-1");
    assert!(
        lines.iter().all(|l| !l.contains("xray_trace_id")),
        "{lines:#?}"
    );
}

// ---- Entering a span makes its subsegment the current X-Ray entity ----

#[capture_method]
async fn captured(tag: &str) -> Result<(), String> {
    // A real suspension: under `join!` the other invocation runs here.
    tokio::task::yield_now().await;
    xray_core::put_annotation("tag", tag);
    Ok(())
}

#[tracing::instrument(skip_all)]
async fn instrumented_calls_captured(tag: &str) {
    let _ = captured(tag).await;
}

#[tracing::instrument(skip_all)]
async fn instrumented_leaf() {
    tokio::task::yield_now().await;
}

#[capture_method]
async fn captured_calls_instrumented() -> Result<(), String> {
    instrumented_leaf().await;
    Ok(())
}

#[capture_lambda_handler]
async fn nesting(event: LambdaEvent<String>) -> Result<String, Error> {
    let tag = event.payload.clone();
    // `Instrument::instrument` spelled out: the macro's own `.instrument` is in scope.
    let step = async { captured(&tag).await };
    let _ = tracing::Instrument::instrument(step, tracing::info_span!("step")).await;
    let twice = tracing::info_span!("twice");
    twice.in_scope(|| twice.in_scope(|| xray_core::in_subsegment("deep", |_| ())));
    instrumented_calls_captured(&tag).await;
    let _ = captured_calls_instrumented().await;
    // Every span exited: back under the handler.
    xray_core::in_subsegment("after", |_| ());
    Ok(tag)
}

/// The subsegments directly under `parent`, by name.
fn children(parent: &serde_json::Value) -> Vec<&str> {
    parent["subsegments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["name"].as_str().unwrap())
        .collect()
}

fn assert_nesting(root: &str, tag: &str) {
    let docs = documents(root);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let handler = &docs[0];
    assert_eq!(handler["name"], "## nesting");
    assert_eq!(
        children(handler),
        [
            "step",
            "twice",
            "instrumented_calls_captured",
            "## captured_calls_instrumented",
            "after"
        ],
        "{handler:#}"
    );
    let step = find(&docs, "step")[0];
    assert_eq!(children(step), ["## captured"], "{step:#}");
    assert_eq!(step["subsegments"][0]["annotations"]["tag"], tag);
    assert_eq!(children(find(&docs, "twice")[0]), ["deep"]);
    let inst = find(&docs, "instrumented_calls_captured")[0];
    assert_eq!(children(inst), ["## captured"], "{inst:#}");
    assert_eq!(inst["subsegments"][0]["annotations"]["tag"], tag);
    let cap = find(&docs, "## captured_calls_instrumented")[0];
    assert_eq!(children(cap), ["instrumented_leaf"], "{cap:#}");
}

#[test]
fn an_entered_span_is_the_current_entity() {
    install();
    let (h, root) = header("1", "");
    rt().block_on(nesting(event("N-1".to_owned(), &h))).unwrap();
    assert_nesting(&root, "N-1");
}

/// Runs `handler` for two sampled invocations tagged `tags`, interleaved on one thread
/// (`join!` on a current-thread runtime); gives each one's result and trace root.
fn interleaved<F: Future<Output = Result<String, Error>>>(
    handler: impl Fn(LambdaEvent<String>) -> F,
    tags: [&str; 2],
) -> [(Result<String, Error>, String); 2] {
    install();
    let current_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ha, root_a) = header("1", "");
    let (hb, root_b) = header("1", "");
    let (a, b) = current_thread.block_on(async {
        tokio::join!(
            handler(event(tags[0].to_owned(), &ha)),
            handler(event(tags[1].to_owned(), &hb))
        )
    });
    [(a, root_a), (b, root_b)]
}

#[test]
fn interleaved_invocations_keep_their_own_spans_current() {
    let tags = ["I-A", "I-B"];
    for ((out, root), tag) in interleaved(nesting, tags).into_iter().zip(tags) {
        assert_eq!(out.unwrap(), tag);
        assert_nesting(&root, tag);
    }
}

#[capture_lambda_handler]
async fn keeps_span(event: LambdaEvent<String>) -> Result<String, Error> {
    let span = tracing::info_span!("kept");
    // Entered here and outside, by another invocation and on a thread without the trace.
    let elsewhere = span.clone();
    std::thread::spawn(move || {
        elsewhere.in_scope(|| xray_core::in_subsegment("on_thread", |_| ()));
    })
    .join()
    .unwrap();
    kept().lock().unwrap().replace(span);
    Ok(event.payload)
}

fn kept() -> &'static Mutex<Option<tracing::Span>> {
    static KEPT: OnceLock<Mutex<Option<tracing::Span>>> = OnceLock::new();
    KEPT.get_or_init(|| Mutex::new(None))
}

#[capture_lambda_handler]
async fn enters_old_span(event: LambdaEvent<String>) -> Result<String, Error> {
    let old = kept().lock().unwrap().clone().unwrap();
    old.in_scope(|| xray_core::in_subsegment("under_handler", |_| ()));
    Ok(event.payload)
}

#[test]
fn a_span_entered_outside_its_invocation_changes_nothing() {
    install();
    let (h1, root1) = header("1", "");
    let (h2, root2) = header("1", "");
    let rt = rt();
    rt.block_on(keeps_span(event("K-1".to_owned(), &h1)))
        .unwrap();
    // Outside any invocation.
    let old = kept().lock().unwrap().clone().unwrap();
    old.in_scope(|| xray_core::in_subsegment("outside", |_| ()));
    rt.block_on(enters_old_span(event("K-2".to_owned(), &h2)))
        .unwrap();
    kept().lock().unwrap().take();
    drop(old);
    let docs = documents(&root2);
    assert_eq!(children(&docs[0]), ["under_handler"], "{docs:#?}");
    let docs1 = documents(&root1);
    for name in ["on_thread", "outside", "under_handler"] {
        assert!(find(&docs1, name).is_empty(), "{docs1:#?}");
    }
    // The kept span closed after its invocation was sent: in progress in the handler's
    // document, then sent on its own when it closed, still valid.
    let kept_docs: Vec<_> = find(&docs1, "kept");
    assert_eq!(kept_docs.len(), 2, "{docs1:#?}");
    assert_eq!(kept_docs[0]["in_progress"], true);
    assert!(kept_docs[1]["end_time"].is_number(), "{docs1:#?}");
}

#[capture_lambda_handler]
async fn holds_guard(event: LambdaEvent<String>) -> Result<String, Error> {
    let span = tracing::info_span!("held");
    {
        // Held across `.await` (which `tracing` advises against): the other invocation runs
        // while this one's span is still entered.
        let _entered = span.enter();
        tokio::task::yield_now().await;
        let _ = captured(&event.payload).await;
    }
    xray_core::in_subsegment("after", |_| ());
    Ok(event.payload)
}

#[test]
fn guards_held_across_awaits_of_interleaved_invocations_stay_apart() {
    let tags = ["G-A", "G-B"];
    for ((out, root), tag) in interleaved(holds_guard, tags).into_iter().zip(tags) {
        assert!(out.is_ok());
        let docs = documents(&root);
        assert_eq!(children(&docs[0]), ["held", "after"], "{docs:#?}");
        let held = find(&docs, "held")[0];
        assert_eq!(children(held), ["## captured"], "{held:#}");
        assert_eq!(held["subsegments"][0]["annotations"]["tag"], tag);
    }
}

#[capture_method]
fn logs_an_error() {
    tracing::error!("inventory unavailable");
}

#[capture_lambda_handler]
async fn error_inside_captured(event: LambdaEvent<String>) -> Result<String, Error> {
    tracing::info_span!("outer_span").in_scope(logs_an_error);
    Ok(event.payload)
}

#[test]
fn an_error_event_marks_the_innermost_entity() {
    install();
    let (h, root) = header("1", "");
    rt().block_on(error_inside_captured(event("E-1".to_owned(), &h)))
        .unwrap();
    let docs = documents(&root);
    let outer = find(&docs, "outer_span")[0];
    assert!(outer.get("fault").is_none(), "{outer:#}");
    let inner = find(&docs, "## logs_an_error")[0];
    assert_eq!(inner["fault"], true, "{inner:#}");
    let ex = &inner["cause"]["exceptions"][0];
    assert!(
        ex["message"]
            .as_str()
            .unwrap()
            .contains("inventory unavailable"),
        "{ex}"
    );
}

thread_local! {
    /// Span guards kept past the functions that entered them, dropped by the test afterwards.
    static HELD: std::cell::RefCell<Vec<tracing::span::EnteredSpan>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

#[capture_method]
async fn leaves_a_span_entered() -> Result<(), String> {
    // Still entered when this function returns: its subsegment is the frame's current entity.
    HELD.with(|h| {
        h.borrow_mut()
            .push(tracing::info_span!("inner_left").entered());
    });
    tokio::task::yield_now().await;
    Ok(())
}

#[capture_lambda_handler]
async fn leaves_spans_entered(event: LambdaEvent<String>) -> Result<String, Error> {
    let _ = leaves_a_span_entered().await;
    HELD.with(|h| {
        h.borrow_mut()
            .push(tracing::info_span!("outer_left").entered());
    });
    Ok(event.payload)
}

#[test]
fn owners_close_their_own_subsegment_whatever_span_is_current() {
    install();
    let (h, root) = header("1", "");
    let current_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    current_thread
        .block_on(leaves_spans_entered(event("F".to_owned(), &h)))
        .unwrap();
    // Exited (and closed) only now, where no invocation runs: nothing to restore.
    HELD.with(|h| h.borrow_mut().clear());
    let docs = documents(&root);
    // The handler closed (its document went out), not the span left current in it.
    assert_eq!(docs[0]["name"], "## leaves_spans_entered", "{docs:#?}");
    assert!(docs[0]["end_time"].is_number(), "{docs:#?}");
    let captured = find(&docs, "## leaves_a_span_entered");
    assert!(captured[0]["end_time"].is_number(), "{docs:#?}");
    for left in ["inner_left", "outer_left"] {
        assert_eq!(
            find(&docs, left)[0]["in_progress"],
            true,
            "{left}: {docs:#?}"
        );
    }
}

/// Set when a `Debug` below found the entity locked (the SDK answered `Reentrant`).
static REFUSED_WHILE_FORMATTING: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// A field whose `Debug` records through the SDK, as user code may. Each layer that formats
/// the event runs it (the fmt layer too).
struct RecordsWhenFormatted;

impl std::fmt::Debug for RecordsWhenFormatted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if xray_core::try_put_annotation("formatted", true)
            == Err(xray_core::RecordError::Reentrant)
        {
            REFUSED_WHILE_FORMATTING.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        f.write_str("details")
    }
}

#[capture_lambda_handler]
async fn errors_with_a_recording_field(event: LambdaEvent<String>) -> Result<String, Error> {
    tracing::error!(detail = ?RecordsWhenFormatted, "lookup failed");
    Ok(event.payload)
}

#[test]
fn an_error_event_s_fields_are_formatted_before_the_entity_is_locked() {
    install();
    let (h, root) = header("1", "");
    rt().block_on(errors_with_a_recording_field(event("D".to_owned(), &h)))
        .unwrap();
    let docs = documents(&root);
    // The field's `Debug` ran with nothing held, so its own recording went through.
    assert!(!REFUSED_WHILE_FORMATTING.load(std::sync::atomic::Ordering::Relaxed));
    assert_eq!(docs[0]["annotations"]["formatted"], true, "{docs:#?}");
    assert_eq!(docs[0]["fault"], true, "{docs:#?}");
    let message = docs[0]["cause"]["exceptions"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("lookup failed") && message.contains("detail=details"),
        "{message}"
    );
}
