use std::net::UdpSocket;
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::{SegmentId, TraceId, model::Timestamp};

const T0: u64 = 1_700_000_000_000_000;

fn ts(offset_us: u64) -> Timestamp {
    Timestamp::from_micros(T0 + offset_us)
}

fn trace() -> TraceId {
    TraceId::parse("1-5759e988-bd862e3fe1be46a994272793").unwrap()
}

fn body(datagram: &[u8]) -> Value {
    assert!(datagram.starts_with(DATAGRAM_HEADER));
    serde_json::from_slice(&datagram[DATAGRAM_HEADER.len()..]).unwrap()
}

fn listener() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

#[test]
fn sends_exact_bytes_over_udp() {
    let daemon = listener();
    let emitter = Emitter::udp(daemon.local_addr().unwrap(), DEFAULT_DATAGRAM_LIMIT);
    let mut tree = EntityTree::new(trace());
    tree.use_sequential_ids(0xa1);
    let parent = SegmentId::parse_hex("53995c3f42cd8ad8").unwrap();
    let h = tree.begin_detached_subsegment("## handler", parent, ts(0));
    let c = tree.begin_subsegment(h, "step \"one\"", ts(10));
    tree.entity_mut(c)
        .put_annotation("n", 3)
        .unwrap()
        .put_metadata("svc", "v", &[1.5, 2.0])
        .unwrap();
    tree.end(c, ts(20));
    tree.end(h, ts(1_000_030));
    emitter.emit(&mut tree, h, &mut EmitBuffer::new());

    let mut buf = vec![0u8; 65_536];
    let n = daemon.recv(&mut buf).unwrap();
    let expected = concat!(
        "{\"format\":\"json\",\"version\":1}\n",
        "{\"name\":\"## handler\",\"id\":\"00000000000000a1\",",
        "\"trace_id\":\"1-5759e988-bd862e3fe1be46a994272793\",\"parent_id\":\"53995c3f42cd8ad8\",",
        "\"type\":\"subsegment\",\"start_time\":1700000000.000000,\"end_time\":1700000001.000030,",
        "\"subsegments\":[{\"name\":\"step _one_\",\"id\":\"00000000000000a2\",",
        "\"start_time\":1700000000.000010,\"end_time\":1700000000.000020,",
        "\"annotations\":{\"n\":3},\"metadata\":{\"svc\":{\"v\":[1.5,2.0]}}}]}"
    );
    assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), expected);
    let s = emitter.stats();
    assert_eq!(
        (
            s.documents,
            s.datagrams_handed_to_kernel,
            s.bytes_handed_to_kernel
        ),
        (1, 1, n as u64)
    );
    assert_eq!(
        s.names_sanitized, 1,
        "the quotes in the child's name were repaired"
    );
}

#[test]
fn open_children_are_written_in_progress() {
    let (emitter, sink) = Emitter::memory(DEFAULT_DATAGRAM_LIMIT);
    let mut tree = EntityTree::new(trace());
    let r = tree.begin_segment("svc", None, ts(0));
    let _open = tree.begin_subsegment(r, "still running", ts(1));
    tree.end(r, ts(2));
    emitter.emit(&mut tree, r, &mut EmitBuffer::new());
    let docs = sink.take_documents();
    assert_eq!(docs.len(), 1);
    let child = &docs[0]["subsegments"][0];
    assert_eq!(child["in_progress"], true);
    assert!(child.get("end_time").is_none());
    assert!((docs[0]["end_time"].as_f64().unwrap() - 1_700_000_000.000_002).abs() < 1e-7);
}

/// Gathers every entity of every document, with the id of its parent; a batch stands for its
/// parent, so its children are attributed to their real parent.
fn flatten(doc: &Value, parent: Option<&str>, out: &mut Vec<(String, Option<String>)>) {
    let parent = doc["parent_id"].as_str().or(parent);
    if doc["name"] == BATCH_NAME {
        for c in doc["subsegments"].as_array().into_iter().flatten() {
            flatten(c, parent, out);
        }
        return;
    }
    out.push((
        doc["id"].as_str().unwrap().to_owned(),
        parent.map(str::to_owned),
    ));
    let id = doc["id"].as_str().unwrap();
    for c in doc["subsegments"].as_array().into_iter().flatten() {
        flatten(c, Some(id), out);
    }
}

