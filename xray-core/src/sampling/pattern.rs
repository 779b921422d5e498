//! The X-Ray wildcard matcher used by sampling rules.
//!
//! `*` matches any run of characters (including none), `?` matches exactly one character, and
//! every other character matches itself. The match covers the whole text.
//!
//! Positions are **characters** (Unicode scalar values), not bytes: `?` matches `é` as it
//! matches `e`. Python's SDK counts the same way; Go counts bytes, so a Go pattern `??` would
//! be needed for one two-byte character. Characters are friendlier for rule authors, who think
//! in characters, and give the same answer as Go for ASCII text.
//!
//! Case is ignored by default: two characters match when they are equal or when their
//! lowercase forms are equal (`char::to_lowercase`, so `K` KELVIN SIGN matches `k`).

/// Returns whether `text` matches the wildcard `pattern`, ignoring case.
///
/// Runs without allocating or recursing. Greedy matching that backtracks only to the last `*`
/// takes time proportional to the text for the patterns rules use (`*` alone, a fixed
/// prefix or suffix, `/api/*/items`); the worst case is bounded by `pattern × text`
/// character steps, never exponential.
///
/// ```
/// use xray_core::sampling::wildcard_match;
/// assert!(wildcard_match("/api/*", "/API/orders/17"));
/// assert!(wildcard_match("GET", "get"));
/// assert!(wildcard_match("?o?se", "mouse"));
/// assert!(!wildcard_match("", "anything"));
/// assert!(wildcard_match("*", ""));
/// ```
#[inline]
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        return match_units(
            pattern.as_bytes(),
            text.as_bytes(),
            u8::eq_ignore_ascii_case,
        );
    }
    match_chars(pattern, text, chars_equal_ignoring_case)
}

/// Returns whether `text` matches the wildcard `pattern`, comparing characters exactly.
///
/// ```
/// use xray_core::sampling::wildcard_match_case_sensitive;
/// assert!(wildcard_match_case_sensitive("Fo?", "FoO"));
/// assert!(!wildcard_match_case_sensitive("Fo?", "FOo"));
/// ```
#[inline]
pub fn wildcard_match_case_sensitive(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        return match_units(pattern.as_bytes(), text.as_bytes(), u8::eq);
    }
    match_chars(pattern, text, |a, b| a == b)
}

/// Character equality ignoring case, with an ASCII fast path.
#[inline]
fn chars_equal_ignoring_case(a: char, b: char) -> bool {
    if a == b {
        return true;
    }
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(&b);
    }
    a.to_lowercase().eq(b.to_lowercase())
}

/// The matcher over ASCII text, where a byte is a character.
#[inline]
fn match_units(pattern: &[u8], text: &[u8], eq: impl Fn(&u8, &u8) -> bool) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // After a `*`: where the pattern resumes, and the text position that `*` currently
    // stops at. On a mismatch the `*` swallows one more character and matching resumes.
    let mut star: Option<(usize, usize)> = None;
    while let Some(tc) = text.get(t) {
        match pattern.get(p) {
            Some(b'*') => {
                p += 1;
                star = Some((p, t));
                continue;
            }
            Some(pc) if *pc == b'?' || eq(pc, tc) => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        let Some((resume, stop)) = star else {
            return false;
        };
        star = Some((resume, stop + 1));
        p = resume;
        t = stop + 1;
    }
    // The text is used up: only `*`s may remain in the pattern.
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&b| b == b'*'))
}

/// The character at byte `at`, if any.
#[inline]
fn char_at(s: &str, at: usize) -> Option<char> {
    s.get(at..)?.chars().next()
}

/// The same matcher over any UTF-8: positions are byte offsets that always sit on
/// character boundaries, because they only move by the length of the character just read.
fn match_chars(pattern: &str, text: &str, eq: impl Fn(char, char) -> bool) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(tc) = char_at(text, t) {
        match char_at(pattern, p) {
            Some('*') => {
                p += 1;
                star = Some((p, t));
                continue;
            }
            Some(pc) if pc == '?' || eq(pc, tc) => {
                p += pc.len_utf8();
                t += tc.len_utf8();
                continue;
            }
            _ => {}
        }
        let Some((resume, stop)) = star else {
            return false;
        };
        let Some(swallowed) = char_at(text, stop) else {
            return false;
        };
        let stop = stop + swallowed.len_utf8();
        star = Some((resume, stop));
        p = resume;
        t = stop;
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.bytes().all(|b| b == b'*'))
}

/// A request attribute, checked for ASCII and packed once per decision rather than once per
/// rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attr<'a> {
    text: &'a str,
    ascii: bool,
    /// The first eight bytes, lowercased, little-endian (ASCII text only): most method and
    /// short prefix checks are one comparison of this word.
    head: u64,
}

