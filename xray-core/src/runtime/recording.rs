//! The recording of one invocation (or one service request), and the only code that touches
//! its [`EntityTree`]: open the root, open a child, record into an entity, close an entity
//! with how it ended, and decide what is sent when.
//!
//! A recording is shared by the tasks and threads of its invocation through an `Arc`, and
//! reused by later invocations once every handle to it is gone. User code never runs while
//! the recording is locked, except the closures of `with_current` / `with_fields` /
//! `with_entity`, which run with the thread marked as *holding*: an SDK call made from inside
//! them returns [`RecordError::Reentrant`] (counted) instead of deadlocking, and a guard
//! closed inside them is closed when the closure returns.

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::annotation::RecordError;
use crate::emit::{EmitBuffer, Emitter};
use crate::id::{SegmentId, TraceId};
use crate::model::{EntityIndex, EntityMut, EntityTree};
use crate::time::{Clock, Timestamp};
use crate::trace_header::{EncodedHeader, SamplingDecision, TraceHeader};

use super::capture::{Outcome, SDK_NAMESPACE};
use super::tracer::TracerCounters;

/// The most entities one invocation records. Each costs about a kilobyte while the
/// invocation runs, and X-Ray shows nothing useful past a few thousand; a handler looping over
/// a million captured calls must not exhaust a small function's memory.
pub const MAX_ENTITIES: usize = 10_000;

thread_local! {
    /// This thread runs user code with a recording locked (see the module docs).
    static HOLDING: Cell<bool> = const { Cell::new(false) };
    /// Closes asked for while holding, done when the hold ends.
    static DEFERRED: RefCell<Vec<Deferred>> = const { RefCell::new(Vec::new()) };
}

/// True while this thread runs user code under a recording's lock.
#[inline]
pub(crate) fn holding() -> bool {
    HOLDING.with(Cell::get)
}

#[derive(Debug)]
struct Deferred {
    rec: Arc<Shared>,
    node: EntityIndex,
    end: Timestamp,
    ending: Ending,
    outcome: Option<Box<Outcome>>,
}

/// How an entity ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Closed on purpose (returned, `end`, `finish`).
    Returned,
    /// A panic unwound through it: a fault with a `panic` exception saying this.
    Panicked(&'static str),
    /// Dropped before it completed (a future dropped, a guard not ended): metadata
    /// `xray_sdk.dropped_before_completion = true`.
    Dropped,
}

impl Ending {
    /// The ending of a guard dropped without being closed: a panic when one is unwinding.
    pub(crate) fn on_drop(panic_message: &'static str) -> Ending {
        if std::thread::panicking() {
            Ending::Panicked(panic_message)
        } else {
            Ending::Dropped
        }
    }
}

/// Where a recording's root comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Root<'a> {
    /// A Lambda handler: an independent subsegment under the function's segment.
    Handler { name: &'a str, parent: SegmentId },
    /// A service's own segment (the name is already valid).
    #[cfg(feature = "service")]
    Segment {
        name: &'a str,
        parent: Option<SegmentId>,
    },
}

/// A recording and what it sends with.
#[derive(Debug)]
pub(crate) struct Shared {
    recording: Mutex<Recording>,
    /// The incoming header's extra fields (`Lineage`, …), passed on in downstream headers.
    /// Apart from the tree so that a header can be written while user code holds it.
    extras: Mutex<String>,
    /// The inbound W3C `tracestate` of a service request (empty: none), forwarded beside
    /// `traceparent`; reused like `extras`. Lambda-only builds do without it.
    #[cfg(feature = "service")]
    tracestate: Mutex<String>,
    emitter: Emitter,
    clock: Clock,
    counters: Arc<TracerCounters>,
    capture_response: AtomicBool,
    capture_error: AtomicBool,
    /// Bumped by every `begin`, so a deadline watch knows its invocation from a later one.
    generation: AtomicU64,
    /// An unsampled invocation recorded for an emitter that sends those (`T1U`): its documents
    /// go to [`Emitter::emit_unsampled`] and its downstream headers say `Sampled=0`.
    unsampled: AtomicBool,
}

#[derive(Debug)]
struct Recording {
    tree: EntityTree,
    buf: EmitBuffer,
    /// The top entity (the handler subsegment, or the service segment).
    root: Option<EntityIndex>,
    /// The root's document has been sent; entities closing later go out on their own.
    root_sent: bool,
    /// Metadata namespace for responses, errors and `put_metadata` (the service name).
    namespace: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while it was held does not stop tracing: the data is plain values.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(emitter: Emitter, clock: Clock, counters: Arc<TracerCounters>) -> Shared {
        Shared {
            recording: Mutex::new(Recording {
                tree: EntityTree::new(TraceId::NOOP),
                buf: EmitBuffer::new(),
                root: None,
                root_sent: false,
                namespace: String::new(),
            }),
            extras: Mutex::new(String::new()),
            #[cfg(feature = "service")]
            tracestate: Mutex::new(String::new()),
            emitter,
            clock,
            counters,
            capture_response: AtomicBool::new(true),
            capture_error: AtomicBool::new(true),
            generation: AtomicU64::new(0),
            unsampled: AtomicBool::new(false),
        }
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// `(capture_response, capture_error)` for this invocation.
    #[inline]
    pub(crate) fn capture(&self) -> (bool, bool) {
        (
            self.capture_response.load(Relaxed),
            self.capture_error.load(Relaxed),
        )
    }

