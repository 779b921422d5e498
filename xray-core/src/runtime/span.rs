//! Subsegments for captured functions: opened on entry, closed on exit, on a panic, or when
//! their future is dropped before it completes. What the function returned is formatted into
//! the thread's scratch [`Outcome`] first (user code, nothing locked), then the recording
//! layer copies it and closes the entity.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::id::SegmentId;
use crate::model::EntityIndex;

use super::capture::{CaptureOptions, Outcome, Recorder};
use super::context::{self, Entered, Frame, MODE_NONE, MODE_RECORDING, Scope};
use super::recording::Ending;
use super::tracer::context_missing;

const PANIC_MESSAGE: &str = "the function panicked";

/// Runs `record` into a scratch outcome; user code runs here, outside every lock and borrow.
#[allow(
    clippy::unnecessary_box_returns,
    reason = "the scratch outcome lives boxed (see `Outcome::take`)"
)]
fn record_outcome(
    options: &'static CaptureOptions,
    capture: (bool, bool),
    record: impl FnOnce(&mut Recorder<'_>),
) -> Box<Outcome> {
    let mut out = Outcome::take();
    record(&mut Recorder::new(&mut out, options, capture));
    out
}

/// The subsegment of a captured synchronous function. It lives on the stack of the function
/// and reaches its entity through the current frame, which the function cannot change (sync
/// code does not yield), so entering and leaving cost no reference counting.
#[derive(Debug)]
pub struct SyncSpan {
    node: EntityIndex,
    prev: EntityIndex,
    prev_id: SegmentId,
    options: &'static CaptureOptions,
    capture: (bool, bool),
    done: bool,
}

impl SyncSpan {
    /// Opens the subsegment under the current entity; `None` when not recording.
    #[inline]
    pub fn enter(options: &'static CaptureOptions) -> Option<SyncSpan> {
        let mode = context::mode();
        if mode != MODE_RECORDING {
            if mode == MODE_NONE {
                context_missing(options.name);
            }
            return None;
        }
        Self::enter_recording(options)
    }

    fn enter_recording(options: &'static CaptureOptions) -> Option<SyncSpan> {
        context::with_scope(|s| {
            let (node, id) = s
                .rec
                .open_child(s.node, options.name, options.name_is_valid)?;
            let prev = std::mem::replace(&mut s.node, node);
            let prev_id = std::mem::replace(&mut s.id, id);
            Some(SyncSpan {
                node,
                prev,
                prev_id,
                options,
                capture: options.capture(s.rec.capture()),
                done: false,
            })
        })
        .flatten()
    }

    /// Lets `record` describe the outcome, then closes the subsegment. A panic in `record`
    /// (a `Serialize` that panics) closes it as a panic instead.
    pub fn finish(mut self, record: impl FnOnce(&mut Recorder<'_>)) {
        let out = record_outcome(self.options, self.capture, record);
        self.done = true;
        self.close(Ending::Returned, Some(out));
    }

    fn close(&mut self, ending: Ending, out: Option<Box<Outcome>>) {
        let (node, prev, prev_id) = (self.node, self.prev, self.prev_id);
        // The recording layer runs no user code, so it may run with the frame borrowed.
        context::with_scope(|s| {
            s.node = prev;
            s.id = prev_id;
            s.rec.close(node, ending, out);
        });
    }
}

impl Drop for SyncSpan {
    fn drop(&mut self) {
        if !self.done {
            // Only a panic leaves a sync function without passing through `finish`.
            self.close(Ending::on_drop(PANIC_MESSAGE), None);
        }
    }
}

/// The subsegment of a captured `async` function. Opened under the entity current at
/// creation; every poll of the body runs with it as the current entity.
#[derive(Debug)]
pub struct AsyncSpan {
    /// `Frame::Recording` with this span's entity while recording, `Frame::None` otherwise;
    /// holds the caller's frame while the body is being polled.
    frame: Frame,
    /// This span's own entity. The frame's current entity can differ when it is closed: a
    /// `tracing` span entered in the body and exited where this frame was not in place leaves
    /// its subsegment current.
    own: Option<EntityIndex>,
    options: &'static CaptureOptions,
    capture: (bool, bool),
    done: bool,
}

impl AsyncSpan {
    /// Opens the subsegment under the current entity; inert when not recording.
    #[inline]
    pub fn enter(options: &'static CaptureOptions) -> AsyncSpan {
        let mode = context::mode();
        let mut capture = (false, false);
        let mut own = None;
        let frame = if mode == MODE_RECORDING {
            context::with_scope(|s| {
                capture = options.capture(s.rec.capture());
                s.rec
                    .open_child(s.node, options.name, options.name_is_valid)
                    .map_or(Frame::None, |(node, id)| {
                        own = Some(node);
                        Frame::Recording(Scope {
                            rec: s.rec.clone(),
                            node,
                            id,
                            trace: s.trace,
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
            own,
            options,
            capture,
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

    /// Lets `record` describe the outcome, then closes the subsegment. A panic in `record`
    /// closes it as a panic instead.
    pub fn finish(mut self, record: impl FnOnce(&mut Recorder<'_>)) {
        if !self.is_recording() {
            self.done = true;
            return;
        }
        let out = record_outcome(self.options, self.capture, record);
        self.done = true;
        self.close(Ending::Returned, Some(out));
    }

    fn close(&mut self, ending: Ending, out: Option<Box<Outcome>>) {
        if let (Frame::Recording(s), Some(own)) = (std::mem::take(&mut self.frame), self.own) {
            s.rec.close(own, ending, out);
        }
    }
}

impl Drop for AsyncSpan {
    fn drop(&mut self) {
        if !self.done {
            self.close(Ending::on_drop(PANIC_MESSAGE), None);
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
