//! Everything goes over real UDP sockets on 127.0.0.1, one datagram at a time (each send
//! waits for the daemon to count it, so the kernel buffer never overflows), bounded by `WAIT`.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xray_core::{
    Namespace, TraceHeader, TraceId,
    model::{EntityTree, Timestamp},
    wire::{EmitBuffer, Emitter},
};

use super::traces::TraceStore;
use super::*;

const HEADER: &str = r#"{"format":"json","version":1}"#;
const SPACED_HEADER: &str = r#"{"format": "json", "version": 1}"#;
const TRACE: &str = "1-5759e988-bd862e3fe1be46a994272793";
const WAIT: Duration = Duration::from_secs(10);

struct Client {
    socket: UdpSocket,
    sent: u64,
}

impl Client {
    fn new() -> Client {
        Client {
            socket: UdpSocket::bind("127.0.0.1:0").unwrap(),
            sent: 0,
        }
    }

    /// Sends one datagram and waits until the daemon has counted it.
    fn send(&mut self, daemon: &FakeDaemon, datagram: &[u8]) {
        self.socket.send_to(datagram, daemon.addr()).unwrap();
        self.sent += 1;
        assert!(
            daemon.wait_for_received(self.sent, WAIT),
            "datagram {} not received",
            self.sent
        );
    }

    fn send_doc(&mut self, daemon: &FakeDaemon, doc: &Value) {
        self.send(daemon, &datagram(HEADER, &doc.to_string()));
    }
}

fn datagram(header: &str, body: &str) -> Vec<u8> {
    format!("{header}\n{body}").into_bytes()
}

fn segment(id: &str, name: &str) -> Value {
    json!({
        "name": name, "id": id, "trace_id": TRACE,
        "start_time": 1_461_096_053.375, "end_time": 1_461_096_053.404,
    })
}

fn last(daemon: &FakeDaemon) -> ReceivedDocument {
    daemon.documents().pop().expect("a document")
}

#[test]
fn accepts_both_header_spellings() {
    assert_eq!(HEADER.len() + 1, 30);
    assert_eq!(SPACED_HEADER.len() + 1, 33);
    let daemon = FakeDaemon::start().unwrap();
    let mut client = Client::new();
    let body = segment("70de5b6f19ff9a0a", "a").to_string();
    client.send(&daemon, &datagram(HEADER, &body));
    client.send(&daemon, &datagram(SPACED_HEADER, &body));
    let stats = daemon.stats();
    assert_eq!((stats.accepted, stats.rejected), (2, 0), "{stats:#?}");
    assert_eq!(stats.entity_updates, 1);
    assert_eq!(stats.bytes_received, (body.len() * 2 + 30 + 33) as u64);
}