#[test]
fn large_documents_stream_children_and_stay_under_the_limit() {
    let (emitter, sink) = Emitter::memory(DEFAULT_DATAGRAM_LIMIT);
    let mut tree = EntityTree::new(trace());
    let r = tree.begin_segment("big", None, ts(0));
    let payload = "x".repeat(2000);
    let mut expected = vec![tree.id(r).unwrap().to_string()];
    for i in 0..100 {
        let c = tree.begin_subsegment(r, "child", ts(i));
        // Every third child has two grandchildren, to exercise recursion.
        if i % 3 == 0 {
            for _ in 0..2 {
                let g = tree.begin_subsegment(c, "grandchild", ts(i));
                tree.entity_mut(g).put_metadata("m", "p", &payload).unwrap();
                tree.end(g, ts(i + 1));
                expected.push(tree.id(g).unwrap().to_string());
            }
        }
        tree.entity_mut(c).put_metadata("m", "p", &payload).unwrap();
        tree.end(c, ts(i + 1));
        expected.push(tree.id(c).unwrap().to_string());
    }
    tree.end(r, ts(500));
    emitter.emit(&mut tree, r, &mut EmitBuffer::new());

    let datagrams = sink.take();
    assert!(datagrams.len() > 1);
    let mut seen = Vec::new();
    for d in &datagrams {
        assert!(d.len() <= DEFAULT_DATAGRAM_LIMIT, "{} bytes", d.len());
        let doc = body(d);
        assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        if doc["id"] != expected[0].as_str() {
            assert_eq!(doc["type"], "subsegment");
            assert!(doc["parent_id"].is_string());
        }
        flatten(&doc, None, &mut seen);
    }
    let mut ids: Vec<_> = seen.iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(ids, want, "every entity arrives exactly once");
    // Every child's parent is the root, every grandchild's parent a child.
    let root = &expected[0];
    for (id, parent) in &seen {
        if id != root {
            assert!(parent.is_some(), "{id} lost its parent");
        }
    }
    let s = emitter.stats();
    assert_eq!(s.oversized_documents, 1);
    assert!(s.subsegments_streamed >= 1);
    assert_eq!(s.datagrams_handed_to_kernel, datagrams.len() as u64);
    assert_eq!(
        s.documents_truncated + s.documents_minimal + s.dropped_oversized,
        0
    );
}

#[test]
fn an_entity_too_large_alone_gets_its_metadata_cut() {
    let (emitter, sink) = Emitter::memory(DEFAULT_DATAGRAM_LIMIT);
    let mut tree = EntityTree::new(trace());
    let r = tree.begin_detached_subsegment("## handler", SegmentId::from_u64(7), ts(0));
    let big: Vec<String> = (0..5000).map(|i| format!("item-{i:05}-ü")).collect();
    tree.entity_mut(r)
        .put_metadata("svc", "handler response", &big)
        .unwrap()
        .put_metadata("svc", "small", &"kept")
        .unwrap()
        .put_annotation("kept", true)
        .unwrap();
    tree.end(r, ts(5));
    emitter.emit(&mut tree, r, &mut EmitBuffer::new());
    let datagrams = sink.take();
    assert_eq!(datagrams.len(), 1);
    assert!(datagrams[0].len() <= DEFAULT_DATAGRAM_LIMIT);
    let doc = body(&datagrams[0]);
    let marker = &doc["metadata"]["svc"]["handler response"];
    assert_eq!(marker["truncated"], true);
    let original = serde_json::to_vec(&big).unwrap().len() as u64;
    assert_eq!(marker["original_bytes"].as_u64().unwrap(), original);
    assert!(
        marker["head"]
            .as_str()
            .unwrap()
            .starts_with("[\"item-00000-ü\"")
    );
    assert_eq!(doc["metadata"]["svc"]["small"], "kept");
    assert_eq!(doc["annotations"]["kept"], true);
    let s = emitter.stats();
    assert_eq!((s.documents_truncated, s.metadata_values_truncated), (1, 1));
}

