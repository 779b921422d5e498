//! Entering a recorded span makes its subsegment the current X-Ray entity; exiting puts back
//! the one before.
//!
//! Only the entity of the running invocation's frame moves (see
//! `runtime::context::Handle::switch_entity`), never the frame: under `run_concurrent` the
//! frame is swapped out around each poll, and the change travels with it, so a span entered in
//! one invocation cannot make its subsegment current in another. A span whose subsegment is
//! not in the running invocation (entered outside any invocation, on a thread without the
//! trace, or after its invocation ended) changes nothing.

use std::cell::RefCell;

use tracing_core::span::Id;

use crate::runtime::context::{self, Handle, Switched};

thread_local! {
    /// The switches made by spans entered on this thread and not yet exited, most recent last.
    /// Exits are matched by span id: guards held across an `.await` under `run_concurrent`
    /// interleave the entries of several invocations.
    static ENTERED: RefCell<Vec<(u64, Switched)>> = const { RefCell::new(Vec::new()) };
}

/// `span` is entered on this thread: its subsegment (`handle`) becomes current if it belongs
/// to the running invocation.
pub(super) fn enter(span: &Id, handle: &Handle) {
    if let Some(switched) = handle.switch_entity() {
        ENTERED.with(|e| e.borrow_mut().push((span.into_u64(), switched)));
    }
}

/// `span` is exited on this thread: the entity its latest enter replaced comes back, if that
/// enter changed anything and its subsegment is still the current entity.
pub(super) fn exit(span: &Id) {
    let id = span.into_u64();
    let switched = ENTERED.with(|e| {
        let mut e = e.borrow_mut();
        let at = e.iter().rposition(|(s, _)| *s == id)?;
        Some(e.remove(at).1)
    });
    if let Some(switched) = switched {
        context::restore_entity(switched);
    }
}
