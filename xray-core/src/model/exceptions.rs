//! The `cause` of an entity: [`EntityMut::record_error`], [`EntityMut::add_exception`] and
//! stack frames. Every message goes through [`ErrorText`], the one place messages are cut.

use std::fmt::{Display, Write as _};

use crate::id::SegmentId;

use super::cause::{Exception, MAX_CHAIN};
use super::record::{EntityMut, MAX_STACK_FRAMES};
use super::{EntityTree, ErrorText};

/// What an exception is charged against the budget, beyond its message and type.
const EXCEPTION_BYTES: usize = 64;

impl EntityMut<'_> {
    /// Records an error and its `source()` chain in `cause.exceptions`, one exception per link
    /// (at most 16; further links are counted in `skipped`). Each exception names the next as
    /// its `cause`. Returns the id of the outermost exception.
    ///
    /// `type_name` labels the outermost error (the macros pass the Rust type); the links of the
    /// chain are labelled from their `Debug` form, up to the first `{`, `(` or space. Messages
    /// are cut at [`MAX_MESSAGE_CHARS`](crate::model::MAX_MESSAGE_CHARS) characters. Links that would
    /// take the entity over its byte budget are not recorded (and are counted).
    pub fn record_error(
        &mut self,
        error: &dyn std::error::Error,
        type_name: Option<&str>,
        remote: bool,
    ) -> SegmentId {
        let mut ids = [SegmentId::NOOP; MAX_CHAIN];
        let mut depth = 0;
        let mut link: Option<&dyn std::error::Error> = Some(error);
        while let Some(e) = link {
            if depth == MAX_CHAIN {
                break;
            }
            ids[depth] = self.tree.next_id_pub();
            depth += 1;
            link = e.source();
        }
        let mut skipped = 0u32;
        while let Some(e) = link {
            skipped += 1;
            link = e.source();
        }
        let mut link: Option<&dyn std::error::Error> = Some(error);
        for i in 0..depth {
            let e = link.expect("chain length counted above");
            let recorded = self.push_exception(ids[i], remote, |ex| {
                let cut = ErrorText::display(&mut ex.message, e);
                match (i, type_name) {
                    (0, Some(t)) => ex.type_name.push_str(t),
                    _ => debug_type_label(e, &mut ex.type_name),
                }
                if i + 1 < depth {
                    ex.cause = Some(ids[i + 1]);
                } else if skipped > 0 {
                    ex.skipped = skipped;
                }
                cut
            });
            if !recorded {
                break;
            }
            link = e.source();
        }
        ids[0]
    }

    /// Adds one exception to `cause.exceptions` and returns its id; use
    /// [`EntityMut::add_stack_frame`] to give it a stack. The message is cut at
    /// [`MAX_MESSAGE_CHARS`](crate::model::MAX_MESSAGE_CHARS) characters (counted).
    pub fn add_exception(&mut self, type_name: &str, message: &str, remote: bool) -> SegmentId {
        self.add_exception_display(type_name, message, remote)
    }

    /// [`EntityMut::add_exception`] with the message formatted from `message`, which stops
    /// formatting at [`MAX_MESSAGE_CHARS`](crate::model::MAX_MESSAGE_CHARS) characters.
    pub fn add_exception_display(
        &mut self,
        type_name: &str,
        message: &(impl Display + ?Sized),
        remote: bool,
    ) -> SegmentId {
        let id = self.tree.next_id_pub();
        self.push_exception(id, remote, |ex| {
            ex.type_name.push_str(type_name);
            ErrorText::display(&mut ex.message, message)
        });
        id
    }

    /// Appends an exception filled by `fill` (which returns whether the message was cut), if
    /// the budget allows; false when it was refused.
    fn push_exception(
        &mut self,
        id: SegmentId,
        remote: bool,
        fill: impl FnOnce(&mut Exception) -> bool,
    ) -> bool {
        let (node, counts) = self.parts();
        let exceptions = &mut node.extras_mut().cause.exceptions;
        let ex = exceptions.push();
        ex.id = id;
        ex.remote = remote;
        let cut = fill(ex);
        let cost = EXCEPTION_BYTES + ex.message.len() + ex.type_name.len();
        if node.charge(counts, cost, 0).is_err() {
            node.extras_mut().cause.exceptions.pop();
            return false;
        }
        if cut {
            counts.strings_truncated += 1;
        }
        true
    }

    /// Adds a frame to the stack of the exception `exception` (from [`EntityMut::add_exception`]
    /// or [`EntityMut::record_error`]). Frames beyond 32, or beyond the entity's byte budget,
    /// are counted in `truncated`.
    pub fn add_stack_frame(
        &mut self,
        exception: SegmentId,
        path: &str,
        line: Option<u32>,
        label: &str,
    ) -> &mut Self {
        let (node, counts) = self.parts();
        let Some(pos) = node
            .extras
            .as_ref()
            .and_then(|x| x.cause.exceptions.iter().position(|e| e.id == exception))
        else {
            return self;
        };
        let full = node.extras_mut().cause.exceptions.as_slice()[pos]
            .stack
            .len()
            >= MAX_STACK_FRAMES;
        let fits = !full
            && node
                .charge(counts, 16 + path.len() + label.len(), 0)
                .is_ok();
        let ex = &mut node.extras_mut().cause.exceptions.as_mut_slice()[pos];
        if fits {
            let f = ex.stack.push();
            f.path.push_str(path);
            f.line = line;
            f.label.push_str(label);
        } else {
            ex.truncated += 1;
        }
        self
    }
}