#[test]
fn the_minimal_form_is_the_last_resort() {
    let (emitter, sink) = Emitter::memory(DEFAULT_DATAGRAM_LIMIT);
    let mut tree = EntityTree::new(trace());
    let r = tree.begin_segment("annotated", None, ts(0));
    let long = "a".repeat(1000);
    for i in 0..100 {
        tree.entity_mut(r)
            .put_annotation(&format!("k{i}"), long.as_str())
            .unwrap();
    }
    tree.entity_mut(r).set_fault(true);
    tree.end(r, ts(1));
    emitter.emit(&mut tree, r, &mut EmitBuffer::new());
    let datagrams = sink.take();
    assert_eq!(datagrams.len(), 1);
    let doc = body(&datagrams[0]);
    assert_eq!(doc["fault"], true);
    assert_eq!(doc["metadata"]["xray_sdk"]["truncated"], true);
    assert!(doc.get("annotations").is_none());
    assert_eq!(emitter.stats().documents_minimal, 1);
}

#[test]
fn a_missing_daemon_is_counted_not_raised() {
    const N: u64 = 1_000;
    // Bind then drop a socket to get a port nobody listens on.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let emitter = Emitter::udp(port, DEFAULT_DATAGRAM_LIMIT);
    assert!(emitter.open_error().is_none());
    let mut buf = EmitBuffer::new();
    for _ in 0..N {
        let mut tree = EntityTree::new(trace());
        let r = tree.begin_segment("nobody listens", None, ts(0));
        tree.end(r, ts(1));
        emitter.emit(&mut tree, r, &mut buf);
    }
    let s = emitter.stats();
    // Every send either reached the kernel or failed.
    assert_eq!(s.datagrams_handed_to_kernel + s.sends_refused, N, "{s:?}");
    assert!(s.sends_refused >= 1, "{s:?}");
    // Every datagram was lost; the counters know it for (nearly) all of them: a refusal
    // stands for the refused send and the earlier datagram it reports. The ICMP answers
    // come back on loopback, so at most a few (the last datagram's among them) go unseen.
    let lost = s.datagrams_known_lost();
    assert!(lost <= N, "{s:?}");
    assert!(lost >= N * 9 / 10, "only {lost} of {N} known lost: {s:?}");
}

#[test]
fn disabled_and_raw_documents() {
    let e = Emitter::disabled();
    assert!(e.is_disabled());
    let mut tree = EntityTree::new(trace());
    let r = tree.begin_segment("x", None, ts(0));
    tree.end(r, ts(1));
    e.emit(&mut tree, r, &mut EmitBuffer::new());
    assert_eq!(
        e.stats().datagrams_handed_to_kernel + e.stats().datagrams_known_lost(),
        0
    );

    let (emitter, sink) = Emitter::memory(1000);
    let mut buf = EmitBuffer::new();
    emitter.send_raw_document(b"{\"name\":\"raw\"}", &mut buf);
    emitter.send_raw_document(&vec![b' '; 2000], &mut buf);
    assert_eq!(sink.take().len(), 1);
    let s = emitter.stats();
    assert_eq!((s.documents, s.dropped_oversized), (2, 1));
    assert_eq!(emitter.limit(), 1000);
    assert_eq!(Emitter::memory(10_000_000).0.limit(), MAX_UDP_PAYLOAD);
}

/// Nesting depth of subsegments in a document.
fn nesting(doc: &Value) -> usize {
    doc["subsegments"]
        .as_array()
        .map_or(0, |subs| 1 + subs.iter().map(nesting).max().unwrap_or(0))
}

