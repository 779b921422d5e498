//! W3C `traceparent` ↔ X-Ray ids, as pure functions (no allocation).
//!
//! An X-Ray trace id `1-5759e988-bd862e3fe1be46a994272793` is the W3C trace id
//! `5759e988bd862e3fe1be46a994272793`; span and segment ids are the same 16 hex digits;
//! the `01` flag is `Sampled=1`. `Lineage` has no place in `traceparent` and stays in
//! `X-Amzn-Trace-Id`, which is sent beside it.
//!
//! ```
//! use xray_core::{SegmentId, TraceId, w3c};
//! let tp = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";
//! let p = w3c::parse_traceparent(tp).unwrap();
//! assert_eq!(p.trace_id.to_string(), "1-5759e988-bd862e3fe1be46a994272793");
//! assert!(p.sampled);
//! let out = w3c::format_traceparent(&p.trace_id, p.parent_id, p.sampled);
//! assert_eq!(std::str::from_utf8(&out).unwrap(), tp);
//! ```
//!
//! # Inbound: which header wins
//!
//! A service request (`ServiceTracer::begin`, feature `service`, and so `XRayLayer`) reads
//! `X-Amzn-Trace-Id`, `traceparent` and `tracestate`:
//!
//! | received | trace, parent and decision | `tracestate` forwarded |
//! |---|---|---|
//! | a valid `traceparent` only | the `traceparent`'s trace id, parent id and `sampled` flag | yes |
//! | both, same trace id | `X-Amzn-Trace-Id`; a missing `Parent` or `Sampled` is taken from the `traceparent` | yes |
//! | both, different trace ids | `X-Amzn-Trace-Id` alone (the `traceparent` is ignored) | no |
//! | `X-Amzn-Trace-Id` only | `X-Amzn-Trace-Id` | no |
//! | a malformed `traceparent` | as if it were absent; counted in `malformed_headers` | no |
//!
//! The X-Ray header wins a conflict because it is the one AWS services (API Gateway, ALB,
//! Lambda) write and carries `Lineage`; a `tracestate` belongs to the `traceparent` it came
//! with, so it goes where that one's trace goes and nowhere else. A `tracestate` is kept up to
//! [`TRACESTATE_MAX`] bytes and 32 list-members, cut at a member boundary
//! ([`bounded_tracestate`]); one with a character the specification forbids is dropped.
//!
//! **Lambda** reads only `Lambda-Runtime-Trace-Id`: the function's segment is Lambda's own and
//! the handler's subsegment must be its child, so a W3C header inside the event (an API
//! Gateway, Function URL or ALB request) never changes the trace. Lambda does not hand the
//! SDK the event's headers either (the payload type is the user's), so such a `traceparent` is
//! not recorded; a function that wants it can read it from its event and put it in an
//! annotation.
//!
//! # Outbound
//!
//! The HTTP client integrations send `traceparent` beside `X-Amzn-Trace-Id`, both naming the
//! same trace, parent (the call's subsegment) and decision, and the inbound `tracestate`
//! unchanged when a `traceparent` is sent. X-Ray has no `tracestate` member of its own.

use crate::ascii::parse_hex8_at;
use crate::id::{SegmentId, TraceId};

/// Length of a version-00 `traceparent`.
pub const TRACEPARENT_LEN: usize = 55;

/// What a `traceparent` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceParent {
    /// The trace id.
    pub trace_id: TraceId,
    /// The caller's span id.
    pub parent_id: SegmentId,
    /// The `sampled` flag.
    pub sampled: bool,
}

/// Why a `traceparent` was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceParentError {
    /// Not `vv-<32 hex>-<16 hex>-<2 hex>`, or version `ff`, or extra text after version 00.
    Malformed,
    /// An all-zero trace id or parent id (invalid by the W3C rules).
    ZeroId,
}

impl std::fmt::Display for TraceParentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TraceParentError::Malformed => "malformed traceparent",
            TraceParentError::ZeroId => "traceparent with an all-zero id",
        })
    }
}

