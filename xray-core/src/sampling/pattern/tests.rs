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
fn compiled_shapes() {
    let shape = |p: &str| Wildcard::new(p).shape;
    assert_eq!(shape("**"), Shape::Any);
    assert_eq!(shape(""), Shape::Exact);
    assert_eq!(shape("GET"), Shape::Exact);
    assert_eq!(shape("/api/**"), Shape::Prefix);
    assert_eq!(shape("*.example.com"), Shape::Suffix);
    assert_eq!(shape("*checkout*"), Shape::Contains);
    assert_eq!(shape("/v?/*"), Shape::General);
    assert_eq!(shape("a*b"), Shape::General);
    assert_eq!(shape("café*"), Shape::Unicode);
    assert!(
        Wildcard::new("\u{212A}*").is_match("k"),
        "Unicode pattern, ASCII text"
    );
    let w = Wildcard::new("*.EXAMPLE.com");
    assert!(w.is_match("shop.example.COM"));
    assert!(!w.is_match("example.com"));
    assert!(
        Wildcard::new("k*").is_match("\u{212A}elvin"),
        "non-ASCII text: general path"
    );
    assert!(Wildcard::new("*ab*").is_match("xxABxx"));
    assert!(!Wildcard::new("*ab*").is_match("a"));
    assert!(Wildcard::new("").is_match(""));
    assert!(!Wildcard::new("").is_match("x"));
}

#[test]
fn eight_at_a_time_lowercasing_matches_the_scalar_one() {
    for b in 0u8..0x80 {
        let word = u64::from_le_bytes([b, b'Z', b'@', b'[', b'A', b'z', b'`', b'{']);
        let want = u64::from_le_bytes(
            [b, b'Z', b'@', b'[', b'A', b'z', b'`', b'{'].map(|c| c.to_ascii_lowercase()),
        );
        assert_eq!(lower8(word), want, "byte {b:#x}");
    }
    assert!(lowercase_equal(b"/API/V1/Orders/", b"/api/v1/orders/"));
    assert!(!lowercase_equal(b"/API/V1/Orders/", b"/api/v1/orderz/"));
    assert!(!lowercase_equal(b"/api/v1/orders/", b"/api/v1/orders"));
    assert!(lowercase_equal(b"12345678", b"12345678"));
}

#[test]
fn missing_or_empty_attribute_matches() {
    let w = Wildcard::new("/api/*");
    assert!(w.matches(Attr::new(None)));
    assert!(w.matches(Attr::new(Some(""))));
    assert!(w.matches(Attr::new(Some("/api/x"))));
    assert!(!w.matches(Attr::new(Some("/web"))));
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
    fn ascii_shapes_agree_with_the_reference(
        p in from_alphabet(&['a', 'b', 'B', '.', '*', '?', '@', '['], 20),
        t in from_alphabet(&['a', 'A', 'b', '.', '\u{212A}', '@', '[', '`'], 24),
    ) {
        prop_assert_eq!(Wildcard::new(&p).is_match(&t), reference(&p, &t, true));
        prop_assert_eq!(wildcard_match(&p, &t), reference(&p, &t, true));
    }

    #[test]
    fn long_literal_shapes_agree_with_the_reference(
        core in from_alphabet(&['a', 'A', 'b', 'z', 'Z', '.', '@', '[', '`', '{'], 20),
        shape in 0usize..4,
        before in from_alphabet(&['a', 'Z', '@'], 4),
        after in from_alphabet(&['a', 'Z', '['], 4),
        flip in 0usize..24,
    ) {
        let p = match shape {
            0 => core.clone(),
            1 => format!("{core}*"),
            2 => format!("*{core}"),
            _ => format!("*{core}*"),
        };
        // The core itself in another case, with one byte possibly changed, between noise.
        let mut mid: Vec<u8> = core.bytes().map(|b| b.to_ascii_uppercase()).collect();
        if let Some(b) = mid.get_mut(flip) {
            *b ^= 0x01;
        }
        let t = format!("{before}{}{after}", String::from_utf8(mid).unwrap());
        prop_assert_eq!(Wildcard::new(&p).is_match(&t), reference(&p, &t, true), "{:?} {:?}", p, t);
        prop_assert_eq!(Wildcard::new(&p).is_match(&core), reference(&p, &core, true));
    }

    #[test]
    fn never_panics_on_any_text(p in ".{0,12}", t in ".{0,24}") {
        let _ = wildcard_match(&p, &t);
        let _ = wildcard_match_case_sensitive(&p, &t);
    }
}
