//! Which trace and which entity the running code belongs to.
//!
//! The current frame lives in a thread-local that is swapped in and out around each poll of an
//! instrumented future (and around [`Handle::in_scope`]), the way a task-local works: an
//! invocation's frame is only ever in place while that invocation's code runs, so several
//! invocations interleaved on the same threads (`run_concurrent`) never see each other's. A
//! second thread-local byte mirrors the frame's kind so the common checks cost one load.
//!
//! The frame is only ever borrowed for a few internal instructions: user code never runs
//! while it is borrowed, so any SDK call from inside a `Serialize`, a `Display` or a closure
//! finds it free. The frame also carries the trace and entity ids, so asking for them takes
//! no lock.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::id::{SegmentId, TRACE_ID_LEN, TraceId};
use crate::model::EntityIndex;
use crate::trace_header::{EncodedHeader, SamplingDecision, TraceHeader};

use super::recording::Shared;

/// No trace in scope: recording calls apply the context-missing strategy.
pub(crate) const MODE_NONE: u8 = 0;
/// Inside an invocation that is not recorded (unsampled, or tracing disabled).
pub(crate) const MODE_PASSTHROUGH: u8 = 1;
/// Inside a recorded invocation.
pub(crate) const MODE_RECORDING: u8 = 2;

thread_local! {
    static MODE: Cell<u8> = const { Cell::new(MODE_NONE) };
    static FRAME: RefCell<Frame> = const { RefCell::new(Frame::None) };
}

/// A recorded invocation and the entity new subsegments go under, with its ids.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub(crate) rec: Arc<Shared>,
    pub(crate) node: EntityIndex,
    pub(crate) id: SegmentId,
    pub(crate) trace: TraceId,
}

/// What an unrecorded invocation keeps for downstream headers.
#[derive(Debug, Clone)]
pub(crate) struct Pass {
    ids: PassIds,
    decision: SamplingDecision,
    /// The inbound W3C `tracestate` (service requests only; bounded by
    /// [`crate::w3c::TRACESTATE_MAX`]). Shared, so clones of the frame do not copy it; absent
    /// from Lambda-only builds, whose frames stay as small as before.
    #[cfg(feature = "service")]
    pub(crate) tracestate: Option<Arc<str>>,
}

#[derive(Debug, Clone, Copy)]
enum PassIds {
    Decoded {
        root: TraceId,
        parent: Option<SegmentId>,
    },
    /// The header's ids as Lambda wrote them, decoded only if a downstream header is asked
    /// for: most unsampled invocations make no traced call, and reading 48 hex digits up
    /// front was most of what an unsampled invocation cost.
    Text {
        root: [u8; TRACE_ID_LEN],
        parent: [u8; 16],
    },
}

impl Pass {
    pub(crate) fn new(
        root: TraceId,
        parent: Option<SegmentId>,
        decision: SamplingDecision,
    ) -> Pass {
        Pass {
            ids: PassIds::Decoded { root, parent },
            decision,
            #[cfg(feature = "service")]
            tracestate: None,
        }
    }

    /// Ids kept as text, from a header in Lambda's layout.
    pub(crate) fn from_text(
        root: [u8; TRACE_ID_LEN],
        parent: [u8; 16],
        decision: SamplingDecision,
    ) -> Pass {
        Pass {
            ids: PassIds::Text { root, parent },
            decision,
            #[cfg(feature = "service")]
            tracestate: None,
        }
    }

    /// The same, with the inbound `tracestate` to pass on.
    #[cfg(feature = "service")]
    pub(crate) fn carrying(mut self, tracestate: Option<Arc<str>>) -> Pass {
        self.tracestate = tracestate;
        self
    }

    /// The trace and the caller's id (text is checked before it is kept, so it decodes).
    pub(crate) fn ids(&self) -> Option<(TraceId, Option<SegmentId>)> {
        match self.ids {
            PassIds::Decoded { root, parent } => Some((root, parent)),
            PassIds::Text { root, parent } => Some((
                TraceId::parse_bytes(&root).ok()?,
                SegmentId::parse_hex_bytes(&parent).ok(),
            )),
        }
    }
}

