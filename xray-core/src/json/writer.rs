//! JSON primitives written straight into a byte buffer: escaped strings, integers, floats and
//! timestamps, without `std::fmt` and without allocating beyond the buffer's capacity.
//!
//! String escaping follows serde_json byte for byte (short escapes for `\b \t \n \f \r`, `\u00XX` for
//! the other control characters, `\"` and `\\`, UTF-8 passed through), so documents compare
//! equal to a serde_json rendering of the same values.

use crate::ascii::dec8;
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

/// True when some byte of `bytes` must be escaped. Eight bytes per step: a byte is flagged
/// when it equals `"` or `\\`, or is below 0x20.
#[inline]
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        if (control
            | zero_byte(x ^ (ONES * u64::from(b'"')))
            | zero_byte(x ^ (ONES * u64::from(b'\\'))))
            != 0
        {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| ESCAPE[b as usize] != 0)
}

/// Appends the escaped content of a string without quotes.
#[inline]
pub(crate) fn string_body(out: &mut Vec<u8>, bytes: &[u8]) {
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
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

/// "00" to "99", for writing two digits per division.
static PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// "000" to "999" as the little-endian bytes of each entry (4 KiB).
static DIGITS3: [u32; 1000] = {
    let mut t = [0u32; 1000];
    let mut i = 0;
    while i < 1000 {
        let (a, b, c) = ((i / 100) as u32, ((i / 10) % 10) as u32, (i % 10) as u32);
        t[i] = (b'0' as u32 + a) | ((b'0' as u32 + b) << 8) | ((b'0' as u32 + c) << 16);
        i += 1;
    }
    t
};

/// Appends a fixed-size chunk and drops its unused tail. Copying a constant number of bytes
/// compiles to a few moves, where a variable-length copy is a call to `memcpy`; for the short
/// numbers and timestamps of a document that call is most of the cost.
#[inline]
fn put_window<const N: usize>(out: &mut Vec<u8>, chunk: &[u8; N], used: usize) {
    out.extend_from_slice(chunk);
    out.truncate(out.len() - (N - used));
}

/// Writes `v` left-aligned into `buf` from `at`; returns the end.
#[inline]
fn digits<const N: usize>(buf: &mut [u8; N], at: usize, mut v: u64) -> usize {
    let len = if v == 0 { 1 } else { v.ilog10() as usize + 1 };
    let mut i = at + len;
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i] = PAIRS[d];
        buf[i + 1] = PAIRS[d + 1];
    }
    if v >= 10 {
        let d = v as usize * 2;
        buf[at] = PAIRS[d];
        buf[at + 1] = PAIRS[d + 1];
    } else {
        buf[at] = b'0' + v as u8;
    }
    at + len
}

#[inline]
pub(crate) fn u64(out: &mut Vec<u8>, v: u64) {
    let mut b = [0u8; 20];
    let n = digits(&mut b, 0, v);
    put_window(out, &b, n);
}

#[inline]
pub(crate) fn i64(out: &mut Vec<u8>, v: i64) {
    let mut b = [0u8; 21];
    let n = if v < 0 {
        b[0] = b'-';
        digits(&mut b, 1, v.unsigned_abs())
    } else {
        digits(&mut b, 0, v.unsigned_abs())
    };
    put_window(out, &b, n);
}

/// Appends a finite float in its shortest round-trip form (ryu); a non-finite one (which callers refuse before
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

thread_local! {
    /// The last second written by [`timestamp`] and its text (ten digits and the point, in the
    /// low eleven bytes).
    static LAST_SECOND: std::cell::Cell<(u64, u128)> = const { std::cell::Cell::new((u64::MAX, 0)) };
}