#[test]
fn garbage_never_stops_it() {
    let daemon = FakeDaemon::start().unwrap();
    let mut client = Client::new();
    let doc = segment("70de5b6f19ff9a0a", "a").to_string();
    let mut no_end = segment("70de5b6f19ff9a0b", "b");
    no_end.as_object_mut().unwrap().remove("end_time");
    let mut no_start = segment("70de5b6f19ff9a0c", "c");
    no_start.as_object_mut().unwrap().remove("start_time");
    let cases: Vec<(Vec<u8>, RejectReason)> = vec![
        (Vec::new(), RejectReason::MissingSegment),
        (HEADER.as_bytes().to_vec(), RejectReason::MissingSegment),
        (datagram(HEADER, ""), RejectReason::MissingSegment),
        (
            datagram(r#"{"format":"json","version":"1"}"#, &doc),
            RejectReason::Header,
        ),
        (
            datagram(r#"{"format":"xml","version":1}"#, &doc),
            RejectReason::Header,
        ),
        (datagram("not json", &doc), RejectReason::Header),
        (datagram("", &doc), RejectReason::Header),
        (datagram(HEADER, "{\"name\":"), RejectReason::BodyJson),
        (
            datagram(HEADER, r#"{"name":"a","start_time":NaN}"#),
            RejectReason::BodyJson,
        ),
        (
            datagram(HEADER, &format!("{doc}\n{doc}")),
            RejectReason::BodyJson,
        ),
        (
            [HEADER.as_bytes(), b"\n{\"name\":\"\xff\"}"].concat(),
            RejectReason::BodyJson,
        ),
        (datagram(HEADER, "[1,2]"), RejectReason::BodyJson),
        (
            datagram(HEADER, &no_start.to_string()),
            RejectReason::Schema,
        ),
        (datagram(HEADER, &no_end.to_string()), RejectReason::Rules),
    ];
    for (bytes, reason) in &cases {
        client.send(&daemon, bytes);
        let received = last(&daemon);
        assert_eq!(
            received.rejected,
            Some(*reason),
            "{:?}: {received:#?}",
            String::from_utf8_lossy(bytes)
        );
        assert_eq!(&received.datagram, bytes);
    }

    // Random bytes, some with newlines and braces, from a fixed-seed xorshift.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..60 {
        let len = (next() % 1500) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| match next() % 8 {
                0 => b'\n',
                1 => b'{',
                2 => b'"',
                _ => next() as u8,
            })
            .collect();
        client.send(&daemon, &bytes);
        assert!(!last(&daemon).is_accepted());
    }

    client.send(&daemon, &datagram(HEADER, &doc));
    assert!(last(&daemon).is_accepted(), "still working");

    let stats = daemon.stats();
    assert_eq!(stats.datagrams_received, client.sent);
    assert_eq!(stats.accepted, 1);
    assert_eq!(stats.accepted + stats.rejected, stats.datagrams_received);
    assert_eq!(stats.rejected_for(RejectReason::Schema), 1);
    assert_eq!(stats.rejected_for(RejectReason::Rules), 1);
    assert!(stats.rejected_for(RejectReason::MissingSegment) >= 3);
    assert!(stats.rejected_for(RejectReason::Header) >= 4);
    assert!(stats.rejected_for(RejectReason::BodyJson) >= 5);
    assert_eq!(stats.receive_errors, 0);
    for examples in stats.rejection_examples.values() {
        assert!(!examples.is_empty() && examples.len() <= EXAMPLES_PER_REASON);
        assert!(examples.iter().all(|e| e.head.len() <= EXAMPLE_BYTES * 3));
    }
    let header_example = &stats.rejection_examples[&RejectReason::Header][0];
    assert!(
        header_example.message.contains("`version` is \"1\""),
        "{header_example:?}"
    );
    assert_eq!(
        daemon.traces().len(),
        1,
        "only the accepted document is reassembled"
    );
}

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance/samples")
}

#[test]
fn every_conformance_sample_gets_the_right_verdict() {
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(samples_dir().join("manifest.json")).expect("manifest"),
    )
    .expect("manifest is JSON");
    let daemon = FakeDaemon::start().unwrap();
    let mut client = Client::new();
    let mut wrappers = 0u64;
    for sample in manifest["files"].as_array().expect("files") {
        let file = sample["file"].as_str().expect("file");
        let bytes = std::fs::read(samples_dir().join(file)).expect("sample");
        let embedded = sample["kind"] == "embedded-subsegment";
        let datagram = if sample["is_datagram"] == true {
            bytes
        } else if embedded {
            // An embedded subsegment is not a document on its own: send it inside a parent.
            wrappers += 1;
            let mut parent = segment(&format!("{wrappers:016x}"), "wrapper");
            let child: Value = serde_json::from_slice(&bytes).expect("JSON");
            parent["subsegments"] = json!([child]);
            datagram(HEADER, &parent.to_string())
        } else {
            [HEADER.as_bytes(), b"\n", &bytes].concat()
        };
        client.send(&daemon, &datagram);
        let received = last(&daemon);
        let expected = if sample["schema_valid"] == false {
            Some(RejectReason::Schema)
        } else if file == "otel/segmentWithParentId.json" {
            // Neither end_time nor in_progress (see xray-core's conformance test).
            Some(RejectReason::Rules)
        } else {
            None
        };
        assert_eq!(received.rejected, expected, "{file}: {:?}", received.report);

        if embedded {
            let child = &received.document.as_ref().unwrap()["subsegments"][0];
            let trace = daemon.trace(TRACE).expect("wrapper trace");
            let id = child["id"].as_str().unwrap();
            assert_eq!(
                trace.parent_of(id),
                Some(format!("{wrappers:016x}").as_str())
            );
            assert_eq!(
                trace.entity(id).unwrap().origin,
                EntityOrigin::EmbeddedSubsegment
            );
        }
    }
    let stats = daemon.stats();
    assert!(stats.accepted >= 20, "{stats:#?}");
    assert_eq!(stats.rejected_for(RejectReason::Schema), 4);
    assert_eq!(stats.rejected_for(RejectReason::Rules), 1);
}

