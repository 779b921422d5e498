//! Conformance checks for what reaches the X-Ray daemon (feature `validate`, implied by
//! `testing`).
//!
//! A [`Validator`] checks a datagram the way the daemon does (size, the header line, a
//! non-empty body), then the document against the official segment schema (v1.0.0, draft-04,
//! embedded in the crate) and against the documented rules the schema leaves out. Schema
//! violations and rule violations are reported separately, because documents from the official
//! SDKs pass the schema yet sometimes break a rule (and the other way round).
//!
//! The rules, applied to the document and to every subsegment embedded in it:
//!
//! - exactly one of `end_time` and `in_progress: true`;
//! - `id`, `parent_id`, `precursor_ids` and exception ids are 16 lowercase hex digits;
//! - `trace_id` is `1-` then 8 and 24 lowercase hex digits;
//! - a document sent on its own has a `trace_id`, and one with `type: "subsegment"` also a
//!   `parent_id`;
//! - names are non-empty, at most 200 characters, and use only the characters of the schema's
//!   top-level `name` pattern (which the schema itself only applies at the top level);
//! - `end_time` is not before `start_time`;
//! - no number is NaN or infinite.
//!
//! Every message starts with a path: `<root>` for the document itself, otherwise JSON-pointer
//! style without the leading slash (`subsegments/0/subsegments/2: ...`).
//!
//! ```
//! use xray_core::validate::Validator;
//!
//! let validator = Validator::new();
//! let datagram = b"{\"format\":\"json\",\"version\":1}\n\
//!     {\"trace_id\":\"1-5759e988-bd862e3fe1be46a994272793\",\"id\":\"defdfd9912dc5a56\",\
//!     \"name\":\"test\",\"start_time\":1461096053.37518,\"end_time\":1461096053.4042}";
//! let (doc, report) = validator.check_datagram(datagram).unwrap();
//! assert!(report.is_valid(), "{report}");
//! assert_eq!(doc["name"], "test");
//! ```

mod datagram;
mod rules;
mod schema;
#[cfg(test)]
mod tests;

pub use datagram::{DatagramError, MAX_DATAGRAM_BYTES};

use std::fmt;
use std::sync::OnceLock;

use serde_json::Value;

use crate::emit::MAX_UDP_PAYLOAD;
use rules::{Level, Rules};
use schema::Compiled;

/// How the document itself is named in messages.
const ROOT: &str = "<root>";

/// At most this many messages of each kind are kept per report; a hostile document could
/// otherwise produce one per byte.
pub const MAX_MESSAGES: usize = 256;

/// Checks datagrams and segment documents. Build one and share it: it is `Send + Sync`, and
/// compiling the schema is the expensive part.
pub struct Validator {
    segment: Compiled,
    subsegment: Compiled,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("schema_error", &self.segment.error())
            .finish_non_exhaustive()
    }
}

impl Default for Validator {
    fn default() -> Self {
        Validator::new()
    }
}

/// What a document broke. Empty lists mean the document conforms.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Violations of the official schema, one message each.
    pub schema_errors: Vec<String>,
    /// Violations of the documented rules the schema leaves out, one message each.
    pub rule_errors: Vec<String>,
}

impl Report {
    /// True when the document passes both the schema and the rules.
    pub fn is_valid(&self) -> bool {
        self.schema_errors.is_empty() && self.rule_errors.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_valid() {
            return f.write_str("valid");
        }
        let mut first = true;
        for (kind, errors) in [("schema", &self.schema_errors), ("rule", &self.rule_errors)] {
            for e in errors {
                if !first {
                    f.write_str("\n")?;
                }
                first = false;
                write!(f, "{kind}: {e}")?;
            }
        }
        Ok(())
    }
}

