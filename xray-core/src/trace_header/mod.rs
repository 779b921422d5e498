//! The `X-Amzn-Trace-Id` header: a tolerant, borrowing parser and an allocation-free formatter.
//!
//! The official SDKs disagree on the grammar's edges (SPEC §3): Python drops the whole header on a
//! trailing `;`, Go and Java add one, Node reads keys in any case. This parser takes the union of
//! the tolerant behaviours: fields split on `;`, spaces trimmed around each field, keys
//! `Root` / `Parent` / `Sampled` / `Self` matched in any case, a bad field skipped without losing
//! the good ones, unknown fields kept in order for propagation, `Self` dropped. Formatting never
//! ends with `;`. Extra fields that could break a header line or its field syntax are never
//! propagated, and every extra field left out is counted ([`trace_header_stats`]).

use std::sync::atomic::Ordering::Relaxed;

use crate::id::{SegmentId, TRACE_ID_LEN, TraceId};

/// The name of the HTTP header.
pub const HEADER_NAME: &str = "X-Amzn-Trace-Id";

/// The sampling decision carried by the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SamplingDecision {
    /// `Sampled=1`: record and send.
    Sampled,
    /// `Sampled=0`: record nothing, propagate the decision.
    NotSampled,
    /// `Sampled=?`: the caller asks the receiver to decide.
    Requested,
    /// No `Sampled` field, or an unreadable one.
    #[default]
    Unknown,
}

impl SamplingDecision {
    /// The field value as written in a header, or `None` for [`SamplingDecision::Unknown`].
    pub const fn as_field(self) -> Option<&'static str> {
        match self {
            SamplingDecision::Sampled => Some("1"),
            SamplingDecision::NotSampled => Some("0"),
            SamplingDecision::Requested => Some("?"),
            SamplingDecision::Unknown => None,
        }
    }

    /// True only for [`SamplingDecision::Sampled`].
    pub const fn is_sampled(self) -> bool {
        matches!(self, SamplingDecision::Sampled)
    }
}

/// Which reserved fields were present but unreadable (the header still parsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Malformed {
    /// `Root` was present but not a valid trace id.
    pub root: bool,
    /// `Parent` was present but not 16 hex digits.
    pub parent: bool,
    /// `Sampled` was present but not `1`, `0` or `?`.
    pub sampled: bool,
}

impl Malformed {
    /// True when any reserved field was unreadable.
    pub const fn any(self) -> bool {
        self.root || self.parent || self.sampled
    }
}

/// A parsed `X-Amzn-Trace-Id` value.
///
/// Parsing borrows the input and never allocates or panics. Unknown fields (`Lineage`,
/// `CalledFrom`, …) are not copied: [`TraceHeader::extra_fields`] walks the original text again
/// when they are needed, so they keep their order and spelling.
///
/// ```
/// use xray_core::{SamplingDecision, TraceHeader};
///
/// let h = TraceHeader::parse(
///     "Root=1-5759e988-bd862e3fe1be46a994272793; parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1;",
/// );
/// assert_eq!(h.root().unwrap().to_string(), "1-5759e988-bd862e3fe1be46a994272793");
/// assert_eq!(h.parent().unwrap().to_string(), "53995c3f42cd8ad8");
/// assert_eq!(h.sampled(), SamplingDecision::Sampled);
/// assert_eq!(h.extra_fields().collect::<Vec<_>>(), [("Lineage", "a87bd80c:1")]);
/// assert_eq!(
///     h.to_string(),
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TraceHeader<'a> {
    root: Option<TraceId>,
    parent: Option<SegmentId>,
    sampled: SamplingDecision,
    extras_source: &'a str,
    malformed: Malformed,
}

impl TraceHeader<'static> {
    /// A header with the given fields and no extra fields.
    pub const fn new(
        root: TraceId,
        parent: Option<SegmentId>,
        sampled: SamplingDecision,
    ) -> TraceHeader<'static> {
        TraceHeader {
            root: Some(root),
            parent,
            sampled,
            extras_source: "",
            malformed: Malformed {
                root: false,
                parent: false,
                sampled: false,
            },
        }
    }
}

