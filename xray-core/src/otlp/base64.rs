//! Standard base64 (RFC 4648 alphabet, padded) appended to a reused buffer.
//!
//! Hand-written: twenty lines on the hot path, where a crate's `String`-returning helpers
//! would allocate and its engine API adds a dependency for no gain.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Length of the encoding of `n` bytes.
pub(crate) const fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// The most input bytes whose encoding fits in `room` bytes.
pub(crate) const fn max_input_for(room: usize) -> usize {
    room / 4 * 3
}

/// Appends the encoding of `input` to `out`.
pub(crate) fn encode_into(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(input.len()));
    let mut chunks = input.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.extend_from_slice(&[
            ALPHABET[(n >> 18) as usize & 63],
            ALPHABET[(n >> 12) as usize & 63],
            ALPHABET[(n >> 6) as usize & 63],
            ALPHABET[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize & 63],
                ALPHABET[(n >> 12) as usize & 63],
                b'=',
                b'=',
            ]);
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize & 63],
                ALPHABET[(n >> 12) as usize & 63],
                ALPHABET[(n >> 6) as usize & 63],
                b'=',
            ]);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_test_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = b"T1S".to_vec();
            encode_into(input.as_bytes(), &mut out);
            assert_eq!(&out[3..], want.as_bytes(), "{input:?}");
            assert_eq!(encoded_len(input.len()), want.len());
        }
        let all: Vec<u8> = (0..=255).collect();
        let mut out = Vec::new();
        encode_into(&all, &mut out);
        assert!(out.ends_with(b"+/w=="), "{}", String::from_utf8_lossy(&out));
        assert_eq!(max_input_for(8), 6);
        assert!(encoded_len(max_input_for(63_000)) <= 63_000);
    }
}