#[test]
fn emitter_documents_arrive_and_reassemble() {
    let daemon = FakeDaemon::start().unwrap();
    let emitter = Emitter::udp(daemon.addr(), xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
    let facade = "53995c3f42cd8ad8";
    let header = TraceHeader::parse(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    );
    let mut tree = EntityTree::new(header.root().unwrap());
    let t0 = Timestamp::now();
    let handler = tree.begin_detached_subsegment("## handler", header.parent().unwrap(), t0);
    let db = tree.begin_subsegment(handler, "orders-db", t0);
    tree.entity_mut(db).set_namespace(Namespace::Remote);
    let query = tree.begin_subsegment(db, "SELECT", t0);
    tree.end(query, Timestamp::now());
    tree.end(db, Timestamp::now());
    tree.entity_mut(handler)
        .put_annotation("order_id", "A-1")
        .unwrap();
    tree.end(handler, Timestamp::now());
    emitter.emit(&mut tree, handler, &mut EmitBuffer::new());

    assert!(daemon.wait_for(1, WAIT), "{:#?}", daemon.stats());
    assert_eq!(daemon.stats().rejected, 0);
    let trace = daemon.trace(TRACE).expect("trace");
    let id = |e| tree.id(e).unwrap().to_string();
    assert_eq!(trace.entities.len(), 3);
    let handler_entity = trace.entity(&id(handler)).unwrap();
    assert_eq!(handler_entity.name, "## handler");
    assert_eq!(handler_entity.origin, EntityOrigin::IndependentSubsegment);
    assert_eq!(handler_entity.annotations["order_id"], "A-1");
    assert_eq!(trace.parent_of(&id(handler)), Some(facade));
    assert_eq!(trace.parent_of(&id(db)), Some(id(handler).as_str()));
    assert_eq!(trace.parent_of(&id(query)), Some(id(db).as_str()));
    assert_eq!(trace.entity(&id(db)).unwrap().fields["namespace"], "remote");
    assert!(trace.parents_resolved(&[facade]));
    assert!(
        !trace.parents_resolved(&[]),
        "the facade segment is never sent"
    );
    assert_eq!(
        trace
            .roots()
            .iter()
            .map(|e| e.id.clone())
            .collect::<Vec<_>>(),
        [id(handler)]
    );
    assert!(daemon.foreign_attachments().is_empty());
}

#[test]
fn streamed_subsegments_reassemble_under_their_parent() {
    let daemon = FakeDaemon::start().unwrap();
    // A small limit forces the emitter to send children as independent subsegments.
    let emitter = Emitter::udp(daemon.addr(), 1024);
    let mut tree = EntityTree::new(TraceId::random());
    let t0 = Timestamp::now();
    let root = tree.begin_segment("api", None, t0);
    let mut children = Vec::new();
    for i in 0..30 {
        let child = tree.begin_subsegment(root, &format!("call {i}"), t0);
        tree.entity_mut(child)
            .put_metadata("default", "payload", &"x".repeat(100))
            .unwrap();
        tree.end(child, Timestamp::now());
        children.push(child);
    }
    tree.end(root, Timestamp::now());
    emitter.emit(&mut tree, root, &mut EmitBuffer::new());

    let sent = emitter.stats().datagrams_handed_to_kernel;
    assert!(sent > 1, "{:#?}", emitter.stats());
    assert!(daemon.wait_for(sent, WAIT), "{:#?}", daemon.stats());
    let stats = daemon.stats();
    assert_eq!((stats.accepted, stats.rejected), (sent, 0), "{stats:#?}");
    let trace = daemon.trace(&tree.trace_id().to_string()).unwrap();
    // Streamed children travel packed in the SDK's batch subsegments, children of the root.
    let batches = trace
        .entities
        .values()
        .filter(|e| e.name == xray_core::wire::BATCH_NAME)
        .count();
    assert!(batches >= 1);
    assert_eq!(trace.entities.len(), 31 + batches);
    let root_id = tree.id(root).unwrap().to_string();
    for child in children {
        let mut parent = trace.parent_of(&tree.id(child).unwrap().to_string());
        if let Some(p) = parent.filter(|p| trace.entities[*p].name == xray_core::wire::BATCH_NAME) {
            parent = trace.parent_of(p);
        }
        assert_eq!(parent, Some(root_id.as_str()));
    }
    assert!(trace.parents_resolved(&[]));
    assert!(
        trace
            .entities
            .values()
            .any(|e| e.origin == EntityOrigin::IndependentSubsegment)
    );
    assert_eq!(trace.roots().len(), 1);
    let direct = trace.children_of(&root_id).len();
    assert!(direct < 30 && direct >= batches, "{direct} direct children");
}

#[test]
fn a_complete_entity_replaces_an_in_progress_one_not_the_reverse() {
    let daemon = FakeDaemon::start().unwrap();
    let mut client = Client::new();
    let complete = segment("70de5b6f19ff9a0a", "api");
    let mut open = complete.clone();
    open.as_object_mut().unwrap().remove("end_time");
    open["in_progress"] = json!(true);

    client.send_doc(&daemon, &open);
    let entity = || daemon.trace(TRACE).unwrap().entities["70de5b6f19ff9a0a"].clone();
    assert!(entity().in_progress);
    client.send_doc(&daemon, &complete);
    assert!(!entity().in_progress);
    client.send_doc(&daemon, &open);
    let e = entity();
    assert!(!e.in_progress, "a late in-progress copy is ignored");
    assert_eq!(e.end_time, Some(1_461_096_053.404));
    assert_eq!(e.received, 3);
    assert_eq!(daemon.stats().entity_updates, 2);
}

#[test]
fn parents_in_other_traces_are_foreign() {
    let daemon = FakeDaemon::start().unwrap();
    let mut client = Client::new();
    client.send_doc(&daemon, &segment("70de5b6f19ff9a0a", "a"));
    let mut stray = segment("24756640c0d0978a", "b");
    stray["trace_id"] = json!("1-5759e988-000000000000000000000001");
    stray["type"] = json!("subsegment");
    stray["parent_id"] = json!("70de5b6f19ff9a0a");
    client.send_doc(&daemon, &stray);
    assert_eq!(
        daemon.foreign_attachments(),
        [ForeignAttachment {
            trace_id: "1-5759e988-000000000000000000000001".into(),
            entity_id: "24756640c0d0978a".into(),
            parent_id: "70de5b6f19ff9a0a".into(),
            parent_trace_id: TRACE.into(),
        }]
    );
    let stats = daemon.stats();
    assert_eq!(
        (stats.traces, stats.entities, stats.foreign_attachments),
        (2, 2, 1)
    );
}

#[test]
fn shuts_down_promptly_and_keeps_what_it_saw() {
    let mut daemon = FakeDaemon::start_on("127.0.0.1:0").unwrap();
    assert!(daemon.is_running());
    let mut client = Client::new();
    client.send_doc(&daemon, &segment("70de5b6f19ff9a0a", "a"));
    let t = Instant::now();
    daemon.shutdown();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(!daemon.is_running());
    daemon.shutdown();
    assert_eq!(daemon.stats().accepted, 1);
    assert_eq!(daemon.traces().len(), 1);
    assert!(!daemon.wait_for(2, Duration::from_millis(50)));

    let other = FakeDaemon::start().unwrap();
    let t = Instant::now();
    drop(other);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}

#[test]
fn a_busy_port_is_an_error() {
    let daemon = FakeDaemon::start().unwrap();
    assert!(FakeDaemon::start_on(daemon.addr()).is_err());
}

#[test]
fn keeps_a_bounded_number_of_documents() {
    let daemon = FakeDaemon::start_with(DaemonOptions {
        keep_documents: 2,
        ..DaemonOptions::default()
    })
    .unwrap();
    let mut client = Client::new();
    for i in 0..4 {
        client.send_doc(&daemon, &segment(&format!("{i:016x}"), "a"));
    }
    assert_eq!(daemon.documents().len(), 2);
    let stats = daemon.stats();
    assert_eq!((stats.documents_not_kept, stats.entities), (2, 4));
    daemon.clear();
    assert!(daemon.documents().is_empty() && daemon.traces().is_empty());
    let stats = daemon.stats();
    assert_eq!((stats.accepted, stats.traces, stats.entities), (4, 1, 4));
}

#[test]
fn keeps_the_newest_traces_and_counts_the_evicted() {
    let daemon = FakeDaemon::start_with(DaemonOptions {
        max_traces: 2,
        ..DaemonOptions::default()
    })
    .unwrap();
    let mut client = Client::new();
    let trace = |i: u32| format!("1-5759e988-{i:024x}");
    for i in 0..5 {
        let mut doc = segment(&format!("{i:016x}"), "a");
        doc["trace_id"] = json!(trace(i));
        client.send_doc(&daemon, &doc);
    }
    // A document for a kept trace does not evict anything.
    let mut late = segment(&format!("{:016x}", 99), "late");
    late["trace_id"] = json!(trace(4));
    client.send_doc(&daemon, &late);
    let newest: Vec<String> = daemon
        .newest_traces(10)
        .into_iter()
        .map(|t| t.trace_id)
        .collect();
    assert_eq!(newest, [trace(4), trace(3)]);
    assert_eq!(daemon.newest_traces(1).len(), 1);
    let stats = daemon.stats();
    assert_eq!((stats.traces, stats.traces_evicted), (5, 3));
    assert!(
        stats.to_string().contains("3 oldest traces dropped"),
        "{stats}"
    );
}

#[test]
fn stats_serialize_and_display() {
    let daemon = FakeDaemon::start().unwrap();
    let mut client = Client::new();
    client.send(&daemon, b"nope\n{}");
    client.send_doc(&daemon, &segment("70de5b6f19ff9a0a", "a"));
    let stats = daemon.stats();
    let v = serde_json::to_value(&stats).unwrap();
    assert_eq!(v["rejected_by_reason"], json!({ "header": 1 }));
    assert_eq!(v["rejection_examples"]["header"][0]["head"], "nope\n{}");
    assert_eq!(v["accepted"], 1);
    #[cfg(target_os = "linux")]
    assert_eq!(stats.kernel_drops, Some(0));
    let text = stats.to_string();
    assert!(
        text.starts_with("received 2 datagrams (")
            && text.contains("accepted 1, rejected 1 (header 1)"),
        "{text}"
    );
}

#[test]
fn renders_traces_as_indented_trees() {
    let mut store = TraceStore::default();
    let mut root = segment("0000000000000001", "api");
    root["parent_id"] = json!("53995c3f42cd8ad8");
    let mut db = segment("0000000000000002", "db");
    db.as_object_mut().unwrap().remove("trace_id");
    db["subsegments"] = json!([segment("0000000000000003", "query")]);
    db["annotations"] = json!({ "table": "orders" });
    root["subsegments"] = json!([db]);
    store.add_document(&root, 0);
    let text = store.trace(TRACE).unwrap().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("trace {TRACE} (3 entities)"));
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[1].starts_with(
            "  api [segment 0000000000000001] 29.000 ms parent 53995c3f42cd8ad8 (not received)"
        ),
        "{text}"
    );
    assert!(
        lines[2].starts_with("    db [subsegment 0000000000000002]"),
        "{text}"
    );
    assert!(lines[2].ends_with("{table=\"orders\"}"), "{text}");
    assert!(
        lines[3].starts_with("      query [subsegment 0000000000000003]"),
        "{text}"
    );

    // Two independent subsegments naming each other as parent: no root, no hang.
    let mut store = TraceStore::default();
    for (id, parent) in [
        ("000000000000000a", "000000000000000b"),
        ("000000000000000b", "000000000000000a"),
    ] {
        let mut doc = segment(id, "loop");
        doc["type"] = json!("subsegment");
        doc["parent_id"] = json!(parent);
        store.add_document(&doc, 0);
    }
    let text = store.trace(TRACE).unwrap().to_string();
    assert!(text.contains("(in a parent cycle)"), "{text}");
    assert_eq!(text.lines().count(), 4, "{text}");
}

#[test]
fn documents_and_traces_can_be_taken() {
    let daemon = FakeDaemon::start().unwrap();
    let mut client = Client::new();
    client.send_doc(&daemon, &segment("70de5b6f19ff9a0a", "a"));
    client.send(&daemon, b"junk");
    let taken = daemon.take_documents();
    assert_eq!(taken.len(), 2);
    assert_eq!(
        taken[1].error.as_deref(),
        Some("no newline separates the header line from the document")
    );
    assert!(daemon.documents().is_empty());

    let mut stray = segment("24756640c0d0978a", "b");
    stray["trace_id"] = json!("1-5759e988-000000000000000000000001");
    stray["type"] = json!("subsegment");
    stray["parent_id"] = json!("70de5b6f19ff9a0a");
    client.send_doc(&daemon, &stray);
    assert_eq!(daemon.foreign_attachments().len(), 1);
    let trace = daemon.take_trace(TRACE).unwrap();
    assert_eq!(trace.entities.len(), 1);
    assert!(daemon.take_trace(TRACE).is_none());
    assert!(daemon.foreign_attachments().is_empty());
    assert_eq!(daemon.traces().len(), 1);
}
