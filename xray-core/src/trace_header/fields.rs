//! Splitting a header into fields, and which fields may travel.
//!
//! An extra field is copied into every downstream header, so one that could break a header
//! line (`Lineage=a\r\nX-Evil: 1`) or change how the next hop splits fields never travels: its
//! key must be visible ASCII, its value visible ASCII or spaces, neither holding `;` or `=`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Iterator over the extra fields of a [`TraceHeader`](super::TraceHeader) that may travel
/// (see [`is_valid_extra_field`]).
#[derive(Debug, Clone)]
pub struct ExtraFields<'a> {
    pub(super) inner: Fields<'a>,
}

impl<'a> Iterator for ExtraFields<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        self.inner
            .by_ref()
            .find(|(k, v)| reserved(k).is_none() && is_valid_extra_field(k, v))
    }
}

/// True when an extra field may be copied into a header: the key is visible ASCII, the value
/// visible ASCII or spaces, and neither holds `;` or `=` (the header's own separators).
///
/// ```
/// use xray_core::wire::is_valid_extra_field;
/// assert!(is_valid_extra_field("Lineage", "a87bd80c:1|68fd508a:5"));
/// assert!(!is_valid_extra_field("Lineage", "a\r\nX-Evil: 1"));
/// assert!(!is_valid_extra_field("Foo", "x=y"));
/// ```
pub fn is_valid_extra_field(key: &str, value: &str) -> bool {
    let separator = |b: u8| b == b';' || b == b'=';
    !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_graphic() && !separator(b))
        && value
            .bytes()
            .all(|b| (b.is_ascii_graphic() || b == b' ') && !separator(b))
}

/// Extra fields left out of headers, counted for the whole process.
///
/// ```
/// let before = xray_core::wire::trace_header_stats();
/// let h = xray_core::TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Bad=a\nb");
/// assert_eq!(h.extra_fields().count(), 0);
/// assert!(xray_core::wire::trace_header_stats().refused_incoming > before.refused_incoming);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct TraceHeaderStats {
    /// Extra fields refused while parsing a header (characters a header may not hold).
    pub refused_incoming: u64,
    /// Extra fields left out while writing a header because they may not travel (counted for
    /// each header written, so a field refused on the way in is not counted here again
    /// unless the header was built from unparsed text with `with_extras`).
    pub refused_outgoing: u64,
    /// Extra fields left out while writing a header because the header was full (see
    /// [`ENCODED_CAPACITY`](super::ENCODED_CAPACITY)); `Lineage` is written first.
    pub over_budget: u64,
}

pub(super) static REFUSED_INCOMING: AtomicU64 = AtomicU64::new(0);
pub(super) static REFUSED_OUTGOING: AtomicU64 = AtomicU64::new(0);
pub(super) static OVER_BUDGET: AtomicU64 = AtomicU64::new(0);

/// The process's counts of extra fields left out of trace headers.
pub fn trace_header_stats() -> TraceHeaderStats {
    TraceHeaderStats {
        refused_incoming: REFUSED_INCOMING.load(Relaxed),
        refused_outgoing: REFUSED_OUTGOING.load(Relaxed),
        over_budget: OVER_BUDGET.load(Relaxed),
    }
}

#[derive(Clone, Copy)]
pub(super) enum Reserved {
    Root,
    Parent,
    Sampled,
    SelfField,
}

#[inline]
pub(super) fn reserved(key: &str) -> Option<Reserved> {
    // Dispatch on length first: most keys are rejected without a comparison.
    let (candidate, kind) = match key.len() {
        4 if key.as_bytes()[0] | 0x20 == b'r' => ("root", Reserved::Root),
        4 => ("self", Reserved::SelfField),
        6 => ("parent", Reserved::Parent),
        7 => ("sampled", Reserved::Sampled),
        _ => return None,
    };
    key.eq_ignore_ascii_case(candidate).then_some(kind)
}

/// Splits a header into trimmed `(key, value)` pairs at the first `=`, skipping empty parts,
/// parts without `=`, and parts with an empty key or a key containing spaces.
pub(super) fn fields(value: &str) -> Fields<'_> {
    Fields {
        src: value,
        pos: 0,
        field_start: 0,
    }
}

#[derive(Debug, Clone)]
pub(super) struct Fields<'a> {
    src: &'a str,
    pos: usize,
    /// Where the field last returned starts in `src`.
    pub(super) field_start: usize,
}

const SPACES: &[char] = &[' ', '\t'];

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.src.len() {
            let start = self.pos;
            let rest = &self.src[start..];
            let part = match rest.find(';') {
                Some(i) => {
                    self.pos = start + i + 1;
                    &rest[..i]
                }
                None => {
                    self.pos = self.src.len();
                    rest
                }
            };
            let Some((key, val)) = part.split_once('=') else {
                continue;
            };
            let key = key.trim_matches(SPACES);
            if key.is_empty() || key.contains(SPACES) {
                continue;
            }
            self.field_start = start;
            return Some((key, val.trim_matches(SPACES)));
        }
        None
    }
}
