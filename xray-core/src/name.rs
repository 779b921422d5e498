//! Segment and subsegment names: the schema's character set and the 200-character limit.
//!
//! The service rejects a document whose name breaks the schema, and it does so silently (the
//! daemon only logs `UnprocessedTraceSegments`), so names are repaired before they are written:
//! every character outside the allowed set becomes `_`, the name is cut at 200 characters, and
//! an empty name becomes `unnamed`. Each repair is counted.

use crate::name_charset::ALLOWED;

/// The longest name X-Ray accepts, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The name written when the given one is empty.
pub const EMPTY_NAME: &str = "unnamed";

/// True when `c` may appear in a segment name (the schema's pattern, exactly).
pub fn is_name_char(c: char) -> bool {
    let cp = c as u32;
    if cp < 0x80 {
        return c.is_ascii_alphanumeric() || b" _.:/%&#=+-@".contains(&(cp as u8));
    }
    ALLOWED
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// True when `name` can be written as it is.
///
/// ```
/// use xray_core::model::is_valid_name;
/// assert!(is_valid_name("## handler"));
/// assert!(is_valid_name("Δοκιμή"));
/// assert!(!is_valid_name("GET /users/{id}"));
/// assert!(!is_valid_name(""));
/// ```
pub fn is_valid_name(name: &str) -> bool {
    let mut n = 0;
    for c in name.chars() {
        n += 1;
        if n > MAX_NAME_CHARS || !is_name_char(c) {
            return false;
        }
    }
    n > 0
}

/// Writes `name` into `out` (emptied first), repaired if needed; returns true when it changed.
///
/// ```
/// let mut out = String::new();
/// assert!(xray_core::model::sanitize_name_into("GET /users/{id}", &mut out));
/// assert_eq!(out, "GET /users/_id_");
/// ```
pub fn sanitize_name_into(name: &str, out: &mut String) -> bool {
    out.clear();
    if is_valid_name(name) {
        out.push_str(name);
        return false;
    }
    for c in name.chars().take(MAX_NAME_CHARS) {
        out.push(if is_name_char(c) { c } else { '_' });
    }
    if out.is_empty() {
        out.push_str(EMPTY_NAME);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_set_matches_the_schema() {
        for b in 0u8..0x80 {
            let c = b as char;
            let expected = c.is_ascii_alphanumeric() || " _.:/%&#=+-@".contains(c);
            assert_eq!(is_name_char(c), expected, "{b:#x}");
        }
        assert!(!is_name_char('\\'), "the schema forbids backslash");
    }

    #[test]
    fn repairs_and_counts() {
        let mut out = String::new();
        assert!(!sanitize_name_into("orders-api", &mut out));
        assert_eq!(out, "orders-api");
        assert!(sanitize_name_into("", &mut out));
        assert_eq!(out, EMPTY_NAME);
        assert!(sanitize_name_into("a\"b\\c\nd", &mut out));
        assert_eq!(out, "a_b_c_d");
        let long: String = "é".repeat(250);
        assert!(sanitize_name_into(&long, &mut out));
        assert_eq!(out.chars().count(), 200);
        assert!(is_valid_name(&out));
        assert!(sanitize_name_into("emoji 🚀", &mut out));
        assert_eq!(out, "emoji _");
    }
}
