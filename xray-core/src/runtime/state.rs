//! The recording of one invocation: its entity tree, its datagram buffer, and what has been
//! sent. Shared by the tasks and threads of that invocation through an `Arc`, reused by later
//! invocations once every handle to it is gone.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::emit::{EmitBuffer, Emitter};
use crate::id::TraceId;
use crate::model::{Emission, EntityIndex, EntityTree, NONE};
use crate::time::{Clock, Timestamp};

#[derive(Debug)]
pub(crate) struct InvocationState {
    recording: Mutex<Recording>,
    pub(crate) emitter: Emitter,
    pub(crate) clock: Clock,
}

#[derive(Debug)]
pub(crate) struct Recording {
    pub(crate) tree: EntityTree,
    pub(crate) buf: EmitBuffer,
    /// The top entity of the invocation (the handler subsegment).
    pub(crate) root: Option<EntityIndex>,
    /// The root's document has been sent; entities closing later go out on their own.
    pub(crate) root_sent: bool,
    /// Metadata namespace for responses, errors and `put_metadata` (the service name).
    pub(crate) namespace: String,
    pub(crate) capture_response: bool,
    /// The incoming header's extra fields (`Lineage`, …), passed on in downstream headers.
    pub(crate) header_extras: String,
    pub(crate) capture_error: bool,
}

impl InvocationState {
    pub(crate) fn new(emitter: Emitter, clock: Clock) -> InvocationState {
        InvocationState {
            recording: Mutex::new(Recording {
                tree: EntityTree::new(TraceId::NOOP),
                buf: EmitBuffer::new(),
                root: None,
                root_sent: false,
                namespace: String::new(),
                capture_response: true,
                header_extras: String::new(),
                capture_error: true,
            }),
            emitter,
            clock,
        }
    }

    /// Locks the recording. A panic elsewhere while it was held does not stop tracing: the
    /// data is plain values, so a poisoned lock is taken over as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Recording> {
        self.recording
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

impl Recording {
    pub(crate) fn reset(&mut self, trace_id: TraceId, namespace: &str, header_extras: &str) {
        self.tree.reset(trace_id);
        self.header_extras.clear();
        self.header_extras.push_str(header_extras);
        self.root = None;
        self.root_sent = false;
        self.namespace.clear();
        self.namespace.push_str(namespace);
    }

    /// Closes `entity` and sends what is due: the whole tree when it is the root, the entity's
    /// own subtree when the root went out before it closed and its parent is closed (an open
    /// parent will carry it when it closes).
    pub(crate) fn close(&mut self, entity: EntityIndex, end: Timestamp, emitter: &Emitter) {
        self.tree.end(entity, end);
        if Some(entity) == self.root {
            if !self.root_sent {
                self.root_sent = true;
                emitter.emit(&mut self.tree, entity, &mut self.buf);
            }
            return;
        }
        if !self.root_sent {
            return;
        }
        let parent = self.tree.node(entity.0).parent;
        let parent_closed = parent == NONE || self.tree.node(parent).end.is_some();
        if parent_closed && self.tree.node(entity.0).emission != Emission::Sent {
            emitter.emit(&mut self.tree, entity, &mut self.buf);
        }
    }
}
