//! OTLP datagrams (`T1S` / `T1U`), as the AWS Distro for OpenTelemetry sends them to Lambda's
//! UDP endpoint: the usual header line, a three-byte signal prefix, then the base64 of one
//! protobuf `ExportTraceServiceRequest`.
//!
//! The reader here is independent of xray-core's writer: a few lines of protobuf wire format
//! (varints and length-delimited fields) walk the request down to its spans and keep only the
//! fields the daemon checks. Unknown fields are skipped, as protobuf requires.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::otlp_attributes::{key_value, otlp_event};

/// Which signal a datagram carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// `T1S`: sampled spans.
    Sampled,
    /// `T1U`: unsampled spans, for Transaction Search.
    Unsampled,
}

/// The fields of one received span that the daemon checks or reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtlpSpan {
    /// `trace_id`.
    pub trace_id: [u8; 16],
    /// `span_id`.
    pub span_id: [u8; 8],
    /// `parent_span_id`; `None` when empty.
    pub parent_span_id: Option<[u8; 8]>,
    /// `start_time_unix_nano`.
    pub start_unix_nano: u64,
    /// `end_time_unix_nano`.
    pub end_unix_nano: u64,
    /// `status.code` is `STATUS_CODE_ERROR`.
    pub error: bool,
    /// The `faas.coldstart` attribute, when present and boolean.
    pub cold_start: Option<bool>,
    /// `name`.
    pub name: String,
    /// `kind` (1 internal, 2 server, 3 client, 4 producer, 5 consumer; 0 unspecified).
    pub kind: u64,
    /// `status.message`.
    pub status_message: String,
    /// `attributes`, in order, each value as JSON (arrays and key-value lists nested).
    pub attributes: Vec<(String, serde_json::Value)>,
    /// `events`, in order.
    pub events: Vec<OtlpEvent>,
}

/// One event of a span (exceptions arrive as events named `exception`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtlpEvent {
    /// `name`.
    pub name: String,
    /// `time_unix_nano`.
    pub time_unix_nano: u64,
    /// `attributes`, in order.
    pub attributes: Vec<(String, serde_json::Value)>,
}

/// The body after the header line, when it starts with an OTLP signal prefix.
pub(crate) fn signal_of(body: &[u8]) -> Option<Signal> {
    match body.get(..3)? {
        b"T1S" => Some(Signal::Sampled),
        b"T1U" => Some(Signal::Unsampled),
        _ => None,
    }
}

/// Decodes `body` (prefix included) and checks every span: a 16-byte trace id, an 8-byte span
/// id, an 8-byte or empty parent id, a non-empty name, start <= end.
pub(crate) fn decode(body: &[u8]) -> Result<Vec<OtlpSpan>, String> {
    let b64 = body.get(3..).ok_or("no signal prefix")?;
    let b64 = b64.strip_suffix(b"\n").unwrap_or(b64);
    let request = STANDARD.decode(b64).map_err(|e| format!("base64: {e}"))?;
    let mut spans = Vec::new();
    // ExportTraceServiceRequest.resource_spans = 1
    for rs in messages(&request, 1, "ExportTraceServiceRequest")? {
        // ResourceSpans.scope_spans = 2
        for ss in messages(rs, 2, "ResourceSpans")? {
            // ScopeSpans.spans = 2
            for span in messages(ss, 2, "ScopeSpans")? {
                spans.push(check_span(span).map_err(|e| format!("span {}: {e}", spans.len()))?);
            }
        }
    }
    if spans.is_empty() {
        return Err("a request with no spans".into());
    }
    Ok(spans)
}

fn check_span(span: &[u8]) -> Result<OtlpSpan, String> {
    let (mut trace_id, mut span_id, mut parent, mut name) = (None, None, None, None);
    let (mut start, mut end, mut kind) = (None, None, 0);
    let (mut error, mut status_message) = (false, String::new());
    let (mut attributes, mut events) = (Vec::new(), Vec::new());
    for field in Fields::new(span) {
        match field? {
            (9, Value::Bytes(kv)) => attributes.push(key_value(kv)?),
            (11, Value::Bytes(event)) => events.push(otlp_event(event)?),
            (15, Value::Bytes(status)) => (error, status_message) = status_of(status)?,
            (6, Value::Varint(k)) => kind = k,
            (1, Value::Bytes(b)) => trace_id = Some(b),
            (2, Value::Bytes(b)) => span_id = Some(b),
            (4, Value::Bytes(b)) => parent = Some(b),
            (5, Value::Bytes(b)) => name = Some(b),
            (7, Value::Fixed64(t)) => start = Some(t),
            (8, Value::Fixed64(t)) => end = Some(t),
            (n @ (1 | 2 | 4 | 5 | 6 | 7 | 8 | 9 | 11 | 15), _) => {
                return Err(format!("field {n}: wrong wire type"));
            }
            _ => {}
        }
    }
    let trace_id: [u8; 16] = trace_id
        .and_then(|b| b.try_into().ok())
        .ok_or("trace_id is not 16 bytes")?;
    let span_id: [u8; 8] = span_id
        .and_then(|b| b.try_into().ok())
        .ok_or("span_id is not 8 bytes")?;
    if trace_id == [0; 16] || span_id == [0; 8] {
        return Err("an all-zero id".into());
    }
    let parent_span_id = match parent {
        None | Some([]) => None,
        Some(b) => {
            Some(<[u8; 8]>::try_from(b).map_err(|_| "parent_span_id is not 8 bytes or empty")?)
        }
    };
    let name = match name.map(std::str::from_utf8) {
        Some(Ok(n)) if !n.is_empty() => n.to_owned(),
        Some(Err(_)) => return Err("name is not UTF-8".into()),
        _ => return Err("no name".into()),
    };
    match (start, end) {
        (Some(s), Some(e)) if s > 0 && s <= e => {}
        (Some(s), Some(e)) => return Err(format!("start {s} after end {e}, or zero")),
        _ => return Err("start or end time missing".into()),
    }
    Ok(OtlpSpan {
        trace_id,
        span_id,
        parent_span_id,
        start_unix_nano: start.unwrap_or_default(),
        end_unix_nano: end.unwrap_or_default(),
        error,
        cold_start: attributes
            .iter()
            .find(|(k, _)| k == "faas.coldstart")
            .and_then(|(_, v)| v.as_bool()),
        name,
        kind,
        status_message,
        attributes,
        events,
    })
}

