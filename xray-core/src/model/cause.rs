//! The `cause` field: recorded exceptions with their stacks, or a reference to one.

use std::fmt::{self, Debug, Display, Write as _};

use crate::id::SegmentId;
use crate::recycle::{Recycle, Reset};

/// The most exceptions recorded for one error chain; deeper `source()`s are counted in
/// `skipped` on the last one.
pub const MAX_CHAIN: usize = 16;

/// The most characters of an exception message that are kept.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// Formats an exception message into a bounded buffer: the one place messages are cut.
///
/// Writing stops at [`MAX_MESSAGE_CHARS`] characters (on a character boundary): formatting is
/// told to stop there (`fmt::Error`), so a `Display` producing megabytes costs no more than
/// its first thousand characters, and nothing beyond is ever held.
pub(crate) struct ErrorText<'a> {
    out: &'a mut String,
    room: usize,
    cut: bool,
}

impl ErrorText<'_> {
    /// Replaces `out` with `value`'s `Display`, cut at [`MAX_MESSAGE_CHARS`] characters;
    /// true when it was cut.
    pub(crate) fn display(out: &mut String, value: &(impl Display + ?Sized)) -> bool {
        Self::format(out, format_args!("{value}"))
    }

    /// Replaces `out` with `value`'s `Debug`, cut at [`MAX_MESSAGE_CHARS`] characters; true
    /// when it was cut.
    #[allow(dead_code, reason = "for the runtime's `Debug`-only errors")]
    pub(crate) fn debug(out: &mut String, value: &(impl Debug + ?Sized)) -> bool {
        Self::format(out, format_args!("{value:?}"))
    }

    fn format(out: &mut String, args: fmt::Arguments<'_>) -> bool {
        out.clear();
        let mut text = ErrorText {
            out,
            room: MAX_MESSAGE_CHARS,
            cut: false,
        };
        // An error is either our cut or the value's own `fmt` failing: both keep what was
        // written so far.
        let _ = text.write_fmt(args);
        text.cut
    }
}

impl fmt::Write for ErrorText<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.room {
            // Fast path: even if every byte were a character, it fits.
            self.room -= s.chars().count();
            self.out.push_str(s);
            return Ok(());
        }
        match s.char_indices().nth(self.room) {
            Some((at, _)) => {
                self.out.push_str(&s[..at]);
                self.room = 0;
                self.cut = true;
                Err(fmt::Error)
            }
            None => {
                self.room -= s.chars().count();
                self.out.push_str(s);
                Ok(())
            }
        }
    }
}

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

/// Exceptions and paths kept per entity across resets.
const CAUSE_KEEP: usize = MAX_CHAIN;

impl Cause {
    pub(crate) fn trim(&mut self) {
        self.paths.shrink_spare(CAUSE_KEEP);
        self.exceptions.shrink_spare(CAUSE_KEEP);
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Endless;
    impl Display for Endless {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            // Stops only when the writer refuses: proves formatting ends at the cut.
            loop {
                f.write_str("é")?;
            }
        }
    }

    #[test]
    fn messages_are_cut_on_a_char_boundary_and_formatting_stops() {
        let mut out = String::from("old");
        assert!(ErrorText::display(&mut out, &Endless));
        assert_eq!(out.chars().count(), MAX_MESSAGE_CHARS);
        assert!(out.chars().all(|c| c == 'é'));

        assert!(!ErrorText::display(&mut out, "short"));
        assert_eq!(out, "short");
        let exact = "a".repeat(MAX_MESSAGE_CHARS);
        assert!(!ErrorText::display(&mut out, exact.as_str()));
        assert_eq!(out, exact);
        let over = format!("{exact}ü");
        assert!(ErrorText::display(&mut out, over.as_str()));
        assert_eq!(out, exact);
        assert!(!ErrorText::debug(&mut out, &Some(1)));
        assert_eq!(out, "Some(1)");
    }
}