impl std::error::Error for TraceParentError {}

/// Two hex digits, through the same eight-digit reader as the X-Ray ids.
fn hex2(b: &[u8]) -> Option<u8> {
    let mut padded = [b'0'; 8];
    padded[6..].copy_from_slice(b.get(..2)?);
    parse_hex8_at(&padded).map(|v| v as u8)
}

/// Parses a `traceparent` header value (lowercase hex, as the specification requires).
/// Versions above 00 are read by their first four fields, as the specification asks.
pub fn parse_traceparent(value: &str) -> Result<TraceParent, TraceParentError> {
    let b = value.trim().as_bytes();
    if b.len() < TRACEPARENT_LEN || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return Err(TraceParentError::Malformed);
    }
    // The specification allows lowercase hex only; the readers below take either case.
    if b[..TRACEPARENT_LEN].iter().any(u8::is_ascii_uppercase) {
        return Err(TraceParentError::Malformed);
    }
    let version = hex2(&b[..2]).ok_or(TraceParentError::Malformed)?;
    if version == 0xff
        || (version == 0 && b.len() != TRACEPARENT_LEN)
        || (b.len() > TRACEPARENT_LEN && b[TRACEPARENT_LEN] != b'-')
    {
        return Err(TraceParentError::Malformed);
    }
    let mut words = [0u32; 4];
    for (i, w) in words.iter_mut().enumerate() {
        *w = parse_hex8_at(&b[3 + 8 * i..]).ok_or(TraceParentError::Malformed)?;
    }
    let parent = SegmentId::parse_hex_bytes(&b[36..52]).map_err(|_| TraceParentError::Malformed)?;
    let flags = hex2(&b[53..55]).ok_or(TraceParentError::Malformed)?;
    if words == [0; 4] || parent.as_u64() == 0 {
        return Err(TraceParentError::ZeroId);
    }
    let mut random = [0u8; 12];
    for (chunk, w) in random.chunks_exact_mut(4).zip(&words[1..]) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
    Ok(TraceParent {
        trace_id: TraceId::from_parts(words[0], random),
        parent_id: parent,
        sampled: flags & 1 == 1,
    })
}

/// Writes a version-00 `traceparent` for a downstream call made from `parent`.
pub fn format_traceparent(
    trace_id: &TraceId,
    parent: SegmentId,
    sampled: bool,
) -> [u8; TRACEPARENT_LEN] {
    let mut out = [b'-'; TRACEPARENT_LEN];
    out[..2].copy_from_slice(b"00");
    // The W3C trace id is the X-Ray one's hex digits without the version and dashes.
    let (epoch, high, low) = trace_id.hex_parts();
    out[3..11].copy_from_slice(&epoch);
    out[11..27].copy_from_slice(&high);
    out[27..35].copy_from_slice(&low);
    out[36..52].copy_from_slice(&parent.to_hex());
    out[53..55].copy_from_slice(if sampled { b"01" } else { b"00" });
    out
}

/// Writes the inbound `tracestate` of the current trace into `out` (cleared first), for a
/// downstream call made from here with a client the SDK does not wrap; false, with `out`
/// empty, when there is none (no trace, Lambda, or no `tracestate` with a followed
/// `traceparent`). Send it only beside a `traceparent`, as the HTTP client integrations do.
///
/// ```
/// let mut state = String::new();
/// assert!(!xray_core::w3c::downstream_tracestate_into(&mut state));
/// assert!(state.is_empty());
/// ```
pub fn downstream_tracestate_into(out: &mut String) -> bool {
    out.clear();
    // Copied out, so the caller's code never runs while the trace's state is borrowed.
    crate::runtime::context::with_tracestate(|t| out.push_str(t)).is_some()
}

/// The longest `tracestate` kept (the length the specification asks every vendor to pass on).
pub const TRACESTATE_MAX: usize = 512;

/// The most list-members a `tracestate` may hold.
const TRACESTATE_MEMBERS: usize = 32;

