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
    matches(pattern, text, chars_equal_ignoring_case)
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
    matches(pattern, text, |a, b| a == b)
}

/// Character equality ignoring case, with an ASCII fast path.
#[inline]
pub(crate) fn chars_equal_ignoring_case(a: char, b: char) -> bool {
    if a == b {
        return true;
    }
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(&b);
    }
    a.to_lowercase().eq(b.to_lowercase())
}

/// The character starting at byte `at`, if any.
#[inline]
fn char_at(s: &str, at: usize) -> Option<char> {
    s.get(at..)?.chars().next()
}

#[inline]
fn matches(pattern: &str, text: &str, eq: impl Fn(char, char) -> bool) -> bool {
    if pattern == "*" {
        return true;
    }
    // Byte offsets into `pattern` and `text`; they always sit on character boundaries
    // because they only move by `len_utf8` of the character just read.
    let (mut p, mut t) = (0usize, 0usize);
    // After a `*`: where the pattern resumes, and the text position that `*` currently
    // stops at. On a mismatch the `*` swallows one more character and matching resumes.
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
    // The text is used up: only `*`s may remain in the pattern.
    pattern
        .get(p..)
        .is_some_and(|rest| rest.bytes().all(|b| b == b'*'))
}

/// A rule field's pattern, with the two common shapes (`*` and no wildcard at all) decided
/// once when the rule is loaded instead of on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wildcard {
    pattern: Box<str>,
    shape: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Any,
    Literal,
    General,
}

impl Wildcard {
    pub(crate) fn new(pattern: &str) -> Wildcard {
        let shape = if !pattern.is_empty() && pattern.bytes().all(|b| b == b'*') {
            Shape::Any
        } else if pattern.bytes().any(|b| b == b'*' || b == b'?') {
            Shape::General
        } else {
            Shape::Literal
        };
        Wildcard {
            pattern: pattern.into(),
            shape,
        }
    }

    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Matches a request attribute; a missing or empty attribute matches any pattern, as in
    /// the other SDKs (a request that carries no host is not excluded by a host rule).
    #[inline]
    pub(crate) fn matches_attribute(&self, attribute: Option<&str>) -> bool {
        match attribute {
            None | Some("") => true,
            Some(text) => self.is_match(text),
        }
    }

    #[inline]
    pub(crate) fn is_match(&self, text: &str) -> bool {
        match self.shape {
            Shape::Any => true,
            Shape::Literal => literal_equal_ignoring_case(&self.pattern, text),
            Shape::General => wildcard_match(&self.pattern, text),
        }
    }
}

#[inline]
fn literal_equal_ignoring_case(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        return pattern.eq_ignore_ascii_case(text);
    }
    let mut a = pattern.chars();
    let mut b = text.chars();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if chars_equal_ignoring_case(x, y) => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// SPEC §6.2 vectors (from Go's `search_pattern_test.go`): (pattern, text, expected).
    const VECTORS: &[(&str, &str, bool)] = &[
        ("", "whatever", false),
        ("", "", true),
        ("fo?", "foo", true),
        ("f?o", "boo", false),
        ("*oo", "foo", true),
        ("foo*", "foo", true),
        ("foo*", "fo0", false),
        ("*o?", "foo", true),
        ("f?*", "boo", false),
        ("?o?se", "mouse", true),
        ("????", "chevy", false),
        ("*/foo", "/bar/foo", true),
        ("a*a", "aa", true),
        ("a*na*ha", "anananahahanahana", false),
        ("**a**", "a", true),
        ("abcd", "abc", false),
        ("Foo", "FOO", true),
    ];

    #[test]
    fn spec_vectors() {
        for &(p, t, want) in VECTORS {
            assert_eq!(wildcard_match(p, t), want, "{p:?} vs {t:?}");
            assert_eq!(
                Wildcard::new(p).is_match(t),
                want,
                "compiled {p:?} vs {t:?}"
            );
            assert_eq!(reference(p, t, true), want, "reference {p:?} vs {t:?}");
        }
    }

    #[test]
    fn spec_case_sensitive_vectors() {
        assert!(!wildcard_match_case_sensitive("Fo?", "FOo"));
        assert!(wildcard_match_case_sensitive("Fo?", "FoO"));
        assert!(!wildcard_match_case_sensitive("Foo", "FOO"));
        assert!(wildcard_match("Fo?", "FOo"));
    }

    #[test]
    fn long_text_ending_in_b() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(7);
        let mut text: String = (0..8192)
            .map(|_| char::from(rng.random_range(b'a'..=b'z')))
            .collect();
        text.push('b');
        assert!(wildcard_match("a*b", &format!("a{text}")));
        assert!(wildcard_match("*b", &text));
        assert!(!wildcard_match("*b?", &text));
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(wildcard_match("caf?", "café"));
        assert!(!wildcard_match("caf??", "café"));
        assert!(wildcard_match("CAFÉ", "café"));
        assert!(wildcard_match("*é*", "crème brûlée"));
        assert!(
            wildcard_match("\u{212A}", "k"),
            "KELVIN SIGN lowercases to k"
        );
        assert!(Wildcard::new("ÉTÉ").is_match("été"));
        assert!(!Wildcard::new("ÉTÉ").is_match("ét"));
    }

    #[test]
    fn missing_or_empty_attribute_matches() {
        let w = Wildcard::new("/api/*");
        assert!(w.matches_attribute(None));
        assert!(w.matches_attribute(Some("")));
        assert!(w.matches_attribute(Some("/api/x")));
        assert!(!w.matches_attribute(Some("/web")));
        assert!(Wildcard::new("***").is_match("anything"));
    }

    /// A plain dynamic-programming matcher over characters: obviously right, slow.
    fn reference(pattern: &str, text: &str, ignore_case: bool) -> bool {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        let eq = |a: char, b: char| {
            if ignore_case {
                a == b || a.to_lowercase().eq(b.to_lowercase())
            } else {
                a == b
            }
        };
        // m[i][j]: the first i pattern characters match the first j text characters.
        let mut m = vec![vec![false; t.len() + 1]; p.len() + 1];
        m[0][0] = true;
        for i in 1..=p.len() {
            for j in 0..=t.len() {
                m[i][j] = match p[i - 1] {
                    '*' => m[i - 1][j] || (j > 0 && m[i][j - 1]),
                    '?' => j > 0 && m[i - 1][j - 1],
                    c => j > 0 && m[i - 1][j - 1] && eq(c, t[j - 1]),
                };
            }
        }
        m[p.len()][t.len()]
    }

    fn from_alphabet(alphabet: &'static [char], max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(alphabet), 0..max)
            .prop_map(|cs| cs.into_iter().collect())
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference(
            p in from_alphabet(&['a', 'b', 'A', 'é', 'É', '\u{212A}', 'k', '*', '?'], 10),
            t in from_alphabet(&['a', 'b', 'B', 'é', 'É', 'k', 'K'], 14),
        ) {
            prop_assert_eq!(wildcard_match(&p, &t), reference(&p, &t, true));
            prop_assert_eq!(Wildcard::new(&p).is_match(&t), reference(&p, &t, true));
            prop_assert_eq!(wildcard_match_case_sensitive(&p, &t), reference(&p, &t, false));
        }

        #[test]
        fn never_panics_on_any_text(p in ".{0,12}", t in ".{0,24}") {
            let _ = wildcard_match(&p, &t);
            let _ = wildcard_match_case_sensitive(&p, &t);
        }
    }
}