/// What code runs under.
#[derive(Debug, Clone, Default)]
pub(crate) enum Frame {
    #[default]
    None,
    /// Not recorded; the trace id, parent and decision are kept for downstream headers.
    Passthrough(Option<Pass>),
    Recording(Scope),
}

impl Frame {
    fn mode(&self) -> u8 {
        match self {
            Frame::None => MODE_NONE,
            Frame::Passthrough(_) => MODE_PASSTHROUGH,
            Frame::Recording(_) => MODE_RECORDING,
        }
    }

    /// The `X-Amzn-Trace-Id` for a downstream call made under this frame.
    pub(crate) fn header(&self) -> Option<EncodedHeader> {
        match self {
            Frame::None | Frame::Passthrough(None) => None,
            Frame::Passthrough(Some(p)) => {
                let (root, parent) = p.ids()?;
                Some(TraceHeader::new(root, parent, sampled_or_not(p.decision)).encode())
            }
            Frame::Recording(s) => Some(s.rec.header(s.trace, s.id)),
        }
    }
}

/// Runs `f` on the inbound `tracestate` of the current trace, if it has one. `f` is SDK code
/// only (it runs while the frame is borrowed).
#[cfg(feature = "service")]
pub(crate) fn with_tracestate<R>(f: impl FnOnce(&str) -> R) -> Option<R> {
    if mode() == MODE_NONE {
        return None;
    }
    FRAME.with(|fr| match &*fr.borrow() {
        Frame::None | Frame::Passthrough(None) => None,
        Frame::Passthrough(Some(p)) => p.tracestate.as_deref().map(f),
        Frame::Recording(s) => s.rec.with_tracestate(f),
    })
}

/// Only service requests bring a `tracestate`; a Lambda-only build keeps none.
#[cfg(not(feature = "service"))]
pub(crate) fn with_tracestate<R>(_f: impl FnOnce(&str) -> R) -> Option<R> {
    None
}

fn sampled_or_not(decision: SamplingDecision) -> SamplingDecision {
    match decision {
        SamplingDecision::Sampled => SamplingDecision::Sampled,
        _ => SamplingDecision::NotSampled,
    }
}

/// The kind of the current frame: one thread-local load.
#[inline]
pub(crate) fn mode() -> u8 {
    MODE.with(Cell::get)
}

/// Exchanges the current frame with `frame`.
#[inline]
pub(crate) fn swap(frame: &mut Frame) {
    FRAME.with(|f| {
        let mut cur = f.borrow_mut();
        std::mem::swap(&mut *cur, frame);
        MODE.with(|m| m.set(cur.mode()));
    });
}

/// Runs `f` with the current recording scope, if there is one. `f` is SDK code only: it must
/// never run user code (which could come back here).
#[inline]
pub(crate) fn with_scope<R>(f: impl FnOnce(&mut Scope) -> R) -> Option<R> {
    FRAME.with(|fr| match &mut *fr.borrow_mut() {
        Frame::Recording(scope) => Some(f(scope)),
        _ => None,
    })
}

/// A copy of the current frame.
pub(crate) fn current() -> Frame {
    FRAME.with(|f| f.borrow().clone())
}

/// Puts a frame in place and takes it back out when dropped, unwinding included.
pub(crate) struct Entered<'a> {
    slot: &'a mut Frame,
}

impl<'a> Entered<'a> {
    #[inline]
    pub(crate) fn new(slot: &'a mut Frame) -> Entered<'a> {
        swap(slot);
        Entered { slot }
    }
}

impl Drop for Entered<'_> {
    #[inline]
    fn drop(&mut self) {
        swap(self.slot);
    }
}

/// What [`Handle::switch_entity`] changed: the entity it made current and the one before.
#[cfg(feature = "tracing")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Switched {
    trace: TraceId,
    to: (EntityIndex, SegmentId),
    from: (EntityIndex, SegmentId),
}