impl EntityTree {
    pub(crate) fn next_id_pub(&mut self) -> SegmentId {
        self.next_id()
    }
}

/// Labels an error from its `Debug` form: `ParseIntError { kind: .. }` gives `ParseIntError`.
fn debug_type_label(e: &dyn std::error::Error, out: &mut String) {
    struct Label<'a> {
        out: &'a mut String,
        done: bool,
    }
    impl std::fmt::Write for Label<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            if self.done {
                return Err(std::fmt::Error);
            }
            for c in s.chars() {
                if c == '{' || c == '(' || c == ' ' || c == '"' || self.out.len() >= 100 {
                    self.done = true;
                    return Err(std::fmt::Error);
                }
                self.out.push(c);
            }
            Ok(())
        }
    }
    let mut l = Label { out, done: false };
    let _ = write!(l, "{e:?}");
    if out.is_empty() {
        out.push_str("Error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EntityIndex, MAX_MESSAGE_CHARS};
    use crate::{TraceId, model::Timestamp};

    #[derive(Debug)]
    struct Outer(std::num::ParseIntError);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("could not read the count")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    fn tree() -> (EntityTree, EntityIndex) {
        let mut t = EntityTree::new(TraceId::NOOP);
        t.use_sequential_ids(1);
        let r = t.begin_segment("r", None, Timestamp::default());
        (t, r)
    }

    fn exceptions(t: &EntityTree, r: EntityIndex) -> &[Exception] {
        t.node(r.0)
            .extras
            .as_ref()
            .unwrap()
            .cause
            .exceptions
            .as_slice()
    }

    #[test]
    fn error_chain_becomes_linked_exceptions() {
        let (mut t, r) = tree();
        let err = Outer("x".parse::<u8>().unwrap_err());
        let id = t.entity_mut(r).record_error(&err, Some("my::Outer"), false);
        let ex = exceptions(&t, r);
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].id, id);
        assert_eq!(ex[0].type_name, "my::Outer");
        assert_eq!(ex[0].message, "could not read the count");
        assert_eq!(ex[0].cause, Some(ex[1].id));
        assert_eq!(ex[1].type_name, "ParseIntError");
        assert_eq!(ex[1].message, "invalid digit found in string");
    }

    #[test]
    fn messages_are_cut_one_way() {
        #[derive(Debug)]
        struct Huge;
        impl std::fmt::Display for Huge {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&"ß".repeat(5000))
            }
        }
        impl std::error::Error for Huge {}
        let (mut t, r) = tree();
        let long = "ü".repeat(MAX_MESSAGE_CHARS + 1);
        let mut e = t.entity_mut(r);
        e.record_error(&Huge, None, false);
        e.add_exception("Str", &long, false);
        e.add_exception_display("Disp", &Huge, true);
        for ex in exceptions(&t, r) {
            assert_eq!(ex.message.chars().count(), MAX_MESSAGE_CHARS);
        }
        assert_eq!(t.counts().strings_truncated, 3);
    }

    #[test]
    fn stack_frames_are_capped() {
        let (mut t, r) = tree();
        let mut e = t.entity_mut(r);
        let id = e.add_exception("Panic", "boom", false);
        for i in 0..40 {
            e.add_stack_frame(id, "src/lib.rs", Some(i), "f");
        }
        let ex = &exceptions(&t, r)[0];
        assert_eq!(ex.stack.len(), MAX_STACK_FRAMES);
        assert_eq!(ex.truncated, 8);
    }

    #[test]
    fn exceptions_beyond_the_budget_are_refused_and_counted() {
        let (mut t, r) = tree();
        let long = "m".repeat(MAX_MESSAGE_CHARS);
        let mut n = 0;
        while t.counts().entries_over_budget == 0 {
            t.entity_mut(r).add_exception("E", &long, false);
            n += 1;
            assert!(n < 1000, "the budget never refused");
        }
        assert_eq!(exceptions(&t, r).len(), n - 1);
        assert!(t.node(r.0).bytes <= crate::model::MAX_ENTITY_BYTES);
    }
}
