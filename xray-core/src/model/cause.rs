//! The `cause` field: recorded exceptions with their stacks, or a reference to one.

use crate::id::SegmentId;
use crate::recycle::{Recycle, Reset};

/// The most exceptions recorded for one error chain; deeper `source()`s are counted in
/// `skipped` on the last one.
pub const MAX_CHAIN: usize = 16;

/// The most characters of an exception message that are kept.
pub const MAX_MESSAGE_CHARS: usize = 1000;

#[derive(Debug, Default)]
pub(crate) struct StackFrame {
    pub(crate) path: String,
    pub(crate) line: Option<u32>,
    pub(crate) label: String,
}

impl Reset for StackFrame {
    fn reset(&mut self) {
        self.path.clear();
        self.line = None;
        self.label.clear();
    }
}

#[derive(Debug, Default)]
pub(crate) struct Exception {
    pub(crate) id: SegmentId,
    pub(crate) message: String,
    pub(crate) type_name: String,
    pub(crate) remote: bool,
    pub(crate) truncated: u32,
    pub(crate) skipped: u32,
    pub(crate) cause: Option<SegmentId>,
    pub(crate) stack: Recycle<StackFrame>,
}

impl Default for SegmentId {
    fn default() -> Self {
        SegmentId::NOOP
    }
}

impl Reset for Exception {
    fn reset(&mut self) {
        self.id = SegmentId::NOOP;
        self.message.clear();
        self.type_name.clear();
        self.remote = false;
        self.truncated = 0;
        self.skipped = 0;
        self.cause = None;
        self.stack.clear();
    }
}

#[derive(Debug, Default)]
pub(crate) struct Cause {
    pub(crate) working_directory: String,
    pub(crate) paths: Recycle<String>,
    pub(crate) exceptions: Recycle<Exception>,
    /// `cause` written as the id of an exception recorded elsewhere in the trace.
    pub(crate) reference: Option<SegmentId>,
}

impl Cause {
    pub(crate) fn is_empty(&self) -> bool {
        self.reference.is_none()
            && self.working_directory.is_empty()
            && self.paths.is_empty()
            && self.exceptions.is_empty()
    }
}

impl Reset for Cause {
    fn reset(&mut self) {
        self.working_directory.clear();
        self.paths.clear();
        self.exceptions.clear();
        self.reference = None;
    }
}