/// Puts back the entity [`Handle::switch_entity`] replaced, if the entity it made current is
/// still the current one in the same trace (otherwise another frame is in place, or a nested
/// switch was not undone, and nothing is touched).
#[cfg(feature = "tracing")]
pub(crate) fn restore_entity(switched: Switched) {
    with_scope(|s| {
        if s.trace == switched.trace && (s.node, s.id) == switched.to {
            (s.node, s.id) = switched.from;
        }
    });
}

/// A handle to the current trace, to carry it into spawned tasks and threads.
///
/// Code run through a handle records under the entity that was current when the handle was
/// taken, in that invocation's trace, whatever thread it runs on.
///
/// ```
/// let handle = xray_core::Handle::current();
/// std::thread::spawn(move || {
///     handle.in_scope(|| {
///         // #[capture_method] functions called here nest under the caller's subsegment.
///         xray_core::put_annotation("worker", 1);
///     });
/// })
/// .join()
/// .unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct Handle {
    frame: Frame,
}

impl Handle {
    pub(crate) fn from_frame(frame: Frame) -> Handle {
        Handle { frame }
    }

    /// The trace and entity current here (an empty handle outside any trace).
    pub fn current() -> Handle {
        Handle { frame: current() }
    }

    /// True when code run through this handle is recorded.
    pub fn is_recording(&self) -> bool {
        matches!(self.frame, Frame::Recording(_))
    }

    /// Makes this handle's entity the current one of the running frame, in place, when that
    /// frame is the same recorded invocation (the same recording and trace); `None`, and
    /// nothing changed, otherwise. Only the entity moves: the frame stays the invocation's, so
    /// a swap around a poll carries the change with it and cannot leak it elsewhere.
    #[cfg(feature = "tracing")]
    pub(crate) fn switch_entity(&self) -> Option<Switched> {
        let Frame::Recording(target) = &self.frame else {
            return None;
        };
        with_scope(|s| {
            if !Arc::ptr_eq(&s.rec, &target.rec) || s.trace != target.trace {
                return None;
            }
            let from = (s.node, s.id);
            (s.node, s.id) = (target.node, target.id);
            Some(Switched {
                trace: target.trace,
                to: (target.node, target.id),
                from,
            })
        })
        .flatten()
    }

    /// Runs `f` in this handle's trace.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let mut frame = self.frame.clone();
        let _entered = Entered::new(&mut frame);
        f()
    }

    /// Wraps `future` so every poll runs in this handle's trace (pass the result to
    /// `tokio::spawn`).
    pub fn instrument<F: Future>(&self, future: F) -> Instrumented<F> {
        Instrumented::new(self.frame.clone(), future)
    }

    /// The header to send with a downstream call made from here: `Root`, `Parent` = the
    /// current entity, `Sampled`. `None` outside a trace.
    pub fn downstream_header(&self) -> Option<EncodedHeader> {
        self.frame.header()
    }
}

/// The `X-Amzn-Trace-Id` value for a downstream call made from the current code, if a trace
/// is in scope: `Parent` is the current entity when recorded; for an unrecorded invocation it
/// is the incoming parent, with `Sampled=0`.
///
/// ```
/// assert!(xray_core::downstream_header().is_none());
/// ```
pub fn downstream_header() -> Option<EncodedHeader> {
    // Writing the header runs no user code, so the frame stays borrowed meanwhile (a copy
    // would cost two reference-count updates on every downstream call).
    match mode() {
        MODE_NONE => None,
        _ => FRAME.with(|f| f.borrow().header()),
    }
}

pin_project_lite::pin_project! {
    /// A future that runs in a given trace (see [`Handle::instrument`]).
    #[derive(Debug)]
    pub struct Instrumented<F> {
        #[pin]
        future: F,
        frame: Frame,
    }
}

impl<F> Instrumented<F> {
    pub(crate) fn new(frame: Frame, future: F) -> Instrumented<F> {
        Instrumented { future, frame }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = Entered::new(this.frame);
        this.future.poll(cx)
    }
}
