//! Subsegments for captured functions: opened on entry, closed on exit, on a panic, or when
//! their future is dropped before it completes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::model::{EntityIndex, EntityTree};
use crate::time::Timestamp;

use super::capture::{ABNORMAL, Recorder, conclude};
use super::scope::{self, Entered, Frame, MODE_NONE, MODE_RECORDING, Scope};
use super::tracer::global;

/// Options a capture macro passes for one function.
#[derive(Debug, Clone, Copy)]
pub struct CaptureOptions {
    /// The subsegment name (`## <fn name>` unless given).
    pub name: &'static str,
    /// The macro checked `name` against the schema (ASCII names only), so the run-time check
    /// is skipped.
    pub name_is_valid: bool,
    /// The metadata key for the response: `"<fn name> response"`.
    pub response_key: &'static str,
    /// The metadata key for the error: `"<fn name> error"`.
    pub error_key: &'static str,
    /// `capture_response` as written on the attribute (`None` = follow the environment).
    pub capture_response: Option<bool>,
    /// `capture_error` as written on the attribute (`None` = follow the environment).
    pub capture_error: Option<bool>,
}

impl CaptureOptions {
    /// Opens the subsegment, or returns `None` (counted) when the invocation already holds
    /// [`MAX_ENTITIES`] entities: the call then runs unrecorded, and what it calls nests under
    /// its caller.
    fn begin(
        &self,
        tree: &mut EntityTree,
        parent: EntityIndex,
        now: Timestamp,
    ) -> Option<EntityIndex> {
        if tree.len() >= MAX_ENTITIES {
            tree.counts.subsegments_over_limit += 1;
            return None;
        }
        Some(if self.name_is_valid {
            tree.begin_subsegment_valid_name(parent, self.name, now)
        } else {
            tree.begin_subsegment(parent, self.name, now)
        })
    }
}

/// The most entities one invocation records. Each costs about a kilobyte while the
/// invocation runs, and X-Ray shows nothing useful past a few thousand; a handler looping over
/// a million captured calls must not exhaust a small function's memory.
pub const MAX_ENTITIES: usize = 10_000;

/// Called when a recording API finds no trace at all.
#[cold]
#[inline(never)]
pub(crate) fn context_missing(what: &str) {
    global().context_missing(what);
}

/// The subsegment of a captured synchronous function. It lives on the stack of the function
/// and reaches its entity through the current frame, which the function cannot change (sync
/// code does not yield), so entering and leaving cost no reference counting.
#[derive(Debug)]
pub struct SyncSpan {
    node: EntityIndex,
    prev: EntityIndex,
    options: &'static CaptureOptions,
    done: bool,
}

impl SyncSpan {
    /// Opens the subsegment under the current entity; `None` when not recording.
    #[inline]
    pub fn enter(options: &'static CaptureOptions) -> Option<SyncSpan> {
        let mode = scope::mode();
        if mode != MODE_RECORDING {
            if mode == MODE_NONE {
                context_missing(options.name);
            }
            return None;
        }
        Self::enter_recording(options)
    }

    fn enter_recording(options: &'static CaptureOptions) -> Option<SyncSpan> {
        scope::with_scope(|s| {
            let now = s.state.now();
            let node = options.begin(&mut s.state.lock().tree, s.node, now)?;
            let prev = std::mem::replace(&mut s.node, node);
            Some(SyncSpan {
                node,
                prev,
                options,
                done: false,
            })
        })
        .flatten()
    }

    /// Lets `record` describe the outcome, then closes the subsegment.
    pub fn finish(mut self, record: impl FnOnce(&mut Recorder<'_>)) {
        self.close(Some(record));
    }

    fn close(&mut self, record: Option<impl FnOnce(&mut Recorder<'_>)>) {
        self.done = true;
        let (node, prev, options) = (self.node, self.prev, self.options);
        scope::with_scope(|s| {
            let now = s.state.now();
            let mut rec = s.state.lock();
            conclude(&mut rec, node, options, record);
            rec.close(node, now, &s.state.emitter);
            s.node = prev;
        });
    }
}

impl Drop for SyncSpan {
    fn drop(&mut self) {
        if !self.done {
            // Only a panic leaves a sync function without passing through `finish`.
            self.close(ABNORMAL);
        }
    }
}

/// The subsegment of a captured `async` function. Opened at the first poll under the entity
/// current then; every poll of the body runs with it as the current entity.
#[derive(Debug)]
pub struct AsyncSpan {
    /// `Frame::Recording` with this span's entity while recording, `Frame::None` otherwise;
    /// holds the caller's frame while the body is being polled.
    frame: Frame,
    options: &'static CaptureOptions,
    done: bool,
}

impl AsyncSpan {
    /// Opens the subsegment under the current entity; inert when not recording.
    #[inline]
    pub fn enter(options: &'static CaptureOptions) -> AsyncSpan {
        let mode = scope::mode();
        let frame = if mode == MODE_RECORDING {
            scope::with_scope(|s| {
                let now = s.state.now();
                let node = options.begin(&mut s.state.lock().tree, s.node, now);
                node.map_or(Frame::None, |node| {
                    Frame::Recording(Scope {
                        state: s.state.clone(),
                        node,
                    })
                })
            })
            .unwrap_or_default()
        } else {
            if mode == MODE_NONE {
                context_missing(options.name);
            }
            Frame::None
        };
        AsyncSpan {
            frame,
            options,
            done: false,
        }
    }

    /// True when this span records (the invocation is sampled).
    pub fn is_recording(&self) -> bool {
        matches!(self.frame, Frame::Recording(_))
    }

    /// Runs `future` with this subsegment as the current entity.
    pub fn instrument<F: Future>(&mut self, future: F) -> InFrame<'_, F> {
        InFrame {
            frame: if self.is_recording() {
                Some(&mut self.frame)
            } else {
                None
            },
            future,
        }
    }

    /// Lets `record` describe the outcome, then closes the subsegment.
    pub fn finish(mut self, record: impl FnOnce(&mut Recorder<'_>)) {
        self.close(Some(record));
    }

    fn close(&mut self, record: Option<impl FnOnce(&mut Recorder<'_>)>) {
        self.done = true;
        if let Frame::Recording(s) = std::mem::take(&mut self.frame) {
            let now = s.state.now();
            let mut rec = s.state.lock();
            conclude(&mut rec, s.node, self.options, record);
            rec.close(s.node, now, &s.state.emitter);
        }
    }
}

impl Drop for AsyncSpan {
    fn drop(&mut self) {
        if !self.done {
            self.close(ABNORMAL);
        }
    }
}

pin_project_lite::pin_project! {
    /// A future polled with a given frame in place (a captured body, or a handler's).
    #[derive(Debug)]
    pub struct InFrame<'a, F> {
        frame: Option<&'a mut Frame>,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for InFrame<'_, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        match this.frame {
            // The guard swaps back when dropped, also when the poll unwinds.
            Some(frame) => {
                let _entered = Entered::new(frame);
                this.future.poll(cx)
            }
            None => this.future.poll(cx),
        }
    }
}

impl<'a, F> InFrame<'a, F> {
    pub(crate) fn new(frame: &'a mut Frame, future: F) -> InFrame<'a, F> {
        InFrame {
            frame: Some(frame),
            future,
        }
    }
}
