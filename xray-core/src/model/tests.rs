//! Tree shape and reuse.

use super::*;

#[test]
fn builds_a_tree_in_creation_order() {
    let mut t = EntityTree::new(TraceId::NOOP);
    t.use_sequential_ids(1);
    let ts = Timestamp::from_micros(10);
    let r = t.begin_segment("root", None, ts);
    let a = t.begin_subsegment(r, "a", ts);
    let b = t.begin_subsegment(r, "b", ts);
    let a1 = t.begin_subsegment(a, "a1", ts);
    assert_eq!(t.children(r.0).collect::<Vec<_>>(), [a.0, b.0]);
    assert_eq!(t.children(a.0).collect::<Vec<_>>(), [a1.0]);
    assert_eq!(t.parent(a1), Some(a));
    assert_eq!(t.id(b), Some(SegmentId::from_u64(3)));
    assert!(!t.subtree_closed(r.0));
    for e in [a1, a, b, r] {
        t.end(e, Timestamp::from_micros(5));
    }
    assert!(t.subtree_closed(r.0));
    assert_eq!(t.node(r.0).end, Some(ts), "end is never before start");
}

#[test]
fn reset_reuses_storage() {
    let mut t = EntityTree::new(TraceId::NOOP);
    let r = t.begin_segment("bad{name}", None, Timestamp::default());
    assert_eq!(t.counts().names_sanitized, 1);
    t.end(r, Timestamp::default());
    t.reset(TraceId::random());
    assert!(t.is_empty());
    assert_eq!(t.counts(), RecordCounts::default());
    let r2 = t.begin_segment("fresh", None, Timestamp::default());
    assert_eq!(r2, EntityIndex(0));
    assert_eq!(t.node(0).name, "fresh");
    assert!(t.node(0).end.is_none());
}
