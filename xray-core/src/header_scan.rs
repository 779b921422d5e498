//! "Sampled?" from an `X-Amzn-Trace-Id` value without parsing the rest of it.
//!
//! An unsampled invocation records nothing, so the only question its header has to answer up
//! front is the `Sampled` field; the ids are needed later only if a downstream header is
//! written, and can be parsed then from the raw text. [`sampled_decision`] answers that one
//! question with the full parser's rules (`TraceHeader::parse`), so the two never disagree
//! (a property test below checks it on random and hostile input):
//!
//! - fields are split at `;`, the key is the text before the first `=`, trimmed of spaces and
//!   tabs and matched in any case; a key holding a space is not a key;
//! - the value is trimmed the same way and must be exactly `1`, `0` or `?`;
//! - the first readable `Sampled` field wins; unreadable ones are skipped.
//!
//! The header the Lambda service sends, `Root=<35>;Parent=<16>;Sampled=<c>`, is recognised at
//! fixed offsets (one 64-byte count of `;` and three comparisons); anything else takes the
//! field walk.

use crate::ascii::is_hex;
use crate::trace_header::SamplingDecision;

/// `Root=` + trace id + `;` + `Parent=` + segment id + `;`.
const CANONICAL_SAMPLED_AT: usize = 5 + 35 + 1 + 7 + 16 + 1;

/// The `Sampled` decision of a trace header, as [`TraceHeader::parse`] would give it, without
/// reading the ids.
///
/// [`TraceHeader::parse`]: crate::TraceHeader::parse
///
/// ```
/// use xray_core::{SamplingDecision, TraceHeader, wire::sampled_decision};
/// let raw = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
/// assert_eq!(sampled_decision(raw), SamplingDecision::NotSampled);
/// assert_eq!(sampled_decision(raw), TraceHeader::parse(raw).sampled());
/// assert_eq!(sampled_decision(" sAMPLED = 1 ;Root=x"), SamplingDecision::Sampled);
/// assert_eq!(sampled_decision("Sampled=yes;Sampled=?"), SamplingDecision::Requested);
/// assert_eq!(sampled_decision("Root=1-5759e988-bd862e3fe1be46a994272793"), SamplingDecision::Unknown);
/// ```
#[inline]
pub fn sampled_decision(raw: &str) -> SamplingDecision {
    if let Some(d) = canonical(raw.as_bytes()) {
        return d;
    }
    walk(raw)
}

/// The ids of a header in the Lambda service's layout, checked but still as text, with its
/// decision; `None` for any other layout or an id that is not one. An unsampled invocation
/// keeps them as they are and decodes them only if a downstream header asks (see
/// `runtime::context`); checking costs a fraction of decoding.
#[inline]
pub(crate) fn canonical_ids(raw: &str) -> Option<(SamplingDecision, [u8; 35], [u8; 16])> {
    let b = raw.as_bytes();
    let decision = layout(b)?;
    let root: [u8; 35] = b[5..40].try_into().ok()?;
    let parent: [u8; 16] = b[48..64].try_into().ok()?;
    // Hex ids hold no `;`, so this also settles what `canonical` scans for.
    let ids_ok = root.starts_with(b"1-")
        && root[10] == b'-'
        && is_hex(&root[2..10])
        && is_hex(&root[11..])
        && is_hex(&parent);
    ids_ok.then_some((decision, root, parent))
}

/// The Lambda service's layout. `None` when the input does not follow it exactly (or its
/// `Sampled` value is unreadable), leaving the answer to the field walk.
#[inline]
fn canonical(b: &[u8]) -> Option<SamplingDecision> {
    let decision = layout(b)?;
    // The two fields before `Sampled` are `Root` and `Parent` only if the `;`s in the first 65
    // bytes are exactly the two separators; otherwise an earlier field could be `Sampled`.
    // Checked eight bytes at a time (a byte-counting loop here did not vectorise and was most
    // of the scan): no `;` in 0..40 nor in 41..64, the last chunk overlapping the one before.
    [0, 8, 16, 24, 32, 41, 49, 56]
        .iter()
        .all(|&at| !has_semicolon(&b[at..at + 8]))
        .then_some(decision)
}

/// `Root=<35>;Parent=<16>;Sampled=<c>` at fixed offsets, with the field ending there; the
/// caller still has to rule out a `;` inside the two ids.
#[inline]
fn layout(b: &[u8]) -> Option<SamplingDecision> {
    const AT: usize = CANONICAL_SAMPLED_AT;
    let head: &[u8; AT] = b.get(..AT)?.try_into().ok()?;
    let value = *b.get(AT + 8)?;
    if !(head[40] == b';'
        && head[AT - 1] == b';'
        && head.starts_with(b"Root=")
        && head[41..48] == *b"Parent="
        && b[AT..AT + 8] == *b"Sampled="
        && b.get(AT + 9).is_none_or(|&c| c == b';'))
    {
        return None;
    }
    decision(&[value])
}

