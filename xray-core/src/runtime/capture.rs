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
use std::fmt::{self, Debug, Display};

use serde::{Serialize, Serializer};

use crate::annotation::cut_chars;
use crate::model::{EntityMut, MAX_MESSAGE_CHARS};

mod chain;
mod dispatch;

pub(crate) use chain::{ErrorChain, short_type_name, write_label};
pub use dispatch::{
    ErrorBoxed, ErrorBoxedSync, ErrorDebug, ErrorDisplay, ErrorOpaque, ErrorStd, ResponseOther,
    ResponseSerialize, Wrap,
};

/// The metadata namespace for the SDK's own notes.
pub(crate) const SDK_NAMESPACE: &str = "xray_sdk";

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
