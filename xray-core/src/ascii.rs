//! Integers to ASCII digits inside registers (SWAR), for ids and timestamps.
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

#[cfg(test)]
mod tests {
    use super::*;

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