impl<'a> Attr<'a> {
    /// `None` for a missing or empty attribute, which every pattern matches (as in the
    /// other SDKs: a request that carries no host is not excluded by a host rule).
    #[inline]
    pub(crate) fn new(attribute: Option<&'a str>) -> Option<Attr<'a>> {
        attribute.filter(|s| !s.is_empty()).map(|text| {
            let ascii = text.is_ascii();
            Attr {
                text,
                ascii,
                head: if ascii { head(text.as_bytes()) } else { 0 },
            }
        })
    }
}

/// ASCII letters in `word` lowercased, eight at a time. Only for ASCII bytes (below 0x80),
/// so adding a per-byte bias never carries into the next byte.
#[inline]
fn lower8(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let at_least_a = word + ONES * (0x80 - u64::from(b'A'));
    let past_z = word + ONES * (0x80 - u64::from(b'Z') - 1);
    let upper = at_least_a & !past_z & (ONES * 0x80);
    word | (upper >> 2)
}

#[inline]
fn load8(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The first (up to) eight bytes of ASCII `bytes`, lowercased, zero-padded.
#[inline]
fn head(bytes: &[u8]) -> u64 {
    if bytes.len() >= 8 {
        return lower8(load8(bytes, 0));
    }
    let mut w = [0u8; 8];
    w[..bytes.len()].copy_from_slice(bytes);
    lower8(u64::from_le_bytes(w))
}

/// Bytes kept by [`Attr::head`] for a pattern core of `len` bytes.
const fn head_mask(len: usize) -> u64 {
    if len >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * len)) - 1
    }
}

/// A rule field's pattern, compiled when the rule is loaded.
///
/// Rules are nearly always `*`, a plain value (`GET`), a prefix (`/api/*`), a suffix
/// (`*.example.com`) or a substring (`*checkout*`). For ASCII text those shapes are one
/// comparison against the pre-lowercased literal (or a window scan) instead of the general
/// matcher's walk. Other patterns, and non-ASCII text, take the general matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wildcard {
    pattern: Box<str>,
    shape: Shape,
    /// The pattern without its leading and trailing `*`s, lowercased (simple shapes only).
    core: Box<[u8]>,
    /// The first eight bytes of `core` and the mask that keeps as many bytes of a request's
    /// [`Attr::head`]: a prefix or literal that differs there is refused in one comparison.
    head: u64,
    head_mask: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Any,
    Exact,
    Prefix,
    Suffix,
    Contains,
    /// Anything else, with an ASCII pattern.
    General,
    /// A pattern with non-ASCII characters: always the character matcher.
    Unicode,
}

impl Wildcard {
    /// The pattern as written.
    pub(crate) fn pattern(&self) -> &str {
        &self.pattern
    }

    pub(crate) fn new(pattern: &str) -> Wildcard {
        let core = pattern.trim_matches('*');
        let leading = core.len() < pattern.trim_end_matches('*').len();
        let trailing = core.len() < pattern.trim_start_matches('*').len();
        let shape = if !pattern.is_empty() && core.is_empty() {
            Shape::Any
        } else if !pattern.is_ascii() {
            Shape::Unicode
        } else if core.contains(['*', '?']) {
            Shape::General
        } else {
            match (leading, trailing) {
                (false, false) => Shape::Exact,
                (false, true) => Shape::Prefix,
                (true, false) => Shape::Suffix,
                (true, true) => Shape::Contains,
            }
        };
        let core = core.to_ascii_lowercase().into_bytes();
        let (head, head_mask) = if core.is_ascii() {
            (head(&core), head_mask(core.len()))
        } else {
            (0, 0)
        };
        Wildcard {
            pattern: pattern.into(),
            shape,
            core: core.into(),
            head,
            head_mask,
        }
    }

    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        &self.pattern
    }

    #[cfg(test)]
    pub(crate) fn is_match(&self, text: &str) -> bool {
        // An empty text is matched as text here, not as a missing attribute.
        self.matches(Attr::new(Some(text)).or(Some(Attr {
            text,
            ascii: true,
            head: 0,
        })))
    }

    /// Matches a prepared request attribute; a missing one (`None`) matches.
    #[inline]
    pub(crate) fn matches(&self, attribute: Option<Attr<'_>>) -> bool {
        let Some(Attr { text, ascii, head }) = attribute else {
            return true;
        };
        let core = &*self.core;
        let bytes = text.as_bytes();
        match self.shape {
            Shape::Any => true,
            Shape::Unicode => match_chars(&self.pattern, text, chars_equal_ignoring_case),
            _ if !ascii => match_chars(&self.pattern, text, chars_equal_ignoring_case),
            Shape::General => match_units(self.pattern.as_bytes(), bytes, u8::eq_ignore_ascii_case),
            Shape::Exact => {
                bytes.len() == core.len()
                    && head & self.head_mask == self.head
                    && (core.len() <= 8 || lowercase_equal(bytes, core))
            }
            Shape::Prefix => {
                bytes.len() >= core.len()
                    && head & self.head_mask == self.head
                    && (core.len() <= 8 || lowercase_equal(&bytes[..core.len()], core))
            }
            Shape::Suffix => {
                bytes.len() >= core.len()
                    && lowercase_equal(&bytes[bytes.len() - core.len()..], core)
            }
            Shape::Contains => bytes.windows(core.len()).any(|w| lowercase_equal(w, core)),
        }
    }
}

/// ASCII `text` equals `lower` (already lowercase), ignoring the case of `text`; eight bytes
/// at a time, the last word overlapping the one before when the length is not a multiple.
#[inline]
fn lowercase_equal(text: &[u8], lower: &[u8]) -> bool {
    let n = text.len();
    if n != lower.len() {
        return false;
    }
    if n < 8 {
        return text
            .iter()
            .zip(lower)
            .all(|(t, l)| t.to_ascii_lowercase() == *l);
    }
    let mut i = 0;
    while i + 8 < n {
        if lower8(load8(text, i)) != load8(lower, i) {
            return false;
        }
        i += 8;
    }
    lower8(load8(text, n - 8)) == load8(lower, n - 8)
}

#[cfg(test)]
mod tests;