/// Why bytes are not a segment document at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentError {
    /// Not valid UTF-8; the first `valid_up_to` bytes are.
    NotUtf8 {
        /// Length of the valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// Not one JSON value (syntax error, `NaN`, an out-of-range number, trailing data, ...);
    /// carries the parser's message.
    Json(String),
    /// Valid JSON, but not an object; names what it is.
    NotObject(&'static str),
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocumentError::NotUtf8 { valid_up_to } => {
                write!(f, "not UTF-8 (invalid byte after {valid_up_to} bytes)")
            }
            DocumentError::Json(e) => write!(f, "not JSON: {e}"),
            DocumentError::NotObject(kind) => {
                write!(f, "expected a JSON object, got {kind}")
            }
        }
    }
}

impl std::error::Error for DocumentError {}

impl Validator {
    /// A validator for the official schema. Cannot fail: the schema is part of the crate.
    pub fn new() -> Validator {
        Validator {
            segment: Compiled::segment(),
            subsegment: Compiled::embedded_subsegment(),
        }
    }

    /// One validator for the whole process, built on first use.
    pub fn shared() -> &'static Validator {
        static SHARED: OnceLock<Validator> = OnceLock::new();
        SHARED.get_or_init(Validator::new)
    }

    /// Checks a document sent on its own (a segment or an independent subsegment) against
    /// the schema's top level and the rules.
    pub fn check_document(&self, doc: &Value) -> Report {
        Self::check(doc, &self.segment, Level::Top)
    }

    /// Checks a subsegment as it appears embedded in a parent, against the schema's
    /// `definitions/subsegment` and the rules (without those for documents sent on their own).
    pub fn check_embedded_subsegment(&self, doc: &Value) -> Report {
        Self::check(doc, &self.subsegment, Level::Embedded)
    }

    /// Parses a document (strict UTF-8, exactly one JSON object, no `NaN`) and checks it as
    /// [`Validator::check_document`] does.
    pub fn check_document_bytes(&self, bytes: &[u8]) -> Result<(Value, Report), DocumentError> {
        let doc = parse_document(bytes)?;
        let report = self.check_document(&doc);
        Ok((doc, report))
    }

    /// Checks a whole datagram: at most 64 KiB, a header line the daemon accepts, a newline,
    /// then one document, parsed and checked as [`Validator::check_document_bytes`] does.
    ///
    /// A datagram over 65 507 bytes fits the daemon's buffer but cannot be sent over IPv4; it
    /// is reported as a rule error rather than rejected.
    pub fn check_datagram(&self, datagram: &[u8]) -> Result<(Value, Report), DatagramError> {
        let body = datagram::split(datagram)?;
        let (doc, mut report) = self
            .check_document_bytes(body)
            .map_err(DatagramError::Body)?;
        if datagram.len() > MAX_UDP_PAYLOAD {
            report.rule_errors.push(format!(
                "{ROOT}: datagram of {} bytes exceeds the IPv4 UDP payload limit of {MAX_UDP_PAYLOAD}",
                datagram.len()
            ));
        }
        Ok((doc, report))
    }

    fn check(doc: &Value, schema: &Compiled, level: Level) -> Report {
        let mut report = Report::default();
        schema.check(doc, &mut report.schema_errors);
        Rules::new(&mut report.rule_errors).check(doc, level);
        cap(&mut report.schema_errors);
        cap(&mut report.rule_errors);
        report
    }
}

fn parse_document(bytes: &[u8]) -> Result<Value, DocumentError> {
    let text = std::str::from_utf8(bytes).map_err(|e| DocumentError::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let doc: Value = serde_json::from_str(text).map_err(|e| DocumentError::Json(e.to_string()))?;
    if !doc.is_object() {
        return Err(DocumentError::NotObject(datagram::kind(&doc)));
    }
    Ok(doc)
}

fn cap(messages: &mut Vec<String>) {
    if messages.len() > MAX_MESSAGES {
        let dropped = messages.len() - (MAX_MESSAGES - 1);
        messages.truncate(MAX_MESSAGES - 1);
        messages.push(format!("... and {dropped} more"));
    }
}
