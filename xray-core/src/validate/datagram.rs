//! The datagram envelope: size, the split at the first newline, and the header line, checked the
//! way the X-Ray daemon checks them.

use std::fmt;

use serde_json::Value;

use super::DocumentError;

/// The daemon's receive buffer: 64 KiB. A datagram longer than this cannot be read whole.
pub const MAX_DATAGRAM_BYTES: usize = 65_536;

/// Why a datagram is rejected before its document is looked at (or, for [`DatagramError::Body`],
/// because the document is not a JSON object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatagramError {
    /// Longer than [`MAX_DATAGRAM_BYTES`]; carries the length.
    TooLarge(usize),
    /// No `\n` separates the header line from the document.
    MissingNewline,
    /// Nothing follows the header line.
    EmptyBody,
    /// The header line is not JSON, or lacks `format` `json` and `version` 1; says what is wrong.
    InvalidHeader(String),
    /// The document after the header line is not a JSON object.
    Body(DocumentError),
}

impl fmt::Display for DatagramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatagramError::TooLarge(n) => write!(
                f,
                "datagram of {n} bytes exceeds the daemon's {MAX_DATAGRAM_BYTES}-byte buffer"
            ),
            DatagramError::MissingNewline => {
                f.write_str("no newline separates the header line from the document")
            }
            DatagramError::EmptyBody => f.write_str("nothing follows the header line"),
            DatagramError::InvalidHeader(why) => write!(f, "invalid header: {why}"),
            DatagramError::Body(e) => write!(f, "invalid document: {e}"),
        }
    }
}

impl std::error::Error for DatagramError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DatagramError::Body(e) => Some(e),
            _ => None,
        }
    }
}

/// Splits at the first newline (later newlines belong to the document) and checks the header.
pub(crate) fn split(datagram: &[u8]) -> Result<&[u8], DatagramError> {
    if datagram.len() > MAX_DATAGRAM_BYTES {
        return Err(DatagramError::TooLarge(datagram.len()));
    }
    let newline = datagram
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(DatagramError::MissingNewline)?;
    let (header, body) = (&datagram[..newline], &datagram[newline + 1..]);
    check_header(header)?;
    if body.is_empty() {
        return Err(DatagramError::EmptyBody);
    }
    Ok(body)
}

/// Accepts what the daemon accepts: any JSON object whose `format` is `json` in any ASCII case
/// and whose `version` is the integer 1. Whitespace, key order and extra keys do not matter.
///
/// The daemon decodes the header with Go's `encoding/json`, which matches keys without regard
/// to case, so `"Format"` counts as `format`; an exact match is preferred, as in Go.
fn check_header(header: &[u8]) -> Result<(), DatagramError> {
    let invalid = |why: String| Err(DatagramError::InvalidHeader(why));
    let value: Value = match serde_json::from_slice(header) {
        Ok(v) => v,
        Err(e) => return invalid(format!("not JSON ({e})")),
    };
    let Value::Object(map) = &value else {
        return invalid(format!("expected a JSON object, got {}", kind(&value)));
    };
    let field = |name: &str| {
        map.get(name).or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    };
    match field("format") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("json") => {}
        Some(other) => return invalid(format!("`format` is {}, expected \"json\"", short(other))),
        None => return invalid("`format` is missing".to_owned()),
    }
    match field("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(()),
        Some(other) => invalid(format!(
            "`version` is {}, expected the number 1",
            short(other)
        )),
        None => invalid("`version` is missing".to_owned()),
    }
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value as compact JSON, cut to a length that keeps messages readable.
pub(crate) fn short(v: &Value) -> String {
    const MAX: usize = 60;
    let s = v.to_string();
    if s.chars().count() <= MAX {
        return s;
    }
    let mut cut: String = s.chars().take(MAX).collect();
    cut.push('…');
    cut
}