    /// Empties the recording for a new trace and opens its root; `describe` (SDK code only)
    /// writes the root's first fields.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn begin(
        &self,
        trace: TraceId,
        root: Root<'_>,
        namespace: &str,
        extras: &str,
        capture: (bool, bool),
        describe: impl FnOnce(&mut EntityMut<'_>),
    ) -> (EntityIndex, SegmentId) {
        let now = self.now();
        self.generation.fetch_add(1, Relaxed);
        self.unsampled.store(false, Relaxed);
        self.capture_response.store(capture.0, Relaxed);
        self.capture_error.store(capture.1, Relaxed);
        {
            let mut x = lock(&self.extras);
            x.clear();
            x.push_str(extras);
        }
        #[cfg(feature = "service")]
        lock(&self.tracestate).clear();
        let mut rec = lock(&self.recording);
        let rec = &mut *rec;
        rec.tree.reset(trace);
        rec.root_sent = false;
        rec.namespace.clear();
        rec.namespace.push_str(namespace);
        let node = match root {
            Root::Handler { name, parent } => rec.tree.begin_detached_subsegment(name, parent, now),
            #[cfg(feature = "service")]
            Root::Segment { name, parent } => rec.tree.begin_segment_valid_name(name, parent, now),
        };
        rec.root = Some(node);
        let mut e = rec.tree.entity_mut(node);
        describe(&mut e);
        (node, e.id())
    }

    /// Marks the invocation just begun as unsampled: recorded for an emitter that
    /// [sends unsampled](Emitter::sends_unsampled) invocations, and sent as such.
    pub(crate) fn mark_unsampled(&self) {
        self.unsampled.store(true, Relaxed);
    }

    /// Sends `node`'s document the way this invocation's sampling decision asks.
    fn send(&self, rec: &mut Recording, node: EntityIndex) {
        if self.unsampled.load(Relaxed) {
            self.emitter
                .emit_unsampled(&mut rec.tree, node, &mut rec.buf);
        } else {
            self.emitter.emit(&mut rec.tree, node, &mut rec.buf);
        }
    }

    /// Opens a subsegment under `parent`; `None` (counted) when user code holds the recording
    /// on this thread or the invocation already has [`MAX_ENTITIES`] entities.
    pub(crate) fn open_child(
        &self,
        parent: EntityIndex,
        name: &str,
        name_is_valid: bool,
    ) -> Option<(EntityIndex, SegmentId)> {
        if holding() {
            self.count_reentrant();
            return None;
        }
        let now = self.now();
        let mut rec = lock(&self.recording);
        let tree = &mut rec.tree;
        if tree.len() >= MAX_ENTITIES {
            tree.count_over_limit();
            return None;
        }
        let node = if name_is_valid {
            tree.begin_subsegment_valid_name(parent, name, now)
        } else {
            tree.begin_subsegment(parent, name, now)
        };
        let id = tree.id(node).unwrap_or(SegmentId::NOOP);
        Some((node, id))
    }

