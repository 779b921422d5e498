//! Bounded cost per entity (issue 8, defects 3, 5 and 6): O(1) puts, flat memory under
//! repeated overwrites, a byte budget, pooled trees trimmed after a large invocation, and a
//! metadata depth limit that keeps every datagram parseable.
//!
//! Live bytes are measured with a global allocator that tracks, per thread, bytes allocated
//! minus bytes freed; the canary shows it is installed.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xray_core::{
    RecordError, SegmentId, TraceId,
    model::{EntityTree, MAX_ENTITY_BYTES, Timestamp},
    validate::Validator,
    wire::{DATAGRAM_HEADER, DEFAULT_DATAGRAM_LIMIT, EmitBuffer, Emitter},
};

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

struct LiveBytes;

// SAFETY: every call is forwarded unchanged to the system allocator; the only addition is an
// update of a `const`-initialised thread-local `Cell`, which neither allocates nor unwinds.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.with(|c| c.set(c.get() + layout.size() as i64));
        // SAFETY: the caller's layout contract is passed through unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.with(|c| c.set(c.get() - layout.size() as i64));
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.with(|c| c.set(c.get() + layout.size() as i64));
        // SAFETY: the caller's layout contract is passed through unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.with(|c| c.set(c.get() + new_size as i64 - layout.size() as i64));
        // SAFETY: `ptr` came from this allocator with `layout`; the caller upholds the rest.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

fn live() -> i64 {
    LIVE.with(Cell::get)
}

fn t(us: u64) -> Timestamp {
    Timestamp::from_micros(1_700_000_000_000_000 + us)
}

/// A guard against a hang only (debug builds on a shared machine): the proof of O(1) is the
/// entry counts, not the time.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn parse_and_validate(datagram: &[u8]) -> Value {
    assert!(datagram.len() <= DEFAULT_DATAGRAM_LIMIT);
    let body = &datagram[DATAGRAM_HEADER.len()..];
    let doc: Value = serde_json::from_slice(body).expect("serde_json's default parser reads it");
    let (_, report) = Validator::shared()
        .check_datagram(datagram)
        .expect("the validator reads it");
    assert!(report.is_valid(), "{report}");
    doc
}

#[test]
fn canary_live_bytes_are_tracked() {
    let before = live();
    let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(4096));
    assert_eq!(live() - before, 4096);
    drop(v);
    assert_eq!(live(), before);
}