#[test]
fn deep_chains_are_split_so_strict_parsers_can_read_them() {
    let (emitter, sink) = Emitter::memory(DEFAULT_DATAGRAM_LIMIT);
    let mut tree = EntityTree::new(trace());
    let root = tree.begin_detached_subsegment("## handler", SegmentId::from_u64(9), ts(0));
    let mut chain = vec![root];
    for i in 0..150 {
        let parent = *chain.last().unwrap();
        chain.push(tree.begin_subsegment(parent, "level", ts(i)));
    }
    for (i, e) in chain.iter().rev().enumerate() {
        tree.end(*e, ts(1000 + i as u64));
    }
    emitter.emit(&mut tree, root, &mut EmitBuffer::new());
    let datagrams = sink.take();
    assert!(datagrams.len() >= 150 / MAX_NESTING as usize);
    let mut seen = Vec::new();
    for d in &datagrams {
        // serde_json's default recursion limit (128) is the strict parser here.
        let doc = body(d);
        assert!(nesting(&doc) <= MAX_NESTING as usize, "{}", nesting(&doc));
        flatten(&doc, None, &mut seen);
    }
    assert_eq!(seen.len(), 151, "every level arrives once");
    let ids: std::collections::HashSet<_> = seen.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids.len(), 151);
    // Each level's parent is the level above it.
    for w in chain.windows(2) {
        let (parent, child) = (
            tree.id(w[0]).unwrap().to_string(),
            tree.id(w[1]).unwrap().to_string(),
        );
        let found = seen.iter().find(|(id, _)| *id == child).unwrap();
        assert_eq!(found.1.as_deref(), Some(parent.as_str()));
    }
}

#[test]
fn ten_thousand_tiny_subsegments_are_packed_into_few_datagrams() {
    let (emitter, sink) = Emitter::memory(DEFAULT_DATAGRAM_LIMIT);
    let mut tree = EntityTree::new(trace());
    let parent = SegmentId::parse_hex("53995c3f42cd8ad8").unwrap();
    let h = tree.begin_detached_subsegment("## handler", parent, ts(0));
    let mut expected = vec![(tree.id(h).unwrap().to_string(), Some(parent.to_string()))];
    let handler_id = expected[0].0.clone();
    for i in 0..9_999 {
        let c = tree.begin_subsegment(h, "tiny", ts(i));
        tree.end(c, ts(i + 1));
        expected.push((tree.id(c).unwrap().to_string(), Some(handler_id.clone())));
    }
    tree.end(h, ts(20_000));
    emitter.emit(&mut tree, h, &mut EmitBuffer::new());

    let datagrams = sink.take();
    // About 90 bytes a subsegment: some 700 fit a datagram, so 15 datagrams would do; one
    // each (as before packing) would be nearly 10 000.
    assert!(datagrams.len() <= 20, "{} datagrams", datagrams.len());
    let mut seen = Vec::new();
    let (mut batches, mut kept_in_handler) = (0, 0);
    for d in &datagrams {
        assert!(d.len() <= DEFAULT_DATAGRAM_LIMIT, "{} bytes", d.len());
        let doc = body(d);
        if doc["id"] == handler_id.as_str() {
            kept_in_handler = doc["subsegments"].as_array().map_or(0, Vec::len) as u64;
        }
        if doc["name"] == BATCH_NAME {
            batches += 1;
            assert_eq!(doc["parent_id"], handler_id.as_str());
            assert_eq!(doc["type"], "subsegment");
            assert!(doc["end_time"].as_f64() >= doc["start_time"].as_f64());
        }
        flatten(&doc, None, &mut seen);
    }
    seen.sort();
    expected.sort();
    assert_eq!(
        seen, expected,
        "every subsegment arrives once, under its real parent"
    );
    let s = emitter.stats();
    assert_eq!(s.batch_documents, batches);
    assert_eq!(s.subsegments_streamed + kept_in_handler, 9_999);
    assert_eq!(s.datagrams_handed_to_kernel, datagrams.len() as u64);
}
