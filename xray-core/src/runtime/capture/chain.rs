//! An error and its `source()` chain, formatted into reused strings before anything is
//! locked: labels from `Debug`, messages from `Display`, both cut.

use std::error::Error;
use std::fmt::{self, Debug, Display, Write as _};

use crate::model::{EntityMut, MAX_CHAIN, MAX_MESSAGE_CHARS};

/// Links of an error chain walked at most (a `source()` chain longer than this is cut, the
/// rest counted as skipped up to here).
const MAX_WALK: usize = 256;

/// An error chain, formatted: each link's label (from its `Debug` form, up to the first `{`,
/// `(`, space or quote: `MissingUserId`, `Foo`) and message (cut at 1000 characters,
/// formatting stops there). Kept as a linked list of reused links, so that each link can be
/// handed to the model as a `'static` error whose `source()` is the next.
#[derive(Debug, Default)]
pub(crate) struct ErrorChain {
    head: Option<Box<Link>>,
    len: usize,
    remote: bool,
}

#[derive(Debug, Default)]
struct Link {
    label: String,
    message: String,
    /// `next` is part of the current chain.
    linked: bool,
    next: Option<Box<Link>>,
}

impl Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for Link {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.next {
            Some(n) if self.linked => Some(&**n),
            _ => None,
        }
    }
}

impl ErrorChain {
    pub(super) fn clear(&mut self) {
        let mut at = self.head.as_deref_mut();
        while let Some(l) = at {
            if !l.linked && l.label.is_empty() {
                break;
            }
            l.label.clear();
            l.message.clear();
            l.linked = false;
            at = l.next.as_deref_mut();
        }
        self.len = 0;
        self.remote = false;
    }

    /// The link at `self.len` (reused, or added), linked from the previous one.
    fn push(&mut self) -> &mut Link {
        let mut slot = &mut self.head;
        for _ in 0..self.len {
            let l = slot.as_mut().expect("links up to len exist");
            l.linked = true;
            slot = &mut l.next;
        }
        self.len += 1;
        slot.get_or_insert_with(Box::default)
    }

    /// Formats `error` and its `source()` chain (labels and messages of the first
    /// [`MAX_CHAIN`] links; the rest only counted, as the model counts them).
    pub(crate) fn fill(&mut self, error: &dyn Error, remote: bool) {
        self.clear();
        self.remote = remote;
        let mut link: Option<&dyn Error> = Some(error);
        while let Some(e) = link {
            if self.len == MAX_CHAIN + MAX_WALK {
                break;
            }
            let full = self.len < MAX_CHAIN;
            let l = self.push();
            if full {
                write_label(&mut l.label, e);
                write_message(&mut l.message, e);
            } else {
                l.label.push('-');
            }
            link = e.source();
        }
    }

    /// Formats one error known by `label` and `message`.
    pub(crate) fn fill_one(&mut self, label: &str, message: Option<&dyn Display>) {
        self.clear();
        let l = self.push();
        l.label.push_str(label);
        if let Some(m) = message {
            write_message(&mut l.message, m);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The outermost message.
    pub(super) fn first_message(&self) -> &str {
        self.head.as_deref().map_or("", |l| l.message.as_str())
    }

    /// Records the chain as `cause.exceptions` and returns the outermost exception's id.
    pub(crate) fn record(&self, e: &mut EntityMut<'_>) {
        if let Some(head) = self.head.as_deref().filter(|_| self.len > 0) {
            e.record_error(head, Some(&head.label), self.remote);
        }
    }
}

/// Writes the label of `e`: its `Debug` form up to the first `{`, `(`, space or quote, at
/// most 100 characters (the variant for enums, the type for structs).
pub(crate) fn write_label(out: &mut String, e: &dyn Debug) {
    struct Label<'a>(&'a mut String);
    impl fmt::Write for Label<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for c in s.chars() {
                if matches!(c, '{' | '(' | ' ' | '"') || self.0.len() >= 100 {
                    return Err(fmt::Error);
                }
                self.0.push(c);
            }
            Ok(())
        }
    }
    out.clear();
    let _ = write!(Label(out), "{e:?}");
    if out.is_empty() {
        out.push_str("Error");
    }
}

/// Writes `m` into `out`, stopping one character past [`MAX_MESSAGE_CHARS`] (so the model
/// sees that it was cut, and counts it).
pub(crate) fn write_message(out: &mut String, m: &(impl Display + ?Sized)) {
    struct Limited<'a>(&'a mut String, usize);
    impl fmt::Write for Limited<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for c in s.chars() {
                if self.1 > MAX_MESSAGE_CHARS {
                    return Err(fmt::Error);
                }
                self.0.push(c);
                self.1 += 1;
            }
            Ok(())
        }
    }
    out.clear();
    let _ = write!(Limited(out, 0), "{m}");
}

/// The last path segment of a type name, without generics (`Vec` for `alloc::vec::Vec<u8>`).
pub(crate) fn short_type_name(full: &str) -> &str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}
