//! A handler that outlives its invocation's deadline still leaves a trace: shortly before the
//! deadline its open documents go out as `in_progress`, and the final ones replace them when
//! it returns. Real tokio timers, a real `lambda_runtime::Context` deadline.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Context, LambdaEvent};
use xray_core::testing::{Capture, SAMPLED_HEADER};
use xray_core::{capture_lambda_handler, capture_method};

#[capture_method]
async fn slow_step(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[capture_lambda_handler]
async fn slow(event: LambdaEvent<u64>) -> Result<u64, lambda_runtime::Error> {
    xray_core::put_annotation("started", true);
    Ok(slow_step(event.payload).await)
}

fn event(payload: u64, deadline_in: Duration) -> LambdaEvent<u64> {
    let mut ctx = Context::default();
    ctx.xray_trace_id = Some(SAMPLED_HEADER.to_owned());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    ctx.deadline = (now + deadline_in).as_millis() as u64;
    LambdaEvent::new(payload, ctx)
}

#[test]
fn a_handler_running_past_its_deadline_is_sent_in_progress_then_final() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let capture = Capture::new();
    // Deadline in 300 ms: the early send is due at 200 ms, the handler returns at 800 ms.
    let task = rt.spawn(
        capture
            .tracer()
            .scope_future(slow(event(800, Duration::from_millis(300)))),
    );
    std::thread::sleep(Duration::from_millis(500));
    let early = capture.documents();
    assert_eq!(early.len(), 1, "{early:?}");
    let d = &early[0];
    assert_eq!(d["name"], "## slow");
    assert_eq!(d["in_progress"], true);
    assert_eq!(d["annotations"]["started"], true);
    assert_eq!(d["subsegments"][0]["name"], "## slow_step");
    assert_eq!(d["subsegments"][0]["in_progress"], true);
    assert_eq!(capture.stats().invocations_near_deadline, 1);

    assert_eq!(rt.block_on(task).unwrap().unwrap(), 800);
    let last = capture.documents();
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!(
        last[0]["id"], d["id"],
        "the final document replaces the early one"
    );
    assert!(last[0]["end_time"].is_number());
    assert!(last[0]["subsegments"][0]["end_time"].is_number());
}

#[test]
fn a_handler_returning_in_time_is_sent_once() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let capture = Capture::new();
    rt.block_on(
        capture
            .tracer()
            .scope_future(slow(event(10, Duration::from_millis(400)))),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let docs = capture.documents();
    assert_eq!(docs.len(), 1);
    assert!(docs[0]["end_time"].is_number());
    assert_eq!(capture.stats().invocations_near_deadline, 0);
}
