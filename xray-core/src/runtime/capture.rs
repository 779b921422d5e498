//! What a captured function's outcome records: its response as metadata, its error as a fault
//! with `cause.exceptions` and metadata.
//!
//! The macros choose how to record a value at the call site, where its type is known, with
//! autoref specialisation: `(&Wrap(v)).__xray_response(r)` resolves to the `Serialize`
//! implementation when there is one and to the no-op otherwise; errors go down a ladder from
//! `std::error::Error` (with its `source()` chain) through boxed errors, `Display` and `Debug`
//! to an opaque label. No type bound is ever added to the user's function.
//!
//! User code (`Serialize`, `Display`, `Debug`) runs here, before anything is locked: the
//! [`Recorder`] writes into a per-thread [`Outcome`] (reused, so nothing is allocated once
//! warm), which the recording layer copies into the entity when it closes it.

use std::cell::Cell;
use std::error::Error;
use std::fmt::{self, Debug, Display, Write as _};

use serde::{Serialize, Serializer};

use crate::annotation::cut_chars;
use crate::model::{EntityMut, MAX_CHAIN, MAX_MESSAGE_CHARS};

/// The metadata namespace for the SDK's own notes.
pub(crate) const SDK_NAMESPACE: &str = "xray_sdk";

/// Links of an error chain walked at most (a `source()` chain longer than this is cut, the
/// rest counted as skipped up to here).
const MAX_WALK: usize = 256;

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
    /// `(capture_response, capture_error)` given the invocation's defaults.
    pub(crate) fn capture(&self, defaults: (bool, bool)) -> (bool, bool) {
        (
            self.capture_response.unwrap_or(defaults.0),
            self.capture_error.unwrap_or(defaults.1),
        )
    }
}

thread_local! {
    static SCRATCH: Cell<Option<Box<Outcome>>> = const { Cell::new(None) };
}

/// What a captured function (or a manual call) produced, formatted and serialised before any
/// lock is taken.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    response_key: &'static str,
    response: Vec<u8>,
    response_state: Written,
    error_key: &'static str,
    fault: bool,
    pub(crate) chain: ErrorChain,
}

/// Whether a response value was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Written {
    #[default]
    Nothing,
    Value,
    Failed,
}

impl Outcome {
    /// This thread's scratch outcome (a fresh one when it is in use higher up the stack).
    #[allow(
        clippy::unnecessary_box_returns,
        reason = "kept boxed in the thread-local and in deferred closes: moves are one pointer"
    )]
    pub(crate) fn take() -> Box<Outcome> {
        SCRATCH.with(Cell::take).unwrap_or_default()
    }

    /// Empties `o` and keeps it for this thread's next use.
    pub(crate) fn put_back(mut o: Box<Outcome>) {
        o.response_state = Written::Nothing;
        o.fault = false;
        o.response.clear();
        o.chain.clear();
        SCRATCH.with(|s| s.set(Some(o)));
    }

    /// Copies the outcome into `e` (SDK code only: no user code runs here).
    pub(crate) fn apply(&self, mut e: EntityMut<'_>, namespace: &str, capture: (bool, bool)) {
        if capture.0 {
            match self.response_state {
                Written::Nothing => {}
                Written::Value => {
                    let _ = put_json(&mut e, namespace, self.response_key, &self.response);
                }
                Written::Failed => {
                    let _ = e.put_metadata(namespace, self.response_key, &Unserializable);
                }
            }
        }
        if !self.fault {
            return;
        }
        e.set_fault(true);
        if capture.1 && !self.chain.is_empty() {
            self.chain.record(&mut e);
            let first = self.chain.first_message();
            if !first.is_empty() {
                let _ = e.put_metadata(
                    namespace,
                    self.error_key,
                    cut_chars(first, MAX_MESSAGE_CHARS),
                );
            }
        }
    }
}

/// Writes serialised JSON (from [`serialize_into`]) as a metadata value, without parsing it
/// again.
pub(crate) fn put_json(
    e: &mut EntityMut<'_>,
    namespace: &str,
    key: &str,
    json: &[u8],
) -> Result<(), crate::RecordError> {
    let done = match std::str::from_utf8(json) {
        Ok(text) => e.put_metadata(namespace, key, &RawJson(text)),
        Err(_) => e.put_metadata(namespace, key, &Unserializable),
    };
    done.map(|_| ())
}

/// serde_json's raw-value protocol (feature `raw_value`): its serializer writes this
/// struct's one field as is. Parsing the text into a `RawValue` instead would allocate for
/// nested values; the text is serde_json's own output, so it is valid JSON already.
const RAW_TOKEN: &str = "$serde_json::private::RawValue";

struct RawJson<'a>(&'a str);

impl Serialize for RawJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct(RAW_TOKEN, 1)?;
        st.serialize_field(RAW_TOKEN, self.0)?;
        st.end()
    }
}

/// A value whose serialisation fails: lets the model count a refused value its own way.
pub(crate) struct Unserializable;

impl Serialize for Unserializable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refused"))
    }
}

