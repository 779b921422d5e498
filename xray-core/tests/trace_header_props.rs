//! Properties of the `X-Amzn-Trace-Id` parser and formatter over arbitrary input.

use proptest::prelude::*;
use xray_core::{SamplingDecision, SegmentId, TraceHeader, TraceId};

fn decision() -> impl Strategy<Value = SamplingDecision> {
    prop_oneof![
        Just(SamplingDecision::Sampled),
        Just(SamplingDecision::NotSampled),
        Just(SamplingDecision::Requested),
        Just(SamplingDecision::Unknown),
    ]
}

/// Extra fields as a propagating service would write them: no `;`, `=`, control characters or
/// padding.
fn extras() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        ("[A-Za-z][A-Za-z0-9_-]{0,10}", "[A-Za-z0-9:|.-]{0,20}"),
        0..4,
    )
    .prop_map(|v| {
        v.into_iter()
            .filter(|(k, _)| {
                !["root", "parent", "sampled", "self"].contains(&k.to_ascii_lowercase().as_str())
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_never_panics(s in any::<String>()) {
        let h = TraceHeader::parse(&s);
        let _ = h.to_string();
        let _ = h.encode();
        for (k, v) in h.extra_fields() {
            prop_assert!(!k.is_empty());
            prop_assert!(!k.contains(';') && !v.contains(';') && !v.contains('='));
        }
        // Nothing that could end a header line or start another field goes out.
        let out = h.encode();
        prop_assert!(out.bytes().all(|b| b.is_ascii_graphic() || b == b' '), "{:?}", out);
    }

    #[test]
    fn parsing_header_like_text_never_panics(
        parts in prop::collection::vec("[ ]{0,2}(Root|root|Parent|Sampled|Self|Lineage|x)?[ ]{0,2}=?[ -~]{0,40}", 0..8)
    ) {
        let s = parts.join(";");
        let h = TraceHeader::parse(&s);
        prop_assert!(!h.to_string().ends_with(';'));
    }

    #[test]
    fn format_then_parse_round_trips(
        epoch in any::<u32>(),
        random in any::<[u8; 12]>(),
        parent in prop::option::of(1u64..),
        sampled in decision(),
        extras in extras(),
        spaces in any::<bool>(),
    ) {
        let root = TraceId::from_parts(epoch, random);
        let base = TraceHeader::new(root, parent.map(SegmentId::from_u64), sampled);
        let mut text = base.to_string();
        for (k, v) in &extras {
            text.push_str(if spaces { " ; " } else { ";" });
            text.push_str(k);
            text.push('=');
            text.push_str(v);
        }
        let h = TraceHeader::parse(&text);
        prop_assert_eq!(h.root(), Some(root));
        prop_assert_eq!(h.parent(), parent.map(SegmentId::from_u64));
        prop_assert_eq!(h.sampled(), sampled);
        let got: Vec<(String, String)> =
            h.extra_fields().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(&got, &extras);
        let out = h.to_string();
        prop_assert!(!out.ends_with(';'));
        let encoded = h.encode();
        prop_assert_eq!(encoded.as_str(), out.as_str());
        // Formatting is a fixed point.
        prop_assert_eq!(TraceHeader::parse(&out).to_string(), out);
    }
}
