//! Parser and formatter cases, including hostile extra fields.

use super::*;

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";

fn extras(h: &TraceHeader<'_>) -> Vec<(String, String)> {
    h.extra_fields()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn reads_the_documented_examples() {
    let src = format!("Root={ROOT};Parent={PARENT};Sampled=1");
    let h = TraceHeader::parse(&src);
    assert_eq!(h.root().unwrap().to_string(), ROOT);
    assert_eq!(h.parent().unwrap().to_string(), PARENT);
    assert_eq!(h.sampled(), SamplingDecision::Sampled);
    assert!(!h.malformed().any());

    let h = TraceHeader::parse(
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
    );
    assert!(h.sampled().is_sampled());

    let src = format!("Root={ROOT};Sampled=1;Lineage=a87bd80c:1|68fd508a:5|c512fbe3:2");
    let h = TraceHeader::parse(&src);
    assert_eq!(h.parent(), None);
    assert_eq!(
        extras(&h),
        [("Lineage".into(), "a87bd80c:1|68fd508a:5|c512fbe3:2".into())]
    );
}

#[test]
fn trims_spaces_and_reads_keys_in_any_case_and_order() {
    let src = format!(
        "  Sampled=? ;  root={ROOT} ; PaREnt = {PARENT};Self=1-67891234-12456789abcdef012345678;Foo=bar "
    );
    let h = TraceHeader::parse(&src);
    assert_eq!(h.sampled(), SamplingDecision::Requested);
    assert_eq!(h.root().unwrap().to_string(), ROOT);
    assert_eq!(h.parent().unwrap().to_string(), PARENT);
    assert_eq!(extras(&h), [("Foo".into(), "bar".into())]);
}

#[test]
fn one_bad_field_keeps_the_good_ones() {
    let src = format!("Root={ROOT};Parent=reqid;Sampled=yes;CalledFrom=app");
    let h = TraceHeader::parse(&src);
    assert_eq!(h.root().unwrap().to_string(), ROOT);
    assert_eq!(h.parent(), None);
    assert_eq!(h.sampled(), SamplingDecision::Unknown);
    assert_eq!(
        h.malformed(),
        Malformed {
            root: false,
            parent: true,
            sampled: true
        }
    );
    assert_eq!(extras(&h), [("CalledFrom".into(), "app".into())]);

    let src = format!("Root=1-bogus-bad;Parent={PARENT};Sampled=0");
    let h = TraceHeader::parse(&src);
    assert_eq!(h.root(), None);
    assert!(h.malformed().root);
    assert_eq!(h.sampled(), SamplingDecision::NotSampled);
}

#[test]
fn skips_empty_and_keyless_parts() {
    let src = format!(";;Root={ROOT};;Parent;=48af;  ;Foo=x;");
    let h = TraceHeader::parse(&src);
    assert_eq!(h.root().unwrap().to_string(), ROOT);
    assert_eq!(h.parent(), None);
    assert_eq!(extras(&h), [("Foo".into(), "x".into())]);
    let h = TraceHeader::parse("some invalid string");
    assert_eq!(h, TraceHeader::default());
}

#[test]
fn first_reserved_value_wins() {
    let src = format!("Sampled=0;Sampled=1;Root={ROOT};Root=1-00000000-000000000000000000000000");
    let h = TraceHeader::parse(&src);
    assert_eq!(h.sampled(), SamplingDecision::NotSampled);
    assert_eq!(h.root().unwrap().to_string(), ROOT);
}

#[test]
fn formats_without_trailing_separator() {
    let root = TraceId::parse(ROOT).unwrap();
    let parent = SegmentId::parse_hex(PARENT).unwrap();
    let h = TraceHeader::new(root, None, SamplingDecision::Unknown);
    assert_eq!(h.to_string(), format!("Root={ROOT}"));
    assert_eq!(h.encode().as_str(), format!("Root={ROOT}"));
    let h = TraceHeader::new(root, Some(parent), SamplingDecision::Sampled);
    assert_eq!(
        h.to_string(),
        format!("Root={ROOT};Parent={PARENT};Sampled=1")
    );
    assert_eq!(TraceHeader::default().to_string(), "");
    let parsed = TraceHeader::parse("Sampled=1");
    assert_eq!(parsed.to_string(), "Sampled=1");
}

#[test]
fn downstream_keeps_root_and_extras() {
    let src = format!("Self=x;Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a:1;CalledFrom=app");
    let h = TraceHeader::parse(&src);
    let child = SegmentId::from_u64(0xabc);
    let d = h.downstream(child, SamplingDecision::Sampled);
    assert_eq!(
        d.encode().as_str(),
        format!("Root={ROOT};Parent=0000000000000abc;Sampled=1;Lineage=a:1;CalledFrom=app")
    );
    assert_eq!(d.encode().as_str(), d.to_string());
}

#[test]
fn encode_drops_and_counts_extras_that_do_not_fit() {
    let long = "x".repeat(600);
    let src = format!("Root={ROOT};Parent={PARENT};Sampled=1;A=1;Big={long};C=3");
    let h = TraceHeader::parse(&src);
    let before = trace_header_stats().over_budget;
    let e = h.encode();
    assert_eq!(
        e.as_str(),
        format!("Root={ROOT};Parent={PARENT};Sampled=1;A=1;C=3")
    );
    assert!(trace_header_stats().over_budget > before);
    let mut tiny = [0u8; 10];
    assert_eq!(h.encode_into(&mut tiny), 0);
}

#[test]
fn a_600_byte_lineage_is_counted_and_lineage_goes_first() {
    let before = trace_header_stats().over_budget;
    let big = format!("Root={ROOT};Lineage={}", "a".repeat(600));
    assert_eq!(
        TraceHeader::parse(&big).encode().as_str(),
        format!("Root={ROOT}")
    );
    assert!(trace_header_stats().over_budget > before);

    // When the budget is tight, `Lineage` is kept over fields written before it.
    let filler = "f".repeat(300);
    let lineage = "l".repeat(120);
    let src = format!("Root={ROOT};Sampled=1;A={filler};Lineage={lineage}");
    let h = TraceHeader::parse(&src);
    let e = h.encode();
    assert_eq!(
        e.as_str(),
        format!("Root={ROOT};Sampled=1;Lineage={lineage};A={filler}")
    );
    assert_eq!(h.to_string(), e.as_str());
    let src = format!("Root={ROOT};Sampled=1;A={filler};B={filler};Lineage={lineage}");
    assert_eq!(
        TraceHeader::parse(&src).encode().as_str(),
        format!("Root={ROOT};Sampled=1;Lineage={lineage};A={filler}")
    );
}

#[test]
fn header_injection_is_refused_and_counted() {
    let before = trace_header_stats();
    let src = format!(
        "Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a\r\nX-Evil: 1;Ok=1;K\u{1}=v;V=a=b;Tab=a\tb;U=\u{e9}"
    );
    let h = TraceHeader::parse(&src);
    assert_eq!(extras(&h), [("Ok".into(), "1".into())]);
    let after = trace_header_stats();
    assert!(after.refused_incoming >= before.refused_incoming + 5);
    let d = h.downstream(SegmentId::from_u64(0xabc), SamplingDecision::Sampled);
    let out = d.encode();
    assert_eq!(
        out.as_str(),
        format!("Root={ROOT};Parent=0000000000000abc;Sampled=1;Ok=1")
    );
    assert_eq!(d.to_string(), out.as_str());
    assert!(trace_header_stats().refused_outgoing >= after.refused_outgoing + 5);

    // Text that never went through `parse` is checked on the way out too.
    let root = TraceId::parse(ROOT).unwrap();
    let built = TraceHeader::with_extras(root, None, SamplingDecision::Sampled, "X=1\n;Y=2");
    assert_eq!(
        built.encode().as_str(),
        format!("Root={ROOT};Sampled=1;Y=2")
    );
}