impl<'a> TraceHeader<'a> {
    /// Parses a header value. Never fails: unreadable parts are skipped and reported by
    /// [`TraceHeader::malformed`].
    pub fn parse(value: &'a str) -> TraceHeader<'a> {
        let mut header = TraceHeader::default();
        // Most headers are `Root=…;Parent=…;Sampled=…` exactly: read that prefix without
        // searching, then hand whatever follows to the general field loop.
        let start = header.read_canonical_prefix(value.as_bytes());
        let rest = &value[start..];
        let mut fields = fields(rest);
        let mut extras_from = None;
        while let Some((key, val)) = fields.next() {
            match reserved(key) {
                Some(Reserved::Root) => header.set_root(val),
                Some(Reserved::Parent) => header.set_parent(val),
                Some(Reserved::Sampled) => header.set_sampled(val),
                Some(Reserved::SelfField) => {}
                None => {
                    extras_from.get_or_insert(fields.field_start);
                    if !is_valid_extra_field(key, val) {
                        fields::REFUSED_INCOMING.fetch_add(1, Relaxed);
                    }
                }
            }
        }
        header.extras_source = extras_from.map_or("", |i| &rest[i..]);
        header
    }

    /// Reads `Root=<35>;Parent=<16>;Sampled=<c>` as far as the input follows it exactly;
    /// returns where the general parser should continue.
    fn read_canonical_prefix(&mut self, b: &[u8]) -> usize {
        const ROOT: &[u8] = b"Root=";
        const PARENT: &[u8] = b"Parent=";
        const SAMPLED: &[u8] = b"Sampled=";
        let ends_field = |i: usize| i == b.len() || b[i] == b';';
        let root_end = ROOT.len() + TRACE_ID_LEN;
        if !(b.starts_with(ROOT) && b.len() >= root_end && ends_field(root_end)) {
            return 0;
        }
        match TraceId::parse_bytes(&b[ROOT.len()..root_end]) {
            Ok(id) => self.root = Some(id),
            Err(_) => return 0,
        }
        let mut pos = (root_end + 1).min(b.len());
        let parent_end = pos + PARENT.len() + 16;
        if b[pos..].starts_with(PARENT) && b.len() >= parent_end && ends_field(parent_end) {
            match SegmentId::parse_hex_bytes(&b[pos + PARENT.len()..parent_end]) {
                Ok(id) => self.parent = Some(id),
                Err(_) => return pos,
            }
            pos = (parent_end + 1).min(b.len());
        }
        let sampled_end = pos + SAMPLED.len() + 1;
        if b[pos..].starts_with(SAMPLED) && b.len() >= sampled_end && ends_field(sampled_end) {
            self.sampled = match b[sampled_end - 1] {
                b'1' => SamplingDecision::Sampled,
                b'0' => SamplingDecision::NotSampled,
                b'?' => SamplingDecision::Requested,
                _ => return pos,
            };
            pos = (sampled_end + 1).min(b.len());
        }
        pos
    }

    fn set_root(&mut self, val: &str) {
        if self.root.is_none() {
            match TraceId::parse(val) {
                Ok(id) => self.root = Some(id),
                Err(_) => self.malformed.root = true,
            }
        }
    }

    fn set_parent(&mut self, val: &str) {
        if self.parent.is_none() {
            match SegmentId::parse_hex(val) {
                Ok(id) => self.parent = Some(id),
                Err(_) => self.malformed.parent = true,
            }
        }
    }

    fn set_sampled(&mut self, val: &str) {
        if self.sampled == SamplingDecision::Unknown {
            self.sampled = match val {
                "1" => SamplingDecision::Sampled,
                "0" => SamplingDecision::NotSampled,
                "?" => SamplingDecision::Requested,
                _ => {
                    self.malformed.sampled = true;
                    SamplingDecision::Unknown
                }
            };
        }
    }

    /// The text the extra fields are read from (everything from the first extra field on; it
    /// may hold reserved fields too, which [`TraceHeader::extra_fields`] skips). Keep it to
    /// rebuild the header later with [`TraceHeader::with_extras`].
    pub const fn extras_text(&self) -> &'a str {
        self.extras_source
    }

    /// A header with the given fields and the extra fields found in `extras` (text as returned
    /// by [`TraceHeader::extras_text`]).
    pub const fn with_extras(
        root: TraceId,
        parent: Option<SegmentId>,
        sampled: SamplingDecision,
        extras: &'a str,
    ) -> TraceHeader<'a> {
        TraceHeader {
            root: Some(root),
            parent,
            sampled,
            extras_source: extras,
            malformed: Malformed {
                root: false,
                parent: false,
                sampled: false,
            },
        }
    }

    /// The `Root` trace id, when present and valid.
    pub const fn root(&self) -> Option<TraceId> {
        self.root
    }

    /// The `Parent` id, when present and valid.
    pub const fn parent(&self) -> Option<SegmentId> {
        self.parent
    }

    /// The `Sampled` decision.
    pub const fn sampled(&self) -> SamplingDecision {
        self.sampled
    }

    /// Which reserved fields were present but unreadable.
    pub const fn malformed(&self) -> Malformed {
        self.malformed
    }

    /// The fields other than `Root`, `Parent`, `Sampled` and `Self`, in their original order and
    /// spelling, trimmed of surrounding spaces; fields that may not travel (see
    /// [`is_valid_extra_field`]) are skipped.
    pub fn extra_fields(&self) -> ExtraFields<'a> {
        ExtraFields {
            inner: fields(self.extras_source),
        }
    }

    /// The same header with another `Parent` and decision, keeping `Root` and the extra fields:
    /// the header to send downstream from the given (sub)segment.
    #[must_use]
    pub const fn downstream(
        &self,
        parent: SegmentId,
        sampled: SamplingDecision,
    ) -> TraceHeader<'a> {
        TraceHeader {
            root: self.root,
            parent: Some(parent),
            sampled,
            extras_source: self.extras_source,
            malformed: Malformed {
                root: false,
                parent: false,
                sampled: false,
            },
        }
    }
}

mod encode;
mod fields;

pub use encode::{ENCODED_CAPACITY, EncodedHeader};
pub use fields::{ExtraFields, TraceHeaderStats, is_valid_extra_field, trace_header_stats};
use fields::{Reserved, fields, reserved};

#[cfg(test)]
mod tests;