/// Serialises `value` into `out` (cleared first); false when it fails.
pub(crate) fn serialize_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> bool {
    out.clear();
    serde_json::to_writer(&mut *out, value).is_ok()
}

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
    fn clear(&mut self) {
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
    fn first_message(&self) -> &str {
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

/// Records the outcome of one captured function (given to the closure of `finish`).
#[derive(Debug)]
pub struct Recorder<'a> {
    out: &'a mut Outcome,
    capture: (bool, bool),
}

impl<'a> Recorder<'a> {
    pub(crate) fn new(
        out: &'a mut Outcome,
        options: &'static CaptureOptions,
        capture: (bool, bool),
    ) -> Recorder<'a> {
        out.response_key = options.response_key;
        out.error_key = options.error_key;
        Recorder { out, capture }
    }

    /// Records `value` as the metadata `"<name> response"` in the service namespace.
    pub fn response<T: Serialize + ?Sized>(&mut self, value: &T) {
        if !self.capture.0 {
            return;
        }
        // The value counts as written only once it is: a panicking `Serialize` leaves
        // nothing half-recorded.
        self.out.response_state = Written::Nothing;
        self.out.response_state = if serialize_into(&mut self.out.response, value) {
            Written::Value
        } else {
            Written::Failed
        };
    }

    /// Marks a fault; with error capture on, records `error` and its `source()` chain as
    /// exceptions and its message as the metadata `"<name> error"`. Every level labels an
    /// exception the same way, from its `Debug` form; `_type_name` is kept for the macros.
    pub fn error(&mut self, error: &dyn Error, _type_name: Option<&str>) {
        self.out.fault = true;
        if self.capture.1 {
            self.out.chain.fill(error, false);
        }
    }

    /// Like [`Recorder::error`] for an error that is only `Display`: labelled by its type.
    pub fn error_display(&mut self, error: &dyn Display, type_name: &str) {
        self.out.fault = true;
        if self.capture.1 {
            self.out
                .chain
                .fill_one(short_type_name(type_name), Some(error));
        }
    }

    /// Like [`Recorder::error`] for an error that is only `Debug`: labelled from its `Debug`
    /// form, which is also the message.
    pub fn error_debug(&mut self, error: &dyn Debug, _type_name: &str) {
        self.out.fault = true;
        if self.capture.1 {
            let mut label = String::new();
            write_label(&mut label, error);
            self.out
                .chain
                .fill_one(&label, Some(&DebugAsDisplay(error)));
        }
    }

    /// Marks a fault for an error labelled from `debug`, with the message `message`.
    pub(crate) fn error_labelled(&mut self, debug: &dyn Debug, message: &dyn Display) {
        self.out.fault = true;
        if self.capture.1 {
            let mut label = String::new();
            write_label(&mut label, debug);
            self.out.chain.fill_one(&label, Some(message));
        }
    }

    /// Marks a fault for an error that can only be named.
    pub fn error_opaque(&mut self, type_name: &str) {
        self.out.fault = true;
        if self.capture.1 {
            self.out.chain.fill_one(short_type_name(type_name), None);
        }
    }
}

struct DebugAsDisplay<'a>(&'a dyn Debug);

impl Display for DebugAsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Debug::fmt(self.0, f)
    }
}

/// The value a macro hands to the dispatch traits.
#[derive(Debug)]
pub struct Wrap<'a, T: ?Sized>(pub &'a T);

/// Response dispatch, first choice: the value is `Serialize`.
pub trait ResponseSerialize {
    /// Records the response.
    fn __xray_response(&self, r: &mut Recorder<'_>);
}

impl<T: Serialize + ?Sized> ResponseSerialize for Wrap<'_, T> {
    fn __xray_response(&self, r: &mut Recorder<'_>) {
        r.response(self.0);
    }
}

/// Response dispatch, fallback: the value cannot be serialised and is not recorded.
pub trait ResponseOther {
    /// Does nothing.
    fn __xray_response(&self, r: &mut Recorder<'_>);
}

impl<T: ?Sized> ResponseOther for &Wrap<'_, T> {
    fn __xray_response(&self, _: &mut Recorder<'_>) {}
}

/// Error dispatch, first choice: `std::error::Error`, with its `source()` chain.
pub trait ErrorStd {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: Error> ErrorStd for &&&&&Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error(self.0, Some(std::any::type_name::<T>()));
    }
}

/// Error dispatch: boxed thread-safe errors (`lambda_runtime::Error`, `anyhow::Error`).
pub trait ErrorBoxedSync {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: AsRef<dyn Error + Send + Sync + 'static> + ?Sized> ErrorBoxedSync for &&&&Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        let e: &(dyn Error + Send + Sync + 'static) = self.0.as_ref();
        r.error(e, None);
    }
}

/// Error dispatch: boxed errors (`Box<dyn Error>`).
pub trait ErrorBoxed {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: AsRef<dyn Error + 'static> + ?Sized> ErrorBoxed for &&&Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error(self.0.as_ref(), None);
    }
}

/// Error dispatch: errors that are only `Display`.
pub trait ErrorDisplay {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: Display> ErrorDisplay for &&Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error_display(self.0, std::any::type_name::<T>());
    }
}

/// Error dispatch: errors that are only `Debug`.
pub trait ErrorDebug {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: Debug> ErrorDebug for &Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error_debug(self.0, std::any::type_name::<T>());
    }
}

/// Error dispatch, last resort: only the type's name is known.
pub trait ErrorOpaque {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: ?Sized> ErrorOpaque for Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error_opaque(std::any::type_name::<T>());
    }
}