/// Appends `<seconds>.<6 digits>`.
#[inline]
pub(crate) fn timestamp(out: &mut Vec<u8>, t: Timestamp) {
    let micros = t.as_micros();
    // Seconds with 10 digits cover 2001 to 2286: write all 16 digits as two halves of eight
    // and open a gap for the point.
    if (1_000_000_000_000_000..10_000_000_000_000_000).contains(&micros) {
        let secs = micros / 1_000_000;
        // The timestamps of one document almost always share their second: its ten digits and
        // the point are kept from the last one written on this thread.
        let prefix = LAST_SECOND.with(|c| {
            let (last, text) = c.get();
            if last == secs {
                return text;
            }
            let hi = u128::from(dec8((secs / 100) as u32));
            let pair = (secs % 100) as usize * 2;
            let text = hi
                | (u128::from(PAIRS[pair]) << 64)
                | (u128::from(PAIRS[pair + 1]) << 72)
                | (u128::from(b'.') << 80);
            c.set((secs, text));
            text
        });
        // Six digits of microseconds as two table lookups of three: independent loads, where
        // a register conversion is one long chain of multiplies (two timestamps an entity).
        let frac = (micros % 1_000_000) as usize;
        let (high, low) = (DIGITS3[frac / 1000], DIGITS3[frac % 1000]);
        let text = prefix | (u128::from(high) << 88) | (u128::from(low & 0xffff) << 112);
        out.extend_from_slice(&text.to_le_bytes());
        out.push((low >> 16) as u8);
        return;
    }
    let mut b = [0u8; 28];
    let n = digits(&mut b, 0, micros / 1_000_000);
    b[n] = b'.';
    let mut frac = (micros % 1_000_000) as usize;
    for i in (0..3).rev() {
        let d = (frac % 100) * 2;
        frac /= 100;
        b[n + 1 + 2 * i] = PAIRS[d];
        b[n + 2 + 2 * i] = PAIRS[d + 1];
    }
    put_window(out, &b, n + 7);
}

/// Appends a quoted 16-digit hex id.
#[inline]
pub(crate) fn hex_id(out: &mut Vec<u8>, hex: &[u8; 16]) {
    let mut b = [b'"'; 18];
    b[1..17].copy_from_slice(hex);
    out.extend_from_slice(&b);
}

/// Appends a quoted trace id.
#[inline]
pub(crate) fn trace_id(out: &mut Vec<u8>, id: &crate::TraceId) {
    let (epoch, hi, lo) = id.hex_parts();
    out.extend_from_slice(b"\"1-");
    out.extend_from_slice(&epoch);
    out.push(b'-');
    out.extend_from_slice(&hi);
    out.extend_from_slice(&lo);
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
    fn escape_detection_covers_every_byte_and_position() {
        for b in 0u8..=255 {
            for len in [1, 7, 8, 9, 16, 17] {
                for pos in 0..len {
                    let mut v = vec![b'a'; len];
                    v[pos] = b;
                    assert_eq!(
                        needs_escape(&v),
                        ESCAPE[b as usize] != 0,
                        "{b:#x} {len} {pos}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_cached_second_is_right_on_hits_and_misses() {
        let base = 1_795_237_844_000_000u64;
        let mut seq = Vec::new();
        for i in 0..50u64 {
            // Same second twice, then the next, then back: hits and misses interleaved.
            seq.extend([
                base + i * 7_919,
                base + i * 7_919 + 13,
                base + 1_000_000 + i,
                base + i,
            ]);
        }
        seq.push(9_999_999_999_999_999);
        seq.push(1_000_000_000_000_000);
        for micros in seq {
            let mut out = Vec::new();
            timestamp(&mut out, Timestamp::from_micros(micros));
            assert_eq!(out, Timestamp::from_micros(micros).to_string().as_bytes());
        }
    }

    #[test]
    fn timestamps_are_exact() {
        for (micros, text) in [
            (0, "0.000000"),
            (1, "0.000001"),
            (1_461_096_053_375_180, "1461096053.375180"),
            (1_000_000_000_000_000, "1000000000.000000"),
            (9_999_999_999_999_999, "9999999999.999999"),
            (999_999_999_999_999, "999999999.999999"),
            (10_000_000_000_000_000, "10000000000.000000"),
            (1_700_000_000_000_007, "1700000000.000007"),
            (u64::MAX, "18446744073709.551615"),
        ] {
            let mut out = b"x".to_vec();
            timestamp(&mut out, Timestamp::from_micros(micros));
            assert_eq!(&out[1..], text.as_bytes());
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
            // Same value as serde_json's rendering (the exponent spelling may differ).
            let back: f64 = serde_json::from_slice(&out).unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v}");
        }
        let mut out = Vec::new();
        f64(&mut out, f64::NAN);
        f64(&mut out, f64::NEG_INFINITY);
        assert_eq!(out, b"nullnull");
        for v in [0, 9, 10, 99, 100, 12_345, u64::MAX / 7, u64::MAX] {
            let mut out = Vec::new();
            u64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
        for v in [0, -1, 42, -9_999, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            i64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }
}
