//! A protobuf writer for the few OTLP messages we send, straight into a reused `Vec<u8>`.
//!
//! Hand-written rather than generated (`prost`) because the hot path must not allocate: a
//! generated writer wants owned message structs (strings, vectors) built per span, where this
//! one writes each field from the entity tree as it walks it. A nested message is written in
//! one pass: a one-byte length placeholder, the body, then the length patched in place; the
//! rare body of 128 bytes or more shifts right by the extra length bytes (`copy_within`, no
//! allocation once the buffer has grown), so the output stays canonical.

/// Wire type of a varint field.
const VARINT: u32 = 0;
/// Wire type of a fixed64 / double field.
const I64: u32 = 1;
/// Wire type of a length-delimited field (bytes, strings, messages).
const LEN: u32 = 2;
/// Wire type of a fixed32 field.
const I32: u32 = 5;

/// Bytes a varint of `v` takes.
pub(crate) fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from((field << 3) | wire));
}

/// A varint field (`uint32`, `int64`, enums, `bool`); zero is the default and is left out.
pub(crate) fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(out, field, VARINT);
        varint(out, v);
    }
}

/// A `fixed64` field; zero is left out.
pub(crate) fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(out, field, I64);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// A `fixed32` field; zero is left out.
pub(crate) fn fixed32(out: &mut Vec<u8>, field: u32, v: u32) {
    if v != 0 {
        tag(out, field, I32);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// A `double` field, written even when zero (inside a `oneof` the field's presence matters).
pub(crate) fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    tag(out, field, I64);
    out.extend_from_slice(&v.to_le_bytes());
}

/// A `bool` or `int64` inside a `oneof`: written even when zero.
pub(crate) fn varint_present(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, VARINT);
    varint(out, v);
}

/// A `bytes` or `string` field; empty is left out.
pub(crate) fn bytes(out: &mut Vec<u8>, field: u32, v: &[u8]) {
    if !v.is_empty() {
        bytes_present(out, field, v);
    }
}

/// A `bytes` or `string` field written even when empty (a `oneof` member).
pub(crate) fn bytes_present(out: &mut Vec<u8>, field: u32, v: &[u8]) {
    tag(out, field, LEN);
    varint(out, v.len() as u64);
    out.extend_from_slice(v);
}

/// A string field made of several parts (an attribute key built from a prefix and a name).
pub(crate) fn str_parts(out: &mut Vec<u8>, field: u32, parts: &[&str]) {
    tag(out, field, LEN);
    varint(out, parts.iter().map(|p| p.len() as u64).sum());
    for p in parts {
        out.extend_from_slice(p.as_bytes());
    }
}

/// Opens a length-delimited field; returns the mark [`end`] needs.
pub(crate) fn begin(out: &mut Vec<u8>, field: u32) -> usize {
    tag(out, field, LEN);
    out.push(0);
    out.len()
}

/// Closes the field [`begin`] opened, writing its length.
pub(crate) fn end(out: &mut Vec<u8>, mark: usize) {
    let len = out.len() - mark;
    if len < 0x80 {
        out[mark - 1] = len as u8;
        return;
    }
    let n = varint_len(len as u64);
    let old = out.len();
    out.resize(old + n - 1, 0);
    out.copy_within(mark..old, mark + n - 1);
    let mut v = len as u64;
    let mut at = mark - 1;
    while v >= 0x80 {
        out[at] = (v as u8) | 0x80;
        v >>= 7;
        at += 1;
    }
    out[at] = v as u8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_spec_examples() {
        let mut out = Vec::new();
        varint(&mut out, 150);
        assert_eq!(out, [0x96, 0x01]);
        for v in [0, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            out.clear();
            varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
        }
    }

    #[test]
    fn nested_lengths_are_patched_canonically() {
        for body in [0usize, 5, 127, 128, 300, 20_000] {
            let mut out = vec![0xAA];
            let m = begin(&mut out, 1);
            out.extend(std::iter::repeat_n(7u8, body));
            end(&mut out, m);
            let mut want = vec![0xAA, 0x0A];
            varint(&mut want, body as u64);
            want.extend(std::iter::repeat_n(7u8, body));
            assert_eq!(out, want, "body of {body}");
        }
    }
}
