//! The `X-Amzn-Trace-Id` header: a tolerant, borrowing parser and an allocation-free formatter.
//!
//! The official SDKs disagree on the grammar's edges (SPEC §3): Python drops the whole header on a
//! trailing `;`, Go and Java add one, Node reads keys in any case. This parser takes the union of
//! the tolerant behaviours: fields split on `;`, spaces trimmed around each field, keys
//! `Root` / `Parent` / `Sampled` / `Self` matched in any case, a bad field skipped without losing
//! the good ones, unknown fields kept in order for propagation, `Self` dropped. Formatting never
//! ends with `;`.

use std::fmt;

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
    /// spelling, trimmed of surrounding spaces.
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

    /// Writes the header into `out`, returning the number of bytes written.
    ///
    /// Reserved fields come first; extra fields follow while they fit and are otherwise left
    /// out (a header is bounded; the extras are advisory). Returns 0 if not even `Root` fits.
    pub fn encode_into(&self, out: &mut [u8]) -> usize {
        let mut w = SliceWriter { out, len: 0 };
        let mut first = true;
        let mut sep = |w: &mut SliceWriter<'_>| -> bool {
            if first {
                first = false;
                true
            } else {
                w.push(b";")
            }
        };
        if let Some(root) = self.root
            && !(sep(&mut w) && w.push(b"Root=") && w.push(&root.to_text()))
        {
            return 0;
        }
        if let Some(parent) = self.parent {
            let mark = w.len;
            if !(sep(&mut w) && w.push(b"Parent=") && w.push(&parent.to_hex())) {
                return mark;
            }
        }
        if let Some(v) = self.sampled.as_field() {
            let mark = w.len;
            if !(sep(&mut w) && w.push(b"Sampled=") && w.push(v.as_bytes())) {
                return mark;
            }
        }
        for (key, val) in self.extra_fields() {
            let mark = w.len;
            if !(sep(&mut w) && w.push(key.as_bytes()) && w.push(b"=") && w.push(val.as_bytes())) {
                w.len = mark;
                break;
            }
        }
        w.len
    }

    /// The header as a stack value, ready to be used as `&str`.
    pub fn encode(&self) -> EncodedHeader {
        let mut buf = [0u8; ENCODED_CAPACITY];
        let len = self.encode_into(&mut buf);
        EncodedHeader { buf, len }
    }
}

impl fmt::Display for TraceHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(root) = self.root {
            write!(f, "Root={root}")?;
            sep = ";";
        }
        if let Some(parent) = self.parent {
            write!(f, "{sep}Parent={parent}")?;
            sep = ";";
        }
        if let Some(v) = self.sampled.as_field() {
            write!(f, "{sep}Sampled={v}")?;
            sep = ";";
        }
        for (key, val) in self.extra_fields() {
            write!(f, "{sep}{key}={val}")?;
            sep = ";";
        }
        Ok(())
    }
}

/// Room for the reserved fields (at most 70 bytes) plus 442 bytes of extra fields.
pub const ENCODED_CAPACITY: usize = 512;

/// A header written into a fixed buffer on the stack (see [`TraceHeader::encode`]).
#[derive(Clone, Copy)]
pub struct EncodedHeader {
    buf: [u8; ENCODED_CAPACITY],
    len: usize,
}

impl EncodedHeader {
    /// The header text.
    pub fn as_str(&self) -> &str {
        // Everything written comes from `&str` pieces and ASCII, cut only at piece boundaries.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl fmt::Debug for EncodedHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::ops::Deref for EncodedHeader {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

/// Iterator over the extra fields of a [`TraceHeader`].
#[derive(Debug, Clone)]
pub struct ExtraFields<'a> {
    inner: Fields<'a>,
}

impl<'a> Iterator for ExtraFields<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.by_ref().find(|(k, _)| reserved(k).is_none())
    }
}

#[derive(Clone, Copy)]
enum Reserved {
    Root,
    Parent,
    Sampled,
    SelfField,
}

#[inline]
fn reserved(key: &str) -> Option<Reserved> {
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
fn fields(value: &str) -> Fields<'_> {
    Fields {
        src: value,
        pos: 0,
        field_start: 0,
    }
}

#[derive(Debug, Clone)]
struct Fields<'a> {
    src: &'a str,
    pos: usize,
    /// Where the field last returned starts in `src`.
    field_start: usize,
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