/// The general case: every field in order, the first readable `Sampled` wins.
#[cold]
fn walk(raw: &str) -> SamplingDecision {
    const SPACES: &[char] = &[' ', '\t'];
    for part in raw.split(';') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        if key.trim_matches(SPACES).eq_ignore_ascii_case("sampled")
            && let Some(d) = decision(value.trim_matches(SPACES).as_bytes())
        {
            return d;
        }
    }
    SamplingDecision::Unknown
}

/// True when one of the eight bytes is `;`.
#[inline]
fn has_semicolon(chunk: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
        return true;
    };
    // A zero byte where `;` was; the subtraction test has no false positives for "any".
    let x = u64::from_le_bytes(bytes) ^ (ONES * u64::from(b';'));
    x.wrapping_sub(ONES) & !x & (ONES * 0x80) != 0
}

#[inline]
fn decision(value: &[u8]) -> Option<SamplingDecision> {
    match value {
        b"1" => Some(SamplingDecision::Sampled),
        b"0" => Some(SamplingDecision::NotSampled),
        b"?" => Some(SamplingDecision::Requested),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TraceHeader;
    use proptest::prelude::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
    const PARENT: &str = "53995c3f42cd8ad8";

    fn agrees(raw: &str) {
        assert_eq!(
            sampled_decision(raw),
            TraceHeader::parse(raw).sampled(),
            "{raw:?}"
        );
    }

    #[test]
    fn canonical_ids_are_the_text_at_the_fixed_offsets() {
        let raw = format!("Root={ROOT};Parent={PARENT};Sampled=0;Lineage=a87bd80c:1");
        let (d, root, parent) = canonical_ids(&raw).unwrap();
        assert_eq!(d, SamplingDecision::NotSampled);
        assert_eq!(&root, ROOT.as_bytes());
        assert_eq!(&parent, PARENT.as_bytes());
        assert!(canonical_ids(&format!("Parent={PARENT};Root={ROOT};Sampled=0")).is_none());
        // Not ids: left to the full parser, which counts them.
        let bad_root = "1-5759e988-bd862e3fe1be46a99427279z";
        assert!(canonical_ids(&format!("Root={bad_root};Parent={PARENT};Sampled=0")).is_none());
        assert!(canonical_ids(&format!("Root={ROOT};Parent=53995c3f42cd8adZ;Sampled=0")).is_none());
        let shape = "2-5759e988-bd862e3fe1be46a994272793";
        assert!(canonical_ids(&format!("Root={shape};Parent={PARENT};Sampled=0")).is_none());
        assert!(canonical_ids(&format!("Root={ROOT};Parent={PARENT}")).is_none());
    }

    #[test]
    fn canonical_headers_take_the_fixed_offsets() {
        for (c, want) in [
            ('1', SamplingDecision::Sampled),
            ('0', SamplingDecision::NotSampled),
            ('?', SamplingDecision::Requested),
        ] {
            let raw = format!("Root={ROOT};Parent={PARENT};Sampled={c}");
            assert_eq!(canonical(raw.as_bytes()), Some(want));
            let lineage = format!("{raw};Lineage=a87bd80c:1|68fd508a:5");
            assert_eq!(canonical(lineage.as_bytes()), Some(want));
            agrees(&raw);
            agrees(&lineage);
        }
        // Unreadable value, longer value, trailing text: the walk decides.
        for raw in [
            format!("Root={ROOT};Parent={PARENT};Sampled=x;Sampled=1"),
            format!("Root={ROOT};Parent={PARENT};Sampled=10"),
            format!("Root={ROOT};Parent={PARENT};Sampled=1 "),
        ] {
            assert_eq!(canonical(raw.as_bytes()), None, "{raw}");
            agrees(&raw);
        }
        assert_eq!(
            sampled_decision(&format!("Root={ROOT};Parent={PARENT};Sampled=x;Sampled=1")),
            SamplingDecision::Sampled
        );
    }

    #[test]
    fn an_earlier_sampled_field_hidden_in_the_id_area_wins() {
        // Same length as a canonical header, but the first field is `Sampled=0`.
        let root = "sampled=0;2345678901234567890123456";
        assert_eq!(root.len(), 35);
        let raw = format!("Root={root};Parent={PARENT};Sampled=1");
        assert_eq!(canonical(raw.as_bytes()), None);
        agrees(&raw);
        let raw = format!("Root={ROOT};Parent=;Sampled=0;xxxxx;Sampled=1");
        assert_eq!(raw.len(), CANONICAL_SAMPLED_AT + 9);
        assert_eq!(sampled_decision(&raw), SamplingDecision::NotSampled);
        agrees(&raw);
    }

    #[test]
    fn documented_shapes_agree_with_the_parser() {
        for raw in [
            "",
            ";;;",
            "=",
            "Sampled",
            "Sampled=",
            "Sampled==1",
            "Sam pled=1",
            " \tSampled\t= ? ",
            "SAMPLED=0",
            "Root=x;Sampled=yes;sampled=1",
            "Self=1-67891234-12456789abcdef012345678;Sampled=1",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Lineage=a87bd80c:1",
            "Sampled=é;Sampled=0",
        ] {
            agrees(raw);
        }
    }

    /// Pieces a hostile or broken header is made of.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(format!("Root={ROOT}")),
            Just(format!("Parent={PARENT}")),
            Just("Root=".to_owned()),
            Just("Parent=".to_owned()),
            prop::sample::select(vec![
                "Sampled",
                "sampled",
                "SAMPLED",
                " Sampled ",
                "Sam pled",
                "Sampled\t"
            ])
            .prop_flat_map(|k| {
                prop::sample::select(vec!["1", "0", "?", " 1", "1 ", "", "2", "=1", "yes", "é"])
                    .prop_map(move |v| format!("{k}={v}"))
            }),
            Just(";".to_owned()),
            Just("=".to_owned()),
            "[ -~]{0,12}",
            ".{0,6}",
        ]
    }

    /// Whatever `canonical_ids` keeps as text is what the full parser reads from the header.
    fn ids_agree(raw: &str) -> Result<(), TestCaseError> {
        if let Some((decision, root, parent)) = canonical_ids(raw) {
            let full = TraceHeader::parse(raw);
            prop_assert_eq!(Some(decision), Some(full.sampled()));
            prop_assert_eq!(
                crate::TraceId::parse_bytes(&root).ok(),
                full.root(),
                "{:?}",
                raw
            );
            prop_assert_eq!(
                crate::SegmentId::parse_hex_bytes(&parent).ok(),
                full.parent(),
                "{:?}",
                raw
            );
            prop_assert!(!full.malformed().any());
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn ids_kept_as_text_are_the_ones_the_parser_reads(
            at in 0usize..80,
            byte in prop::sample::select(vec![b';', b'-', b'g', b'G', b'A', b'f', b'0', b'/', b':', b'1']),
            value in prop::sample::select(vec!['1', '0', '?']),
        ) {
            let mut raw = format!("Root={ROOT};Parent={PARENT};Sampled={value};Lineage=a:1").into_bytes();
            if at < raw.len() {
                raw[at] = byte;
            }
            ids_agree(&String::from_utf8(raw).unwrap())?;
        }

        #[test]
        fn agrees_with_the_full_parser_on_assembled_headers(
            parts in prop::collection::vec(piece(), 0..8),
            seps in prop::collection::vec(prop::sample::select(vec![";", "; ", "", " ;"]), 8),
        ) {
            let mut raw = String::new();
            for (i, p) in parts.iter().enumerate() {
                raw.push_str(p);
                raw.push_str(seps[i]);
            }
            prop_assert_eq!(sampled_decision(&raw), TraceHeader::parse(&raw).sampled(), "{:?}", raw);
        }

        #[test]
        fn agrees_with_the_full_parser_on_mutated_canonical_headers(
            at in 0usize..80,
            byte in prop::sample::select(vec![b';', b'=', b' ', b'S', b'1', b'0', b'?', b'x', b'\t']),
            cut in 60usize..90,
            value in prop::sample::select(vec!['1', '0', '?', 'x']),
        ) {
            let mut raw = format!("Root={ROOT};Parent={PARENT};Sampled={value};Lineage=a:1").into_bytes();
            if at < raw.len() {
                raw[at] = byte;
            }
            raw.truncate(cut);
            let raw = String::from_utf8(raw).unwrap();
            prop_assert_eq!(sampled_decision(&raw), TraceHeader::parse(&raw).sampled(), "{:?}", raw);
            ids_agree(&raw)?;
        }

        #[test]
        fn agrees_with_the_full_parser_on_any_text(raw in ".{0,100}") {
            prop_assert_eq!(sampled_decision(&raw), TraceHeader::parse(&raw).sampled());
        }
    }
}