/// The part of a `tracestate` value worth forwarding: trimmed, at most [`TRACESTATE_MAX`]
/// bytes and 32 list-members, cut after the last whole member that fits. `None` when nothing
/// is left or the value holds a character outside printable ASCII (the specification's
/// alphabet), which makes the whole header invalid. Borrowed, never copied.
///
/// ```
/// use xray_core::w3c::bounded_tracestate;
/// assert_eq!(bounded_tracestate(" congo=t61rcWkgMzE,rojo=00f067aa0ba902b7 "),
///            Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
/// assert_eq!(bounded_tracestate(""), None);
/// assert_eq!(bounded_tracestate("a=b\nc"), None);
/// let long = format!("a={},b=c", "x".repeat(600));
/// assert_eq!(bounded_tracestate(&long), None, "the first member alone is too long");
/// ```
pub fn bounded_tracestate(value: &str) -> Option<&str> {
    let value = value.trim_matches([' ', '\t']);
    if value
        .bytes()
        .any(|b| !(b == b'\t' || (0x20..0x7f).contains(&b)))
    {
        return None;
    }
    let mut end = 0;
    for (members, (i, _)) in value
        .match_indices(',')
        .chain(std::iter::once((value.len(), "")))
        .enumerate()
    {
        if i > TRACESTATE_MAX || members == TRACESTATE_MEMBERS {
            break;
        }
        end = i;
    }
    let kept = value[..end].trim_end_matches([' ', '\t', ',']);
    (!kept.is_empty()).then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracestate_is_cut_at_member_boundaries() {
        let member = "k=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"; // 65 bytes
        let twenty: Vec<&str> = std::iter::repeat_n(member, 20).collect();
        let value = twenty.join(",");
        let kept = bounded_tracestate(&value).unwrap();
        // 7 members and their commas are 461 bytes; an eighth would make 527.
        assert_eq!(kept.len(), 7 * 65 + 6);
        assert!(kept.ends_with(member));
        let many: Vec<String> = (0..40).map(|i| format!("k{i}=1")).collect();
        let many = many.join(",");
        let kept = bounded_tracestate(&many).unwrap();
        assert_eq!(kept.split(',').count(), 32);
        assert!(kept.ends_with("k31=1"));
        assert_eq!(bounded_tracestate(" , "), None);
        assert_eq!(bounded_tracestate("a=1,"), Some("a=1"));
        assert_eq!(bounded_tracestate("a=\u{e9}"), None);
    }

    #[test]
    fn round_trips_and_matches_the_x_ray_header() {
        let header = crate::TraceHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        );
        let out = format_traceparent(
            &header.root().unwrap(),
            header.parent().unwrap(),
            header.sampled().is_sampled(),
        );
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(
            text,
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00"
        );
        let p = parse_traceparent(text).unwrap();
        assert_eq!(Some(p.trace_id), header.root());
        assert_eq!(Some(p.parent_id), header.parent());
        assert!(!p.sampled);
    }

    #[test]
    fn rejects_what_the_specification_rejects() {
        use TraceParentError::*;
        for (v, want) in [
            ("", Malformed),
            (
                "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-0",
                Malformed,
            ),
            (
                "00-5759E988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
                Malformed,
            ),
            (
                "ff-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
                Malformed,
            ),
            (
                "00-5759e98gbd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
                Malformed,
            ),
            (
                "+0-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-0x",
                Malformed,
            ),
            (
                "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-x",
                Malformed,
            ),
            (
                "00-00000000000000000000000000000000-53995c3f42cd8ad8-01",
                ZeroId,
            ),
            (
                "00-5759e988bd862e3fe1be46a994272793-0000000000000000-01",
                ZeroId,
            ),
        ] {
            assert_eq!(parse_traceparent(v), Err(want), "{v:?}");
        }
        // A later version with extra fields is read by its first four.
        let p = parse_traceparent("01-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-03-xyz")
            .unwrap();
        assert!(p.sampled);
    }
}