/// `Status.message = 2`; `Status.code = 3` is `STATUS_CODE_ERROR` (2).
fn status_of(status: &[u8]) -> Result<(bool, String), String> {
    let (mut error, mut message) = (false, String::new());
    for field in Fields::new(status) {
        match field.map_err(|e| format!("status: {e}"))? {
            (3, Value::Varint(code)) => error = code == 2,
            (2, Value::Bytes(m)) => message = String::from_utf8_lossy(m).into_owned(),
            _ => {}
        }
    }
    Ok((error, message))
}

/// The length-delimited occurrences of field `number` in `message`.
fn messages<'a>(message: &'a [u8], number: u32, what: &str) -> Result<Vec<&'a [u8]>, String> {
    let mut out = Vec::new();
    for field in Fields::new(message) {
        match field.map_err(|e| format!("{what}: {e}"))? {
            (n, Value::Bytes(b)) if n == number => out.push(b),
            (n, _) if n == number => return Err(format!("{what}.{n}: wrong wire type")),
            _ => {}
        }
    }
    Ok(out)
}

#[derive(Debug)]
pub(super) enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32,
}

/// The fields of one protobuf message, in order; stops at the first malformed one.
pub(super) struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Fields<'a> {
        Fields {
            buf,
            pos: 0,
            failed: false,
        }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or("field runs past the end of its message")?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn field(&mut self) -> Result<(u32, Value<'a>), String> {
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| "field number too large")?;
        if number == 0 {
            return Err("field number 0".into());
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().map_err(|_| "short fixed64")?,
            )),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| "length too large")?;
                Value::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Value::Fixed32
            }
            w => return Err(format!("unsupported wire type {w}")),
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let field = self.field();
        self.failed = field.is_err();
        Some(field)
    }
}

/// The spans received, by trace, to count them and to check parent links.
#[derive(Debug, Default)]
pub(crate) struct OtlpTraces {
    /// Trace id → span id → the span as last received.
    traces: HashMap<[u8; 16], HashMap<[u8; 8], OtlpSpan>>,
    /// Span id → the trace it was received in.
    owner: HashMap<[u8; 8], [u8; 16]>,
}

impl OtlpTraces {
    /// Checks `spans` against what was received before: a span id already seen in another
    /// trace, or a parent received in another trace, is an error. Records nothing on error.
    pub(crate) fn check(&self, spans: &[OtlpSpan]) -> Result<(), String> {
        for s in spans {
            if let Some(t) = self.owner.get(&s.span_id).filter(|t| **t != s.trace_id) {
                return Err(format!(
                    "span {} already received in trace {}",
                    hex(&s.span_id),
                    hex(t)
                ));
            }
            let parent_trace = s.parent_span_id.and_then(|p| {
                self.owner
                    .get(&p)
                    .copied()
                    .or_else(|| spans.iter().find(|o| o.span_id == p).map(|o| o.trace_id))
            });
            if let Some(t) = parent_trace.filter(|t| *t != s.trace_id) {
                return Err(format!(
                    "span {} names a parent received in another trace {}",
                    hex(&s.span_id),
                    hex(&t)
                ));
            }
        }
        Ok(())
    }

    /// Records checked spans.
    pub(crate) fn add(&mut self, spans: &[OtlpSpan]) {
        for s in spans {
            self.owner.insert(s.span_id, s.trace_id);
            self.traces
                .entry(s.trace_id)
                .or_default()
                .insert(s.span_id, s.clone());
        }
    }

    /// Distinct spans per trace, keyed by the trace id's hex.
    pub(crate) fn spans_per_trace(&self) -> HashMap<String, usize> {
        self.traces
            .iter()
            .map(|(t, spans)| (hex(t), spans.len()))
            .collect()
    }

    /// Spans whose parent is absent or was not received in their trace (the handler's span,
    /// whose parent is upstream, in a complete trace).
    pub(crate) fn roots(&self) -> u64 {
        self.traces
            .values()
            .map(|spans| {
                spans
                    .values()
                    .filter(|s| s.parent_span_id.is_none_or(|p| !spans.contains_key(&p)))
                    .count() as u64
            })
            .sum()
    }

    /// The spans of one trace (id as 32 hex digits), by start time; on a tie, parents first.
    pub(crate) fn trace(&self, trace_hex: &str) -> Option<Vec<OtlpSpan>> {
        let spans = self.traces.get(&trace_id_from_hex(trace_hex)?)?;
        let mut out: Vec<OtlpSpan> = spans.values().cloned().collect();
        out.sort_by_key(|s| (s.start_unix_nano, s.parent_span_id.is_some(), s.span_id));
        Some(out)
    }

    pub(crate) fn trace_count(&self) -> u64 {
        self.traces.len() as u64
    }

    pub(crate) fn clear(&mut self) {
        self.traces.clear();
        self.owner.clear();
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// 32 hex digits → 16 bytes.
fn trace_id_from_hex(hex: &str) -> Option<[u8; 16]> {
    let value = u128::from_str_radix(hex, 16).ok()?;
    (hex.len() == 32).then(|| value.to_be_bytes())
}
