//! JSON primitives written straight into a byte buffer: escaped strings, integers, floats and
//! timestamps, without `std::fmt` and without allocating beyond the buffer's capacity.
//!
//! Escaping follows serde_json byte for byte (short escapes for `\b \t \n \f \r`, `\u00XX` for
//! the other control characters, `\"` and `\\`, UTF-8 passed through), so documents compare
//! equal to a serde_json rendering of the same values.

use crate::time::Timestamp;

/// 0 = copy as is; otherwise the escape letter (`u` means `\u00XX`).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string literal, quotes included.
#[inline]
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    string_body(out, s.as_bytes());
    out.push(b'"');
}

/// Appends the escaped content of a string without quotes.
#[inline]
pub(crate) fn string_body(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = ESCAPE[b as usize];
        if esc == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if esc == b'u' {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', esc]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends `"key":` for a key known to need no escaping.
#[inline]
pub(crate) fn key(out: &mut Vec<u8>, k: &'static str) {
    out.push(b'"');
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\":");
}

#[inline]
pub(crate) fn u64(out: &mut Vec<u8>, v: u64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

#[inline]
pub(crate) fn i64(out: &mut Vec<u8>, v: i64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

/// Appends a finite float as serde_json would; a non-finite one (which callers refuse before
/// it gets here) is written as `null` so the output stays JSON.
#[inline]
pub(crate) fn f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        let mut b = ryu::Buffer::new();
        out.extend_from_slice(b.format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

#[inline]
pub(crate) fn bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

#[inline]
pub(crate) fn timestamp(out: &mut Vec<u8>, t: Timestamp) {
    let mut b = [0u8; 27];
    let n = t.write_decimal(&mut b);
    out.extend_from_slice(&b[..n]);
}

#[inline]
pub(crate) fn hex_id(out: &mut Vec<u8>, hex: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(hex);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        let mut out = Vec::new();
        string(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_serde_json() {
        for v in [
            "",
            "plain",
            "quote\" backslash\\ slash/",
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
            "héllo wörld ✓ 🚀",
            "\u{2028}\u{2029}",
        ] {
            assert_eq!(s(v), serde_json::to_string(v).unwrap(), "{v:?}");
        }
    }

    #[test]
    fn numbers_like_serde_json() {
        for v in [
            0.0,
            -0.0,
            1.5,
            1e300,
            -2.5e-8,
            0.1 + 0.2,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            let mut out = Vec::new();
            f64(&mut out, v);
            assert_eq!(
                serde_json::from_slice::<f64>(&out).unwrap().to_bits(),
                v.to_bits()
            );
        }
        let mut out = Vec::new();
        f64(&mut out, f64::NAN);
        f64(&mut out, f64::NEG_INFINITY);
        assert_eq!(out, b"nullnull");
        let mut out = Vec::new();
        i64(&mut out, i64::MIN);
        u64(&mut out, u64::MAX);
        assert_eq!(out, b"-922337203685477580818446744073709551615");
    }
}
