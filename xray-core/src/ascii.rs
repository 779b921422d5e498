//! Integers to and from ASCII digits inside registers (SWAR), for ids and timestamps.
//!
//! Writing digits one byte at a time into a stack array and then copying the array out stalls
//! the CPU (many small stores read back as one wide load defeat store forwarding). These
//! helpers compute all the digits of a value in one integer, whose little-endian bytes are the
//! text in reading order.

/// The 16 lowercase hex digits of `v`, most significant first, as the little-endian bytes of
/// the result.
#[inline]
pub(crate) fn hex16(v: u64) -> u128 {
    // Spread the 16 nibbles so each sits in the low half of its own byte.
    let mut x = u128::from(v);
    x = (x | (x << 32)) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f;
    // Byte 0 now holds the least significant nibble; reading order wants it last.
    x = x.swap_bytes();
    nibbles_to_ascii(x)
}

/// The 8 lowercase hex digits of `v`, as the little-endian bytes of the result.
#[inline]
pub(crate) fn hex8(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = x.swap_bytes();
    let ones = 0x0101_0101_0101_0101_u64;
    // A byte holding n >= 10 gets bit 7 set when 0x76 is added; letters sit 39 past '0' + 10.
    let letters = ((x + ones * 0x76) >> 7) & ones;
    x + ones * u64::from(b'0') + letters * 39
}

#[inline]
fn nibbles_to_ascii(x: u128) -> u128 {
    let ones = 0x0101_0101_0101_0101_0101_0101_0101_0101_u128;
    let letters = ((x + ones * 0x76) >> 7) & ones;
    x + ones * u128::from(b'0') + letters * 39
}

/// The 8 decimal digits of `v < 10^8`, zero-padded, as the little-endian bytes of the result.
#[inline]
pub(crate) fn dec8(v: u32) -> u64 {
    debug_assert!(v < 100_000_000);
    let v = u64::from(v);
    // Two 4-digit halves in 32-bit lanes, the first half in the low lane.
    let mut x = (v / 10_000) | ((v % 10_000) << 32);
    // Each lane to two 2-digit values in 16-bit lanes: q = n / 100 via (n * 10486) >> 20.
    let q = ((x * 10_486) >> 20) & 0x0000_007f_0000_007f;
    x = q | ((x - q * 100) << 16);
    // Each to two digits in 8-bit lanes: q = n / 10 via (n * 103) >> 10.
    let q = ((x * 103) >> 10) & 0x000f_000f_000f_000f;
    x = q | ((x - q * 10) << 8);
    x + 0x3030_3030_3030_3030
}

