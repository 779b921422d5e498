//! Synthetic function bodies for load tests: a given number of captured calls (in sequence or
//! nested), fan-out inside a handler, error paths, and responses larger than a datagram.
//!
//! Each is an ordinary `async fn` made of `#[capture_method]` functions, the way a user writes
//! them; [`handler`] is the `#[capture_lambda_handler]` that runs one according to the event,
//! and the harness also wraps [`run`] around other tracers to compare sampled, unsampled and
//! disabled tracing.

use std::hint::black_box;

use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use xray_core::{capture_lambda_handler, capture_method};

/// What one synthetic invocation does.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Work {
    /// Captured calls made one after the other.
    #[serde(default)]
    pub calls: u32,
    /// Depth of a chain of captured calls each calling the next.
    #[serde(default)]
    pub depth: u32,
    /// Captured async calls run concurrently (`join_all`) inside the handler.
    #[serde(default)]
    pub fan_out: u32,
    /// Milliseconds each fanned-out call waits.
    #[serde(default)]
    pub wait_ms: u64,
    /// Return an error instead of a response.
    #[serde(default)]
    pub fail: bool,
    /// Bytes of response payload (recorded as metadata, cut when over the datagram).
    #[serde(default)]
    pub response_bytes: u32,
    /// Bytes of metadata each of the `calls` records (0: plain calls).
    #[serde(default)]
    pub call_metadata_bytes: u32,
}

impl Work {
    /// Subsegments one sampled invocation records, the handler's included.
    pub fn entities(&self) -> usize {
        let per_call = if self.call_metadata_bytes > 0 { 2 } else { 1 };
        1 + self.calls as usize * per_call
            + if self.depth > 0 {
                self.depth as usize + 1
            } else {
                0
            }
            + self.fan_out as usize * 2
            + usize::from(self.fail)
    }
}

/// The response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Output {
    /// A value derived from the work, so nothing is optimised away.
    pub checksum: u64,
    /// Filler making the response as large as asked.
    pub payload: Vec<String>,
}

/// The error of a failing invocation, with a source.
#[derive(Debug)]
pub struct WorkFailed(std::io::Error);

impl std::fmt::Display for WorkFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the synthetic work failed")
    }
}

impl std::error::Error for WorkFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// One small unit of work.
#[capture_method(capture_response = false)]
pub fn step(x: u64) -> u64 {
    black_box(x)
        .wrapping_mul(6_364_136_223_846_793_005)
        .rotate_left(17)
}

/// A unit of work that records a metadata value of `bytes` bytes.
#[capture_method(capture_response = false)]
pub fn recorded_step(x: u64, bytes: u32) -> u64 {
    let value = "m".repeat(bytes as usize);
    xray_core::put_metadata("blob", value.as_str());
    step(x)
}

/// A chain: each level is a captured call containing the next.
#[capture_method(capture_response = false)]
pub fn nest(depth: u32, x: u64) -> u64 {
    if depth == 0 {
        step(x)
    } else {
        nest(depth - 1, x ^ u64::from(depth))
    }
}

/// One branch of a fan-out.
#[capture_method(capture_response = false)]
pub async fn branch(i: u32, wait_ms: u64) -> u64 {
    if wait_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
    }
    xray_core::put_annotation("branch", i);
    step(u64::from(i))
}

/// A failing call: the error and its source are recorded.
#[capture_method]
pub fn fail(x: u64) -> Result<u64, WorkFailed> {
    Err(WorkFailed(std::io::Error::other(format!(
        "input {x} refused"
    ))))
}

/// The same work without any tracing code: the baseline the harness measures against.
pub mod bare {
    use std::hint::black_box;

    use super::{Output, Work};

    fn step(x: u64) -> u64 {
        black_box(x)
            .wrapping_mul(6_364_136_223_846_793_005)
            .rotate_left(17)
    }

    fn nest(depth: u32, x: u64) -> u64 {
        if depth == 0 {
            step(x)
        } else {
            nest(depth - 1, x ^ u64::from(depth))
        }
    }

    /// [`super::run`] for the work that does not wait (no fan-out), uninstrumented.
    pub fn run(work: Work) -> Output {
        let mut checksum = 1u64;
        for i in 0..work.calls {
            checksum = checksum.wrapping_add(step(u64::from(i)));
        }
        if work.depth > 0 {
            checksum ^= nest(work.depth - 1, checksum);
        }
        Output {
            checksum,
            payload: Vec::new(),
        }
    }
}

/// Does the work an event asks for.
pub async fn run(work: Work) -> Result<Output, WorkFailed> {
    let mut checksum = 1u64;
    for i in 0..work.calls {
        let v = if work.call_metadata_bytes > 0 {
            recorded_step(u64::from(i), work.call_metadata_bytes)
        } else {
            step(u64::from(i))
        };
        checksum = checksum.wrapping_add(v);
    }
    if work.depth > 0 {
        checksum ^= nest(work.depth - 1, checksum);
    }
    if work.fan_out > 0 {
        let branches = (0..work.fan_out).map(|i| branch(i, work.wait_ms));
        for v in join_all(branches).await {
            checksum = checksum.wrapping_add(v);
        }
    }
    if work.fail {
        fail(checksum)?;
    }
    let mut payload = Vec::new();
    let mut size = 0usize;
    while size < work.response_bytes as usize {
        let chunk = format!("{:08}-{}", payload.len(), "x".repeat(1000));
        size += chunk.len();
        payload.push(chunk);
    }
    Ok(Output { checksum, payload })
}

/// Runs futures concurrently on the current task (a small `join_all`, to stay free of extra
/// dependencies).
async fn join_all<F: std::future::Future<Output = u64>>(
    futures: impl Iterator<Item = F>,
) -> Vec<u64> {
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut out = vec![0; pending.len()];
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        out[i] = v;
                        *slot = None;
                    }
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out
}

/// The synthetic function's handler.
#[capture_lambda_handler]
pub async fn handler(event: LambdaEvent<Work>) -> Result<Output, Error> {
    Ok(run(event.payload).await?)
}