    /// Records into `node` (SDK code only in `f`, which also gets the service namespace).
    /// Refused when user code holds the recording on this thread, or when the entity's
    /// document was already sent (counted either way).
    pub(crate) fn update<R>(
        &self,
        node: EntityIndex,
        f: impl FnOnce(EntityMut<'_>, &str) -> R,
    ) -> Result<R, RecordError> {
        if holding() {
            self.count_reentrant();
            return Err(RecordError::Reentrant);
        }
        let mut rec = lock(&self.recording);
        let rec = &mut *rec;
        if rec.tree.is_final(node) {
            self.counters.entries_after_send.fetch_add(1, Relaxed);
            return Err(RecordError::AlreadySent);
        }
        Ok(f(rec.tree.entity_mut(node), &rec.namespace))
    }

    /// Runs user code `f` on `node` with the recording locked and the thread marked as
    /// holding it; closes asked for inside `f` are done after it.
    pub(crate) fn hold<R>(
        &self,
        node: EntityIndex,
        f: impl FnOnce(EntityMut<'_>) -> R,
    ) -> Result<R, RecordError> {
        struct Release;
        impl Drop for Release {
            fn drop(&mut self) {
                HOLDING.with(|h| h.set(false));
            }
        }
        let out = {
            if holding() {
                self.count_reentrant();
                return Err(RecordError::Reentrant);
            }
            let mut rec = lock(&self.recording);
            if rec.tree.is_final(node) {
                self.counters.entries_after_send.fetch_add(1, Relaxed);
                return Err(RecordError::AlreadySent);
            }
            HOLDING.with(|h| h.set(true));
            let _release = Release;
            f(rec.tree.entity_mut(node))
        };
        run_deferred();
        Ok(out)
    }

    pub(crate) fn count_reentrant(&self) {
        self.counters.calls_reentrant.fetch_add(1, Relaxed);
    }

    /// Closes `node`: applies `outcome` (what a captured function returned) and `ending`,
    /// then sends what is due. Deferred until the hold ends when user code holds the
    /// recording on this thread.
    pub(crate) fn close(
        self: &Arc<Self>,
        node: EntityIndex,
        ending: Ending,
        outcome: Option<Box<Outcome>>,
    ) {
        let end = self.now();
        if holding() {
            let d = Deferred {
                rec: Arc::clone(self),
                node,
                end,
                ending,
                outcome,
            };
            DEFERRED.with(|v| v.borrow_mut().push(d));
            return;
        }
        self.close_now(node, end, ending, outcome.as_deref());
        if let Some(o) = outcome {
            Outcome::put_back(o);
        }
    }

    fn close_now(&self, node: EntityIndex, end: Timestamp, ending: Ending, out: Option<&Outcome>) {
        let capture = self.capture();
        let mut rec = lock(&self.recording);
        let rec = &mut *rec;
        if rec.tree.is_closed(node) {
            return;
        }
        if let Some(out) = out {
            out.apply(rec.tree.entity_mut(node), &rec.namespace, capture);
        }
        match ending {
            Ending::Returned => {}
            Ending::Panicked(message) => {
                rec.tree
                    .entity_mut(node)
                    .set_fault(true)
                    .add_exception("panic", message, false);
                rec.tree.count_ending(true);
            }
            Ending::Dropped => {
                let _ = rec.tree.entity_mut(node).put_metadata(
                    SDK_NAMESPACE,
                    "dropped_before_completion",
                    &true,
                );
                rec.tree.count_ending(false);
            }
        }
        rec.tree.end(node, end);
        if Some(node) == rec.root {
            if !rec.root_sent {
                rec.root_sent = true;
                self.send(rec, node);
            }
            return;
        }
        if !rec.root_sent {
            return;
        }
        // The root went out before this closed: an open parent will carry it when it closes;
        // otherwise it goes out on its own now.
        let parent = rec.tree.parent(node);
        let parent_closed = parent.is_none_or(|p| rec.tree.is_closed(p));
        if parent_closed && !rec.tree.is_sent(node) {
            self.send(rec, node);
        }
    }

    /// The invocation this recording holds (see `deadline`).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// True once the root's final document went out.
    pub(crate) fn root_sent(&self) -> bool {
        lock(&self.recording).root_sent
    }

    /// Sends the root of invocation `generation` as it stands, open entities `in_progress`,
    /// unless it was already sent; its final document replaces it later.
    pub(crate) fn send_in_progress(&self, generation: u64, node: EntityIndex) {
        let mut rec = lock(&self.recording);
        let rec = &mut *rec;
        if self.generation() != generation || rec.root_sent || rec.root != Some(node) {
            return;
        }
        self.send(rec, node);
        rec.tree.mark_pending(node);
        self.counters
            .invocations_near_deadline
            .fetch_add(1, Relaxed);
    }

    /// Keeps `value` as this recording's inbound `tracestate` (set right after `begin`).
    #[cfg(feature = "service")]
    pub(crate) fn set_tracestate(&self, value: &str) {
        let mut t = lock(&self.tracestate);
        t.clear();
        t.push_str(value);
    }

    /// Runs `f` on the inbound `tracestate`, if there is one.
    #[cfg(feature = "service")]
    pub(crate) fn with_tracestate<R>(&self, f: impl FnOnce(&str) -> R) -> Option<R> {
        let t = lock(&self.tracestate);
        (!t.is_empty()).then(|| f(&t))
    }

    /// The header for a downstream call made under `id`.
    pub(crate) fn header(&self, trace: TraceId, id: SegmentId) -> EncodedHeader {
        let extras = lock(&self.extras);
        let decision = if self.unsampled.load(Relaxed) {
            SamplingDecision::NotSampled
        } else {
            SamplingDecision::Sampled
        };
        TraceHeader::with_extras(trace, Some(id), decision, &extras).encode()
    }
}

/// Closes what was asked for while this thread held a recording.
fn run_deferred() {
    loop {
        let next = DEFERRED.with(|v| v.borrow_mut().pop());
        let Some(d) = next else { break };
        d.rec
            .close_now(d.node, d.end, d.ending, d.outcome.as_deref());
    }
}
