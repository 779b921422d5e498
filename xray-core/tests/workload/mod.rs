//! The Lambda function the zero-allocation tests invoke: a handler with 10 captured calls,
//! sync and async, recording annotations, metadata and responses. Each test binary installs
//! its own counting allocator around it.

use lambda_runtime::{Context, LambdaEvent};
use xray_core::model::{EntityIndex, EntityTree, Timestamp};
use xray_core::{TraceId, capture_lambda_handler, capture_method};

#[derive(serde::Serialize)]
pub struct Step {
    pub n: u32,
    pub label: &'static str,
}

#[capture_method]
fn sync_step(n: u32) -> Result<Step, std::fmt::Error> {
    xray_core::put_annotation("step", n);
    Ok(Step { n, label: "sync" })
}

#[capture_method]
async fn async_step(n: u32) -> u32 {
    xray_core::put_metadata("step", &Step { n, label: "async" });
    n * 2
}

#[capture_lambda_handler]
pub async fn handler(event: LambdaEvent<u32>) -> Result<u32, lambda_runtime::Error> {
    let mut total = 0;
    for i in 0..5 {
        total += sync_step(event.payload + i)?.n;
        total += async_step(i).await;
    }
    Ok(total)
}

/// A sampled invocation's event. Built before counting starts: a `lambda_runtime::Context`
/// allocates, and that is not the SDK.
pub fn event() -> LambdaEvent<u32> {
    let mut ctx = Context::default();
    ctx.xray_trace_id = Some(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
    );
    LambdaEvent::new(1, ctx)
}

/// Empties `tree` for a new trace and records a segment with `steps` closed subsegments, each
/// with an annotation and metadata: an invocation's worth of spans for the emitter tests.
#[allow(
    dead_code,
    reason = "each test binary includes this module; not all build trees"
)]
pub fn steps_tree(tree: &mut EntityTree, steps: u32) -> EntityIndex {
    tree.reset(TraceId::random());
    let root = tree.begin_segment("api", None, Timestamp::now());
    for i in 0..steps {
        let s = tree.begin_subsegment(root, "## step", Timestamp::now());
        tree.entity_mut(s)
            .put_annotation("step", i)
            .unwrap()
            .put_metadata("default", "step", &Step { n: i, label: "x" })
            .unwrap();
        tree.end(s, Timestamp::now());
    }
    tree.end(root, Timestamp::now());
    root
}