struct SliceWriter<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl SliceWriter<'_> {
    fn push(&mut self, bytes: &[u8]) -> bool {
        let end = self.len + bytes.len();
        if end > self.out.len() {
            return false;
        }
        self.out[self.len..end].copy_from_slice(bytes);
        self.len = end;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
    const PARENT: &str = "53995c3f42cd8ad8";

    fn extras(h: &TraceHeader<'_>) -> Vec<(String, String)> {
        h.extra_fields()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn reads_the_documented_examples() {
        let src = format!("Root={ROOT};Parent={PARENT};Sampled=1");
        let h = TraceHeader::parse(&src);
        assert_eq!(h.root().unwrap().to_string(), ROOT);
        assert_eq!(h.parent().unwrap().to_string(), PARENT);
        assert_eq!(h.sampled(), SamplingDecision::Sampled);
        assert!(!h.malformed().any());

        let h = TraceHeader::parse(
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
        );
        assert!(h.sampled().is_sampled());

        let src = format!("Root={ROOT};Sampled=1;Lineage=a87bd80c:1|68fd508a:5|c512fbe3:2");
        let h = TraceHeader::parse(&src);
        assert_eq!(h.parent(), None);
        assert_eq!(
            extras(&h),
            [("Lineage".into(), "a87bd80c:1|68fd508a:5|c512fbe3:2".into())]
        );
    }

    #[test]
    fn trims_spaces_and_reads_keys_in_any_case_and_order() {
        let src = format!(
            "  Sampled=? ;  root={ROOT} ; PaREnt = {PARENT};Self=1-67891234-12456789abcdef012345678;Foo=bar "
        );
        let h = TraceHeader::parse(&src);
        assert_eq!(h.sampled(), SamplingDecision::Requested);
        assert_eq!(h.root().unwrap().to_string(), ROOT);
        assert_eq!(h.parent().unwrap().to_string(), PARENT);
        assert_eq!(extras(&h), [("Foo".into(), "bar".into())]);
    }

    #[test]
    fn one_bad_field_keeps_the_good_ones() {
        let src = format!("Root={ROOT};Parent=reqid;Sampled=yes;CalledFrom=app");
        let h = TraceHeader::parse(&src);
        assert_eq!(h.root().unwrap().to_string(), ROOT);
        assert_eq!(h.parent(), None);
        assert_eq!(h.sampled(), SamplingDecision::Unknown);
        assert_eq!(
            h.malformed(),
            Malformed {
                root: false,
                parent: true,
                sampled: true
            }
        );
        assert_eq!(extras(&h), [("CalledFrom".into(), "app".into())]);

        let src = format!("Root=1-bogus-bad;Parent={PARENT};Sampled=0");
        let h = TraceHeader::parse(&src);
        assert_eq!(h.root(), None);
        assert!(h.malformed().root);
        assert_eq!(h.sampled(), SamplingDecision::NotSampled);
    }

    #[test]
    fn skips_empty_and_keyless_parts() {
        let src = format!(";;Root={ROOT};;Parent;=48af;  ;Foo=x=y;");
        let h = TraceHeader::parse(&src);
        assert_eq!(h.root().unwrap().to_string(), ROOT);
        assert_eq!(h.parent(), None);
        assert_eq!(extras(&h), [("Foo".into(), "x=y".into())]);
        let h = TraceHeader::parse("some invalid string");
        assert_eq!(h, TraceHeader::default());
    }

    #[test]
    fn first_reserved_value_wins() {
        let src =
            format!("Sampled=0;Sampled=1;Root={ROOT};Root=1-00000000-000000000000000000000000");
        let h = TraceHeader::parse(&src);
        assert_eq!(h.sampled(), SamplingDecision::NotSampled);
        assert_eq!(h.root().unwrap().to_string(), ROOT);
    }

    #[test]
    fn formats_without_trailing_separator() {
        let root = TraceId::parse(ROOT).unwrap();
        let parent = SegmentId::parse_hex(PARENT).unwrap();
        let h = TraceHeader::new(root, None, SamplingDecision::Unknown);
        assert_eq!(h.to_string(), format!("Root={ROOT}"));
        assert_eq!(h.encode().as_str(), format!("Root={ROOT}"));
        let h = TraceHeader::new(root, Some(parent), SamplingDecision::Sampled);
        assert_eq!(
            h.to_string(),
            format!("Root={ROOT};Parent={PARENT};Sampled=1")
        );
        assert_eq!(TraceHeader::default().to_string(), "");
        let parsed = TraceHeader::parse("Sampled=1");
        assert_eq!(parsed.to_string(), "Sampled=1");
    }

    #[test]
    fn downstream_keeps_root_and_extras() {
        let src =
            format!("Self=x;Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a:1;CalledFrom=app");
        let h = TraceHeader::parse(&src);
        let child = SegmentId::from_u64(0xabc);
        let d = h.downstream(child, SamplingDecision::Sampled);
        assert_eq!(
            d.encode().as_str(),
            format!("Root={ROOT};Parent=0000000000000abc;Sampled=1;Lineage=a:1;CalledFrom=app")
        );
        assert_eq!(d.encode().as_str(), d.to_string());
    }

    #[test]
    fn encode_drops_extras_that_do_not_fit() {
        let long = "x".repeat(600);
        let src = format!("Root={ROOT};Parent={PARENT};Sampled=1;A=1;Big={long};C=3");
        let h = TraceHeader::parse(&src);
        let e = h.encode();
        assert_eq!(
            e.as_str(),
            format!("Root={ROOT};Parent={PARENT};Sampled=1;A=1")
        );
        let mut tiny = [0u8; 10];
        assert_eq!(h.encode_into(&mut tiny), 0);
    }
}