#[test]
fn fifty_thousand_keys_of_each_kind_on_one_entity() {
    let began = Instant::now();
    let mut tree = EntityTree::new(TraceId::random());
    let root = tree.begin_segment("many-keys", None, t(0));
    let (mut stored, mut refused) = (0, 0);
    for n in 0..50_000_u32 {
        let mut e = tree.entity_mut(root);
        for r in [
            e.put_annotation(&format!("a{n}"), n).map(|_| ()),
            e.put_metadata("app", &format!("m{n}"), &n).map(|_| ()),
        ] {
            match r {
                Ok(()) => stored += 1,
                Err(RecordError::OverBudget) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
    }
    // Every key is looked up again: replacements with values no larger always fit.
    let mut refused_again = 0;
    for n in (0..50_000_u32).step_by(10) {
        let mut e = tree.entity_mut(root);
        for r in [
            e.put_annotation(&format!("a{n}"), 7).map(|_| ()),
            e.put_metadata("app", &format!("m{n}"), &7).map(|_| ()),
        ] {
            match r {
                Ok(()) => {}
                Err(RecordError::OverBudget) => refused_again += 1,
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert_eq!(stored + refused, 100_000);
    assert!(stored > 10_000, "{stored}");
    // Only keys that were never stored are refused the second time.
    assert!(refused_again > 0 && refused_again < refused);
    assert_eq!(tree.counts().entries_over_budget, refused + refused_again);
    assert!(began.elapsed() < HANG_GUARD, "{:?}", began.elapsed());
}

#[test]
fn overwriting_one_key_keeps_live_bytes_flat() {
    let mut tree = EntityTree::new(TraceId::random());
    let root = tree.begin_segment("overwrite", None, t(0));
    let values: Vec<String> = (0..4).map(|k| "v".repeat(1000 + k * 8)).collect();
    // Warm up: the arena, its spare and the entry exist.
    for v in values.iter().cycle().take(200) {
        tree.entity_mut(root).put_metadata("app", "hot", v).unwrap();
    }
    let before = live();
    for v in values.iter().cycle().take(100_000) {
        tree.entity_mut(root).put_metadata("app", "hot", v).unwrap();
    }
    let grown = live() - before;
    // Today's main grows by about 100 MB here.
    assert!(grown < 512 * 1024, "live bytes grew by {grown}");
    tree.end(root, t(1));
    let mut out = Vec::new();
    xray_core::wire::write_document(&tree, root, &mut out);
    let doc: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        doc["metadata"]["app"]["hot"],
        values[(100_000 - 1) % 4].as_str()
    );
}

fn nested(levels: usize) -> Value {
    let mut v = json!("bottom");
    for i in 0..levels {
        v = if i % 2 == 0 {
            json!([v])
        } else {
            json!({ "k": v })
        };
    }
    v
}

#[test]
fn metadata_nested_two_hundred_levels_is_cut_and_parses() {
    let (emitter, sink) = Emitter::memory(DEFAULT_DATAGRAM_LIMIT);
    let mut tree = EntityTree::new(TraceId::random());
    let root = tree.begin_detached_subsegment("## handler", SegmentId::from_u64(9), t(0));
    // The deepest subsegment chain the emitter embeds, with deep metadata at every level.
    let deep = nested(200);
    let mut parent = root;
    let mut chain = vec![root];
    for level in 0..40 {
        let child = tree.begin_subsegment(parent, &format!("level {level}"), t(1));
        chain.push(child);
        parent = child;
    }
    for &e in &chain {
        tree.entity_mut(e)
            .put_metadata("app", "deep", &deep)
            .unwrap();
    }
    for &e in chain.iter().rev() {
        tree.end(e, t(2));
    }
    emitter.emit(&mut tree, root, &mut EmitBuffer::new());
    let datagrams = sink.take();
    assert!(!datagrams.is_empty());
    let mut markers = 0;
    for d in &datagrams {
        let doc = parse_and_validate(d);
        let text = String::from_utf8_lossy(d);
        markers += text
            .matches("xray_sdk: cut, nested deeper than 32 levels")
            .count();
        drop(doc);
    }
    assert_eq!(markers, chain.len());
    assert_eq!(emitter.stats().metadata_depth_cut, chain.len() as u64);
    drop(deep);
}

#[test]
fn over_budget_entries_are_refused_counted_and_marked() {
    let (emitter, sink) = Emitter::memory(DEFAULT_DATAGRAM_LIMIT);
    let mut tree = EntityTree::new(TraceId::random());
    let root = tree.begin_segment("budget", None, t(0));
    let chunk = "x".repeat(MAX_ENTITY_BYTES / 4);
    let mut refused = 0;
    for n in 0..6 {
        match tree
            .entity_mut(root)
            .put_metadata("app", &format!("c{n}"), &chunk)
        {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e, RecordError::OverBudget);
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 3);
    tree.entity_mut(root)
        .put_annotation("still", "fits")
        .unwrap();
    tree.end(root, t(1));
    emitter.emit(&mut tree, root, &mut EmitBuffer::new());
    let docs: Vec<Value> = sink.take().iter().map(|d| parse_and_validate(d)).collect();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["metadata"]["xray_sdk"]["entries_over_budget"], 3);
    assert_eq!(docs[0]["annotations"]["still"], "fits");
    assert_eq!(emitter.stats().entries_over_budget, 3);
}

/// One small invocation on a pooled tree, as the runtime records it.
fn small_invocation(tree: &mut EntityTree, n: u64) {
    tree.reset(TraceId::random());
    let root = tree.begin_detached_subsegment("## handler", SegmentId::from_u64(3), t(n));
    let child = tree.begin_subsegment(root, "work", t(n));
    tree.entity_mut(child)
        .put_annotation("user", "u-1")
        .unwrap();
    tree.entity_mut(root)
        .put_metadata("svc", "handler response", &[1, 2, 3])
        .unwrap();
    tree.end(child, t(n + 1));
    tree.end(root, t(n + 2));
}

#[test]
fn a_pooled_tree_shrinks_back_after_a_large_invocation() {
    let mut tree = EntityTree::new(TraceId::random());
    for n in 0..50 {
        small_invocation(&mut tree, n);
    }
    let baseline = live();

    // The large invocation: 20 000 annotations on the handler, and a few hundred entities with
    // many metadata keys and an error each.
    tree.reset(TraceId::random());
    let root = tree.begin_detached_subsegment("## handler", SegmentId::from_u64(3), t(0));
    for n in 0..20_000 {
        let _ = tree.entity_mut(root).put_annotation(&format!("k{n}"), n);
    }
    for s in 0..300 {
        let sub = tree.begin_subsegment(root, "busy", t(1));
        let mut e = tree.entity_mut(sub);
        for n in 0..200 {
            e.put_metadata("app", &format!("m{n}"), &[n; 8]).unwrap();
        }
        e.add_exception("Failure", &"why ".repeat(250), false);
        e.add_precursor(SegmentId::from_u64(s + 1));
        tree.end(sub, t(2));
    }
    tree.end(root, t(3));
    let peak = live() - baseline;
    assert!(
        peak > 4 << 20,
        "the large invocation should hold megabytes: {peak}"
    );

    for n in 0..1000 {
        small_invocation(&mut tree, n);
    }
    let kept = live() - baseline;
    // Today's main keeps all of it (about 20 MB); what stays is bounded by the keep limits.
    assert!(
        kept < 1 << 20,
        "kept {kept} bytes of a {peak}-byte invocation"
    );
}
