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

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn hex_bytes<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (hex_value(s[2 * i])? << 4) | hex_value(s[2 * i + 1])?;
    }
    Some(out)
}

/// Parses a `traceparent` header value (lowercase hex, as the specification requires).
/// Versions above 00 are read by their first four fields, as the specification asks.
pub fn parse_traceparent(value: &str) -> Result<TraceParent, TraceParentError> {
    let b = value.trim().as_bytes();
    if b.len() < TRACEPARENT_LEN || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return Err(TraceParentError::Malformed);
    }
    let version = hex_bytes::<1>(&b[..2]).ok_or(TraceParentError::Malformed)?[0];
    if version == 0xff
        || (version == 0 && b.len() != TRACEPARENT_LEN)
        || (b.len() > TRACEPARENT_LEN && b[TRACEPARENT_LEN] != b'-')
    {
        return Err(TraceParentError::Malformed);
    }
    let trace = hex_bytes::<16>(&b[3..35]).ok_or(TraceParentError::Malformed)?;
    let parent = hex_bytes::<8>(&b[36..52]).ok_or(TraceParentError::Malformed)?;
    let flags = hex_bytes::<1>(&b[53..55]).ok_or(TraceParentError::Malformed)?[0];
    if trace == [0; 16] || parent == [0; 8] {
        return Err(TraceParentError::ZeroId);
    }
    let mut random = [0u8; 12];
    random.copy_from_slice(&trace[4..]);
    let epoch = u32::from_be_bytes([trace[0], trace[1], trace[2], trace[3]]);
    Ok(TraceParent {
        trace_id: TraceId::from_parts(epoch, random),
        parent_id: SegmentId::from_u64(u64::from_be_bytes(parent)),
        sampled: flags & 1 == 1,
    })
}

/// Writes a version-00 `traceparent` for a downstream call made from `parent`.
pub fn format_traceparent(
    trace_id: &TraceId,
    parent: SegmentId,
    sampled: bool,
) -> [u8; TRACEPARENT_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; TRACEPARENT_LEN];
    out[..2].copy_from_slice(b"00");
    let trace = crate::otlp::otel_trace_id(trace_id);
    for (i, byte) in trace.iter().enumerate() {
        out[3 + 2 * i] = HEX[usize::from(byte >> 4)];
        out[4 + 2 * i] = HEX[usize::from(byte & 15)];
    }
    out[36..52].copy_from_slice(&parent.to_hex());
    out[53..55].copy_from_slice(if sampled { b"01" } else { b"00" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