/// The value of 8 hex digits (either case), given as the little-endian bytes of `text` in
/// reading order; `None` if any byte is not a hex digit.
///
/// Every trace header an invocation receives carries 48 hex digits; read one at a time with a
/// branch each they were most of the cost of an unsampled invocation (about 250 instructions
/// for a trace id). Here eight digits are checked and packed in about twenty operations.
#[inline]
pub(crate) fn parse_hex8(text: u64) -> Option<u32> {
    let letters = hex_letters(text)?;
    // '0'..'9' and 'a'..'f' / 'A'..'F' keep their value in the low nibble, letters minus 9.
    let nibbles = (text & (ONES * 0x0f)) + (letters >> 7) * 9;
    // Byte 0 holds the most significant digit: pack pairs, then pairs of pairs.
    let pairs = ((nibbles & 0x000f_000f_000f_000f) << 4) | ((nibbles >> 8) & 0x000f_000f_000f_000f);
    let quads = ((pairs & 0x0000_00ff_0000_00ff) << 8) | ((pairs >> 16) & 0x0000_00ff_0000_00ff);
    Some((((quads & 0xffff) << 16) | ((quads >> 32) & 0xffff)) as u32)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = ONES * 0x80;

/// Bit 7 set in each byte of `text` that is a hex letter; `None` unless all eight bytes are
/// hex digits.
#[inline]
fn hex_letters(text: u64) -> Option<u64> {
    // Bytes of 0x80 and above are never digits; below that, adding `0x80 - lo` sets bit 7
    // exactly when the byte is at least `lo`, with no carry into the next byte.
    if text & HIGH != 0 {
        return None;
    }
    let at_least = |x: u64, lo: u8| x + ONES * u64::from(0x80 - lo);
    let digit = at_least(text, b'0') & !at_least(text, b'9' + 1);
    let lower = text | (ONES * 0x20);
    let letter = at_least(lower, b'a') & !at_least(lower, b'f' + 1);
    ((digit | letter) & HIGH == HIGH).then_some(letter & HIGH)
}

/// True when `b` is hex digits only, in whole chunks of eight (the check of [`parse_hex8`]
/// without the packing).
#[inline]
pub(crate) fn is_hex(b: &[u8]) -> bool {
    let chunks = b.chunks_exact(8);
    chunks.remainder().is_empty()
        && chunks.into_iter().all(|c| {
            c.try_into()
                .is_ok_and(|c| hex_letters(u64::from_le_bytes(c)).is_some())
        })
}

/// [`parse_hex8`] on the first eight bytes of `b` (which must hold at least eight).
#[inline]
pub(crate) fn parse_hex8_at(b: &[u8]) -> Option<u32> {
    let chunk: [u8; 8] = b.get(..8)?.try_into().ok()?;
    parse_hex8(u64::from_le_bytes(chunk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference_hex8(b: [u8; 8]) -> Option<u32> {
        std::str::from_utf8(&b)
            .ok()
            .filter(|s| s.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|s| u32::from_str_radix(s, 16).ok())
    }

    #[test]
    fn hex8_parses_both_cases_and_rejects_the_rest() {
        assert_eq!(parse_hex8_at(b"5759e988"), Some(0x5759_e988));
        assert_eq!(parse_hex8_at(b"DEADbeef"), Some(0xdead_beef));
        assert_eq!(parse_hex8_at(b"00000000"), Some(0));
        assert_eq!(parse_hex8_at(b"ffffffff"), Some(u32::MAX));
        // Neighbours of every range edge, and bytes whose lowercase form would be a digit.
        for bad in [
            b'/', b':', b'@', b'G', b'`', b'g', 0x10, 0x19, b' ', 0x7f, 0x80, 0xb0, 0xe6,
        ] {
            let mut t = *b"01234567";
            t[3] = bad;
            assert_eq!(parse_hex8_at(&t), None, "{bad:#x}");
        }
        assert_eq!(parse_hex8_at(b"0123456"), None);
    }

    proptest! {
        #[test]
        fn hex8_agrees_with_the_standard_parser(b in proptest::array::uniform8(any::<u8>())) {
            prop_assert_eq!(parse_hex8(u64::from_le_bytes(b)), reference_hex8(b));
            prop_assert_eq!(is_hex(&b), reference_hex8(b).is_some());
        }

        #[test]
        fn hex8_reads_what_hex8_writes(v in any::<u32>()) {
            prop_assert_eq!(parse_hex8(hex8(v)), Some(v));
        }

        #[test]
        fn hex8_agrees_on_near_hex_text(
            b in proptest::array::uniform8(proptest::sample::select(
                b"0123456789abcdefABCDEF/:@G`g \x10\x7f\xff".to_vec()))
        ) {
            prop_assert_eq!(parse_hex8(u64::from_le_bytes(b)), reference_hex8(b));
        }
    }

    #[test]
    fn hex_matches_format() {
        for v in [
            0,
            1,
            0xa,
            0xf0,
            0x0123_4567_89ab_cdef,
            u64::MAX,
            0x5399_5c3f_42cd_8ad8,
        ] {
            assert_eq!(hex16(v).to_le_bytes(), *format!("{v:016x}").as_bytes());
        }
        for v in [0, 9, 10, 0xdead_beef, u32::MAX] {
            assert_eq!(hex8(v).to_le_bytes(), *format!("{v:08x}").as_bytes());
        }
    }

    #[test]
    fn decimal_matches_format() {
        for v in [
            0, 7, 10, 99, 100, 9999, 10_000, 12_345_678, 99_999_999, 50_000_000,
        ] {
            assert_eq!(dec8(v).to_le_bytes(), *format!("{v:08}").as_bytes());
        }
        let mut v = 1u32;
        while v < 100_000_000 {
            assert_eq!(dec8(v).to_le_bytes(), *format!("{v:08}").as_bytes());
            v = v * 3 + 7;
        }
    }
}
