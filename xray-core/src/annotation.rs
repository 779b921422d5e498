//! Annotations: indexed key/value pairs with typed values.
//!
//! Keys must match `[A-Za-z0-9_]{1,500}`: the schema forbids others (`additionalProperties:
//! false`), and the SDKs that drop them do so silently. Here an invalid key is rejected with an
//! error the caller can see, and counted on the document. Non-finite floats are rejected too
//! (JSON cannot carry them), and strings are cut at the schema's 1000 characters.

use std::fmt;

/// The longest annotation key, in bytes (all allowed characters are ASCII).
pub const MAX_ANNOTATION_KEY_LEN: usize = 500;

/// The longest annotation string value, in characters.
pub const MAX_ANNOTATION_STRING_CHARS: usize = 1000;

/// An annotation value: string, integer, float or bool.
///
/// ```
/// use xray_core::AnnotationValue;
/// assert_eq!(AnnotationValue::from("gold"), AnnotationValue::Str("gold"));
/// assert_eq!(AnnotationValue::from(3_u8), AnnotationValue::Int(3));
/// assert_eq!(AnnotationValue::from(true), AnnotationValue::Bool(true));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnnotationValue<'a> {
    /// A string (cut at 1000 characters when written).
    Str(&'a str),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer too large for `i64`.
    UInt(u64),
    /// A finite float; NaN and infinities are rejected.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl<'a> From<&'a str> for AnnotationValue<'a> {
    fn from(v: &'a str) -> Self {
        AnnotationValue::Str(v)
    }
}

impl<'a> From<&'a String> for AnnotationValue<'a> {
    fn from(v: &'a String) -> Self {
        AnnotationValue::Str(v)
    }
}

impl From<bool> for AnnotationValue<'_> {
    fn from(v: bool) -> Self {
        AnnotationValue::Bool(v)
    }
}

impl From<f64> for AnnotationValue<'_> {
    fn from(v: f64) -> Self {
        AnnotationValue::Float(v)
    }
}

impl From<f32> for AnnotationValue<'_> {
    fn from(v: f32) -> Self {
        AnnotationValue::Float(f64::from(v))
    }
}

macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for AnnotationValue<'_> {
            fn from(v: $t) -> Self {
                AnnotationValue::Int(i64::from(v))
            }
        }
    )*};
}
from_signed!(i8, i16, i32, i64, u8, u16, u32);

impl From<isize> for AnnotationValue<'_> {
    fn from(v: isize) -> Self {
        AnnotationValue::Int(v as i64)
    }
}

impl From<u64> for AnnotationValue<'_> {
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or(AnnotationValue::UInt(v), AnnotationValue::Int)
    }
}

impl From<usize> for AnnotationValue<'_> {
    fn from(v: usize) -> Self {
        AnnotationValue::from(v as u64)
    }
}

/// Why an annotation or metadata entry was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The key is empty, longer than 500 bytes, or has a character outside `[A-Za-z0-9_]`.
    InvalidAnnotationKey,
    /// The float is NaN or infinite.
    NonFiniteValue,
    /// The metadata namespace starts with `AWS.` (reserved for AWS SDKs) or is empty.
    ReservedNamespace,
    /// The metadata value could not be serialised to JSON.
    Serialize,
    /// There is no open (sub)segment to record on.
    NoEntity,
    /// The entity already holds its byte budget for annotations, metadata and cause
    /// ([`MAX_ENTITY_BYTES`](crate::model::MAX_ENTITY_BYTES)); the refusal is counted and marked on the
    /// entity as the metadata `xray_sdk.entries_over_budget`.
    OverBudget,
    /// Called from inside a closure the SDK runs with the recording locked (`with_current`,
    /// `Subsegment::with_fields`, `ServiceSegment::with_entity`); counted in
    /// `TracerStats::calls_reentrant`. Record after the closure returns instead.
    Reentrant,
    /// The entity's document was already sent (a `Handle` kept past the handler's return);
    /// counted in `TracerStats::entries_after_send`.
    AlreadySent,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordError::InvalidAnnotationKey => "annotation keys must match [A-Za-z0-9_]{1,500}",
            RecordError::NonFiniteValue => "NaN and infinite values cannot be written as JSON",
            RecordError::ReservedNamespace => {
                "metadata namespaces must be non-empty and must not start with `AWS.`"
            }
            RecordError::Serialize => "the metadata value failed to serialise to JSON",
            RecordError::NoEntity => "no open segment or subsegment to record on",
            RecordError::OverBudget => {
                "the entity already holds its 256 KiB of annotations, metadata and cause"
            }
            RecordError::Reentrant => {
                "called from inside a closure that holds the recording (record after it returns)"
            }
            RecordError::AlreadySent => "the segment or subsegment was already sent",
        })
    }
}

impl std::error::Error for RecordError {}

/// True when `key` is a valid annotation key.
///
/// ```
/// assert!(xray_core::model::is_valid_annotation_key("user_id"));
/// assert!(!xray_core::model::is_valid_annotation_key("user-id"));
/// assert!(!xray_core::model::is_valid_annotation_key(""));
/// ```
pub const fn is_valid_annotation_key(key: &str) -> bool {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > MAX_ANNOTATION_KEY_LEN {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_alphanumeric() || c == b'_') {
            return false;
        }
        i += 1;
    }
    true
}

/// Metadata namespaces starting with `AWS.` are reserved for AWS SDKs.
pub fn is_valid_metadata_namespace(ns: &str) -> bool {
    !ns.is_empty() && !ns.starts_with("AWS.")
}

/// `s` cut to at most `max` characters, on a character boundary.
pub(crate) fn cut_chars(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(is_valid_annotation_key(&"a".repeat(500)));
        assert!(!is_valid_annotation_key(&"a".repeat(501)));
        assert!(!is_valid_annotation_key("DDB.Table"));
        assert!(!is_valid_annotation_key("ключ"));
    }

    #[test]
    fn conversions() {
        assert_eq!(
            AnnotationValue::from(u64::MAX),
            AnnotationValue::UInt(u64::MAX)
        );
        assert_eq!(AnnotationValue::from(7_u64), AnnotationValue::Int(7));
        assert_eq!(AnnotationValue::from(-7_i32), AnnotationValue::Int(-7));
    }

    #[test]
    fn cutting_respects_characters() {
        assert_eq!(cut_chars("héllo", 2), "hé");
        assert_eq!(cut_chars("abc", 5), "abc");
    }
}
